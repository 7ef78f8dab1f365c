// Bad input on the peer ports of a running ensemble member (issues 10 and 12): the named
// cases (garbage, a wrong protocol version, an unknown sid, absurd lengths, truncated
// messages) on the election port and the leader's quorum port, and a seeded,
// structure-aware fuzzer of election notifications and QuorumPackets built with
// engine/quorum/wire.ts's codecs and then mutated. A probe is one fresh TCP connection: it
// sends its bytes and reports whether the server closed the connection within a deadline.
// Used by test/quorum/bad-peer-input.test.ts and by the script test/fault/peer-fuzz.ts.

import * as net from 'node:net';
import {
  PROTOCOL_VERSION_V1,
  PacketType,
  ServerState,
  ZAB_PROTOCOL_VERSION,
  encodeAckEpochData,
  encodeElectionFrame,
  encodeInitialMessage,
  encodeLearnerInfo,
  encodeNotification,
  encodeQuorumPacket,
  makeZxid,
  type Notification,
} from '../../engine/quorum/wire.ts';

export interface ProbeResult {
  /** The server closed (or reset) the connection before the deadline. */
  closedByServer: boolean;
  /** The connection was refused (nothing listens on the port). */
  refused: boolean;
  receivedBytes: number;
}

/**
 * One connection to 127.0.0.1:port: writes each part of `parts` in turn, then waits up to
 * `closeDeadlineMs` for the server to close, and closes it itself otherwise.
 */
export function probe(port: number, parts: readonly Buffer[], closeDeadlineMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let receivedBytes = 0;
    let connected = false;
    let done = false;
    const finish = (closedByServer: boolean, refused = false): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ closedByServer, refused, receivedBytes });
    };
    const timer = setTimeout(() => finish(false), closeDeadlineMs);
    socket.on('connect', () => {
      connected = true;
      for (const part of parts) socket.write(part);
    });
    socket.on('data', (chunk) => (receivedBytes += chunk.length));
    socket.on('error', (e: NodeJS.ErrnoException) => finish(connected, !connected && e.code === 'ECONNREFUSED'));
    socket.on('close', () => finish(connected));
  });
}

const long = (v: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt.asIntN(64, v));
  return b;
};
const int = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v | 0);
  return b;
};

/** A version-2 notification, LOOKING for itself, from `sid`. */
export function lookingNotification(sid: bigint, epoch: bigint): Notification {
  return { state: ServerState.LOOKING, leader: sid, zxid: makeZxid(epoch, 1n), electionEpoch: epoch, peerEpoch: epoch, version: 2, config: Buffer.alloc(0) };
}

export type PeerPort = 'election' | 'quorum';

export interface BadPeerCase {
  name: string;
  port: PeerPort;
  /** The bytes, in writes. */
  parts: Buffer[];
  /** Must the member close the connection (false: it may keep it, as ZooKeeper does, e.g. an unknown sid outside the view)? */
  mustClose: boolean;
}

const HTTP_GARBAGE = Buffer.from('GET /commands/stat HTTP/1.1\r\nHost: zooid\r\n\r\n');
/** Not a protocol version (negative, not -65536 / -65535) and not a sid: bytes a port scanner might send. */
const BINARY_GARBAGE = Buffer.from('deadbeefcafebabe00112233445566778899aabbccddeeff', 'hex');

