// STUB until ensemble-persistence's lands (the lead merges theirs over this file): the
// committed state a leader streams to a learner it syncs by SNAP. The leader's pipeline tree
// applies at prep, ahead of commit, so a SNAP cannot come from it; this replica is fed the
// committed txns (the quorum worker sees every PROPOSE and COMMIT) and seeded from disk when
// the server starts leading (snapshot + whole log: Zab commits all of it at NEWLEADER).
// A placeholder Pipeline holds the tree and sessions (replay keeps both).
import type { Pipeline } from '../core/pipeline.ts';
import { recoverState, stateHolder } from './recovery.ts';
import { serializeForLearner } from '../quorum/zab-leader-shell.ts';

export interface ReplicaDiskOptions {
  snapDir: string;
  logDir: string;
  txnBytesMax: number;
  warn: (msg: string) => void;
}

export class CommittedReplica {
  private readonly state: Pipeline;

  private constructor(txnBytesMax: number) {
    this.state = stateHolder(txnBytesMax);
  }

  static fromDisk(opts: ReplicaDiskOptions): CommittedReplica {
    const r = new CommittedReplica(opts.txnBytesMax);
    recoverState(r.state, { snapDir: opts.snapDir, logDir: opts.logDir, txnBytesMax: opts.txnBytesMax, nowMs: 0, warn: opts.warn, reload: true });
    return r;
  }

  get lastZxid(): number {
    return this.state.tree.lastZxid;
  }

  /** A committed txn (TxnHeader + record), in zxid order. */
  apply(zxid: number, txn: Buffer): void {
    if (zxid <= this.lastZxid) throw new Error(`committed replica: txn 0x${zxid.toString(16)} after 0x${this.lastZxid.toString(16)}`);
    this.state.replay(txn);
  }

  /** The SNAP body: sessions, ACL cache, nodes, "/" (no file header, no signature). */
  serialize(): Generator<Buffer> {
    const sessions: [bigint, number][] = [];
    for (const s of this.state.sessions.sessions.values()) sessions.push([s.id, s.timeoutMs]);
    return serializeForLearner(this.state.tree, sessions);
  }
}
