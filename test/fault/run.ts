// The fault campaign runner (issue 12): each run starts a server (zooid or Apache
// ZooKeeper 3.8, standalone) on a fresh dataDir, puts the fault proxy in front of it,
// drives register, sequential-create and FIFO workers through real connections for a few
// seconds while a seeded nemesis kills, pauses and cuts, heals everything, reads the state
// back, checks the history (checker.ts, invariants.ts) and appends one JSON line to the
// results file.
//
//   npm run fault -- --runs 200 --seed 12345 --target zooid --nemesis kill9,pause,proxy-cut,proxy-delay --duration 4000
//   npm run fault -- --run-seed 0x1234abcd --target zooid      (replay one run)
//   npm run fault -- --plant fake-ack --runs 3                  (a planted bug the checker must catch; also stale-read)
//   npm run fault -- --plant ack-before-write --nemesis kill9 --runs 3   (a broken build of zooid: test/fault/broken-build.ts)
//   npm run fault -- --runs 1000 --minutes 60                   (stop starting runs after an hour)
//   npm run fault -- --runs 30 --target zooid-ensemble          (an ensemble of three: also zookeeper-ensemble, mixed-ensemble;
//                                                                nemeses ensemble-nemesis.ts; runs ensemble-run.ts)
//   node test/fault/summary.ts test/fault/results/*.jsonl       (totals of recorded campaigns)
//
// Exit code: 0 when no run found a violation or failed, 1 otherwise.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ZkError } from '../../client/lean.ts';
import { Err } from '../../engine/protocol.ts';
import { deriveSeed, freshSeed, seededRandom } from '../../loadgen/random.ts';
import { connectWhenServing, startServer, type ServerHandle, type ServerKind } from '../support/servers.ts';
import { waitFor, withDeadline } from '../support/wait.ts';
import { parseSeed } from '../support/random.ts';
import { checkHistory, formatViolation, type RegisterState } from './checker.ts';
import { HistoryRecorder, type InvariantViolation } from './history.ts';
import { checkAckedWritesKept, checkSeqCreates } from './invariants.ts';
import { ALL_NEMESIS_KINDS, ENSEMBLE_NEMESIS_KINDS, NEMESIS_KINDS, eraseLogTail, faketimeEnv, isRunning, parseNemeses, runNemesis, type NemesisEvent, type NemesisKind } from './nemesis.ts';
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import { PLANTED_BUGS, startFaultProxy, type PlantedBug } from './proxy.ts';
import { BROKEN_BUILD_NAMES, brokenBuildRoot, type BrokenBuildName } from './broken-build.ts';
import { ENSEMBLE_TARGETS, isEnsembleTarget, type EnsembleTarget } from './ensemble-target.ts';
import { runEnsembleOnce } from './ensemble-run.ts';

/** A bug planted on purpose: in the fault proxy (proxy.ts), in the dataDir after kill -9 (lost-tail), or in a broken build of zooid (broken-build.ts). */
export type Plant = PlantedBug | BrokenBuildName;
export const PLANTS: readonly Plant[] = [...PLANTED_BUGS, ...BROKEN_BUILD_NAMES];
const isBrokenBuild = (plant: Plant): plant is BrokenBuildName => (BROKEN_BUILD_NAMES as readonly string[]).includes(plant);
import {
  EPHEMERAL_PARENT,
  FAULT_ROOT,
  FIFO_PARENT,
  REGISTER_INITIAL_VALUE,
  SEQ_PARENT,
  ephemeralWorker,
  fifoWorker,
  registerPath,
  registerWorker,
  seqCreateWorker,
  watchWorker,
  type FifoStats,
  type WatchStats,
  type WorkloadOptions,
} from './workload.ts';

/** A standalone server, or an ensemble of three (ensemble-target.ts). */
export type FaultTarget = ServerKind | EnsembleTarget;
export const FAULT_TARGETS: readonly FaultTarget[] = ['zooid', 'zookeeper', ...ENSEMBLE_TARGETS];

export interface RunOptions {
  target: FaultTarget;
  seed: number;
  nemeses: readonly NemesisKind[];
  durationMs: number;
  registerWorkerCount: number;
  registerCount: number;
  seqWorkerCount: number;
  plant: Plant;
  plantRate: number;
  sessionTimeoutMs: number;
  requestTimeoutMs: number;
  /** Keep the dataDir of a run that did not pass (off for runs expected to fail, like a planted bug's). */
  keepFailed: boolean;
}

