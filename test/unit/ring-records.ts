// Record contents shared by the ring tests and their worker threads: record n of a stream
// has a size drawn from the stream's seeded generator, kind (n + salt) & 0xff, and payload
// bytes derived from n, so a consumer can check every record without being told about it.

import type { Ring } from '../../native-free-io/ring.ts';
import { seededRandom } from '../support/random.ts';

export interface RecordSpec {
  next(): number; // the payload size of the next record
}

/** Sizes for a stream: mostly small records, some up to maxPayloadBytes (forcing padding at the end of the area). */
export function recordSizes(seed: number, maxPayloadBytes: number): RecordSpec {
  const random = seededRandom(seed);
  return {
    next(): number {
      const r = random();
      const size = random();
      if (r < 0.02) return maxPayloadBytes;
      if (r < 0.1) return Math.floor(size * (maxPayloadBytes + 1));
      return Math.floor(size * 64);
    },
  };
}

export function recordKind(sequence: number, salt: number): number {
  return (sequence + salt) & 0xff;
}

function payloadByte(sequence: number, index: number): number {
  return (sequence * 131 + index * 7 + (sequence >>> 8)) & 0xff;
}

export function fillPayload(target: Uint8Array, offset: number, payloadBytes: number, sequence: number): void {
  for (let i = 0; i < payloadBytes; i++) target[offset + i] = payloadByte(sequence, i);
}

/** null when the payload is the one record `sequence` must carry, else what is wrong. */
export function checkPayload(source: Uint8Array, offset: number, payloadBytes: number, sequence: number): string | null {
  for (let i = 0; i < payloadBytes; i++) {
    const expected = payloadByte(sequence, i);
    if (source[offset + i] !== expected) return `record ${sequence}: payload byte ${i} is ${source[offset + i]}, expected ${expected}`;
  }
  return null;
}

export function payloadFor(sequence: number, payloadBytes: number): Buffer {
  const payload = Buffer.alloc(payloadBytes);
  fillPayload(payload, 0, payloadBytes, sequence);
  return payload;
}

/** null when the record the ring just polled is record `sequence` of the stream, else what is wrong. */
export function checkRecord(ring: Ring, stream: { count: number; salt: number }, sequence: number, payloadBytes: number): string | null {
  if (sequence >= stream.count) return `record ${sequence} beyond the ${stream.count} produced`;
  if (ring.payloadLength !== payloadBytes) return `record ${sequence}: length ${ring.payloadLength}, expected ${payloadBytes}`;
  const kind = recordKind(sequence, stream.salt);
  if (ring.kind !== kind) return `record ${sequence}: kind ${ring.kind}, expected ${kind}`;
  if (ring.payloadStart + ring.payloadLength > ring.capacityBytes) return `record ${sequence}: payload runs past the end of the area`;
  return checkPayload(ring.data, ring.payloadStart, ring.payloadLength, sequence);
}
