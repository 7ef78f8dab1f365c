// A leader's part of the pipeline (ZooKeeper's LeaderZooKeeperServer): it prepares every
// write of the ensemble — its own clients' and those its learners forward (REQUEST) — so
// each txn gets its zxid here, goes to the local log and to the followers as a PROPOSAL
// (the quorum worker sends it), and commits once a quorum of voters has it durable: the
// followers' ACKs and this server's own durable zxid are the acks of the commit stage
// (engine/core/commit.ts). Each newly committed zxid goes back to the quorum worker, which
// sends COMMIT to followers and INFORM to observers.
//
// A learner's client is not a connection here: its request runs through the same handlers
// with a stand-in connection (REMOTE_CONN) that carries the client's auth ids and whose
// outputs go nowhere — the learner answers its client from the committed txn. Sessions are
// the leader's: learners report touches on PING and ask on REVALIDATE; expiry happens here.
import type { Id } from '../protocol.ts';
import { Op } from '../protocol.ts';
import type { Conn } from './types.ts';

/** What a leader sends its learners (the quorum worker turns them into QuorumPackets). */
export interface LeaderOutputs {
  /** PROPOSAL: a txn logged here (TxnHeader + record; valid only during the call). */
  propose(zxid: number, txn: Buffer): void;
  /** Everything up to zxid is committed: COMMIT (followers), INFORM (observers). */
  commit(zxid: number): void;
  /** SYNC to learner `sid`: everything proposed before its sync request is committed. */
  synced(sid: number): void;
}

/** The stand-in connection key of a learner's client: outputs to it are dropped. */
export const REMOTE_CONN = -2;

/** A learner's sync, answered once what was proposed before it is committed (Leader.processSync). */
interface PendingSync {
  sid: number;
  zxid: number;
}

export class LeaderRole {
  private readonly out: LeaderOutputs;
  private readonly syncs: PendingSync[] = [];
  /** Sizes of the txns proposed (srvr's "Proposal sizes last/min/max", ZooKeeper's BufferStats: -1 before any). */
  readonly proposalBytes = { last: -1, min: -1, max: -1 };

  constructor(out: LeaderOutputs) {
    this.out = out;
  }

  /** A txn logged here goes to the followers. */
  proposed(zxid: number, txn: Buffer): void {
    const p = this.proposalBytes;
    p.last = txn.length;
    if (p.min === -1 || txn.length < p.min) p.min = txn.length;
    if (txn.length > p.max) p.max = txn.length;
    this.out.propose(zxid, txn);
  }

  /** The commit stage moved to zxid: learners are told, and the syncs it covers answered. */
  committed(zxid: number): void {
    this.out.commit(zxid);
    while (this.syncs.length > 0 && this.syncs[0].zxid <= zxid) this.out.synced(this.syncs.shift()!.sid);
  }

  /** A learner's sync: answered now when nothing proposed is uncommitted, else once it is. */
  sync(sid: number, lastProposedZxid: number, committedZxid: number): void {
    if (lastProposedZxid <= committedZxid) this.out.synced(sid);
    else this.syncs.push({ sid, zxid: lastProposedZxid });
  }

  get pendingSyncs(): number {
    return this.syncs.length;
  }
}

/** A stand-in connection for a learner's client: its auth ids, no socket. */
export function remoteConn(sessionAuthIds: readonly Id[]): Conn {
  return {
    key: REMOTE_CONN, addr: 'learner', port: 0, session: null, authIds: [...sessionAuthIds], saslServer: null, secure: false,
    established: 0, packetsReceived: 0, packetsSent: 0, lastOp: 'NA', lastLatencyMs: 0, minLatencyMs: 0, maxLatencyMs: 0,
    totalLatencyMs: 0, latencyCount: 0, lastResponseMs: 0, lastZxid: -1, heldCount: 0,
  };
}

/** Whether a learner may forward this request type (what a learner's FollowerRequestProcessor sends). */
export function forwardable(type: number, write: boolean): boolean {
  return write || type === Op.sync || type === Op.createSession;
}
