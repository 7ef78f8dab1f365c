// Ring and Doorbell: layout rules on one thread against a model, then real worker threads
// moving seeded records through small rings (many wrap-arounds, backpressure, parking).
// No timers as synchronisation: threads block on doorbells, the test awaits messages.

import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { Doorbell, RECORD_HEADER_BYTES, Ring } from '../../native-free-io/ring.ts';
import { seededRandom, testSeed } from '../support/random.ts';
import { checkRecord, fillPayload, payloadFor, recordKind, recordSizes } from './ring-records.ts';
import type { Blocked, ConsumerDone, ProducerDone, StreamSpec, WorkerJob } from './ring-worker.ts';

const SEED = testSeed();
console.log(`ring.test.ts seed ${SEED} (replay with TEST_SEED=${SEED})`);
const seeded = (what: string) => `${what} [TEST_SEED=${SEED}]`;

const WORKER_URL = new URL('./ring-worker.ts', import.meta.url);
const running = new Set<Worker>();

afterEach(async () => {
  const workers = [...running];
  running.clear();
  await Promise.all(workers.map((w) => w.terminate()));
});

/** Starts a worker; `done` settles with its 'done' message, or rejects on error or early exit. */
function startWorker<T>(job: WorkerJob, onMessage?: (message: Blocked) => void): { worker: Worker; done: Promise<T> } {
  const worker = new Worker(WORKER_URL, { workerData: job });
  running.add(worker);
  const done = new Promise<T>((resolve, reject) => {
    worker.on('message', (message: { type: string }) => {
      if (message.type === 'done') resolve(message as T);
      else onMessage?.(message as Blocked);
    });
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new Error(`worker ${job.role} exited with code ${code} before reporting`)));
  });
  return { worker, done };
}

