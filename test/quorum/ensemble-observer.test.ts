// Observers (issue 10): three zooid participants and a zooid observer (server.4=...:observer,
// peerType=observer), real processes on loopback. What must hold, as in ZooKeeper:
//   (a) srvr says Mode: observer on it; the leader counts it in zk_synced_observers;
//   (b) it syncs: a write through a participant is read through the observer after sync;
//   (c) a write through the observer is forwarded: its reply comes once committed, and every
//       participant then has it; a session on the observer outlives its timeout while its client
//       pings, and its ephemeral goes when it closes;
//   (d) it does not vote: with it and a follower killed the two participants left still write
//       (were it a voter, two of four would be no quorum); with two participants killed writes
//       stop although the observer is up; one participant back and they go on.
//   (e) an observer killed under a steady write load through the voters fails no write (issue 11).
// Mixed cases (a ZooKeeper observer of zooid, a zooid observer of ZooKeeper): ensemble-observer-mixed.test.ts.
import { describe, it, expect, afterEach } from 'vitest';
import * as path from 'node:path';
import { Cleanups, allocatePorts, oneLeader, serverLines, srvrMode, type ZooidPeer } from '../support/ensemble.ts';
import { readTxnLog } from '../../engine/persistence/txnlog.ts';
import { fourLetterWord } from '../support/servers.ts';
import { waitFor } from '../support/wait.ts';

const DEADLINE_MS = 60_000;
/** The shortest session timeout tickTime 1000 allows (2 ticks). */
const SHORT_SESSION_MS = 2_000;

const cleanups = new Cleanups();
afterEach(() => cleanups.run(), 60_000);

