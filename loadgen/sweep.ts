// `zooid loadgen sweep`: the ZooKeeper paper's throughput-vs-read-percentage curve (closed
// loop at each read share), an unloaded read latency point (one connection, one request
// in flight), and a latency-vs-offered-load curve (open loop at rising rates) with its
// knee: the highest offered load the server carries with p99 still near its low-load p99.
import fs from 'node:fs';
import { DEFAULTS, OptionError, SWEEP_USAGE, USAGE, type LoadOptions, describeLoad, parseLoadOptions, parseMix, resolveMix, type MixOp, parseNumber, parseInteger } from './options.ts';
import { closePool, runLoad, type RunResult } from './run.ts';
import { setupZnodes, LoadgenError } from './setup.ts';
import { formatTable } from './summary.ts';
import { escapeHtml, lineChart, page } from './report.ts';

/** A point is past the knee when its p99 exceeds this multiple of the lowest load's p99 ... */
export const KNEE_P99_FACTOR = 3;
/** ... or when the server completes less than this share of the offered load. */
export const KNEE_ACHIEVED_SHARE_MIN = 0.95;
/** `--rates auto`: these fractions of the closed-loop peak. */
export const AUTO_RATE_FRACTIONS = [0.1, 0.25, 0.4, 0.55, 0.7, 0.8, 0.9, 1.0, 1.1];

export interface SweepPlan {
  base: LoadOptions;
  /** The mix weights; each point rescales them to its read share. */
  weights: Record<MixOp, number>;
  readPcts: number[];
  latencyReadPct: number;
  /** Absolute ops/s, or fractions of the peak at latencyReadPct (`0.5x`). */
  rates: { value: number; fraction: boolean }[];
  latency: boolean;
  unloaded: boolean;
}

export interface ThroughputPoint {
  readPct: number;
  opsPerSec: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  errors: number;
}

export interface LatencyPoint {
  offeredOpsPerSec: number;
  achievedOpsPerSec: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  errors: number;
  unsent: number;
  sendLagP99Us: number;
}

export interface UnloadedPoint {
  readP50Us: number;
  readP99Us: number;
  readP999Us: number;
  opsPerSec: number;
}

export interface SweepResult {
  tool: 'zooid loadgen sweep';
  startedAt: string;
  load: string;
  throughput: ThroughputPoint[];
  unloaded: UnloadedPoint | null;
  latencyReadPct: number;
  latency: LatencyPoint[];
  knee: { offeredOpsPerSec: number; p99Us: number; rule: string } | null;
  runs: RunResult[];
}

export interface SweepHooks {
  /** One line per finished point, and the runs' per-second lines. */
  log?: (line: string) => void;
  progress?: (line: string, final: boolean) => void;
  /** Around each run (bench compare reads the server's CPU time here). */
  beforeRun?: () => void | Promise<void>;
  afterRun?: (result: RunResult) => void;
  /** The measured window's edges within each run (RunHooks.onWindowEdge). */
  onWindowEdge?: (edge: 'start' | 'end') => void;
}

async function hookedRun(o: LoadOptions, hooks: SweepHooks): Promise<RunResult> {
  await hooks.beforeRun?.();
  const { result } = await runLoad(o, { progress: hooks.progress, onWindowEdge: hooks.onWindowEdge });
  hooks.afterRun?.(result);
  return result;
}

function readMix(p: SweepPlan, readPct: number): Record<MixOp, number> {
  return resolveMix(p.weights, readPct);
}

