// Pipeline worker: the single owner of the tree, sessions and watches. A loop over the
// request rings and the durable-zxid signal that feeds the Pipeline state machine and
// moves its outputs to the reply rings and the log ring. Parks in Atomics.wait on its
// doorbell (rung by io workers and the log worker) until the next session tick.
//
// In an ensemble it also drains quorum/out (the quorum worker's decisions and the leader's
// or learners' messages) and fills quorum/in (docs/ensemble.md's seam): it serves clients
// only while its role is established (leader) or synced (learner); otherwise a new client
// connection is closed at once, as ZooKeeper's "ZooKeeperServer not running", and the
// serving four-letter words answer "not currently serving". Leaving a role closes every
// connection and reloads the tree from disk.
import { activateConfig } from '../core/reconfig.ts';
import { workerData, parentPort } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Ring } from '../../native-free-io/ring.ts';
import { Pipeline } from '../core/pipeline.ts';
import { recoverState, type RecoveryReport } from '../persistence/recovery.ts';
import { Snapshotter } from '../persistence/snapshotter.ts';
import { writeSnapshotNow } from '../persistence/snapshot-writer.ts';
import {
  CONTROL_COMMITTED_ZXID, CONTROL_DURABLE_ZXID, ioActiveClientsIndex, CONTROL_LOG_FAILURES, CONTROL_LOG_RECOVERIES, CONTROL_LOG_TRUNCATED_ZXID, CONTROL_LOG_TRUNCATIONS, CONTROL_STOP, STOP_PIPELINE,
  connKey, ioIndexOf, connIdOf,
  THROTTLE_IN_PROCESS, throttleClosedIndex, throttleTakenIndex,
} from '../records.ts';
import { CLOSED_CONN_SLOTS, FOURLW_SLICE_CHARS, FOURLW_SLICES_IN_FLIGHT_MAX, FOURLW_STREAMS_MAX, FOURLW_STREAM_IDLE_MS, IDLE_TRIM_CHECK_MS } from '../limits.ts';
import { IdleTrim, checkIdleTrim, describeTrim, trimNow } from '../memory-trim.ts';
import { SpinPolicy } from '../rings/spin-policy.ts';
import { ConnectionThrottle, settleWeights } from '../core/connection-throttle.ts';
import { TextStreams } from '../ops/textstream.ts';
import { RequestThrottler, Throttle } from '../core/request-throttler.ts';
import { ReqKind, connIdOf as requestConnIdOf, readConnect, readFourLetterWord, requestEnqueuedAtMs, requestFrame } from '../rings/request-ring.ts';
import { RespKind, SEND_HEADER_BYTES, writeSend, writeConnIdOnly, writeText } from '../rings/reply-ring.ts';
import { LogKind, TXN_RECORD_HEADER_BYTES, writeTxnRecord, writeResume, writeTruncate } from '../rings/log-ring.ts';
import { FromQuorum, ToQuorum, decodeFromQuorum, encodeToQuorum, type FromQuorumMessage, type ToQuorumMessage } from '../rings/quorum-ring.ts';
import { LearnerDesyncError } from '../core/learner.ts';
import { JuteWriter } from '../../native-free-io/jute.ts';
import { createLogger, idsInMessage, limitedWarnings } from '../logger.ts';
import { fourLetterWordReply, answerStatsRequest, readIoCountersFrom, readQuorumStateFrom, type KeeperLogAccess } from '../ops/stats.ts';
import { SNAP_CONTROL_LAST_ZXID } from '../persistence/snapshotter.ts';
import { ControlServer } from '../ops/control.ts';
import { PIPELINE_STATS, IO_STATS } from '../ops/stagestats.ts';
import { type Topology, attachBell, attachQuorumStats, attachRing, attachStats, wordsOf } from '../rings/topology.ts';
import type { OptionsFor } from '../config.ts';
import { trace } from '../startup-trace.ts';
import { flushCompileCache } from '../compile-cache.ts';

export interface PipelineWorkerData {
  /** The config fields the schema gives the pipeline (engine/config/schema.ts consumers). */
  config: OptionsFor<'pipeline'>;
  /** Every ring, bell and shared word block (engine/rings/topology.ts); this thread attaches its own by name. */
  topology: Topology;
  logDir: string;
  /** dataDir/version-2 (engine/persistence/snapshotter.ts). */
  snapDir: string;
  txnBytesMax: number;
}

const data = workerData as PipelineWorkerData;
trace('pipeline worker loaded');
parentPort!.postMessage({ type: 'loaded' });
const cfg = data.config;
const log = createLogger('pipeline');
/** Warnings a client can repeat (unknown request types, malformed requests, failed auth), rate-limited. */
const repeated = limitedWarnings(log);
const topology = data.topology;
const bell = attachBell(topology, 'pipeline');
const ioIndexes = Array.from({ length: topology.ioThreads }, (_, i) => i);
const reqRings = ioIndexes.map((i) => attachRing(topology, `request/${i}`, 'pipeline'));
const respRings = ioIndexes.map((i) => attachRing(topology, `reply/${i}`, 'pipeline'));
const logRing = attachRing(topology, 'log', 'pipeline');
const control64 = new BigInt64Array(wordsOf(topology, 'control'));
const control32 = new Int32Array(wordsOf(topology, 'control'));
const controlServer = new ControlServer(attachRing(topology, 'control/request', 'pipeline'), attachRing(topology, 'control/reply', 'pipeline'));
// ensembles: the quorum worker's rings (null standalone: nothing below runs then)
const quorumIn = topology.quorum ? attachRing(topology, 'quorum/in', 'pipeline') : null;
const quorumOut = topology.quorum ? attachRing(topology, 'quorum/out', 'pipeline') : null;
if (topology.quorum) readQuorumStateFrom(new Int32Array(wordsOf(topology, 'quorum-words')), attachQuorumStats(topology));
/** Whether a role is running: always standalone; in an ensemble only while a role is established or synced. */
let serving = quorumIn === null;
/**
 * Whether clients are taken: while serving, except on a leader with leaderServes=no (Leader.lead
 * then never gives its server to the client port: connections close, words say not serving).
 */
