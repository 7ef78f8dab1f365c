// The 10M-znode scenario of issue 13, in one run on one dataDir (`node bench/persistence.ts
// scale [--znodes N] [--bytes B] [--rate R] [--duration S] [--runs K] [--read-pct P]`):
//
//   1. fill: a fresh zooid server (zoo.cfg defaults: fsync on) gets N znodes of B bytes
//      (/bench/pXXXX/nXXXX, 1000 per parent) through the client protocol: FILL_CONNECTIONS
//      sessions with FILL_IN_FLIGHT creates each in flight, batched (every create a reply
//      chunk frees goes out in one write, LeanClient's tagged requests), not what real
//      clients send. Reported: creates/s, VmRSS per znode once filled.
//   2. snapshot: the server's own snapshot of the whole tree, idle, asked for with the
//      `csnp` four-letter word (what the snapCount trigger does, on demand; snapCount is
//      set out of reach so that no snapshot runs during the fill); its duration (csnp sent →
//      snapshot.<zxid> renamed into place) and size.
//   3. restart: SIGKILL, then a new server on that dataDir: spawn → the last znode created
//      answers a getData; VmRSS once serving; zk_znode_count checked.
//   4. served during a snapshot: loadgen in this process, open loop at R ops/s, P% (50) getData /
//      the rest setData of 100 B on 10,000 keys of its own, 8 connections, one request per write,
//      S s after 5 s of warm-up: steady (no snapshot) vs during snapshots of the whole tree
//      (csnp again as soon as one is written, from the start of the measured window to its
//      end: the share of the window a snapshot was in progress is reported). K runs of
//      each, alternated; the ratio is of the medians.
//
// A step that fails (the server exits, a deadline passes) ends the scenario; what was measured
// so far and the failure, with the server log's tail, are still reported.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LeanClient } from '../client/lean.ts';
import { Err, Op, OPEN_ACL_UNSAFE, writeAcls } from '../engine/protocol.ts';
import { freePort, fourLetterWord } from '../test/support/servers.ts';
import { parseLoadOptions } from '../loadgen/options.ts';
import { closePool, runLoad, type RunResult } from '../loadgen/run.ts';
import { copyDataDir, launch, median, rssBytes, stop, untilServing, type Running } from './bench-server.ts';

export type ScaleOpts = { znodes: number; bytes: number; rate: number; durationS: number; runs: number; readPct: number; zooidConfig: Record<string, string> };

const NODES_PER_PARENT = 1000;
const FILL_CONNECTIONS = 8;
const FILL_IN_FLIGHT = 1000;
const FILL_PROGRESS_MS = 10_000;
/** No snapshot from the snapCount trigger (a log of 10^9 txns): the scenario takes them with csnp. */
const SERVER_CFG = { snapCount: '1000000000', maxClientCnxns: '0' };
const SNAPSHOT_DEADLINE_MS = 30 * 60_000;
const RESTART_DEADLINE_MS = 10 * 60_000;
const SETTLE_MS = 5_000;
const RESTART_TARGET_MS = 20_000;
const P99_RATIO_TARGET = 2;

