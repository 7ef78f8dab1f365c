// ZooKeeper 3.8 transaction log files: dataDir/version-2/log.<hex zxid>.
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
import { adler32 } from '../../native-free-io/adler32.ts';
import { PreallocatedFile, fsyncDirectory } from '../../native-free-io/logfile.ts';

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

/** File reads during replay and scans, in pieces of this size. */
const READ_CHUNK_BYTES = 1 << 20;
/** Initial capacity of the writer's batch buffer; it doubles when a batch needs more. */
const BATCH_BYTES_INITIAL = 1 << 20;

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

/** The zxid in a TxnHeader at the start of `txn`. Exact below 2^53 (epochs below 2^21). */
export function txnZxid(txn: Uint8Array, start = 0): number {
  const at = start + TXN_HEADER_ZXID_OFFSET;
  const hi = (txn[at] << 24) | (txn[at + 1] << 16) | (txn[at + 2] << 8) | txn[at + 3];
  const lo = ((txn[at + 4] << 24) | (txn[at + 5] << 16) | (txn[at + 6] << 8) | txn[at + 7]) >>> 0;
  return hi * 0x1_0000_0000 + lo;
}

// ---------------------------------------------------------------------------------------
// Writer (log worker)

export type TxnLogWriterOptions = {
  /** The log directory (dataLogDir/version-2); must exist. */
  dir: string;
  /** zookeeper.preAllocSize in bytes (ZooKeeper's default: 64 MiB); 0 disables. */
  preAllocBytes: number;
  /** zookeeper.forceSync: fdatasync on flush. */
  forceSync: boolean;
  /** FileHeader dbid; ZooKeeper always writes 0. */
  dbid?: bigint;
  /** Appends must have zxids above this (the last zxid recovered from the log). */
  lastLoggedZxid?: number;
  txnBytesMax?: number;
};

/**
 * Appends txns to ZooKeeper-format log files with group commit: append() only encodes
 * into one reused batch buffer; flush() writes the batch with one write and fdatasyncs
 * once. The caller publishes the durable zxid (lastFlushedZxid) after flush() returns.
 * Any I/O error leaves the writer failed: every later call throws.
 */
export class TxnLogWriter {
  readonly dir: string;
  readonly preAllocBytes: number;
  readonly forceSync: boolean;
  readonly txnBytesMax: number;
  private readonly header: Buffer;
  private file: PreallocatedFile | null = null;
  private batch: Buffer;
  private batchBytes = 0;
  private readonly parts: Uint8Array[] = [];
  private appendedZxid: number;
  private flushedZxid: number;
  private failure: Error | null = null;
  /** Logical end of the current file after its last successful flush, and whether one reached it. */
  private flushedEndBytes = 0;
  private fileHasDurableEntries = false;
  /** A file a failed create left behind (header or preallocation cut short by ENOSPC). */
  private orphanPath: string | null = null;
  /** The zxid of the last entry handed to the file by flush() or writeBuffered() (durable or not). */
  private writtenZxid: number;
  /** A syncWritten() in flight: the file must stay open and current until it settles. */
  private syncing = false;
  /** Durations of the last flush()/writeBuffered() write and of the last fdatasync, ms (stage statistics; 0 before any). */
  lastWriteMs = 0;
  lastSyncMs = 0;

  constructor(options: TxnLogWriterOptions) {
    this.dir = options.dir;
    this.preAllocBytes = options.preAllocBytes;
    this.forceSync = options.forceSync;
    this.txnBytesMax = options.txnBytesMax ?? TXN_BYTES_MAX_DEFAULT;
    this.header = encodeLogHeader(options.dbid ?? 0n);
    this.appendedZxid = options.lastLoggedZxid ?? 0;
    this.flushedZxid = this.appendedZxid;
    this.writtenZxid = this.appendedZxid;
    this.batch = Buffer.allocUnsafe(Math.max(BATCH_BYTES_INITIAL, this.txnBytesMax + ENTRY_FRAME_BYTES));
    if (!(Number.isSafeInteger(this.preAllocBytes) && this.preAllocBytes >= 0)) {
      throw new RangeError(`preAllocBytes must be a non-negative integer, got ${this.preAllocBytes}`);
    }
  }

  /** The zxid of the last append (durable or not). */
  get lastAppendedZxid(): number {
    return this.appendedZxid;
  }

  /** The zxid of the last append made durable by flush() or roll(). */
  get lastFlushedZxid(): number {
    return this.flushedZxid;
  }

  /** The zxid of the last append written to the file (durable or not). */
  get lastWrittenZxid(): number {
    return this.writtenZxid;
  }

  /** Whether a syncWritten() is in flight. */
  get syncInFlight(): boolean {
    return this.syncing;
  }

  /** Bytes encoded and not yet written. */
  get pendingBytes(): number {
    return this.batchBytes;
  }

  /** The file appends go to, or null before the first append after start or roll(). */
  get currentFilePath(): string | null {
    return this.file === null ? null : this.file.path;
  }