export async function runSweep(p: SweepPlan, hooks: SweepHooks = {}): Promise<SweepResult> {
  const startedAt = new Date().toISOString();
  const log = hooks.log ?? (() => {});
  if (p.base.setup) await setupZnodes(p.base);
  const base: LoadOptions = { ...p.base, setup: false };
  const runs: RunResult[] = [];
  const throughput: ThroughputPoint[] = [];
  for (const readPct of p.readPcts) {
    const result = await hookedRun({ ...base, rateOpsPerSec: null, mix: readMix(p, readPct) }, hooks);
    runs.push(result);
    const point = { readPct, opsPerSec: result.throughputOpsPerSec, p50Us: result.all.p50Us, p99Us: result.all.p99Us, p999Us: result.all.p999Us, errors: result.errorCount };
    throughput.push(point);
    log(`reads ${readPct}%: ${point.opsPerSec.toLocaleString('en-US')} ops/s, p50 ${(point.p50Us / 1000).toFixed(3)} ms, p99 ${(point.p99Us / 1000).toFixed(3)} ms, errors ${point.errors}`);
  }

  let unloaded: UnloadedPoint | null = null;
  if (p.unloaded) {
    const result = await hookedRun({ ...base, rateOpsPerSec: null, connections: 1, threads: 1, outstanding: 1, mix: readMix(p, 100) }, hooks);
    runs.push(result);
    unloaded = { readP50Us: result.all.p50Us, readP99Us: result.all.p99Us, readP999Us: result.all.p999Us, opsPerSec: result.throughputOpsPerSec };
    log(`unloaded reads (1 connection, 1 in flight): p50 ${(unloaded.readP50Us / 1000).toFixed(3)} ms, p99 ${(unloaded.readP99Us / 1000).toFixed(3)} ms`);
  }

  const latency: LatencyPoint[] = [];
  if (p.latency && p.rates.length > 0) {
    let peak = throughput.find((t) => t.readPct === p.latencyReadPct)?.opsPerSec;
    if (peak === undefined && p.rates.some((r) => r.fraction)) {
      const result = await hookedRun({ ...base, rateOpsPerSec: null, mix: readMix(p, p.latencyReadPct) }, hooks);
      runs.push(result);
      peak = result.throughputOpsPerSec;
      log(`peak at ${p.latencyReadPct}% reads: ${peak.toLocaleString('en-US')} ops/s`);
    }
    const rates = p.rates.map((r) => Math.max(1, Math.round(r.fraction ? r.value * (peak ?? 0) : r.value))).sort((a, b) => a - b);
    for (const rate of rates) {
      const result = await hookedRun({ ...base, rateOpsPerSec: rate, outstanding: DEFAULTS.openLoopOutstanding, mix: readMix(p, p.latencyReadPct) }, hooks);
      runs.push(result);
      latency.push(latencyPointOf(rate, result));
      const l = latency[latency.length - 1];
      log(`offered ${rate.toLocaleString('en-US')} ops/s: achieved ${l.achievedOpsPerSec.toLocaleString('en-US')}, p50 ${(l.p50Us / 1000).toFixed(3)} ms, p99 ${(l.p99Us / 1000).toFixed(3)} ms, unsent ${l.unsent}`);
    }
  }
  return {
    tool: 'zooid loadgen sweep',
    startedAt,
    load: describeLoad(base),
    throughput,
    unloaded,
    latencyReadPct: p.latencyReadPct,
    latency,
    knee: findKnee(latency),
    runs,
  };
}

export function latencyPointOf(offered: number, r: RunResult): LatencyPoint {
  return {
    offeredOpsPerSec: offered,
    achievedOpsPerSec: r.throughputOpsPerSec,
    p50Us: r.all.p50Us,
    p90Us: r.all.p90Us,
    p99Us: r.all.p99Us,
    p999Us: r.all.p999Us,
    maxUs: r.all.maxUs,
    errors: r.errorCount,
    unsent: r.unsent,
    sendLagP99Us: r.sendLag?.p99Us ?? 0,
  };
}

/**
 * The knee of the latency curve: the highest offered load, below the first point that
 * misses, at which the server completed ≥ 95% of it with p99 ≤ 3 × the p99 at the lowest
 * load. Null if even the lowest load misses.
 */
export function findKnee(points: readonly LatencyPoint[]): SweepResult['knee'] {
  const sorted = [...points].sort((a, b) => a.offeredOpsPerSec - b.offeredOpsPerSec);
  if (sorted.length === 0) return null;
  const baseP99 = sorted[0].p99Us;
  const rule = `highest offered load with achieved >= ${KNEE_ACHIEVED_SHARE_MIN * 100}% of offered and p99 <= ${KNEE_P99_FACTOR} x the p99 at the lowest load (${(baseP99 / 1000).toFixed(3)} ms)`;
  let knee: LatencyPoint | null = null;
  for (const pt of sorted) {
    const carried = pt.achievedOpsPerSec >= KNEE_ACHIEVED_SHARE_MIN * pt.offeredOpsPerSec;
    if (!carried || pt.p99Us > KNEE_P99_FACTOR * baseP99) break;
    knee = pt;
  }
  return knee === null ? null : { offeredOpsPerSec: knee.offeredOpsPerSec, p99Us: knee.p99Us, rule };
}

