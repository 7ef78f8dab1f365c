// io worker: owns client sockets. Listens on the client port, and with TLS on
// secureClientPort, with reusePort (the kernel spreads connections over the io workers).
// Both ports share everything after the TLS handshake; a trusted client certificate's
// subject rides along in the CONNECT record as the connection's x509 id. It cuts frames, answers the cheap four-letter
// words, forwards everything else to the pipeline through its request ring, and writes
// the reply ring's frames back. Never touches the tree.
//
// Backpressure: a connection stops being read (socket paused, unforwarded bytes kept) while
//  - the request ring is full (until the pipeline frees space), or
//  - globalOutstandingLimit is exceeded and it has requests outstanding (ZooKeeper's
//    shouldThrottle / disableRecv: until a reply of its own finds the server below the
//    limit, or it has nothing outstanding), or
//  - its socket has more than WRITE_BUFFER_BYTES_MAX queued for writing (until it drains), or
//  - all io workers together have more than OUTBOUND_TOTAL_BYTES_SOFT queued and it is a
//    heavy one (OUTBOUND_HEAVY_CONN_BYTES_MIN queued; until it drains).
// A connection whose queued bytes pass OUTBOUND_BYTES_MAX is closed, and so are the heaviest
// while all io workers together have more than OUTBOUND_TOTAL_BYTES_HARD (engine/limits.ts).
// A four-letter word's answer comes as TEXT_PART slices and a last TEXT_CLOSE; each slice
// written to the socket asks the pipeline for the next (TEXT_MORE), so an answer that is
// not read waits in the pipeline as an unmade text, not here as bytes.
//
// Connection limits: zookeeper.maxCnxns over all io workers (a shared count), maxClientCnxns
// per address (shared counts), and a connection that has sent neither a ConnectRequest nor a
// four-letter word within zookeeper.nio.sessionlessCnxnTimeout of its accept is closed (an
// accept-ordered queue swept by one timer).
import { workerData, parentPort } from 'node:worker_threads';
import net from 'node:net';
import tls from 'node:tls';
import { Ring, Doorbell } from '../../native-free-io/ring.ts';
import {
  connKey, THROTTLE_IN_PROCESS, throttleClosedIndex, throttlePushedIndex, throttleTakenIndex,
  IO_WORDS_CONNS_OPEN, ioQueuedBytesIndex,
} from '../records.ts';
import {
  OUTBOUND_TOTAL_BYTES_SOFT, OUTBOUND_TOTAL_BYTES_HARD, OUTBOUND_HEAVY_CONN_BYTES_MIN, OUTBOUND_SLAB_BYTES, OUTBOUND_SLAB_PIECE_BYTES_MIN,
} from '../limits.ts';
import { ReqKind, pushConnect, pushRequest, fourLetterWordTail } from '../rings/request-ring.ts';
import { RespKind, replyConnIdOf, sendSentAtMs, sendFrameStart, textBytes } from '../rings/reply-ring.ts';
import { OutboundSlabs, PAGE_MAPPED_SLABS, type Slab } from '../outbound.ts';
import { CLOSED_CONN_SLOTS, OUTBOUND_BYTES_MAX, GATHER_BYTES, REPLIES_PER_TURN, THROTTLE_RECHECK_MS, TLS_HANDSHAKE_TIMEOUT_MS, WRITE_BUFFER_BYTES_MAX, X509_ID_BYTES_MAX, inboundPendingBytesMax } from '../limits.ts';
import { createLogger, limitedWarnings } from '../logger.ts';
import { StatsBlock, IO_STATS } from '../ops/stagestats.ts';
import { type FourLetterWord, fourLetterWordOf, formatNotWhitelisted, hostNeedsOf } from '../ops/fourlw.ts';
import { probeHost, NO_HOST_FACTS, NO_HOST_NEEDS } from '../ops/probes.ts';
import type { TlsServerOptions } from '../security/tls.ts';
import type { OptionsFor } from '../config.ts';
import { subjectRfc2253 } from '../security/x509.ts';

/**
 * The config fields the schema gives the io workers (engine/config/schema.ts: clientPort -1 is
 * no plain port, maxCnxns counts all io workers together, ...), and this worker's rings.
 */
export interface IoWorkerData extends OptionsFor<'io'> {
  index: number;
  /** Read and checked by the main thread (engine/security/tls.ts); null when secureClientPort is not set. */
  tls: TlsServerOptions | null;
  /** Words shared by the io workers (engine/records.ts IO_WORDS): connections open, bytes queued per worker. */
  ioWordsSab: SharedArrayBuffer;
  /** Throttle words shared with the pipeline and the other io workers (engine/records.ts). */
  throttleSab: SharedArrayBuffer;
  reqRingSab: SharedArrayBuffer;
  pipelineBellSab: SharedArrayBuffer;
  respRingSab: SharedArrayBuffer;
  ioBellSab: SharedArrayBuffer;
  /** Connection counts per client address hash, shared by the io workers (maxClientCnxns). */
  connCountSab: SharedArrayBuffer;
  /** This worker's stage statistics (engine/ops/stagestats.ts IO_STATS), read by /metrics. */
  statsSab: SharedArrayBuffer;
}

