// ZooKeeper 3.8 transaction log files: listing, reading and startup repair
// (txnlog-format.ts has the layout and the entry codec, txnlog-writer.ts the writer; both
// are re-exported here for callers that take the log as one module).
//
// Damage policy, applied by readTxnLog (which never changes files) and recoverTxnLogs
// (which repairs the tail). "Bad entry" = wrong length (negative, above txnBytesMax,
// below a TxnHeader, or a non-zero checksum with a zero length), checksum mismatch,
// missing 0x42 trailer, or an entry cut short by the end of the file.
//   - Normal end: zero length with zero checksum, fewer than 12 bytes left that are all
//     zero, or the end of the file.
//   - Torn tail: a bad entry in the LAST log file with no valid entry anywhere after it.
//     recoverTxnLogs truncates the file at the end of the last good entry and warns
//     naming file and offset; readTxnLog stops there and reports it to onWarning.
//   - Corruption: a bad entry followed by a valid entry, or a bad entry in any file but
//     the last. Both throw TxnLogCorruptError naming file and byte offset — the server
//     must refuse to start. (Our writer fsyncs a file before rolling to the next one, so
//     only the last file can have an unsynced tail.)
//   - Headers: not 'ZKLG' or not version 2 throws, naming the file. Exception, the torn
//     creation of the last file: empty, shorter than a header, or all zeros — it holds no
//     entries; recoverTxnLogs removes it with a warning (ZooKeeper deletes an empty tail
//     log), readTxnLog skips it with a warning.
//   - A last file left with no entries after truncation is removed too, so a restarted
//     writer can create log.<next zxid> (it never overwrites an existing file).

import fs from 'node:fs';
import path from 'node:path';
import { fsyncDirectory } from '../../native-free-io/logfile.ts';
import {
  ENTRY_FRAME_BYTES, ENTRY_PREFIX_BYTES, LOG_HEADER_BYTES, TXN_BYTES_MAX_DEFAULT, TXN_HEADER_BYTES, TxnLogCorruptError,
  headerProblem, newParsedEntry, parseEntry, zxidFromLogFileName,
} from './txnlog-format.ts';
import { parseSnapshotFileName } from './snapshot-format.ts';

export * from './txnlog-format.ts';
export { TxnLogWriter, type TxnLogWriterOptions } from './txnlog-writer.ts';

/** File reads during replay and scans, in pieces of this size. */
const READ_CHUNK_BYTES = 1 << 20;

export type LogFile = { name: string; path: string; zxid: number };

/** The log files in `dir`, oldest first. */
export function listLogFiles(dir: string): LogFile[] {
  const files: LogFile[] = [];
  for (const name of fs.readdirSync(dir)) {
    const zxid = zxidFromLogFileName(name);
    if (zxid >= 0) files.push({ name, path: path.join(dir, name), zxid });
  }
  files.sort((x, y) => x.zxid - y.zxid);
  return files;
}

/**
 * The files that can hold txns after `fromZxid` (ZooKeeper's FileTxnLog.getLogFiles):
 * the newest file starting at or before fromZxid, and every later file.
 */
export function selectLogFiles(files: LogFile[], fromZxid: number): LogFile[] {
  let startZxid = 0;
  for (const f of files) {
    if (f.zxid > fromZxid) break;
    startZxid = f.zxid;
  }
  return files.filter((f) => f.zxid >= startZxid);
}

/**
 * The first zxid a replay after fromZxid wants. Files are chosen by it, as ZooKeeper's
 * fastForwardFromEdits reads from lastProcessedZxid + 1: a file that starts right after the
 * snapshot makes every older file one that holds nothing to replay (after a snapshot of a
 * 10M-znode tree, a 2 GB log.1 that startup used to read twice for nothing).
 */
function firstWanted(fromZxid: number): number {
  return fromZxid + 1;
}

// ---------------------------------------------------------------------------------------
// Reading files

export type TxnLogEntry = {
  zxid: number;
  /**
   * TxnHeader + record (+ digest). A view into the reader's buffer: valid until the
   * generator resumes; copy it (Buffer.from) to keep it.
   */
  bytes: Buffer;
  /** Path of the log file. */
  file: string;
  /** Byte offset of the entry (its checksum) in the file. */
  offset: number;
};

