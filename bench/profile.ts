// Where zooid's time goes, per thread: starts zooid with --cpu-prof (every thread writes its
// own .cpuprofile), drives it with the load generator, stops it, and summarises each
// profile: busy share (not idle, not parked in Atomics.wait), GC share, the functions with
// the most self time and the files they live in. One server per read percentage.
//
//   npx node bench/profile.ts                         50% and 0% and 100% reads, 10 s each
//   npx node bench/profile.ts --read-pcts 0 --duration 5s --threads 1
//
// The load generator runs in this process (its threads compete for the same cores).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startZooid } from '../test/support/servers.ts';
import { OptionError, parseLoadOptions, splitFlags } from '../loadgen/options.ts';
import { closePool, runLoad } from '../loadgen/run.ts';
import { parsePercentList } from '../loadgen/sweep.ts';
import { machineFacts, formatMachine } from './machine.ts';

const RESULTS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
const TOP_FUNCTIONS = 15;

const USAGE = `usage: npx node bench/profile.ts [options]     (or: zooid bench profile [options])
  --read-pcts LIST     one profiled server per read share (default 0,50,100)
  --duration T         measured load per server (default 10s; warm-up 2s)
  --connections N --outstanding N --value-bytes B --threads N   load shape (default 8 × 50, 1 KiB)
  --traffic MODE       per-request (one socket write per request, the default) or batched
  --rate R             open loop at R ops/s instead of closed loop
  --keep DIR           keep the .cpuprofile files in DIR (open them in Chrome DevTools)
`;

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ThreadProfile {
  file: string;
  thread: string;
  wallMs: number;
  busyMs: number;
  idleMs: number;
  waitMs: number;
  /** Blocked in fdatasync/fsync (counted in busy: the thread can do nothing else). */
  diskMs: number;
  gcMs: number;
  programMs: number;
  top: { name: string; where: string; selfMs: number; share: number }[];
  byFile: { file: string; selfMs: number; share: number }[];
}

/** Which zooid thread wrote a profile, from the worker scripts its frames come from. */
function threadOf(p: CpuProfile): string {
  const urls = new Set(p.nodes.map((n) => n.callFrame.url));
  const has = (s: string) => [...urls].some((u) => u.includes(s));
  if (has('workers/io-worker')) return 'io';
  if (has('workers/pipeline-worker')) return 'pipeline';
  if (has('workers/log-worker')) return 'log';
  if (has('snapshot-worker')) return 'snapshot';
  if (has('engine/cli.ts')) return 'main';
  return 'other';
}

