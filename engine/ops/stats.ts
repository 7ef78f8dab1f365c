// Four-letter words that need the server's state, answered on the pipeline worker (the
// io worker answers ruok, telnet close and not-whitelisted words itself). Only runs
// when a word is asked: nothing here is on the request path, and the filesystem reads
// (data directory sizes, /proc/self/fd, package.json) happen only then.
//
// buildServerStatsSnapshot is pure: the pipeline's state plus the observations taken for
// this answer (clocks, directory sizes, fd counts) in, fourlw.ts's ServerStatsSnapshot out.
// fourLetterWordReply is the shell: it takes the observations, applies crst/srst/stmk,
// and formats through fourLetterWordPieces.
//
// What is live and what is not (mntr keys zooid has no counterpart for print 0 or empty):
// - live: packets, request latency (whole ms, as ZooKeeper), connections (the asking one
//   included, as ZooKeeper lists it), outstanding (replies held for fsync), zxid, node
//   count and approximate data size (ZooKeeper's way: the root counted twice), sessions
//   and their expiry buckets, ephemerals, data/child watches, uptime, fd counts, dir
//   sizes, client response sizes, auth failures, and the counters bytes_received_count,
//   connection_request_count, response_bytes, stale_sessions_expired, and the request
//   throttler's request_throttle_wait_count, stale_requests(_dropped), throttled_ops, and
//   from the io workers' stats blocks connection_rejected (zookeeper.maxCnxns,
//   maxClientCnxns and client-certificate refusals) and sessionless_connections_expired;
//   in an ensemble, from the quorum worker's words and stats block (engine/ops/quorumstats.ts),
//   the peer state, quorum_size, a leader's gauges and leader_uptime, and ZooKeeper's ensemble
//   counters and summaries (proposal_count, learner_*, diff/snap_count, election_time, ...).
// - 0 for now: per-connection queued= (the pipeline does not count held replies per
//   connection; they are released within one fsync), the summaries that belong
//   to the log worker (fsynctime, sync_processor_batch_size…) and the percentile latencies
//   (updatelatency, readlatency: the pipeline keeps no histogram), per-namespace read/write
//   bytes (the tree keeps none, so those mntr lines are absent, as on a ZooKeeper nobody
//   has read from), and ZooKeeper-internal queues and caches that zooid does not have.
// - four-letter words answered by the io worker (ruok, refused words) are not
//   counted in Received/Sent; ZooKeeper counts them.
import { readFileSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Pipeline, Conn } from '../core/pipeline.ts';
import type { OptionsFor } from '../config.ts';
import type { StatsReply, StatsRequest } from './control.ts';
import { formatConfigForConf } from '../config/print.ts';
import { sharedClockMs, type StatsBlock } from './stagestats.ts';
import {
  type ConnectionInfo, type DataWatch, type EnvironmentInfo, type FourLetterWord, type ServerStatsSnapshot,
  type SessionEphemerals, type KeeperLogInfo, type SessionExpiry, type Summary,
  DEFAULT_TRACE_MASK, FOUR_LETTER_WORD_NAMES, ZOOKEEPER_COMPAT_VERSION, fourLetterWordPieces,
  formatZooKeeperVersion,
} from './fourlw.ts';
import { collectEnvironment } from './environment.ts';
import type { HostFacts } from './probes.ts';
import type { QuorumMonitor } from './model.ts';
import { QuorumWord, ZAB_STATES, detailedPeerState } from '../rings/quorum-ring.ts';
import {
  QUORUM_COUNTERS, QUORUM_PERCENTILE_SUMMARIES, QUORUM_SUMMARIES, readPercentileSummary, readSummary, type QuorumSummaryName,
} from './quorumstats.ts';
import type { MntrCounter, MntrPercentileSummary, MntrSummary } from './mntr.ts';
import type { PercentileSummary } from './model.ts';

/** The connection asking the word, as the io worker saw it. */
export interface FourLetterAsker {
  addr: string;
  port: number;
  /** stmk: the 8-byte mask that followed the code; null for other words. */
  traceMask: bigint | null;
}

