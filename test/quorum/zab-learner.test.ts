// The learner's Zab (engine/quorum/zab-learner.ts) with the leader played by hand: packets
// encoded with wire.ts and fed as bytes (split at seeded random points), time as tick()
// calls, the log's durability and snapshots released by the test. An in-memory host
// (test/support/zab-host.ts) applies what is committed to a DataTree. What must hold:
// discovery answers as ZooKeeper 3.8's Learner does (epoch refusal included); DIFF, TRUNC and
// SNAP leave the tree equal to the leader's; no ACK leaves before what it acknowledges is
// durable; PING carries the touched sessions; a silent leader ends the session.
import { describe, it, expect } from 'vitest';
import { ZabLearner, type ZabLearnerConfig } from '../../engine/quorum/zab-learner.ts';
import { PacketType, encodeQuorumPacket, encodeLeaderInfoData, decodeLearnerInfo, decodeIntData, makeZxid, type QuorumPacket } from '../../engine/quorum/wire.ts';
import { DataTree, newStat } from '../../engine/core/tree.ts';
import { type Txn, encodeTxn } from '../../engine/core/txn.ts';
import { SnapshotSerializer, SNAP_HEADER_BYTES } from '../../engine/persistence/snapshot.ts';
import { JuteWriter } from '../../native-free-io/jute.ts';
import { Op, OPEN_ACL_UNSAFE, type TxnHeader } from '../../engine/protocol.ts';
import { ZabHost } from '../support/zab-host.ts';
import { seededRandom } from '../support/random.ts';

const E1 = 0x1_0000_0000;
const E2 = 0x2_0000_0000;
const SEED = Number(process.env.ZAB_TEST_SEED ?? 1234);

function config(over: Partial<ZabLearnerConfig> = {}): ZabLearnerConfig {
  return {
    sid: 3n, observer: false, lastLoggedZxid: 0, acceptedEpoch: 0, currentEpoch: 0, configVersion: 0n,
    initLimitTicks: 5, syncLimitTicks: 2, packetBytesMax: 1 << 20, ...over,
  };
}

function setup(over: Partial<ZabLearnerConfig> = {}, host = new ZabHost()): { z: ZabLearner; host: ZabHost } {
  const z = new ZabLearner(config(over), host);
  host.durableSink = (zxid) => z.durable(zxid);
  host.snapshotSink = (zxid) => z.snapshotSaved(zxid);
  return { z, host };
}

function createTxn(zxid: number, path: string, data = 'v', sessionId = 0x42n): Buffer {
  const hdr: TxnHeader = { sessionId, cxid: zxid & 0xff, zxid, timeMs: 1_700_000_000_000 + zxid % 1000, type: Op.create };
  const txn: Txn = { type: Op.create, path, data: Buffer.from(data), acls: [...OPEN_ACL_UNSAFE], ephemeral: false, parentCVersion: -1, ttlMs: 0 };
  const w = new JuteWriter(256);
  encodeTxn(w, hdr, txn);
  return w.copy();
}

function packet(type: number, zxid: number | bigint, data: Buffer | null = null): QuorumPacket {
  return { type, zxid: BigInt(zxid), data, authinfo: null };
}

const proposal = (zxid: number, path: string, data?: string) => packet(PacketType.PROPOSAL, zxid, createTxn(zxid, path, data));
const commit = (zxid: number) => packet(PacketType.COMMIT, zxid);

/** Feeds packets (and raw stream bytes) as one byte stream cut at seeded random points, as a socket delivers it. */
function feed(z: ZabLearner, parts: (QuorumPacket | Buffer)[], seed = SEED): void {
  const bytes = Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : encodeQuorumPacket(p))));
  const random = seededRandom(seed);
  let pending = Buffer.alloc(0);
  for (let at = 0; at < bytes.length;) {
    const n = Math.min(bytes.length - at, 1 + Math.floor(random() * 64));
    pending = Buffer.concat([pending, bytes.subarray(at, at + n)]);
    at += n;
    pending = pending.subarray(z.receive(pending));
  }
  expect(pending.length, `seed ${seed}: bytes left unconsumed`).toBe(0);
}

