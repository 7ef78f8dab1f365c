// The io worker's client connections as a synchronous state machine: bytes received, replies
// counted, sockets drained and closed come in as calls (time as a parameter); what the
// worker must do goes out through IoPorts (put a record on the request ring, stop or start
// reading a socket, end or close it). No sockets, rings or timers here: engine/workers/io-worker.ts
// is the shell that moves bytes, and test/unit/io-connection.test.ts drives this directly.
//
// A connection is read while nothing holds it. What holds it:
//  - blocked: the request ring was full (until the pipeline frees space: unblock()),
//  - throttled: globalOutstandingLimit is exceeded and it has requests outstanding
//    (ZooKeeper's shouldThrottle / disableRecv: until a reply of its own finds the server
//    below the limit, or the periodic recheck does),
//  - writeFull: too much is queued for writing to it, its own (connPauseBytes) or the
//    server's (the soft bound; engine/io/outbound-limits.ts), until it drains,
//  - awaitingText: it sent a four-letter word the pipeline answers; nothing more is read.
// Received bytes wait in `pending` (a partial frame, or frames held by the above), bounded by
// pendingBytesMax: a held socket is paused, so at most one more chunk arrives.
//
// Hot path (STYLE.md rule 5): onData and onReplied allocate nothing per frame beyond the
// frame's view and what Node hands in; the ports object is made once by the shell.
import { type FourLetterWord, formatNotWhitelisted } from '../ops/fourlw.ts';
import type { StatsBlock } from '../ops/stagestats.ts';
import { Cut, FrameCut, FRAME_LENGTH_BYTES, cutFrame, cutFourLetterWord } from './framer.ts';
import type { GlobalOutstanding } from './outstanding.ts';
import type { LargeRequests } from './large-requests.ts';
import { OutboundLedger, type OutboundBounds } from './outbound-limits.ts';
import { SessionlessQueue } from './sessionless.ts';

/** One client connection's state; the shell extends it with its socket and peer. */
export class Connection {
  readonly id: number;
  /** Shared-clock time of its accept: the sessionless timeout runs from here. */
  readonly acceptedAtMs: number;
  /** Received bytes not yet forwarded (a partial frame, or frames held by backpressure). */
  pending: Buffer | null = null;
  /** Its ConnectRequest (or a four-letter word) went to the pipeline: frames that follow are requests. */
  handshaken = false;
  blocked = false;
  throttled = false;
  writeFull = false;
  /** Requests forwarded (xid > 0) and not answered yet: ZooKeeper's per-connection outstandingCount. */
  outstanding = 0;
  /** Requests forwarded (xid > 0) and answered since it opened: replies come in request order, so request k (from 0) is answered once this passes k. */
  requestsAnswered = 0;
  /** Large requests it has in process (engine/io/large-requests.ts): pairs of request index (answered + outstanding when forwarded) and counted bytes; null when none. */
  largeInProcess: number[] | null = null;
  closed = false;
  /**
   * We ended our side: after the client's FIN, a CLOSE or a four-letter word's answer.
   * Nothing more is written or read (a write after end() is an error, and what it would
   * carry has nobody to read it: ZooKeeper drops it too).
   */
  ended = false;
  /** A four-letter word went to the pipeline: keep the socket writable after the client's FIN until the answer. */
  awaitingText = false;
  /** Bytes queued for writing when last looked at (engine/io/outbound-limits.ts). */
  queuedBytes = 0;

  constructor(id: number, acceptedAtMs: number) {
    this.id = id;
    this.acceptedAtMs = acceptedAtMs;
  }
}

/**
 * Why a connection is closed at once (IoPorts.destroy): 'bad input', a malformed or
 * oversized frame or too many bytes pending (logged rate-limited); 'outbound', too much
 * queued and not read (its session lives on); 'sessionless', no ConnectRequest or
 * four-letter word within zookeeper.nio.sessionlessCnxnTimeout; 'large request', a request
 * over zookeeper.largeRequestThreshold that would take the large requests in process over
 * zookeeper.largeRequestMaxBytes.
 */
export type CloseReason = 'bad input' | 'outbound' | 'sessionless' | 'large request';

