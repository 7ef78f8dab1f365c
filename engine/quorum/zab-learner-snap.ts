// The snapshot a leader streams after a SNAP packet, on the quorum socket itself, decoded as
// it arrives. LearnerHandler writes `ZKDatabase.serializeSnapshot(oa)` and then the string
// "BenWasHere"; Learner.syncWithLeader reads `deserializeSnapshot(leaderIs)` and checks that
// string. The stream is a snapshot file's body without the file's framing:
//
//   stream   = sessions aclCache nodes "/" signature
//   sessions = int count, count × {long id, int timeoutMs}
//   aclCache = int count, count × {long ref, int n, n × ACL {int perms, string scheme, string id}}
//   nodes    = {string path, buffer data, long aclRef, StatPersisted (60 bytes)}* then the string "/"
//   signature = the string "BenWasHere"
//
// No file header, no Adler32 seals and no digest (those are FileSnap's, not the stream's):
// see engine/persistence/snapshot.ts for the file. Pure: bytes in, SnapshotSink calls out.
// Each item (a session, an ACL cache entry, a node) is decoded only once all of its bytes
// are there, so a caller keeps the unconsumed tail and passes it again with more bytes.

import { type Acl, NULL_DATA } from '../protocol.ts';
import { NodeRecord } from '../core/tree.ts';
import type { SnapshotSink } from '../persistence/snapshot.ts';
import { WireError } from './wire.ts';

/** What Learner.syncWithLeader expects after the tree (LearnerHandler writes it). */
export const SNAP_SIGNATURE = 'BenWasHere';

const STAT_PERSISTED_BYTES = 60;
/** A session in the stream: long id, int timeout. */
const SESSION_BYTES = 12;
/** An ACL takes at least an int and two string lengths. */
const ACL_BYTES_MIN = 12;

type Stage = 'sessionCount' | 'sessions' | 'aclCount' | 'acls' | 'nodes' | 'signature' | 'done';

export class SnapStreamDecoder {
  sessionCount = 0;
  aclCount = 0;
  nodeCount = 0;
  private stage: Stage = 'sessionCount';
  private left = 0;
  private readonly sink: SnapshotSink;
  /** The longest path, data or ACL list accepted (jute.maxbuffer + extra, as BinaryInputArchive). */
  private readonly recordBytesMax: number;

  constructor(sink: SnapshotSink, recordBytesMax: number) {
    assert(recordBytesMax > 0, `recordBytesMax ${recordBytesMax}`);
    this.sink = sink;
    this.recordBytesMax = recordBytesMax;
  }

  /** The signature came: the stream is over. */
  get done(): boolean {
    return this.stage === 'done';
  }

  /** Decodes whole items from buf[offset, end); returns the bytes consumed. Throws WireError on what can never be valid. */
  feed(buf: Buffer, offset: number, end: number = buf.length): number {
    let at = offset;
    for (;;) {
      const used = this.step(buf, at, end);
      if (used === 0) break;
      at += used;
      if (this.stage === 'done') break;
    }
    return at - offset;
  }

  /** One item at buf[at…]; 0 when it has not all arrived. */
  private step(buf: Buffer, at: number, end: number): number {
    const avail = end - at;
    switch (this.stage) {
      case 'sessionCount':
      case 'aclCount': {
        if (avail < 4) return 0;
        const n = buf.readInt32BE(at);
        if (n < 0) throw new WireError(`snapshot stream: ${this.stage} ${n}`);
        this.left = n;
        this.stage = this.stage === 'sessionCount' ? 'sessions' : 'acls';
        if (this.stage === 'sessions') this.sessionCount = n;
        else this.aclCount = n;
        this.skipEmpty();
        return 4;
      }
      case 'sessions':
        if (avail < SESSION_BYTES) return 0;
        this.sink.session(buf.readBigInt64BE(at), buf.readInt32BE(at + 8));
        this.left--;
        this.skipEmpty();
        return SESSION_BYTES;
      case 'acls':
        return this.aclEntry(buf, at, end);
      case 'nodes':
        return this.node(buf, at, end);
      case 'signature': {
        const s = this.string(buf, at, end, 'the signature');
        if (s === null) return 0;
        if (s.text !== SNAP_SIGNATURE) throw new WireError(`snapshot stream: missing signature, got '${s.text.slice(0, 40)}'`);
        this.stage = 'done';
        return s.byteCount;
      }
      case 'done':
        return 0;
    }
  }

