// engine/quorum/wire.ts against bytes Apache ZooKeeper 3.8.0 (Debian's package) sent: a
// TCP listener on a peer's election port recorded them (the same capture runs live in
// test/quorum/zookeeper.test.ts). The ensemble was server.1..3 on 127.0.0.1 with election
// ports 30012/30022/30032 (first capture) and 30112/30122/30132 (second).
import { describe, it, expect } from 'vitest';
import {
  OBSERVER_SID,
  PROTOCOL_VERSION_V1,
  PROTOCOL_VERSION_V2,
  PacketType,
  ServerState,
  WireError,
  ZAB_PROTOCOL_VERSION,
  decodeIntData,
  decodeLearnerInfo,
  decodeNotification,
  encodeAckEpochData,
  encodeElectionFrame,
  encodeInitialMessage,
  encodeLeaderInfoData,
  encodeLearnerInfo,
  encodeNotification,
  encodeQuorumPacket,
  makeZxid,
  packetTypeName,
  takeElectionFrame,
  takeInitialMessage,
  takeQuorumPacket,
  type Notification,
} from '../../engine/quorum/wire.ts';
import { quorumConfigText, quorumViewOf, serversFromLines } from '../../engine/quorum/view.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// server 2 connecting to server 1's election port: V1, sid 2, "127.0.0.1:30022"
const ZK_INITIAL_MESSAGE = hex('ffffffffffff0000 0000000000000002 0000000f 3132372e302e302e313a3330303232');

function configText(base: number): string {
  return [1, 2, 3].map((id) => `server.${id}=127.0.0.1:${base + id * 10 + 1}:${base + id * 10 + 2}:participant\n`).join('') + 'version=0';
}
const CONFIG_30000 = Buffer.from(configText(30000)).toString('hex');
const CONFIG_30100 = Buffer.from(configText(30100)).toString('hex');

// server 2 looking, first round: state 0, leader 2, zxid 0, round 1, peerEpoch 0, version 2, 138 config bytes
const ZK_LOOKING_FRAME = hex(`000000b6 00000000 0000000000000002 0000000000000000 0000000000000001 0000000000000000 00000002 0000008a ${CONFIG_30000}`);
// servers 1 and 2 after electing 2, answering a LOOKING server 3: peerEpoch is 1 (the new epoch)
const ZK_LEADING_FRAME = hex(`000000b6 00000002 0000000000000002 0000000000000000 0000000000000001 0000000000000001 00000002 0000008a ${CONFIG_30100}`);
const ZK_FOLLOWING_FRAME = hex(`000000b6 00000001 0000000000000002 0000000000000000 0000000000000001 0000000000000001 00000002 0000008a ${CONFIG_30100}`);

// Zab discovery on a quorum port (test/quorum/zookeeper.test.ts): a ZooKeeper follower (sid 1)
// registering with zooid, and a ZooKeeper leader answering zooid, all from epoch 0
const ZK_FOLLOWERINFO = hex('0000000b 0000000000000000 00000014 0000000000000001 00010000 0000000000000000 ffffffff');
const ZK_LEADERINFO = hex('00000011 0000000100000000 00000004 00010000 ffffffff');
const ZK_ACKEPOCH = hex('00000012 0000000000000000 00000004 00000000 ffffffff');
// the leader's first sync packet: SNAP at zxid 0x100000000 (a snapshot stream follows, not a packet)
const ZK_SNAP = hex('0000000f 0000000100000000 ffffffff ffffffff');

function frameMessage(frame: Buffer): Buffer {
  const taken = takeElectionFrame(frame, 0);
  expect(taken?.byteCount).toBe(frame.length);
  return taken!.message;
}

