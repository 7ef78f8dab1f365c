// Cutting client frames out of received bytes: pure functions over a buffer, apart from
// sockets and rings (STYLE.md rule 8). A client sends `[int32 length][length bytes]`
// frames; the first 4 bytes of a connection may instead be a four-letter word
// (engine/ops/fourlw.ts has ZooKeeper's rules: only the connection's first int is checked,
// a known code is a word, anything else is a frame length). An enabled `stmk` carries its
// 8-byte trace mask after the word. A length outside 0..jute.maxbuffer closes the
// connection (ZooKeeper's "Len error").
//
// Neither allocates: they report into a FrameCut the caller reuses. cutFourLetterWord runs
// once per connection, cutFrame once per frame (kept small: it is the hottest code there is).
import { type FourLetterWord, fourLetterWordOf } from '../ops/fourlw.ts';

/** What cutFrame or cutFourLetterWord found at the offset it was given. */
export const Cut = {
  /** Fewer bytes than the next frame (or stmk's mask) needs: keep them, read more. */
  NEED_MORE: 0,
  /** cutFrame: a whole frame, its body buf[frameStart, frameEnd) (the next one starts at frameEnd); cutFourLetterWord: no word, a frame length. */
  FRAME: 1,
  /** cutFourLetterWord: the connection opens with a four-letter word (FrameCut.word, and maskStart for stmk). */
  FOUR_LETTER_WORD: 2,
  /** A length outside 0..frameBytesMax (FrameCut.length): the connection must be closed. */
  BAD_LENGTH: 3,
} as const;
export type CutKind = (typeof Cut)[keyof typeof Cut];

/** Bytes of the length prefix before every frame. */
export const FRAME_LENGTH_BYTES = 4;
/** stmk's word and its 8-byte trace mask. */
const STMK_BYTES = 12;

/** What the cut found, reused across calls. */
export class FrameCut {
  frameStart = 0;
  frameEnd = 0;
  /** The length prefix read (BAD_LENGTH and FRAME). */
  length = 0;
  word: FourLetterWord | null = null;
  /** Where stmk's 8-byte mask starts in the buffer; -1 for the other words (or a stmk not enabled). */
  maskStart = -1;
}

/**
 * The four-letter word a connection opens with, when buf[offset..] is its first byte:
 * FOUR_LETTER_WORD (out.word, out.maskStart), NEED_MORE (an enabled stmk's mask has not all
 * arrived, or not even 4 bytes have), or FRAME when the first int is a frame length.
 */
export function cutFourLetterWord(buf: Buffer, offset: number, stmkEnabled: boolean, out: FrameCut): CutKind {
  const available = buf.length - offset;
  if (available < FRAME_LENGTH_BYTES) return Cut.NEED_MORE;
  const word = fourLetterWordOf(buf.readInt32BE(offset));
  if (word === null) return Cut.FRAME;
  const withMask = word === 'stmk' && stmkEnabled;
  if (withMask && available < STMK_BYTES) return Cut.NEED_MORE;
  out.word = word;
  out.maskStart = withMask ? offset + FRAME_LENGTH_BYTES : -1;
  return Cut.FOUR_LETTER_WORD;
}

/** The frame at buf[offset..]: FRAME (out.frameStart, out.frameEnd), NEED_MORE, or BAD_LENGTH (out.length). */
export function cutFrame(buf: Buffer, offset: number, frameBytesMax: number, out: FrameCut): CutKind {
  const available = buf.length - offset;
  if (available < FRAME_LENGTH_BYTES) return Cut.NEED_MORE;
  const length = buf.readInt32BE(offset);
  out.length = length;
  if (length < 0 || length > frameBytesMax) return Cut.BAD_LENGTH;
  if (available - FRAME_LENGTH_BYTES < length) return Cut.NEED_MORE;
  out.frameStart = offset + FRAME_LENGTH_BYTES;
  out.frameEnd = out.frameStart + length;
  return Cut.FRAME;
}
