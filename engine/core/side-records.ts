// Records of fields only some znodes need, found by node number (issue 13): a node's record
// in the store (znode.ts) holds no reference to them, only a flag that it has one, so the
// nodes without one — most of a tree — pay nothing, not even 4 bytes of reference.
//
// Records are int32s and doubles in pages that are never copied; numbers of removed records
// are reused. The map from node number to record is open addressing (linear probing, a
// delete shifts its run back, no tombstones), 8 bytes a slot, at most ¾ full.
const NONE = -1;
const PAGE_BITS = 15;
const PAGE_RECORDS = 1 << PAGE_BITS;
const PAGE_MASK = PAGE_RECORDS - 1;
const MAP_SLOTS_MIN = 16;
/** Fibonacci hashing: node numbers are dense, the multiply spreads them over the slots. */
const GOLDEN = 0x9e3779b1 | 0;

export class SideRecords {
  private readonly intPages: Int32Array[] = [];
  private readonly doublePages: Float64Array[] = [];
  private readonly free: number[] = [];
  private used = 0;
  private readonly ints: number;
  private readonly doubles: number;
  /** node + 1 (0: an empty slot) and its record, slot by slot. */
  private keys = new Int32Array(MAP_SLOTS_MIN);
  private records = new Int32Array(MAP_SLOTS_MIN);
  private shift = 32 - Math.log2(MAP_SLOTS_MIN);
  /** Records in use. */
  count = 0;

  constructor(ints: number, doubles: number) {
    this.ints = ints;
    this.doubles = doubles;
  }

  private home(node: number): number {
    return Math.imul(node + 1, GOLDEN) >>> this.shift;
  }

  /** Node's record, or NONE. */
  of(node: number): number {
    const keys = this.keys;
    const mask = keys.length - 1;
    for (let slot = this.home(node); ; slot = (slot + 1) & mask) {
      const k = keys[slot];
      if (k === node + 1) return this.records[slot];
      if (k === 0) return NONE;
    }
  }

  /** A record for node, which has none; its fields are the caller's to set. */
  add(node: number): number {
    if ((this.count + 1) * 4 > this.keys.length * 3) this.resize(this.keys.length * 2);
    const r = this.free.length > 0 ? this.free.pop()! : this.used++;
    if (r >>> PAGE_BITS === this.intPages.length) {
      this.intPages.push(new Int32Array(PAGE_RECORDS * this.ints));
      this.doublePages.push(new Float64Array(PAGE_RECORDS * this.doubles));
    }
    this.place(node, r);
    this.count++;
    return r;
  }

  private place(node: number, r: number): void {
    const mask = this.keys.length - 1;
    let slot = this.home(node);
    while (this.keys[slot] !== 0) slot = (slot + 1) & mask;
    this.keys[slot] = node + 1;
    this.records[slot] = r;
  }

  /** Node's record goes (its number is reused). */
  remove(node: number): void {
    const keys = this.keys;
    const mask = keys.length - 1;
    let hole = this.home(node);
    while (keys[hole] !== node + 1) {
      if (keys[hole] === 0) throw new Error(`side records: node ${node} has no record`);
      hole = (hole + 1) & mask;
    }
    this.free.push(this.records[hole]);
    // backward shift: an entry after the hole moves into it unless its home lies between them
    for (let j = (hole + 1) & mask; keys[j] !== 0; j = (j + 1) & mask) {
      const home = this.home(keys[j] - 1);
      if (((j - home) & mask) < ((j - hole) & mask)) continue;
      keys[hole] = keys[j];
      this.records[hole] = this.records[j];
      hole = j;
    }
    keys[hole] = 0;
    this.count--;
  }

  private resize(slots: number): void {
    const keys = this.keys;
    const records = this.records;
    this.keys = new Int32Array(slots);
    this.records = new Int32Array(slots);
    this.shift = 32 - Math.log2(slots);
    for (let s = 0; s < keys.length; s++) if (keys[s] !== 0) this.place(keys[s] - 1, records[s]);
  }

  n(r: number, field: number): number {
    return this.intPages[r >>> PAGE_BITS][(r & PAGE_MASK) * this.ints + field];
  }

  setN(r: number, field: number, v: number): void {
    this.intPages[r >>> PAGE_BITS][(r & PAGE_MASK) * this.ints + field] = v;
  }

  f(r: number, field: number): number {
    return this.doublePages[r >>> PAGE_BITS][(r & PAGE_MASK) * this.doubles + field];
  }

  setF(r: number, field: number, v: number): void {
    this.doublePages[r >>> PAGE_BITS][(r & PAGE_MASK) * this.doubles + field] = v;
  }

  clear(): void {
    this.intPages.length = 0;
    this.doublePages.length = 0;
    this.free.length = 0;
    this.used = 0;
    this.keys = new Int32Array(MAP_SLOTS_MIN);
    this.records = new Int32Array(MAP_SLOTS_MIN);
    this.shift = 32 - Math.log2(MAP_SLOTS_MIN);
    this.count = 0;
  }
}
