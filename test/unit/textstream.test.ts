// Four-letter-word answers in slices (engine/ops/textstream.ts): slices are bounded, rejoin to
// the whole text, never split a surrogate pair; at most inFlightMax slices are out per
// answer; too many long answers cut the newest; an idle one is aborted.
import { describe, expect, it } from 'vitest';
import { TextSlicer, TextStreams, cutNote } from '../../engine/ops/textstream.ts';
import { seededRandom, testSeed } from '../support/random.ts';

function allSlices(pieces: Iterable<string>, sliceChars: number): string[] {
  const slicer = new TextSlicer(pieces, sliceChars);
  const out: string[] = [];
  for (;;) {
    const s = slicer.next();
    out.push(s.text);
    if (s.last) return out;
  }
}

describe('TextSlicer', () => {
  it('cuts random pieces into bounded slices that rejoin to the text', () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    for (let round = 0; round < 200; round++) {
      const pieces: string[] = [];
      const count = Math.floor(random() * 30);
      for (let i = 0; i < count; i++) {
        const length = Math.floor(random() * (random() < 0.1 ? 200 : 12));
        let piece = '';
        for (let j = 0; j < length; j++) piece += random() < 0.1 ? '\u{1F600}' : String.fromCharCode(97 + Math.floor(random() * 26));
        pieces.push(piece);
      }
      const sliceChars = 2 + Math.floor(random() * 40);
      const slices = allSlices(pieces, sliceChars);
      expect(slices.join(''), `seed ${seed} round ${round}`).toBe(pieces.join(''));
      for (const [i, s] of slices.entries()) {
        expect(s.length, `seed ${seed}`).toBeLessThanOrEqual(sliceChars);
        if (i < slices.length - 1) expect(s.length, `seed ${seed}: only the last slice may be short of a pair`).toBeGreaterThanOrEqual(sliceChars - 1);
        if (s.length > 0) {
          const lastCode = s.charCodeAt(s.length - 1);
          expect(lastCode >= 0xd800 && lastCode <= 0xdbff, `seed ${seed}: slice ends inside a surrogate pair`).toBe(false);
        }
      }
    }
  });

  it('an empty text is one empty last slice; the last slice is known without an extra empty one', () => {
    expect(allSlices([], 8)).toEqual(['']);
    expect(allSlices(['', ''], 8)).toEqual(['']);
    expect(allSlices(['abcd', 'efgh', ''], 8)).toEqual(['abcdefgh']);
    expect(allSlices(['abcdefghi'], 4)).toEqual(['abcd', 'efgh', 'i']);
  });

  it('makes pieces only as slices are asked for', () => {
    let made = 0;
    function* pieces(): Generator<string> {
      for (let i = 0; i < 1000; i++) {
        made++;
        yield 'x'.repeat(10);
      }
    }
    const slicer = new TextSlicer(pieces(), 100);
    slicer.next();
    expect(made).toBeLessThanOrEqual(11);
  });
});

describe('TextStreams', () => {
  function setup(opts: Partial<{ streamsMax: number; inFlightMax: number }> = {}) {
    const out: { conn: number; text: string; last: boolean }[] = [];
    const aborted: number[] = [];
    const streams = new TextStreams(
      { sliceChars: 4, inFlightMax: opts.inFlightMax ?? 2, streamsMax: opts.streamsMax ?? 2, idleMs: 1000 },
      { slice: (conn, text, last) => out.push({ conn, text, last }), abort: (conn) => aborted.push(conn) },
    );
    return { streams, out, aborted };
  }

  it('sends a short answer at once, and a long one a slice per write', () => {
    const { streams, out } = setup();
    streams.start(1, ['abc'], 0);
    expect(out).toEqual([{ conn: 1, text: 'abc', last: true }]);
    expect(streams.size).toBe(0);
    out.length = 0;
    streams.start(2, ['abcdefghijklmnopq'], 0);
    expect(out.map((s) => s.text)).toEqual(['abcd', 'efgh']); // inFlightMax
    streams.more(2, 1);
    expect(out.map((s) => s.text)).toEqual(['abcd', 'efgh', 'ijkl']);
    streams.more(2, 2);
    streams.more(2, 3);
    expect(out.map((s) => s.text).join('')).toBe('abcdefghijklmnopq');
    expect(out.at(-1)!.last).toBe(true);
    expect(out.filter((s) => s.last).length).toBe(1);
    expect(streams.size).toBe(0);
    streams.more(2, 4); // a late write report for a finished answer
    expect(out.length).toBe(5);
  });

  it('cuts a long answer when streamsMax are going out, with a note', () => {
    const { streams, out } = setup({ streamsMax: 1 });
    streams.start(1, ['x'.repeat(100)], 0);
    out.length = 0;
    streams.start(2, ['y'.repeat(100)], 0);
    expect(out).toEqual([{ conn: 2, text: 'yyyy' + cutNote(4, 1), last: true }]);
  });

  it('aborts an answer its client stopped taking, and forgets a dropped connection', () => {
    const { streams, aborted } = setup();
    streams.start(1, ['x'.repeat(100)], 0);
    streams.start(2, ['x'.repeat(100)], 0);
    streams.more(2, 900);
    expect(streams.expire(999)).toBe(0);
    expect(streams.expire(1000)).toBe(1);
    expect(aborted).toEqual([1]);
    streams.drop(2);
    expect(streams.size).toBe(0);
  });
});
