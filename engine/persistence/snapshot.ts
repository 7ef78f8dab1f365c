// ZooKeeper 3.8 snapshot files: dataDir/version-2/snapshot.<hex zxid>.
//
//   file     = FileHeader sessions aclCache nodes "/" seal digest seal
//   header   = int magic 'ZKSN' (0x5a4b534e), int version 2, long dbid -1          (16 bytes)
//   sessions = int count, count × {long id, int timeoutMs}
//   aclCache = int count, count × {long ref, int n, n × ACL {int perms, string scheme, string id}}
//   nodes    = {string path, buffer data, long aclRef, StatPersisted}* then the string "/"
//              (the root's path is ""; every parent comes before its children)
//   StatPersisted = long czxid, long mzxid, long ctime, long mtime, int version,
//              int cversion, int aversion, long ephemeralOwner, long pzxid      (60 bytes)
//   seal     = long Adler32 of every byte before it, then the string "/"
//   digest   = long zxid, int digestVersion 2, long digest (DataTree.ZxidDigest)
//
// The Adler32 runs over the whole file, so the second seal covers the first one too.
// zooid writes the digest ZooKeeper 3.8 writes before it has processed a txn: zxid 0,
// version 2, digest 0. ZooKeeper reads that as "the digest value is empty in snapshot"
// and checks nothing (verified against the real server in test/compat); computing the
// real tree digest would cost a CRC32 of every changed node on the write path.
//
// Fuzzy snapshots (serialized while the tree keeps changing) are named after the tree's
// lastZxid when they start; restore replays the log from there (txns are idempotent).
// SnapshotSerializer makes that safe for zooid's tree (see its comment).
//
// The file is written under a temporary name that ZooKeeper never takes for a snapshot
// (tmp.snapshot.<hex>), fsynced, renamed and the directory fsynced: a crash leaves
// either no snapshot or a complete one, never a torn file under the real name.

import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { Worker } from 'node:worker_threads';
import { adler32 } from '../../native-free-io/adler32.ts';
import { fsyncDirectory } from '../../native-free-io/logfile.ts';
import { type Acl, NULL_DATA } from '../protocol.ts';
import { AclCache, ZNode, type DataTree } from '../core/tree.ts';

export const SNAP_MAGIC = 0x5a4b534e; // 'ZKSN'
export const SNAP_VERSION = 2;
/** FileSnap.dbId: snapshots always carry -1. */
export const SNAP_DBID = -1n;
export const SNAP_HEADER_BYTES = 16;
/** DigestCalculator.DIGEST_VERSION in ZooKeeper 3.8. */
export const DIGEST_VERSION = 2;
export const SNAPSHOT_FILE_PREFIX = 'snapshot.';
/** Temporary name of a snapshot being written: ZooKeeper ignores it (its prefix is not "snapshot"). */
export const SNAPSHOT_TEMP_PREFIX = 'tmp.snapshot.';
/** StatPersisted: 4 longs, 3 ints, 2 longs. */
export const STAT_PERSISTED_BYTES = 60;
/** A seal: long checksum + string "/" (int 1, '/'). */
export const SEAL_BYTES = 13;
/** ZooKeeper's FileSnap.deserialize tries this many snapshots, newest first. */
export const SNAPSHOTS_TRIED_MAX = 100;
/** Bytes of a snapshot file read at a time when loading. */
const READ_CHUNK_BYTES = 8 << 20;
/**
 * A snapshot is flushed to disk every this many bytes as it is written: a large dirty
 * backlog written back at once queues the log's fdatasync behind it (acknowledgements of
 * writes stall for the whole backlog). Keeping it small bounds that wait.
 */
const SYNC_EVERY_BYTES = 4 << 20; // measured with bench/persistence.ts latency: p99 92 ms → 10 ms at 4 MiB (1M-znode snapshots back to back)
/** Bytes per write(2) of a snapshot at most (the writer's buffer). */
const WRITE_BUFFER_BYTES = 4 << 20;

