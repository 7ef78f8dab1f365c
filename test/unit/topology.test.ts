// The ring topology (engine/rings/topology.ts): one table builds every ring, bell and word
// block; workers attach by name, only to rings they are an end of; records written through
// one attachment are read through another, across a worker thread.
import { describe, it, expect } from 'vitest';
import { Worker } from 'node:worker_threads';
import { buildTopology, ringSpecs, attachRing, attachBell, wordsOf } from '../../engine/rings/topology.ts';

const SPEC = { ioThreads: 2, maxFrameBytes: 1 << 20, txnBytesMax: 2 << 20 };

describe('ring topology', () => {
  it('names every ring with its ends, bell and record module', () => {
    const names = ringSpecs(SPEC).map((r) => `${r.name} ${r.producer}→${r.consumer} bell=${r.bell ?? 'own'}`);
    expect(names).toEqual([
      'request/0 io-0→pipeline bell=pipeline', 'reply/0 pipeline→io-0 bell=io-0',
      'request/1 io-1→pipeline bell=pipeline', 'reply/1 pipeline→io-1 bell=io-1',
      'log pipeline→log bell=log', 'snapshot pipeline→snapshot bell=snapshot',
      'control/request main→pipeline bell=pipeline', 'control/reply pipeline→main bell=own',
    ]);
    for (const r of ringSpecs(SPEC)) {
      expect(r.capacityBytes & (r.capacityBytes - 1)).toBe(0); // a power of two
      expect(r.records).toMatch(/^engine\/.*\.ts$/);
    }
    // request and reply rings hold two of the largest frames
    expect(ringSpecs({ ...SPEC, maxFrameBytes: 10 << 20 })[0].capacityBytes).toBeGreaterThanOrEqual(20 << 20);
    expect(() => ringSpecs({ ...SPEC, ioThreads: 0 })).toThrow(/ioThreads/);
    expect(() => ringSpecs({ ...SPEC, ioThreads: 65 })).toThrow(/ioThreads/);
  });

  it('attaches only an end of a ring, and only names that exist', () => {
    const t = buildTopology(SPEC);
    expect(() => attachRing(t, 'request/0', 'io-1')).toThrow(/neither end/);
    expect(() => attachRing(t, 'request/9', 'pipeline')).toThrow(/no ring/);
    expect(() => attachBell(t, 'nobody')).toThrow(/no doorbell/);
    expect(() => wordsOf(t, 'nothing')).toThrow(/no word block/);
    expect(wordsOf(t, 'control').byteLength).toBeGreaterThan(0);
    // rings that share a bell share one Doorbell object in a thread (one flush per turn)
    const a = attachRing(t, 'request/0', 'pipeline');
    const b = attachRing(t, 'request/1', 'pipeline');
    expect(a.dataBell).toBe(b.dataBell);
    expect(a.dataBell).toBe(attachBell(t, 'pipeline'));
  });

  it('carries records between threads that attached by name', async () => {
    const t = buildTopology(SPEC);
    const consumer = attachRing(t, 'request/1', 'pipeline');
    // the producer side in a real worker thread: the topology crosses as workerData
    const worker = new Worker(new URL('./topology-producer.ts', import.meta.url), { workerData: t });
    try {
      const done = new Promise<unknown>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      expect(await done).toBe('sent');
      const seen: number[] = [];
      while (consumer.poll()) {
        seen.push(consumer.data.readUInt32BE(consumer.payloadStart));
        consumer.release();
      }
      expect(seen).toEqual([1, 2, 3]);
    } finally {
      await worker.terminate();
    }
  });
});
