// The tree's znodes, stored by number in typed arrays (issue 13: a ZNode object with its
// own fields, Set of children and boxed doubles cost ~400 B of heap per znode), and ZNode,
// a view of one of them with the fields the pipeline, handlers, snapshots and learners read.
//
// Per znode: 6 doubles (zxids, times, ACL reference), 8 int32s (versions, child links and
// count), 2 bytes (type, live), the owner as an int64, and two array slots: the data as a V8
// one-byte string and the path (the same string the tree's index keys). Children are a
// doubly linked list through the child numbers, in the order they joined: getChildren's
// and the snapshot's order, as the Set it replaces kept it.
import { type Stat, NULL_DATA } from '../protocol.ts';
import type { JuteWriter } from '../../native-free-io/jute.ts';

/** What a node's ephemeralOwner makes it, as ZooKeeper's EphemeralType. */
export const EphemeralType = { void: 0, normal: 1, container: 2, ttl: 3 } as const;

const EMPTY_DATA = Buffer.alloc(0);
const NONE = -1;
const CAPACITY_INITIAL = 64;

/**
 * A node's data as the store keeps it: one byte per character in a V8 one-byte string
 * (latin1 maps bytes 0..255 to U+0000..U+00FF and back exactly), null for null data. A
 * string lives in the V8 heap, 16 bytes of header, moved and compacted by the collector; a
 * Buffer costs a typed-array object (~90 bytes) plus its bytes in an 8 KiB pool slab that
 * any one live slice keeps whole.
 */
type DataBytes = string | null;

export function dataBytesOf(data: Buffer): DataBytes {
  if (data === NULL_DATA) return null;
  return data.length === 0 ? '' : data.toString('latin1');
}

/** A node's persisted fields, as a snapshot record carries them (restore's input). */
export interface NodeFields {
  readonly data: Buffer;
  /** The data as the store keeps it (dataBytesOf(data), without the Buffer where the source has none). */
  dataBytes(): DataBytes;
  aclRef: number;
  czxid: number;
  mzxid: number;
  ctime: number;
  mtime: number;
  version: number;
  cversion: number;
  aversion: number;
  ephemeralOwner: bigint;
  pzxid: number;
}

/**
 * One snapshot record's fields, reusable from record to record. The data is bytes
 * [dataStart, dataStart + dataLength) of dataSource, or null data for dataLength -1.
 */
export class NodeRecord implements NodeFields {
  dataSource: Buffer = EMPTY_DATA;
  dataStart = 0;
  /** -1: null data. */
  dataLengthOrNull = -1;
  aclRef = 0;
  czxid = 0;
  mzxid = 0;
  ctime = 0;
  mtime = 0;
  version = 0;
  cversion = 0;
  aversion = 0;
  ephemeralOwner = 0n;
  pzxid = 0;

  /** The data: NULL_DATA, or a view of the source's bytes (valid while they are). */
  get data(): Buffer {
    if (this.dataLengthOrNull === -1) return NULL_DATA;
    return this.dataSource.subarray(this.dataStart, this.dataStart + this.dataLengthOrNull);
  }

  set data(data: Buffer) {
    this.dataSource = data;
    this.dataStart = 0;
    this.dataLengthOrNull = data === NULL_DATA ? -1 : data.length;
  }

  get dataLength(): number {
    return Math.max(this.dataLengthOrNull, 0);
  }

  dataBytes(): DataBytes {
    const n = this.dataLengthOrNull;
    if (n === -1) return null;
    return n === 0 ? '' : this.dataSource.toString('latin1', this.dataStart, this.dataStart + n);
  }

  static of(data: Buffer, aclRef: number, owner: bigint, zxid: number, timeMs: number): NodeRecord {
    const r = new NodeRecord();
    r.data = data;
    r.aclRef = aclRef;
    r.ephemeralOwner = owner;
    r.czxid = r.mzxid = r.pzxid = zxid;
    r.ctime = r.mtime = timeMs;
    return r;
  }
}