/** Discovery to the sync packet: LEADERINFO for epoch, our ACKEPOCH checked. */
function discover(z: ZabLearner, host: ZabHost, epoch: number): void {
  z.start();
  feed(z, [packet(PacketType.LEADERINFO, makeZxid(BigInt(epoch), 0n), encodeLeaderInfoData())]);
  expect(host.sentOf(PacketType.ACKEPOCH)).toHaveLength(1);
}

function effectsSince(host: ZabHost, mark: number): string[] {
  return host.effects.slice(mark);
}

/** The snapshot stream a leader writes after SNAP: serializeSnapshot's bytes, then "BenWasHere". */
function snapStream(tree: DataTree, sessions: [bigint, number][]): Buffer {
  const s = new SnapshotSerializer(tree, sessions, tree.lastZxid);
  const buf = Buffer.alloc(1 << 20);
  const end = s.fill(buf, 0, buf.length, 1 << 20);
  expect(s.done).toBe(true);
  return Buffer.concat([buf.subarray(SNAP_HEADER_BYTES, end), new JuteWriter(32).string('BenWasHere').copy()]);
}

/** Paths with data and Stat, for comparing trees. */
function dump(tree: DataTree): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [p, n] of [...tree.nodes.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) out[p] = { data: n.data.toString('hex'), stat: n.statInto(newStat()) };
  return out;
}

function applyAll(tree: DataTree, txns: Buffer[]): void {
  const h = new ZabHost();
  h.tree = tree;
  h.preload(txns);
}

describe('zab learner: discovery', () => {
  it('sends FOLLOWERINFO with its accepted epoch and LearnerInfo, accepts a newer epoch and answers with its current epoch', () => {
    const { z, host } = setup({ acceptedEpoch: 1, currentEpoch: 1, lastLoggedZxid: E1 + 7 });
    z.start();
    const [info] = host.sent;
    expect(info).toMatchObject({ type: PacketType.FOLLOWERINFO, zxid: BigInt(E1) });
    expect(decodeLearnerInfo(info.data)).toEqual({ sid: 3n, protocolVersion: 0x10000, configVersion: 0n });
    feed(z, [packet(PacketType.LEADERINFO, E2, encodeLeaderInfoData())]);
    expect(host.effects).toEqual(['send FOLLOWERINFO 0x100000000', 'acceptedEpoch 2', 'send ACKEPOCH 0x100000007']);
    expect(decodeIntData(host.sent[1].data, 'ACKEPOCH')).toBe(1);
    expect(z.phase).toBe('syncStart');
  });

  it('answers -1 to an epoch it already accepted, and writes nothing', () => {
    const { z, host } = setup({ acceptedEpoch: 2, currentEpoch: 1, lastLoggedZxid: E1 + 3 });
    discover(z, host, 2);
    expect(host.acceptedEpoch).toBe(-1);
    expect(decodeIntData(host.sentOf(PacketType.ACKEPOCH)[0].data, 'ACKEPOCH')).toBe(-1);
  });

  it('refuses a leader whose epoch is lower than its accepted epoch', () => {
    const { z, host } = setup({ acceptedEpoch: 3, currentEpoch: 3 });
    z.start();
    feed(z, [packet(PacketType.LEADERINFO, E2, encodeLeaderInfoData())]);
    expect(host.failure).toMatch(/epoch 2 is less than accepted epoch 3/);
    expect(host.sentOf(PacketType.ACKEPOCH)).toEqual([]);
    expect(z.phase).toBe('failed');
  });

  it('refuses anything but LEADERINFO first, and anything but DIFF/TRUNC/SNAP after ACKEPOCH', () => {
    const a = setup();
    a.z.start();
    feed(a.z, [packet(PacketType.NEWLEADER, E1)]);
    expect(a.host.failure).toMatch(/NEWLEADER, not LEADERINFO/);
    const b = setup();
    discover(b.z, b.host, 1);
    feed(b.z, [packet(PacketType.PROPOSAL, E1 + 1, createTxn(E1 + 1, '/x'))]);
    expect(b.host.failure).toMatch(/expected DIFF, TRUNC or SNAP, got PROPOSAL/);
  });
});

