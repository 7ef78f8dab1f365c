// The tree's znodes, stored by number in pages of typed arrays (issue 13: a ZNode object with
// its own fields, a Set of children, boxed doubles and a string of data cost ~400 B of heap
// per znode), and ZNode, a view of one number with the fields the pipeline, handlers,
// snapshots and learners read.
//
// Per znode: one 60-byte record of 15 int32s — czxid and ctime (two int32s each), flags
// with the type, life state, owner reference and which side records the node has, the
// data's length and address, the ACL reference, the sibling links, and the path index's
// parent, hash, name and insertion-order links — plus the data in the arena (data-arena.ts:
// its length rounded up to a size class), the name in the path index's arena, and ~8 B of
// its table. A node that has or had children also holds a family record (first and last
// child, count, cversion, pzxid); a node changed since its create (setData, setACL) a
// revision record (mzxid, mtime, version, aversion): 24 B each and ~11 B of the map that
// finds them (side-records.ts). Most znodes are leaves written once and hold neither. Children are a doubly linked list through the child numbers, in
// the order they joined: getChildren's and the snapshot's order, as the Set it replaced
// kept it.
import { type Stat, NULL_DATA } from '../protocol.ts';
import type { JuteWriter } from '../../native-free-io/jute.ts';
import { DataArena, SLOT_BYTES_MAX } from './data-arena.ts';
import type { PathIndex } from './path-index.ts';
import { FRESH_PAGES, type PageSource } from './pages.ts';
import { SideRecords } from './side-records.ts';

/** What a node's ephemeralOwner makes it, as ZooKeeper's EphemeralType. */
export const EphemeralType = { void: 0, normal: 1, container: 2, ttl: 3 } as const;

const EMPTY_DATA = Buffer.alloc(0);
const NONE = -1;

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

/**
 * One snapshot record's fields, reusable from record to record. The data is bytes
 * [dataStart, dataStart + dataLengthOrNull) of dataSource, or null data for -1.
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
 * A node's record, int32s: czxid and ctime (each a long as the snapshot has it: the high
 * int32, then the low 32 bits), flags (the EphemeralType, the life state, whether the node
 * has a family and a revision record, and above them the owner: a reference into the
 * store's Owners), the data's length and arena address, the ACL reference, the sibling
 * links, and the path index's fields (path-index.ts: parent, path hash, name, insertion
 * order).
 */
export const I = {
  czxidHigh: 0, czxidLow: 1, ctimeHigh: 2, ctimeLow: 3,
  flags: 4,
  /** -1 for null data; a length up to SLOT_BYTES_MAX: the data is in the arena at dataAt; longer: in `large`. */
  dataLength: 5,
  /** The data's slot in the arena (its reference: data-arena.ts). */
  dataAt: 6,
  pathHash: 7, nameAt: 8, parent: 9,
  aclRef: 10,
  nextSibling: 11, prevSibling: 12, orderNext: 13, orderPrev: 14,
} as const;
/**
 * A node's record: 15 int32s, 60 bytes (a lookup reads the hash, name and parent; a
 * setData the flags, the data's length and address: bytes 16..39).
 */
const RECORD_INTS = 15;
const TWO_32 = 0x1_0000_0000;
/**
 * flags: the EphemeralType in bits 0-3, the life state in bits 4-5 (in the tree; deleted,
 * its number not yet reusable; free for reuse), bit 6: a family record (no children ever
 * without one: cversion 0, pzxid = czxid), bit 7: a revision record (unchanged since its
 * create without one: mzxid = czxid, mtime = ctime, version and aversion 0), the owner's
 * reference above.
 */
const TYPE_MASK = 0xf;
const LIVE = 1 << 4;
const DEAD = 2 << 4;
const FREE = 3 << 4;
const STATE_MASK = 0x30;
const HAS_FAMILY = 1 << 6;
const HAS_REVISION = 1 << 7;
const OWNER_SHIFT = 8;
/** Distinct owners at once (references fit the 24 bits of flags above the type and state). */
const OWNER_REFS_MAX = (1 << 24) - 1;
/** A family record's int32 fields, and its double. */
const FAMILY = { firstChild: 0, lastChild: 1, childCount: 2, cversion: 3 } as const;
const FAMILY_PZXID = 0;
/** A revision record's int32 fields, and its doubles. */
const REVISION = { version: 0, aversion: 1 } as const;
const REVISION_F = { mzxid: 0, mtime: 1 } as const;
/**
 * Nodes per page. Pages are allocated as the tree grows and never copied: no doubling
 * slack, and no old arrays waiting for a full collection to give their memory back.
 */