let clientsServed = serving;
const quorumWriter = new JuteWriter(64 * 1024);
/** The newest zxid handed to the log (leaving a role waits until it is durable). */
let lastAppendedZxid = 0;

// Stage statistics: clock reads and Float64Array increments, nothing allocated per request.
// Stamps that cross threads are ms since the epoch (timeOrigin + now), comparable in every thread.
const stats = attachStats(topology, 'pipeline', PIPELINE_STATS);
readIoCountersFrom(ioIndexes.map((i) => attachStats(topology, `io/${i}`, IO_STATS)));
const ringWaitUs = stats.histogram('ring_wait_us');
const readUs = stats.histogram('read_us');
const writeUs = stats.histogram('write_us');
const commitWaitUs = stats.histogram('commit_wait_us');
const releaseUs = stats.histogram('release_us');
const PARKED_US = stats.counterIndex('parked_us');
const BUSY_US = stats.counterIndex('busy_us');
const CONTROL_RECORDS = stats.counterIndex('control_records');
const originMs = performance.timeOrigin;
/** The shared-clock time replies are stamped with: set before each batch of outputs. */
let stampMs = originMs + performance.now();
/**
 * The pipeline's clock (PipelineOptions.nowMs): read once per request in dispatch and once
 * per loop turn, not again inside the pipeline (clock reads were 5% of its time). Session
 * touches, timeouts and ZooKeeper's whole-ms latency stats need no finer time than that.
 */
let clockMs = performance.now();
/** Txns handed to the log and not yet seen durable: zxid and shared-clock time, a bounded FIFO (samples beyond it are skipped). */
const APPENDED_SLOTS = 1 << 14;
const appendedZxid = new Float64Array(APPENDED_SLOTS);
const appendedAtMs = new Float64Array(APPENDED_SLOTS);
let appendedHead = 0;
let appendedCount = 0;

function noteDurable(zxid: number, nowMs: number): void {
  while (appendedCount > 0 && appendedZxid[appendedHead] <= zxid) {
    commitWaitUs.observe((nowMs - appendedAtMs[appendedHead]) * 1000);
    appendedHead = (appendedHead + 1) & (APPENDED_SLOTS - 1);
    appendedCount--;
  }
}

/** A request this recently (ms) means clients are being served: a snapshot keeps to zooid.snapshotCpuPct. */
const CLIENTS_ACTIVE_MS = 100;
/** When the pipeline last took a client request (the lone-client spin and the snapshot's share go by it). */
let lastRequestAtMs = -Infinity;
/** Longest stretch the pipeline serializes a snapshot before it serves requests again. */
const SNAPSHOT_SLICE_MS = 1;
/** The pipeline's doorbell sequence when its current turn began (engine/persistence/snapshotter.ts workWaiting). */
let turnBellSequence = 0;
const snapshotter = new Snapshotter({
  snapCount: cfg.snapCount,
  random: Math.random,
  nowMs: () => performance.now(),
  sliceMs: SNAPSHOT_SLICE_MS,
  cpuShare: cfg.snapshotCpuPct / 100,
  // a request in the last CLIENTS_ACTIVE_MS: clients are being served, the share holds
  clientsActive: (nowMs) => nowMs - lastRequestAtMs < CLIENTS_ACTIVE_MS,
  // the bell moved since this turn began: a request, a durable zxid or ring space arrived
  workWaiting: () => bell.sequence() !== turnBellSequence,
  ring: attachRing(topology, 'snapshot', 'pipeline'),
  controlSab: wordsOf(topology, 'snapshot-control'),
  log: (level, msg) => log[level](msg),
});
/** Set when the txns in the current log reach the snapshot trigger: roll the log, start a snapshot. */
let rollWanted = false;

function* sessionTimeouts(): Generator<[bigint, number]> {
  // local sessions are this server's alone and never logged: a snapshot has the global ones
  for (const s of pipeline.sessions.sessions.values()) if (!s.local) yield [s.id, s.timeoutMs];
}

/** Reserve in a ring, waiting (parked) while it is full: the consumer always drains. */
function reserveBlocking(ring: Ring, bytes: number): number {
  for (;;) {
    const seq = ring.spaceBell.sequence();
    const at = ring.reserve(bytes);
    if (at !== -1) return at;
    ring.spaceBell.wait(seq, 100);
  }
}

/** Sends a message to the quorum worker (quorum/in), waiting while the ring is full. */
function toQuorum(m: ToQuorumMessage): void {
  const ring = quorumIn!;
  const payload = encodeToQuorum(quorumWriter, m);
  const at = reserveBlocking(ring, payload.length);
  ring.data.set(payload, at);
  ring.commitQuiet(m.kind, payload.length);
}

/** zookeeper.connection_throttle_*: undefined while its bucket is 0 (ZooKeeper's default). */
function connectionThrottle(): ConnectionThrottle | undefined {
  if (cfg.connectionThrottleTokens === 0) return undefined;
  const options = settleWeights({
    tokens: cfg.connectionThrottleTokens, fillTimeMs: cfg.connectionThrottleFillTimeMs, fillCount: cfg.connectionThrottleFillCount,
    freezeTimeMs: cfg.connectionThrottleFreezeTimeMs, dropIncrease: cfg.connectionThrottleDropIncrease, dropDecrease: cfg.connectionThrottleDropDecrease,
    decreaseRatio: cfg.connectionThrottleDecreaseRatio, weightEnabled: cfg.connectionThrottleWeightEnabled,
    globalWeight: cfg.connectionThrottleGlobalWeight, localWeight: cfg.connectionThrottleLocalWeight, renewWeight: cfg.connectionThrottleRenewWeight,
  }, (message) => log.warn(message));
  return new ConnectionThrottle(options, performance.now(), Math.random);
}

