// A big snapshot's load helper (engine/persistence/snapshot.ts), on its own thread:
//
// - Adler32 of the whole file, published as checkpoints: the checksum of the first
//   k × CHECKPOINT_BYTES bytes for every whole stretch, so the parser on the loading thread
//   gets the checksum of any prefix by finishing the last partial stretch itself (Adler32 in
//   JavaScript is a sixth of a snapshot's load time otherwise).
// - Page touching (engine/persistence/prefault.ts): the buffers it is sent, in batches, get
//   one atomic compare-exchange of 0 with 0 per 4 KiB, in the order sent — a write access
//   that makes the kernel map the page (a read would map the shared zero page, and the
//   first real write would fault again) and changes nothing, even where the loader has
//   written already. Batches are taken between checksum stretches (the loader needs the
//   pages first; the checksum only at the end), then as they come.
//
// Shared Int32Array: [0] checkpoints published, [1] 1 when finished (-1 on an error),
// [2 + k] the checksum of the first k stretches (u32 bit patterns; k = 0 is the seed 1).
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import fs from 'node:fs';
import { adler32 } from '../../native-free-io/adler32.ts';
import { CHECKPOINT_BYTES, CHECKSUM_PUBLISHED, CHECKSUM_DONE, CHECKSUM_FIRST } from './snapshot-format.ts';

const INTS_PER_PAGE = 4096 / 4;

function touch(batch: SharedArrayBuffer[]): void {
  for (const memory of batch) {
    const ints = new Int32Array(memory);
    for (let i = 0; i < ints.length; i += INTS_PER_PAGE) Atomics.compareExchange(ints, i, 0, 0);
  }
}

function touchPending(): void {
  for (let m = receiveMessageOnPort(parentPort!); m !== undefined; m = receiveMessageOnPort(parentPort!)) touch(m.message as SharedArrayBuffer[]);
}

const { file, sab } = workerData as { file: string; sab: SharedArrayBuffer };
const words = new Int32Array(sab);
const buf = Buffer.allocUnsafe(CHECKPOINT_BYTES);
let fd = -1;
let done = 1;
try {
  fd = fs.openSync(file, 'r');
  let checksum = 1;
  words[CHECKSUM_FIRST] = checksum;
  Atomics.store(words, CHECKSUM_PUBLISHED, 1);
  for (let k = 1; CHECKSUM_FIRST + k < words.length; k++) {
    touchPending();
    let got = 0;
    while (got < CHECKPOINT_BYTES) {
      const n = fs.readSync(fd, buf, got, CHECKPOINT_BYTES - got, (k - 1) * CHECKPOINT_BYTES + got);
      if (n === 0) break;
      got += n;
    }
    if (got < CHECKPOINT_BYTES) break; // the last partial stretch is the reader's
    checksum = adler32(buf, 0, got, checksum);
    words[CHECKSUM_FIRST + k] = checksum | 0;
    Atomics.store(words, CHECKSUM_PUBLISHED, k + 1);
    Atomics.notify(words, CHECKSUM_PUBLISHED);
  }
} catch {
  done = -1;
} finally {
  if (fd >= 0) fs.closeSync(fd);
  Atomics.store(words, CHECKSUM_DONE, done);
  Atomics.notify(words, CHECKSUM_PUBLISHED);
}
// the rest of the load: batches as they come, until the loader terminates this thread
touchPending();
parentPort!.on('message', touch);
