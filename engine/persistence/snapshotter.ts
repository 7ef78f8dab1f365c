// The pipeline's side of snapshots (DESIGN.md §2, design (a)): when to take one, and
// handing the live tree to the snapshot worker in bounded slices.
//
// Trigger (ZooKeeper's SyncRequestProcessor): after more than snapCount/2 + random(snapCount/2)
// txns in the current log file, the log rolls and a snapshot starts, named after the
// tree's lastZxid. One at a time: a trigger while one runs is skipped and counted
// ("Too busy to snap, skipping"); the log rolls anyway.
//
// Handover: each pump() serializes whole records straight into the snapshot ring for at
// most sliceMs, or less when a request or a durable zxid arrives meanwhile, then returns so
// the pipeline serves requests again; while clients are served the slices also keep to
// cpuShare of the pipeline's time (zooid.snapshotCpuPct), resting in between. The serializer walks
// the live tree (fuzzy; see SnapshotSerializer for why the result restores correctly);
// the worker checksums and writes the bytes, and renames the file only once the log is
// durable up to the lastZxid the tree had when the walk ended (the END record).
//
// Snapshot ring, pipeline → snapshot worker (bytes only):
//   BEGIN  [u32 zxid high][u32 zxid low]   a new snapshot.<zxid>
//   BYTES  [snapshot bytes]                the next bytes of the file body
//   END    [u32 high][u32 low]             body done; commit once durable >= this zxid
//   ABORT  (empty)                         drop the snapshot in progress
//
// Snapshot control words (Int32Array / BigInt64Array over their own SharedArrayBuffer):
//   i32[0]  snapshots finished (committed, failed or aborted): the worker bumps it once per BEGIN
//   i32[1]  snapshots failed (I/O error, log failure), bumped by the worker
//   i32[2]  purges run
//   big[2]  zxid of the last committed snapshot
import type { Ring } from '../../native-free-io/ring.ts';
import type { DataTree } from '../core/tree.ts';
import { SnapshotSerializer } from './snapshot-serializer.ts';

export const SnapKind = { BEGIN: 1, BYTES: 2, END: 3, ABORT: 4 } as const;

export { SNAP_CONTROL_BYTES } from '../records.ts';
export const SNAP_CONTROL_FINISHED = 0; // Int32 index
export const SNAP_CONTROL_FAILED = 1; // Int32 index
export const SNAP_CONTROL_PURGES = 2; // Int32 index
export const SNAP_CONTROL_LAST_ZXID = 2; // BigInt64 index

/** Bytes reserved in the ring for one slice (more when one record is larger). */
const SLICE_BYTES = 1 << 20;
/** Nodes serialized between two looks at the clock. */
const NODES_PER_CLOCK_CHECK = 256;

export interface SnapshotterOptions {
  snapCount: number;
  /** Seeded or Math.random: the randomized trigger. */
  random: () => number;
  /** Monotonic ms. */
  nowMs: () => number;
  /** Longest one pump() may serialize. */
  sliceMs: number;
  /**
   * The share of the pipeline's time serializing may take, 0 < share <= 1: pumps spend a
   * credit that grows by share ms per ms (at most sliceMs), and rest while it is spent.
   * Below 1 a snapshot takes longer and leaves the cores to the requests meanwhile.
   */
  cpuShare?: number;
  /** Whether clients are being served at nowMs (cpuShare holds only then; an idle server snapshots at full speed). */
  clientsActive?: (nowMs: number) => boolean;
  /**
   * Whether something for the pipeline arrived since its turn began (a request, a durable
   * zxid): the slice then ends at the next look at the clock, after at least
   * NODES_PER_CLOCK_CHECK nodes, so a request waits tens of µs for a snapshot, not sliceMs.
   */
  workWaiting?: () => boolean;
  ring: Ring;
  controlSab: SharedArrayBuffer;
  log: (level: 'info' | 'warn', msg: string) => void;
}