/** The double fields of a node, at f64[i * F64_STRIDE + field]: zxids, times and the ACL reference. */
export const F = { czxid: 0, mzxid: 1, pzxid: 2, ctime: 3, mtime: 4, aclRef: 5 } as const;
const F64_STRIDE = 6;
/** The int32 fields, at i32[i * I32_STRIDE + field]: versions, then the links of the children list. */
export const I = { version: 0, cversion: 1, aversion: 2, firstChild: 3, lastChild: 4, nextSibling: 5, prevSibling: 6, childCount: 7 } as const;
const I32_STRIDE = 8;
/** live[i]: the node is in the tree; dead: deleted, its number not yet reusable; free: reusable. */
const DEAD = 0;
const LIVE = 1;
const FREE = 2;

/**
 * The znodes of one tree by number. A node's doubles share a cache line or two, as do its
 * int32s (a setData touches one of each). Numbers of deleted nodes are reused (the tree
 * decides when: not within the txn that deleted them, whose undo may put them back).
 */
export class NodeStore {
  capacity = 0;
  f64: Float64Array = new Float64Array(0);
  i32: Int32Array = new Int32Array(0);
  ephemeralType: Uint8Array = new Uint8Array(0);
  live: Uint8Array = new Uint8Array(0);
  owner: BigInt64Array = new BigInt64Array(0);
  readonly data: DataBytes[] = [];
  readonly path: string[] = [];
  /** When a session's node joined the session's ephemerals, in the tree's count; only for such nodes. */
  readonly ephemeralSeq = new Map<number, number>();
  /** Numbers free for reuse, and the count of numbers ever handed out. */
  private readonly free: number[] = [];
  private used = 0;

  /** Live nodes. */
  count = 0;

  constructor() {
    this.grow(CAPACITY_INITIAL);
  }

  f(i: number, field: number): number {
    return this.f64[i * F64_STRIDE + field];
  }

  setF(i: number, field: number, v: number): void {
    this.f64[i * F64_STRIDE + field] = v;
  }

  n(i: number, field: number): number {
    return this.i32[i * I32_STRIDE + field];
  }

  setN(i: number, field: number, v: number): void {
    this.i32[i * I32_STRIDE + field] = v;
  }

  isLive(i: number): boolean {
    return this.live[i] === LIVE;
  }

  /** A number for a new node, its fields set from f (no children, not linked anywhere). */
  add(path: string, f: NodeFields, type: number): number {
    const i = this.free.length > 0 ? this.free.pop()! : this.used++;
    if (i >= this.capacity) this.grow(this.capacity * 2);
    if (i === this.path.length) {
      this.path.push(path);
      this.data.push(null);
    } else this.path[i] = path;
    this.assign(i, f, type);
    const at = i * I32_STRIDE;
    this.i32[at + I.firstChild] = NONE;
    this.i32[at + I.lastChild] = NONE;
    this.i32[at + I.nextSibling] = NONE;
    this.i32[at + I.prevSibling] = NONE;
    this.i32[at + I.childCount] = 0;
    this.live[i] = LIVE;
    this.count++;
    return i;
  }

  /** Sets node i's persisted fields from f (a snapshot repeating a path replaces them). */
  assign(i: number, f: NodeFields, type: number): void {
    this.data[i] = f.dataBytes();
    const d = i * F64_STRIDE;
    this.f64[d + F.czxid] = f.czxid;
    this.f64[d + F.mzxid] = f.mzxid;
    this.f64[d + F.pzxid] = f.pzxid;
    this.f64[d + F.ctime] = f.ctime;
    this.f64[d + F.mtime] = f.mtime;
    this.f64[d + F.aclRef] = f.aclRef;
    const n = i * I32_STRIDE;
    this.i32[n + I.version] = f.version;
    this.i32[n + I.cversion] = f.cversion;
    this.i32[n + I.aversion] = f.aversion;
    this.owner[i] = f.ephemeralOwner;
    this.ephemeralType[i] = type;
  }

  /** Marks node i deleted (its fields stay readable until release). */
  kill(i: number): void {
    if (this.live[i] !== LIVE) throw new Error(`node store: deleting node ${i}, which is not live`);
    this.live[i] = DEAD;
    this.count--;
  }

