// A learner's part of the pipeline (ZooKeeper's FollowerZooKeeperServer and
// ObserverZooKeeperServer): this server serves reads from its own tree, and everything that
// would change state goes to the leader, which prepares it. Pure, like the pipeline: fed
// client requests and the leader's stream, it emits what to send the leader (through the
// quorum worker) and the clients' replies.
//
//   client write  ──► forward (REQUEST: sessionId, cxid, type, record, the client's auth ids)
//   new session   ──► forward createSession;  reconnect ──► REVALIDATE with the leader
//   PROPOSAL      ──► log (the quorum worker ACKs once the log worker has it durable)
//   COMMIT        ──► apply the oldest proposal; reply when it is one this server forwarded
//   INFORM        ──► (observer) log and apply at once
//   SYNC answer   ──► reply to the oldest sync this server forwarded
//
// Order (ZooKeeper's FollowerRequestProcessor and CommitProcessor): a connection's writes
// go to the leader as they come, many in flight (the leader keeps a session's order, so
// they commit in the order sent); a read that comes while the connection has writes out
// waits behind them (its frame is kept) and runs once the write before it is answered. A
// sync is forwarded only when nothing is out, and everything after it waits for its answer
// (the leader answers a sync after COMMITs of later txns). Sessions are the leader's:
// nothing expires here; the sessions that clients touched are reported on PING.
import { hex64 } from '../ops/java.ts';
import { type Id, type TxnHeader, type Stat, Op, Err } from '../protocol.ts';
import { type Txn, decodeTxn, mutate, multiError } from './txn.ts';
import { type DataTree, newStat } from './tree.ts';

/** What a learner sends its leader (the quorum worker turns them into QuorumPackets). */
export interface LearnerOutputs {
  /** REQUEST: [sessionId][cxid][type][request record], with the client's auth ids as authinfo. */
  forward(sessionId: bigint, cxid: number, type: number, record: Buffer, authIds: readonly Id[]): void;
  /** REVALIDATE: [sessionId][timeout]: is this session still alive, and for how long. */
  revalidate(sessionId: bigint, timeoutMs: number): void;
}

/** A request forwarded to the leader, answered when its txn commits here. */
export interface Forwarded {
  sessionId: bigint;
  cxid: number;
  type: number;
  conn: number;
  startMs: number;
  /** A sync's path (its answer repeats it). */
  path?: string;
  /** The error the client is answered whatever the leader commits (a local session's ephemeral create, upgrading off). */
  err?: number;
}

/** A proposal logged here, waiting for the leader's COMMIT. */
interface Proposal {
  zxid: number;
  bytes: Buffer;
}

/** A write or sync of one connection out at the leader, and the frames that came after it and wait for its answer. */
interface OutAtLeader {
  sync: boolean;
  held: Buffer[];
}

/** A connection's requests out at the leader, oldest first (only the newest has frames held after it, unless they are reads). */
interface ConnLine {
  sessionId: bigint;
  out: OutAtLeader[];
  /** A sync, or a frame that is not a read, is held or out: later writes wait too. */
  barrier: boolean;
}

/** A connection waiting for the leader to answer its session (createSession committed, or REVALIDATE). */
export interface PendingConnect {
  conn: number;
  timeoutMs: number;
  /** true: a new session (createSession forwarded); false: a reconnect being revalidated. */
  created: boolean;
}

/** A proposal the learner never saw committed, or a COMMIT out of order: the leader and this server disagree. */
export class LearnerDesyncError extends Error {}

export class Learner {
  readonly observer: boolean;
  private readonly out: LearnerOutputs;
  /** Proposals logged, oldest first, waiting for COMMIT. */
  private readonly proposals: Proposal[] = [];
  private proposalsHead = 0;
  /** The newest zxid proposed (or, at the start, the newest this server has). */
  private lastProposedZxid: number;
  /** Writes (and syncs) this server forwarded, per session, oldest first. */
  private readonly forwarded = new Map<bigint, Forwarded[]>();
  private forwardedCount = 0;
  /** Syncs forwarded, oldest first: the leader answers them in order. */
  private readonly syncs: Forwarded[] = [];
  /** Connections with writes (or a sync) out at the leader: what is out and what waits behind it, in order. */
  private readonly lines = new Map<number, ConnLine>();
  private waitingCount = 0;
  readonly connects = new Map<bigint, PendingConnect>();
  /** Sessions touched since the last PING (their timeouts), for the leader's expiry. */
  private touched = new Map<bigint, number>();

