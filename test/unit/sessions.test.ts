// Sessions and their expiry (engine/core/sessions.ts), as ZooKeeper's SessionTrackerImpl and
// ExpiryQueue: ids with the server id in the top byte and the clock below it, deadlines
// rounded up to the next tick, a touch moving a session to a later bucket, each due
// session handed out once. Time is a parameter: no clock runs here.
import { describe, it, expect } from 'vitest';
import { JuteWriter } from '../../native-free-io/jute.ts';
import { SessionTable, sessionPassword } from '../../engine/core/sessions.ts';

const WALL = 1_700_000_000_000;

function ids(sessions: { id: bigint }[]): bigint[] {
  return sessions.map((s) => s.id).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

describe('SessionTable: ids', () => {
  it('start as SessionTrackerImpl.initializeNextSessionId: (time << 24) >>> 8 | serverId << 56, then count up', () => {
    // JavaOrders.java: ((1700000000000L << 24) >>> 8) | (1L << 56)
    const table = new SessionTable(2000, 1, WALL);
    const first = table.newSessionId();
    expect(first).toBe(111411200000000000n);
    expect(first >> 56n).toBe(1n);
    expect(first & 0xffffn).toBe(0n); // the low two bytes count sessions
    expect(table.newSessionId()).toBe(first + 1n);
    // 127: the largest id whose sessions stay positive
    expect(new SessionTable(2000, 127, WALL).newSessionId()).toBe(9190668048778919936n);
  });

  it('skip ids already in the table (sessions restored from a snapshot or log)', () => {
    const table = new SessionTable(2000, 3, WALL);
    const probe = new SessionTable(2000, 3, WALL);
    const [a, b, c] = [probe.newSessionId(), probe.newSessionId(), probe.newSessionId()];
    table.add(a, 4000, 0);
    table.add(b, 4000, 0);
    expect(table.newSessionId()).toBe(c);
  });

  // Java's `(long) sid << 56` keeps the id's low 8 bits and wraps into the sign bit: for
  // myid 128..255 ZooKeeper's session ids are negative longs (and myid 256 leaves no trace).
  // (The tree files a negative owner as a session's: tree.test.ts, EphemeralType.)
  it('for server ids 128..256, are the signed 64-bit longs Java computes', () => {
    // JavaOrders.java: sessionId lines
    const java: [number, bigint][] = [[128, -9184018430892703744n], [200, -3995871660161892352n], [255, -32703988075855872n], [256, 39353605962072064n]];
    for (const [serverId, id] of java) {
      const first = new SessionTable(2000, serverId, WALL).newSessionId();
      expect(first, `server ${serverId}`).toBe(id);
      // what the ConnectResponse carries: a jute long
      expect(new JuteWriter(8).long(first).buf.readBigInt64BE(0)).toBe(id);
    }
  });

  it('never start at the container owner (Long.MIN_VALUE): initializeNextSessionId steps past it', () => {
    // server 128 at a clock whose low 40 bits are 0
    const table = new SessionTable(2000, 128, 2 ** 40);
    expect(table.newSessionId()).toBe(-0x8000000000000000n + 1n);
    expect(table.newSessionId()).toBe(-0x8000000000000000n + 2n);
  });

  it('refuse a server id above 254 with extended types on, as EphemeralType.validateServerId', () => {
    // TxnRecords.java "validateServerId" lines
    expect(() => new SessionTable(2000, 255, WALL, true)).toThrow('extendedTypesEnabled is true but Server ID is too large. Cannot be larger than 254');
    expect(new SessionTable(2000, 254, WALL, true).newSessionId() >> 56n).toBe(-2n);
    expect(new SessionTable(2000, 255, WALL, false).newSessionId()).toBe(-32703988075855872n);
  });

  it('give each session a 16-byte password derived from its id alone (valid after a restart)', () => {
    const table = new SessionTable(2000, 1, WALL);
    const s = table.add(0x100n, 4000, 0);
    expect(s.passwd).toHaveLength(16);
    expect(s.passwd).toEqual(sessionPassword(0x100n));
    expect(sessionPassword(0x100n)).toEqual(sessionPassword(0x100n));
    expect(sessionPassword(0x101n)).not.toEqual(sessionPassword(0x100n));
  });
});

describe('SessionTable: expiry', () => {
  it('rounds a deadline up to the next tick, as ExpiryQueue.roundToNextInterval (a deadline on a tick goes to the next)', () => {
    const table = new SessionTable(2000, 1, WALL);
    expect(table.add(1n, 5000, 1000).expiresAtMs).toBe(8000); // 6000 is on a tick: the next one
    expect(table.add(2n, 5000, 1001).expiresAtMs).toBe(8000);
    expect(table.add(3n, 5000, 2999).expiresAtMs).toBe(8000);
    expect(table.add(4n, 5000, 3000).expiresAtMs).toBe(10000);
    const s = table.get(1n)!;
    expect({ conn: s.conn, closing: s.closing, authIds: s.authIds, timeoutMs: s.timeoutMs }).toEqual({ conn: -1, closing: false, authIds: [], timeoutMs: 5000 });
    expect(table.size()).toBe(4);
  });

  it('adding an id twice keeps the first session and its deadline', () => {
    const table = new SessionTable(1000, 1, WALL);
    const s = table.add(1n, 3000, 0);
    expect(table.add(1n, 9000, 5000)).toBe(s);
    expect(s.expiresAtMs).toBe(4000);
    expect(s.timeoutMs).toBe(3000);
  });

  it('hands out each due session once, and none before its bucket\'s time', () => {
    const table = new SessionTable(1000, 1, WALL);
    table.add(1n, 2000, 0); // due 3000
    table.add(2n, 2000, 500); // due 3000
    table.add(3n, 4000, 0); // due 5000
    expect(table.expired(2999)).toEqual([]);
    expect(ids(table.expired(3000))).toEqual([1n, 2n]);
    expect(table.expired(3000)).toEqual([]);
    expect(table.expired(4999)).toEqual([]);
    // a late call hands out every bucket it passed
    table.add(4n, 1000, 1000); // due 3000, a bucket already handed out once
    expect(ids(table.expired(10_000))).toEqual([3n, 4n]);
    expect(table.expired(20_000)).toEqual([]);
    // handed out, not removed: the caller closes them
    expect(table.size()).toBe(4);
  });

  it('a touch moves a session to a later bucket; a touch within its bucket changes nothing', () => {
    const table = new SessionTable(1000, 1, WALL);
    const s = table.add(1n, 3000, 0); // due 4000
    table.touch(s, 500); // 3500 → 4000
    expect(s.expiresAtMs).toBe(4000);
    table.touch(s, 2500); // 5500 → 6000
    expect(s.expiresAtMs).toBe(6000);
    expect(table.expired(4000)).toEqual([]);
    expect(table.expired(5999)).toEqual([]);
    expect(ids(table.expired(6000))).toEqual([1n]);
  });

  it('a session handed out and touched again (its close not yet through) is tracked from its new deadline', () => {
    const table = new SessionTable(1000, 1, WALL);
    const s = table.add(1n, 1000, 0); // due 2000
    expect(ids(table.expired(2000))).toEqual([1n]);
    table.touch(s, 2100);
    expect(s.expiresAtMs).toBe(4000);
    expect(table.expired(3999)).toEqual([]);
    expect(ids(table.expired(4000))).toEqual([1n]);
  });

  it('skips a closing session, and forgets a removed one', () => {
    const table = new SessionTable(1000, 1, WALL);
    table.add(1n, 1000, 0).closing = true;
    table.add(2n, 1000, 0);
    table.add(3n, 1000, 0);
    table.remove(3n);
    table.remove(99n); // unknown: nothing to do
    expect(table.get(3n)).toBeUndefined();
    expect(ids(table.expired(2000))).toEqual([2n]);
    expect(table.size()).toBe(2);
  });

  it('msUntilNextExpiry: the time to the earliest bucket, at most a tick, never negative', () => {
    const table = new SessionTable(2000, 1, WALL);
    expect(table.msUntilNextExpiry(12_345)).toBe(2000);
    table.add(1n, 5000, 1000); // due 8000
    expect(table.msUntilNextExpiry(1000)).toBe(2000);
    expect(table.msUntilNextExpiry(7500)).toBe(500);
    expect(table.msUntilNextExpiry(8000)).toBe(0);
    expect(table.msUntilNextExpiry(9000)).toBe(0);
    table.expired(9000);
    expect(table.msUntilNextExpiry(9000)).toBe(2000);
    // a removed session's bucket goes with it
    table.add(2n, 1000, 9000); // due 12000
    table.remove(2n);
    expect(table.msUntilNextExpiry(11_000)).toBe(2000);
  });

  it('clear forgets every session and deadline', () => {
    const table = new SessionTable(1000, 1, WALL);
    table.add(1n, 1000, 0);
    table.add(2n, 5000, 0);
    table.clear();
    expect(table.size()).toBe(0);
    expect(table.expired(100_000)).toEqual([]);
    expect(table.msUntilNextExpiry(0)).toBe(1000);
  });
});
