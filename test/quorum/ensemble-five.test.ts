// A zooid ensemble of five (issue 10): five real zooid processes on loopback, each from its own
// zoo.cfg (tickTime 1000, initLimit 5, syncLimit 2). What must hold:
//   (a) they elect exactly one leader and four followers;
//   (b) a write through any server is read through every other after sync;
//   (c) kill -9 of the leader under writers (one per follower, several creates outstanding each):
//       the four survivors elect a new leader that serves, and every write a client saw
//       acknowledged is on each of them; with the new leader killed too, three of five still
//       serve; with a third killed, the two left stop serving; all five back on their dataDirs
//       have every acknowledged write.
import { describe, it, expect, afterAll } from 'vitest';
import { Cleanups, oneLeader, type ZooidPeer } from '../support/ensemble.ts';
import { waitFor, withDeadline } from '../support/wait.ts';

const DEADLINE_MS = 60_000;
/** Writes acknowledged before the leader is killed (the writer keeps going until its connection drops). */
const WRITES_BEFORE_KILL = 200;
/** Creates each writer keeps outstanding. */
const WINDOW = 8;

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

  it('kill -9 of the leader under writers on every follower: the four others elect a new leader and keep every acknowledged write', async () => {
    const leader = await oneLeader(peers, 'one leader and four followers', DEADLINE_MS);
    const survivors = peers.filter((p) => p !== leader);
    const writers = await Promise.all(survivors.map((p) => cleanups.session(`writer-${p.sid}`, p.clientPort)));
    expect(await writers[0].create('/acked', '')).toMatchObject({ err: 'OK' });
    // each writer keeps WINDOW creates outstanding until its connection drops: proposals in flight when the leader dies
    const acked: string[] = [];
    const write = async (w: number, lane: number): Promise<string> => {
      for (let n = 0; ; n++) {
        const name = `w${survivors[w].sid}-l${lane}-n${n}`;
        const reply = await writers[w].create(`/acked/${name}`, name).catch(() => ({ err: 'TIMEOUT' }));
        if (reply.err !== 'OK') return reply.err;
        acked.push(name);
      }
    };
    const writing = Promise.all(writers.flatMap((_, w) => Array.from({ length: WINDOW }, (_, lane) => write(w, lane))));
    await waitFor(() => acked.length >= WRITES_BEFORE_KILL, { timeoutMs: DEADLINE_MS, what: `${WRITES_BEFORE_KILL} writes through the followers` });
    const killedAtMs = performance.now();
    await leader.kill9();
    const ends = await withDeadline(writing, DEADLINE_MS, 'the writers to lose their connections');
    expect(ends.every((e) => e !== 'OK')).toBe(true);

    const newLeader = await oneLeader(survivors, 'a new leader among the four survivors', DEADLINE_MS);
    const checker = await cleanups.session('after-failover', newLeader.clientPort);
    expect(await checker.create('/after-failover', 'x')).toMatchObject({ err: 'OK' });
    console.log(`five: leader ${leader.sid} killed; server ${newLeader.sid} led and took a write ${(performance.now() - killedAtMs).toFixed(0)} ms later; ${acked.length} writes acknowledged before`);
    await everyAckedOn(survivors, acked, 'after the leader died');

    // the new leader dies too: three of five are still a quorum
    await newLeader.kill9();
    const three = survivors.filter((p) => p !== newLeader);
    const third = await oneLeader(three, 'a leader among three of five', DEADLINE_MS);
    const onThree = await cleanups.session('three-of-five', third.clientPort);
    expect(await onThree.create('/three-of-five', '')).toMatchObject({ err: 'OK' });
    acked.push('../three-of-five');
    // and a third: two of five are not; they stop serving
    await third.kill9();
    const two = three.filter((p) => p !== third);
    await waitFor(async () => (await Promise.all(two.map((p) => p.mode()))).every((m) => m === null), {
      timeoutMs: DEADLINE_MS, what: 'two of five to stop serving',
    });
    // all back on their dataDirs: one leader, every acknowledged write everywhere
    await Promise.all([leader, newLeader, third].map((p) => p.restart()));
    await oneLeader(peers, 'all five again', DEADLINE_MS);
    await everyAckedOn(peers, acked, 'after all five restarted');
  }, 180_000);
});

/** Every name in `acked` is a child of /acked (or, with ../, of /) on every one of `peers`, after sync. */
async function everyAckedOn(peers: readonly ZooidPeer[], acked: readonly string[], when: string): Promise<void> {
  for (const p of peers) {
    const s = await cleanups.session(`check-${p.sid}`, p.clientPort);
    expect(await s.sync('/acked')).toMatchObject({ err: 'OK' });
    const children = new Set((await s.getChildren('/acked')).children as string[]);
    for (const c of (await s.getChildren('/')).children as string[]) children.add(`../${c}`);
    expect(acked.filter((n) => !children.has(n)), `acknowledged writes missing on server ${p.sid} ${when}`).toEqual([]);
    await s.dispose();
  }
}
