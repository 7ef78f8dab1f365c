// One load run: set up the znodes, start one piscina task per thread (each a Workload over
// its share of the connections), start them together, print a line a second, then merge
// their histograms exactly. The run ends by warm-up + duration + grace + a fixed slack
// after the start, whatever the servers do (unfinished threads are abandoned and said so).
import fs from 'node:fs';
import os from 'node:os';
import { MessageChannel } from 'node:worker_threads';
import type { Histogram } from 'hdr-histogram-js';
import { Piscina } from 'piscina';
import { type LoadOptions, type MixOp, type TrafficMode, LIMITS, describeLoad, readPctOf } from './options.ts';
import { type LatencySummary, type TimedOp, TIMED_OPS, cdfPoints, mergeEncoded, newLatencyHistogram, summarize } from './histogram.ts';
import type { IntervalSample, WorkerResult, WorkloadPlan } from './workload.ts';
import type { MainMessage, WorkerMessage, WorkerTask } from './worker.ts';
import { LoadgenError, setupZnodes } from './setup.ts';

/** Threads get this long after connecting to be told the start; the start is this far ahead. */
const START_AHEAD_MS = 100;
/** Past warm-up + duration + grace, the threads get this long to close sessions and return. */
const FINISH_SLACK_MS = 3_000;
/** Threads that have not said ready by the connect timeout plus this start anyway. */
const READY_SLACK_MS = 5_000;
/** File descriptors this process needs besides its connections (node, worker threads, stdio). */
const FDS_BESIDES_CONNECTIONS = 128;
/** ZooKeeper's (and zooid's) default maxClientCnxns: connections per client address. */
const SERVER_CONNECTIONS_PER_ADDRESS_DEFAULT = 60;

/** The soft limit on open files of this process (ulimit -n), from /proc; Infinity when unknown. */
export function openFilesLimit(): number {
  try {
    const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    return soft === undefined || soft === 'unlimited' ? Infinity : Number(soft);
  } catch {
    return Infinity;
  }
}