export const DEFAULT_RUN_OPTIONS: Omit<RunOptions, 'target' | 'seed'> = {
  nemeses: NEMESIS_KINDS,
  durationMs: 4_000,
  registerWorkerCount: 3,
  registerCount: 3,
  seqWorkerCount: 1,
  plant: 'none',
  plantRate: 0.05,
  // tickTime 500 lets sessions be this short (ZooKeeper's floor is 2 × tickTime), so pauses can outlive them
  sessionTimeoutMs: 2_000,
  // longer than any pause or delay the nemesis makes: a request that takes this long is stuck
  requestTimeoutMs: 8_000,
  keepFailed: true,
};
const SERVER_CONFIG: Record<string, string> = { tickTime: '500' };
/**
 * Ensembles run tickTime 1000 (test/support/ensemble.ts), so sessions of 4 s: some outlive
 * an election; and longer runs, so several faults (each up to seconds) land in one.
 */
export const ENSEMBLE_RUN_OPTIONS = { durationMs: 8_000, sessionTimeoutMs: 4_000, nemeses: ENSEMBLE_NEMESIS_KINDS } as const;
/** disk-full runs: the dataDir's own tmpfs, and log files preallocated in 1 MiB steps (ZooKeeper takes preAllocSize from zoo.cfg as zookeeper.preAllocSize) so a few MiB hold a run. */
const DISK_BYTES = 48 << 20;
const DISK_CONFIG: Record<string, string> = { preAllocSize: '1024' };
/** The planted bug lost-tail erases this many of the newest log entries at each kill -9: more than the requests the workers can have in flight, so some were acknowledged. */
const LOST_TAIL_ENTRIES = 12;
/** Beyond 3 session timeouts, how long an ephemeral of a lost session may outlive it (expiry runs on tickTime buckets; a restarted server restarts the clocks). */
const EPHEMERAL_EXPIRY_SLACK_MS = 10_000;
/** Time allowed, after the run's duration, for workers to finish the request in flight. */
const WIND_DOWN_MS = 20_000;

export interface RunResult {
  seed: string;
  target: FaultTarget;
  nemeses: readonly NemesisKind[];
  plant: Plant;
  durationMs: number;
  wallMs: number;
  events: NemesisEvent[];
  counts: {
    registerOps: number;
    ok: number;
    fail: number;
    unknown: number;
    seqCreates: number;
    seqAcked: number;
    fifoBatches: number;
    fakeAcks: number;
    watchesSet: number;
    watchesFired: number;
    ephemeralChecks: number;
    /** After the workers closed their sessions: until the last ephemeral was gone. */
    ephemeralsGoneMs: number;
  };
  checkSteps: number;
  verdict: 'ok' | 'violation' | 'unknown' | 'error';
  violations: InvariantViolation[];
  error?: string;
  /** Kept for a look when the run did not pass. */
  dataDir?: string;
}

const hex = (n: number) => '0x' + (n >>> 0).toString(16).padStart(8, '0');

export async function runOnce(o: RunOptions): Promise<RunResult> {
  if (isEnsembleTarget(o.target)) return runEnsembleOnce({ ...o, target: o.target });
  return runStandaloneOnce({ ...o, target: o.target });
}