/** What the shell observed for this answer: clocks, files, the process. */
export interface StatsObservations {
  /** The pipeline's monotonic clock (session deadlines, lresp). */
  monoNowMs: number;
  wallNowMs: number;
  uptimeMs: number;
  version: string;
  /** Directory sizes and file descriptors, measured by the asking thread (-1: not measured). */
  host: HostFacts;
  /** The io workers' counters mntr shows, since the last srst. */
  io: IoCounters;
}

/** Counters the io workers keep in their stats blocks (engine/ops/stagestats.ts IO_STATS). */
export interface IoCounters {
  connectionRejected: number;
  sessionlessConnectionsExpired: number;
  largeRequestsRejected: number;
}

/**
 * ZooKeeper's NIOServerCnxnFactory puts a connection without a session on a 10 s idle
 * timer (zookeeper.nio.sessionlessCnxnTimeout); dump shows the asking connection there.
 */
const SESSIONLESS_CNXN_TIMEOUT_MS = 10_000;

/**
 * `asker`: the connection asking a four-letter word, listed first as ZooKeeper lists it;
 * null for the admin server and metrics, which ask over HTTP. `lists` false leaves the
 * connection, session, ephemeral and watch lists empty (metrics need only the counts;
 * the lists cost time proportional to the server's size).
 */
export function buildServerStatsSnapshot(p: Pipeline, asker: FourLetterAsker | null, o: StatsObservations, lists = true): ServerStatsSnapshot {
  assert(Number.isFinite(o.monoNowMs) && Number.isFinite(o.wallNowMs), 'clocks must be finite');
  assert(asker === null || (asker.port >= 0 && asker.port <= 65535), `bad asker port ${asker?.port}`);
  const tree = p.tree;
  const k = p.counters;
  // Monotonic deadlines shown as wall-clock dates, as ZooKeeper's Time.elapsedTimeToDate.
  const wallOf = (monoMs: number): number => Math.floor(o.wallNowMs - o.monoNowMs + monoMs);

  // The asking connection first: ZooKeeper lists it too, key cancelled ([0]), one packet in.
  const askerExpiry = Math.ceil((o.monoNowMs + SESSIONLESS_CNXN_TIMEOUT_MS) / SESSIONLESS_CNXN_TIMEOUT_MS) * SESSIONLESS_CNXN_TIMEOUT_MS;
  const connections: ConnectionInfo[] = asker === null ? [] : [{
    remoteAddress: asker.addr, remotePort: asker.port, interestOps: 0, outstandingRequestCount: 0,
    packetsReceived: 1, packetsSent: 0, sessionId: 0n, lastOperation: 'NA', establishedAtMs: Math.floor(o.wallNowMs),
    sessionTimeoutMs: 0, lastCxid: -1, lastZxid: -1, lastResponseAtMs: 0, lastLatencyMs: 0,
    latencyMs: { count: 0, sum: 0, min: 0, max: 0 }, expireAtMs: wallOf(askerExpiry),
  }];
  const aliveConnectionCount = connections.length + p.conns.size;
  const sessions: SessionExpiry[] = [];
  const ephemerals: SessionEphemerals[] = [];
  const dataWatches: DataWatch[] = [];
  if (lists) {
    for (const c of p.conns.values()) connections.push(connectionInfo(c, wallOf, o.wallNowMs));
    for (const s of p.sessions.sessions.values()) {
      if (s.closing) continue; // ZooKeeper takes an expiring session off its queue before closing it
      sessions.push({ sessionId: s.id, expireAtMs: wallOf(s.expiresAtMs), local: s.local });
    }
    for (const [sessionId, paths] of tree.ephemerals) ephemerals.push({ sessionId, paths: [...paths] });
    for (const [watchedPath, watchers] of tree.dataWatches.entriesByPath()) {
      for (const w of watchers) dataWatches.push({ path: watchedPath, sessionId: p.conns.get(w)?.session?.id ?? 0n });
    }
  }

  return {
    version: o.version,
    mode: p.role,
    proposalSizesBytes: p.leader === null ? undefined : { ...p.leader.proposalBytes },
    requestLatencyMs: summaryOf(k.latencyCount, k.totalLatencyMs, k.minLatencyMs, k.maxLatencyMs),
    packetsReceived: k.packetsReceived,
    packetsSent: k.packetsSent,
    aliveConnectionCount,
    outstandingRequestCount: p.heldCount(),
    lastProcessedZxid: tree.lastZxid,
    nodeCount: tree.nodeCount() + 1, // ZooKeeper's map holds the root twice, as "" and "/"
    connections,
    sessions,
    localSessionTracker: p.role === 'leader' && p.localSessionsOn,
    ephemerals,
    dataWatches,
    dataDirSizeBytes: Math.max(0, o.host.dataDirSizeBytes),
    logDirSizeBytes: Math.max(0, o.host.logDirSizeBytes),
    monitor: {
      uptimeMs: Math.floor(o.uptimeMs),
      watchCount: tree.dataWatches.watchCount() + tree.childWatches.watchCount(),
      ephemeralsCount: tree.ephemeralCount(),
      globalSessionCount: p.sessions.globalCount(),
      localSessionCount: p.sessions.localSessionCount(),
      approximateDataSizeBytes: tree.approximateDataSize + 1, // the root's "/" once more, as above
      openFileDescriptorCount: o.host.openFileDescriptors,
      maxFileDescriptorCount: o.host.maxFileDescriptors,
      clientResponseBytes: { last: k.responseBytesLast, min: k.responseBytesMin, max: k.responseBytesMax },
      authFailedCount: k.authFailed,
      connectionDropProbability: p.connectionDropChance,
      counters: {
        bytes_received_count: k.bytesReceived,
        connection_request_count: k.connectionRequests,
        response_bytes: k.responseBytesTotal,
        stale_sessions_expired: k.sessionsExpired,
        request_throttle_wait_count: k.requestThrottleWaitCount,
        stale_requests_dropped: k.staleRequestsDropped,
        stale_requests: k.staleRequests,
        throttled_ops: k.throttledOps,
        connection_rejected: o.io.connectionRejected + k.connectionsThrottled,
        sessionless_connections_expired: o.io.sessionlessConnectionsExpired,
        large_requests_rejected: o.io.largeRequestsRejected,
        ...quorumCounters(),
      },
      ...summariesWith(quorumSummaries(), k.connectionTokenDeficit),
      quorum: quorumWords === null ? undefined : quorumMonitor(p, quorumWords, o.monoNowMs),
    },
  };
}

