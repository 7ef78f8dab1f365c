// A preallocating, append-only file for write-ahead logs. Synchronous on purpose: it
// runs inside the dedicated log worker, where blocking on the disk is the job.
//
// Preallocation follows ZooKeeper's FilePadding: before each append, when the logical
// end is within PREALLOC_MARGIN_BYTES of the allocated size, the file grows by
// preAllocBytes (rounded to a multiple of preAllocBytes when the end already passed the
// allocated size). A new file therefore ends up header + preAllocBytes long, exactly as
// ZooKeeper's (64 MiB + 16 bytes with the default preAllocSize).
//
// How it grows: as ZooKeeper's FilePadding, by writing one zero byte at the new end, so
// the extension is a hole that reads as zeros (what the log reader relies on: a zero
// length ends a log). An earlier version wrote 64 MiB of real zeros per extension; the
// fdatasync that followed had to flush them and stalled commits by ~60 ms every few
// seconds under load (measured by bench:compare's open-loop p99), for no gain we could
// measure on this disk.

import fs from 'node:fs';
import path from 'node:path';

/** ZooKeeper pads when the end comes within 4 KiB of the allocated size. */
const PREALLOC_MARGIN_BYTES = 4096;
/** Bound on write retries that make no progress (a write returning 0 bytes). */
const WRITE_STALLS_MAX = 16;

const ONE_ZERO_BYTE = Buffer.alloc(1);

/** Wraps an operating error so the message names the file; keeps code/errno. */
function fileError(op: string, filePath: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  const wrapped = new Error(`${op} ${filePath}: ${e?.message ?? String(err)}`, { cause: err }) as NodeJS.ErrnoException;
  if (e?.code !== undefined) wrapped.code = e.code;
  if (e?.errno !== undefined) wrapped.errno = e.errno;
  wrapped.path = filePath;
  return wrapped;
}

