// The side records of znodes (engine/core/side-records.ts): found by node number through a
// seeded run of adds and removes that grows the map and shifts its runs back, checked
// against a Map after every step; each record's fields stay its own.
import { describe, expect, it } from 'vitest';
import { SideRecords } from '../../engine/core/side-records.ts';
import { seededRandom, testSeed } from '../support/random.ts';

describe('SideRecords', () => {
  it('finds every node\'s record, and none for others, through adds and removes', () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    const records = new SideRecords(2, 1);
    const model = new Map<number, number>();
    const check = (node: number) => {
      const r = records.of(node);
      if (!model.has(node)) return expect(r, `seed ${seed}: node ${node} has no record`).toBe(-1);
      expect(r, `seed ${seed}: node ${node}`).toBe(model.get(node));
      expect([records.n(r, 0), records.n(r, 1), records.f(r, 0)], `seed ${seed}: node ${node}'s fields`).toEqual([node, ~node, node * 0.5]);
    };
    for (let step = 0; step < 30_000; step++) {
      // dense numbers (a tree's), with clusters that collide in the map
      const node = random() < 0.5 ? Math.floor(random() * 4000) : 100_000 + Math.floor(random() * 64) * 1024;
      if (model.has(node)) {
        records.remove(node);
        model.delete(node);
      } else {
        const r = records.add(node);
        records.setN(r, 0, node);
        records.setN(r, 1, ~node);
        records.setF(r, 0, node * 0.5);
        model.set(node, r);
      }
      expect(records.count).toBe(model.size);
      check(node);
      check(Math.floor(random() * 4000));
    }
    for (const node of model.keys()) check(node);
    expect(new Set(model.values()).size, 'no record shared').toBe(model.size);
    expect(() => records.remove(-5)).toThrow(/has no record/);
  });
});
