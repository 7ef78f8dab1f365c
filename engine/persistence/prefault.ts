// Page faults off the loading thread (issue 13): while a big snapshot loads, the tree's new
// pages and chunks are SharedArrayBuffers allocated a few ahead of the loader and touched
// by the load's helper thread (load-helper-worker.ts) before the loader writes them. A cold
// load of 1M znodes otherwise takes ~56,000 page faults on the loading thread, ~0.2 s of
// system time (bench/results/restart-2026-12-06.md).
import type { Worker } from 'node:worker_threads';
import type { PageSource } from '../core/pages.ts';

/** Bytes of each buffer size kept allocated and handed to the toucher ahead of the loader. */
const AHEAD_BYTES = 4 << 20;

export class PrefaultedPages implements PageSource {
  private readonly toucher: Worker;
  /** Buffers allocated and sent to be touched, not yet taken, by size. */
  private readonly ahead = new Map<number, SharedArrayBuffer[]>();
  /** Bytes still to be prefaulted (a buffer touched and never taken is resident memory wasted). */
  private budgetBytes: number;

  /**
   * toucher: a thread that touches the batches posted to it. budgetBytes: how much to
   * prefault in all. A snapshot's size is about what its tree takes (a node's 80 bytes of
   * stat and lengths become a 60-byte record and perhaps side records, its data a slot of about its size, its path a
   * name): with the file's size, the last buffers of a load are not prefaulted rather than
   * prefaulted in vain.
   */
  constructor(toucher: Worker, budgetBytes: number) {
    this.toucher = toucher;
    this.budgetBytes = budgetBytes;
  }

  take(bytes: number): SharedArrayBuffer {
    let queue = this.ahead.get(bytes);
    if (queue === undefined) this.ahead.set(bytes, (queue = []));
    const wanted = 1 + Math.max(1, Math.floor(AHEAD_BYTES / bytes));
    // refilled in batches, one message each: a message per buffer cost the loader 30-100 ms in a 1M-znode load
    if (queue.length <= wanted >> 1) {
      const batch: SharedArrayBuffer[] = [];
      while (queue.length < wanted && this.budgetBytes >= bytes) {
        const memory = new SharedArrayBuffer(bytes);
        batch.push(memory);
        queue.push(memory);
        this.budgetBytes -= bytes;
      }
      if (batch.length > 0) this.toucher.postMessage(batch);
    }
    return queue.shift() ?? new SharedArrayBuffer(bytes);
  }
}
