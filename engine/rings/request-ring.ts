// The request ring, io worker → pipeline (one per io worker): its record kinds and their
// layouts, written and read only here. Bytes only; the writers copy into the ring, the
// readers view it (valid until the record is released).
//
//   CONNECT     [u32 connId][u16 port][u8 addrLength][addr][u8 flags][u16 x509IdLength]
//               [x509Id, UTF-8][ConnectRequest frame body]   flags: CONNECT_FLAG_SECURE (came in
//               on secureClientPort); x509Id: the trusted client certificate's RFC 2253 subject
//               (length 0: none)
//   REQUEST     [u32 connId][f64 LE enqueuedAtMs][RequestHeader + record]
//   DISCONNECT  [u32 connId]
//   FOURLW      [u32 connId][u16 port][u8 addrLength][addr][4 ASCII bytes][5 × f64 host facts]
//               [stmk only: 8-byte mask]   host facts (engine/ops/probes.ts HostFacts, -1: not
//               measured): the io worker measures them off the pipeline thread before it forwards
//   TEXT_MORE   [u32 connId]                       a TEXT_PART was written to the socket: send the
//                                                  next slice of that connection's answer
//
// The f64 stamp is ms since the epoch (performance.timeOrigin + performance.now(), the same
// clock in every thread): the pipeline measures a request's ring wait with it.
import type { Ring } from '../../native-free-io/ring.ts';
import type { HostFacts } from '../ops/probes.ts';

export const ReqKind = { CONNECT: 1, REQUEST: 2, DISCONNECT: 3, FOURLW: 4, TEXT_MORE: 5 } as const;

/** CONNECT flags bit: the connection came in on secureClientPort. */
export const CONNECT_FLAG_SECURE = 1;

/** Bytes before a REQUEST's frame: connId and the enqueue stamp. */
export const REQUEST_HEADER_BYTES = 12;

/** Every record starts with the io worker's connection id. */
export function connIdOf(ring: Ring): number {
  return ring.data.readUInt32BE(ring.payloadStart);
}

export interface ConnectRecord {
  connId: number;
  addr: string;
  port: number;
  /** Came in on secureClientPort: { x509Id } (null without a trusted client certificate); null on the plain port. */
  tls: { x509Id: string | null } | null;
  /** The ConnectRequest frame body (a view into the ring). */
  frame: Buffer;
}

/** Reserves and commits a CONNECT; false when the ring has no room (nothing written). */
export function pushConnect(ring: Ring, connId: number, addr: string, port: number, secure: boolean, x509Id: string | null, frame: Buffer): boolean {
  const addrLength = Buffer.byteLength(addr, 'latin1');
  const idLength = x509Id === null ? 0 : Buffer.byteLength(x509Id, 'utf8');
  const bytes = 4 + 2 + 1 + addrLength + 1 + 2 + idLength + frame.length;
  const at = ring.reserve(bytes);
  if (at === -1) return false;
  const d = ring.data;
  d.writeUInt32BE(connId, at);
  d.writeUInt16BE(port, at + 4);
  d[at + 6] = addrLength;
  d.write(addr, at + 7, 'latin1');
  const flagsAt = at + 7 + addrLength;
  d[flagsAt] = secure ? CONNECT_FLAG_SECURE : 0;
  d.writeUInt16BE(idLength, flagsAt + 1);
  if (x509Id !== null) d.write(x509Id, flagsAt + 3, 'utf8');
  d.set(frame, flagsAt + 3 + idLength);
  ring.commit(ReqKind.CONNECT, bytes);
  return true;
}

export function readConnect(ring: Ring): ConnectRecord {
  const d = ring.data;
  const at = ring.payloadStart;
  const addrLength = d[at + 6];
  const flagsAt = at + 7 + addrLength;
  const idLength = d.readUInt16BE(flagsAt + 1);
  return {
    connId: d.readUInt32BE(at),
    port: d.readUInt16BE(at + 4),
    addr: d.toString('latin1', at + 7, at + 7 + addrLength),
    tls: (d[flagsAt] & CONNECT_FLAG_SECURE) === 0 ? null : { x509Id: idLength === 0 ? null : d.toString('utf8', flagsAt + 3, flagsAt + 3 + idLength) },
    frame: d.subarray(flagsAt + 3 + idLength, at + ring.payloadLength),
  };
}