const pipeline = new Pipeline(
  {
    tickMs: cfg.tickTimeMs,
    minSessionTimeoutMs: cfg.minSessionTimeoutMs,
    maxSessionTimeoutMs: cfg.maxSessionTimeoutMs,
    // standalone ZooKeeper makes session ids with server id 1 whatever myid says (createSessionTrackerServerId);
    // an ensemble's servers use their myid, so that the ids each one makes never collide
    serverId: quorumIn === null ? 1 : cfg.myid!,
    superDigest: cfg.superDigest,
    reconfigEnabled: cfg.reconfigEnabled,
    standaloneEnabled: cfg.standaloneEnabled,
    skipAcl: cfg.skipAcl,
    sasl: {
      users: cfg.sasl === null ? null : cfg.sasl.users,
      aclScheme: cfg.saslAuthProvider,
      superUser: cfg.saslSuperUser,
      allowFailedClients: cfg.allowSaslFailedClients,
      requireClientAuth: cfg.sessionRequireClientSaslAuth,
      randomBytes: (count) => randomBytes(count),
    },
    x509SuperUser: cfg.x509SuperUser,
    extendedTypesEnabled: cfg.extendedTypesEnabled,
    localSessionsEnabled: cfg.localSessionsEnabled,
    localSessionsUpgradingEnabled: cfg.localSessionsUpgradingEnabled,
    connectionThrottle: connectionThrottle(),
    enforceQuota: cfg.enforceQuota,
    maxReplyBytes: cfg.juteMaxBufferBytes,
    txnBytesMax: cfg.juteMaxBufferBytes + cfg.juteMaxBufferExtraBytes,
    containerCheckIntervalMs: cfg.containerCheckIntervalMs,
    containerMaxPerMinute: cfg.containerMaxPerMinute,
    containerMaxNeverUsedIntervalMs: cfg.containerMaxNeverUsedIntervalMs,
    nowMs: () => clockMs,
    wallMs: () => Date.now(),
    log: (level, msg, limit) => {
      if (limit === undefined) log[level](msg, idsInMessage(msg));
      else repeated.warn(limit.kind, limit.conn, msg, { conn: limit.conn, ...idsInMessage(msg) });
    },
  },
  {
    send(conn, frame) {
      const ring = respRings[ioIndexOf(conn)];
      const at = reserveBlocking(ring, SEND_HEADER_BYTES + frame.length);
      writeSend(ring, at, connIdOf(conn), stampMs, frame);
      ring.commitQuiet(RespKind.SEND, SEND_HEADER_BYTES + frame.length);
    },
    close(conn) {
      const ring = respRings[ioIndexOf(conn)];
      writeConnIdOnly(ring, reserveBlocking(ring, 4), connIdOf(conn));
      ring.commitQuiet(RespKind.CLOSE, 4);
    },
    appendLog(zxid, txn) {
      // syncEnabled=false: an observer keeps no log and takes no snapshots (ObserverZooKeeperServer
      // without its SyncRequestProcessor); it ACKs nothing, and after a restart the leader syncs it again
      if (!cfg.syncEnabled && pipeline.role === 'observer') return;
      lastAppendedZxid = zxid;
      const at = reserveBlocking(logRing, TXN_RECORD_HEADER_BYTES + txn.length);
      writeTxnRecord(logRing, at, zxid, txn);
      logRing.commitQuiet(LogKind.TXN, TXN_RECORD_HEADER_BYTES + txn.length);
      if (snapshotter.noteTxn()) rollWanted = true;
      if (appendedCount < APPENDED_SLOTS) {
        const i = (appendedHead + appendedCount) & (APPENDED_SLOTS - 1);
        appendedZxid[i] = zxid;
        appendedAtMs[i] = stampMs;
        appendedCount++;
      }
    },
    leader: {
      propose: (zxid, txn) => toQuorum({ kind: ToQuorum.PROPOSE, zxid, txn }),
      commit: (zxid) => toQuorum({ kind: ToQuorum.COMMIT, zxid }),
      synced: (sid) => toQuorum({ kind: ToQuorum.SYNCED, sid }),
    },
    learner: {
      forward: (sessionId, cxid, type, record, authIds) => toQuorum({ kind: ToQuorum.FORWARD, sessionId, cxid, type, record, authIds: [...authIds] }),
      revalidate: (sessionId, timeoutMs) => toQuorum({ kind: ToQuorum.REVALIDATE, sessionId, timeoutMs }),
    },
  },
);

const startedAt = performance.now();
const recovered = recoverState(pipeline, {
  snapDir: data.snapDir, logDir: data.logDir, txnBytesMax: data.txnBytesMax, nowMs: performance.now(), warn: (w) => log.warn(w),
});
log.info(`recovered ${recovered.snapshot === null ? 'no snapshot' : `${recovered.snapshot.path} (${recovered.snapshotNodeCount} znodes, ${recovered.loadMs.toFixed(0)} ms)`}, ` +
  `then ${recovered.txnCount} txns (${recovered.replayMs.toFixed(0)} ms) up to zxid 0x${pipeline.tree.lastZxid.toString(16)} with ${pipeline.sessions.size()} sessions in ${(performance.now() - startedAt).toFixed(0)} ms`);