  private skipEmpty(): void {
    if (this.left > 0) return;
    if (this.stage === 'sessions') this.stage = 'aclCount';
    else if (this.stage === 'acls') this.stage = 'nodes';
  }

  /** [long ref][int n] n × {int perms, string scheme, string id} */
  private aclEntry(buf: Buffer, at: number, end: number): number {
    if (end - at < 12) return 0;
    const ref = Number(buf.readBigInt64BE(at));
    const n = buf.readInt32BE(at + 8);
    if (n < 0 || n * ACL_BYTES_MIN > this.recordBytesMax) throw new WireError(`snapshot stream: ACL ${ref} has ${n} entries`);
    let p = at + 12;
    const acls: Acl[] = [];
    for (let i = 0; i < n; i++) {
      if (end - p < 4) return 0;
      const perms = buf.readInt32BE(p);
      const scheme = this.string(buf, p + 4, end, 'an ACL scheme');
      if (scheme === null) return 0;
      const id = this.string(buf, p + 4 + scheme.byteCount, end, 'an ACL id');
      if (id === null) return 0;
      acls.push({ perms, id: { scheme: scheme.text, id: id.text } });
      p += 4 + scheme.byteCount + id.byteCount;
    }
    this.sink.acl(ref, acls);
    this.left--;
    this.skipEmpty();
    return p - at;
  }

  /** [string path] then, unless the path is "/", [buffer data][long aclRef][StatPersisted]. */
  private node(buf: Buffer, at: number, end: number): number {
    const path = this.string(buf, at, end, 'a node path');
    if (path === null) return 0;
    if (path.text === '/') {
      this.stage = 'signature';
      return path.byteCount;
    }
    let p = at + path.byteCount;
    if (end - p < 4) return 0;
    const dataBytes = buf.readInt32BE(p);
    if (dataBytes < -1 || dataBytes > this.recordBytesMax) throw new WireError(`snapshot stream: node ${path.text} with data length ${dataBytes}`);
    p += 4;
    if (end - p < Math.max(dataBytes, 0) + 8 + STAT_PERSISTED_BYTES) return 0;
    const data = dataBytes === -1 ? NULL_DATA : Buffer.from(buf.subarray(p, p + dataBytes));
    p += Math.max(dataBytes, 0);
    this.sink.node(path.text === '' ? '/' : path.text, statPersistedNode(buf, p, data));
    this.nodeCount++;
    return p + 8 + STAT_PERSISTED_BYTES - at;
  }

  /** A jute string at buf[at…], or null until all of it is there. */
  private string(buf: Buffer, at: number, end: number, what: string): { text: string; byteCount: number } | null {
    if (end - at < 4) return null;
    const n = buf.readInt32BE(at);
    if (n < 0 || n > this.recordBytesMax) throw new WireError(`snapshot stream: ${what} of length ${n}`);
    if (end - at - 4 < n) return null;
    return { text: buf.toString('utf8', at + 4, at + 4 + n), byteCount: 4 + n };
  }
}

/** DataNode's [long acl][StatPersisted] at buf[at…] around data, as a record of its own. */
function statPersistedNode(buf: Buffer, at: number, data: Buffer): NodeRecord {
  const long = (k: number): number => Number(buf.readBigInt64BE(at + 8 + k));
  // StatPersisted: czxid 0, mzxid 8, ctime 16, mtime 24, version 32, cversion 36, aversion 40, ephemeralOwner 44, pzxid 52
  const node = NodeRecord.of(data, Number(buf.readBigInt64BE(at)), buf.readBigInt64BE(at + 8 + 44), long(0), long(16));
  node.mzxid = long(8);
  node.mtime = long(24);
  node.version = buf.readInt32BE(at + 8 + 32);
  node.cversion = buf.readInt32BE(at + 8 + 36);
  node.aversion = buf.readInt32BE(at + 8 + 40);
  node.pzxid = long(52);
  return node;
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`snapshot stream: ${message}`);
}