  /** Puts deleted node i back (an undo within the txn that deleted it). */
  revive(i: number): void {
    if (this.live[i] !== DEAD) throw new Error(`node store: reviving node ${i}, which is not deleted`);
    this.live[i] = LIVE;
    this.count++;
  }

  /** Node i, if still deleted, is gone for good: its number may be reused, its strings are let go. */
  release(i: number): void {
    if (this.live[i] !== DEAD) return;
    this.live[i] = FREE;
    this.data[i] = null;
    this.path[i] = '';
    this.ephemeralSeq.delete(i);
    this.free.push(i);
  }

  /** Appends child c to parent p's children. */
  linkChild(p: number, c: number): void {
    const i32 = this.i32;
    const pa = p * I32_STRIDE;
    const ca = c * I32_STRIDE;
    const last = i32[pa + I.lastChild];
    i32[ca + I.prevSibling] = last;
    i32[ca + I.nextSibling] = NONE;
    if (last === NONE) i32[pa + I.firstChild] = c;
    else i32[last * I32_STRIDE + I.nextSibling] = c;
    i32[pa + I.lastChild] = c;
    i32[pa + I.childCount]++;
  }

  /** Takes child c out of parent p's children. */
  unlinkChild(p: number, c: number): void {
    const i32 = this.i32;
    const pa = p * I32_STRIDE;
    const ca = c * I32_STRIDE;
    const prev = i32[ca + I.prevSibling];
    const next = i32[ca + I.nextSibling];
    if (prev === NONE) i32[pa + I.firstChild] = next;
    else i32[prev * I32_STRIDE + I.nextSibling] = next;
    if (next === NONE) i32[pa + I.lastChild] = prev;
    else i32[next * I32_STRIDE + I.prevSibling] = prev;
    i32[ca + I.prevSibling] = NONE;
    i32[ca + I.nextSibling] = NONE;
    i32[pa + I.childCount]--;
  }

  /** The first child of p, then each next sibling; NONE after the last. */
  firstChild(p: number): number {
    return this.i32[p * I32_STRIDE + I.firstChild];
  }

  nextSibling(c: number): number {
    return this.i32[c * I32_STRIDE + I.nextSibling];
  }

  childCount(p: number): number {
    return this.i32[p * I32_STRIDE + I.childCount];
  }

  /** Empties the store (snapshot load). */
  clear(): void {
    this.data.length = 0;
    this.path.length = 0;
    this.free.length = 0;
    this.ephemeralSeq.clear();
    this.used = 0;
    this.count = 0;
    this.grow(CAPACITY_INITIAL, true);
  }

  private grow(capacity: number, fresh = false): void {
    const f64 = new Float64Array(capacity * F64_STRIDE);
    const i32 = new Int32Array(capacity * I32_STRIDE);
    const type = new Uint8Array(capacity);
    const live = new Uint8Array(capacity);
    const owner = new BigInt64Array(capacity);
    if (!fresh) {
      f64.set(this.f64);
      i32.set(this.i32);
      type.set(this.ephemeralType);
      live.set(this.live);
      owner.set(this.owner);
    }
    this.f64 = f64;
    this.i32 = i32;
    this.ephemeralType = type;
    this.live = live;
    this.owner = owner;
    this.capacity = capacity;
  }
}

/**
 * One znode of a tree: a view of its number in the tree's NodeStore. Reads and writes go to
 * the store, so every view of a node sees the same fields. A view of a deleted node stays
 * readable until the tree reuses its number (after the txn that deleted it).
 */
export class ZNode implements NodeFields {
  readonly store: NodeStore;
  readonly index: number;

  constructor(store: NodeStore, index: number) {
    this.store = store;
    this.index = index;
  }