if (recovered.snapshot === null) {
  // ZooKeeper refuses a dataDir with logs and no snapshot, and writes snapshot.0 into an empty one
  const written = writeSnapshotNow(data.snapDir, pipeline.tree, sessionTimeouts());
  log.info(`wrote ${written.path} (${written.nodes} znodes, ${written.bytes} bytes)`);
}
snapshotter.setTxnsInLog(recovered.txnCount);
/** zxid of the newest snapshot on disk at start (the snapshot worker's control word has the ones written since). */
const startSnapshotZxid = recovered.snapshot === null ? pipeline.tree.lastZxid : recovered.snapshot.zxid;
Atomics.store(control64, CONTROL_DURABLE_ZXID, BigInt(pipeline.tree.lastZxid));
lastAppendedZxid = pipeline.tree.lastZxid;
trace('pipeline recovered');
parentPort!.postMessage({ type: 'ready', lastZxid: pipeline.tree.lastZxid });
// its modules' compiled code to the cache now, not at an exit a kill -9 would skip (engine/compile-cache.ts)
flushCompileCache();
// the load's garbage goes now, while the other workers start (the idle trim would wait for a busy spell)
trimAfterLoad('memory trim after recovery');

/**
 * A load's garbage (the tree it replaced, the decode's buffers) goes at once: the idle trim
 * waits for a quiet spell after a busy one, and a thread with a large tree never has one.
 */
function trimAfterLoad(what: string): void {
  const trimmed = trimNow();
  if (trimmed !== null) log.info(describeTrim(trimmed, what));
}

/**
 * The next txn starts a new log file and a snapshot of the tree as it is starts (named after
 * the tree's lastZxid): the snapCount trigger, and csnp. false when the snapshotter refused.
 */
function rollLogAndSnapshot(): boolean {
  reserveBlocking(logRing, 0);
  logRing.commit(LogKind.ROLL, 0);
  return snapshotter.rolled(pipeline.tree, sessionTimeouts());
}

// ---- ClickHouse Keeper's csnp and lgif (engine/ops/fourlw.ts formatLgif has the mapping)
const snapControl64 = new BigInt64Array(wordsOf(topology, 'snapshot-control'));

const keeperLog: KeeperLogAccess = {
  scheduleSnapshot(): number {
    // what the snapCount trigger does (roll the log, start a snapshot of the tree as it is), on demand
    const zxid = pipeline.tree.lastZxid;
    if (zxid === 0 || pipeline.logUnavailable || snapshotter.active) {
      log.warn(`Failed to schedule snapshot creation task.${snapshotter.active ? ' (a snapshot is in progress)' : ''}`);
      return 0;
    }
    rollWanted = false;
    if (!rollLogAndSnapshot()) return 0;
    log.info(`Snapshot creation scheduled with last committed log index ${zxid}.`);
    return zxid;
  },
  logInfo(firstLogIndex: number) {
    const lastSnapshotIndex = Math.max(startSnapshotZxid, Number(Atomics.load(snapControl64, SNAP_CONTROL_LAST_ZXID)));
    // a learner logs a PROPOSAL at once and applies it at COMMIT: its log runs ahead of its tree
    const lastLogIndex = Math.max(pipeline.tree.lastZxid, lastAppendedZxid);
    return {
      firstLogIndex: firstLogIndex === -1 ? lastSnapshotIndex + 1 : firstLogIndex,
      lastLogIndex,
      lastCommittedLogIndex: Math.min(pipeline.durableZxid, lastLogIndex),
      lastSnapshotIndex,
    };
  },
};

// ---- four-letter-word answers, in slices (engine/ops/textstream.ts): a slice's text is made
// when it goes out, straight into the reply ring as UTF-8 (at most 3 bytes a character)
const textStreams = new TextStreams(
  { sliceChars: FOURLW_SLICE_CHARS, inFlightMax: FOURLW_SLICES_IN_FLIGHT_MAX, streamsMax: FOURLW_STREAMS_MAX, idleMs: FOURLW_STREAM_IDLE_MS },
  {
    slice(conn, text, last) {
      const ring = respRings[ioIndexOf(conn)];
      const at = reserveBlocking(ring, 4 + 3 * text.length);
      ring.commit(last ? RespKind.TEXT_CLOSE : RespKind.TEXT_PART, writeText(ring, at, connIdOf(conn), text));
    },
    abort(conn) {
      log.warn(`closing a four-letter-word connection whose client read nothing of its answer for ${FOURLW_STREAM_IDLE_MS} ms`, { conn });
      const ring = respRings[ioIndexOf(conn)];
      writeConnIdOnly(ring, reserveBlocking(ring, 4), connIdOf(conn));
      ring.commit(RespKind.CLOSE, 4);
    },
  },
);

// ---- ZooKeeper 3.8's RequestThrottler, as a gate in front of dispatch (engine/core/request-throttler.ts)
const throttleWords = new Int32Array(wordsOf(topology, 'throttle'));
/** REQUEST records taken from each ring (wraps as int32): the io workers subtract it from what they pushed. */
const takenCounts = new Int32Array(reqRings.length);
const throttler = new RequestThrottler(
  {
    maxRequests: cfg.requestThrottleMaxRequests,
    stallTimeMs: cfg.requestThrottleStallTimeMs,
    dropStale: cfg.requestThrottleDropStale,
    staleLatencyCheck: cfg.requestStaleLatencyCheck,
    throttledOpWaitTimeMs: cfg.throttledOpWaitTimeMs,
  },
  {
    inProcess: () => pipeline.heldCount(),
    connectionClosed: (ioIndex, connId) => Atomics.load(throttleWords, throttleClosedIndex(ioIndex, connId, CLOSED_CONN_SLOTS)) === (connId | 0),
    sessionTimeoutMsOf: (key) => pipeline.sessionTimeoutMsOf(key),
  },
  pipeline.counters,
);

function publishInProcess(): void {
  Atomics.store(throttleWords, THROTTLE_IN_PROCESS, pipeline.heldCount());
}

