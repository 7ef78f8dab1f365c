// ZooKeeper 3.8 snapshot files: listing and reading (snapshot-format.ts has the layout,
// snapshot-serializer.ts and snapshot-writer.ts the writing side; all three are re-exported
// here for callers that take snapshots as one module).

import fs from 'node:fs';
import zlib from 'node:zlib';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { adler32 } from '../../native-free-io/adler32.ts';
import { type Acl, NULL_DATA } from '../protocol.ts';
import { NodeRecord, type DataTree } from '../core/tree.ts';
import { FRESH_PAGES, type PageSource } from '../core/pages.ts';
import { PrefaultedPages } from './prefault.ts';
import {
  CHECKPOINT_BYTES, CHECKSUM_DONE, CHECKSUM_FIRST, CHECKSUM_PUBLISHED, SEAL_BYTES, SLASH, SNAP_HEADER_BYTES, SNAP_MAGIC, STAT_PERSISTED_BYTES, SnapshotCorruptError, parseSnapshotFileName, readLongNumber,
  type Compression, type SnapshotFile,
} from './snapshot-format.ts';

export * from './snapshot-format.ts';
export { SnapshotSerializer } from './snapshot-serializer.ts';
export { SnapshotFileWriter, removeTempSnapshots, writeSnapshotNow } from './snapshot-writer.ts';

/** Bytes of a snapshot file read at a time when loading. */
const READ_CHUNK_BYTES = 8 << 20;
const EMPTY_DATA = Buffer.alloc(0);

/** The snapshot files in dir, newest (highest zxid) first, unchecked. */
export function listSnapshots(dir: string): SnapshotFile[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const files: SnapshotFile[] = [];
  for (const name of names) {
    const parsed = parseSnapshotFileName(name);
    if (parsed !== null) files.push({ name, path: path.join(dir, name), ...parsed });
  }
  files.sort((x, y) => y.zxid - x.zxid);
  return files;
}

/**
 * ZooKeeper's quick check (SnapStream.isValidSnapshot) for a plain snapshot: at least 10
 * bytes, ending with the string "/" of a seal. Compressed files pass on their magic.
 */