const PAGE_BITS = 15;
const PAGE_NODES = 1 << PAGE_BITS;
const PAGE_MASK = PAGE_NODES - 1;
const FIRST_PAGE_NODES = 64;

/**
 * The owners of nodes (ephemeralOwner), interned: a node holds a reference, 0 for owner 0
 * (most nodes), so an owner costs 4 bytes per node and 8 + a Map entry per distinct owner
 * (a session, the container marker, a TTL).
 */
class Owners {
  private readonly ids: bigint[] = [0n];
  private readonly uses: number[] = [0];
  private readonly refOf = new Map<bigint, number>();
  private readonly free: number[] = [];

  /** A reference to owner, counted as one more use. */
  ref(owner: bigint): number {
    if (owner === 0n) return 0;
    let r = this.refOf.get(owner);
    if (r === undefined) {
      r = this.free.length > 0 ? this.free.pop()! : this.ids.length;
      if (r > OWNER_REFS_MAX) throw new Error(`node store: more than ${OWNER_REFS_MAX} distinct ephemeral owners`);
      this.ids[r] = owner;
      this.uses[r] = 0;
      this.refOf.set(owner, r);
    }
    this.uses[r]++;
    return r;
  }

  unref(r: number): void {
    if (r === 0) return;
    if (--this.uses[r] > 0) return;
    this.refOf.delete(this.ids[r]);
    this.ids[r] = 0n;
    this.free.push(r);
  }

  get(r: number): bigint {
    return this.ids[r];
  }

  clear(): void {
    this.ids.length = 1;
    this.uses.length = 1;
    this.refOf.clear();
    this.free.length = 0;
  }
}

/**
 * The znodes of one tree by number, in pages of typed arrays. A node's doubles sit side by
 * side, as do its int32s (a setData touches one run of each). Numbers of deleted nodes are
 * reused (the tree decides when: not within the txn that deleted them, whose undo may put
 * them back).
 */
export class NodeStore {
  private readonly pages: Int32Array[] = [];
  /** The nodes' paths by number (set by the PathIndex built over this store). */
  paths!: PathIndex;
  private readonly arena = new DataArena();
  private readonly owners = new Owners();
  private readonly families = new SideRecords(4, 1);
  private readonly revisions = new SideRecords(2, 2);
  /** Data longer than SLOT_BYTES_MAX, by node number: a Buffer of its own (not a pool slice). */
  private readonly large = new Map<number, Buffer>();
  /** When a session's node joined the session's ephemerals, in the tree's count; only for such nodes. */
  readonly ephemeralSeq = new Map<number, number>();
  /** Numbers free for reuse, and the count of numbers ever handed out. */
  private readonly free: number[] = [];
  private used = 0;

  /** Live nodes. */
  count = 0;
  /** Where whole pages come from (the first page's smaller steps are new ArrayBuffers). */
  private pageSource: PageSource = FRESH_PAGES;

  /** Takes later pages and data chunks from `pages` (a snapshot load: prefaulted ones). */
  usePages(pages: PageSource): void {
    this.pageSource = pages;
    this.arena.pages = pages;
  }

  n(i: number, field: number): number {
    return this.pages[i >>> PAGE_BITS][(i & PAGE_MASK) * RECORD_INTS + field];
  }

  setN(i: number, field: number, v: number): void {
    this.pages[i >>> PAGE_BITS][(i & PAGE_MASK) * RECORD_INTS + field] = v;
  }

  /** The long at fields high, high + 1 of node i's record. */
  private long(i: number, high: number): number {
    const page = this.pages[i >>> PAGE_BITS];
    const at = (i & PAGE_MASK) * RECORD_INTS + high;
    return page[at] * TWO_32 + (page[at + 1] >>> 0);
  }