describe('zab learner: sync', () => {
  it('DIFF: holds the proposals until NEWLEADER, logs them, ACKs NEWLEADER only once durable, then commits after UPTODATE', () => {
    const host = new ZabHost({ autoDurable: false }).preload([createTxn(E1 + 1, '/a'), createTxn(E1 + 2, '/b')]);
    const { z } = setup({ acceptedEpoch: 1, currentEpoch: 1, lastLoggedZxid: E1 + 2 }, host);
    discover(z, host, 2);
    let mark = host.effects.length;
    feed(z, [packet(PacketType.DIFF, E1 + 4), proposal(E1 + 3, '/c'), commit(E1 + 3), proposal(E1 + 4, '/d'), packet(PacketType.NEWLEADER, E2, Buffer.from('version=0'))]);
    expect(effectsSince(host, mark)).toEqual(['log 0x100000003', 'log 0x100000004']); // no ACK: not durable yet
    expect(z.phase).toBe('newLeader');
    expect(host.currentEpoch).toBe(-1);
    mark = host.effects.length;
    host.flush();
    expect(effectsSince(host, mark)).toEqual(['currentEpoch 2', 'send ACK 0x200000000']);
    // a proposal and a commit between NEWLEADER and UPTODATE, then UPTODATE
    mark = host.effects.length;
    feed(z, [proposal(E2 + 1, '/e'), commit(E1 + 4), packet(PacketType.UPTODATE, -1)]);
    expect(effectsSince(host, mark)).toEqual([
      'send ACK 0x200000000', 'send ACK 0x100000003', 'send ACK 0x100000004', // ZooKeeper's order: UPTODATE's ACK, then the ones logged at NEWLEADER
      'log 0x200000001', 'commit 0x100000003', 'commit 0x100000004', 'serving 0x100000004',
    ]);
    mark = host.effects.length;
    host.flush();
    feed(z, [commit(E2 + 1)]);
    expect(effectsSince(host, mark)).toEqual(['send ACK 0x200000001', 'commit 0x200000001']);
    expect([...host.tree.nodes.keys()].filter((p) => /^\/[a-e]$/.test(p)).sort()).toEqual(['/a', '/b', '/c', '/d', '/e']);
    expect(host.warnings).toEqual([]);
  });

  it('TRUNC: cuts the log, applies what commits during the sync to the tree, and ACKs NEWLEADER once its snapshot is saved', () => {
    const host = new ZabHost({ autoSnapshot: false });
    host.preload([createTxn(E1 + 1, '/a'), createTxn(E1 + 2, '/b'), createTxn(E1 + 3, '/stale')]);
    const { z } = setup({ acceptedEpoch: 1, currentEpoch: 1, lastLoggedZxid: E1 + 3 }, host);
    discover(z, host, 2);
    const mark = host.effects.length;
    feed(z, [packet(PacketType.TRUNC, E1 + 2), proposal(E2 + 1, '/fresh'), commit(E2 + 1), proposal(E2 + 2, '/later'), packet(PacketType.NEWLEADER, E2)]);
    expect(effectsSince(host, mark)).toEqual(['truncate 0x100000002', 'apply 0x200000001', 'takeSnapshot 0x200000001', 'log 0x200000002']);
    expect(host.tree.get('/stale')).toBeUndefined();
    expect(host.tree.get('/fresh')).toBeDefined();
    expect(host.sentOf(PacketType.ACK)).toEqual([]); // the snapshot is not saved yet
    host.saveSnapshot();
    expect(host.effects.slice(-2)).toEqual(['currentEpoch 2', 'send ACK 0x200000000']);
    feed(z, [packet(PacketType.UPTODATE, -1), commit(E2 + 2)]);
    expect(host.servingFrom).toBe(E2 + 1);
    expect(host.tree.get('/later')).toBeDefined();
    expect(host.sentOf(PacketType.ACK).map((p) => p.zxid)).toEqual([BigInt(E2), BigInt(E2), BigInt(E2 + 2)]);
  });

  it('SNAP: loads the streamed tree (cut anywhere), checks the signature, and applies a proposal committed during the sync', () => {
    const leader = new DataTree();
    const txns = [createTxn(E1 + 1, '/app'), createTxn(E1 + 2, '/app/x', 'x'.repeat(300)), createTxn(E1 + 3, '/app/y', '')];
    applyAll(leader, txns);
    const stream = snapStream(leader, [[0x42n, 4000], [0x43n, 6000]]);
    for (const seed of [SEED, SEED + 1, SEED + 2]) {
      const host = new ZabHost();
      const { z } = setup({}, host);
      discover(z, host, 1);
      const p4 = createTxn(E1 + 4, '/app/z', 'during sync');
      feed(z, [packet(PacketType.SNAP, E1 + 3), stream, packet(PacketType.PROPOSAL, E1 + 4, p4), commit(E1 + 4), packet(PacketType.NEWLEADER, E1)], seed);
      applyAll(leader, seed === SEED ? [p4] : []);
      expect(host.effects.filter((e) => !e.startsWith('send'))).toEqual([
        'acceptedEpoch 1', 'snapshot begin 0x100000003', 'snapshot end 0x100000003 (7 nodes, 2 sessions)', 'apply 0x100000004', 'takeSnapshot 0x100000004', 'currentEpoch 1',
      ]);
      feed(z, [packet(PacketType.UPTODATE, -1)]);
      expect(z.phase).toBe('broadcast');
      expect(dump(host.tree)).toEqual(dump(leader));
      expect([...host.sessions]).toEqual([[0x42n, 4000], [0x43n, 6000]]);
    }
  });

  it('SNAP: a stream without the signature ends the session', () => {
    const { z, host } = setup();
    discover(z, host, 1);
    const stream = snapStream(new DataTree(), []);
    const bad = Buffer.concat([stream.subarray(0, stream.length - 14), new JuteWriter(32).string('BenWasGone').copy()]);
    feed(z, [packet(PacketType.SNAP, 0), bad]);
    expect(host.failure).toMatch(/missing signature, got 'BenWasGone'/);
  });

  it('refuses UPTODATE before its NEWLEADER ACK went out', () => {
    const host = new ZabHost({ autoDurable: false });
    const { z } = setup({}, host);
    discover(z, host, 1);
    feed(z, [packet(PacketType.DIFF, 0), proposal(E1 + 1, '/a'), packet(PacketType.NEWLEADER, E1), packet(PacketType.UPTODATE, -1)]);
    expect(host.failure).toMatch(/UPTODATE in phase newLeader/);
  });
});