/** What the state machine asks of the shell. Made once; called on the hot path. */
export interface IoPorts<C extends Connection> {
  /** Puts the CONNECT record of conn's ConnectRequest on the request ring; false when full (nothing written). */
  pushConnect(conn: C, frame: Buffer): boolean;
  /** Puts a REQUEST record stamped atMs on the request ring, quietly; false when full (nothing written). */
  pushRequest(conn: C, frame: Buffer, atMs: number): boolean;
  /** Hands a four-letter word to the pipeline (it answers); `mask`: stmk's 8 bytes, else null. */
  pushFourLetterWord(conn: C, word: FourLetterWord, mask: Buffer | null): void;
  /** The request ring was full: call unblock() once it has space. */
  waitForSpace(): void;
  /** Rings the pipeline's doorbell for records pushed quietly. */
  flushRequests(): void;
  pauseReading(conn: C): void;
  resumeReading(conn: C): void;
  /** Ends our side after `text` (undefined: none). */
  end(conn: C, text: string | undefined): void;
  /** Closes at once. `why` completes "closing connection from addr:port: …" (empty for 'sessionless'). */
  destroy(conn: C, reason: CloseReason, why: string): void;
}

export interface IoConnectionOptions {
  /** jute.maxbuffer: the longest frame. */
  frameBytesMax: number;
  /** Received bytes one connection may hold (engine/limits.ts inboundPendingBytesMax). */
  pendingBytesMax: number;
  /** 4lw.commands.whitelist as the config read it. */
  whitelist: ReadonlySet<FourLetterWord>;
  /** zookeeper.nio.sessionlessCnxnTimeout. */
  sessionlessTimeoutMs: number;
  /** How often throttled connections are looked at again without a reply of their own. */
  throttleRecheckMs: number;
  outbound: OutboundBounds;
  /** zookeeper.largeRequestThreshold/largeRequestMaxBytes over the io workers' shared count; absent: no limit. */
  largeRequests?: LargeRequests;
}

/** Bytes of a reply frame's length prefix and xid: its xid says whether it answers a request. */
const REPLY_XID_END_BYTES = 8;
const STMK_MASK_BYTES = 8;

export class IoConnections<C extends Connection> {
  private readonly options: IoConnectionOptions;
  private readonly ports: IoPorts<C>;
  private readonly outstanding: GlobalOutstanding;
  private readonly stmkEnabled: boolean;
  private readonly conns = new Map<number, C>();
  private readonly blocked = new Set<C>();
  private readonly throttled = new Set<C>();
  private readonly cut = new FrameCut();
  private nextId = 1;
  private lastRecheckMs = 0;
  readonly sessionless: SessionlessQueue<C>;
  readonly outbound: OutboundLedger<C>;
  /** Connections with requests outstanding (outstanding > 0). */
  activeConns = 0;
  private readonly stats: StatsBlock;
  private readonly BYTES_IN: number;
  private readonly FRAMES_IN: number;
  private readonly PAUSES: number;
  private readonly THROTTLE_PAUSES: number;
  private readonly LARGE_REJECTED: number;
  private readonly large: LargeRequests | null;
  private readonly WRITE_PAUSES: number;
  private readonly OVERFLOW_CLOSES: number;
  private readonly SESSIONLESS_EXPIRED: number;
  private readonly BUDGET_PAUSES: number;
  private readonly BUDGET_CLOSES: number;
  private readonly expireOne: (conn: C) => void;
  private readonly shedOne: (conn: C, shedBytes: number, totalBytes: number) => void;
  private readonly budgetPauseOne: (conn: C) => void;

  /** `stats`: the worker's IO_STATS block (engine/ops/stagestats.ts). */
  constructor(options: IoConnectionOptions, outstanding: GlobalOutstanding, stats: StatsBlock, ports: IoPorts<C>) {
    if (!(options.pendingBytesMax >= FRAME_LENGTH_BYTES + options.frameBytesMax)) throw new RangeError('pendingBytesMax must hold a whole frame');
    this.options = options;
    this.ports = ports;
    this.outstanding = outstanding;
    this.stmkEnabled = options.whitelist.has('stmk');
    this.sessionless = new SessionlessQueue(options.sessionlessTimeoutMs);
    this.outbound = new OutboundLedger(options.outbound);
    this.stats = stats;
    this.BYTES_IN = stats.counterIndex('bytes_in');
    this.FRAMES_IN = stats.counterIndex('frames_in');
    this.PAUSES = stats.counterIndex('backpressure_pauses');
    this.THROTTLE_PAUSES = stats.counterIndex('throttle_pauses');
    this.LARGE_REJECTED = stats.counterIndex('large_requests_rejected');
    this.large = options.largeRequests ?? null;
    this.WRITE_PAUSES = stats.counterIndex('write_buffer_pauses');
    this.OVERFLOW_CLOSES = stats.counterIndex('outbound_overflow_closes');
    this.SESSIONLESS_EXPIRED = stats.counterIndex('sessionless_expired');
    this.BUDGET_PAUSES = stats.counterIndex('outbound_budget_pauses');
    this.BUDGET_CLOSES = stats.counterIndex('outbound_budget_closes');
    this.expireOne = (conn) => {
      conn.pending = null;
      ports.destroy(conn, 'sessionless', '');
    };
    const hard = options.outbound.totalHardBytes;
    this.shedOne = (conn, shedBytes, totalBytes) => {
      stats.add(this.BUDGET_CLOSES, 1);
      conn.pending = null;
      ports.destroy(conn, 'outbound', `${shedBytes} bytes of replies and watch events queued and not read, ` +
        `and all connections together have ${totalBytes} queued (over ${hard}); its session lives on`);
    };
    this.budgetPauseOne = (conn) => {
      conn.writeFull = true; // read again once its socket drains (onDrained)
      ports.pauseReading(conn);
      stats.add(this.BUDGET_PAUSES, 1);
    };
  }

