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
