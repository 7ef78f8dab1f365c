// The quorum worker's statistics (ensembles only): ZooKeeper's ensemble metrics
// (ServerMetrics: proposal_count, learner_*_received_count, diff_count, election_time,
// quorum_ack_latency, ...) kept in a SharedArrayBuffer stats block (engine/ops/stagestats.ts)
// that only the quorum worker writes. The pipeline reads it when mntr or the AdminServer
// asks (engine/ops/stats.ts); the main thread reads it for /metrics (engine/ops/metrics.ts).
// Recording allocates nothing: a counter is one Float64Array increment, a summary five slots
// and a histogram observation.
//
// A summary is ZooKeeper's AvgMinMaxCounter (count, sum, min, max of whole-ms samples, as
// Time.currentElapsedTime differences are) plus a log2 histogram of the exact values, from
// which the "percentile" summaries' p50/p95/p99/p999 (mntr) and quantiles (/metrics) are
// read: within a factor of two of ZooKeeper's sampled reservoir, never more exact than that.
import { COUNT_BUCKETS, DURATION_BUCKETS, histogramQuantile, type StatsBlock, type Histogram, type HistogramSnapshot, type StatsBlockSpec } from './stagestats.ts';
import type { PercentileSummary, Summary } from './model.ts';

/** ZooKeeper's ensemble counters zooid counts (the names mntr and /metrics print). */
export const QUORUM_COUNTERS = [
  'proposal_count', // leader: Leader.propose, one per txn proposed
  'commit_count', // leader: Leader.commit, one per txn committed
  'learner_proposal_received_count', // follower: a PROPOSAL in broadcast (Follower.processPacket)
  'learner_commit_received_count', // follower: a COMMIT in broadcast; observer: an INFORM
  'diff_count', // leader: a learner synced without a snapshot (DIFF or TRUNC, LearnerHandler)
  'snap_count', // leader: a learner synced by SNAP
  'looking_count', // every election started (QuorumPeer's LOOKING)
] as const;

/** Values the quorum worker sets (not counts): read as gauges. */
export const QUORUM_GAUGES = [
  'quorum_size', // voting members in the config (QuorumPeer.getQuorumSize)
  'leader_started_ms', // leader: when it started serving (shared clock ms, engine/ops/stagestats.ts sharedClockMs); 0 otherwise
  'leader_sid', // the leader this server follows or is; -1 while looking
] as const;

/** ZooKeeper's avg/min/max/cnt/sum summaries the quorum worker fills, with the unit of their samples. */
export const QUORUM_SUMMARIES = {
  election_time: 'ms', // looking → leading/following (Leader.lead, Follower.followLeader)
  follower_sync_time: 'ms', // connected to the leader → UPTODATE (Follower.followLeader)
  observer_sync_time: 'ms', // the same for an observer
  unavailable_time: 'ms', // the first LOOKING → broadcast (QuorumPeer.setZabState)
  leader_unavailable_time: 'ms', // the same, when it ends leading
  inflight_diff_count: 'count', // leader: DIFF/TRUNC syncs in progress when one begins (itself included) and ends (not)
  inflight_snap_count: 'count', // leader: SNAP syncs in progress, the same way
} as const;

/** ZooKeeper's summaries with percentiles the quorum worker fills (all in ms). */
export const QUORUM_PERCENTILE_SUMMARIES = [
  'quorum_ack_latency', // leader: proposed → committed by a quorum of acks
  'proposal_latency', // follower: the txn header's time (the leader's wall clock) → the PROPOSAL received
  'commit_propagation_latency', // follower: PROPOSAL received → its COMMIT received
  'proposal_ack_creation_latency', // PROPOSAL received (leader: proposed) → durable in the local log (its ACK)
] as const;

export type QuorumCounter = (typeof QUORUM_COUNTERS)[number];
export type QuorumGauge = (typeof QUORUM_GAUGES)[number];
export type QuorumSummaryName = keyof typeof QUORUM_SUMMARIES;
export type QuorumPercentileName = (typeof QUORUM_PERCENTILE_SUMMARIES)[number];

const SUMMARY_SLOTS = ['count', 'sum', 'min', 'max'] as const;

