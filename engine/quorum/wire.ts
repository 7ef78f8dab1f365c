// The peer protocols of Apache ZooKeeper 3.8, byte for byte: the connection initiation
// message and the length-prefixed frames of an election connection (QuorumCnxManager),
// FastLeaderElection's notification, and the QuorumPacket of the quorum (Zab) connection
// with the payloads of its discovery phase (LearnerInfo, LEADERINFO, ACKEPOCH).
//
// Pure functions over bytes (STYLE.md §8); sockets live in cnxmanager.ts. 64-bit fields
// are bigints: a peer may send any long (an observer votes Long.MIN_VALUE) and zxids use
// all 64 bits. Stream decoders (`take*`) return null while the bytes are incomplete and
// throw WireError when they can never form a valid message.
//
// Layouts (confirmed against bytes a real ZooKeeper 3.8.0 sent; see test/quorum/zookeeper.test.ts):
//   initiation   [long protocolVersion -65536 (V1) | -65535 (V2)][long sid][int n]["host:port" UTF-8, n bytes]
//                V2 sends every address joined by '|'; a pre-3.5 peer sends only [long sid] (≥ 0)
//   election     [int length][message]            (0 < length ≤ 512 KiB)
//   notification [int state][long leader][long zxid][long electionEpoch][long peerEpoch]
//                [int version = 2][int n][config text, n bytes]
//                accepted too: 28 bytes (no peerEpoch: it is zxid's epoch), 40 bytes (no version)
//   QuorumPacket [int type][long zxid][int n][data, n bytes, -1 = null][int count, -1 = null][Id…]
//                no length prefix: jute records back to back on the stream

import { JuteReader, JuteWriter } from '../../native-free-io/jute.ts';
import { ELECTION_MESSAGE_BYTES_MAX, INITIAL_MESSAGE_ADDRESS_BYTES_MAX } from './limits.ts';

export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

// ---------------------------------------------------------------------------------
// Connection initiation (QuorumCnxManager.startConnection / InitialMessage.parse)

/** Sent since 3.5.0 (ZOOKEEPER-107); 3.8 sends it unless multiAddress.enabled. */
export const PROTOCOL_VERSION_V1 = -65536n;
/** Since 3.6.0 (ZOOKEEPER-3188): several election addresses joined by '|'. */
export const PROTOCOL_VERSION_V2 = -65535n;
/** QuorumPeer.OBSERVER_ID: an observer without a server id; the receiver numbers it itself. */
export const OBSERVER_SID = 0x7fff_ffff_ffff_ffffn;

export interface PeerAddress {
  /** Without IPv6 brackets. */
  host: string;
  port: number;
}

export interface InitialMessage {
  /** null: the pre-3.5 form, which is the sid alone. */
  protocolVersion: bigint | null;
  sid: bigint;
  /** Election addresses the sender gave, wildcard ones left out (as ZooKeeper does). */
  addresses: PeerAddress[];
}

