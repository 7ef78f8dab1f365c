// ZooKeeper's connection throttle (BlueThrottle) as engine/core/connection-throttle.ts keeps
// it: the token bucket, its refill, the session weights and BLUE's random drops, driven with
// a clock and a seeded random source.
import { describe, it, expect } from 'vitest';
import { ConnectionThrottle, settleWeights, type ConnectionThrottleOptions } from '../../engine/core/connection-throttle.ts';
import { seededRandom, testSeed } from '../support/random.ts';

const SEED = testSeed();
console.log(`connection-throttle.test.ts seed ${SEED} (replay with TEST_SEED=${SEED})`);

const DEFAULTS: ConnectionThrottleOptions = {
  tokens: 0, fillTimeMs: 1, fillCount: 1, freezeTimeMs: -1, dropIncrease: 0.02, dropDecrease: 0.002, decreaseRatio: 0,
  weightEnabled: false, globalWeight: 3, localWeight: 1, renewWeight: 2,
};
const never = () => 1; // a random source under which nothing is dropped at random

describe('ConnectionThrottle', () => {
  it('with no tokens (the default) lets every connection through', () => {
    const t = new ConnectionThrottle(DEFAULTS, 0, never);
    expect(t.enabled).toBe(false);
    for (let i = 0; i < 1000; i++) expect(t.checkLimit(1, 0)).toBe(true);
  });

  it('starts full, refuses once empty, and refills fill_count per fill_time, dropping the remainder of the interval', () => {
    const t = new ConnectionThrottle({ ...DEFAULTS, tokens: 3, fillTimeMs: 100, fillCount: 2 }, 0, never);
    expect([t.checkLimit(1, 0), t.checkLimit(1, 0), t.checkLimit(1, 0), t.checkLimit(1, 0)]).toEqual([true, true, true, false]);
    expect(t.deficit).toBe(3);
    expect(t.checkLimit(1, 100)).toBe(false); // not more than fill_time yet
    // 150 ms: floor(150 × 2 / 100) = 3 back; the refill time moves to 150 (the 50 ms left over is lost)
    expect([t.checkLimit(1, 150), t.checkLimit(1, 150), t.checkLimit(1, 150), t.checkLimit(1, 150)]).toEqual([true, true, true, false]);
    // never above the bucket's size
    expect(t.checkLimit(1, 10_000)).toBe(true);
    expect(t.deficit).toBe(1);
  });

  it('with weights on, counts tokens and fill_count in global sessions and charges each kind its weight', () => {
    const t = new ConnectionThrottle({ ...DEFAULTS, tokens: 2, weightEnabled: true }, 0, never);
    expect(t.maxTokens).toBe(6);
    expect([t.tokensFor(0n, false), t.tokensFor(0n, true), t.tokensFor(7n, false)]).toEqual([3, 1, 2]);
    expect([t.checkLimit(3, 0), t.checkLimit(2, 0), t.checkLimit(1, 0), t.checkLimit(1, 0)]).toEqual([true, true, true, false]);
    const off = new ConnectionThrottle({ ...DEFAULTS, tokens: 2 }, 0, never);
    expect([off.tokensFor(0n, false), off.tokensFor(0n, true), off.tokensFor(7n, false)]).toEqual([1, 1, 1]);
  });

  it('raises global and renew weights below the local one to it, with warnings', () => {
    const warnings: string[] = [];
    const settled = settleWeights({ ...DEFAULTS, globalWeight: 1, localWeight: 4, renewWeight: 2 }, (m) => warnings.push(m));
    expect([settled.globalWeight, settled.localWeight, settled.renewWeight]).toEqual([4, 4, 4]);
    expect(warnings).toHaveLength(2);
    expect(() => new ConnectionThrottle({ ...DEFAULTS, globalWeight: 1, localWeight: 4 }, 0, never)).toThrow(/weights/);
  });

  it('BLUE: the drop chance rises once per freeze_time while the bucket is empty and falls once it refills; drops follow it', () => {
    const random = seededRandom(SEED);
    const t = new ConnectionThrottle({ ...DEFAULTS, tokens: 1, fillTimeMs: 1_000_000, freezeTimeMs: 10, dropIncrease: 0.5, dropDecrease: 0.25 }, 0, random);
    expect(t.checkLimit(1, 0)).toBe(true); // the bucket is empty now
    expect(t.dropChance).toBe(0);
    t.checkLimit(1, 5); // within freeze_time: unchanged
    expect(t.dropChance).toBe(0);
    t.checkLimit(1, 11);
    expect(t.dropChance).toBe(0.5);
    t.checkLimit(1, 22);
    expect(t.dropChance).toBe(1);
    t.checkLimit(1, 33); // at most 1
    expect(t.dropChance).toBe(1);
    // with a chance of 1 every connection is dropped, tokens or not
    expect(t.checkLimit(0, 40)).toBe(false);
    t.checkLimit(1, 2_000_000); // refilled (the bucket full: 0 short ≤ 0 × 1): the chance falls
    expect(t.dropChance).toBe(0.75);
    let dropped = 0;
    for (let i = 0; i < 400; i++) if (!t.checkLimit(0, 2_000_000)) dropped++;
    // 400 draws at 0.75 (no freeze_time passed): about 300 dropped
    expect(dropped, `[TEST_SEED=${SEED}]`).toBeGreaterThan(240);
    expect(dropped, `[TEST_SEED=${SEED}]`).toBeLessThan(360);
  });
});
