// Jute, ZooKeeper's serialization: big-endian ints and longs, length-prefixed buffers
// and UTF-8 strings (length -1 means null), vectors as a count then the items.
// Pure functions over bytes; no sockets or files here.

export class JuteError extends Error {}

/** Reads jute primitives from a byte range. Throws JuteError on a short or bad record. */
export class JuteReader {
  buf: Buffer;
  offset: number;
  end: number;

  constructor(buf: Buffer, offset = 0, end = buf.length) {
    this.buf = buf;
    this.offset = offset;
    this.end = end;
  }

  reset(buf: Buffer, offset: number, end: number): void {
    this.buf = buf;
    this.offset = offset;
    this.end = end;
  }

  remaining(): number {
    return this.end - this.offset;
  }

  private need(bytes: number): void {
    if (this.offset + bytes > this.end) throw new JuteError(`short record: need ${bytes} bytes at ${this.offset}, have ${this.end - this.offset}`);
  }

  int(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  long(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.offset);
    this.offset += 8;
    return v;
  }

  /** A long read as a number: exact for zxids and times (below 2^53); use long() for session ids. */
  longNumber(): number {
    this.need(8);
    const hi = this.buf.readInt32BE(this.offset);
    const lo = this.buf.readUInt32BE(this.offset + 4);
    this.offset += 8;
    return hi * 0x1_0000_0000 + lo;
  }

  bool(): boolean {
    this.need(1);
    return this.buf[this.offset++] !== 0;
  }

  byte(): number {
    this.need(1);
    return this.buf.readInt8(this.offset++);
  }

  /** A buffer; null when the length is -1. Returns a view, not a copy. */
  buffer(): Buffer | null {
    const len = this.int();
    if (len === -1) return null;
    if (len < 0) throw new JuteError(`negative buffer length ${len}`);
    this.need(len);
    const b = this.buf.subarray(this.offset, this.offset + len);
    this.offset += len;
    return b;
  }

  string(): string | null {
    const len = this.int();
    if (len === -1) return null;
    if (len < 0) throw new JuteError(`negative string length ${len}`);
    this.need(len);
    const s = this.buf.toString('utf8', this.offset, this.offset + len);
    this.offset += len;
    return s;
  }

  /** A string where null is not meaningful: null reads as ''. */
  ustring(): string {
    return this.string() ?? '';
  }

  vectorLength(): number {
    const n = this.int();
    if (n === -1) return 0;
    if (n < 0) throw new JuteError(`negative vector length ${n}`);
    // every element takes at least one byte: a count beyond what remains is malformed
    if (n > this.remaining()) throw new JuteError(`vector length ${n} exceeds the record`);
    return n;
  }
}

/** Writes jute primitives into a growable buffer that is reused across records. */
export class JuteWriter {
  buf: Buffer;
  offset = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  reset(): this {
    this.offset = 0;
    return this;
  }

  private ensure(bytes: number): void {
    if (this.offset + bytes <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.offset + bytes) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.offset);
    this.buf = next;
  }

  int(v: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(v | 0, this.offset);
    this.offset += 4;
    return this;
  }

  long(v: bigint): this {
    this.ensure(8);
    this.buf.writeBigInt64BE(v, this.offset);
    this.offset += 8;
    return this;
  }

  /** A long from a number that is an integer within ±2^53. */
  longNumber(v: number): this {
    this.ensure(8);
    const hi = Math.floor(v / 0x1_0000_0000);
    const lo = v - hi * 0x1_0000_0000;
    this.buf.writeInt32BE(hi, this.offset);
    this.buf.writeUInt32BE(lo, this.offset + 4);
    this.offset += 8;
    return this;
  }

  bool(v: boolean): this {
    this.ensure(1);
    this.buf[this.offset++] = v ? 1 : 0;
    return this;
  }

  byte(v: number): this {
    this.ensure(1);
    this.buf.writeInt8(v, this.offset++);
    return this;
  }

  buffer(b: Uint8Array | null): this {
    if (b === null) return this.int(-1);
    this.int(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.offset);
    this.offset += b.length;
    return this;
  }

  /** A buffer of the bytes src[start, start + length) (no view made); length -1 writes null. */
  bufferRange(src: Buffer, start: number, length: number): this {
    this.int(length);
    if (length <= 0) return this;
    this.ensure(length);
    src.copy(this.buf, this.offset, start, start + length);
    this.offset += length;
    return this;
  }

  /**
   * A buffer held as a one-byte string (one character per byte, latin1: engine/core/tree.ts
   * keeps znode data so); null writes length -1.
   */
  latin1Buffer(s: string | null): this {
    if (s === null) return this.int(-1);
    this.int(s.length);
    this.ensure(s.length);
    if (s.length > 0) this.buf.write(s, this.offset, s.length, 'latin1');
    this.offset += s.length;
    return this;
  }

  string(s: string | null): this {
    if (s === null) return this.int(-1);
    const max = s.length * 3;
    this.ensure(4 + max);
    const written = this.buf.write(s, this.offset + 4, 'utf8');
    this.buf.writeInt32BE(written, this.offset);
    this.offset += 4 + written;
    return this;
  }

  /** Reserves 4 bytes for a frame length and returns where they are. */
  beginFrame(): number {
    const at = this.offset;
    this.int(0);
    return at;
  }

  /** Fills in the frame length reserved at `at` with the bytes written since. */
  endFrame(at: number): void {
    this.buf.writeInt32BE(this.offset - at - 4, at);
  }

  /** The bytes written so far, as a view (valid until the next write or reset). */
  view(): Buffer {
    return this.buf.subarray(0, this.offset);
  }

  /** The bytes written so far, copied. */
  copy(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.offset));
  }
}