const parentPath = (p: number) => `/bench/p${String(p).padStart(4, '0')}`;
const childPath = (i: number) => `${parentPath(Math.floor(i / NODES_PER_PARENT))}/n${String(i % NODES_PER_PARENT).padStart(4, '0')}`;

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? NaN : Number(m[1]);
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const load1 = () => os.loadavg()[0].toFixed(2);
const note = (line: string) => process.stderr.write(`[scale ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

/** Fails as soon as the server process has exited, with its log's tail. */
function assertRunning(r: Running): void {
  if (r.child.exitCode !== null || r.child.signalCode !== null) {
    throw new Error(`server exited (code ${r.child.exitCode}, signal ${r.child.signalCode}); log tail:\n${fs.readFileSync(r.log, 'utf8').slice(-3000)}`);
  }
}

/** Creates `count` znodes pathOf(0..count-1) over the clients, FILL_IN_FLIGHT each in flight. */
function createAll(clients: LeanClient[], count: number, pathOf: (i: number) => string, data: Buffer, progress: (done: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let next = 0;
    let done = 0;
    let failed = false;
    const timer = setInterval(() => progress(done), FILL_PROGRESS_MS);
    const finish = (err: Error | null) => {
      if (failed) return;
      clearInterval(timer);
      if (err !== null) {
        failed = true;
        reject(err);
      } else resolve();
    };
    for (const c of clients) {
      const sendOne = () => {
        const i = next++;
        const w = c.beginRequest(Op.create);
        w.string(pathOf(i)).buffer(data);
        writeAcls(w, OPEN_ACL_UNSAFE);
        w.int(0);
        c.endRequest(i);
      };
      // the request a reply frees goes out with the others of its reply chunk (batched)
      c.onTagged = (tag, err) => {
        if (err !== Err.OK) return finish(new Error(`create ${pathOf(tag)}: error ${err}`));
        if (++done === count) finish(null);
        else if (next < count) sendOne();
      };
      for (let k = 0; k < FILL_IN_FLIGHT && next < count; k++) sendOne();
      c.flush();
    }
    if (count === 0) finish(null);
  });
}

type FillResult = { ms: number; rssBytes: number; peakRssBytes: number };

async function fill(r: Running, opts: ScaleOpts): Promise<FillResult> {
  const clients: LeanClient[] = [];
  for (let i = 0; i < FILL_CONNECTIONS; i++) clients.push(await LeanClient.connect({ host: '127.0.0.1', port: r.port, sessionTimeoutMs: 60_000 }));
  const began = performance.now();
  try {
    await clients[0].create('/bench');
    const parents = Math.ceil(opts.znodes / NODES_PER_PARENT);
    await createAll(clients, parents, parentPath, Buffer.alloc(0), () => assertRunning(r));
    let last = { done: 0, at: performance.now() };
    await createAll(clients, opts.znodes, childPath, Buffer.alloc(opts.bytes, 0x61), (done) => {
      const now = performance.now();
      note(`fill: ${done.toLocaleString('en-US')} znodes, ${((done - last.done) / ((now - last.at) / 1000)).toFixed(0)} creates/s over the last ${FILL_PROGRESS_MS / 1000} s, server RSS ${mib(statusKb(r.child.pid!, 'VmRSS') * 1024)}, load ${load1()}`);
      last = { done, at: now };
    });
  } finally {
    for (const c of clients) c.socket.destroy();
  }
  const ms = performance.now() - began;
  return { ms, rssBytes: rssBytes(r.child.pid!), peakRssBytes: statusKb(r.child.pid!, 'VmHWM') * 1024 };
}

type SnapshotTaken = { zxid: number; startMs: number; endMs: number; bytes: number };

/** csnp, then wait until snapshot.<zxid> is in place. null when the server refused (one in progress). */
async function snapshotNow(r: Running, snapDir: string): Promise<SnapshotTaken | null> {
  const startMs = performance.now();
  const answer = (await fourLetterWord(r.port, 'csnp', 10_000)).trim();
  const zxid = Number(answer);
  if (!(zxid > 0)) return null;
  const file = path.join(snapDir, `snapshot.${zxid.toString(16)}`);
  for (;;) {
    assertRunning(r);
    if (fs.existsSync(file)) return { zxid, startMs, endMs: performance.now(), bytes: fs.statSync(file).size };
    if (performance.now() - startMs > SNAPSHOT_DEADLINE_MS) throw new Error(`snapshot ${file} not written within ${SNAPSHOT_DEADLINE_MS} ms`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

async function znodeCount(port: number): Promise<number> {
  const m = /zk_znode_count\s+(\d+)/.exec(await fourLetterWord(port, 'mntr', 10_000));
  return m === null ? NaN : Number(m[1]);
}

type LoadRun = { label: 'steady' | 'during snapshots'; result: RunResult; snapshots: SnapshotTaken[]; coveredShare: number };

function loadArgs(port: number, opts: ScaleOpts, setup: boolean): string[] {
  return ['--hosts', `127.0.0.1:${port}`, '--connections', '8', '--threads', '1', '--rate', String(opts.rate), '--read-pct', String(opts.readPct), '--value-bytes', '100',
    '--keys', '10000', '--duration', `${opts.durationS}s`, '--warmup', '5s', '--seed', '1', '--no-progress', ...(setup ? [] : ['--no-setup'])];
}

/** One loadgen run; with snapshots, one is kept in progress from the start of the measured window to its end. */
async function loadRun(r: Running, snapDir: string, opts: ScaleOpts, withSnapshots: boolean, setup: boolean): Promise<LoadRun> {
  const snapshots: SnapshotTaken[] = [];
  let windowStart = NaN;
  let windowEnd = NaN;
  let driving: Promise<void> = Promise.resolve();
  let driveError: Error | null = null;
  const drive = async () => {
    while (Number.isNaN(windowEnd)) {
      const s = await snapshotNow(r, snapDir);
      if (s === null) await new Promise((res) => setTimeout(res, 20));
      else snapshots.push(s);
    }
  };
  const { options } = parseLoadOptions(loadArgs(r.port, opts, setup));
  const { result } = await runLoad(options, {
    onWindowEdge: (edge) => {
      if (edge === 'start') {
        windowStart = performance.now();
        // kept until runLoad returns: a failure (the server gone) is thrown then, not left unhandled
        if (withSnapshots) driving = drive().catch((err: unknown) => { driveError = err as Error; });
      } else windowEnd = performance.now();
    },
  });
  if (Number.isNaN(windowEnd)) windowEnd = performance.now();
  await driving;
  if (driveError !== null) throw driveError;
  const covered = snapshots.reduce((sum, s) => sum + Math.max(0, Math.min(s.endMs, windowEnd) - Math.max(s.startMs, windowStart)), 0);
  return { label: withSnapshots ? 'during snapshots' : 'steady', result, snapshots, coveredShare: covered / (windowEnd - windowStart) };
}

const ms = (us: number) => `${(us / 1000).toFixed(2)} ms`;
const met = (ok: boolean) => (ok ? '**met**' : '**not met**');

/** The scenario; Markdown lines for the results file. */
export async function scaleScenario(opts: ScaleOpts): Promise<string[]> {
  const out: string[] = [];
  const rows: string[] = ['| step | result | target |', '|---|---|---|'];
  const dataDir = copyDataDir(null, 'scale');
  const snapDir = path.join(dataDir, 'version-2');
  let server: Running | null = null;
  let step = 'start';
  try {
    server = launch('zooid', dataDir, { ...SERVER_CFG, ...opts.zooidConfig }, await freePort());
    await untilServing(server, '/');
    const emptyRss = rssBytes(server.child.pid!);
    note(`empty server serving, RSS ${mib(emptyRss)}; filling ${opts.znodes.toLocaleString('en-US')} znodes of ${opts.bytes} B`);

    step = 'fill';
    const f = await fill(server, opts);
    const createsPerSec = opts.znodes / (f.ms / 1000);
    rows.push(`| 1. fill: ${opts.znodes.toLocaleString('en-US')} creates, ${FILL_CONNECTIONS} connections × ${FILL_IN_FLIGHT} in flight, batched | ${(f.ms / 1000).toFixed(1)} s, **${createsPerSec.toFixed(0)} creates/s** (load ${load1()} at the end) | ≥ 60k creates/s: ${met(createsPerSec >= 60_000)} |`);
    rows.push(`| server RSS once filled | ${mib(f.rssBytes)} (peak ${mib(f.peakRssBytes)}): **${((f.rssBytes - emptyRss) / opts.znodes).toFixed(0)} B per znode** over the empty server's ${mib(emptyRss)} | ≤ 200 B (issue 13's target at 1M): ${met((f.rssBytes - emptyRss) / opts.znodes <= 200)} |`);
    note(`filled in ${(f.ms / 1000).toFixed(1)} s (${createsPerSec.toFixed(0)} creates/s), RSS ${mib(f.rssBytes)}`);

    step = 'snapshot';
    const snap = await snapshotNow(server, snapDir);
    if (snap === null) throw new Error('csnp refused the snapshot');
    const snapMs = snap.endMs - snap.startMs;
    rows.push(`| 2. snapshot of the whole tree (csnp, idle) | **${(snapMs / 1000).toFixed(1)} s**, ${(snap.bytes / 1e6).toFixed(0)} MB (${(snap.bytes / opts.znodes).toFixed(0)} B per znode); server RSS after ${mib(rssBytes(server.child.pid!))}, peak ${mib(statusKb(server.child.pid!, 'VmHWM') * 1024)} | — |`);
    note(`snapshot 0x${snap.zxid.toString(16)}: ${(snapMs / 1000).toFixed(1)} s, ${(snap.bytes / 1e6).toFixed(0)} MB`);

    step = 'restart';
    await stop(server);
    server = launch('zooid', dataDir, { ...SERVER_CFG, ...opts.zooidConfig }, await freePort());
    const servingMs = await untilServing(server, childPath(opts.znodes - 1), RESTART_DEADLINE_MS);
    const count = await znodeCount(server.port);
    await new Promise((res) => setTimeout(res, SETTLE_MS));
    const restartRss = rssBytes(server.child.pid!);
    rows.push(`| 3. restart: SIGKILL, spawn → getData of the last znode answered | **${(servingMs / 1000).toFixed(2)} s**; zk_znode_count ${count.toLocaleString('en-US')}; RSS ${SETTLE_MS / 1000} s later ${mib(restartRss)} (${((restartRss - emptyRss) / opts.znodes).toFixed(0)} B per znode over the empty server) | ≤ ${RESTART_TARGET_MS / 1000} s: ${met(servingMs <= RESTART_TARGET_MS)} |`);
    note(`serving again after ${(servingMs / 1000).toFixed(2)} s, ${count} znodes, RSS ${mib(restartRss)}`);

    step = 'served during a snapshot';
    const runs: LoadRun[] = [];
    for (let k = 0; k < opts.runs; k++) {
      for (const withSnapshots of [false, true]) {
        const run = await loadRun(server, snapDir, opts, withSnapshots, k === 0 && !withSnapshots);
        runs.push(run);
        note(`${run.label}: p50 ${ms(run.result.all.p50Us)} p99 ${ms(run.result.all.p99Us)} p99.9 ${ms(run.result.all.p999Us)} (getData ${opPercentiles(run.result, 'get')}, setData ${opPercentiles(run.result, 'set')}), ${run.snapshots.length} snapshots covering ${(run.coveredShare * 100).toFixed(0)}% of the window, load ${load1()}`);
      }
    }
    const p99Of = (label: LoadRun['label']) => median(runs.filter((x) => x.label === label).map((x) => x.result.all.p99Us));
    const ratio = p99Of('during snapshots') / p99Of('steady');
    rows.push(`| 4. p99 during snapshots / steady (medians of ${opts.runs} runs each, below) | **${ratio.toFixed(2)}×** (${ms(p99Of('during snapshots'))} / ${ms(p99Of('steady'))}) | ≤ ${P99_RATIO_TARGET}×: ${met(ratio <= P99_RATIO_TARGET)} |`);
    out.push(...rows, '', loadTableTitle(opts), '', ...loadTable(runs));
    step = 'done';
  } catch (err) {
    out.push(...rows, '', `**Failed at step "${step}"**: ${(err as Error).message}`);
    if (server !== null) out.push('', 'Server log, last lines:', '', '```', fs.readFileSync(server.log, 'utf8').slice(-3000).trimEnd(), '```');
  } finally {
    await closePool();
    if (server !== null) await stop(server);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return out;
}

function loadTableTitle(opts: ScaleOpts): string {
  return `Load during step 4: \`zooid loadgen\` in the bench process, open loop ${opts.rate} ops/s, ${opts.readPct}% getData / ${100 - opts.readPct}% setData of 100 B on 10,000 keys of its own (under /zooid-loadgen), 8 connections, one request per write, ${opts.durationS} s measured after 5 s of warm-up; "during snapshots": csnp again as soon as the previous snapshot is written, through the measured window. Worst second: the highest per-second p99 of the window.`;
}

