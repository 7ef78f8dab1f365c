// What crosses the rings (DESIGN.md §2): record kinds and payload layouts. Bytes only.
//
// request ring, io worker → pipeline (one per io worker):
//   CONNECT     [u32 connId][u16 port][u8 addrLength][addr][u8 flags][u16 x509IdLength]
//               [x509Id, UTF-8][ConnectRequest frame body]   flags: CONNECT_FLAG_SECURE (came in
//               on secureClientPort); x509Id: the trusted client certificate's RFC 2253 subject
//               (length 0: none)
//   REQUEST     [u32 connId][f64 LE enqueuedAtMs][RequestHeader + record]
//   DISCONNECT  [u32 connId]
//   FOURLW      [u32 connId][u16 port][u8 addrLength][addr][4 ASCII bytes][stmk only: 8-byte mask]
//   TEXT_MORE   [u32 connId]                       a TEXT_PART was written to the socket: send the
//                                                  next slice of that connection's answer
// reply ring, pipeline → io worker (one per io worker):
//   SEND        [u32 connId][f64 LE sentAtMs][frame with its length prefix]
//   CLOSE       [u32 connId]                       close once earlier sends are written (a connection
//                                                  waiting for a four-letter word's answer: at once)
//   TEXT_PART   [u32 connId][UTF-8 text]           a slice of a four-letter word's answer, more follow
//   TEXT_CLOSE  [u32 connId][UTF-8 text]           four-letter word answer (or its last slice), then close
// log ring, pipeline → log worker:
//   TXN         [u32 zxid high][u32 zxid low][TxnHeader + record]
//   ROLL        (empty)                            start a new log file at the next txn
//   RESUME      [u32 zxid high][u32 zxid low]      after a log failure: the pipeline reloaded the
//                                                  state durable up to zxid; records before this
//                                                  one are dropped; appends continue after zxid
// control rings, main ⇄ pipeline (engine/ops/control.ts: msgpackr payloads, one pair):
//   REQUEST     [u32 id][msgpackr ControlRequest]     main → pipeline (data bell: the pipeline's)
//   REPLY_PART  [u32 id][slice of a msgpackr reply]   pipeline → main (own bell)
//   REPLY_END   [u32 id][last slice]
//
// The f64 stamps are ms since the epoch (performance.timeOrigin + performance.now(), the
// same clock in every thread) for the stage histograms of engine/ops/stagestats.ts: the
// pipeline measures a request's ring wait, the io worker a reply's.
//
// Shared control words (Int32Array / BigInt64Array over one SharedArrayBuffer):
//   big[0]  durable zxid, published by the log worker after fdatasync
//   big[1]  log failure count (ENOSPC etc.), published by the log worker
//   big[3]  log recovery count: failures the log worker got past (the disk takes writes
//           again); while it is below the failure count the pipeline refuses writes
//   i32[4]  stop flag for the pipeline and log workers
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

export const ReqKind = { CONNECT: 1, REQUEST: 2, DISCONNECT: 3, FOURLW: 4, TEXT_MORE: 5 } as const;
export const RespKind = { SEND: 1, CLOSE: 2, TEXT_CLOSE: 3, TEXT_PART: 4 } as const;
export const LogKind = { TXN: 1, ROLL: 2, RESUME: 3 } as const;
/** CONNECT flags bit: the connection came in on secureClientPort. */
export const CONNECT_FLAG_SECURE = 1;

export const CONTROL_BYTES = 64;
export const CONTROL_DURABLE_ZXID = 0; // BigInt64 index
export const CONTROL_LOG_FAILURES = 1; // BigInt64 index
export const CONTROL_LOG_RECOVERIES = 3; // BigInt64 index
export const CONTROL_STOP = 4; // Int32 index

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

export const IO_WORDS_BYTES = 4 * (1 + IO_THREADS_MAX);

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
