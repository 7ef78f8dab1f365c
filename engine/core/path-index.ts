// The tree's path index, off the V8 heap (issue 13): node numbers by path without a string
// per node. A `Map<string, number>` from full path to number cost ~85 B of heap per znode
// (the path string, the entry, the store's path slot), ~40% of a snapshot load, and ten
// million strings for every major GC to mark.
//
// Each node keeps, in its NodeStore record: its parent's number, the hash of its full path,
// the slot of its name (the last segment only, in a byte arena) and its links in the
// insertion order. The full path is rebuilt from the parents when asked for (the snapshot
// writes its bytes straight from the names). Per node: those 20 bytes of its record, the
// name's slot (a length byte and the name, rounded up to 4 bytes: 8 for "n0001") and 4
// bytes per table slot (the table is a power of two at most ¾ full: 8 B a node at 1M).
//
// Lookup: one probe of an open-addressing table (linear probing, no tombstones: a delete
// shifts its run back) keyed by the full path's hash; a slot holds the node's number and 4
// more bits of the hash, so a probe rarely reads a node that is not the one; the match is
// confirmed by comparing the path's segments with the names up the parents.
//
// Order: nodes in the order they joined the index (a Map's insertion order, which the
// snapshot walk and NodesView keep): a doubly linked list through the nodes, which walks
// (IndexWalk) follow while the tree changes, as a Map's iterator does.
import type { JuteWriter } from '../../native-free-io/jute.ts';
import { DataArena } from './data-arena.ts';
import { I, type NodeStore } from './znode.ts';
import type { PageSource } from './pages.ts';

const NONE = -1;
/** findBytes: the path has a byte past ASCII. */
export const NOT_ASCII = -2;
/** restoreAt: no node at the path; fileRestored files the new one. */
export const RESTORE_NEW = -3;
const SLASH = 0x2f;
/** A slot: 0 empty, else (tag << NODE_BITS) | (node + 1); the tag is 4 bits of the mixed hash. */
const NODE_BITS = 27;
const NODE_MASK = (1 << NODE_BITS) - 1;
/** Node numbers up to this (134M nodes) fit a slot. */
const NODE_COUNT_MAX = NODE_MASK - 1;
const TAG_SHIFT = 28;
const TABLE_SLOTS_MIN = 64;
/** Names kept in the arena: ASCII, up to this many characters (a length byte, then the bytes). */
const ARENA_NAME_CHARS_MAX = 255;
/** Names up to this many characters are made into strings in JS (name()). */
const SHORT_NAME_CHARS_MAX = 24;
/** Walks open at once (a snapshot's, tools'): each costs a compare per delete; past it the oldest is closed. */
const WALKS_MAX = 64;

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

/** Folds s[from, to) into hash h (FNV-1a over UTF-16 code units). */
export function hashChars(h: number, s: string, from: number, to: number): number {
  for (let k = from; k < to; k++) h = Math.imul(h ^ s.charCodeAt(k), FNV_PRIME);
  return h;
}

/** The hash of a full path: "/a/b" is the fold of its characters. */
export function hashPath(path: string): number {
  return hashChars(FNV_OFFSET, path, 0, path.length);
}

const ROOT_HASH = hashPath('/');

/** murmur3's finalizer: spreads the FNV hash's bits over the slot and the tag. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * A walk of the index in insertion order that survives changes: a node added later is
 * walked, a node removed before the walk reaches it is not. peek() is the next node (NONE
 * at the end, for now); advance(i) passes it. close() when done: a closed walk no longer
 * follows the index and cannot be read.
 */
export class IndexWalk {
  /** The node last passed; NONE before the first. */
  cursor = NONE;
  closed = false;
  private readonly index: PathIndex;

  constructor(index: PathIndex) {
    this.index = index;
  }

  peek(): number {
    if (this.closed) throw new Error('path index: reading a closed walk');
    return this.index.orderAfter(this.cursor);
  }

  advance(i: number): void {
    this.cursor = i;
  }

  close(): void {
    this.index.closeWalk(this);
  }
}

