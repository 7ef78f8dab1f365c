// One loadgen run against a running server (pid given): its CPU over the measured window per
// reply, by thread, with throughput and latency, as one JSON line. Used by bench/iocpu/interleave.sh.
// usage: node bench/iocpu/run-one.ts PID [zooid loadgen options...]
import { parseLoadOptions } from '../../loadgen/options.ts';
import { runLoad, closePool } from '../../loadgen/run.ts';
import { threadCpu, threadCpuBetween, processCpuMs, machineBusyMs } from '../proc.ts';
const pid = Number(process.argv[2]);
const { options } = parseLoadOptions(process.argv.slice(3));
options.progress = false;
let t0: ReturnType<typeof threadCpu> = [], c0 = 0, m0 = 0, w0 = 0;
let threads: { name: string; cpuMs: number }[] = [], cpuMs = 0, busyMs = 0, wallMs = 0;
const out = await runLoad(options, {
  onWindowEdge: (edge) => {
    if (edge === 'start') { t0 = threadCpu(pid); c0 = processCpuMs(pid); m0 = machineBusyMs(); w0 = performance.now(); }
    else { threads = threadCpuBetween(t0, threadCpu(pid)); cpuMs = processCpuMs(pid) - c0; busyMs = machineBusyMs() - m0; wallMs = performance.now() - w0; }
  },
});
await closePool();
const r = out.result;
const replies = r.window?.replies ?? NaN;
const per = (ms: number) => (ms * 1000 / replies).toFixed(1);
console.log(JSON.stringify({
  ops: r.throughputOpsPerSec, p50: r.all.p50Us, p99: r.all.p99Us, usPerOp: Number(per(cpuMs)),
  threads: Object.fromEntries(threads.filter((t) => t.cpuMs > 0).map((t) => [t.name, Number(per(t.cpuMs))])),
  serverCores: +(cpuMs / wallMs).toFixed(2), machineCores: +(busyMs / wallMs).toFixed(2), lgBusy: r.loadgenBusy, errors: r.errorCount,
}));
process.exit(0);
