import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { adler32 } from '../../native-free-io/adler32.ts';

/** The definition, one modulo per byte: slow and obviously right. */
function adler32Reference(buf: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (const byte of buf) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** mulberry32: a seeded PRNG so failures reproduce. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomBytes(seed: number, length: number): Buffer {
  const next = prng(seed);
  const buf = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) buf[i] = (next() * 256) | 0;
  return buf;
}

const SEED = 0x5eed_a32;

describe('adler32', () => {
  it('matches known vectors', () => {
    expect(adler32(Buffer.from('Wikipedia'))).toBe(0x11e60398);
    expect(adler32(Buffer.alloc(0))).toBe(1);
    expect(adler32(Buffer.from('a'))).toBe(0x00620062);
    expect(adler32(Buffer.from('abc'))).toBe(0x024d0127);
    expect(adler32(Buffer.from('message digest'))).toBe(0x29750586);
    expect(adler32(Buffer.from('abcdefghijklmnopqrstuvwxyz'))).toBe(0x90860b20);
  });

  it('is unsigned and exact for long runs of 0xff (the worst case for the deferred modulo)', () => {
    for (const length of [5551, 5552, 5553, 11104, 100_000, 1 << 20]) {
      const buf = Buffer.alloc(length, 0xff);
      const value = adler32(buf);
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value, `length ${length}`).toBe(adler32Reference(buf));
    }
  });

  it(`matches the reference on random buffers, ranges and seeds (seed ${SEED})`, () => {
    const next = prng(SEED);
    for (let round = 0; round < 50; round++) {
      const length = (next() * 20_000) | 0;
      const buf = randomBytes(SEED + round, length);
      expect(adler32(buf), `round ${round} length ${length}`).toBe(adler32Reference(buf));
      const start = (next() * length) | 0;
      const end = start + ((next() * (length - start)) | 0);
      expect(adler32(buf, start, end)).toBe(adler32Reference(buf.subarray(start, end)));
      // continuing from a previous value equals one pass
      const cut = (next() * length) | 0;
      expect(adler32(buf, cut, length, adler32(buf, 0, cut))).toBe(adler32(buf));
    }
  });

  it('rejects a range outside the buffer', () => {
    expect(() => adler32(Buffer.alloc(4), 2, 8)).toThrow(RangeError);
    expect(() => adler32(Buffer.alloc(4), 3, 2)).toThrow(RangeError);
  });

  const hasJava = spawnSync('java', ['-version']).status === 0;
  it.skipIf(!hasJava)('equals java.util.zip.Adler32 (skipped when java is absent)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-adler-'));
    try {
      const source = path.join(dir, 'Adler.java');
      fs.writeFileSync(source, [
        'import java.nio.file.*;',
        'public class Adler {',
        '  public static void main(String[] args) throws Exception {',
        '    for (String name : args) {',
        '      java.util.zip.Adler32 a = new java.util.zip.Adler32();',
        '      a.update(Files.readAllBytes(Paths.get(name)));',
        '      System.out.println(Long.toHexString(a.getValue()));',
        '    }',
        '  }',
        '}',
      ].join('\n'));
      const lengths = [0, 1, 13, 5552, 65_536, 1 << 20];
      const files: string[] = [];
      const expected: string[] = [];
      lengths.forEach((length, i) => {
        const buf = i === lengths.length - 1 ? Buffer.alloc(length, 0xff) : randomBytes(SEED ^ length, length);
        const file = path.join(dir, `b${i}`);
        fs.writeFileSync(file, buf);
        files.push(file);
        expected.push(adler32(buf).toString(16));
      });
      const run = spawnSync('java', [source, ...files], { encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout.trim().split('\n')).toEqual(expected);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
