// Stage statistics in SharedArrayBuffers: each block is written by one thread (the
// pipeline, the log worker, one io worker) and read by the main thread when /metrics is
// scraped. Nothing crosses a ring or a postMessage for them, and recording allocates
// nothing: a histogram observation is three Float64Array increments.
//
// Layout of a block: one Float64Array. Counters first (one slot each, in the order of the
// spec), then each histogram as [bucket 0 … bucket N-1, overflow, sum, count]. Bucket i
// counts observations v with 2^(i-1) < v ≤ 2^i (bucket 0: v ≤ 1), so the Prometheus
// `le` bounds are 1, 2, 4, … 2^(N-1) in the histogram's unit (µs for durations, txns or
// bytes for sizes). Counts are not cumulative here; the reader makes them so.
//
// Reads are not atomic with writes: a scrape may see a count one ahead of its bucket.
// That is fine for monitoring and costs the writer nothing (no Atomics on the hot path).
// Values are doubles: exact up to 2^53, far beyond any counter's life.

export interface StatsBlockSpec {
  readonly name: string;
  readonly counters: readonly string[];
  /** Histogram name → number of finite log2 buckets (le = 2^0 … 2^(n-1)). */
  readonly histograms: Readonly<Record<string, number>>;
}

/** Durations in µs: up to 2^25 µs ≈ 33.6 s; slower lands in the overflow (+Inf) bucket. */
export const DURATION_BUCKETS = 26;
/** Batch sizes in txns: up to 2^20. */
export const COUNT_BUCKETS = 21;
/** Sizes in bytes: up to 2^27 (128 MiB). */
export const BYTE_BUCKETS = 28;

/** The pipeline worker's block. */
export const PIPELINE_STATS: StatsBlockSpec = {
  name: 'pipeline',
  counters: [
    'parked_us', // time parked on the doorbell (Atomics.wait)
    'busy_us', // time between parks
    'control_records', // control-path records moved (requests read, reply slices written)
    'idle_trims', // memory-reducing collections run while idle (engine/memory-trim.ts)
    'idle_trim_us', // their pauses
  ],
  histograms: {
    ring_wait_us: DURATION_BUCKETS, // io worker put the request on its ring → the pipeline took it
    read_us: DURATION_BUCKETS, // a read handled (FinalRequestProcessor's work), ring to reply
    write_us: DURATION_BUCKETS, // a write prepared, given its zxid, applied and logged (prep)
    commit_wait_us: DURATION_BUCKETS, // a txn handed to the log ring → the pipeline saw it durable
    release_us: DURATION_BUCKETS, // one durable signal: held replies released to the reply rings
  },
};

/** The log worker's block. */
export const LOG_STATS: StatsBlockSpec = {
  name: 'log',
  counters: ['parked_us', 'busy_us', 'batches', 'txns', 'bytes'],
  histograms: {
    batch_txns: COUNT_BUCKETS, // txns per group commit
    batch_bytes: BYTE_BUCKETS, // txn bytes per group commit
    write_us: DURATION_BUCKETS, // the batch's write/writev
    fsync_us: DURATION_BUCKETS, // its fdatasync (0 with forceSync=no)
  },
};

/** One io worker's block. */
export const IO_STATS: StatsBlockSpec = {
  name: 'io',
  counters: [
    'connections_accepted',
    'connections_rejected', // refusals: zookeeper.maxCnxns, maxClientCnxns, an untrusted client certificate (ZooKeeper's connection_rejected)
    'sessionless_expired', // closed: no ConnectRequest nor four-letter word within zookeeper.nio.sessionlessCnxnTimeout
    'connections_open', // a gauge: set, not added
    'frames_in',
    'bytes_in',
    'replies_out',
    'bytes_out',
    'backpressure_pauses', // a socket paused because the request ring was full
    'throttle_pauses', // a connection stopped being read by globalOutstandingLimit (ZooKeeper's disableRecv)
    'large_requests_rejected', // a connection closed: a request over largeRequestThreshold found largeRequestMaxBytes taken (ZooKeeper's large_requests_rejected)
    'write_buffer_pauses', // a connection stopped being read: over WRITE_BUFFER_BYTES_MAX queued for writing
    'outbound_overflow_closes', // a connection closed: over OUTBOUND_BYTES_MAX queued for writing (engine/limits.ts)
    'outbound_budget_pauses', // a heavy connection stopped being read: all io workers' queued bytes over OUTBOUND_TOTAL_BYTES_SOFT
    'outbound_budget_closes', // a heavy connection closed: all io workers' queued bytes over OUTBOUND_TOTAL_BYTES_HARD
    'outbound_queued_bytes', // a gauge: bytes this worker has queued for writing (its share of the server-wide bound)
    'outbound_slab_bytes', // a gauge: outbound slab memory mapped (engine/outbound.ts)
    'idle_trims', // memory-reducing collections run while idle (engine/memory-trim.ts)
    'idle_trim_us', // their pauses
  ],
  histograms: {
    reply_wait_us: DURATION_BUCKETS, // the pipeline put a reply on the ring → the io worker wrote it to the socket
  },
};

