// The client-frame fuzzer (issue 12): starts a server (zooid or Apache ZooKeeper 3.8,
// standalone, fresh dataDir), a control client and a janitor (control.ts), then writes
// `--frames` fuzzed frames over many connections at once (fuzzer.ts). Then:
// - the server is still running and serving: ruok answers imok, a new session writes and
//   reads back;
// - the control client verified its register, watches and ephemeral throughout, no
//   request past its deadline, its connections never closed under it;
// - nothing a fuzzer left behind is kept: once the janitor removed their data and their
//   sessions expired, the server's own counts (mntr: znodes, watches, ephemerals, data
//   size, sessions, connections, open files) are what they were before the first frame;
// - its resident memory settles within a bound of its level after warm-up. The bound is
//   loose on purpose: V8 never shrinks a worker's heap once a burst grew it, event loop or
//   not (bench/idle-gc.ts; only a memory-reducing collection does), so RSS settles high
//   (its heap in use stays flat; /metrics shows each thread's, printed with the progress
//   lines). The counts above are the exact check.
//
//   npm run fuzz -- --frames 10000000 --seed 12345                  (zooid; a full run)
//   npm run fuzz -- --frames 200000 --target zookeeper              (the control)
//   npm run fuzz -- --frames 10000000 --results test/fault/results/fuzz-zooid.jsonl
//
// Against ZooKeeper, what it does differently (connections it closes, counts it keeps, a
// JVM heap that stays grown) is recorded, not failed; it must keep serving.
// The seed is printed first; the same seed regenerates every connection's frames.
// Exit code 0 when the run passed, 1 otherwise.
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LeanClient } from '../../client/lean.ts';
import { generateDigest } from '../../engine/core/acl.ts';
import { freshSeed } from '../../loadgen/random.ts';
import { connectWhenServing, fourLetterWord, freePort, startServer, type ServerHandle, type ServerKind } from '../support/servers.ts';
import { rssBytes, mntrValue, threadHeapsMiB } from '../support/probes.ts';
import { waitFor, withDeadline, describeError } from '../support/wait.ts';
import { parseSeed } from '../support/random.ts';
import { isRunning } from '../fault/nemesis.ts';
import { ControlClient, Janitor, SUPER_USER, type ControlStats, type JanitorStats } from './control.ts';
import { DEFAULT_FUZZER_OPTIONS, Fuzzer, type FuzzerStats } from './fuzzer.ts';
import { stopsZooKeeper } from './zookeeper-bugs.ts';

const MiB = 1024 * 1024;

export interface FuzzRunOptions {
  target: ServerKind;
  seed: number;
  frameCount: number;
  slotCount: number;
  /** Resident memory the server may have gained, once settled, over its level after warm-up. */
  rssGrowthBytesMax: number;
  /** Frames written before the warm-up RSS is taken. */
  warmupFrameCount: number;
  /** A control or janitor request slower than this is a hang. */
  requestDeadlineMs: number;
  janitorPeriodMs: number;
  /** Shares of valid and structure-mutated frames (the rest are byte-mutated). */
  validShare: number;
  structureShare: number;
  log: (line: string) => void;
}

export const DEFAULT_RUN_OPTIONS: Omit<FuzzRunOptions, 'target' | 'seed' | 'frameCount' | 'warmupFrameCount' | 'log'> = {
  slotCount: DEFAULT_FUZZER_OPTIONS.slotCount,
  rssGrowthBytesMax: 384 * MiB,
  requestDeadlineMs: 15_000,
  janitorPeriodMs: 2_000,
  validShare: DEFAULT_FUZZER_OPTIONS.validShare,
  structureShare: DEFAULT_FUZZER_OPTIONS.structureShare,
};

/** tickTime 2000 with sessions of at most 10 s: the fuzzers' abandoned sessions are gone soon after the run. */
const SESSION_TIMEOUT_MAX_MS = 10_000;
/** Time for the fuzzers' sessions to expire after the run, and for the janitor's last passes. */
const SETTLE_TIMEOUT_MS = SESSION_TIMEOUT_MAX_MS + 30_000;
/** Time for the server's memory to come back within the bound once settled. */
const RSS_SETTLE_TIMEOUT_MS = 30_000;
/** Progress lines this often. */
const PROGRESS_INTERVAL_MS = 5_000;

