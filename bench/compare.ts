// zooid and Apache ZooKeeper 3.8 side by side (`npm run bench:compare`). Each server runs
// standalone with a fresh dataDir on the same disk and fsync on; the same load generator
// sweeps run against each in turn, alternating which goes first, repeated. A sweep runs per
// traffic mode (per-request writes, as real clients send, by default; batched on request)
// and per shape (connections × requests in flight: 8 × 50, 200 × 1 and 1,000 × 1 by
// default), each over the read percentages. Every point reports throughput, p50/p99/p99.9
// and the server's CPU per op: user + system time of the server process over the measured
// window divided by the replies in it, and the same per thread (from /proc/<pid>/task), so
// the stage that costs shows. Open-loop latency is measured at the same offered loads for
// both (fractions of ZooKeeper's closed-loop peak in the first repeat), so p99s compare at
// equal load. Writes bench/results/<date>.md, .json and .html with the machine facts.
//
//   npm run bench:compare                      full: 11 read %, 3 shapes, 10 s points, 3 repeats (~1 h)
//   npm run bench:compare -- --quick           5 read %, 3 shapes, 2 s points, 2 repeats (~7 min)
//   npm run bench:compare -- --read-pcts 0,50,90,100 --traffic per-request,batched --shapes 8x50,200x1
//
// The load generator runs on the same machine as the server (a 2-core box has nowhere else
// to run it); its threads are reported with the results.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { fourLetterWord } from '../test/support/servers.ts';
import { deploy, type BenchServerKind } from './deploy.ts';
import { DEFAULTS, LIMITS, OptionError, parseLoadOptions, parseMix, parseInteger, parseDurationMs, parseTraffic, resolveMix, splitFlags, type LoadOptions, type TrafficMode } from '../loadgen/options.ts';
import { runSweep, parsePercentList, parseRates, sweepCharts, findKnee, type SweepResult, type SweepPlan, type LatencyPoint } from '../loadgen/sweep.ts';
import { closePool, runLoad, type MeasuredWindow } from '../loadgen/run.ts';
import { page, percentileChart } from '../loadgen/report.ts';
import { markdownToHtml } from '../loadgen/markdown.ts';
import { machineFacts, formatMachine, type MachineFacts } from './machine.ts';
import { machineBusyMs, processCpuMs, threadCpu, threadCpuBetween, type ThreadGroupCpu, type ThreadSample } from './proc.ts';

const RESULTS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
/** Targets from the issues: measured and printed, never asserted. */
const TARGET_CPU_PER_OP_RATIO = 0.5;
const TARGET_P99_RATIO = 0.5;
const TARGET_UNLOADED_READ_P50_US = 60;
/** A point where other processes used more CPU than this (in cores) shared the machine noticeably. */
const OTHER_CORES_NOTABLE = 0.3;

/**
 * The zoo.cfg lines both servers get over their defaults. fsync on explicitly (both default
 * to it); snapshots as ZooKeeper's default. maxClientCnxns=0: both limit connections per
 * client address (60 by default) and every load generator connection comes from 127.0.0.1;
 * lifting the limit is simpler and more faithful than spreading the client over 127.0.0.x
 * source addresses. globalOutstandingLimit stays at its default (1000) in both: 1,000 × 1
 * reaches it and does not pass it.
 */
export const SERVER_CONFIG: Readonly<Record<string, string>> = { forceSync: 'yes', snapCount: '100000', maxClientCnxns: '0', 'admin.enableServer': 'false' };

/** The compare's shapes unless told: the classic pipelined one, then many sessions with one request each. */
const DEFAULT_SHAPES = '8x50,200x1,1000x1';

export const COMPARE_USAGE = `usage: npm run bench:compare -- [options]      (or: zooid bench compare [options])
  --quick                 5 read %, 2 s points + 1 s warm-up, 3 latency rates, 2 repeats (~7 min)
  --repeats N             sweeps per server (default 3; --quick 2); order alternates
  --duration T --warmup T per point (default 10s and 2s); CPU per op counts the whole seconds
                          of the measured window
  --server-warmup T       after each start, unmeasured load (50% reads) before the sweeps, so the
                          JVM's JIT and V8's are warm for the first point (default 5s; --quick 3s)
  --idle-wait T           before each point, wait up to T for other processes to use under
                          0.15 cores (a shared machine); default 60s, --quick 0s
  --traffic LIST          per-request (one socket write per request, as real clients send) and/or
                          batched (all requests a reply chunk frees in one write); a sweep per
                          mode, every result labelled with it (default per-request)
  --shapes LIST           connections x requests in flight per connection, a sweep per shape
                          (default ${DEFAULT_SHAPES}); the first mode's first shape also runs the
                          unloaded and the latency points
  --read-pcts LIST        closed-loop points of every sweep (default 0..100/10)
  --rates LIST            open-loop offered loads: ops/s, or fractions of ZooKeeper's peak (0.5x)
                          (default 0.25x,0.5x,0.75x,0.9x); first traffic mode and shape only
  --latency-read-pct P    read share of the latency points (default 50)
  --servers LIST          zookeeper,zooid (default both); floor-c adds bench/floor-c.c (needs cc);
                          floor adds the one-thread answerer
                          (bench/floor-server.ts: the protocol and Node's sockets, no server
                          behind them), and zooid's CPU per op over it
  --connections N --outstanding N   one shape (instead of --shapes)
  --value-bytes B --keys N --threads N --seed S   load (default 1 KiB, 10000 keys,
                          threads = min(connections, cores))
  --ensemble N            N servers of each kind as an ensemble (server.N lines on loopback), the
                          load's connections spread over them, CPU summed over them (default 1:
                          standalone)
  --zooid-root DIR        run zooid from another checkout (its engine/cli.ts; node_modules linked
                          or installed there), for a before/after against the same ZooKeeper
  --out-dir DIR           where results go (default bench/results)
  --label TEXT            appended to the file name
  --render FILE.json      rewrite FILE.md and FILE.html from a results JSON (no servers run)
Both servers run with maxClientCnxns=0 (no per-address limit: every connection comes from
127.0.0.1), forceSync=yes, snapCount=100000, their other defaults.
`;

/** Connections, and requests in flight on each. */
export interface Shape {
  connections: number;
  outstanding: number;
}

export function shapeName(s: Shape): string {
  return `${s.connections} × ${s.outstanding}`;
}

/** `8x50,200x1` → shapes; each within loadgen's limits. */
export function parseShapes(text: string): Shape[] {
  const shapes = text.split(',').map((item) => {
    const m = /^\s*(\d[\d_]*)\s*[x×]\s*(\d[\d_]*)\s*$/.exec(item);
    if (m === null) throw new OptionError(`--shapes: '${item}' is not connections x in-flight (e.g. 200x1)`);
    return { connections: parseInteger('shapes', m[1], 1, LIMITS.connectionsMax), outstanding: parseInteger('shapes', m[2], 1, LIMITS.outstandingMax) };
  });
  const names = shapes.map(shapeName);
  if (new Set(names).size !== names.length) throw new OptionError(`--shapes: a shape is given twice (${names.join(', ')})`);
  return shapes;
}

