// Seeded randomness for tests (mulberry32): the same seed gives the same sequence in every
// thread, so a producer and a consumer can derive the same record sizes independently.
// Print the seed with every failure so a run can be replayed.

export { seededRandom } from '../../loadgen/random.ts';

/** The seed for this test run: TEST_SEED from the environment, else a fresh one (print it). */
export function testSeed(): number {
  const fromEnv = process.env.TEST_SEED;
  if (fromEnv !== undefined && fromEnv !== '') return Number(fromEnv) >>> 0;
  return (Date.now() ^ (process.pid << 16)) >>> 0;
}

/** A seed as given on a command line: decimal or 0x-prefixed hex, taken as an unsigned 32-bit value. */
export function parseSeed(text: string): number {
  const n = text.startsWith('0x') ? parseInt(text.slice(2), 16) : Number(text);
  if (!Number.isFinite(n)) throw new Error(`not a seed: ${text}`);
  return n >>> 0;
}