const data = workerData as IoWorkerData;
const log = createLogger(`io-${data.index}`);
/** Warnings a client can repeat (bad frames, refused TLS handshakes and certificates), rate-limited; summaries at least once a window. */
const repeated = limitedWarnings(log);
setInterval(() => repeated.flush(), 1000).unref();
const req = Ring.attach(data.reqRingSab, Doorbell.attach(data.pipelineBellSab));
const resp = Ring.attach(data.respRingSab, Doorbell.attach(data.ioBellSab));
const connCounts = new Int32Array(data.connCountSab);
const ioWords = new Int32Array(data.ioWordsSab);
const QUEUED_BYTES = ioQueuedBytesIndex(data.index);
// Stage statistics: counters and one histogram in a SharedArrayBuffer, nothing allocated per frame.
const stats = StatsBlock.attach(data.statsSab, IO_STATS);
const ACCEPTED = stats.counterIndex('connections_accepted');
const REJECTED = stats.counterIndex('connections_rejected');
const OPEN = stats.counterIndex('connections_open');
const FRAMES_IN = stats.counterIndex('frames_in');
const BYTES_IN = stats.counterIndex('bytes_in');
const REPLIES_OUT = stats.counterIndex('replies_out');
const BYTES_OUT = stats.counterIndex('bytes_out');
const PAUSES = stats.counterIndex('backpressure_pauses');
const THROTTLE_PAUSES = stats.counterIndex('throttle_pauses');
const WRITE_PAUSES = stats.counterIndex('write_buffer_pauses');
const OVERFLOW_CLOSES = stats.counterIndex('outbound_overflow_closes');
const SESSIONLESS_EXPIRED = stats.counterIndex('sessionless_expired');
const BUDGET_PAUSES = stats.counterIndex('outbound_budget_pauses');
const BUDGET_CLOSES = stats.counterIndex('outbound_budget_closes');
const QUEUED_GAUGE = stats.counterIndex('outbound_queued_bytes');
const SLAB_GAUGE = stats.counterIndex('outbound_slab_bytes');
const throttleWords = new Int32Array(data.throttleSab);
const PUSHED = throttlePushedIndex(data.index);
const INBOUND_PENDING_BYTES_MAX = inboundPendingBytesMax(data.juteMaxBufferBytes);
/** REQUEST records this worker put on its ring (wraps as an int32, as the pipeline's count). */
let pushedCount = 0;
const replyWaitUs = stats.histogram('reply_wait_us');
const originMs = performance.timeOrigin;
/** Shared-clock time (ms since the epoch) of the input being cut into frames: REQUEST records carry it. */
let inputAtMs = 0;
// ZooKeeper's FourLetterCommands.isEnabled, as the config read it
const whitelist: ReadonlySet<FourLetterWord> = new Set(data.fourLetterWordWhitelist);


interface Connection {
  id: number;
  socket: net.Socket;
  addr: string;
  port: number;
  /** Received bytes not yet forwarded (a partial frame, or frames held by backpressure). */
  pending: Buffer | null;
  handshaken: boolean;
  /** The request ring was full: waiting for the pipeline to free space. */
  blocked: boolean;
  /** Stopped by globalOutstandingLimit (ZooKeeper's disableRecv), until a reply re-enables it. */
  throttled: boolean;
  /** The socket has more than WRITE_BUFFER_BYTES_MAX queued: not read until it drains. */
  writeFull: boolean;
  /** Requests forwarded (xid > 0) and not answered yet: ZooKeeper's per-connection outstandingCount. */
  outstanding: number;
  closed: boolean;
  /**
   * We ended our side (socket.end): after the client's FIN, a CLOSE or a four-letter word's
   * answer. Nothing more is written or read (a write after end() is an error, and what it
   * would carry has nobody to read it: ZooKeeper drops it too).
   */
  ended: boolean;
  countSlot: number;
  /** A four-letter word went to the pipeline: keep the socket writable after the client's FIN until the answer. */
  awaitingText: boolean;
  /** Came in on secureClientPort. */
  secure: boolean;
  /** The trusted client certificate's subject (RFC 2253) on secureClientPort, else null. */
  x509Id: string | null;
  /** This turn's reply frames for it in the gather area: [start, end) pairs, in order. */
  gathered: number[];
  /** performance.now() at accept: the sessionless timeout runs from here. */
  acceptedAtMs: number;
  /** socket.writableLength when last looked at (after a write, a drain, each turn while non-zero). */
  queuedBytes: number;
}

const conns = new Map<number, Connection>();
/** Connections with requests outstanding (outstanding > 0). */
let activeConns = 0;
const blocked = new Set<Connection>();
const throttled = new Set<Connection>();
const pendingControl: Buffer[] = [];
let nextConnId = 1;
let waitingForSpace = false;