const shortUrl = (url: string) => url.replace(/^file:\/\//, '').replace(/^.*\/(engine|native-free-io|loadgen)\//, '$1/').replace(/^node:/, 'node:');

/**
 * Samples that are waits, not work. Atomics.wait has no frame of its own: its samples land
 * in the JS function that calls it (Doorbell.wait in native-free-io/ring.ts). A blocking
 * fdatasync is the disk's time, reported apart.
 */
function isParked(f: CpuProfileNode['callFrame']): boolean {
  return (f.functionName === 'wait' && f.url.endsWith('native-free-io/ring.ts')) || (f.url === '' && (f.functionName === 'wait' || f.functionName === 'Atomics.wait'));
}
const DISK_WAIT_FUNCTIONS = new Set(['fdatasync', 'fsync', 'fdatasyncSync', 'fsyncSync']);

/** A time window in the profiles' clock: microseconds of CLOCK_MONOTONIC, as process.hrtime. */
export interface Window {
  fromUs: number;
  toUs: number;
}

export function summarizeProfile(file: string, p: CpuProfile, window: Window | null = null): ThreadProfile {
  const byId = new Map<number, CpuProfileNode>();
  for (const n of p.nodes) byId.set(n.id, n);
  const selfUs = new Map<number, number>();
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    // timeDeltas[i] is the time before sample i; attribute the following interval to it
    t += p.timeDeltas[i];
    if (window !== null && (t < window.fromUs || t >= window.toUs)) continue;
    const dt = i + 1 < p.timeDeltas.length ? p.timeDeltas[i + 1] : 0;
    selfUs.set(p.samples[i], (selfUs.get(p.samples[i]) ?? 0) + Math.max(0, dt));
  }
  let idle = 0;
  let gc = 0;
  let program = 0;
  let wait = 0;
  let disk = 0;
  const perFunction = new Map<string, { name: string; where: string; us: number }>();
  const perFile = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const f = n.callFrame;
    if (f.functionName === '(idle)') {
      idle += us;
      continue;
    }
    if (f.functionName === '(garbage collector)') gc += us;
    if (f.functionName === '(program)') program += us;
    if (isParked(f)) {
      wait += us;
      continue;
    }
    if (f.url === '' && DISK_WAIT_FUNCTIONS.has(f.functionName)) disk += us;
    const where = f.url === '' ? '(native)' : `${shortUrl(f.url)}:${f.lineNumber + 1}`;
    const key = `${f.functionName || '(anonymous)'} ${where}`;
    const e = perFunction.get(key) ?? { name: f.functionName || '(anonymous)', where, us: 0 };
    e.us += us;
    perFunction.set(key, e);
    const fileKey = f.url === '' ? f.functionName.startsWith('(') ? f.functionName : '(native)' : shortUrl(f.url);
    perFile.set(fileKey, (perFile.get(fileKey) ?? 0) + us);
  }
  const wallUs = window === null ? p.endTime - p.startTime : Math.min(p.endTime, window.toUs) - Math.max(p.startTime, window.fromUs);
  const busy = wallUs - idle - wait;
  return {
    file,
    thread: threadOf(p),
    wallMs: wallUs / 1000,
    busyMs: busy / 1000,
    idleMs: idle / 1000,
    waitMs: wait / 1000,
    diskMs: disk / 1000,
    gcMs: gc / 1000,
    programMs: program / 1000,
    top: [...perFunction.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, TOP_FUNCTIONS)
      .map((e) => ({ name: e.name, where: e.where, selfMs: e.us / 1000, share: busy > 0 ? e.us / busy : 0 })),
    byFile: [...perFile.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10)
      .map(([file, us]) => ({ file, selfMs: us / 1000, share: busy > 0 ? us / busy : 0 })),
  };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export function formatThread(t: ThreadProfile): string {
  const lines = [
    `### ${t.thread} (${path.basename(t.file)})`,
    `wall ${(t.wallMs / 1000).toFixed(1)} s: busy ${pct(t.busyMs / t.wallMs)} (of which blocked in fdatasync ${pct(t.diskMs / t.wallMs)}, GC ${pct(t.gcMs / t.wallMs)}, (program) ${pct(t.programMs / t.wallMs)}), idle in the event loop ${pct(t.idleMs / t.wallMs)}, parked in Atomics.wait ${pct(t.waitMs / t.wallMs)}`,
    '',
    '| self ms | share of busy | function | where |',
    '| ---: | ---: | --- | --- |',
    ...t.top.map((f) => `| ${f.selfMs.toFixed(0)} | ${pct(f.share)} | \`${f.name}\` | ${f.where} |`),
    '',
    `by file: ${t.byFile.map((f) => `${f.file} ${pct(f.share)}`).join(', ')}`,
  ];
  return lines.join('\n');
}