export function parseTrafficList(text: string): TrafficMode[] {
  const modes = text.split(',').map((t) => parseTraffic('traffic', t.trim()));
  if (new Set(modes).size !== modes.length) throw new OptionError(`--traffic: a mode is given twice (${modes.join(', ')})`);
  return modes;
}

interface CompareConfig {
  servers: BenchServerKind[];
  /** Before each point, wait up to this long for other processes to go quiet (0: do not). */
  idleWaitMs: number;
  serverWarmupMs: number;
  repeats: number;
  /** The load of every point but its traffic, shape and threads (those of the first series). */
  base: LoadOptions;
  traffics: TrafficMode[];
  shapes: Shape[];
  /** --threads as given; null: min(connections, cores) per shape. */
  threads: number | null;
  /** Servers of each kind: 1 standalone, 3 or 5 an ensemble on loopback with the load spread over its members. */
  ensembleSize: number;
  /** Run zooid from this checkout instead of this one (an A/B of two zooid trees against the same ZooKeeper); null: this tree. */
  zooidRoot: string | null;
  /** The zoo.cfg lines both servers got over their defaults. */
  serverConfig: Readonly<Record<string, string>>;
  readPcts: number[];
  latencyReadPct: number;
  rates: SweepPlan['rates'];
  outDir: string;
  label: string;
  command: string;
}

export function parseCompareArgs(args: string[]): CompareConfig {
  const flags = splitFlags(
    args,
    new Set(['repeats', 'duration', 'warmup', 'server-warmup', 'idle-wait', 'traffic', 'shapes', 'read-pcts', 'rates', 'latency-read-pct', 'servers', 'connections', 'outstanding', 'value-bytes', 'keys', 'threads', 'seed', 'out-dir', 'label', 'ensemble', 'zooid-root']),
    new Set(['quick']),
  );
  const quick = flags.has('quick');
  const shapeFlags = ['connections', 'outstanding'].filter((f) => flags.has(f));
  if (shapeFlags.length > 0 && flags.has('shapes')) throw new OptionError('give --shapes, or --connections and --outstanding, not both');
  const shapes = shapeFlags.length > 0
    ? [{ connections: parseInteger('connections', flags.get('connections') ?? '8', 1, LIMITS.connectionsMax), outstanding: parseInteger('outstanding', flags.get('outstanding') ?? '50', 1, LIMITS.outstandingMax) }]
    : parseShapes(flags.get('shapes') ?? DEFAULT_SHAPES);
  const traffics = parseTrafficList(flags.get('traffic') ?? DEFAULTS.traffic);
  const threadsText = flags.get('threads');
  const threads = threadsText === undefined ? null : parseInteger('threads', threadsText, 1, LIMITS.threadsMax);
  const loadArgs: string[] = [
    '--duration', flags.get('duration') ?? (quick ? '2s' : '10s'),
    '--warmup', flags.get('warmup') ?? (quick ? '1s' : '2s'),
    '--no-progress',
    '--traffic', traffics[0],
    '--connections', String(shapes[0].connections),
    '--outstanding', String(shapes[0].outstanding),
  ];
  for (const f of ['value-bytes', 'keys', 'seed']) {
    const v = flags.get(f);
    if (v !== undefined) loadArgs.push(`--${f}`, v);
  }
  const { options } = parseLoadOptions(loadArgs);
  for (const shape of shapes) {
    if (threads !== null && threads > shape.connections) throw new OptionError(`--threads ${threads} is more than the ${shape.connections} connections of shape ${shapeName(shape)}`);
  }
  const servers = (flags.get('servers') ?? 'zookeeper,zooid').split(',').map((s) => s.trim());
  for (const s of servers) if (s !== 'zookeeper' && s !== 'zooid' && s !== 'floor' && s !== 'floor-c') throw new OptionError(`--servers: '${s}' is not zookeeper, zooid, floor or floor-c`);
  return {
    servers: servers as BenchServerKind[],
    idleWaitMs: parseDurationMs('idle-wait', flags.get('idle-wait') ?? (quick ? '0s' : '60s'), 0, 3600_000),
    serverWarmupMs: parseDurationMs('server-warmup', flags.get('server-warmup') ?? (quick ? '3s' : '5s'), 0, 600_000),
    repeats: parseInteger('repeats', flags.get('repeats') ?? (quick ? '2' : '3'), 1, 100),
    base: { ...options, threads: threads ?? Math.min(shapes[0].connections, os.availableParallelism()) },
    traffics,
    shapes,
    threads,
    serverConfig: SERVER_CONFIG,
    readPcts: parsePercentList('read-pcts', flags.get('read-pcts') ?? (quick ? '0,25,50,75,100' : '0..100/10')),
    latencyReadPct: parseInteger('latency-read-pct', flags.get('latency-read-pct') ?? '50', 0, 100),
    rates: parseRates(flags.get('rates') ?? (quick ? '0.25x,0.5x,0.9x' : '0.25x,0.5x,0.75x,0.9x')),
    outDir: flags.get('out-dir') ?? RESULTS_DIR,
    label: flags.get('label') ?? '',
    ensembleSize: parseInteger('ensemble', flags.get('ensemble') ?? '1', 1, 7),
    zooidRoot: flags.get('zooid-root') ?? null,
    command: `npm run bench:compare${args.length > 0 ? ' -- ' + args.join(' ') : ''}`,
  };
}

/** One measured point's CPU: the server's, per thread, and everyone else's, over its measured window. */
export interface PointCpu {
  /** The server process's user + system time over the window, all threads. */
  cpuMs: number;
  /** Replies the load generator received in the window. */
  replies: number;
  /** cpuMs per reply: the server's CPU per op. */
  usPerReply: number;
  /** The window's length as the CPU was sampled (whole seconds, give or take a timer's lateness). */
  windowMs?: number;
  loadgenCores: number;
  serverCores: number;
  /** CPU the rest of the machine used meanwhile (near 0: the comparison had the machine to itself). */
  otherCores: number;
  /** The server's threads by name, most CPU first (absent in results from before 2026-12). */
  threads?: ThreadGroupCpu[];
}

/** One sweep: a traffic mode and a shape over the read percentages (the first series also has latency and unloaded points). */
export interface SeriesRun {
  traffic: TrafficMode;
  connections: number;
  outstanding: number;
  sweep: SweepResult;
  /** Per run of the sweep, same order as sweep.runs. */
  cpu: PointCpu[];
}

export interface ServerRun {
  server: BenchServerKind;
  repeat: number;
  version: string;
  loadBefore: number;
  loadAfter: number;
  series: SeriesRun[];
}