  /**
   * Buffers one entry. `txnBytes` is TxnHeader + record (+ digest) and its header must
   * carry `zxid`; zxids must increase. The first append after start or roll() creates
   * log.<hex zxid> (header written, preallocated, file and directory fsynced).
   */
  append(zxid: number, txnBytes: Uint8Array): void {
    this.assertUsable();
    const txnLength = txnBytes.length;
    if (txnLength < TXN_HEADER_BYTES || txnLength > this.txnBytesMax) {
      throw new RangeError(`txn of ${txnLength} bytes: must be ${TXN_HEADER_BYTES}..${this.txnBytesMax}`);
    }
    if (!(Number.isSafeInteger(zxid) && zxid > this.appendedZxid)) {
      throw new Error(`zxid 0x${zxid.toString(16)} does not follow 0x${this.appendedZxid.toString(16)}`);
    }
    if (txnZxid(txnBytes) !== zxid) {
      throw new Error(`zxid 0x${zxid.toString(16)} differs from the TxnHeader's 0x${txnZxid(txnBytes).toString(16)}`);
    }
    if (this.file === null) this.openFile(zxid);

    const entryBytes = ENTRY_FRAME_BYTES + txnLength;
    if (this.batchBytes + entryBytes > this.batch.length) this.growBatch(this.batchBytes + entryBytes);
    const batch = this.batch;
    let at = this.batchBytes;
    batch.writeUInt32BE(0, at); // checksum as a long: Adler32 is 32 bits, high half zero
    batch.writeUInt32BE(adler32(txnBytes), at + 4);
    batch.writeInt32BE(txnLength, at + 8);
    at += ENTRY_PREFIX_BYTES;
    batch.set(txnBytes, at);
    at += txnLength;
    batch[at++] = ENTRY_TRAILER;
    this.batchBytes = at;
    this.appendedZxid = zxid;
  }

  /** Writes the buffered entries with one write and fdatasyncs once (when forceSync). */
  flush(): void {
    this.assertUsable();
    this.assertNotSyncing('flush');
    if (this.file === null) return;
    try {
      const startMs = performance.now();
      this.writeBatch(this.file);
      const writtenMs = performance.now();
      this.file.sync(this.forceSync);
      this.lastWriteMs = writtenMs - startMs;
      this.lastSyncMs = performance.now() - writtenMs;
    } catch (err) {
      throw this.fail(err);
    }
    this.writtenZxid = this.appendedZxid;
    this.flushedZxid = this.appendedZxid;
    this.flushedEndBytes = this.file.sizeBytes;
    this.fileHasDurableEntries = true;
  }

  /**
   * Pipelined group commit, first half: writes the buffered entries with one write, not
   * synced. It may run while a syncWritten() is in flight on the same file (the kernel
   * orders them; the sync covers at least what was written before it started).
   */
  writeBuffered(): void {
    this.assertUsable();
    if (this.file === null || this.batchBytes === 0) return;
    try {
      const startMs = performance.now();
      this.writeBatch(this.file);
      this.lastWriteMs = performance.now() - startMs;
    } catch (err) {
      throw this.fail(err);
    }
    this.writtenZxid = this.appendedZxid;
  }

  /**
   * Pipelined group commit, second half: fdatasyncs (when forceSync) on libuv's pool what
   * writeBuffered() wrote so far, and resolves with the last zxid that is now durable.
   * One at a time; roll(), close() and abandon() refuse to run while one is in flight.
   * A failed sync fails the writer (abandon() then cuts back to the last durable txn).
   */
  async syncWritten(): Promise<number> {
    this.assertUsable();
    this.assertNotSyncing('syncWritten');
    const file = this.file;
    const zxid = this.writtenZxid;
    if (file === null || zxid === this.flushedZxid) return this.flushedZxid;
    const endBytes = file.sizeBytes;
    this.syncing = true;
    const startMs = performance.now();
    try {
      await file.syncAsync(this.forceSync);
    } catch (err) {
      throw this.fail(err);
    } finally {
      this.syncing = false;
    }
    if (this.file !== file) throw new Error('log file changed during its sync');
    this.lastSyncMs = performance.now() - startMs;
    this.flushedZxid = zxid;
    this.flushedEndBytes = endBytes;
    this.fileHasDurableEntries = true;
    return zxid;
  }