describe('connection initiation', () => {
  it('encodes what ZooKeeper 3.8 sends (V1, one address) and reads it back', () => {
    const encoded = encodeInitialMessage(2n, [{ host: '127.0.0.1', port: 30022 }]);
    expect(encoded.toString('hex')).toBe(ZK_INITIAL_MESSAGE.toString('hex'));
    expect(takeInitialMessage(ZK_INITIAL_MESSAGE)).toEqual({
      message: { protocolVersion: PROTOCOL_VERSION_V1, sid: 2n, addresses: [{ host: '127.0.0.1', port: 30022 }] },
      byteCount: ZK_INITIAL_MESSAGE.length,
    });
  });

  it('waits for every byte: each prefix is incomplete', () => {
    for (let n = 0; n < ZK_INITIAL_MESSAGE.length; n++) expect(takeInitialMessage(ZK_INITIAL_MESSAGE.subarray(0, n))).toBeNull();
  });

  it('reads the V2 multi-address form, brackets IPv6 and drops wildcard addresses', () => {
    const encoded = encodeInitialMessage(7n, [{ host: '10.0.0.1', port: 3888 }, { host: '::1', port: 3889 }, { host: '0.0.0.0', port: 3890 }], PROTOCOL_VERSION_V2);
    expect(encoded.subarray(20).toString()).toBe('10.0.0.1:3888|[::1]:3889|0.0.0.0:3890');
    expect(takeInitialMessage(encoded)?.message).toEqual({
      protocolVersion: PROTOCOL_VERSION_V2,
      sid: 7n,
      addresses: [{ host: '10.0.0.1', port: 3888 }, { host: '::1', port: 3889 }],
    });
  });

  it('reads the pre-3.5 form: the sid alone, and an observer without an id', () => {
    const old = Buffer.alloc(8);
    old.writeBigInt64BE(5n);
    expect(takeInitialMessage(old)).toEqual({ message: { protocolVersion: null, sid: 5n, addresses: [] }, byteCount: 8 });
    const observer = encodeInitialMessage(OBSERVER_SID, [{ host: 'h', port: 1 }]);
    expect(takeInitialMessage(observer)?.message.sid).toBe(OBSERVER_SID);
  });

  it('refuses what InitialMessage.parse refuses', () => {
    const withText = (version: bigint, text: string, length = Buffer.byteLength(text)): Buffer => {
      const b = Buffer.alloc(20 + Buffer.byteLength(text));
      b.writeBigInt64BE(version, 0);
      b.writeBigInt64BE(1n, 8);
      b.writeInt32BE(length, 16);
      b.write(text, 20);
      return b;
    };
    expect(() => takeInitialMessage(withText(-3n, 'h:1'))).toThrow(/unrecognized protocol version/);
    expect(() => takeInitialMessage(withText(PROTOCOL_VERSION_V1, 'h:1', 0))).toThrow(/unreasonable address length/);
    expect(() => takeInitialMessage(withText(PROTOCOL_VERSION_V1, 'h:1', 2049))).toThrow(/unreasonable address length/);
    for (const bad of ['host', 'h:1:2', '[::1]', '[::1]:', 'h:port']) {
      expect(() => takeInitialMessage(withText(PROTOCOL_VERSION_V1, bad)), bad).toThrow(WireError);
    }
    expect(() => encodeInitialMessage(1n, [{ host: 'a', port: 1 }, { host: 'b', port: 2 }])).toThrow(/with 2 addresses/);
  });
});

describe('election frames', () => {
  it('frames a message with its length and takes frames split anywhere', () => {
    const frame = encodeElectionFrame(Buffer.from('abc'));
    expect(frame.toString('hex')).toBe('00000003616263');
    expect(takeElectionFrame(frame.subarray(0, 6), 0)).toBeNull();
    const two = Buffer.concat([frame, frame]);
    expect(takeElectionFrame(two, 7)?.message.toString()).toBe('abc');
  });

  it('refuses a zero, negative or over 512 KiB length', () => {
    for (const length of [0, -1, 512 * 1024 + 1]) {
      const b = Buffer.alloc(8);
      b.writeInt32BE(length);
      expect(() => takeElectionFrame(b, 0)).toThrow(/invalid length/);
    }
  });
});