/** The ensemble's mntr lines: the quorum worker's words and stats block, the pipeline's pending syncs and proposal sizes. */
function quorumMonitor(p: Pipeline, words: Int32Array, monoNowMs: number): QuorumMonitor {
  const block = quorumBlock!;
  const startedMs = block.counter('leader_started_ms');
  const leader = p.leader === null ? undefined : {
    uptimeMs: startedMs === 0 ? 0 : Math.max(0, Math.floor(sharedClockMs(performance.timeOrigin, monoNowMs) - startedMs)),
    learners: Atomics.load(words, QuorumWord.LEARNERS),
    syncedFollowers: Atomics.load(words, QuorumWord.SYNCED_FOLLOWERS),
    syncedObservers: Atomics.load(words, QuorumWord.SYNCED_OBSERVERS),
    pendingSyncs: p.leader.pendingSyncs,
    proposalSizesBytes: { ...p.leader.proposalBytes },
  };
  return {
    peerState: detailedPeerState(words),
    zabState: ZAB_STATES[Atomics.load(words, QuorumWord.ZAB_STATE)] ?? 'election',
    leaderSid: block.counter('leader_sid'),
    quorumSize: block.counter('quorum_size'),
    leader,
  };
}

/** The quorum worker's counters, as mntr's counters (none standalone); since the last srst. */
function quorumCounters(): Partial<Record<MntrCounter, number>> {
  if (quorumBlock === null) return {};
  const out: Partial<Record<MntrCounter, number>> = {};
  for (const name of QUORUM_COUNTERS) out[name] = quorumBlock.counter(name) - (quorumCounterBaseline[name] ?? 0);
  return out;
}

/** The quorum worker's summaries, and the pipeline's connection_token_deficit once the connection throttle let a session request through. */
function summariesWith(quorum: ReturnType<typeof quorumSummaries>, deficit: Summary): ReturnType<typeof quorumSummaries> {
  if (deficit.count === 0) return quorum;
  return { ...quorum, summaries: { ...quorum.summaries, connection_token_deficit: { ...deficit } } };
}

