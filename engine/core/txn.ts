// Transactions: the records written to the txn log (zookeeper.jute, module txn), their
// encoding, and how each one changes the tree. The same apply code serves the live
// pipeline and log replay at startup.
import { JuteReader, JuteWriter } from '../../native-free-io/jute.ts';
import { type Acl, type TxnHeader, Op, Err, NULL_DATA, readAcls, writeAcls, readStrings, writeTxnHeader, readTxnHeader, readData, writeData } from '../protocol.ts';
import { DataTree, CONTAINER_OWNER } from './tree.ts';

export interface CreateTxn { type: 1 | 15 | 19 | 21; path: string; data: Buffer; acls: Acl[]; ephemeral: boolean; parentCVersion: number; ttlMs: number }
export interface DeleteTxn { type: 2 | 20; path: string }
/** setData; reconfig (16) logs the same record for /zookeeper/config, version -1. */
export interface SetDataTxn { type: 5 | 16; path: string; data: Buffer; version: number }
export interface SetAclTxn { type: 7; path: string; acls: Acl[]; version: number }
export interface CheckTxn { type: 13; path: string; version: number }
export interface ErrorTxn { type: -1; err: number }
export interface CreateSessionTxn { type: -10; timeoutMs: number }
/**
 * paths: the session's ephemerals, in ZooKeeper's order. listed: false when they were left
 * out of the log entry (ZooKeeper's zookeeper.closeSessionTxn.enabled=false form, no
 * CloseSessionTxn record): replay then deletes what the tree holds for the session.
 */
export interface CloseSessionTxn { type: -11; paths: string[]; listed: boolean }
export interface MultiTxn { type: 14; txns: Txn[] }
export type Txn = CreateTxn | DeleteTxn | SetDataTxn | SetAclTxn | CheckTxn | ErrorTxn | CreateSessionTxn | CloseSessionTxn | MultiTxn;

/** TTL nodes: EphemeralType.TTL owner = 0xFF << 56 | ttl. */
export function ttlOwner(ttlMs: number): bigint {
  return BigInt.asIntN(64, (0xffn << 56n) | BigInt(ttlMs));
}

/**
 * One record type of zookeeper.jute's txn module: how it is written, read back, measured
 * before it is built (the pipeline bounds a txn's size) and shown by `zooid dump-log`.
 * Opcodes that log the same record share a codec (engine/opcodes.ts names each opcode's).
 */
export interface TxnCodec<T extends Txn = Txn> {
  /** zookeeper.jute's record name. */
  record: string;
  encode(w: JuteWriter, txn: T): void;
  decode(type: number, r: JuteReader): T;
  /** The bytes encode writes, without writing them. */
  bytes(txn: T): number;
  /** One line of text (dump-log). */
  show(txn: T): string;
}

/** Bytes of a jute string (its length, then UTF-8) and of a jute buffer. */
function stringBytes(s: string): number {
  return 4 + Buffer.byteLength(s, 'utf8');
}

function aclsBytes(acls: readonly Acl[]): number {
  let bytes = 4;
  for (const a of acls) bytes += 4 + stringBytes(a.id.scheme) + stringBytes(a.id.id);
  return bytes;
}

function showData(data: Buffer): string {
  if (data === NULL_DATA) return 'null';
  const text = data.toString('utf8');
  return /^[\x20-\x7e]*$/.test(text) ? JSON.stringify(text) : `base64:${data.toString('base64')}`;
}

function showAcls(acls: readonly Acl[]): string {
  return `[${acls.map((a) => `${a.id.scheme}:${a.id.id}:${a.perms}`).join(',')}]`;
}

function showCreate(txn: CreateTxn): string {
  return `${txn.path} data=${showData(txn.data)} acl=${showAcls(txn.acls)} ephemeral=${txn.ephemeral} parentCVersion=${txn.parentCVersion}${txn.type === Op.createTTL ? ` ttl=${txn.ttlMs}` : ''}`;
}