function addrSlot(addr: string): number {
  let h = 2166136261;
  for (let i = 0; i < addr.length; i++) h = Math.imul(h ^ addr.charCodeAt(i), 16777619);
  return (h >>> 0) % connCounts.length;
}

function pushFrame(conn: Connection, frame: Buffer): boolean {
  if (!conn.handshaken) {
    if (!pushConnect(req, conn.id, conn.addr, conn.port, conn.secure, conn.x509Id, frame)) return false;
    conn.handshaken = true;
    return true;
  }
  if (!pushRequest(req, conn.id, inputAtMs, frame)) return false;
  stats.add(FRAMES_IN, 1);
  pushedCount = (pushedCount + 1) | 0;
  Atomics.store(throttleWords, PUSHED, pushedCount);
  // ZooKeeper's incrOutstandingAndCheckThrottle: pings, auth and set-watches (xid <= 0) are not counted
  if (frame.length >= 4 && frame.readInt32BE(0) > 0) {
    if (conn.outstanding++ === 0) activeConns++;
    if (shouldThrottle(conn.outstanding)) {
      conn.throttled = true;
      throttled.add(conn);
      stats.add(THROTTLE_PAUSES, 1);
    }
  }
  return true;
}

/**
 * ZooKeeperServer.shouldThrottle: requests in process (replies held for the log) or in
 * flight (on the request rings) above globalOutstandingLimit throttle a connection that
 * has requests outstanding. Reads shared words: no allocation, a few Atomics.loads.
 */
function shouldThrottle(outstanding: number): boolean {
  if (outstanding <= 0) return false;
  const limit = data.globalOutstandingLimit;
  if (Atomics.load(throttleWords, THROTTLE_IN_PROCESS) > limit) return true;
  let inFlight = 0;
  for (let i = 0; i < data.ioThreads; i++) {
    inFlight += (Atomics.load(throttleWords, throttlePushedIndex(i)) - Atomics.load(throttleWords, throttleTakenIndex(i))) | 0;
  }
  return inFlight > limit;
}

function readable(conn: Connection): boolean {
  return !conn.blocked && !conn.throttled && !conn.writeFull && !conn.closed;
}

/** A reason to stop reading went away: forward what is pending, then read again if nothing else holds it. */
function maybeResume(conn: Connection): void {
  if (!readable(conn)) return;
  processInput(conn);
  req.flushDataBell();
  if (readable(conn) && !conn.awaitingText) conn.socket.resume();
}

/** ZooKeeper's enableRecv after a reply (decrOutstandingAndCheckThrottle), and the periodic recheck. */
function maybeUnthrottle(conn: Connection): void {
  if (!conn.throttled || shouldThrottle(conn.outstanding)) return;
  conn.throttled = false;
  throttled.delete(conn);
  maybeResume(conn);
}

let lastRecheckMs = 0;
function recheckThrottled(nowMs: number): void {
  if (throttled.size === 0 || nowMs - lastRecheckMs < THROTTLE_RECHECK_MS) return;
  lastRecheckMs = nowMs;
  for (const conn of [...throttled]) maybeUnthrottle(conn);
}

function pushControl(kind: number, connId: number, tail: string | Buffer): void {
  const rec = Buffer.alloc(1 + 4 + tail.length);
  rec[0] = kind;
  rec.writeUInt32BE(connId, 1);
  if (typeof tail === 'string') rec.write(tail, 5, 'latin1');
  else tail.copy(rec, 5);
  if (pendingControl.length === 0 && req.tryPush(kind, rec.subarray(1))) return;
  pendingControl.push(rec);
  waitForSpace();
}

function flushControl(): boolean {
  while (pendingControl.length > 0) {
    const rec = pendingControl[0];
    if (!req.tryPush(rec[0], rec.subarray(1))) return false;
    pendingControl.shift();
  }
  return true;
}

function waitForSpace(): void {
  if (waitingForSpace) return;
  waitingForSpace = true;
  const seq = req.spaceBell.sequence();
  void req.spaceBell.waitAsync(seq, 10).then(retryBlocked);
}

function retryBlocked(): void {
  waitingForSpace = false;
  if (!flushControl()) {
    waitForSpace();
    return;
  }
  for (const conn of [...blocked]) {
    blocked.delete(conn);
    conn.blocked = false;
    maybeResume(conn);
  }
  req.flushDataBell();
}

/** Ends our side of the connection (after `text`); nothing is written or read after this. */
function endConnection(conn: Connection, text?: string): void {
  if (conn.ended) return;
  conn.ended = true;
  conn.pending = null;
  if (text === undefined) conn.socket.end();
  else conn.socket.end(text);
}

function closeWithText(conn: Connection, text: string): void {
  endConnection(conn, text);
}

