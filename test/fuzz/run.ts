// The client-frame fuzzer (issue 12): starts a server (zooid or Apache ZooKeeper 3.8,
// standalone, fresh dataDir), a control client and a janitor (control.ts), then writes
// `--frames` fuzzed frames over many connections at once (fuzzer.ts). At the end the
// server must still be running and serving (a new session works, ruok answers imok), the
// control client must have verified its data, watches and session throughout with no
// request past its deadline, and the server's resident memory, once the fuzzers' sessions
// are gone and their data removed, must be within a bound of what it was after warm-up.
//
//   npm run fuzz -- --frames 10000000 --seed 12345                  (zooid; a full run)
//   npm run fuzz -- --frames 200000 --target zookeeper              (the control)
//   npm run fuzz -- --frames 10000000 --results test/fault/results/fuzz-zooid.jsonl
//
// The seed is printed first; the same seed regenerates every connection's frames.
// Exit code 0 when the run passed, 1 otherwise.
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LeanClient } from '../../client/lean.ts';
import { generateDigest } from '../../engine/core/acl.ts';
import { freshSeed } from '../../loadgen/random.ts';
import { connectWhenServing, fourLetterWord, startServer, type ServerHandle, type ServerKind } from '../support/servers.ts';
import { rssBytes, mntrValue } from '../support/probes.ts';
import { waitFor, withDeadline, describeError } from '../support/wait.ts';
import { ControlClient, Janitor, SUPER_USER, type ControlStats, type JanitorStats } from './control.ts';
import { DEFAULT_FUZZER_OPTIONS, Fuzzer, type FuzzerStats } from './fuzzer.ts';

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
  log: (line: string) => void;
}

export const DEFAULT_RUN_OPTIONS: Omit<FuzzRunOptions, 'target' | 'seed' | 'frameCount' | 'log'> = {
  slotCount: DEFAULT_FUZZER_OPTIONS.slotCount,
  rssGrowthBytesMax: 128 * MiB,
  warmupFrameCount: 0,
  requestDeadlineMs: 15_000,
  janitorPeriodMs: 2_000,
};

/** tickTime 2000 with sessions of at most 10 s: the fuzzers' abandoned sessions are gone soon after the run. */
const SESSION_TIMEOUT_MAX_MS = 10_000;
/** Time for the fuzzers' sessions to expire after the run, and for the janitor's last passes. */
const SETTLE_TIMEOUT_MS = SESSION_TIMEOUT_MAX_MS + 30_000;
/** Time for the server's memory to come back within the bound once settled. */
const RSS_SETTLE_TIMEOUT_MS = 30_000;
/** Progress lines this often. */
const PROGRESS_INTERVAL_MS = 5_000;

export interface FuzzRunResult {
  seed: string;
  target: ServerKind;
  frames: number;
  wallMs: number;
  fuzzMs: number;
  framesPerSec: number;
  rssMiB: { start: number; warm: number; peak: number; end: number; settled: number; growth: number; bound: number };
  fuzzer: FuzzerStats;
  control: ControlStats;
  janitor: JanitorStats;
  /** Lines of the server's log that name an error (ERROR level, uncaught, exceptions). */
  serverErrorLines: number;
  verdict: 'ok' | 'failed';
  failures: string[];
  /** Only when the run failed: the end of the server's log. */
  serverLogTail?: string;
}

const hex = (n: number) => '0x' + (n >>> 0).toString(16).padStart(8, '0');
const mib = (bytes: number) => Math.round((bytes / MiB) * 10) / 10;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function serverErrorLines(server: ServerHandle): number {
  let text = '';
  try {
    text = fs.readFileSync(server.logFile, 'utf8');
  } catch {
    return 0;
  }
  return text.split('\n').filter((l) => /\bERROR\b|uncaught|Unhandled|FATAL|RangeError|TypeError/.test(l)).length;
}

