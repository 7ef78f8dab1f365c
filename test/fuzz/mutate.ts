// Mutations of client frames (issue 12, fuzzing), in two layers:
// - on the field tree (records.ts), before encoding: numbers to boundary values, a
//   string's or buffer's length that lies (too big, too small, negative), bytes that are
//   not UTF-8 or hold a NUL, vector counts that lie, items dropped or repeated, nested
//   records (an ACL, a multi's op and its MultiHeader) dropped, repeated or given another
//   opcode, the request's opcode or xid replaced;
// - on the encoded bytes: the body truncated or extended (the length prefix follows), bytes
//   flipped, or the length prefix itself a lie (too big, too small, negative, beyond
//   jute.maxbuffer), which desynchronises the rest of the stream on purpose.
// Every choice comes from the caller's seeded Random.
import type { JuteWriter } from '../../native-free-io/jute.ts';
import type { Random } from '../../loadgen/random.ts';
import { Op } from '../../engine/protocol.ts';
import { type Field, type Frame, i32, u8, pick, intBelow, interestingInt, interestingLong, randomBytes, writeRaw } from './records.ts';

/** Where a field sits: mutations replace, drop or repeat it in place. */
interface Slot {
  arr: Field[];
  index: number;
}

function collectSlots(fields: Field[], out: Slot[]): void {
  for (let i = 0; i < fields.length; i++) {
    out.push({ arr: fields, index: i });
    const f = fields[i];
    if (f.k === 'rec') collectSlots(f.fields, out);
    else if (f.k === 'vec') for (const item of f.items) collectSlots(item, out);
  }
}

/** Opcodes a mutation swaps in: every known one, and some nobody knows. */
const SWAP_OPCODES: readonly number[] = [...Object.values(Op), 23, 99, 108, 999, -2, 0x7fffffff, -0x80000000];

/** A length that lies about `actual` bytes. */
function lyingLength(random: Random, actual: number): number {
  const x = random();
  if (x < 0.3) return actual + 1 + intBelow(random, 8);
  if (x < 0.5) return Math.max(0, actual - 1 - intBelow(random, 8));
  if (x < 0.65) return -1 - intBelow(random, 3);
  if (x < 0.8) return pick(random, [0x7fffffff, -0x80000000, 1 << 20, (1 << 20) + 1, 0xffff]);
  return interestingInt(random);
}

const NOT_UTF8: readonly Uint8Array[] = [
  Buffer.from([0xff, 0xfe]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xe2, 0x82]),
  Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.from([0x00]), Buffer.from('/\u0000/', 'utf8'),
];

function mutateBuf(random: Random, f: Extract<Field, { k: 'buf' }>): void {
  const x = random();
  const actual = f.v?.length ?? 0;
  if (x < 0.35) f.len = lyingLength(random, actual);
  else if (x < 0.5) f.v = randomBytes(random, intBelow(random, 64));
  else if (x < 0.65 && f.v !== null) {
    // splice bytes that are not UTF-8 (or a NUL) into it
    const bad = pick(random, NOT_UTF8);
    const at = intBelow(random, actual + 1);
    f.v = Buffer.concat([f.v.subarray(0, at), bad, f.v.subarray(at)]);
  } else if (x < 0.75) f.v = null;
  else if (x < 0.85) f.v = Buffer.alloc(0);
  else if (x < 0.97 && f.v !== null && actual > 0) f.v = Buffer.concat(Array.from({ length: 2 + intBelow(random, 20) }, () => f.v!));
  else f.v = Buffer.alloc(random() < 0.9 ? intBelow(random, 4096) : intBelow(random, 128 * 1024), 0x61);
}

function mutateVec(random: Random, f: Extract<Field, { k: 'vec' }>): void {
  const x = random();
  if (x < 0.45 || f.items.length === 0) f.count = lyingLength(random, f.items.length);
  else if (x < 0.65) f.items.splice(intBelow(random, f.items.length), 1);
  else if (x < 0.85) {
    const item = pick(random, f.items);
    const copies = random() < 0.95 ? 1 + intBelow(random, 4) : intBelow(random, 500);
    for (let i = 0; i < copies; i++) f.items.push(item);
  } else f.items.length = 0;
}