const ms = (us: number) => (us / 1000).toFixed(3);
const int = (n: number) => Math.round(n).toLocaleString('en-US');

export function formatSweep(s: SweepResult): string {
  const lines: string[] = [`zooid loadgen sweep — ${s.load}`, `started ${s.startedAt}`, ''];
  lines.push('throughput by read percentage (closed loop)');
  lines.push(formatTable(['reads %', 'ops/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'errors'], s.throughput.map((t) => [String(t.readPct), int(t.opsPerSec), ms(t.p50Us), ms(t.p99Us), ms(t.p999Us), int(t.errors)])));
  if (s.unloaded !== null) {
    lines.push('', `unloaded reads (1 connection, 1 in flight): p50 ${ms(s.unloaded.readP50Us)} ms, p99 ${ms(s.unloaded.readP99Us)} ms, p99.9 ${ms(s.unloaded.readP999Us)} ms (${int(s.unloaded.opsPerSec)} ops/s)`);
  }
  if (s.latency.length > 0) {
    lines.push('', `latency by offered load (open loop, ${s.latencyReadPct}% reads; latency from the intended send time)`);
    lines.push(
      formatTable(
        ['offered ops/s', 'achieved', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'errors', 'unsent'],
        s.latency.map((l) => [int(l.offeredOpsPerSec), int(l.achievedOpsPerSec), ms(l.p50Us), ms(l.p90Us), ms(l.p99Us), ms(l.p999Us), ms(l.maxUs), int(l.errors), int(l.unsent)]),
      ),
    );
    lines.push(s.knee === null ? 'knee: none (even the lowest load missed the rule)' : `knee: ${int(s.knee.offeredOpsPerSec)} ops/s (p99 ${ms(s.knee.p99Us)} ms) — ${s.knee.rule}`);
  }
  return lines.join('\n');
}

/** Charts for one or more sweeps (one series per named sweep: compare puts servers side by side). */
export function sweepCharts(named: { name: string; sweep: SweepResult }[]): string {
  const tput = lineChart({
    title: 'Throughput vs read percentage (closed loop)',
    xLabel: 'reads %',
    yLabel: 'ops/s',
    series: named.map(({ name, sweep }) => ({ name, points: sweep.throughput.map((t) => [t.readPct, t.opsPerSec] as [number, number]) })),
  });
  const lat = lineChart({
    title: 'Latency vs offered load (open loop)',
    xLabel: 'offered ops/s',
    yLabel: 'latency ms (log)',
    yLog: true,
    series: named.flatMap(({ name, sweep }) => [
      { name: `${name} p50`, points: sweep.latency.map((l) => [l.offeredOpsPerSec, l.p50Us / 1000] as [number, number]), dashed: true },
      { name: `${name} p99`, points: sweep.latency.map((l) => [l.offeredOpsPerSec, l.p99Us / 1000] as [number, number]) },
    ]),
    markers: named.filter(({ sweep }) => sweep.knee !== null).map(({ name, sweep }) => [sweep.knee!.offeredOpsPerSec, `${name} knee`] as [number, string]),
  });
  const achieved = lineChart({
    title: 'Achieved vs offered load (open loop)',
    xLabel: 'offered ops/s',
    yLabel: 'achieved ops/s',
    series: named.map(({ name, sweep }) => ({ name, points: sweep.latency.map((l) => [l.offeredOpsPerSec, l.achievedOpsPerSec] as [number, number]) })),
  });
  return [`<figure>${tput}</figure>`, named.some((n) => n.sweep.latency.length > 0) ? `<figure>${lat}</figure><figure>${achieved}</figure>` : ''].join('\n');
}

export function renderSweepReport(s: SweepResult): string {
  const body = [`<pre>${escapeHtml(formatSweep(s))}</pre>`, sweepCharts([{ name: 'server', sweep: s }])].join('\n');
  return page(`zooid loadgen sweep ${s.startedAt}`, body);
}

/** `0,10,20` or `0..100/10` */
export function parsePercentList(flag: string, text: string): number[] {
  const range = /^(\d+)\.\.(\d+)\/(\d+)$/.exec(text.trim());
  if (range !== null) {
    const [from, to, step] = range.slice(1).map(Number);
    if (!(step > 0) || from > to || to > 100) throw new OptionError(`--${flag}: bad range '${text}'`);
    const out: number[] = [];
    for (let v = from; v <= to; v += step) out.push(v);
    return out;
  }
  const out = text.split(',').map((t) => parseNumber(flag, t.trim(), 0, 100));
  if (out.length === 0) throw new OptionError(`--${flag} needs at least one value`);
  return out;
}

export function parseRates(text: string): SweepPlan['rates'] {
  if (text === 'auto') return AUTO_RATE_FRACTIONS.map((value) => ({ value, fraction: true }));
  return text.split(',').map((t) => {
    const item = t.trim();
    if (item.endsWith('x')) return { value: parseNumber('rates', item.slice(0, -1), 0.001, 100), fraction: true };
    return { value: parseNumber('rates', item, 1, 1e8), fraction: false };
  });
}

export const SWEEP_FLAGS = { withValue: ['read-pcts', 'latency-read-pct', 'rates'], booleans: ['no-latency', 'no-unloaded'] } as const;

/** Sweep options from argv; the per-point duration and warm-up default to 10 s and 2 s. */
export function parseSweepPlan(args: string[]): { plan: SweepPlan; base: LoadOptions } {
  if (args.some((a) => a === '--read-pct' || a.startsWith('--read-pct='))) throw new OptionError('sweep sets the read share per point: use --read-pcts');
  if (args.some((a) => a === '--rate' || a.startsWith('--rate='))) throw new OptionError('sweep sets the rate per point: use --rates');
  const defaults: string[] = [];
  if (!args.some((a) => a.startsWith('--duration'))) defaults.push('--duration', '10s');
  if (!args.some((a) => a.startsWith('--warmup'))) defaults.push('--warmup', '2s');
  const { options, extra } = parseLoadOptions([...defaults, ...args], { withValue: [...SWEEP_FLAGS.withValue], booleans: [...SWEEP_FLAGS.booleans] });
  const mixIndex = args.findIndex((a) => a === '--mix' || a.startsWith('--mix='));
  const mixText = mixIndex === -1 ? DEFAULTS.mix : args[mixIndex].startsWith('--mix=') ? args[mixIndex].slice(6) : args[mixIndex + 1];
  const weights = parseMix(mixText);
  const readPcts = parsePercentList('read-pcts', extra.get('read-pcts') ?? '0..100/10');
  const latencyReadPct = parseInteger('latency-read-pct', extra.get('latency-read-pct') ?? '50', 0, 100);
  const rates = parseRates(extra.get('rates') ?? 'auto');
  // every read share must be reachable with the mix
  for (const pct of [...readPcts, latencyReadPct]) resolveMix(weights, pct);
  const unloaded = !extra.has('no-unloaded');
  if (unloaded) resolveMix(weights, 100);
  return { plan: { base: options, weights, readPcts, latencyReadPct, rates, latency: !extra.has('no-latency'), unloaded }, base: options };
}

export async function sweepMain(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(SWEEP_USAGE + '\n' + USAGE);
    return 0;
  }
  let parsed;
  try {
    parsed = parseSweepPlan(args);
  } catch (err) {
    if (err instanceof OptionError) {
      process.stderr.write(`zooid loadgen sweep: ${err.message}\n\n${SWEEP_USAGE}`);
      return 2;
    }
    throw err;
  }
  const { plan, base } = parsed;
  const tty = process.stderr.isTTY === true;
  try {
    process.stderr.write(`seed ${base.seed}\n`);
    const result = await runSweep(plan, {
      log: (line) => process.stderr.write(`${tty ? '\r\x1b[2K' : ''}${line}\n`),
      progress: base.progress ? (line, final) => { if (tty && !final) process.stderr.write(`\r\x1b[2K${line}`); } : undefined,
    });
    if (base.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else process.stdout.write(formatSweep(result) + '\n');
    if (base.reportPath !== null) {
      fs.writeFileSync(base.reportPath, renderSweepReport(result));
      process.stderr.write(`report written to ${base.reportPath}\n`);
    }
    return 0;
  } catch (err) {
    if (err instanceof LoadgenError) {
      process.stderr.write(`zooid loadgen sweep: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await closePool();
  }
}