/** The per-follower ack latency histogram's name (zooid's own: ZooKeeper has no such metric). */
export function ackHistogramName(sid: number): string {
  return `ack_us/${sid}`;
}

/** The block's layout for an ensemble of these server ids (a per-follower ack histogram each). */
export function quorumStatsSpec(sids: readonly number[]): StatsBlockSpec {
  const counters: string[] = [...QUORUM_COUNTERS, ...QUORUM_GAUGES];
  const histograms: Record<string, number> = {};
  const names = [...Object.keys(QUORUM_SUMMARIES), ...QUORUM_PERCENTILE_SUMMARIES];
  for (const name of names) {
    for (const slot of SUMMARY_SLOTS) counters.push(`${name}.${slot}`);
    const unit = (QUORUM_SUMMARIES as Record<string, string>)[name] ?? 'ms';
    histograms[name] = unit === 'count' ? COUNT_BUCKETS : DURATION_BUCKETS; // durations in µs
  }
  for (const sid of sids) histograms[ackHistogramName(sid)] = DURATION_BUCKETS;
  return { name: 'quorum', counters, histograms };
}

/** One summary's slots in the block: observe() is the writer's (the quorum worker). */
export class SummaryRecorder {
  private readonly block: StatsBlock;
  private readonly at: number;
  private readonly histogram: Histogram;
  private readonly unitScale: number;

  constructor(block: StatsBlock, name: QuorumSummaryName | QuorumPercentileName) {
    this.block = block;
    this.at = block.counterIndex(`${name}.count`);
    this.histogram = block.histogram(name);
    this.unitScale = (QUORUM_SUMMARIES as Record<string, string>)[name] === 'count' ? 1 : 1000;
  }

  /** One sample: ms (whole ms in the summary, µs in the histogram) or a count. */
  observe(value: number): void {
    const v = value > 0 ? value : 0;
    const whole = Math.floor(v);
    const b = this.block;
    const first = b.counterOf(this.at) === 0;
    b.add(this.at, 1);
    b.add(this.at + 1, whole);
    if (first || whole < b.counterOf(this.at + 2)) b.set(this.at + 2, whole);
    if (first || whole > b.counterOf(this.at + 3)) b.set(this.at + 3, whole);
    this.histogram.observe(v * this.unitScale);
  }
}

/** A summary as mntr prints it (all zero when nothing was observed). */
export function readSummary(block: StatsBlock, name: QuorumSummaryName | QuorumPercentileName): Summary {
  const at = block.counterIndex(`${name}.count`);
  const count = block.counterOf(at);
  if (count === 0) return { count: 0, sum: 0, min: 0, max: 0 };
  return { count, sum: block.counterOf(at + 1), min: block.counterOf(at + 2), max: block.counterOf(at + 3) };
}

/** A percentile summary: the exact summary plus p50..p999 in whole ms from the histogram. */
export function readPercentileSummary(block: StatsBlock, name: QuorumPercentileName): PercentileSummary {
  const s = readSummary(block, name);
  const h = block.histogram(name).snapshot();
  const q = (x: number): number => (s.count === 0 ? 0 : Math.min(s.max, Math.max(s.min, Math.floor(histogramQuantile(h, x) / 1000))));
  return { ...s, p50: q(0.5), p95: q(0.95), p99: q(0.99), p999: q(0.999) };
}

/**
 * When each recent proposal was proposed (leader) or received (learner), by zxid, in a ring
 * of fixed size: what the latency summaries and the per-follower ack latency are measured
 * from. Two cursors walk it in zxid order: acked (the local log made it durable) and
 * committed. Allocation-free; an entry pushed out by a newer one is simply not measured.
 */
export class ProposalTimes {
  private readonly zxids: Float64Array;
  private readonly atMs: Float64Array;
  private readonly mask: number;
  /** Free-running counts: entries [head, tail) are held. */
  private head = 0;
  private tail = 0;
  private ackCursor = 0;
  private commitCursor = 0;

