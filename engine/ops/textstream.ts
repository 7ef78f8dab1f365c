// Four-letter-word answers of any length, handed out in slices (pure: no rings, no clock;
// the pipeline worker feeds it and moves its slices to the reply rings).
//
// A word's text comes as pieces made on demand (engine/ops/fourlw.ts fourLetterWordPieces).
// TextSlicer cuts them into slices of at most sliceChars characters, never splitting a
// surrogate pair, and knows which slice is the last (it looks one piece ahead).
// TextStreams keeps the answers longer than one slice: at most inFlightMax slices of one
// answer are out (handed to the io worker, not yet written to the socket); each slice
// written (more()) lets the next one be made. So a long answer costs the pipeline one
// slice's work per request of the io worker, other sessions are served in between, and a
// client that does not read holds inFlightMax slices in the io worker, no more. Limits
// and their reasons: engine/limits.ts FOURLW_*.

export interface TextSlice {
  text: string;
  /** No slice follows: the connection closes after this one. */
  last: boolean;
}

export class TextSlicer {
  private readonly pieces: Iterator<string>;
  private readonly sliceChars: number;
  /** Text taken from the pieces and not yet sliced. */
  private carry = '';
  private ended = false;
  private finished = false;
  /** Characters sliced so far. */
  sentChars = 0;

  constructor(pieces: Iterable<string>, sliceChars: number) {
    assert(Number.isInteger(sliceChars) && sliceChars >= 2, `sliceChars must be an integer >= 2, got ${sliceChars}`);
    this.pieces = pieces[Symbol.iterator]();
    this.sliceChars = sliceChars;
  }

  /** The next slice (1..sliceChars characters, or '' for an empty text's only slice). */
  next(): TextSlice {
    assert(!this.finished, 'next() after the last slice');
    const parts: string[] = [];
    let chars = 0;
    for (;;) {
      this.fill();
      if (this.carry === '') break;
      const room = this.sliceChars - chars;
      if (this.carry.length <= room) {
        parts.push(this.carry);
        chars += this.carry.length;
        this.carry = '';
        continue;
      }
      let cut = room;
      const code = this.carry.charCodeAt(cut - 1);
      if (code >= 0xd800 && code <= 0xdbff) cut--; // keep a surrogate pair together
      if (cut > 0) {
        parts.push(this.carry.slice(0, cut));
        chars += cut;
        this.carry = this.carry.slice(cut);
      }
      break;
    }
    this.fill();
    const last = this.carry === '' && this.ended;
    this.finished = last;
    this.sentChars += chars;
    assert(chars <= this.sliceChars, `slice of ${chars} characters over ${this.sliceChars}`);
    return { text: parts.length === 1 ? parts[0] : parts.join(''), last };
  }

  /** Takes pieces until there is text to slice or there are no more. */
  private fill(): void {
    while (this.carry === '' && !this.ended) {
      const r = this.pieces.next();
      if (r.done === true) this.ended = true;
      else this.carry = r.value;
    }
  }
}

export interface TextStreamOptions {
  sliceChars: number;
  inFlightMax: number;
  streamsMax: number;
  idleMs: number;
}

export interface TextStreamSink {
  /** A slice of conn's answer; after the last one the connection is closed. */
  slice(conn: number, text: string, last: boolean): void;
  /** conn's answer was dropped (its client took nothing for idleMs): close the connection now. */
  abort(conn: number): void;
}

interface Stream {
  slicer: TextSlicer;
  inFlight: number;
  lastProgressMs: number;
}

export class TextStreams {
  private readonly opts: TextStreamOptions;
  private readonly sink: TextStreamSink;
  private readonly streams = new Map<number, Stream>();

  constructor(opts: TextStreamOptions, sink: TextStreamSink) {
    assert(opts.inFlightMax >= 1 && opts.streamsMax >= 0 && opts.idleMs > 0, `bad text stream options ${JSON.stringify(opts)}`);
    this.opts = opts;
    this.sink = sink;
  }

  /** Answers being sent in slices now. */
  get size(): number {
    return this.streams.size;
  }

  /** Starts sending conn's answer: all of it when it fits one slice, else the first inFlightMax slices. */
  start(conn: number, pieces: Iterable<string>, nowMs: number): void {
    assert(!this.streams.has(conn), `connection ${conn} already has an answer going out`);
    const slicer = new TextSlicer(pieces, this.opts.sliceChars);
    const first = slicer.next();
    if (first.last) {
      this.sink.slice(conn, first.text, true);
      return;
    }
    if (this.streams.size >= this.opts.streamsMax) {
      this.sink.slice(conn, first.text + cutNote(first.text.length, this.streams.size), true);
      return;
    }
    this.sink.slice(conn, first.text, false);
    const stream: Stream = { slicer, inFlight: 1, lastProgressMs: nowMs };
    this.streams.set(conn, stream);
    this.pump(conn, stream);
  }

  /** The io worker wrote one of conn's slices to its socket: send the next. Ignored when conn has no answer going out. */
  more(conn: number, nowMs: number): void {
    const stream = this.streams.get(conn);
    if (stream === undefined) return;
    assert(stream.inFlight > 0, `more() for connection ${conn} with no slice out`);
    stream.inFlight--;
    stream.lastProgressMs = nowMs;
    this.pump(conn, stream);
  }

  /** conn is gone: forget its answer. */
  drop(conn: number): void {
    this.streams.delete(conn);
  }

  /** Aborts answers whose client has taken nothing for idleMs. Returns how many. */
  expire(nowMs: number): number {
    let n = 0;
    for (const [conn, stream] of this.streams) {
      if (nowMs - stream.lastProgressMs < this.opts.idleMs) continue;
      this.streams.delete(conn);
      this.sink.abort(conn);
      n++;
    }
    return n;
  }

  private pump(conn: number, stream: Stream): void {
    while (stream.inFlight < this.opts.inFlightMax) {
      const s = stream.slicer.next();
      stream.inFlight++;
      this.sink.slice(conn, s.text, s.last);
      if (s.last) {
        this.streams.delete(conn);
        return;
      }
    }
  }
}

/** What a long answer cut after its first slice ends with (too many long answers going out). */
export function cutNote(sentChars: number, streams: number): string {
  return `\n[zooid: answer cut after ${sentChars} characters: ${streams} other long four-letter-word answers are being sent; ask again when they are done]\n`;
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`textstream: ${message}`);
}