/** A follower in broadcast at epoch 1, synced by an empty DIFF. */
function broadcasting(over: Partial<ZabLearnerConfig> = {}, host = new ZabHost()): { z: ZabLearner; host: ZabHost } {
  const s = setup(over, host);
  discover(s.z, s.host, 1);
  feed(s.z, [packet(PacketType.DIFF, 0), packet(PacketType.NEWLEADER, E1), packet(PacketType.UPTODATE, -1)]);
  expect(s.z.phase).toBe('broadcast');
  s.host.effects.length = 0;
  s.host.sent.length = 0;
  return s;
}

describe('zab learner: broadcast', () => {
  it('ACKs proposals in order, each only once the log has it durable', () => {
    const host = new ZabHost({ autoDurable: false });
    const { z } = broadcasting({}, host);
    feed(z, [proposal(E1 + 1, '/a'), proposal(E1 + 2, '/b'), proposal(E1 + 3, '/c')]);
    expect(host.sentOf(PacketType.ACK)).toEqual([]);
    z.durable(E1 + 2);
    expect(host.sentOf(PacketType.ACK).map((p) => p.zxid)).toEqual([BigInt(E1 + 1), BigInt(E1 + 2)]);
    feed(z, [commit(E1 + 1)]);
    z.durable(E1 + 3);
    expect(host.effects).toEqual([
      'log 0x100000001', 'log 0x100000002', 'log 0x100000003', 'send ACK 0x100000001', 'send ACK 0x100000002', 'commit 0x100000001', 'send ACK 0x100000003',
    ]);
  });

  it('answers PING with the same zxid and the sessions touched since the last one', () => {
    const { z, host } = broadcasting();
    expect(z.touch(0x1234n, 4000)).toBe(true);
    z.touch(0x99n, 30000);
    z.touch(0x1234n, 5000);
    feed(z, [packet(PacketType.PING, E1 + 9), packet(PacketType.PING, E1 + 10)]);
    const [first, second] = host.sentOf(PacketType.PING);
    expect(first.zxid).toBe(BigInt(E1 + 9));
    expect(first.data!.toString('hex')).toBe('0000000000001234' + '00001388' + '0000000000000099' + '00007530');
    expect(second).toMatchObject({ zxid: BigInt(E1 + 10), authinfo: null });
    expect(second.data!.length).toBe(0);
  });

  it('forwards requests and revalidations, and passes on the answers and SYNC', () => {
    const { z, host } = broadcasting();
    z.forward(0x77n, 5, Op.create, Buffer.from('rec'), [{ scheme: 'ip', id: '127.0.0.1' }]);
    z.revalidate(0x77n, 4000);
    const [req, reval] = host.sent;
    expect(encodeQuorumPacket(req).toString('hex')).toBe(encodeQuorumPacket({
      type: PacketType.REQUEST, zxid: -1n, data: Buffer.from('0000000000000077' + '00000005' + '00000001' + Buffer.from('rec').toString('hex'), 'hex'),
      authinfo: [{ scheme: 'ip', id: '127.0.0.1' }],
    }).toString('hex'));
    expect(reval).toMatchObject({ type: PacketType.REVALIDATE, zxid: -1n });
    expect(reval.data!.toString('hex')).toBe('0000000000000077' + '00000fa0');
    feed(z, [packet(PacketType.REVALIDATE, -1, Buffer.from('000000000000007701', 'hex')), packet(PacketType.SYNC, E1)]);
    expect(host.revalidations).toEqual([[0x77n, true]]);
    expect(host.syncs).toBe(1);
  });

  it('ends the session when the leader is silent for more than syncLimit ticks (initLimit before NEWLEADER)', () => {
    const { z, host } = broadcasting({ syncLimitTicks: 2, initLimitTicks: 5 });
    z.tick();
    z.tick();
    feed(z, [packet(PacketType.PING, E1)]); // heard: the count starts again
    z.tick();
    z.tick();
    expect(host.failure).toBeNull();
    z.tick();
    expect(host.failure).toMatch(/leader silent for 3 ticks \(limit 2\)/);
    z.tick();
    expect(host.effects.filter((e) => e.startsWith('fail'))).toHaveLength(1);

    const early = setup({ syncLimitTicks: 2, initLimitTicks: 5 });
    early.z.start();
    for (let i = 0; i < 5; i++) early.z.tick();
    expect(early.host.failure).toBeNull();
    early.z.tick();
    expect(early.host.failure).toMatch(/limit 5/);
  });
});