  private setLong(i: number, high: number, v: number): void {
    if (!Number.isInteger(v)) throw new Error(`node store: ${v} is not an integer (zxids and times are longs)`);
    const page = this.pages[i >>> PAGE_BITS];
    const at = (i & PAGE_MASK) * RECORD_INTS + high;
    const h = Math.floor(v / TWO_32);
    page[at] = h;
    page[at + 1] = v - h * TWO_32;
  }

  czxid(i: number): number {
    return this.long(i, I.czxidHigh);
  }

  ctime(i: number): number {
    return this.long(i, I.ctimeHigh);
  }

  /** EphemeralType of node i's owner, as the tree filed it. */
  ephemeralType(i: number): number {
    return this.n(i, I.flags) & TYPE_MASK;
  }

  owner(i: number): bigint {
    return this.owners.get(this.n(i, I.flags) >>> OWNER_SHIFT);
  }

  /** Node i's family record, given one first when `create` (its defaults: no children, cversion 0, pzxid = czxid); NONE for none. */
  private family(i: number, create: boolean): number {
    const flags = this.n(i, I.flags);
    if ((flags & HAS_FAMILY) !== 0) return this.families.of(i);
    if (!create) return NONE;
    const fam = this.families;
    const made = fam.add(i);
    fam.setN(made, FAMILY.firstChild, NONE);
    fam.setN(made, FAMILY.lastChild, NONE);
    fam.setN(made, FAMILY.childCount, 0);
    fam.setN(made, FAMILY.cversion, 0);
    fam.setF(made, FAMILY_PZXID, this.czxid(i));
    this.setN(i, I.flags, flags | HAS_FAMILY);
    return made;
  }

  /** Node i's revision record, given one first when `create` (its defaults: mzxid = czxid, mtime = ctime, versions 0); NONE for none. */
  private revision(i: number, create: boolean): number {
    const flags = this.n(i, I.flags);
    if ((flags & HAS_REVISION) !== 0) return this.revisions.of(i);
    if (!create) return NONE;
    const rev = this.revisions;
    const made = rev.add(i);
    rev.setN(made, REVISION.version, 0);
    rev.setN(made, REVISION.aversion, 0);
    rev.setF(made, REVISION_F.mzxid, this.czxid(i));
    rev.setF(made, REVISION_F.mtime, this.ctime(i));
    this.setN(i, I.flags, flags | HAS_REVISION);
    return made;
  }

  mzxid(i: number): number {
    const r = this.revision(i, false);
    return r === NONE ? this.czxid(i) : this.revisions.f(r, REVISION_F.mzxid);
  }

  setMzxid(i: number, v: number): void {
    const r = this.revision(i, v !== this.czxid(i));
    if (r !== NONE) this.revisions.setF(r, REVISION_F.mzxid, v);
  }

  mtime(i: number): number {
    const r = this.revision(i, false);
    return r === NONE ? this.ctime(i) : this.revisions.f(r, REVISION_F.mtime);
  }

  setMtime(i: number, v: number): void {
    const r = this.revision(i, v !== this.ctime(i));
    if (r !== NONE) this.revisions.setF(r, REVISION_F.mtime, v);
  }

  version(i: number): number {
    const r = this.revision(i, false);
    return r === NONE ? 0 : this.revisions.n(r, REVISION.version);
  }

  setVersion(i: number, v: number): void {
    const r = this.revision(i, v !== 0);
    if (r !== NONE) this.revisions.setN(r, REVISION.version, v);
  }

  aversion(i: number): number {
    const r = this.revision(i, false);
    return r === NONE ? 0 : this.revisions.n(r, REVISION.aversion);
  }

  setAversion(i: number, v: number): void {
    const r = this.revision(i, v !== 0);
    if (r !== NONE) this.revisions.setN(r, REVISION.aversion, v);
  }

