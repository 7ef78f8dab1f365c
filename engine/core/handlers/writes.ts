// Write handlers (PrepRequestProcessor): each reads its record, prepares a txn (validate,
// ACL, versions, quota, size) or fails with a KeeperError that becomes an error txn, then
// hands the txn to the pipeline to log and apply, and replies. multi prepares and applies
// its ops in turn and undoes them all when one fails.
import type { JuteReader } from '../../../native-free-io/jute.ts';
import { type Acl, type Stat, type TxnHeader, Op, Err, Perm, CreateFlag, KeeperError, TxnTooLargeError, beginReply, writeStat, readAcls, invalidPathReason, parentOf, readData } from '../../protocol.ts';
import { type Txn, type CreateTxn, mutate, txnBodyBytes } from '../txn.ts';
import { EphemeralType } from '../tree.ts';
import { TXN_HEADER_BYTES } from '../../persistence/txnlog-format.ts';
import { GET_DATA_REPLY_OVERHEAD_BYTES } from '../../limits.ts';
import type { Pipeline, Conn } from '../pipeline.ts';
import type { Session } from '../sessions.ts';
import type { Handler } from '../opcodes.ts';

function validPath(path: string): void {
  if (invalidPathReason(path) !== null) throw new KeeperError(Err.BADARGUMENTS);
}

function checkVersion(current: number, expected: number): number {
  if (expected !== -1 && expected !== current) throw new KeeperError(Err.BADVERSION);
  return current === 0x7fffffff ? -0x80000000 : current + 1;
}

const SPECIAL_PATHS = new Set(['/', '/zookeeper', '/zookeeper/quota', '/zookeeper/config']);

function parentForWrite(path: string): string {
  const slash = path.lastIndexOf('/');
  if (slash === -1 || path.includes('\u0000') || SPECIAL_PATHS.has(path)) throw new KeeperError(Err.BADARGUMENTS);
  return slash === 0 ? '/' : path.slice(0, slash);
}

// ---- write preparation (PrepRequestProcessor.pRequest2Txn), shared by single ops and multi

interface CreateReq { path: string; data: Buffer; acls: Acl[]; flags: number; ttlMs: number }

function readCreate(r: JuteReader, withTtl: boolean): CreateReq {
  const path = r.ustring();
  const data = readData(r);
  const acls = readAcls(r);
  const flags = r.int();
  const ttlMs = withTtl ? r.longNumber() : -1;
  return { path, data, acls, flags, ttlMs };
}

function prepCreate(p: Pipeline, conn: Conn, type: number, req: CreateReq): CreateTxn {
  const { flags } = req;
  if (flags < 0 || flags > CreateFlag.persistentSequentialWithTtl) throw new KeeperError(Err.BADARGUMENTS);
  // validateCreateRequest: TTL modes need extended types; a ttl only with a TTL mode.
  // (The op decides the node type: create with the container flag makes a plain persistent node.)
  const isTtl = flags === CreateFlag.persistentWithTtl || flags === CreateFlag.persistentSequentialWithTtl;
  if (isTtl && !p.extendedTypesEnabled) throw new KeeperError(Err.UNIMPLEMENTED);
  if (isTtl ? req.ttlMs <= 0 || req.ttlMs > TTL_MS_MAX : req.ttlMs >= 0) throw new KeeperError(Err.BADARGUMENTS);
  // createTTL makes a TTL node whatever the mode. ZooKeeper 3.8 lets one with another mode and a
  // negative ttl through to a CreateTTLTxn that its DataTree cannot apply (TTL.toEphemeralOwner
  // throws): the SyncThread dies with the txn logged. Refused here, as validateTTL means to.
  if (type === Op.createTTL && !isTtl) throw new KeeperError(Err.BADARGUMENTS);
  const ephemeral = flags === CreateFlag.ephemeral || flags === CreateFlag.ephemeralSequential;
  // validateCreateRequest's last check: an ephemeral's owner is a global session (local sessions: engine/core/local-sessions.ts)
  if (ephemeral) p.admission.checkGlobalSession(conn.session);
  const sequential = flags === CreateFlag.persistentSequential || flags === CreateFlag.ephemeralSequential || flags === CreateFlag.persistentSequentialWithTtl;
  let path = req.path;
  const slash = path.lastIndexOf('/');
  if (slash === -1 || path.includes('\u0000')) throw new KeeperError(Err.BADARGUMENTS);
  const acls = p.fixupAcl(req.acls, conn);
  const parentPath = slash === 0 ? '/' : path.slice(0, slash);
  const parent = p.node(parentPath);
  p.checkAcl(p.aclOf(parent), Perm.CREATE, conn);
  if (sequential) path += String(parent.cversion).padStart(10, '0');
  validPath(path);
  if (p.tree.get(path) !== undefined) throw new KeeperError(Err.NODEEXISTS);
  if (parent.ephemeralType === EphemeralType.normal) throw new KeeperError(Err.NOCHILDRENFOREPHEMERALS);
  checkDataBytes(p, req.data);
  p.checkQuota(path, req.data.length, 1);
  const txnType = type === Op.create2 || type === Op.createContainer || type === Op.createTTL ? type : Op.create;
  return { type: txnType, path, data: req.data, acls, ephemeral, parentCVersion: parent.cversion + 1, ttlMs: type === Op.createTTL ? req.ttlMs : 0 };
}

