// The log ring, pipeline → log worker: its record kinds and their layouts, written and read
// only here.
//
//   TXN         [u32 zxid high][u32 zxid low][TxnHeader + record]
//   ROLL        (empty)                            start a new log file at the next txn
//   RESUME      [u32 zxid high][u32 zxid low]      after a log failure: the pipeline reloaded the
//                                                  state durable up to zxid; records before this
//                                                  one are dropped; appends continue after zxid
//   TRUNCATE    [u32 zxid high][u32 zxid low]      a follower's TRUNC: what came before is synced,
//                                                  then every entry after zxid is removed from
//                                                  the files (truncateTxnLog) and appends
//                                                  continue after zxid; done is told through the
//                                                  control words CONTROL_LOG_TRUNCATED_ZXID and
//                                                  CONTROL_LOG_TRUNCATIONS (engine/records.ts)
import type { Ring } from '../../native-free-io/ring.ts';

export const LogKind = { TXN: 1, ROLL: 2, RESUME: 3, TRUNCATE: 4 } as const;

/** Bytes before a TXN's entry: its zxid. */
export const TXN_RECORD_HEADER_BYTES = 8;

function writeZxid(ring: Ring, at: number, zxid: number): void {
  ring.data.writeUInt32BE(Math.floor(zxid / 0x1_0000_0000), at);
  ring.data.writeUInt32BE(zxid >>> 0, at + 4);
}

/** The zxid a TXN, RESUME or TRUNCATE starts with. */
export function recordZxid(ring: Ring): number {
  const at = ring.payloadStart;
  return ring.data.readUInt32BE(at) * 0x1_0000_0000 + ring.data.readUInt32BE(at + 4);
}

/** Writes a TXN at `at`, reserved for TXN_RECORD_HEADER_BYTES + txn.length; the caller commits. */
export function writeTxnRecord(ring: Ring, at: number, zxid: number, txn: Buffer): void {
  writeZxid(ring, at, zxid);
  ring.data.set(txn, at + TXN_RECORD_HEADER_BYTES);
}

/** A TXN's TxnHeader + record (a view into the ring). */
export function txnRecordBytes(ring: Ring): Buffer {
  const at = ring.payloadStart;
  return ring.data.subarray(at + TXN_RECORD_HEADER_BYTES, at + ring.payloadLength);
}

/** Writes a RESUME at `at`, reserved for 8 bytes; the caller commits. */
export function writeResume(ring: Ring, at: number, zxid: number): void {
  writeZxid(ring, at, zxid);
}

/** Writes a TRUNCATE at `at`, reserved for 8 bytes; the caller commits. */
export function writeTruncate(ring: Ring, at: number, zxid: number): void {
  writeZxid(ring, at, zxid);
}
