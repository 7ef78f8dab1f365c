// Local sessions (localSessionsEnabled, localSessionsUpgradingEnabled), side by side with
// Apache ZooKeeper 3.8: the same steps against three zooid servers and three ZooKeeper servers
// give the same transcript (errors, zxids relative to the first write, mntr's session counts,
// whether the leader's dump names a session, the leader's dump's Local and Global session sets). What it shows:
// - a session on a follower costs the leader nothing: the leader's global and local session
//   counts stay 0 and its dump does not name it; the follower counts one local session;
// - upgrading on: its first ephemeral create makes it global (two zxids: createSession, then
//   the create), after which the leader counts and dumps it; on the leader itself the same;
// - upgrading off: that create fails EPHEMERALONLOCALSESSION (a zxid spent on an error txn) and
//   no node is made; in a multi the leader's op result is SESSIONEXPIRED (the leader does not
//   know the session); on the leader EPHEMERALONLOCALSESSION;
// - a local session's client that moves to another server is told its session expired (timeOut
//   0); back on its own server it is accepted; closing one spends no zxid.
// Then mixed ensembles (a ZooKeeper leader with a zooid and a ZooKeeper follower; a zooid
// leader with a ZooKeeper and a zooid follower): a local session on each follower writes; its
// ephemeral is refused without upgrading, and upgrades it with.
import { describe, it, expect, afterEach } from 'vitest';
import { allocatePorts, serverLines, startZooKeeperPeer, startZooidPeer, srvrMode, Cleanups, type PeerPorts } from '../support/ensemble.ts';
import { fourLetterWord, tcpAccepts } from '../support/servers.ts';
import { waitFor } from '../support/wait.ts';
import { ZkSession, CreateMode, type Reply } from '../support/zkclient.ts';

type Kind = 'zooid' | 'zookeeper';
const DEADLINE_MS = 60_000;

const cleanups = new Cleanups();
afterEach(() => cleanups.run(), 120_000);

interface Server {
  sid: number;
  kind: Kind;
  clientPort: number;
}

async function startServer(kind: Kind, p: PeerPorts, lines: readonly string[], extra: Record<string, string>): Promise<Server> {
  if (kind === 'zookeeper') {
    const zk = await startZooKeeperPeer(p.sid, p.clientPort, lines, undefined, extra);
    cleanups.push(() => zk.stop());
  } else {
    const peer = await startZooidPeer(p, lines, extra);
    cleanups.push(() => peer.stop());
  }
  return { sid: p.sid, kind, clientPort: p.clientPort };
}

/**
 * Three servers of `kinds` with local sessions on; resolves with the leader and the two followers
 * once they serve. Server 3 starts first and leads (with equal histories the highest sid wins).
 */
async function ensemble(kinds: readonly Kind[], upgrading: boolean): Promise<{ leader: Server; followers: Server[] }> {
  const ports = await allocatePorts([1, 2, 3]);
  const lines = serverLines(ports);
  const extra = { localSessionsEnabled: 'true', localSessionsUpgradingEnabled: String(upgrading) };
  const third = await startServer(kinds[2], ports[2], lines, extra);
  await waitFor(() => tcpAccepts(ports[2].electionPort), { timeoutMs: DEADLINE_MS, what: 'server 3\'s election port' });
  const servers = [...await Promise.all(ports.slice(0, 2).map((p, i) => startServer(kinds[i], p, lines, extra))), third];
  let modes: (string | null)[] = [];
  await waitFor(async () => {
    modes = await Promise.all(servers.map((s) => srvrMode(s.clientPort)));
    return modes.filter((m) => m === 'leader').length === 1 && modes.every((m) => m === 'leader' || m === 'follower');
  }, { timeoutMs: DEADLINE_MS, what: `one leader among ${kinds.join(', ')}`, intervalMs: 100 });
  const leader = servers[modes.indexOf('leader')];
  return { leader, followers: servers.filter((s) => s !== leader) };
}

async function sessionCounts(s: Server): Promise<{ global: number; local: number }> {
  const mntr = await fourLetterWord(s.clientPort, 'mntr');
  const value = (key: string) => Number(new RegExp(`^zk_${key}\\s+(\\d+)`, 'm').exec(mntr)?.[1] ?? NaN);
  return { global: value('global_sessions'), local: value('local_sessions') };
}

/** The session set lines of a dump, bucket counts left out ("Local Session Sets (0)/(0):" → "Local Session Sets /(0)"). */
async function dumpSessionSets(s: Server): Promise<string[]> {
  const dump = await fourLetterWord(s.clientPort, 'dump');
  return [...dump.matchAll(/^((?:Local |Global )?Session Sets) \(\d+\)\/\((\d+)\):$/gm)].map((m) => `${m[1]} /(${m[2]})`);
}

