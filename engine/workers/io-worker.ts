// io worker: owns client sockets. Listens on the client port, and with TLS on
// secureClientPort, with reusePort (the kernel spreads connections over the io workers).
// Both ports share everything after the TLS handshake; a trusted client certificate's
// subject rides along in the CONNECT record as the connection's x509 id. A thin shell:
// the connections' state machine (framing, four-letter words, backpressure, throttling,
// outbound bounds, the sessionless timeout) is engine/io/connection.ts; this file moves
// bytes between the sockets and the rings and calls into it. Never touches the tree.
//
// Backpressure (engine/io/connection.ts has the rules): a connection stops being read
// (socket paused, unforwarded bytes kept) while the request ring is full, while
// globalOutstandingLimit is exceeded and it has requests outstanding, or while too much is
// queued for writing to it or to all connections (engine/io/outbound-limits.ts and
// engine/limits.ts). A four-letter word's answer comes as TEXT_PART slices and a last
// TEXT_CLOSE; each slice written to the socket asks the pipeline for the next (TEXT_MORE),
// so an answer that is not read waits in the pipeline as an unmade text, not here as bytes.
//
// Connection limits: zookeeper.maxCnxns over all io workers and maxClientCnxns per address
// (engine/io/admission.ts, shared counts), and zookeeper.nio.sessionlessCnxnTimeout
// (engine/io/sessionless.ts: an accept-ordered queue swept by one timer).
import { workerData, parentPort } from 'node:worker_threads';
import net from 'node:net';
import tls from 'node:tls';
import { LARGE_REQUEST_THRESHOLD_OFF, LargeRequests } from '../io/large-requests.ts';
import { connKey, throttleClosedIndex, ioQueuedBytesIndex, ioActiveClientsIndex } from '../records.ts';
import {
  OUTBOUND_TOTAL_BYTES_SOFT, OUTBOUND_TOTAL_BYTES_HARD, OUTBOUND_HEAVY_CONN_BYTES_MIN, OUTBOUND_SLAB_BYTES, OUTBOUND_SLAB_PIECE_BYTES_MIN,
} from '../limits.ts';
import { ReqKind, pushConnect, pushRequest, fourLetterWordTail } from '../rings/request-ring.ts';
import { RespKind, replyConnIdOf, sendSentAtMs, sendFrameStart, textBytes } from '../rings/reply-ring.ts';
import { OutboundSlabs, PAGE_MAPPED_SLABS, type Slab } from '../outbound.ts';
import {
  CLOSED_CONN_SLOTS, OUTBOUND_BYTES_MAX, GATHER_BYTES, REPLIES_PER_TURN, THROTTLE_RECHECK_MS, TLS_HANDSHAKE_TIMEOUT_MS, WRITE_BUFFER_BYTES_MAX,
  X509_ID_BYTES_MAX, IDLE_TRIM_CHECK_MS, inboundPendingBytesMax,
} from '../limits.ts';
import { IdleTrim, checkIdleTrim } from '../memory-trim.ts';
import { createLogger, limitedWarnings } from '../logger.ts';
import { IO_STATS } from '../ops/stagestats.ts';
import { SpinPolicy } from '../rings/spin-policy.ts';
import { type FourLetterWord, hostNeedsOf } from '../ops/fourlw.ts';
import { probeHost, NO_HOST_FACTS, NO_HOST_NEEDS } from '../ops/probes.ts';
import type { OptionsFor } from '../config.ts';
import { type Topology, type ThreadName, attachRing, attachStats, wordsOf } from '../rings/topology.ts';
import type { TlsServerOptions } from '../security/tls.ts';
import { subjectRfc2253 } from '../security/x509.ts';
import { Connection, IoConnections } from '../io/connection.ts';
import { GlobalOutstanding } from '../io/outstanding.ts';
import { Admission, REFUSED_MAX_CNXNS, REFUSED_MAX_CLIENT_CNXNS } from '../io/admission.ts';
import { awaitStart } from './start-gate.ts';
import { trace } from '../startup-trace.ts';

/**
 * The config fields the schema gives the io workers (engine/config/schema.ts: clientPort -1 is
 * no plain port, maxCnxns counts all io workers together, ...), and this worker's rings.
 */
