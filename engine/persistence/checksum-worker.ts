// Adler32 of a whole file on its own thread, published as checkpoints: the checksum of
// the first k × CHECKPOINT_BYTES bytes for every whole stretch, so a reader on another
// thread gets the checksum of any prefix by finishing the last partial stretch itself.
// Used to verify a snapshot's seals while it is parsed (startup is one thread's work
// otherwise, and Adler32 in JavaScript is a sixth of a snapshot's load time).
//
// Shared Int32Array: [0] checkpoints published, [1] 1 when finished (-1 on an error),
// [2 + k] the checksum of the first k stretches (u32 bit patterns; k = 0 is the seed 1).
import { workerData } from 'node:worker_threads';
import fs from 'node:fs';
import { adler32 } from '../../native-free-io/adler32.ts';
import { CHECKPOINT_BYTES, CHECKSUM_PUBLISHED, CHECKSUM_DONE, CHECKSUM_FIRST } from './snapshot.ts';

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
