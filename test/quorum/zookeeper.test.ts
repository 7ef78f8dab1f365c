// zooid's election against Apache ZooKeeper 3.8 (Debian's QuorumPeerMain) in one
// server.1..3 ensemble, and the wire layouts against the bytes ZooKeeper sends:
//   - a ZooKeeper peer's initiation message and notification are exactly what wire.ts encodes;
//   - zooid as the highest sid is elected by the ZooKeeper pair, and a ZooKeeper follower
//     registers with it (FOLLOWERINFO → LEADERINFO → ACKEPOCH, decoded and answered here);
//   - zooid as the lowest sid follows the leader the ZooKeeper pair elects (3, or 2 when 3 came
//     up late), and registers
//     with that real leader (LEADERINFO and the first sync packet decoded here);
//   - zooid started after the ZooKeeper pair formed a quorum learns the established leader.
// A ZooKeeper peer's decision is its FastLeaderElection DEBUG line; its Mode comes from srvr.
// zooid's side here is its election alone (ElectionRunner); Zab with ZooKeeper: zab-*-zookeeper.test.ts.
import { describe, it, expect, afterEach } from 'vitest';
import * as net from 'node:net';
import { ElectionRunner } from '../../engine/quorum/elect.ts';
import type { Decision } from '../../engine/quorum/election.ts';
import { quorumViewOf, serversFromLines } from '../../engine/quorum/view.ts';
import * as wire from '../../engine/quorum/wire.ts';
import { createLogger } from '../../engine/logger.ts';
import { Cleanups, allocatePorts, serverLines, type PeerPorts, type ZooKeeperPeer } from '../support/ensemble.ts';
import { waitFor, withDeadline } from '../support/wait.ts';

const DEADLINE_MS = 30_000;
const PACKET_BYTES_MAX = 1 << 20;
const ZERO_HISTORY = { lastLoggedZxid: 0n, currentEpoch: 0n };
const log = createLogger('quorum-compat');

const cleanups = new Cleanups();
afterEach(() => cleanups.run(DEADLINE_MS));
const zookeeper = (ports: PeerPorts, lines: string[]): Promise<ZooKeeperPeer> => cleanups.zookeeper(ports, lines);

async function zooid(lines: string[], myid: number): Promise<ElectionRunner> {
  const runner = await ElectionRunner.start({ servers: serversFromLines(lines), myid, local: ZERO_HISTORY, log });
  cleanups.push(() => runner.close());
  return runner;
}

function decisionOf(runner: ElectionRunner): Promise<Decision> {
  return withDeadline(runner.waitForDecision(), DEADLINE_MS, `zooid server ${runner.view.mySid} to decide`);
}

/** The first election a ZooKeeper peer finished. */
async function firstElection(peer: ZooKeeperPeer): Promise<{ leader: number; state: string }> {
  return waitFor(() => peer.elections()[0], { timeoutMs: DEADLINE_MS, what: `ZooKeeper ${peer.sid} to finish an election\n${peer.logTail()}` });
}

/** Bytes arriving on a socket, taken as they complete. */
class Received {
  bytes = Buffer.alloc(0);
  /** The raw bytes of the last thing taken. */
  lastTaken = Buffer.alloc(0);
  constructor(socket: net.Socket) {
    socket.on('data', (chunk) => {
      this.bytes = Buffer.concat([this.bytes, chunk]);
    });
    socket.on('error', () => socket.destroy());
  }

  take<T>(what: string, taker: (b: Buffer) => { byteCount: number } & T | null): Promise<T> {
    return waitFor(() => {
      const taken = taker(this.bytes);
      if (taken !== null) {
        this.lastTaken = Buffer.from(this.bytes.subarray(0, taken.byteCount));
        this.bytes = this.bytes.subarray(taken.byteCount);
      }
      return taken;
    }, { timeoutMs: DEADLINE_MS, what });
  }

  packet(what: string): Promise<wire.QuorumPacket> {
    return this.take(what, (b) => wire.takeQuorumPacket(b, 0, PACKET_BYTES_MAX)).then((t) => t.packet);
  }
}

/** A listener that hands over the first connection it accepts (wrapped: awaiting the listen must not await the connection). */
async function listenOnce(port: number): Promise<{ accepted: Promise<net.Socket> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => sockets.add(s));
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  cleanups.push(() => {
    // every connection goes (ZooKeeper followers keep retrying), or close() would wait for them
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.destroy();
    return withDeadline(closed, DEADLINE_MS, `the listener on ${port} to close`);
  });
  return { accepted };
}