export interface IoWorkerData extends OptionsFor<'io'> {
  index: number;
  /** Read and checked by the main thread (engine/security/tls.ts); null without secureClientPort and client.portUnification. */
  tls: TlsServerOptions | null;
  /**
   * Every ring, bell and shared word block (engine/rings/topology.ts): this worker's request
   * and reply rings, the io words (connections open, bytes queued per worker), the throttle
   * words, the connection counts per address hash (maxClientCnxns), its stats block.
   */
  topology: Topology;
}

const data = workerData as IoWorkerData;
trace('io worker loaded');
// nothing is listened on or served before the pipeline has recovered
await awaitStart();
const log = createLogger(`io-${data.index}`);
/** Warnings a client can repeat (bad frames, refused TLS handshakes and certificates), rate-limited; summaries at least once a window. */
const repeated = limitedWarnings(log);
setInterval(() => repeated.flush(), 1000).unref();
const self: ThreadName = `io-${data.index}`;
const req = attachRing(data.topology, `request/${data.index}`, self);
const resp = attachRing(data.topology, `reply/${data.index}`, self);
const ioWords = new Int32Array(wordsOf(data.topology, 'io-words'));
const QUEUED_BYTES = ioQueuedBytesIndex(data.index);
const ACTIVE_CLIENTS = ioActiveClientsIndex(data.index);
// Stage statistics: counters and one histogram in a SharedArrayBuffer, nothing allocated per frame.
const stats = attachStats(data.topology, `io/${data.index}`, IO_STATS);
const ACCEPTED = stats.counterIndex('connections_accepted');
const REJECTED = stats.counterIndex('connections_rejected');
const OPEN = stats.counterIndex('connections_open');
const REPLIES_OUT = stats.counterIndex('replies_out');
const FRAMES_IN = stats.counterIndex('frames_in');
const BYTES_OUT = stats.counterIndex('bytes_out');
const QUEUED_GAUGE = stats.counterIndex('outbound_queued_bytes');
const SLAB_GAUGE = stats.counterIndex('outbound_slab_bytes');
const throttleWords = new Int32Array(wordsOf(data.topology, 'throttle'));
const replyWaitUs = stats.histogram('reply_wait_us');
const originMs = performance.timeOrigin;
/** The shared clock (ms since the epoch, the same in every thread): REQUEST records carry it. */
const clockMs = (): number => originMs + performance.now();
const admission = new Admission(ioWords, new Int32Array(wordsOf(data.topology, 'conn-counts')), data.maxCnxns, data.maxClientCnxns);

/** A connection with its socket and peer (engine/io/connection.ts has its state). */
class ClientConnection extends Connection {
  readonly socket: net.Socket;
  readonly addr: string;
  readonly port: number;
  /** Came in on secureClientPort, and the trusted client certificate's subject (RFC 2253) there, else null. */
  readonly secure: boolean;
  readonly x509Id: string | null;
  /** Its address's connection count slot (engine/io/admission.ts). */
  readonly countSlot: number;
  /** This turn's reply frames for it in the gather area: [start, end) pairs, in order, the first gatheredCount entries. */
  readonly gathered: number[] = [];
  /** Entries of `gathered` in use (a count, not gathered.length: setting an array's length is a runtime call). */
  gatheredCount = 0;

  constructor(id: number, acceptedAtMs: number, socket: net.Socket, peer: { addr: string; port: number; secure: boolean; x509Id: string | null; countSlot: number }) {
    super(id, acceptedAtMs);
    this.socket = socket;
    ({ addr: this.addr, port: this.port, secure: this.secure, x509Id: this.x509Id, countSlot: this.countSlot } = peer);
  }
}

const pendingControl: Buffer[] = [];

/**
 * A word the pipeline answers goes to it with the host facts it needs (directory sizes,
 * descriptor counts), measured here on libuv's pool — never on the pipeline thread.
 */
function forwardFourLetterWord(conn: ClientConnection, word: FourLetterWord, mask: Buffer | null): void {
  const needs = hostNeedsOf(word);
  if (needs === NO_HOST_NEEDS) {
    pushControl(ReqKind.FOURLW, conn.id, fourLetterWordTail(conn.addr, conn.port, word, NO_HOST_FACTS, mask));
    return;
  }
  const maskCopy = mask === null ? null : Buffer.from(mask);
  void probeHost(needs, data).then((facts) => {
    if (conn.socket.destroyed) return;
    pushControl(ReqKind.FOURLW, conn.id, fourLetterWordTail(conn.addr, conn.port, word, facts, maskCopy));
  });
}
let waitingForSpace = false;

