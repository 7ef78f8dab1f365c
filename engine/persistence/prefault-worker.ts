// Touches the pages of the buffers it is sent (in batches), in the order sent: one atomic
// compare-exchange of 0 with 0 per 4 KiB, a write access that makes the kernel map the page
// (a read would map the shared zero page, and the first real write would fault again) and
// changes nothing, even where the loader has written already (engine/persistence/prefault.ts).
import { parentPort } from 'node:worker_threads';

const INTS_PER_PAGE = 4096 / 4;

parentPort!.on('message', (batch: SharedArrayBuffer[]) => {
  for (const memory of batch) {
    const ints = new Int32Array(memory);
    for (let i = 0; i < ints.length; i += INTS_PER_PAGE) Atomics.compareExchange(ints, i, 0, 0);
  }
});