  constructor(out: LearnerOutputs, observer: boolean, lastZxid = 0) {
    this.out = out;
    this.observer = observer;
    this.lastProposedZxid = lastZxid;
  }

  /** Where the leader's stream starts (after recovery, or after a sync). */
  startAt(lastZxid: number): void {
    assert(this.uncommittedCount === 0, 'the stream restarts with proposals pending');
    this.lastProposedZxid = lastZxid;
  }

  /** Requests this learner holds: forwarded and not answered, or waiting behind those (the throttle counts them). */
  get pendingCount(): number {
    return this.forwardedCount + this.syncs.length + this.waitingCount + this.connects.size;
  }

  /** Proposals logged and not yet committed. */
  get uncommittedCount(): number {
    return this.proposals.length - this.proposalsHead;
  }

  // ---------------------------------------------------------------- the client side

  /** Whether the connection has writes out at the leader (a new read of its must wait). */
  busy(conn: number): boolean {
    return this.lines.has(conn);
  }

  /** Whether a write of a busy connection may go to the leader now, behind the ones out (no sync or held write before it). */
  mayPipeline(conn: number): boolean {
    const line = this.lines.get(conn);
    return line !== undefined && !line.barrier;
  }

  /** Keeps a request of a busy connection until the request out before it is answered. `frame` is copied. */
  wait(conn: number, frame: Buffer, read: boolean): void {
    const line = this.lines.get(conn);
    assert(line !== undefined, `connection ${conn} is not waiting`);
    line.out[line.out.length - 1].held.push(Buffer.from(frame));
    if (!read) line.barrier = true;
    this.waitingCount++;
  }

  /** Sends a write (or sync) to the leader; the connection's next reads are held behind it. */
  forward(f: Forwarded, record: Buffer, authIds: readonly Id[]): void {
    const sync = f.type === Op.sync;
    let line = this.lines.get(f.conn);
    assert(line === undefined || (!sync && !line.barrier), `connection ${f.conn} forwards past a sync or a held write`);
    if (sync) this.syncs.push(f);
    else {
      let q = this.forwarded.get(f.sessionId);
      if (q === undefined) this.forwarded.set(f.sessionId, (q = []));
      q.push(f);
      this.forwardedCount++;
    }
    if (line === undefined) this.lines.set(f.conn, (line = { sessionId: f.sessionId, out: [], barrier: false }));
    line.out.push({ sync, held: [] });
    if (sync) line.barrier = true;
    this.out.forward(f.sessionId, f.cxid, f.type, record, authIds);
  }

  /** A new session: createSession goes to the leader; the client is answered when it commits. */
  createSession(sessionId: bigint, conn: number, timeoutMs: number): void {
    this.connects.set(sessionId, { conn, timeoutMs, created: true });
    const record = Buffer.alloc(4);
    record.writeInt32BE(timeoutMs, 0);
    this.out.forward(sessionId, 0, Op.createSession, record, []);
  }

  /** A local session's upgrade: createSession to the leader, before the request that needs it; nobody waits for its answer. */
  upgradeSession(sessionId: bigint, timeoutMs: number): void {
    const record = Buffer.alloc(4);
    record.writeInt32BE(timeoutMs, 0);
    this.out.forward(sessionId, 0, Op.createSession, record, []);
  }

  /** A reconnect to a session: the leader says whether it lives (revalidated()). */
  revalidate(sessionId: bigint, conn: number, timeoutMs: number): void {
    this.connects.set(sessionId, { conn, timeoutMs, created: false });
    this.out.revalidate(sessionId, timeoutMs);
  }

  /** The leader's answer to a REVALIDATE: the connection waiting for it, if any. */
  revalidated(sessionId: bigint): PendingConnect | null {
    const c = this.connects.get(sessionId);
    if (c === undefined || c.created) return null;
    this.connects.delete(sessionId);
    return c;
  }

  /** Notes a session a client touched, for the next PING. */
  touch(sessionId: bigint, timeoutMs: number): void {
    this.touched.set(sessionId, timeoutMs);
  }

  /** The sessions touched since the last PING, and a fresh set. */
  takeTouches(): Map<bigint, number> {
    const t = this.touched;
    this.touched = new Map();
    return t;
  }