  get size(): number {
    return this.conns.size;
  }

  get throttledCount(): number {
    return this.throttled.size;
  }

  get(id: number): C | undefined {
    return this.conns.get(id);
  }

  values(): IterableIterator<C> {
    return this.conns.values();
  }

  /** An id for the next connection (u32, never 0). */
  allocateId(): number {
    const id = this.nextId++;
    if (this.nextId > 0xffffffff) this.nextId = 1;
    return id;
  }

  /** An accepted connection starts: its sessionless timeout runs from conn.acceptedAtMs. */
  opened(conn: C): void {
    if (this.conns.has(conn.id)) throw new Error(`connection ${conn.id} opened twice`);
    this.conns.set(conn.id, conn);
    this.sessionless.add(conn);
  }

  private readable(conn: C): boolean {
    return !conn.blocked && !conn.throttled && !conn.writeFull && !conn.closed;
  }

  /** Bytes arrived at nowMs. False when the connection no longer takes any (closed or ended): nothing was done. */
  onData(conn: C, chunk: Buffer, nowMs: number): boolean {
    if (conn.closed || conn.ended) return false;
    this.stats.add(this.BYTES_IN, chunk.length);
    conn.pending = conn.pending === null ? chunk : Buffer.concat([conn.pending, chunk]);
    if (this.readable(conn)) this.process(conn, nowMs);
    else this.ports.pauseReading(conn); // a chunk already read when the socket was paused: hold it, read no more
    if (conn.pending !== null && conn.pending.length > this.options.pendingBytesMax) {
      // not expected (frames over jute.maxbuffer close the connection, a paused socket delivers at most one
      // more chunk); should it happen, this connection alone pays, never the server's memory
      this.bad(conn, `${conn.pending.length} received bytes pending, over the ${this.options.pendingBytesMax} bound`);
    }
    return true;
  }

  /** Cuts frames out of conn.pending and forwards them until input or ring space runs out. */
  private process(conn: C, nowMs: number): void {
    const b = conn.pending;
    if (b === null) return;
    const cut = this.cut;
    const frameBytesMax = this.options.frameBytesMax;
    let off = 0;
    while (b.length - off >= FRAME_LENGTH_BYTES) {
      if (conn.throttled || conn.writeFull) {
        // stopped by the last frame forwarded (or by a reply): keep the rest, read no more
        this.ports.pauseReading(conn);
        break;
      }
      if (!conn.handshaken && off === 0) {
        const word = cutFourLetterWord(b, off, this.stmkEnabled, cut);
        if (word === Cut.NEED_MORE) break;
        if (word === Cut.FOUR_LETTER_WORD) {
          conn.pending = null;
          this.fourLetterWord(conn, cut.word!, cut.maskStart < 0 ? null : b.subarray(cut.maskStart, cut.maskStart + STMK_MASK_BYTES));
          return;
        }
      }
      const kind = cutFrame(b, off, frameBytesMax, cut);
      if (kind === Cut.BAD_LENGTH) {
        this.bad(conn, `frame length ${cut.length} is outside 0..${frameBytesMax} (jute.maxbuffer)`);
        return;
      }
      // as soon as the length is known, before the rest is read (ZooKeeper's readLength)
      if (this.large !== null && !this.large.admits(cut.length)) {
        this.rejectLarge(conn, cut.length);
        return;
      }
      if (kind === Cut.NEED_MORE) break;
      if (!this.forward(conn, b.subarray(cut.frameStart, cut.frameEnd), nowMs)) {
        conn.pending = b.subarray(off);
        conn.blocked = true;
        this.blocked.add(conn);
        this.ports.pauseReading(conn);
        this.stats.add(this.PAUSES, 1);
        this.ports.waitForSpace();
        return;
      }
      if (conn.ended) return; // rejected (a large request)
      off = cut.frameEnd;
    }
    if (off === b.length) conn.pending = null;
    else if (off > 0) conn.pending = Buffer.from(b.subarray(off));
    if (!this.readable(conn)) this.ports.pauseReading(conn);
  }