describe('observers', () => {
  it('a zooid observer syncs, serves reads, forwards writes and does not vote', async () => {
    const { peers } = await cleanups.zooidEnsemble([1, 2, 3, 4], [4]);
    const observer = peers[3];
    const participants = peers.slice(0, 3);
    const leader = await oneLeader(peers, 'one leader, two followers and an observer', DEADLINE_MS, [4]);
    expect(await observer.mode()).toBe('observer');
    await waitFor(async () => (await fourLetterWord(leader.clientPort, 'mntr')).includes('zk_synced_observers\t1\n'), {
      timeoutMs: DEADLINE_MS, what: 'the leader to count one synced observer',
    });

    // (b) and (c)
    const onObserver = await cleanups.session('on-observer', observer.clientPort);
    const onParticipants = await Promise.all(participants.map((p) => cleanups.session(`on-${p.sid}`, p.clientPort)));
    expect(await onParticipants[0].create('/via-participant', 'p')).toMatchObject({ err: 'OK' });
    expect(await onObserver.sync('/via-participant')).toMatchObject({ err: 'OK' });
    expect(await onObserver.getData('/via-participant')).toMatchObject({ err: 'OK', data: 'p' });
    expect(await onObserver.create('/via-observer', 'o')).toMatchObject({ err: 'OK' });
    expect(await onObserver.setData('/via-observer', 'o2')).toMatchObject({ err: 'OK' });
    expect(await onObserver.getData('/via-observer')).toMatchObject({ err: 'OK', data: 'o2' });
    for (const s of onParticipants) {
      expect(await s.sync('/via-observer')).toMatchObject({ err: 'OK' });
      expect(await s.getData('/via-observer')).toMatchObject({ err: 'OK', data: 'o2' });
    }

    // a session on the observer lives as long as its client pings (the observer reports the touches
    // to the leader, which expires sessions), and its ephemeral goes when it closes
    const shortSession = await cleanups.session('short-on-observer', observer.clientPort, { sessionTimeoutMs: SHORT_SESSION_MS });
    expect(shortSession.negotiatedTimeoutMs).toBe(SHORT_SESSION_MS);
    expect(await shortSession.create('/observer-eph', '', { mode: 1 })).toMatchObject({ err: 'OK' });
    const onLeader = onParticipants[participants.indexOf(leader)];
    const aliveSinceMs = performance.now();
    while (performance.now() - aliveSinceMs < 3 * SHORT_SESSION_MS) {
      expect(await onLeader.sync('/observer-eph')).toMatchObject({ err: 'OK' });
      expect(await onLeader.exists('/observer-eph'), 'the ephemeral of a live session on the observer').toMatchObject({ err: 'OK' });
      await new Promise((resolve) => setTimeout(resolve, 200)); // how often we look, not what we wait for
    }
    expect(await shortSession.close()).toMatchObject({ err: 'OK' });
    expect(await onLeader.sync('/observer-eph')).toMatchObject({ err: 'OK' });
    expect(await onLeader.exists('/observer-eph')).toMatchObject({ err: 'NONODE' });

    // (d) the observer and a follower die: two of three participants are a quorum, writes go on
    // (were the observer a voter, two of four would not be)
    const followers = participants.filter((p) => p !== leader);
    await observer.kill9();
    await followers[0].kill9();
    const live = participants.filter((p) => p !== followers[0]);
    for (const p of live) {
      const s = onParticipants[participants.indexOf(p)];
      expect(await s.create(`/without-observer-${p.sid}`, ''), `a write through ${p.sid} without the observer`).toMatchObject({ err: 'OK' });
    }
    await Promise.all([observer.restart(), followers[0].restart()]);
    await oneLeader(peers, 'the observer and the follower to rejoin', DEADLINE_MS, [4]);
    const back = await cleanups.session('observer-back', observer.clientPort);
    for (const p of live) {
      expect(await back.sync(`/without-observer-${p.sid}`)).toMatchObject({ err: 'OK' });
      expect(await back.exists(`/without-observer-${p.sid}`)).toMatchObject({ err: 'OK' });
    }

    // two participants die (the leader among them): one participant and the observer are no quorum
    const lastParticipant = followers[0];
    await leader.kill9();
    await followers[1].kill9();
    await waitFor(async () => (await srvrMode(observer.clientPort)) === null && (await srvrMode(lastParticipant.clientPort)) === null, {
      timeoutMs: DEADLINE_MS, what: 'the observer and the last participant to stop serving',
    });
    const refused = await cleanups.session('no-quorum', observer.clientPort, { waitConnected: false, requestTimeoutMs: 5_000 });
    const reply = await refused.create('/no-quorum', '', {}).catch((e: Error) => ({ err: e.message }));
    expect(reply.err).not.toBe('OK');
    // a participant back: two of three participants, writes again, through the observer too
    await followers[1].restart();
    await oneLeader([lastParticipant, followers[1], observer], 'two participants and the observer', DEADLINE_MS, [4]);
    const again = await cleanups.session('quorum-again', observer.clientPort);
    expect(await again.create('/quorum-again', 'q')).toMatchObject({ err: 'OK' });
    expect(await again.exists(`/without-observer-${live[0].sid}`)).toMatchObject({ err: 'OK' });
  }, 180_000);
  // syncEnabled=false (QuorumPeerConfig): an observer keeps neither txn log nor snapshots of its
  // own; it serves all the same, and after a restart the leader syncs it again
  it('a zooid observer with syncEnabled=false serves without logging, and is synced again after a restart', async () => {
    const ports = await allocatePorts([1, 2, 3]);
    const lines = serverLines(ports, [3]);
    const participants = await Promise.all(ports.slice(0, 2).map((p) => cleanups.zooid(p, lines)));
    const observer = await cleanups.zooid(ports[2], lines, { peerType: 'observer', syncEnabled: 'false' });
    const peers = [...participants, observer];
    await oneLeader(peers, 'one leader, a follower and an observer', DEADLINE_MS, [3]);
    const writer = await cleanups.session('writer', participants[0].clientPort);
    const onObserver = await cleanups.session('on-observer', observer.clientPort);
    for (let i = 0; i < 20; i++) expect(await writer.create(`/nosync-${i}`, 'p')).toMatchObject({ err: 'OK' });
    expect(await onObserver.create('/nosync-via-observer', 'o')).toMatchObject({ err: 'OK' });
    expect(await onObserver.sync('/nosync-19')).toMatchObject({ err: 'OK' });
    expect(await onObserver.getData('/nosync-19')).toMatchObject({ err: 'OK', data: 'p' });
    // the participants logged those txns; the observer did not
    const logged = (p: ZooidPeer) => [...readTxnLog(path.join(p.dataDir, 'version-2'), 0)].length;
    for (const p of participants) expect(logged(p), `server ${p.sid}`).toBeGreaterThanOrEqual(21);
    expect(logged(observer), 'the observer').toBe(0);
    // back after kill -9: synced from the leader, it has everything
    await observer.kill9();
    expect(await writer.create('/nosync-while-down', 'p')).toMatchObject({ err: 'OK' });
    await observer.restart();
    await oneLeader(peers, 'the observer back', DEADLINE_MS, [3]);
    const again = await cleanups.session('on-observer-again', observer.clientPort);
    expect(await again.sync('/nosync-while-down')).toMatchObject({ err: 'OK' });
    for (const p of ['/nosync-0', '/nosync-19', '/nosync-via-observer', '/nosync-while-down']) {
      expect(await again.exists(p), p).toMatchObject({ err: 'OK' });
    }
    expect(logged(observer), 'the observer, after its sync').toBe(0);
  }, 180_000);

  // issue 11: an observer's failure never affects writes. Writers on the three voters keep
  // writing while the observer is killed under them; not one write fails or goes missing.
  it('writes through the voters go on, every one acknowledged, while an observer is killed under them', async () => {
    const { peers } = await cleanups.zooidEnsemble([1, 2, 3, 4], [4]);
    const observer = peers[3];
    await oneLeader(peers, 'one leader, two followers and an observer', DEADLINE_MS, [4]);
    const writers = await Promise.all(peers.slice(0, 3).map((p) => cleanups.session(`writer-${p.sid}`, p.clientPort)));
    const reader = await cleanups.session('reader-on-observer', observer.clientPort);
    const written: string[] = [];
    const failures: string[] = [];
    let killed = false;
    let writtenAfterKill = 0;
    const writeLoop = async (s: (typeof writers)[number], sid: number) => {
      for (let i = 0; !killed || writtenAfterKill < 60; i++) {
        const p = `/obs-kill-${sid}-${i}`;
        const reply = await s.create(p, 'w').catch((e: Error) => ({ err: e.message }));
        if (reply.err !== 'OK') failures.push(`${p}: ${reply.err}`);
        else written.push(p);
        if (killed) writtenAfterKill++;
      }
    };
    const loops = writers.map((s, i) => writeLoop(s, i + 1));
    await waitFor(() => written.length >= 60, { timeoutMs: DEADLINE_MS, what: '60 writes before the kill' });
    expect(await reader.getData('/zookeeper')).toMatchObject({ err: 'OK' });
    await observer.kill9();
    killed = true;
    await Promise.all(loops);
    expect(failures, 'writes that failed').toEqual([]);
    expect(writtenAfterKill).toBeGreaterThanOrEqual(60);
    for (const s of writers) {
      expect(await s.sync('/')).toMatchObject({ err: 'OK' });
      for (const p of written) expect((await s.exists(p)).err, p).toBe('OK');
    }
  }, 180_000);
});
