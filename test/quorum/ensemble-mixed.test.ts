// Mixed ensembles: zooid processes and Apache ZooKeeper 3.8 (Debian's QuorumPeerMain) in one
// ensemble of three, all from zoo.cfg files with the same server.N lines, started empty.
// With equal histories the highest sid leads — when it is up before the others decide: sid 3
// starts first and the others once its election port takes connections. So:
//   1 zooid (sid 3) + 2 ZooKeeper: zooid leads ZooKeeper followers;
//   2 zooid + 1 ZooKeeper (sid 3): zooid servers follow a ZooKeeper leader.
// In both, srvr shows one leader and two followers, and a write through any server is read
// through every other after sync. Then the leader is killed: the other two elect a new leader
// of the other kind, and the killed server comes back as its follower with every write.
// Migration: in an ensemble of three ZooKeeper servers with data, a follower and then the
// leader are replaced by zooid on their own dataDirs (snapshots, logs, epoch files as
// ZooKeeper left them): each rejoins with everything, and the ensemble serves throughout.
import { describe, it, expect, afterEach } from 'vitest';
import * as path from 'node:path';
import { allocatePorts, serverLines, startZooKeeperPeer, startZooidPeer, srvrMode, type PeerPorts } from '../support/ensemble.ts';
import { tcpAccepts } from '../support/servers.ts';
import { ZkSession } from '../support/zkclient.ts';
import { waitFor, withDeadline } from '../support/wait.ts';
import { readTxnLog } from '../../engine/persistence/txnlog.ts';

const DEADLINE_MS = 60_000;

type Kind = 'zooid' | 'zookeeper';

interface Member {
  sid: number;
  kind: Kind;
  clientPort: number;
  kill9(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
  logTail(lineCount?: number): string;
  /** A zooid member's dataDir (its txn log is read by the TRUNC case); null for ZooKeeper. */
  dataDir: string | null;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await withDeadline(c(), DEADLINE_MS, 'a cleanup').catch((e: Error) => console.error(`cleanup: ${e.message}`));
}, 60_000);

async function session(name: string, port: number): Promise<ZkSession> {
  const s = await ZkSession.connect(name, port, { sessionTimeoutMs: 10_000, connectTimeoutMs: DEADLINE_MS, requestTimeoutMs: 20_000 });
  cleanups.push(() => s.dispose());
  return s;
}

/** Starts sids 1..3 as `kinds` says, the last one first; every member is stopped after the test. */
async function ensemble(kinds: readonly Kind[]): Promise<Member[]> {
  const ports = await allocatePorts(kinds.map((_, i) => i + 1));
  const lines = serverLines(ports);
  const start = async (p: PeerPorts, i: number): Promise<Member> => {
    if (kinds[i] === 'zooid') {
      const peer = await startZooidPeer(p, lines);
      cleanups.push(() => peer.stop());
      return {
        sid: p.sid, kind: 'zooid', clientPort: p.clientPort, kill9: () => peer.kill9(), restart: () => peer.restart(), stop: () => peer.stop(),
        logTail: (lineCount = 20) => peer.logTail(lineCount), dataDir: peer.dataDir,
      };
    }
    // a ZooKeeper peer restarted runs as a new process on the same dataDir
    let zk = await startZooKeeperPeer(p.sid, p.clientPort, lines);
    const member: Member = {
      sid: p.sid, kind: 'zookeeper', clientPort: p.clientPort,
      kill9: () => zk.kill9(),
      restart: async () => {
        zk = await startZooKeeperPeer(p.sid, p.clientPort, lines, zk.dir);
      },
      stop: () => zk.stop(),
      logTail: (lineCount = 20) => zk.logTail(lineCount),
      dataDir: null,
    };
    cleanups.push(() => member.stop());
    return member;
  };
  const last = ports.length - 1;
  const first = await start(ports[last], last);
  await waitFor(() => tcpAccepts(ports[last].electionPort), { timeoutMs: DEADLINE_MS, what: `server ${ports[last].sid}'s election port` });
  const rest = await Promise.all(ports.slice(0, last).map((p, i) => start(p, i)));
  return [...rest, first];
}