export async function profileMain(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  let readPcts: number[];
  let keepDir: string | null;
  let loadArgs: string[];
  try {
    const flags = splitFlags(args, new Set(['read-pcts', 'duration', 'warmup', 'connections', 'outstanding', 'value-bytes', 'threads', 'rate', 'keep', 'seed', 'traffic']), new Set());
    readPcts = parsePercentList('read-pcts', flags.get('read-pcts') ?? '0,50,100');
    keepDir = flags.get('keep') ?? null;
    loadArgs = ['--duration', flags.get('duration') ?? '10s', '--warmup', flags.get('warmup') ?? '2s', '--no-progress'];
    for (const f of ['connections', 'outstanding', 'value-bytes', 'threads', 'rate', 'seed', 'traffic']) {
      const v = flags.get(f);
      if (v !== undefined) loadArgs.push(`--${f}`, v);
    }
    parseLoadOptions(loadArgs);
  } catch (err) {
    if (err instanceof OptionError) {
      process.stderr.write(`bench profile: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  const startedAt = new Date().toISOString();
  const machine = machineFacts();
  const sections: string[] = [`# zooid CPU profile per thread — ${startedAt}`, '', `Command: \`npx node bench/profile.ts ${args.join(' ')}\``, '', ...formatMachine(machine), ''];
  for (const readPct of readPcts) {
    const profDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-prof-'));
    const savedOptions = process.env.NODE_OPTIONS;
    process.env.NODE_OPTIONS = `${savedOptions ?? ''} --cpu-prof --cpu-prof-dir=${profDir}`.trim();
    let handle;
    try {
      // maxClientCnxns=0: every connection comes from 127.0.0.1 (the default allows 60)
      handle = await startZooid({ config: { forceSync: 'yes', maxClientCnxns: '0', 'admin.enableServer': 'false' } });
    } finally {
      if (savedOptions === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = savedOptions;
    }
    const { options } = parseLoadOptions([...loadArgs, '--hosts', `127.0.0.1:${handle.port}`, '--read-pct', String(readPct)]);
    process.stderr.write(`profiling zooid at ${readPct}% reads: ${options.connections} × ${options.outstanding}, ${options.traffic} writes, ${options.durationMs / 1000} s\n`);
    let summary = '';
    let window: Window | null = null;
    try {
      const { result } = await runLoad(options);
      summary = `${options.connections} × ${options.outstanding}, ${options.traffic} writes: ${result.throughputOpsPerSec.toLocaleString('en-US')} ops/s, p50 ${(result.all.p50Us / 1000).toFixed(3)} ms, p99 ${(result.all.p99Us / 1000).toFixed(3)} ms, errors ${result.errorCount}`;
      // the measured window in the profiles' clock (CLOCK_MONOTONIC µs, shared by every process)
      const nowHrUs = Number(process.hrtime.bigint() / 1000n);
      const hrOfEpoch = (epochMs: number) => nowHrUs - (Date.now() - epochMs) * 1000;
      const fromEpoch = Date.parse(result.startedAt) + options.warmupMs;
      window = { fromUs: hrOfEpoch(fromEpoch), toUs: hrOfEpoch(fromEpoch + options.durationMs) };
    } finally {
      await handle.stop();
    }
    const files = fs.readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
    const threads = files
      .map((f) => summarizeProfile(f, JSON.parse(fs.readFileSync(path.join(profDir, f), 'utf8')) as CpuProfile, window))
      .sort((a, b) => ['main', 'io', 'pipeline', 'log', 'snapshot', 'other'].indexOf(a.thread) - ['main', 'io', 'pipeline', 'log', 'snapshot', 'other'].indexOf(b.thread));
    sections.push(`## ${readPct}% reads — ${summary}`, '', `Shares are of the measured ${options.durationMs / 1000} s only (warm-up, start and stop left out). --cpu-prof itself slows the server.`, '');
    sections.push('| thread | busy | of which fdatasync | GC | idle (event loop) | parked (Atomics.wait) |', '| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const t of threads) sections.push(`| ${t.thread} | ${pct(t.busyMs / t.wallMs)} | ${pct(t.diskMs / t.wallMs)} | ${pct(t.gcMs / t.wallMs)} | ${pct(t.idleMs / t.wallMs)} | ${pct(t.waitMs / t.wallMs)} |`);
    sections.push('');
    for (const t of threads) sections.push(formatThread(t), '');
    if (files.length === 0) sections.push('no profiles were written (did the server exit cleanly?)', '');
    if (keepDir !== null) {
      const dest = path.join(keepDir, `reads-${readPct}`);
      fs.mkdirSync(dest, { recursive: true });
      for (const f of files) fs.copyFileSync(path.join(profDir, f), path.join(dest, f));
    }
    fs.rmSync(profDir, { recursive: true, force: true });
  }
  await closePool();
  const text = sections.join('\n') + '\n';
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `profile-${startedAt.slice(0, 10)}.md`);
  fs.writeFileSync(file, text);
  process.stdout.write(text);
  process.stderr.write(`written to ${file}\n`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await profileMain(process.argv.slice(2));
}
