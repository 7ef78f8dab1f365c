// A minority cut off (issue 10): in an ensemble of three, SIGSTOP two servers (frozen, their
// sockets still open: the isolated one hears nothing, as in a partition) and watch the third
// through a client. ZooKeeper's rules: a follower that hears nothing from its leader for
// syncLimit ticks goes LOOKING and drops its clients; a leader without a quorum of synced
// followers for syncLimit ticks steps down and drops its clients. Either way the isolated
// server stops serving: a write and a sync in flight get no success (the client sees
// CONNECTIONLOSS), a new client is not let in, so nothing stale is served as current.
//
// The same scenario runs on three Apache ZooKeeper 3.8 peers and on three zooid servers (tickTime
// 1000, syncLimit 2 for both), twice each: a follower isolated, then the leader isolated. What
// clients see must be the same (the error of the write in flight, a fresh client refused), and
// roughly as quickly (both a few ticks). After SIGCONT the ensemble heals, serves, and every
// acknowledged write is on every server.
import { describe, it, expect, afterAll } from 'vitest';
import { allocatePorts, Cleanups, serverLines, srvrMode, startZooidPeer, startZooKeeperPeer } from '../support/ensemble.ts';
import { ZkSession } from '../support/zkclient.ts';
import { waitFor } from '../support/wait.ts';

const DEADLINE_MS = 60_000;
/** syncLimit × tickTime of ENSEMBLE_TIMING: how long either rule waits before giving up. */
const SYNC_LIMIT_MS = 2_000;
/** How long a fresh client tries to connect to the isolated server before we call it refused. */
const FRESH_CONNECT_MS = 3_000;

type Kind = 'zooid' | 'zookeeper';

interface Member {
  sid: number;
  clientPort: number;
  signal(signal: 'SIGSTOP' | 'SIGCONT'): void;
  logTail(lineCount?: number): string;
}

/** What a client of the isolated server saw. */
interface Observation {
  /** The reply to a create sent right after the cut. */
  inFlightErr: string;
  inFlightMs: number;
  /** The reply to a sync sent after it (a follower forwards it to its leader; a leader answers it once the create commits). */
  inFlightSyncErr: string;
  /** When srvr stopped showing a Mode. */
  notServingMs: number;
  /** A new client, once it stopped serving: 'refused' or 'connected'. */
  freshClient: string;
}

const cleanups = new Cleanups();
afterAll(() => cleanups.run(), 60_000);

async function startEnsemble(kind: Kind): Promise<Member[]> {
  const ports = await allocatePorts([1, 2, 3]);
  const lines = serverLines(ports);
  return Promise.all(ports.map(async (p): Promise<Member> => {
    if (kind === 'zooid') {
      const peer = await startZooidPeer(p, lines);
      cleanups.push(() => peer.stop());
      return peer;
    }
    const peer = await startZooKeeperPeer(p.sid, p.clientPort, lines);
    cleanups.push(() => peer.stop());
    return peer;
  }));
}

async function settled(members: readonly Member[], what: string): Promise<Member> {
  let seen: (string | null)[] = [];
  try {
    await waitFor(async () => {
      seen = await Promise.all(members.map((m) => srvrMode(m.clientPort)));
      return seen.filter((m) => m === 'leader').length === 1 && seen.every((m) => m === 'leader' || m === 'follower');
    }, { timeoutMs: DEADLINE_MS, what, intervalMs: 100 });
  } catch (e) {
    throw new Error(`${(e as Error).message} (modes ${JSON.stringify(seen)})\n${members.map((m) => `--- ${m.sid}\n${m.logTail(15)}`).join('\n')}`);
  }
  return members[seen.indexOf('leader')];
}

/** Freezes every member but `isolated`, watches `isolated` through a client, thaws them, waits for the ensemble to serve. */
async function cutOff(kind: Kind, members: readonly Member[], isolated: Member, acked: string[]): Promise<Observation> {
  const client = await cleanups.session(`${kind}-isolated-${isolated.sid}`, isolated.clientPort, { requestTimeoutMs: DEADLINE_MS });
  for (let n = 0; n < 5; n++) {
    const path = `/acked-${isolated.sid}-${n}`;
    expect(await client.create(path, '')).toMatchObject({ err: 'OK' });
    acked.push(path);
  }
  const others = members.filter((m) => m !== isolated);
  const cutAtMs = performance.now();
  for (const m of others) m.signal('SIGSTOP');
  try {
    const inFlight = client.create(`/during-cut-${isolated.sid}`, '').then((r) => ({ err: r.err, ms: performance.now() - cutAtMs }));
    const inFlightSync = client.sync('/');
    let notServingMs = 0;
    await waitFor(async () => (await srvrMode(isolated.clientPort)) === null && (notServingMs = performance.now() - cutAtMs), {
      timeoutMs: DEADLINE_MS, what: `${kind} server ${isolated.sid} to stop serving\n${isolated.logTail(20)}`, intervalMs: 50,
    });
    const reply = await inFlight;
    const syncReply = await inFlightSync;
    const freshClient = await ZkSession.connect(`${kind}-fresh`, isolated.clientPort, { connectTimeoutMs: FRESH_CONNECT_MS, sessionTimeoutMs: 10_000 })
      .then((s) => {
        cleanups.push(() => s.dispose());
        return (srvrMode(isolated.clientPort).then((m) => `connected (mode ${m})`));
      }, () => 'refused');
    return { inFlightErr: reply.err, inFlightMs: reply.ms, inFlightSyncErr: syncReply.err, notServingMs, freshClient };
  } finally {
    for (const m of others) m.signal('SIGCONT');
    await client.dispose();
  }
}

