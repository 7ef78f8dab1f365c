// Histograms recorded on several threads and merged are exactly the histogram one recorder
// would have built from all the values: same count, same value at every percentile, same
// max bucket. Values are seeded; the seed is printed with any failure.
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { newLatencyHistogram, recordNs, encodeHistogram, mergeEncoded, summarize, decodeHistogram, LATENCY_NS_MAX } from '../../loadgen/histogram.ts';
import { seededRandom } from '../../loadgen/random.ts';
import { testSeed } from '../support/random.ts';

const PERCENTILES = [0, 1, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 99.999, 100];

/** Latencies from 1 µs to ~10 s, log-uniform, plus a few extremes. */
function latencies(seed: number, count: number): number[] {
  const random = seededRandom(seed);
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(Math.round(Math.exp(Math.log(1_000) + random() * Math.log(1e7))));
  out.push(1, 2 * LATENCY_NS_MAX, 0.2);
  return out;
}

describe('loadgen histograms', () => {
  it('merges per-thread histograms exactly', () => {
    const seed = testSeed();
    const values = latencies(seed, 60_000);
    const single = newLatencyHistogram();
    const parts = [newLatencyHistogram(), newLatencyHistogram(), newLatencyHistogram()];
    values.forEach((v, i) => {
      recordNs(single, v);
      recordNs(parts[i % 3], v);
    });
    const merged = mergeEncoded(parts.map(encodeHistogram));
    const where = `seed ${seed} (TEST_SEED=${seed} to replay)`;
    expect(merged.totalCount, where).toBe(single.totalCount);
    for (const p of PERCENTILES) expect(merged.getValueAtPercentile(p), `${where}, p${p}`).toBe(single.getValueAtPercentile(p));
    expect(merged.minNonZeroValue, where).toBe(single.minNonZeroValue);
    expect(summarize(merged), where).toEqual(summarize(single));
    // an out-of-range latency is clamped, not lost
    expect(summarize(merged).maxUs).toBeGreaterThanOrEqual(LATENCY_NS_MAX / 1000);
  });

  it('merges histograms encoded on other threads exactly', async () => {
    const seed = testSeed();
    const threads = 3;
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      parentPort.once('message', async () => {
        const h = await import(${JSON.stringify(new URL('../../loadgen/histogram.ts', import.meta.url).href)});
        const r = await import(${JSON.stringify(new URL('../../loadgen/random.ts', import.meta.url).href)});
        const random = r.seededRandom(workerData.seed);
        const hist = h.newLatencyHistogram();
        const values = [];
        for (let i = 0; i < 20000; i++) { const v = Math.round(Math.exp(7 + random() * 14)); values.push(v); h.recordNs(hist, v); }
        parentPort.postMessage({ encoded: h.encodeHistogram(hist), values });
      });`;
    const results = await Promise.all(
      Array.from({ length: threads }, (_, i) => {
        const w = new Worker(source, { eval: true, workerData: { seed: (seed + i) >>> 0 } });
        w.postMessage('go');
        return new Promise<{ encoded: string; values: number[] }>((resolve, reject) => {
          w.once('message', (m) => {
            void w.terminate();
            resolve(m);
          });
          w.once('error', reject);
        });
      }),
    );
    const single = newLatencyHistogram();
    for (const r of results) for (const v of r.values) recordNs(single, v);
    const merged = mergeEncoded(results.map((r) => r.encoded));
    const where = `seed ${seed}`;
    expect(merged.totalCount, where).toBe(threads * 20000);
    for (const p of PERCENTILES) expect(merged.getValueAtPercentile(p), `${where}, p${p}`).toBe(single.getValueAtPercentile(p));
  });

  it('decodes what it encodes and merges into an existing histogram', () => {
    const a = newLatencyHistogram();
    recordNs(a, 50_000);
    recordNs(a, 70_000);
    const copy = decodeHistogram(encodeHistogram(a));
    expect(summarize(copy)).toEqual(summarize(a));
    const into = newLatencyHistogram();
    recordNs(into, 1_000_000);
    mergeEncoded([encodeHistogram(a)], into);
    expect(into.totalCount).toBe(3);
    expect(summarize(into).maxUs).toBeCloseTo(1000, -1);
  });
});
