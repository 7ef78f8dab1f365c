// The log line formats: text and JSON, fields (ids in hex), and ids found in messages.
import { describe, expect, it } from 'vitest';
import { WarnLimiter, formatLogLine, idsInMessage } from '../../engine/logger.ts';

const T = new Date('2026-11-21T22:37:04.632Z');

describe('logger', () => {
  it('writes text lines with fields after the message', () => {
    expect(formatLogLine('text', T, 'warn', 'io-0', 'closing connection', { conn: 0x41, session: 0x1000014070c0000n, why: 'bad frame' }))
      .toBe('2026-11-21T22:37:04.632Z WARN [io-0] closing connection conn=0x41 session=0x1000014070c0000 why="bad frame"\n');
    expect(formatLogLine('text', T, 'info', 'main', 'plain', undefined)).toBe('2026-11-21T22:37:04.632Z INFO [main] plain\n');
  });

  it('writes one JSON object per line; fields never overwrite the line\'s own keys', () => {
    const line = formatLogLine('json', T, 'info', 'pipeline', 'expiring "x"\nnow', { session: -1n, msg: 'spoof', n: 3, absent: undefined });
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({ time: '2026-11-21T22:37:04.632Z', level: 'info', thread: 'pipeline', msg: 'expiring "x"\nnow', session: '0xffffffffffffffff', n: 3 });
  });

  it('finds the session a message names', () => {
    expect(idsInMessage('expiring session 0x1000014070c0000, timeout of 30000ms exceeded')).toEqual({ session: 0x1000014070c0000n });
    expect(idsInMessage('nothing here')).toBeUndefined();
  });

  it('rate-limits a repeated warning per source and per kind, then says how many were left out', () => {
    const summaries: [string, number][] = [];
    const limiter = new WarnLimiter({ windowMs: 1000, perSourceMax: 2, perKindMax: 3 }, (kind, n) => summaries.push([kind, n]));
    const allowed = (kind: string, source: number, nowMs: number) => limiter.allow(kind, source, nowMs);
    expect([allowed('a', 1, 0), allowed('a', 1, 1), allowed('a', 1, 2)]).toEqual([true, true, false]); // per source
    expect([allowed('a', 2, 3), allowed('a', 3, 4)]).toEqual([true, false]); // per kind: 3 in all
    expect(allowed('b', 1, 5)).toBe(true); // kinds are counted apart
    expect(limiter.flush(999)).toBe(0); // the window has not ended
    expect(summaries).toEqual([]);
    expect(limiter.flush(1000)).toBe(1);
    expect(summaries).toEqual([['a', 2]]); // 'b' left nothing out: no line
    expect(allowed('a', 1, 1001)).toBe(true); // a new window
    for (let i = 0; i < 10_000; i++) allowed('a', 1, 1002);
    expect(allowed('a', 1, 2001)).toBe(true); // the next window starts at this warning and summarizes the last
    expect(summaries).toEqual([['a', 2], ['a', 9_999]]);
    expect(limiter.flush(1_000_000)).toBe(0);
  });
});
