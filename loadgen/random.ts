// Seeded randomness for the load generator: every choice (op, key, value bytes) comes
// from a generator derived from --seed, the worker index and the connection index, so a
// run's request stream is reproducible from its printed seed.

/** A generator of floats in [0, 1) from a 32-bit seed (mulberry32). */
export type Random = () => number;

export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}

/** A 32-bit seed for one stream, mixed from the run seed and stream coordinates (murmur3 fmix). */
export function deriveSeed(seed: number, ...coordinates: number[]): number {
  let h = seed >>> 0;
  for (const c of coordinates) {
    h = Math.imul(h ^ (c >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** A fresh seed when the user gave none (printed with the results so the run can be replayed). */
export function freshSeed(): number {
  return (Date.now() ^ (process.pid << 16) ^ Math.floor(Math.random() * 0x1_0000_0000)) >>> 0;
}

export interface KeyPicker {
  /** A key index in [0, keyCount). */
  next(): number;
}

export function uniformKeys(keyCount: number, random: Random): KeyPicker {
  if (!(keyCount >= 1)) throw new Error(`key count must be >= 1, not ${keyCount}`);
  return { next: () => Math.floor(random() * keyCount) };
}

/** Keys up to which the zipf normaliser (an O(n) sum) is computed; beyond, it is too slow to start. */
export const ZIPF_KEYS_MAX = 10_000_000;
/** Knuth's multiplicative constant, a prime: rank × it mod n is a bijection of [0, n). */
const SCRAMBLE_PRIME = 2_654_435_761;

/**
 * Zipfian keys (Gray et al., "Quickly generating billion-record synthetic databases", as
 * YCSB's ZipfianGenerator) with exponent theta in (0, 1): rank r has weight 1/(r+1)^theta.
 * Ranks are scrambled onto key indexes so hot keys are spread over the key space (and over
 * its parent znodes) instead of being the first few.
 */
export function zipfKeys(keyCount: number, theta: number, random: Random): KeyPicker {
  if (!(keyCount >= 1 && keyCount <= ZIPF_KEYS_MAX)) throw new Error(`zipf key count must be in [1, ${ZIPF_KEYS_MAX}], not ${keyCount}`);
  if (!(theta > 0 && theta < 1)) throw new Error(`zipf theta must be in (0, 1), not ${theta}`);
  if (keyCount === 1) return { next: () => 0 };
  let zetaN = 0;
  for (let i = 1; i <= keyCount; i++) zetaN += 1 / Math.pow(i, theta);
  const zeta2 = 1 + 1 / Math.pow(2, theta);
  const alpha = 1 / (1 - theta);
  const eta = (1 - Math.pow(2 / keyCount, 1 - theta)) / (1 - zeta2 / zetaN);
  const secondRankAt = 1 + Math.pow(0.5, theta);
  const scramble = SCRAMBLE_PRIME % keyCount;
  const scrambleOf = (rank: number) => (rank * scramble) % keyCount;
  return {
    next(): number {
      const u = random();
      const uz = u * zetaN;
      let rank: number;
      if (uz < 1) rank = 0;
      else if (uz < secondRankAt) rank = 1;
      else rank = Math.min(keyCount - 1, Math.floor(keyCount * Math.pow(eta * u - eta + 1, alpha)));
      return scrambleOf(rank);
    },
  };
}
