// The io worker's connection state machine (engine/io/connection.ts) and the framer under it,
// driven without sockets or rings: bytes and time go in, the recorded port calls come out.
// Frames split at every byte boundary and at seeded random ones, oversized lengths,
// four-letter words against a ConnectRequest, the request ring filling up, the
// globalOutstandingLimit throttle and the outbound bounds pausing and resuming reading,
// the sessionless timeout, and maxCnxns / maxClientCnxns admission.
import { describe, it, expect } from 'vitest';
import { Connection, IoConnections, type IoPorts, type CloseReason } from '../../engine/io/connection.ts';
import { Cut, FrameCut, cutFrame, cutFourLetterWord } from '../../engine/io/framer.ts';
import { GlobalOutstanding } from '../../engine/io/outstanding.ts';
import { LargeRequests } from '../../engine/io/large-requests.ts';
import { StatsBlock, IO_STATS } from '../../engine/ops/stagestats.ts';
import { FOUR_LETTER_WORDS, type FourLetterWord } from '../../engine/ops/fourlw.ts';
import { IO_WORDS_BYTES, IO_WORDS_CONNS_OPEN, THROTTLE_IN_PROCESS, throttleWordsBytes } from '../../engine/records.ts';
import { Admission, REFUSED_MAX_CNXNS, REFUSED_MAX_CLIENT_CNXNS } from '../../engine/io/admission.ts';
import { seededRandom, testSeed } from '../support/random.ts';

const SEED = testSeed();
console.log(`io-connection.test.ts seed ${SEED} (replay with TEST_SEED=${SEED})`);
const seeded = (what: string) => `${what} [TEST_SEED=${SEED}]`;

const FRAME_BYTES_MAX = 1000;
const LIMIT = 10; // globalOutstandingLimit
const OUTBOUND = { connPauseBytes: 100, connBytesMax: 1000, totalSoftBytes: 2000, totalHardBytes: 4000, heavyConnBytesMin: 50 };

type Event =
  | { kind: 'connect'; id: number; frame: Buffer }
  | { kind: 'request'; id: number; frame: Buffer; atMs: number }
  | { kind: 'word'; id: number; word: FourLetterWord; mask: Buffer | null }
  | { kind: 'wait' | 'flush' }
  | { kind: 'pause' | 'resume'; id: number }
  | { kind: 'end'; id: number; text: string | undefined }
  | { kind: 'destroy'; id: number; reason: CloseReason; why: string };

/** Ports that record every call; the ring has room for `ringRoom` more records (Infinity: always). */
class Recorder implements IoPorts<Connection> {
  events: Event[] = [];
  ringRoom = Infinity;

  pushConnect(conn: Connection, frame: Buffer): boolean {
    if (this.ringRoom <= 0) return false;
    this.ringRoom--;
    this.events.push({ kind: 'connect', id: conn.id, frame: Buffer.from(frame) });
    return true;
  }
  pushRequest(conn: Connection, frame: Buffer, atMs: number): boolean {
    if (this.ringRoom <= 0) return false;
    this.ringRoom--;
    this.events.push({ kind: 'request', id: conn.id, frame: Buffer.from(frame), atMs });
    return true;
  }
  pushFourLetterWord(conn: Connection, word: FourLetterWord, mask: Buffer | null): void {
    this.events.push({ kind: 'word', id: conn.id, word, mask: mask === null ? null : Buffer.from(mask) });
  }
  waitForSpace(): void {
    this.events.push({ kind: 'wait' });
  }
  flushRequests(): void {
    this.events.push({ kind: 'flush' });
  }
  pauseReading(conn: Connection): void {
    this.events.push({ kind: 'pause', id: conn.id });
  }
  resumeReading(conn: Connection): void {
    this.events.push({ kind: 'resume', id: conn.id });
  }
  end(conn: Connection, text: string | undefined): void {
    this.events.push({ kind: 'end', id: conn.id, text });
  }
  destroy(conn: Connection, reason: CloseReason, why: string): void {
    this.events.push({ kind: 'destroy', id: conn.id, reason, why });
  }

  take(): Event[] {
    const e = this.events;
    this.events = [];
    return e;
  }
  frames(): Buffer[] {
    return this.events.flatMap((e) => (e.kind === 'connect' || e.kind === 'request' ? [e.frame] : []));
  }
  kinds(): string[] {
    return this.events.map((e) => e.kind);
  }
}

