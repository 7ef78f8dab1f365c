// ZooKeeper 3.8 transaction log files: dataDir/version-2/log.<hex zxid>. The layout and its
// codec, pure functions over bytes; the writer is txnlog-writer.ts, reading and repairing
// files txnlog.ts.
//
//   file   = FileHeader entry* zeros
//   header = int magic 'ZKLG' (0x5a4b4c47), int version 2, long dbid          (16 bytes)
//   entry  = long checksum, int length, byte[length] txn, byte 0x42 ('B')    (13 + length)
//   txn    = TxnHeader {long clientId, int cxid, long zxid, long time, int type} + record
//            (+ TxnDigest in 3.8) — opaque bytes here, except the zxid at offset 12
//   checksum = Adler32 of the txn bytes only, stored as a long (high 32 bits zero)
//
// A file is named after the zxid of its first entry (Long.toHexString: lowercase, no
// padding) and is preallocated with zeros; a zero length (a zero checksum and length)
// ends the entries, as does the end of the file.

import { adler32 } from '../../native-free-io/adler32.ts';

export const TXNLOG_MAGIC = 0x5a4b4c47; // 'ZKLG'
export const TXNLOG_VERSION = 2;
export const LOG_HEADER_BYTES = 16;
/** long checksum + int length, before the txn bytes. */
export const ENTRY_PREFIX_BYTES = 12;
/** Prefix plus the 0x42 trailer: an entry takes ENTRY_FRAME_BYTES + txn length. */
export const ENTRY_FRAME_BYTES = 13;
export const ENTRY_TRAILER = 0x42;
/** TxnHeader: long clientId, int cxid, long zxid, long time, int type. */
export const TXN_HEADER_BYTES = 32;
const TXN_HEADER_ZXID_OFFSET = 12;
/**
 * Longest txn accepted: ZooKeeper's reader limit, jute.maxbuffer (0xfffff) plus
 * zookeeper.jute.maxbuffer.extrasize (defaults to jute.maxbuffer). A longer length is
 * garbage. Callers with a larger jute.maxbuffer pass txnBytesMax.
 */
export const TXN_BYTES_MAX_DEFAULT = 2 * 0xfffff;
export const LOG_FILE_PREFIX = 'log.';

const LOG_FILE_NAME = /^log\.([0-9a-f]{1,16})$/;

export class TxnLogCorruptError extends Error {
  readonly file: string;
  readonly offset: number;

  constructor(file: string, offset: number, reason: string) {
    super(`transaction log ${file} is corrupt at offset ${offset}: ${reason}`);
    this.file = file;
    this.offset = offset;
  }
}

export function encodeLogHeader(dbid = 0n): Buffer {
  const header = Buffer.alloc(LOG_HEADER_BYTES);
  header.writeInt32BE(TXNLOG_MAGIC, 0);
  header.writeInt32BE(TXNLOG_VERSION, 4);
  header.writeBigInt64BE(dbid, 8);
  return header;
}

/** log.<zxid in lowercase hex, no padding>, as ZooKeeper's Util.makeLogName. */
export function logFileName(zxid: number): string {
  return LOG_FILE_PREFIX + zxid.toString(16);
}

/** The zxid a log file name starts at, or -1 when it is not a log file name. */
export function zxidFromLogFileName(name: string): number {
  const m = LOG_FILE_NAME.exec(name);
  if (m === null) return -1;
  const zxid = parseInt(m[1], 16);
  return Number.isSafeInteger(zxid) ? zxid : -1;
}

/** The zxid in a TxnHeader at the start of `txn`. Exact below 2^53 (epochs below 2^21). */
export function txnZxid(txn: Uint8Array, start = 0): number {
  const at = start + TXN_HEADER_ZXID_OFFSET;
  const hi = (txn[at] << 24) | (txn[at + 1] << 16) | (txn[at + 2] << 8) | txn[at + 3];
  const lo = ((txn[at + 4] << 24) | (txn[at + 5] << 16) | (txn[at + 6] << 8) | txn[at + 7]) >>> 0;
  return hi * 0x1_0000_0000 + lo;
}