export function looksComplete(file: SnapshotFile): boolean {
  let fd = -1;
  try {
    fd = fs.openSync(file.path, 'r');
    const size = fs.fstatSync(fd).size;
    const probe = Buffer.alloc(5);
    if (file.compression === 'gz') return fs.readSync(fd, probe, 0, 2, 0) === 2 && probe[0] === 0x1f && probe[1] === 0x8b;
    if (file.compression === 'snappy') return size > 8;
    if (size < 10) return false;
    if (fs.readSync(fd, probe, 0, 5, size - 5) !== 5) return false;
    return probe.readInt32BE(0) === 1 && probe[4] === SLASH;
  } catch {
    return false;
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------
// Reading files

/** Receives what a snapshot holds, in file order. */
export interface SnapshotSink {
  session(id: bigint, timeoutMs: number): void;
  acl(ref: number, acls: Acl[]): void;
  /**
   * path '/' for the root (stored as ""). The record (and its data, a view of the file's
   * bytes) is valid only during the call: the reader reuses it for the next node.
   */
  node(path: string, node: NodeRecord): void;
  /**
   * The same with the path as its bytes buf[start, start + bytes) (UTF-8; empty for the
   * root), valid only during the call; when a sink has it, readSnapshot makes no string.
   */
  nodeAt?(buf: Buffer, start: number, bytes: number, node: NodeRecord): void;
  /**
   * Before the first node: the file's size, from which a sink may guess how many nodes are
   * coming; and, when the load has a helper thread (parallelChecksum), buffers it prefaults
   * (engine/persistence/prefault.ts), for the sink's memory until the load ends.
   */
  expectFileBytes?(fileBytes: number, pages?: PageSource): void;
}

export type SnapshotInfo = {
  zxid: number;
  sessionCount: number;
  aclCount: number;
  nodeCount: number;
  /** The ZxidDigest after the first seal, or null when the file has none (older writers). */
  digest: { zxid: number; version: number; digest: bigint } | null;
  fileBytes: number;
};

export type SnapshotReadOptions = {
  /** Longest data or path accepted (jute.maxbuffer + extrasize); longer is corruption. */
  recordBytesMax?: number;
  /**
   * A helper thread (startup, big files): it verifies the seals with an Adler32 computed
   * while parsing, and prefaults the sink's memory (expectFileBytes).
   */
  parallelChecksum?: boolean;
};


/**
 * A load's helper thread: Adler32 of a file's prefixes, computed in checkpoints while the
 * caller parses (the caller finishes the last partial stretch; it computes everything
 * itself if the thread fails), and the pages it touches for the sink.
 */
class ParallelChecksum {
  private readonly words: Int32Array;
  private readonly worker: Worker;
  private readonly file: string;
  private readonly scratch = Buffer.allocUnsafe(CHECKPOINT_BYTES);

  constructor(file: string, fileBytes: number) {
    this.file = file;
    const checkpoints = Math.floor(fileBytes / CHECKPOINT_BYTES) + 1;
    this.words = new Int32Array(new SharedArrayBuffer((CHECKSUM_FIRST + checkpoints) * 4));
    this.worker = new Worker(new URL('./load-helper-worker.ts', import.meta.url), { workerData: { file, sab: this.words.buffer } });
    this.worker.unref();
  }

  /** Buffers this thread prefaults, up to budgetBytes in all. */
  prefaultedPages(budgetBytes: number): PrefaultedPages {
    return new PrefaultedPages(this.worker, budgetBytes);
  }

  /** Adler32 of the file's first `offset` bytes. */
  upTo(offset: number, fd: number): number {
    const k = Math.floor(offset / CHECKPOINT_BYTES);
    let base = 1;
    let from = 0;
    for (;;) {
      const published = Atomics.load(this.words, CHECKSUM_PUBLISHED);
      if (published > k) {
        base = this.words[CHECKSUM_FIRST + k] >>> 0;
        from = k * CHECKPOINT_BYTES;
        break;
      }
      if (Atomics.load(this.words, CHECKSUM_DONE) !== 0) break; // failed: all of it here
      Atomics.wait(this.words, CHECKSUM_PUBLISHED, published, 100);
    }
    let checksum = base;
    for (let at = from; at < offset;) {
      const n = fs.readSync(fd, this.scratch, 0, Math.min(this.scratch.length, offset - at), at);
      if (n === 0) throw new Error(`${this.file}: short read at ${at}`);
      checksum = adler32(this.scratch, 0, n, checksum);
      at += n;
    }
    return checksum;
  }

  close(): void {
    void this.worker.terminate();
  }
}

function viewOf(buf: Buffer): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.length);
}

/** A long of a snapshot record (a zxid, a time) as a number. */
function longAt(v: DataView, at: number): number {
  return v.getInt32(at) * 0x1_0000_0000 + v.getUint32(at + 4);
}

/** Byte source over a file with a running Adler32 of what was consumed. */
class SnapshotInput {
  buf: Buffer;
  /** buf as a DataView: its getInt32 is several times cheaper than Buffer's readInt32BE (20 reads a node). */
  view: DataView;
  /** Valid bytes are buf[pos, end). */
  pos = 0;
  end = 0;
  private checkedTo = 0;
  private checksum = 1;
  private filePos = 0;
  private readonly fd: number;
  private readonly fileBytes: number;
  private readonly whole: Buffer | null;
  private parallel: ParallelChecksum | null = null;
  readonly file: string;

  constructor(file: string, compression: Compression, parallelChecksum = false) {
    this.file = file;
    if (compression === 'snappy') throw new Error(`snapshot ${file}: snappy compression is not supported; decompress it or let ZooKeeper write a plain snapshot`);
    if (compression === 'gz') {
      this.whole = zlib.gunzipSync(fs.readFileSync(file));
      this.buf = this.whole;
      this.view = viewOf(this.buf);
      this.end = this.whole.length;
      this.fd = -1;
      this.fileBytes = this.whole.length;
    } else {
      this.whole = null;
      this.fd = fs.openSync(file, 'r');
      this.fileBytes = fs.fstatSync(this.fd).size;
      this.buf = Buffer.allocUnsafe(READ_CHUNK_BYTES);
      this.view = viewOf(this.buf);
      if (parallelChecksum) this.parallel = new ParallelChecksum(file, this.fileBytes);
    }
  }

