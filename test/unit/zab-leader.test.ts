// The leader's Zab state machines (engine/quorum/zab-leader.ts, zab-learner-handler.ts) with
// no sockets: learners are packets the test writes, time is a number the test moves.
import { describe, it, expect } from 'vitest';
import { ZabLeader, type ZabEffect, type ZabLeaderOptions } from '../../engine/quorum/zab-leader.ts';
import { planSync, zxidOf, type CommittedTxn } from '../../engine/quorum/zab-learner-handler.ts';
import { PacketType, encodeAckEpochData, encodeLearnerInfo, packetTypeName, ZAB_PROTOCOL_VERSION, type QuorumPacket } from '../../engine/quorum/wire.ts';

const TIMING = { tickMs: 1000, initLimit: 5, syncLimit: 2 };
const CONFIG = Buffer.from('server.1=127.0.0.1:1:2:participant\nversion=0');

function leaderOf(over: Partial<ZabLeaderOptions> = {}): ZabLeader {
  return new ZabLeader({
    mySid: 3, voters: [1, 2, 3], timing: TIMING, acceptedEpoch: 1, currentEpoch: 1, lastZxid: zxidOf(1, 5),
    configBytes: CONFIG, configVersion: 0n, ...over,
  });
}

function pkt(type: number, zxid: number, data: Buffer | null = null): QuorumPacket {
  return { type, zxid: BigInt(zxid), data, authinfo: null };
}

function followerInfo(sid: number, acceptedEpoch: number, observer = false): QuorumPacket {
  return pkt(observer ? PacketType.OBSERVERINFO : PacketType.FOLLOWERINFO, zxidOf(acceptedEpoch, 0),
    encodeLearnerInfo({ sid: BigInt(sid), protocolVersion: ZAB_PROTOCOL_VERSION, configVersion: 0n }));
}

function ackEpoch(currentEpoch: number, lastZxid: number): QuorumPacket {
  return pkt(PacketType.ACKEPOCH, lastZxid, encodeAckEpochData(currentEpoch));
}

/** Packets sent to conn, as "TYPE zxid-hex" (snapshots as "SNAP+stream zxid"). */
function sent(effects: ZabEffect[], conn: number): string[] {
  const out: string[] = [];
  for (const e of effects) {
    if (e.kind === 'send' && e.conn === conn) out.push(`${packetTypeName(e.packet.type)} ${e.packet.zxid.toString(16)}`);
    if (e.kind === 'snapshot' && e.conn === conn) out.push(`SNAP+stream ${e.zxid.toString(16)}`);
  }
  return out;
}

function kinds(effects: ZabEffect[]): string[] {
  return effects.filter((e) => e.kind !== 'send').map((e) => e.kind);
}

function txn(epoch: number, counter: number): CommittedTxn {
  return { zxid: zxidOf(epoch, counter), data: Buffer.from(`txn ${epoch}.${counter}`) };
}

/** A leader of voters 1..3 with followers 1 and 2 synced (empty DIFFs) and UPTODATE. */
function established(nowMs = 0): { leader: ZabLeader; effects: ZabEffect[] } {
  const leader = leaderOf({ recentTxns: [txn(1, 3), txn(1, 4), txn(1, 5)] });
  const effects = [...leader.start(nowMs)];
  for (const sid of [1, 2]) {
    effects.push(...leader.connected(sid, nowMs), ...leader.packet(sid, followerInfo(sid, 1), nowMs));
  }
  for (const sid of [1, 2]) effects.push(...leader.packet(sid, ackEpoch(1, zxidOf(1, 5)), nowMs));
  for (const sid of [1, 2]) effects.push(...leader.packet(sid, pkt(PacketType.ACK, zxidOf(2, 0)), nowMs));
  expect(leader.phase).toBe('broadcast');
  return { leader, effects };
}

