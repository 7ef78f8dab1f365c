// The leader's committed state, for SNAP. The pipeline's tree applies a txn when it is
// prepared, ahead of its commit, so it is never the committed state while writes are in
// flight; a SNAP streamed from it could hand a learner a txn that is never committed (the
// leader dies first), and the learner would keep it. This replica is fed only committed txns
// (the quorum worker sees every proposal and every commit) and serializes as ZooKeeper's
// ZKDatabase.serializeSnapshot writes a SNAP body (serializeForLearner).
//
// Cost (bench/committed-replica.ts, docs/ensemble.md): a second copy of the tree, and a
// decode + apply of every committed txn on the quorum worker's thread.

import { DataTree } from '../core/tree.ts';
import { KeeperError, Op } from '../protocol.ts';
import { decodeTxn, mutate, type Txn } from '../core/txn.ts';
import { replayTxn } from '../core/replay.ts';
import type { TxnHeader } from '../protocol.ts';
import { serializeForLearner } from '../quorum/zab-leader-shell.ts';
import { recoverState, type RecoveryReport } from './recovery.ts';

export interface ReplicaSeed {
  /** A tree no one else changes from now on (the replica owns it). */
  tree: DataTree;
  /** Session id → timeout (ms), as the snapshot and the log left them. */
  sessions: Iterable<[bigint, number]>;
}

/** Where the committed state is on disk (the version-2 directories). */
export interface ReplicaDiskOptions {
  snapDir: string;
  logDir: string;
  txnBytesMax: number;
  warn: (msg: string) => void;
}

export class CommittedReplica {
  private readonly tree: DataTree;
  private readonly sessions = new Map<bigint, number>();
  /** A serialize() generator not yet finished: the tree must hold still. */
  private serializing = false;

  constructor(seed: ReplicaSeed) {
    this.tree = seed.tree;
    for (const [id, timeoutMs] of seed.sessions) this.sessions.set(id, timeoutMs);
  }

  /**
   * The committed state on disk (snapshot + log, recoverState's rules), read without changing
   * any file: for a replica made while the server's own recovery is done and the log worker
   * may append (a torn tail ends the replay with a warning; it is not cut).
   */
  static fromDisk(opts: ReplicaDiskOptions): CommittedReplica {
    return CommittedReplica.recover(opts).replica;
  }

  /** fromDisk, with recovery's report (what was loaded, how long it took). */
  static recover(opts: ReplicaDiskOptions): { replica: CommittedReplica; report: RecoveryReport } {
    const tree = new DataTree();
    const sessions = new Map<bigint, number>();
    const target = {
      tree,
      sessions: { clear: () => sessions.clear(), add: (id: bigint, timeoutMs: number) => sessions.set(id, timeoutMs) },
      replay(bytes: Buffer) {
        const { hdr, txn } = decodeTxn(bytes);
        if (hdr.zxid <= tree.lastZxid) return;
        replayTxn(tree, hdr, txn);
        noteSession(sessions, hdr, txn);
        tree.lastZxid = hdr.zxid;
      },
      recovered() {},
    };
    const report = recoverState(target, { ...opts, nowMs: 0, repair: false, reload: true });
    return { replica: new CommittedReplica({ tree, sessions }), report };
  }

  /** The newest committed zxid applied. */
  get lastZxid(): number {
    return this.tree.lastZxid;
  }

  get nodeCount(): number {
    return this.tree.nodes.size;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * A committed txn, in zxid order (TxnHeader + record, what a PROPOSAL carries). It applies
   * exactly (DataTree.processTxn): a txn that does not fit the state is a broken stream and
   * throws.
   */
  apply(zxid: number, txnBytes: Buffer): void {
    if (this.serializing) throw new Error(`committed txn 0x${zxid.toString(16)} while a SNAP of 0x${this.tree.lastZxid.toString(16)} is being serialized`);
    const { hdr, txn } = decodeTxn(txnBytes);
    if (hdr.zxid !== zxid) throw new Error(`committed txn 0x${zxid.toString(16)} carries zxid 0x${hdr.zxid.toString(16)}`);
    if (zxid <= this.tree.lastZxid) throw new Error(`committed txn 0x${zxid.toString(16)} after 0x${this.tree.lastZxid.toString(16)}`);
    try {
      mutate(this.tree, hdr, txn);
    } catch (e) {
      if (!(e instanceof KeeperError)) throw e;
      throw new Error(`committed txn 0x${zxid.toString(16)} (type ${txn.type}) does not apply to the committed state: error ${e.code} at ${e.message}`, { cause: e });
    }
    this.tree.dropEvents();
    noteSession(this.sessions, hdr, txn);
    this.tree.lastZxid = zxid;
  }

  /**
   * The SNAP body at lastZxid (sessions, ACL cache, nodes, "/"): serializeForLearner over
   * this tree, in chunks of up to 1 MiB. apply() throws until the generator is done (or
   * returned: a for…of that stops early).
   */
  *serialize(): Generator<Buffer> {
    if (this.serializing) throw new Error('a SNAP is being serialized already');
    this.serializing = true;
    try {
      yield* serializeForLearner(this.tree, this.sessions);
    } finally {
      this.serializing = false;
    }
  }
}

function noteSession(sessions: Map<bigint, number>, hdr: TxnHeader, txn: Txn): void {
  if (txn.type === Op.createSession) sessions.set(hdr.sessionId, txn.timeoutMs);
  else if (txn.type === Op.closeSession) sessions.delete(hdr.sessionId);
}