/** Data whose getData reply would be over jute.maxbuffer could be stored but never read back: MARSHALLINGERROR. */
function checkDataBytes(p: Pipeline, data: Buffer): void {
  if (data.length > p.maxReplyBytes - GET_DATA_REPLY_OVERHEAD_BYTES) throw new KeeperError(Err.MARSHALLINGERROR);
}

/** EphemeralType.TTL.maxValue(): the TTL lives in the low 40 bits of the owner. */
const TTL_MS_MAX = 0xff_ffff_ffff;

function prepDelete(p: Pipeline, conn: Conn, path: string, version: number): Txn {
  const parentPath = parentForWrite(path);
  const parent = p.node(parentPath);
  p.checkAcl(p.aclOf(parent), Perm.DELETE, conn);
  const n = p.node(path);
  checkVersion(n.version, version);
  if (n.numChildren() > 0) throw new KeeperError(Err.NOTEMPTY);
  return { type: Op.delete, path };
}

function prepSetData(p: Pipeline, conn: Conn, path: string, data: Buffer, version: number): Txn {
  validPath(path);
  const n = p.node(path);
  p.checkAcl(p.aclOf(n), Perm.WRITE, conn);
  const newVersion = checkVersion(n.version, version);
  checkDataBytes(p, data);
  p.checkQuota(path, data.length - n.data.length, 0);
  return { type: Op.setData, path, data, version: newVersion };
}

function prepCheck(p: Pipeline, conn: Conn, path: string, version: number): Txn {
  validPath(path);
  const n = p.node(path);
  p.checkAcl(p.aclOf(n), Perm.READ, conn);
  return { type: Op.check, path, version: checkVersion(n.version, version) };
}

/** Runs a single-op write: prep → log+apply → reply; a KeeperError becomes an error txn. */
export function write(p: Pipeline, conn: Conn, s: Session, xid: number, type: number, prep: () => Txn, reply: (zxid: number, txn: Txn) => void): void {
  let txn: Txn;
  let zxid: number;
  try {
    txn = prep();
    zxid = p.logTxn(s.id, xid, type, txn);
  } catch (e) {
    if (e instanceof TxnTooLargeError) {
      p.refuseTooLarge(conn, xid, e);
      return;
    }
    if (e instanceof KeeperError) {
      p.failWrite(conn.key, s, xid, e.code);
      return;
    }
    throw e;
  }
  reply(zxid, txn);
}

function replyStat(p: Pipeline, conn: Conn, xid: number, zxid: number, path: string): void {
  const at = beginReply(p.writer.reset(), xid, zxid, Err.OK);
  writeStat(p.writer, p.statOf(p.node(path)));
  p.finish(conn.key, at, zxid);
}