/** `mask`: stmk's 8-byte trace mask, null for the other words. */
function handleFourLetterWord(conn: Connection, word: FourLetterWord, mask: Buffer | null): void {
  if (!whitelist.has(word)) {
    closeWithText(conn, formatNotWhitelisted(word));
    return;
  }
  if (word === 'telnet close') return closeWithText(conn, ''); // enabled: ZooKeeper closes without a word
  if (word === 'ruok') return closeWithText(conn, 'imok');
  if (word === 'isro') return closeWithText(conn, 'rw');
  conn.handshaken = true; // no frames follow; the pipeline answers and we close
  conn.awaitingText = true;
  conn.socket.pause();
  const needs = hostNeedsOf(word);
  if (needs === NO_HOST_NEEDS) {
    pushControl(ReqKind.FOURLW, conn.id, fourLetterWordTail(conn.addr, conn.port, word, NO_HOST_FACTS, mask));
    return;
  }
  // directory sizes and descriptor counts are measured here (libuv's pool), never on the pipeline thread
  const maskCopy = mask === null ? null : Buffer.from(mask);
  void probeHost(needs, data).then((facts) => {
    if (conn.ended || conn.socket.destroyed) return;
    pushControl(ReqKind.FOURLW, conn.id, fourLetterWordTail(conn.addr, conn.port, word, facts, maskCopy));
  });
}

function bad(conn: Connection, why: string): void {
  const key = connKey(data.index, conn.id);
  repeated.warn('bad frame', key, `closing connection from ${conn.addr}:${conn.port}: ${why}`, { conn: key });
  conn.pending = null;
  conn.socket.destroy();
}

/** Cuts frames out of conn.pending and forwards them until input or ring space runs out. */
function processInput(conn: Connection): void {
  const b = conn.pending;
  if (b === null) return;
  inputAtMs = originMs + performance.now();
  let off = 0;
  while (b.length - off >= 4) {
    if (conn.throttled || conn.writeFull) {
      // stopped by the last frame forwarded (or by a reply): keep the rest, read no more
      conn.socket.pause();
      break;
    }
    if (!conn.handshaken && off === 0) {
      const word = fourLetterWordOf(b.readInt32BE(0));
      if (word !== null) {
        // an enabled stmk is followed by its new trace mask (8 bytes): wait for them
        if (word === 'stmk' && whitelist.has(word) && b.length < 12) break;
        conn.pending = null;
        handleFourLetterWord(conn, word, word === 'stmk' && whitelist.has(word) ? b.subarray(4, 12) : null);
        return;
      }
    }
    const len = b.readInt32BE(off);
    if (len < 0 || len > data.juteMaxBufferBytes) {
      bad(conn, `frame length ${len} is outside 0..${data.juteMaxBufferBytes} (jute.maxbuffer)`);
      return;
    }
    if (b.length - off - 4 < len) break;
    if (!pushFrame(conn, b.subarray(off + 4, off + 4 + len))) {
      conn.pending = b.subarray(off);
      conn.blocked = true;
      blocked.add(conn);
      conn.socket.pause();
      stats.add(PAUSES, 1);
      waitForSpace();
      return;
    }
    off += 4 + len;
  }
  if (off === b.length) conn.pending = null;
  else if (off > 0) conn.pending = Buffer.from(b.subarray(off));
  if (!readable(conn)) conn.socket.pause();
}

/**
 * The x509 id of a TLS connection (X509AuthenticationProvider.getClientId), null without a
 * client certificate; undefined when the connection must be refused (logged here).
 */
function x509IdOf(socket: tls.TLSSocket, addr: string, port: number): string | null | undefined {
  if (data.tls === null || !data.tls.requestCert) return null;
  const peer = socket.getPeerX509Certificate();
  if (peer === undefined) return null; // clientAuth=want and the client sent none: served without an x509 id
  if (!socket.authorized) {
    // clientAuth=want: Java's trust manager fails the handshake on an untrusted certificate
    repeated.warn('client certificate refused', addr, `closing connection from ${addr}:${port}: client certificate not trusted: ${String(socket.authorizationError)}`);
    return undefined;
  }
  try {
    const id = subjectRfc2253(peer.raw);
    if (Buffer.byteLength(id, 'utf8') <= X509_ID_BYTES_MAX) return id;
    repeated.warn('client certificate refused', addr, `closing connection from ${addr}:${port}: client certificate subject is longer than ${X509_ID_BYTES_MAX} bytes`);
  } catch (err) {
    repeated.warn('client certificate refused', addr, `closing connection from ${addr}:${port}: cannot read the client certificate's subject: ${(err as Error).message}`);
  }
  return undefined;
}

