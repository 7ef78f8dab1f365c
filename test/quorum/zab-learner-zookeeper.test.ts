// The learner's Zab (engine/quorum/zab-learner.ts, over zab-learner-shell.ts's socket)
// against a real Apache ZooKeeper 3.8 leader. Two ZooKeeper servers (server.1, server.2) of
// a three-server config elect a leader; this test is server.3, a follower whose "server" is
// an in-memory DataTree (test/support/zab-host.ts) that committed txns are applied to:
//   - a fresh learner gets the tree written before it joined by SNAP, a learner that comes
//     back with a recent zxid by DIFF;
//   - writes made through a ZooKeeper client after it joined arrive as PROPOSAL + COMMIT, and
//     its tree equals ZooKeeper's (paths, data, every Stat field);
//   - its ACKs count: with the ZooKeeper follower stopped, writes still commit with the
//     leader and this learner as the quorum (2 of 3);
//   - an observer (server.3 as :observer) syncs and follows by INFORM.
import { describe, it, expect, afterEach } from 'vitest';
import { LearnerShell } from '../../engine/quorum/zab-learner-shell.ts';
import type { ZabLearnerConfig } from '../../engine/quorum/zab-learner.ts';
import { PacketType, takeQuorumPacket, packetTypeName } from '../../engine/quorum/wire.ts';
import { newStat } from '../../engine/core/tree.ts';
import { createLogger } from '../../engine/logger.ts';
import { Cleanups, allocatePorts, serverLines, type PeerPorts, type ZooKeeperPeer } from '../support/ensemble.ts';
import { ZkSession, CreateMode, showData, type Stat } from '../support/zkclient.ts';
import { ZabHost } from '../support/zab-host.ts';
import { waitFor, withDeadline } from '../support/wait.ts';

const DEADLINE_MS = 30_000;
const TICK_MS = 1000; // ensemble.ts: tickTime=1000, initLimit=5, syncLimit=2
const PACKET_BYTES_MAX = 0xfffff + 1024; // jute.maxbuffer + zookeeper.jute.maxbuffer.extrasize
const log = createLogger('zab-learner-test');

const cleanups = new Cleanups();
afterEach(() => cleanups.run(DEADLINE_MS));
const zookeeper = (ports: PeerPorts, lines: string[]): Promise<ZooKeeperPeer> => cleanups.zookeeper(ports, lines);

/** The ZooKeeper pair once one leads and the other follows. */
async function pair(ports: PeerPorts[], lines: string[]): Promise<{ leader: ZooKeeperPeer; follower: ZooKeeperPeer; leaderPorts: PeerPorts }> {
  const peers = await Promise.all([zookeeper(ports[0], lines), zookeeper(ports[1], lines)]);
  const modes = await waitFor(async () => {
    const m = await Promise.all(peers.map((p) => p.mode()));
    return m.includes('leader') && m.includes('follower') ? m : null;
  }, { timeoutMs: DEADLINE_MS, what: 'the ZooKeeper pair to form a quorum' });
  const l = modes.indexOf('leader');
  return { leader: peers[l], follower: peers[1 - l], leaderPorts: ports[l] };
}

async function client(port: number): Promise<ZkSession> {
  const s = await ZkSession.connect(`client-${port}`, port, { sessionTimeoutMs: 10_000 });
  cleanups.push(() => s.dispose());
  return s;
}

interface Joined {
  shell: LearnerShell;
  /** Bytes read from the leader, in order. */
  bytes: Buffer[];
}

function join(leaderPorts: PeerPorts, host: ZabHost, over: Partial<ZabLearnerConfig>): Joined {
  const bytes: Buffer[] = [];
  const config: ZabLearnerConfig = {
    sid: 3n, observer: false, lastLoggedZxid: 0, acceptedEpoch: 0, currentEpoch: 0, configVersion: 0n,
    initLimitTicks: 5, syncLimitTicks: 2, packetBytesMax: PACKET_BYTES_MAX, ...over,
  };
  const shell = new LearnerShell({ host: '127.0.0.1', port: leaderPorts.quorumPort, config, effects: host, tickMs: TICK_MS, log, tap: (c) => bytes.push(Buffer.from(c)) });
  host.durableSink = (zxid) => shell.machine.durable(zxid);
  host.snapshotSink = (zxid) => shell.machine.snapshotSaved(zxid);
  cleanups.push(async () => void (await shell.close()));
  return { shell, bytes };
}