const conns = new IoConnections<ClientConnection>(
  {
    frameBytesMax: data.juteMaxBufferBytes,
    pendingBytesMax: inboundPendingBytesMax(data.juteMaxBufferBytes),
    // ZooKeeper's FourLetterCommands.isEnabled, as the config read it
    whitelist: new Set(data.fourLetterWordWhitelist),
    sessionlessTimeoutMs: data.sessionlessCnxnTimeoutMs,
    throttleRecheckMs: THROTTLE_RECHECK_MS,
    outbound: {
      connPauseBytes: WRITE_BUFFER_BYTES_MAX,
      connBytesMax: OUTBOUND_BYTES_MAX,
      totalSoftBytes: OUTBOUND_TOTAL_BYTES_SOFT,
      totalHardBytes: OUTBOUND_TOTAL_BYTES_HARD,
      heavyConnBytesMin: OUTBOUND_HEAVY_CONN_BYTES_MIN,
    },
    // off (ZooKeeper's default threshold -1): no check on the hot path at all
    largeRequests: data.largeRequestThreshold === LARGE_REQUEST_THRESHOLD_OFF ? undefined : new LargeRequests(ioWords, data.largeRequestThreshold, data.largeRequestMaxBytes),
  },
  new GlobalOutstanding(throttleWords, data.index, data.ioThreads, data.globalOutstandingLimit),
  stats,
  {
    pushConnect: (conn, frame) => pushConnect(req, conn.id, conn.addr, conn.port, conn.secure, conn.x509Id, frame),
    pushRequest: (conn, frame, atMs) => pushRequest(req, conn.id, atMs, frame),
    pushFourLetterWord: forwardFourLetterWord,
    waitForSpace,
    flushRequests: () => req.flushDataBell(),
    pauseReading: (conn) => conn.socket.pause(),
    resumeReading: (conn) => conn.socket.resume(),
    end: (conn, text) => {
      if (text === undefined) conn.socket.end();
      else conn.socket.end(text);
    },
    destroy: (conn, reason, why) => {
      if (reason !== 'sessionless') {
        const key = connKey(data.index, conn.id);
        const message = `closing connection from ${conn.addr}:${conn.port}: ${why}`;
        if (reason === 'bad input') repeated.warn('bad frame', key, message, { conn: key });
        else log.warn(message, { conn: key });
      }
      conn.socket.destroy();
    },
  },
);

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

/** The request ring may have space: queued control records go first, then the blocked connections. */
function retryBlocked(): void {
  waitingForSpace = false;
  if (!flushControl()) {
    waitForSpace();
    return;
  }
  conns.unblock(clockMs());
  req.flushDataBell();
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
  const countSlot = admission.admit(addr);
  if (countSlot === REFUSED_MAX_CNXNS) {
    stats.add(REJECTED, 1);
    log.warn(`too many connections: ${addr}:${port} refused, max allowed is ${data.maxCnxns} (zookeeper.maxCnxns)`);
    socket.resetAndDestroy(); // as ZooKeeper's fastCloseSock: SO_LINGER 0, the client sees a reset
    return;
  }
  if (countSlot === REFUSED_MAX_CLIENT_CNXNS) {
    stats.add(REJECTED, 1);
    log.warn(`too many connections from ${addr} - max is ${data.maxClientCnxns}`);
    socket.destroy();
    return;
  }
  stats.add(ACCEPTED, 1);
  socket.setNoDelay(true);
  const conn = new ClientConnection(conns.allocateId(), clockMs(), socket, { addr, port, secure, x509Id, countSlot });
  conns.opened(conn);
  armSessionlessTimer();
  stats.set(OPEN, conns.size);
  socket.on('data', (chunk: Buffer) => {
    if (conns.onData(conn, chunk, clockMs())) ringAfterReads();
  });
  // allowHalfOpen: `printf stat | nc` sends FIN right after the word; ZooKeeper still answers.
  // Any other connection is done when the client stops sending, as before.
  socket.on('end', () => conns.onPeerEnded(conn));
  socket.on('drain', () => {
    noteQueued(conn);
    conns.onDrained(conn, socket.writableLength, clockMs());
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') log.warn(`connection ${addr}:${port}: ${err.message}`, { conn: connKey(data.index, conn.id) });
  });
  socket.on('close', () => {
    if (!conns.onClosed(conn)) return;
    // request_throttle_drop_stale: the pipeline drops what this connection still has on the ring
    Atomics.store(throttleWords, throttleClosedIndex(data.index, conn.id, CLOSED_CONN_SLOTS), conn.id | 0);
    stats.set(OPEN, conns.size);
    admission.release(conn.countSlot);
    publishQueued();
    if (conn.handshaken) pushControl(ReqKind.DISCONNECT, conn.id, '');
  });
}