/** Why a file header is not a version 2 transaction log header, or null when it is one. */
export function headerProblem(buf: Buffer): string | null {
  const magic = buf.readInt32BE(0);
  if (magic !== TXNLOG_MAGIC) return `bad magic 0x${(magic >>> 0).toString(16)} (want 0x${TXNLOG_MAGIC.toString(16)} 'ZKLG')`;
  const version = buf.readInt32BE(4);
  if (version !== TXNLOG_VERSION) return `unsupported version ${version} (want ${TXNLOG_VERSION})`;
  return null;
}

// ---------------------------------------------------------------------------------------
// Entries

export type EntryKind = 'entry' | 'end' | 'short' | 'bad';

/** The result of parseEntry, reused across calls. */
export type ParsedEntry = {
  kind: EntryKind;
  /** For 'entry': where the txn bytes start, their length, the zxid in their TxnHeader. */
  txnStart: number;
  txnLength: number;
  zxid: number;
  /** For 'bad': why. */
  reason: string;
};

export function newParsedEntry(): ParsedEntry {
  return { kind: 'end', txnStart: 0, txnLength: 0, zxid: 0, reason: '' };
}

/**
 * Parses the entry at buf[offset], with buf[offset, end) available. `atEof` says whether
 * `end` is the end of the file: if not, an entry that needs more bytes is 'short' (read
 * more and retry); at the end of the file it is 'bad' (cut short) unless all zeros.
 */
export function parseEntry(buf: Buffer, offset: number, end: number, atEof: boolean, txnBytesMax: number, out: ParsedEntry): EntryKind {
  const available = end - offset;
  if (available < ENTRY_PREFIX_BYTES) {
    if (!atEof) return (out.kind = 'short');
    for (let i = offset; i < end; i++) {
      if (buf[i] !== 0) {
        out.reason = `entry cut short: ${available} bytes before the end of the file`;
        return (out.kind = 'bad');
      }
    }
    return (out.kind = 'end');
  }
  const checksumHigh = buf.readUInt32BE(offset);
  const checksum = buf.readUInt32BE(offset + 4);
  const txnLength = buf.readInt32BE(offset + 8);
  if (txnLength === 0) {
    if (checksumHigh === 0 && checksum === 0) return (out.kind = 'end');
    out.reason = 'zero length with a non-zero checksum';
    return (out.kind = 'bad');
  }
  if (txnLength < TXN_HEADER_BYTES || txnLength > txnBytesMax) {
    out.reason = `length ${txnLength} outside ${TXN_HEADER_BYTES}..${txnBytesMax}`;
    return (out.kind = 'bad');
  }
  const entryBytes = ENTRY_FRAME_BYTES + txnLength;
  if (available < entryBytes) {
    if (!atEof) return (out.kind = 'short');
    out.reason = `entry cut short: length ${txnLength} needs ${entryBytes} bytes, ${available} before the end of the file`;
    return (out.kind = 'bad');
  }
  const txnStart = offset + ENTRY_PREFIX_BYTES;
  if (buf[txnStart + txnLength] !== ENTRY_TRAILER) {
    out.reason = `trailer byte 0x${buf[txnStart + txnLength].toString(16)}, not 0x42`;
    return (out.kind = 'bad');
  }
  const actual = adler32(buf, txnStart, txnStart + txnLength);
  if (checksumHigh !== 0 || checksum !== actual) {
    out.reason = `checksum 0x${(checksumHigh * 0x1_0000_0000 + checksum).toString(16)} != Adler32 0x${actual.toString(16)}`;
    return (out.kind = 'bad');
  }
  out.txnStart = txnStart;
  out.txnLength = txnLength;
  out.zxid = txnZxid(buf, txnStart);
  return (out.kind = 'entry');
}