  /** Node i's Stat into st (each side record looked up once). */
  statInto(i: number, st: Stat): Stat {
    const flags = this.n(i, I.flags);
    st.czxid = this.czxid(i);
    st.ctime = this.ctime(i);
    if ((flags & HAS_REVISION) !== 0) {
      const r = this.revisions.of(i);
      st.mzxid = this.revisions.f(r, REVISION_F.mzxid);
      st.mtime = this.revisions.f(r, REVISION_F.mtime);
      st.version = this.revisions.n(r, REVISION.version);
      st.aversion = this.revisions.n(r, REVISION.aversion);
    } else {
      st.mzxid = st.czxid;
      st.mtime = st.ctime;
      st.version = 0;
      st.aversion = 0;
    }
    let numChildren = 0;
    let cversion = 0;
    st.pzxid = st.czxid;
    if ((flags & HAS_FAMILY) !== 0) {
      const r = this.families.of(i);
      numChildren = this.families.n(r, FAMILY.childCount);
      cversion = this.families.n(r, FAMILY.cversion);
      st.pzxid = this.families.f(r, FAMILY_PZXID);
    }
    // the stored cversion counts creates; clients see changes (DataNode.copyStat's v3
    // semantics): every create has a delete except for the children still present
    st.cversion = cversion * 2 - numChildren;
    st.numChildren = numChildren;
    // only a session's node shows its owner; containers and TTL nodes show 0 (DataNode.getClientEphemeralOwner)
    st.ephemeralOwner = (flags & TYPE_MASK) === EphemeralType.normal ? this.owners.get(flags >>> OWNER_SHIFT) : 0n;
    st.dataLength = this.dataLength(i);
    return st;
  }

  /** A setData's fields: node i's version, mzxid and mtime (its revision record made first if it has none). */
  setRevision(i: number, version: number, mzxid: number, mtimeMs: number): void {
    const r = this.revision(i, true);
    const rev = this.revisions;
    rev.setN(r, REVISION.version, version);
    rev.setF(r, REVISION_F.mzxid, mzxid);
    rev.setF(r, REVISION_F.mtime, mtimeMs);
  }

  cversion(i: number): number {
    const r = this.family(i, false);
    return r === NONE ? 0 : this.families.n(r, FAMILY.cversion);
  }

  setCversion(i: number, v: number): void {
    const r = this.family(i, v !== 0);
    if (r !== NONE) this.families.setN(r, FAMILY.cversion, v);
  }

  pzxid(i: number): number {
    const r = this.family(i, false);
    return r === NONE ? this.czxid(i) : this.families.f(r, FAMILY_PZXID);
  }

  setPzxid(i: number, v: number): void {
    const r = this.family(i, v !== this.czxid(i));
    if (r !== NONE) this.families.setF(r, FAMILY_PZXID, v);
  }

  isLive(i: number): boolean {
    return (this.n(i, I.flags) & STATE_MASK) === LIVE;
  }

  private setState(i: number, state: number): void {
    this.setN(i, I.flags, (this.n(i, I.flags) & ~STATE_MASK) | state);
  }

  /** A number for a new node, its fields set from f (no children, not linked anywhere). */
  add(f: NodeFields, type: number): number {
    const i = this.free.length > 0 ? this.free.pop()! : this.used++;
    this.ensurePage(i);
    this.assign(i, f, type);
    const page = this.pages[i >>> PAGE_BITS];
    const at = (i & PAGE_MASK) * RECORD_INTS;
    page[at + I.nextSibling] = NONE;
    page[at + I.prevSibling] = NONE;
    page[at + I.flags] = (page[at + I.flags] & ~(STATE_MASK | TYPE_MASK)) | type | LIVE;
    this.count++;
    return i;
  }

  /**
   * Room for node i: pages after the first are allocated whole; the first starts small (a
   * tree in a test, a learner's empty tree) and doubles up to a page.
   */
  private ensurePage(i: number): void {
    const p = i >>> PAGE_BITS;
    if (p === this.pages.length) {
      this.pages.push(p === 0 ? new Int32Array(FIRST_PAGE_NODES * RECORD_INTS) : new Int32Array(this.pageSource.take(PAGE_NODES * RECORD_INTS * 4)));
    }
    let nodes = this.pages[p].length / RECORD_INTS;
    if ((i & PAGE_MASK) < nodes) return;
    while ((i & PAGE_MASK) >= nodes) nodes *= 2;
    const page = new Int32Array(nodes * RECORD_INTS);
    page.set(this.pages[p]);
    this.pages[p] = page;
  }