/**
 * The sockets one poll of the event loop found readable each push their requests quietly;
 * the pipeline's doorbell rings once after them all (setImmediate runs after the poll
 * phase), not once per chunk: with one request per chunk (real clients, few in flight
 * each) a doorbell per chunk was a futex wake of the pipeline per request.
 *
 * Whether a client is alone is decided here too, after the poll phase: during it, the
 * first of 200 sockets read in one poll looks like a lone client (the others' requests are
 * not read yet), and polling for its reply there spun up to 50 µs per poll and rang twice.
 * The count is published for the pipeline too, which spins for a lone client's next request
 * rather than parking (pipeline-worker.ts, zooid.loneClientSpinUs).
 */
let bellAfterReads = false;
let activeClientsPublished = 0;

function ringAfterReads(): void {
  if (bellAfterReads) return;
  bellAfterReads = true;
  // the look after the reads drains the reply ring too: the pipeline need not wake this
  // thread for replies it publishes meanwhile (nor while a lone client's reply is polled for)
  resp.dataBell.willLook();
  setImmediate(ringBellAfterReads);
}

function ringBellAfterReads(): void {
  bellAfterReads = false;
  if (conns.activeConns !== activeClientsPublished) {
    activeClientsPublished = conns.activeConns;
    Atomics.store(ioWords, ACTIVE_CLIENTS, activeClientsPublished);
  }
  req.flushDataBell();
  if (conns.activeConns === 1) pollForLoneClientReply();
  lookAtReplies();
}

/** The look promised by willLook(): drains the reply ring; promises another if it stopped at a full turn. */
function lookAtReplies(): void {
  resp.dataBell.lookNow();
  if (!running) return;
  if (drainTurn() === REPLIES_PER_TURN) {
    resp.dataBell.willLook();
    setImmediate(lookAtReplies);
  }
}

// ---- replies from the pipeline

// Replies of one turn are copied out of the reply ring into the gather area (the ring slot
// is freed at once), then written with one exactly-sized buffer and one write per
// connection at the end of the turn: one allocation and one write per connection per
// turn instead of one per reply.
const gatherArea = Buffer.allocUnsafeSlow(GATHER_BYTES);
let gatherUsed = 0;
const gatheredConns: ClientConnection[] = [];

/** Shared-clock time of the reply turn being handled (one clock read per turn). */
let turnAtMs = 0;

/** Writes what was gathered for conn this turn, then applies the outbound limits. */
function flushGathered(conn: ClientConnection): void {
  const count = conn.gatheredCount;
  if (count === 0) return;
  conn.gatheredCount = 0;
  if (conn.closed || conn.ended) return;
  const ranges = conn.gathered;
  let bytes = 0;
  for (let i = 0; i < count; i += 2) bytes += ranges[i + 1] - ranges[i];
  const slab = bytes >= OUTBOUND_SLAB_PIECE_BYTES_MIN ? slabs.take(bytes) : null;
  const out = slab === null ? Buffer.allocUnsafe(bytes) : slab.buf.subarray(slab.pieceAt, slab.pieceAt + bytes);
  let at = 0;
  for (let i = 0; i < count; i += 2) at += gatherArea.copy(out, at, ranges[i], ranges[i + 1]);
  writeOut(conn, out, slab);
}

function flushAllGathered(): void {
  for (let i = 0; i < gatheredConns.length; i++) flushGathered(gatheredConns[i]);
  gatheredConns.length = 0;
  gatherUsed = 0;
}

/**
 * Writes one outbound buffer, then applies the outbound limits. A slab piece goes back to
 * its slab when the write completes or fails (Node calls back either way: written, or
 * cancelled by a destroy), so an unmapped slab is never under a pending write.
 */
function writeOut(conn: ClientConnection, out: Buffer, slab: Slab | null): void {
  const socket = conn.socket;
  if (slab === null) socket.write(out);
  else {
    const bytes = out.length;
    socket.write(out, () => releasePiece(slab, bytes));
  }
  const queuedBytes = socket.writableLength;
  // the usual case: the kernel took it all and nothing was queued before: no bound to look at
  if (queuedBytes === 0 && conn.queuedBytes === 0 && slab === null) return;
  noteQueued(conn);
  conns.afterWrite(conn, queuedBytes);
}

