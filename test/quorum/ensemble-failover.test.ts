// kill -9 of a three-server ensemble's leader under a pipelined write load (issue 10):
// clients connected to the two followers keep many async creates in flight each when the
// leader is SIGKILLed. What must hold:
//   - a new leader serves: a write sent after the kill is acknowledged within 2 s of it
//     (measured and printed; ZooKeeper 3.8 is run through the same steps for comparison);
//   - not one acknowledged write is lost: every create a client saw OK is on both survivors
//     and on the killed server once it has restarted on its dataDir and rejoined;
//   - the survivors' sessions survive: the same session ids, their ephemerals still there
//     (owned by them), no SESSIONEXPIRED anywhere, and they write again.
// Real processes and sockets on loopback; tickTime 1000, initLimit 5, syncLimit 2.
import { describe, it, expect, afterEach } from 'vitest';
import {
  allocatePorts, oneLeader, serverLines, srvrMode, startZooKeeperPeer, startZooidPeer, type PeerPorts, type ZooKeeperPeer,
} from '../support/ensemble.ts';
import { ZkSession, CreateMode } from '../support/zkclient.ts';
import { waitFor, withDeadline } from '../support/wait.ts';

const DEADLINE_MS = 60_000;
/** Sessions on each follower, and creates each keeps in flight. */
const CLIENTS_PER_FOLLOWER = 2;
const IN_FLIGHT_PER_CLIENT = 25;
/** Creates acknowledged (over all clients) before the leader is killed. */
const ACKED_BEFORE_KILL = 400;
/** Issue 10: a new leader serves within this of the kill (loopback). */
const FAILOVER_MS_MAX = 2_000;
/** After the first post-kill acknowledgement, how many more the load runs for before it stops. */
const ACKED_AFTER_FAILOVER = 200;

/** One member as the test drives it, zooid or ZooKeeper. */
interface Member {
  sid: number;
  clientPort: number;
  mode(): Promise<string | null>;
  kill9(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
  logTail(): string;
}

async function zooidMembers(ports: PeerPorts[], lines: string[]): Promise<Member[]> {
  const peers = await Promise.all(ports.map((p) => startZooidPeer(p, lines)));
  return peers.map((p) => ({
    sid: p.sid, clientPort: p.clientPort, mode: () => p.mode(), kill9: () => p.kill9(), restart: () => p.restart(),
    stop: () => p.stop(), logTail: () => p.logTail(20),
  }));
}

async function zookeeperMembers(ports: PeerPorts[], lines: string[]): Promise<Member[]> {
  const peers = await Promise.all(ports.map((p) => startZooKeeperPeer(p.sid, p.clientPort, lines)));
  return peers.map((first) => {
    let peer: ZooKeeperPeer = first;
    return {
      sid: first.sid, clientPort: first.clientPort, mode: () => srvrMode(first.clientPort), kill9: () => peer.kill9(),
      restart: async () => void (peer = await startZooKeeperPeer(first.sid, first.clientPort, lines, first.dir)),
      stop: () => peer.stop(), logTail: () => peer.logTail(20),
    };
  });
}

/** One leader and two followers (the failure names the modes and each log's tail). */
async function settled(members: readonly Member[], what: string): Promise<Member> {
  let seen: (string | null)[] = [];
  await waitFor(async () => {
    seen = await Promise.all(members.map((m) => m.mode()));
    return seen.filter((m) => m === 'leader').length === 1 && seen.every((m) => m === 'leader' || m === 'follower');
  }, { timeoutMs: DEADLINE_MS, what: `${what} (modes ${JSON.stringify(seen)})\n${members.map((m) => `--- server ${m.sid}\n${m.logTail()}`).join('\n')}`, intervalMs: 100 });
  return members[seen.indexOf('leader')];
}

/** A writer's record: every create it saw OK, and the first OK of a create sent after the kill. */
interface Writer {
  session: ZkSession;
  sessionId: bigint;
  acked: string[];
  errors: Map<string, number>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await withDeadline(c(), DEADLINE_MS, 'a cleanup').catch((e: Error) => console.error(`cleanup: ${e.message}`));
}, 120_000);

async function session(name: string, port: number): Promise<ZkSession> {
  const s = await ZkSession.connect(name, port, { sessionTimeoutMs: 10_000, connectTimeoutMs: DEADLINE_MS, requestTimeoutMs: 30_000 });
  cleanups.push(() => s.dispose());
  return s;
}