/** CreateTxn {path, data, acl, ephemeral, parentCVersion} (create, create2). */
const CREATE: TxnCodec<CreateTxn> = {
  record: 'CreateTxn',
  encode(w, txn) {
    w.string(txn.path);
    writeData(w, txn.data);
    writeAcls(w, txn.acls);
    w.bool(txn.ephemeral).int(txn.parentCVersion);
  },
  decode(type, r) {
    const path = r.ustring();
    const data = readData(r);
    const acls = readAcls(r);
    const ephemeral = r.bool();
    const parentCVersion = r.int();
    return { type: type as CreateTxn['type'], path, data, acls, ephemeral, parentCVersion, ttlMs: 0 };
  },
  bytes: (txn) => stringBytes(txn.path) + 4 + txn.data.length + aclsBytes(txn.acls) + 1 + 4,
  show: showCreate,
};

/** CreateContainerTxn {path, data, acl, parentCVersion}. */
const CREATE_CONTAINER: TxnCodec<CreateTxn> = {
  record: 'CreateContainerTxn',
  encode(w, txn) {
    w.string(txn.path);
    writeData(w, txn.data);
    writeAcls(w, txn.acls);
    w.int(txn.parentCVersion);
  },
  decode(type, r) {
    const path = r.ustring();
    const data = readData(r);
    const acls = readAcls(r);
    return { type: type as CreateTxn['type'], path, data, acls, ephemeral: false, parentCVersion: r.int(), ttlMs: 0 };
  },
  bytes: (txn) => stringBytes(txn.path) + 4 + txn.data.length + aclsBytes(txn.acls) + 4,
  show: showCreate,
};

/** CreateTTLTxn {path, data, acl, parentCVersion, ttl}. */
const CREATE_TTL: TxnCodec<CreateTxn> = {
  record: 'CreateTTLTxn',
  encode(w, txn) {
    w.string(txn.path);
    writeData(w, txn.data);
    writeAcls(w, txn.acls);
    w.int(txn.parentCVersion).longNumber(txn.ttlMs);
  },
  decode(type, r) {
    const path = r.ustring();
    const data = readData(r);
    const acls = readAcls(r);
    const parentCVersion = r.int();
    return { type: type as CreateTxn['type'], path, data, acls, ephemeral: false, parentCVersion, ttlMs: r.longNumber() };
  },
  bytes: (txn) => stringBytes(txn.path) + 4 + txn.data.length + aclsBytes(txn.acls) + 4 + 8,
  show: showCreate,
};

/** DeleteTxn {path} (delete, deleteContainer). */
const DELETE: TxnCodec<DeleteTxn> = {
  record: 'DeleteTxn',
  encode: (w, txn) => void w.string(txn.path),
  decode: (type, r) => ({ type: type as DeleteTxn['type'], path: r.ustring() }),
  bytes: (txn) => stringBytes(txn.path),
  show: (txn) => txn.path,
};

/** SetDataTxn {path, data, version}. */
const SET_DATA: TxnCodec<SetDataTxn> = {
  record: 'SetDataTxn',
  encode(w, txn) {
    w.string(txn.path);
    writeData(w, txn.data);
    w.int(txn.version);
  },
  decode: (type, r) => ({ type: type as SetDataTxn['type'], path: r.ustring(), data: readData(r), version: r.int() }),
  bytes: (txn) => stringBytes(txn.path) + 4 + txn.data.length + 4,
  show: (txn) => `${txn.path} data=${showData(txn.data)} version=${txn.version}`,
};

/** SetACLTxn {path, acl, version}. */
const SET_ACL: TxnCodec<SetAclTxn> = {
  record: 'SetACLTxn',
  encode(w, txn) {
    w.string(txn.path);
    writeAcls(w, txn.acls);
    w.int(txn.version);
  },
  decode: (type, r) => ({ type: type as SetAclTxn['type'], path: r.ustring(), acls: readAcls(r), version: r.int() }),
  bytes: (txn) => stringBytes(txn.path) + aclsBytes(txn.acls) + 4,
  show: (txn) => `${txn.path} acl=${showAcls(txn.acls)} version=${txn.version}`,
};

/** CheckVersionTxn {path, version}. */
const CHECK: TxnCodec<CheckTxn> = {
  record: 'CheckVersionTxn',
  encode: (w, txn) => void w.string(txn.path).int(txn.version),
  decode: (type, r) => ({ type: type as CheckTxn['type'], path: r.ustring(), version: r.int() }),
  bytes: (txn) => stringBytes(txn.path) + 4,
  show: (txn) => `${txn.path} version=${txn.version}`,
};