/** Every path in `acked` is on every member (a fresh client, after sync). */
async function everyAckedEverywhere(kind: Kind, members: readonly Member[], acked: readonly string[]): Promise<void> {
  for (const m of members) {
    const s = await cleanups.session(`${kind}-check-${m.sid}`, m.clientPort);
    expect(await s.sync('/')).toMatchObject({ err: 'OK' });
    const children = (await s.getChildren('/')).children as string[];
    expect(acked.filter((p) => !children.includes(p.slice(1))), `acknowledged writes missing on ${kind} server ${m.sid}`).toEqual([]);
    await s.dispose();
  }
}

async function scenario(kind: Kind): Promise<{ follower: Observation; leader: Observation }> {
  const members = await startEnsemble(kind);
  const acked: string[] = [];
  const firstLeader = await settled(members, `${kind}: one leader and two followers`);
  const follower = await cutOff(kind, members, members.find((m) => m !== firstLeader)!, acked);
  await settled(members, `${kind}: the ensemble to heal after a follower was cut off`);
  await everyAckedEverywhere(kind, members, acked);

  const leader = await settled(members, `${kind}: one leader`);
  const leaderCut = await cutOff(kind, members, leader, acked);
  await settled(members, `${kind}: the ensemble to heal after the leader was cut off`);
  await everyAckedEverywhere(kind, members, acked);
  const after = await cleanups.session(`${kind}-after`, members[0].clientPort);
  expect(await after.create('/after-heal', '')).toMatchObject({ err: 'OK' });
  return { follower, leader: leaderCut };
}

describe('a minority cut off: zooid as ZooKeeper', () => {
  const seen: Partial<Record<Kind, { follower: Observation; leader: Observation }>> = {};

  it('Apache ZooKeeper: the isolated follower and the isolated leader stop serving; the ensemble heals', async () => {
    seen.zookeeper = await scenario('zookeeper');
    console.log(`zookeeper: ${JSON.stringify(seen.zookeeper)}`);
  }, 150_000);

  it('zooid: the same, with what clients see as ZooKeeper\'s', async () => {
    seen.zooid = await scenario('zooid');
    console.log(`zooid: ${JSON.stringify(seen.zooid)}`);
    for (const role of ['follower', 'leader'] as const) {
      const zk = seen.zookeeper?.[role];
      const mine = seen.zooid[role];
      expect(mine.inFlightErr, `the write in flight on an isolated ${role}`).not.toBe('OK');
      expect(mine.inFlightSyncErr, `the sync in flight on an isolated ${role}`).not.toBe('OK');
      expect(mine.freshClient, `a new client of an isolated ${role}`).toBe('refused');
      // no sooner than the rule allows (half of syncLimit: the leader counts from the last ack), no much later than ZooKeeper
      expect(mine.notServingMs, `an isolated ${role} stops serving after about syncLimit ticks`).toBeGreaterThanOrEqual(SYNC_LIMIT_MS / 2);
      if (zk === undefined) continue;
      // On a loaded machine ZooKeeper's followers can take the proposal before SIGSTOP stops them
      // (seen once in CI: its create answered OK): its cut came late, and then its answer is no
      // oracle for a cut that did not. zooid's must still be no success (above).
      if (zk.inFlightErr !== 'OK') expect(mine.inFlightErr, `the write in flight on an isolated ${role}, as ZooKeeper`).toBe(zk.inFlightErr);
      if (zk.inFlightSyncErr !== 'OK') expect(mine.inFlightSyncErr, `the sync in flight on an isolated ${role}, as ZooKeeper`).toBe(zk.inFlightSyncErr);
      expect(mine.freshClient).toBe(zk.freshClient);
      expect(mine.notServingMs, `an isolated ${role} stops serving about as soon as ZooKeeper's (${zk.notServingMs.toFixed(0)} ms)`)
        .toBeLessThanOrEqual(Math.max(2 * zk.notServingMs, zk.notServingMs + 3 * SYNC_LIMIT_MS / 2));
    }
  }, 150_000);
});
