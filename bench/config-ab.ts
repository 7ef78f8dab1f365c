// An A/B of zooid settings on one traffic shape: servers with zoo.cfg lines A and B are
// started and driven in turn (A, B, B, A, A, B, ...: a noisy machine drifts over minutes, and
// alternating spreads the drift over both; which goes first in a round alternates too), each on a fresh dataDir, and every run's
// latency, throughput and server CPU per op (user + system of the server process over the
// measured window / replies in it) is printed with the medians per side.
//
//   node bench/config-ab.ts --a 'zooid.loneClientSpinUs=0' --b 'zooid.loneClientSpinUs=150' \
//     [--rounds 5] [--connections 1] [--outstanding 1] [--read-pct 100] [--duration 8s] [--warmup 2s]
//     [--rate OPS] [--threads N] [--traffic per-request|batched] [--a-root DIR] [--b-root DIR]
//
// --rate makes it an open loop at that offered load (latency from each op's intended send
// time), for what a setting costs at a load below the server's peak. --a-root/--b-root run
// that side's zooid from another checkout (a before/after of a code change; --a and --b may
// then both be empty).
// The default shape is issue 13's unloaded read: one connection, one request in flight,
// 100% getData of 1 KiB values, one request per write.
import { parseArgs } from 'node:util';
import { parseLoadOptions } from '../loadgen/options.ts';
import { runLoad } from '../loadgen/run.ts';
import { startServer } from '../test/support/servers.ts';
import { processCpuMs, threadCpu, threadCpuBetween, type ThreadSample } from './proc.ts';
import { configPairs, median } from './bench-server.ts';
import { formatMachine, machineFacts } from './machine.ts';

const { values } = parseArgs({
  options: {
    a: { type: 'string', default: '' },
    b: { type: 'string', default: '' },
    rounds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '1' },
    outstanding: { type: 'string', default: '1' },
    'read-pct': { type: 'string', default: '100' },
    duration: { type: 'string', default: '8s' },
    warmup: { type: 'string', default: '2s' },
    rate: { type: 'string', default: '' },
    'a-root': { type: 'string', default: '' },
    'b-root': { type: 'string', default: '' },
    threads: { type: 'string', default: '' },
    traffic: { type: 'string', default: 'per-request' },
  },
});

interface Run { side: 'A' | 'B'; p50Us: number; p99Us: number; p999Us: number; opsPerSec: number; cpuUsPerOp: number; byThread: string; worstSecondOps: number; connects: number; errors: number }

async function runOnce(side: 'A' | 'B', config: Record<string, string>): Promise<Run> {
  const root = side === 'A' ? values['a-root']! : values['b-root']!;
  const server = await startServer('zooid', { config: { maxClientCnxns: '0', ...config }, ...(root === '' ? {} : { zooidRoot: root }) });
  try {
    const { options } = parseLoadOptions([
      '--hosts', `127.0.0.1:${server.port}`, '--connections', values.connections!, '--outstanding', values.outstanding!, '--read-pct', values['read-pct']!,
      '--duration', values.duration!, '--warmup', values.warmup!, '--keys', '1000', '--value-bytes', '1024', '--seed', '1', '--no-progress',
      ...(values.rate === '' ? [] : ['--rate', values.rate!]),
      ...(values.threads === '' ? [] : ['--threads', values.threads!]),
      '--traffic', values.traffic!,
    ]);
    let cpuStartMs = NaN;
    let cpuEndMs = NaN;
    let threadsStart: ThreadSample[] = [];
    let threadsEnd: ThreadSample[] = [];
    const { result } = await runLoad(options, {
      onWindowEdge: (edge) => {
        if (edge === 'start') {
          cpuStartMs = processCpuMs(server.pid);
          threadsStart = threadCpu(server.pid);
        } else {
          cpuEndMs = processCpuMs(server.pid);
          threadsEnd = threadCpu(server.pid);
        }
      },
    });
    const replies = result.window?.replies ?? NaN;
    return {
      side, p50Us: result.all.p50Us, p99Us: result.all.p99Us, p999Us: result.all.p999Us, opsPerSec: result.throughputOpsPerSec,
      cpuUsPerOp: ((cpuEndMs - cpuStartMs) * 1000) / replies,
      // the threads that cost most, in µs per op (what stage a change moved)
      byThread: threadCpuBetween(threadsStart, threadsEnd).filter((g) => (g.cpuMs * 1000) / replies >= 0.5).map((g) => `${g.name} ${((g.cpuMs * 1000) / replies).toFixed(1)}`).join(', '),
      // a stall shows here: a measured second with (almost) no replies
      worstSecondOps: Math.min(...result.timeline.filter((t) => result.window !== null && t.second >= result.window.startSecond && t.second < result.window.endSecond).map((t) => t.opsPerSec)),
      connects: result.connects, errors: result.errorCount,
    };
  } finally {
    await server.stop();
  }
}