/** What a window edge reads: the server (process and threads), this process, the machine. */
export interface CpuSample {
  wallMs: number;
  serverMs: number;
  serverThreads: ThreadSample[];
  selfMs: number;
  machineMs: number;
}

/** The servers' CPU: every member's process (an ensemble's threads of one name sum across members). */
const serversCpuMs = (pids: readonly number[]) => pids.reduce((sum, pid) => sum + processCpuMs(pid), 0);

function sampleCpu(serverPids: readonly number[]): CpuSample {
  return { wallMs: performance.now(), serverMs: serversCpuMs(serverPids), serverThreads: serverPids.flatMap(threadCpu), selfMs: selfCpuMs(), machineMs: machineBusyMs() };
}

/** A point's CPU between its window's edges; NaN throughout when an edge was not sampled. */
export function pointCpuOf(start: CpuSample | null, end: CpuSample | null, window: MeasuredWindow | null): PointCpu {
  const replies = window?.replies ?? NaN;
  if (start === null || end === null) return { cpuMs: NaN, replies, usPerReply: NaN, loadgenCores: NaN, serverCores: NaN, otherCores: NaN, threads: [] };
  const wallMs = end.wallMs - start.wallMs;
  const cpuMs = end.serverMs - start.serverMs;
  const selfMs = end.selfMs - start.selfMs;
  const otherMs = end.machineMs - start.machineMs - cpuMs - selfMs;
  const cores = (ms: number) => Math.round((ms / wallMs) * 100) / 100;
  return {
    cpuMs,
    replies,
    usPerReply: replies > 0 ? (cpuMs * 1000) / replies : NaN,
    windowMs: Math.round(wallMs),
    loadgenCores: cores(selfMs),
    serverCores: cores(cpuMs),
    otherCores: cores(Math.max(0, otherMs)),
    threads: threadCpuBetween(start.serverThreads, end.serverThreads),
  };
}

/** Other processes count as quiet below this many cores (over a 1 s sample). */
const OTHERS_IDLE_CORES_MAX = 0.15;
const IDLE_SAMPLE_MS = 1000;

/**
 * Before a point: sample the CPU that processes other than the server and this one use, and
 * wait (up to maxWaitMs) until it is quiet, so other people's work on a shared machine does
 * not land in a measurement. The point runs after the wait either way; its "other cores"
 * column tells what it got.
 */
async function waitForOthersIdle(serverPids: readonly number[], maxWaitMs: number): Promise<{ waitedMs: number; otherCores: number }> {
  const t0 = Date.now();
  for (;;) {
    const a = { m: machineBusyMs(), s: serversCpuMs(serverPids), me: selfCpuMs(), t: Date.now() };
    await new Promise((resolve) => setTimeout(resolve, IDLE_SAMPLE_MS));
    const otherCores = (machineBusyMs() - a.m - (serversCpuMs(serverPids) - a.s) - (selfCpuMs() - a.me)) / (Date.now() - a.t);
    if (!Number.isFinite(otherCores) || otherCores <= OTHERS_IDLE_CORES_MAX || Date.now() - t0 >= maxWaitMs) return { waitedMs: Date.now() - t0 - IDLE_SAMPLE_MS, otherCores };
  }
}

/** This process's CPU time (the load generator: main thread and its worker threads). */
function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The compare's op mix: getData and setData, its read share set per point. */
const GET_SET = parseMix('get:1,set:1');