const EMPTY_DATA = Buffer.alloc(0);
const SLASH = 0x2f;

export class SnapshotCorruptError extends Error {
  readonly file: string;
  readonly offset: number;

  constructor(file: string, offset: number, reason: string) {
    super(`snapshot ${file} is not valid at offset ${offset}: ${reason}`);
    this.file = file;
    this.offset = offset;
  }
}

// ---------------------------------------------------------------------------------------
// Names

export type Compression = 'none' | 'gz' | 'snappy';
export type SnapshotFile = { name: string; path: string; zxid: number; compression: Compression };

/** snapshot.<zxid in lowercase hex, no padding>, as ZooKeeper's Util.makeSnapshotName. */
export function snapshotFileName(zxid: number): string {
  return SNAPSHOT_FILE_PREFIX + zxid.toString(16);
}

/**
 * The zxid and compression of a snapshot file name as ZooKeeper reads it
 * (Util.getZxidFromName: "snapshot" "." hex ["." extension]), or null.
 */
export function parseSnapshotFileName(name: string): { zxid: number; compression: Compression } | null {
  const parts = name.split('.');
  if (parts.length < 2 || parts[0] !== 'snapshot' || !/^[0-9a-fA-F]{1,16}$/.test(parts[1])) return null;
  const zxid = parseInt(parts[1], 16);
  if (!Number.isSafeInteger(zxid)) return null;
  // SnapStream.getStreamMode: the last extension names the stream; anything else is plain
  const ext = parts.length > 2 ? parts[parts.length - 1].toLowerCase() : '';
  return { zxid, compression: ext === 'gz' ? 'gz' : ext === 'snappy' ? 'snappy' : 'none' };
}

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

/** Removes snapshots left half-written by a crash (tmp.snapshot.*). Returns their names. */
export function removeTempSnapshots(dir: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!name.startsWith(SNAPSHOT_TEMP_PREFIX)) continue;
    fs.rmSync(path.join(dir, name), { force: true });
    removed.push(name);
  }
  if (removed.length > 0) fsyncDirectory(dir);
  return removed;
}

// ---------------------------------------------------------------------------------------
// Serializing (pipeline worker, in bounded slices)

function writeLongNumber(buf: Buffer, at: number, v: number): void {
  const hi = Math.floor(v / 0x1_0000_0000);
  buf.writeInt32BE(hi, at);
  buf.writeUInt32BE(v - hi * 0x1_0000_0000, at + 4);
}

function readLongNumber(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * 0x1_0000_0000 + buf.readUInt32BE(at + 4);
}

export function encodeSnapshotHeader(): Buffer {
  const b = Buffer.alloc(SNAP_HEADER_BYTES);
  b.writeInt32BE(SNAP_MAGIC, 0);
  b.writeInt32BE(SNAP_VERSION, 4);
  b.writeBigInt64BE(SNAP_DBID, 8);
  return b;
}

/** Writes a seal for `checksum` at buf[at] (SnapStream.sealStream); returns the end. */
export function writeSeal(buf: Buffer, at: number, checksum: number): number {
  buf.writeUInt32BE(0, at);
  buf.writeUInt32BE(checksum >>> 0, at + 4);
  buf.writeInt32BE(1, at + 8);
  buf[at + 12] = SLASH;
  return at + SEAL_BYTES;
}

/** The empty ZxidDigest ZooKeeper 3.8 writes (zxid 0, version 2, digest 0). */
export const EMPTY_DIGEST_BYTES = 20;

function aclBytes(acls: readonly Acl[]): number {
  let n = 8 + 4;
  for (const a of acls) n += 4 + 4 + Buffer.byteLength(a.id.scheme) + 4 + Buffer.byteLength(a.id.id);
  return n;
}

function writeString(buf: Buffer, at: number, s: string): number {
  const n = buf.write(s, at + 4, 'utf8');
  buf.writeInt32BE(n, at);
  return at + 4 + n;
}