/** The server's own counts that must come back once the fuzzers are gone, and by how much each may differ. */
const STATE_KEYS: Readonly<Record<string, number>> = {
  zk_znode_count: 0,
  zk_watch_count: 0,
  zk_ephemerals_count: 0,
  // the control register's value grows by a few digits
  zk_approximate_data_size: 16,
  zk_global_sessions: 0,
  zk_num_alive_connections: 0,
  // a log file rolled with a snapshot meanwhile
  zk_open_file_descriptor_count: 4,
};

export interface FuzzRunResult {
  seed: string;
  target: ServerKind;
  frames: number;
  wallMs: number;
  fuzzMs: number;
  framesPerSec: number;
  rssMiB: { start: number; warm: number; peak: number; end: number; settled: number; growth: number; bound: number };
  /** The server's counts before the first frame and once settled (STATE_KEYS). */
  state: { before: Record<string, number>; after: Record<string, number> };
  /** zooid: each thread's V8 heap (MiB: in use, reserved, external) after warm-up and once settled. */
  heapMiB?: { warm: Record<string, number>; settled: Record<string, number> };
  /** CPU seconds over the fuzzing: the server's, and this process's (frame generation, the control client, the janitor). */
  cpuSeconds: { server: number; fuzzer: number };
  fuzzer: FuzzerStats;
  control: ControlStats;
  janitor: JanitorStats;
  /** Lines of the server's log that name an error (ERROR level, uncaught, exceptions). */
  serverErrorLines: number;
  /** ZooKeeper: what it did that zooid must not (recorded, not failed). */
  recorded: string[];
  verdict: 'ok' | 'failed';
  failures: string[];
  /** Only when the run failed: the end of the server's log. */
  serverLogTail?: string;
}

const hex = (n: number) => '0x' + (n >>> 0).toString(16).padStart(8, '0');
const hex64 = (id: bigint) => '0x' + BigInt.asUintN(64, id).toString(16);
const mib = (bytes: number) => Math.round((bytes / MiB) * 10) / 10;


/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

function serverLog(server: ServerHandle): string {
  try {
    return fs.readFileSync(server.logFile, 'utf8');
  } catch {
    return '';
  }
}

function serverErrorLines(server: ServerHandle): number {
  return serverLog(server).split('\n').filter((l) => /\bERROR\b|uncaught|Unhandled|FATAL|RangeError|TypeError/.test(l)).length;
}

/** The server's log lines that expire one of these sessions (zooid: "expiring session 0x…", ZooKeeper: "Expiring session 0x…"). */
function expiryLines(server: ServerHandle, sessionIds: readonly bigint[]): string[] {
  const ids = new Set(sessionIds.map((id) => BigInt.asUintN(64, id).toString(16)));
  return serverLog(server).split('\n').filter((l) => {
    const m = /[Ee]xpiring session 0x([0-9a-f]+)/.exec(l);
    return m !== null && ids.has(m[1]);
  });
}

async function serverState(server: ServerHandle): Promise<Record<string, number>> {
  const mntr = await fourLetterWord(server.port, 'mntr');
  return Object.fromEntries(Object.keys(STATE_KEYS).map((k) => [k, mntrValue(mntr, k)]));
}

/** A run in progress: the server, the witnesses, and what is measured. */
class Run {
  readonly o: FuzzRunOptions;
  readonly server: ServerHandle;
  readonly metricsPort: number;
  readonly failures: string[] = [];
  readonly recorded: string[] = [];
  readonly rss = { start: 0, warm: 0, peak: 0, end: 0, settled: 0 };
  readonly heaps = { warm: {} as Record<string, number>, settled: {} as Record<string, number> };
  readonly state = { before: {} as Record<string, number>, after: {} as Record<string, number> };
  readonly cpu = { server: 0, fuzzer: 0 };
  fuzzMs = 0;
  fuzzer: Fuzzer | null = null;
  control: ControlClient | null = null;
  janitor: Janitor | null = null;
  /** The janitor works while the fuzzers do; the control client until the counts are taken after them. */
  private janitorLoop: Promise<void> = Promise.resolve();
  private controlLoop: Promise<void> = Promise.resolve();
  private fuzzing = false;
  private controlling = false;