describe('zab leader: discovery', () => {
  it('proposes one epoch past every acceptedEpoch of a quorum, then keeps it for later learners', () => {
    const leader = leaderOf({ voters: [1, 2, 3, 4, 5], acceptedEpoch: 3 });
    expect(leader.start(0)).toEqual([]);
    leader.connected(1, 0);
    expect(leader.packet(1, followerInfo(1, 5), 10)).toEqual([]); // 2 of 5: no quorum yet
    leader.connected(2, 0);
    const fx = leader.packet(2, followerInfo(2, 2), 20);
    expect(kinds(fx)).toEqual(['acceptedEpoch']);
    expect(fx[0]).toEqual({ kind: 'acceptedEpoch', epoch: 6 });
    expect(sent(fx, 1)).toEqual([`LEADERINFO ${zxidOf(6, 0).toString(16)}`]);
    expect(sent(fx, 2)).toEqual([`LEADERINFO ${zxidOf(6, 0).toString(16)}`]);
    const leaderInfo = fx.find((e) => e.kind === 'send')!;
    expect(leaderInfo.kind === 'send' && leaderInfo.packet.data!.readInt32BE(0)).toBe(0x10000);
    leader.connected(4, 0);
    expect(sent(leader.packet(4, followerInfo(4, 9), 30), 4)).toEqual([`LEADERINFO ${zxidOf(6, 0).toString(16)}`]);
  });

  it('waits for a quorum of ACKEPOCH; a learner ahead of the leader is closed; the quorum writes currentEpoch and syncs', () => {
    const leader = leaderOf();
    leader.start(0);
    for (const sid of [1, 2]) leader.connected(sid, 0);
    leader.packet(1, followerInfo(1, 1), 0);
    leader.packet(2, followerInfo(2, 1), 0);
    const ahead = leader.packet(1, ackEpoch(1, zxidOf(1, 9)), 0);
    expect(ahead).toEqual([{ kind: 'close', conn: 1, reason: 'Follower is ahead of the leader' }]);
    const fx = leader.packet(2, ackEpoch(1, zxidOf(1, 5)), 0);
    expect(kinds(fx)).toEqual(['currentEpoch', 'syncStarted']);
    // LearnerHandler's DIFF_COUNT / INFLIGHT_DIFF_COUNT: one sync, this one, in progress
    expect(fx.find((e) => e.kind === 'syncStarted')).toEqual({ kind: 'syncStarted', sid: 2, syncKind: 'DIFF', inflight: 1 });
    expect(sent(fx, 2)).toEqual([`DIFF ${zxidOf(1, 5).toString(16)}`, `NEWLEADER ${zxidOf(2, 0).toString(16)}`]);
    expect(leader.phase).toBe('newLeader');
    const up = leader.packet(2, pkt(PacketType.ACK, zxidOf(2, 0)), 0);
    expect(up[0]).toEqual({ kind: 'established', zxid: zxidOf(2, 0) });
    expect(sent(up, 2)).toEqual(['UPTODATE -1']);
  });

  it('steps down when no quorum sends FOLLOWERINFO within initLimit ticks, counted from start', () => {
    const leader = leaderOf();
    leader.connected(1, 0); // a learner may connect before the leader starts (it decided first)
    expect(leader.nextDeadlineMs()).toBe(5000); // its read timeout; the leader's own deadline is not set yet
    expect(leader.tick(0)).toEqual([]);
    leader.disconnected(1, 0);
    expect(leader.nextDeadlineMs()).toBeNull();
    leader.start(0);
    expect(leader.nextDeadlineMs()).toBe(5000);
    expect(leader.tick(4999)).toEqual([]);
    expect(leader.tick(5000)).toEqual([{ kind: 'stepDown', reason: 'Timeout while waiting for epoch from quorum' }]);
    expect(leader.phase).toBe('stopped');
  });
});

