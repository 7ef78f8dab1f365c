// Records of fields only some znodes need, found by node number (issue 13): a node's record
// in the store (znode.ts) holds no reference to them, only a flag that it has one, so the
// nodes without one — most of a tree — pay nothing, not even 4 bytes of reference.
//
// Records are int32s and doubles in pages that are never copied; numbers of removed records
// are reused. The map from node number to record is open addressing (linear probing, a
// delete shifts its run back, no tombstones), 8 bytes a slot (the key and the record side
// by side: a lookup reads one cache line), at most ¾ full.
const NONE = -1;
const PAGE_BITS = 15;
const PAGE_RECORDS = 1 << PAGE_BITS;
const PAGE_MASK = PAGE_RECORDS - 1;
const MAP_SLOTS_MIN = 16;
/** Fibonacci hashing: node numbers are dense, the multiply spreads their groups over the table. */
const GOLDEN = 0x9e3779b1 | 0;

export class SideRecords {
  private readonly intPages: Int32Array[] = [];
  private readonly doublePages: Float64Array[] = [];
  private readonly free: number[] = [];
  private used = 0;
  private readonly ints: number;
  private readonly doubles: number;
  /** Slot s: [2s] node + 1 (0: empty), [2s + 1] its record. */
  private slots = new Int32Array(2 * MAP_SLOTS_MIN);
  private mask = MAP_SLOTS_MIN - 1;
  private shift = 32 - Math.log2(MAP_SLOTS_MIN);
  /** Records in use. */
  count = 0;

  constructor(ints: number, doubles: number) {
    this.ints = ints;
    this.doubles = doubles;
  }

  /**
   * Eight consecutive nodes share a home line of 8 slots (64 bytes), lines spread by the
   * hash: a walk in node order (a snapshot, a replay of a fresh tree) reads one line per
   * eight nodes, and no run of numbers piles onto one stretch of the table.
   */
  private home(node: number): number {
    return ((Math.imul((node >>> 3) + 1, GOLDEN) >>> this.shift) & ~7) | (node & 7);
  }

  /** Node's record, or NONE. */
  of(node: number): number {
    const slots = this.slots;
    const mask = this.mask;
    for (let s = this.home(node); ; s = (s + 1) & mask) {
      const k = slots[2 * s];
      if (k === node + 1) return slots[2 * s + 1];
      if (k === 0) return NONE;
    }
  }

  /** A record for node, which has none; its fields are the caller's to set. */
  add(node: number): number {
    if ((this.count + 1) * 4 > (this.mask + 1) * 3) this.resize((this.mask + 1) * 2);
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
    let s = this.home(node);
    while (this.slots[2 * s] !== 0) s = (s + 1) & this.mask;
    this.slots[2 * s] = node + 1;
    this.slots[2 * s + 1] = r;
  }

  /** Node's record goes (its number is reused). */
  remove(node: number): void {
    const slots = this.slots;
    const mask = this.mask;
    let hole = this.home(node);
    while (slots[2 * hole] !== node + 1) {
      if (slots[2 * hole] === 0) throw new Error(`side records: node ${node} has no record`);
      hole = (hole + 1) & mask;
    }
    this.free.push(slots[2 * hole + 1]);
    // backward shift: an entry after the hole moves into it unless its home lies between them
    for (let j = (hole + 1) & mask; slots[2 * j] !== 0; j = (j + 1) & mask) {
      const home = this.home(slots[2 * j] - 1);
      if (((j - home) & mask) < ((j - hole) & mask)) continue;
      slots[2 * hole] = slots[2 * j];
      slots[2 * hole + 1] = slots[2 * j + 1];
      hole = j;
    }
    slots[2 * hole] = 0;
    this.count--;
  }

  private resize(capacity: number): void {
    const old = this.slots;
    this.slots = new Int32Array(2 * capacity);
    this.mask = capacity - 1;
    this.shift = 32 - Math.log2(capacity);
    for (let s = 0; s < old.length; s += 2) if (old[s] !== 0) this.place(old[s] - 1, old[s + 1]);
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
    this.slots = new Int32Array(2 * MAP_SLOTS_MIN);
    this.mask = MAP_SLOTS_MIN - 1;
    this.shift = 32 - Math.log2(MAP_SLOTS_MIN);
    this.count = 0;
  }
}
