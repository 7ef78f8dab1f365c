// Does V8 give back a heap that a burst grew, once the thread is idle? (issue 13,
// bench/results/memory-2026-12-05.md). One thread churns 10,000 one-KiB strings for 8 s
// (old-space garbage, as setData churn makes in the tree), then sits idle with its event
// loop free (setInterval only, no Atomics.wait) and reports its heap every 5 s.
//
//   node bench/idle-gc.ts [worker|main] [none|major|last-resort] [--idle-s 30]
//
// The second argument is a collection asked for right after the burst through V8's gc
// extension (exposed at run time, as jest-leak-detector does): none, a plain major GC, or
// the memory-reducing one (CollectAllAvailableGarbage). Prints used / total heap and RSS.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';

const MiB = 1024 * 1024;
type Opts = { collect: string; idleS: number };

function run(opts: Opts, report: (line: string) => void): void {
  const live = new Map<number, string>();
  const src = Buffer.alloc(1024, 0x61);
  const t0 = performance.now();
  const at = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
  const sample = (tag: string) => {
    const h = v8.getHeapStatistics();
    report(`${at()} ${tag}: heap used ${(h.used_heap_size / MiB).toFixed(1)} MiB, total ${(h.total_heap_size / MiB).toFixed(1)} MiB, RSS ${(process.memoryUsage().rss / MiB).toFixed(0)} MiB`);
  };
  let i = 0;
  const burst = (): void => {
    for (let k = 0; k < 20_000; k++) live.set((i++ * 7919) % 10_000, src.toString('latin1') + k);
    if (performance.now() - t0 < 8000) {
      setImmediate(burst);
      return;
    }
    sample('end of burst');
    if (opts.collect !== 'none') {
      v8.setFlagsFromString('--expose-gc');
      const gc = vm.runInNewContext('gc') as (o: object) => void;
      const startMs = performance.now();
      gc({ type: 'major', execution: 'sync', flavor: opts.collect === 'last-resort' ? 'last-resort' : 'regular' });
      report(`${opts.collect} collection: ${(performance.now() - startMs).toFixed(0)} ms`);
      sample('after it');
    }
    const timer = setInterval(() => {
      sample('idle');
      if (performance.now() - t0 > 8000 + opts.idleS * 1000) {
        clearInterval(timer);
        report(`live keys ${live.size}`);
      }
    }, 5000);
  };
  burst();
}

if (isMainThread) {
  const args = process.argv.slice(2);
  const where = args[0] ?? 'worker';
  const idleAt = args.indexOf('--idle-s');
  const opts: Opts = { collect: args[1] ?? 'none', idleS: idleAt === -1 ? 30 : Number(args[idleAt + 1]) };
  console.log(`thread: ${where}, collection after the burst: ${opts.collect}`);
  if (where === 'main') run(opts, (line) => console.log(line));
  else new Worker(new URL(import.meta.url), { workerData: opts }).on('message', (line: string) => console.log(line));
} else {
  run(workerData as Opts, (line) => parentPort!.postMessage(line));
}