describe('zab leader: the sync choice (planSync)', () => {
  const log = [txn(1, 3), txn(1, 4), txn(1, 5), txn(2, 1), txn(2, 2)];
  const last = zxidOf(2, 2);
  const show = (p: ReturnType<typeof planSync>) => [p.kind, ...p.packets.map((q) => `${packetTypeName(q.type)} ${q.zxid.toString(16)}`)];
  const history = (txns: CommittedTxn[]) => ({ txnsFrom: (from: number) => txns.filter((t) => t.zxid >= from - 2) });

  it('an empty DIFF for a learner that has exactly the committed state', () => {
    expect(show(planSync(last, last, log, history([])))).toEqual(['DIFF', 'DIFF 200000002']);
  });

  it('a DIFF with the txns it lacks when its zxid is in the committed log', () => {
    expect(show(planSync(zxidOf(1, 5), last, log, history([])))).toEqual([
      'DIFF', 'DIFF 200000002', 'PROPOSAL 200000001', 'COMMIT 200000001', 'PROPOSAL 200000002', 'COMMIT 200000002',
    ]);
  });

  it('a TRUNC for a learner ahead of the leader in an old epoch', () => {
    expect(show(planSync(zxidOf(2, 7), last, log, history([])))).toEqual(['TRUNC', 'TRUNC 200000002']);
    // inside the log's range with a txn the leader never committed (it led epoch 1 a little longer)
    const gap = [txn(1, 3), txn(1, 4), txn(1, 6)];
    expect(show(planSync(zxidOf(1, 5), zxidOf(1, 6), gap, history([])))).toEqual(['TRUNC', 'TRUNC 100000004', 'PROPOSAL 100000006', 'COMMIT 100000006']);
  });

  it('a SNAP when the learner is behind the committed log and the txn log does not reach it', () => {
    const p = planSync(zxidOf(1, 1), last, log, { txnsFrom: () => null });
    expect(show(p)).toEqual(['SNAP']);
    expect(p.syncedZxid).toBe(last);
    // an empty learner (zxid 0) and no history: SNAP too
    expect(show(planSync(0, last, log, { txnsFrom: () => null }))).toEqual(['SNAP']);
  });

  it('a DIFF from the txn log and then the committed log when the log reaches back', () => {
    const disk = [txn(1, 1), txn(1, 2), txn(1, 3), txn(1, 4), txn(1, 5)];
    expect(show(planSync(zxidOf(1, 1), last, log, history(disk)))).toEqual([
      'DIFF', 'DIFF 200000002',
      'PROPOSAL 100000002', 'COMMIT 100000002', 'PROPOSAL 100000003', 'COMMIT 100000003',
      'PROPOSAL 100000004', 'COMMIT 100000004', 'PROPOSAL 100000005', 'COMMIT 100000005',
      'PROPOSAL 200000001', 'COMMIT 200000001', 'PROPOSAL 200000002', 'COMMIT 200000002',
    ]);
    // an empty learner (zxid 0, a new-epoch zxid): a DIFF from the first txn
    expect(show(planSync(0, zxidOf(1, 2), [txn(1, 1), txn(1, 2)], { txnsFrom: () => [txn(1, 1), txn(1, 2)] }))).toEqual([
      'DIFF', 'DIFF 100000002', 'PROPOSAL 100000001', 'COMMIT 100000001', 'PROPOSAL 100000002', 'COMMIT 100000002',
    ]);
  });

  it('a SNAP where a TRUNC would cross an epoch boundary', () => {
    const disk = [txn(1, 1), txn(2, 1), txn(2, 2)];
    expect(show(planSync(zxidOf(1, 9), last, [txn(2, 1), txn(2, 2)], history(disk)))).toEqual(['SNAP']);
  });
});

