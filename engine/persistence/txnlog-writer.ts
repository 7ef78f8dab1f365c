// The transaction log writer (log worker): ZooKeeper 3.8 log files (txnlog-format.ts has
// the layout) appended with group commit, preallocated, fdatasynced, rolled, and cut back to
// the last durable txn after a failure.

import fs from 'node:fs';
import path from 'node:path';
import { adler32 } from '../../native-free-io/adler32.ts';
import { PreallocatedFile, fsyncDirectory } from '../../native-free-io/logfile.ts';
import {
  ENTRY_FRAME_BYTES, ENTRY_PREFIX_BYTES, ENTRY_TRAILER, TXN_BYTES_MAX_DEFAULT, TXN_HEADER_BYTES, encodeLogHeader, logFileName, txnZxid,
} from './txnlog-format.ts';

/** Initial capacity of the writer's batch buffer; it doubles when a batch needs more. */
const BATCH_BYTES_INITIAL = 1 << 20;

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

  /** Writes the buffered entries with one write and fdatasyncs once (when forceSync): both halves of a group commit. */
  flush(): void {
    this.writeBuffered();
    this.syncWrittenNow();
  }

  /**
   * Group commit, first half: writes the buffered entries with one write, not synced
   * (syncWrittenNow() then makes everything written so far durable).
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
   * Group commit, second half, on the caller's thread: fdatasyncs (when forceSync) what
   * writeBuffered() wrote so far and returns the last zxid that is now durable. A failed
   * sync fails the writer (abandon() then cuts back to the last durable txn).
   */
  syncWrittenNow(): number {
    this.assertUsable();
    const file = this.file;
    const zxid = this.writtenZxid;
    if (file === null || zxid === this.flushedZxid) return this.flushedZxid;
    const startMs = performance.now();
    try {
      file.sync(this.forceSync);
    } catch (err) {
      throw this.fail(err);
    }
    this.lastSyncMs = performance.now() - startMs;
    this.flushedZxid = zxid;
    this.flushedEndBytes = file.sizeBytes;
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

  /**
   * The log was truncated to zxid (truncateTxnLog, after roll()): appends continue after
   * zxid, in a new file. zxid must not be above what was durable.
   */
  truncatedTo(zxid: number): void {
    this.assertUsable();
    if (this.file !== null || this.batchBytes !== 0) throw new Error('truncatedTo with a file open: roll() first');
    if (!(Number.isSafeInteger(zxid) && zxid >= 0 && zxid <= this.flushedZxid)) {
      throw new Error(`truncated to zxid 0x${zxid.toString(16)}, the log was durable to 0x${this.flushedZxid.toString(16)}`);
    }
    this.appendedZxid = zxid;
    this.flushedZxid = zxid;
    this.writtenZxid = zxid;
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

  private assertUsable(): void {
    if (this.failure !== null) throw new Error(`transaction log writer failed earlier: ${this.failure.message}`, { cause: this.failure });
  }
}