// ---- server-wide outbound bound (engine/io/outbound-limits.ts; engine/limits.ts OUTBOUND_TOTAL_BYTES_SOFT/HARD)

const slabs = new OutboundSlabs(OUTBOUND_SLAB_BYTES, PAGE_MAPPED_SLABS);

function releasePiece(slab: Slab, bytes: number): void {
  slabs.release(slab, bytes);
  publishQueued();
}

/** Re-reads a connection's queued bytes and publishes this worker's sum. */
function noteQueued(conn: ClientConnection): void {
  conns.noteQueued(conn, conn.socket.writableLength);
  publishQueued();
}

function publishQueued(): void {
  const mine = conns.outbound.bytes + slabs.pinnedWasteBytes;
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
 * hold (they drain without telling us until empty), then apply the server-wide bound.
 */
function enforceOutboundBudget(): void {
  if (conns.outbound.queuedConns.size === 0) return;
  for (const conn of conns.outbound.queuedConns) noteQueued(conn);
  if (conns.enforceOutboundBudget(queuedOnAllWorkers()) > 0) publishQueued();
}

// ---- connections that never handshake (zookeeper.nio.sessionlessCnxnTimeout)

let sessionlessTimer: NodeJS.Timeout | null = null;

function armSessionlessTimer(): void {
  const dueMs = conns.sessionless.nextDueMs();
  if (sessionlessTimer !== null || dueMs < 0) return;
  sessionlessTimer = setTimeout(expireSessionless, Math.max(0, Math.ceil(dueMs - clockMs())));
  sessionlessTimer.unref();
}

function expireSessionless(): void {
  sessionlessTimer = null;
  const expired = conns.expireSessionless(clockMs());
  if (expired > 0) log.info(`closed ${expired} connection(s) that sent no ConnectRequest within ${data.sessionlessCnxnTimeoutMs} ms (zookeeper.nio.sessionlessCnxnTimeout)`);
  armSessionlessTimer();
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
        const count = conn.gatheredCount;
        if (count === 0) gatheredConns.push(conn);
        if (count > 0 && ranges[count - 1] === start) ranges[count - 1] = gatherUsed;
        else {
          ranges[count] = start;
          ranges[count + 1] = gatherUsed;
          conn.gatheredCount = count + 2;
        }
      }
      stats.add(REPLIES_OUT, 1);
      stats.add(BYTES_OUT, frameBytes);
      // a reply to a request (not a watch event or ping) may re-enable reading
      if (IoConnections.answersRequest(d, frameAt, frameBytes)) conns.onReplied(conn, turnAtMs);
      return;
    }
    case RespKind.CLOSE:
      if (conn.awaitingText) {
        // the pipeline dropped a four-letter word's answer its client was not reading: ending would wait for it forever
        socket.destroy();
        return;
      }
      flushGathered(conn);
      conns.end(conn);
      return;
    case RespKind.TEXT_PART: {
      // a slice of a long answer; when it has gone to the kernel, the pipeline makes the next one
      // (engine/ops/textstream.ts): a client that does not read holds FOURLW_SLICES_IN_FLIGHT_MAX slices here
      const id = conn.id;
      socket.write(Buffer.from(textBytes(resp)), (err) => {
        if (err === undefined || err === null) pushControl(ReqKind.TEXT_MORE, id, '');
      });
      noteQueued(conn);
      conns.afterWrite(conn, socket.writableLength);
      return;
    }
    case RespKind.TEXT_CLOSE:
      flushGathered(conn);
      conns.end(conn, textBytes(resp).toString('utf8'));
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
  turnAtMs = clockMs();
  while (n < REPLIES_PER_TURN && resp.poll()) {
    handleReply();
    resp.releaseQuiet();
    n++;
  }
  resp.flushSpaceBell();
  flushAllGathered();
  enforceOutboundBudget();
  conns.recheckThrottled(turnAtMs);
  return n;
}