describe('zab leader: broadcast', () => {
  it('a proposal racing with a sync: the new learner gets it after its DIFF, then the COMMIT; observers get INFORM', () => {
    const { leader } = established();
    leader.proposed(zxidOf(2, 1), Buffer.from('p1'), 100);
    // learner 1 drops and comes back while 2.1 is outstanding
    leader.disconnected(1, 100);
    leader.connected(11, 100);
    leader.packet(11, followerInfo(1, 2), 100);
    const fx = leader.packet(11, ackEpoch(2, zxidOf(1, 5)), 100);
    expect(sent(fx, 11)).toEqual(['DIFF 100000005', 'PROPOSAL 200000001', 'NEWLEADER 200000000']);
    // an observer needing a SNAP at the same time: the committed state, then nothing uncommitted
    leader.connected(40, 100);
    leader.packet(40, followerInfo(4, 2, true), 100);
    expect(sent(leader.packet(40, ackEpoch(2, zxidOf(1, 1)), 100), 40)).toEqual(['SNAP+stream 100000005', 'NEWLEADER 200000000']);
    const commit = leader.committed(zxidOf(2, 1), 110);
    expect(sent(commit, 11)).toEqual(['COMMIT 200000001']);
    expect(sent(commit, 2)).toEqual(['COMMIT 200000001']);
    expect(sent(commit, 40)).toEqual(['INFORM 200000001']);
    const p2 = leader.proposed(zxidOf(2, 2), Buffer.from('p2'), 120);
    expect(sent(p2, 11)).toEqual(['PROPOSAL 200000002']);
    expect(sent(p2, 40)).toEqual([]);
    // an observer syncing now gets 2.1 from the committed log with its COMMIT (2.2 it hears of by INFORM)
    leader.connected(12, 130);
    leader.packet(12, followerInfo(5, 2, true), 130);
    expect(sent(leader.packet(12, ackEpoch(2, zxidOf(1, 5)), 130), 12)).toEqual([
      'DIFF 200000001', 'PROPOSAL 200000001', 'COMMIT 200000001', 'NEWLEADER 200000000',
    ]);
  });

  it("turns learners' ACK, PING answers, REQUEST, REVALIDATE and SYNC into pipeline calls and answers", () => {
    const { leader } = established();
    leader.proposed(zxidOf(2, 1), Buffer.from('p1'), 0);
    expect(leader.packet(1, pkt(PacketType.ACK, zxidOf(2, 1)), 0)).toEqual([{ kind: 'ack', sid: 1, zxid: zxidOf(2, 1) }]);
    expect(leader.packet(1, pkt(PacketType.ACK, zxidOf(2, 0)), 0)).toEqual([]); // UPTODATE's ACK
    const touches = Buffer.alloc(12);
    touches.writeBigInt64BE(0x77n, 0);
    touches.writeInt32BE(4000, 8);
    expect(leader.packet(1, pkt(PacketType.PING, zxidOf(2, 1), touches), 0)).toEqual([{ kind: 'touch', sid: 1, touches: new Map([[0x77n, 4000]]) }]);
    const req = Buffer.alloc(20);
    req.writeBigInt64BE(0x77n, 0);
    req.writeInt32BE(9, 8);
    req.writeInt32BE(1, 12);
    req.writeInt32BE(0xabcd, 16);
    const [r] = leader.packet(2, { type: PacketType.REQUEST, zxid: 0n, data: req, authinfo: [{ scheme: 'digest', id: 'a:b' }] }, 0);
    expect(r).toMatchObject({ kind: 'request', sid: 2, sessionId: 0x77n, cxid: 9, type: 1, authIds: [{ scheme: 'digest', id: 'a:b' }] });
    expect(r.kind === 'request' && r.record.toString('hex')).toBe('0000abcd');
    expect(leader.packet(2, pkt(PacketType.REVALIDATE, -1, touches), 0)).toEqual([{ kind: 'revalidate', sid: 2, sessionId: 0x77n, timeoutMs: 4000 }]);
    const answer = leader.revalidated(2, 0x77n, true, 0);
    expect(answer).toMatchObject([{ kind: 'send', conn: 2, packet: { type: PacketType.REVALIDATE, zxid: -1n } }]);
    expect(answer[0].kind === 'send' && answer[0].packet.data!.toString('hex')).toBe('000000000000007701');
    expect(sent(leader.synced(1, 0), 1)).toEqual(['SYNC 0']);
  });

  it('PINGs every half tick with the last proposed zxid', () => {
    const { leader } = established(0);
    expect(leader.nextDeadlineMs()).toBe(500);
    const fx = leader.tick(500);
    expect(sent(fx, 1)).toEqual(['PING 200000000']);
    expect(sent(fx, 2)).toEqual(['PING 200000000']);
  });

  it('closes a follower that leaves a proposal un-ACKed for syncLimit ticks', () => {
    const { leader } = established(0);
    leader.proposed(zxidOf(2, 1), Buffer.from('p1'), 100);
    leader.packet(2, pkt(PacketType.ACK, zxidOf(2, 1)), 150);
    let fx: ZabEffect[] = [];
    for (let t = 500; t <= 2500; t += 500) {
      for (const sid of [1, 2]) leader.packet(sid, pkt(PacketType.PING, 0), t); // both keep answering PINGs
      fx = [...fx, ...leader.tick(t)];
    }
    expect(fx.filter((e) => e.kind === 'close')).toEqual([{ kind: 'close', conn: 1, reason: 'proposal 0x200000001 not ACKed within syncLimit (transaction timeout)' }]);
    expect(leader.phase).toBe('broadcast'); // 2 and 3 are a quorum
  });
});