describe('notifications', () => {
  it('decodes ZooKeeper 3.8 notifications: LOOKING, then LEADING and FOLLOWING answers', () => {
    const looking = decodeNotification(frameMessage(ZK_LOOKING_FRAME));
    expect({ ...looking, config: looking.config?.toString() }).toEqual({
      state: ServerState.LOOKING, leader: 2n, zxid: 0n, electionEpoch: 1n, peerEpoch: 0n, version: 2, config: configText(30000),
    });
    const leading = decodeNotification(frameMessage(ZK_LEADING_FRAME));
    expect([leading.state, leading.leader, leading.electionEpoch, leading.peerEpoch]).toEqual([ServerState.LEADING, 2n, 1n, 1n]);
    expect(decodeNotification(frameMessage(ZK_FOLLOWING_FRAME)).state).toBe(ServerState.FOLLOWING);
  });

  it('encodes the same bytes ZooKeeper sent', () => {
    const n: Notification = {
      state: ServerState.LOOKING, leader: 2n, zxid: 0n, electionEpoch: 1n, peerEpoch: 0n, version: 2, config: Buffer.from(configText(30000)),
    };
    expect(encodeElectionFrame(encodeNotification(n)).toString('hex')).toBe(ZK_LOOKING_FRAME.toString('hex'));
  });

  it("builds the config text as QuorumMaj.toString does (ZooKeeper's own bytes above)", () => {
    const lines = [1, 2, 3].map((id) => `server.${id}=127.0.0.1:${30000 + id * 10 + 1}:${30000 + id * 10 + 2}`);
    const view = quorumViewOf(serversFromLines(lines), 2);
    expect(view.configBytes.toString()).toBe(configText(30000));
    const mixed = serversFromLines(['server.1=[::1]:5:6:observer', 'server.2=h:1:2;2181', 'server.3=h:3:4;10.0.0.1:2182']);
    expect(quorumConfigText(quorumViewOf(mixed, 1).members, 0x100000000n)).toBe(
      'server.1=[::1]:5:6:observer\nserver.2=h:1:2:participant;0.0.0.0:2181\nserver.3=h:3:4:participant;10.0.0.1:2182\nversion=100000000',
    );
  });

  it('accepts the older short forms: 28 bytes (peerEpoch from the zxid) and 40 bytes (no version)', () => {
    const full = encodeNotification({ state: 1, leader: 3n, zxid: makeZxid(5n, 9n), electionEpoch: 4n, peerEpoch: 6n, version: 2, config: null });
    expect(decodeNotification(full.subarray(0, 28))).toEqual({ state: 1, leader: 3n, zxid: makeZxid(5n, 9n), electionEpoch: 4n, peerEpoch: 5n, version: 0, config: null });
    expect(decodeNotification(full.subarray(0, 40))).toMatchObject({ peerEpoch: 6n, version: 0, config: null });
    const v1 = Buffer.from(full.subarray(0, 44));
    v1.writeInt32BE(1, 36);
    expect(decodeNotification(v1)).toMatchObject({ peerEpoch: 6n, version: 1, config: null });
  });

  it('refuses what WorkerReceiver skips', () => {
    const full = encodeNotification({ state: 0, leader: 1n, zxid: 0n, electionEpoch: 1n, peerEpoch: 0n, version: 2, config: Buffer.from('x') });
    expect(() => decodeNotification(full.subarray(0, 27))).toThrow(/short/);
    expect(() => decodeNotification(full.subarray(0, 36))).toThrow(WireError);
    expect(() => decodeNotification(full.subarray(0, 44))).toThrow(/config/);
    const negative = Buffer.from(full);
    negative.writeInt32BE(-1, 40);
    expect(() => decodeNotification(negative)).toThrow(/invalid config length/);
  });
});