  /** Sets node i's persisted fields from f (a snapshot repeating a path replaces them). */
  assign(i: number, f: NodeFields, type: number): void {
    if (f instanceof NodeRecord) this.setData(i, f.dataSource, f.dataStart, f.dataLengthOrNull);
    else {
      const data = f.data;
      this.setData(i, data, 0, data === NULL_DATA ? -1 : data.length);
    }
    // czxid and ctime first: the other fields' defaults
    this.setLong(i, I.czxidHigh, f.czxid);
    this.setLong(i, I.ctimeHigh, f.ctime);
    const r = this.revision(i, f.mzxid !== f.czxid || f.mtime !== f.ctime || f.version !== 0 || f.aversion !== 0);
    if (r !== NONE) {
      const rev = this.revisions;
      rev.setF(r, REVISION_F.mzxid, f.mzxid);
      rev.setF(r, REVISION_F.mtime, f.mtime);
      rev.setN(r, REVISION.version, f.version);
      rev.setN(r, REVISION.aversion, f.aversion);
    }
    const n = this.pages[i >>> PAGE_BITS];
    const nt = (i & PAGE_MASK) * RECORD_INTS;
    if (f.aclRef !== (f.aclRef | 0)) throw new Error(`node store: ACL reference ${f.aclRef} is not an int32`);
    n[nt + I.aclRef] = f.aclRef;
    const ownerRef = this.owners.ref(f.ephemeralOwner);
    this.owners.unref(n[nt + I.flags] >>> OWNER_SHIFT);
    n[nt + I.flags] = (ownerRef << OWNER_SHIFT) | (n[nt + I.flags] & (STATE_MASK | HAS_FAMILY | HAS_REVISION)) | type;
    this.setCversion(i, f.cversion);
    this.setPzxid(i, f.pzxid);
  }

  /** Marks node i deleted (its fields stay readable until release). */
  kill(i: number): void {
    if (!this.isLive(i)) throw new Error(`node store: deleting node ${i}, which is not live`);
    this.setState(i, DEAD);
    this.count--;
  }

  /** Puts deleted node i back (an undo within the txn that deleted it). */
  revive(i: number): void {
    if ((this.n(i, I.flags) & STATE_MASK) !== DEAD) throw new Error(`node store: reviving node ${i}, which is not deleted`);
    this.setState(i, LIVE);
    this.count++;
  }

  /** Node i, if still deleted, is gone for good: its number may be reused, its strings are let go. */
  release(i: number): void {
    if ((this.n(i, I.flags) & STATE_MASK) !== DEAD) return;
    this.setState(i, FREE);
    this.setData(i, EMPTY_DATA, 0, 0);
    this.owners.unref(this.n(i, I.flags) >>> OWNER_SHIFT);
    const flags = this.n(i, I.flags);
    if ((flags & HAS_FAMILY) !== 0) this.families.remove(i);
    if ((flags & HAS_REVISION) !== 0) this.revisions.remove(i);
    this.setN(i, I.flags, flags & (STATE_MASK | TYPE_MASK));
    this.paths.release(i);
    this.ephemeralSeq.delete(i);
    this.free.push(i);
  }

  /** Sets node i's data to src[start, start + bytes), or null data for bytes -1. */
  setData(i: number, src: Buffer, start: number, bytes: number): void {
    const old = this.n(i, I.dataLength);
    if (old > 0 && old <= SLOT_BYTES_MAX) {
      const at = this.n(i, I.dataAt);
      if (bytes > 0 && bytes <= SLOT_BYTES_MAX && DataArena.sameSlot(bytes, old)) {
        this.arena.write(at, src, start, bytes);
        this.setN(i, I.dataLength, bytes);
        return;
      }
      this.arena.free(at, old);
    } else if (old > SLOT_BYTES_MAX) this.large.delete(i);
    if (bytes > 0 && bytes <= SLOT_BYTES_MAX) {
      const at = this.arena.alloc(bytes);
      this.arena.write(at, src, start, bytes);
      this.setN(i, I.dataAt, at);
    } else if (bytes > SLOT_BYTES_MAX) {
      const own = Buffer.allocUnsafeSlow(bytes);
      src.copy(own, 0, start, start + bytes);
      this.large.set(i, own);
    }
    this.setN(i, I.dataLength, bytes);
  }

  /** Bytes of node i's data (0 for null data). */
  dataLength(i: number): number {
    return Math.max(this.n(i, I.dataLength), 0);
  }

  dataIsNull(i: number): boolean {
    return this.n(i, I.dataLength) === -1;
  }