describe('zab leader: failures', () => {
  it('a learner that never ACKs NEWLEADER: needed for the quorum, the leader steps down after initLimit ticks', () => {
    const leader = leaderOf();
    leader.start(0);
    leader.connected(1, 0);
    leader.packet(1, followerInfo(1, 1), 0);
    leader.packet(1, ackEpoch(1, zxidOf(1, 5)), 1000);
    expect(leader.phase).toBe('newLeader');
    expect(leader.tick(5999)).toEqual([]);
    const fx = leader.tick(6000);
    expect(fx.map((e) => e.kind)).toEqual(['close', 'stepDown']);
    expect(fx[1]).toEqual({ kind: 'stepDown', reason: 'Timeout while waiting for NEWLEADER to be acked by quorum' });
  });

  it('a learner that never ACKs NEWLEADER while another does: it is closed after initLimit ticks of silence, the leader leads on', () => {
    const leader = leaderOf();
    leader.start(0);
    for (const sid of [1, 2]) {
      leader.connected(sid, 0);
      leader.packet(sid, followerInfo(sid, 1), 0);
    }
    for (const sid of [1, 2]) leader.packet(sid, ackEpoch(1, zxidOf(1, 5)), 0);
    const established = leader.packet(2, pkt(PacketType.ACK, zxidOf(2, 0)), 100);
    expect(kinds(established)).toEqual(['established', 'syncEnded']);
    // LearnerHandler's endSync: learner 1 still syncs (a DIFF), learner 2 no longer
    expect(established[established.length - 1]).toEqual({ kind: 'syncEnded', sid: 2, syncKind: 'DIFF', inflight: 1 });
    let closes: ZabEffect[] = [];
    for (let t = 500; t <= 6000; t += 500) {
      leader.packet(2, pkt(PacketType.PING, 0), t);
      closes = [...closes, ...leader.tick(t).filter((e) => e.kind === 'close' || e.kind === 'stepDown')];
    }
    expect(closes).toEqual([{ kind: 'close', conn: 1, reason: 'nothing heard for 5000 ms in phase newLeaderAck (read timeout)' }]);
    expect(leader.phase).toBe('broadcast');
  });

  it('steps down when it hears from less than a quorum for syncLimit ticks', () => {
    const { leader } = established(0);
    let fx: ZabEffect[] = [];
    let t = 0;
    // follower 2 keeps answering; follower 1 goes silent — still a quorum (3 + 2)
    for (t = 500; t <= 6000; t += 500) {
      leader.packet(2, pkt(PacketType.PING, 0), t);
      fx = [...fx, ...leader.tick(t)];
    }
    expect(leader.phase).toBe('broadcast');
    expect(fx.filter((e) => e.kind === 'close').map((e) => e.kind === 'close' && e.conn)).toEqual([1]); // silent past syncLimit: closed
    // now 2 goes silent as well: once its deadline (syncLimit ticks) passes, the leader steps down
    for (; leader.phase === 'broadcast' && t <= 20_000; t += 500) fx = [...fx, ...leader.tick(t)];
    expect(fx.at(-1)).toEqual({ kind: 'stepDown', reason: 'Not sufficient followers synced, only synced with sids: [ 3 ]' });
    expect(t - 6000).toBeLessThanOrEqual(TIMING.syncLimit * TIMING.tickMs + 1500);
  });
});
