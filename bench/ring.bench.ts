// Ring throughput across two threads: a producer worker pushes records into a ring, the
// main thread polls and releases them; both block on doorbells when the ring is empty or
// full. One tinybench iteration = one batch of RECORDS_PER_BATCH records, so ns/op is the
// batch time divided by the batch size. Baselines run in the same session: the same ring
// on one thread (no cache-line traffic, no parking) and postMessage of the same payloads.
//
//   npx node bench/ring.bench.ts            (from /work/main; Node 24 via the node package)
//   RING_BENCH_TIME_MS=3000 npx node bench/ring.bench.ts

import os from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Bench } from 'tinybench';
import { Doorbell, Ring } from '../native-free-io/ring.ts';

const RECORDS_PER_BATCH = 20_000;
const RING_CAPACITY_BYTES = 1 << 16;
const PAYLOAD_SIZES_BYTES = [16, 128, 1024];
const TIME_PER_TASK_MS = Number(process.env.RING_BENCH_TIME_MS ?? 1500);
const WARMUP_TIME_MS = 300;

const STOP = -1;

interface ProducerJob {
  mode: 'ring' | 'postMessage';
  ringSab: SharedArrayBuffer;
  goBellSab: SharedArrayBuffer;
  controlSab: SharedArrayBuffer; // [0]: payload bytes of the next batch, or STOP
}

// ---- producer worker ----

function producerMain(job: ProducerJob): void {
  const ring = Ring.attach(job.ringSab);
  const go = Doorbell.attach(job.goBellSab);
  const control = new Int32Array(job.controlSab);
  const payload = new Uint8Array(64 * 1024);
  for (let i = 0; i < payload.length; i++) payload[i] = i & 0xff;
  let batchesDone = 0;
  parentPort!.postMessage('ready');
  for (;;) {
    const seen = go.sequence();
    if (seen === batchesDone) {
      go.wait(seen, Infinity);
      continue;
    }
    batchesDone++;
    const payloadBytes = Atomics.load(control, 0);
    if (payloadBytes === STOP) return;
    const record = payload.subarray(0, payloadBytes);
    if (job.mode === 'postMessage') {
      // its own right-sized buffer: posting a view clones the whole underlying ArrayBuffer
      const message = payload.slice(0, payloadBytes);
      for (let n = 0; n < RECORDS_PER_BATCH; n++) parentPort!.postMessage(message);
      continue;
    }
    for (let n = 0; n < RECORDS_PER_BATCH; n++) {
      for (;;) {
        const spaceSeen = ring.spaceBell.sequence();
        const offset = ring.reserve(payloadBytes);
        if (offset >= 0) {
          ring.data.set(record, offset);
          ring.commit(n & 0xff, payloadBytes);
          break;
        }
        ring.spaceBell.wait(spaceSeen, Infinity);
      }
    }
  }
}

// ---- main thread: consumer and report ----

interface Producer {
  worker: Worker;
  ring: Ring;
  go: Doorbell;
  control: Int32Array;
}

/** Starts a producer worker and waits until it is running (the main thread blocks in Atomics.wait later, which would stall a worker still starting up). */
async function startProducer(mode: ProducerJob['mode']): Promise<Producer> {
  const ring = Ring.create(RING_CAPACITY_BYTES);
  const go = Doorbell.create();
  const controlSab = new SharedArrayBuffer(4);
  const job: ProducerJob = { mode, ringSab: ring.sab, goBellSab: go.sab, controlSab };
  const worker = new Worker(new URL(import.meta.url), { workerData: job });
  worker.on('error', (error) => {
    console.error('producer worker failed:', error);
    process.exit(1);
  });
  await new Promise((resolve) => worker.once('message', resolve));
  return { worker, ring, go, control: new Int32Array(controlSab) };
}

function startBatch(producer: Producer, payloadBytes: number): void {
  Atomics.store(producer.control, 0, payloadBytes);
  producer.go.ring();
}

async function stopProducer(producer: Producer): Promise<void> {
  const exited = new Promise((resolve) => producer.worker.once('exit', resolve));
  startBatch(producer, STOP);
  await exited;
}