function setup(whitelist: FourLetterWord[] = ['ruok', 'stat', 'stmk', 'srvr'], large?: { thresholdBytes: number; maxBytes: number }) {
  const ports = new Recorder();
  const ioWords = new Int32Array(new SharedArrayBuffer(IO_WORDS_BYTES));
  const largeRequests = large === undefined ? undefined : new LargeRequests(ioWords, large.thresholdBytes, large.maxBytes);
  const throttleWords = new Int32Array(new SharedArrayBuffer(throttleWordsBytes(16)));
  const stats = StatsBlock.create(IO_STATS);
  const conns = new IoConnections<Connection>(
    {
      frameBytesMax: FRAME_BYTES_MAX,
      pendingBytesMax: 4 + FRAME_BYTES_MAX + 500,
      whitelist: new Set(whitelist),
      sessionlessTimeoutMs: 1000,
      throttleRecheckMs: 10,
      outbound: OUTBOUND,
      largeRequests,
    },
    new GlobalOutstanding(throttleWords, 0, 1, LIMIT),
    stats,
    ports,
  );
  let acceptedAtMs = 0;
  const open = (atMs = acceptedAtMs): Connection => {
    acceptedAtMs = atMs;
    const conn = new Connection(conns.allocateId(), atMs);
    conns.opened(conn);
    return conn;
  };
  return { ports, conns, stats, throttleWords, open, largeRequests };
}

function framed(body: Buffer): Buffer {
  const out = Buffer.alloc(4 + body.length);
  out.writeInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

/** A request body: xid, op type, then `extra` bytes of payload. */
function request(xid: number, extra = 8, fill = 0xab): Buffer {
  const b = Buffer.alloc(8 + extra, fill);
  b.writeInt32BE(xid, 0);
  b.writeInt32BE(4, 4); // getData
  return b;
}

const CONNECT_BODY = Buffer.alloc(44, 0x11);

function wordBytes(word: FourLetterWord): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(FOUR_LETTER_WORDS[word], 0);
  return b;
}

describe('cutFrame and cutFourLetterWord', () => {
  it('needs four bytes, then the whole body; reports where the body is', () => {
    const cut = new FrameCut();
    const stream = framed(Buffer.from('hello'));
    for (let end = 0; end < stream.length; end++) {
      expect(cutFrame(stream.subarray(0, end), 0, FRAME_BYTES_MAX, cut)).toBe(Cut.NEED_MORE);
    }
    expect(cutFrame(stream, 0, FRAME_BYTES_MAX, cut)).toBe(Cut.FRAME);
    expect([cut.frameStart, cut.frameEnd]).toEqual([4, 9]);
    const two = Buffer.concat([stream, stream]);
    expect(cutFrame(two, 9, FRAME_BYTES_MAX, cut)).toBe(Cut.FRAME);
    expect([cut.frameStart, cut.frameEnd]).toEqual([13, 18]);
  });

  it('refuses a length outside 0..frameBytesMax before its body arrives, and takes exactly the maximum', () => {
    const cut = new FrameCut();
    const head = Buffer.alloc(4);
    for (const length of [-1, -0x80000000, FRAME_BYTES_MAX + 1, 0x7fffffff]) {
      head.writeInt32BE(length, 0);
      expect(cutFrame(head, 0, FRAME_BYTES_MAX, cut)).toBe(Cut.BAD_LENGTH);
      expect(cut.length).toBe(length);
    }
    head.writeInt32BE(FRAME_BYTES_MAX, 0);
    expect(cutFrame(head, 0, FRAME_BYTES_MAX, cut)).toBe(Cut.NEED_MORE);
    expect(cutFrame(framed(Buffer.alloc(0)), 0, FRAME_BYTES_MAX, cut)).toBe(Cut.FRAME);
  });

  it('tells a four-letter word from a frame length; as a length a word is far over jute.maxbuffer', () => {
    const cut = new FrameCut();
    const ruok = wordBytes('ruok');
    for (let end = 0; end < 4; end++) expect(cutFourLetterWord(ruok.subarray(0, end), 0, false, cut)).toBe(Cut.NEED_MORE);
    expect(cutFourLetterWord(ruok, 0, false, cut)).toBe(Cut.FOUR_LETTER_WORD);
    expect([cut.word, cut.maskStart]).toEqual(['ruok', -1]);
    expect(cutFrame(ruok, 0, FRAME_BYTES_MAX, cut)).toBe(Cut.BAD_LENGTH);
    expect(cutFourLetterWord(Buffer.from('xxxx'), 0, false, cut)).toBe(Cut.FRAME); // unknown: a length (and a bad one)
    expect(cutFourLetterWord(framed(CONNECT_BODY), 0, false, cut)).toBe(Cut.FRAME);
  });

  it('waits for an enabled stmk mask, and takes a disabled stmk without one', () => {
    const cut = new FrameCut();
    const stmk = Buffer.concat([wordBytes('stmk'), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8])]);
    for (let end = 4; end < 12; end++) expect(cutFourLetterWord(stmk.subarray(0, end), 0, true, cut)).toBe(Cut.NEED_MORE);
    expect(cutFourLetterWord(stmk, 0, true, cut)).toBe(Cut.FOUR_LETTER_WORD);
    expect(cut.maskStart).toBe(4);
    expect(cutFourLetterWord(stmk.subarray(0, 4), 0, false, cut)).toBe(Cut.FOUR_LETTER_WORD);
    expect(cut.maskStart).toBe(-1);
  });
});

