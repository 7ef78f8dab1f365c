// Outbound slab bookkeeping (engine/outbound.ts): pieces cut in order, a slab unmapped with
// its last piece unless it is current, the current one reused from its start, a large
// piece on a slab of its own, and the pinned space counted.
import { describe, it, expect } from 'vitest';
import { OutboundSlabs, PAGE_MAPPED_SLABS, type SlabMemory } from '../../engine/outbound.ts';

function countingMemory(): SlabMemory & { mapped: number[]; unmapped: number } {
  const m = {
    mapped: [] as number[],
    unmapped: 0,
    map(bytes: number): Buffer {
      m.mapped.push(bytes);
      return Buffer.alloc(bytes);
    },
    unmap(): void {
      m.unmapped++;
    },
  };
  return m;
}

describe('OutboundSlabs', () => {
  it('cuts pieces in order from one slab and reuses it from its start once empty', () => {
    const mem = countingMemory();
    const slabs = new OutboundSlabs(1000, mem);
    const a = slabs.take(300);
    expect(a.pieceAt).toBe(0);
    const b = slabs.take(300);
    expect(b).toBe(a);
    expect(b.pieceAt).toBe(300);
    slabs.release(a, 300);
    slabs.release(b, 300);
    expect(slabs.take(100).pieceAt).toBe(0);
    expect(mem.mapped).toEqual([1000]);
    expect(mem.unmapped).toBe(0);
    expect(slabs.pinnedWasteBytes).toBe(0);
  });

  it('retires a full slab, counts what it pins, and unmaps it with its last piece', () => {
    const mem = countingMemory();
    const slabs = new OutboundSlabs(1000, mem);
    const first = slabs.take(400);
    const second = slabs.take(400);
    slabs.release(first, 400);
    const next = slabs.take(400); // 800 + 400 > 1000: a new slab
    expect(next).not.toBe(second);
    expect(mem.mapped).toEqual([1000, 1000]);
    expect(slabs.mappedBytes).toBe(2000);
    expect(slabs.pinnedWasteBytes).toBe(600); // the retired slab is held for its one live 400-byte piece
    slabs.release(second, 400);
    expect(mem.unmapped).toBe(1);
    expect(slabs.mappedBytes).toBe(1000);
    expect(slabs.pinnedWasteBytes).toBe(0);
  });

  it('gives a piece over half a slab a slab of its own, unmapped with it', () => {
    const mem = countingMemory();
    const slabs = new OutboundSlabs(1000, mem);
    const own = slabs.take(900);
    expect(own.buf.length).toBe(900);
    expect(slabs.pinnedWasteBytes).toBe(0);
    slabs.release(own, 900);
    expect(mem.unmapped).toBe(1);
    expect(slabs.mappedBytes).toBe(0);
  });

  it('refuses a release it never handed out', () => {
    const slabs = new OutboundSlabs(1000, countingMemory());
    const s = slabs.take(10);
    slabs.release(s, 10);
    expect(() => slabs.release(s, 10)).toThrow(/never taken/);
  });

  it('page-mapped slabs are writable and detach when unmapped', () => {
    const buf = PAGE_MAPPED_SLABS.map(64 * 1024);
    buf.fill(7);
    expect(buf[65535]).toBe(7);
    PAGE_MAPPED_SLABS.unmap(buf);
    expect(buf.buffer.byteLength).toBe(0);
  });
});