function onConnection(socket: net.Socket, secure: boolean): void {
  const addr = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  const port = socket.remotePort ?? 0;
  const x509Id = secure ? x509IdOf(socket as tls.TLSSocket, addr, port) : null;
  if (x509Id === undefined) {
    stats.add(REJECTED, 1);
    socket.destroy();
    return;
  }
  // ZooKeeper checks zookeeper.maxCnxns first, then maxClientCnxns
  const open = Atomics.add(ioWords, IO_WORDS_CONNS_OPEN, 1) + 1;
  if (data.maxCnxns > 0 && open > data.maxCnxns) {
    Atomics.sub(ioWords, IO_WORDS_CONNS_OPEN, 1);
    stats.add(REJECTED, 1);
    log.warn(`too many connections: ${addr}:${port} refused, max allowed is ${data.maxCnxns} (zookeeper.maxCnxns)`);
    socket.resetAndDestroy(); // as ZooKeeper's fastCloseSock: SO_LINGER 0, the client sees a reset
    return;
  }
  const countSlot = addrSlot(addr);
  const count = Atomics.add(connCounts, countSlot, 1) + 1;
  if (data.maxClientCnxns > 0 && count > data.maxClientCnxns) {
    Atomics.sub(connCounts, countSlot, 1);
    Atomics.sub(ioWords, IO_WORDS_CONNS_OPEN, 1);
    stats.add(REJECTED, 1);
    log.warn(`too many connections from ${addr} - max is ${data.maxClientCnxns}`);
    socket.destroy();
    return;
  }
  stats.add(ACCEPTED, 1);
  socket.setNoDelay(true);
  const conn: Connection = {
    id: nextConnId++, socket, addr, port, pending: null, handshaken: false, blocked: false, throttled: false, writeFull: false,
    outstanding: 0, closed: false, ended: false, countSlot, awaitingText: false, secure, x509Id, gathered: [],
    acceptedAtMs: performance.now(), queuedBytes: 0,
  };
  if (nextConnId > 0xffffffff) nextConnId = 1;
  conns.set(conn.id, conn);
  sessionless.push(conn);
  armSessionlessTimer();
  stats.set(OPEN, conns.size);
  socket.on('data', (chunk: Buffer) => {
    if (conn.closed || conn.ended) return;
    stats.add(BYTES_IN, chunk.length);
    conn.pending = conn.pending === null ? chunk : Buffer.concat([conn.pending, chunk]);
    if (readable(conn)) processInput(conn);
    else socket.pause(); // a chunk already read when the socket was paused: hold it, read no more
    if (conn.pending !== null && conn.pending.length > INBOUND_PENDING_BYTES_MAX) {
      // not expected (frames over jute.maxbuffer close the connection, a paused socket delivers at most one
      // more chunk); should it happen, this connection alone pays, never the server's memory
      bad(conn, `${conn.pending.length} received bytes pending, over the ${INBOUND_PENDING_BYTES_MAX} bound`);
    }
    req.flushDataBell(); // one doorbell per chunk read, not per frame
    if (activeConns === 1 && conn.outstanding > 0) pollForLoneClientReply();
  });
  // allowHalfOpen: `printf stat | nc` sends FIN right after the word; ZooKeeper still answers.
  // Any other connection is done when the client stops sending, as before.
  socket.on('end', () => {
    if (!conn.awaitingText) endConnection(conn);
  });
  socket.on('drain', () => {
    noteQueued(conn);
    if (!conn.writeFull || socket.writableLength > WRITE_BUFFER_BYTES_MAX) return;
    conn.writeFull = false;
    maybeResume(conn);
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') log.warn(`connection ${addr}:${port}: ${err.message}`, { conn: connKey(data.index, conn.id) });
  });
  socket.on('close', () => {
    if (conn.closed) return;
    conn.closed = true;
    conn.pending = null;
    if (conn.outstanding > 0) activeConns--;
    conn.outstanding = 0;
    blocked.delete(conn);
    throttled.delete(conn);
    conns.delete(conn.id);
    // request_throttle_drop_stale: the pipeline drops what this connection still has on the ring
    Atomics.store(throttleWords, throttleClosedIndex(data.index, conn.id, CLOSED_CONN_SLOTS), conn.id | 0);
    stats.set(OPEN, conns.size);
    Atomics.sub(connCounts, conn.countSlot, 1);
    Atomics.sub(ioWords, IO_WORDS_CONNS_OPEN, 1);
    noteQueued(conn);
    if (conn.handshaken) pushControl(ReqKind.DISCONNECT, conn.id, '');
  });
}

// ---- replies from the pipeline

// Replies of one turn are copied out of the reply ring into the gather area (the ring slot
// is freed at once), then written with one exactly-sized buffer and one write per
// connection at the end of the turn: one allocation and one write per connection per
// turn instead of one per reply.
const gatherArea = Buffer.allocUnsafeSlow(GATHER_BYTES);
let gatherUsed = 0;
const gatheredConns: Connection[] = [];

/** Shared-clock time of the reply turn being handled (one clock read per turn). */
let turnAtMs = 0;