describe('zooid election with Apache ZooKeeper 3.8 peers', () => {
  it("a ZooKeeper peer's initiation message and notification are the bytes wire.ts encodes", async () => {
    const ports = await allocatePorts([1, 2, 3]);
    const lines = serverLines(ports);
    // stand in for server 1: ZooKeeper 2 keeps its connection to a smaller sid and votes on it
    const { accepted } = await listenOnce(ports[0].electionPort);
    await zookeeper(ports[1], lines);
    const received = new Received(await withDeadline(accepted, DEADLINE_MS, 'ZooKeeper 2 to connect'));
    const initial = await received.take('the initiation message', wire.takeInitialMessage);
    const mine = wire.encodeInitialMessage(2n, [{ host: '127.0.0.1', port: ports[1].electionPort }]);
    expect(initial.message).toEqual({ protocolVersion: wire.PROTOCOL_VERSION_V1, sid: 2n, addresses: [{ host: '127.0.0.1', port: ports[1].electionPort }] });
    expect(received.lastTaken.toString('hex')).toBe(mine.toString('hex'));
    const frame = await received.take('a notification', (b) => wire.takeElectionFrame(b, 0));
    const expected = wire.encodeNotification({
      state: wire.ServerState.LOOKING, leader: 2n, zxid: 0n, electionEpoch: 1n, peerEpoch: 0n, version: 2,
      config: quorumViewOf(serversFromLines(lines), 2).configBytes,
    });
    expect(received.lastTaken.toString('hex')).toBe(wire.encodeElectionFrame(expected).toString('hex'));
    expect(wire.decodeNotification(frame.message).config?.toString()).toContain(`server.1=127.0.0.1:${ports[0].quorumPort}:${ports[0].electionPort}:participant`);
  });

  it('zooid as the highest sid is elected by the ZooKeeper pair; a ZooKeeper follower registers with it', async () => {
    const ports = await allocatePorts([1, 2, 3]);
    const lines = serverLines(ports);
    const { accepted: followerConnects } = await listenOnce(ports[2].quorumPort);
    const runner = await zooid(lines, 3);
    const peers = await Promise.all([zookeeper(ports[0], lines), zookeeper(ports[1], lines)]);
    expect(await decisionOf(runner)).toMatchObject({ role: 'LEADING', leader: 3n, peerEpoch: 0n });
    for (const peer of peers) expect(await firstElection(peer), `ZooKeeper ${peer.sid}`).toEqual({ leader: 3, myid: peer.sid, state: 'FOLLOWING' });

    // discovery, learner side real: FOLLOWERINFO, then our LEADERINFO, then its ACKEPOCH
    const socket = await withDeadline(followerConnects, DEADLINE_MS, 'a ZooKeeper follower to connect to the quorum port');
    const received = new Received(socket);
    const info = await received.packet('FOLLOWERINFO');
    expect(info.type).toBe(wire.PacketType.FOLLOWERINFO);
    expect(info.zxid).toBe(0n); // acceptedEpoch 0, counter 0
    const learner = wire.decodeLearnerInfo(info.data);
    expect([1n, 2n]).toContain(learner.sid);
    expect(learner).toMatchObject({ protocolVersion: wire.ZAB_PROTOCOL_VERSION, configVersion: 0n });
    const data = wire.encodeLearnerInfo({ sid: learner.sid!, protocolVersion: wire.ZAB_PROTOCOL_VERSION, configVersion: 0n });
    expect(received.lastTaken.toString('hex')).toBe(wire.encodeQuorumPacket({ type: wire.PacketType.FOLLOWERINFO, zxid: 0n, data, authinfo: null }).toString('hex'));
    socket.write(wire.encodeQuorumPacket({ type: wire.PacketType.LEADERINFO, zxid: wire.makeZxid(1n, 0n), data: wire.encodeLeaderInfoData(), authinfo: null }));
    const ack = await received.packet('ACKEPOCH');
    expect(ack).toMatchObject({ type: wire.PacketType.ACKEPOCH, zxid: 0n, authinfo: null });
    expect(wire.decodeIntData(ack.data, 'ACKEPOCH')).toBe(0); // its current epoch
    expect(received.lastTaken.toString('hex')).toBe(
      wire.encodeQuorumPacket({ type: wire.PacketType.ACKEPOCH, zxid: 0n, data: wire.encodeAckEpochData(0), authinfo: null }).toString('hex'),
    );
  });

  it('zooid as the lowest sid follows the leader the ZooKeeper pair elects, and registers with it', async () => {
    const ports = await allocatePorts([1, 2, 3]);
    const lines = serverLines(ports);
    const runner = await zooid(lines, 1);
    const [two, three] = await Promise.all([zookeeper(ports[1], lines), zookeeper(ports[2], lines)]);
    // 3 when the pair's elections overlap; 2 when ZooKeeper 2 and zooid made a quorum before 3's
    // JVM was up (FastLeaderElection's finalizeWait passed), and 3 then joined as a follower
    const [electedByTwo, electedByThree] = [await firstElection(two), await firstElection(three)];
    const leaderSid = electedByThree.leader;
    expect([2, 3]).toContain(leaderSid);
    expect(electedByTwo.leader).toBe(leaderSid);
    expect(await decisionOf(runner)).toMatchObject({ role: 'FOLLOWING', leader: BigInt(leaderSid) });
    const [leaderPeer, followerPeer] = leaderSid === 3 ? [three, two] : [two, three];
    expect(leaderSid === 3 ? electedByThree : electedByTwo).toMatchObject({ state: 'LEADING' });
    await waitFor(async () => (await leaderPeer.mode()) === 'leader' && (await followerPeer.mode()) === 'follower', {
      timeoutMs: DEADLINE_MS, what: `ZooKeeper ${leaderSid} to lead and the other to follow`,
    });

    // discovery, leader side real: our FOLLOWERINFO, its LEADERINFO, our ACKEPOCH, its first sync packet
    const socket = net.connect(ports[leaderSid - 1].quorumPort, '127.0.0.1');
    cleanups.push(async () => void socket.destroy());
    const received = new Received(socket);
    socket.write(wire.encodeQuorumPacket({
      type: wire.PacketType.FOLLOWERINFO, zxid: 0n, authinfo: null,
      data: wire.encodeLearnerInfo({ sid: 1n, protocolVersion: wire.ZAB_PROTOCOL_VERSION, configVersion: 0n }),
    }));
    const leaderInfo = await received.packet('LEADERINFO');
    expect(leaderInfo).toMatchObject({ type: wire.PacketType.LEADERINFO, zxid: wire.makeZxid(1n, 0n), authinfo: null });
    expect(wire.decodeIntData(leaderInfo.data, 'LEADERINFO')).toBe(wire.ZAB_PROTOCOL_VERSION);
    expect(received.lastTaken.toString('hex')).toBe(
      wire.encodeQuorumPacket({ type: wire.PacketType.LEADERINFO, zxid: wire.makeZxid(1n, 0n), data: wire.encodeLeaderInfoData(), authinfo: null }).toString('hex'),
    );
    socket.write(wire.encodeQuorumPacket({ type: wire.PacketType.ACKEPOCH, zxid: 0n, data: wire.encodeAckEpochData(0), authinfo: null }));
    const sync = await received.packet('the first sync packet');
    expect([wire.PacketType.DIFF, wire.PacketType.SNAP, wire.PacketType.TRUNC] as number[]).toContain(sync.type);
  });

  it('zooid started after the ZooKeeper pair formed a quorum learns the established leader', async () => {
    const ports = await allocatePorts([1, 2, 3]);
    const lines = serverLines(ports);
    const pair = await Promise.all([zookeeper(ports[0], lines), zookeeper(ports[1], lines)]);
    const modes = await waitFor(async () => {
      const m = await Promise.all(pair.map((p) => p.mode()));
      return m.includes('leader') && m.includes('follower') ? m : null;
    }, { timeoutMs: DEADLINE_MS, what: 'the ZooKeeper pair to form a quorum' });
    const leader = BigInt(pair[modes.indexOf('leader')].sid);
    const runner = await zooid(lines, 3);
    // the pair's Zab discovery moved their votes to epoch 1: the runner hears and keeps it
    expect(await decisionOf(runner)).toMatchObject({ role: 'FOLLOWING', leader, peerEpoch: 1n });
  });
});