  get aclRef(): number { return this.store.f(this.index, F.aclRef); }
  set aclRef(v: number) { this.store.setF(this.index, F.aclRef, v); }
  get czxid(): number { return this.store.f(this.index, F.czxid); }
  set czxid(v: number) { this.store.setF(this.index, F.czxid, v); }
  get mzxid(): number { return this.store.f(this.index, F.mzxid); }
  set mzxid(v: number) { this.store.setF(this.index, F.mzxid, v); }
  get pzxid(): number { return this.store.f(this.index, F.pzxid); }
  set pzxid(v: number) { this.store.setF(this.index, F.pzxid, v); }
  get ctime(): number { return this.store.f(this.index, F.ctime); }
  set ctime(v: number) { this.store.setF(this.index, F.ctime, v); }
  get mtime(): number { return this.store.f(this.index, F.mtime); }
  set mtime(v: number) { this.store.setF(this.index, F.mtime, v); }
  get version(): number { return this.store.n(this.index, I.version); }
  set version(v: number) { this.store.setN(this.index, I.version, v); }
  get cversion(): number { return this.store.n(this.index, I.cversion); }
  set cversion(v: number) { this.store.setN(this.index, I.cversion, v); }
  get aversion(): number { return this.store.n(this.index, I.aversion); }
  set aversion(v: number) { this.store.setN(this.index, I.aversion, v); }

  get ephemeralOwner(): bigint {
    // only an owner of 0 makes a node EphemeralType.void; no BigInt made for those
    return this.store.ephemeralType[this.index] === EphemeralType.void ? 0n : this.store.owner[this.index];
  }

  /** EphemeralType of the owner, as the tree filed the node (it knows whether extended types are on). */
  get ephemeralType(): number {
    return this.store.ephemeralType[this.index];
  }

  /** When a session's node joined the session's ephemerals, in the tree's count (their order in the set); 0 otherwise. */
  get ephemeralSeq(): number {
    return this.store.ephemeralSeq.get(this.index) ?? 0;
  }

  /** The data as a Buffer: NULL_DATA for null, a new copy otherwise (hot paths use dataLength and writeData). */
  get data(): Buffer {
    const b = this.store.data[this.index];
    if (b === null) return NULL_DATA;
    return b.length === 0 ? EMPTY_DATA : Buffer.from(b, 'latin1');
  }

  set data(data: Buffer) {
    this.store.data[this.index] = dataBytesOf(data);
  }

  dataBytes(): DataBytes {
    return this.store.data[this.index];
  }

  /** Bytes of data (0 for null data). */
  get dataLength(): number {
    const b = this.store.data[this.index];
    return b === null ? 0 : b.length;
  }

  /** Whether the data is null (jute length -1), as apart from empty. */
  get dataIsNull(): boolean {
    return this.store.data[this.index] === null;
  }

  /** Writes the data as jute writes a buffer (length, then the bytes; -1 for null). */
  writeData(w: JuteWriter): void {
    w.latin1Buffer(this.store.data[this.index]);
  }

  /** Copies the data's bytes into buf at `at` (nothing for null data); returns how many. */
  copyDataTo(buf: Buffer, at: number): number {
    const b = this.store.data[this.index];
    return b === null || b.length === 0 ? 0 : buf.write(b, at, b.length, 'latin1');
  }

  numChildren(): number {
    return this.store.childCount(this.index);
  }

  /** The children's names, in the order they joined (getChildren's order); a new array. */
  childNames(): string[] {
    const s = this.store;
    const names: string[] = [];
    for (let c = s.firstChild(this.index); c !== NONE; c = s.nextSibling(c)) {
      const p = s.path[c];
      names.push(p.slice(p.lastIndexOf('/') + 1));
    }
    return names;
  }

  statInto(st: Stat): Stat {
    const s = this.store;
    const i = this.index;
    const numChildren = s.childCount(i);
    st.czxid = s.f(i, F.czxid);
    st.mzxid = s.f(i, F.mzxid);
    st.ctime = s.f(i, F.ctime);
    st.mtime = s.f(i, F.mtime);
    st.version = s.n(i, I.version);
    // the stored cversion counts creates; clients see changes (DataNode.copyStat's v3
    // semantics): every create has a delete except for the children still present
    st.cversion = s.n(i, I.cversion) * 2 - numChildren;
    st.aversion = s.n(i, I.aversion);
    // only a session's node shows its owner; containers and TTL nodes show 0 (DataNode.getClientEphemeralOwner)
    st.ephemeralOwner = s.ephemeralType[i] === EphemeralType.normal ? s.owner[i] : 0n;
    st.dataLength = this.dataLength;
    st.numChildren = numChildren;
    st.pzxid = s.f(i, F.pzxid);
    return st;
  }
}