/** Resolves once `condition()` holds, checking it each turn of the event loop (no timers). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise<void>((resolve) => setImmediate(resolve));
}

function recordBytesFor(payloadBytes: number): number {
  return (RECORD_HEADER_BYTES + payloadBytes + 7) & ~7;
}

function stream(ring: Ring, seed: number, count: number, salt: number): StreamSpec {
  return { ringSab: ring.sab, seed, count, salt };
}

describe('Ring on one thread', () => {
  it('creates only power-of-two areas and derives maxPayloadBytes', () => {
    for (const bad of [0, 63, 100, 1000, 3 << 10, -64, 1.5, Number.NaN]) {
      expect(() => Ring.create(bad), String(bad)).toThrow(RangeError);
    }
    const ring = Ring.create(1024);
    expect(ring.capacityBytes).toBe(1024);
    expect(ring.data.length).toBe(1024);
    expect(ring.maxPayloadBytes).toBe(1024 / 2 - RECORD_HEADER_BYTES);
    expect(ring.usedBytes()).toBe(0);
    expect(ring.poll()).toBe(false);
  });

  it('pushes, polls the same record until release, and frees its bytes', () => {
    const ring = Ring.create(256);
    expect(ring.tryPush(7, Buffer.from('hello '), Buffer.from('world'))).toBe(true);
    expect(ring.usedBytes()).toBe(recordBytesFor(11));
    for (let i = 0; i < 2; i++) {
      expect(ring.poll()).toBe(true);
      expect(ring.kind).toBe(7);
      expect(ring.data.toString('latin1', ring.payloadStart, ring.payloadStart + ring.payloadLength)).toBe('hello world');
    }
    expect(ring.payloadStart % 8).toBe(0);
    ring.release();
    expect(ring.usedBytes()).toBe(0);
    expect(ring.poll()).toBe(false);

    // reserve more than needed, commit less: the record carries the committed length.
    const offset = ring.reserve(100);
    expect(offset).toBeGreaterThanOrEqual(0);
    ring.data.write('abc', offset, 'latin1');
    ring.commit(255, 3);
    expect(ring.usedBytes()).toBe(recordBytesFor(3));
    expect(ring.poll()).toBe(true);
    expect([ring.kind, ring.payloadLength]).toEqual([255, 3]);
    expect(ring.data.toString('latin1', ring.payloadStart, ring.payloadStart + 3)).toBe('abc');
    ring.release();

    // empty payloads are records too
    expect(ring.tryPush(0, new Uint8Array(0))).toBe(true);
    expect(ring.poll()).toBe(true);
    expect(ring.payloadLength).toBe(0);
    ring.release();
  });

  it('asserts its protocol: commit needs a reservation, release needs a record, kinds are bytes', () => {
    const ring = Ring.create(256);
    expect(() => ring.commit(1, 0)).toThrow(/without a successful reserve/);
    expect(() => ring.release()).toThrow(/without a record/);
    ring.reserve(10);
    expect(() => ring.commit(256, 1)).toThrow(/kind/);
    expect(() => ring.commit(-1, 1)).toThrow(/kind/);
    expect(() => ring.commit(1, 11)).toThrow(/reserved 10/);
    ring.commit(1, 10);
    expect(() => ring.commit(1, 10)).toThrow(/without a successful reserve/);
    // a failed reserve leaves nothing to commit
    while (ring.reserve(ring.maxPayloadBytes) >= 0) ring.commit(0, ring.maxPayloadBytes);
    expect(() => ring.commit(0, 0)).toThrow(/without a successful reserve/);
  });

  it('carries records of exactly maxPayloadBytes from every start offset, and refuses larger ones with RangeError', () => {
    const capacityBytes = 256;
    const probe = Ring.create(capacityBytes);
    const max = probe.maxPayloadBytes;
    for (const bad of [max + 1, capacityBytes, -1, 1.5, Number.NaN]) {
      expect(() => probe.reserve(bad), String(bad)).toThrow(RangeError);
    }
    expect(() => probe.tryPush(0, new Uint8Array(max), new Uint8Array(1))).toThrow(RangeError);
    expect(probe.usedBytes()).toBe(0);

    for (let startOffset = 0; startOffset < capacityBytes; startOffset += 8) {
      const ring = Ring.create(capacityBytes);
      // move head and tail to startOffset with empty records (8 bytes each)
      for (let i = 0; i < startOffset / 8; i++) {
        expect(ring.tryPush(1, new Uint8Array(0))).toBe(true);
        expect(ring.poll()).toBe(true);
        ring.release();
      }
      for (let round = 0; round < 3; round++) {
        const sequence = startOffset + round;
        const offset = ring.reserve(max);
        expect(offset, `start ${startOffset} round ${round}`).toBeGreaterThanOrEqual(0);
        expect(offset + max).toBeLessThanOrEqual(capacityBytes);
        fillPayload(ring.data, offset, max, sequence);
        ring.commit(recordKind(sequence, 0), max);
        expect(ring.poll()).toBe(true);
        expect(checkRecord(ring, { count: Infinity, salt: 0 }, sequence, max)).toBeNull();
        expect(ring.payloadStart).toBe(offset);
        ring.release();
        expect(ring.usedBytes()).toBe(0);
      }
    }
  });

  it('follows the layout model exactly under a seeded push/poll mix (reserve fails only when the record truly does not fit)', () => {
    const capacityBytes = 256;
    const ring = Ring.create(capacityBytes);
    const random = seededRandom(SEED);
    const sizes = recordSizes(SEED ^ 0x5eed, ring.maxPayloadBytes);
    // Model: free-running counters and the queue of (sequence, payloadBytes, bytes incl. padding).
    let modelHead = 0;
    let modelTail = 0;
    const queue: { sequence: number; payloadBytes: number; bytes: number }[] = [];
    let pushed = 0;
    let popped = 0;
    let poppedBase = 0; // queue[0] is record `poppedBase` (the queue is trimmed now and then)
    let pendingSize = sizes.next();
    let fullCount = 0;
    let padCount = 0;
    for (let step = 0; step < 200_000; step++) {
      if (random() < 0.55) {
        const recordBytes = recordBytesFor(pendingSize);
        const position = modelHead % capacityBytes;
        const padBytes = recordBytes <= capacityBytes - position ? 0 : capacityBytes - position;
        const fits = padBytes + recordBytes <= capacityBytes - (modelHead - modelTail);
        const offset = ring.reserve(pendingSize);
        if (offset >= 0 !== fits) expect.fail(seeded(`step ${step}: reserve(${pendingSize}) at ${position} with ${modelHead - modelTail} used returned ${offset}`));
        if (offset < 0) {
          fullCount++;
          continue;
        }
        if (offset !== (padBytes === 0 ? position : 0) + RECORD_HEADER_BYTES) expect.fail(seeded(`step ${step}: reserve returned offset ${offset}`));
        if (padBytes !== 0) padCount++;
        fillPayload(ring.data, offset, pendingSize, pushed);
        ring.commit(recordKind(pushed, 3), pendingSize);
        queue.push({ sequence: pushed, payloadBytes: pendingSize, bytes: padBytes + recordBytes });
        modelHead += padBytes + recordBytes;
        pushed++;
        pendingSize = sizes.next();
      } else {
        const expected = queue[popped - poppedBase];
        if (ring.poll() !== (expected !== undefined)) expect.fail(seeded(`step ${step}: poll() disagrees with the model`));
        if (expected === undefined) continue;
        const error = checkRecord(ring, { count: pushed, salt: 3 }, expected.sequence, expected.payloadBytes);
        if (error !== null) expect.fail(seeded(`step ${step}: ${error}`));
        ring.release();
        modelTail += expected.bytes;
        popped++;
      }
      if (ring.usedBytes() !== modelHead - modelTail) expect.fail(seeded(`step ${step}: usedBytes ${ring.usedBytes()}, model ${modelHead - modelTail}`));
      if (queue.length > 4096) poppedBase += queue.splice(0, popped - poppedBase).length;
    }
    expect(fullCount).toBeGreaterThan(100);
    expect(padCount).toBeGreaterThan(100);
    expect(popped).toBeGreaterThan(50_000);
  });

  it('attaches only to a ring, with the doorbell it was created with', () => {
    const shared = Doorbell.create();
    const ring = Ring.create(256, shared);
    expect(() => Ring.attach(ring.sab)).toThrow(/shared dataBell/);
    expect(() => Ring.attach(ring.sab, Doorbell.create())).toThrow(/not the doorbell/);
    expect(() => Ring.attach(shared.sab)).toThrow();
    expect(() => Ring.attach(new SharedArrayBuffer(1024))).toThrow(/bad magic/);
    const again = Ring.attach(ring.sab, Doorbell.attach(shared.sab));
    expect(again.dataBell.id).toBe(shared.id);

    const own = Ring.create(256);
    expect(() => Ring.attach(own.sab, shared)).toThrow(/not the doorbell/);
    const ownAgain = Ring.attach(own.sab);
    expect(ownAgain.dataBell.id).toBe(own.dataBell.id);
    expect(ownAgain.spaceBell.id).toBe(own.spaceBell.id);
    // ring-embedded bells live inside ring.sab at their byteOffset
    expect(() => Doorbell.attach(own.sab)).toThrow(/no doorbell/);
    expect(Doorbell.attach(own.spaceBell.sab, own.spaceBell.byteOffset).id).toBe(own.spaceBell.id);
  });
});

describe('Doorbell', () => {
  it('does not sleep when the sequence moved after it was read', async () => {
    const bell = Doorbell.create();
    const seen = bell.sequence();
    bell.ring();
    expect(bell.sequence()).toBe(seen + 1);
    bell.wait(seen, Infinity); // would hang if it slept
    await bell.waitAsync(seen); // would never resolve
    expect(bell.parkedCount()).toBe(0);
  });

  it('returns on timeout and clears the parked flag', async () => {
    const bell = Doorbell.create();
    const started = performance.now();
    bell.wait(bell.sequence(), 5);
    expect(performance.now() - started).toBeGreaterThanOrEqual(4);
    expect(bell.parkedCount()).toBe(0);
    const pending = bell.waitAsync(bell.sequence(), 5);
    expect(bell.parkedCount()).toBe(1);
    await pending;
    expect(bell.parkedCount()).toBe(0);
    await bell.waitAsync(bell.sequence(), 0);
    expect(bell.parkedCount()).toBe(0);
  });

  it('skips the notify while its consumer has promised to look (willLook), and notifies again after lookNow', async () => {
    const bell = Doorbell.create();
    // the promise stands: ringing does not wake the parked waitAsync, which runs to its timeout
    const started = performance.now();
    const first = bell.waitAsync(bell.sequence(), 50);
    bell.willLook();
    bell.ring();
    await first;
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    // the look began: the next ring wakes a waiter at once, long before its minute is up
    const second = bell.waitAsync(bell.sequence(), 60_000);
    bell.lookNow();
    bell.ring();
    await second;
    expect(bell.parkedCount()).toBe(0);
  }, 10_000);

  it('never loses a wake-up in 150k doorbell round trips between two threads', async () => {
    const toServer = Doorbell.create();
    const toClient = Doorbell.create();
    const ref = (bell: Doorbell) => ({ sab: bell.sab, byteOffset: bell.byteOffset });
    const count = 150_000;
    const stallMs = 1000; // a lost wake-up costs the full bound; a correct doorbell never waits that long here
    const server = startWorker<ConsumerDone>({ role: 'bell-pong', serve: true, ringBell: ref(toClient), waitBell: ref(toServer), count, stallMs });
    const client = startWorker<ConsumerDone>({ role: 'bell-pong', serve: false, ringBell: ref(toServer), waitBell: ref(toClient), count, stallMs });
    const [served, asked] = await Promise.all([server.done, client.done]);
    expect(served.error).toBeNull();
    expect(asked.error).toBeNull();
    expect([toServer.sequence(), toClient.sequence()]).toEqual([count, count]);
    console.log(`doorbell ping-pong: client parked ${asked.parks} times, server ${served.parks} times`);
  }, 15_000);

  it('wakes a consumer thread parked in Doorbell.wait', async () => {
    const ring = Ring.create(256);
    const seed = SEED ^ 1;
    const consumer = startWorker<ConsumerDone>({ role: 'consumer', streams: [stream(ring, seed, 1, 9)] });
    await until(() => ring.dataBell.parkedCount() === 1);
    const payloadBytes = recordSizes(seed, ring.maxPayloadBytes).next();
    expect(ring.tryPush(recordKind(0, 9), payloadFor(0, payloadBytes))).toBe(true);
    const result = await consumer.done;
    expect(result.error, seeded('consumer')).toBeNull();
    expect(result.received).toEqual([1]);
    expect(result.parks).toBe(1);
    expect(ring.dataBell.parkedCount()).toBe(0);
    expect(ring.usedBytes()).toBe(0);
  });

  it('wakes a consumer parked in Doorbell.waitAsync', async () => {
    const ring = Ring.create(256);
    const seed = SEED ^ 2;
    const seen = ring.dataBell.sequence();
    expect(ring.poll()).toBe(false);
    const woken = ring.dataBell.waitAsync(seen);
    expect(ring.dataBell.parkedCount()).toBe(1);
    const producer = startWorker<ProducerDone>({ role: 'producer', stream: stream(ring, seed, 1, 4), announceBlocked: false });
    await woken;
    expect(ring.dataBell.parkedCount()).toBe(0);
    expect(ring.poll()).toBe(true);
    const payloadBytes = recordSizes(seed, ring.maxPayloadBytes).next();
    expect(checkRecord(ring, { count: 1, salt: 4 }, 0, payloadBytes), seeded('record')).toBeNull();
    ring.release();
    expect((await producer.done).pushed).toBe(1);
  });
});

describe('Ring across threads', () => {
  it('moves 200k seeded records through a 1 KiB ring (thousands of wrap-arounds), producer and consumer blocking on doorbells', async () => {
    const ring = Ring.create(1024);
    const count = 200_000;
    const spec = stream(ring, SEED, count, 0);
    const consumer = startWorker<ConsumerDone>({ role: 'consumer', streams: [spec] });
    const producer = startWorker<ProducerDone>({ role: 'producer', stream: spec, announceBlocked: false });
    const [consumed, produced] = await Promise.all([consumer.done, producer.done]);
    expect(consumed.error, seeded('consumer')).toBeNull();
    expect(consumed.received).toEqual([count]);
    expect(produced.pushed).toBe(count);
    expect(ring.usedBytes()).toBe(0);
    console.log(`200k records: producer found the ring full ${produced.fullCount} times, consumer parked ${consumed.parks} times`);
  }, 15_000);

  it('loses no wake-up when bells are rung once per batch (commitQuiet/releaseQuiet), through thousands of full-ring stalls', async () => {
    const ring = Ring.create(1024);
    const count = 100_000;
    const spec = stream(ring, SEED + 1, count, 0);
    const consumer = startWorker<ConsumerDone>({ role: 'consumer', streams: [spec], quiet: true });
    const producer = startWorker<ProducerDone>({ role: 'producer', stream: spec, announceBlocked: false, quietBatch: 37 });
    const [consumed, produced] = await Promise.all([consumer.done, producer.done]);
    expect(consumed.error, seeded('consumer')).toBeNull();
    expect(consumed.received).toEqual([count]);
    expect(produced.fullCount, 'the ring was full at times').toBeGreaterThan(0);
    expect(ring.usedBytes()).toBe(0);
  }, 15_000);

  it('applies backpressure: a full ring makes reserve fail and the producer park on spaceBell until the consumer frees space; nothing is dropped', async () => {
    const ring = Ring.create(512);
    const seed = SEED ^ 3;
    const count = 20_000;
    let blocked: Blocked | null = null;
    const producer = startWorker<ProducerDone>({ role: 'producer', stream: stream(ring, seed, count, 5), announceBlocked: true }, (message) => {
      blocked = message;
    });
    // Nobody consumes yet: the producer must fill the ring and park.
    await until(() => blocked !== null && ring.spaceBell.parkedCount() === 1);
    const { pushed, payloadBytes } = blocked!;
    expect(pushed).toBeGreaterThan(0);
    const usedWhenFull = ring.usedBytes();
    // Replay the layout of the records pushed so far (tail is still 0): the ring holds exactly
    // them, and the record the producer waits to place really does not fit.
    const replay = recordSizes(seed, ring.maxPayloadBytes);
    let head = 0;
    const placedBytes = (size: number) => {
      const position = head % ring.capacityBytes;
      const recordBytes = recordBytesFor(size);
      return recordBytes <= ring.capacityBytes - position ? recordBytes : ring.capacityBytes - position + recordBytes;
    };
    for (let i = 0; i < pushed; i++) head += placedBytes(replay.next());
    expect(replay.next()).toBe(payloadBytes);
    expect(usedWhenFull, seeded('used bytes when full')).toBe(head);
    expect(placedBytes(payloadBytes), seeded('blocked record')).toBeGreaterThan(ring.capacityBytes - usedWhenFull);

    // Consume on this thread with waitAsync; check every record in order.
    const sizes = recordSizes(seed, ring.maxPayloadBytes);
    let received = 0;
    let asyncParks = 0;
    while (received < count) {
      const seen = ring.dataBell.sequence();
      if (!ring.poll()) {
        asyncParks++;
        await ring.dataBell.waitAsync(seen);
        continue;
      }
      if (received === 0) expect(ring.usedBytes()).toBe(usedWhenFull); // nothing was published while parked
      const error = checkRecord(ring, { count, salt: 5 }, received, sizes.next());
      if (error !== null) expect.fail(seeded(error));
      ring.release();
      received++;
    }
    const produced = await producer.done;
    expect(produced.fullCount).toBeGreaterThan(0);
    expect(received).toBe(count);
    expect(ring.usedBytes()).toBe(0);
    expect(ring.poll()).toBe(false);
    console.log(`backpressure: producer full ${produced.fullCount} times, waitAsync consumer parked ${asyncParks} times`);
  }, 15_000);

  it('shares one doorbell between two rings fed by two producer threads', async () => {
    const bell = Doorbell.create();
    const first = Ring.create(1024, bell);
    const second = Ring.create(2048, bell);
    const count = 60_000;
    const streams = [stream(first, SEED ^ 4, count, 1), stream(second, SEED ^ 5, count, 2)];
    const bellRef = { sab: bell.sab, byteOffset: bell.byteOffset };
    const consumer = startWorker<ConsumerDone>({ role: 'consumer', streams, dataBell: bellRef });
    const producers = streams.map((s) => startWorker<ProducerDone>({ role: 'producer', stream: s, dataBell: bellRef, announceBlocked: false }));
    const consumed = await consumer.done;
    expect(consumed.error, seeded('consumer')).toBeNull();
    expect(consumed.received).toEqual([count, count]);
    for (const p of producers) expect((await p.done).pushed).toBe(count);
    expect(bell.sequence()).toBe(2 * count); // one ring() per commit, from both threads, none lost
    expect(bell.parkedCount()).toBe(0);
  }, 15_000);

  it('never loses a wake-up in 20k round trips where both sides park on every record', async () => {
    const requests = Ring.create(256);
    const responses = Ring.create(256);
    const count = 20_000;
    const rings = { requestRingSab: requests.sab, responseRingSab: responses.sab };
    const echo = startWorker<ConsumerDone>({ role: 'echo', ...rings, count });
    const pinger = startWorker<ConsumerDone>({ role: 'pinger', ...rings, seed: SEED ^ 6, count });
    const [pinged, echoed] = await Promise.all([pinger.done, echo.done]);
    expect(pinged.error, seeded('pinger')).toBeNull();
    expect(echoed.error, seeded('echo')).toBeNull();
    expect(pinged.received).toEqual([count]);
    expect(requests.usedBytes() + responses.usedBytes()).toBe(0);
    console.log(`ping-pong: pinger parked ${pinged.parks} times, echo parked ${echoed.parks} times`);
  }, 15_000);
});