async function failoverUnderLoad(kind: 'zooid' | 'zookeeper'): Promise<number> {
  const ports = await allocatePorts([1, 2, 3]);
  const lines = serverLines(ports);
  const members = kind === 'zooid' ? await zooidMembers(ports, lines) : await zookeeperMembers(ports, lines);
  cleanups.push(async () => void (await Promise.all(members.map((m) => m.stop().catch((e: Error) => console.error(`stop ${m.sid}: ${e.message}`))))));
  const leader = await settled(members, `${kind}: one leader and two followers`);
  const survivors = members.filter((m) => m !== leader);

  const setup = await session(`${kind}-setup`, survivors[0].clientPort);
  expect(await setup.create('/load', '')).toMatchObject({ err: 'OK' });
  const writers: Writer[] = [];
  for (const m of survivors) {
    for (let c = 0; c < CLIENTS_PER_FOLLOWER; c++) {
      const name = `w${m.sid}-${c}`;
      const s = await session(`${kind}-${name}`, m.clientPort);
      expect(await s.create(`/eph-${name}`, name, { mode: CreateMode.EPHEMERAL })).toMatchObject({ err: 'OK' });
      writers.push({ session: s, sessionId: s.sessionId, acked: [], errors: new Map() });
    }
  }

  // every writer keeps IN_FLIGHT_PER_CLIENT creates out; a slot sends its next one when its last is answered
  let killedAtMs = Infinity;
  let firstAckAfterKillMs = Infinity;
  let stopping = false;
  let ackedTotal = 0;
  let ackedAfterFailover = 0;
  const slots: Promise<void>[] = [];
  writers.forEach((w, wi) => {
    for (let slot = 0; slot < IN_FLIGHT_PER_CLIENT; slot++) {
      slots.push((async () => {
        for (let n = 0; !stopping; n++) {
          const name = `c${wi}-s${slot}-n${n}`;
          const sentAtMs = performance.now();
          const reply = await w.session.create(`/load/${name}`, name).catch(() => ({ err: 'TIMEOUT' }));
          if (reply.err !== 'OK') {
            w.errors.set(reply.err, (w.errors.get(reply.err) ?? 0) + 1);
            if (!w.session.isConnected) await waitFor(() => w.session.isConnected || w.session.isExpired || stopping, { timeoutMs: DEADLINE_MS, what: `writer ${wi} to reconnect`, intervalMs: 5 });
            continue;
          }
          w.acked.push(name);
          ackedTotal++;
          if (sentAtMs > killedAtMs) {
            firstAckAfterKillMs = Math.min(firstAckAfterKillMs, performance.now());
            ackedAfterFailover++;
          }
        }
      })());
    }
  });
  await waitFor(() => ackedTotal >= ACKED_BEFORE_KILL, { timeoutMs: DEADLINE_MS, what: `${ACKED_BEFORE_KILL} creates acknowledged before the kill` });
  const ackedAtKill = ackedTotal;
  killedAtMs = performance.now();
  await leader.kill9();
  await waitFor(() => ackedAfterFailover >= ACKED_AFTER_FAILOVER, {
    timeoutMs: DEADLINE_MS, what: `${ACKED_AFTER_FAILOVER} creates acknowledged after the kill\n${survivors.map((m) => `--- server ${m.sid}\n${m.logTail()}`).join('\n')}`,
  });
  stopping = true;
  await withDeadline(Promise.all(slots), DEADLINE_MS, 'the writers to stop');
  const failoverMs = firstAckAfterKillMs - killedAtMs;
  const errors = new Map<string, number>();
  for (const w of writers) for (const [e, n] of w.errors) errors.set(e, (errors.get(e) ?? 0) + n);
  console.log(`${kind}: leader ${leader.sid} killed with ${writers.length} × ${IN_FLIGHT_PER_CLIENT} creates in flight through its followers ` +
    `(${ackedAtKill} acknowledged before): the first create sent after the kill was acknowledged ${failoverMs.toFixed(0)} ms after it; ` +
    `${ackedTotal} acknowledged in all; failed replies ${JSON.stringify(Object.fromEntries(errors))}`);

  // the survivors' sessions: same ids, never expired, ephemerals theirs, and they still write
  for (const [i, w] of writers.entries()) {
    expect(w.session.sessionId, `writer ${i}'s session id`).toBe(w.sessionId);
    expect(w.session.isExpired, `writer ${i}'s session expired`).toBe(false);
    expect(w.errors.get('SESSIONEXPIRED') ?? 0, `writer ${i} saw SESSIONEXPIRED`).toBe(0);
    expect(await w.session.create(`/after-${i}`, '')).toMatchObject({ err: 'OK' });
  }
  const newLeader = await settled(survivors, `${kind}: a new leader among the survivors`);
  expect(survivors).toContain(newLeader);

  // every acknowledged create and every writer's ephemeral, on both survivors
  const acked = writers.flatMap((w) => w.acked);
  const check = async (m: Member, where: string) => {
    const s = await session(`${kind}-check-${m.sid}-${where}`, m.clientPort);
    expect(await s.sync('/load')).toMatchObject({ err: 'OK' });
    const children = new Set((await s.getChildren('/load')).children as string[]);
    const missing = acked.filter((n) => !children.has(n));
    expect(missing.slice(0, 10), `${missing.length} acknowledged creates missing on server ${m.sid} (${where})`).toEqual([]);
    for (const [i, w] of writers.entries()) {
      const name = `w${survivors[Math.floor(i / CLIENTS_PER_FOLLOWER)].sid}-${i % CLIENTS_PER_FOLLOWER}`;
      const eph = await s.exists(`/eph-${name}`);
      expect(eph, `writer ${i}'s ephemeral on server ${m.sid} (${where})`).toMatchObject({ err: 'OK' });
      expect((eph.stat as { ephemeralOwner: bigint }).ephemeralOwner).toBe(w.sessionId);
    }
  };
  for (const m of survivors) await check(m, 'survivor');

  // the killed server restarts on its dataDir, rejoins as a follower and has all of it
  await leader.restart();
  await settled(members, `${kind}: server ${leader.sid} to rejoin`);
  expect(await leader.mode()).toBe('follower');
  await check(leader, 'restarted');
  return failoverMs;
}

describe('kill -9 of the leader under a pipelined write load', () => {
  it('zooid: a new leader serves within 2 s, no acknowledged write is lost, sessions on the survivors live on', async () => {
    const failoverMs = await failoverUnderLoad('zooid');
    expect(failoverMs).toBeLessThan(FAILOVER_MS_MAX);
  }, 240_000);

  it('ZooKeeper 3.8 through the same steps (the comparison)', async () => {
    await failoverUnderLoad('zookeeper');
  }, 240_000);
});