/** The quorum worker's summaries (election_time, quorum_ack_latency, ...); none standalone. */
function quorumSummaries(): { summaries?: Partial<Record<MntrSummary, Summary>>; percentileSummaries?: Partial<Record<MntrPercentileSummary, PercentileSummary>> } {
  if (quorumBlock === null) return {};
  const summaries: Partial<Record<MntrSummary, Summary>> = {};
  for (const name of Object.keys(QUORUM_SUMMARIES) as QuorumSummaryName[]) summaries[name] = readSummary(quorumBlock, name);
  const percentileSummaries: Partial<Record<MntrPercentileSummary, PercentileSummary>> = {};
  for (const name of QUORUM_PERCENTILE_SUMMARIES) percentileSummaries[name] = readPercentileSummary(quorumBlock, name);
  return { summaries, percentileSummaries };
}

function connectionInfo(c: Conn, wallOf: (monoMs: number) => number, wallNowMs: number): ConnectionInfo {
  const s = c.session;
  return {
    remoteAddress: c.addr,
    remotePort: c.port,
    interestOps: 1, // reading; the pipeline does not see the io worker's backpressure pauses
    outstandingRequestCount: 0, // not counted per connection (see the header)
    packetsReceived: c.packetsReceived,
    packetsSent: c.packetsSent,
    sessionId: s?.id ?? 0n,
    lastOperation: c.lastOp,
    establishedAtMs: c.established,
    sessionTimeoutMs: s?.timeoutMs ?? 0,
    // the session's last request xid once this connection has answered one (-1: none, or reset by crst)
    lastCxid: s !== null && c.latencyCount > 0 ? s.lastCxid : -1,
    lastZxid: c.lastZxid,
    lastResponseAtMs: Math.floor(c.lastResponseMs),
    lastLatencyMs: c.lastLatencyMs,
    latencyMs: summaryOf(c.latencyCount, c.totalLatencyMs, c.minLatencyMs, c.maxLatencyMs),
    // zooid closes a connection when its session expires, and has no idle timer for one without
    expireAtMs: s !== null ? wallOf(s.expiresAtMs) : Math.floor(wallNowMs),
    secure: c.secure,
  };
}

function summaryOf(count: number, sum: number, min: number, max: number): Summary {
  return count === 0 ? { count: 0, sum: 0, min: 0, max: 0 } : { count, sum, min, max };
}

/** crst: ServerCnxn.resetStats on every connection. */
export function resetConnectionStats(p: Pipeline): void {
  for (const c of p.conns.values()) {
    c.packetsReceived = 0;
    c.packetsSent = 0;
    c.lastOp = 'NA';
    c.lastLatencyMs = 0;
    c.minLatencyMs = Infinity;
    c.maxLatencyMs = 0;
    c.totalLatencyMs = 0;
    c.latencyCount = 0;
    c.lastResponseMs = 0;
    c.lastZxid = -1;
  }
}

/** srst: ServerStats.reset — latency, packet counters, response sizes, and the metrics (counters) mntr shows. */
export function resetServerStats(p: Pipeline): void {
  const k = p.counters;
  k.packetsReceived = 0;
  k.packetsSent = 0;
  k.minLatencyMs = Infinity;
  k.maxLatencyMs = 0;
  k.totalLatencyMs = 0;
  k.latencyCount = 0;
  k.responseBytesLast = -1;
  k.responseBytesMin = -1;
  k.responseBytesMax = -1;
  k.responseBytesTotal = 0;
  k.bytesReceived = 0;
  k.connectionRequests = 0;
  k.sessionsExpired = 0;
  k.requestThrottleWaitCount = 0;
  k.staleRequestsDropped = 0;
  k.staleRequests = 0;
  k.throttledOps = 0;
  k.connectionsThrottled = 0;
  k.connectionTokenDeficit = { count: 0, sum: 0, min: 0, max: 0 };
  ioBaseline = ioCountersSinceStart(); // the io workers own their counters: mntr shows them from here
  // the quorum worker owns its counters too (ServerMetrics.resetAll zeroes them in ZooKeeper); its summaries are not reset
  if (quorumBlock !== null) for (const name of QUORUM_COUNTERS) quorumCounterBaseline[name] = quorumBlock.counter(name);
  // auth failures are ServerStats' own counter, which reset() leaves alone
}

