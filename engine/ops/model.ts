// The one stats model: a plain-data snapshot of the server's state (filled on the pipeline
// worker by engine/ops/stats.ts; safe to structured-clone and to msgpack), read by every
// operator surface — the four-letter words (engine/ops/fourlw.ts, engine/ops/mntr.ts), the
// AdminServer's JSON (engine/ops/admin.ts) and the Prometheus metrics (engine/ops/metrics.ts).
import type { MntrCounter, MntrSummary, MntrPercentileSummary } from './mntr.ts';


/** ZooKeeperServer.getState(): 'read-only' is ReadOnlyZooKeeperServer. zooid standalone: 'standalone'. */
export type ServerMode = 'standalone' | 'leader' | 'follower' | 'observer' | 'read-only';

/** ZooKeeper's AvgMinMaxCounter: count and sum of samples, min and max (0 when count is 0). */
export interface Summary {
  count: number;
  sum: number;
  min: number;
  max: number;
}

/** AvgMinMaxPercentileCounter: a Summary plus percentiles (ZooKeeper rounds them to integers). */
export interface PercentileSummary extends Summary {
  p50: number;
  p95: number;
  p99: number;
  p999: number;
}

/** One client connection, as ServerCnxn.dumpConnectionInfo and NIOServerCnxn.toString show it. */
export interface ConnectionInfo {
  /** Peer IP as Node reports it (IPv4, IPv6, or IPv4-mapped "::ffff:a.b.c.d"). */
  remoteAddress: string;
  remotePort: number;
  /**
   * Java SelectionKey interest bits, printed in hex: 1 = reading, 4 = writing (5 both),
   * 0 = neither (reads paused by backpressure; also a 4lw connection, whose key is
   * cancelled — ZooKeeper lists the asking connection itself as `[0](queued=0,recved=1,sent=0)`).
   */
  interestOps: number;
  outstandingRequestCount: number;
  packetsReceived: number;
  packetsSent: number;
  /** 0n until the session is established; then the long form below is printed by cons. */
  sessionId: bigint;
  /** lastOperationOf(opcode) of the last answered request; 'NA' before any. */
  lastOperation: string;
  /** Wall-clock ms when the connection was established (printed as est=). */
  establishedAtMs: number;
  sessionTimeoutMs: number;
  /** -1 until a request is answered (then lcxid is omitted, as in ZooKeeper). */
  lastCxid: number;
  /** -1 until a request is answered (printed as 0xffffffffffffffff, as in ZooKeeper). */
  lastZxid: number;
  /** ms on the server's MONOTONIC clock (ZooKeeper prints Time.currentElapsedTime(), not wall time). */
  lastResponseAtMs: number;
  lastLatencyMs: number;
  /** Per-connection request latencies in ms; avg is printed as integer division sum/count. */
  latencyMs: Summary;
  /**
   * Wall-clock ms when this connection's idle timer would close it (ZooKeeper's
   * cnxnExpiryQueue, rounded up to its interval); dump groups connections by it.
   */
  expireAtMs: number;
  /** On secureClientPort (the AdminServer lists these as secure_connections); cons lists both. */
  secure?: boolean;
}

export interface SessionExpiry {
  sessionId: bigint;
  /** A local session (localSessionsEnabled): a leader's dump lists it apart. */
  local?: boolean;
  /** Wall-clock ms of the session-expiry bucket (ZooKeeper rounds up to tickTime); dump groups by it. */
  expireAtMs: number;
}

export interface SessionEphemerals {
  sessionId: bigint;
  paths: readonly string[];
}

/** One data watch: a (path, watcher) pair of ZooKeeper's dataWatches (getData/exists watches). */
export interface DataWatch {
  path: string;
  sessionId: bigint;
}

/** Per top-level-znode byte summaries (ZooKeeper's read_per_namespace / write_per_namespace). */
export interface NamespaceSummary {
  /** First path component without the slash: "app" for /app/x. */
  namespace: string;
  bytes: Summary;
}

