// Transactions: the records written to the txn log (zookeeper.jute, module txn), their
// encoding, and how each one changes the tree. The same apply code serves the live
// pipeline and log replay at startup.
import { JuteReader, JuteWriter } from '../native-free-io/jute.ts';
import { type Acl, type TxnHeader, Op, Err, readAcls, writeAcls, readStrings, writeTxnHeader, readTxnHeader, readData, writeData } from './protocol.ts';
import { DataTree, CONTAINER_OWNER } from './tree.ts';

export interface CreateTxn { type: 1 | 15 | 19 | 21; path: string; data: Buffer; acls: Acl[]; ephemeral: boolean; parentCVersion: number; ttlMs: number }
export interface DeleteTxn { type: 2 | 20; path: string }
export interface SetDataTxn { type: 5; path: string; data: Buffer; version: number }
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

export function encodeTxnBody(w: JuteWriter, txn: Txn): void {
  switch (txn.type) {
    case Op.create:
    case Op.create2:
      w.string(txn.path);
      writeData(w, txn.data);
      writeAcls(w, txn.acls);
      w.bool(txn.ephemeral).int(txn.parentCVersion);
      return;
    case Op.createContainer:
      w.string(txn.path);
      writeData(w, txn.data);
      writeAcls(w, txn.acls);
      w.int(txn.parentCVersion);
      return;
    case Op.createTTL:
      w.string(txn.path);
      writeData(w, txn.data);
      writeAcls(w, txn.acls);
      w.int(txn.parentCVersion).longNumber(txn.ttlMs);
      return;
    case Op.delete:
    case Op.deleteContainer:
      w.string(txn.path);
      return;
    case Op.setData:
      w.string(txn.path);
      writeData(w, txn.data);
      w.int(txn.version);
      return;
    case Op.setACL:
      w.string(txn.path);
      writeAcls(w, txn.acls);
      w.int(txn.version);
      return;
    case Op.check:
      w.string(txn.path).int(txn.version);
      return;
    case Op.error:
      w.int(txn.err);
      return;
    case Op.createSession:
      w.int(txn.timeoutMs);
      return;
    case Op.closeSession:
      if (!txn.listed) return;
      w.int(txn.paths.length);
      for (const p of txn.paths) w.string(p);
      return;
    case Op.multi: {
      // MultiTxn: vector<Txn {int type; buffer data}>
      w.int(txn.txns.length);
      for (const sub of txn.txns) {
        w.int(sub.type);
        const lenAt = w.offset;
        w.int(0);
        encodeTxnBody(w, sub);
        w.buf.writeInt32BE(w.offset - lenAt - 4, lenAt);
      }
      return;
    }
  }
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

/** The bytes encodeTxnBody writes for txn, without writing them. */
export function txnBodyBytes(txn: Txn): number {
  switch (txn.type) {
    case Op.create:
    case Op.create2:
      return stringBytes(txn.path) + 4 + txn.data.length + aclsBytes(txn.acls) + 1 + 4;
    case Op.createContainer:
      return stringBytes(txn.path) + 4 + txn.data.length + aclsBytes(txn.acls) + 4;
    case Op.createTTL:
      return stringBytes(txn.path) + 4 + txn.data.length + aclsBytes(txn.acls) + 4 + 8;
    case Op.delete:
    case Op.deleteContainer:
      return stringBytes(txn.path);
    case Op.setData:
      return stringBytes(txn.path) + 4 + txn.data.length + 4;
    case Op.setACL:
      return stringBytes(txn.path) + aclsBytes(txn.acls) + 4;
    case Op.check:
      return stringBytes(txn.path) + 4;
    case Op.error:
    case Op.createSession:
      return 4;
    case Op.closeSession: {
      if (!txn.listed) return 0;
      let bytes = 4;
      for (const p of txn.paths) bytes += stringBytes(p);
      return bytes;
    }
    case Op.multi: {
      let bytes = 4;
      for (const sub of txn.txns) bytes += 4 + 4 + txnBodyBytes(sub);
      return bytes;
    }
  }
}

/** TxnHeader + body, as one log entry's payload. */
export function encodeTxn(w: JuteWriter, hdr: TxnHeader, txn: Txn): void {
  writeTxnHeader(w, hdr);
  encodeTxnBody(w, txn);
}

export function decodeTxnBody(type: number, r: JuteReader): Txn {
  switch (type) {
    case Op.create:
    case Op.create2: {
      const path = r.ustring();
      const data = readData(r);
      const acls = readAcls(r);
      const ephemeral = r.bool();
      const parentCVersion = r.int();
      return { type, path, data, acls, ephemeral, parentCVersion, ttlMs: 0 };
    }
    case Op.createContainer: {
      const path = r.ustring();
      const data = readData(r);
      const acls = readAcls(r);
      return { type, path, data, acls, ephemeral: false, parentCVersion: r.int(), ttlMs: 0 };
    }
    case Op.createTTL: {
      const path = r.ustring();
      const data = readData(r);
      const acls = readAcls(r);
      const parentCVersion = r.int();
      return { type, path, data, acls, ephemeral: false, parentCVersion, ttlMs: r.longNumber() };
    }
    case Op.delete:
    case Op.deleteContainer:
      return { type, path: r.ustring() };
    case Op.setData:
      return { type, path: r.ustring(), data: readData(r), version: r.int() };
    case Op.setACL:
      return { type, path: r.ustring(), acls: readAcls(r), version: r.int() };
    case Op.check:
      return { type, path: r.ustring(), version: r.int() };
    case Op.error:
      return { type, err: r.int() };
    case Op.createSession:
      return { type, timeoutMs: r.int() };
    case Op.closeSession:
      // CloseSessionTxn is absent in logs written with zookeeper.closeSessionTxn.enabled=false
      return r.remaining() > 0 ? { type, paths: readStrings(r), listed: true } : { type, paths: [], listed: false };
    case Op.multi: {
      const n = r.vectorLength();
      const txns: Txn[] = [];
      for (let i = 0; i < n; i++) {
        const subType = r.int();
        const bytes = r.buffer() ?? EMPTY;
        txns.push(decodeTxnBody(subType, new JuteReader(bytes)));
      }
      return { type, txns };
    }
    default:
      throw new Error(`unknown txn type ${type}`);
  }
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

/** Triggers the watches a txn fires, after it applied. closeSession paths are passed in. */
export function triggerWatches(tree: DataTree, hdr: TxnHeader, txn: Txn, deletedEphemerals: readonly string[] | null): void {
  switch (txn.type) {
    case Op.create:
    case Op.create2:
    case Op.createContainer:
    case Op.createTTL:
      tree.triggerCreated(txn.path, hdr.zxid);
      return;
    case Op.delete:
    case Op.deleteContainer:
      tree.triggerDeleted(txn.path, hdr.zxid);
      return;
    case Op.setData:
      tree.triggerDataChanged(txn.path, hdr.zxid);
      return;
    case Op.closeSession:
      if (deletedEphemerals !== null) for (const p of deletedEphemerals) tree.triggerDeleted(p, hdr.zxid);
      return;
    case Op.multi:
      if (multiError(txn) !== Err.OK) return;
      for (const sub of txn.txns) triggerWatches(tree, hdr, sub, null);
      return;
    default:
      return;
  }
}
