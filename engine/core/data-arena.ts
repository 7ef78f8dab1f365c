// Znode data in few, large allocations (issue 13): values up to SLOT_BYTES_MAX live in
// slots carved from 1 MiB chunks, one size class per slot, freed slots kept on a list per
// class (threaded through the free slots themselves) and reused first. A setData that stays
// in its class overwrites its slot: no allocation, nothing for the collector. A V8 string
// per value cost 16 bytes of header, an array slot, and old-space garbage at every setData.
//
// An address is chunk × CHUNK_BYTES + offset (offsets are multiples of 8), a double.

import { FRESH_PAGES, type PageSource } from './pages.ts';

const CHUNK_BYTES = 1 << 20;
/** Values longer than this get an allocation of their own (a chunk slot would waste more than it saves). */
export const SLOT_BYTES_MAX = 4096;
const NO_SLOT = -1;

/** Slot sizes: steps of 8 bytes to 128, then 8 steps per doubling up to SLOT_BYTES_MAX (≤ 12.5% waste). */
function slotSizes(): number[] {
  const sizes: number[] = [];
  for (let s = 8; s <= 128; s += 8) sizes.push(s);
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
  /** The same chunks as doubles, for the free lists' links. */
  private readonly links: Float64Array[] = [];
  /** The first free slot of each class, or NO_SLOT. */
  private readonly freeHeads: number[] = SLOT_SIZES.map(() => NO_SLOT);
  /** Where the next new slot starts (in the last chunk). */
  private bumpAddress = 0;
  /** Bytes in slots handed out and not freed. */
  slotBytesInUse = 0;
  /** Where new chunks come from. */
  pages: PageSource = FRESH_PAGES;

  /** A slot for a value of 1..SLOT_BYTES_MAX bytes; its address. */
  alloc(bytes: number): number {
    const cls = CLASS_OF[bytes];
    const size = SLOT_SIZES[cls];
    this.slotBytesInUse += size;
    const head = this.freeHeads[cls];
    if (head !== NO_SLOT) {
      const chunk = Math.floor(head / CHUNK_BYTES);
      this.freeHeads[cls] = this.links[chunk][(head - chunk * CHUNK_BYTES) / 8];
      return head;
    }
    let at = this.bumpAddress;
    const chunk = Math.floor(at / CHUNK_BYTES);
    if (chunk === this.chunks.length || at + size > (chunk + 1) * CHUNK_BYTES) {
      // the rest of the last chunk is too small: a new chunk (the tail is left unused)
      const memory = this.pages.take(CHUNK_BYTES);
      this.chunks.push(Buffer.from(memory));
      this.links.push(new Float64Array(memory));
      at = (this.chunks.length - 1) * CHUNK_BYTES;
    }
    this.bumpAddress = at + size;
    return at;
  }

  /** Gives back the slot at address, which held a value of `bytes` bytes. */
  free(address: number, bytes: number): void {
    const cls = CLASS_OF[bytes];
    this.slotBytesInUse -= SLOT_SIZES[cls];
    const chunk = Math.floor(address / CHUNK_BYTES);
    this.links[chunk][(address - chunk * CHUNK_BYTES) / 8] = this.freeHeads[cls];
    this.freeHeads[cls] = address;
  }

  /** Whether a value of `bytes` bytes fits the slot that holds one of `oldBytes` (same class). */
  static sameSlot(bytes: number, oldBytes: number): boolean {
    return CLASS_OF[bytes] === CLASS_OF[oldBytes];
  }

  /** Copies src[start, start + bytes) into the slot at address. */
  write(address: number, src: Buffer, start: number, bytes: number): void {
    const chunk = Math.floor(address / CHUNK_BYTES);
    src.copy(this.chunks[chunk], address - chunk * CHUNK_BYTES, start, start + bytes);
  }

  /** The chunk holding address, and the offset of address in it. */
  chunkOf(address: number): Buffer {
    return this.chunks[Math.floor(address / CHUNK_BYTES)];
  }

  static offsetOf(address: number): number {
    return address - Math.floor(address / CHUNK_BYTES) * CHUNK_BYTES;
  }

  /** Bytes of chunks allocated. */
  chunkBytes(): number {
    return this.chunks.length * CHUNK_BYTES;
  }

  clear(): void {
    this.chunks.length = 0;
    this.links.length = 0;
    this.freeHeads.fill(NO_SLOT);
    this.bumpAddress = 0;
    this.slotBytesInUse = 0;
  }
}
