// ZooKeeper 3.8 snapshot files: dataDir/version-2/snapshot.<hex zxid>. The layout, names
// and the small codecs both sides share; snapshot-serializer.ts encodes a tree,
// snapshot-writer.ts writes files, snapshot.ts lists and reads them.
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
/** '/': the string "/" ends the nodes and every seal. */
export const SLASH = 0x2f;

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

// The load helper thread's shared words (load-helper-worker.ts; here, not in snapshot.ts,
// so that the thread does not load the tree's modules for them).
export const CHECKPOINT_BYTES = 1 << 20;
export const CHECKSUM_PUBLISHED = 0;
export const CHECKSUM_DONE = 1;
export const CHECKSUM_FIRST = 2;

// ---------------------------------------------------------------------------------------
// Codecs

export function writeLongNumber(buf: Buffer, at: number, v: number): void {
  const hi = Math.floor(v / 0x1_0000_0000);
  buf.writeInt32BE(hi, at);
  buf.writeUInt32BE(v - hi * 0x1_0000_0000, at + 4);
}

export function readLongNumber(buf: Buffer, at: number): number {
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