async function serving(host: ZabHost, what: string): Promise<void> {
  await waitFor(() => host.failure !== null ? Promise.reject(new Error(`learner failed: ${host.failure}`)) : host.servingFrom !== null, {
    timeoutMs: DEADLINE_MS, what,
  });
}

/** The packets at the start of what the leader sent, up to the sync packet (the snapshot stream follows a SNAP). */
function firstPackets(bytes: Buffer[], count: number): string[] {
  const all = Buffer.concat(bytes);
  const out: string[] = [];
  let at = 0;
  while (out.length < count) {
    const t = takeQuorumPacket(all, at, PACKET_BYTES_MAX);
    if (t === null) break;
    out.push(`${packetTypeName(t.packet.type)} ${all.subarray(at, at + t.byteCount).toString('hex')}`);
    at += t.byteCount;
    if (t.packet.type === PacketType.SNAP) break;
  }
  return out;
}

/** Every znode ZooKeeper shows through a client: path → data and Stat (numbers). */
async function zkTree(s: ZkSession): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const walk = async (path: string): Promise<void> => {
    const r = await s.getData(path);
    expect(r.err, `getData ${path}`).toBe('OK');
    out[path] = { data: r.data ?? null, stat: statNumbers(r.stat as Stat) };
    const c = await s.getChildren(path);
    for (const name of c.children as string[]) await walk(path === '/' ? `/${name}` : `${path}/${name}`);
  };
  await walk('/');
  return out;
}

function statNumbers(s: Stat): Record<string, number | string> {
  return {
    czxid: Number(s.czxid), mzxid: Number(s.mzxid), ctime: Number(s.ctime), mtime: Number(s.mtime), version: s.version, cversion: s.cversion,
    aversion: s.aversion, ephemeralOwner: `0x${s.ephemeralOwner.toString(16)}`, dataLength: s.dataLength, numChildren: s.numChildren, pzxid: Number(s.pzxid),
  };
}

/** The learner's tree in the same shape. */
function learnerTree(host: ZabHost): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [path, n] of host.tree.nodes) {
    const st = n.statInto(newStat());
    out[path] = { data: showData(n.data), stat: { ...st, ephemeralOwner: `0x${st.ephemeralOwner.toString(16)}` } };
  }
  return out;
}

async function expectSameTree(s: ZkSession, host: ZabHost, lastZxid: bigint): Promise<void> {
  await waitFor(() => host.tree.lastZxid >= Number(lastZxid), { timeoutMs: DEADLINE_MS, what: `the learner to apply 0x${lastZxid.toString(16)}` });
  const zk = await zkTree(s);
  const mine = learnerTree(host);
  for (const p of Object.keys(zk)) expect(mine[p], p).toEqual(zk[p]);
  expect(Object.keys(mine).sort()).toEqual(Object.keys(zk).sort());
}