/** ErrorTxn {err}: a failed write still spends its zxid. */
const ERROR: TxnCodec<ErrorTxn> = {
  record: 'ErrorTxn',
  encode: (w, txn) => void w.int(txn.err),
  decode: (type, r) => ({ type: type as ErrorTxn['type'], err: r.int() }),
  bytes: () => 4,
  show: (txn) => `err=${txn.err}`,
};

/** CreateSessionTxn {timeOut}. */
const CREATE_SESSION: TxnCodec<CreateSessionTxn> = {
  record: 'CreateSessionTxn',
  encode: (w, txn) => void w.int(txn.timeoutMs),
  decode: (type, r) => ({ type: type as CreateSessionTxn['type'], timeoutMs: r.int() }),
  bytes: () => 4,
  show: (txn) => `timeout=${txn.timeoutMs}`,
};

/** CloseSessionTxn {paths2Delete}, absent when not listed (and in logs written with closeSessionTxn.enabled=false). */
const CLOSE_SESSION: TxnCodec<CloseSessionTxn> = {
  record: 'CloseSessionTxn',
  encode(w, txn) {
    if (!txn.listed) return;
    w.int(txn.paths.length);
    for (const p of txn.paths) w.string(p);
  },
  decode: (type, r) => (r.remaining() > 0
    ? { type: type as CloseSessionTxn['type'], paths: readStrings(r), listed: true }
    : { type: type as CloseSessionTxn['type'], paths: [], listed: false }),
  bytes(txn) {
    if (!txn.listed) return 0;
    let bytes = 4;
    for (const p of txn.paths) bytes += stringBytes(p);
    return bytes;
  },
  show: (txn) => (txn.listed ? `ephemerals=[${txn.paths.join(',')}]` : 'ephemerals=(not listed)'),
};

/** MultiTxn: vector<Txn {int type; buffer data}>, each data one op's record. */
const MULTI: TxnCodec<MultiTxn> = {
  record: 'MultiTxn',
  encode(w, txn) {
    w.int(txn.txns.length);
    for (const sub of txn.txns) {
      w.int(sub.type);
      const lenAt = w.offset;
      w.int(0);
      encodeTxnBody(w, sub);
      w.buf.writeInt32BE(w.offset - lenAt - 4, lenAt);
    }
  },
  decode(type, r) {
    const n = r.vectorLength();
    const txns: Txn[] = [];
    for (let i = 0; i < n; i++) {
      const subType = r.int();
      const bytes = r.buffer() ?? EMPTY;
      txns.push(decodeTxnBody(subType, new JuteReader(bytes)));
    }
    return { type: type as MultiTxn['type'], txns };
  },
  bytes(txn) {
    let bytes = 4;
    for (const sub of txn.txns) bytes += 4 + 4 + txnBodyBytes(sub);
    return bytes;
  },
  show: (txn) => `[${txn.txns.map((t) => `${TXN_NAMES.get(t.type) ?? t.type} ${codecOf(t.type).show(t)}`).join('; ')}]`,
};

/** The record each txn type logs (TxnHeader.type → codec). */
const TXN_CODECS: ReadonlyMap<number, TxnCodec> = new Map<number, TxnCodec>([
  [Op.create, CREATE as TxnCodec], [Op.create2, CREATE as TxnCodec], [Op.createContainer, CREATE_CONTAINER as TxnCodec],
  [Op.createTTL, CREATE_TTL as TxnCodec], [Op.delete, DELETE as TxnCodec], [Op.deleteContainer, DELETE as TxnCodec],
  [Op.setData, SET_DATA as TxnCodec], [Op.reconfig, SET_DATA as TxnCodec], [Op.setACL, SET_ACL as TxnCodec], [Op.check, CHECK as TxnCodec],
  [Op.error, ERROR as TxnCodec], [Op.createSession, CREATE_SESSION as TxnCodec], [Op.closeSession, CLOSE_SESSION as TxnCodec],
  [Op.multi, MULTI as TxnCodec],
]);

const TXN_NAMES = new Map<number, string>(Object.entries(Op).map(([name, code]) => [code as number, name]));

/** The codec of a txn type; throws for a type no txn has (a corrupt or foreign log entry). */
export function codecOf(type: number): TxnCodec {
  const codec = TXN_CODECS.get(type);
  if (codec === undefined) throw new Error(`unknown txn type ${type}`);
  return codec;
}