function mutateRec(random: Random, slot: Slot, f: Extract<Field, { k: 'rec' }>): void {
  const x = random();
  if (x < 0.25) slot.arr.splice(slot.index, 1);
  else if (x < 0.45) slot.arr.splice(slot.index, 0, ...Array.from({ length: 1 + intBelow(random, 3) }, () => f));
  else if ((f.name === 'multiOp' || f.name === 'multiEnd') && f.fields.length >= 3) {
    // the MultiHeader {type, done, err}: another type (a nested multi, a read in a write multi), done early, an error code
    const y = random();
    if (y < 0.5) f.fields[0] = i32(pick(random, SWAP_OPCODES));
    else if (y < 0.8) f.fields[1] = u8(random() < 0.5 ? 1 : intBelow(random, 256));
    else f.fields[2] = i32(interestingInt(random));
  } else if (f.fields.length > 0) f.fields.splice(intBelow(random, f.fields.length), 1);
}

function mutateSlot(random: Random, slot: Slot): void {
  const f = slot.arr[slot.index];
  switch (f.k) {
    case 'i32': f.v = random() < 0.7 ? interestingInt(random) : (f.v + (random() < 0.5 ? 1 : -1)) | 0; break;
    case 'i64': f.v = interestingLong(random); break;
    case 'u8': f.v = random() < 0.5 ? 1 - (f.v & 1) : intBelow(random, 256); break;
    case 'buf': mutateBuf(random, f); break;
    case 'vec': mutateVec(random, f); break;
    case 'rec': mutateRec(random, slot, f); break;
    case 'raw': {
      const b = Buffer.from(f.v);
      if (b.length > 0) b[intBelow(random, b.length)] = intBelow(random, 256);
      f.v = b;
      break;
    }
  }
}

/** 1–3 structure-aware mutations of the frame's fields, in place. */
export function mutateStructure(random: Random, frame: Frame): void {
  const rounds = 1 + intBelow(random, 3);
  for (let r = 0; r < rounds; r++) {
    const x = random();
    if (frame.kind === 'request' && x < 0.1 && frame.fields.length >= 2) {
      // another opcode with this record: the record then parses as some other one, or not at all
      frame.fields[1] = i32(pick(random, SWAP_OPCODES));
      frame.op = (frame.fields[1] as { v: number }).v;
      continue;
    }
    if (x < 0.15) {
      // drop the tail of the record, or add fields that no record has
      if (random() < 0.5 && frame.fields.length > 0) frame.fields.length = intBelow(random, frame.fields.length);
      else frame.fields.push(random() < 0.5 ? i32(interestingInt(random)) : { k: 'raw', v: randomBytes(random, 1 + intBelow(random, 32)) });
      continue;
    }
    const slots: Slot[] = [];
    collectSlots(frame.fields, slots);
    if (slots.length === 0) continue;
    mutateSlot(random, pick(random, slots));
  }
}

/**
 * Mutates the frame just encoded at w.buf[at, w.offset) (length prefix first): truncates or
 * extends its body (the prefix follows), flips bytes, or makes the prefix lie. Returns true
 * for a lying prefix: where the server cuts the stream from there on is anyone's guess.
 */
export function mutateBytes(random: Random, w: JuteWriter, at: number, juteMaxBufferBytes: number): boolean {
  const bodyAt = at + 4;
  const bodyBytes = w.offset - bodyAt;
  const x = random();
  if (x < 0.35 && bodyBytes > 0) {
    // mostly past the RequestHeader: a record cut short rather than a header
    const keep = bodyBytes > 8 && random() < 0.9 ? 8 + intBelow(random, bodyBytes - 8) : intBelow(random, bodyBytes);
    w.offset = bodyAt + keep;
    w.buf.writeInt32BE(w.offset - bodyAt, at);
  } else if (x < 0.6) {
    writeRaw(w, randomBytes(random, 1 + intBelow(random, 64)));
    w.buf.writeInt32BE(w.offset - bodyAt, at);
  } else if (x < 0.95 && bodyBytes > 0) {
    const flips = 1 + intBelow(random, 8);
    for (let i = 0; i < flips; i++) w.buf[bodyAt + intBelow(random, bodyBytes)] ^= 1 + intBelow(random, 255);
  } else {
    // the length prefix lies: the server cuts the stream elsewhere, waits for bytes that never come, or closes
    const y = random();
    const len = y < 0.35 ? bodyBytes + 1 + intBelow(random, 16)
      : y < 0.7 ? Math.max(0, bodyBytes - 1 - intBelow(random, 16))
      : y < 0.8 ? -1 - intBelow(random, 0x7fffffff)
      : y < 0.9 ? juteMaxBufferBytes + 1 + intBelow(random, 1024)
      : 0;
    w.buf.writeInt32BE(len | 0, at);
    return true;
  }
  return false;
}
