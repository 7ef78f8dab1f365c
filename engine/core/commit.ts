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

export class CommitStage {
  /** The newest zxid a quorum has durable: outputs tagged up to it are released. */
  committedZxid = 0;
  private readonly voters: ReadonlySet<number>;
  private readonly quorumSize: number;
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
    this.quorumSize = Math.floor(this.voters.size / 2) + 1;
    this.ackScratch = new Float64Array(this.voters.size);
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
    if (!this.voters.has(voter)) throw new Error(`commit stage: ack from ${voter}, not a voter`);
    if (zxid <= (this.acked.get(voter) ?? -1)) return false;
    this.acked.set(voter, zxid);
    const committed = this.quorumZxid();
    if (committed <= this.committedZxid) return false;
    this.committedZxid = committed;
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

  /** The zxid a quorum of voters has durable: the quorumSize-th highest ack. */
  private quorumZxid(): number {
    const acks = this.ackScratch;
    let i = 0;
    for (const voter of this.voters) acks[i++] = this.acked.get(voter) ?? 0;
    acks.sort(); // numeric, ascending
    return acks[acks.length - this.quorumSize];
  }
}