export function encodeTxnBody(w: JuteWriter, txn: Txn): void {
  codecOf(txn.type).encode(w, txn);
}

/** The bytes encodeTxnBody writes for txn, without writing them. */
export function txnBodyBytes(txn: Txn): number {
  return codecOf(txn.type).bytes(txn);
}

/** A txn record as one line of text (dump-log). */
export function showTxn(txn: Txn): string {
  return codecOf(txn.type).show(txn);
}

/** TxnHeader + body, as one log entry's payload. */
export function encodeTxn(w: JuteWriter, hdr: TxnHeader, txn: Txn): void {
  writeTxnHeader(w, hdr);
  encodeTxnBody(w, txn);
}

export function decodeTxnBody(type: number, r: JuteReader): Txn {
  return codecOf(type).decode(type, r);
}

export function decodeTxn(bytes: Buffer): { hdr: TxnHeader; txn: Txn } {
  const r = new JuteReader(bytes);
  const hdr = readTxnHeader(r);
  return { hdr, txn: decodeTxnBody(hdr.type, r) };
}

const EMPTY = Buffer.alloc(0);

/** The ephemeralOwner a create txn gives its node. */
export function ownerOf(txn: CreateTxn, sessionId: bigint): bigint {
  if (txn.type === Op.createContainer) return CONTAINER_OWNER;
  if (txn.type === Op.createTTL) return ttlOwner(txn.ttlMs);
  return txn.ephemeral ? sessionId : 0n;
}

/**
 * Applies a txn's change to the tree without triggering watches (DataTree.processTxn).
 * Sessions are the caller's: createSession/closeSession only touch ephemerals here.
 * Returns the error code the txn stands for (a failed multi: its first error).
 */
export function mutate(tree: DataTree, hdr: TxnHeader, txn: Txn): number {
  switch (txn.type) {
    case Op.create:
    case Op.create2:
    case Op.createContainer:
    case Op.createTTL:
      tree.createNode(txn.path, txn.data, tree.acls.intern(txn.acls), ownerOf(txn, hdr.sessionId), txn.parentCVersion, hdr.zxid, hdr.timeMs);
      return Err.OK;
    case Op.delete:
    case Op.deleteContainer:
      tree.deleteNode(txn.path, hdr.zxid);
      return Err.OK;
    case Op.setData:
    case Op.reconfig:
      tree.setData(txn.path, txn.data, txn.version, hdr.zxid, hdr.timeMs);
      return Err.OK;
    case Op.setACL:
      tree.setAcl(txn.path, txn.acls, txn.version);
      if (hdr.zxid > tree.lastAclZxid) tree.lastAclZxid = hdr.zxid;
      return Err.OK;
    case Op.check:
    case Op.createSession:
      return Err.OK;
    case Op.error:
      return txn.err;
    case Op.closeSession: {
      // the txn's paths in their order (DataTree.killSession), then any the txn missed
      for (const p of txn.paths) if (tree.get(p) !== undefined) tree.deleteNode(p, hdr.zxid);
      const rest = tree.ephemerals.get(hdr.sessionId);
      if (rest !== undefined) for (const p of [...rest]) tree.deleteNode(p, hdr.zxid);
      return Err.OK;
    }
    case Op.multi: {
      const failed = multiError(txn);
      if (failed !== Err.OK) return failed;
      for (const sub of txn.txns) mutate(tree, hdr, sub);
      return Err.OK;
    }
  }
}

/** The first error code of a multi txn, or OK when every op applied. */
export function multiError(txn: MultiTxn): number {
  for (const sub of txn.txns) if (sub.type === Op.error) return (sub as ErrorTxn).err;
  return Err.OK;
}

/**
 * Fires the watches of a txn once it is logged: the events its mutations decided as each op
 * applied (DataTree.fireEvents), so a multi's events carry the ACLs as its ops left them.
 * An error txn and a failed multi fire nothing; a closeSession's events are those of its
 * deletes, in their order.
 */
export function triggerWatches(tree: DataTree, hdr: TxnHeader, txn: Txn): void {
  if (txn.type === Op.error || (txn.type === Op.multi && multiError(txn) !== Err.OK)) tree.dropEvents();
  else tree.fireEvents(hdr.zxid);
}