export interface HistogramSnapshot {
  /** Upper bounds (le) of the finite buckets, in the histogram's unit. */
  bounds: number[];
  /** Non-cumulative counts: one per finite bucket, then the overflow. */
  counts: number[];
  sum: number;
  count: number;
}

/** The q-quantile of a log2 histogram, interpolated inside its bucket; NaN when empty (as simpleclient). */
export function histogramQuantile(h: HistogramSnapshot, q: number): number {
  if (h.count === 0) return NaN;
  const rank = q * h.count;
  let seen = 0;
  for (let i = 0; i < h.counts.length; i++) {
    const c = h.counts[i];
    if (c > 0 && seen + c >= rank) {
      if (i >= h.bounds.length) return h.bounds[h.bounds.length - 1]; // overflow: the largest bound is all we know
      // bucket 0 holds values ≤ 1: whole counts there are 1 (or 0), so report its bound
      const lower = i === 0 ? h.bounds[0] : h.bounds[i - 1];
      return lower + (h.bounds[i] - lower) * ((rank - seen) / c);
    }
    seen += c;
  }
  return h.bounds[h.bounds.length - 1];
}

const OVERFLOW_FROM = 2 ** 31; // clz32 works on uint32: larger values go straight to overflow

export class Histogram {
  private readonly a: Float64Array;
  private readonly base: number;
  private readonly finite: number;

  constructor(a: Float64Array, base: number, finite: number) {
    if (!(finite >= 1 && finite <= 31 && base >= 0 && base + finite + 3 <= a.length)) throw new Error(`histogram: bad layout (base ${base}, ${finite} buckets)`);
    this.a = a;
    this.base = base;
    this.finite = finite;
  }

  /** Records one value (≥ 0; negatives count as 0: clocks of two threads may disagree by a little). */
  observe(value: number): void {
    const v = value > 0 ? value : 0;
    let i: number;
    if (v <= 1) i = 0;
    else if (v >= OVERFLOW_FROM) i = this.finite;
    else {
      i = 32 - Math.clz32(Math.ceil(v) - 1);
      if (i > this.finite) i = this.finite;
    }
    const a = this.a;
    const b = this.base;
    a[b + i]++;
    a[b + this.finite + 1] += v;
    a[b + this.finite + 2]++;
  }

  snapshot(): HistogramSnapshot {
    const a = this.a;
    const b = this.base;
    const bounds: number[] = [];
    const counts: number[] = [];
    for (let i = 0; i < this.finite; i++) {
      bounds.push(2 ** i);
      counts.push(a[b + i]);
    }
    counts.push(a[b + this.finite]);
    return { bounds, counts, sum: a[b + this.finite + 1], count: a[b + this.finite + 2] };
  }
}

export class StatsBlock {
  readonly sab: SharedArrayBuffer;
  readonly spec: StatsBlockSpec;
  private readonly a: Float64Array;
  private readonly histogramsByName = new Map<string, Histogram>();

  private constructor(sab: SharedArrayBuffer, spec: StatsBlockSpec) {
    const slots = slotsOf(spec);
    if (sab.byteLength !== slots * 8) throw new Error(`stats block ${spec.name}: ${sab.byteLength} bytes, the spec needs ${slots * 8}`);
    this.sab = sab;
    this.spec = spec;
    this.a = new Float64Array(sab);
    let at = spec.counters.length;
    for (const [name, finite] of Object.entries(spec.histograms)) {
      this.histogramsByName.set(name, new Histogram(this.a, at, finite));
      at += finite + 3;
    }
  }

  static create(spec: StatsBlockSpec): StatsBlock {
    return new StatsBlock(new SharedArrayBuffer(slotsOf(spec) * 8), spec);
  }

  static attach(sab: SharedArrayBuffer, spec: StatsBlockSpec): StatsBlock {
    return new StatsBlock(sab, spec);
  }

  /** The index of a counter, for add()/set() on hot paths (look it up once, at start). */
  counterIndex(name: string): number {
    const i = this.spec.counters.indexOf(name);
    if (i === -1) throw new Error(`stats block ${this.spec.name} has no counter ${name}`);
    return i;
  }

  add(index: number, delta: number): void {
    this.a[index] += delta;
  }

  set(index: number, value: number): void {
    this.a[index] = value;
  }

  counter(name: string): number {
    return this.a[this.counterIndex(name)];
  }

  /** A counter by its index (counterIndex). */
  counterOf(index: number): number {
    return this.a[index];
  }

  histogram(name: string): Histogram {
    const h = this.histogramsByName.get(name);
    if (h === undefined) throw new Error(`stats block ${this.spec.name} has no histogram ${name}`);
    return h;
  }

  histogramNames(): string[] {
    return [...this.histogramsByName.keys()];
  }
}

function slotsOf(spec: StatsBlockSpec): number {
  let slots = spec.counters.length;
  for (const finite of Object.values(spec.histograms)) slots += finite + 3;
  return slots;
}

/**
 * A clock every thread reads the same way: ms since the epoch, sub-µs resolution
 * (performance.timeOrigin is per thread, so performance.now() alone does not compare
 * across threads). Used for the stamps records carry between threads.
 */
export function sharedClockMs(originMs: number, nowMs: number): number {
  return originMs + nowMs;
}