/** Writes what was gathered for conn this turn, then applies the outbound limits. */
function flushGathered(conn: Connection): void {
  const ranges = conn.gathered;
  if (ranges.length === 0) return;
  if (conn.closed || conn.ended) {
    ranges.length = 0;
    return;
  }
  let bytes = 0;
  for (let i = 0; i < ranges.length; i += 2) bytes += ranges[i + 1] - ranges[i];
  const slab = bytes >= OUTBOUND_SLAB_PIECE_BYTES_MIN ? slabs.take(bytes) : null;
  const out = slab === null ? Buffer.allocUnsafe(bytes) : slab.buf.subarray(slab.pieceAt, slab.pieceAt + bytes);
  let at = 0;
  for (let i = 0; i < ranges.length; i += 2) at += gatherArea.copy(out, at, ranges[i], ranges[i + 1]);
  ranges.length = 0;
  writeOut(conn, out, slab);
}

/**
 * Writes one outbound buffer, then applies the outbound limits. A slab piece goes back to
 * its slab when the write completes or fails (Node calls back either way: written, or
 * cancelled by a destroy), so an unmapped slab is never under a pending write.
 */
function writeOut(conn: Connection, out: Buffer, slab: Slab | null): void {
  if (slab === null) conn.socket.write(out);
  else {
    const bytes = out.length;
    conn.socket.write(out, () => releasePiece(slab, bytes));
  }
  noteQueued(conn);
  checkOutbound(conn);
}

// ---- server-wide outbound bound (engine/limits.ts OUTBOUND_TOTAL_BYTES_SOFT/HARD)

const slabs = new OutboundSlabs(OUTBOUND_SLAB_BYTES, PAGE_MAPPED_SLABS);
/** Connections whose socket had bytes queued when last looked at. */
const queuedConns = new Set<Connection>();
/** Sum of queuedBytes over the connections. */
let queuedBytes = 0;

function releasePiece(slab: Slab, bytes: number): void {
  slabs.release(slab, bytes);
  publishQueued();
}

/** Re-reads a connection's queued bytes (a closed one has none) and publishes this worker's sum. */
function noteQueued(conn: Connection): void {
  const q = conn.closed ? 0 : conn.socket.writableLength;
  queuedBytes += q - conn.queuedBytes;
  conn.queuedBytes = q;
  if (q > 0) queuedConns.add(conn);
  else queuedConns.delete(conn);
  publishQueued();
}

function publishQueued(): void {
  const mine = queuedBytes + slabs.pinnedWasteBytes;
  Atomics.store(ioWords, QUEUED_BYTES, Math.min(mine, 0x7fffffff));
  stats.set(QUEUED_GAUGE, mine);
  stats.set(SLAB_GAUGE, slabs.mappedBytes);
}

function queuedOnAllWorkers(): number {
  let total = 0;
  for (let i = 0; i < data.ioThreads; i++) total += Atomics.load(ioWords, ioQueuedBytesIndex(i));
  return total;
}

/**
 * Once per reply turn while this worker has bytes queued: refresh what its sockets still
 * hold (they drain without telling us until empty), then over the hard bound close the
 * heaviest connections, over the soft bound stop reading the heavy ones.
 */
function enforceOutboundBudget(): void {
  if (queuedConns.size === 0) return;
  for (const conn of queuedConns) noteQueued(conn);
  let total = queuedOnAllWorkers();
  while (total > OUTBOUND_TOTAL_BYTES_HARD) {
    let heaviest: Connection | null = null;
    for (const conn of queuedConns) {
      if (conn.queuedBytes >= OUTBOUND_HEAVY_CONN_BYTES_MIN && (heaviest === null || conn.queuedBytes > heaviest.queuedBytes)) heaviest = conn;
    }
    if (heaviest === null) break;
    const shedBytes = heaviest.queuedBytes;
    stats.add(BUDGET_CLOSES, 1);
    log.warn(`closing connection from ${heaviest.addr}:${heaviest.port}: ${shedBytes} bytes of replies and watch events queued and not read, ` +
      `and all connections together have ${total} queued (over ${OUTBOUND_TOTAL_BYTES_HARD}); its session lives on`, { conn: connKey(data.index, heaviest.id) });
    heaviest.pending = null;
    heaviest.socket.destroy();
    // its bytes are gone with the socket (its slab pieces come back as the cancelled writes call back)
    queuedBytes -= shedBytes;
    heaviest.queuedBytes = 0;
    queuedConns.delete(heaviest);
    publishQueued();
    total -= shedBytes;
  }
  if (total <= OUTBOUND_TOTAL_BYTES_SOFT) return;
  for (const conn of queuedConns) {
    if (conn.writeFull || conn.queuedBytes < OUTBOUND_HEAVY_CONN_BYTES_MIN) continue;
    conn.writeFull = true; // read again once its socket drains (the 'drain' handler)
    conn.socket.pause();
    stats.add(BUDGET_PAUSES, 1);
  }
}

// ---- connections that never handshake (zookeeper.nio.sessionlessCnxnTimeout)

/**
 * Connections in accept order, so in deadline order (one timeout for all): one timer, armed
 * for the head. Connections that handshake or close stay in it until they reach the head
 * (no search on the hot path); the queue holds at most the connections accepted in one
 * timeout.
 */