type State = 'idle' | 'writing' | 'sealing';

export class Snapshotter {
  /** Counters for four-letter words and tests. */
  started = 0;
  skipped = 0;
  lastStartZxid = -1;
  lastDurationMs = 0;
  private state: State = 'idle';
  private serializer: SnapshotSerializer | null = null;
  private txnsInLog = 0;
  private rollAfterTxns: number;
  /** BEGINs sent (offset by the worker's count at start): the worker is idle once its finished count reaches it. */
  private begun: number;
  private startedAtMs = 0;
  private bigRecord = false;
  /** Serializing time the next pumps may spend (ms; negative: owed), as of creditAtMs. */
  private creditMs: number;
  private creditAtMs = 0;
  private readonly cpuShare: number;
  private readonly opts: SnapshotterOptions;
  private readonly control32: Int32Array;

  constructor(opts: SnapshotterOptions) {
    if (!(opts.snapCount >= 2)) throw new RangeError(`snapCount must be at least 2, got ${opts.snapCount}`);
    this.cpuShare = opts.cpuShare ?? 1;
    if (!(this.cpuShare > 0 && this.cpuShare <= 1)) throw new RangeError(`snapshot cpuShare must be in (0, 1], got ${this.cpuShare}`);
    this.opts = opts;
    this.creditMs = opts.sliceMs;
    this.control32 = new Int32Array(opts.controlSab);
    this.begun = Atomics.load(this.control32, SNAP_CONTROL_FINISHED);
    this.rollAfterTxns = this.nextRollAfter();
  }

  private nextRollAfter(): number {
    const half = Math.floor(this.opts.snapCount / 2);
    return half + Math.floor(this.opts.random() * half);
  }

  get active(): boolean {
    return this.state !== 'idle';
  }

  /** Txns already in the log since the last snapshot (startup: the ones replayed). */
  setTxnsInLog(count: number): void {
    this.txnsInLog = count;
  }

  /** Counts one txn handed to the log. True when the log should roll and a snapshot start. */
  noteTxn(): boolean {
    return ++this.txnsInLog > this.rollAfterTxns;
  }

  /**
   * The log was rolled after the txns counted so far: start a snapshot of the tree as it
   * is now, or skip when one is still running. Returns whether one started.
   */
  rolled(tree: DataTree, sessions: Iterable<[bigint, number]>): boolean {
    this.txnsInLog = 0;
    this.rollAfterTxns = this.nextRollAfter();
    this.observeFinished();
    if (this.state !== 'idle') {
      this.skipped++;
      this.opts.log('warn', `too busy to snap, skipping (snapshot 0x${this.lastStartZxid.toString(16)} still in progress; ${this.skipped} skipped so far)`);
      return false;
    }
    const zxid = tree.lastZxid;
    const ring = this.opts.ring;
    const at = ring.reserve(8);
    if (at === -1) {
      // the ring is still full of an aborted snapshot's bytes: treat as busy
      this.skipped++;
      return false;
    }
    ring.data.writeUInt32BE(Math.floor(zxid / 0x1_0000_0000), at);
    ring.data.writeUInt32BE(zxid >>> 0, at + 4);
    ring.commit(SnapKind.BEGIN, 8);
    this.serializer = new SnapshotSerializer(tree, sessions, zxid);
    this.state = 'writing';
    this.begun++;
    this.started++;
    this.lastStartZxid = zxid;
    this.startedAtMs = this.opts.nowMs();
    this.bigRecord = false;
    return true;
  }