  get fileOffset(): number {
    return this.filePos - (this.end - this.pos);
  }

  get sizeBytes(): number {
    return this.fileBytes;
  }

  /** Prefaulted buffers for the sink when there is a helper thread: as many bytes as the file (prefault.ts says why). */
  prefaultedPages(): PageSource | undefined {
    return this.parallel?.prefaultedPages(this.fileBytes);
  }

  close(): void {
    this.parallel?.close();
    if (this.fd >= 0) fs.closeSync(this.fd);
  }

  /** Makes n bytes available at pos; false at the end of the file. */
  ensure(n: number): boolean {
    if (this.end - this.pos >= n) return true;
    if (this.whole !== null) return false;
    if (this.parallel === null) this.checksum = adler32(this.buf, this.checkedTo, this.pos, this.checksum);
    const keep = this.end - this.pos;
    if (n > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
      this.buf.copy(bigger, 0, this.pos, this.end);
      this.buf = bigger;
      this.view = viewOf(bigger);
    } else {
      this.buf.copyWithin(0, this.pos, this.end);
    }
    this.pos = 0;
    this.end = keep;
    this.checkedTo = 0;
    while (this.end < n && this.filePos < this.fileBytes) {
      const got = fs.readSync(this.fd, this.buf, this.end, this.buf.length - this.end, this.filePos);
      if (got === 0) break;
      this.end += got;
      this.filePos += got;
    }
    return this.end - this.pos >= n;
  }

  /** Adler32 of every byte consumed so far. */
  checksumSoFar(): number {
    if (this.parallel !== null) return this.parallel.upTo(this.fileOffset, this.fd);
    this.checksum = adler32(this.buf, this.checkedTo, this.pos, this.checksum);
    this.checkedTo = this.pos;
    return this.checksum;
  }

  atEnd(): boolean {
    return !this.ensure(1);
  }
}

/**
 * Reads a snapshot file into a sink, checking the header, every length, the seal (and
 * the digest's seal when present). Throws SnapshotCorruptError naming file and offset.
 */
