// Single-producer single-consumer byte ring over a SharedArrayBuffer, and the Doorbell
// that parks and wakes the thread on the other side (DESIGN.md §2 "Ring queues").
//
// Ring SharedArrayBuffer layout (every line 64 bytes, so the two sides never share one):
//
//   line 0  constants  magic, capacityBytes, dataBell id, layout version   (read-only)
//   line 1  head       free-running u32 byte counter, written by the producer only
//   line 2  tail       free-running u32 byte counter, written by the consumer only
//   line 3  the ring's own data doorbell (used when create() is given no dataBell)
//   line 4  the space doorbell (consumer rings it on release, producer waits on it)
//   then    the record area: capacityBytes, a power of two, positions = counter & mask
//
// A record is `[u32 payloadLength][u8 kind][3 bytes unused][payload]`, padded to a
// multiple of 8 bytes, so every record and payload start is 8-byte aligned. Records
// never wrap: when one does not fit before the end of the area, the producer writes a
// padding marker (length PAD_MARKER) and places the record at offset 0. Payloads are
// therefore always contiguous in `data`, and callers can encode straight into the ring.
//
// Memory ordering: payload and record header are plain writes made before the
// producer's Atomics.store of the head; the consumer reads the head with Atomics.load
// before reading the record (sequentially consistent atomics give release/acquire).
// The same holds for the tail in the other direction.
//
// Nothing on the push/poll path allocates: counters and views are fields, results are
// returned through fields (kind, payloadStart, payloadLength).

const CACHE_LINE_BYTES = 64;

const RING_MAGIC = 0x5a52_4e47; // "ZRNG"
const RING_LAYOUT_VERSION = 1;
const CONST_MAGIC_INDEX = 0; // u32 indexes into the header
const CONST_CAPACITY_INDEX = 1;
const CONST_DATA_BELL_ID_INDEX = 2;
const CONST_VERSION_INDEX = 3;
const HEAD_INDEX = CACHE_LINE_BYTES / 4; // line 1
const TAIL_INDEX = (2 * CACHE_LINE_BYTES) / 4; // line 2
const OWN_DATA_BELL_BYTE_OFFSET = 3 * CACHE_LINE_BYTES;
const SPACE_BELL_BYTE_OFFSET = 4 * CACHE_LINE_BYTES;
/** Bytes in front of the record area. */
export const RING_HEADER_BYTES = 5 * CACHE_LINE_BYTES;

/** Record header: u32 payload length, u8 kind, 3 bytes unused (keeps payloads 8-aligned). */
export const RECORD_HEADER_BYTES = 8;
const RECORD_ALIGN_BYTES = 8;
/** Length value that marks "the rest of the area up to its end is padding". */
const PAD_MARKER = 0xffff_ffff;

/** Smallest record area: room for a few small records. */
export const RING_CAPACITY_BYTES_MIN = 64;
/** Largest record area: keeps (head - tail) unambiguous in u32 arithmetic with margin. */
export const RING_CAPACITY_BYTES_MAX = 1 << 30;

const BELL_MAGIC = 0x5a42_454c; // "ZBEL"
const BELL_MAGIC_INDEX = 0; // i32 indexes relative to the bell's byte offset
const BELL_ID_INDEX = 1;
const BELL_SEQUENCE_INDEX = 2;
const BELL_PARKED_INDEX = 3;
/** 1 while the consumer is awake and has promised to look at its sources before it next waits. */
const BELL_LOOKING_INDEX = 4;
/** A doorbell occupies one cache line. */
export const DOORBELL_BYTES = CACHE_LINE_BYTES;

// Atomics.waitAsync is in ES2024; tsconfig's lib is es2023, so its type is declared here.
type WaitAsyncResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
const AtomicsWaitAsync = Atomics as unknown as {
  waitAsync(typedArray: Int32Array, index: number, value: number, timeoutMs: number): WaitAsyncResult;
};