async function dumpNames(s: Server, session: ZkSession): Promise<boolean> {
  return (await fourLetterWord(s.clientPort, 'dump')).includes(`0x${session.sessionId.toString(16)}`);
}

async function session(name: string, s: Server): Promise<ZkSession> {
  return cleanups.session(name, s.clientPort, { connectTimeoutMs: DEADLINE_MS });
}

/** What a ConnectRequest for `from`'s session gets on `to`: its negotiated timeout (0: expired) and session id. */
async function moveTo(from: ZkSession, to: Server): Promise<{ timeOut: number; sameId: boolean }> {
  const id = from.sessionIdBuffer;
  const passwd = from.sessionPassword;
  from.abandon();
  const moved = await ZkSession.connect(`moved-${to.sid}`, to.clientPort, { sessionId: id, sessionPassword: passwd, waitConnected: false, sessionTimeoutMs: 10_000 });
  cleanups.push(() => moved.dispose());
  const entry = await waitFor(() => moved.wire.find((e) => e.kind === 'connected'), { timeoutMs: 20_000, what: `the answer to a session moved to ${to.sid}` });
  return { timeOut: entry.timeOut, sameId: entry.sessionId === id.readBigInt64BE(0) };
}

/** A reply with its zxid relative to `base` (zxids differ between runs only by where they start). */
function rel(reply: Reply, base: bigint): Record<string, unknown> {
  const { err, results } = reply;
  return { err, dz: reply.zxid === undefined ? null : Number(reply.zxid - base), ...(results === undefined ? {} : { results }) };
}

async function transcript(kind: Kind, upgrading: boolean): Promise<Record<string, unknown>> {
  const { leader, followers: [f1, f2] } = await ensemble([kind, kind, kind], upgrading);
  const t: Record<string, unknown> = {};
  const s = await session('on-follower', f1);
  t.afterConnect = { leader: await sessionCounts(leader), follower: await sessionCounts(f1), leaderDumpNamesIt: await dumpNames(leader, s) };
  t.leaderDumpSets = await dumpSessionSets(leader);
  const first = await s.create('/p', 'x');
  const base = first.zxid!;
  t.persistent = rel(first, base);
  t.ephemeral = rel(await s.create('/e', 'x', { mode: CreateMode.EPHEMERAL }), base);
  t.ephemeralExists = (await s.exists('/e')).err;
  t.afterEphemeral = { leader: await sessionCounts(leader), follower: await sessionCounts(f1), leaderDumpNamesIt: await dumpNames(leader, s) };
  t.leaderDumpSetsAfterEphemeral = await dumpSessionSets(leader);
  t.multi = rel(await s.multi([{ op: 'create', path: '/m1' }, { op: 'create', path: '/m2', mode: CreateMode.EPHEMERAL }]), base);
  t.multiPersistentExists = (await s.exists('/m1')).err;

  const onLeader = await session('on-leader', leader);
  t.onLeaderConnect = await sessionCounts(leader);
  t.onLeaderEphemeral = rel(await onLeader.create('/le', 'x', { mode: CreateMode.EPHEMERAL }), base);
  t.onLeaderAfter = await sessionCounts(leader);

  t.movedToFollower = await moveTo(await session('to-move-1', f1), f2);
  t.movedToLeader = await moveTo(await session('to-move-2', f1), leader);
  t.backToItsServer = await moveTo(await session('to-move-3', f1), f1);

  // a local session expires where it lives
  const abandoned = await cleanups.session('abandoned', f2.clientPort, { connectTimeoutMs: DEADLINE_MS, sessionTimeoutMs: 4_000 });
  const localBefore = (await sessionCounts(f2)).local;
  abandoned.abandon();
  await waitFor(async () => (await sessionCounts(f2)).local === localBefore - 1, { timeoutMs: 20_000, what: `${kind}: an abandoned local session to expire on its follower` });
  t.abandonedExpiresOnItsServer = true;

  const closing = await session('closing', f1);
  const last = (await closing.exists('/p')).zxid!;
  const closed = await closing.close();
  t.closeSpendsNoZxid = closed.err === 'OK' && closed.zxid === last;
  return t;
}