export async function runFuzz(o: FuzzRunOptions): Promise<FuzzRunResult> {
  const startedMs = performance.now();
  const failures: string[] = [];
  const superDigest = generateDigest(SUPER_USER);
  const server = await startServer(o.target, {
    config: {
      maxSessionTimeout: String(SESSION_TIMEOUT_MAX_MS),
      'zookeeper.extendedTypesEnabled': 'true',
      'zookeeper.DigestAuthenticationProvider.superDigest': superDigest,
    },
    systemProperties: { 'zookeeper.extendedTypesEnabled': 'true', 'zookeeper.DigestAuthenticationProvider.superDigest': superDigest },
  });
  const rss = { start: 0, warm: 0, peak: 0, end: 0, settled: 0 };
  let fuzzer: Fuzzer | null = null;
  let control: ControlClient | null = null;
  let janitor: Janitor | null = null;
  let fuzzMs = 0;
  let fuzzing = false;
  let loops: Promise<unknown>[] = [];
  const fail = (what: string) => {
    if (failures.length === 0) fuzzer?.stop();
    failures.push(what);
    o.log(`FAIL: ${what}`);
  };
  try {
    (await connectWhenServing(server)).disconnect();
    control = await ControlClient.start({ host: '127.0.0.1', port: server.port, requestDeadlineMs: o.requestDeadlineMs, sessionTimeoutMs: 30_000 });
    janitor = await Janitor.start('127.0.0.1', server.port, o.requestDeadlineMs);
    rss.start = rss.warm = rss.peak = rssBytes(server.pid);
    fuzzer = new Fuzzer({
      ...DEFAULT_FUZZER_OPTIONS, host: '127.0.0.1', port: server.port, seed: o.seed, frameCount: o.frameCount, slotCount: o.slotCount,
      protectedSessionId: control.sessionId,
    });
    const f = fuzzer;
    fuzzing = true;
    const controlLoop = (async () => {
      while (fuzzing && failures.length === 0) await control!.round();
    })().catch((e: unknown) => fail(`control client: ${describeError(e)}`));
    const janitorLoop = (async () => {
      while (fuzzing && failures.length === 0) {
        await janitor!.pass();
        await new Promise((resolve) => setTimeout(resolve, o.janitorPeriodMs)); // pacing, not synchronisation
      }
    })().catch((e: unknown) => fail(`janitor: ${describeError(e)}`));
    let warm = o.warmupFrameCount === 0;
    let lastFrames = 0;
    let lastMs = performance.now();
    loops = [controlLoop, janitorLoop];
    const sampler = setInterval(() => {
      if (!isAlive(server.pid)) {
        fail(`the server (pid ${server.pid}) exited`);
        return;
      }
      const now = rssBytes(server.pid);
      rss.peak = Math.max(rss.peak, now);
      if (!warm && f.stats.framesWritten >= o.warmupFrameCount) {
        warm = true;
        rss.warm = now;
      }
      const t = performance.now();
      if (t - lastMs >= PROGRESS_INTERVAL_MS) {
        const rate = ((f.stats.framesWritten - lastFrames) * 1000) / (t - lastMs);
        o.log(`${f.stats.framesWritten} frames (${Math.round(rate)}/s), ${f.stats.connections} connections, RSS ${mib(now)} MiB, control ${control!.stats.rounds} rounds (max ${Math.round(control!.stats.latencyMsMax)} ms), janitor ${janitor!.stats.deleted} deleted`);
        lastFrames = f.stats.framesWritten;
        lastMs = t;
      }
    }, 250);
    const fuzzStartMs = performance.now();
    await f.run();
    fuzzMs = performance.now() - fuzzStartMs;
    fuzzing = false;
    clearInterval(sampler);
    await Promise.all(loops);
    if (!isAlive(server.pid)) fail(`the server (pid ${server.pid}) exited`);
    if (failures.length === 0) await checkAfter(o, server, control, janitor, rss, fail);
  } catch (e) {
    fail(describeError(e));
  } finally {
    fuzzer?.stop();
    fuzzing = false;
    await Promise.all(loops);
    await control?.close().catch(() => undefined);
    await janitor?.close().catch(() => undefined);
  }
  const result: FuzzRunResult = {
    seed: hex(o.seed),
    target: o.target,
    frames: fuzzer?.stats.framesWritten ?? 0,
    wallMs: Math.round(performance.now() - startedMs),
    fuzzMs: Math.round(fuzzMs),
    framesPerSec: fuzzMs > 0 ? Math.round(((fuzzer?.stats.framesWritten ?? 0) * 1000) / fuzzMs) : 0,
    rssMiB: { start: mib(rss.start), warm: mib(rss.warm), peak: mib(rss.peak), end: mib(rss.end), settled: mib(rss.settled), growth: mib(rss.settled - rss.warm), bound: mib(o.rssGrowthBytesMax) },
    fuzzer: fuzzer?.stats ?? ({} as FuzzerStats),
    control: control?.stats ?? ({} as ControlStats),
    janitor: janitor?.stats ?? ({} as JanitorStats),
    serverErrorLines: serverErrorLines(server),
    verdict: failures.length === 0 ? 'ok' : 'failed',
    failures,
  };
  if (failures.length > 0) result.serverLogTail = server.logTail(60);
  await server.stop();
  return result;
}