describe('IoConnections: framing', () => {
  const bodies = [CONNECT_BODY, request(1), request(2, 0), request(3, 300), request(-2, 4), request(4, 1)];
  const stream = Buffer.concat(bodies.map(framed));

  it('forwards the same frames however the stream is split in two', () => {
    for (let cutAt = 0; cutAt <= stream.length; cutAt++) {
      const { ports, conns, open } = setup();
      const conn = open();
      conns.onData(conn, stream.subarray(0, cutAt), 1);
      conns.onData(conn, stream.subarray(cutAt), 2);
      expect(ports.frames(), `split at ${cutAt}`).toEqual(bodies);
      expect(ports.events[0].kind).toBe('connect');
      expect(conn.pending).toBeNull();
      expect(ports.kinds().includes('destroy')).toBe(false);
    }
  });

  it('forwards the same frames byte by byte and in seeded random chunks', () => {
    const random = seededRandom(SEED);
    for (let round = 0; round < 200; round++) {
      const { ports, conns, open } = setup();
      const conn = open();
      let at = 0;
      while (at < stream.length) {
        const n = round === 0 ? 1 : 1 + Math.floor(random() * 40);
        conns.onData(conn, stream.subarray(at, Math.min(stream.length, at + n)), at);
        at += n;
      }
      expect(ports.frames(), seeded(`round ${round}`)).toEqual(bodies);
    }
  });

  it('stamps requests with the time their bytes arrived', () => {
    const { ports, conns, open } = setup();
    const conn = open();
    conns.onData(conn, framed(CONNECT_BODY), 5);
    const req = framed(request(1));
    conns.onData(conn, req.subarray(0, 6), 7);
    conns.onData(conn, req.subarray(6), 9);
    const sent = ports.events.filter((e) => e.kind === 'request');
    expect(sent.map((e) => (e as { atMs: number }).atMs)).toEqual([9]);
  });

  it('closes a connection whose frame length is outside 0..jute.maxbuffer, with nothing forwarded after', () => {
    for (const length of [-1, FRAME_BYTES_MAX + 1]) {
      const { ports, conns, open } = setup();
      const conn = open();
      const bad = Buffer.alloc(8);
      bad.writeInt32BE(length, 0);
      conns.onData(conn, Buffer.concat([framed(CONNECT_BODY), framed(request(1)), bad, framed(request(2))]), 1);
      expect(ports.kinds()).toEqual(['connect', 'request', 'destroy']);
      const d = ports.events[2] as Extract<Event, { kind: 'destroy' }>;
      expect(d.reason).toBe('bad input');
      expect(d.why).toBe(`frame length ${length} is outside 0..${FRAME_BYTES_MAX} (jute.maxbuffer)`);
      expect(conn.pending).toBeNull();
    }
  });

  it('closes a connection that holds more than pendingBytesMax while it is not read', () => {
    const { ports, conns, open } = setup();
    const conn = open();
    conns.onData(conn, framed(CONNECT_BODY), 0);
    conn.writeFull = true; // held: what arrives is kept, not forwarded
    conns.onData(conn, Buffer.alloc(1000, 1), 1);
    expect(ports.kinds().includes('destroy')).toBe(false);
    conns.onData(conn, Buffer.alloc(600, 1), 2);
    expect(ports.events.at(-1)).toMatchObject({ kind: 'destroy', reason: 'bad input', why: '1600 received bytes pending, over the 1504 bound' });
    expect(conns.onData(conn, Buffer.alloc(1), 3)).toBe(true); // not closed until the socket says so
    conns.onClosed(conn);
    expect(conns.onData(conn, Buffer.alloc(1), 4)).toBe(false);
  });
});

