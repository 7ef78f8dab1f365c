// Page faults off the loading thread (issue 13): while a big snapshot loads, the tree's new
// pages and chunks are SharedArrayBuffers allocated a few ahead of the loader and touched
// by another thread (prefault-worker.ts) before the loader writes them. A cold load of 1M
// znodes otherwise spends ~0.3 s of its ~1 s in the kernel, mapping ~50,000 fresh pages on
// first write (bench/results/restart-2026-12-06.md).
import { Worker } from 'node:worker_threads';
import type { PageSource } from '../core/pages.ts';

/** Bytes of each buffer size kept allocated and handed to the toucher ahead of the loader. */
const AHEAD_BYTES = 8 << 20;

export class PrefaultedPages implements PageSource {
  private readonly worker: Worker;
  /** Buffers allocated and sent to be touched, not yet taken, by size. */
  private readonly ahead = new Map<number, SharedArrayBuffer[]>();

  constructor() {
    this.worker = new Worker(new URL('./prefault-worker.ts', import.meta.url));
    this.worker.unref();
    // only an optimisation: without the toucher the loader takes its page faults itself
    this.worker.on('error', () => {});
  }

  take(bytes: number): SharedArrayBuffer {
    let queue = this.ahead.get(bytes);
    if (queue === undefined) this.ahead.set(bytes, (queue = []));
    const wanted = 1 + Math.max(1, Math.floor(AHEAD_BYTES / bytes));
    // refilled in batches, one message each: a message per buffer cost the loader 30-100 ms in a 1M-znode load
    if (queue.length <= wanted >> 1) {
      const batch: SharedArrayBuffer[] = [];
      while (queue.length < wanted) {
        const memory = new SharedArrayBuffer(bytes);
        batch.push(memory);
        queue.push(memory);
      }
      this.worker.postMessage(batch);
    }
    return queue.shift()!;
  }

  /** Stops the toucher; the buffers still ahead are dropped. */
  close(): void {
    this.ahead.clear();
    void this.worker.terminate();
  }
}