const sides = { A: configPairs(values.a!, '--a'), B: configPairs(values.b!, '--b') } as const;
const rounds = Number(values.rounds);
console.log(`## config A/B (${new Date().toISOString()})\n`);
console.log(formatMachine(machineFacts()).join('\n'));
console.log(`\n\`node bench/config-ab.ts ${process.argv.slice(2).join(' ')}\`: ${values.connections} connections × ${values.outstanding} in flight, ${values['read-pct']}% getData (else setData), 1 KiB values, ${values.traffic === 'batched' ? 'batched (all requests a reply chunk frees in one write)' : 'one request per write'}, ${values.rate === '' ? 'closed loop' : `open loop at ${values.rate} ops/s`}; ${values.duration} measured after ${values.warmup} of warm-up, ${rounds} rounds alternating A, B (B first in even rounds)\n`);
const rootNote = (r: string) => (r === '' ? '' : ` (zooid from ${r})`);
console.log(`- A: ${values.a || '(defaults)'}${rootNote(values['a-root']!)}\n- B: ${values.b || '(defaults)'}${rootNote(values['b-root']!)}\n`);
console.log('| round | side | p50 µs | p99 µs | p99.9 µs | ops/s | server CPU µs/op | by thread, µs/op | worst second ops/s | connects, errors |\n|---|---|---:|---:|---:|---:|---:|---|---:|---|');
const runs: Run[] = [];
for (let i = 1; i <= rounds; i++) {
  // A first in odd rounds, B first in even ones, so an order effect cannot favour one side
  // (two 3-round runs of nearly the same code at 200 × 1 reads gave 17.9 against 14.8 µs/op,
  // then 15.4 against 15.3 with the sides swapped: the spread of 3 rounds is that wide)
  for (const side of i % 2 === 1 ? (['A', 'B'] as const) : (['B', 'A'] as const)) {
    const r = await runOnce(side, sides[side]);
    runs.push(r);
    console.log(`| ${i} | ${side} | ${r.p50Us.toFixed(0)} | ${r.p99Us.toFixed(0)} | ${r.p999Us.toFixed(0)} | ${r.opsPerSec.toFixed(0)} | ${r.cpuUsPerOp.toFixed(1)} | ${r.byThread} | ${r.worstSecondOps} | ${r.connects}, ${r.errors} |`);
  }
}
console.log('\n| side | median p50 µs (range) | median p99 µs (range) | median ops/s | median CPU µs/op |\n|---|---|---|---:|---:|');
for (const side of ['A', 'B'] as const) {
  const mine = runs.filter((r) => r.side === side);
  const col = (f: (r: Run) => number) => `${median(mine.map(f)).toFixed(0)} (${Math.min(...mine.map(f)).toFixed(0)}–${Math.max(...mine.map(f)).toFixed(0)})`;
  console.log(`| ${side} | ${col((r) => r.p50Us)} | ${col((r) => r.p99Us)} | ${median(mine.map((r) => r.opsPerSec)).toFixed(0)} | ${median(mine.map((r) => r.cpuUsPerOp)).toFixed(1)} |`);
}