/**
 * Serializes a DataTree and its sessions into snapshot bytes, a slice at a time, while
 * the tree keeps changing between slices (a fuzzy snapshot named after `zxid`, the
 * tree's lastZxid at the start).
 *
 * What makes the result restorable by replaying the log from zxid + 1:
 *   - Sessions and the ACL cache are captured at the start (small copies); both are
 *     written before any node, as the format wants.
 *   - Nodes are written in the tree map's insertion order. A node's parent was inserted
 *     before it and cannot leave while the child exists, so parents still come first.
 *     A node deleted before the walk reaches it is not written; later txns replay.
 *   - Nodes created after the start (czxid > zxid) are skipped: their create txn is
 *     replayed, so they are never in the snapshot and in the log both.
 *   - Other nodes are written as they are when the walk reaches them: later setData,
 *     setACL and child changes are replayed over them, to the same result.
 *   - A node whose ACL reference is newer than the captured cache gets the reference of
 *     an equal captured list, or -1 when there is none: then a setACL after the start
 *     changed it, and its replay sets it again.
 *   - The caller seals the file only once the log is durable up to the tree's lastZxid
 *     at the end, so nothing in the snapshot is missing from the log after a crash.
 */
export class SnapshotSerializer {
  readonly zxid: number;
  nodesWritten = 0;
  nodesSkipped = 0;
  private step = 0; // 0 header, 1 session count, 2 sessions, 3 acl count, 4 acls, 5 nodes, 6 end marker, 7 done
  private readonly sessions: [bigint, number][];
  private readonly acls: [number, readonly Acl[]][];
  private readonly aclRefMax: number;
  private aclKeys: Map<string, number> | null = null;
  private index = 0;
  private readonly tree: DataTree;
  private readonly walk: IterableIterator<[string, ZNode]>;
  private pending: [string, ZNode] | null = null;

  constructor(tree: DataTree, sessions: Iterable<[bigint, number]>, zxid: number) {
    this.tree = tree;
    this.zxid = zxid;
    this.sessions = [...sessions];
    this.acls = tree.acls.entries();
    this.aclRefMax = tree.acls.lastRef();
    this.walk = tree.nodes.entries();
  }

  get done(): boolean {
    return this.step === 7;
  }