  constructor(o: FuzzRunOptions, server: ServerHandle, metricsPort: number) {
    this.o = o;
    this.server = server;
    this.metricsPort = metricsPort;
  }

  /** The sessions the run holds open throughout: the control client's two and the janitor's. */
  get baselineSessionIds(): bigint[] {
    return [...(this.control?.sessionIds ?? []), ...(this.janitor === null ? [] : [this.janitor.sessionId])];
  }

  fail(what: string): void {
    if (this.failures.length === 0) this.fuzzer?.stop();
    this.failures.push(what);
    this.o.log(`FAIL: ${what}`);
  }

  /** A failure against zooid; against ZooKeeper, a note. */
  deviation(what: string): void {
    if (this.o.target === 'zooid') this.fail(what);
    else {
      this.recorded.push(what);
      this.o.log(`recorded: ${what}`);
    }
  }

  async start(): Promise<void> {
    await (await connectWhenServing(this.server)).close();
    const { o, server } = this;
    this.control = await ControlClient.start({ host: '127.0.0.1', port: server.port, requestDeadlineMs: o.requestDeadlineMs, sessionTimeoutMs: 30_000 });
    this.janitor = await Janitor.start('127.0.0.1', server.port, o.requestDeadlineMs);
    // the readiness probe's session is gone when the counts are taken
    await waitFor(async () => mntrValue(await fourLetterWord(server.port, 'mntr'), 'zk_global_sessions') === 3, { timeoutMs: SETTLE_TIMEOUT_MS, what: 'the readiness probe\'s session to expire' });
    this.state.before = await serverState(server);
    o.log(`baseline sessions: control ${this.control.sessionIds.map(hex64).join(', ')}, janitor ${hex64(this.janitor.sessionId)}`);
    this.rss.start = this.rss.warm = this.rss.peak = rssBytes(server.pid);
    this.fuzzer = new Fuzzer({
      ...DEFAULT_FUZZER_OPTIONS, host: '127.0.0.1', port: server.port, seed: o.seed, frameCount: o.frameCount, slotCount: o.slotCount,
      validShare: o.validShare, structureShare: o.structureShare, protectedSessionId: this.control.sessionId,
      // ZooKeeper is the control: frames that stop it (its bugs) are not sent to it
      withhold: o.target === 'zookeeper' ? stopsZooKeeper : null,
    });
    this.fuzzing = this.controlling = true;
    const control = this.control;
    const janitor = this.janitor;
    this.controlLoop = (async () => {
      while (this.controlling && this.failures.length === 0) await control.round();
    })().catch((e: unknown) => this.fail(`control client: ${describeError(e)}`));
    this.janitorLoop = (async () => {
      while (this.fuzzing && this.failures.length === 0) {
        await janitor.pass();
        await new Promise((resolve) => setTimeout(resolve, o.janitorPeriodMs)); // pacing, not synchronisation
      }
    })().catch((e: unknown) => this.fail(`janitor: ${describeError(e)}`));
  }