  /**
   * Moves the snapshot on: serializes for up to sliceMs into the ring (writing), or
   * notices the worker finished (sealing). Returns how many records it pushed.
   */
  pump(tree: DataTree): number {
    if (this.state === 'idle') return 0;
    if (this.state === 'sealing') {
      this.observeFinished();
      return 0;
    }
    const s = this.serializer!;
    const ring = this.opts.ring;
    const startMs = this.opts.nowMs();
    const limited = this.limited(startMs);
    const sliceMs = limited ? this.refill(startMs) : this.opts.sliceMs;
    if (sliceMs <= 0) return 0;
    const deadline = startMs + sliceMs;
    const pushed = this.serialize(s, ring, deadline);
    if (limited) this.creditMs -= this.opts.nowMs() - startMs;
    if (!s.done) return pushed;
    const endAt = ring.reserve(8);
    if (endAt === -1) return pushed;
    const zxid = tree.lastZxid;
    ring.data.writeUInt32BE(Math.floor(zxid / 0x1_0000_0000), endAt);
    ring.data.writeUInt32BE(zxid >>> 0, endAt + 4);
    ring.commit(SnapKind.END, 8);
    this.serializer = null;
    this.state = 'sealing';
    return pushed + 1;
  }

  /** Serializes into the ring until done, the deadline, arriving work, or a full ring. Returns the records pushed. */
  private serialize(s: SnapshotSerializer, ring: Ring, deadline: number): number {
    let pushed = 0;
    while (!s.done) {
      const want = this.bigRecord ? ring.maxPayloadBytes : Math.min(SLICE_BYTES, ring.maxPayloadBytes);
      const at = ring.reserve(want);
      if (at === -1) return pushed; // the worker is behind: its release rings our bell
      let end = at;
      for (;;) {
        const next = s.fill(ring.data, end, at + want, NODES_PER_CLOCK_CHECK);
        const progressed = next !== end;
        end = next;
        if (s.done || !progressed || this.sliceOver(deadline)) break;
      }
      if (end === at && !s.done) {
        if (this.bigRecord) throw new Error('snapshot: a record larger than the ring can carry');
        this.bigRecord = true;
        continue;
      }
      this.bigRecord = false;
      ring.commit(SnapKind.BYTES, end - at);
      pushed++;
      if (this.sliceOver(deadline)) break;
    }
    return pushed;
  }

  private limited(nowMs: number): boolean {
    return this.cpuShare < 1 && (this.opts.clientsActive?.(nowMs) ?? true);
  }

  /** Adds the credit earned since the last pump; the slice it allows now (ms; <= 0: rest). */
  private refill(nowMs: number): number {
    this.creditMs = Math.min(this.opts.sliceMs, this.creditMs + (nowMs - this.creditAtMs) * this.cpuShare);
    this.creditAtMs = nowMs;
    return this.creditMs;
  }

  /** How long until the next pump may serialize (0: now): the pipeline parks no longer than this while a snapshot is written. */
  restMs(nowMs: number): number {
    if (this.state !== 'writing' || !this.limited(nowMs)) return 0;
    const credit = this.creditMs + (nowMs - this.creditAtMs) * this.cpuShare;
    return credit > 0 ? 0 : -credit / this.cpuShare;
  }

  private sliceOver(deadline: number): boolean {
    return this.opts.nowMs() >= deadline || (this.opts.workWaiting?.() ?? false);
  }

  /**
   * Drops the snapshot in progress (the log failed: the tree is about to be reloaded).
   * The worker removes its temporary file and counts it as failed.
   */
  abort(): void {
    this.observeFinished();
    if (this.state === 'idle') return;
    const ring = this.opts.ring;
    for (;;) {
      const at = ring.reserve(0);
      if (at !== -1) break;
      const seq = ring.spaceBell.sequence();
      ring.spaceBell.wait(seq, 10);
    }
    ring.commit(SnapKind.ABORT, 0);
    this.serializer?.close();
    this.serializer = null;
    // the worker counts the snapshot finished (committed just before, or dropped): pump() sees it
    this.state = 'sealing';
  }

  private observeFinished(): void {
    if (this.state !== 'sealing' || Atomics.load(this.control32, SNAP_CONTROL_FINISHED) !== this.begun) return;
    this.state = 'idle';
    this.lastDurationMs = this.opts.nowMs() - this.startedAtMs;
  }
}