/** The named bad-input cases; `address` is announced in initiation messages (an address nothing listens on). */
export function badPeerCases(unknownSid: bigint): BadPeerCase[] {
  const address = [{ host: '127.0.0.1', port: 1 }];
  const hello = encodeInitialMessage(unknownSid, address);
  const followerInfo = (sid: bigint, protocolVersion: number) =>
    encodeQuorumPacket({ type: PacketType.FOLLOWERINFO, zxid: 0n, data: encodeLearnerInfo({ sid, protocolVersion, configVersion: 0n }), authinfo: null });
  const fullPacket = followerInfo(unknownSid, ZAB_PROTOCOL_VERSION);
  return [
    // election port
    { name: 'garbage (HTTP request)', port: 'election', parts: [HTTP_GARBAGE], mustClose: true },
    { name: 'garbage (binary)', port: 'election', parts: [BINARY_GARBAGE], mustClose: true },
    { name: 'wrong protocol version -65534', port: 'election', parts: [Buffer.concat([long(-65534n), long(unknownSid), int(15), Buffer.from('127.0.0.1:1234')])], mustClose: true },
    { name: 'absurd address length 2^30', port: 'election', parts: [Buffer.concat([long(PROTOCOL_VERSION_V1), long(unknownSid), int(1 << 30)])], mustClose: true },
    { name: 'negative address length', port: 'election', parts: [Buffer.concat([long(PROTOCOL_VERSION_V1), long(unknownSid), int(-5)])], mustClose: true },
    { name: 'truncated initiation message', port: 'election', parts: [hello.subarray(0, 12)], mustClose: true },
    { name: 'unknown sid, then a notification', port: 'election', parts: [hello, encodeElectionFrame(encodeNotification(lookingNotification(unknownSid, 1000n)))], mustClose: false },
    { name: 'unknown sid, then a frame of 2^31-1 bytes', port: 'election', parts: [hello, int(0x7fffffff)], mustClose: true },
    { name: 'unknown sid, then a frame of length 0', port: 'election', parts: [hello, int(0)], mustClose: true },
    { name: 'unknown sid, then a truncated notification (10 bytes)', port: 'election', parts: [hello, encodeElectionFrame(Buffer.alloc(10, 1))], mustClose: false },
    // the leader's quorum port
    { name: 'garbage (HTTP request)', port: 'quorum', parts: [HTTP_GARBAGE], mustClose: true },
    { name: 'garbage (binary)', port: 'quorum', parts: [BINARY_GARBAGE], mustClose: true },
    { name: 'wrong protocol version 0 in FOLLOWERINFO', port: 'quorum', parts: [followerInfo(unknownSid, 0)], mustClose: true },
    { name: 'first packet not FOLLOWERINFO (a PROPOSAL)', port: 'quorum', parts: [encodeQuorumPacket({ type: PacketType.PROPOSAL, zxid: 5n, data: Buffer.alloc(8), authinfo: null })], mustClose: true },
    { name: 'unknown packet type 77', port: 'quorum', parts: [encodeQuorumPacket({ type: 77, zxid: 0n, data: null, authinfo: null })], mustClose: true },
    { name: 'data length 2^31-1', port: 'quorum', parts: [Buffer.concat([int(PacketType.FOLLOWERINFO), long(0n), int(0x7fffffff)])], mustClose: true },
    { name: 'authinfo count 2^30', port: 'quorum', parts: [Buffer.concat([int(PacketType.FOLLOWERINFO), long(0n), int(-1), int(1 << 30)])], mustClose: true },
    { name: 'truncated FOLLOWERINFO', port: 'quorum', parts: [fullPacket.subarray(0, fullPacket.length - 7)], mustClose: true },
    { name: 'unknown sid, then a bad ACKEPOCH', port: 'quorum', parts: [fullPacket, encodeQuorumPacket({ type: PacketType.ACKEPOCH, zxid: 0n, data: Buffer.alloc(1), authinfo: null })], mustClose: true },
  ];
}

// ---------------------------------------------------------------------------------
// The structure-aware fuzzer

/** Interesting values of a long field. */
const LONGS = [0n, 1n, -1n, 2n, 3n, 99n, 0x7fff_ffff_ffff_ffffn, -0x8000_0000_0000_0000n, 0xffff_ffffn, 1n << 32n];
const INTS = [0, 1, -1, 2, 3, 4, 0x7fff_ffff, -0x8000_0000, 0x10000, 44, 28, 40];

export interface FuzzInput {
  port: PeerPort;
  /** What was made, for the report. */
  what: string;
  parts: Buffer[];
}

function pick<T>(random: () => number, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)];
}