describe('quorum packets', () => {
  it('has every packet type of Leader.java', () => {
    expect(Object.keys(PacketType)).toHaveLength(19);
    expect([packetTypeName(11), packetTypeName(17), packetTypeName(18), packetTypeName(19), packetTypeName(99)]).toEqual([
      'FOLLOWERINFO', 'LEADERINFO', 'ACKEPOCH', 'INFORMANDACTIVATE', 'UNKNOWN',
    ]);
  });

  it('encodes jute records back to back (null data and authinfo as -1) and takes them from a stream', () => {
    const ping = encodeQuorumPacket({ type: PacketType.PING, zxid: 0x100000003n, data: null, authinfo: null });
    expect(ping.toString('hex')).toBe('00000005' + '0000000100000003' + 'ffffffff' + 'ffffffff');
    const request = encodeQuorumPacket({ type: PacketType.REQUEST, zxid: 0n, data: Buffer.from('ab'), authinfo: [{ scheme: 'ip', id: '1' }] });
    expect(request.toString('hex')).toBe('00000001' + '0000000000000000' + '00000002' + '6162' + '00000001' + '00000002' + '6970' + '00000001' + '31');
    const stream = Buffer.concat([ping, request]);
    for (let n = 0; n < ping.length; n++) expect(takeQuorumPacket(stream.subarray(0, n), 0, 1 << 20)).toBeNull();
    const first = takeQuorumPacket(stream, 0, 1 << 20)!;
    expect(first).toEqual({ packet: { type: 5, zxid: 0x100000003n, data: null, authinfo: null }, byteCount: ping.length });
    for (let n = first.byteCount; n < stream.length; n++) expect(takeQuorumPacket(stream.subarray(0, n), first.byteCount, 1 << 20)).toBeNull();
    const second = takeQuorumPacket(stream, first.byteCount, 1 << 20)!;
    expect(second.packet.data?.toString()).toBe('ab');
    expect(second.packet.authinfo).toEqual([{ scheme: 'ip', id: '1' }]);
  });

  it('refuses lengths over the bound before the bytes arrive', () => {
    const head = Buffer.alloc(16);
    head.writeInt32BE(PacketType.PROPOSAL, 0);
    head.writeInt32BE(2_000_000, 12);
    expect(() => takeQuorumPacket(head, 0, 1 << 20)).toThrow(/unreasonable data length/);
    head.writeInt32BE(-2, 12);
    expect(() => takeQuorumPacket(head, 0, 1 << 20)).toThrow(/unreasonable data length/);
  });

  it('decodes and re-encodes the discovery packets ZooKeeper 3.8 sent', () => {
    const take = (b: Buffer) => {
      const t = takeQuorumPacket(b, 0, 1 << 20)!;
      expect(t.byteCount).toBe(b.length);
      expect(encodeQuorumPacket(t.packet).toString('hex')).toBe(b.toString('hex'));
      return t.packet;
    };
    const info = take(ZK_FOLLOWERINFO);
    expect([info.type, info.zxid, info.authinfo]).toEqual([PacketType.FOLLOWERINFO, 0n, null]);
    expect(decodeLearnerInfo(info.data)).toEqual({ sid: 1n, protocolVersion: ZAB_PROTOCOL_VERSION, configVersion: 0n });
    const leaderInfo = take(ZK_LEADERINFO);
    expect([leaderInfo.type, leaderInfo.zxid, decodeIntData(leaderInfo.data, 'LEADERINFO')]).toEqual([PacketType.LEADERINFO, makeZxid(1n, 0n), 0x10000]);
    const ack = take(ZK_ACKEPOCH);
    expect([ack.type, ack.zxid, decodeIntData(ack.data, 'ACKEPOCH')]).toEqual([PacketType.ACKEPOCH, 0n, 0]);
    expect(take(ZK_SNAP)).toEqual({ type: PacketType.SNAP, zxid: makeZxid(1n, 0n), data: null, authinfo: null });
  });

  it('LearnerInfo, LEADERINFO and ACKEPOCH payloads', () => {
    const li = encodeLearnerInfo({ sid: 3n, protocolVersion: ZAB_PROTOCOL_VERSION, configVersion: 0n });
    expect(li.toString('hex')).toBe('0000000000000003' + '00010000' + '0000000000000000');
    expect(decodeLearnerInfo(li)).toEqual({ sid: 3n, protocolVersion: 0x10000, configVersion: 0n });
    expect(decodeLearnerInfo(li.subarray(0, 8))).toEqual({ sid: 3n, protocolVersion: 0, configVersion: null });
    expect(decodeLearnerInfo(null)).toEqual({ sid: null, protocolVersion: 0, configVersion: null });
    expect(encodeLeaderInfoData().toString('hex')).toBe('00010000');
    expect(decodeIntData(encodeAckEpochData(-1), 'ACKEPOCH')).toBe(-1);
    expect(() => decodeIntData(Buffer.alloc(2), 'LEADERINFO')).toThrow(/need 4/);
  });

  it('zxids: epoch in the high 32 bits', () => {
    expect(makeZxid(1n, 3n)).toBe(0x100000003n);
    expect(PROTOCOL_VERSION_V1).toBe(-65536n);
  });
});