let sessionless: Connection[] = [];
let sessionlessHead = 0;
let sessionlessTimer: NodeJS.Timeout | null = null;

function armSessionlessTimer(): void {
  if (sessionlessTimer !== null || sessionlessHead === sessionless.length) return;
  const dueMs = sessionless[sessionlessHead].acceptedAtMs + data.sessionlessCnxnTimeoutMs - performance.now();
  sessionlessTimer = setTimeout(expireSessionless, Math.max(0, Math.ceil(dueMs)));
  sessionlessTimer.unref();
}

function expireSessionless(): void {
  sessionlessTimer = null;
  const nowMs = performance.now();
  let expired = 0;
  while (sessionlessHead < sessionless.length) {
    const conn = sessionless[sessionlessHead];
    const waiting = !conn.closed && !conn.handshaken;
    if (waiting && conn.acceptedAtMs + data.sessionlessCnxnTimeoutMs > nowMs) break;
    sessionlessHead++;
    if (!waiting) continue;
    expired++;
    conn.pending = null;
    conn.socket.destroy();
  }
  if (sessionlessHead > 1024 && sessionlessHead * 2 > sessionless.length) {
    sessionless = sessionless.slice(sessionlessHead);
    sessionlessHead = 0;
  } else if (sessionlessHead === sessionless.length) {
    sessionless.length = 0;
    sessionlessHead = 0;
  }
  if (expired > 0) {
    stats.add(SESSIONLESS_EXPIRED, expired);
    log.info(`closed ${expired} connection(s) that sent no ConnectRequest within ${data.sessionlessCnxnTimeoutMs} ms (zookeeper.nio.sessionlessCnxnTimeout)`);
  }
  armSessionlessTimer();
}

function flushAllGathered(): void {
  for (let i = 0; i < gatheredConns.length; i++) flushGathered(gatheredConns[i]);
  gatheredConns.length = 0;
  gatherUsed = 0;
}

/** After a write: close a connection past OUTBOUND_BYTES_MAX, stop reading one past WRITE_BUFFER_BYTES_MAX. */
function checkOutbound(conn: Connection): void {
  const socket = conn.socket;
  const queuedBytes = socket.writableLength;
  if (queuedBytes > OUTBOUND_BYTES_MAX) {
    stats.add(OVERFLOW_CLOSES, 1);
    log.warn(`closing connection from ${conn.addr}:${conn.port}: ${queuedBytes} bytes of replies and watch events queued and not read ` +
      `(over ${OUTBOUND_BYTES_MAX}); its session lives on`, { conn: connKey(data.index, conn.id) });
    conn.pending = null;
    socket.destroy();
    return;
  }
  if (queuedBytes > WRITE_BUFFER_BYTES_MAX && !conn.writeFull) {
    conn.writeFull = true;
    socket.pause();
    stats.add(WRITE_PAUSES, 1);
  }
}

function handleReply(): void {
  const d = resp.data;
  const conn = conns.get(replyConnIdOf(resp));
  if (conn === undefined || conn.closed || conn.ended) return;
  const socket = conn.socket;
  switch (resp.kind) {
    case RespKind.SEND: {
      replyWaitUs.observe((turnAtMs - sendSentAtMs(resp)) * 1000);
      const frameAt = sendFrameStart(resp);
      const frameEnd = resp.payloadStart + resp.payloadLength;
      const frameBytes = frameEnd - frameAt;
      if (frameBytes > GATHER_BYTES / 4) {
        // a large frame goes out on its own, after what was gathered for its connection
        flushGathered(conn);
        if (conn.closed) return;
        const slab = slabs.take(frameBytes);
        const out = slab.buf.subarray(slab.pieceAt, slab.pieceAt + frameBytes);
        d.copy(out, 0, frameAt, frameEnd);
        writeOut(conn, out, slab);
      } else {
        if (gatherUsed + frameBytes > GATHER_BYTES) flushAllGathered();
        const start = gatherUsed;
        gatherUsed += d.copy(gatherArea, start, frameAt, frameEnd);
        const ranges = conn.gathered;
        if (ranges.length === 0) gatheredConns.push(conn);
        if (ranges.length > 0 && ranges[ranges.length - 1] === start) ranges[ranges.length - 1] = gatherUsed;
        else ranges.push(start, gatherUsed);
      }
      stats.add(REPLIES_OUT, 1);
      stats.add(BYTES_OUT, frameBytes);
      // ZooKeeper's decrOutstandingAndCheckThrottle: a reply (xid > 0; not a watch event or ping) may re-enable reading
      // (the frame is [length][xid]…: its xid is 4 bytes in)
      if (frameBytes >= 8 && d.readInt32BE(frameAt + 4) > 0 && conn.outstanding > 0) {
        if (--conn.outstanding === 0) activeConns--;
        maybeUnthrottle(conn);
      }
      return;
    }
    case RespKind.CLOSE:
      if (conn.awaitingText) {
        // the pipeline dropped a four-letter word's answer its client was not reading: ending would wait for it forever
        socket.destroy();
        return;
      }
      flushGathered(conn);
      endConnection(conn);
      return;
    case RespKind.TEXT_PART: {
      // a slice of a long answer; when it has gone to the kernel, the pipeline makes the next one
      // (engine/ops/textstream.ts): a client that does not read holds FOURLW_SLICES_IN_FLIGHT_MAX slices here
      const id = conn.id;
      socket.write(Buffer.from(textBytes(resp)), (err) => {
        if (err === undefined || err === null) pushControl(ReqKind.TEXT_MORE, id, '');
      });
      noteQueued(conn);
      checkOutbound(conn);
      return;
    }
    case RespKind.TEXT_CLOSE:
      flushGathered(conn);
      endConnection(conn, textBytes(resp).toString('utf8'));
      return;
    default:
      throw new Error(`reply ring: unknown record kind ${resp.kind}`);
  }
}