  /** Writes the frames, sampling the server's memory (and liveness) meanwhile. */
  async fuzz(): Promise<void> {
    const f = this.fuzzer!;
    const { server, o, rss } = this;
    let warm = false;
    let lastFrames = 0;
    let lastMs = performance.now();
    const sampler = setInterval(() => {
      if (!isRunning(server)) {
        this.fail(`the server (pid ${server.pid}) exited`);
        return;
      }
      const now = rssBytes(server.pid);
      rss.peak = Math.max(rss.peak, now);
      if (!warm && f.stats.framesWritten >= o.warmupFrameCount) {
        warm = true;
        rss.warm = now;
        if (this.metricsPort !== 0) void threadHeapsMiB(this.metricsPort).then((h) => Object.assign(this.heaps.warm, h), () => undefined);
      }
      const t = performance.now();
      if (t - lastMs < PROGRESS_INTERVAL_MS) return;
      const rate = ((f.stats.framesWritten - lastFrames) * 1000) / (t - lastMs);
      const line = `${f.stats.framesWritten} frames (${Math.round(rate)}/s), ${f.stats.connections} connections, RSS ${mib(now)} MiB, ` +
        `control ${this.control!.stats.rounds} rounds (max ${Math.round(this.control!.stats.latencyMsMax)} ms), janitor ${this.janitor!.stats.deleted} deleted`;
      if (this.metricsPort === 0) o.log(line);
      else void threadHeapsMiB(this.metricsPort).then((h) => o.log(`${line}, heaps ${JSON.stringify(h)}`), () => o.log(line));
      lastFrames = f.stats.framesWritten;
      lastMs = t;
    }, 250);
    const startMs = performance.now();
    const serverCpuBefore = cpuSeconds(server.pid);
    const ownCpuBefore = process.cpuUsage();
    try {
      await f.run();
    } finally {
      clearInterval(sampler);
    }
    this.fuzzMs = performance.now() - startMs;
    if (isRunning(server)) this.cpu.server = Math.round((cpuSeconds(server.pid) - serverCpuBefore) * 10) / 10;
    const ownCpu = process.cpuUsage(ownCpuBefore);
    this.cpu.fuzzer = Math.round((ownCpu.user + ownCpu.system) / 1e5) / 10;
    this.fuzzing = false;
    await this.janitorLoop;
  }

  /** After the frames: still serving, the fuzzers' traces gone, the counts back, memory within the bound, the control still right. */
  async checkAfter(): Promise<void> {
    const { o, server, rss, janitor } = this;
    const f = this.fuzzer!;
    if (!isRunning(server)) return this.fail(`the server (pid ${server.pid}) exited`);
    for (const [why, count] of Object.entries(f.stats.withheld)) this.recorded.push(`${count} frames withheld: they stop ZooKeeper 3.8 (${why})`);
    if (f.stats.protectedTaken > 0) this.fail(`a fuzzer was handed the control client's session ${f.stats.protectedTaken} times`);
    if (f.stats.stalls > 0) this.deviation(`${f.stats.stalls} connections stalled: requests unanswered or the connection not closed for ${DEFAULT_FUZZER_OPTIONS.stallMs} ms (after ${f.stats.stalledAfter.join(' | ')})`);
    rss.end = rssBytes(server.pid);
    if (!(await fourLetterWord(server.port, 'ruok', o.requestDeadlineMs)).startsWith('imok')) this.fail('ruok is not answered imok');
    // the fuzzers' data removed (and / open again), their sessions expired
    await waitFor(async () => {
      await janitor!.pass();
      return (await janitor!.leftover()).length === 0;
    }, { timeoutMs: SETTLE_TIMEOUT_MS, what: 'the janitor to remove what the fuzzers made', intervalMs: 200 });
    const fresh = await withDeadline(LeanClient.connect({ host: '127.0.0.1', port: server.port }), o.requestDeadlineMs, 'a new session after the run');
    await fresh.create('/fuzz-after', Buffer.from('served'), 1);
    if ((await fresh.getData('/fuzz-after')).data.toString() !== 'served') this.fail('a new session cannot read back what it wrote');
    await fresh.close();
    let sessions = -1;
    await waitFor(async () => (sessions = mntrValue(await fourLetterWord(server.port, 'mntr'), 'zk_global_sessions')) <= this.state.before.zk_global_sessions,
      { timeoutMs: SETTLE_TIMEOUT_MS, what: 'the fuzzers\' sessions to expire', intervalMs: 250 })
      .catch(() => this.deviation(`${sessions} sessions left ${SETTLE_TIMEOUT_MS} ms after the fuzzers closed (${this.state.before.zk_global_sessions} before)`));
    // the control client stops between rounds: its watches have fired
    this.controlling = false;
    await this.controlLoop;
    this.state.after = await serverState(server);
    for (const [key, slack] of Object.entries(STATE_KEYS)) {
      const [before, after] = [this.state.before[key], this.state.after[key]];
      if (Math.abs(after - before) > slack) this.deviation(`${key} is ${after} after the run, ${before} before`);
    }
    const bound = rss.warm + o.rssGrowthBytesMax;
    try {
      await waitFor(() => (rss.settled = rssBytes(server.pid)) <= bound, { timeoutMs: RSS_SETTLE_TIMEOUT_MS, what: 'RSS to settle', intervalMs: 500 });
    } catch {
      // a JVM keeps the heap it grew to (-Xmx256m): recorded for ZooKeeper
      this.deviation(`RSS settled at ${mib(rss.settled)} MiB, more than ${mib(o.rssGrowthBytesMax)} MiB over ${mib(rss.warm)} MiB after warm-up`);
    }
    if (this.metricsPort !== 0) Object.assign(this.heaps.settled, await threadHeapsMiB(this.metricsPort));
    if (this.failures.length === 0) await this.control!.round();
    // a baseline session gone: the server's log says which and when
    for (const line of expiryLines(server, this.baselineSessionIds)) this.deviation(`a baseline session expired: ${line}`);
    if (this.control!.stats.reconnects > 0) this.deviation(`the server closed control connections ${this.control!.stats.reconnects} times (${this.control!.stats.lostConnections.join(', ')})`);
  }