  /** One frame to the pipeline: the ConnectRequest, then requests. False when the ring is full. */
  private forward(conn: C, frame: Buffer, nowMs: number): boolean {
    if (!conn.handshaken) {
      if (!this.ports.pushConnect(conn, frame)) return false;
      conn.handshaken = true;
      return true;
    }
    const largeBytes = this.large === null ? 0 : this.large.take(frame);
    if (largeBytes < 0) {
      this.rejectLarge(conn, frame.length);
      return true; // nothing more is read from it
    }
    if (!this.ports.pushRequest(conn, frame, nowMs)) {
      this.large?.release(largeBytes); // taken again when the frame is retried
      return false;
    }
    this.stats.add(this.FRAMES_IN, 1);
    this.outstanding.notePushed();
    // ZooKeeper's incrOutstandingAndCheckThrottle: pings, auth and set-watches (xid <= 0) are not counted
    if (frame.length >= 4 && frame.readInt32BE(0) > 0) {
      if (largeBytes > 0) (conn.largeInProcess ??= []).push(conn.requestsAnswered + conn.outstanding, largeBytes);
      if (conn.outstanding++ === 0) this.activeConns++;
      if (this.outstanding.shouldThrottle(conn.outstanding)) {
        conn.throttled = true;
        this.throttled.add(conn);
        this.stats.add(this.THROTTLE_PAUSES, 1);
      }
    }
    return true;
  }

  /** `mask`: stmk's 8-byte trace mask, null for the other words. */
  private fourLetterWord(conn: C, word: FourLetterWord, mask: Buffer | null): void {
    if (!this.options.whitelist.has(word)) return this.end(conn, formatNotWhitelisted(word));
    if (word === 'telnet close') return this.end(conn, ''); // enabled: ZooKeeper closes without a word
    if (word === 'ruok') return this.end(conn, 'imok');
    conn.handshaken = true; // no frames follow; the pipeline answers and we close
    conn.awaitingText = true;
    this.ports.pauseReading(conn);
    this.ports.pushFourLetterWord(conn, word, mask);
  }

  /** ZooKeeper's "Rejecting large request": the connection closes (its session lives on). */
  private rejectLarge(conn: C, bytes: number): void {
    conn.pending = null;
    conn.ended = true; // nothing more is read from it or written to it
    this.stats.add(this.LARGE_REJECTED, 1);
    this.ports.destroy(conn, 'large request', `Rejecting large request (${bytes} bytes: large requests in process would exceed largeRequestMaxBytes)`);
  }

  /** Large requests of conn that are answered (or all, when it closed) stop counting. */
  private releaseLarge(conn: C, all: boolean): void {
    const held = conn.largeInProcess;
    if (held === null) return;
    let i = 0;
    while (i < held.length && (all || held[i] < conn.requestsAnswered)) {
      this.large!.release(held[i + 1]);
      i += 2;
    }
    if (i === held.length) conn.largeInProcess = null;
    else if (i > 0) held.splice(0, i);
  }

  private bad(conn: C, why: string): void {
    conn.pending = null;
    this.ports.destroy(conn, 'bad input', why);
  }

  /** Ends our side of the connection (after `text`); nothing is written or read after this. */
  end(conn: C, text?: string): void {
    if (conn.ended) return;
    conn.ended = true;
    conn.pending = null;
    this.ports.end(conn, text);
  }

  /** The client sent FIN: done, unless it waits for a four-letter word's answer (`printf stat | nc`). */
  onPeerEnded(conn: C): void {
    if (!conn.awaitingText) this.end(conn);
  }

