// Outbound slabs: where an io worker copies large outbound writes (engine/limits.ts
// OUTBOUND_SLAB_BYTES says why). Pieces are cut from the current slab in order; a slab is
// freed when its last piece is released and it is no longer current; the current slab is
// reused from its start when it empties. A piece larger than half a slab gets a slab of
// its own, freed with it.
//
// Pure bookkeeping: the io worker passes in how slabs are mapped and unmapped, so the
// accounting is tested without sockets (test/unit/outbound.test.ts).

export interface Slab {
  readonly buf: Buffer;
  /** Bytes handed out from the start (the next piece begins here). */
  used: number;
  /** Pieces handed out and not yet released. */
  live: number;
  liveBytes: number;
  /** Where the last piece taken begins. */
  pieceAt: number;
}

export interface SlabMemory {
  map(bytes: number): Buffer;
  unmap(buf: Buffer): void;
}

export class OutboundSlabs {
  private readonly slabBytes: number;
  private readonly memory: SlabMemory;
  private current: Slab | null = null;
  /** Bytes of every slab mapped (current included). */
  mappedBytes = 0;
  /** Bytes of slabs that are not current (full, or a large piece's own) and of their live pieces. */
  private retiredBytes = 0;
  private retiredLiveBytes = 0;

  constructor(slabBytes: number, memory: SlabMemory) {
    assert(slabBytes > 0 && Number.isInteger(slabBytes), `bad slab size ${slabBytes}`);
    this.slabBytes = slabBytes;
    this.memory = memory;
  }

  /**
   * Space pinned by pieces not yet written: retired slabs stay mapped whole while any piece
   * in them is live. What the slabs cost beyond the pieces queued on sockets.
   */
  get pinnedWasteBytes(): number {
    return this.retiredBytes - this.retiredLiveBytes;
  }

  /** A slab with `bytes` free at slab.pieceAt; hand it back with release(slab, bytes) once written. */
  take(bytes: number): Slab {
    assert(bytes > 0 && Number.isInteger(bytes), `bad piece size ${bytes}`);
    if (bytes > this.slabBytes / 2) {
      const own = this.mapSlab(bytes);
      this.retiredBytes += bytes;
      this.retiredLiveBytes += bytes;
      return this.hand(own, bytes);
    }
    let slab = this.current;
    if (slab !== null && slab.used + bytes > slab.buf.length) {
      // full: retire it (freed with its last piece; an empty slab is reused from its start, so it has some)
      assert(slab.live > 0, 'an empty current slab cannot be full');
      this.retiredBytes += slab.buf.length;
      this.retiredLiveBytes += slab.liveBytes;
      this.current = null;
      slab = null;
    }
    if (slab === null) {
      slab = this.mapSlab(this.slabBytes);
      this.current = slab;
    }
    return this.hand(slab, bytes);
  }

  release(slab: Slab, bytes: number): void {
    assert(slab.live > 0 && slab.liveBytes >= bytes, 'release of a piece never taken');
    slab.live--;
    slab.liveBytes -= bytes;
    if (slab === this.current) {
      if (slab.live === 0) slab.used = 0; // empty: reuse it from the start
      return;
    }
    this.retiredLiveBytes -= bytes;
    if (slab.live > 0) return;
    this.retiredBytes -= slab.buf.length;
    this.mappedBytes -= slab.buf.length;
    this.memory.unmap(slab.buf);
  }

  private mapSlab(bytes: number): Slab {
    this.mappedBytes += bytes;
    return { buf: this.memory.map(bytes), used: 0, live: 0, liveBytes: 0, pieceAt: 0 };
  }

  private hand(slab: Slab, bytes: number): Slab {
    slab.pieceAt = slab.used;
    slab.used += bytes;
    slab.live++;
    slab.liveBytes += bytes;
    return slab;
  }
}

/**
 * Slabs the kernel maps for V8 (resizable ArrayBuffers are reserved and committed by V8's
 * page allocator, not malloc), unmapped at once when detached.
 */
export const PAGE_MAPPED_SLABS: SlabMemory = {
  map(bytes: number): Buffer {
    return Buffer.from(new ResizableArrayBuffer(bytes, { maxByteLength: bytes }), 0, bytes);
  },
  unmap(buf: Buffer): void {
    (buf.buffer as unknown as { transferToFixedLength(length: number): ArrayBuffer }).transferToFixedLength(0);
  },
};

/** ES2024's ArrayBuffer constructor (the project's lib is es2023). */
const ResizableArrayBuffer = ArrayBuffer as unknown as new (bytes: number, options: { maxByteLength: number }) => ArrayBuffer;

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`outbound slabs: ${message}`);
}
