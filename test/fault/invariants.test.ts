// The invariants beyond the register checker, and the torn-tail nemesis's file surgery,
// on hand-made inputs.
import { describe, it, expect } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkAckedWritesKept, checkSeqCreates, seqNumberOf } from './invariants.ts';
import { tearLogTail } from './nemesis.ts';
import type { RegisterOp, SeqCreateOp } from './history.ts';
import { seededRandom, testSeed } from '../support/random.ts';

let id = 0;
const created = (seq: number, invokeMs: number, returnMs: number): SeqCreateOp => ({
  id: id++,
  process: 's0',
  invokeMs,
  returnMs,
  outcome: 'ok',
  path: `/seq/s-${String(seq).padStart(10, '0')}`,
  seq,
});

describe('sequential creates', () => {
  it('accepts increasing numbers, concurrent creates in either order and unknown ones missing', () => {
    const creates = [created(0, 0, 1), created(2, 2, 5), created(1, 3, 4), { ...created(3, 6, 7), outcome: 'unknown' as const, returnMs: Infinity }];
    const children = new Set(['s-0000000000', 's-0000000001', 's-0000000002']);
    expect(checkSeqCreates(creates, children, '/seq')).toEqual([]);
  });

  it('reports a number handed out twice, a number going back in real time, and an acknowledged create lost', () => {
    const reused = checkSeqCreates([created(4, 0, 1), created(4, 2, 3)], null, '/seq');
    expect(reused.map((v) => v.invariant)).toContain('seq-reused');
    expect(checkSeqCreates([created(5, 0, 1), created(3, 2, 3)], null, '/seq').map((v) => v.invariant)).toEqual(['seq-order']);
    const lost = checkSeqCreates([created(0, 0, 1), created(1, 2, 3)], new Set(['s-0000000000']), '/seq');
    expect(lost.map((v) => v.invariant)).toEqual(['acked-create-lost']);
    expect(lost[0].detail).toContain('s-0000000001');
  });

  it('reads the sequence number from the last ten digits', () => {
    expect(seqNumberOf('/fault/seq/s-0000000042')).toBe(42);
    expect(() => seqNumberOf('/fault/seq/s-42')).toThrow();
  });
});

describe('acknowledged writes after recovery', () => {
  const op = (version: number, outcome: RegisterOp['outcome'] = 'ok'): RegisterOp => ({ id: id++, process: 'w0', key: '/r', kind: 'write', invokeMs: 0, returnMs: 1, outcome, value: `v${version}`, version });
  it('passes when the final version is at least the highest acknowledged one', () => {
    expect(checkAckedWritesKept([op(1), op(2)], new Map([['/r', 3]]))).toEqual([]);
  });
  it('reports a final version behind an acknowledged one (unknown ones do not count)', () => {
    expect(checkAckedWritesKept([op(1), op(2), { ...op(5), outcome: 'unknown' }], new Map([['/r', 2]]))).toEqual([]);
    const lost = checkAckedWritesKept([op(1), op(2)], new Map([['/r', 1]]));
    expect(lost.map((v) => v.invariant)).toEqual(['acked-write-lost']);
  });
});

describe('torn-tail nemesis', () => {
  function logWith(entries: Buffer[], tail: Buffer = Buffer.alloc(4096)): { dataDir: string; file: string; end: number } {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fault-torn-'));
    fs.mkdirSync(path.join(dataDir, 'version-2'));
    const header = Buffer.alloc(16);
    header.write('ZKLG', 0, 'latin1');
    header.writeInt32BE(2, 4);
    const parts: Buffer[] = [header];
    for (const txn of entries) {
      const head = Buffer.alloc(12);
      head.writeInt32BE(txn.length, 8);
      parts.push(head, txn, Buffer.from([0x42]));
    }
    const end = parts.reduce((n, p) => n + p.length, 0);
    const file = path.join(dataDir, 'version-2', 'log.100000001');
    fs.writeFileSync(path.join(dataDir, 'version-2', 'log.1'), header); // an older log: not the one torn
    fs.writeFileSync(file, Buffer.concat([...parts, tail]));
    return { dataDir, file, end };
  }

  it('writes a partial entry right after the last complete one of the newest log and changes nothing before it', () => {
    const seed = testSeed();
    const { dataDir, file, end } = logWith([Buffer.alloc(30, 1), Buffer.alloc(50, 2)]);
    const before = fs.readFileSync(file);
    const torn = tearLogTail(dataDir, seededRandom(seed));
    expect(torn, `seed ${seed}`).toMatchObject({ file: 'log.100000001', offset: end });
    const after = fs.readFileSync(file);
    expect(after.subarray(0, end).equals(before.subarray(0, end))).toBe(true);
    if (!('claimedBytes' in torn)) throw new Error('not torn');
    expect(after.readInt32BE(end + 8)).toBe(torn.claimedBytes);
    expect(torn.writtenBytes).toBeLessThan(torn.claimedBytes);
    // the byte where the entry would end is still not the end marker: the entry stays partial
    expect(after[end + 12 + torn.claimedBytes]).toBe(0);
    fs.rmSync(dataDir, { recursive: true });
  });

  it('leaves a log that already ends in a partial entry alone', () => {
    const partial = Buffer.alloc(12 + 5);
    partial.writeInt32BE(40, 8);
    const { dataDir, file } = logWith([Buffer.alloc(30, 1)], Buffer.concat([partial, Buffer.alloc(10)]));
    const before = fs.readFileSync(file);
    expect(tearLogTail(dataDir, seededRandom(1))).toHaveProperty('skipped');
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    fs.rmSync(dataDir, { recursive: true });
  });
});
