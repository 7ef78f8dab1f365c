// Serializing a DataTree into ZooKeeper 3.8 snapshot bytes (snapshot-format.ts has the
// layout), in bounded slices on the pipeline worker. Pure: bytes into a caller's buffer.
//
// Fuzzy snapshots (serialized while the tree keeps changing) are named after the tree's
// lastZxid when they start; restore replays the log from there (txns are idempotent).
// SnapshotSerializer makes that safe for zooid's tree (see its comment).

import type { Acl } from '../protocol.ts';
import { AclCache, ZNode, type DataTree } from '../core/tree.ts';
import type { IndexWalk } from '../core/path-index.ts';
import { SNAP_HEADER_BYTES, STAT_PERSISTED_BYTES, encodeSnapshotHeader, writeLongNumber } from './snapshot-format.ts';

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
 *   - Nodes are written in the tree index's insertion order. A node's parent was inserted
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
  private readonly walk: IndexWalk;

  constructor(tree: DataTree, sessions: Iterable<[bigint, number]>, zxid: number) {
    this.tree = tree;
    this.zxid = zxid;
    this.sessions = [...sessions];
    this.acls = tree.acls.entries();
    this.aclRefMax = tree.acls.lastRef();
    this.walk = tree.walkNodes();
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
            // a node that waited for room and was deleted meanwhile is passed by the walk; a re-created one comes again
            const i = this.walk.peek();
            if (i === -1) break;
            const node = new ZNode(this.tree.store, i);
            if (node.czxid > this.zxid) {
              // created after the start: its create txn is replayed
              this.walk.advance(i);
              this.nodesSkipped++;
              continue;
            }
            const dataLength = node.dataLength;
            // the root's path is written as ""
            const paths = this.tree.index;
            const pathBytes = i === paths.root ? 0 : paths.pathBytes(i);
            if (end - at < 4 + pathBytes + 4 + dataLength + 8 + STAT_PERSISTED_BYTES) return at;
            this.walk.advance(i);
            buf.writeInt32BE(pathBytes, at);
            if (pathBytes > 0) paths.writePath(i, buf, at + 4);
            at += 4 + pathBytes;
            if (node.dataIsNull) {
              buf.writeInt32BE(-1, at);
              at += 4;
            } else {
              buf.writeInt32BE(dataLength, at);
              at += 4 + node.copyDataTo(buf, at + 4);
            }
            writeLongNumber(buf, at, this.aclRefFor(node.aclRef));
            writeLongNumber(buf, at + 8, node.czxid);
            writeLongNumber(buf, at + 16, node.mzxid);
            writeLongNumber(buf, at + 24, node.ctime);
            writeLongNumber(buf, at + 32, node.mtime);
            buf.writeInt32BE(node.version, at + 40);
            buf.writeInt32BE(node.cversion, at + 44);
            buf.writeInt32BE(node.aversion, at + 48);
            const owner = node.ephemeralOwner;
            if (owner === 0n) {
              buf.writeInt32BE(0, at + 52);
              buf.writeInt32BE(0, at + 56);
            } else buf.writeBigInt64BE(owner, at + 52);
            writeLongNumber(buf, at + 60, node.pzxid);
            at += 68;
            nodes++;
            this.nodesWritten++;
          }
          this.walk.close();
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

  /** Lets go of the tree's walk (a snapshot dropped before done; done closes it itself). */
  close(): void {
    this.walk.close();
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