describe('IoConnections: four-letter words', () => {
  it('answers ruok itself and ends; a word not in the whitelist gets its sentence', () => {
    const { ports, conns, open } = setup(['ruok']);
    const a = open();
    conns.onData(a, Buffer.concat([wordBytes('ruok'), Buffer.from('trailing')]), 0);
    expect(ports.take()).toEqual([{ kind: 'end', id: a.id, text: 'imok' }]);
    expect(a.ended).toBe(true);
    expect(conns.onData(a, Buffer.from('more'), 1)).toBe(false);
    const b = open();
    conns.onData(b, wordBytes('stat'), 0);
    expect(ports.take()).toEqual([{ kind: 'end', id: b.id, text: 'stat is not executed because it is not in the whitelist.\n' }]);
  });

  it('hands other words to the pipeline and stops reading; the peer FIN does not end it', () => {
    const { ports, conns, open } = setup();
    const conn = open();
    const bytes = wordBytes('stat');
    conns.onData(conn, bytes.subarray(0, 3), 0);
    expect(ports.take()).toEqual([]);
    conns.onData(conn, bytes.subarray(3), 1);
    expect(ports.take()).toEqual([{ kind: 'pause', id: conn.id }, { kind: 'word', id: conn.id, word: 'stat', mask: null }]);
    expect([conn.handshaken, conn.awaitingText]).toEqual([true, true]);
    conns.onPeerEnded(conn);
    expect(ports.take()).toEqual([]);
    conns.end(conn, 'answer');
    conns.end(conn, 'again');
    expect(ports.take()).toEqual([{ kind: 'end', id: conn.id, text: 'answer' }]);
  });

  it('reads stmk mask split at every byte', () => {
    const stmk = Buffer.concat([wordBytes('stmk'), Buffer.from([0, 0, 0, 0, 0, 0, 1, 2])]);
    for (let cutAt = 0; cutAt <= stmk.length; cutAt++) {
      const { ports, conns, open } = setup();
      const conn = open();
      conns.onData(conn, stmk.subarray(0, cutAt), 0);
      conns.onData(conn, stmk.subarray(cutAt), 1);
      expect(ports.events.filter((e) => e.kind === 'word'), `split at ${cutAt}`).toEqual([{ kind: 'word', id: conn.id, word: 'stmk', mask: stmk.subarray(4) }]);
    }
  });

  it('takes the same bytes as a frame length once the ConnectRequest went', () => {
    const { ports, conns, open } = setup();
    const conn = open();
    conns.onData(conn, Buffer.concat([framed(CONNECT_BODY), wordBytes('ruok')]), 0);
    expect(ports.kinds()).toEqual(['connect', 'destroy']);
  });
});

describe('IoConnections: the request ring full', () => {
  it('keeps what did not fit, stops reading, and forwards it in order once unblocked', () => {
    const { ports, conns, open, stats } = setup();
    const conn = open();
    ports.ringRoom = 2;
    const bodies = [CONNECT_BODY, request(1), request(2), request(3)];
    conns.onData(conn, Buffer.concat(bodies.map(framed)), 0);
    expect(ports.kinds()).toEqual(['connect', 'request', 'pause', 'wait']);
    expect(conn.blocked).toBe(true);
    expect(stats.counter('backpressure_pauses')).toBe(1);
    conns.onData(conn, framed(request(4)), 1); // a chunk read before the pause took: held
    expect(ports.take().at(-1)).toEqual({ kind: 'pause', id: conn.id });
    ports.ringRoom = 1;
    conns.unblock(2);
    expect(ports.take()).toEqual([
      { kind: 'request', id: conn.id, frame: bodies[2], atMs: 2 },
      { kind: 'pause', id: conn.id },
      { kind: 'wait' },
      { kind: 'flush' },
    ]);
    ports.ringRoom = Infinity;
    conns.unblock(3);
    expect(ports.take()).toEqual([
      { kind: 'request', id: conn.id, frame: bodies[3], atMs: 3 },
      { kind: 'request', id: conn.id, frame: request(4), atMs: 3 },
      { kind: 'flush' },
      { kind: 'resume', id: conn.id },
    ]);
    expect(conn.pending).toBeNull();
  });
});

