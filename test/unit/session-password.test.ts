// Session passwords are ZooKeeperServer.generatePasswd's: new java.util.Random(id ^
// 0xB3415C00).nextBytes(16). A client whose session was made by Apache ZooKeeper (another
// server of the ensemble, or ZooKeeper before zooid took over its dataDir) reconnects with
// that password, so zooid must compute the same bytes. Expected values: produced by the
// JDK (OpenJDK 17) with exactly that expression (a 10-line Java program, `javac P.java &&
// java P <hex ids>`).
import { describe, it, expect } from 'vitest';
import { sessionPassword, javaRandomBytes } from '../../engine/core/sessions.ts';

const FROM_JAVA: readonly [string, string][] = [
  ['0', 'f22acd4a97e69d6d20a49bb638eadb38'],
  ['1', '054cc74a37327db215e702e20c73f005'],
  ['100000000000001', '054cc74a37327db215e702e20c73f005'],
  ['1000057e2f30000', '4f89154530a2f1a645fad9f8f9d5e7ee'],
  ['ffffffffffffffff', '20f62cb5648dc2d771471c8a2486a9ee'],
  ['7fffffffffffffff', '20f62cb5648dc2d771471c8a2486a9ee'],
  ['8000000000000000', 'f22acd4a97e69d6d20a49bb638eadb38'],
];

describe('session passwords', () => {
  it.each(FROM_JAVA)('session 0x%s has the password Java computes', (hex, expected) => {
    expect(sessionPassword(BigInt.asIntN(64, BigInt(`0x${hex}`))).toString('hex')).toBe(expected);
    expect(sessionPassword(BigInt(`0x${hex}`)).toString('hex')).toBe(expected); // unsigned spelling too
  });

  it('nextBytes fills a partial last int from its low byte up', () => {
    expect(javaRandomBytes(0n, 6).toString('hex')).toBe(javaRandomBytes(0n, 8).subarray(0, 6).toString('hex'));
    expect(javaRandomBytes(42n, 0).length).toBe(0);
  });
});
