// Observers across implementations (issue 10): an Apache ZooKeeper 3.8 observer
// (server.4=...:observer, peerType=observer) on an ensemble of three zooid participants, and a
// zooid observer on an ensemble of three ZooKeeper participants. Each syncs from the other kind's
// leader, serves reads, and forwards writes (the reply once committed).
import { describe, it, expect, afterEach } from 'vitest';
import { allocatePorts, Cleanups, oneLeader, serverLines } from '../support/ensemble.ts';
import { waitFor } from '../support/wait.ts';

const DEADLINE_MS = 60_000;

const cleanups = new Cleanups();
afterEach(() => cleanups.run(), 60_000);

describe('a ZooKeeper observer on a zooid-led ensemble', () => {
  it('syncs from a zooid leader, serves reads and forwards writes', async () => {
    const ports = await allocatePorts([1, 2, 3, 4]);
    const lines = serverLines(ports, [4]);
    const zooids = await Promise.all(ports.slice(0, 3).map((p) => cleanups.zooid(p, lines)));
    await oneLeader(zooids, 'three zooid participants', DEADLINE_MS);
    const zk = await cleanups.zookeeper(ports[3], lines, { peerType: 'observer' });
    await waitFor(async () => (await zk.mode()) === 'observer', { timeoutMs: DEADLINE_MS, what: `the ZooKeeper observer to serve\n${zk.logTail()}` });
    const onZooid = await cleanups.session('on-zooid', zooids[0].clientPort);
    const onZk = await cleanups.session('on-zk-observer', zk.clientPort);
    expect(await onZooid.create('/to-zk', 'a')).toMatchObject({ err: 'OK' });
    expect(await onZk.sync('/to-zk')).toMatchObject({ err: 'OK' });
    expect(await onZk.getData('/to-zk')).toMatchObject({ err: 'OK', data: 'a' });
    expect(await onZk.create('/from-zk', 'b')).toMatchObject({ err: 'OK' });
    expect(await onZooid.sync('/from-zk')).toMatchObject({ err: 'OK' });
    expect(await onZooid.getData('/from-zk')).toMatchObject({ err: 'OK', data: 'b' });
  }, 120_000);
});

describe('a zooid observer on a ZooKeeper-led ensemble', () => {
  it('syncs from a ZooKeeper leader, serves reads and forwards writes', async () => {
    const ports = await allocatePorts([1, 2, 3, 4]);
    const lines = serverLines(ports, [4]);
    const zks = await Promise.all(ports.slice(0, 3).map((p) => cleanups.zookeeper(p, lines)));
    await waitFor(async () => (await Promise.all(zks.map((z) => z.mode()))).filter((m) => m === 'leader').length === 1, {
      timeoutMs: DEADLINE_MS, what: 'a ZooKeeper leader',
    });
    const observer = await cleanups.zooid(ports[3], lines, { peerType: 'observer' });
    await waitFor(async () => (await observer.mode()) === 'observer', { timeoutMs: DEADLINE_MS, what: `the zooid observer to serve\n${observer.logTail()}` });
    const onZk = await cleanups.session('on-zk', zks[0].clientPort);
    const onObserver = await cleanups.session('on-zooid-observer', observer.clientPort);
    expect(await onZk.create('/to-zooid', 'a')).toMatchObject({ err: 'OK' });
    expect(await onObserver.sync('/to-zooid')).toMatchObject({ err: 'OK' });
    expect(await onObserver.getData('/to-zooid')).toMatchObject({ err: 'OK', data: 'a' });
    expect(await onObserver.create('/from-zooid', 'b')).toMatchObject({ err: 'OK' });
    expect(await onZk.sync('/from-zooid')).toMatchObject({ err: 'OK' });
    expect(await onZk.getData('/from-zooid')).toMatchObject({ err: 'OK', data: 'b' });
  }, 120_000);
});
