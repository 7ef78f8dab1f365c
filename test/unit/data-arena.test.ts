// Znode data in the node store's arena (engine/core/data-arena.ts, engine/core/znode.ts):
// values of every size class, null and empty, values past the slot limit, overwritten in
// place, moved between classes, freed and reused — each read back as written.
import { describe, expect, it } from 'vitest';
import { DataArena, SLOT_BYTES_MAX, slotClassOf } from '../../engine/core/data-arena.ts';
import { DataTree, type ZNode } from '../../engine/core/tree.ts';
import { NULL_DATA, OPEN_ACL_UNSAFE } from '../../engine/protocol.ts';
import { JuteWriter, JuteReader } from '../../native-free-io/jute.ts';
import { seededRandom, testSeed } from '../support/random.ts';

function randomData(random: () => number): Buffer {
  const roll = random();
  if (roll < 0.05) return NULL_DATA;
  if (roll < 0.1) return Buffer.alloc(0);
  const bytes = roll < 0.9 ? 1 + Math.floor(random() * 300) : 1 + Math.floor(random() * (SLOT_BYTES_MAX * 3));
  const b = Buffer.allocUnsafe(bytes);
  for (let i = 0; i < bytes; i++) b[i] = Math.floor(random() * 256);
  return b;
}

describe('DataArena', () => {
  it('size classes: every length fits its class, classes only grow with length', () => {
    let last = 0;
    for (let n = 1; n <= SLOT_BYTES_MAX; n++) {
      const c = slotClassOf(n);
      expect(c).toBeGreaterThanOrEqual(last);
      last = c;
    }
    expect(DataArena.sameSlot(97, 100)).toBe(true);
    expect(DataArena.sameSlot(100, 101)).toBe(false);
    expect(DataArena.sameSlot(129, 144)).toBe(true);
    expect(DataArena.sameSlot(144, 145)).toBe(false);
  });

  it('reuses a freed slot of the same class before carving a new one', () => {
    const arena = new DataArena();
    const a = arena.alloc(100);
    const b = arena.alloc(100);
    expect(b).not.toBe(a);
    arena.free(a, 100);
    expect(arena.alloc(97)).toBe(a);
    expect(arena.slotBytesInUse).toBe(2 * 100);
  });

  it('slots across many chunks hold their bytes apart: a seeded run of allocs and frees, each slot checked at the end', () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    const arena = new DataArena();
    const live = new Map<number, Buffer>();
    const read = (ref: number, bytes: number) => arena.chunkOf(ref).subarray(DataArena.offsetOf(ref), DataArena.offsetOf(ref) + bytes);
    for (let k = 0; k < 20_000; k++) {
      if (live.size > 0 && random() < 0.3) {
        const [ref, value] = live.entries().next().value!;
        expect(read(ref, value.length).equals(value), `seed ${seed}: slot ${ref} before its free`).toBe(true);
        arena.free(ref, value.length);
        live.delete(ref);
        continue;
      }
      const bytes = 1 + Math.floor(random() * (random() < 0.8 ? 128 : SLOT_BYTES_MAX));
      const value = Buffer.alloc(bytes, k & 0xff);
      value[0] = k >> 8;
      const ref = arena.alloc(bytes);
      expect(live.has(ref), `seed ${seed}: slot ${ref} handed out twice`).toBe(false);
      expect(DataArena.offsetOf(ref) + bytes, `seed ${seed}`).toBeLessThanOrEqual(arena.chunkOf(ref).length);
      arena.write(ref, value, 0, bytes);
      live.set(ref, value);
    }
    expect(arena.chunkBytes()).toBeGreaterThanOrEqual(4 << 20);
    for (const [ref, value] of live) expect(read(ref, value.length).equals(value), `seed ${seed}: slot ${ref}`).toBe(true);
  });
});

function expectData(n: ZNode, expected: Buffer, why: string, w: JuteWriter): void {
  expect(n.dataIsNull, why).toBe(expected === NULL_DATA);
  expect(n.dataLength, why).toBe(expected === NULL_DATA ? 0 : expected.length);
  if (expected === NULL_DATA) expect(n.data, why).toBe(NULL_DATA);
  else expect(n.data.equals(expected), why).toBe(true);
  n.writeData(w.reset());
  const back = new JuteReader(w.buf.subarray(0, w.offset)).buffer();
  if (expected === NULL_DATA) expect(back, why).toBeNull();
  else expect(back !== null && back.equals(expected), why).toBe(true);
}

describe('node data in the store', () => {
  it('reads back what a seeded run of creates, setData and deletes wrote', () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    const tree = new DataTree();
    const model = new Map<string, Buffer>();
    const ref = tree.acls.intern(OPEN_ACL_UNSAFE);
    tree.createNode('/d', Buffer.alloc(0), ref, 0n, -1, 1, 0);
    tree.acls.intern(OPEN_ACL_UNSAFE);
    const w = new JuteWriter(16);
    for (let zxid = 2; zxid < 3000; zxid++) {
      const path = `/d/n${Math.floor(random() * 60)}`;
      const data = randomData(random);
      if (!model.has(path)) {
        tree.createNode(path, data, tree.acls.intern(OPEN_ACL_UNSAFE), 0n, -1, zxid, zxid);
        model.set(path, data);
      } else if (random() < 0.2) {
        tree.deleteNode(path, zxid);
        model.delete(path);
      } else {
        tree.setData(path, data, zxid, zxid, zxid);
        model.set(path, data);
      }
      if (zxid % 100 === 0) for (const [p, expected] of model) expectData(tree.get(p)!, expected, `seed ${seed} zxid ${zxid} ${p}`, w);
      else if (model.has(path)) expectData(tree.get(path)!, model.get(path)!, `seed ${seed} zxid ${zxid} ${path}`, w);
    }
  });
});