export class PathIndex {
  private readonly store: NodeStore;
  private table = new Int32Array(TABLE_SLOTS_MIN);
  private mask = TABLE_SLOTS_MIN - 1;
  /** Names: a length byte then ASCII bytes, in slots of their own size class. */
  private readonly names = new DataArena();
  /** Names the arena does not hold (non-ASCII or long), by node number. */
  private readonly otherNames = new Map<number, string>();
  private orderHead = NONE;
  private orderTail = NONE;
  private readonly walks = new Set<IndexWalk>();
  /**
   * The empty slot where findChild's last miss ended, and that path's hash: add() of that
   * child fills it without probing again. Any other change of the table forgets it.
   */
  private missSlot = NONE;
  private missHash = 0;
  root = NONE;
  /** Nodes in the index. */
  count = 0;

  constructor(store: NodeStore) {
    this.store = store;
    store.paths = this;
  }

  // ---- lookups

  /** The number of the node at path, or NONE. */
  find(path: string): number {
    return this.findHashed(path, hashPath(path));
  }

  /** find, for a path whose hash the caller has. */
  findHashed(path: string, h: number): number {
    const m = mix(h);
    const tag = m >>> TAG_SHIFT;
    const table = this.table;
    const mask = this.mask;
    for (let slot = m & mask; ; slot = (slot + 1) & mask) {
      const v = table[slot];
      if (v === 0) return NONE;
      if (v >>> NODE_BITS !== tag) continue;
      const i = (v & NODE_MASK) - 1;
      if (this.store.n(i, I.pathHash) === h && this.isAt(i, path)) return i;
    }
  }