export function readSnapshot(file: SnapshotFile, sink: SnapshotSink, options: SnapshotReadOptions = {}): SnapshotInfo {
  const recordBytesMax = options.recordBytesMax ?? 2 * 0xfffff;
  const input = new SnapshotInput(file.path, file.compression, options.parallelChecksum === true);
  const fail = (reason: string): never => {
    throw new SnapshotCorruptError(file.path, input.fileOffset, reason);
  };
  const need = (n: number, what: string): void => {
    if (!input.ensure(n)) fail(`file ends inside ${what}`);
  };
  const int = (what: string): number => {
    need(4, what);
    const v = input.view.getInt32(input.pos);
    input.pos += 4;
    return v;
  };
  const str = (what: string): string => {
    const n = int(what);
    if (n < 0 || n > recordBytesMax) fail(`${what} length ${n}`);
    need(n, what);
    const s = input.buf.toString('utf8', input.pos, input.pos + n);
    input.pos += n;
    return s;
  };
  const seal = (which: string): void => {
    const expected = input.checksumSoFar();
    need(SEAL_BYTES, which);
    const b = input.buf;
    const high = b.readUInt32BE(input.pos);
    const value = b.readUInt32BE(input.pos + 4);
    if (high !== 0 || value !== expected) fail(`${which}: checksum 0x${(high * 0x1_0000_0000 + value).toString(16)} != Adler32 0x${expected.toString(16)}`);
    if (b.readInt32BE(input.pos + 8) !== 1 || b[input.pos + 12] !== SLASH) fail(`${which}: no "/" after the checksum`);
    input.pos += SEAL_BYTES;
  };
  try {
    need(SNAP_HEADER_BYTES, 'the header');
    const magic = input.buf.readInt32BE(0);
    if (magic !== SNAP_MAGIC) fail(`bad magic 0x${(magic >>> 0).toString(16)} (want 0x${SNAP_MAGIC.toString(16)} 'ZKSN')`);
    input.pos = SNAP_HEADER_BYTES;
    const sessionCount = int('the session count');
    if (sessionCount < 0) fail(`session count ${sessionCount}`);
    for (let i = 0; i < sessionCount; i++) {
      need(12, 'a session');
      const id = input.buf.readBigInt64BE(input.pos);
      const timeoutMs = input.buf.readInt32BE(input.pos + 8);
      input.pos += 12;
      sink.session(id, timeoutMs);
    }
    const aclCount = int('the ACL cache size');
    if (aclCount < 0) fail(`ACL cache size ${aclCount}`);
    for (let i = 0; i < aclCount; i++) {
      need(12, 'an ACL cache entry');
      const ref = readLongNumber(input.buf, input.pos);
      const n = input.buf.readInt32BE(input.pos + 8);
      input.pos += 12;
      if (n < 0 || n > recordBytesMax) fail(`ACL list length ${n}`);
      const acls: Acl[] = [];
      for (let j = 0; j < n; j++) {
        const perms = int('an ACL');
        const scheme = str('an ACL scheme');
        const id = str('an ACL id');
        acls.push({ perms, id: { scheme, id } });
      }
      sink.acl(ref, acls);
    }
    let nodeCount = 0;
    const record = new NodeRecord();
    const nodeAt = sink.nodeAt?.bind(sink);
    sink.expectFileBytes?.(input.sizeBytes, input.prefaultedPages());
    // the path of the record at input.pos, for messages (need() keeps the bytes from input.pos)
    const pathText = (pathBytes: number): string => input.buf.toString('utf8', input.pos, input.pos + pathBytes);
    for (;;) {
      const pathBytes = int('a node path');
      if (pathBytes < 0 || pathBytes > recordBytesMax) fail(`a node path length ${pathBytes}`);
      need(pathBytes, 'a node path');
      if (pathBytes === 1 && input.buf[input.pos] === SLASH) {
        input.pos += 1;
        break;
      }
      // the path stays in the buffer: a string only for a sink without nodeAt
      need(pathBytes + 4, 'node data');
      const dataLength = input.view.getInt32(input.pos + pathBytes);
      if (dataLength < -1 || dataLength > recordBytesMax) fail(`node ${pathText(pathBytes)}: data length ${dataLength}`);
      if (!input.ensure(pathBytes + 4 + Math.max(0, dataLength) + 8 + STAT_PERSISTED_BYTES)) fail(`file ends inside node ${pathText(pathBytes)}`);
      const b = input.buf;
      const v = input.view;
      const pathStart = input.pos;
      let at = pathStart + pathBytes + 4;
      // the record refers to the bytes in the read buffer; the tree keeps its own copy
      record.dataSource = b;
      record.dataStart = at;
      record.dataLengthOrNull = dataLength;
      at += Math.max(0, dataLength);
      const node = record;
      node.aclRef = longAt(v, at);
      node.czxid = longAt(v, at + 8);
      node.mzxid = longAt(v, at + 16);
      node.ctime = longAt(v, at + 24);
      node.mtime = longAt(v, at + 32);
      node.version = v.getInt32(at + 40);
      node.cversion = v.getInt32(at + 44);
      node.aversion = v.getInt32(at + 48);
      node.ephemeralOwner = v.getInt32(at + 52) !== 0 || v.getInt32(at + 56) !== 0 ? v.getBigInt64(at + 52) : 0n;
      node.pzxid = longAt(v, at + 60);
      input.pos = at + 68;
      if (nodeAt !== undefined) nodeAt(b, pathStart, pathBytes, node);
      else sink.node(pathBytes === 0 ? '/' : b.toString('utf8', pathStart, pathStart + pathBytes), node);
      nodeCount++;
    }
    seal('the seal after the nodes');
    let digest: SnapshotInfo['digest'] = null;
    if (!input.atEnd()) {
      need(12, 'the digest');
      const zxid = readLongNumber(input.buf, input.pos);
      const version = input.buf.readInt32BE(input.pos + 8);
      input.pos += 12;
      let value: bigint;
      if (version < 2) {
        const hex = str('the digest');
        value = BigInt(`0x${hex || '0'}`);
      } else {
        need(8, 'the digest');
        value = input.buf.readBigInt64BE(input.pos);
        input.pos += 8;
      }
      digest = { zxid, version, digest: value };
      seal('the seal after the digest');
    }
    return { zxid: file.zxid, sessionCount, aclCount, nodeCount, digest, fileBytes: input.sizeBytes };
  } finally {
    input.close();
  }
}