// ---------------------------------------------------------------------------------------
// Shell: clocks, files, process state, and the words' side effects

/** The io workers' stats blocks, attached by the pipeline worker at start. */
let ioBlocks: readonly StatsBlock[] = [];
let ioBaseline: IoCounters = { connectionRejected: 0, sessionlessConnectionsExpired: 0, largeRequestsRejected: 0 };

export function readIoCountersFrom(blocks: readonly StatsBlock[]): void {
  ioBlocks = blocks;
}

/** The quorum worker's published state and stats block (an ensemble server's pipeline attaches them at start; null standalone). */
let quorumWords: Int32Array | null = null;
let quorumBlock: StatsBlock | null = null;
const quorumCounterBaseline: Partial<Record<string, number>> = {};

export function readQuorumStateFrom(words: Int32Array, block: StatsBlock): void {
  quorumWords = words;
  quorumBlock = block;
}

function ioCountersSinceStart(): IoCounters {
  let connectionRejected = 0;
  let sessionlessConnectionsExpired = 0;
  let largeRequestsRejected = 0;
  for (const b of ioBlocks) {
    connectionRejected += b.counter('connections_rejected');
    sessionlessConnectionsExpired += b.counter('sessionless_expired');
    largeRequestsRejected += b.counter('large_requests_rejected');
  }
  return { connectionRejected, sessionlessConnectionsExpired, largeRequestsRejected };
}

function ioCounters(): IoCounters {
  const now = ioCountersSinceStart();
  return {
    connectionRejected: now.connectionRejected - ioBaseline.connectionRejected,
    sessionlessConnectionsExpired: now.sessionlessConnectionsExpired - ioBaseline.sessionlessConnectionsExpired,
    largeRequestsRejected: now.largeRequestsRejected - ioBaseline.largeRequestsRejected,
  };
}

/** ServerStats' start: when the pipeline worker loaded this module, before recovery (as ZooKeeper). */
const STARTED_AT_MS = performance.now();
const PACKAGE_JSON = new URL('../../package.json', import.meta.url);

let traceMask = DEFAULT_TRACE_MASK;
let versionCache: { version: string; zooidVersion: string } | null = null;

/** ClickHouse Keeper's csnp and lgif need the worker's snapshot machinery and log files: it lends them. */
export interface KeeperLogAccess {
  /** Schedules a snapshot now: its log index (zxid), or 0 when none could be scheduled. */
  scheduleSnapshot(): number;
  /** `firstLogZxid`: the oldest txn log file's first zxid as the host probe found it (-1: none). */
  logInfo(firstLogZxid: number): KeeperLogInfo;
}

/**
 * Words whose text lists connections, sessions, ephemerals or watches: only they pay for
 * collecting the lists (time and memory proportional to the server's size). srvr, which
 * is always enabled, and mntr stay cheap however many watches the server holds
 * (CVE-2017-5637 is about such words stalling the server).
 */
const LIST_WORDS: ReadonlySet<FourLetterWord> = new Set(['stat', 'cons', 'dump', 'wchs', 'wchc', 'wchp']);

/**
 * The text for a four-letter word the io worker forwarded (already whitelisted), as pieces
 * made on demand (fourlw.ts fourLetterWordPieces): the snapshot of the server's state is
 * taken now, the text of the long words is made as the caller takes it. Counts the word's
 * packet as ZooKeeper does (received before answering, sent after).
 */