describe('zab learner: observer', () => {
  it('registers with OBSERVERINFO, applies INFORMs, ignores PROPOSAL/COMMIT, and ACKs only NEWLEADER and UPTODATE', () => {
    const host = new ZabHost();
    const { z } = setup({ observer: true }, host);
    z.start();
    expect(host.sent[0].type).toBe(PacketType.OBSERVERINFO);
    feed(z, [packet(PacketType.LEADERINFO, E1, encodeLeaderInfoData()), packet(PacketType.DIFF, E1 + 2),
      proposal(E1 + 1, '/a'), commit(E1 + 1), proposal(E1 + 2, '/dropped'), packet(PacketType.NEWLEADER, E1), packet(PacketType.UPTODATE, -1),
      proposal(E1 + 3, '/ignored'), commit(E1 + 3), packet(PacketType.INFORM, E1 + 4, createTxn(E1 + 4, '/b'))]);
    expect(host.effects.filter((e) => !e.startsWith('send FOLLOWER') && !e.startsWith('acceptedEpoch'))).toEqual([
      'send OBSERVERINFO 0x0', 'send ACKEPOCH 0x0', 'currentEpoch 1', 'send ACK 0x100000000', 'send ACK 0x100000000',
      'inform 0x100000001', 'serving 0x100000001', 'inform 0x100000004',
    ]);
    expect(host.warnings).toEqual(['dropping 0x100000002 held during the sync: no commit for it']);
    expect(host.tree.get('/b')).toBeDefined();
    expect(host.tree.get('/ignored')).toBeUndefined();
  });
});
