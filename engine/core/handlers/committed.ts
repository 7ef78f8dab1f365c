// Replies to writes this server forwarded to its leader (a follower's or an observer's
// FinalRequestProcessor): made from the txn as the leader prepared it, committed and applied
// here — not from a prep of our own. The reply header carries the txn's zxid; an error txn
// (the leader's prep failed) is answered with its code.
import { type Stat, type TxnHeader, Op, Err, beginReply, writeStat } from '../../protocol.ts';
import type { Txn, MultiTxn } from '../txn.ts';
import type { Pipeline } from '../pipeline.ts';

/**
 * `stats`: for a multi, each op's node Stat as that op left it (null for ops without a
 * node after them: delete, check), captured while the multi was applied op by op; null
 * for a single op (its node is read from the tree, which nothing has changed since).
 */
export type CommittedReply = (p: Pipeline, conn: number, xid: number, requestType: number, hdr: TxnHeader, txn: Txn, stats: readonly (Stat | null)[] | null) => void;

/** create, create2, createContainer, createTTL: the path made (sequential suffix included), and its Stat but for create. */
export const createCommitted: CommittedReply = (p, conn, xid, requestType, hdr, txn) => {
  if (txn.type === Op.error) return replyError(p, conn, xid, hdr, txn.err);
  const path = (txn as { path: string }).path;
  const w = p.writer.reset();
  const at = beginReply(w, xid, hdr.zxid, Err.OK);
  w.string(path);
  if (requestType !== Op.create) writeStat(w, p.statOf(p.node(path)));
  p.finish(conn, at, hdr.zxid);
};

/** delete, check, closeSession: an empty reply. */
export const emptyCommitted: CommittedReply = (p, conn, xid, _requestType, hdr, txn) => {
  if (txn.type === Op.error) return replyError(p, conn, xid, hdr, txn.err);
  p.finish(conn, beginReply(p.writer.reset(), xid, hdr.zxid, Err.OK), hdr.zxid);
};

/** setData, setACL: the node's Stat after the change. */
export const statCommitted: CommittedReply = (p, conn, xid, _requestType, hdr, txn) => {
  if (txn.type === Op.error) return replyError(p, conn, xid, hdr, txn.err);
  const at = beginReply(p.writer.reset(), xid, hdr.zxid, Err.OK);
  writeStat(p.writer, p.statOf(p.node((txn as { path: string }).path)));
  p.finish(conn, at, hdr.zxid);
};

/**
 * multi: one result per op. A failed multi (some op an error txn) answers OK for the ops
 * before the failing one, its code for it, RUNTIMEINCONSISTENCY after (DataTree.processTxn).
 */
export const multiCommitted: CommittedReply = (p, conn, xid, _requestType, hdr, txn, stats) => {
  if (txn.type === Op.error) return replyError(p, conn, xid, hdr, txn.err);
  const subs = (txn as MultiTxn).txns;
  const failedAt = subs.findIndex((s) => s.type === Op.error);
  const w = p.writer.reset();
  const at = beginReply(w, xid, hdr.zxid, Err.OK);
  for (let i = 0; i < subs.length; i++) {
    const sub = subs[i];
    if (failedAt !== -1) {
      const err = i < failedAt ? Err.OK : i === failedAt ? (sub as { err: number }).err : Err.RUNTIMEINCONSISTENCY;
      w.int(Op.error).bool(false).int(err).int(err);
      continue;
    }
    w.int(sub.type).bool(false).int(0);
    const stat = stats?.[i] ?? null;
    if (sub.type === Op.create) w.string(sub.path);
    else if (sub.type === Op.create2 || sub.type === Op.createContainer || sub.type === Op.createTTL) {
      w.string(sub.path);
      writeStat(w, stat!);
    } else if (sub.type === Op.setData) writeStat(w, stat!);
  }
  w.int(-1).bool(true).int(-1);
  p.finish(conn, at, hdr.zxid);
};

function replyError(p: Pipeline, conn: number, xid: number, hdr: TxnHeader, err: number): void {
  p.replyError(conn, xid, err, hdr.zxid);
}