export type TxnLogReadOptions = {
  txnBytesMax?: number;
  /** Called for a torn tail or torn last-file creation (readTxnLog does not repair). */
  onWarning?: (message: string) => void;
  /**
   * Yield every entry of the files read, from the first entry of the file that can hold
   * fromZxid on, not only those after fromZxid (ZooKeeper's FileTxnIterator without its fast
   * forward: what a leader's DIFF from the log starts with).
   */
  wholeFiles?: boolean;
};

/** How a scanned file ended. */
type FileOutcome = {
  /** The file's header is torn (file empty, shorter than a header, or all zeros): the last file only. */
  tornCreation: boolean;
  /** End offset of the last good entry (LOG_HEADER_BYTES when none). */
  goodEndOffset: number;
  entryCount: number;
  lastZxid: number;
  /** A torn tail: offset of the bad entry and why (last file only), else null. */
  tornOffset: number;
  tornReason: string;
  fileBytes: number;
};

/** A reusable read buffer big enough for the largest legal entry plus a read chunk. */
function readBufferFor(txnBytesMax: number): Buffer {
  return Buffer.allocUnsafe(txnBytesMax + ENTRY_FRAME_BYTES + READ_CHUNK_BYTES);
}

function readAt(fd: number, filePath: string, buf: Buffer, bufOffset: number, length: number, position: number): number {
  let total = 0;
  while (total < length) {
    let n: number;
    try {
      n = fs.readSync(fd, buf, bufOffset + total, length - total, position + total);
    } catch (err) {
      throw new Error(`read ${filePath}: ${(err as Error).message}`, { cause: err });
    }
    if (n === 0) break;
    total += n;
  }
  return total;
}

/** Zeros to compare against (natively, with Buffer.compare) when skipping zero runs. */
const ZERO_BLOCK_BYTES = 4096;
const zeroBlock = Buffer.alloc(ZERO_BLOCK_BYTES);

function isZeroRange(buf: Buffer, start: number, end: number): boolean {
  let i = start;
  for (; i + ZERO_BLOCK_BYTES <= end; i += ZERO_BLOCK_BYTES) {
    if (buf.compare(zeroBlock, 0, ZERO_BLOCK_BYTES, i, i + ZERO_BLOCK_BYTES) !== 0) return false;
  }
  for (; i < end; i++) if (buf[i] !== 0) return false;
  return true;
}

/** True when the file holds only zero bytes from `from` to its end. */
function isZeroFrom(fd: number, filePath: string, fileBytes: number, from: number, buf: Buffer): boolean {
  for (let at = from; at < fileBytes;) {
    const n = readAt(fd, filePath, buf, 0, Math.min(READ_CHUNK_BYTES, fileBytes - at), at);
    if (n === 0) return true;
    if (!isZeroRange(buf, 0, n)) return false;
    at += n;
  }
  return true;
}

/**
 * The offset of the first valid entry that starts after `from` and carries a zxid above
 * `afterZxid` (the last good one), or -1. Used only on damage, to tell a torn tail
 * (nothing valid follows) from corruption. A candidate must have a zero checksum high
 * half, a plausible length, the trailer and a matching Adler32; the zxid condition keeps
 * txn data that happens to contain an older log entry from counting.
 */
function findValidEntryAfter(fd: number, filePath: string, fileBytes: number, from: number, afterZxid: number, txnBytesMax: number, buf: Buffer): number {
  const scratch = newParsedEntry();
  // candidates start in [windowStart, windowStart + windowBytes); their 12-byte prefixes
  // fit in the read, and the full candidate is read after it (buf has room for both)
  const windowBytes = READ_CHUNK_BYTES - ENTRY_PREFIX_BYTES;
  for (let windowStart = from + 1; windowStart + ENTRY_PREFIX_BYTES <= fileBytes; windowStart += windowBytes) {
    const readBytes = Math.min(windowBytes + ENTRY_PREFIX_BYTES, fileBytes - windowStart);
    const n = readAt(fd, filePath, buf, 0, readBytes, windowStart);
    const lastCandidate = Math.min(n - ENTRY_PREFIX_BYTES, windowBytes - 1);
    for (let i = 0; i <= lastCandidate; i++) {
      if ((i & (ZERO_BLOCK_BYTES - 1)) === 0 && i + ZERO_BLOCK_BYTES <= n && isZeroRange(buf, i, i + ZERO_BLOCK_BYTES)) {
        // a zero block (preallocation): no candidate whose checksum's low half lies in it
        i += ZERO_BLOCK_BYTES - 8;
        continue;
      }
      if (buf[i] !== 0 || buf[i + 1] !== 0 || buf[i + 2] !== 0 || buf[i + 3] !== 0) continue;
      if (buf[i + 4] === 0 && buf[i + 5] === 0 && buf[i + 6] === 0 && buf[i + 7] === 0) continue;
      const txnLength = buf.readInt32BE(i + 8);
      if (txnLength < TXN_HEADER_BYTES || txnLength > txnBytesMax) continue;
      const candidate = windowStart + i;
      if (candidate + ENTRY_FRAME_BYTES + txnLength > fileBytes) continue;
      // read the whole candidate into the free tail of the buffer and check it fully
      const at = windowBytes + ENTRY_PREFIX_BYTES;
      const got = readAt(fd, filePath, buf, at, ENTRY_FRAME_BYTES + txnLength, candidate);
      if (parseEntry(buf, at, at + got, true, txnBytesMax, scratch) === 'entry' && scratch.zxid > afterZxid) return candidate;
    }
  }
  return -1;
}