/** Reserves and commits (quietly: the producer rings once per turn) a REQUEST; false when the ring has no room. */
export function pushRequest(ring: Ring, connId: number, enqueuedAtMs: number, frame: Buffer): boolean {
  const at = ring.reserve(REQUEST_HEADER_BYTES + frame.length);
  if (at === -1) return false;
  ring.data.writeUInt32BE(connId, at);
  ring.data.writeDoubleLE(enqueuedAtMs, at + 4);
  ring.data.set(frame, at + REQUEST_HEADER_BYTES);
  ring.commitQuiet(ReqKind.REQUEST, REQUEST_HEADER_BYTES + frame.length);
  return true;
}

/** A REQUEST's enqueue stamp (ms since the epoch). */
export function requestEnqueuedAtMs(ring: Ring): number {
  return ring.data.readDoubleLE(ring.payloadStart + 4);
}

/** A REQUEST's frame, RequestHeader + record (a view into the ring). */
export function requestFrame(ring: Ring): Buffer {
  const at = ring.payloadStart;
  return ring.data.subarray(at + REQUEST_HEADER_BYTES, at + ring.payloadLength);
}

/** HostFacts in a FOURLW record, in this order, as big-endian f64s. */
const HOST_FACT_BYTES = 5 * 8;

/** What a FOURLW record carries after its connId (io workers queue it as a control record when the ring is full). */
export function fourLetterWordTail(addr: string, port: number, word: string, host: HostFacts, mask: Buffer | null): Buffer {
  const addrLength = Buffer.byteLength(addr, 'latin1');
  const tail = Buffer.alloc(2 + 1 + addrLength + 4 + HOST_FACT_BYTES + (mask === null ? 0 : mask.length));
  tail.writeUInt16BE(port, 0);
  tail[2] = addrLength;
  tail.write(addr, 3, 'latin1');
  tail.write(word, 3 + addrLength, 'latin1');
  let at = 7 + addrLength;
  at = tail.writeDoubleBE(host.dataDirSizeBytes, at);
  at = tail.writeDoubleBE(host.logDirSizeBytes, at);
  at = tail.writeDoubleBE(host.openFileDescriptors, at);
  at = tail.writeDoubleBE(host.maxFileDescriptors, at);
  at = tail.writeDoubleBE(host.firstLogZxid, at);
  if (mask !== null) mask.copy(tail, at);
  return tail;
}

export interface FourLetterWordRecord {
  connId: number;
  addr: string;
  port: number;
  word: string;
  host: HostFacts;
  /** stmk's new trace mask; null for the other words. */
  traceMask: bigint | null;
}

export function readFourLetterWord(ring: Ring): FourLetterWordRecord {
  const d = ring.data;
  const at = ring.payloadStart;
  const end = at + ring.payloadLength;
  const addrLength = d[at + 6];
  const wordAt = at + 7 + addrLength;
  const factsAt = wordAt + 4;
  const maskAt = factsAt + HOST_FACT_BYTES;
  return {
    connId: d.readUInt32BE(at),
    port: d.readUInt16BE(at + 4),
    addr: d.toString('latin1', at + 7, wordAt),
    word: d.toString('latin1', wordAt, factsAt),
    host: {
      dataDirSizeBytes: d.readDoubleBE(factsAt),
      logDirSizeBytes: d.readDoubleBE(factsAt + 8),
      openFileDescriptors: d.readDoubleBE(factsAt + 16),
      maxFileDescriptors: d.readDoubleBE(factsAt + 24),
      firstLogZxid: d.readDoubleBE(factsAt + 32),
    },
    traceMask: end - maskAt >= 8 ? d.readBigInt64BE(maskAt) : null,
  };
}