/**
 * A sink that loads a snapshot into a DataTree (cleared first) and collects sessions.
 * Nodes whose ACL reference is not in the file's cache get an ACL that grants nothing
 * (super can still fix it), with a warning: a fuzzy snapshot of ZooKeeper's can hold
 * such a node, and ZooKeeper itself would fail on it later.
 */
/**
 * Snapshot bytes per node for sizing the path index before a load: a node's record is 76
 * bytes and its path and data (194 B for the benchmarks' 100 B znodes). A guess under the
 * real size would double the table past what the tree needs (64 MiB too much at 10M
 * znodes), so it errs above: a tree of smaller records doubles the table the last time or
 * two while it loads, as without a guess.
 */
const SNAPSHOT_BYTES_PER_NODE_GUESS = 160;

export class TreeLoader implements SnapshotSink {
  readonly sessions: [bigint, number][] = [];
  private readonly tree: DataTree;
  private readonly warn: (msg: string) => void;
  private noAccessRef = 0;
  private prefaulted: PageSource | null = null;

  constructor(tree: DataTree, warn: (msg: string) => void) {
    this.tree = tree;
    this.warn = warn;
    tree.clearForRestore();
  }

  session(id: bigint, timeoutMs: number): void {
    this.sessions.push([id, timeoutMs]);
  }

  expectFileBytes(fileBytes: number, pages?: PageSource): void {
    this.tree.index.reserve(Math.floor(fileBytes / SNAPSHOT_BYTES_PER_NODE_GUESS));
    if (pages !== undefined) {
      this.prefaulted = pages;
      this.tree.store.usePages(pages);
      this.tree.index.usePages(pages);
    }
  }

  acl(ref: number, acls: Acl[]): void {
    this.tree.acls.load(ref, acls);
  }

  nodeAt(buf: Buffer, start: number, bytes: number, node: NodeRecord): void {
    this.checkAcl(node, buf, start, bytes);
    if (!this.tree.restoreNodeAt(buf, start, bytes, node)) this.tree.restoreNode(bytes === 0 ? '/' : buf.toString('utf8', start, start + bytes), node);
  }

  node(p: string, node: NodeRecord): void {
    const path = Buffer.from(p === '/' ? '' : p);
    this.nodeAt(path, 0, path.length, node);
  }

  /** A node whose ACL reference is not in the cache gets one that grants nothing (see above). */
  private checkAcl(node: NodeRecord, buf: Buffer, start: number, bytes: number): void {
    if (!this.tree.acls.addUsage(node.aclRef)) {
      const p = bytes === 0 ? '/' : buf.toString('utf8', start, start + bytes);
      this.warn(`snapshot: node ${p} refers to ACL ${node.aclRef}, which is not in the snapshot's ACL cache; it gets an ACL that grants nothing`);
      if (this.noAccessRef === 0) this.noAccessRef = this.tree.acls.intern([{ perms: 0, id: { scheme: 'world', id: 'anyone' } }]);
      else this.tree.acls.addUsage(this.noAccessRef);
      node.aclRef = this.noAccessRef;
    }
  }

  finish(zxid: number): void {
    this.close();
    this.tree.finishRestore();
    this.tree.lastZxid = zxid;
  }

  /** The tree takes new pages as before the load (finish does; a load that failed must). */
  close(): void {
    if (this.prefaulted === null) return;
    this.tree.store.usePages(FRESH_PAGES);
    this.tree.index.usePages(FRESH_PAGES);
    this.prefaulted = null;
  }
}