/**
 * Yields the entries of one log file with zxid > minZxid and returns how the file ended.
 * Throws TxnLogCorruptError for corruption (see the policy at the top of this file).
 */
function* scanLogFile(filePath: string, isLast: boolean, minZxid: number, txnBytesMax: number, buf: Buffer): Generator<TxnLogEntry, FileOutcome, void> {
  const outcome: FileOutcome = {
    tornCreation: false,
    goodEndOffset: LOG_HEADER_BYTES,
    entryCount: 0,
    lastZxid: 0,
    tornOffset: -1,
    tornReason: '',
    fileBytes: 0,
  };
  let fd: number;
  try {
    fd = fs.openSync(filePath, 'r');
  } catch (err) {
    throw new Error(`open ${filePath}: ${(err as Error).message}`, { cause: err });
  }
  try {
    let fileBytes = fs.fstatSync(fd).size;
    outcome.fileBytes = fileBytes;

    const headerBytes = readAt(fd, filePath, buf, 0, LOG_HEADER_BYTES, 0);
    if (headerBytes < LOG_HEADER_BYTES) {
      // empty or cut inside the header: a torn creation when it is the last file
      if (isLast) {
        outcome.tornCreation = true;
        return outcome;
      }
      throw new TxnLogCorruptError(filePath, 0, `file of ${fileBytes} bytes is shorter than the ${LOG_HEADER_BYTES}-byte header`);
    }
    const problem = headerProblem(buf);
    if (problem !== null) {
      // a zero header over a file of zeros: created, header never reached the disk
      if (isLast && buf.readInt32BE(0) === 0 && isZeroFrom(fd, filePath, fileBytes, 0, buf)) {
        outcome.tornCreation = true;
        return outcome;
      }
      throw new TxnLogCorruptError(filePath, 0, problem);
    }

    const parsed = newParsedEntry();
    let bufStart = 0; // file offset of buf[0]
    let bufEnd = headerBytes; // valid bytes in buf
    let offset = LOG_HEADER_BYTES; // file offset of the next entry
    for (;;) {
      const atEof = bufStart + bufEnd >= fileBytes;
      const kind = parseEntry(buf, offset - bufStart, bufEnd, atEof, txnBytesMax, parsed);
      if (kind === 'short') {
        // move the partial entry to the front and fill the rest of the buffer
        const keep = bufEnd - (offset - bufStart);
        buf.copyWithin(0, offset - bufStart, bufEnd);
        bufStart = offset;
        bufEnd = keep;
        const want = Math.min(buf.length - keep, fileBytes - (bufStart + keep));
        const n = readAt(fd, filePath, buf, keep, want, bufStart + keep);
        bufEnd += n;
        if (n < want) {
          // the file shrank under us: its new end is the end
          fileBytes = bufStart + bufEnd;
          outcome.fileBytes = fileBytes;
        }
        continue;
      }
      if (kind === 'end') break;
      if (kind === 'bad') {
        const reason = parsed.reason;
        const validAfter = findValidEntryAfter(fd, filePath, fileBytes, offset, outcome.lastZxid, txnBytesMax, buf);
        if (validAfter >= 0) throw new TxnLogCorruptError(filePath, offset, `${reason}; a valid entry follows at offset ${validAfter}`);
        if (!isLast) throw new TxnLogCorruptError(filePath, offset, `${reason} (not the last log file)`);
        outcome.tornOffset = offset;
        outcome.tornReason = reason;
        break;
      }
      const entryOffset = offset;
      offset += ENTRY_FRAME_BYTES + parsed.txnLength;
      outcome.goodEndOffset = offset;
      outcome.entryCount++;
      outcome.lastZxid = parsed.zxid;
      if (parsed.zxid > minZxid) {
        yield { zxid: parsed.zxid, bytes: buf.subarray(parsed.txnStart, parsed.txnStart + parsed.txnLength), file: filePath, offset: entryOffset };
      }
    }
    return outcome;
  } finally {
    fs.closeSync(fd);
  }
}

