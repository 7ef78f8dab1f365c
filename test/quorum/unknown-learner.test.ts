// A learner with a sid outside the view (99) that speaks Zab correctly: a zooid leader syncs
// it and sends it PROPOSAL before COMMIT (ZooKeeper does the same: a non-voting follower),
// but its ACKs must never make a quorum. With
// both real followers stopped, the impostor ACKs every proposal it is sent and answers PINGs;
// a write through the leader must still not commit (the leader loses its quorum and steps
// down, and the write fails).
import { describe, it, expect, afterAll } from 'vitest';
import * as net from 'node:net';
import { fourLetterWord } from '../support/servers.ts';
import { waitFor } from '../support/wait.ts';
import { ZkSession } from '../support/zkclient.ts';
import { PacketType, ZAB_PROTOCOL_VERSION, encodeAckEpochData, encodeLearnerInfo, encodeQuorumPacket, epochOfZxid, takeQuorumPacket, type QuorumPacket } from '../../engine/quorum/wire.ts';
import { carriesOn, controlSessions, leaderOf, startPlainEnsemble, type PlainMember } from '../fault/peer-fuzz.ts';

const UNKNOWN_SID = 99n;
const PACKET_BYTES_MAX = 1 << 20;

/** A Zab learner of sid 99 on the leader's quorum port: discovery, sync, then ACK every PROPOSAL and answer PINGs. */
function impostor(quorumPort: number, lastZxid: bigint): { acks: () => number; seen: () => string[]; close: () => void; upToDate: Promise<void> } {
  const socket = net.connect({ host: '127.0.0.1', port: quorumPort });
  const send = (p: QuorumPacket) => socket.write(encodeQuorumPacket(p));
  let pending = Buffer.alloc(0);
  let acks = 0;
  const seen: string[] = [];
  let markUpToDate: () => void = () => undefined;
  const upToDate = new Promise<void>((resolve) => (markUpToDate = resolve));
  socket.on('error', () => undefined);
  socket.on('connect', () => send({ type: PacketType.FOLLOWERINFO, zxid: lastZxid, data: encodeLearnerInfo({ sid: UNKNOWN_SID, protocolVersion: ZAB_PROTOCOL_VERSION, configVersion: 0n }), authinfo: null }));
  socket.on('data', (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      const taken = takeQuorumPacket(pending, 0, PACKET_BYTES_MAX);
      if (taken === null) break;
      pending = pending.subarray(taken.byteCount);
      const p = taken.packet;
      seen.push(String(p.type));
      if (p.type === PacketType.LEADERINFO) send({ type: PacketType.ACKEPOCH, zxid: lastZxid, data: encodeAckEpochData(Number(epochOfZxid(lastZxid))), authinfo: null });
      else if (p.type === PacketType.NEWLEADER) send({ type: PacketType.ACK, zxid: p.zxid, data: null, authinfo: null });
      else if (p.type === PacketType.UPTODATE) markUpToDate();
      else if (p.type === PacketType.PING) send({ type: PacketType.PING, zxid: p.zxid, data: Buffer.alloc(0), authinfo: null });
      else if (p.type === PacketType.PROPOSAL) {
        acks++;
        send({ type: PacketType.ACK, zxid: p.zxid, data: null, authinfo: null });
      }
    }
  });
  return { acks: () => acks, seen: () => seen, close: () => socket.destroy(), upToDate };
}

describe('a learner outside the view', () => {
  let members: PlainMember[] = [];
  const sessions: ZkSession[] = [];
  afterAll(async () => {
    await Promise.all(sessions.map((s) => s.dispose().catch(() => undefined)));
    await Promise.all(members.map((m) => m.stop().catch(() => undefined)));
  }, 60_000);

  it('is synced by a zooid leader but its ACKs never make a quorum', { timeout: 240_000 }, async () => {
    members = await startPlainEnsemble('zooid');
    sessions.push(...(await controlSessions(members)));
    await carriesOn(members, sessions, 'the start');
    const leader = await leaderOf(members, 'a leader', 60_000);
    const zxid = BigInt(/^Zxid: (0x[0-9a-f]+)$/m.exec(await fourLetterWord(leader.ports.clientPort, 'srvr'))![1]);
    const fake = impostor(leader.ports.quorumPort, zxid);
    await fake.upToDate;
    const onLeader = sessions[members.indexOf(leader)];
    // the impostor is in the broadcast: it is sent (and ACKs) a proposal the real followers commit
    expect(await onLeader.setData(`/control-${leader.sid}`, 'with the impostor')).toMatchObject({ err: 'OK' });
    // (ZooKeeper's leader sends PROPOSALs to every follower, voting or not; a COMMIT without its
    // PROPOSAL makes a ZooKeeper follower exit: 'Committing zxid … but next pending txn …')
    await waitFor(() => fake.acks() > 0 && fake.seen().includes(String(PacketType.COMMIT)), { timeoutMs: 10_000, what: 'the impostor to be sent a PROPOSAL and a COMMIT' });
    const types = fake.seen();
    expect(types.indexOf(String(PacketType.PROPOSAL)), `packet types seen: ${types.join(',')}`).toBeLessThan(types.indexOf(String(PacketType.COMMIT)));

    // the real followers go: only the impostor is left to ACK
    const followers = members.filter((m) => m !== leader);
    for (const f of followers) await f.stop();
    // the leader steps down: the write fails, or gets no reply (the client's request timeout)
    const alone = await onLeader.setData(`/control-${leader.sid}`, 'acked by the impostor only').catch((e: Error) => ({ err: e.message }));
    expect(alone.err, `ACKs sent by the impostor: ${fake.acks()}; packets seen: ${fake.seen().join(',')}`).not.toBe('OK');
    fake.close();
  });
});