export function fourLetterWordReply(word: string, p: Pipeline, cfg: OptionsFor<'pipeline'>, asker: FourLetterAsker, host: HostFacts,
  keeper: KeeperLogAccess | null = null, serving = true): Iterable<string> {
  if (!isFourLetterWord(word)) return []; // the io worker only forwards known codes
  const k = p.counters;
  k.packetsReceived++;
  k.bytesReceived += 4;
  if (word === 'crst') resetConnectionStats(p);
  if (word === 'srst') resetServerStats(p);
  if (word === 'stmk' && asker.traceMask !== null) traceMask = asker.traceMask;
  const { version, zooidVersion } = versions();
  // an ensemble server between roles is not running: the words that need it say so (ZK_NOT_SERVING)
  const server = !serving ? null : buildServerStatsSnapshot(p, asker, {
    monoNowMs: performance.now(),
    wallNowMs: Date.now(),
    uptimeMs: performance.now() - STARTED_AT_MS,
    version,
    host,
    io: ioCounters(),
  }, LIST_WORDS.has(word));
  const environment: EnvironmentInfo = word === 'envi' ? collectEnvironment(version, zooidVersion) : EMPTY_ENVIRONMENT;
  const pieces = fourLetterWordPieces(word, {
    whitelist: cfg.fourLetterWordWhitelist,
    server,
    confText: word === 'conf' && server !== null ? formatConfigForConf(cfg, { dataDirSizeBytes: server.dataDirSizeBytes, dataLogSizeBytes: server.logDirSizeBytes }) : '',
    environment,
    traceMask,
    digests: [], // zooid keeps no digest log: hash answers with nothing
    snapshotScheduledIndex: word === 'csnp' && keeper !== null && serving ? keeper.scheduleSnapshot() : 0,
    keeperLog: word === 'lgif' && keeper !== null ? keeper.logInfo(host.firstLogZxid) : undefined,
  });
  k.packetsSent++;
  return pieces ?? [];
}

/**
 * The control path's stats request (engine/ops/control.ts): the admin server's commands and
 * /metrics read the same snapshot as the words, without an asking connection. Applies
 * crst/srst/stmk first, as the words do, and shares their trace mask.
 */
export function answerStatsRequest(req: StatsRequest, p: Pipeline, cfg: OptionsFor<'pipeline'>): StatsReply {
  assert(req.op === 'stats', `unknown control op ${String((req as { op?: unknown }).op)}`);
  if (req.reset === 'crst') resetConnectionStats(p);
  if (req.reset === 'srst') resetServerStats(p);
  if (req.setTraceMask !== null) traceMask = BigInt.asIntN(64, BigInt(req.setTraceMask));
  const { version } = versions();
  const monoNowMs = performance.now();
  const wallNowMs = Date.now();
  const snapshot = buildServerStatsSnapshot(p, null, {
    monoNowMs,
    wallNowMs,
    uptimeMs: monoNowMs - STARTED_AT_MS,
    version,
    host: req.host,
    io: ioCounters(),
  }, req.lists);
  return { snapshot, traceMask, monoNowMs, wallNowMs };
}

function isFourLetterWord(word: string): word is FourLetterWord {
  return (FOUR_LETTER_WORD_NAMES as readonly string[]).includes(word);
}


/**
 * Version text: the ZooKeeper release zooid follows, revision "zooid", built on the time
 * package.json was last written (zooid runs from source; there is no build step to date).
 */
export function versions(): { version: string; zooidVersion: string } {
  if (versionCache !== null) return versionCache;
  let builtOn = new Date(0);
  let zooidVersion = 'unknown';
  try {
    builtOn = statSync(PACKAGE_JSON).mtime;
    const text = readFileSync(PACKAGE_JSON, 'utf8');
    const v = (JSON.parse(text) as { version?: unknown }).version;
    if (typeof v === 'string') zooidVersion = v;
  } catch {
    // installed without its package.json: keep the defaults
  }
  versionCache = { version: formatZooKeeperVersion(ZOOKEEPER_COMPAT_VERSION, 'zooid', builtOn), zooidVersion };
  return versionCache;
}

const EMPTY_ENVIRONMENT: EnvironmentInfo = {
  zookeeperVersion: '', hostName: '', javaVersion: '', javaVendor: '', javaHome: '', javaClassPath: '',
  javaLibraryPath: '', javaIoTmpdir: '', javaCompiler: '', osName: '', osArch: '', osVersion: '', userName: '',
  userHome: '', userDir: '', memoryFreeBytes: 0, memoryMaxBytes: 0, memoryTotalBytes: 0, extras: [],
};

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`stats: ${message}`);
}