/** Consume one batch from the ring, parking on the data doorbell when it is empty. */
function consumeRingBatch(ring: Ring, payloadBytes: number): number {
  let checksum = 0;
  for (let n = 0; n < RECORDS_PER_BATCH; ) {
    const seen = ring.dataBell.sequence();
    if (!ring.poll()) {
      ring.dataBell.wait(seen, Infinity);
      continue;
    }
    if (ring.payloadLength !== payloadBytes) throw new Error(`record ${n}: ${ring.payloadLength} bytes, expected ${payloadBytes}`);
    checksum += ring.data[ring.payloadStart + ring.payloadLength - 1];
    ring.release();
    n++;
  }
  return checksum;
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

async function main(): Promise<void> {
  const cpus = os.cpus();
  console.log(`ring.bench: ${cpus[0]?.model ?? 'unknown cpu'} x ${cpus.length}, ${os.platform()} ${os.release()}, Node ${process.version}`);
  console.log(`ring ${RING_CAPACITY_BYTES} B, ${fmt(RECORDS_PER_BATCH)} records per iteration, warm-up ${WARMUP_TIME_MS} ms, ${TIME_PER_TASK_MS} ms per task`);

  const bench = new Bench({ time: TIME_PER_TASK_MS, warmupTime: WARMUP_TIME_MS, throws: true });
  const ringProducer = await startProducer('ring');
  const postProducer = await startProducer('postMessage');
  let sink = 0;

  for (const payloadBytes of PAYLOAD_SIZES_BYTES) {
    bench.add(`ring, 2 threads, ${payloadBytes} B`, () => {
      startBatch(ringProducer, payloadBytes);
      sink += consumeRingBatch(ringProducer.ring, payloadBytes);
    });
  }

  for (const payloadBytes of PAYLOAD_SIZES_BYTES) {
    const ring = Ring.create(RING_CAPACITY_BYTES);
    const record = new Uint8Array(payloadBytes).fill(7);
    bench.add(`ring, 1 thread (push+poll), ${payloadBytes} B`, () => {
      for (let n = 0; n < RECORDS_PER_BATCH; n++) {
        if (!ring.tryPush(n & 0xff, record)) throw new Error('single-thread ring full');
        if (!ring.poll()) throw new Error('single-thread ring empty');
        sink += ring.data[ring.payloadStart];
        ring.release();
      }
    });
  }

  let postReceived = 0;
  let postBatchDone: (() => void) | null = null;
  postProducer.worker.on('message', (message: Uint8Array) => {
    sink += message.length;
    if (++postReceived === RECORDS_PER_BATCH) postBatchDone?.();
  });
  for (const payloadBytes of [16, 1024]) {
    bench.add(`postMessage Uint8Array, 2 threads, ${payloadBytes} B`, async () => {
      postReceived = 0;
      const done = new Promise<void>((resolve) => {
        postBatchDone = resolve;
      });
      startBatch(postProducer, payloadBytes);
      await done;
    });
  }

  await bench.run();
  await Promise.all([stopProducer(ringProducer), stopProducer(postProducer)]);

  const rows = bench.tasks.map((task) => {
    const result = task.result;
    if (result.state !== 'completed') throw new Error(`${task.name}: ${result.state}`);
    const batch = result.latency; // ms per batch of RECORDS_PER_BATCH
    const nsPerOp = (ms: number) => (ms * 1e6) / RECORDS_PER_BATCH;
    return {
      task: task.name,
      'ops/s': fmt((RECORDS_PER_BATCH * 1000) / batch.mean),
      'ns/op mean': fmt(nsPerOp(batch.mean), 1),
      'ns/op p50': fmt(nsPerOp(batch.p50), 1),
      'ns/op p99': fmt(nsPerOp(batch.p99), 1),
      'ns/op p999': fmt(nsPerOp(batch.p999), 1),
      batches: batch.samplesCount,
      'rme %': fmt(batch.rme, 1),
    };
  });
  console.table(rows);
  console.log('percentiles are over per-batch means (one sample = one batch); checksum', sink % 997);
}

if (isMainThread) {
  await main();
} else {
  producerMain(workerData as ProducerJob);
}