  async close(): Promise<void> {
    this.fuzzer?.stop();
    this.fuzzing = this.controlling = false;
    await Promise.all([this.janitorLoop, this.controlLoop]);
    await this.control?.close().catch(() => undefined);
    await this.janitor?.close().catch(() => undefined);
  }
}

export async function runFuzz(o: FuzzRunOptions): Promise<FuzzRunResult> {
  const startedMs = performance.now();
  const superDigest = generateDigest(SUPER_USER);
  // zooid's /metrics has each thread's V8 heap: where memory went, if it grew
  const metricsPort = o.target === 'zooid' ? await freePort() : 0;
  const server = await startServer(o.target, {
    config: {
      ...(metricsPort === 0 ? {} : {
        'metricsProvider.className': 'org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider',
        'metricsProvider.httpPort': String(metricsPort),
        'metricsProvider.httpHost': '127.0.0.1',
      }),
      maxSessionTimeout: String(SESSION_TIMEOUT_MAX_MS),
      'zookeeper.extendedTypesEnabled': 'true',
      'zookeeper.DigestAuthenticationProvider.superDigest': superDigest,
    },
    systemProperties: { 'zookeeper.extendedTypesEnabled': 'true', 'zookeeper.DigestAuthenticationProvider.superDigest': superDigest },
  });
  o.log(`${o.target} pid ${server.pid} on port ${server.port}, log ${server.logFile}`);
  const run = new Run(o, server, metricsPort);
  try {
    await run.start();
    await run.fuzz();
    if (run.failures.length === 0) await run.checkAfter();
  } catch (e) {
    run.fail(describeError(e));
  } finally {
    await run.close();
  }
  const { rss, fuzzer, control, janitor } = run;
  const frames = fuzzer?.stats.framesWritten ?? 0;
  const result: FuzzRunResult = {
    seed: hex(o.seed),
    target: o.target,
    frames,
    wallMs: Math.round(performance.now() - startedMs),
    fuzzMs: Math.round(run.fuzzMs),
    framesPerSec: run.fuzzMs > 0 ? Math.round((frames * 1000) / run.fuzzMs) : 0,
    rssMiB: { start: mib(rss.start), warm: mib(rss.warm), peak: mib(rss.peak), end: mib(rss.end), settled: mib(rss.settled), growth: mib(rss.settled - rss.warm), bound: mib(o.rssGrowthBytesMax) },
    state: run.state,
    ...(metricsPort === 0 ? {} : { heapMiB: run.heaps }),
    cpuSeconds: run.cpu,
    fuzzer: fuzzer?.stats ?? ({} as FuzzerStats),
    control: control?.stats ?? ({} as ControlStats),
    janitor: janitor?.stats ?? ({} as JanitorStats),
    serverErrorLines: serverErrorLines(server),
    recorded: run.recorded,
    verdict: run.failures.length === 0 ? 'ok' : 'failed',
    failures: run.failures,
  };
  if (run.failures.length > 0) result.serverLogTail = server.logTail(60);
  await server.stop();
  return result;
}

