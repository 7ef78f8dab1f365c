// Startup replay: txns read back from the log after the newest snapshot, applied to a tree
// that may already hold some of their effects (ZooKeeper's snapshots are fuzzy: taken while
// writes go on). Pure: a tree and txns in, the tree changed.
import { type TxnHeader, Op, Err, KeeperError, parentOf } from '../protocol.ts';
import type { DataTree } from './tree.ts';
import { type Txn, mutate } from './txn.ts';

/**
 * Applies one txn during replay as ZooKeeper's DataTree.processTxn does after a fuzzy
 * snapshot: each op of a multi on its own, an op that fails (NONODE, NODEEXISTS: the
 * snapshot already holds its effect) skipped, and a create that finds its node gives the
 * parent the txn's cversion and pzxid (setCversionPzxid, for ZooKeeper's snapshots).
 */
export function replayTxn(tree: DataTree, hdr: TxnHeader, txn: Txn): void {
  if (txn.type === Op.multi) {
    // a failed multi is logged as error txns only: nothing to apply
    if (txn.txns.some((sub) => sub.type === Op.error)) return;
    for (const sub of txn.txns) replayTxn(tree, hdr, sub);
    return;
  }
  if (txn.type === Op.closeSession) {
    // ephemerals the snapshot missed (deleted before the walk reached them) still moved their parents' pzxid
    for (const path of txn.paths) if (tree.get(path) === undefined) replayPzxid(tree, path, hdr.zxid);
  }
  try {
    mutate(tree, hdr, txn);
  } catch (e) {
    if (!(e instanceof KeeperError)) throw e;
    if ((txn.type === Op.delete || txn.type === Op.deleteContainer) && e.code === Err.NONODE) {
      // the node was deleted after the snapshot started, before the walk reached it; its
      // delete succeeded live and moved the parent's pzxid, which the snapshot may predate
      replayPzxid(tree, txn.path, hdr.zxid);
      return;
    }
    if (txn.type !== Op.create || e.code !== Err.NODEEXISTS) return;
    const parent = tree.get(parentOf(txn.path));
    if (parent === undefined) return;
    const cversion = txn.parentCVersion === -1 ? parent.cversion + 1 : txn.parentCVersion;
    if (cversion > parent.cversion) {
      parent.cversion = cversion;
      parent.pzxid = hdr.zxid;
    }
  }
}

/** Replay of a delete whose node is already gone: the parent's pzxid as the delete left it. */
function replayPzxid(tree: DataTree, path: string, zxid: number): void {
  const parent = tree.get(parentOf(path));
  if (parent !== undefined && zxid > parent.pzxid) parent.pzxid = zxid;
}

/** TxnHeader's bytes: clientId, cxid, zxid, time, type. */
const HEADER_BYTES = 32;
const ZXID_AT = 12;
const TIME_AT = 20;
const TYPE_AT = 28;

function readLongNumber(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * 0x1_0000_0000 + buf.readUInt32BE(at + 4);
}

/**
 * Replays a log entry that is a setData (most of a log's tail) straight from its bytes: no
 * header, txn, path string or data Buffer made (DataTree.replaySetData). Returns false when
 * it did nothing and the entry must be decoded (another type, a quota or watch in the way,
 * a path past ASCII, a malformed entry: the decoder says what is wrong).
 */
export function replaySetDataInPlace(tree: DataTree, bytes: Buffer): boolean {
  if (bytes.length < HEADER_BYTES + 4 || bytes.readInt32BE(TYPE_AT) !== Op.setData) return false;
  const zxid = readLongNumber(bytes, ZXID_AT);
  if (zxid <= tree.lastZxid) return false;
  const pathBytes = bytes.readInt32BE(HEADER_BYTES);
  const pathStart = HEADER_BYTES + 4;
  if (pathBytes < 0 || pathStart + pathBytes + 8 > bytes.length) return false;
  const dataLength = bytes.readInt32BE(pathStart + pathBytes);
  const dataStart = pathStart + pathBytes + 4;
  if (dataLength < -1 || dataStart + Math.max(dataLength, 0) + 4 > bytes.length) return false;
  const version = bytes.readInt32BE(dataStart + Math.max(dataLength, 0));
  if (!tree.replaySetData(bytes, pathStart, pathBytes, dataLength, dataStart, version, zxid, readLongNumber(bytes, TIME_AT))) return false;
  tree.lastZxid = zxid;
  return true;
}
