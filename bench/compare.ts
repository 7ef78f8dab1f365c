// zooid and Apache ZooKeeper 3.8 side by side (`npm run bench:compare`). Each server runs
// standalone with a fresh dataDir on the same disk and fsync on; the same load generator
// sweep runs against each in turn, alternating which goes first, repeated. Open-loop
// latency is measured at the same offered loads for both (fractions of ZooKeeper's closed-
// loop peak in the first repeat), so p99s compare at equal load. Writes
// bench/results/<date>.md, .json and .html with the machine facts and the ratio table.
//
//   npm run bench:compare                      full: 11 read %, 10 s points, 3 repeats (~25 min)
//   npm run bench:compare -- --quick           ~2-3 min: 5 read %, 2 s points, 2 repeats
//   npm run bench:compare -- --duration 5s --warmup 1s --repeats 2 --read-pcts 0,50,100
//
// The load generator runs on the same machine as the server (a 2-core box has nowhere else
// to run it); its threads are reported with the results.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fourLetterWord, startServer, type ServerHandle, type ServerKind } from '../test/support/servers.ts';
import { OptionError, parseLoadOptions, parseMix, parseInteger, parseDurationMs, resolveMix, splitFlags, type LoadOptions } from '../loadgen/options.ts';
import { runSweep, parsePercentList, parseRates, sweepCharts, findKnee, type SweepResult, type SweepPlan, type LatencyPoint } from '../loadgen/sweep.ts';
import { closePool, runLoad } from '../loadgen/run.ts';
import { formatTable } from '../loadgen/summary.ts';
import { escapeHtml, page } from '../loadgen/report.ts';
import { machineFacts, formatMachine, type MachineFacts } from './machine.ts';

const RESULTS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
/** Targets from the issue: measured and printed, never asserted. */
const TARGET_THROUGHPUT_RATIO = 2;
const TARGET_P99_RATIO = 0.5;
const TARGET_UNLOADED_READ_P50_US = 60;
/** A point where other processes used more CPU than this (in cores) shared the machine noticeably. */
const OTHER_CORES_NOTABLE = 0.3;

export const COMPARE_USAGE = `usage: npm run bench:compare -- [options]      (or: zooid bench compare [options])
  --quick                 5 read %, 2 s points + 1 s warm-up, 3 latency rates, 2 repeats (~2-3 min)
  --repeats N             sweeps per server (default 3; --quick 2); order alternates
  --duration T --warmup T per point (default 10s and 2s)
  --server-warmup T       after each start, unmeasured load (50% reads) before the sweep, so the
                          JVM's JIT and V8's are warm for the first point (default 5s; --quick 3s)
  --idle-wait T           before each point, wait up to T for other processes to use under
                          0.15 cores (a shared machine); default 60s, --quick 0s
  --read-pcts LIST        closed-loop points (default 0..100/10)
  --rates LIST            open-loop offered loads: ops/s, or fractions of ZooKeeper's peak (0.5x)
                          (default 0.25x,0.5x,0.75x,0.9x)
  --latency-read-pct P    read share of the latency points (default 50)
  --servers LIST          zookeeper,zooid (default both)
  --connections N --outstanding N --value-bytes B --keys N --threads N --seed S   load shape
                          (default 8 × 50, 1 KiB, 10000 keys, threads = cores)
  --out-dir DIR           where results go (default bench/results)
  --label TEXT            appended to the file name
  --render FILE.json      rewrite FILE.md and FILE.html from a results JSON (no servers run)
`;