/** Flips, overwrites, truncates or extends a well-formed message. */
export function mutate(random: () => number, message: Buffer): { bytes: Buffer; how: string } {
  const b = Buffer.from(message);
  const r = random();
  if (r < 0.25 && b.length > 0) {
    const count = 1 + Math.floor(random() * 4);
    for (let i = 0; i < count; i++) b[Math.floor(random() * b.length)] ^= 1 << Math.floor(random() * 8);
    return { bytes: b, how: `${count} bit flips` };
  }
  if (r < 0.5 && b.length >= 4) {
    const at = Math.floor(random() * (b.length - 3));
    const v = pick(random, INTS);
    b.writeInt32BE(v | 0, at);
    return { bytes: b, how: `int ${v} at ${at}` };
  }
  if (r < 0.7) {
    const length = Math.floor(random() * b.length);
    return { bytes: b.subarray(0, length), how: `truncated to ${length}` };
  }
  if (r < 0.85) {
    const extra = Buffer.alloc(1 + Math.floor(random() * 64));
    for (let i = 0; i < extra.length; i++) extra[i] = Math.floor(random() * 256);
    return { bytes: Buffer.concat([b, extra]), how: `${extra.length} random bytes appended` };
  }
  return { bytes: b, how: 'unchanged' };
}

/** A notification with fields drawn from interesting values (any state, any leader, epochs and zxids at the edges). */
function fuzzNotification(random: () => number, sid: bigint): Buffer {
  const config = random() < 0.2 ? Buffer.from(`server.${sid}=127.0.0.1:1:2:participant\nversion=${pick(random, ['0', '1', 'ffffffff', 'zz'])}`) : Buffer.alloc(0);
  return encodeNotification({
    state: random() < 0.8 ? Math.floor(random() * 4) : pick(random, INTS),
    leader: random() < 0.5 ? sid : pick(random, LONGS),
    zxid: pick(random, LONGS),
    electionEpoch: pick(random, LONGS),
    peerEpoch: pick(random, LONGS),
    version: 2,
    config,
  });
}

/** Sids outside a view of 1..3 (a sid of the view would stand in for a real peer, which no server can tell from the real one without quorum SASL). */
const FOREIGN_SIDS = [0n, 99n, -1n, 0x7fff_ffff_ffff_ffffn, -0x8000_0000_0000_0000n, 1n << 32n];

/**
 * One fuzz input: on the election port an initiation message from a sid outside the view and
 * a few notification frames, each maybe mutated; on the quorum port a FOLLOWERINFO or
 * OBSERVERINFO and a few packets of any type, each maybe mutated.
 */
export function fuzzInput(random: () => number, unknownSid: bigint): FuzzInput {
  const port: PeerPort = random() < 0.5 ? 'election' : 'quorum';
  const parts: Buffer[] = [];
  const notes: string[] = [];
  const add = (message: Buffer, label: string): void => {
    const m = random() < 0.5 ? mutate(random, message) : { bytes: message, how: 'intact' };
    parts.push(m.bytes);
    notes.push(`${label} (${m.how})`);
  };
  if (port === 'election') {
    add(encodeInitialMessage(unknownSid, [{ host: '127.0.0.1', port: 1 + Math.floor(random() * 65534) }]), `initiation sid ${unknownSid}`);
    const count = Math.floor(random() * 4);
    for (let i = 0; i < count; i++) add(encodeElectionFrame(fuzzNotification(random, unknownSid)), 'notification');
  } else {
    const type = random() < 0.9 ? PacketType.FOLLOWERINFO : PacketType.OBSERVERINFO;
    const info = encodeLearnerInfo({ sid: random() < 0.8 ? unknownSid : pick(random, FOREIGN_SIDS), protocolVersion: random() < 0.8 ? ZAB_PROTOCOL_VERSION : pick(random, INTS), configVersion: random() < 0.8 ? 0n : pick(random, LONGS) });
    add(encodeQuorumPacket({ type, zxid: pick(random, LONGS), data: info, authinfo: null }), type === PacketType.FOLLOWERINFO ? 'FOLLOWERINFO' : 'OBSERVERINFO');
    const count = Math.floor(random() * 4);
    for (let i = 0; i < count; i++) {
      const t = random() < 0.7 ? pick(random, Object.values(PacketType)) : pick(random, INTS);
      const data = t === PacketType.ACKEPOCH ? encodeAckEpochData(pick(random, INTS)) : random() < 0.3 ? null : Buffer.alloc(Math.floor(random() * 40), Math.floor(random() * 256));
      const authinfo = random() < 0.1 ? [{ scheme: 'digest', id: 'x:y' }] : null;
      add(encodeQuorumPacket({ type: t, zxid: pick(random, LONGS), data, authinfo }), `packet type ${t}`);
    }
  }
  return { port, what: `${port}: ${notes.join(', ')}`, parts };
}