  /** A reason to stop reading went away: forward what is pending, then read again if nothing else holds it. */
  private maybeResume(conn: C, nowMs: number): void {
    if (!this.readable(conn)) return;
    this.process(conn, nowMs);
    this.ports.flushRequests();
    if (this.readable(conn) && !conn.awaitingText) this.ports.resumeReading(conn);
  }

  /** ZooKeeper's enableRecv after a reply (decrOutstandingAndCheckThrottle), and the periodic recheck. */
  private maybeUnthrottle(conn: C, nowMs: number): void {
    if (!conn.throttled || this.outstanding.shouldThrottle(conn.outstanding)) return;
    conn.throttled = false;
    this.throttled.delete(conn);
    this.maybeResume(conn, nowMs);
  }

  /** Whether a reply frame (with its length prefix) at frame[at..] answers a request: an xid > 0, not a watch event or ping. */
  static answersRequest(frame: Buffer, at: number, frameBytes: number): boolean {
    return frameBytes >= REPLY_XID_END_BYTES && frame.readInt32BE(at + 4) > 0;
  }

  /** A reply to one of its requests went out (ZooKeeper's decrOutstandingAndCheckThrottle): it may be read again. */
  onReplied(conn: C, nowMs: number): void {
    if (conn.outstanding <= 0) return;
    conn.requestsAnswered++;
    if (conn.largeInProcess !== null) this.releaseLarge(conn, false);
    if (--conn.outstanding === 0) this.activeConns--;
    this.maybeUnthrottle(conn, nowMs);
  }

  /** Once a turn: throttled connections without replies of their own are looked at every throttleRecheckMs. */
  recheckThrottled(nowMs: number): void {
    if (this.throttled.size === 0 || nowMs - this.lastRecheckMs < this.options.throttleRecheckMs) return;
    this.lastRecheckMs = nowMs;
    for (const conn of [...this.throttled]) this.maybeUnthrottle(conn, nowMs);
  }

  /** The request ring has space again: the connections it blocked go on. */
  unblock(nowMs: number): void {
    for (const conn of [...this.blocked]) {
      this.blocked.delete(conn);
      conn.blocked = false;
      this.maybeResume(conn, nowMs);
    }
  }

  /** Its socket holds `queuedBytes` for writing now (after a write, a drain, a turn's refresh). */
  noteQueued(conn: C, queuedBytes: number): void {
    this.outbound.note(conn, queuedBytes);
  }

  /** After a write left `queuedBytes` queued: close it past connBytesMax, stop reading it past connPauseBytes. */
  afterWrite(conn: C, queuedBytes: number): void {
    if (this.outbound.overflows(queuedBytes)) {
      this.stats.add(this.OVERFLOW_CLOSES, 1);
      conn.pending = null;
      this.ports.destroy(conn, 'outbound', `${queuedBytes} bytes of replies and watch events queued and not read ` +
        `(over ${this.options.outbound.connBytesMax}); its session lives on`);
      return;
    }
    if (!this.outbound.pausesAfterWrite(conn, queuedBytes)) return;
    conn.writeFull = true;
    this.ports.pauseReading(conn);
    this.stats.add(this.WRITE_PAUSES, 1);
  }

  /** Its socket drained down to `queuedBytes`: read it again if writing was what held it. */
  onDrained(conn: C, queuedBytes: number, nowMs: number): void {
    if (!this.outbound.resumesAfterDrain(conn, queuedBytes)) return;
    conn.writeFull = false;
    this.maybeResume(conn, nowMs);
  }

  /** The server-wide outbound bound with `totalBytes` queued on all io workers. Returns how many connections were closed. */
  enforceOutboundBudget(totalBytes: number): number {
    return this.outbound.enforce(totalBytes, this.shedOne, this.budgetPauseOne);
  }

  /** Closes the connections whose sessionless timeout ran out by nowMs. Returns how many. */
  expireSessionless(nowMs: number): number {
    const expired = this.sessionless.expire(nowMs, this.expireOne);
    if (expired > 0) this.stats.add(this.SESSIONLESS_EXPIRED, expired);
    return expired;
  }

  /** The socket closed (either side). False when it was already closed. */
  onClosed(conn: C): boolean {
    if (conn.closed) return false;
    conn.closed = true;
    conn.pending = null;
    if (conn.outstanding > 0) this.activeConns--;
    conn.outstanding = 0;
    if (conn.largeInProcess !== null) this.releaseLarge(conn, true);
    this.blocked.delete(conn);
    this.throttled.delete(conn);
    this.conns.delete(conn.id);
    this.outbound.note(conn, 0);
    return true;
  }
}