interface CompareConfig {
  servers: ServerKind[];
  /** Before each point, wait up to this long for other processes to go quiet (0: do not). */
  idleWaitMs: number;
  serverWarmupMs: number;
  repeats: number;
  base: LoadOptions;
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
    new Set(['repeats', 'duration', 'warmup', 'server-warmup', 'idle-wait', 'read-pcts', 'rates', 'latency-read-pct', 'servers', 'connections', 'outstanding', 'value-bytes', 'keys', 'threads', 'seed', 'out-dir', 'label']),
    new Set(['quick']),
  );
  const quick = flags.has('quick');
  const loadArgs: string[] = [
    '--duration', flags.get('duration') ?? (quick ? '2s' : '10s'),
    '--warmup', flags.get('warmup') ?? (quick ? '1s' : '2s'),
    '--no-progress',
  ];
  for (const f of ['connections', 'outstanding', 'value-bytes', 'keys', 'threads', 'seed']) {
    const v = flags.get(f);
    if (v !== undefined) loadArgs.push(`--${f}`, v);
  }
  const { options } = parseLoadOptions(loadArgs);
  const servers = (flags.get('servers') ?? 'zookeeper,zooid').split(',').map((s) => s.trim());
  for (const s of servers) if (s !== 'zookeeper' && s !== 'zooid') throw new OptionError(`--servers: '${s}' is neither zookeeper nor zooid`);
  return {
    servers: servers as ServerKind[],
    idleWaitMs: parseDurationMs('idle-wait', flags.get('idle-wait') ?? (quick ? '0s' : '60s'), 0, 3600_000),
    serverWarmupMs: parseDurationMs('server-warmup', flags.get('server-warmup') ?? (quick ? '3s' : '5s'), 0, 600_000),
    repeats: parseInteger('repeats', flags.get('repeats') ?? (quick ? '2' : '3'), 1, 100),
    base: options,
    readPcts: parsePercentList('read-pcts', flags.get('read-pcts') ?? (quick ? '0,25,50,75,100' : '0..100/10')),
    latencyReadPct: parseInteger('latency-read-pct', flags.get('latency-read-pct') ?? '50', 0, 100),
    rates: parseRates(flags.get('rates') ?? (quick ? '0.25x,0.5x,0.9x' : '0.25x,0.5x,0.75x,0.9x')),
    outDir: flags.get('out-dir') ?? RESULTS_DIR,
    label: flags.get('label') ?? '',
    command: `npm run bench:compare${args.length > 0 ? ' -- ' + args.join(' ') : ''}`,
  };
}

interface ServerRun {
  server: ServerKind;
  repeat: number;
  version: string;
  loadBefore: number;
  loadAfter: number;
  sweep: SweepResult;
  /**
   * Per run of the sweep (same order as sweep.runs): the server's CPU time and replies, the
   * load generator's CPU, and the CPU everything else on the machine used meanwhile (in cores:
   * near 0 means the comparison had the machine to itself).
   */
  cpu: { cpuMs: number; replies: number; usPerReply: number; loadgenCores: number; serverCores: number; otherCores: number }[];
}

/** The CPU time (user + system, all threads) a process has used so far, from /proc; NaN elsewhere. */
function processCpuMs(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command (which may hold spaces) start after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
    return (ticks * 1000) / CLOCK_TICKS_PER_SEC;
  } catch {
    return NaN;
  }
}
/** USER_HZ: 100 on every Linux build that matters (sysconf(_SC_CLK_TCK)). */
const CLOCK_TICKS_PER_SEC = 100;