/** NetUtils.formatInetAddr: `host:port`, an IPv6 literal in brackets. */
export function formatAddress(a: PeerAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

export function encodeInitialMessage(sid: bigint, addresses: readonly PeerAddress[], protocolVersion = PROTOCOL_VERSION_V1): Buffer {
  if (protocolVersion !== PROTOCOL_VERSION_V1 && protocolVersion !== PROTOCOL_VERSION_V2) {
    throw new WireError(`protocol version ${protocolVersion} is neither V1 nor V2`);
  }
  if (addresses.length === 0 || (protocolVersion === PROTOCOL_VERSION_V1 && addresses.length !== 1)) {
    throw new WireError(`protocol version ${protocolVersion} with ${addresses.length} addresses`);
  }
  const text = Buffer.from(addresses.map(formatAddress).join('|'), 'utf8');
  if (text.length > INITIAL_MESSAGE_ADDRESS_BYTES_MAX) throw new WireError(`addresses take ${text.length} bytes, over ${INITIAL_MESSAGE_ADDRESS_BYTES_MAX}`);
  const out = Buffer.allocUnsafe(20 + text.length);
  out.writeBigInt64BE(protocolVersion, 0);
  out.writeBigInt64BE(sid, 8);
  out.writeInt32BE(text.length, 16);
  text.copy(out, 20);
  return out;
}

/** The initiation message at the start of buf, or null until all of it has arrived. */
export function takeInitialMessage(buf: Buffer): { message: InitialMessage; byteCount: number } | null {
  if (buf.length < 8) return null;
  const first = buf.readBigInt64BE(0);
  if (first >= 0n) return { message: { protocolVersion: null, sid: first, addresses: [] }, byteCount: 8 };
  if (first !== PROTOCOL_VERSION_V1 && first !== PROTOCOL_VERSION_V2) throw new WireError(`unrecognized protocol version ${first}`);
  if (buf.length < 20) return null;
  const sid = buf.readBigInt64BE(8);
  const textBytes = buf.readInt32BE(16);
  if (textBytes <= 0 || textBytes > INITIAL_MESSAGE_ADDRESS_BYTES_MAX) throw new WireError(`unreasonable address length ${textBytes}`);
  if (buf.length < 20 + textBytes) return null;
  const addresses = parseAddressList(buf.toString('utf8', 20, 20 + textBytes));
  return { message: { protocolVersion: first, sid, addresses }, byteCount: 20 + textBytes };
}

/** 'host1:port1|host2:port2', each checked as InitialMessage.parse checks it. */
function parseAddressList(text: string): PeerAddress[] {
  const parts = javaSplit(text, '|');
  const addresses: PeerAddress[] = [];
  for (const part of parts) {
    const hostPort = splitHostPort(part);
    if (hostPort === null || hostPort.length !== 2) throw new WireError(`badly formed address '${part}'`);
    const [host, portText] = hostPort;
    if (!/^[+-]?[0-9]{1,10}$/.test(portText)) throw new WireError(`bad port number '${portText}'`);
    const port = Number(portText);
    if (port < 0 || port > 65_535) throw new WireError(`port ${port} out of range`);
    if (!isWildcardHost(host)) addresses.push({ host, port });
  }
  return addresses;
}

/** String.split as Java does it: trailing empty strings are dropped. */
function javaSplit(text: string, separator: string): string[] {
  const parts = text.split(separator);
  while (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** ConfigUtils.getHostAndPort: `[v6]:port` or `host:port` (null where ZooKeeper throws). */
function splitHostPort(s: string): string[] | null {
  if (!s.startsWith('[')) return javaSplit(s, ':');
  const close = s.indexOf(']');
  if (close < 0 || close + 2 === s.length) return null;
  if (close + 2 > s.length) return [s.replace(/[[\]]/g, '')];
  return [s.slice(1, close), ...javaSplit(s.slice(close + 2), ':')];
}

/** InetAddress.isAnyLocalAddress for literals: 0.0.0.0 and ::. */
function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || (host.includes(':') && /^[0:]+$/.test(host));
}

// ---------------------------------------------------------------------------------
// Election connection frames (QuorumCnxManager.SendWorker.send / RecvWorker.run)

export function encodeElectionFrame(message: Buffer): Buffer {
  if (message.length === 0 || message.length > ELECTION_MESSAGE_BYTES_MAX) throw new WireError(`election message of ${message.length} bytes`);
  const out = Buffer.allocUnsafe(4 + message.length);
  out.writeInt32BE(message.length, 0);
  message.copy(out, 4);
  return out;
}

/** The frame at buf[offset…], its message as a view, or null until all of it has arrived. */
export function takeElectionFrame(buf: Buffer, offset: number): { message: Buffer; byteCount: number } | null {
  if (buf.length - offset < 4) return null;
  const length = buf.readInt32BE(offset);
  if (length <= 0 || length > ELECTION_MESSAGE_BYTES_MAX) throw new WireError(`election message with invalid length ${length}`);
  if (buf.length - offset - 4 < length) return null;
  return { message: buf.subarray(offset + 4, offset + 4 + length), byteCount: 4 + length };
}

// ---------------------------------------------------------------------------------
// Notifications (FastLeaderElection.buildMsg / WorkerReceiver.run)

/** QuorumPeer.ServerState in ordinal order: the state field of a notification. */
export const ServerState = { LOOKING: 0, FOLLOWING: 1, LEADING: 2, OBSERVING: 3 } as const;
export type ServerStateCode = (typeof ServerState)[keyof typeof ServerState];
export const SERVER_STATE_NAMES = ['LOOKING', 'FOLLOWING', 'LEADING', 'OBSERVING'] as const;

/** Notification.CURRENTVERSION: the form with the config (3.5+). */
export const NOTIFICATION_VERSION = 2;

export interface Notification {
  /** A ServerStateCode, or any other int a peer sent (the election ignores those). */
  state: number;
  leader: bigint;
  zxid: bigint;
  electionEpoch: bigint;
  peerEpoch: bigint;
  /** 0 for the short forms, 1 from 3.4.6, 2 with the config. */
  version: number;
  /** The sender's QuorumVerifier as text (version 2 only). */
  config: Buffer | null;
}

/** ZxidUtils: the epoch is the high 32 bits of a zxid. */
export function epochOfZxid(zxid: bigint): bigint {
  return zxid >> 32n;
}

export function makeZxid(epoch: bigint, counter: bigint): bigint {
  return BigInt.asIntN(64, (epoch << 32n) | (counter & 0xffff_ffffn));
}

/** The version-2 form ZooKeeper 3.8 sends. */
export function encodeNotification(n: Notification): Buffer {
  const config = n.config ?? Buffer.alloc(0);
  const out = Buffer.allocUnsafe(44 + config.length);
  out.writeInt32BE(n.state, 0);
  out.writeBigInt64BE(n.leader, 4);
  out.writeBigInt64BE(n.zxid, 12);
  out.writeBigInt64BE(n.electionEpoch, 20);
  out.writeBigInt64BE(n.peerEpoch, 28);
  out.writeInt32BE(NOTIFICATION_VERSION, 36);
  out.writeInt32BE(config.length, 40);
  config.copy(out, 44);
  return out;
}

/** The short forms older peers send: before ZOOKEEPER-107 (no peerEpoch) and before 3.4.6 (no version). */
const NOTIFICATION_BYTES_NO_PEER_EPOCH = 28;
const NOTIFICATION_BYTES_NO_VERSION = 40;

/** Any form a 3.8 peer accepts; throws WireError where it would skip the message. */
export function decodeNotification(message: Buffer): Notification {
  const size = message.length;
  if (size < NOTIFICATION_BYTES_NO_PEER_EPOCH) throw new WireError(`short notification: ${size} bytes`);
  const r = new JuteReader(message);
  try {
    const state = r.int();
    const leader = r.long();
    const zxid = r.long();
    const electionEpoch = r.long();
    if (size === NOTIFICATION_BYTES_NO_PEER_EPOCH) {
      return { state, leader, zxid, electionEpoch, peerEpoch: epochOfZxid(zxid), version: 0, config: null };
    }
    const peerEpoch = r.long();
    // 40 bytes is the form without a version: its last 4 bytes are not read, as in ZooKeeper
    const version = size === NOTIFICATION_BYTES_NO_VERSION ? 0 : r.int();
    let config: Buffer | null = null;
    if (version > 1) {
      const configBytes = r.int();
      if (configBytes < 0 || configBytes > size) throw new WireError(`invalid config length ${configBytes} in a ${size}-byte notification`);
      if (r.remaining() < configBytes) throw new WireError(`notification config of ${configBytes} bytes, ${r.remaining()} left`);
      config = message.subarray(r.offset, r.offset + configBytes);
    }
    return { state, leader, zxid, electionEpoch, peerEpoch, version, config };
  } catch (e) {
    if (e instanceof WireError) throw e;
    throw new WireError(`malformed ${size}-byte notification: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------
// QuorumPacket (zookeeper.jute) and the discovery payloads

/** Leader.java's packet types. */
export const PacketType = {
  REQUEST: 1,
  PROPOSAL: 2,
  ACK: 3,
  COMMIT: 4,
  PING: 5,
  REVALIDATE: 6,
  SYNC: 7,
  INFORM: 8,
  COMMITANDACTIVATE: 9,
  NEWLEADER: 10,
  FOLLOWERINFO: 11,
  UPTODATE: 12,
  DIFF: 13,
  TRUNC: 14,
  SNAP: 15,
  OBSERVERINFO: 16,
  LEADERINFO: 17,
  ACKEPOCH: 18,
  INFORMANDACTIVATE: 19,
} as const;
export type PacketTypeCode = (typeof PacketType)[keyof typeof PacketType];

const PACKET_TYPE_NAMES = new Map<number, string>(Object.entries(PacketType).map(([name, code]) => [code, name]));

/** Leader.getPacketType: the name, or UNKNOWN. */
export function packetTypeName(type: number): string {
  return PACKET_TYPE_NAMES.get(type) ?? 'UNKNOWN';
}

/** The protocol version a 3.8 learner sends in LearnerInfo and a 3.8 leader in LEADERINFO. */
export const ZAB_PROTOCOL_VERSION = 0x10000;

export interface AuthId {
  scheme: string;
  id: string;
}

export interface QuorumPacket {
  type: number;
  zxid: bigint;
  data: Buffer | null;
  authinfo: AuthId[] | null;
}

export function encodeQuorumPacket(p: QuorumPacket, w: JuteWriter = new JuteWriter(64 + (p.data?.length ?? 0))): Buffer {
  appendQuorumPacket(p, w.reset());
  return w.copy();
}

/** Appends p's bytes after what w holds (not reset): a socket's packets batched into one write. */
export function appendQuorumPacket(p: QuorumPacket, w: JuteWriter): void {
  w.int(p.type).long(p.zxid).buffer(p.data);
  if (p.authinfo === null) {
    w.int(-1);
  } else {
    w.int(p.authinfo.length);
    for (const a of p.authinfo) w.string(a.scheme).string(a.id);
  }
}

/**
 * The packet at buf[offset…] (data and strings are views into buf), or null until all of
 * it has arrived. bytesMax bounds the packet (jute.maxbuffer plus its extra size: what
 * BinaryInputArchive accepts for one length).
 */
export function takeQuorumPacket(buf: Buffer, offset: number, bytesMax: number): { packet: QuorumPacket; byteCount: number } | null {
  const end = quorumPacketEnd(buf, offset, bytesMax);
  if (end === null) return null;
  const r = new JuteReader(buf, offset, end);
  const type = r.int();
  const zxid = r.long();
  const data = r.buffer();
  const count = r.int();
  let authinfo: AuthId[] | null = null;
  if (count >= 0) {
    authinfo = [];
    for (let i = 0; i < count; i++) authinfo.push({ scheme: r.ustring(), id: r.ustring() });
  }
  return { packet: { type, zxid, data, authinfo }, byteCount: end - offset };
}

/** Where the packet at offset ends, null if it has not all arrived; throws on lengths BinaryInputArchive refuses. */
function quorumPacketEnd(buf: Buffer, offset: number, bytesMax: number): number | null {
  let at = offset + 12; // type, zxid
  const lengthAt = (what: string): number | null => {
    if (at + 4 > buf.length) return null;
    const n = buf.readInt32BE(at);
    at += 4;
    if (n < -1 || n > bytesMax) throw new WireError(`unreasonable ${what} length ${n}`);
    return n;
  };
  const skip = (what: string): boolean => {
    const n = lengthAt(what);
    if (n === null) return false;
    at += Math.max(n, 0);
    return at <= buf.length;
  };
  if (!skip('data')) return null;
  const count = lengthAt('authinfo');
  if (count === null) return null;
  // every Id takes at least 8 bytes (two string lengths)
  if (count * 8 > bytesMax) throw new WireError(`unreasonable authinfo count ${count}`);
  for (let i = 0; i < count; i++) {
    if (!skip('auth scheme') || !skip('auth id')) return null;
  }
  if (at - offset > bytesMax) throw new WireError(`quorum packet of ${at - offset} bytes, over ${bytesMax}`);
  return at;
}

/** zookeeper.jute LearnerInfo: the data of FOLLOWERINFO and OBSERVERINFO. */
export interface LearnerInfo {
  sid: bigint;
  protocolVersion: number;
  configVersion: bigint;
}

export function encodeLearnerInfo(li: LearnerInfo): Buffer {
  const out = Buffer.allocUnsafe(20);
  out.writeBigInt64BE(li.sid, 0);
  out.writeInt32BE(li.protocolVersion, 8);
  out.writeBigInt64BE(li.configVersion, 12);
  return out;
}

/**
 * As LearnerHandler reads it: 8 bytes give the sid, 12 the protocol version (else 0: a
 * pre-1.0 learner), 20 the config version. Null data: a learner without a sid.
 */
export function decodeLearnerInfo(data: Buffer | null): { sid: bigint | null; protocolVersion: number; configVersion: bigint | null } {
  const length = data?.length ?? 0;
  return {
    sid: data !== null && length >= 8 ? data.readBigInt64BE(0) : null,
    protocolVersion: data !== null && length >= 12 ? data.readInt32BE(8) : 0,
    configVersion: data !== null && length >= 20 ? data.readBigInt64BE(12) : null,
  };
}

/** LEADERINFO's data: the leader's protocol version. Its zxid is the new epoch's first zxid. */
export function encodeLeaderInfoData(protocolVersion = ZAB_PROTOCOL_VERSION): Buffer {
  return intData(protocolVersion);
}

/** ACKEPOCH's data: the learner's current epoch, or -1 when it had already accepted the new epoch. Its zxid is the learner's last logged zxid. */
export function encodeAckEpochData(currentEpoch: number): Buffer {
  return intData(currentEpoch);
}

/** The int at the start of LEADERINFO's or ACKEPOCH's data. */
export function decodeIntData(data: Buffer | null, what: string): number {
  if (data === null || data.length < 4) throw new WireError(`${what} data of ${data?.length ?? 'no'} bytes, need 4`);
  return data.readInt32BE(0);
}

function intData(v: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeInt32BE(v, 0);
  return out;
}