/** After the frames: still serving, the control still right, the fuzzers' traces gone, memory back within the bound. */
async function checkAfter(o: FuzzRunOptions, server: ServerHandle, control: ControlClient, janitor: Janitor, rss: { warm: number; end: number; settled: number }, fail: (what: string) => void): Promise<void> {
  rss.end = rssBytes(server.pid);
  await control.round();
  if (!(await fourLetterWord(server.port, 'ruok', o.requestDeadlineMs)).startsWith('imok')) fail('ruok is not answered imok');
  const fresh = await withDeadline(LeanClient.connect({ host: '127.0.0.1', port: server.port }), o.requestDeadlineMs, 'a new session after the run');
  await fresh.create('/fuzz-after', Buffer.from('served'), 1);
  if ((await fresh.getData('/fuzz-after')).data.toString() !== 'served') fail('a new session cannot read back what it wrote');
  await fresh.close();
  // the fuzzers' data removed, their sessions expired (only the control's two and the janitor's left)
  await waitFor(async () => {
    await janitor.pass();
    return (await janitor.leftover()).length === 0;
  }, { timeoutMs: SETTLE_TIMEOUT_MS, what: 'the janitor to remove what the fuzzers made', intervalMs: 200 });
  await waitFor(async () => mntrValue(await fourLetterWord(server.port, 'mntr'), 'zk_global_sessions') <= 3,
    { timeoutMs: SETTLE_TIMEOUT_MS, what: 'the fuzzers\' sessions to expire', intervalMs: 250 });
  await control.round();
  const bound = rss.warm + o.rssGrowthBytesMax;
  try {
    await waitFor(() => (rss.settled = rssBytes(server.pid)) <= bound, { timeoutMs: RSS_SETTLE_TIMEOUT_MS, what: 'RSS to settle', intervalMs: 500 });
  } catch {
    fail(`RSS settled at ${mib(rss.settled)} MiB, more than ${mib(o.rssGrowthBytesMax)} MiB over ${mib(rss.warm)} MiB after warm-up`);
  }
}

/** A one-line summary of a run. */
export function summarize(r: FuzzRunResult): string {
  const s = r.fuzzer;
  const top = Object.entries(s.errors ?? {}).sort((a, b) => b[1] - a[1]).slice(0, 6).map(([code, n]) => `${code}:${n}`).join(' ');
  return `${r.target} seed ${r.seed}: ${r.verdict}; ${r.frames} frames in ${(r.fuzzMs / 1000).toFixed(1)} s (${r.framesPerSec}/s), ` +
    `${s.connections} connections (${s.sessionsOpened} sessions, ${s.wordConnections} words, ${s.closedByServer} closed by the server, ${s.stalls} stalls), ` +
    `${s.replies} replies [${top}], ${s.events} events; control ${r.control.rounds} rounds, ${r.control.requests} requests, max ${Math.round(r.control.latencyMsMax)} ms; ` +
    `RSS start ${r.rssMiB.start} warm ${r.rssMiB.warm} peak ${r.rssMiB.peak} end ${r.rssMiB.end} settled ${r.rssMiB.settled} MiB; server error lines ${r.serverErrorLines}` +
    (r.failures.length > 0 ? `\nfailures:\n  ${r.failures.join('\n  ')}` : '');
}

function parseSeed(text: string): number {
  const n = text.startsWith('0x') ? parseInt(text, 16) : Number(text);
  if (!Number.isInteger(n)) throw new Error(`--seed must be an integer, not ${text}`);
  return n >>> 0;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      frames: { type: 'string', default: '1000000' },
      seed: { type: 'string' },
      target: { type: 'string', default: 'zooid' },
      connections: { type: 'string', default: String(DEFAULT_RUN_OPTIONS.slotCount) },
      'rss-growth-mib': { type: 'string', default: String(DEFAULT_RUN_OPTIONS.rssGrowthBytesMax / MiB) },
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
    rssGrowthBytesMax: Number(values['rss-growth-mib']) * MiB, warmupFrameCount: Math.min(Math.round(frameCount * 0.05), 500_000),
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