  /**
   * Writes whole records into buf[start, end) and returns the offset after the last one.
   * Stops after nodeCountMax nodes. A record that does not fit waits for the next call;
   * the buffer must hold at least the largest record (recordBytesMax of the tree).
   */
  fill(buf: Buffer, start: number, end: number, nodeCountMax: number): number {
    let at = start;
    let nodes = 0;
    for (;;) {
      switch (this.step) {
        case 0:
          if (end - at < SNAP_HEADER_BYTES) return at;
          at += encodeSnapshotHeader().copy(buf, at);
          this.step = 1;
          break;
        case 1:
          if (end - at < 4) return at;
          buf.writeInt32BE(this.sessions.length, at);
          at += 4;
          this.step = 2;
          this.index = 0;
          break;
        case 2:
          while (this.index < this.sessions.length) {
            if (end - at < 12) return at;
            const [id, timeoutMs] = this.sessions[this.index++];
            buf.writeBigInt64BE(id, at);
            buf.writeInt32BE(timeoutMs, at + 8);
            at += 12;
          }
          this.step = 3;
          break;
        case 3:
          if (end - at < 4) return at;
          buf.writeInt32BE(this.acls.length, at);
          at += 4;
          this.step = 4;
          this.index = 0;
          break;
        case 4:
          while (this.index < this.acls.length) {
            const [ref, list] = this.acls[this.index];
            if (end - at < aclBytes(list)) return at;
            writeLongNumber(buf, at, ref);
            buf.writeInt32BE(list.length, at + 8);
            at += 12;
            for (const a of list) {
              buf.writeInt32BE(a.perms, at);
              at = writeString(buf, at + 4, a.id.scheme);
              at = writeString(buf, at, a.id.id);
            }
            this.index++;
          }
          this.step = 5;
          break;
        case 5:
          for (;;) {
            if (nodes >= nodeCountMax) return at;
            let entry = this.pending;
            if (entry === null) {
              const next = this.walk.next();
              if (next.done === true) break;
              entry = next.value;
            } else if (this.tree.nodes.get(entry[0]) !== entry[1]) {
              // waited for room and was deleted meanwhile; a re-created node comes again
              this.pending = null;
              this.nodesSkipped++;
              continue;
            }
            const [p, node] = entry;
            if (node.czxid > this.zxid) {
              // created after the start: its create txn is replayed
              this.pending = null;
              this.nodesSkipped++;
              continue;
            }
            const data = node.data;
            const pathBytesMax = p.length * 3;
            const recordBytesMax = 4 + pathBytesMax + 4 + data.length + 8 + STAT_PERSISTED_BYTES;
            if (end - at < recordBytesMax && end - at < 4 + Buffer.byteLength(p) + 4 + data.length + 8 + STAT_PERSISTED_BYTES) {
              this.pending = entry;
              return at;
            }
            this.pending = null;
            at = p === '/' ? writeString(buf, at, '') : writeString(buf, at, p);
            if (data === NULL_DATA) {
              buf.writeInt32BE(-1, at);
              at += 4;
            } else {
              buf.writeInt32BE(data.length, at);
              at += 4 + data.copy(buf, at + 4);
            }
            writeLongNumber(buf, at, this.aclRefFor(node.aclRef));
            writeLongNumber(buf, at + 8, node.czxid);
            writeLongNumber(buf, at + 16, node.mzxid);
            writeLongNumber(buf, at + 24, node.ctime);
            writeLongNumber(buf, at + 32, node.mtime);
            buf.writeInt32BE(node.version, at + 40);
            buf.writeInt32BE(node.cversion, at + 44);
            buf.writeInt32BE(node.aversion, at + 48);
            if (node.ephemeralOwner === 0n) {
              buf.writeInt32BE(0, at + 52);
              buf.writeInt32BE(0, at + 56);
            } else buf.writeBigInt64BE(node.ephemeralOwner, at + 52);
            writeLongNumber(buf, at + 60, node.pzxid);
            at += 68;
            nodes++;
            this.nodesWritten++;
          }
          this.step = 6;
          break;
        case 6:
          if (end - at < 5) return at;
          at = writeString(buf, at, '/');
          this.step = 7;
          break;
        default:
          return at;
      }
    }
  }

  private aclRefFor(ref: number): number {
    if (ref <= this.aclRefMax) return ref;
    if (this.aclKeys === null) {
      this.aclKeys = new Map();
      for (const [r, list] of this.acls) this.aclKeys.set(AclCache.keyOf(list), r);
    }
    return this.aclKeys.get(AclCache.keyOf(this.tree.acls.get(ref))) ?? -1;
  }
}

// ---------------------------------------------------------------------------------------
// Writing files (snapshot worker; startup)

/**
 * One snapshot file being written: bytes go to tmp.snapshot.<hex zxid> with a running
 * Adler32; finish() adds seal, digest and seal and fsyncs; commit() renames it to
 * snapshot.<hex zxid> and fsyncs the directory; abort() removes it. Synchronous: it runs
 * on the snapshot worker (or at startup, before serving).
 */
export class SnapshotFileWriter {
  readonly zxid: number;
  readonly tempPath: string;
  readonly finalPath: string;
  private fd: number;
  private checksum = 1;
  private sizeBytes = 0;
  private unsyncedBytes = 0;
  private readonly tail = Buffer.alloc(2 * SEAL_BYTES + EMPTY_DIGEST_BYTES);