const yieldToSockets = () => new Promise<void>((resolve) => setImmediate(resolve));

let running = true;
/** One turn: up to REPLIES_PER_TURN replies out of the ring and onto their sockets. Returns how many. */
function drainTurn(): number {
  let n = 0;
  turnAtMs = originMs + performance.now();
  while (n < REPLIES_PER_TURN && resp.poll()) {
    handleReply();
    resp.releaseQuiet();
    n++;
  }
  resp.flushSpaceBell();
  flushAllGathered();
  enforceOutboundBudget();
  recheckThrottled(turnAtMs);
  return n;
}

async function drainReplies(): Promise<void> {
  while (running) {
    const seq = resp.dataBell.sequence();
    const n = drainTurn();
    if (n === 0) await resp.dataBell.waitAsync(seq, throttled.size > 0 ? THROTTLE_RECHECK_MS : 1000);
    else await yieldToSockets();
  }
}

/**
 * How long an io worker polls the reply ring for the answer to a lone client's request
 * before it leaves the wait to the event loop. Waking an event loop from another thread
 * costs tens of microseconds, more than the pipeline usually takes to answer; with one
 * client active (one request in flight at a time, the unloaded case) polling briefly
 * answers sooner. With more clients active the ring is rarely empty and nothing polls.
 */
const LONE_CLIENT_POLL_MS = 0.05;

function pollForLoneClientReply(): void {
  const untilMs = performance.now() + LONE_CLIENT_POLL_MS;
  do {
    if (resp.poll()) {
      drainTurn();
      return;
    }
  } while (performance.now() < untilMs);
}

const servers: net.Server[] = [];
let listeningCount = 0;
/** Pending connections the kernel queues when clientPortListenBacklog is -1 (or 0): Java's default would be 50. */
const LISTEN_BACKLOG_DEFAULT = 1024;
const listenBacklog = data.clientPortListenBacklog > 0 ? data.clientPortListenBacklog : LISTEN_BACKLOG_DEFAULT;

function listen(server: net.Server, port: number, host: string | null): void {
  servers.push(server);
  server.on('error', (err) => {
    parentPort!.postMessage({ type: 'error', message: `io-${data.index}: cannot listen on ${host ?? '0.0.0.0'}:${port}: ${err.message}` });
  });
  server.listen({ port, host: host ?? undefined, reusePort: true, backlog: listenBacklog }, () => {
    if (++listeningCount === servers.length) parentPort!.postMessage({ type: 'listening' });
  });
}

if (data.clientPort > 0) {
  listen(net.createServer({ noDelay: true, pauseOnConnect: false, allowHalfOpen: true }, (s) => onConnection(s, false)), data.clientPort, data.clientPortAddress);
}
if (data.secureClientPort !== null && data.tls !== null) {
  const secure = tls.createServer({ ...data.tls, noDelay: true, allowHalfOpen: true, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }, (s) => onConnection(s, true));
  // a failed handshake (no or untrusted certificate with clientAuth=need, plain bytes, wrong protocol): Node closes it
  secure.on('tlsClientError', (err: Error, s: tls.TLSSocket) => {
    stats.add(REJECTED, 1);
    const addr = (s.remoteAddress ?? '').replace(/^::ffff:/, '');
    repeated.warn('TLS handshake failed', addr, `closing connection from ${addr}:${s.remotePort ?? 0} on secureClientPort: TLS handshake failed: ${err.message}`);
  });
  // ZooKeeper 3.8 binds secureClientPort on every address unless secureClientPortAddress says otherwise
  listen(secure, data.secureClientPort, data.secureClientPortAddress);
}
if (servers.length === 0) throw new Error('io worker: neither clientPort nor secureClientPort to listen on');
void drainReplies();

parentPort!.on('message', (msg: { type: string }) => {
  if (msg.type !== 'stop') return;
  running = false;
  for (const server of servers) server.close();
  for (const c of conns.values()) c.socket.destroy();
  parentPort!.postMessage({ type: 'stopped' });
  parentPort!.close();
});