async function settled(members: readonly Member[], what: string): Promise<Member> {
  let seen: (string | null)[] = [];
  await waitFor(async () => {
    seen = await Promise.all(members.map((m) => srvrMode(m.clientPort)));
    return seen.filter((m) => m === 'leader').length === 1 && seen.every((m) => m === 'leader' || m === 'follower');
  }, { timeoutMs: DEADLINE_MS, what: `${what} (modes ${JSON.stringify(seen)})\n${members.map((m) => `--- ${m.kind} ${m.sid}\n${m.logTail()}`).join('\n')}`, intervalMs: 200 });
  return members[seen.indexOf('leader')];
}

/** A write through each member, read through each member after sync. */
async function everyWriteEverywhere(members: readonly Member[], tag: string): Promise<void> {
  const clients = await Promise.all(members.map((m) => session(`${tag}-${m.kind}-${m.sid}`, m.clientPort)));
  for (let i = 0; i < members.length; i++) {
    expect(await clients[i].create(`/${tag}-${members[i].sid}`, `${tag} via ${members[i].kind} ${members[i].sid}`)).toMatchObject({ err: 'OK' });
  }
  for (let j = 0; j < members.length; j++) {
    for (let i = 0; i < members.length; i++) {
      expect(await clients[j].sync(`/${tag}-${members[i].sid}`)).toMatchObject({ err: 'OK' });
      expect(await clients[j].getData(`/${tag}-${members[i].sid}`), `${tag}: written via ${members[i].sid}, read via ${members[j].sid}`)
        .toMatchObject({ err: 'OK', data: `${tag} via ${members[i].kind} ${members[i].sid}` });
    }
  }
}

async function scenario(kinds: readonly Kind[], firstLeader: Kind): Promise<void> {
  const members = await ensemble(kinds);
  const leader = await settled(members, 'one leader and two followers');
  expect(leader.kind).toBe(firstLeader);
  expect(leader.sid).toBe(3);
  await everyWriteEverywhere(members, 'first');

  // the leader dies: the two others elect one of themselves (the higher sid: 2), of the other kind here
  await leader.kill9();
  const survivors = members.filter((m) => m !== leader);
  const next = await settled(survivors, 'a new leader among the survivors');
  expect(next.sid).toBe(2);
  expect(next.kind).not.toBe(firstLeader);
  await everyWriteEverywhere(survivors, 'second');

  // the old leader comes back on its dataDir and follows the new one, with everything
  await leader.restart();
  const again = await settled(members, `the old leader ${leader.sid} to rejoin`);
  expect(again).toBe(next);
  expect(await srvrMode(leader.clientPort)).toBe('follower');
  await everyWriteEverywhere(members, 'third');
  const back = await session('back', leader.clientPort);
  for (const tag of ['first', 'second']) {
    for (const m of members) {
      if (tag === 'second' && m === leader) continue;
      expect(await back.getData(`/${tag}-${m.sid}`)).toMatchObject({ err: 'OK' });
    }
  }
}

describe('mixed ensembles of zooid and Apache ZooKeeper 3.8', () => {
  it('1 zooid + 2 ZooKeeper: zooid leads; after it dies a ZooKeeper leads and zooid rejoins as its follower', async () => {
    await scenario(['zookeeper', 'zookeeper', 'zooid'], 'zooid');
  }, 300_000);

  it('2 zooid + 1 ZooKeeper: ZooKeeper leads zooid followers; after it dies a zooid leads and ZooKeeper rejoins as its follower', async () => {
    await scenario(['zooid', 'zooid', 'zookeeper'], 'zookeeper');
  }, 300_000);
});