describe('local sessions, as ZooKeeper 3.8 has them', () => {
  for (const upgrading of [true, false]) {
    it(`localSessionsUpgradingEnabled=${upgrading}: zooid's transcript is ZooKeeper's`, async () => {
      const zooid = await transcript('zooid', upgrading);
      await cleanups.run();
      const zookeeper = await transcript('zookeeper', upgrading);
      expect(zooid).toEqual(zookeeper);
      // the facts, stated
      expect(zooid.afterConnect).toEqual({ leader: { global: 0, local: 0 }, follower: { global: 0, local: 1 }, leaderDumpNamesIt: false });
      expect(zooid.leaderDumpSets).toEqual(['Local Session Sets /(0)', 'Global Session Sets /(0)']);
      expect(zooid.movedToFollower).toMatchObject({ timeOut: 0 });
      expect(zooid.movedToLeader).toMatchObject({ timeOut: 0 });
      expect(zooid.backToItsServer).toEqual({ timeOut: 10_000, sameId: true });
      expect(zooid.closeSpendsNoZxid).toBe(true);
      if (upgrading) {
        expect(zooid.ephemeral).toEqual({ err: 'OK', dz: 2 }); // createSession, then the create
        expect(zooid.afterEphemeral).toEqual({ leader: { global: 1, local: 0 }, follower: { global: 1, local: 0 }, leaderDumpNamesIt: true });
        expect(zooid.onLeaderEphemeral).toMatchObject({ err: 'OK' });
        expect(zooid.onLeaderAfter).toEqual({ global: 2, local: 0 });
      } else {
        expect(zooid.ephemeral).toEqual({ err: 'EPHEMERALONLOCALSESSION', dz: 1 });
        expect(zooid.ephemeralExists).toBe('NONODE');
        expect(zooid.multiPersistentExists).toBe('NONODE');
        expect(zooid.onLeaderEphemeral).toMatchObject({ err: 'EPHEMERALONLOCALSESSION' });
        expect(zooid.onLeaderAfter).toEqual({ global: 0, local: 1 });
      }
    }, 300_000);
  }
});

describe('local sessions in a mixed ensemble', () => {
  for (const kinds of [['zooid', 'zookeeper', 'zookeeper'], ['zookeeper', 'zooid', 'zooid']] as const) {
    it(`${kinds.join(' + ')}, upgrading off: a local session on a follower of each kind writes, and its ephemeral is refused`, async () => {
      const { leader, followers } = await ensemble(kinds, false);
      expect(leader.kind).toBe(kinds[2]);
      for (const f of followers) {
        const s = await session(`on-${f.kind}-${f.sid}`, f);
        const p = await s.create(`/p-${f.sid}`, 'x'); // the leader lets another server's local session write
        expect(p.err).toBe('OK');
        expect(rel(await s.create(`/e-${f.sid}`, 'x', { mode: CreateMode.EPHEMERAL }), p.zxid!), `${f.kind} follower under a ${leader.kind} leader`)
          .toEqual({ err: 'EPHEMERALONLOCALSESSION', dz: 1 });
        expect(await s.exists(`/e-${f.sid}`)).toMatchObject({ err: 'NONODE' });
        expect(await sessionCounts(leader)).toEqual({ global: 0, local: 0 });
      }
    }, 300_000);

    it(`${kinds.join(' + ')}: a local session on a follower of each kind is upgraded by its ephemeral`, async () => {
      const { leader, followers } = await ensemble(kinds, true);
      expect(leader.kind).toBe(kinds[2]);
      expect(followers.map((f) => f.kind).sort()).toEqual(['zooid', 'zookeeper']);
      for (const f of followers) {
        const s = await session(`on-${f.kind}-${f.sid}`, f);
        expect(await sessionCounts(f), `${f.kind} follower ${f.sid} under a ${leader.kind} leader`).toMatchObject({ local: 1 });
        expect(await dumpNames(leader, s)).toBe(false);
        const p = await s.create(`/p-${f.sid}`, 'x');
        expect(p.err).toBe('OK');
        expect(rel(await s.create(`/e-${f.sid}`, 'x', { mode: CreateMode.EPHEMERAL }), p.zxid!)).toEqual({ err: 'OK', dz: 2 });
        expect(await dumpNames(leader, s)).toBe(true);
        const onLeader = await session(`check-${f.sid}`, leader);
        expect(await onLeader.sync(`/e-${f.sid}`)).toMatchObject({ err: 'OK' });
        const stat = (await onLeader.exists(`/e-${f.sid}`)).stat as { ephemeralOwner: bigint };
        expect(stat.ephemeralOwner).toBe(s.sessionId);
        await s.close();
        await waitFor(async () => (await onLeader.exists(`/e-${f.sid}`)).err === 'NONODE', { timeoutMs: 20_000, what: 'the upgraded session\'s ephemeral to go with it' });
      }
    }, 300_000);
  }
});
