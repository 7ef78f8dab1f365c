// zooid ensembles end to end (engine/workers/quorum-worker.ts): three real zooid processes
// on loopback, each from its own zoo.cfg (server.N lines, tickTime 1000, initLimit 5,
// syncLimit 2) and a myid in its dataDir, with ports picked free. What must hold:
//   (a) they elect one leader; srvr says leader / follower, mntr has zk_peer_state and the
//       leader's zk_synced_followers;
//   (b) a write through any server is read through every other after sync;
//   (c) kill -9 of the leader: the survivors elect a new leader that serves, and every write a
//       client saw acknowledged is on both of them;
//   (d) the killed server restarts on its dataDir, rejoins as a follower and has every
//       acknowledged write, and a write through it reaches the others.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { allocatePorts, oneLeader, serverLines, startZooidPeer, type ZooidPeer } from '../support/ensemble.ts';
import { fourLetterWord } from '../support/servers.ts';
import { ZkSession } from '../support/zkclient.ts';
import { waitFor, withDeadline } from '../support/wait.ts';

const DEADLINE_MS = 60_000;
/** Writes acknowledged before the leader is killed (the writer keeps going until its connection drops). */
const WRITES_BEFORE_KILL = 40;

const cleanups: (() => Promise<void>)[] = [];
async function session(name: string, port: number): Promise<ZkSession> {
  const s = await ZkSession.connect(name, port, { sessionTimeoutMs: 10_000, connectTimeoutMs: DEADLINE_MS, requestTimeoutMs: 20_000 });
  cleanups.push(() => s.dispose());
  return s;
}

const settled = (peers: readonly ZooidPeer[], what: string) => oneLeader(peers, what, DEADLINE_MS);