function replyEmpty(p: Pipeline, conn: Conn, xid: number, zxid: number): void {
  p.finish(conn.key, beginReply(p.writer.reset(), xid, zxid, Err.OK), zxid);
}

export const create: Handler = (p, conn, s, xid, r, type) => {
  const req = readCreate(r, type === Op.createTTL);
  write(p, conn, s, xid, type, () => prepCreate(p, conn, type, req), (zxid, txn) => {
    const path = (txn as CreateTxn).path;
    const w = p.writer.reset();
    const at = beginReply(w, xid, zxid, Err.OK);
    w.string(path);
    if (type !== Op.create) writeStat(w, p.statOf(p.node(path)));
    p.finish(conn.key, at, zxid);
  });
};

export const del: Handler = (p, conn, s, xid, r) => {
  const path = r.ustring();
  const version = r.int();
  write(p, conn, s, xid, Op.delete, () => prepDelete(p, conn, path, version), (zxid) => replyEmpty(p, conn, xid, zxid));
};

export const setData: Handler = (p, conn, s, xid, r) => {
  const path = r.ustring();
  const data = readData(r);
  const version = r.int();
  write(p, conn, s, xid, Op.setData, () => prepSetData(p, conn, path, data, version), (zxid) => replyStat(p, conn, xid, zxid, path));
};

export const setACL: Handler = (p, conn, s, xid, r) => {
  const path = r.ustring();
  const acls = readAcls(r);
  const version = r.int();
  write(p, conn, s, xid, Op.setACL, () => {
    validPath(path);
    const fixed = p.fixupAcl(acls, conn);
    const n = p.node(path);
    p.checkAcl(p.aclOf(n), Perm.ADMIN, conn);
    return { type: Op.setACL, path, acls: fixed, version: checkVersion(n.aversion, version) };
  }, (zxid) => replyStat(p, conn, xid, zxid, path));
};

export const check: Handler = (p, conn, s, xid, r) => {
  const path = r.ustring();
  const version = r.int();
  write(p, conn, s, xid, Op.check, () => prepCheck(p, conn, path, version), (zxid) => replyEmpty(p, conn, xid, zxid));
};

export const closeSessionReq: Handler = (p, conn, s, xid) => {
  p.closeSession(s, xid, conn.key);
};

// ---- multi: every op prepared and applied in turn; a failure undoes the earlier ones

interface SubResult { type: number; err: number; path: string; stat: Stat | null }

function copyStat(st: Stat): Stat {
  return { ...st };
}