describe('IoConnections: globalOutstandingLimit', () => {
  it('stops reading a connection with requests outstanding while the server is over the limit, resumes on its reply', () => {
    const { ports, conns, open, throttleWords, stats } = setup();
    const conn = open();
    conns.onData(conn, framed(CONNECT_BODY), 0);
    Atomics.store(throttleWords, THROTTLE_IN_PROCESS, LIMIT + 1);
    conns.onData(conn, Buffer.concat([framed(request(1)), framed(request(2))]), 1);
    expect(ports.take().slice(1)).toEqual([{ kind: 'request', id: conn.id, frame: request(1), atMs: 1 }, { kind: 'pause', id: conn.id }, { kind: 'pause', id: conn.id }]);
    expect([conn.throttled, conn.outstanding, conns.activeConns, conns.throttledCount]).toEqual([true, 1, 1, 1]);
    expect(stats.counter('throttle_pauses')).toBe(1);
    // a reply while still over the limit: held
    conn.outstanding = 2;
    conns.onReplied(conn, 2);
    expect(ports.take()).toEqual([]);
    Atomics.store(throttleWords, THROTTLE_IN_PROCESS, 0);
    conns.onReplied(conn, 3);
    expect(ports.take()).toEqual([{ kind: 'request', id: conn.id, frame: request(2), atMs: 3 }, { kind: 'flush' }, { kind: 'resume', id: conn.id }]);
    expect([conn.throttled, conn.outstanding]).toEqual([false, 1]);
  });

  it('counts in flight what this worker pushed and the pipeline has not taken', () => {
    const { ports, conns, open } = setup();
    const conn = open();
    conns.onData(conn, framed(CONNECT_BODY), 0);
    const frames = [];
    for (let xid = 1; xid <= LIMIT + 3; xid++) frames.push(framed(request(xid)));
    conns.onData(conn, Buffer.concat(frames), 1);
    // the (LIMIT + 1)th push makes LIMIT + 1 in flight: over the limit
    expect(ports.frames().length).toBe(1 + LIMIT + 1);
    expect(conn.throttled).toBe(true);
  });

  it('does not count pings, auth and set-watches (xid <= 0)', () => {
    const { conns, open, throttleWords } = setup();
    const conn = open();
    conns.onData(conn, framed(CONNECT_BODY), 0);
    Atomics.store(throttleWords, THROTTLE_IN_PROCESS, LIMIT + 1);
    conns.onData(conn, Buffer.concat([framed(request(-2)), framed(request(-4)), framed(request(0))]), 1);
    expect([conn.throttled, conn.outstanding, conns.activeConns]).toEqual([false, 0, 0]);
  });

  it('rechecks throttled connections at most every throttleRecheckMs', () => {
    const { ports, conns, open, throttleWords } = setup();
    const conn = open();
    conns.onData(conn, framed(CONNECT_BODY), 0);
    Atomics.store(throttleWords, THROTTLE_IN_PROCESS, LIMIT + 1);
    conns.onData(conn, framed(request(1)), 1);
    conns.recheckThrottled(100);
    ports.take();
    Atomics.store(throttleWords, THROTTLE_IN_PROCESS, 0);
    conns.recheckThrottled(109);
    expect(conn.throttled).toBe(true);
    conns.recheckThrottled(110);
    expect(conn.throttled).toBe(false);
    expect(ports.take()).toEqual([{ kind: 'flush' }, { kind: 'resume', id: conn.id }]);
  });

  it('forgets a closed connection', () => {
    const { conns, open, throttleWords } = setup();
    const conn = open();
    conns.onData(conn, framed(CONNECT_BODY), 0);
    Atomics.store(throttleWords, THROTTLE_IN_PROCESS, LIMIT + 1);
    conns.onData(conn, framed(request(1)), 1);
    expect(conns.onClosed(conn)).toBe(true);
    expect(conns.onClosed(conn)).toBe(false);
    expect([conns.throttledCount, conns.activeConns, conns.size, conn.outstanding]).toEqual([0, 0, 0, 0]);
    expect(conns.get(conn.id)).toBeUndefined();
  });

  it('knows a reply to a request from a watch event or ping by its xid', () => {
    const reply = Buffer.alloc(20);
    reply.writeInt32BE(16, 0);
    reply.writeInt32BE(7, 4);
    expect(IoConnections.answersRequest(reply, 0, 20)).toBe(true);
    reply.writeInt32BE(-1, 4); // a watch event
    expect(IoConnections.answersRequest(reply, 0, 20)).toBe(false);
    expect(IoConnections.answersRequest(reply, 0, 7)).toBe(false);
  });
});