describe('a zooid ensemble of three', () => {
  let peers: ZooidPeer[] = [];

  beforeAll(async () => {
    const ports = await allocatePorts([1, 2, 3]);
    const lines = serverLines(ports);
    peers = await Promise.all(ports.map((p) => startZooidPeer(p, lines)));
  }, 120_000);

  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await withDeadline(c(), DEADLINE_MS, 'a cleanup').catch((e: Error) => console.error(`cleanup: ${e.message}`));
    await Promise.all(peers.map((p) => p.stop().catch((e: Error) => console.error(`stop ${p.sid}: ${e.message}`))));
  }, 60_000);

  it('elects one leader, shows the roles in srvr and mntr, and reads every write through every server after sync', async () => {
    const leader = await settled(peers, 'one leader and two followers');
    const followers = peers.filter((p) => p !== leader);
    // the quorum worker publishes its counts every half tick: the last follower may serve a moment before
    let leaderMntr = '';
    await waitFor(async () => (leaderMntr = await fourLetterWord(leader.clientPort, 'mntr')).includes('zk_synced_followers\t2\n'), {
      timeoutMs: DEADLINE_MS, what: 'the leader to count two synced followers',
    });
    expect(leaderMntr).toContain('zk_server_state\tleader\n');
    expect(leaderMntr).toContain('zk_peer_state\tleading - broadcast\n');
    expect(leaderMntr).toContain('zk_learners\t2\n');
    for (const f of followers) expect(await fourLetterWord(f.clientPort, 'mntr')).toContain('zk_peer_state\tfollowing - broadcast\n');
    expect(await fourLetterWord(leader.clientPort, 'srvr')).toMatch(/^Proposal sizes last\/min\/max: -?\d+\/-?\d+\/-?\d+$/m);

    // (b) a write through each server, read through each of the others after sync
    const clients = await Promise.all(peers.map((p) => session(`on-${p.sid}`, p.clientPort)));
    for (let i = 0; i < peers.length; i++) {
      expect(await clients[i].create(`/from-${peers[i].sid}`, `written via ${peers[i].sid}`)).toMatchObject({ err: 'OK' });
    }
    for (let j = 0; j < peers.length; j++) {
      for (let i = 0; i < peers.length; i++) {
        expect(await clients[j].sync(`/from-${peers[i].sid}`)).toMatchObject({ err: 'OK' });
        expect(await clients[j].getData(`/from-${peers[i].sid}`)).toMatchObject({ err: 'OK', data: `written via ${peers[i].sid}` });
      }
    }
    // an ephemeral made through a follower is the leader's too, and a change through the leader reaches the follower
    const onFollower = clients[peers.indexOf(followers[0])];
    const onLeader = clients[peers.indexOf(leader)];
    expect(await onFollower.create('/eph', 'mine', { mode: 1 })).toMatchObject({ err: 'OK' });
    expect(await onLeader.sync('/eph')).toMatchObject({ err: 'OK' });
    const eph = await onLeader.exists('/eph');
    expect(eph).toMatchObject({ err: 'OK' });
    expect((eph.stat as { ephemeralOwner: bigint }).ephemeralOwner).toBe(onFollower.sessionId);
    expect(await onLeader.setData('/from-1', 'changed')).toMatchObject({ err: 'OK' });
    expect(await onFollower.sync('/from-1')).toMatchObject({ err: 'OK' });
    expect(await onFollower.getData('/from-1')).toMatchObject({ err: 'OK', data: 'changed' });
  }, 120_000);

  it('kill -9 of the leader: a new leader serves, no acknowledged write is lost, the killed server rejoins and catches up', async () => {
    const leader = await settled(peers, 'one leader and two followers');
    const survivors = peers.filter((p) => p !== leader);
    const writer = await session('writer', survivors[0].clientPort);
    expect(await writer.create('/acked', '')).toMatchObject({ err: 'OK' });

    // a writer keeps creating /acked/n through a follower; the leader dies under it
    const acked: string[] = [];
    let killedAt = 0;
    const writing = (async () => {
      for (let n = 0; ; n++) {
        const reply = await writer.create(`/acked/n${n}`, String(n)).catch(() => ({ err: 'TIMEOUT' }));
        if (reply.err !== 'OK') return reply.err;
        acked.push(`n${n}`);
      }
    })();
    await waitFor(() => acked.length >= WRITES_BEFORE_KILL, { timeoutMs: DEADLINE_MS, what: `${WRITES_BEFORE_KILL} writes through server ${survivors[0].sid}` });
    killedAt = performance.now();
    await leader.kill9();
    const writerEnd = await withDeadline(writing, DEADLINE_MS, 'the writer to lose its connection');
    expect(writerEnd).not.toBe('OK');

    // (c) a new leader, serving
    const newLeader = await settled(survivors, 'a new leader among the survivors');
    const checker = await session('after-failover', newLeader.clientPort);
    expect(await checker.create('/after-failover', 'x')).toMatchObject({ err: 'OK' });
    console.log(`leader ${leader.sid} killed: server ${newLeader.sid} led and took a write ${(performance.now() - killedAt).toFixed(0)} ms later; ${acked.length} writes acknowledged before`);
    for (const p of survivors) {
      const s = await session(`check-${p.sid}`, p.clientPort);
      expect(await s.sync('/acked')).toMatchObject({ err: 'OK' });
      const children = (await s.getChildren('/acked')).children as string[];
      expect(acked.filter((n) => !children.includes(n)), `acknowledged writes missing on server ${p.sid}`).toEqual([]);
    }

    // (d) the killed server comes back as a follower with everything
    await leader.restart();
    await settled(peers, `server ${leader.sid} to rejoin`);
    expect(await leader.mode()).toBe('follower');
    const back = await session('back', leader.clientPort);
    expect(await back.sync('/acked')).toMatchObject({ err: 'OK' });
    const children = (await back.getChildren('/acked')).children as string[];
    expect(acked.filter((n) => !children.includes(n)), 'acknowledged writes missing on the restarted server').toEqual([]);
    expect(await back.getData('/after-failover')).toMatchObject({ err: 'OK', data: 'x' });
    expect(await back.create('/via-restarted', 'y')).toMatchObject({ err: 'OK' });
    expect(await checker.sync('/via-restarted')).toMatchObject({ err: 'OK' });
    expect(await checker.getData('/via-restarted')).toMatchObject({ err: 'OK', data: 'y' });
  }, 180_000);
});