export interface TimelinePoint {
  second: number;
  warmup: boolean;
  opsPerSec: number;
  errors: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

export interface OpResult extends LatencySummary {
  opsPerSec: number;
  errors: Record<string, number>;
}

export interface RunResult {
  tool: 'zooid loadgen';
  startedAt: string;
  load: string;
  options: {
    hosts: string[];
    connections: number;
    threads: number;
    outstanding: number;
    rateOpsPerSec: number | null;
    traffic: TrafficMode;
    readPct: number;
    mix: Record<MixOp, number>;
    valueBytes: number;
    keys: number;
    keyDistribution: string;
    zipfTheta: number | null;
    durationMs: number;
    warmupMs: number;
    graceMs: number;
    seed: number;
  };
  /** Mix ops started in the measured window that succeeded, per second of it (create+delete counts once). */
  throughputOpsPerSec: number;
  okOps: number;
  errorCount: number;
  all: LatencySummary;
  ops: Partial<Record<TimedOp, OpResult>>;
  /** Error counts by code over all ops (connect failures included). */
  errors: Record<string, number>;
  /** Open loop: how late the load generator sent against the schedule. */
  sendLag: LatencySummary | null;
  /** Open loop: ops due that never went out (all connections full or down). */
  unsent: number;
  connects: number;
  disconnects: number;
  /** Per load generator thread, the share of the run its event loop was busy (near 1: the client may be the limit). */
  loadgenBusy: number[];
  timeline: TimelinePoint[];
  /** Latency CDF points [µs, fraction] per op and for all ops. */
  cdf: Record<string, [number, number][]>;
  /** Replies over the whole seconds of the measured window (null: shorter than a second). */
  window: MeasuredWindow | null;
  /** False when a thread did not return in time (its final histograms are missing). */
  complete: boolean;
  notes: string[];
  machine: { cpu: string; cores: number; node: string; platform: string };
}

export interface RunOutcome {
  result: RunResult;
  all: Histogram;
  byOp: Map<TimedOp, Histogram>;
}

export interface RunHooks {
  /** A progress line each second (final: the run is over). */
  progress?: (line: string, final: boolean) => void;
  /**
   * At the start and the end of the measured window (see RunResult.window), on the main
   * thread: bench compare reads the server's CPU time here. Not called if the window is
   * shorter than a whole second, nor for an edge the run did not reach.
   */
  onWindowEdge?: (edge: 'start' | 'end') => void;
}

/**
 * The measured window as the per-second samples cut it: whole seconds since the start,
 * warm-up excluded. Replies (all requests, deletes included) completed in those seconds;
 * the server's CPU time over the same span divided by them is its CPU per op.
 */
export interface MeasuredWindow {
  startSecond: number;
  endSecond: number;
  replies: number;
}

/** The whole seconds of the measured window: from the first after the warm-up to the last before the end. */
export function measuredWindowSeconds(warmupMs: number, durationMs: number): { startSecond: number; endSecond: number } | null {
  const startSecond = Math.ceil(warmupMs / 1000);
  const endSecond = Math.floor((warmupMs + durationMs) / 1000);
  return endSecond > startSecond ? { startSecond, endSecond } : null;
}

let pool: Piscina | null = null;
let poolThreads = 0;

/** The thread pool, kept across runs of a sweep (one per process, sized for the largest run). */
function poolFor(threads: number): Piscina {
  if (pool !== null && poolThreads >= threads) return pool;
  if (pool !== null) void pool.destroy();
  pool = new Piscina({
    filename: new URL('./worker.ts', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    concurrentTasksPerWorker: 1,
    idleTimeout: 60_000,
    atomics: 'disabled',
  });
  poolThreads = threads;
  return pool;
}

/** Stops the worker threads (the process can then exit). */
export async function closePool(): Promise<void> {
  const p = pool;
  pool = null;
  poolThreads = 0;
  if (p !== null) await p.destroy();
}

function formatMs(us: number): string {
  return (us / 1000).toFixed(us < 10_000 ? 3 : 1);
}

export async function runLoad(o: LoadOptions, hooks: RunHooks = {}): Promise<RunOutcome> {
  const notes: string[] = [];
  const fdLimit = openFilesLimit();
  if (o.connections + FDS_BESIDES_CONNECTIONS > fdLimit) {
    throw new LoadgenError(`--connections ${o.connections} needs as many file descriptors (and the server as many): this process may open ${fdLimit} (ulimit -n); raise it to at least ${o.connections + FDS_BESIDES_CONNECTIONS}`);
  }
  if (o.setup) await setupZnodes(o);
  const threads = o.threads;
  const runTag = `r${(Date.now() % 0x7fffffff).toString(36)}${o.seed.toString(36)}`;
  const slotsByWorker: number[][] = Array.from({ length: threads }, () => []);
  for (let c = 0; c < o.connections; c++) slotsByWorker[c % threads].push(c);

  const p = poolFor(threads);
  const abort = new AbortController();
  const ports: MessageChannel[] = [];
  const timeline = new Map<number, { ops: number; errors: number; histogram: Histogram; reports: number }>();
  const measured = newLatencyHistogram();
  let readyCount = 0;
  let connectedAtReady = 0;
  let onAllReady: () => void = () => {};
  const allReady = new Promise<void>((resolve) => (onAllReady = resolve));

  const onSample = (s: IntervalSample) => {
    let point = timeline.get(s.second);
    if (point === undefined) timeline.set(s.second, (point = { ops: 0, errors: 0, histogram: newLatencyHistogram(), reports: 0 }));
    point.ops += s.ops;
    point.errors += s.errors;
    point.reports++;
    mergeEncoded([s.histogram], point.histogram);
    if (s.second * 1000 >= o.warmupMs) mergeEncoded([s.histogram], measured);
  };

  const tasks: Promise<WorkerResult | null>[] = [];
  for (let w = 0; w < threads; w++) {
    const channel = new MessageChannel();
    ports.push(channel);
    channel.port1.on('message', (msg: WorkerMessage) => {
      if (msg.type === 'ready') {
        connectedAtReady += msg.connected;
        if (++readyCount === threads) onAllReady();
      } else if (msg.type === 'interval') onSample(msg.sample);
    });
    const share = o.rateOpsPerSec === null ? null : (o.rateOpsPerSec * slotsByWorker[w].length) / o.connections;
    const plan: WorkloadPlan = {
      workerIndex: w,
      workerCount: threads,
      globalSlots: slotsByWorker[w],
      outstanding: o.outstanding,
      traffic: o.traffic,
      rateOpsPerSec: share,
      totalRateOpsPerSec: o.rateOpsPerSec,
      mix: o.mix,
      keys: o.keys,
      keyDistribution: o.keyDistribution,
      zipfTheta: o.zipfTheta,
      valueBytes: o.valueBytes,
      root: o.root,
      runTag,
      seed: o.seed,
      warmupMs: o.warmupMs,
      durationMs: o.durationMs,
    };
    const task: WorkerTask = {
      plan,
      hosts: slotsByWorker[w].map((c) => o.hosts[c % o.hosts.length]),
      connectTimeoutMs: o.connectTimeoutMs,
      sessionTimeoutMs: o.sessionTimeoutMs,
      graceMs: o.graceMs,
      connectsInFlightMax: Math.max(1, Math.floor(LIMITS.connectsInFlightMax / threads)),
      port: channel.port2,
    };
    tasks.push(
      p.run(task, { transferList: [channel.port2] as never, signal: abort.signal }).then(
        (r: WorkerResult) => r,
        (err: Error) => {
          if (!abort.signal.aborted) notes.push(`thread ${w} failed: ${err.message}`);
          return null;
        },
      ),
    );
  }

  // start together once every thread has connected (or given up on the first try)
  let readyTimer: NodeJS.Timeout | undefined;
  await Promise.race([allReady, new Promise<void>((resolve) => (readyTimer = setTimeout(resolve, o.connectTimeoutMs + READY_SLACK_MS)))]);
  clearTimeout(readyTimer);
  if (readyCount < threads) notes.push(`${threads - readyCount} of ${threads} threads were not ready in time and started late`);
  if (connectedAtReady < o.connections) notes.push(`${o.connections - connectedAtReady} of ${o.connections} connections were not up at the start (failed or not tried by --connect-timeout); they kept trying during the run`);
  const startAtEpochMs = Date.now() + START_AHEAD_MS;
  const startedAt = new Date(startAtEpochMs).toISOString();
  for (const ch of ports) ch.port1.postMessage({ type: 'start', startAtEpochMs } satisfies MainMessage);

  const totalMs = o.warmupMs + o.durationMs;
  const progressLine = (final: boolean): string => {
    const elapsedMs = Math.min(totalMs, Math.max(0, Date.now() - startAtEpochMs));
    let last = -1;
    for (const [second, point] of timeline) if (point.reports === threads && second > last) last = second;
    const point = timeline.get(last);
    let rate = point === undefined ? 0 : point.ops;
    if (final) {
      // the whole measured window (replies of every request, deletes included)
      let measuredOps = 0;
      for (const [second, pt] of timeline) if (second * 1000 >= o.warmupMs) measuredOps += pt.ops;
      rate = Math.round(measuredOps / (o.durationMs / 1000));
    }
    let errors = 0;
    for (const pt of timeline.values()) errors += pt.errors;
    const phase = elapsedMs < o.warmupMs ? 'warmup' : final ? 'done  ' : 'run   ';
    const s = measured.totalCount > 0 ? summarize(measured) : null;
    const lat = s === null ? 'p50 -  p99 -' : `p50 ${formatMs(s.p50Us)} ms  p99 ${formatMs(s.p99Us)} ms`;
    return `${(elapsedMs / 1000).toFixed(0).padStart(4)}s/${(totalMs / 1000).toFixed(0)}s ${phase} ${rate.toLocaleString('en-US').padStart(9)} ops/s  errors ${errors}  ${lat}  remaining ${Math.max(0, Math.ceil((totalMs - elapsedMs) / 1000))}s`;
  };
  const progressTimer = hooks.progress === undefined ? null : setInterval(() => hooks.progress!(progressLine(false), false), 1000);
  const windowSeconds = measuredWindowSeconds(o.warmupMs, o.durationMs);
  const edgeTimers: NodeJS.Timeout[] = [];
  if (hooks.onWindowEdge !== undefined && windowSeconds !== null) {
    const edge = hooks.onWindowEdge;
    edgeTimers.push(setTimeout(() => edge('start'), startAtEpochMs + windowSeconds.startSecond * 1000 - Date.now()));
    edgeTimers.push(setTimeout(() => edge('end'), startAtEpochMs + windowSeconds.endSecond * 1000 - Date.now()));
  }

  // every thread returns by the end plus grace plus slack, or is abandoned
  const hardDeadlineMs = startAtEpochMs + totalMs + o.graceMs + FINISH_SLACK_MS;
  let hardTimer: NodeJS.Timeout | undefined;
  const results = await Promise.race([
    Promise.all(tasks),
    new Promise<null>((resolve) => (hardTimer = setTimeout(() => resolve(null), Math.max(0, hardDeadlineMs - Date.now())))),
  ]);
  clearTimeout(hardTimer);
  if (progressTimer !== null) clearInterval(progressTimer);
  for (const t of edgeTimers) clearTimeout(t);
  let finished: WorkerResult[];
  if (results === null) {
    notes.push('threads did not finish by the deadline: they were stopped, results are partial');
    for (const ch of ports) ch.port1.postMessage({ type: 'abort' } satisfies MainMessage);
    abort.abort();
    finished = [];
    await closePool();
  } else {
    finished = results.filter((r): r is WorkerResult => r !== null);
  }
  for (const ch of ports) ch.port1.close();
  hooks.progress?.(progressLine(true), true);

  const outcome = mergeResults(o, finished, timeline, threads, notes, startedAt);
  return outcome;
}

function windowOf(o: LoadOptions, timeline: Map<number, { ops: number }>): MeasuredWindow | null {
  const seconds = measuredWindowSeconds(o.warmupMs, o.durationMs);
  if (seconds === null) return null;
  let replies = 0;
  for (let second = seconds.startSecond; second < seconds.endSecond; second++) replies += timeline.get(second)?.ops ?? 0;
  return { ...seconds, replies };
}

function mergeResults(
  o: LoadOptions,
  finished: WorkerResult[],
  timeline: Map<number, { ops: number; errors: number; histogram: Histogram; reports: number }>,
  threads: number,
  notes: string[],
  startedAt: string,
): RunOutcome {
  const seconds = o.durationMs / 1000;
  const byOp = new Map<TimedOp, Histogram>();
  const all = newLatencyHistogram();
  const errorsByOp: Record<string, Record<string, number>> = {};
  const errors: Record<string, number> = {};
  let errorCount = 0;
  for (const op of TIMED_OPS) {
    const h = mergeEncoded(finished.map((r) => r.histograms[op]));
    byOp.set(op, h);
    all.add(h);
  }
  for (const r of finished) {
    for (const [op, byCode] of Object.entries(r.errors)) {
      const target = (errorsByOp[op] ??= {});
      for (const [code, n] of Object.entries(byCode)) {
        target[code] = (target[code] ?? 0) + n;
        // connect failures keep their own prefix in the by-code totals
        const key = op === 'connect' ? `connect ${code}` : code;
        errors[key] = (errors[key] ?? 0) + n;
        errorCount += n;
      }
    }
  }
  const ops: Partial<Record<TimedOp, OpResult>> = {};
  for (const op of TIMED_OPS) {
    const h = byOp.get(op)!;
    const opErrors = errorsByOp[op] ?? {};
    if (h.totalCount === 0 && Object.keys(opErrors).length === 0) continue;
    ops[op] = { ...summarize(h), opsPerSec: Math.round(h.totalCount / seconds), errors: opErrors };
  }
  const cdf: Record<string, [number, number][]> = { all: cdfPoints(all) };
  for (const [op, h] of byOp) if (h.totalCount > 0) cdf[op] = cdfPoints(h);
  const lag = finished.filter((r) => r.sendLag !== null).map((r) => r.sendLag!);
  const sendLag = lag.length === 0 ? null : summarize(mergeEncoded(lag));
  const unsent = finished.reduce((s, r) => s + r.unsent, 0);
  if (unsent > 0) notes.push(`${unsent} scheduled ops were never sent: every connection was full (--outstanding cap) or down; the server did not keep up with --rate`);
  if (finished.some((r) => r.eventLoopUtilization > 0.9)) notes.push('a load generator thread was busy over 90% of the run: the client may be what limits throughput (add --threads, or run it elsewhere)');
  if (finished.length < threads) notes.push(`${threads - finished.length} of ${threads} threads returned no result`);
  if (errorsByOp.connect !== undefined) notes.push('some connection attempts failed (see errors: connect)');
  const perHostMax = Math.ceil(o.connections / o.hosts.length);
  const refused = ['CLOSED_IN_HANDSHAKE', 'ECONNRESET', 'EPIPE'].reduce((n, code) => n + (errorsByOp.connect?.[code] ?? 0), 0);
  if (refused > 0 && perHostMax > SERVER_CONNECTIONS_PER_ADDRESS_DEFAULT) {
    notes.push(`${refused} connections were closed before their session began, with up to ${perHostMax} per server from this one address: servers refuse more than maxClientCnxns per client address (${SERVER_CONNECTIONS_PER_ADDRESS_DEFAULT} by default in ZooKeeper and zooid); set maxClientCnxns=0 in zoo.cfg`);
  }
  const points: TimelinePoint[] = [...timeline.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([second, pt]) => {
      const s = summarize(pt.histogram);
      return { second, warmup: second * 1000 < o.warmupMs, opsPerSec: pt.ops, errors: pt.errors, p50Us: s.p50Us, p99Us: s.p99Us, maxUs: s.maxUs };
    });
  const cpus = os.cpus();
  const result: RunResult = {
    tool: 'zooid loadgen',
    startedAt,
    load: describeLoad(o),
    options: {
      hosts: o.hosts.map((h) => `${h.host}:${h.port}`),
      connections: o.connections,
      threads: o.threads,
      outstanding: o.outstanding,
      rateOpsPerSec: o.rateOpsPerSec,
      traffic: o.traffic,
      readPct: Math.round(readPctOf(o.mix) * 100) / 100,
      mix: o.mix,
      valueBytes: o.valueBytes,
      keys: o.keys,
      keyDistribution: o.keyDistribution,
      zipfTheta: o.keyDistribution === 'zipf' ? o.zipfTheta : null,
      durationMs: o.durationMs,
      warmupMs: o.warmupMs,
      graceMs: o.graceMs,
      seed: o.seed,
    },
    // mix ops, as --rate counts them: a create+delete pair is one op
    throughputOpsPerSec: Math.round((all.totalCount - byOp.get('delete')!.totalCount) / seconds),
    okOps: all.totalCount - byOp.get('delete')!.totalCount,
    errorCount,
    all: summarize(all),
    ops,
    errors,
    sendLag,
    unsent,
    connects: finished.reduce((s, r) => s + r.connects, 0),
    disconnects: finished.reduce((s, r) => s + r.disconnects, 0),
    loadgenBusy: finished.map((r) => Math.round(r.eventLoopUtilization * 1000) / 1000),
    timeline: points,
    window: windowOf(o, timeline),
    cdf,
    complete: finished.length === threads,
    notes,
    machine: { cpu: cpus[0]?.model ?? 'unknown', cores: cpus.length, node: process.version, platform: `${os.platform()} ${os.release()}` },
  };
  return { result, all, byOp };
}