describe('IoConnections: large requests (zookeeper.largeRequestThreshold, largeRequestMaxBytes)', () => {
  const LARGE = { thresholdBytes: 100, maxBytes: 300 };
  /** A connection past its ConnectRequest. */
  const handshaken = (t: ReturnType<typeof setup>, atMs = 0): Connection => {
    const conn = t.open(atMs);
    t.conns.onData(conn, framed(CONNECT_BODY), atMs);
    t.ports.take();
    return conn;
  };
  /** A request body of `bodyBytes` after its 8-byte header, of operation `op`. */
  const sized = (xid: number, bodyBytes: number, op = 5): Buffer => {
    const b = request(xid, bodyBytes);
    b.writeInt32BE(op, 4);
    return b;
  };

  it('counts a request body over the threshold until its reply; one that would go over the max closes its connection, nothing forwarded', () => {
    const t = setup(undefined, LARGE);
    const [a, b] = [handshaken(t), handshaken(t)];
    t.conns.onData(a, framed(sized(1, 192)), 1);
    expect(t.largeRequests!.inProcessBytes()).toBe(192);
    // 192 in process + b's frame of 158 bytes > 300: refused as soon as its length is read
    t.conns.onData(b, framed(sized(1, 150)), 2);
    expect(t.ports.take().slice(1)).toEqual([{ kind: 'destroy', id: b.id, reason: 'large request', why: expect.stringMatching(/^Rejecting large request \(158 bytes/) }]);
    expect(t.stats.counter('large_requests_rejected')).toBe(1);
    expect(t.conns.onData(b, framed(request(2)), 3)).toBe(false);
    // a's reply releases its bytes: the same request from another connection now goes through
    t.conns.onReplied(a, 4);
    expect(t.largeRequests!.inProcessBytes()).toBe(0);
    const c = handshaken(t);
    t.conns.onData(c, framed(sized(1, 150)), 5);
    expect(t.ports.frames()).toEqual([sized(1, 150)]);
    expect(t.largeRequests!.inProcessBytes()).toBe(150);
  });

  it('refuses a frame longer than the max from its length alone, before its body arrives', () => {
    const t = setup(undefined, LARGE);
    const conn = handshaken(t);
    const head = Buffer.alloc(4);
    head.writeInt32BE(301, 0);
    t.conns.onData(conn, head, 1);
    expect(t.ports.take()).toEqual([{ kind: 'destroy', id: conn.id, reason: 'large request', why: expect.stringMatching(/^Rejecting large request \(301 bytes/) }]);
  });

  it('counts the body (the frame less its 8-byte header) against the max, as processPacket does', () => {
    const t = setup(undefined, LARGE);
    const [a, b] = [handshaken(t), handshaken(t)];
    t.conns.onData(a, framed(sized(1, 150)), 1); // counted: 150
    t.conns.onData(b, framed(sized(1, 142)), 2); // frame 150: 150 + 150 <= 300 read; body 142 counted: 292
    expect(t.largeRequests!.inProcessBytes()).toBe(292);
    t.conns.onData(b, framed(sized(2, 101)), 3); // frame 109: 292 + 109 > 300
    expect(t.ports.take().filter((e) => e.kind === 'destroy').map((e) => e.id)).toEqual([b.id]);
    // b closed with its first request unanswered: its bytes go with it
    t.conns.onClosed(b);
    expect(t.largeRequests!.inProcessBytes()).toBe(150);
  });

  it('does not count auth and SASL packets, frames with an xid of 0 or below, or requests at the threshold', () => {
    const t = setup(undefined, LARGE);
    const conn = handshaken(t);
    t.conns.onData(conn, Buffer.concat([framed(sized(-8, 150, 101)), framed(sized(1, 150, 100)), framed(sized(2, 150, 102)), framed(sized(3, 100))]), 1);
    expect(t.ports.frames().length).toBe(4);
    expect(t.largeRequests!.inProcessBytes()).toBe(0);
  });

  it('counts a request the full ring held back once, when it is forwarded', () => {
    const t = setup(undefined, LARGE);
    const conn = handshaken(t);
    t.ports.ringRoom = 0;
    t.conns.onData(conn, framed(sized(1, 150)), 1);
    expect(t.largeRequests!.inProcessBytes()).toBe(0);
    t.ports.ringRoom = Infinity;
    t.conns.unblock(2);
    expect(t.ports.frames()).toEqual([sized(1, 150)]);
    expect(t.largeRequests!.inProcessBytes()).toBe(150);
  });

  it('with the threshold off (-1, ZooKeeper\'s default) counts nothing', () => {
    const t = setup(undefined, { thresholdBytes: -1, maxBytes: 300 });
    const conn = handshaken(t);
    t.conns.onData(conn, framed(sized(1, 900)), 1);
    expect(t.ports.frames().length).toBe(1);
    expect(t.largeRequests!.inProcessBytes()).toBe(0);
  });
});

describe('IoConnections: outbound bounds', () => {
  it('stops reading past connPauseBytes queued, reads again once drained to it, closes past connBytesMax', () => {
    const { ports, conns, open, stats } = setup();
    const conn = open();
    conns.onData(conn, framed(CONNECT_BODY), 0);
    ports.take();
    conns.afterWrite(conn, 100);
    expect(ports.take()).toEqual([]);
    conns.afterWrite(conn, 101);
    conns.afterWrite(conn, 150);
    expect(ports.take()).toEqual([{ kind: 'pause', id: conn.id }]);
    expect(stats.counter('write_buffer_pauses')).toBe(1);
    conns.onData(conn, framed(request(1)), 1); // held while writeFull
    conns.onDrained(conn, 101, 2);
    expect(conn.writeFull).toBe(true);
    ports.take();
    conns.onDrained(conn, 100, 3);
    expect(ports.take()).toEqual([{ kind: 'request', id: conn.id, frame: request(1), atMs: 3 }, { kind: 'flush' }, { kind: 'resume', id: conn.id }]);
    conns.afterWrite(conn, 1001);
    expect(ports.take()).toEqual([{ kind: 'destroy', id: conn.id, reason: 'outbound', why: '1001 bytes of replies and watch events queued and not read (over 1000); its session lives on' }]);
    expect(stats.counter('outbound_overflow_closes')).toBe(1);
  });

  it('keeps the sum of queued bytes and which connections hold any', () => {
    const { conns, open } = setup();
    const a = open();
    const b = open();
    conns.noteQueued(a, 30);
    conns.noteQueued(b, 70);
    conns.noteQueued(a, 10);
    expect(conns.outbound.bytes).toBe(80);
    expect([...conns.outbound.queuedConns]).toEqual([a, b]);
    conns.noteQueued(b, 0);
    expect([...conns.outbound.queuedConns]).toEqual([a]);
    conns.onClosed(a);
    expect(conns.outbound.bytes).toBe(0);
    expect(conns.outbound.queuedConns.size).toBe(0);
  });

  it('over the hard bound closes the heaviest heavy connections until under it; over the soft bound pauses the heavy ones', () => {
    const { ports, conns, open, stats } = setup();
    const [light, mid, heavy, heaviest] = [open(), open(), open(), open()];
    conns.noteQueued(light, 40); // under heavyConnBytesMin: never touched
    conns.noteQueued(mid, 60);
    conns.noteQueued(heavy, 700);
    conns.noteQueued(heaviest, 900);
    expect(conns.enforceOutboundBudget(1700)).toBe(0); // under both bounds
    expect(ports.take()).toEqual([]);
    expect(conns.enforceOutboundBudget(2001)).toBe(0); // soft: the heavy ones stop being read
    expect(ports.take()).toEqual([{ kind: 'pause', id: mid.id }, { kind: 'pause', id: heavy.id }, { kind: 'pause', id: heaviest.id }]);
    expect(stats.counter('outbound_budget_pauses')).toBe(3);
    expect(conns.enforceOutboundBudget(2001)).toBe(0); // already paused: not again
    expect(ports.take()).toEqual([]);
    // other workers hold 3500: 5200 in all, over the hard bound of 4000 by 1200 → the heaviest two go
    expect(conns.enforceOutboundBudget(5200)).toBe(2);
    expect(ports.take()).toEqual([
      { kind: 'destroy', id: heaviest.id, reason: 'outbound', why: '900 bytes of replies and watch events queued and not read, and all connections together have 5200 queued (over 4000); its session lives on' },
      { kind: 'destroy', id: heavy.id, reason: 'outbound', why: '700 bytes of replies and watch events queued and not read, and all connections together have 4300 queued (over 4000); its session lives on' },
    ]);
    expect(stats.counter('outbound_budget_closes')).toBe(2);
    expect(conns.outbound.bytes).toBe(100);
    // far over: the last heavy one goes, then nothing heavy is left (the rest is other workers' to shed)
    expect(conns.enforceOutboundBudget(9000)).toBe(1);
    expect(ports.take()).toMatchObject([{ kind: 'destroy', id: mid.id }]);
    expect(conns.enforceOutboundBudget(9000)).toBe(0);
    expect(conns.outbound.bytes).toBe(40);
  });
});

describe('IoConnections: sessionless timeout', () => {
  it('closes connections that neither handshook nor closed within the timeout of their accept, in accept order', () => {
    const { ports, conns, open, stats } = setup();
    const a = open(0);
    const b = open(100);
    const c = open(200);
    const d = open(300);
    expect(conns.sessionless.nextDueMs()).toBe(1000);
    conns.onData(b, framed(CONNECT_BODY), 150); // handshaken
    conns.onClosed(c);
    ports.take();
    expect(conns.expireSessionless(999)).toBe(0);
    expect(conns.sessionless.nextDueMs()).toBe(1000);
    expect(conns.expireSessionless(1000)).toBe(1);
    expect(ports.take()).toEqual([{ kind: 'destroy', id: a.id, reason: 'sessionless', why: '' }]);
    // b (handshaken) and c (closed) left the queue on the way: d is the head
    expect(conns.sessionless.nextDueMs()).toBe(1300);
    expect(conns.expireSessionless(1299)).toBe(0);
    expect(conns.expireSessionless(1300)).toBe(1);
    expect(ports.take()).toEqual([{ kind: 'destroy', id: d.id, reason: 'sessionless', why: '' }]);
    expect(conns.sessionless.nextDueMs()).toBe(-1);
    expect(stats.counter('sessionless_expired')).toBe(2);
  });

  it('a four-letter word counts as a handshake', () => {
    const { conns, open } = setup();
    const a = open(0);
    conns.onData(a, wordBytes('stat'), 10);
    expect(conns.expireSessionless(5000)).toBe(0);
  });
});

describe('Admission', () => {
  it('refuses past zookeeper.maxCnxns first, then past maxClientCnxns per address, and counts nothing it refused', () => {
    const ioWords = new Int32Array(new SharedArrayBuffer(IO_WORDS_BYTES));
    const counts = new Int32Array(new SharedArrayBuffer(4 * 64));
    const admission = new Admission(ioWords, counts, 3, 2);
    const a1 = admission.admit('10.0.0.1');
    const a2 = admission.admit('10.0.0.1');
    expect(a1).toBe(a2);
    expect(a1).toBeGreaterThanOrEqual(0);
    expect(admission.admit('10.0.0.1')).toBe(REFUSED_MAX_CLIENT_CNXNS);
    expect(counts[a1]).toBe(2);
    const b = admission.admit('10.0.0.2');
    expect(b).toBeGreaterThanOrEqual(0);
    expect(admission.admit('10.0.0.3')).toBe(REFUSED_MAX_CNXNS);
    expect(Atomics.load(ioWords, IO_WORDS_CONNS_OPEN)).toBe(3);
    admission.release(a1);
    expect(admission.admit('10.0.0.3')).toBeGreaterThanOrEqual(0);
    expect(Atomics.load(ioWords, IO_WORDS_CONNS_OPEN)).toBe(3);
    expect(counts[a1]).toBe(1);
  });

  it('with both limits 0 admits everyone', () => {
    const admission = new Admission(new Int32Array(new SharedArrayBuffer(IO_WORDS_BYTES)), new Int32Array(new SharedArrayBuffer(16)), 0, 0);
    for (let i = 0; i < 1000; i++) expect(admission.admit('10.0.0.1')).toBeGreaterThanOrEqual(0);
  });
});
