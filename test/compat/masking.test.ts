// The masking must hide only what legitimately differs between runs: these
// checks prove that a transcript comparison still fails on wrong zxid
// relationships, wrong times, wrong session owners and wrong codes.

import { describe, expect, it } from 'vitest';
import {
  assertSameTranscript,
  diffLines,
  Masker,
  maskTranscript,
  renderTranscript,
  TranscriptMismatchError,
  type TranscriptEntry,
} from '../support/transcript.ts';

const t0 = BigInt(Date.now());

function stat(czxid: bigint, mzxid: bigint, ctime: bigint, mtime: bigint, owner = 0n): Record<string, unknown> {
  return { czxid, mzxid, ctime, mtime, version: 0, cversion: 0, aversion: 0, ephemeralOwner: owner, dataLength: 0, numChildren: 0, pzxid: czxid };
}

function render(entries: TranscriptEntry[]): string {
  return renderTranscript(maskTranscript(entries));
}

describe('transcript masking', () => {
  it('maps equal values to equal labels, independent of the raw numbers', () => {
    const a: TranscriptEntry[] = [
      { step: 'connect', seen: [{ connected: { sessionId: 0x1000001n } }] },
      { step: 'create', err: 'OK', zxid: 0x10n, stat: stat(0x10n, 0x10n, t0, t0, 0x1000001n) },
      { step: 'set', err: 'OK', zxid: 0x11n, stat: stat(0x10n, 0x11n, t0, t0 + 5n) },
    ];
    const b: TranscriptEntry[] = [
      { step: 'connect', seen: [{ connected: { sessionId: 0x7777n } }] },
      { step: 'create', err: 'OK', zxid: 0x500000003n, stat: stat(0x500000003n, 0x500000003n, t0 + 100n, t0 + 100n, 0x7777n) },
      { step: 'set', err: 'OK', zxid: 0x500000009n, stat: stat(0x500000003n, 0x500000009n, t0 + 100n, t0 + 101n) },
    ];
    expect(render(a)).toBe(render(b));
    expect(render(a)).toContain('"ephemeralOwner":"S1"');
    expect(render(a)).toContain('"mtime":"T(Z2)"');
  });

  it('still sees a failed write that did not consume a zxid', () => {
    const zk: TranscriptEntry[] = [
      { step: 'create', err: 'OK', zxid: 5n },
      { step: 'create again', err: 'NODEEXISTS', zxid: 6n },
    ];
    const other: TranscriptEntry[] = [
      { step: 'create', err: 'OK', zxid: 5n },
      { step: 'create again', err: 'NODEEXISTS', zxid: 5n },
    ];
    expect(() => assertSameTranscript(zk, other, { name: 'zxid check' })).toThrow(TranscriptMismatchError);
  });

  it('flags a time that disagrees with its zxid or runs backwards', () => {
    const masker = new Masker();
    expect(masker.txnTime(t0, 1n)).toBe('T(Z1)');
    expect(masker.txnTime(t0 + 1n, 1n)).toMatch(/^T\?/);
    expect(masker.txnTime(t0 - 10n, 2n)).toMatch(/^T\?.*backwards/);
    expect(masker.txnTime(42n, 3n)).toMatch(/not a wall-clock time/);
    expect(masker.txnTime(0n, 0n)).toBe('0');
  });

  it('accepts hex strings from Python and keeps unknown owners apart', () => {
    const masker = new Masker();
    expect(masker.mask({ zxid: '0x1f', sessionId: '0x10000036bc00003', ephemeralOwner: '0x0' })).toEqual({ zxid: 'Z1', sessionId: 'S1', ephemeralOwner: '0' });
    expect(masker.mask({ ephemeralOwner: '0x10000036bc00004' })).toEqual({ ephemeralOwner: 'S2' });
    expect(masker.mask({ zxid: '-0x1' })).toEqual({ zxid: '-1' });
  });

  it('reports a readable line diff', () => {
    const diff = diffLines('a\nb\nc', 'a\nB\nc');
    expect(diff).toBe('  a\n- b\n+ B\n  c');
    try {
      assertSameTranscript([{ step: 'get', err: 'OK' }], [{ step: 'get', err: 'NONODE' }], { name: 'demo', targetLabel: 'zooid' });
      expect.unreachable('transcripts differ');
    } catch (error) {
      expect((error as Error).message).toContain('- {"step":"get","err":"OK"}');
      expect((error as Error).message).toContain('+ {"step":"get","err":"NONODE"}');
    }
  });
});