function log(line: string): void {
  process.stderr.write(`[compare ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

async function versionOf(port: number): Promise<string> {
  try {
    const srvr = await fourLetterWord(port, 'srvr');
    return /version:\s*(.*)/i.exec(srvr)?.[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The threads of a shape: --threads, or one per core up to one per connection. */
function threadsFor(cfg: CompareConfig, shape: Shape): number {
  return cfg.threads ?? Math.min(shape.connections, os.availableParallelism());
}

/** The series of one server run, in order: each traffic mode, each shape. */
export function seriesPlan(cfg: CompareConfig): { traffic: TrafficMode; shape: Shape }[] {
  return cfg.traffics.flatMap((traffic) => cfg.shapes.map((shape) => ({ traffic, shape })));
}

export async function runCompare(cfg: CompareConfig): Promise<{ runs: ServerRun[]; rates: number[]; machine: MachineFacts; finishedAt: string }> {
  const machine = machineFacts(os.tmpdir());
  if (machine.loadAvg[0] >= 1) log(`warning: 1-minute load average is ${machine.loadAvg[0]} (>= 1): other work shares this machine; the numbers will say so`);
  const runs: ServerRun[] = [];
  // equal offered loads for both servers: fixed after ZooKeeper's first peak (or absolute)
  let fixedRates: number[] | null = cfg.rates.every((r) => !r.fraction) ? cfg.rates.map((r) => r.value) : null;
  const order = [...cfg.servers];
  // ZooKeeper first when the offered loads come from its peak
  if (fixedRates === null && order.includes('zookeeper')) order.sort((a, b) => Number(b === 'zookeeper') - Number(a === 'zookeeper'));
  for (let repeat = 0; repeat < cfg.repeats; repeat++) {
    const servers = repeat % 2 === 0 ? order : [...order].reverse();
    for (const server of servers) {
      const loadBefore = os.loadavg()[0];
      log(`repeat ${repeat + 1}/${cfg.repeats}: starting ${server} (load ${loadBefore.toFixed(2)})`);
      const deployment = await deploy(server, cfg.ensembleSize, cfg.serverConfig, cfg.zooidRoot ?? undefined);
      try {
        const version = await versionOf(deployment.ports[0]);
        if (cfg.ensembleSize > 1) log(`${server}: ${cfg.ensembleSize} servers serving as ${deployment.modes.join(', ')}`);
        const hosts = deployment.ports.map((port) => ({ host: '127.0.0.1', port }));
        let setup = true;
        if (cfg.serverWarmupMs > 0) {
          log(`${server}: ${cfg.serverWarmupMs / 1000} s of unmeasured load to warm it up`);
          await runLoad({ ...cfg.base, hosts, setup, rateOpsPerSec: null, warmupMs: 0, durationMs: cfg.serverWarmupMs, mix: resolveMix(GET_SET, 50) });
          setup = false;
        }
        const series: SeriesRun[] = [];
        for (const { traffic, shape } of seriesPlan(cfg)) {
          const first = series.length === 0;
          const label = `${server}, ${traffic}, ${shapeName(shape)}`;
          const base: LoadOptions = { ...cfg.base, hosts, setup, traffic, connections: shape.connections, outstanding: shape.outstanding, threads: threadsFor(cfg, shape) };
          setup = false;
          // before ZooKeeper's peak is known (or without ZooKeeper): fractions of the server's own peak
          const rates = !first ? [] : fixedRates === null ? cfg.rates : fixedRates.map((value) => ({ value, fraction: false }));
          const cpu: PointCpu[] = [];
          let edges: { start: CpuSample | null; end: CpuSample | null } = { start: null, end: null };
          const sweep = await runSweep(
            { base, weights: GET_SET, readPcts: cfg.readPcts, latencyReadPct: cfg.latencyReadPct, rates, latency: rates.length > 0, unloaded: first },
            {
              log: (line) => log(`${label}: ${line}`),
              beforeRun: async () => {
                if (cfg.idleWaitMs > 0) {
                  const waited = await waitForOthersIdle(deployment.pids, cfg.idleWaitMs);
                  if (waited.waitedMs >= 1000) log(`${server}: waited ${(waited.waitedMs / 1000).toFixed(0)} s for other processes to quiet down (now ${waited.otherCores.toFixed(2)} cores)`);
                }
                edges = { start: null, end: null };
              },
              onWindowEdge: (edge) => {
                edges[edge] = sampleCpu(deployment.pids);
              },
              afterRun: (result) => {
                const point = pointCpuOf(edges.start, edges.end, result.window);
                cpu.push(point);
                const top = (point.threads ?? []).slice(0, 3).map((t) => `${t.name} ${((t.cpuMs * 1000) / point.replies).toFixed(1)}`).join(', ');
                log(`${label}: server CPU ${point.usPerReply.toFixed(1)} µs/op (${top})`);
              },
            },
          );
          if (first && fixedRates === null && (server === 'zookeeper' || !cfg.servers.includes('zookeeper'))) {
            fixedRates = sweep.latency.map((l) => l.offeredOpsPerSec);
            log(`offered loads for every latency point from now on: ${fixedRates.join(', ')} ops/s`);
          }
          series.push({ traffic, connections: shape.connections, outstanding: shape.outstanding, sweep, cpu });
        }
        runs.push({ server, repeat, version, loadBefore, loadAfter: os.loadavg()[0], series });
      } finally {
        await deployment.stop();
      }
    }
  }
  await closePool();
  return { runs, rates: fixedRates ?? [], machine, finishedAt: new Date().toISOString() };
}

/** Threads shown by name in a per-thread table; the rest are summed as "other". */
const THREAD_COLUMNS_MAX = 6;

/** What the JVM's thread names stand for (comm keeps 15 characters). */
const JVM_THREAD_LEGEND =
  'ZooKeeper\'s threads: NIOWorkerThread = socket reads and writes, request decoding and reply encoding (a pool); NIOServerCxnFac = the selector and accept threads; ' +
  'ProcessThread(s = PrepRequestProcessor; SyncThread:0 = SyncRequestProcessor (log append, fsync) and, standalone, FinalRequestProcessor (applies txns, answers); ' +
  'RequestThrottle = RequestThrottler; C1/C2 CompilerThre = the JIT; VM Thread = safepoints and the serial GC. ' +
  'zooid\'s: io-N = sockets, framing and decoding; pipeline = sessions, prep, tree, watches, replies; log = txn log and fsync; snapshot; MainThread = the admin server and supervision; libuv-worker = fs calls (fdatasync); V8Worker = V8\'s GC and compiler helpers.';

interface ThroughputAggregate {
  readPct: number;
  median: number;
  min: number;
  max: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  cpuUsPerReply: number;
  /** The same over the repeats in which other processes stayed under OTHER_CORES_NOTABLE. */
  cleanCpuUsPerReply: number;
  cleanCount: number;
  loadgenBusyMax: number;
}

interface Aggregate {
  throughput: ThroughputAggregate[];
  latency: { offered: number; p50Us: number; p99Us: number; achieved: number; unsent: number }[];
  unloadedP50Us: number;
  unloadedP99Us: number;
  knee: number | null;
}

/** A series' identity across repeats and servers. */
function seriesKey(x: { traffic: TrafficMode; connections: number; outstanding: number }): string {
  return `${x.traffic} ${x.connections}x${x.outstanding}`;
}

function seriesTitle(x: { traffic: TrafficMode; connections: number; outstanding: number }): string {
  return `${x.traffic} writes, ${int(x.connections)} connections × ${int(x.outstanding)} in flight`;
}

/** The throughput point of a read share in a series and its CPU (the sweep runs its read shares first, in order). */
function pointOf(s: SeriesRun, readPct: number): { point: SweepResult['throughput'][number]; cpu: PointCpu | undefined; busy: number[] } | null {
  const i = s.sweep.throughput.findIndex((t) => t.readPct === readPct);
  if (i === -1) return null;
  return { point: s.sweep.throughput[i], cpu: s.cpu[i], busy: s.sweep.runs[i]?.loadgenBusy ?? [] };
}

function aggregate(series: SeriesRun[], readPcts: number[]): Aggregate {
  const throughput = readPcts.map((readPct) => {
    const pts = series.map((s) => pointOf(s, readPct)).filter((p) => p !== null);
    const ops = pts.map((p) => p.point.opsPerSec);
    const cpuOf = (ps: typeof pts) => median(ps.map((p) => p.cpu?.usPerReply ?? NaN).filter(Number.isFinite));
    const clean = pts.filter((p) => p.cpu !== undefined && p.cpu.otherCores <= OTHER_CORES_NOTABLE);
    const busy = pts.flatMap((p) => p.busy);
    return {
      readPct,
      median: median(ops),
      min: Math.min(...ops),
      max: Math.max(...ops),
      p50Us: median(pts.map((p) => p.point.p50Us)),
      p99Us: median(pts.map((p) => p.point.p99Us)),
      p999Us: median(pts.map((p) => p.point.p999Us)),
      cpuUsPerReply: cpuOf(pts),
      cleanCpuUsPerReply: cpuOf(clean),
      cleanCount: clean.length,
      loadgenBusyMax: busy.length === 0 ? NaN : Math.max(...busy),
    };
  });
  const sweeps = series.map((s) => s.sweep);
  const offered = [...new Set(sweeps.flatMap((s) => s.latency.map((l) => l.offeredOpsPerSec)))].sort((a, b) => a - b);
  const latency = offered.map((o) => {
    const pts = sweeps.map((s) => s.latency.find((l) => l.offeredOpsPerSec === o)).filter((l): l is LatencyPoint => l !== undefined);
    return { offered: o, p50Us: median(pts.map((p) => p.p50Us)), p99Us: median(pts.map((p) => p.p99Us)), achieved: median(pts.map((p) => p.achievedOpsPerSec)), unsent: Math.max(...pts.map((p) => p.unsent)) };
  });
  const medianPoints: LatencyPoint[] = latency.map((l) => ({ offeredOpsPerSec: l.offered, achievedOpsPerSec: l.achieved, p50Us: l.p50Us, p90Us: 0, p99Us: l.p99Us, p999Us: 0, maxUs: 0, errors: 0, unsent: l.unsent, sendLagP99Us: 0 }));
  return {
    throughput,
    latency,
    unloadedP50Us: median(sweeps.map((s) => s.unloaded?.readP50Us ?? NaN).filter(Number.isFinite)),
    unloadedP99Us: median(sweeps.map((s) => s.unloaded?.readP99Us ?? NaN).filter(Number.isFinite)),
    knee: findKnee(medianPoints)?.offeredOpsPerSec ?? null,
  };
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const msText = (us: number) => (Number.isFinite(us) ? (us / 1000).toFixed(3) : '–');
const usText = (us: number) => (Number.isFinite(us) ? us.toFixed(1) : '–');
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? (a / b).toFixed(2) : '–');
const pct = (x: number) => (Number.isFinite(x) ? `${Math.round(x * 100)}%` : '–');

function mdTable(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/**
 * A server's CPU by thread in one series: a row per read share, a column per thread name
 * (the THREAD_COLUMNS_MAX costliest over the series, the rest as "other"; "other" also holds
 * threads that ended during a window), each cell µs/op and cores, medians over the repeats.
 * /proc counts in 10 ms ticks: a thread's figure is good to 10 ms over the window.
 */
export function threadTable(series: SeriesRun[], readPcts: number[]): string | null {
  const totals = new Map<string, { cpuMs: number; threads: number }>();
  for (const s of series) {
    for (const c of s.cpu) {
      for (const t of c.threads ?? []) {
        const acc = totals.get(t.name) ?? { cpuMs: 0, threads: 0 };
        totals.set(t.name, { cpuMs: acc.cpuMs + t.cpuMs, threads: Math.max(acc.threads, t.threads) });
      }
    }
  }
  if (totals.size === 0) return null;
  const names = [...totals.entries()].filter(([, t]) => t.cpuMs > 0).sort((a, b) => b[1].cpuMs - a[1].cpuMs).slice(0, THREAD_COLUMNS_MAX).map(([name]) => name);
  const header = ['reads %', 'all threads', ...names.map((n) => (totals.get(n)!.threads > 1 ? `${n} ×${totals.get(n)!.threads}` : n)), 'other'];
  const cell = (usPerReply: number[], cores: number[]) => {
    const us = median(usPerReply.filter(Number.isFinite));
    const c = median(cores.filter(Number.isFinite));
    return Number.isFinite(us) ? `${us.toFixed(1)} (${c.toFixed(2)})` : '–';
  };
  const rows = readPcts.map((readPct) => {
    const cpus = series.map((s) => pointOf(s, readPct)?.cpu).filter((c): c is PointCpu => c !== undefined && Number.isFinite(c.usPerReply) && c.threads !== undefined);
    const per = (c: PointCpu, ms: number) => ({ us: (ms * 1000) / c.replies, cores: ms / (c.windowMs ?? NaN) });
    const column = (pick: (c: PointCpu) => number) => {
      const xs = cpus.map((c) => per(c, pick(c)));
      return cell(xs.map((x) => x.us), xs.map((x) => x.cores));
    };
    const named = (c: PointCpu, name: string) => c.threads!.find((t) => t.name === name)?.cpuMs ?? 0;
    // the process total and its threads are read one after the other: a tick's skew, not negative time
    const other = (c: PointCpu) => Math.max(0, c.cpuMs - names.reduce((sum, n) => sum + named(c, n), 0));
    return [String(readPct), column((c) => c.cpuMs), ...names.map((n) => column((c) => named(c, n))), column(other)];
  });
  return mdTable(header, rows);
}

const SERVER_TITLES: Record<BenchServerKind, string> = { zookeeper: 'ZooKeeper', zooid: 'zooid', floor: 'the floor answerer', 'floor-c': 'the C floor answerer' };
/** Issue 13: zooid's CPU per op within this factor of the one-thread floor answerer's, at 100% reads. */
const TARGET_FLOOR_RATIO = 1.3;

/** zooid's CPU per op over the one-thread floor answerer's (bench/floor-server.ts), per read share. */
function floorTable(floor: Aggregate, zooid: Aggregate, readPcts: number[]): string {
  return mdTable(
    ['reads %', 'floor ops/s', 'floor CPU µs/op', 'zooid CPU µs/op', 'zooid / floor', `target ≤ ${TARGET_FLOOR_RATIO} at 100% reads`],
    readPcts.map((readPct, i) => {
      const f = floor.throughput[i];
      const z = zooid.throughput[i];
      const r = z.cpuUsPerReply / f.cpuUsPerReply;
      return [String(readPct), `${int(f.median)} [${int(f.min)}–${int(f.max)}]`, usText(f.cpuUsPerReply), usText(z.cpuUsPerReply), ratio(z.cpuUsPerReply, f.cpuUsPerReply), readPct === 100 && Number.isFinite(r) ? (r <= TARGET_FLOOR_RATIO ? 'met' : 'not met') : ''];
    }),
  );
}

/**
 * What half of ZooKeeper's CPU per op (issue 13's target) leaves, beside the two floors: the C
 * floor is about what the kernel costs to read a request and write its reply here, the Node
 * floor adds Node's event loop and sockets.
 */
function floorsTable(floorC: Aggregate, floor: Aggregate | null, zookeeper: Aggregate | null, zooid: Aggregate | null, readPcts: number[]): string {
  const cols: [string, (i: number) => string][] = [['C floor CPU µs/op', (i) => usText(floorC.throughput[i].cpuUsPerReply)]];
  if (floor !== null) cols.push(['Node floor CPU µs/op', (i) => usText(floor.throughput[i].cpuUsPerReply)]);
  if (zookeeper !== null) cols.push(['half of ZooKeeper\'s CPU µs/op', (i) => usText(zookeeper.throughput[i].cpuUsPerReply / 2)]);
  if (zooid !== null) cols.push(['zooid CPU µs/op', (i) => usText(zooid.throughput[i].cpuUsPerReply)]);
  return mdTable(['reads %', 'C floor ops/s', ...cols.map(([h]) => h)], readPcts.map((readPct, i) => {
    const f = floorC.throughput[i];
    return [String(readPct), `${int(f.median)} [${int(f.min)}–${int(f.max)}]`, ...cols.map(([, v]) => v(i))];
  }));
}

export function renderMarkdown(cfg: CompareConfig, out: Awaited<ReturnType<typeof runCompare>>, startedAt: string): string {
  const by = (s: BenchServerKind) => out.runs.filter((r) => r.server === s);
  const seriesOf = (server: BenchServerKind, key: string) => by(server).flatMap((r) => r.series.filter((x) => seriesKey(x) === key));
  const plan = seriesPlan(cfg).map(({ traffic, shape }) => ({ traffic, ...shape }));
  const first = plan[0];
  const b = cfg.base;
  const loads = out.runs.map((r) => `${r.server}#${r.repeat + 1} ${r.loadBefore.toFixed(2)}→${r.loadAfter.toFixed(2)}`).join(', ');
  const versions = [...new Set(out.runs.map((r) => `${r.server}: ${r.version}`))].join('; ');
  const lines: string[] = [];
  lines.push(`# zooid vs Apache ZooKeeper${cfg.ensembleSize > 1 ? `, ensembles of ${cfg.ensembleSize}` : ''} — ${startedAt.slice(0, 10)}`);
  lines.push('');
  lines.push(`Command: \`${cfg.command}\``);
  lines.push(`Started ${startedAt}, finished ${out.finishedAt}.`);
  lines.push('');
  lines.push('## Machine');
  lines.push(...formatMachine(out.machine));
  lines.push(`- 1-minute load average before → after each server run: ${loads} (the load generator and the server under test themselves make 3–5)`);
  const others = out.runs.flatMap((r) => r.series.flatMap((x) => x.cpu.map((c) => c.otherCores))).filter(Number.isFinite);
  if (others.length > 0) {
    lines.push(`- CPU used by other processes during the measured windows: mean ${(others.reduce((a, b) => a + b, 0) / others.length).toFixed(2)} cores, max ${Math.max(...others).toFixed(2)} of ${out.machine.cores} (from /proc/stat minus the server and the load generator); ${others.filter((o) => o > OTHER_CORES_NOTABLE).length} of ${others.length} points had more than ${OTHER_CORES_NOTABLE} cores of it (column "other cores" under Every run)`);
  }
  lines.push('');
  lines.push('## Setup');
  const unlimited = cfg.serverConfig.maxClientCnxns === '0' ? '; no per-address connection limit, as every connection comes from 127.0.0.1' : '';
  lines.push(`- servers: ${versions}${cfg.zooidRoot === null ? '' : ` (zooid run from ${cfg.zooidRoot})`}; ${cfg.ensembleSize === 1 ? 'standalone' : `ensembles of ${cfg.ensembleSize} on loopback (the load's connections round-robin over the members, CPU summed over them)`}, fresh dataDir per run in ${os.tmpdir()} (same disk); zoo.cfg over the defaults: ${Object.entries(cfg.serverConfig).map(([k, v]) => `${k}=${v}`).join(', ')} (fsync on every commit${unlimited}; globalOutstandingLimit at its default 1000)`);
  lines.push('- Apache ZooKeeper is started as the test harness starts it (test/support/servers.ts: QuorumPeerMain, -Xmx256m -XX:+UseSerialGC, log4j INFO to a file); zooid as `node engine/cli.ts server zoo.cfg`');
  if (cfg.servers.includes('floor-c')) lines.push('- the C floor: bench/floor-c.c built with `cc -O2`, the same answerer in C on one thread with epoll, one write per reply: about what the kernel alone costs to read a request and write its reply on this machine');
  if (cfg.servers.includes('floor')) lines.push('- the floor: `node bench/floor-server.ts`, a one-thread answerer of the same protocol over a Map of paths (no durability, sessions, watches or ACLs): what reading a request and writing its reply through Node\'s sockets costs here; zooid / floor is the price of zooid\'s threads, rings and server semantics');
  lines.push(`- traffic: ${cfg.traffics.map((t) => (t === 'per-request' ? 'per-request = one socket write per request, as the Java, C, Go and Python clients send (Nagle off)' : 'batched = every request a reply chunk frees in one socket write (not what real clients do; fewer syscalls and wake-ups on both sides)')).join('; ')}`);
  lines.push(`- shapes (connections × requests in flight on each, closed loop): ${cfg.shapes.map((sh) => `${shapeName(sh)} (${threadsFor(cfg, sh)} load generator threads)`).join(', ')}; ${b.valueBytes} B values, ${b.keys} keys uniform, reads = getData, writes = setData; the load generator on the same machine`);
  const overWindow = out.runs.some((r) => r.series.some((x) => x.cpu.some((c) => c.windowMs !== undefined)));
  lines.push(
    overWindow
      ? '- server CPU per op: the server process\'s user + system time (/proc/<pid>/stat) over the whole seconds of each point\'s measured window, divided by the replies the load generator received in them; by thread the same from /proc/<pid>/task/*/stat, threads that share a name (a pool) summed'
      : '- server CPU per op (as measured before 2026-12): the server process\'s user + system time over the whole point, warm-up, connecting and drain included, divided by every reply of the point; no per-thread figures',
  );
  lines.push(`- after each start: ${cfg.serverWarmupMs / 1000} s of unmeasured load (50% reads) so both JITs are warm`);
  if (cfg.idleWaitMs > 0) lines.push(`- before each point: up to ${cfg.idleWaitMs / 1000} s of waiting for other processes on the machine to use under ${OTHERS_IDLE_CORES_MAX} cores`);
  lines.push(`- each point: ${b.warmupMs / 1000} s warm-up, then ${b.durationMs / 1000} s measured; ${cfg.repeats} repeats per server, order alternating (${cfg.servers.join(' first, then ')} in repeat 1); medians shown, min–max in brackets`);
  lines.push(`- latency points (${seriesTitle(first)}): open loop at the same offered loads for both servers (${out.rates.map(int).join(', ')} ops/s, from ZooKeeper's peak in repeat 1), ${cfg.latencyReadPct}% reads, latency from each op's intended send time`);
  lines.push(`- unloaded reads: 1 connection, 1 request in flight, 100% getData (${first.traffic} writes)`);
  lines.push(`- seed ${b.seed}`);
  for (const x of plan) {
    const key = seriesKey(x);
    const zk = aggregate(seriesOf('zookeeper', key), cfg.readPcts);
    const zi = aggregate(seriesOf('zooid', key), cfg.readPcts);
    lines.push('');
    lines.push(`## ${seriesTitle(x)} (median of ${cfg.repeats})`);
    lines.push('');
    if (cfg.servers.includes('floor')) lines.push(floorTable(aggregate(seriesOf('floor', key), cfg.readPcts), zi, cfg.readPcts), '');
    if (cfg.servers.includes('floor-c')) {
      const present = (server: BenchServerKind) => (cfg.servers.includes(server) ? aggregate(seriesOf(server, key), cfg.readPcts) : null);
      lines.push(floorsTable(aggregate(seriesOf('floor-c', key), cfg.readPcts), present('floor'), present('zookeeper'), present('zooid'), cfg.readPcts), '');
    }
    if (cfg.servers.includes('zookeeper') && cfg.servers.includes('zooid')) lines.push(
      mdTable(
        ['reads %', 'ZooKeeper ops/s', 'zooid ops/s', 'zooid / ZooKeeper', 'ZooKeeper p50 / p99 / p99.9 ms', 'zooid p50 / p99 / p99.9 ms', 'ZooKeeper CPU µs/op', 'zooid CPU µs/op', 'CPU zooid / ZooKeeper', `target ≤ ${TARGET_CPU_PER_OP_RATIO}`, `CPU ratio, clean points only (n)`, 'load gen busy (max thread)'],
        cfg.readPcts.map((readPct, i) => {
          const a = zk.throughput[i];
          const z = zi.throughput[i];
          const cpuRatio = z.cpuUsPerReply / a.cpuUsPerReply;
          return [
            String(readPct),
            `${int(a.median)} [${int(a.min)}–${int(a.max)}]`,
            `${int(z.median)} [${int(z.min)}–${int(z.max)}]`,
            ratio(z.median, a.median),
            `${msText(a.p50Us)} / ${msText(a.p99Us)} / ${msText(a.p999Us)}`,
            `${msText(z.p50Us)} / ${msText(z.p99Us)} / ${msText(z.p999Us)}`,
            usText(a.cpuUsPerReply),
            usText(z.cpuUsPerReply),
            ratio(z.cpuUsPerReply, a.cpuUsPerReply),
            Number.isFinite(cpuRatio) ? (cpuRatio <= TARGET_CPU_PER_OP_RATIO ? 'met' : 'not met') : '–',
            `${ratio(z.cleanCpuUsPerReply, a.cleanCpuUsPerReply)} (${a.cleanCount}/${z.cleanCount})`,
            `${pct(a.loadgenBusyMax)} / ${pct(z.loadgenBusyMax)}`,
          ];
        }),
      ),
    );
    for (const server of cfg.servers) {
      const table = threadTable(seriesOf(server, key), cfg.readPcts);
      if (table === null) continue;
      lines.push('');
      lines.push(`Server CPU by thread, ${SERVER_TITLES[server]}: µs/op (cores)`);
      lines.push('');
      lines.push(table);
    }
  }
  lines.push('');
  lines.push(`CPU µs/op: see Setup; a clean point is one where other processes used at most ${OTHER_CORES_NOTABLE} cores during its window (n: how many of the ${cfg.repeats} repeats, ZooKeeper/zooid). Load generator busy: the busiest load generator thread's event-loop utilisation (ZooKeeper run / zooid run); near 100% the client, not the server, limits throughput, and CPU per op is the figure that tells the servers apart. ${JVM_THREAD_LEGEND}`);
  const zkFirst = aggregate(seriesOf('zookeeper', seriesKey(first)), cfg.readPcts);
  const ziFirst = aggregate(seriesOf('zooid', seriesKey(first)), cfg.readPcts);
  lines.push('');
  lines.push(`## Latency at equal offered load (open loop, ${cfg.latencyReadPct}% reads, ${seriesTitle(first)} at most; median of ${cfg.repeats})`);
  lines.push('');
  lines.push(
    mdTable(
      ['offered ops/s', 'ZooKeeper achieved', 'ZooKeeper p50 ms', 'ZooKeeper p99 ms', 'zooid achieved', 'zooid p50 ms', 'zooid p99 ms', 'p99 zooid / ZooKeeper', `target ≤ ${TARGET_P99_RATIO}`],
      zkFirst.latency.map((a) => {
        const z = ziFirst.latency.find((l) => l.offered === a.offered);
        const r = z === undefined ? NaN : z.p99Us / a.p99Us;
        return [int(a.offered), int(a.achieved), msText(a.p50Us), msText(a.p99Us), int(z?.achieved ?? NaN), msText(z?.p50Us ?? NaN), msText(z?.p99Us ?? NaN), ratio(z?.p99Us ?? NaN, a.p99Us), Number.isFinite(r) ? (r <= TARGET_P99_RATIO ? 'met' : 'not met') : '–'];
      }),
    ),
  );
  lines.push('');
  lines.push(`Knee (highest offered load carried with p99 ≤ 3 × its low-load p99): ZooKeeper ${zkFirst.knee === null ? 'none' : int(zkFirst.knee)}, zooid ${ziFirst.knee === null ? 'none' : int(ziFirst.knee)} ops/s.`);
  lines.push('');
  lines.push('## Unloaded read latency (1 connection, 1 in flight)');
  lines.push('');
  lines.push(
    mdTable(
      ['', 'ZooKeeper', 'zooid', `target zooid p50 ≤ ${TARGET_UNLOADED_READ_P50_US} µs`],
      [
        ['p50 µs', int(zkFirst.unloadedP50Us), int(ziFirst.unloadedP50Us), Number.isFinite(ziFirst.unloadedP50Us) ? (ziFirst.unloadedP50Us <= TARGET_UNLOADED_READ_P50_US ? 'met' : 'not met') : '–'],
        ['p99 µs', int(zkFirst.unloadedP99Us), int(ziFirst.unloadedP99Us), ''],
      ],
    ),
  );
  lines.push('');
  lines.push('## Every run');
  lines.push('');
  for (const r of out.runs) {
    lines.push(`### ${r.server} repeat ${r.repeat + 1} (load ${r.loadBefore.toFixed(2)} → ${r.loadAfter.toFixed(2)})`);
    lines.push('');
    for (const x of r.series) {
      const coresOf = (i: number) => {
        const c = x.cpu[i];
        return c === undefined ? ['–', '–', '–', '–'] : [usText(c.usPerReply), c.serverCores.toFixed(2), c.loadgenCores.toFixed(2), c.otherCores.toFixed(2)];
      };
      lines.push(`**${seriesTitle(x)}**`, '');
      lines.push(mdTable(['reads %', 'ops/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'errors', 'CPU µs/op', 'server cores', 'loadgen cores', 'other cores'], x.sweep.throughput.map((t, i) => [String(t.readPct), int(t.opsPerSec), msText(t.p50Us), msText(t.p99Us), msText(t.p999Us), int(t.errors), ...coresOf(i)])), '');
      if (x.sweep.unloaded !== null) lines.push(`Unloaded read p50 ${msText(x.sweep.unloaded.readP50Us)} ms, p99 ${msText(x.sweep.unloaded.readP99Us)} ms.`, '');
      if (x.sweep.latency.length > 0) {
        const firstLatency = x.sweep.runs.length - x.sweep.latency.length; // latency runs come last
        lines.push(mdTable(['offered', 'achieved', 'p50 ms', 'p99 ms', 'p99.9 ms', 'unsent', 'send lag p99 ms', 'CPU µs/op', 'server cores', 'loadgen cores', 'other cores'], x.sweep.latency.map((l, i) => [int(l.offeredOpsPerSec), int(l.achievedOpsPerSec), msText(l.p50Us), msText(l.p99Us), msText(l.p999Us), int(l.unsent), msText(l.sendLagP99Us), ...coresOf(firstLatency + i)])), '');
      }
    }
  }
  return lines.join('\n') + '\n';
}

function renderHtml(cfg: CompareConfig, runs: ServerRun[], md: string, startedAt: string): string {
  const lastOf = (server: string) => {
    const mine = runs.filter((r) => r.server === server);
    return mine[mine.length - 1];
  };
  const named = cfg.servers.flatMap((server) => lastOf(server).series.map((x) => ({ name: `${server} ${x.traffic} ${x.connections}×${x.outstanding}`, sweep: x.sweep })));
  return page(
    `zooid vs Apache ZooKeeper ${startedAt.slice(0, 10)}`,
    [markdownToHtml(md), '<h2>Charts</h2>', '<p>The last repeat of each server.</p>', sweepCharts(named), percentileCharts(cfg, lastOf)].join('\n'),
  );
}

/**
 * One HdrHistogram-style percentile chart per closed-loop point (a shape and a read share),
 * the servers side by side: the latency distribution of the measured window of each
 * server's last repeat. Results written before the distributions were kept have none.
 */
function percentileCharts(cfg: CompareConfig, lastOf: (server: string) => ServerRun): string {
  const figures: string[] = [];
  const first = lastOf(cfg.servers[0]);
  for (let s = 0; s < first.series.length; s++) {
    const x = first.series[s];
    for (let i = 0; i < x.sweep.throughput.length; i++) {
      const cdf: Record<string, [number, number][]> = {};
      for (const server of cfg.servers) {
        const points = lastOf(server).series[s]?.sweep.runs[i]?.cdf?.all;
        if (points !== undefined && points.length > 0) cdf[server === 'zookeeper' ? 'ZooKeeper' : server] = points;
      }
      if (Object.keys(cdf).length === 0) continue;
      figures.push(`<figure>${percentileChart(`Latency by percentile: ${x.traffic} ${x.connections}×${x.outstanding}, ${x.sweep.throughput[i].readPct}% reads`, cdf)}</figure>`);
    }
  }
  return figures.length === 0 ? '' : ['<h2>Latency distributions (closed loop)</h2>', ...figures].join('\n');
}

/** A results JSON's runs; those written before traffic modes and shapes had one batched series each. */
export function runsFromJson(j: { runs: (ServerRun & { sweep?: SweepResult; cpu?: PointCpu[] })[]; config: { load: LoadOptions } }): ServerRun[] {
  return j.runs.map((r) => {
    if (r.series !== undefined) return r;
    const { sweep, cpu, ...rest } = r;
    return { ...rest, series: [{ traffic: 'batched', connections: j.config.load.connections, outstanding: j.config.load.outstanding, sweep: sweep!, cpu: cpu ?? [] }] };
  });
}

/** Re-renders the .md and .html of a results JSON (after a report format change). */
function renderFromJson(file: string | undefined): number {
  if (file === undefined || !file.endsWith('.json')) {
    process.stderr.write(`bench compare: --render needs a results .json file\n`);
    return 2;
  }
  const j = JSON.parse(fs.readFileSync(file, 'utf8'));
  const runs = runsFromJson(j);
  const load = j.config.load as LoadOptions;
  const cfg: CompareConfig = {
    servers: j.config.servers,
    serverWarmupMs: j.config.serverWarmupMs ?? 5000,
    idleWaitMs: j.config.idleWaitMs ?? 0,
    repeats: j.config.repeats,
    base: { ...load, hosts: [] },
    traffics: j.config.traffics ?? ['batched'],
    shapes: j.config.shapes ?? [{ connections: load.connections, outstanding: load.outstanding }],
    threads: j.config.threads ?? load.threads,
    serverConfig: j.config.serverConfig ?? { forceSync: 'yes', snapCount: '100000', 'admin.enableServer': 'false' },
    ensembleSize: j.config.ensembleSize ?? 1,
    zooidRoot: j.config.zooidRoot ?? null,
    readPcts: j.config.readPcts,
    latencyReadPct: j.config.latencyReadPct,
    rates: [],
    outDir: path.dirname(file),
    label: '',
    command: j.command,
  };
  const out = { runs, rates: j.config.offeredLoads as number[], machine: j.machine as MachineFacts, finishedAt: j.finishedAt as string };
  const md = renderMarkdown(cfg, out, j.startedAt);
  const base = file.slice(0, -'.json'.length);
  fs.writeFileSync(`${base}.md`, md);
  fs.writeFileSync(`${base}.html`, renderHtml(cfg, out.runs, md, j.startedAt));
  process.stdout.write(md);
  return 0;
}

function freeName(dir: string, base: string): string {
  for (let i = 1; ; i++) {
    const name = i === 1 ? base : `${base}-${i}`;
    if (!fs.existsSync(path.join(dir, `${name}.md`)) && !fs.existsSync(path.join(dir, `${name}.json`))) return name;
  }
}

export async function compareMain(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(COMPARE_USAGE);
    return 0;
  }
  const renderAt = args.indexOf('--render');
  if (renderAt !== -1) return renderFromJson(args[renderAt + 1]);
  let cfg: CompareConfig;
  try {
    cfg = parseCompareArgs(args);
  } catch (err) {
    if (err instanceof OptionError) {
      process.stderr.write(`bench compare: ${err.message}\n\n${COMPARE_USAGE}`);
      return 2;
    }
    throw err;
  }
  const startedAt = new Date().toISOString();
  log(`seed ${cfg.base.seed}; ${cfg.servers.join(', ')}; ${cfg.repeats} repeats; traffic ${cfg.traffics.join(', ')}; shapes ${cfg.shapes.map(shapeName).join(', ')}; points of ${cfg.base.warmupMs / 1000}+${cfg.base.durationMs / 1000} s`);
  const out = await runCompare(cfg);
  fs.mkdirSync(cfg.outDir, { recursive: true });
  const name = freeName(cfg.outDir, `${startedAt.slice(0, 10)}${cfg.label === '' ? '' : '-' + cfg.label}`);
  const md = renderMarkdown(cfg, out, startedAt);
  const json = {
    command: cfg.command,
    startedAt,
    finishedAt: out.finishedAt,
    machine: out.machine,
    config: {
      servers: cfg.servers, serverWarmupMs: cfg.serverWarmupMs, idleWaitMs: cfg.idleWaitMs, repeats: cfg.repeats, traffics: cfg.traffics, shapes: cfg.shapes, threads: cfg.threads,
      readPcts: cfg.readPcts, latencyReadPct: cfg.latencyReadPct, offeredLoads: out.rates, serverConfig: cfg.serverConfig, ensembleSize: cfg.ensembleSize, zooidRoot: cfg.zooidRoot, load: { ...cfg.base, hosts: undefined },
    },
    runs: out.runs.map((r) => ({ ...r, series: r.series.map((x) => ({ ...x, sweep: { ...x.sweep, runs: x.sweep.runs.map((run) => ({ ...run, timeline: undefined })) } })) })),
  };
  fs.writeFileSync(path.join(cfg.outDir, `${name}.md`), md);
  fs.writeFileSync(path.join(cfg.outDir, `${name}.json`), JSON.stringify(json, null, 2) + '\n');
  fs.writeFileSync(path.join(cfg.outDir, `${name}.html`), renderHtml(cfg, out.runs, md, startedAt));
  process.stdout.write(md);
  log(`wrote ${path.join(cfg.outDir, name)}.{md,json,html}`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await compareMain(process.argv.slice(2));
}