  /** Node i's data as a Buffer: NULL_DATA for null, a new copy otherwise. */
  dataBuffer(i: number): Buffer {
    const bytes = this.n(i, I.dataLength);
    if (bytes === -1) return NULL_DATA;
    if (bytes === 0) return EMPTY_DATA;
    const copy = Buffer.allocUnsafe(bytes);
    this.copyData(i, copy, 0);
    return copy;
  }

  /** Copies node i's data into buf at `at`; returns how many bytes. */
  copyData(i: number, buf: Buffer, at: number): number {
    const bytes = this.n(i, I.dataLength);
    if (bytes <= 0) return 0;
    if (bytes > SLOT_BYTES_MAX) return this.large.get(i)!.copy(buf, at);
    const slot = this.n(i, I.dataAt);
    const offset = DataArena.offsetOf(slot);
    return this.arena.chunkOf(slot).copy(buf, at, offset, offset + bytes);
  }

  /** Writes node i's data as jute writes a buffer (length, then the bytes; -1 for null). */
  writeData(i: number, w: JuteWriter): void {
    const bytes = this.n(i, I.dataLength);
    if (bytes <= 0) w.int(bytes);
    else if (bytes > SLOT_BYTES_MAX) w.buffer(this.large.get(i)!);
    else {
      const slot = this.n(i, I.dataAt);
      w.bufferRange(this.arena.chunkOf(slot), DataArena.offsetOf(slot), bytes);
    }
  }

  /** Bytes of the data arena's chunks, and of the slots in use in them. */
  arenaBytes(): { chunkBytes: number; slotBytesInUse: number } {
    return { chunkBytes: this.arena.chunkBytes(), slotBytesInUse: this.arena.slotBytesInUse };
  }

  /** Appends child c to parent p's children. */
  linkChild(p: number, c: number): void {
    const r = this.family(p, true);
    const fam = this.families;
    const last = fam.n(r, FAMILY.lastChild);
    this.setN(c, I.prevSibling, last);
    this.setN(c, I.nextSibling, NONE);
    if (last === NONE) fam.setN(r, FAMILY.firstChild, c);
    else this.setN(last, I.nextSibling, c);
    fam.setN(r, FAMILY.lastChild, c);
    fam.setN(r, FAMILY.childCount, fam.n(r, FAMILY.childCount) + 1);
  }

  /** Takes child c out of parent p's children. */
  unlinkChild(p: number, c: number): void {
    const r = this.family(p, false);
    if (r === NONE) throw new Error(`node store: unlinking ${c} from ${p}, which has no children`);
    const fam = this.families;
    const prev = this.n(c, I.prevSibling);
    const next = this.n(c, I.nextSibling);
    if (prev === NONE) fam.setN(r, FAMILY.firstChild, next);
    else this.setN(prev, I.nextSibling, next);
    if (next === NONE) fam.setN(r, FAMILY.lastChild, prev);
    else this.setN(next, I.prevSibling, prev);
    this.setN(c, I.prevSibling, NONE);
    this.setN(c, I.nextSibling, NONE);
    fam.setN(r, FAMILY.childCount, fam.n(r, FAMILY.childCount) - 1);
  }

  /** The first child of p, then each next sibling; NONE after the last. */
  firstChild(p: number): number {
    const r = this.family(p, false);
    return r === NONE ? NONE : this.families.n(r, FAMILY.firstChild);
  }

  nextSibling(c: number): number {
    return this.n(c, I.nextSibling);
  }

  childCount(p: number): number {
    const r = this.family(p, false);
    return r === NONE ? 0 : this.families.n(r, FAMILY.childCount);
  }

