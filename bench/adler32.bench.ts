// Adler-32 microbenchmark: native-free-io/adler32.ts on 1 KiB and 64 KiB buffers, next to
// a one-modulo-per-byte baseline and Node's native zlib.crc32 (a different checksum, for
// scale), all in the same run.
//
//   cd /work/main && npx node bench/adler32.bench.ts
//
// Each task: 200 ms warm-up, then at least 1 s of samples. Reports p50/p99/p999 per call
// and throughput. Results depend on the machine: the header prints what this one is.

import os from 'node:os';
import zlib from 'node:zlib';
import { Bench } from 'tinybench';
import { adler32 } from '../native-free-io/adler32.ts';

function adler32PerByteModulo(buf: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < buf.length; i++) {
    a = (a + buf[i]) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

function filled(length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let x = 0x2545f491;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
  return buf;
}

let sink = 0; // keeps results alive so the work is not optimized away

const bench = new Bench({ name: 'adler32', time: 1000, warmupTime: 200 });
for (const length of [1024, 64 * 1024]) {
  const buf = filled(length);
  const label = length === 1024 ? '1 KiB' : '64 KiB';
  if (adler32(buf) !== adler32PerByteModulo(buf)) throw new Error('adler32 disagrees with the baseline');
  bench.add(`adler32 ${label}`, () => {
    sink ^= adler32(buf);
  });
  bench.add(`per-byte modulo baseline ${label}`, () => {
    sink ^= adler32PerByteModulo(buf);
  });
  if (typeof zlib.crc32 === 'function') {
    bench.add(`zlib.crc32 (native) ${label}`, () => {
      sink ^= zlib.crc32(buf);
    });
  }
}

await bench.run();

const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
console.log(`${bench.name} — node ${process.version}, ${os.platform()} ${os.arch()}, ${cpu} × ${os.cpus().length}, load average ${os.loadavg()[0].toFixed(2)}`);
const rows = bench.tasks.map((task) => {
  const r = task.result;
  if (r.state !== 'completed') return { task: task.name, state: r.state };
  const bytes = task.name.endsWith('64 KiB') ? 64 * 1024 : 1024;
  const us = (ms: number) => (ms * 1000).toFixed(2);
  return {
    task: task.name,
    'p50 µs': us(r.latency.p50),
    'p99 µs': us(r.latency.p99),
    'p999 µs': us(r.latency.p999),
    'mean µs': us(r.latency.mean),
    'MB/s (p50)': ((bytes / (r.latency.p50 / 1000)) / 1e6).toFixed(0),
    'MB/s (mean)': ((bytes / (r.latency.mean / 1000)) / 1e6).toFixed(0),
    samples: r.latency.samplesCount,
  };
});
console.table(rows);
if (sink === 0.5) console.log(sink);