/** A one-paragraph summary of a run. */
export function summarize(r: FuzzRunResult): string {
  const s = r.fuzzer;
  const topOf = (counts: Record<string, number> | undefined, n: number) => Object.entries(counts ?? {}).sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${k}:${v}`).join(' ');
  return `${r.target} seed ${r.seed}: ${r.verdict}; ${r.frames} frames in ${(r.fuzzMs / 1000).toFixed(1)} s (${r.framesPerSec}/s), ` +
    `${s.connections} connections (${s.sessionsOpened} sessions, ${s.wordConnections} words, ${s.desynchronised} ended after a lying length, ${s.stalls} stalls, ` +
    `${s.closedByServer} closed by the server on [${topOf(s.closedOn, 8)}]), ` +
    `${s.replies} replies (${Math.round((s.replies * 100) / Math.max(1, r.frames))}% of the frames) [${topOf(s.errors, 6)}], ${s.events} events; ` +
    `control ${r.control.rounds} rounds, ${r.control.requests} requests, max ${Math.round(r.control.latencyMsMax)} ms, ${r.control.reconnects} reconnects; ` +
    `CPU server ${r.cpuSeconds.server} s, fuzzer ${r.cpuSeconds.fuzzer} s; ` +
    `RSS start ${r.rssMiB.start} warm ${r.rssMiB.warm} peak ${r.rssMiB.peak} end ${r.rssMiB.end} settled ${r.rssMiB.settled} MiB; ` +
    `counts before ${JSON.stringify(r.state.before)} after ${JSON.stringify(r.state.after)}; server error lines ${r.serverErrorLines}` +
    (r.recorded.length > 0 ? `\nrecorded (ZooKeeper):\n  ${r.recorded.join('\n  ')}` : '') +
    (r.failures.length > 0 ? `\nfailures:\n  ${r.failures.join('\n  ')}` : '');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      frames: { type: 'string', default: '1000000' },
      seed: { type: 'string' },
      target: { type: 'string', default: 'zooid' },
      connections: { type: 'string', default: String(DEFAULT_RUN_OPTIONS.slotCount) },
      'rss-growth-mib': { type: 'string', default: String(DEFAULT_RUN_OPTIONS.rssGrowthBytesMax / MiB) },
      'valid-share': { type: 'string', default: String(DEFAULT_RUN_OPTIONS.validShare) },
      'structure-share': { type: 'string', default: String(DEFAULT_RUN_OPTIONS.structureShare) },
      results: { type: 'string' },
    },
  });
  const target = values.target as ServerKind;
  if (target !== 'zooid' && target !== 'zookeeper') throw new Error(`--target must be zooid or zookeeper, not ${values.target}`);
  const seed = values.seed !== undefined ? parseSeed(values.seed) : freshSeed();
  const frameCount = Number(values.frames);
  console.log(`fuzz: ${frameCount} frames against ${target}, seed ${hex(seed)} (--seed ${hex(seed)} replays it), ${values.connections} connections`);
  const result = await runFuzz({
    ...DEFAULT_RUN_OPTIONS, target, seed, frameCount, slotCount: Number(values.connections),
    rssGrowthBytesMax: Number(values['rss-growth-mib']) * MiB, validShare: Number(values['valid-share']), structureShare: Number(values['structure-share']),
    warmupFrameCount: Math.min(Math.round(frameCount * 0.05), 500_000),
    log: (line) => console.log(line),
  });
  console.log(summarize(result));
  if (values.results !== undefined) fs.appendFileSync(values.results, JSON.stringify(result) + '\n');
  if (result.serverLogTail !== undefined) console.log(`server log (end):\n${result.serverLogTail}`);
  process.exit(result.verdict === 'ok' ? 0 : 1);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(2);
  });
}