  /** Empties the store (snapshot load). */
  clear(): void {
    this.pages.length = 0;
    this.arena.clear();
    this.large.clear();
    this.owners.clear();
    this.families.clear();
    this.revisions.clear();
    this.free.length = 0;
    this.ephemeralSeq.clear();
    this.used = 0;
    this.count = 0;
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

  get aclRef(): number { return this.store.n(this.index, I.aclRef); }
  set aclRef(v: number) { this.store.setN(this.index, I.aclRef, v); }
  // czxid and ctime are set once, by create or a restore (NodeStore.assign)
  get czxid(): number { return this.store.czxid(this.index); }
  get mzxid(): number { return this.store.mzxid(this.index); }
  set mzxid(v: number) { this.store.setMzxid(this.index, v); }
  get pzxid(): number { return this.store.pzxid(this.index); }
  set pzxid(v: number) { this.store.setPzxid(this.index, v); }
  get ctime(): number { return this.store.ctime(this.index); }
  get mtime(): number { return this.store.mtime(this.index); }
  set mtime(v: number) { this.store.setMtime(this.index, v); }
  get version(): number { return this.store.version(this.index); }
  set version(v: number) { this.store.setVersion(this.index, v); }
  get cversion(): number { return this.store.cversion(this.index); }
  set cversion(v: number) { this.store.setCversion(this.index, v); }
  get aversion(): number { return this.store.aversion(this.index); }
  set aversion(v: number) { this.store.setAversion(this.index, v); }

  get ephemeralOwner(): bigint {
    // only an owner of 0 makes a node EphemeralType.void; no BigInt made for those
    return this.store.owner(this.index);
  }

  /** EphemeralType of the owner, as the tree filed the node (it knows whether extended types are on). */
  get ephemeralType(): number {
    return this.store.ephemeralType(this.index);
  }

  /** When a session's node joined the session's ephemerals, in the tree's count (their order in the set); 0 otherwise. */
  get ephemeralSeq(): number {
    return this.store.ephemeralSeq.get(this.index) ?? 0;
  }

  /** The data as a Buffer: NULL_DATA for null, a new copy otherwise (hot paths use dataLength and writeData). */
  get data(): Buffer {
    return this.store.dataBuffer(this.index);
  }

  set data(data: Buffer) {
    this.store.setData(this.index, data, 0, data === NULL_DATA ? -1 : data.length);
  }

  /** Bytes of data (0 for null data). */
  get dataLength(): number {
    return this.store.dataLength(this.index);
  }

  /** Whether the data is null (jute length -1), as apart from empty. */
  get dataIsNull(): boolean {
    return this.store.dataIsNull(this.index);
  }

  /** Writes the data as jute writes a buffer (length, then the bytes; -1 for null). */
  writeData(w: JuteWriter): void {
    this.store.writeData(this.index, w);
  }

  /** Copies the data's bytes into buf at `at` (nothing for null data); returns how many. */
  copyDataTo(buf: Buffer, at: number): number {
    return this.store.copyData(this.index, buf, at);
  }

  numChildren(): number {
    return this.store.childCount(this.index);
  }

  /** The children's names, in the order they joined (getChildren's order); a new array. */
  childNames(): string[] {
    const s = this.store;
    const names: string[] = [];
    for (let c = s.firstChild(this.index); c !== NONE; c = s.nextSibling(c)) names.push(s.paths.name(c));
    return names;
  }

  /** Writes the children's names as jute strings, in childNames' order, without making them. */
  writeChildNames(w: JuteWriter): void {
    const s = this.store;
    for (let c = s.firstChild(this.index); c !== NONE; c = s.nextSibling(c)) s.paths.writeName(c, w);
  }

  statInto(st: Stat): Stat {
    return this.store.statInto(this.index, st);
  }
}

/**
 * A tree's nodes as a read-only Map of paths to ZNode views, in insertion order (tests,
 * tools and slow paths: a path string and a view are made per node read).
 */
export class NodesView {
  private readonly store: NodeStore;

  constructor(store: NodeStore) {
    this.store = store;
  }

  get size(): number {
    return this.store.paths.count;
  }

  has(path: string): boolean {
    return this.store.paths.find(path) !== NONE;
  }

  get(path: string): ZNode | undefined {
    const i = this.store.paths.find(path);
    return i === NONE ? undefined : new ZNode(this.store, i);
  }

  *keys(): Generator<string> {
    for (const [path] of this.entries()) yield path;
  }

  *values(): Generator<ZNode> {
    for (const [, node] of this.entries()) yield node;
  }

  *entries(): Generator<[string, ZNode]> {
    const walk = this.store.paths.walk();
    try {
      for (let i = walk.peek(); i !== NONE; i = walk.peek()) {
        walk.advance(i);
        yield [this.store.paths.pathOf(i), new ZNode(this.store, i)];
      }
    } finally {
      walk.close();
    }
  }

  [Symbol.iterator](): Generator<[string, ZNode]> {
    return this.entries();
  }
}