  /**
   * find, for a path as UTF-8 bytes buf[start, start + bytes) (a log entry's): NONE when no
   * node is there, NOT_ASCII when a byte is not ASCII (the caller decodes the string).
   */
  findBytes(buf: Buffer, start: number, bytes: number): number {
    const end = start + bytes;
    let h = FNV_OFFSET;
    for (let k = start; k < end; k++) {
      const c = buf[k];
      if (c >= 0x80) return NOT_ASCII;
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    const m = mix(h);
    const tag = m >>> TAG_SHIFT;
    for (let slot = m & this.mask; ; slot = (slot + 1) & this.mask) {
      const v = this.table[slot];
      if (v === 0) return NONE;
      if (v >>> NODE_BITS !== tag) continue;
      const i = (v & NODE_MASK) - 1;
      if (this.store.n(i, I.pathHash) === h && this.isAtBytes(i, buf, start, end)) return i;
    }
  }

  /** isAt for an ASCII path in buf[start, end). */
  private isAtBytes(i: number, buf: Buffer, start: number, end: number): boolean {
    if (i === this.root) return end - start === 1 && buf[start] === SLASH;
    for (; i !== this.root; i = this.store.n(i, I.parent)) {
      const at = this.store.n(i, I.nameAt);
      if (at === NONE) return false; // a name the arena does not hold is not ASCII
      const chunk = this.names.chunkOf(at);
      const offset = DataArena.offsetOf(at);
      const from = end - chunk[offset];
      if (from < start + 1 || buf[from - 1] !== SLASH) return false;
      for (let k = offset + 1, c = from; c < end; k++, c++) if (chunk[k] !== buf[c]) return false;
      end = from - 1;
    }
    return end === start;
  }

  // ---- snapshot load from a record's bytes (no string per node)

  /** The parent restoreAt found last, and its path's bytes: a snapshot lists siblings one after another. */
  private restoredParent = NONE;
  private restoredParentPath = Buffer.alloc(256);
  private restoredParentBytes = -1;

  /** What restoreAt found absent, for fileRestored: the parent, the hash, the empty slot, the name's bytes. */
  private pendingParent = NONE;
  private pendingHash = 0;
  private pendingSlot = NONE;
  private pendingNameStart = 0;
  private pendingNameEnd = 0;

  /**
   * Snapshot load: the node at the ASCII path buf[start, start + bytes), whose parent was
   * restored before it. Returns that node when there is one; RESTORE_NEW when there is none
   * (then fileRestored(i, buf) files the new node i, before any other change of the index);
   * NONE when it cannot tell: no such parent, a byte past ASCII, a long name (the caller
   * takes the string way).
   */
  restoreAt(buf: Buffer, start: number, bytes: number): number {
    const end = start + bytes;
    let slash = end - 1;
    while (slash >= start && buf[slash] !== SLASH) slash--;
    if (slash < start || end - slash - 1 > ARENA_NAME_CHARS_MAX) return NONE;
    const p = this.restoredParentAt(buf, start, slash - start);
    if (p === NONE) return NONE;
    let h = p === this.root ? this.store.n(p, I.pathHash) : Math.imul(this.store.n(p, I.pathHash) ^ SLASH, FNV_PRIME);
    for (let k = slash + 1; k < end; k++) {
      if (buf[k] >= 0x80) return NONE;
      h = Math.imul(h ^ buf[k], FNV_PRIME);
    }
    if ((this.count + 1) * 4 > this.table.length * 3) this.grow();
    const m = mix(h);
    const tag = m >>> TAG_SHIFT;
    let slot = m & this.mask;
    for (let v = this.table[slot]; v !== 0; v = this.table[(slot = (slot + 1) & this.mask)]) {
      const old = (v & NODE_MASK) - 1;
      if (v >>> NODE_BITS === tag && this.store.n(old, I.pathHash) === h && this.store.n(old, I.parent) === p && this.nameIsAt(old, buf, slash + 1, end)) return old;
    }
    this.pendingParent = p;
    this.pendingHash = h;
    this.pendingSlot = slot;
    this.pendingNameStart = slash + 1;
    this.pendingNameEnd = end;
    return RESTORE_NEW;
  }

  /** Files node i where restoreAt found its path absent (buf: the same record's bytes). */
  fileRestored(i: number, buf: Buffer): void {
    if (this.pendingSlot === NONE || this.table[this.pendingSlot] !== 0) throw new Error('path index: fileRestored without restoreAt finding a place');
    const s = this.store;
    s.setN(i, I.parent, this.pendingParent);
    s.setN(i, I.pathHash, this.pendingHash);
    s.setN(i, I.nameAt, this.storeNameAt(buf, this.pendingNameStart, this.pendingNameEnd));
    this.table[this.pendingSlot] = ((mix(this.pendingHash) >>> TAG_SHIFT) << NODE_BITS) | (i + 1);
    this.pendingSlot = NONE;
    this.missSlot = NONE;
    this.appendOrder(i);
    this.count++;
  }

  /** The number of the node at the ASCII path buf[start, start + bytes) ("" is the root), from the last one found when it is the same. */
  private restoredParentAt(buf: Buffer, start: number, bytes: number): number {
    if (bytes === this.restoredParentBytes && this.restoredParent !== NONE && this.isRestoredParentPath(buf, start, bytes)) return this.restoredParent;
    const cached = this.restoredParentPath;
    const p = bytes === 0 ? this.root : this.findBytes(buf, start, bytes);
    if (p < 0) return NONE;
    if (bytes > cached.length) this.restoredParentPath = Buffer.alloc(bytes * 2);
    buf.copy(this.restoredParentPath, 0, start, start + bytes);
    this.restoredParentBytes = bytes;
    this.restoredParent = p;
    return p;
  }

  /**
   * Whether buf[start, start + bytes) is the last parent's path: a loop from the end, where
   * siblings' parents differ (Buffer.compare, a call into C++ per node, was ~10% of a load).
   */
  private isRestoredParentPath(buf: Buffer, start: number, bytes: number): boolean {
    const cached = this.restoredParentPath;
    for (let k = bytes - 1; k >= 0; k--) if (cached[k] !== buf[start + k]) return false;
    return true;
  }

  /** nameIs for an ASCII name in buf[from, to). */
  private nameIsAt(i: number, buf: Buffer, from: number, to: number): boolean {
    const at = this.store.n(i, I.nameAt);
    if (at === NONE) return false; // a name the arena does not hold is not ASCII
    const chunk = this.names.chunkOf(at);
    const offset = DataArena.offsetOf(at);
    if (chunk[offset] !== to - from) return false;
    for (let k = offset + 1, c = from; c < to; k++, c++) if (chunk[k] !== buf[c]) return false;
    return true;
  }

  /** storeName for an ASCII name in buf[from, to) (at most 255 bytes: longer ones take the string way). */
  private storeNameAt(buf: Buffer, from: number, to: number): number {
    const slot = this.names.alloc(to - from + 1);
    const chunk = this.names.chunkOf(slot);
    const offset = DataArena.offsetOf(slot);
    chunk[offset] = to - from;
    // a loop: names are short, and Buffer.copy is a call into C++ (~10% of a load's time in this function)
    for (let k = offset + 1, c = from; c < to; k++, c++) chunk[k] = buf[c];
    return slot;
  }

  /** The child of parent p named path[nameStart..], whose path hashes to h; or NONE (then add() of it probes no more). */
  findChild(p: number, h: number, path: string, nameStart: number): number {
    if ((this.count + 1) * 4 > this.table.length * 3) this.grow();
    const m = mix(h);
    const tag = m >>> TAG_SHIFT;
    for (let slot = m & this.mask; ; slot = (slot + 1) & this.mask) {
      const v = this.table[slot];
      if (v === 0) {
        this.missSlot = slot;
        this.missHash = h;
        return NONE;
      }
      if (v >>> NODE_BITS !== tag) continue;
      const i = (v & NODE_MASK) - 1;
      if (this.store.n(i, I.pathHash) === h && this.store.n(i, I.parent) === p && this.nameIs(i, path, nameStart, path.length)) return i;
    }
  }

  /** The hash of the path of a child of p named path[nameStart..]. */
  childHash(p: number, path: string, nameStart: number): number {
    const h = p === this.root ? this.store.n(p, I.pathHash) : Math.imul(this.store.n(p, I.pathHash) ^ SLASH, FNV_PRIME);
    return hashChars(h, path, nameStart, path.length);
  }

  /** Whether node i's path is path: its name and its ancestors' names, segment by segment from the end. */
  private isAt(i: number, path: string): boolean {
    if (i === this.root) return path.length === 1;
    let end = path.length;
    for (; i !== this.root; i = this.store.n(i, I.parent)) {
      const start = end - this.nameLength(i);
      if (start < 1 || path.charCodeAt(start - 1) !== SLASH || !this.nameIs(i, path, start, end)) return false;
      end = start - 1;
    }
    return end === 0;
  }

  /** Whether node i's name is s[from, to). */
  private nameIs(i: number, s: string, from: number, to: number): boolean {
    const at = this.store.n(i, I.nameAt);
    if (at === NONE) {
      const name = this.otherNames.get(i)!;
      if (name.length !== to - from) return false;
      for (let k = 0; k < name.length; k++) if (name.charCodeAt(k) !== s.charCodeAt(from + k)) return false;
      return true;
    }
    const chunk = this.names.chunkOf(at);
    const offset = DataArena.offsetOf(at);
    if (chunk[offset] !== to - from) return false;
    for (let k = 1, c = from; c < to; k++, c++) if (chunk[offset + k] !== s.charCodeAt(c)) return false;
    return true;
  }

  /** Characters in node i's name. */
  private nameLength(i: number): number {
    const at = this.store.n(i, I.nameAt);
    if (at === NONE) return this.otherNames.get(i)!.length;
    return this.names.chunkOf(at)[DataArena.offsetOf(at)];
  }

  /** Node i's name (the last segment of its path; "" for the root). */
  name(i: number): string {
    const at = this.store.n(i, I.nameAt);
    if (at === NONE) return this.otherNames.get(i)!;
    const chunk = this.names.chunkOf(at);
    const offset = DataArena.offsetOf(at);
    const end = offset + 1 + chunk[offset];
    // short names: characters in JS (a Buffer decode is a call into C++, ~10× slower for these)
    if (end - offset > SHORT_NAME_CHARS_MAX) return chunk.toString('latin1', offset + 1, end);
    let name = '';
    for (let k = offset + 1; k < end; k++) name += String.fromCharCode(chunk[k]);
    return name;
  }

  /** Writes node i's name as a jute string (length, UTF-8 bytes), straight from the arena. */
  writeName(i: number, w: JuteWriter): void {
    const at = this.store.n(i, I.nameAt);
    if (at === NONE) {
      w.string(this.otherNames.get(i)!);
      return;
    }
    const chunk = this.names.chunkOf(at);
    const offset = DataArena.offsetOf(at);
    w.bufferRange(chunk, offset + 1, chunk[offset]);
  }

  parentOf(i: number): number {
    return this.store.n(i, I.parent);
  }

  /** Node i's full path, built from the names up its parents. */
  pathOf(i: number): string {
    if (i === this.root) return '/';
    let path = '';
    for (; i !== this.root; i = this.store.n(i, I.parent)) path = `/${this.name(i)}${path}`;
    return path;
  }

  /** UTF-8 bytes of node i's path ("/a/b"; 1 for the root). */
  pathBytes(i: number): number {
    if (i === this.root) return 1;
    let bytes = 0;
    for (; i !== this.root; i = this.store.n(i, I.parent)) {
      const at = this.store.n(i, I.nameAt);
      bytes += 1 + (at === NONE ? Buffer.byteLength(this.otherNames.get(i)!) : this.nameLength(i));
    }
    return bytes;
  }

  /** Writes node i's path in UTF-8 into buf at `at` (pathBytes(i) bytes, written from the end); returns the bytes. */
  writePath(i: number, buf: Buffer, at: number): number {
    const bytes = this.pathBytes(i);
    if (i === this.root) {
      buf[at] = SLASH;
      return 1;
    }
    let end = at + bytes;
    for (; i !== this.root; i = this.store.n(i, I.parent)) {
      const nameAt = this.store.n(i, I.nameAt);
      if (nameAt === NONE) {
        const name = this.otherNames.get(i)!;
        end -= Buffer.byteLength(name);
        buf.write(name, end, 'utf8');
      } else {
        const chunk = this.names.chunkOf(nameAt);
        const offset = DataArena.offsetOf(nameAt);
        end -= chunk[offset];
        chunk.copy(buf, end, offset + 1, offset + 1 + chunk[offset]);
      }
      buf[--end] = SLASH;
    }
    return bytes;
  }

  // ---- changes

  /** Files the root, number i (an empty index). */
  addRoot(i: number): void {
    if (this.count !== 0) throw new Error('path index: a root added to a non-empty index');
    const s = this.store;
    s.setN(i, I.parent, NONE);
    s.setN(i, I.pathHash, ROOT_HASH);
    s.setN(i, I.nameAt, this.storeName(i, '/', 1, 1));
    this.root = i;
    this.insert(i);
  }

  /**
   * Files node i, not in the index, as the child of p named path[nameStart..], whose path
   * hashes to h (childHash).
   */
  add(i: number, p: number, path: string, nameStart: number, h: number): void {
    if (i > NODE_COUNT_MAX) throw new Error(`path index: node number ${i} past ${NODE_COUNT_MAX}`);
    const s = this.store;
    s.setN(i, I.parent, p);
    s.setN(i, I.pathHash, h);
    s.setN(i, I.nameAt, this.storeName(i, path, nameStart, path.length));
    this.insert(i);
  }

  /** Takes node i out of the index; its name and parent stay (for reinsert) until release. */
  remove(i: number): void {
    this.unlinkOrder(i);
    const h = this.store.n(i, I.pathHash);
    const table = this.table;
    const mask = this.mask;
    let hole = mix(h) & mask;
    while ((table[hole] & NODE_MASK) !== i + 1) {
      if (table[hole] === 0) throw new Error(`path index: node ${i} is not in the table`);
      hole = (hole + 1) & mask;
    }
    // backward shift: an entry after the hole moves into it unless its home lies between them
    for (let j = (hole + 1) & mask; table[j] !== 0; j = (j + 1) & mask) {
      const v = table[j];
      const home = mix(this.store.n((v & NODE_MASK) - 1, I.pathHash)) & mask;
      if (((j - home) & mask) < ((j - hole) & mask)) continue;
      table[hole] = v;
      hole = j;
    }
    table[hole] = 0;
    this.count--;
    this.missSlot = NONE;
  }

  /** Files a removed node again, under its old name and parent (an undo), last in the order. */
  reinsert(i: number): void {
    this.insert(i);
  }

  /** Node i is gone for good: its name's slot is freed. */
  release(i: number): void {
    const at = this.store.n(i, I.nameAt);
    if (at === NONE) this.otherNames.delete(i);
    else this.names.free(at, this.names.chunkOf(at)[DataArena.offsetOf(at)] + 1);
    this.store.setN(i, I.nameAt, NONE);
  }

  /** Takes the name arena's chunks from `pages` (a snapshot load: prefaulted ones). */
  usePages(pages: PageSource): void {
    this.names.pages = pages;
  }

  clear(): void {
    this.table = new Int32Array(TABLE_SLOTS_MIN);
    this.mask = TABLE_SLOTS_MIN - 1;
    this.names.clear();
    this.otherNames.clear();
    this.orderHead = this.orderTail = NONE;
    for (const w of this.walks) w.closed = true;
    this.walks.clear();
    this.root = NONE;
    this.count = 0;
    this.missSlot = NONE;
    this.restoredParent = NONE;
    this.restoredParentBytes = -1;
  }

  /** Name s[from, to) for node i: its slot in the arena (a reference), or NONE when otherNames holds it. */
  private storeName(i: number, s: string, from: number, to: number): number {
    const chars = to - from;
    let ascii = chars <= ARENA_NAME_CHARS_MAX;
    for (let c = from; ascii && c < to; c++) ascii = s.charCodeAt(c) < 0x80;
    if (!ascii) {
      this.otherNames.set(i, s.slice(from, to));
      return NONE;
    }
    const slot = this.names.alloc(chars + 1);
    const chunk = this.names.chunkOf(slot);
    const offset = DataArena.offsetOf(slot);
    chunk[offset] = chars;
    for (let k = 1, c = from; c < to; k++, c++) chunk[offset + k] = s.charCodeAt(c);
    return slot;
  }

  private insert(i: number): void {
    if (this.missSlot !== NONE && this.missHash === this.store.n(i, I.pathHash)) {
      this.table[this.missSlot] = ((mix(this.missHash) >>> TAG_SHIFT) << NODE_BITS) | (i + 1);
    } else {
      if ((this.count + 1) * 4 > this.table.length * 3) this.grow();
      this.place(this.table, this.mask, i);
    }
    this.missSlot = NONE;
    this.appendOrder(i);
    this.count++;
  }

  private place(table: Int32Array, mask: number, i: number): void {
    const m = mix(this.store.n(i, I.pathHash));
    let slot = m & mask;
    while (table[slot] !== 0) slot = (slot + 1) & mask;
    table[slot] = ((m >>> TAG_SHIFT) << NODE_BITS) | (i + 1);
  }

  /** Slots of the hash table (a power of two; at most ¾ of them hold a node). */
  get tableSlots(): number {
    return this.table.length;
  }

  /**
   * Sizes the table for `nodes` at once (a restore that knows about how many are coming),
   * so that it is not doubled and every node placed again on the way. Never shrinks it.
   */
  reserve(nodes: number): void {
    let slots = this.table.length;
    while (nodes * 4 > slots * 3) slots *= 2;
    if (slots > this.table.length) this.resize(slots);
  }

  /** Doubles the table. */
  private grow(): void {
    this.resize(this.table.length * 2);
  }

  /** A table of `slots`; the nodes are placed again in insertion order (their records read about in order, not at random). */
  private resize(slots: number): void {
    const table = new Int32Array(slots);
    const mask = table.length - 1;
    for (let i = this.orderHead; i !== NONE; i = this.store.n(i, I.orderNext)) this.place(table, mask, i);
    this.table = table;
    this.mask = mask;
    this.missSlot = NONE;
  }

  // ---- insertion order

  /** The node after i in insertion order (the first for NONE); NONE after the last. */
  orderAfter(i: number): number {
    return i === NONE ? this.orderHead : this.store.n(i, I.orderNext);
  }

  /** A walk of the nodes in insertion order, from the first. */
  walk(): IndexWalk {
    if (this.walks.size >= WALKS_MAX) this.closeWalk(this.walks.values().next().value!);
    const w = new IndexWalk(this);
    this.walks.add(w);
    return w;
  }

  closeWalk(w: IndexWalk): void {
    w.closed = true;
    this.walks.delete(w);
  }

  private appendOrder(i: number): void {
    const s = this.store;
    s.setN(i, I.orderPrev, this.orderTail);
    s.setN(i, I.orderNext, NONE);
    if (this.orderTail === NONE) this.orderHead = i;
    else s.setN(this.orderTail, I.orderNext, i);
    this.orderTail = i;
  }

  private unlinkOrder(i: number): void {
    const s = this.store;
    const prev = s.n(i, I.orderPrev);
    const next = s.n(i, I.orderNext);
    // a walk that last passed i goes on from the node before it
    for (const w of this.walks) if (w.cursor === i) w.cursor = prev;
    if (prev === NONE) this.orderHead = next;
    else s.setN(prev, I.orderNext, next);
    if (next === NONE) this.orderTail = prev;
    else s.setN(next, I.orderPrev, prev);
  }
}
