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
