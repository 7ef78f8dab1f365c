// ZooKeeper's globalOutstandingLimit as the io workers apply it (ZooKeeperServer.shouldThrottle):
// requests in process (replies the pipeline holds for the log) or in flight (on the request
// rings, pushed by an io worker and not yet taken by the pipeline) above the limit stop a
// connection with requests of its own outstanding from being read.
//
// The counts are shared words (engine/records.ts throttle words): plain memory, read with a
// few Atomics.loads and no allocation. The pipeline stores what is in process and what it
// took from each ring; each io worker stores what it pushed.
import { THROTTLE_IN_PROCESS, throttlePushedIndex, throttleTakenIndex } from '../records.ts';

export class GlobalOutstanding {
  private readonly words: Int32Array;
  private readonly pushedIndex: number;
  private readonly ioThreads: number;
  private readonly limit: number;
  /** REQUEST records this worker put on its ring (wraps as an int32, as the pipeline's count). */
  private pushedCount = 0;

  constructor(throttleWords: Int32Array, ioIndex: number, ioThreads: number, globalOutstandingLimit: number) {
    if (!(ioIndex >= 0 && ioIndex < ioThreads)) throw new RangeError(`io worker ${ioIndex} of ${ioThreads}`);
    this.words = throttleWords;
    this.pushedIndex = throttlePushedIndex(ioIndex);
    this.ioThreads = ioThreads;
    this.limit = globalOutstandingLimit;
  }

  /** A REQUEST record went on this worker's ring: publish the count. */
  notePushed(): void {
    this.pushedCount = (this.pushedCount + 1) | 0;
    Atomics.store(this.words, this.pushedIndex, this.pushedCount);
  }

  /** Whether a connection with `outstanding` requests of its own must stop being read. */
  shouldThrottle(outstanding: number): boolean {
    if (outstanding <= 0) return false;
    const words = this.words;
    if (Atomics.load(words, THROTTLE_IN_PROCESS) > this.limit) return true;
    let inFlight = 0;
    const pushed0 = throttlePushedIndex(0);
    const taken0 = throttleTakenIndex(0);
    const n = this.ioThreads;
    for (let i = 0; i < n; i++) {
      inFlight += (Atomics.load(words, pushed0 + i) - Atomics.load(words, taken0 + i)) | 0;
    }
    return inFlight > this.limit;
  }
}
