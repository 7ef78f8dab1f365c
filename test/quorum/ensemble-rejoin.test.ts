// A server that rejoins an ensemble of five by SNAP and is the best vote when the leader dies
// just after (found by the five-server tests). Its synced tree is small: it reloads between roles
// quickly and goes LOOKING while the others still reload theirs. Its notification must reach them
// (they queue it for their next round, as ZooKeeper's peers do, LOOKING by then); dropped, the
// others could settle on a worse leader that it and another never follow, and the ensemble lost
// initLimit (5 s) before that leader stepped down ("Timeout while waiting for epoch from quorum").
// Servers 1-4 start first (one of them leads, 4 as a rule), 5 joins; the leader is killed and
// restarted (a new epoch: it comes back by SNAP), then the new leader is killed.
import { describe, it, expect, afterAll } from 'vitest';
import { allocatePorts, Cleanups, oneLeader, serverLines } from '../support/ensemble.ts';

const DEADLINE_MS = 60_000;

const cleanups = new Cleanups();
afterAll(() => cleanups.run(), 60_000);

describe('a server rejoined by SNAP, its new leader killed at once', () => {
  it('the four elect without a round lost to a leader with no quorum', async () => {
    const ports = await allocatePorts([1, 2, 3, 4, 5]);
    const lines = serverLines(ports);
    const firstFour = await Promise.all(ports.slice(0, 4).map((p) => cleanups.zooid(p, lines)));
    await oneLeader(firstFour, 'a leader among 1-4', DEADLINE_MS);
    const peers = [...firstFour, await cleanups.zooid(ports[4], lines)];
    const first = await oneLeader(peers, 'all five', DEADLINE_MS);
    await first.kill9();
    const next = await oneLeader(peers.filter((p) => p !== first), 'a leader among four', DEADLINE_MS);
    const writer = await cleanups.session('new-epoch', next.clientPort);
    expect(await writer.create('/new-epoch', '')).toMatchObject({ err: 'OK' });
    await first.restart();
    await oneLeader(peers, `server ${first.sid} to rejoin`, DEADLINE_MS);
    const marks = new Map(peers.map((p) => [p, p.logTail(100_000).length]));
    const killedAtMs = performance.now();
    await next.kill9();
    const rest = peers.filter((p) => p !== next);
    const after = await oneLeader(rest, 'a leader among four again', DEADLINE_MS);
    const sync = /synced with the leader \((\w+)\)/.exec(first.logTail(1000))?.[1];
    console.log(`rejoin: server ${first.sid} rejoined (${sync}), leader ${next.sid} killed, server ${after.sid} leads after ${(performance.now() - killedAtMs).toFixed(0)} ms`);
    for (const p of rest) {
      const since = p.logTail(100_000).slice(marks.get(p)!);
      expect(since, `server ${p.sid} led a round without a quorum`).not.toMatch(/Timeout while waiting for epoch from quorum/);
    }
  }, 150_000);
});
