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
    expect(DataArena.sameSlot(100, 104)).toBe(true);
    expect(DataArena.sameSlot(104, 105)).toBe(false);
  });

  it('reuses a freed slot of the same class before carving a new one', () => {
    const arena = new DataArena();
    const a = arena.alloc(100);
    const b = arena.alloc(100);
    expect(b).not.toBe(a);
    arena.free(a, 100);
    expect(arena.alloc(97)).toBe(a);
    expect(arena.slotBytesInUse).toBe(2 * 104);
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
