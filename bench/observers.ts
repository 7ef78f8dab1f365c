// Observers at scale (issue 11): reads served by observers as their number grows, and writes
// while an observer dies. zooid and Apache ZooKeeper 3.8 side by side, on this machine.
//
//   node bench/observers.ts [--servers zooid,zookeeper] [--observers 1,2,4] [--repeats 2]
//                           [--connections 32] [--outstanding 1] [--duration 10s]
//                           [--write-rate 1000] [--out FILE.md]
//
// Reads: 3 voters + K observers (server.N=...:observer, peerType=observer) on loopback; a
// closed loop of getData (100 B values, 1,000 keys), one request per socket write, its
// connections spread over the observers only. Per point: reads/s, p50/p99/p99.9, and the
// CPU per read of every member summed (and the observers' and voters' shares). The order of
// K alternates between repeats; the table gives each repeat.
// Writes: 3 voters + 2 observers; an open loop of setData through the voters at
// --write-rate, and one observer killed with SIGKILL halfway through: the write errors and
// the per-second write rate and p99 before and after the kill.
import fs from 'node:fs';
import os from 'node:os';
import { deploy, type Deployment } from './deploy.ts';
import { SERVER_CONFIG } from './compare.ts';
import { processCpuMs } from './proc.ts';
import { machineFacts, formatMachine } from './machine.ts';
import { parseLoadOptions, type LoadOptions } from '../loadgen/options.ts';
import { runLoad, closePool, type RunResult } from '../loadgen/run.ts';
import type { ServerKind } from '../test/support/servers.ts';

const VOTERS = 3;

type Opts = {
  servers: ServerKind[];
  observers: number[];
  repeats: number;
  connections: number;
  outstanding: number;
  duration: string;
  writeRate: number;
  out: string | null;
};

function parseArgs(argv: string[]): Opts {
  const o: Opts = { servers: ['zooid', 'zookeeper'], observers: [1, 2, 4], repeats: 2, connections: 32, outstanding: 1, duration: '10s', writeRate: 1000, out: null };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, v] = [argv[i], argv[i + 1]];
    if (v === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--servers') o.servers = v.split(',') as ServerKind[];
    else if (flag === '--observers') o.observers = v.split(',').map(Number);
    else if (flag === '--repeats') o.repeats = Number(v);
    else if (flag === '--connections') o.connections = Number(v);
    else if (flag === '--outstanding') o.outstanding = Number(v);
    else if (flag === '--duration') o.duration = v;
    else if (flag === '--write-rate') o.writeRate = Number(v);
    else if (flag === '--out') o.out = v;
    else throw new Error(`unknown option ${flag}`);
  }
  for (const s of o.servers) if (s !== 'zooid' && s !== 'zookeeper') throw new Error(`--servers: zooid or zookeeper, not ${s}`);
  return o;
}