function tornTailMessage(filePath: string, outcome: FileOutcome, action: string): string {
  return `transaction log ${filePath}: torn tail at offset ${outcome.tornOffset} (${outcome.tornReason}); ${action} at offset ${outcome.goodEndOffset}, the end of the last good entry`;
}

/**
 * Replays the txns with zxid > fromZxid, oldest first, from the files that can hold
 * them (the newest file starting at or before fromZxid + 1 and every later one; with
 * wholeFiles, the file holding fromZxid and every later one). Never
 * changes files: run recoverTxnLogs first at startup. Throws TxnLogCorruptError on
 * corruption; a torn tail in the last file ends the replay and goes to onWarning.
 */
export function* readTxnLog(dir: string, fromZxid: number, options: TxnLogReadOptions = {}): Generator<TxnLogEntry, void, void> {
  const txnBytesMax = options.txnBytesMax ?? TXN_BYTES_MAX_DEFAULT;
  const files = listLogFiles(dir);
  const selected = selectLogFiles(files, options.wholeFiles === true ? fromZxid : firstWanted(fromZxid));
  if (selected.length === 0) return;
  const buf = readBufferFor(txnBytesMax);
  const last = files[files.length - 1];
  for (const f of selected) {
    const outcome = yield* scanLogFile(f.path, f === last, options.wholeFiles === true ? -1 : fromZxid, txnBytesMax, buf);
    if (outcome.tornCreation) options.onWarning?.(`transaction log ${f.path}: torn creation (${outcome.fileBytes} bytes, no header); no entries`);
    else if (outcome.tornOffset >= 0) options.onWarning?.(tornTailMessage(f.path, outcome, 'replay ends'));
  }
}

export type RecoverOptions = {
  /** Check only the files that can hold txns after this zxid (the snapshot's); 0 = all. */
  fromZxid?: number;
  txnBytesMax?: number;
};

/**
 * Startup check and repair of the log directory. Reads every entry of the selected
 * files, verifying checksums; truncates a torn tail of the last file at the end of its
 * last good entry; removes the last file when it holds no entries (torn creation, or
 * nothing left after truncation). Throws TxnLogCorruptError on corruption.
 * Returns the zxid of the last good entry (0 when there is none) and the warnings.
 */
export function recoverTxnLogs(dir: string, options: RecoverOptions = {}): { lastZxid: number; warnings: string[] } {
  const txnBytesMax = options.txnBytesMax ?? TXN_BYTES_MAX_DEFAULT;
  const warnings: string[] = [];
  const files = listLogFiles(dir);
  const selected = selectLogFiles(files, firstWanted(options.fromZxid ?? 0));
  let lastZxid = 0;
  if (selected.length === 0) return { lastZxid, warnings };
  const buf = readBufferFor(txnBytesMax);
  const last = files[files.length - 1];
  for (const f of selected) {
    const scan = scanLogFile(f.path, f === last, Number.MAX_SAFE_INTEGER, txnBytesMax, buf);
    let step = scan.next();
    while (step.done !== true) step = scan.next();
    const outcome = step.value;
    if (outcome.entryCount > 0) lastZxid = outcome.lastZxid;
    if (f !== last) continue;

    if (outcome.tornCreation) {
      removeLogFile(f.path);
      warnings.push(`transaction log ${f.path}: torn creation (${outcome.fileBytes} bytes, no header); removed`);
      continue;
    }
    if (outcome.tornOffset >= 0) {
      truncateLogFile(f.path, outcome.goodEndOffset);
      warnings.push(tornTailMessage(f.path, outcome, `truncated ${outcome.fileBytes - outcome.goodEndOffset} bytes`));
    }
    if (outcome.entryCount === 0) {
      removeLogFile(f.path);
      warnings.push(`transaction log ${f.path}: no entries; removed so the next log can start at its zxid`);
    }
  }
  return { lastZxid, warnings };
}