  constructor(capacity: number) {
    if (!(capacity > 0 && (capacity & (capacity - 1)) === 0)) throw new Error(`ProposalTimes: capacity ${capacity} is not a power of two`);
    this.zxids = new Float64Array(capacity);
    this.atMs = new Float64Array(capacity);
    this.mask = capacity - 1;
  }

  /** A proposal at nowMs. zxids grow within a role; one that does not starts the ring over (a new role's stream). */
  push(zxid: number, nowMs: number): void {
    if (this.tail > this.head && zxid <= this.zxids[(this.tail - 1) & this.mask]) this.clear();
    if (this.tail - this.head === this.zxids.length) this.head++;
    if (this.ackCursor < this.head) this.ackCursor = this.head;
    if (this.commitCursor < this.head) this.commitCursor = this.head;
    this.zxids[this.tail & this.mask] = zxid;
    this.atMs[this.tail & this.mask] = nowMs;
    this.tail++;
  }

  /** Every proposal up to zxid not yet counted as durable: its age into `into`. */
  durableUpTo(zxid: number, nowMs: number, into: SummaryRecorder): void {
    while (this.ackCursor < this.tail && this.zxids[this.ackCursor & this.mask] <= zxid) {
      into.observe(nowMs - this.atMs[this.ackCursor & this.mask]);
      this.ackCursor++;
    }
  }

  /** Every proposal up to zxid not yet counted as committed: its age into `into`; how many there were. */
  committedUpTo(zxid: number, nowMs: number, into: SummaryRecorder): number {
    let count = 0;
    while (this.commitCursor < this.tail && this.zxids[this.commitCursor & this.mask] <= zxid) {
      into.observe(nowMs - this.atMs[this.commitCursor & this.mask]);
      this.commitCursor++;
      count++;
    }
    return count;
  }

  /** When zxid was proposed or received; NaN when it is not held (too old, or never seen). */
  timeOf(zxid: number): number {
    let lo = this.head;
    let hi = this.tail - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const z = this.zxids[mid & this.mask];
      if (z === zxid) return this.atMs[mid & this.mask];
      if (z < zxid) lo = mid + 1;
      else hi = mid - 1;
    }
    return NaN;
  }

  clear(): void {
    this.head = 0;
    this.tail = 0;
    this.ackCursor = 0;
    this.commitCursor = 0;
  }
}

/** The TxnHeader's time (ms since the epoch, the leader's clock) in a PROPOSAL's txn bytes: clientId, cxid, zxid, time. */
export function txnHeaderTimeMs(txn: Buffer): number {
  if (txn.length < 28) return NaN;
  return txn.readInt32BE(20) * 0x1_0000_0000 + txn.readUInt32BE(24);
}

/** The quorum worker's counters (their slots) and summaries, by ZooKeeper's names. */
export function quorumRecorders(qstats: StatsBlock) {
  const counterAt = (name: string): number => qstats.counterIndex(name);
  const summary = (name: string) => new SummaryRecorder(qstats, name as QuorumSummaryName);
  return {
    counters: {
      PROPOSAL_COUNT: counterAt('proposal_count'), COMMIT_COUNT: counterAt('commit_count'),
      LEARNER_PROPOSALS: counterAt('learner_proposal_received_count'), LEARNER_COMMITS: counterAt('learner_commit_received_count'),
      DIFF_COUNT: counterAt('diff_count'), SNAP_COUNT: counterAt('snap_count'), LOOKING_COUNT: counterAt('looking_count'),
      LEADER_STARTED_MS: counterAt('leader_started_ms'), LEADER_SID: counterAt('leader_sid'), QUORUM_SIZE: counterAt('quorum_size'),
    },
    summaries: {
      electionTime: summary('election_time'), followerSyncTime: summary('follower_sync_time'), observerSyncTime: summary('observer_sync_time'),
      unavailableTime: summary('unavailable_time'), leaderUnavailableTime: summary('leader_unavailable_time'),
      inflightDiff: summary('inflight_diff_count'), inflightSnap: summary('inflight_snap_count'), quorumAck: summary('quorum_ack_latency'),
      proposalLatency: summary('proposal_latency'), commitPropagation: summary('commit_propagation_latency'),
      ackCreation: summary('proposal_ack_creation_latency'),
    },
  };
}
