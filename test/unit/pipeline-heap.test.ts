// The pipeline worker's heap limit (engine/server.ts pipelineHeapLimits): a share of the
// machine's memory, or node's own --max-old-space-size when it was given one.
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { pipelineHeapLimits } from '../../engine/server.ts';
import { PIPELINE_OLD_GENERATION_SHARE, WORKER_YOUNG_GENERATION_MB } from '../../engine/limits.ts';

const GIB = 2 ** 30;

describe('pipelineHeapLimits', () => {
  it('lets the old generation grow to a share of the machine, past V8’s ~4 GiB', () => {
    const limits = pipelineHeapLimits([], 24 * GIB);
    expect(limits.maxYoungGenerationSizeMb).toBe(WORKER_YOUNG_GENERATION_MB);
    expect(limits.maxOldGenerationSizeMb).toBe(Math.floor(24 * 1024 * PIPELINE_OLD_GENERATION_SHARE));
  });

  it('leaves the limit to --max-old-space-size when node was given it (argv or NODE_OPTIONS)', () => {
    expect(pipelineHeapLimits(['--max-old-space-size=4096'], 24 * GIB).maxOldGenerationSizeMb).toBeUndefined();
    expect(pipelineHeapLimits(['', '--max-old-space-size', '2048'], 24 * GIB).maxOldGenerationSizeMb).toBeUndefined();
  });

  it('is the heap limit a worker started with it gets', async () => {
    const limits = pipelineHeapLimits([], 8 * GIB);
    const worker = new Worker('require("node:worker_threads").parentPort.postMessage(require("node:v8").getHeapStatistics().heap_size_limit)', { eval: true, resourceLimits: limits });
    const heapLimitBytes = await new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    // old generation plus young generation and V8's own slack
    expect(heapLimitBytes).toBeGreaterThanOrEqual(limits.maxOldGenerationSizeMb! * 2 ** 20);
    expect(heapLimitBytes).toBeLessThan((limits.maxOldGenerationSizeMb! + 512) * 2 ** 20);
  });
});
