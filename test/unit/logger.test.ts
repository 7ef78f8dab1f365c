// The log line formats: text and JSON, fields (ids in hex), and ids found in messages.
import { describe, expect, it } from 'vitest';
import { formatLogLine, idsInMessage } from '../../engine/logger.ts';

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
});