async function drainReplies(): Promise<void> {
  while (running) {
    const seq = resp.dataBell.sequence();
    const n = drainTurn();
    if (n === 0) await resp.dataBell.waitAsync(seq, conns.throttledCount > 0 ? THROTTLE_RECHECK_MS : 1000);
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

/** Kept only while polls catch replies (engine/rings/spin-policy.ts: with no idle core the poll delays the pipeline's answer). */
const loneClientPolls = new SpinPolicy();
const replyArrived = (): boolean => resp.poll();
const clockNowMs = (): number => performance.now();

/**
 * Writes the reply here, while the promise to look still stands, not in the look after it:
 * the pipeline rings at the end of its turn, a little after the reply is visible, and a
 * promise cleared by then makes it notify this thread's armed waitAsync, the wasted wake-up
 * the promise exists to save (unloaded p99 ~230 → ~400 µs when this only polled).
 */
function pollForLoneClientReply(): void {
  const nowMs = performance.now();
  if (loneClientPolls.spin(nowMs, nowMs + LONE_CLIENT_POLL_MS, replyArrived, clockNowMs)) drainTurn();
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
  // reusePort only to share the port among this server's io workers; engine/server.ts has made
  // sure no other process holds it (SO_REUSEPORT would let a second server bind it silently)
  server.listen({ port, host: host ?? undefined, reusePort: data.ioThreads > 1, backlog: listenBacklog }, () => {
    if (++listeningCount === servers.length) parentPort!.postMessage({ type: 'listening' });
  });
}

/** The TLS side of the client ports: secureClientPort listens with it, client.portUnification hands it TLS connections. */
function createSecureServer(tlsOptions: TlsServerOptions): tls.Server {
  const secure = tls.createServer({ ...tlsOptions, noDelay: true, allowHalfOpen: true, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }, (s) => onConnection(s, true));
  // a failed handshake (no or untrusted certificate with clientAuth=need, plain bytes, wrong protocol): Node closes it
  secure.on('tlsClientError', (err: Error, s: tls.TLSSocket) => {
    stats.add(REJECTED, 1);
    const addr = (s.remoteAddress ?? '').replace(/^::ffff:/, '');
    repeated.warn('TLS handshake failed', addr, `closing connection from ${addr}:${s.remotePort ?? 0}: TLS handshake failed: ${err.message}`);
  });
  return secure;
}

/** The first byte of a TLS record carrying a handshake: every TLS client opens with one (its ClientHello). */
const TLS_HANDSHAKE_RECORD = 0x16;

/**
 * client.portUnification (NettyServerCnxnFactory's DualModeSslHandler): a connection on clientPort
 * whose first byte opens a TLS handshake goes to the TLS side, any other is served plain (the
 * byte put back). One that sends nothing for the handshake timeout is dropped.
 */
function unifiedConnection(raw: net.Socket, secure: tls.Server): void {
  raw.setTimeout(TLS_HANDSHAKE_TIMEOUT_MS, () => raw.destroy());
  raw.on('error', () => {}); // a reset before the first byte: nothing to serve, nothing to say
  raw.once('data', (first: Buffer) => {
    raw.pause();
    raw.unshift(first);
    raw.setTimeout(0);
    // the TLS server reads the socket itself (resumed here, the ClientHello would flow past it)
    if (first[0] === TLS_HANDSHAKE_RECORD) return void secure.emit('connection', raw);
    onConnection(raw, false);
    raw.resume();
  });
}

const secureServer = data.tls === null ? null : createSecureServer(data.tls);
if (data.clientPort > 0) {
  const unified = data.clientPortUnification ? secureServer : null;
  if (data.clientPortUnification && unified === null) throw new Error('io worker: client.portUnification without the ssl.* stores');
  const onPlain = unified === null ? (s: net.Socket) => onConnection(s, false) : (s: net.Socket) => unifiedConnection(s, unified);
  listen(net.createServer({ noDelay: true, pauseOnConnect: false, allowHalfOpen: true }, onPlain), data.clientPort, data.clientPortAddress);
}
if (data.secureClientPort !== null && secureServer !== null) {
  // ZooKeeper 3.8 binds secureClientPort on every address unless secureClientPortAddress says otherwise
  listen(secureServer, data.secureClientPort, data.secureClientPortAddress);
}
if (servers.length === 0) throw new Error('io worker: neither clientPort nor secureClientPort to listen on');
void drainReplies();

const idleTrim = new IdleTrim();
if (idleTrim.available) {
  setInterval(() => checkIdleTrim(idleTrim, stats.counterOf(FRAMES_IN), stats, log), IDLE_TRIM_CHECK_MS).unref();
}

parentPort!.on('message', (msg: { type: string }) => {
  if (msg.type !== 'stop') return;
  running = false;
  for (const server of servers) server.close();
  for (const c of conns.values()) c.socket.destroy();
  parentPort!.postMessage({ type: 'stopped' });
  parentPort!.close();
});