// ---------------------------------------------------------------------------------------
// Truncation (a follower's TRUNC)

export class TxnLogTruncateError extends Error {}

export type TruncateOptions = {
  txnBytesMax?: number;
  /**
   * The snapshot directory: with it, a snapshot newer than zxid refuses the truncation
   * before anything changes (its data reaches past zxid, so a restart would bring the
   * removed txns back whatever the log says).
   */
  snapDir?: string;
};

export type TruncateReport = {
  /** Files removed whole, newest first. */
  removed: string[];
  /** The file cut, and its new length; null when no file was cut. */
  cut: { file: string; lengthBytes: number } | null;
};

/**
 * Removes every entry with a zxid above `zxid` from the log files in dir, durably, as
 * ZooKeeper's FileTxnLog.truncate: the file holding the last entry at or below zxid is cut
 * right after it (its zero preallocation goes too) and every later file is deleted. A file
 * left with no entry is deleted as well (our writer never reopens a file; it starts
 * log.<zxid + 1> at the next append).
 *
 * Crash safety: later files go first, newest first, each removal made durable by a fsync
 * of the directory, then the cut is fsynced — whatever a crash leaves is a prefix of the
 * log without gaps, longer than wanted at worst (the leader sends TRUNC again).
 *
 * Where ZooKeeper differs: with zxid not in the log (a gap, or zxid before the first entry)
 * FileTxnLog.truncate keeps the first entry above zxid, and with zxid after the last entry
 * it fails ("No log files found to truncate!"); here neither happens — entries above zxid
 * are removed and nothing else. Entries at or below zxid must be valid: corruption there
 * throws TxnLogCorruptError and nothing is changed.
 */
export function truncateTxnLog(dir: string, zxid: number, options: TruncateOptions = {}): TruncateReport {
  if (!Number.isSafeInteger(zxid) || zxid < 0) throw new RangeError(`truncate to zxid ${zxid}`);
  const txnBytesMax = options.txnBytesMax ?? TXN_BYTES_MAX_DEFAULT;
  if (options.snapDir !== undefined) {
    const newer = fs.readdirSync(options.snapDir).filter((name) => (parseSnapshotFileName(name)?.zxid ?? -1) > zxid).sort();
    if (newer.length > 0) {
      throw new TxnLogTruncateError(`cannot truncate the log to zxid 0x${zxid.toString(16)}: snapshot ${newer.join(', ')} in ${options.snapDir} holds later txns`);
    }
  }
  const files = listLogFiles(dir);
  const selected = selectLogFiles(files, zxid);
  const report: TruncateReport = { removed: [], cut: null };
  if (selected.length === 0) return report;
  // the first selected file starts at or before zxid (unless every file starts after it):
  // it is cut at the end of its last entry at or below zxid
  const first = selected[0];
  let cutAt = LOG_HEADER_BYTES;
  if (first.zxid <= zxid) {
    // for…of closes the file when it stops early; a torn tail or torn creation just ends the entries
    for (const entry of scanLogFile(first.path, first === files[files.length - 1], -1, txnBytesMax, readBufferFor(txnBytesMax))) {
      if (entry.zxid > zxid) break;
      cutAt = entry.offset + ENTRY_FRAME_BYTES + entry.bytes.length;
    }
  }
  for (const f of selected.slice(first.zxid <= zxid ? 1 : 0).reverse()) {
    removeLogFile(f.path);
    report.removed.push(f.path);
  }
  if (first.zxid > zxid) return report;
  if (cutAt === LOG_HEADER_BYTES) {
    removeLogFile(first.path);
    report.removed.push(first.path);
  } else if (cutAt < fs.statSync(first.path).size) {
    truncateLogFile(first.path, cutAt);
    report.cut = { file: first.path, lengthBytes: cutAt };
  }
  return report;
}

function truncateLogFile(filePath: string, lengthBytes: number): void {
  let fd = -1;
  try {
    fd = fs.openSync(filePath, 'r+');
    fs.ftruncateSync(fd, lengthBytes);
    fs.fsyncSync(fd);
  } catch (err) {
    throw new Error(`truncate ${filePath}: ${(err as Error).message}`, { cause: err });
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

function removeLogFile(filePath: string): void {
  try {
    fs.unlinkSync(filePath);
  } catch (err) {
    throw new Error(`remove ${filePath}: ${(err as Error).message}`, { cause: err });
  }
  fsyncDirectory(path.dirname(filePath));
}