  constructor(dir: string, zxid: number) {
    this.zxid = zxid;
    this.tempPath = path.join(dir, SNAPSHOT_TEMP_PREFIX + zxid.toString(16));
    this.finalPath = path.join(dir, snapshotFileName(zxid));
    this.fd = fs.openSync(this.tempPath, 'w');
  }

  get bytesWritten(): number {
    return this.sizeBytes;
  }

  /** Appends buf[start, end). */
  append(buf: Uint8Array, start: number, end: number): void {
    this.checksum = adler32(buf, start, end, this.checksum);
    let at = start;
    while (at < end) {
      const n = fs.writeSync(this.fd, buf, at, end - at, this.sizeBytes);
      at += n;
      this.sizeBytes += n;
      this.unsyncedBytes += n;
    }
    if (this.unsyncedBytes >= SYNC_EVERY_BYTES) {
      fs.fdatasyncSync(this.fd);
      this.unsyncedBytes = 0;
    }
  }

  /** Seal, empty digest, seal; then fsync and close. The file is complete but not yet named. */
  finish(): void {
    const t = this.tail;
    let at = writeSeal(t, 0, this.checksum);
    t.fill(0, at, at + EMPTY_DIGEST_BYTES); // zxid 0, digest 0
    t.writeInt32BE(DIGEST_VERSION, at + 8);
    at += EMPTY_DIGEST_BYTES;
    const beforeSeal = adler32(t, 0, at, this.checksum);
    at = writeSeal(t, at, beforeSeal);
    this.append(t, 0, at);
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    this.fd = -1;
  }

  /** Renames the finished file to its real name and fsyncs the directory. */
  commit(): void {
    if (this.fd !== -1) throw new Error('snapshot commit before finish');
    fs.renameSync(this.tempPath, this.finalPath);
    fsyncDirectory(path.dirname(this.finalPath));
  }

  /** Drops the file (an error, a log failure, shutdown). Never throws. */
  abort(): void {
    try {
      if (this.fd !== -1) fs.closeSync(this.fd);
    } catch {
      // the original failure is the one that matters
    }
    this.fd = -1;
    fs.rmSync(this.tempPath, { force: true });
  }
}

/**
 * Writes a whole snapshot of tree + sessions synchronously (startup: an empty or
 * snapshot-less dataDir, as ZooKeeper's snapshot.0). Returns the file's path.
 */
export function writeSnapshotNow(dir: string, tree: DataTree, sessions: Iterable<[bigint, number]>): { path: string; bytes: number; nodes: number } {
  const serializer = new SnapshotSerializer(tree, sessions, tree.lastZxid);
  const writer = new SnapshotFileWriter(dir, tree.lastZxid);
  try {
    const buf = Buffer.allocUnsafe(WRITE_BUFFER_BYTES);
    while (!serializer.done) {
      const end = serializer.fill(buf, 0, buf.length, Number.MAX_SAFE_INTEGER);
      if (end === 0) throw new Error('snapshot record larger than the write buffer');
      writer.append(buf, 0, end);
    }
    writer.finish();
    writer.commit();
  } catch (err) {
    writer.abort();
    throw err;
  }
  return { path: writer.finalPath, bytes: writer.bytesWritten, nodes: serializer.nodesWritten };
}

// ---------------------------------------------------------------------------------------
// Reading files

/** Receives what a snapshot holds, in file order. */
export interface SnapshotSink {
  session(id: bigint, timeoutMs: number): void;
  acl(ref: number, acls: Acl[]): void;
  /** path '/' for the root (stored as ""). The node's children are not set. */
  node(path: string, node: ZNode): void;
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
  /** Verify the seals with an Adler32 computed on another thread while parsing (startup). */
  parallelChecksum?: boolean;
};

// The checksum thread's shared words (engine/persistence/checksum-worker.ts).
export const CHECKPOINT_BYTES = 1 << 20;
export const CHECKSUM_PUBLISHED = 0;
export const CHECKSUM_DONE = 1;
export const CHECKSUM_FIRST = 2;