/** fsyncs a directory so a file created or removed in it survives a crash. */
export function fsyncDirectory(dirPath: string): void {
  let fd = -1;
  try {
    fd = fs.openSync(dirPath, 'r');
    fs.fsyncSync(fd);
  } catch (err) {
    throw fileError('fsync directory', dirPath, err);
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

/**
 * The allocated size after padding for a logical end at `positionBytes`
 * (ZooKeeper's FilePadding.calculateFileSizeWithPadding).
 */
export function paddedSizeBytes(positionBytes: number, allocatedBytes: number, preAllocBytes: number): number {
  if (preAllocBytes <= 0 || positionBytes + PREALLOC_MARGIN_BYTES < allocatedBytes) return allocatedBytes;
  if (positionBytes > allocatedBytes) {
    const size = positionBytes + preAllocBytes;
    return size - (size % preAllocBytes);
  }
  return allocatedBytes + preAllocBytes;
}

/**
 * One log file, written at its logical end. Errors from the operating system are thrown
 * with the path in the message (code kept); after one, the file's tail is unknown: close
 * it and let startup recovery decide what survived.
 */
export class PreallocatedFile {
  readonly path: string;
  readonly preAllocBytes: number;
  private fd: number;
  private endBytes: number;
  private allocatedBytes: number;

  private constructor(filePath: string, fd: number, endBytes: number, preAllocBytes: number) {
    this.path = filePath;
    this.fd = fd;
    this.endBytes = endBytes;
    this.allocatedBytes = endBytes;
    this.preAllocBytes = preAllocBytes;
  }

  /**
   * Creates `filePath` (it must not exist: a log file is never overwritten), writes the
   * header, preallocates, fdatasyncs the file and then fsyncs its directory, so after a
   * crash the name never points at a file without its header.
   */
  static create(filePath: string, headerBytes: Uint8Array, preAllocBytes: number): PreallocatedFile {
    if (!(Number.isSafeInteger(preAllocBytes) && preAllocBytes >= 0)) {
      throw new RangeError(`preAllocBytes must be a non-negative integer, got ${preAllocBytes}`);
    }
    let fd: number;
    try {
      fd = fs.openSync(filePath, 'wx');
    } catch (err) {
      throw fileError('create', filePath, err);
    }
    const file = new PreallocatedFile(filePath, fd, 0, preAllocBytes);
    try {
      // header first, then pad from its end, as ZooKeeper does (size = header + preAllocBytes)
      file.write([headerBytes], headerBytes.length);
      file.maybePad(file.endBytes);
      file.sync(true);
    } catch (err) {
      file.closeQuietly();
      throw err;
    }
    fsyncDirectory(path.dirname(filePath));
    return file;
  }

  /** The logical end: bytes of header and appended data (not the preallocated zeros). */
  get sizeBytes(): number {
    return this.endBytes;
  }

  /** The size of the file on disk, preallocation included. */
  get allocatedSizeBytes(): number {
    return this.allocatedBytes;
  }

  /**
   * Writes `parts` at the logical end, in order, with one writev when the kernel takes
   * it all (partial writes are continued). Pads first when the end is near the
   * allocated size. Not durable until sync().
   */
  append(parts: Uint8Array[]): void {
    this.assertOpen();
    let totalBytes = 0;
    for (let i = 0; i < parts.length; i++) totalBytes += parts[i].length;
    if (totalBytes === 0) return;
    this.maybePad(this.endBytes);
    // a write larger than the margin could run past the allocation: pad for its end too
    this.maybePad(this.endBytes + totalBytes);
    this.write(parts, totalBytes);
  }

  /** Writes `parts` (totalBytes in all) at the logical end and advances it. */
  private write(parts: Uint8Array[], totalBytes: number): void {
    let position = this.endBytes;
    let written = 0;
    try {
      written = parts.length === 1
        ? fs.writeSync(this.fd, parts[0], 0, parts[0].length, position)
        : fs.writevSync(this.fd, parts, position);
    } catch (err) {
      throw fileError('write', this.path, err);
    }
    position += written;
    if (written < totalBytes) this.writeRest(parts, written, position);
    this.endBytes += totalBytes;
    if (this.endBytes > this.allocatedBytes) this.allocatedBytes = this.endBytes;
  }

  /** Makes appended data durable: fdatasync when forceSync, else nothing (zookeeper.forceSync=no). */
  sync(forceSync: boolean): void {
    this.assertOpen();
    if (!forceSync) return;
    try {
      fs.fdatasyncSync(this.fd);
    } catch (err) {
      throw fileError('fdatasync', this.path, err);
    }
  }

  close(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    try {
      fs.closeSync(fd);
    } catch (err) {
      throw fileError('close', this.path, err);
    }
  }

  private closeQuietly(): void {
    try {
      this.close();
    } catch {
      // already failing with the original error
    }
  }

  private assertOpen(): void {
    if (this.fd < 0) throw new Error(`${this.path}: file is closed`);
  }

  private maybePad(positionBytes: number): void {
    const targetBytes = paddedSizeBytes(positionBytes, this.allocatedBytes, this.preAllocBytes);
    if (targetBytes <= this.allocatedBytes) return;
    let n: number;
    try {
      n = fs.writeSync(this.fd, ONE_ZERO_BYTE, 0, 1, targetBytes - 1);
    } catch (err) {
      throw fileError('preallocate', this.path, err);
    }
    if (n !== 1) throw new Error(`preallocate ${this.path}: could not write the byte at ${targetBytes - 1}`);
    this.allocatedBytes = targetBytes;
  }

  /** Continues a partial write: skips `doneBytes` of `parts` and writes the rest at `position`. */
  private writeRest(parts: Uint8Array[], doneBytes: number, position: number): void {
    let skip = doneBytes;
    let stalls = 0;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      if (skip >= part.length) {
        skip -= part.length;
        continue;
      }
      let offset = skip;
      skip = 0;
      while (offset < part.length) {
        let n: number;
        try {
          n = fs.writeSync(this.fd, part, offset, part.length - offset, position);
        } catch (err) {
          throw fileError('write', this.path, err);
        }
        if (n === 0 && ++stalls > WRITE_STALLS_MAX) throw new Error(`write ${this.path}: writes make no progress at ${position}`);
        offset += n;
        position += n;
      }
    }
  }
}
