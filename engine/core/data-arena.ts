// Znode data in few, large allocations (issue 13): values up to SLOT_BYTES_MAX live in
// slots carved from 1 MiB chunks, one size class per slot, freed slots kept on a list per
// class (threaded through the free slots themselves) and reused first. A setData that stays
// in its class overwrites its slot: no allocation, nothing for the collector. A V8 string
// per value cost 16 bytes of header, an array slot, and old-space garbage at every setData.
//
// A slot is named by its reference: its address / 4 (slots start at multiples of 4 bytes;
// address = chunk × CHUNK_BYTES + offset), an int32 up to 2^31 - 1: 8 GiB of slots. Classes
// step by 4 bytes up to 128, so a value of up to 128 bytes wastes at most 3 (a 100-byte
// value takes 100 bytes; with 8-byte steps it took 104).

import { FRESH_PAGES, type PageSource } from './pages.ts';

const CHUNK_BITS = 20;
const CHUNK_BYTES = 1 << CHUNK_BITS;
/** Bytes per unit of a reference. */
const UNIT_BYTES = 4;
const REF_CHUNK_SHIFT = CHUNK_BITS - 2;
const REF_OFFSET_MASK = (1 << REF_CHUNK_SHIFT) - 1;
const REF_MAX = 0x7fffffff;
/** Values longer than this get an allocation of their own (a chunk slot would waste more than it saves). */
export const SLOT_BYTES_MAX = 4096;
const NO_SLOT = -1;

/** Slot sizes: steps of 4 bytes to 128, then 8 steps per doubling up to SLOT_BYTES_MAX (≤ 12.5% waste). */
function slotSizes(): number[] {
  const sizes: number[] = [];
  for (let s = UNIT_BYTES; s <= 128; s += UNIT_BYTES) sizes.push(s);
  for (let base = 128; base < SLOT_BYTES_MAX; base *= 2) for (let k = 1; k <= 8; k++) sizes.push(base + (base / 8) * k);
  return sizes;
}

const SLOT_SIZES = slotSizes();
/** The class of a value of n bytes (1..SLOT_BYTES_MAX). */
const CLASS_OF = (() => {
  const table = new Uint8Array(SLOT_BYTES_MAX + 1);
  let c = 0;
  for (let n = 1; n <= SLOT_BYTES_MAX; n++) {
    while (SLOT_SIZES[c] < n) c++;
    table[n] = c;
  }
  return table;
})();

export function slotClassOf(bytes: number): number {
  return CLASS_OF[bytes];
}

export class DataArena {
  private readonly chunks: Buffer[] = [];
  /** The same chunks as int32s, for the free lists' links (the next free slot's reference). */
  private readonly links: Int32Array[] = [];
  /** The first free slot of each class, or NO_SLOT. */
  private readonly freeHeads: number[] = SLOT_SIZES.map(() => NO_SLOT);
  /** Where the next new slot starts (in the last chunk), as a reference. */
  private bumpRef = 0;
  /** Bytes in slots handed out and not freed. */
  slotBytesInUse = 0;
  /** Where new chunks come from. */
  pages: PageSource = FRESH_PAGES;

  /** A slot for a value of 1..SLOT_BYTES_MAX bytes; its reference. */
  alloc(bytes: number): number {
    const cls = CLASS_OF[bytes];
    const size = SLOT_SIZES[cls];
    this.slotBytesInUse += size;
    const head = this.freeHeads[cls];
    if (head !== NO_SLOT) {
      this.freeHeads[cls] = this.links[head >>> REF_CHUNK_SHIFT][head & REF_OFFSET_MASK];
      return head;
    }
    let ref = this.bumpRef;
    const units = size / UNIT_BYTES;
    const chunk = ref >>> REF_CHUNK_SHIFT;
    if (chunk === this.chunks.length || (ref & REF_OFFSET_MASK) + units > REF_OFFSET_MASK + 1) {
      // the rest of the last chunk is too small: a new chunk (the tail is left unused)
      if (this.chunks.length > REF_MAX >>> REF_CHUNK_SHIFT) throw new Error('data arena: past 8 GiB of slots');
      const memory = this.pages.take(CHUNK_BYTES);
      this.chunks.push(Buffer.from(memory));
      this.links.push(new Int32Array(memory));
      ref = (this.chunks.length - 1) << REF_CHUNK_SHIFT;
    }
    this.bumpRef = ref + units;
    return ref;
  }

  /** Gives back the slot `ref`, which held a value of `bytes` bytes. */
  free(ref: number, bytes: number): void {
    const cls = CLASS_OF[bytes];
    this.slotBytesInUse -= SLOT_SIZES[cls];
    this.links[ref >>> REF_CHUNK_SHIFT][ref & REF_OFFSET_MASK] = this.freeHeads[cls];
    this.freeHeads[cls] = ref;
  }

  /** Whether a value of `bytes` bytes fits the slot that holds one of `oldBytes` (same class). */
  static sameSlot(bytes: number, oldBytes: number): boolean {
    return CLASS_OF[bytes] === CLASS_OF[oldBytes];
  }

  /** Copies src[start, start + bytes) into the slot `ref`. */
  write(ref: number, src: Buffer, start: number, bytes: number): void {
    src.copy(this.chunks[ref >>> REF_CHUNK_SHIFT], (ref & REF_OFFSET_MASK) * UNIT_BYTES, start, start + bytes);
  }

  /** The chunk holding slot `ref` (its bytes start at offsetOf(ref)). */
  chunkOf(ref: number): Buffer {
    return this.chunks[ref >>> REF_CHUNK_SHIFT];
  }

  static offsetOf(ref: number): number {
    return (ref & REF_OFFSET_MASK) * UNIT_BYTES;
  }

  /** Bytes of chunks allocated. */
  chunkBytes(): number {
    return this.chunks.length * CHUNK_BYTES;
  }

  clear(): void {
    this.chunks.length = 0;
    this.links.length = 0;
    this.freeHeads.fill(NO_SLOT);
    this.bumpRef = 0;
    this.slotBytesInUse = 0;
  }
}