function dispatch(ioIndex: number, ring: Ring): void {
  const connId = requestConnIdOf(ring);
  const key = connKey(ioIndex, connId);
  switch (ring.kind) {
    case ReqKind.REQUEST: {
      const startMs = performance.now();
      clockMs = startMs;
      stampMs = originMs + startMs;
      const waitedMs = stampMs - requestEnqueuedAtMs(ring);
      ringWaitUs.observe(waitedMs * 1000);
      const frame = requestFrame(ring);
      const verdict = throttler.admit(ioIndex, connId, key, frame, waitedMs);
      if (verdict === Throttle.DROP) {
        // RequestThrottler.dropRequest: the connection is made invalid (closed), so that its later requests are
        // dropped too and the session's order holds; a closed connection's DISCONNECT follows on the ring anyway
        const conn = pipeline.conns.get(key);
        if (conn !== undefined && conn.session !== null) pipeline.dropConnection(conn);
        return;
      }
      if (verdict === Throttle.THROTTLED_OP) {
        pipeline.requestThrottled(key, frame);
        return;
      }
      const zxidBefore = pipeline.tree.lastZxid;
      pipeline.request(key, frame);
      const us = (performance.now() - startMs) * 1000;
      if (pipeline.tree.lastZxid !== zxidBefore) writeUs.observe(us);
      else readUs.observe(us);
      return;
    }
    case ReqKind.CONNECT: {
      if (!clientsServed) {
        // ZooKeeper closes a connection that comes while its server is not running (no role yet)
        const reply = respRings[ioIndex];
        writeConnIdOnly(reply, reserveBlocking(reply, 4), connId);
        reply.commitQuiet(RespKind.CLOSE, 4);
        return;
      }
      const c = readConnect(ring);
      pipeline.connect(key, c.addr, c.port, c.frame, c.tls);
      return;
    }
    case ReqKind.DISCONNECT:
      textStreams.drop(key);
      pipeline.disconnect(key);
      return;
    case ReqKind.FOURLW: {
      const w = readFourLetterWord(ring);
      textStreams.start(key, fourLetterWordReply(w.word, pipeline, cfg, { addr: w.addr, port: w.port, traceMask: w.traceMask }, w.host, keeperLog, clientsServed), clockMs);
      return;
    }
    case ReqKind.TEXT_MORE:
      textStreams.more(key, clockMs);
      return;
    default:
      throw new Error(`request ring ${ioIndex}: unknown record kind ${ring.kind}`);
  }
}

/**
 * The log failed (ENOSPC, EIO) and the log worker cut it back to the last durable txn.
 * Everything applied after that is dropped: connections closed, tree and sessions reloaded
 * from disk (the snapshot worker's snapshot in progress aborted), then RESUME tells the log
 * worker where appends continue. Writes are refused until it reports the disk writable.
 */
function reloadAfterLogFailure(): void {
  const appliedZxid = pipeline.tree.lastZxid;
  const durableZxid = Number(Atomics.load(control64, CONTROL_DURABLE_ZXID));
  snapshotter.abort();
  rollWanted = false;
  appendedCount = 0;
  pipeline.abandonUndurable();
  const startedMs = performance.now();
  const reloaded = recoverState(pipeline, {
    snapDir: data.snapDir, logDir: data.logDir, txnBytesMax: data.txnBytesMax, nowMs: performance.now(), warn: (w) => log.warn(w), reload: true,
  });
  const zxid = pipeline.tree.lastZxid;
  if (zxid !== durableZxid) throw new Error(`after the log failure the log holds zxid 0x${zxid.toString(16)}, but 0x${durableZxid.toString(16)} was reported durable`);
  snapshotter.setTxnsInLog(reloaded.txnCount);
  log.error(`the transaction log failed: ${appliedZxid - zxid} txns not yet durable were dropped (their clients saw connection loss), ` +
    `state reloaded from disk to zxid 0x${zxid.toString(16)} in ${(performance.now() - startedMs).toFixed(0)} ms; writes are refused (NOTREADONLY) until the log takes them again; reads are served`);
  writeResume(logRing, reserveBlocking(logRing, 8), zxid);
  logRing.commit(LogKind.RESUME, 8);
  trimAfterLoad('memory trim after the reload');
}

// ---- ensembles: the quorum worker's messages (engine/rings/quorum-ring.ts)

/** Leaving a role waits for the log to finish what it was given; past this, it says so (and again every this long). */
const LEAVE_WAIT_REPORT_MS = 5_000;
/** The durable zxid last acted on (it goes down after a TRUNC: compared for change, not order). */
let lastDurableSeen = Number(Atomics.load(control64, CONTROL_DURABLE_ZXID));
/** How often a learner hands the sessions its clients touched to the quorum worker (for the next PING answer). */
const TOUCH_INTERVAL_MS = Math.max(1, Math.floor(cfg.tickTimeMs / 2));
let nextTouchAt = 0;
/** The commit stage's zxid as last published for the snapshot worker (ensembles, while serving). */
let publishedCommittedZxid = -1;

/**
 * Reloads the tree and sessions from disk (snapshot + whole log), keeping the role. Only
 * reads: the log worker has written all it was given and owns the files (a log failure
 * reloads through reloadAfterLogFailure), so the startup repair pass — a second read of
 * every entry, most of a reload — has nothing to do.
 */
function reloadFromDisk(why: string): RecoveryReport {
  const startedMs = performance.now();
  const reloaded = recoverState(pipeline, {
    snapDir: data.snapDir, logDir: data.logDir, txnBytesMax: data.txnBytesMax, nowMs: performance.now(), warn: (w) => log.warn(w), reload: true, repair: false,
  });
  snapshotter.setTxnsInLog(reloaded.txnCount);
  lastDurableSeen = Number(Atomics.load(control64, CONTROL_DURABLE_ZXID));
  lastAppendedZxid = Math.max(lastAppendedZxid, pipeline.tree.lastZxid);
  log.info(`${why}: tree reloaded from disk to zxid 0x${pipeline.tree.lastZxid.toString(16)} in ${(performance.now() - startedMs).toFixed(0)} ms`);
  trimAfterLoad(`memory trim after the reload (${why})`);
  return reloaded;
}

