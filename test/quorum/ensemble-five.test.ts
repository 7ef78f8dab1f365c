// A zooid ensemble of five (issue 10): five real zooid processes on loopback, each from its own
// zoo.cfg (tickTime 1000, initLimit 5, syncLimit 2). What must hold:
//   (a) they elect exactly one leader and four followers;
//   (b) a write through any server is read through every other after sync;
//   (c) kill -9 of the leader under a writer: the four survivors (a quorum of the five is three)
//       elect a new leader that serves, and every write a client saw acknowledged is on each of them.
import { describe, it, expect, afterAll } from 'vitest';
import { Cleanups, oneLeader, type ZooidPeer } from '../support/ensemble.ts';
import { waitFor, withDeadline } from '../support/wait.ts';

const DEADLINE_MS = 60_000;
/** Writes acknowledged before the leader is killed (the writer keeps going until its connection drops). */
const WRITES_BEFORE_KILL = 30;

const cleanups = new Cleanups();
afterAll(() => cleanups.run(), 60_000);

describe('a zooid ensemble of five', () => {
  let peers: ZooidPeer[] = [];

  it('elects one leader and four followers, and reads every write through every server after sync', async () => {
    peers = (await cleanups.zooidEnsemble([1, 2, 3, 4, 5])).peers;
    await oneLeader(peers, 'one leader and four followers', DEADLINE_MS);
    const clients = await Promise.all(peers.map((p) => cleanups.session(`on-${p.sid}`, p.clientPort)));
    for (let i = 0; i < peers.length; i++) {
      expect(await clients[i].create(`/from-${peers[i].sid}`, `written via ${peers[i].sid}`)).toMatchObject({ err: 'OK' });
    }
    for (let j = 0; j < peers.length; j++) {
      for (let i = 0; i < peers.length; i++) {
        expect(await clients[j].sync(`/from-${peers[i].sid}`)).toMatchObject({ err: 'OK' });
        expect(await clients[j].getData(`/from-${peers[i].sid}`), `written via ${peers[i].sid}, read via ${peers[j].sid}`)
          .toMatchObject({ err: 'OK', data: `written via ${peers[i].sid}` });
      }
    }
  }, 120_000);

  it('kill -9 of the leader: the four others elect a new leader and keep every acknowledged write', async () => {
    const leader = await oneLeader(peers, 'one leader and four followers', DEADLINE_MS);
    const survivors = peers.filter((p) => p !== leader);
    const writer = await cleanups.session('writer', survivors[0].clientPort);
    expect(await writer.create('/acked', '')).toMatchObject({ err: 'OK' });
    const acked: string[] = [];
    const writing = (async () => {
      for (let n = 0; ; n++) {
        const reply = await writer.create(`/acked/n${n}`, String(n)).catch(() => ({ err: 'TIMEOUT' }));
        if (reply.err !== 'OK') return reply.err;
        acked.push(`n${n}`);
      }
    })();
    await waitFor(() => acked.length >= WRITES_BEFORE_KILL, { timeoutMs: DEADLINE_MS, what: `${WRITES_BEFORE_KILL} writes through server ${survivors[0].sid}` });
    const killedAtMs = performance.now();
    await leader.kill9();
    expect(await withDeadline(writing, DEADLINE_MS, 'the writer to lose its connection')).not.toBe('OK');

    const newLeader = await oneLeader(survivors, 'a new leader among the four survivors', DEADLINE_MS);
    const checker = await cleanups.session('after-failover', newLeader.clientPort);
    expect(await checker.create('/after-failover', 'x')).toMatchObject({ err: 'OK' });
    console.log(`five: leader ${leader.sid} killed; server ${newLeader.sid} led and took a write ${(performance.now() - killedAtMs).toFixed(0)} ms later; ${acked.length} writes acknowledged before`);
    for (const p of survivors) {
      const s = await cleanups.session(`check-${p.sid}`, p.clientPort);
      expect(await s.sync('/acked')).toMatchObject({ err: 'OK' });
      const children = (await s.getChildren('/acked')).children as string[];
      expect(acked.filter((n) => !children.includes(n)), `acknowledged writes missing on server ${p.sid}`).toEqual([]);
      expect(await s.getData('/after-failover')).toMatchObject({ err: 'OK', data: 'x' });
    }
  }, 120_000);
});