  /** The connection went away: its waiting frames go; its forwarded writes are still answered to nobody. */
  disconnect(conn: number): void {
    const line = this.lines.get(conn);
    if (line !== undefined) {
      for (const o of line.out) this.waitingCount -= o.held.length;
      this.lines.delete(conn);
    }
    for (const [id, c] of this.connects) if (c.conn === conn) this.connects.delete(id);
  }

  // ---------------------------------------------------------------- the leader's stream

  /** PROPOSAL: logged by the caller; kept (copied) until its COMMIT. zxids only grow. */
  proposed(zxid: number, txn: Buffer): void {
    if (zxid <= this.lastProposedZxid) throw new LearnerDesyncError(`proposal 0x${zxid.toString(16)} after 0x${this.lastProposedZxid.toString(16)}`);
    this.lastProposedZxid = zxid;
    this.proposals.push({ zxid, bytes: Buffer.from(txn) });
  }

  /** COMMIT: the proposal it names, which must be the oldest one not committed. */
  committed(zxid: number): { hdr: TxnHeader; txn: Txn } {
    if (this.proposalsHead >= this.proposals.length) throw new LearnerDesyncError(`commit of 0x${zxid.toString(16)} with no proposal pending`);
    const p = this.proposals[this.proposalsHead];
    if (p.zxid !== zxid) throw new LearnerDesyncError(`commit of 0x${zxid.toString(16)} while 0x${p.zxid.toString(16)} is the oldest proposal`);
    this.proposals[this.proposalsHead++] = undefined as unknown as Proposal;
    if (this.proposalsHead === this.proposals.length) {
      this.proposals.length = 0;
      this.proposalsHead = 0;
    } else if (this.proposalsHead > 1024 && this.proposalsHead * 2 > this.proposals.length) {
      this.proposals.splice(0, this.proposalsHead);
      this.proposalsHead = 0;
    }
    return decodeTxn(p.bytes);
  }

  /**
   * A committed txn was applied: the request this server forwarded for it, if any (the
   * oldest of its session, which must match its cxid: the leader keeps a session's order).
   */
  answerFor(hdr: TxnHeader): Forwarded | null {
    const q = this.forwarded.get(hdr.sessionId);
    if (q === undefined || q.length === 0) return null;
    const f = q[0];
    if (f.cxid !== hdr.cxid) {
      // ZooKeeper's CommitProcessor treats this as fatal: the session's order broke
      throw new LearnerDesyncError(`session 0x${hex64(hdr.sessionId)} committed cxid ${hdr.cxid}, its oldest forwarded request is cxid ${f.cxid}`);
    }
    q.shift();
    this.forwardedCount--;
    if (q.length === 0) this.forwarded.delete(hdr.sessionId);
    return f;
  }

  /** The leader's SYNC answer: the oldest sync this server forwarded. */
  synced(): Forwarded | null {
    return this.syncs.shift() ?? null;
  }

  /**
   * The oldest request the connection had out was answered: the frames held behind it, in
   * order. While more is out (busy() stays true) they are reads the caller runs at once;
   * when nothing is, the caller runs them as new requests (one may forward again, and the
   * rest wait once more).
   */
  release(conn: number, sessionId: bigint, sync: boolean): Buffer[] {
    const line = this.lines.get(conn);
    if (line === undefined || line.sessionId !== sessionId) return [];
    const done = line.out.shift()!;
    assert(done.sync === sync, `connection ${conn}: a ${sync ? 'sync' : 'write'} answered while its oldest request out is not one`);
    this.waitingCount -= done.held.length;
    if (line.out.length === 0) this.lines.delete(conn);
    else assert(!done.sync, `connection ${conn} had requests out after a sync`);
    return done.held;
  }
}

/**
 * Applies a committed txn to the tree. A multi is applied op by op, and each op's node Stat
 * kept as that op left it (its reply shows them); null for anything else.
 */
export function applyWithStats(tree: DataTree, hdr: TxnHeader, txn: Txn): (Stat | null)[] | null {
  if (txn.type !== Op.multi || multiError(txn) !== Err.OK) {
    mutate(tree, hdr, txn);
    return null;
  }
  const stats: (Stat | null)[] = [];
  for (const sub of txn.txns) {
    mutate(tree, hdr, sub);
    const n = 'path' in sub ? tree.get(sub.path) : undefined;
    stats.push(n === undefined || sub.type === Op.delete || sub.type === Op.check ? null : n.statInto(newStat()));
  }
  return stats;
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`learner: ${message}`);
}