function log(line: string): void {
  process.stderr.write(`[observers ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

const cpuMsOf = (pids: readonly number[]) => pids.reduce((sum, pid) => sum + processCpuMs(pid), 0);

type ReadPoint = { server: ServerKind; observers: number; repeat: number; readsPerSec: number; p50Us: number; p99Us: number; p999Us: number; errors: number; cpuUsPerRead: number; voterCores: number; observerCores: number };

function loadOptions(args: string[], hosts: number[]): LoadOptions {
  return parseLoadOptions([...args, '--hosts', hosts.map((p) => `127.0.0.1:${p}`).join(','), '--no-progress']).options;
}

/** One read point: K observers, the reads spread over them, CPU sampled at the window's edges. */
async function readPoint(server: ServerKind, observers: number, repeat: number, o: Opts): Promise<ReadPoint> {
  const d = await deploy(server, VOTERS + observers, SERVER_CONFIG, undefined, observers);
  try {
    log(`${server}: ${VOTERS} voters + ${observers} observers serving as ${d.modes.join(', ')}`);
    const observerPorts = d.ports.slice(VOTERS);
    const common = ['--value-bytes', '100', '--keys', '1000', '--traffic', 'per-request'];
    // keys written once through the voters, then reads only through the observers
    await runLoad({ ...loadOptions([...common, '--connections', '4', '--mix', 'set:1', '--duration', '1s', '--warmup', '0s'], d.ports.slice(0, VOTERS)) });
    const load = loadOptions([...common, '--connections', String(o.connections), '--outstanding', String(o.outstanding), '--mix', 'get:1', '--duration', o.duration, '--warmup', '2s', '--no-setup'], observerPorts);
    const edges: { start: Sample | null; end: Sample | null } = { start: null, end: null };
    const sample = (): Sample => ({ wall: performance.now(), voters: cpuMsOf(d.pids.slice(0, VOTERS)), observers: cpuMsOf(d.pids.slice(VOTERS)) });
    const { result } = await runLoad(load, { onWindowEdge: (edge) => (edges[edge] = sample()) });
    return pointOf(server, observers, repeat, result, edges.start, edges.end);
  } finally {
    await d.stop();
  }
}

type Sample = { wall: number; voters: number; observers: number };

function pointOf(server: ServerKind, observers: number, repeat: number, r: RunResult, start: Sample | null, end: Sample | null): ReadPoint {
  const replies = r.window?.replies ?? NaN;
  const wallMs = start !== null && end !== null ? end.wall - start.wall : NaN;
  const voterMs = start !== null && end !== null ? end.voters - start.voters : NaN;
  const observerMs = start !== null && end !== null ? end.observers - start.observers : NaN;
  return {
    server, observers, repeat,
    readsPerSec: r.throughputOpsPerSec, p50Us: r.all.p50Us, p99Us: r.all.p99Us, p999Us: r.all.p999Us, errors: r.errorCount,
    cpuUsPerRead: ((voterMs + observerMs) * 1000) / replies, voterCores: voterMs / wallMs, observerCores: observerMs / wallMs,
  };
}

type WriteResult = { server: ServerKind; killedPid: number; errors: number; errorCodes: Record<string, number>; before: { opsPerSec: number; p99Us: number }; after: { opsPerSec: number; p99Us: number }; worstSecondP99Us: number; minSecondOpsPerSec: number };

/** Writes through the voters; one of two observers killed halfway. */
async function writesWhileAnObserverDies(server: ServerKind, o: Opts): Promise<WriteResult> {
  const d: Deployment = await deploy(server, VOTERS + 2, SERVER_CONFIG, undefined, 2);
  try {
    const durationS = 20;
    const load = loadOptions(['--value-bytes', '100', '--keys', '1000', '--traffic', 'per-request', '--connections', '8', '--rate', String(o.writeRate), '--mix', 'set:1', '--duration', `${durationS}s`, '--warmup', '2s'], d.ports.slice(0, VOTERS));
    const killedPid = d.pids[VOTERS];
    let windowStartMs = 0;
    const timer = { handle: null as NodeJS.Timeout | null };
    const { result } = await runLoad(load, {
      onWindowEdge: (edge) => {
        if (edge !== 'start') return;
        windowStartMs = performance.now();
        timer.handle = setTimeout(() => {
          log(`${server}: SIGKILL to observer pid ${killedPid}, ${((performance.now() - windowStartMs) / 1000).toFixed(1)} s into the window`);
          process.kill(killedPid, 'SIGKILL');
        }, (durationS / 2) * 1000);
      },
    });
    if (timer.handle !== null) clearTimeout(timer.handle);
    // whole seconds only: the window's first and last second are cut short
    const measured = result.timeline.filter((t) => !t.warmup).slice(1, -1);
    const half = Math.floor(measured.length / 2);
    const summarize = (pts: typeof measured) => ({ opsPerSec: median(pts.map((t) => t.opsPerSec)), p99Us: median(pts.map((t) => t.p99Us)) });
    return {
      server, killedPid, errors: result.errorCount, errorCodes: result.errors,
      before: summarize(measured.slice(0, half)), after: summarize(measured.slice(half + 1)),
      worstSecondP99Us: Math.max(...measured.map((t) => t.p99Us)), minSecondOpsPerSec: Math.min(...measured.map((t) => t.opsPerSec)),
    };
  } finally {
    await d.stop();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ms = (us: number) => (us / 1000).toFixed(3);
const int = (n: number) => Math.round(n).toLocaleString('en-US');

function render(o: Opts, reads: ReadPoint[], writes: WriteResult[], startedAt: string, argv: string[]): string {
  const lines = [`### Observers at scale — ${startedAt.slice(0, 10)}`, '', ...formatMachine(machineFacts(os.tmpdir()))];
  lines.push(`- command: \`node bench/observers.ts ${argv.join(' ')}\``, `- load average at the end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`, '');
  lines.push(`Reads: ${VOTERS} voters + K observers on loopback, ${o.connections} connections × ${o.outstanding} in flight spread over the observers only, getData of 100 B over 1,000 keys, one request per socket write, ${o.duration} measured after 2 s of warm-up. CPU per read: every member's process summed (user + system).`, '');
  lines.push('| server | observers | repeat | reads/s | p50 ms | p99 ms | p99.9 ms | errors | CPU µs/read (all members) | voters\' cores | observers\' cores |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const p of reads) lines.push(`| ${p.server} | ${p.observers} | ${p.repeat + 1} | ${int(p.readsPerSec)} | ${ms(p.p50Us)} | ${ms(p.p99Us)} | ${ms(p.p999Us)} | ${p.errors} | ${p.cpuUsPerRead.toFixed(1)} | ${p.voterCores.toFixed(2)} | ${p.observerCores.toFixed(2)} |`);
  lines.push('', 'Medians over the repeats:', '', '| server | observers | reads/s | p99 ms | CPU µs/read |', '|---|---:|---:|---:|---:|');
  for (const server of o.servers) {
    for (const k of o.observers) {
      const mine = reads.filter((p) => p.server === server && p.observers === k);
      lines.push(`| ${server} | ${k} | ${int(median(mine.map((p) => p.readsPerSec)))} | ${ms(median(mine.map((p) => p.p99Us)))} | ${median(mine.map((p) => p.cpuUsPerRead)).toFixed(1)} |`);
    }
  }
  lines.push('', `Writes while an observer dies: ${VOTERS} voters + 2 observers, setData of 100 B at ${o.writeRate}/s (open loop, 8 connections to the voters), 20 s measured, one observer SIGKILLed at 10 s. Per-second medians before and after the kill.`, '');
  lines.push('| server | write errors | writes/s before → after | p99 ms before → after | worst second: p99 ms, fewest writes |', '|---|---:|---:|---:|---:|');
  for (const w of writes) lines.push(`| ${w.server} | ${w.errors}${w.errors > 0 ? ` (${JSON.stringify(w.errorCodes)})` : ''} | ${int(w.before.opsPerSec)} → ${int(w.after.opsPerSec)} | ${ms(w.before.p99Us)} → ${ms(w.after.p99Us)} | ${ms(w.worstSecondP99Us)}, ${int(w.minSecondOpsPerSec)} |`);
  return lines.join('\n') + '\n';
}

async function main(argv: string[]): Promise<number> {
  const o = parseArgs(argv);
  const startedAt = new Date().toISOString();
  const reads: ReadPoint[] = [];
  for (let repeat = 0; repeat < o.repeats; repeat++) {
    const ks = repeat % 2 === 0 ? o.observers : [...o.observers].reverse();
    for (const server of repeat % 2 === 0 ? o.servers : [...o.servers].reverse()) {
      for (const k of ks) {
        const p = await readPoint(server, k, repeat, o);
        log(`${server}, ${k} observers: ${int(p.readsPerSec)} reads/s, p99 ${ms(p.p99Us)} ms, ${p.cpuUsPerRead.toFixed(1)} µs/read (voters ${p.voterCores.toFixed(2)}, observers ${p.observerCores.toFixed(2)} cores)`);
        reads.push(p);
      }
    }
  }
  const writes: WriteResult[] = [];
  for (const server of o.servers) {
    const w = await writesWhileAnObserverDies(server, o);
    log(`${server}: writes with an observer killed: ${w.errors} errors, ${int(w.before.opsPerSec)} → ${int(w.after.opsPerSec)} writes/s, p99 ${ms(w.before.p99Us)} → ${ms(w.after.p99Us)} ms`);
    writes.push(w);
  }
  await closePool();
  const md = render(o, reads, writes, startedAt, argv);
  if (o.out !== null) fs.writeFileSync(o.out, md);
  process.stdout.write(md);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
