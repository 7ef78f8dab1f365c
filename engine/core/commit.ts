// The commit stage: outputs (replies, watch events, connection closes) held until the state
// they reveal is committed, then released in the order they were made. A zxid is committed
// once a quorum of the voting members has it durable; each member's durable zxid is its
// ack. Standalone is an ensemble of one: the local log's durable signal is the only ack
// and the quorum is 1. This class is the seam where Zab's ACKs will arrive (DESIGN.md §2).
//
// Pure: fed acks, emits released outputs through a callback; no clock, no I/O.

/** An output waiting for its zxid to commit. */
export interface HeldOutput {
  zxid: number;
  conn: number;
  /** A frame to send, or null for a connection close. */
  frame: Buffer | null;
  /** When its request reached the pipeline (latency statistics). */
  startMs: number;
}

/** The held FIFO is compacted once this many released slots sit at its front and they are over half of it. */
const COMPACT_AFTER_SLOTS = 4096;

/** A reconfig proposed at zxid: from it on, a quorum of both the old and these voters (Leader's qvAcksetPairs). */
interface NextVoters {
  zxid: number;
  voters: ReadonlySet<number>;
}

export class CommitStage {
  /** The newest zxid a quorum has durable: outputs tagged up to it are released. */
  committedZxid = 0;
  private voters: ReadonlySet<number>;
  private next: NextVoters | null = null;
  /** Each voter's newest durable zxid (its ack). */
  private readonly acked = new Map<number, number>();
  private held: HeldOutput[] = [];
  private head = 0;
  /** quorumZxid's working array (one slot per voter, reused: it runs at every ack). */
  private readonly ackScratch: Float64Array;

  /** `voters`: the server ids of the voting members (standalone: just this server's). */
  constructor(voters: readonly number[]) {
    if (voters.length === 0) throw new Error('commit stage: an ensemble has at least one voter');
    this.voters = new Set(voters);
    this.ackScratch = new Float64Array(VOTERS_MAX);
  }

  /**
   * A reconfig logged at zxid: it and every zxid after it commit once a quorum of the current
   * voters and one of `voters` have them; when it commits, `voters` are the only voters.
   */
  reconfigure(zxid: number, voters: readonly number[]): void {
    if (this.next !== null || voters.length === 0 || voters.length > VOTERS_MAX) throw new Error(`commit stage: reconfigure at ${zxid} to ${voters.length} voters (one pending: ${this.next !== null})`);
    this.next = { zxid, voters: new Set(voters) };
  }

  /** The voters now (after a reconfig commits, its new ones). */
  get voterIds(): ReadonlySet<number> {
    return this.voters;
  }

  /** Outputs waiting. */
  get size(): number {
    return this.held.length - this.head;
  }

  /** Holds an output until zxid commits. Tags never decrease (the pipeline tags with its newest zxid). */
  hold(output: HeldOutput): void {
    const last = this.held.length > this.head ? this.held[this.held.length - 1].zxid : -1;
    if (output.zxid < last) throw new Error(`commit stage: output tagged ${output.zxid} after one tagged ${last}`);
    this.held.push(output);
  }

  /**
   * A voter has everything up to zxid durable. When that moves the quorum's zxid, the
   * outputs it covers are passed to release in order. Returns whether the committed zxid moved.
   */
  ack(voter: number, zxid: number, release: (output: HeldOutput) => void): boolean {
    if (zxid <= (this.acked.get(voter) ?? -1)) return false;
    this.acked.set(voter, zxid);
    // a server that is no voter (an observer, one a reconfig removed or adds) acks all the same
    if (!this.voters.has(voter) && !(this.next?.voters.has(voter) ?? false)) return false;
    const committed = this.jointQuorumZxid();
    if (committed <= this.committedZxid) return false;
    this.committedZxid = committed;
    if (this.next !== null && committed >= this.next.zxid) {
      this.voters = this.next.voters;
      this.next = null;
    }
    this.releaseCommitted(release);
    return true;
  }

  /** Sets the committed zxid without a quorum (startup: what was recovered from disk is committed). */
  committedAt(zxid: number): void {
    this.committedZxid = zxid;
  }

  /** Passes the outputs already committed (a close queued behind nothing) to release, in order. */
  releaseCommitted(release: (output: HeldOutput) => void): void {
    const zxid = this.committedZxid;
    while (this.head < this.held.length) {
      const h = this.held[this.head];
      if (h.zxid > zxid) break;
      this.held[this.head++] = undefined as unknown as HeldOutput;
      release(h);
    }
    if (this.head === this.held.length) {
      this.held.length = 0;
      this.head = 0;
    } else if (this.head > COMPACT_AFTER_SLOTS && this.head * 2 > this.held.length) {
      this.held = this.held.slice(this.head);
      this.head = 0;
    }
  }

  /** Drops every held output (the log failed: what they reveal will never commit). */
  dropAll(): void {
    this.held = [];
    this.head = 0;
  }

  /** The newest zxid committed: the current voters' quorum zxid, and below a pending reconfig's zxid unless its voters have it too. */
  private jointQuorumZxid(): number {
    const old = this.quorumZxid(this.voters);
    if (this.next === null || old < this.next.zxid) return old;
    return Math.max(this.next.zxid - 1, Math.min(old, this.quorumZxid(this.next.voters)));
  }

  /** The zxid a quorum of `voters` has durable: the (half + 1)-th highest ack. */
  private quorumZxid(voters: ReadonlySet<number>): number {
    const acks = this.ackScratch.subarray(0, voters.size);
    let i = 0;
    for (const voter of voters) acks[i++] = this.acked.get(voter) ?? 0;
    acks.sort(); // numeric, ascending
    return acks[acks.length - (Math.floor(voters.size / 2) + 1)];
  }
}

/** The most voters a commit stage counts (its scratch array's size): far above any real ensemble. */
const VOTERS_MAX = 255;