async function runStandaloneOnce(o: RunOptions & { target: ServerKind }): Promise<RunResult> {
  const startedMs = performance.now();
  const handles: ServerHandle[] = [];
  let current: ServerHandle | null = null;
  const result: RunResult = {
    seed: hex(o.seed),
    target: o.target,
    nemeses: o.nemeses,
    plant: o.plant,
    durationMs: o.durationMs,
    wallMs: 0,
    events: [],
    counts: { registerOps: 0, ok: 0, fail: 0, unknown: 0, seqCreates: 0, seqAcked: 0, fifoBatches: 0, fakeAcks: 0, watchesSet: 0, watchesFired: 0, ephemeralChecks: 0, ephemeralsGoneMs: 0 },
    checkSteps: 0,
    verdict: 'ok',
    violations: [],
  };
  let proxy: Awaited<ReturnType<typeof startFaultProxy>> | null = null;
  let disk: string | null = null;
  let clockDir: string | null = null;
  let clockFile: string | undefined;
  let env: Record<string, string> | undefined;
  let config = SERVER_CONFIG;
  try {
    let dataDir: string | undefined;
    if (o.nemeses.includes('disk-full')) {
      disk = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-fault-disk-'));
      const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${DISK_BYTES}`, 'tmpfs', disk], { encoding: 'utf8' });
      if (mounted.status !== 0) {
        fs.rmSync(disk, { recursive: true, force: true });
        disk = null;
        throw new Error(`disk-full needs to mount a tmpfs: ${(mounted.stderr || mounted.error?.message || '').trim()}`);
      }
      dataDir = path.join(disk, 'data');
      fs.mkdirSync(dataDir);
      config = { ...SERVER_CONFIG, ...DISK_CONFIG };
    }
    if (isBrokenBuild(o.plant) && o.target !== 'zooid') throw new Error(`the broken build ${o.plant} is a build of zooid: --target zooid`);
    const zooidRoot = isBrokenBuild(o.plant) ? brokenBuildRoot(o.plant) : undefined;
    if (o.nemeses.includes('clock-jump')) {
      clockDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-fault-clock-'));
      clockFile = path.join(clockDir, 'offset');
      env = faketimeEnv(clockFile);
    }
    current = await startServer(o.target, { config, keepDir: true, dataDir, zooidRoot, env });
    handles.push(current);
    const first = current;
    const setup = await connectWhenServing(current);
    await setup.create(FAULT_ROOT);
    for (let i = 0; i < o.registerCount; i++) await setup.create(registerPath(i), Buffer.from(REGISTER_INITIAL_VALUE));
    await setup.create(SEQ_PARENT);
    await setup.create(FIFO_PARENT);
    await setup.create(EPHEMERAL_PARENT);
    await setup.close();

    proxy = await startFaultProxy(current.port, { plant: isBrokenBuild(o.plant) ? 'none' : o.plant, plantRate: o.plantRate, random: seededRandom(deriveSeed(o.seed, 1)) });
    const history = new HistoryRecorder(() => performance.now());
    const untilMs = history.now() + o.durationMs;
    const base = (stream: number): WorkloadOptions => ({
      host: '127.0.0.1',
      port: proxy!.port,
      sessionTimeoutMs: o.sessionTimeoutMs,
      requestTimeoutMs: o.requestTimeoutMs,
      random: seededRandom(deriveSeed(o.seed, 2, stream)),
      history,
      registerCount: o.registerCount,
      isStopped: () => history.now() >= untilMs,
    });
    const fifoStats: FifoStats = { batchCount: 0 };
    const workers: Promise<void>[] = [];
    for (let i = 0; i < o.registerWorkerCount; i++) workers.push(registerWorker(`w${i}`, base(i)));
    for (let i = 0; i < o.seqWorkerCount; i++) workers.push(seqCreateWorker(`s${i}`, base(100 + i)));
    workers.push(fifoWorker('f0', base(200), fifoStats));
    const watchStats: WatchStats = { setCount: 0, firedCount: 0 };
    workers.push(watchWorker('v0', base(300), watchStats));
    const ephemeralStats = { checkCount: 0 };
    workers.push(ephemeralWorker('e0', base(400), ephemeralStats));

    const restart = async (): Promise<void> => {
      current = await startServer(o.target, { config, keepDir: true, dataDir: first.dataDir, port: first.port, zooidRoot, env });
      handles.push(current);
    };
    await runNemesis(
      {
        server: () => current!,
        restart,
        proxy,
        sessionTimeoutMs: o.sessionTimeoutMs,
        diskDir: disk ?? undefined,
        clockFile,
        afterKill: o.plant === 'lost-tail' ? (dataDir) => eraseLogTail(dataDir, LOST_TAIL_ENTRIES) : undefined,
      },
      o.nemeses,
      seededRandom(deriveSeed(o.seed, 3)),
      () => history.now(),
      untilMs,
      result.events,
    );
    await withDeadline(Promise.all(workers), o.requestTimeoutMs + WIND_DOWN_MS, 'the workers to finish their last requests');
    await proxy.close();

    // read everything back directly from the healed server
    if (!isRunning(current)) throw new Error(`the ${o.target} server is not running at the end of the run`);
    const reader = await connectWhenServing(current);
    // the znodes the setup created were acknowledged: one missing is a lost acknowledged create
    const missing: string[] = [];
    const orMissing = async <T>(path: string, read: () => Promise<T>, otherwise: T): Promise<T> => {
      try {
        return await read();
      } catch (error) {
        if (!(error instanceof ZkError && error.code === Err.NONODE)) throw error;
        missing.push(path);
        return otherwise;
      }
    };
    const finalVersions = new Map<string, number>();
    for (let i = 0; i < o.registerCount; i++) {
      const key = registerPath(i);
      const got = await orMissing(key, () => reader.getData(key), null);
      if (got === null) continue;
      const op = history.invokeRegister('final', key, 'read');
      history.complete(op, 'ok', { value: got.data.toString('utf8'), version: got.stat.version });
      finalVersions.set(key, got.stat.version);
    }
    const children = new Set(await orMissing(SEQ_PARENT, () => reader.getChildren(SEQ_PARENT), []));
    // every session that created an ephemeral is closed or lost by now: its ephemeral goes at
    // once (closeSession) or when the session expires (after the restart, for a killed server)
    const goneFromMs = performance.now();
    const ephemeralParentThere = (await orMissing(EPHEMERAL_PARENT, () => reader.getChildren(EPHEMERAL_PARENT), null)) !== null;
    const ephemeralsLeft = !ephemeralParentThere
      ? 'none'
      : await waitFor(
          async () => {
            const left = await reader.getChildren(EPHEMERAL_PARENT);
            return left.length === 0 ? 'none' : performance.now() - goneFromMs > EPHEMERAL_EXPIRY_SLACK_MS + 3 * o.sessionTimeoutMs ? left.join(', ') : null;
          },
          { timeoutMs: 2 * (EPHEMERAL_EXPIRY_SLACK_MS + 3 * o.sessionTimeoutMs), what: 'the ephemerals of closed and expired sessions to go', intervalMs: 100 },
        );
    const ephemeralsGoneMs = Math.round(performance.now() - goneFromMs);
    await reader.close();

    const initial = (): RegisterState => ({ value: REGISTER_INITIAL_VALUE, version: 0 });
    const verdict = checkHistory(history.registerOps, initial);
    result.checkSteps = verdict.steps;
    const violations: InvariantViolation[] = [...history.violations];
    for (const v of verdict.violations) {
      const lines = formatViolation(v, initial());
      violations.push({ invariant: 'linearizable', detail: lines[0], history: lines.slice(1) });
    }
    if (verdict.undecidedKeys.length > 0) violations.push({ invariant: 'check-gave-up', detail: `search limit reached on ${verdict.undecidedKeys.join(', ')}` });
    violations.push(...checkAckedWritesKept(history.registerOps, finalVersions));
    if (missing.length > 0) violations.push({ invariant: 'acked-create-lost', detail: `znodes the setup created (acknowledged) are missing after recovery: ${missing.join(', ')}` });
    violations.push(...checkSeqCreates(history.seqCreates, children, SEQ_PARENT));
    if (ephemeralsLeft !== 'none') {
      violations.push({ invariant: 'ephemeral-outlived-session', detail: `${ephemeralsGoneMs} ms after every owner session was closed or lost, ephemerals remain: ${ephemeralsLeft}` });
    }
    result.violations = violations;
    const hard = violations.filter((v) => v.invariant !== 'check-gave-up');
    result.verdict = hard.length > 0 ? 'violation' : violations.length > 0 ? 'unknown' : 'ok';

    const ops = history.registerOps.filter((op) => op.process !== 'final');
    result.counts = {
      registerOps: ops.length,
      ok: ops.filter((op) => op.outcome === 'ok').length,
      fail: ops.filter((op) => op.outcome === 'fail').length,
      unknown: ops.filter((op) => op.outcome === 'unknown').length,
      seqCreates: history.seqCreates.length,
      seqAcked: history.seqCreates.filter((c) => c.outcome === 'ok').length,
      fifoBatches: fifoStats.batchCount,
      fakeAcks: proxy.fakeAckCount,
      watchesSet: watchStats.setCount,
      watchesFired: watchStats.firedCount,
      ephemeralChecks: ephemeralStats.checkCount,
      ephemeralsGoneMs,
    };
  } catch (error) {
    result.verdict = 'error';
    result.error = `${(error as Error).message}${current !== null ? `\nserver log tail:\n${(current as ServerHandle).logTail(20)}` : ''}`;
  } finally {
    await proxy?.close().catch(() => undefined);
    const keep = result.verdict !== 'ok' && o.keepFailed;
    if (keep && handles.length > 0) result.dataDir = handles[0].dataDir;
    // started with keepDir (a restart reuses the first dataDir): the temp dirs are ours to remove
    for (const h of handles) {
      if (keep) await h.kill9().catch(() => undefined);
      else await h.stop().catch(() => undefined);
    }
    if (disk !== null) {
      // the dataDir lives on the run's tmpfs: keep a copy of it on disk before unmounting
      if (keep) {
        const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-fault-kept-'));
        fs.cpSync(path.join(disk, 'data'), copy, { recursive: true });
        result.dataDir = copy;
      }
      spawnSync('umount', [disk]);
      fs.rmSync(disk, { recursive: true, force: true });
    }
    if (!keep) for (const h of handles) fs.rmSync(h.dir, { recursive: true, force: true });
    if (clockDir !== null) fs.rmSync(clockDir, { recursive: true, force: true });
    result.wallMs = Math.round(performance.now() - startedMs);
  }
  return result;
}

/** One line for the console. */
export function summarize(index: number, total: number, r: RunResult): string {
  const kinds = new Map<string, number>();
  for (const e of r.events) kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + 1);
  const nemeses = [...kinds].map(([k, n]) => `${k}×${n}`).join(' ') || 'no faults';
  const c = r.counts;
  const head = `run ${index + 1}/${total} seed ${r.seed} ${r.target}${r.plant !== 'none' ? ` plant=${r.plant}` : ''}: ${nemeses}; ${c.registerOps} register ops (${c.unknown} unknown), ${c.seqAcked} seq creates, ${c.fifoBatches} fifo batches, ${c.watchesFired}/${c.watchesSet} watches fired, ${c.ephemeralChecks} ephemeral checks; ${(r.wallMs / 1000).toFixed(1)} s → ${r.verdict.toUpperCase()}`;
  const lines = [head];
  for (const v of r.violations) {
    lines.push(`  [${v.invariant}] ${v.detail}`);
    for (const h of v.history ?? []) lines.push(`  ${h}`);
  }
  if (r.error !== undefined) lines.push(`  error: ${r.error.split('\n').join('\n  ')}`);
  if (r.dataDir !== undefined) lines.push(`  dataDir kept: ${r.dataDir}`);
  if (r.verdict !== 'ok') lines.push(`  replay: npm run fault -- --target ${r.target} --run-seed ${r.seed} --nemesis ${r.nemeses.join(',') || 'none'} --duration ${r.durationMs}${r.plant !== 'none' ? ` --plant ${r.plant}` : ''}`);
  return lines.join('\n');
}

export interface CampaignOptions extends Omit<RunOptions, 'seed'> {
  campaignSeed: number;
  runCount: number;
  /** Run exactly this seed once instead of seeds derived from campaignSeed. */
  runSeed?: number;
  resultsFile: string | null;
  log: (line: string) => void;
  /** Stop at the first run that is not ok. */
  stopOnFailure?: boolean;
  /** Start no run after this many ms (the campaign ends early, its results say how many runs it made). */
  budgetMs?: number;
}

export async function runCampaign(c: CampaignOptions): Promise<RunResult[]> {
  const results: RunResult[] = [];
  if (c.resultsFile !== null) fs.mkdirSync(path.dirname(c.resultsFile), { recursive: true });
  const startedMs = performance.now();
  for (let i = 0; i < c.runCount; i++) {
    if (c.budgetMs !== undefined && performance.now() - startedMs > c.budgetMs) {
      c.log(`time budget of ${(c.budgetMs / 60_000).toFixed(1)} min used: stopping after ${i} of ${c.runCount} runs`);
      break;
    }
    const seed = c.runSeed ?? deriveSeed(c.campaignSeed, 0x5eed, i);
    const r = await runOnce({ ...c, seed });
    results.push(r);
    c.log(summarize(i, c.runCount, r));
    if (c.resultsFile !== null) fs.appendFileSync(c.resultsFile, JSON.stringify({ campaignSeed: hex(c.campaignSeed), run: i, ...r }) + '\n');
    if (c.stopOnFailure === true && r.verdict !== 'ok') break;
  }
  return results;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '10' },
      seed: { type: 'string' },
      'run-seed': { type: 'string' },
      target: { type: 'string', default: 'zooid' },
      nemesis: { type: 'string' },
      duration: { type: 'string' },
      workers: { type: 'string', default: String(DEFAULT_RUN_OPTIONS.registerWorkerCount) },
      registers: { type: 'string', default: String(DEFAULT_RUN_OPTIONS.registerCount) },
      plant: { type: 'string', default: 'none' },
      'plant-rate': { type: 'string', default: String(DEFAULT_RUN_OPTIONS.plantRate) },
      results: { type: 'string' },
      'stop-on-failure': { type: 'boolean', default: false },
      minutes: { type: 'string' },
    },
  });
  const target = values.target as FaultTarget;
  if (!FAULT_TARGETS.includes(target)) throw new Error(`--target must be one of ${FAULT_TARGETS.join(', ')}, not ${values.target}`);
  const ensemble = isEnsembleTarget(target);
  values.nemesis ??= (ensemble ? ENSEMBLE_RUN_OPTIONS.nemeses : NEMESIS_KINDS).join(',');
  values.duration ??= String(ensemble ? ENSEMBLE_RUN_OPTIONS.durationMs : DEFAULT_RUN_OPTIONS.durationMs);
  const plant = values.plant as Plant;
  if (!PLANTS.includes(plant)) throw new Error(`--plant must be one of ${PLANTS.join(', ')}, not ${values.plant}`);
  const campaignSeed = values.seed !== undefined ? parseSeed(values.seed) : freshSeed();
  const runSeed = values['run-seed'] !== undefined ? parseSeed(values['run-seed']) : undefined;
  const runCount = runSeed !== undefined ? 1 : Number(values.runs);
  const here = path.dirname(fileURLToPath(import.meta.url));
  const resultsFile = values.results ?? path.join(here, 'results', `${target}-${hex(campaignSeed)}.jsonl`);
  const nemeses = parseNemeses(values.nemesis!);
  console.log(`fault campaign: ${runCount} runs against ${target}, seed ${hex(campaignSeed)}, nemeses ${nemeses.join(',') || 'none'}, ${values.duration} ms each; results → ${resultsFile}`);
  const startedMs = performance.now();
  const results = await runCampaign({
    ...DEFAULT_RUN_OPTIONS,
    ...(ensemble ? { sessionTimeoutMs: ENSEMBLE_RUN_OPTIONS.sessionTimeoutMs } : {}),
    target,
    nemeses,
    durationMs: Number(values.duration),
    registerWorkerCount: Number(values.workers),
    registerCount: Number(values.registers),
    plant,
    plantRate: Number(values['plant-rate']),
    campaignSeed,
    runCount,
    runSeed,
    resultsFile,
    log: (line) => console.log(line),
    stopOnFailure: values['stop-on-failure'],
    budgetMs: values.minutes !== undefined ? Number(values.minutes) * 60_000 : undefined,
  });
  const count = (v: RunResult['verdict']) => results.filter((r) => r.verdict === v).length;
  const events = results.flatMap((r) => r.events);
  const byKind = ALL_NEMESIS_KINDS.map((k) => `${k} ${events.filter((e) => e.kind === k).length}`).join(', ');
  console.log(
    `done: ${results.length} runs in ${((performance.now() - startedMs) / 60_000).toFixed(1)} min, seed ${hex(campaignSeed)}: ` +
      `${count('ok')} ok, ${count('violation')} violations, ${count('unknown')} undecided, ${count('error')} errors; faults: ${byKind}; ` +
      `${results.reduce((n, r) => n + r.counts.registerOps, 0)} register ops checked`,
  );
  process.exitCode = count('ok') === results.length ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // Ctrl-C or kill: exit through 'exit', where servers.ts kills the servers it started
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  main().catch((error) => {
    console.error(error);
    process.exitCode = 2;
  });
}
