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

/** One snapshot record's fields, reusable from record to record. */
export class NodeRecord implements NodeFields {
  data: Buffer = NULL_DATA;
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

  get dataLength(): number {
    return this.data === NULL_DATA ? 0 : this.data.length;
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

/**
 * The znodes of one tree by number. Numbers of deleted nodes are reused (the tree decides
 * when: not within the txn that deleted them, whose undo may put them back).
 */
export class NodeStore {
  capacity = 0;
  czxid: Float64Array = new Float64Array(0);
  mzxid: Float64Array = new Float64Array(0);
  pzxid: Float64Array = new Float64Array(0);
  ctime: Float64Array = new Float64Array(0);
  mtime: Float64Array = new Float64Array(0);
  aclRef: Float64Array = new Float64Array(0);
  version: Int32Array = new Int32Array(0);
  cversion: Int32Array = new Int32Array(0);
  aversion: Int32Array = new Int32Array(0);
  firstChild: Int32Array = new Int32Array(0);
  lastChild: Int32Array = new Int32Array(0);
  nextSibling: Int32Array = new Int32Array(0);
  prevSibling: Int32Array = new Int32Array(0);
  childCount: Int32Array = new Int32Array(0);
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

  /** A number for a new node, its fields set from f (no children, not linked anywhere). */
  add(path: string, f: NodeFields, type: number): number {
    const i = this.free.length > 0 ? this.free.pop()! : this.used++;
    if (i >= this.capacity) this.grow(this.capacity * 2);
    if (i === this.path.length) {
      this.path.push(path);
      this.data.push(null);
    } else this.path[i] = path;
    this.assign(i, f, type);
    this.firstChild[i] = NONE;
    this.lastChild[i] = NONE;
    this.nextSibling[i] = NONE;
    this.prevSibling[i] = NONE;
    this.childCount[i] = 0;
    this.live[i] = 1;
    this.count++;
    return i;
  }

  /** Sets node i's persisted fields from f (a snapshot repeating a path replaces them). */
  assign(i: number, f: NodeFields, type: number): void {
    this.data[i] = dataBytesOf(f.data);
    this.aclRef[i] = f.aclRef;
    this.czxid[i] = f.czxid;
    this.mzxid[i] = f.mzxid;
    this.pzxid[i] = f.pzxid;
    this.ctime[i] = f.ctime;
    this.mtime[i] = f.mtime;
    this.version[i] = f.version;
    this.cversion[i] = f.cversion;
    this.aversion[i] = f.aversion;
    this.owner[i] = f.ephemeralOwner;
    this.ephemeralType[i] = type;
  }

  /** Node i is gone for good: its number may be reused, its strings are let go. */
  release(i: number): void {
    if (this.live[i] !== 0) throw new Error(`node store: releasing live node ${i}`);
    this.data[i] = null;
    this.path[i] = '';
    this.ephemeralSeq.delete(i);
    this.free.push(i);
  }

  /** Marks node i deleted (its fields stay readable until release). */
  kill(i: number): void {
    this.live[i] = 0;
    this.count--;
  }

  revive(i: number): void {
    this.live[i] = 1;
    this.count++;
  }

  /** Appends child c to parent p's children. */
  linkChild(p: number, c: number): void {
    const last = this.lastChild[p];
    this.prevSibling[c] = last;
    this.nextSibling[c] = NONE;
    if (last === NONE) this.firstChild[p] = c;
    else this.nextSibling[last] = c;
    this.lastChild[p] = c;
    this.childCount[p]++;
  }

  /** Takes child c out of parent p's children. */
  unlinkChild(p: number, c: number): void {
    const prev = this.prevSibling[c];
    const next = this.nextSibling[c];
    if (prev === NONE) this.firstChild[p] = next;
    else this.nextSibling[prev] = next;
    if (next === NONE) this.lastChild[p] = prev;
    else this.prevSibling[next] = prev;
    this.prevSibling[c] = NONE;
    this.nextSibling[c] = NONE;
    this.childCount[p]--;
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
    const f64 = (a: Float64Array): Float64Array => {
      const b = new Float64Array(capacity);
      if (!fresh) b.set(a);
      return b;
    };
    const i32 = (a: Int32Array): Int32Array => {
      const b = new Int32Array(capacity);
      if (!fresh) b.set(a);
      return b;
    };
    const u8 = (a: Uint8Array): Uint8Array => {
      const b = new Uint8Array(capacity);
      if (!fresh) b.set(a);
      return b;
    };
    this.czxid = f64(this.czxid);
    this.mzxid = f64(this.mzxid);
    this.pzxid = f64(this.pzxid);
    this.ctime = f64(this.ctime);
    this.mtime = f64(this.mtime);
    this.aclRef = f64(this.aclRef);
    this.version = i32(this.version);
    this.cversion = i32(this.cversion);
    this.aversion = i32(this.aversion);
    this.firstChild = i32(this.firstChild);
    this.lastChild = i32(this.lastChild);
    this.nextSibling = i32(this.nextSibling);
    this.prevSibling = i32(this.prevSibling);
    this.childCount = i32(this.childCount);
    this.ephemeralType = u8(this.ephemeralType);
    this.live = u8(this.live);
    const owner = new BigInt64Array(capacity);
    if (!fresh) owner.set(this.owner);
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

  get aclRef(): number { return this.store.aclRef[this.index]; }
  set aclRef(v: number) { this.store.aclRef[this.index] = v; }
  get czxid(): number { return this.store.czxid[this.index]; }
  set czxid(v: number) { this.store.czxid[this.index] = v; }
  get mzxid(): number { return this.store.mzxid[this.index]; }
  set mzxid(v: number) { this.store.mzxid[this.index] = v; }
  get pzxid(): number { return this.store.pzxid[this.index]; }
  set pzxid(v: number) { this.store.pzxid[this.index] = v; }
  get ctime(): number { return this.store.ctime[this.index]; }
  set ctime(v: number) { this.store.ctime[this.index] = v; }
  get mtime(): number { return this.store.mtime[this.index]; }
  set mtime(v: number) { this.store.mtime[this.index] = v; }
  get version(): number { return this.store.version[this.index]; }
  set version(v: number) { this.store.version[this.index] = v; }
  get cversion(): number { return this.store.cversion[this.index]; }
  set cversion(v: number) { this.store.cversion[this.index] = v; }
  get aversion(): number { return this.store.aversion[this.index]; }
  set aversion(v: number) { this.store.aversion[this.index] = v; }

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
    return this.store.childCount[this.index];
  }

  /** The children's names, in the order they joined (getChildren's order); a new array. */
  childNames(): string[] {
    const s = this.store;
    const names: string[] = [];
    for (let c = s.firstChild[this.index]; c !== NONE; c = s.nextSibling[c]) {
      const p = s.path[c];
      names.push(p.slice(p.lastIndexOf('/') + 1));
    }
    return names;
  }

  statInto(st: Stat): Stat {
    const s = this.store;
    const i = this.index;
    const numChildren = s.childCount[i];
    st.czxid = s.czxid[i];
    st.mzxid = s.mzxid[i];
    st.ctime = s.ctime[i];
    st.mtime = s.mtime[i];
    st.version = s.version[i];
    // the stored cversion counts creates; clients see changes (DataNode.copyStat's v3
    // semantics): every create has a delete except for the children still present
    st.cversion = s.cversion[i] * 2 - numChildren;
    st.aversion = s.aversion[i];
    // only a session's node shows its owner; containers and TTL nodes show 0 (DataNode.getClientEphemeralOwner)
    st.ephemeralOwner = s.ephemeralType[i] === EphemeralType.normal ? s.owner[i] : 0n;
    st.dataLength = this.dataLength;
    st.numChildren = numChildren;
    st.pzxid = s.pzxid[i];
    return st;
  }
}