/**
 * A learner synced by SNAP (or TRUNC): the quorum worker wrote the synced tree as a snapshot
 * (fsynced); load it. What the snapshot holds is on disk, so the durable zxid is at least its
 * zxid, as at startup: the log never logs those txns, and leaving the role before it logs a
 * later one would otherwise wait for them forever (leaveRole waits for the durable zxid to
 * reach the last appended one, which the reload raised to the snapshot's).
 */
function reloadSyncedSnapshot(): void {
  const reloaded = reloadFromDisk('synced by snapshot');
  if (reloaded.snapshot === null) throw new Error('RELOAD: no snapshot on disk');
  raiseDurableZxid(reloaded.snapshot.zxid);
}

/** The durable zxid up to `zxid` if it is below (the log worker only publishes zxids it logs after this, all later). */
function raiseDurableZxid(zxid: number): void {
  const to = BigInt(zxid);
  for (;;) {
    const now = Atomics.load(control64, CONTROL_DURABLE_ZXID);
    if (now >= to || Atomics.compareExchange(control64, CONTROL_DURABLE_ZXID, now, to) === now) return;
  }
}

/**
 * The role ends (election, a failed sync, a leader that lost its quorum): every client
 * connection is closed at once and every held output dropped, the log is let finish what
 * it was given, and the tree is reloaded from disk — ZooKeeper's fastForwardDataBase: the
 * snapshot and the whole log, so what a leader applied at prep and never logged is gone,
 * and what it logged stays for the next leader's sync to keep or TRUNC. RELOADED tells the
 * quorum worker the last logged zxid for its next election.
 */
function leaveRole(why: string): void {
  serving = false;
  clientsServed = false;
  snapshotter.abort();
  rollWanted = false;
  pipeline.leaveRole();
  for (let i = 0; i < respRings.length; i++) respRings[i].flushDataBell();
  logRing.flushDataBell();
  const waitStartedMs = performance.now();
  let waitReportAtMs = waitStartedMs + LEAVE_WAIT_REPORT_MS;
  for (;;) {
    const seq = bell.sequence();
    const durable = Number(Atomics.load(control64, CONTROL_DURABLE_ZXID));
    if (durable >= lastAppendedZxid) break;
    if (Atomics.load(control64, CONTROL_LOG_FAILURES) !== logFailures) break;
    if (performance.now() >= waitReportAtMs) {
      // nothing else runs meanwhile: say why the role change does not finish (a stalled disk)
      log.warn(`${why}: waiting ${((performance.now() - waitStartedMs) / 1000).toFixed(0)} s for the log to make zxid 0x${lastAppendedZxid.toString(16)} durable (durable: 0x${durable.toString(16)})`);
      waitReportAtMs += LEAVE_WAIT_REPORT_MS;
    }
    bell.wait(seq, 100);
  }
  appendedCount = 0;
  const failures = Atomics.load(control64, CONTROL_LOG_FAILURES);
  if (failures !== logFailures) {
    logFailures = failures;
    reloadAfterLogFailure();
  } else {
    reloadFromDisk(why);
  }
  lastAppendedZxid = pipeline.tree.lastZxid;
  toQuorum({ kind: ToQuorum.RELOADED, lastZxid: pipeline.tree.lastZxid });
}

/**
 * A learner's TRUNC: the log worker cuts the log after zxid (engine/workers/log-worker.ts)
 * and sets the durable zxid back; this waits for it (nothing else is logged meanwhile: the
 * learner is syncing, not serving). The quorum worker loads the tree it syncs from disk.
 */
function truncateLog(zxid: number): void {
  const before = Atomics.load(control64, CONTROL_LOG_TRUNCATIONS);
  writeTruncate(logRing, reserveBlocking(logRing, 8), zxid);
  logRing.commit(LogKind.TRUNCATE, 8);
  for (;;) {
    const seq = bell.sequence();
    if (Atomics.load(control64, CONTROL_LOG_TRUNCATIONS) !== before) break;
    bell.wait(seq, 100);
  }
  const to = Number(Atomics.load(control64, CONTROL_LOG_TRUNCATED_ZXID));
  lastDurableSeen = Number(Atomics.load(control64, CONTROL_DURABLE_ZXID));
  lastAppendedZxid = to;
  snapshotter.setTxnsInLog(0);
  if (to !== zxid) log.warn(`TRUNC to zxid 0x${zxid.toString(16)}: the log reached only 0x${to.toString(16)}`);
  toQuorum({ kind: ToQuorum.TRUNCATED, zxid, ok: to === zxid });
}

/** The tree's zxid when read-only mode began: nothing may change it until the mode ends. */
let readOnlyZxid = -1;

/**
 * readonlymode.enabled and no leader for the grace (the quorum worker says): read-only clients are
 * served, reads only, with sessions of this server's own (ReadOnlyZooKeeperServer.startup).
 */
function beginReadOnly(): void {
  pipeline.assumeRole('read-only');
  readOnlyZxid = pipeline.tree.lastZxid;
  serving = true;
  clientsServed = true;
  log.info(`Read-only server started: serving read-only clients at zxid 0x${readOnlyZxid.toString(16)}`);
}

/**
 * An election decided: read-only mode ends before the role starts (ReadOnlyZooKeeperServer.shutdown):
 * every connection is closed (the clients reconnect, to a read-write server), its sessions are gone.
 * Nothing was logged or applied meanwhile, so the tree needs no reload.
 */