describe('the learner Zab with a real ZooKeeper 3.8 leader', () => {
  it('syncs by SNAP when fresh and by DIFF when back with a recent zxid, follows PROPOSAL/COMMIT, and its ACKs make the quorum', async () => {
    const ports = await allocatePorts([1, 2, 3]);
    const lines = serverLines(ports);
    const { leader, follower, leaderPorts } = await pair(ports, lines);
    const c = await client(leader.clientPort);
    for (const [p, d] of [['/app', 'root'], ['/app/a', 'one'], ['/app/b', ''], ['/cfg', 'x'.repeat(2000)]] as const) expect((await c.create(p, d)).err).toBe('OK');
    expect((await c.setData('/app/a', 'two')).err).toBe('OK');
    expect((await c.create('/app/eph', 'e', { mode: CreateMode.EPHEMERAL })).err).toBe('OK');
    const before = await c.setData('/app/b', 'bee');

    // (a) a fresh learner: SNAP
    const host = new ZabHost();
    const first = join(leaderPorts, host, {});
    await serving(host, 'the fresh learner to sync');
    console.log(`fresh learner, from the leader: ${firstPackets(first.bytes, 3).join(' | ')}`);
    expect(first.shell.machine.syncType).toBe('SNAP');
    expect(host.currentEpoch).toBe(1);
    expect(host.acceptedEpoch).toBe(1);
    await expectSameTree(c, host, before.zxid!);

    // (b) writes after it joined: PROPOSAL + COMMIT, ACKed
    expect((await c.create('/app/c', 'sea')).err).toBe('OK');
    expect((await c.delete('/app/a')).err).toBe('OK');
    const last = await c.setData('/cfg', 'y');
    await expectSameTree(c, host, last.zxid!);
    const acks = host.sentOf(PacketType.ACK).map((p) => p.zxid);
    expect(acks).toContain(last.zxid);
    const pings = host.sentOf(PacketType.PING);
    console.log(`after the writes: ${acks.length} ACKs, ${pings.length} PING answers; proposals ${host.effects.filter((e) => e.startsWith('log')).length}`);

    // a restart with a recent zxid: DIFF
    await first.shell.close();
    const missed = await c.create('/app/while-away', 'w');
    const back = new ZabHost();
    back.tree = host.tree; // what it had when it left
    back.acceptedEpoch = host.acceptedEpoch;
    back.currentEpoch = host.currentEpoch;
    const second = join(leaderPorts, back, { lastLoggedZxid: host.tree.lastZxid, acceptedEpoch: host.acceptedEpoch, currentEpoch: host.currentEpoch });
    await serving(back, 'the returning learner to sync');
    console.log(`returning learner, from the leader: ${firstPackets(second.bytes, 3).join(' | ')}`);
    expect(second.shell.machine.syncType).toBe('DIFF');
    await expectSameTree(c, back, missed.zxid!);

    // (c) the ZooKeeper follower stops: the leader and this learner are the quorum
    await follower.stop();
    const started = Date.now();
    const during = await c.create('/app/quorum-of-two', 'ok');
    expect(during.err).toBe('OK');
    const more = await c.setData('/app/quorum-of-two', 'still');
    expect(more.err).toBe('OK');
    console.log(`two writes committed with server.2 stopped in ${Date.now() - started} ms`);
    await expectSameTree(c, back, more.zxid!);
    // the leader keeps leading across several syncLimits with only this learner's PINGs and ACKs
    await new Promise((r) => setTimeout(r, 3 * 2 * TICK_MS));
    expect(await leader.mode()).toBe('leader');
    expect((await c.create('/app/later', 'l')).err).toBe('OK');
    expect(back.failure).toBeNull();
    const answers = back.sentOf(PacketType.PING);
    expect(answers.length).toBeGreaterThanOrEqual(4); // the leader pings every tick
    console.log(`PING answers since it came back: ${answers.length}, e.g. zxid 0x${answers[0].zxid.toString(16)} data ${answers[0].data!.length} bytes`);
  }, 120_000);

  it('follows as an observer: OBSERVERINFO, sync, then INFORM', async () => {
    const ports = await allocatePorts([1, 2, 3]);
    const lines = serverLines(ports, [3]);
    const { leader, leaderPorts } = await pair(ports, lines);
    const c = await client(leader.clientPort);
    expect((await c.create('/o', 'before')).err).toBe('OK');
    const host = new ZabHost();
    const j = join(leaderPorts, host, { observer: true });
    await serving(host, 'the observer to sync');
    console.log(`observer, from the leader: ${firstPackets(j.bytes, 3).join(' | ')}`);
    const w = await c.create('/o/after', 'inform');
    expect(w.err).toBe('OK');
    await expectSameTree(c, host, w.zxid!);
    expect(host.effects.some((e) => e.startsWith('inform'))).toBe(true);
    expect(host.sentOf(PacketType.ACK).map((p) => p.zxid & 0xffff_ffffn)).toEqual([0n, 0n]); // NEWLEADER and UPTODATE only
  }, 120_000);
});