export const multi: Handler = (p, conn, s, xid, r) => {
  const ops: { type: number; rec: unknown }[] = [];
  for (;;) {
    const type = r.int();
    const done = r.bool();
    r.int();
    if (done) break;
    switch (type) {
      case Op.create: case Op.create2: case Op.createContainer:
        ops.push({ type, rec: readCreate(r, false) });
        break;
      case Op.createTTL:
        ops.push({ type, rec: readCreate(r, true) });
        break;
      case Op.delete:
      case Op.setData:
      case Op.check: {
        const path = r.ustring();
        if (type === Op.setData) ops.push({ type, rec: { path, data: readData(r), version: r.int() } });
        else ops.push({ type, rec: { path, version: r.int() } });
        break;
      }
      default:
        // ZooKeeper rejects a multi holding any other op type
        throw new KeeperError(Err.BADARGUMENTS);
    }
  }
  const tree = p.tree;
  const hdr: TxnHeader = { sessionId: s.id, cxid: xid, zxid: tree.lastZxid + 1, timeMs: p.wallMs(), type: Op.multi };
  const zxid = hdr.zxid;
  const txns: Txn[] = [];
  const results: SubResult[] = [];
  const undo: (() => void)[] = [];
  let failedAt = -1;
  let tooLarge: TxnTooLargeError | null = null;
  // the MultiTxn's bytes as ops are prepared: an op whose "auth" ACL copies large ids must
  // not let the multi grow past what a log entry holds
  let txnBytes = TXN_HEADER_BYTES + 4;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    if (failedAt !== -1) {
      txns.push({ type: Op.error, err: Err.RUNTIMEINCONSISTENCY });
      txnBytes += 4 + 4 + 4;
      continue;
    }
    try {
      let txn: Txn;
      const rec = op.rec as { path: string; version: number; data: Buffer };
      if (op.type === Op.delete) txn = prepDelete(p, conn, rec.path, rec.version);
      else if (op.type === Op.setData) txn = prepSetData(p, conn, rec.path, rec.data, rec.version);
      else if (op.type === Op.check) txn = prepCheck(p, conn, rec.path, rec.version);
      else txn = prepCreate(p, conn, op.type, op.rec as CreateReq);
      txnBytes += 4 + 4 + txnBodyBytes(txn);
      if (txnBytes > p.txnBytesMax) throw new TxnTooLargeError(txnBytes, p.txnBytesMax);
      undo.push(undoFor(p, txn));
      mutate(tree, hdr, txn);
      txns.push(txn);
      const path = (txn as { path: string }).path;
      const n = tree.get(path);
      results.push({ type: op.type, err: Err.OK, path, stat: n === undefined ? null : copyStat(p.statOf(n)) });
    } catch (e) {
      if (e instanceof TxnTooLargeError) {
        tooLarge = e;
        break;
      }
      if (!(e instanceof KeeperError)) throw e;
      failedAt = i;
      txns.push({ type: Op.error, err: e.code });
      txnBytes += 4 + 4 + 4;
    }
  }
  const multiTxn: Txn = { type: Op.multi, txns };
  if (tooLarge === null && failedAt === -1) {
    try {
      p.logTxn(s.id, xid, Op.multi, multiTxn, hdr.timeMs);
    } catch (e) {
      if (!(e instanceof TxnTooLargeError)) throw e;
      tooLarge = e; // not expected: txnBytes counts what logTxn encodes
    }
  }
  if (tooLarge !== null || failedAt !== -1) for (let i = undo.length - 1; i >= 0; i--) undo[i]();
  if (tooLarge !== null) {
    p.refuseTooLarge(conn, xid, tooLarge);
    return;
  }
  if (failedAt !== -1) p.logTxn(s.id, xid, Op.multi, multiTxn, hdr.timeMs);
  const w = p.writer.reset();
  const at = beginReply(w, xid, zxid, Err.OK);
  for (let i = 0; i < ops.length; i++) {
    if (failedAt !== -1) {
      const err = i < failedAt ? Err.OK : i === failedAt ? (txns[i] as { err: number }).err : Err.RUNTIMEINCONSISTENCY;
      w.int(Op.error).bool(false).int(err).int(err);
      continue;
    }
    const res = results[i];
    const type = ops[i].type;
    w.int(type).bool(false).int(0);
    if (type === Op.create) w.string(res.path);
    else if (type === Op.create2 || type === Op.createContainer || type === Op.createTTL) {
      w.string(res.path);
      writeStat(w, res.stat!);
    } else if (type === Op.setData) writeStat(w, res.stat!);
  }
  w.int(-1).bool(true).int(-1);
  p.finish(conn.key, at, zxid);
};

/** What undoes one applied multi op, captured before it applies. */
function undoFor(p: Pipeline, txn: Txn): () => void {
  const tree = p.tree;
  switch (txn.type) {
    case Op.create: case Op.create2: case Op.createContainer: case Op.createTTL: {
      const parent = tree.get(parentOf(txn.path))!;
      const cv = parent.cversion;
      const pz = parent.pzxid;
      return () => tree.undoCreate(txn.path, cv, pz);
    }
    case Op.delete: {
      const parent = tree.get(parentOf(txn.path))!;
      const node = tree.get(txn.path)!;
      const acls = tree.acls.get(node.aclRef);
      const cv = parent.cversion;
      const pz = parent.pzxid;
      return () => tree.undoDelete(txn.path, node, acls, cv, pz);
    }
    case Op.setData: {
      const node = tree.get(txn.path)!;
      const { data, version, mzxid, mtime } = node;
      return () => tree.restoreData(txn.path, node, data, version, mzxid, mtime);
    }
    default:
      return () => {};
  }
}