  /**
   * After a failure (ENOSPC, EIO): cuts the current file back to where its last
   * successful flush ended — or removes it when no flush reached it, like a file a failed
   * create left — so the disk holds exactly the txns up to lastFlushedZxid, with nothing
   * unacknowledged after them that a restart could replay. Then the writer is usable
   * again: appends continue after lastFlushedZxid in a new file. Throws when the cleanup
   * itself fails (the writer stays failed).
   */
  abandon(): void {
    this.assertNotSyncing('abandon');
    const file = this.file;
    this.file = null;
    if (file !== null) {
      try {
        file.close();
      } catch {
        // the write already failed; what matters is the cut below
      }
      if (this.fileHasDurableEntries) {
        fs.truncateSync(file.path, this.flushedEndBytes);
        const fd = fs.openSync(file.path, 'r+');
        try {
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
      } else {
        fs.rmSync(file.path, { force: true });
        fsyncDirectory(this.dir);
      }
    }
    if (this.orphanPath !== null) {
      fs.rmSync(this.orphanPath, { force: true });
      fsyncDirectory(this.dir);
      this.orphanPath = null;
    }
    this.batchBytes = 0;
    this.appendedZxid = this.flushedZxid;
    this.writtenZxid = this.flushedZxid;
    this.fileHasDurableEntries = false;
    this.failure = null;
  }

  /**
   * Creates now the file that an append of `zxid` would create (header, preallocation,
   * fsyncs), so a caller can find out whether the disk takes writes again.
   */
  openNext(zxid: number): void {
    this.assertUsable();
    if (this.file !== null) throw new Error('openNext with a file open');
    if (!(Number.isSafeInteger(zxid) && zxid > this.appendedZxid)) throw new Error(`zxid 0x${zxid.toString(16)} does not follow 0x${this.appendedZxid.toString(16)}`);
    this.openFile(zxid);
  }

  /**
   * Ends the current file: buffered entries are written and synced to it first, so a
   * file is complete and durable before a later one exists. The next append starts a
   * new file.
   */
  roll(): void {
    this.assertUsable();
    this.assertNotSyncing('roll');
    if (this.file === null) return;
    const file = this.file;
    try {
      if (this.batchBytes > 0 || this.writtenZxid !== this.flushedZxid) {
        this.writeBatch(file);
        file.sync(this.forceSync);
        this.writtenZxid = this.appendedZxid;
        this.flushedZxid = this.appendedZxid;
      }
      this.file = null;
      file.close();
    } catch (err) {
      throw this.fail(err);
    }
  }

  /** Writes and syncs what is buffered, then closes the file. */
  close(): void {
    if (this.failure !== null) {
      if (this.file !== null) {
        const file = this.file;
        this.file = null;
        try {
          file.close();
        } catch {
          // the writer already failed; the first error is the one that matters
        }
      }
      return;
    }
    this.roll();
  }

  private openFile(zxid: number): void {
    const filePath = path.join(this.dir, logFileName(zxid));
    try {
      this.file = PreallocatedFile.create(filePath, this.header, this.preAllocBytes);
    } catch (err) {
      // create() closed it; a file cut short may remain (not one that existed: 'wx' refused that)
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') this.orphanPath = filePath;
      throw this.fail(err);
    }
    this.flushedEndBytes = this.file.sizeBytes;
    this.fileHasDurableEntries = false;
  }

  private writeBatch(file: PreallocatedFile): void {
    if (this.batchBytes === 0) return;
    this.parts[0] = this.batch.subarray(0, this.batchBytes);
    file.append(this.parts);
    this.batchBytes = 0;
  }

  private growBatch(neededBytes: number): void {
    let size = this.batch.length * 2;
    while (size < neededBytes) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.batch.copy(next, 0, 0, this.batchBytes);
    this.batch = next;
  }

  private fail(err: unknown): Error {
    this.failure = err instanceof Error ? err : new Error(String(err));
    return this.failure;
  }

  private assertNotSyncing(what: string): void {
    if (this.syncing) throw new Error(`${what} while a log sync is in flight`);
  }

  private assertUsable(): void {
    if (this.failure !== null) throw new Error(`transaction log writer failed earlier: ${this.failure.message}`, { cause: this.failure });
  }
}

// ---------------------------------------------------------------------------------------
// Parsing: pure functions over bytes

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

function headerProblem(buf: Buffer): string | null {
  const magic = buf.readInt32BE(0);
  if (magic !== TXNLOG_MAGIC) return `bad magic 0x${(magic >>> 0).toString(16)} (want 0x${TXNLOG_MAGIC.toString(16)} 'ZKLG')`;
  const version = buf.readInt32BE(4);
  if (version !== TXNLOG_VERSION) return `unsupported version ${version} (want ${TXNLOG_VERSION})`;
  return null;
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
 * them (the newest file starting at or before fromZxid and every later one). Never
 * changes files: run recoverTxnLogs first at startup. Throws TxnLogCorruptError on
 * corruption; a torn tail in the last file ends the replay and goes to onWarning.
 */
export function* readTxnLog(dir: string, fromZxid: number, options: TxnLogReadOptions = {}): Generator<TxnLogEntry, void, void> {
  const txnBytesMax = options.txnBytesMax ?? TXN_BYTES_MAX_DEFAULT;
  const files = listLogFiles(dir);
  const selected = selectLogFiles(files, fromZxid);
  if (selected.length === 0) return;
  const buf = readBufferFor(txnBytesMax);
  const last = files[files.length - 1];
  for (const f of selected) {
    const outcome = yield* scanLogFile(f.path, f === last, fromZxid, txnBytesMax, buf);
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
  const selected = selectLogFiles(files, options.fromZxid ?? 0);
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
