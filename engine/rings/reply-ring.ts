// The reply ring, pipeline → io worker (one per io worker): its record kinds and their
// layouts, written and read only here.
//
//   SEND        [u32 connId][f64 LE sentAtMs][frame with its length prefix]
//   CLOSE       [u32 connId]                       close once earlier sends are written (a connection
//                                                  waiting for a four-letter word's answer: at once)
//   TEXT_PART   [u32 connId][UTF-8 text]           a slice of a four-letter word's answer, more follow
//   TEXT_CLOSE  [u32 connId][UTF-8 text]           four-letter word answer (or its last slice), then close
//
// The f64 stamp (ms since the epoch, the same clock in every thread) lets the io worker
// measure a reply's wait on the ring.
import type { Ring } from '../../native-free-io/ring.ts';

export const RespKind = { SEND: 1, CLOSE: 2, TEXT_CLOSE: 3, TEXT_PART: 4 } as const;

/** Bytes before a SEND's frame: connId and the stamp. */
export const SEND_HEADER_BYTES = 12;

/** Every record starts with the io worker's connection id. */
export function replyConnIdOf(ring: Ring): number {
  return ring.data.readUInt32BE(ring.payloadStart);
}

/** Writes a SEND at `at`, reserved for SEND_HEADER_BYTES + frame.length; the caller commits. */
export function writeSend(ring: Ring, at: number, connId: number, sentAtMs: number, frame: Buffer): void {
  ring.data.writeUInt32BE(connId, at);
  ring.data.writeDoubleLE(sentAtMs, at + 4);
  ring.data.set(frame, at + SEND_HEADER_BYTES);
}

export function sendSentAtMs(ring: Ring): number {
  return ring.data.readDoubleLE(ring.payloadStart + 4);
}

/** Where a SEND's frame is in ring.data: [start, end). */
export function sendFrameStart(ring: Ring): number {
  return ring.payloadStart + SEND_HEADER_BYTES;
}

/** Writes a record of only a connId (CLOSE) at `at`, reserved for 4 bytes. */
export function writeConnIdOnly(ring: Ring, at: number, connId: number): void {
  ring.data.writeUInt32BE(connId, at);
}

/** Writes a TEXT_PART or TEXT_CLOSE at `at`, reserved for 4 + textBytes; returns the bytes written. */
export function writeText(ring: Ring, at: number, connId: number, text: string): number {
  ring.data.writeUInt32BE(connId, at);
  return 4 + ring.data.write(text, at + 4, 'utf8');
}

/** A TEXT_PART's or TEXT_CLOSE's text bytes (a view into the ring). */
export function textBytes(ring: Ring): Buffer {
  const at = ring.payloadStart;
  return ring.data.subarray(at + 4, at + ring.payloadLength);
}