describe('a zooid server synced by a ZooKeeper leader', () => {
  // zooid (sid 3) leads two ZooKeeper followers, logs a txn after both were killed (no quorum
  // ever has it) and dies; the ZooKeeper servers come back and elect one of themselves; zooid
  // comes back and the ZooKeeper leader's LearnerHandler cuts that txn from its log (TRUNC)
  it('has a txn no quorum logged cut from its log by a ZooKeeper leader (TRUNC)', async () => {
    const members = await ensemble(['zookeeper', 'zookeeper', 'zooid']);
    const leader = await settled(members, 'one leader and two followers');
    expect(leader.kind).toBe('zooid');
    await everyWriteEverywhere(members, 'before');
    const followers = members.filter((m) => m !== leader);
    const s = await ZkSession.connect('trunc-writer', leader.clientPort, { sessionTimeoutMs: 20_000, connectTimeoutMs: DEADLINE_MS, requestTimeoutMs: 30_000 });
    cleanups.push(() => s.dispose());
    for (const f of followers) await f.kill9();
    const pending = s.create('/uncommitted', 'never acknowledged').catch(() => ({ err: 'TIMEOUT' }));
    const logDir = path.join(leader.dataDir!, 'version-2');
    let uncommittedZxid = -1;
    await waitFor(() => {
      for (const e of readTxnLog(logDir, 0)) if (e.bytes.includes(Buffer.from('/uncommitted'))) uncommittedZxid = e.zxid;
      return uncommittedZxid > 0;
    }, { timeoutMs: DEADLINE_MS, what: 'the zooid leader to log /uncommitted' });
    await leader.kill9();
    expect((await pending).err).not.toBe('OK');
    await Promise.all(followers.map((f) => f.restart()));
    await settled(followers, 'the two ZooKeeper servers to elect a leader between them');

    await leader.restart();
    await settled(members, 'zooid to rejoin as a follower of the ZooKeeper leader');
    expect(await srvrMode(leader.clientPort)).toBe('follower');
    expect(leader.logTail(10_000)).toMatch(/synced with the leader \(TRUNC\)/);
    expect([...readTxnLog(logDir, 0)].map((e) => e.zxid)).not.toContain(uncommittedZxid);
    for (const m of members) {
      const c = await session(`check-${m.sid}`, m.clientPort);
      expect(await c.sync('/')).toMatchObject({ err: 'OK' });
      const children = (await c.getChildren('/')).children as string[];
      expect(children, `server ${m.sid}`).not.toContain('uncommitted');
      for (const f of members) expect(children, `server ${m.sid}`).toContain(`before-${f.sid}`);
    }
    await everyWriteEverywhere(members, 'after');
  }, 240_000);
});

describe('migrating a ZooKeeper 3.8 ensemble to zooid a server at a time', () => {
  it('replaces a follower, then the leader, each by zooid on its own dataDir; every write is everywhere throughout', async () => {
    const ports = await allocatePorts([1, 2, 3]);
    const lines = serverLines(ports);
    const zks = await Promise.all(ports.map((p) => startZooKeeperPeer(p.sid, p.clientPort, lines)));
    for (const zk of zks) cleanups.push(() => zk.stop());
    const members: Member[] = zks.map((zk) => ({
      sid: zk.sid, kind: 'zookeeper', clientPort: zk.clientPort, kill9: () => zk.kill9(), restart: async () => {}, stop: () => zk.stop(), logTail: () => zk.logTail(20), dataDir: null,
    }));
    let leader = await settled(members, 'the ZooKeeper ensemble to form');
    await everyWriteEverywhere(members, 'zk-only');
    const tags = ['zk-only'];

    for (const which of ['follower', 'leader'] as const) {
      const i = which === 'leader' ? members.indexOf(leader) : members.findIndex((m) => m !== leader && m.kind === 'zookeeper');
      const old = zks[i];
      await old.kill9();
      // the ensemble serves without it (two of three)
      const others = members.filter((_, j) => j !== i);
      await settled(others, `the ensemble without ZooKeeper ${old.sid}`);
      const peer = await startZooidPeer(ports[i], lines, {}, path.join(old.dir, 'data'));
      cleanups.push(() => peer.stop());
      members[i] = {
        sid: old.sid, kind: 'zooid', clientPort: peer.clientPort, kill9: () => peer.kill9(), restart: () => peer.restart(), stop: () => peer.stop(),
        logTail: () => peer.logTail(20), dataDir: peer.dataDir,
      };
      leader = await settled(members, `zooid ${old.sid} on ZooKeeper's dataDir to join`);
      const onZooid = await session(`zooid-${old.sid}`, peer.clientPort);
      for (const tag of tags) {
        for (const m of members) {
          expect(await onZooid.sync(`/${tag}-${m.sid}`)).toMatchObject({ err: 'OK' });
          expect(await onZooid.getData(`/${tag}-${m.sid}`), `${tag}-${m.sid} on zooid ${old.sid}`).toMatchObject({ err: 'OK' });
        }
      }
      await everyWriteEverywhere(members, `after-${which}`);
      tags.push(`after-${which}`);
    }
    expect(members.map((m) => m.kind).filter((k) => k === 'zooid')).toHaveLength(2);
  }, 300_000);
});