function endReadOnly(): void {
  if (pipeline.role !== 'read-only') throw new Error(`READ_ONLY off in role ${pipeline.role}`);
  if (pipeline.tree.lastZxid !== readOnlyZxid) throw new Error(`read-only mode moved the tree from 0x${readOnlyZxid.toString(16)} to 0x${pipeline.tree.lastZxid.toString(16)}`);
  serving = false;
  clientsServed = false;
  pipeline.leaveRole();
  for (let i = 0; i < respRings.length; i++) respRings[i].flushDataBell();
  log.info('Read-only server stopped: its client connections are closed');
}

function fromQuorum(m: FromQuorumMessage): void {
  switch (m.kind) {
    case FromQuorum.LEAVE:
      return leaveRole('left the ensemble role');
    case FromQuorum.LEAD:
      pipeline.assumeRole('leader', m.voters);
      pipeline.beginEpoch(m.zxid);
      serving = true;
      clientsServed = cfg.leaderServes;
      log.info(`leading epoch ${Math.floor(m.zxid / 0x1_0000_0000)} with voters ${m.voters.join(',')}: ${clientsServed ? 'serving clients' : 'not taking clients (leaderServes=no)'}`);
      return;
    case FromQuorum.ACK:
      if (pipeline.leader !== null) pipeline.ack(m.sid, m.zxid);
      return;
    case FromQuorum.LEARNER_REQUEST:
      if (pipeline.leader !== null) pipeline.learnerRequest(m.sid, m.sessionId, m.cxid, m.type, m.record, m.authIds);
      return;
    case FromQuorum.TOUCH_SESSIONS:
      if (pipeline.leader !== null) pipeline.touchSessions(m.touches);
      return;
    case FromQuorum.REVALIDATE_SESSION:
      if (pipeline.leader !== null) toQuorum({ kind: ToQuorum.REVALIDATE_ANSWER, sid: m.sid, sessionId: m.sessionId, valid: pipeline.revalidateSession(m.sessionId, m.timeoutMs) });
      return;
    case FromQuorum.FOLLOW:
      pipeline.assumeRole(m.observer ? 'observer' : 'follower');
      return;
    case FromQuorum.TRUNCATE:
      return truncateLog(m.zxid);
    case FromQuorum.RELOAD:
      return reloadSyncedSnapshot();
    case FromQuorum.PROPOSAL:
      pipeline.proposal(m.zxid, m.txn);
      return;
    case FromQuorum.COMMIT_PROPOSAL:
      pipeline.commitProposal(m.zxid);
      return;
    case FromQuorum.INFORM:
      pipeline.inform(m.zxid, m.txn);
      return;
    case FromQuorum.REVALIDATED:
      pipeline.revalidated(m.sessionId, m.valid);
      return;
    case FromQuorum.SYNCED:
      pipeline.synced();
      return;
    case FromQuorum.READ_ONLY:
      return m.on ? beginReadOnly() : endReadOnly();
    case FromQuorum.CONFIG:
      activateConfig(pipeline, m.version, m.text, Date.now());
      return;
    case FromQuorum.LEARNERS:
      pipeline.reconfig.syncedFollowers = new Set(m.sids);
      return;
    case FromQuorum.SERVE:
      if (m.zxid !== pipeline.tree.lastZxid) log.warn(`serving from zxid 0x${m.zxid.toString(16)}, the tree is at 0x${pipeline.tree.lastZxid.toString(16)}`);
      serving = true;
      clientsServed = true;
      log.info(`${pipeline.role} synced with the leader at zxid 0x${pipeline.tree.lastZxid.toString(16)}: serving clients`);
      return;
  }
}

/** Drains quorum/out; a learner whose stream breaks (LearnerDesyncError) leaves its role. */
function pollQuorum(ring: Ring): number {
  let n = 0;
  while (n < RECORDS_PER_RING_TURN && ring.poll()) {
    const m = decodeFromQuorum(ring.kind, ring.data.subarray(ring.payloadStart, ring.payloadStart + ring.payloadLength));
    ring.releaseQuiet();
    n++;
    try {
      fromQuorum(m);
    } catch (e) {
      if (!(e instanceof LearnerDesyncError)) throw e;
      log.error(`the leader's stream and this server disagree: ${e.message}; leaving the role`);
      leaveRole('desynchronized from the leader');
    }
  }
  ring.flushSpaceBell();
  return n;
}

/**
 * A lone client (one connection with a request in flight, as the io workers publish after
 * their reads) is answered sooner when its next request finds the pipeline awake: waking a
 * parked thread costs tens of microseconds on a VM, about what the whole answer costs. So
 * after a request the pipeline spins up to zooid.loneClientSpinUs for the next before it
 * parks — only then: with more clients in flight its turns overlap arrivals anyway, and a
 * spin would take a core from them; and only while spins catch requests (SpinPolicy: with
 * no idle core a spin delays the very request it waits for). The spin's time counts as busy.
 */
const ioWords = new Int32Array(wordsOf(topology, 'io-words'));
const loneClientSpinMs = cfg.loneClientSpinUs / 1000;
const loneClientSpins = new SpinPolicy();
/** The doorbell's sequence when the spin began: a ring since then is a request (or a durable zxid) to take. */
let spinFromSequence = 0;
const bellMoved = (): boolean => bell.sequence() !== spinFromSequence;
const clockNowMs = (): number => performance.now();

function loneClient(): boolean {
  let active = 0;
  for (let i = 0; i < reqRings.length; i++) active += Atomics.load(ioWords, ioActiveClientsIndex(i));
  return active === 1;
}