/** CPU time all processes spent busy (not idle, not iowait) so far, from /proc/stat; NaN elsewhere. */
function machineBusyMs(): number {
  try {
    const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0); // user nice system idle iowait irq softirq steal
    return ((total - cpu[3] - cpu[4]) * 1000) / CLOCK_TICKS_PER_SEC;
  } catch {
    return NaN;
  }
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
async function waitForOthersIdle(serverPid: number, maxWaitMs: number): Promise<{ waitedMs: number; otherCores: number }> {
  const t0 = Date.now();
  for (;;) {
    const a = { m: machineBusyMs(), s: processCpuMs(serverPid), me: selfCpuMs(), t: Date.now() };
    await new Promise((resolve) => setTimeout(resolve, IDLE_SAMPLE_MS));
    const otherCores = (machineBusyMs() - a.m - (processCpuMs(serverPid) - a.s) - (selfCpuMs() - a.me)) / (Date.now() - a.t);
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

function startKind(kind: ServerKind): Promise<ServerHandle> {
  // fsync on explicitly (both default to it); snapshots as ZooKeeper's default
  return startServer(kind, { config: { forceSync: 'yes', snapCount: '100000', 'admin.enableServer': 'false' } });
}

async function versionOf(h: ServerHandle): Promise<string> {
  try {
    const srvr = await fourLetterWord(h.port, 'srvr');
    return /version:\s*(.*)/i.exec(srvr)?.[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export async function runCompare(cfg: CompareConfig): Promise<{ runs: ServerRun[]; rates: number[]; machine: MachineFacts; finishedAt: string }> {
  const machine = machineFacts(os.tmpdir());
  if (machine.loadAvg[0] >= 1) log(`warning: 1-minute load average is ${machine.loadAvg[0]} (>= 1): other work shares this machine; the numbers will say so`);
  const runs: ServerRun[] = [];
  // equal offered loads for both servers: fixed after ZooKeeper's first peak (or absolute)
  let fixedRates: number[] | null = cfg.rates.every((r) => !r.fraction) ? cfg.rates.map((r) => r.value) : null;
  const order = [...cfg.servers];
  if (fixedRates === null && order[0] !== 'zookeeper' && order.includes('zookeeper')) order.reverse();
  for (let repeat = 0; repeat < cfg.repeats; repeat++) {
    const servers = repeat % 2 === 0 ? order : [...order].reverse();
    for (const server of servers) {
      const loadBefore = os.loadavg()[0];
      log(`repeat ${repeat + 1}/${cfg.repeats}: starting ${server} (load ${loadBefore.toFixed(2)})`);
      const handle = await startKind(server);
      try {
        const version = await versionOf(handle);
        const base: LoadOptions = { ...cfg.base, hosts: [{ host: '127.0.0.1', port: handle.port }], setup: true };
        // before ZooKeeper's peak is known (or without ZooKeeper): fractions of the server's own peak
        const rates = fixedRates === null ? cfg.rates : fixedRates.map((value) => ({ value, fraction: false }));
        if (cfg.serverWarmupMs > 0) {
          log(`${server}: ${cfg.serverWarmupMs / 1000} s of unmeasured load to warm it up`);
          await runLoad({ ...base, rateOpsPerSec: null, warmupMs: 0, durationMs: cfg.serverWarmupMs, mix: resolveMix(GET_SET, 50) });
          base.setup = false;
        }
        const cpu: ServerRun['cpu'] = [];
        let at = { server: NaN, self: NaN, machine: NaN, wall: 0 };
        const sweep = await runSweep(
          { base, weights: GET_SET, readPcts: cfg.readPcts, latencyReadPct: cfg.latencyReadPct, rates, latency: rates.length > 0, unloaded: true },
          {
            log: (line) => log(`${server}: ${line}`),
            beforeRun: async () => {
              if (cfg.idleWaitMs > 0) {
                const waited = await waitForOthersIdle(handle.pid, cfg.idleWaitMs);
                if (waited.waitedMs >= 1000) log(`${server}: waited ${(waited.waitedMs / 1000).toFixed(0)} s for other processes to quiet down (now ${waited.otherCores.toFixed(2)} cores)`);
              }
              at = { server: processCpuMs(handle.pid), self: selfCpuMs(), machine: machineBusyMs(), wall: Date.now() };
            },
            afterRun: (result) => {
              const cpuMs = processCpuMs(handle.pid) - at.server;
              const selfMs = selfCpuMs() - at.self;
              const wallMs = Date.now() - at.wall;
              const otherMs = machineBusyMs() - at.machine - cpuMs - selfMs;
              // every reply of the run, warm-up and drain included, as the CPU time is
              const replies = result.timeline.reduce((sum, p) => sum + p.opsPerSec, 0);
              const cores = (ms: number) => Math.round((ms / wallMs) * 100) / 100;
              cpu.push({ cpuMs, replies, usPerReply: replies > 0 ? (cpuMs * 1000) / replies : NaN, loadgenCores: cores(selfMs), serverCores: cores(cpuMs), otherCores: cores(Math.max(0, otherMs)) });
            },
          },
        );
        if (fixedRates === null && (server === 'zookeeper' || !cfg.servers.includes('zookeeper'))) {
          fixedRates = sweep.latency.map((l) => l.offeredOpsPerSec);
          log(`offered loads for every latency point from now on: ${fixedRates.join(', ')} ops/s`);
        }
        runs.push({ server, repeat, version, loadBefore, loadAfter: os.loadavg()[0], sweep, cpu });
      } finally {
        await handle.stop();
      }
    }
  }
  await closePool();
  return { runs, rates: fixedRates ?? [], machine, finishedAt: new Date().toISOString() };
}

interface Aggregate {
  throughput: { readPct: number; median: number; min: number; max: number; p99Us: number; cpuUsPerReply: number; loadgenBusyMax: number }[];
  latency: { offered: number; p50Us: number; p99Us: number; achieved: number; unsent: number }[];
  unloadedP50Us: number;
  unloadedP99Us: number;
  knee: number | null;
}

function aggregate(runs: ServerRun[], readPcts: number[]): Aggregate {
  const throughput = readPcts.map((readPct, i) => {
    const pts = runs.map((r) => r.sweep.throughput.find((t) => t.readPct === readPct)!).filter(Boolean);
    const ops = pts.map((p) => p.opsPerSec);
    // the sweep runs its read percentages first, in order: run i is this point
    const cpuUs = median(runs.map((r) => r.cpu[i]?.usPerReply ?? NaN).filter(Number.isFinite));
    const busy = runs.flatMap((r) => r.sweep.runs[i]?.loadgenBusy ?? []);
    return { readPct, median: median(ops), min: Math.min(...ops), max: Math.max(...ops), p99Us: median(pts.map((p) => p.p99Us)), cpuUsPerReply: cpuUs, loadgenBusyMax: busy.length === 0 ? NaN : Math.max(...busy) };
  });
  const offered = [...new Set(runs.flatMap((r) => r.sweep.latency.map((l) => l.offeredOpsPerSec)))].sort((a, b) => a - b);
  const latency = offered.map((o) => {
    const pts = runs.map((r) => r.sweep.latency.find((l) => l.offeredOpsPerSec === o)).filter((l): l is LatencyPoint => l !== undefined);
    return { offered: o, p50Us: median(pts.map((p) => p.p50Us)), p99Us: median(pts.map((p) => p.p99Us)), achieved: median(pts.map((p) => p.achievedOpsPerSec)), unsent: Math.max(...pts.map((p) => p.unsent)) };
  });
  const medianPoints: LatencyPoint[] = latency.map((l) => ({ offeredOpsPerSec: l.offered, achievedOpsPerSec: l.achieved, p50Us: l.p50Us, p90Us: 0, p99Us: l.p99Us, p999Us: 0, maxUs: 0, errors: 0, unsent: l.unsent, sendLagP99Us: 0 }));
  return {
    throughput,
    latency,
    unloadedP50Us: median(runs.map((r) => r.sweep.unloaded?.readP50Us ?? NaN)),
    unloadedP99Us: median(runs.map((r) => r.sweep.unloaded?.readP99Us ?? NaN)),
    knee: findKnee(medianPoints)?.offeredOpsPerSec ?? null,
  };
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const msText = (us: number) => (Number.isFinite(us) ? (us / 1000).toFixed(3) : '–');
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? (a / b).toFixed(2) : '–');

function mdTable(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function renderMarkdown(cfg: CompareConfig, out: Awaited<ReturnType<typeof runCompare>>, startedAt: string): string {
  const by = (s: ServerKind) => out.runs.filter((r) => r.server === s);
  const zk = aggregate(by('zookeeper'), cfg.readPcts);
  const zi = aggregate(by('zooid'), cfg.readPcts);
  const b = cfg.base;
  const loads = out.runs.map((r) => `${r.server}#${r.repeat + 1} ${r.loadBefore.toFixed(2)}→${r.loadAfter.toFixed(2)}`).join(', ');
  const versions = [...new Set(out.runs.map((r) => `${r.server}: ${r.version}`))].join('; ');
  const lines: string[] = [];
  lines.push(`# zooid vs Apache ZooKeeper — ${startedAt.slice(0, 10)}`);
  lines.push('');
  lines.push(`Command: \`${cfg.command}\``);
  lines.push(`Started ${startedAt}, finished ${out.finishedAt}.`);
  lines.push('');
  lines.push('## Machine');
  lines.push(...formatMachine(out.machine));
  lines.push(`- 1-minute load average before → after each server run: ${loads} (the load generator and the server under test themselves make 3–5)`);
  const others = out.runs.flatMap((r) => r.cpu.map((c) => c.otherCores)).filter(Number.isFinite);
  if (others.length > 0) {
    lines.push(`- CPU used by other processes during the measured points: mean ${(others.reduce((a, b) => a + b, 0) / others.length).toFixed(2)} cores, max ${Math.max(...others).toFixed(2)} of ${out.machine.cores} (from /proc/stat minus the server and the load generator); ${others.filter((o) => o > OTHER_CORES_NOTABLE).length} of ${others.length} points had more than ${OTHER_CORES_NOTABLE} cores of it (column "other cores" under Every run)`);
  }
  lines.push('');
  lines.push('## Setup');
  lines.push(`- servers: ${versions}; standalone, fresh dataDir per run in ${os.tmpdir()} (same disk), forceSync=yes (fsync on every commit), snapCount=100000`);
  lines.push('- Apache ZooKeeper is started as the test harness starts it (test/support/servers.ts: QuorumPeerMain, -Xmx256m -XX:+UseSerialGC, log4j INFO to a file); zooid as `node engine/cli.ts server zoo.cfg` with its defaults');
  lines.push(`- load: ${b.connections} connections × ${b.outstanding} outstanding (closed loop), ${b.valueBytes} B values, ${b.keys} keys uniform, reads = getData, writes = setData; ${b.threads} load generator threads on the same machine`);
  lines.push(`- after each start: ${cfg.serverWarmupMs / 1000} s of unmeasured load (50% reads) so both JITs are warm`);
  if (cfg.idleWaitMs > 0) lines.push(`- before each point: up to ${cfg.idleWaitMs / 1000} s of waiting for other processes on the machine to use under ${OTHERS_IDLE_CORES_MAX} cores`);
  lines.push(`- each point: ${b.warmupMs / 1000} s warm-up, then ${b.durationMs / 1000} s measured; ${cfg.repeats} repeats per server, order alternating (${cfg.servers.join(' first, then ')} in repeat 1); medians shown, min–max in brackets`);
  lines.push(`- latency points: open loop at the same offered loads for both servers (${out.rates.map(int).join(', ')} ops/s, from ZooKeeper's peak in repeat 1), ${cfg.latencyReadPct}% reads, latency from each op's intended send time`);
  lines.push(`- unloaded reads: 1 connection, 1 request in flight, 100% getData`);
  lines.push(`- seed ${b.seed}`);
  lines.push('');
  lines.push(`## Throughput by read percentage (ops/s, median of ${cfg.repeats})`);
  lines.push('');
  lines.push(
    mdTable(
      ['reads %', 'ZooKeeper', 'zooid', 'zooid / ZooKeeper', `target ≥ ${TARGET_THROUGHPUT_RATIO}×`, 'ZooKeeper p99 ms', 'zooid p99 ms', 'ZooKeeper CPU µs/op', 'zooid CPU µs/op', 'load gen busy (max thread)'],
      cfg.readPcts.map((pct, i) => {
        const a = zk.throughput[i];
        const z = zi.throughput[i];
        const r = z.median / a.median;
        return [
          String(pct),
          `${int(a.median)} [${int(a.min)}–${int(a.max)}]`,
          `${int(z.median)} [${int(z.min)}–${int(z.max)}]`,
          ratio(z.median, a.median),
          Number.isFinite(r) ? (r >= TARGET_THROUGHPUT_RATIO ? 'met' : 'not met') : '–',
          msText(a.p99Us),
          msText(z.p99Us),
          Number.isFinite(a.cpuUsPerReply) ? a.cpuUsPerReply.toFixed(1) : '–',
          Number.isFinite(z.cpuUsPerReply) ? z.cpuUsPerReply.toFixed(1) : '–',
          `${Number.isFinite(a.loadgenBusyMax) ? Math.round(a.loadgenBusyMax * 100) + '%' : '–'} / ${Number.isFinite(z.loadgenBusyMax) ? Math.round(z.loadgenBusyMax * 100) + '%' : '–'}`,
        ];
      }),
    ),
  );
  lines.push('');
  // the same medians over the points that had the machine to themselves
  const clean = (server: ServerKind, pct: number): number[] =>
    by(server).flatMap((r) => {
      const i = r.sweep.throughput.findIndex((t) => t.readPct === pct);
      const c = r.cpu[i];
      return i === -1 || c === undefined || !(c.otherCores <= OTHER_CORES_NOTABLE) ? [] : [r.sweep.throughput[i].opsPerSec];
    });
  if (out.runs.some((r) => r.cpu.length > 0)) {
    lines.push('');
    lines.push(`Only the points where other processes used at most ${OTHER_CORES_NOTABLE} cores (median, and how many of the ${cfg.repeats} repeats qualified):`);
    lines.push('');
    lines.push(
      mdTable(
        ['reads %', 'ZooKeeper', 'n', 'zooid', 'n', 'zooid / ZooKeeper'],
        cfg.readPcts.map((pct) => {
          const a = clean('zookeeper', pct);
          const z = clean('zooid', pct);
          return [String(pct), int(median(a)), String(a.length), int(median(z)), String(z.length), ratio(median(z), median(a))];
        }),
      ),
    );
  }
  lines.push('');
  lines.push('CPU µs/op: the server process\'s user+system CPU time over a point (warm-up included) divided by the replies it sent in that time, all threads. Load generator busy: the busiest load generator thread\'s event-loop utilisation (ZooKeeper run / zooid run); near 100% the client, not the server, may be the limit.');
  lines.push('');
  lines.push(`## Latency at equal offered load (open loop, ${cfg.latencyReadPct}% reads, median of ${cfg.repeats})`);
  lines.push('');
  lines.push(
    mdTable(
      ['offered ops/s', 'ZooKeeper achieved', 'ZooKeeper p50 ms', 'ZooKeeper p99 ms', 'zooid achieved', 'zooid p50 ms', 'zooid p99 ms', 'p99 zooid / ZooKeeper', `target ≤ ${TARGET_P99_RATIO}`],
      zk.latency.map((a) => {
        const z = zi.latency.find((l) => l.offered === a.offered);
        const r = z === undefined ? NaN : z.p99Us / a.p99Us;
        return [int(a.offered), int(a.achieved), msText(a.p50Us), msText(a.p99Us), int(z?.achieved ?? NaN), msText(z?.p50Us ?? NaN), msText(z?.p99Us ?? NaN), ratio(z?.p99Us ?? NaN, a.p99Us), Number.isFinite(r) ? (r <= TARGET_P99_RATIO ? 'met' : 'not met') : '–'];
      }),
    ),
  );
  lines.push('');
  lines.push(`Knee (highest offered load carried with p99 ≤ 3 × its low-load p99): ZooKeeper ${zk.knee === null ? 'none' : int(zk.knee)}, zooid ${zi.knee === null ? 'none' : int(zi.knee)} ops/s.`);
  lines.push('');
  lines.push('## Unloaded read latency (1 connection, 1 in flight)');
  lines.push('');
  lines.push(
    mdTable(
      ['', 'ZooKeeper', 'zooid', `target zooid p50 ≤ ${TARGET_UNLOADED_READ_P50_US} µs`],
      [
        ['p50 µs', int(zk.unloadedP50Us), int(zi.unloadedP50Us), Number.isFinite(zi.unloadedP50Us) ? (zi.unloadedP50Us <= TARGET_UNLOADED_READ_P50_US ? 'met' : 'not met') : '–'],
        ['p99 µs', int(zk.unloadedP99Us), int(zi.unloadedP99Us), ''],
      ],
    ),
  );
  lines.push('');
  lines.push('## Every run');
  lines.push('');
  lines.push('```');
  for (const r of out.runs) {
    lines.push(`${r.server} repeat ${r.repeat + 1} (load ${r.loadBefore.toFixed(2)} → ${r.loadAfter.toFixed(2)})`);
    const coresOf = (i: number) => {
      const c = r.cpu[i];
      return c === undefined ? ['–', '–', '–'] : [c.serverCores.toFixed(2), c.loadgenCores.toFixed(2), c.otherCores.toFixed(2)];
    };
    lines.push(formatTable(['reads %', 'ops/s', 'p50 ms', 'p99 ms', 'errors', 'server cores', 'loadgen cores', 'other cores'], r.sweep.throughput.map((t, i) => [String(t.readPct), int(t.opsPerSec), msText(t.p50Us), msText(t.p99Us), int(t.errors), ...coresOf(i)])));
    if (r.sweep.unloaded !== null) lines.push(`unloaded read p50 ${msText(r.sweep.unloaded.readP50Us)} ms, p99 ${msText(r.sweep.unloaded.readP99Us)} ms`);
    if (r.sweep.latency.length > 0) {
      const first = r.sweep.runs.length - r.sweep.latency.length; // latency runs come last
      lines.push(formatTable(['offered', 'achieved', 'p50 ms', 'p99 ms', 'p99.9 ms', 'unsent', 'send lag p99 ms', 'server cores', 'loadgen cores', 'other cores'], r.sweep.latency.map((l, i) => [int(l.offeredOpsPerSec), int(l.achievedOpsPerSec), msText(l.p50Us), msText(l.p99Us), msText(l.p999Us), int(l.unsent), msText(l.sendLagP99Us), ...coresOf(first + i)])));
    }
    lines.push('');
  }
  lines.push('```');
  return lines.join('\n') + '\n';
}

function renderHtml(cfg: CompareConfig, runs: ServerRun[], md: string, startedAt: string): string {
  const charts = sweepCharts(
    cfg.servers.map((s) => {
      const mine = runs.filter((r) => r.server === s);
      return { name: s, sweep: mine[mine.length - 1].sweep };
    }),
  );
  return page(`zooid vs Apache ZooKeeper ${startedAt.slice(0, 10)}`, `<pre>${escapeHtml(md)}</pre>\n<p>Charts: the last repeat of each server.</p>\n${charts}`);
}

/** Re-renders the .md and .html of a results JSON (after a report format change). */
function renderFromJson(file: string | undefined): number {
  if (file === undefined || !file.endsWith('.json')) {
    process.stderr.write(`bench compare: --render needs a results .json file\n`);
    return 2;
  }
  const j = JSON.parse(fs.readFileSync(file, 'utf8'));
  const cfg: CompareConfig = {
    servers: j.config.servers,
    serverWarmupMs: j.config.serverWarmupMs ?? 5000,
    idleWaitMs: j.config.idleWaitMs ?? 0,
    repeats: j.config.repeats,
    base: { ...j.config.load, hosts: [] },
    readPcts: j.config.readPcts,
    latencyReadPct: j.config.latencyReadPct,
    rates: [],
    outDir: path.dirname(file),
    label: '',
    command: j.command,
  };
  const out = { runs: j.runs as ServerRun[], rates: j.config.offeredLoads as number[], machine: j.machine as MachineFacts, finishedAt: j.finishedAt as string };
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
  log(`seed ${cfg.base.seed}; ${cfg.servers.join(', ')}; ${cfg.repeats} repeats; points of ${cfg.base.warmupMs / 1000}+${cfg.base.durationMs / 1000} s`);
  const out = await runCompare(cfg);
  fs.mkdirSync(cfg.outDir, { recursive: true });
  const name = freeName(cfg.outDir, `${startedAt.slice(0, 10)}${cfg.label === '' ? '' : '-' + cfg.label}`);
  const md = renderMarkdown(cfg, out, startedAt);
  const json = {
    command: cfg.command,
    startedAt,
    finishedAt: out.finishedAt,
    machine: out.machine,
    config: { servers: cfg.servers, serverWarmupMs: cfg.serverWarmupMs, idleWaitMs: cfg.idleWaitMs, repeats: cfg.repeats, readPcts: cfg.readPcts, latencyReadPct: cfg.latencyReadPct, offeredLoads: out.rates, load: { ...cfg.base, hosts: undefined } },
    runs: out.runs.map((r) => ({ ...r, sweep: { ...r.sweep, runs: r.sweep.runs.map((x) => ({ ...x, timeline: undefined, cdf: undefined })) } })),
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