/** mntr-only values. */
export interface MonitorSnapshot {
  /** ms since the server started serving (ServerStats was created). */
  uptimeMs: number;
  /** Data + child watch registrations ((path, watcher) pairs), as DataTree.getWatchCount. */
  watchCount: number;
  /** Ephemeral znodes, all sessions. */
  ephemeralsCount: number;
  /** Sessions the database knows (zk_global_sessions). */
  globalSessionCount: number;
  /** Sessions local to this server (zk_local_sessions; localSessionsEnabled). */
  localSessionCount: number;
  /** Sum over znodes of path length + data length, as DataTree's nodeDataSize (root counted twice: a fresh server has 44). */
  approximateDataSizeBytes: number;
  /** /proc/self/fd entries and RLIMIT_NOFILE soft limit; -1 when unknown (non-Unix), like OSMXBean. */
  openFileDescriptorCount: number;
  maxFileDescriptorCount: number;
  /** Size of the last/smallest/largest response sent to a client; -1 each until one is sent. */
  clientResponseBytes: { last: number; min: number; max: number };
  /** Failed auth attempts (zk_auth_failed_count). */
  authFailedCount: number;
  /** The connection throttle's BLUE drop chance (zk_connection_drop_probability); 0 without one. */
  connectionDropProbability?: number;
  /** ZooKeeper's counters that zooid measures; absent ones print 0 (see MNTR_COUNTERS). */
  counters?: Readonly<Partial<Record<MntrCounter, number>>>;
  /** Avg/min/max/cnt/sum summaries zooid measures; absent ones print as empty. */
  summaries?: Readonly<Partial<Record<MntrSummary, Summary>>>;
  /** Summaries with percentiles zooid measures; absent ones print as empty. */
  percentileSummaries?: Readonly<Partial<Record<MntrPercentileSummary, PercentileSummary>>>;
  /** Response bytes of reads per namespace; ZooKeeper prints nothing for a namespace never read. */
  readPerNamespace?: readonly NamespaceSummary[];
  /** Txn bytes of writes per namespace. */
  writePerNamespace?: readonly NamespaceSummary[];
  /** An ensemble server's: QuorumPeer.getDetailedPeerState and, on a leader, LeaderZooKeeperServer's gauges. */
  quorum?: QuorumMonitor;
}

/** mntr's ensemble lines (zk_peer_state, and a leader's zk_learners, zk_synced_followers, ...). */
export interface QuorumMonitor {
  peerState: string;
  /** QuorumPeer.getZabState as the zabstate command prints it: election, discovery, synchronization, broadcast. */
  zabState: string;
  /** The leader this server follows, or this server when it leads; -1 while looking (QuorumPeer.getLeaderId). */
  leaderSid: number;
  /** Voting members (zk_quorum_size). */
  quorumSize: number;
  leader?: {
    /** ms since it started serving as leader (zk_leader_uptime). */
    uptimeMs: number;
    learners: number;
    syncedFollowers: number;
    syncedObservers: number;
    pendingSyncs: number;
    proposalSizesBytes: { last: number; min: number; max: number };
  };
}

/**
 * Everything the words read. Each formatter takes only the fields it needs (see its
 * parameter type), so a caller answering one word may fill just those.
 */
export interface ServerStatsSnapshot {
  /** formatZooKeeperVersion(...). */
  version: string;
  mode: ServerMode;
  /** Latency of every answered request, ms (ServerStats.requestLatency). */
  requestLatencyMs: Summary;
  /** Packets (requests, pings, and 4lw commands too) received / sent, all connections. */
  packetsReceived: number;
  packetsSent: number;
  /** Open client connections, the asking 4lw connection included. */
  aliveConnectionCount: number;
  /** Requests received but not yet answered. */
  outstandingRequestCount: number;
  lastProcessedZxid: number;
  /** As DataTree counts: the root is in its map twice ("" and "/"), so a fresh server has 5. */
  nodeCount: number;
  /** leader only: BufferStats of proposal sizes (last/min/max, -1 when none). */
  proposalSizesBytes?: { last: number; min: number; max: number };
  /** stat, cons, dump. Order is the order printed. */
  connections: readonly ConnectionInfo[];
  /** dump. */
  sessions: readonly SessionExpiry[];
  /** dump: a leader with local sessions on keeps two trackers (LeaderSessionTracker): Local and Global session sets. */
  localSessionTracker?: boolean;
  /** dump: sessions owning ephemeral znodes, each with its paths. */
  ephemerals: readonly SessionEphemerals[];
  /** wchs, wchc, wchp: data watches only — ZooKeeper's 4lw never show child watches. */
  dataWatches: readonly DataWatch[];
  /** Bytes under dataDir/version-2 (snapshots) and dataLogDir/version-2 (txn logs, preallocated size). */
  dataDirSizeBytes: number;
  logDirSizeBytes: number;
  monitor: MonitorSnapshot;
}

/** What envi prints, ZooKeeper's keys with zooid's values (see collectEnvironment). */
export interface EnvironmentInfo {
  zookeeperVersion: string;
  hostName: string;
  javaVersion: string;
  javaVendor: string;
  javaHome: string;
  javaClassPath: string;
  javaLibraryPath: string;
  javaIoTmpdir: string;
  javaCompiler: string;
  osName: string;
  osArch: string;
  osVersion: string;
  userName: string;
  userHome: string;
  userDir: string;
  memoryFreeBytes: number;
  memoryMaxBytes: number;
  memoryTotalBytes: number;
  /** zooid-only keys appended after ZooKeeper's (clients split lines on the first '='). */
  extras: readonly (readonly [key: string, value: string])[];
}

/** The fields srvr and stat print (and mntr's first lines). */
export type StatFields = 'version' | 'mode' | 'requestLatencyMs' | 'packetsReceived' | 'packetsSent'
  | 'aliveConnectionCount' | 'outstandingRequestCount' | 'lastProcessedZxid' | 'nodeCount' | 'proposalSizesBytes';
