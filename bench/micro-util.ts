// Shared by the tinybench microbenchmarks: one machine header, one table shape (ops/s and
// ns per op at the mean, p50, p99, with the relative margin of error), and the knobs every
// file honours: BENCH_TIME_MS (sampling time per task, default 1000) and BENCH_WARMUP_MS
// (default 200). A task's function does one op unless it says "per N".
import os from 'node:os';
import { Bench } from 'tinybench';

export const TIME_MS = Number(process.env.BENCH_TIME_MS ?? 1000);
export const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 200);

export function machineLine(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model ?? 'unknown cpu'} × ${cpus.length}, ${os.platform()} ${os.release()}, node ${process.version}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;
}

export function newBench(name: string): Bench {
  return new Bench({ name, time: TIME_MS, warmupTime: WARMUP_MS, throws: true });
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** Calls per sample in batched tasks: tinybench times each call, and its clock costs ~100s of ns. */
export const BATCH = 1000;

/**
 * Adds a task that runs `op` BATCH times per sample, so the timer's own cost is spread
 * over the batch; record the name in the returned map for runAndReport.
 */
export function addBatched(bench: Bench, perCall: Record<string, number>, name: string, op: () => void): void {
  bench.add(name, () => {
    for (let i = 0; i < BATCH; i++) op();
  });
  perCall[name] = BATCH;
}

/** Runs the bench and prints its table. opsPerCall: how many ops one call of a task does. */
export async function runAndReport(bench: Bench, opsPerCall: Record<string, number> = {}): Promise<void> {
  console.log(`${bench.name} — ${machineLine()}`);
  console.log(`warm-up ${WARMUP_MS} ms, then at least ${TIME_MS} ms of samples per task (BENCH_TIME_MS, BENCH_WARMUP_MS)`);
  await bench.run();
  const rows = bench.tasks.map((task) => {
    const r = task.result;
    if (r.state !== 'completed') return { task: task.name, state: r.state };
    const per = opsPerCall[task.name] ?? 1;
    const ns = (ms: number) => (ms * 1e6) / per;
    return {
      task: task.name,
      'ops/s': fmt((1000 * per) / r.latency.mean),
      'ns/op mean': fmt(ns(r.latency.mean), 1),
      'ns/op p50': fmt(ns(r.latency.p50), 1),
      'ns/op p99': fmt(ns(r.latency.p99), 1),
      'rme %': fmt(r.latency.rme, 1),
      samples: r.latency.samplesCount,
    };
  });
  console.table(rows);
}