/** One op's p50 / p99: reads and writes apart tell CPU contention (both slower) from the log's fdatasync waiting on a snapshot's writes (setData alone). */
function opPercentiles(r: RunResult, op: 'get' | 'set'): string {
  const o = r.ops[op];
  return o === undefined ? '–' : `${ms(o.p50Us)} / ${ms(o.p99Us)}`;
}

function loadTable(runs: LoadRun[]): string[] {
  const lines = ['| run | ops/s | p50 | p99 | p99.9 | max | worst second p99 | getData p50 / p99 | setData p50 / p99 | errors | snapshots (s each) | window with a snapshot in progress |', '|---|---|---|---|---|---|---|---|---|---|---|---|'];
  for (const x of runs) {
    const a = x.result.all;
    const worst = Math.max(...x.result.timeline.filter((t) => !t.warmup).map((t) => t.p99Us), 0);
    const secs = x.snapshots.map((s) => (s.endMs - s.startMs) / 1000);
    const each = secs.length <= 4 ? secs.map((s) => s.toFixed(1)).join(', ') : `median ${median(secs).toFixed(1)}, longest ${Math.max(...secs).toFixed(1)}`;
    lines.push(`| ${x.label} | ${x.result.throughputOpsPerSec.toFixed(0)} | ${ms(a.p50Us)} | ${ms(a.p99Us)} | ${ms(a.p999Us)} | ${ms(a.maxUs)} | ${ms(worst)} | ${opPercentiles(x.result, 'get')} | ${opPercentiles(x.result, 'set')} | ${x.result.errorCount} | ${x.snapshots.length}${each === '' ? '' : ` (${each})`} | ${x.label === 'steady' ? '—' : `${(x.coveredShare * 100).toFixed(0)}%`} |`);
  }
  return lines;
}