/**
 * Adler32 of a file's prefixes, computed by a worker thread in checkpoints while the
 * caller parses; the caller finishes the last partial stretch. Falls back to computing
 * everything itself if the thread fails.
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
    this.worker = new Worker(new URL('./checksum-worker.ts', import.meta.url), { workerData: { file, sab: this.words.buffer } });
    this.worker.unref();
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

/** Byte source over a file with a running Adler32 of what was consumed. */
class SnapshotInput {
  buf: Buffer;
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
      this.end = this.whole.length;
      this.fd = -1;
      this.fileBytes = this.whole.length;
    } else {
      this.whole = null;
      this.fd = fs.openSync(file, 'r');
      this.fileBytes = fs.fstatSync(this.fd).size;
      this.buf = Buffer.allocUnsafe(READ_CHUNK_BYTES);
      if (parallelChecksum) this.parallel = new ParallelChecksum(file, this.fileBytes);
    }
  }

  get fileOffset(): number {
    return this.filePos - (this.end - this.pos);
  }

  get sizeBytes(): number {
    return this.fileBytes;
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
    const v = input.buf.readInt32BE(input.pos);
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
    for (;;) {
      const p = str('a node path');
      if (p.length === 1 && p === '/') break;
      const dataLength = int('node data');
      if (dataLength < -1 || dataLength > recordBytesMax) fail(`node ${p}: data length ${dataLength}`);
      need(Math.max(0, dataLength) + 8 + STAT_PERSISTED_BYTES, `node ${p}`);
      const b = input.buf;
      let at = input.pos;
      const data = dataLength === -1 ? NULL_DATA : dataLength === 0 ? EMPTY_DATA : Buffer.from(b.subarray(at, at + dataLength));
      at += Math.max(0, dataLength);
      const aclRef = readLongNumber(b, at);
      const czxid = readLongNumber(b, at + 8);
      const node = new ZNode(data, aclRef, 0n, czxid, readLongNumber(b, at + 24));
      node.mzxid = readLongNumber(b, at + 16);
      node.mtime = readLongNumber(b, at + 32);
      node.version = b.readInt32BE(at + 40);
      node.cversion = b.readInt32BE(at + 44);
      node.aversion = b.readInt32BE(at + 48);
      if (b.readInt32BE(at + 52) !== 0 || b.readInt32BE(at + 56) !== 0) node.ephemeralOwner = b.readBigInt64BE(at + 52);
      node.pzxid = readLongNumber(b, at + 60);
      input.pos = at + 68;
      sink.node(p === '' ? '/' : p, node);
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
export class TreeLoader implements SnapshotSink {
  readonly sessions: [bigint, number][] = [];
  private readonly tree: DataTree;
  private readonly warn: (msg: string) => void;
  private noAccessRef = 0;

  constructor(tree: DataTree, warn: (msg: string) => void) {
    this.tree = tree;
    this.warn = warn;
    tree.clearForRestore();
  }

  session(id: bigint, timeoutMs: number): void {
    this.sessions.push([id, timeoutMs]);
  }

  acl(ref: number, acls: Acl[]): void {
    this.tree.acls.load(ref, acls);
  }

  node(p: string, node: ZNode): void {
    if (!this.tree.acls.addUsage(node.aclRef)) {
      this.warn(`snapshot: node ${p} refers to ACL ${node.aclRef}, which is not in the snapshot's ACL cache; it gets an ACL that grants nothing`);
      if (this.noAccessRef === 0) this.noAccessRef = this.tree.acls.intern([{ perms: 0, id: { scheme: 'world', id: 'anyone' } }]);
      else this.tree.acls.addUsage(this.noAccessRef);
      node.aclRef = this.noAccessRef;
    }
    this.tree.restoreNode(p, node);
  }

  finish(zxid: number): void {
    this.tree.finishRestore();
    this.tree.lastZxid = zxid;
  }
}