function fail(message: string): never {
  throw new Error(`ring: ${message}`);
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

function newBellId(): number {
  // Identity only (lets attach() catch a ring paired with the wrong doorbell); it never
  // influences behaviour, so it does not come from the injected seeded source.
  const id = crypto.getRandomValues(new Int32Array(1))[0];
  return id === 0 ? 1 : id;
}

/** Writes a fresh doorbell into sab at byteOffset (one cache line, zeroed counters). */
function initDoorbell(sab: SharedArrayBuffer, byteOffset: number): void {
  const words = new Int32Array(sab, byteOffset, DOORBELL_BYTES / 4);
  Atomics.store(words, BELL_ID_INDEX, newBellId());
  Atomics.store(words, BELL_SEQUENCE_INDEX, 0);
  Atomics.store(words, BELL_PARKED_INDEX, 0);
  Atomics.store(words, BELL_LOOKING_INDEX, 0);
  Atomics.store(words, BELL_MAGIC_INDEX, BELL_MAGIC);
}

/**
 * A wake-up signal shared by producers and one consumer (several rings may share one).
 *
 * Parking protocol (Dekker-style, all accesses sequentially consistent):
 *   consumer: seen = sequence(); check every source; if nothing: wait(seen, timeout)
 *             wait = parked += 1; sleep only while sequence === seen; parked -= 1
 *   producer: publish (Atomics.store of the head); ring = sequence += 1; if parked: notify
 * Either the producer sees the consumer parked and notifies, or the consumer's sleep
 * sees the sequence already moved and does not sleep. No wake-up is lost.
 * `parked` is a count rather than a 0/1 flag so that overlapping waits (a waitAsync still
 * pending while a new one starts) cannot clear each other's flag.
 */
export class Doorbell {
  readonly sab: SharedArrayBuffer;
  /** Where this doorbell lives in `sab`: 0 for Doorbell.create(); ring-embedded bells sit inside the ring's sab. */
  readonly byteOffset: number;
  /** Random identity, checked by Ring.attach against the bell the ring was created with. */
  readonly id: number;
  private readonly words: Int32Array;
  private readonly onAsyncWake: () => void;

  private constructor(sab: SharedArrayBuffer, byteOffset: number) {
    if (!(sab instanceof SharedArrayBuffer)) fail('doorbell needs a SharedArrayBuffer');
    if (!Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % 4 !== 0 || byteOffset + DOORBELL_BYTES > sab.byteLength) {
      fail(`doorbell byteOffset ${byteOffset} out of range for a ${sab.byteLength}-byte buffer`);
    }
    this.sab = sab;
    this.byteOffset = byteOffset;
    this.words = new Int32Array(sab, byteOffset, DOORBELL_BYTES / 4);
    if (Atomics.load(this.words, BELL_MAGIC_INDEX) !== BELL_MAGIC) {
      fail(`no doorbell at byte ${byteOffset} of this buffer (a ring-embedded bell needs its byteOffset too)`);
    }
    this.id = Atomics.load(this.words, BELL_ID_INDEX);
    const words = this.words;
    this.onAsyncWake = () => {
      Atomics.sub(words, BELL_PARKED_INDEX, 1);
    };
  }

  /** A new doorbell in its own small SharedArrayBuffer. */
  static create(): Doorbell {
    const sab = new SharedArrayBuffer(DOORBELL_BYTES);
    initDoorbell(sab, 0);
    return new Doorbell(sab, 0);
  }

  /** The same doorbell in another thread: pass bell.sab (and bell.byteOffset if not 0). */
  static attach(sab: SharedArrayBuffer, byteOffset = 0): Doorbell {
    return new Doorbell(sab, byteOffset);
  }

  /**
   * Producer side: bump the sequence and Atomics.notify only if the consumer flagged itself
   * parked, and has not promised to look anyway (willLook).
   */
  ring(): void {
    Atomics.add(this.words, BELL_SEQUENCE_INDEX, 1);
    if (Atomics.load(this.words, BELL_PARKED_INDEX) !== 0 && Atomics.load(this.words, BELL_LOOKING_INDEX) === 0) {
      Atomics.notify(this.words, BELL_SEQUENCE_INDEX);
    }
  }

  /**
   * Consumer, awake: it will look at every source this bell guards before it next waits,
   * and calls lookNow() first in that look. Meanwhile producers do not notify: a consumer
   * with an event loop keeps a waitAsync armed while it works, and each notify of it costs
   * the producer a futex call and the consumer a task through its loop, to find what it
   * was about to look at anyway.
   */
  willLook(): void {
    Atomics.store(this.words, BELL_LOOKING_INDEX, 1);
  }

  /**
   * Consumer: the promised look begins; producers notify again from here on. Whatever a
   * producer published before it saw the promise cleared is seen by the look that follows
   * (the producer publishes, then reads the flag; the consumer clears it, then reads its
   * sources; all sequentially consistent).
   */
  lookNow(): void {
    Atomics.store(this.words, BELL_LOOKING_INDEX, 0);
  }

  /** Consumer side: read this BEFORE checking the sources it guards. */
  sequence(): number {
    return Atomics.load(this.words, BELL_SEQUENCE_INDEX);
  }

  /**
   * Consumer: flag parked, and unless the sequence moved since `seenSequence`,
   * Atomics.wait up to timeoutMs (Infinity allowed). Clears the flag on return.
   * Spurious returns are allowed; callers re-check their sources.
   */
  wait(seenSequence: number, timeoutMs: number): void {
    if (!(timeoutMs >= 0)) fail(`wait timeoutMs must be >= 0, got ${timeoutMs}`);
    const parked = Atomics.add(this.words, BELL_PARKED_INDEX, 1);
    if (parked < 0) fail(`doorbell parked count is negative (${parked})`);
    // Atomics.wait itself re-reads the sequence atomically with joining the wait list.
    Atomics.wait(this.words, BELL_SEQUENCE_INDEX, seenSequence | 0, timeoutMs);
    Atomics.sub(this.words, BELL_PARKED_INDEX, 1);
  }

  /** Same with Atomics.waitAsync, for threads with an event loop. Resolves on ring or timeout. */
  waitAsync(seenSequence: number, timeoutMs = Infinity): Promise<void> {
    if (!(timeoutMs >= 0)) fail(`waitAsync timeoutMs must be >= 0, got ${timeoutMs}`);
    const parked = Atomics.add(this.words, BELL_PARKED_INDEX, 1);
    if (parked < 0) fail(`doorbell parked count is negative (${parked})`);
    const result = AtomicsWaitAsync.waitAsync(this.words, BELL_SEQUENCE_INDEX, seenSequence | 0, timeoutMs);
    if (!result.async) {
      // 'not-equal' (the sequence already moved) or 'timed-out' (timeoutMs 0).
      Atomics.sub(this.words, BELL_PARKED_INDEX, 1);
      return Promise.resolve();
    }
    return result.value.then(this.onAsyncWake);
  }

  /** How many waits are parked on this doorbell right now (metrics and tests). */
  parkedCount(): number {
    return Atomics.load(this.words, BELL_PARKED_INDEX);
  }
}

/** Single-producer single-consumer ring of variable-length records. */
export class Ring {
  readonly sab: SharedArrayBuffer;
  /** Buffer view over the record area (payloads are read/written here). */
  readonly data: Buffer;
  readonly capacityBytes: number;
  /** Largest payload one record can carry: records never wrap, so half the area minus a record header. */
  readonly maxPayloadBytes: number;
  /** The producer rings it when it publishes. */
  readonly dataBell: Doorbell;
  /** The consumer rings it when it frees space (the producer waits on it when full). */
  readonly spaceBell: Doorbell;

  // Consumer results of poll().
  kind = 0;
  payloadStart = 0;
  payloadLength = 0;

  private readonly header: Uint32Array;
  private readonly words: Uint32Array; // the record area as u32s (record headers)
  private readonly mask: number;

  // Producer state: only the producer writes the head, so its copy is authoritative.
  private headLocal: number;
  private tailSeen: number; // last tail loaded by the producer (free space is at least this much)
  private reservedPayloadBytes = -1; // -1: nothing reserved
  private reservedRecordStart = 0; // position of the reserved record header in the area
  private reservedPadBytes = 0; // padding skipped before the reserved record (0 or up to the end)

  // Consumer state: only the consumer writes the tail.
  private tailLocal: number;
  private headSeen: number; // last head loaded by the consumer
  private polled = false; // a record is out (poll() returned true, release() not yet called)
  private dataBellOwed = false; // commitQuiet() published without ringing dataBell
  private spaceBellOwed = false; // releaseQuiet() freed space without ringing spaceBell
  private releaseTail = 0; // the tail after the polled record

  private constructor(sab: SharedArrayBuffer, dataBell: Doorbell | undefined) {
    if (!(sab instanceof SharedArrayBuffer)) fail('ring needs a SharedArrayBuffer');
    if (sab.byteLength < RING_HEADER_BYTES + RING_CAPACITY_BYTES_MIN) fail(`buffer of ${sab.byteLength} bytes is too small to hold a ring`);
    const header = new Uint32Array(sab, 0, RING_HEADER_BYTES / 4);
    if (Atomics.load(header, CONST_MAGIC_INDEX) !== RING_MAGIC) fail('buffer does not hold a ring (bad magic)');
    if (Atomics.load(header, CONST_VERSION_INDEX) !== RING_LAYOUT_VERSION) fail('ring layout version mismatch');
    const capacityBytes = Atomics.load(header, CONST_CAPACITY_INDEX);
    if (!isPowerOfTwo(capacityBytes) || sab.byteLength !== RING_HEADER_BYTES + capacityBytes) {
      fail(`ring header says ${capacityBytes} capacity bytes but the buffer has ${sab.byteLength} bytes`);
    }
    const ownDataBell = Doorbell.attach(sab, OWN_DATA_BELL_BYTE_OFFSET);
    const expectedBellId = Atomics.load(header, CONST_DATA_BELL_ID_INDEX) | 0;
    if (dataBell === undefined) {
      if (expectedBellId !== ownDataBell.id) fail('this ring was created with a shared dataBell: pass the same doorbell to attach()');
      dataBell = ownDataBell;
    } else if (dataBell.id !== expectedBellId) {
      fail('dataBell is not the doorbell this ring was created with');
    }

    this.sab = sab;
    this.header = header;
    this.capacityBytes = capacityBytes;
    this.mask = capacityBytes - 1;
    this.maxPayloadBytes = capacityBytes / 2 - RECORD_HEADER_BYTES;
    this.data = Buffer.from(sab, RING_HEADER_BYTES, capacityBytes);
    this.words = new Uint32Array(sab, RING_HEADER_BYTES, capacityBytes / 4);
    this.dataBell = dataBell;
    this.spaceBell = Doorbell.attach(sab, SPACE_BELL_BYTE_OFFSET);
    this.headLocal = Atomics.load(header, HEAD_INDEX);
    this.tailLocal = Atomics.load(header, TAIL_INDEX);
    this.tailSeen = this.tailLocal;
    this.headSeen = this.headLocal;
  }

  /** A new ring with a power-of-two record area of capacityBytes (throws otherwise). dataBell: the doorbell rung when a record is published (default: one of its own, inside the ring's sab). */
  static create(capacityBytes: number, dataBell?: Doorbell): Ring {
    if (!isPowerOfTwo(capacityBytes) || capacityBytes < RING_CAPACITY_BYTES_MIN || capacityBytes > RING_CAPACITY_BYTES_MAX) {
      throw new RangeError(`ring capacityBytes must be a power of two in [${RING_CAPACITY_BYTES_MIN}, ${RING_CAPACITY_BYTES_MAX}], got ${capacityBytes}`);
    }
    const sab = new SharedArrayBuffer(RING_HEADER_BYTES + capacityBytes);
    initDoorbell(sab, OWN_DATA_BELL_BYTE_OFFSET);
    initDoorbell(sab, SPACE_BELL_BYTE_OFFSET);
    const header = new Uint32Array(sab, 0, RING_HEADER_BYTES / 4);
    const ownBellId = new Int32Array(sab, OWN_DATA_BELL_BYTE_OFFSET, DOORBELL_BYTES / 4)[BELL_ID_INDEX];
    Atomics.store(header, CONST_CAPACITY_INDEX, capacityBytes);
    Atomics.store(header, CONST_DATA_BELL_ID_INDEX, (dataBell === undefined ? ownBellId : dataBell.id) >>> 0);
    Atomics.store(header, CONST_VERSION_INDEX, RING_LAYOUT_VERSION);
    Atomics.store(header, CONST_MAGIC_INDEX, RING_MAGIC);
    return new Ring(sab, dataBell);
  }

  /** The same ring in another thread (pass ring.sab, and the shared dataBell's sab if create() was given one). */
  static attach(sab: SharedArrayBuffer, dataBell?: Doorbell): Ring {
    return new Ring(sab, dataBell);
  }

  // ---- producer side (one thread) ----

  /**
   * Reserve a contiguous payload area; returns its offset into `data`, or -1 when the
   * ring is full right now. Throws RangeError if payloadBytes > maxPayloadBytes.
   * A second reserve() before commit() replaces the first reservation.
   */
  reserve(payloadBytes: number): number {
    if (!(payloadBytes >= 0 && payloadBytes <= this.maxPayloadBytes && Number.isInteger(payloadBytes))) {
      throw new RangeError(`ring record payload must be an integer in [0, ${this.maxPayloadBytes}] bytes, got ${payloadBytes}`);
    }
    const recordBytes = (RECORD_HEADER_BYTES + payloadBytes + RECORD_ALIGN_BYTES - 1) & ~(RECORD_ALIGN_BYTES - 1);
    const head = this.headLocal;
    const position = head & this.mask;
    const bytesToEnd = this.capacityBytes - position;
    const padBytes = recordBytes <= bytesToEnd ? 0 : bytesToEnd;
    const neededBytes = padBytes + recordBytes;

    let usedBytes = (head - this.tailSeen) >>> 0;
    if (neededBytes > this.capacityBytes - usedBytes) {
      this.tailSeen = Atomics.load(this.header, TAIL_INDEX);
      usedBytes = (head - this.tailSeen) >>> 0;
      if (usedBytes > this.capacityBytes) fail(`producer sees ${usedBytes} used bytes in a ${this.capacityBytes}-byte ring (head ${head}, tail ${this.tailSeen})`);
      if (neededBytes > this.capacityBytes - usedBytes) {
        this.reservedPayloadBytes = -1;
        // a producer that finds the ring full is about to wait for the consumer: make sure
        // the consumer has heard of everything published quietly
        this.flushDataBell();
        return -1;
      }
    }

    if (padBytes !== 0) {
      // The padding is in free space, beyond the published head: the consumer will read it
      // only after commit() publishes a head past it.
      this.words[position >>> 2] = PAD_MARKER;
    }
    const recordStart = padBytes === 0 ? position : 0;
    this.reservedPayloadBytes = payloadBytes;
    this.reservedRecordStart = recordStart;
    this.reservedPadBytes = padBytes;
    return recordStart + RECORD_HEADER_BYTES;
  }

  /**
   * Publish the record reserved by the last reserve() with this kind (0..255) and length
   * (<= reserved): Atomics.store of the head, then ring dataBell (which notifies only if
   * the consumer is parked).
   */
  commit(kind: number, payloadBytes: number): void {
    this.publish(kind, payloadBytes);
    this.dataBellOwed = false;
    this.dataBell.ring();
  }

  /**
   * commit() without ringing dataBell: for a producer that publishes many records in one
   * turn and calls flushDataBell() once at its end (a full reserve() flushes too). The
   * consumer may not see the records until then.
   */
  commitQuiet(kind: number, payloadBytes: number): void {
    this.publish(kind, payloadBytes);
    this.dataBellOwed = true;
  }

  /** Rings dataBell if a commitQuiet() has not been announced yet. */
  flushDataBell(): void {
    if (!this.dataBellOwed) return;
    this.dataBellOwed = false;
    this.dataBell.ring();
  }

  private publish(kind: number, payloadBytes: number): void {
    const reservedPayloadBytes = this.reservedPayloadBytes;
    if (reservedPayloadBytes < 0) fail('commit() without a successful reserve()');
    if ((kind & 0xff) !== kind) fail(`record kind must be an integer in [0, 255], got ${kind}`);
    if (!(payloadBytes >= 0 && payloadBytes <= reservedPayloadBytes && Number.isInteger(payloadBytes))) {
      fail(`commit of ${payloadBytes} payload bytes, reserved ${reservedPayloadBytes}`);
    }
    const recordStart = this.reservedRecordStart;
    this.words[recordStart >>> 2] = payloadBytes;
    this.data[recordStart + 4] = kind;
    const recordBytes = (RECORD_HEADER_BYTES + payloadBytes + RECORD_ALIGN_BYTES - 1) & ~(RECORD_ALIGN_BYTES - 1);
    const head = (this.headLocal + this.reservedPadBytes + recordBytes) >>> 0;
    this.reservedPayloadBytes = -1;
    this.headLocal = head;
    Atomics.store(this.header, HEAD_INDEX, head);
  }

  /** Convenience: reserve + copy the parts back to back + commit. false when full. */
  tryPush(kind: number, part1: Uint8Array, part2?: Uint8Array): boolean {
    const part1Bytes = part1.length;
    const payloadBytes = part2 === undefined ? part1Bytes : part1Bytes + part2.length;
    const offset = this.reserve(payloadBytes);
    if (offset < 0) return false;
    this.data.set(part1, offset);
    if (part2 !== undefined) this.data.set(part2, offset + part1Bytes);
    this.commit(kind, payloadBytes);
    return true;
  }

  // ---- consumer side (one thread) ----

  /**
   * true when a record is available: sets kind, payloadStart, payloadLength (the payload
   * is data[payloadStart, payloadStart + payloadLength)). Calling poll again without
   * release returns the same record.
   */
  poll(): boolean {
    if (this.polled) return true;
    let tail = this.tailLocal;
    if (this.headSeen === tail) {
      this.headSeen = Atomics.load(this.header, HEAD_INDEX);
      if (this.headSeen === tail) {
        // an empty ring: the consumer is about to look elsewhere or park
        this.flushSpaceBell();
        return false;
      }
    }
    const head = this.headSeen;
    let position = tail & this.mask;
    let payloadBytes = this.words[position >>> 2];
    if (payloadBytes === PAD_MARKER) {
      if (position === 0) fail('padding marker at offset 0');
      tail = (tail + this.capacityBytes - position) >>> 0;
      position = 0;
      if (tail === head) fail('padding marker not followed by a record');
      payloadBytes = this.words[0];
      if (payloadBytes === PAD_MARKER) fail('two padding markers in a row');
    }
    const usedBytes = (head - tail) >>> 0;
    const recordBytes = (RECORD_HEADER_BYTES + payloadBytes + RECORD_ALIGN_BYTES - 1) & ~(RECORD_ALIGN_BYTES - 1);
    if (payloadBytes > this.maxPayloadBytes || recordBytes > usedBytes || usedBytes > this.capacityBytes) {
      fail(`corrupt record: ${payloadBytes} payload bytes at position ${position}, ${usedBytes} bytes published (head ${head}, tail ${tail})`);
    }
    this.kind = this.data[position + 4];
    this.payloadStart = position + RECORD_HEADER_BYTES;
    this.payloadLength = payloadBytes;
    this.releaseTail = (tail + recordBytes) >>> 0;
    this.polled = true;
    return true;
  }

  /** Free the record returned by poll(): Atomics.store of the tail, then ring spaceBell. */
  release(): void {
    this.free();
    this.spaceBellOwed = false;
    this.spaceBell.ring();
  }

  /**
   * release() without ringing spaceBell: for a consumer that frees many records in one
   * turn and calls flushSpaceBell() at its end (an empty poll() flushes too).
   */
  releaseQuiet(): void {
    this.free();
    this.spaceBellOwed = true;
  }

  /** Rings spaceBell if a releaseQuiet() has not been announced yet. */
  flushSpaceBell(): void {
    if (!this.spaceBellOwed) return;
    this.spaceBellOwed = false;
    this.spaceBell.ring();
  }

  private free(): void {
    if (!this.polled) fail('release() without a record from poll()');
    const tail = this.releaseTail;
    this.polled = false;
    this.tailLocal = tail;
    Atomics.store(this.header, TAIL_INDEX, tail);
  }

  /** Bytes between tail and head (records, their headers and padding), for metrics; callable from any thread. */
  usedBytes(): number {
    const tail = Atomics.load(this.header, TAIL_INDEX);
    const head = Atomics.load(this.header, HEAD_INDEX);
    return (head - tail) >>> 0;
  }
}