/** Spins for a lone client's next request; true if the doorbell moved before the spin ran out. */
function spunForLoneClient(seq: number, nowMs: number): boolean {
  if (nowMs >= lastRequestAtMs + loneClientSpinMs || !loneClient()) return false;
  spinFromSequence = seq;
  return loneClientSpins.spin(nowMs, lastRequestAtMs + loneClientSpinMs, bellMoved, clockNowMs);
}

const RECORDS_PER_RING_TURN = 256;
let nextTickAt = 0;
/** Ring records taken since start: the idle trim's measure of work. */
let recordsTaken = 0;
const idleTrim = new IdleTrim();
let nextTrimCheckAt = idleTrim.available ? performance.now() + IDLE_TRIM_CHECK_MS : Infinity;

let logFailures = 0n;
let wokeAt = performance.now();
for (;;) {
  const seq = bell.sequence();
  turnBellSequence = seq;
  let work = 0;
  throttler.beginTurn();
  clockMs = performance.now();
  const durable = Number(Atomics.load(control64, CONTROL_DURABLE_ZXID));
  if (durable > lastDurableSeen) {
    lastDurableSeen = durable;
    const startMs = clockMs;
    stampMs = originMs + startMs;
    noteDurable(durable, stampMs);
    pipeline.durable(durable);
    releaseUs.observe((performance.now() - startMs) * 1000);
    work++;
  }
  const failures = Atomics.load(control64, CONTROL_LOG_FAILURES);
  if (failures !== logFailures) {
    logFailures = failures;
    reloadAfterLogFailure();
    work++;
  }
  if (pipeline.logUnavailable && Atomics.load(control64, CONTROL_LOG_RECOVERIES) === logFailures) {
    pipeline.logAvailable();
    log.info('the transaction log takes writes again: writes accepted, session timeouts restart now');
    work++;
  }
  // globalOutstandingLimit is the io workers' (they stop reading connections); here the RequestThrottler:
  // with request_throttle_max_requests set, no request is taken while that many are in process
  for (let i = 0; i < reqRings.length; i++) {
    const ring = reqRings[i];
    let n = 0;
    let taken = 0;
    while (n < RECORDS_PER_RING_TURN && ring.poll()) {
      if (ring.kind === ReqKind.REQUEST) {
        if (!throttler.mayTake()) break; // left on the ring (poll again returns it): the io workers see it in flight
        taken++;
      }
      dispatch(i, ring);
      ring.releaseQuiet();
      n++;
    }
    if (taken > 0) {
      lastRequestAtMs = clockMs;
      takenCounts[i] = (takenCounts[i] + taken) | 0;
      Atomics.store(throttleWords, throttleTakenIndex(i), takenCounts[i]);
    }
    ring.flushSpaceBell();
    work += n;
    recordsTaken += n;
  }
  if (quorumOut !== null) work += pollQuorum(quorumOut);
  publishInProcess();
  if (rollWanted) {
    rollWanted = false;
    rollLogAndSnapshot();
    work++;
  }
  const answered = controlServer.poll((req) => answerStatsRequest(req, pipeline, cfg));
  if (answered > 0) {
    stats.add(CONTROL_RECORDS, answered);
    work += answered;
  }
  const now = performance.now();
  clockMs = now;
  if (now >= nextTickAt) {
    stampMs = originMs + now;
    // an ensemble server not serving expires nothing: sessions are the next leader's
    nextTickAt = now + (serving ? pipeline.tick() : cfg.tickTimeMs);
    if (textStreams.size > 0) textStreams.expire(now);
    repeated.flush();
  }
  if (now >= nextTrimCheckAt) {
    nextTrimCheckAt = now + IDLE_TRIM_CHECK_MS;
    checkIdleTrim(idleTrim, recordsTaken, stats, log);
  }
  if (quorumIn !== null && serving && pipeline.durableZxid !== publishedCommittedZxid) {
    // only while a role serves: between roles the commit stage is a reload's, not a quorum's
    publishedCommittedZxid = pipeline.durableZxid;
    Atomics.store(control64, CONTROL_COMMITTED_ZXID, BigInt(publishedCommittedZxid));
  }
  if (quorumIn !== null && pipeline.learner !== null && serving && now >= nextTouchAt) {
    nextTouchAt = now + TOUCH_INTERVAL_MS;
    const touches = pipeline.learner.takeTouches();
    if (touches.size > 0) toQuorum({ kind: ToQuorum.TOUCHES, touches });
  }
  // one doorbell per ring per turn, not one per record (replies and txns went out quietly)
  for (let i = 0; i < respRings.length; i++) respRings[i].flushDataBell();
  logRing.flushDataBell();
  quorumIn?.flushDataBell();
  // a snapshot slice last: this turn's replies and txns are on their way before it serializes
  if (snapshotter.active) work += snapshotter.pump(pipeline.tree);
  if (work > 0) continue;
  if (Atomics.load(control32, CONTROL_STOP) >= STOP_PIPELINE) break;
  if (spunForLoneClient(seq, now)) continue;
  // RequestThrottler.throttleSleep: a stall waits for a durable signal (our bell), at most stall_time
  const stallMs = throttler.parkMs();
  // a control reply part-way out waits for the main thread to drain the reply ring: look again soon
  const touchInMs = quorumIn !== null && pipeline.learner !== null ? nextTouchAt - now : Infinity;
  // a snapshot resting (zooid.snapshotCpuPct) goes on when its rest is over
  const restMs = snapshotter.restMs(now) || Infinity;
  bell.wait(seq, controlServer.hasOutput() ? 1 : Math.max(1, Math.min(stallMs, nextTickAt - now, touchInMs, restMs)));
  const after = performance.now();
  stats.add(BUSY_US, (now - wokeAt) * 1000);
  stats.add(PARKED_US, (after - now) * 1000);
  wokeAt = after;
}
parentPort!.postMessage({ type: 'stopped' });
