// Shared words between the threads (DESIGN.md §2), and connection keys. The records on the
// rings are each ring's own (engine/rings/request-ring.ts, reply-ring.ts, log-ring.ts;
// the control rings' are in engine/ops/control.ts).
//
// Shared control words (Int32Array / BigInt64Array over one SharedArrayBuffer):
//   big[0]  durable zxid, published by the log worker after fdatasync
//   big[1]  log failure count (ENOSPC etc.), published by the log worker
//   big[3]  log recovery count: failures the log worker got past (the disk takes writes
//           again); while it is below the failure count the pipeline refuses writes
//   i32[4]  stop flag for the pipeline and log workers
//   big[5]  log truncations done (a TRUNCATE record finished), published by the log worker
//           after big[6]: the pipeline waits for it to move past the count it saw
//   big[6]  the zxid the log was last truncated to (the durable zxid was set back to it too)
//   big[7]  ensembles: the commit stage's zxid, published by the pipeline while it serves; the
//           snapshot worker seals a snapshot only once it has reached the END zxid (a leader's
//           tree runs ahead of commit: a snapshot of uncommitted txns could outlive a TRUNC)
//
// Throttle words (Int32Array over their own SharedArrayBuffer, throttleWordsBytes()):
// what an io worker needs to apply globalOutstandingLimit as ZooKeeper's shouldThrottle
// (in process or in flight above the limit), and the pipeline to find stale requests.
//   i32[0]                          requests in process: replies the pipeline holds for the
//                                   log, stored by the pipeline once per turn
//   i32[1 + io]                     REQUEST records the pipeline took from ring io (wraps)
//   i32[1 + 64 + io]                REQUEST records io worker io put on its ring (wraps);
//                                   pushed − taken = in flight (ZooKeeper's getInflight)
//   i32[1 + 128 + io*slots + (connId & (slots-1))]
//                                   id of the last connection of io worker io closed in
//                                   that slot (engine/limits.ts CLOSED_CONN_SLOTS)
//
// IO words (Int32Array over their own SharedArrayBuffer, IO_WORDS_BYTES), shared by the io
// workers for the server-wide connection and outbound limits:
//   i32[0]       client connections open on all io workers (zookeeper.maxCnxns)
//   i32[1 + io]  bytes io worker io has queued for writing to clients, clamped to i32
//                (engine/limits.ts OUTBOUND_TOTAL_BYTES_SOFT/HARD)
//   i32[1 + IO_THREADS_MAX + io]
//                clients of io worker io with requests in flight after its last read
//                (the pipeline spins for a lone client's next request: zooid.loneClientSpinUs)
//   i32[1 + 2 * IO_THREADS_MAX]
//                bytes of large requests in process on all io workers (ZooKeeper's
//                currentLargeRequestBytes; engine/io/large-requests.ts)


export const CONTROL_BYTES = 64;
/**
 * The snapshot control words (engine/persistence/snapshotter.ts) and the control rings' record
 * area (engine/ops/control.ts), here so that the topology, which every thread loads, does not
 * load the snapshot serializer with the tree or msgpackr to size them.
 */
export const SNAP_CONTROL_BYTES = 64;
/** Record area of each control ring: a 2 MiB slice per record is plenty, and idle rings cost only memory. */
export const CONTROL_RING_BYTES = 4 * 1024 * 1024;
export const CONTROL_DURABLE_ZXID = 0; // BigInt64 index
export const CONTROL_LOG_FAILURES = 1; // BigInt64 index
export const CONTROL_LOG_RECOVERIES = 3; // BigInt64 index
export const CONTROL_STOP = 4; // Int32 index: the shutdown stage reached, one stage a worker
/** CONTROL_STOP's stages, in order: each worker stops once its stage is reached, after the one before it stopped. */
export const STOP_PIPELINE = 1;
export const STOP_LOG = 2;
export const STOP_SNAPSHOT = 3;
export const CONTROL_LOG_TRUNCATIONS = 5; // BigInt64 index
export const CONTROL_LOG_TRUNCATED_ZXID = 6; // BigInt64 index
export const CONTROL_COMMITTED_ZXID = 7; // BigInt64 index

export const THROTTLE_IN_PROCESS = 0;

export function throttleTakenIndex(ioIndex: number): number {
  return 1 + ioIndex;
}

export function throttlePushedIndex(ioIndex: number): number {
  return 1 + IO_THREADS_MAX + ioIndex;
}

export function throttleClosedIndex(ioIndex: number, connId: number, slots: number): number {
  return 1 + 2 * IO_THREADS_MAX + ioIndex * slots + (connId & (slots - 1));
}

export function throttleWordsBytes(slots: number): number {
  return 4 * (1 + 2 * IO_THREADS_MAX + IO_THREADS_MAX * slots);
}

/** io.threads at most (the config refuses more: one event loop each, more is a typo); a connection key names an io worker and its connection: connId * 64 + ioIndex. */
export const IO_THREADS_MAX = 64;

export const IO_WORDS_CONNS_OPEN = 0;

export function ioQueuedBytesIndex(ioIndex: number): number {
  return 1 + ioIndex;
}

export function ioActiveClientsIndex(ioIndex: number): number {
  return 1 + IO_THREADS_MAX + ioIndex;
}

export const IO_LARGE_REQUEST_BYTES = 1 + 2 * IO_THREADS_MAX;

export const IO_WORDS_BYTES = 4 * (2 + 2 * IO_THREADS_MAX);

export function connKey(ioIndex: number, connId: number): number {
  return connId * IO_THREADS_MAX + ioIndex;
}

export function ioIndexOf(key: number): number {
  return key % IO_THREADS_MAX;
}

export function connIdOf(key: number): number {
  return Math.floor(key / IO_THREADS_MAX);
}

/** Ring capacity that holds at least two frames of maxFrameBytes (DESIGN.md: ≥ 2 × jute.maxbuffer). */
export function ringCapacityFor(maxFrameBytes: number, minBytes: number): number {
  let cap = minBytes;
  while (cap / 2 - 64 < 2 * (maxFrameBytes + 64)) cap *= 2;
  return cap;
}
