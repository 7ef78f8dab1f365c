// The pipeline's interfaces: what it is built with (options), where its outputs go, and
// the per-connection and server-wide state the operator surfaces read.
import type { ConnectionThrottle } from './connection-throttle.ts';
import type { Summary } from '../ops/model.ts';
import type { Session } from './sessions.ts';
import type { AuthHolder, SaslOptions } from './auth.ts';
import type { LearnerOutputs } from './learner.ts';
import type { LeaderOutputs } from './leader.ts';

export interface PipelineOutputs {
  /** Send a frame on a connection; `frame` is only valid during the call. */
  send(conn: number, frame: Buffer): void;
  /** Close a connection once what was sent before has been written. */
  close(conn: number): void;
  /** Append a txn (TxnHeader + record) to the log; `txn` is only valid during the call. */
  appendLog(zxid: number, txn: Buffer): void;
  /** A follower's or observer's messages to its leader (required for those roles). */
  learner?: LearnerOutputs;
  /** A leader's messages to its learners (required for that role). */
  leader?: LeaderOutputs;
}

/**
 * standalone: this server decides alone; leader: it prepares every write of the ensemble and
 * commits on a quorum of acks (engine/core/leader.ts); follower/observer: a leader prepares
 * every write (engine/core/learner.ts); read-only: an ensemble server without a quorum serving
 * read-only clients, its own sessions only (engine/core/read-only.ts).
 */
export type PipelineRole = 'standalone' | 'leader' | 'follower' | 'observer' | 'read-only';

export interface PipelineOptions {
  tickMs: number;
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  serverId: number;
  superDigest: string | null;
  /** zookeeper.X509AuthenticationProvider.superUser: a client whose x509 id is this is also super. */
  x509SuperUser?: string | null;
  /** zookeeper.extendedTypesEnabled: TTL nodes. */
  extendedTypesEnabled: boolean;
  /** jute.maxbuffer: the largest reply frame a client accepts. */
  maxReplyBytes: number;
  /**
   * The largest txn (TxnHeader + record) a write may log: jute.maxbuffer +
   * zookeeper.jute.maxbuffer.extrasize, the most ZooKeeper reads back from a log. A larger
   * one is refused (MARSHALLINGERROR) before anything is applied or logged.
   */
  txnBytesMax: number;
  /** zookeeper.enforceQuota: hard limits fail creates and setDatas with QUOTAEXCEEDED. */
  enforceQuota: boolean;
  /** Container and TTL node cleanup (ContainerManager). */
  containerCheckIntervalMs: number;
  containerMaxPerMinute: number;
  containerMaxNeverUsedIntervalMs: number;
  /** Monotonic milliseconds (session deadlines). */
  nowMs: () => number;
  /** Wall-clock milliseconds (ctime, mtime, txn time). */
  wallMs: () => number;
  /**
   * `limit`: a warning a client can repeat (its kind, and the connection that caused it):
   * the shell rate-limits those (engine/logger.ts limitedWarnings).
   */
  log?: (level: 'info' | 'warn', msg: string, limit?: RepeatedWarning) => void;
  /** SASL authentication and the sasl ACL scheme; absent: neither. */
  sasl?: SaslOptions;
  /** Default standalone. */
  role?: PipelineRole;
  /** A leader's voting members' server ids, itself included (its commit stage's voters). */
  voters?: readonly number[];
  /** zookeeper.connection_throttle_* (engine/core/connection-throttle.ts); absent: none. */
  connectionThrottle?: ConnectionThrottle;
  /** localSessionsEnabled: in an ensemble a new session is local to its server (engine/core/local-sessions.ts). */
  localSessionsEnabled?: boolean;
  /** localSessionsUpgradingEnabled: a local session's first ephemeral create makes it global. */
  localSessionsUpgradingEnabled?: boolean;
  /** reconfigEnabled, standaloneEnabled (engine/core/reconfig.ts); skipACL=yes: no ACL is checked. */
  reconfigEnabled?: boolean;
  standaloneEnabled?: boolean;
  skipAcl?: boolean;
}

/** A warning a client can cause over and over: `kind` names it, `conn` is the connection key. */
export interface RepeatedWarning {
  kind: string;
  conn: number;
}

export type { SaslOptions } from './auth.ts';

export interface Conn extends AuthHolder {
  session: Session | null;
  /** Came in on secureClientPort (TLS). */
  secure: boolean;
  established: number;
  packetsReceived: number;
  packetsSent: number;
  lastOp: string;
  lastLatencyMs: number;
  minLatencyMs: number;
  maxLatencyMs: number;
  totalLatencyMs: number;
  latencyCount: number;
  /** Monotonic ms when the last output was sent (cons lresp=), and the zxid it carried (lzxid=; -1 before any). */
  lastResponseMs: number;
  lastZxid: number;
  /** Outputs of this connection waiting in the held FIFO. */
  heldCount: number;
}


export interface PipelineCounters {
  packetsReceived: number;
  packetsSent: number;
  minLatencyMs: number;
  maxLatencyMs: number;
  totalLatencyMs: number;
  latencyCount: number;
  connectionsRejected: number;
  /** ConnectRequests the connection throttle refused (mntr's connection_rejected, with the io workers' refusals). */
  connectionsThrottled: number;
  /** The throttle's token deficit after each ConnectRequest it let through (mntr's connection_token_deficit). */
  connectionTokenDeficit: Summary;
  /** Frame bytes received, length prefixes included (zk_bytes_received_count; the 4lw code counts 4). */
  bytesReceived: number;
  /** ConnectRequests read (zk_connection_request_count). */
  connectionRequests: number;
  /** Frames sent to clients without their length prefix: last/min/max (-1 before any) and total (zk_response_bytes). */
  responseBytesLast: number;
  responseBytesMin: number;
  responseBytesMax: number;
  responseBytesTotal: number;
  /** Failed authentication attempts (zk_auth_failed_count). */
  authFailed: number;
  /** Sessions closed by expiry (zk_stale_sessions_expired). */
  sessionsExpired: number;
  /** Stalls of the request throttler (zk_request_throttle_wait_count), counted by the worker shell. */
  requestThrottleWaitCount: number;
  /** Requests of closed (or too old) connections dropped by the throttler (zk_stale_requests_dropped). */
  staleRequestsDropped: number;
  /** Stale requests processed anyway, request_throttle_drop_stale=false (zk_stale_requests). */
  staleRequests: number;
  /** Requests answered THROTTLEDOP after waiting past throttled_op_wait_time (zk_throttled_ops). */
  throttledOps: number;
}

/** ZooKeeper's client response sizes count replies and watch events (not the connect response); response_bytes replies only. */
export function noteResponseBytes(k: PipelineCounters, bytes: number, reply: boolean): void {
  k.responseBytesLast = bytes;
  if (k.responseBytesMin === -1 || bytes < k.responseBytesMin) k.responseBytesMin = bytes;
  if (bytes > k.responseBytesMax) k.responseBytesMax = bytes;
  if (reply) k.responseBytesTotal += bytes;
}

/** A reply left after `ms` (whole ms, as ZooKeeper measures latency: the difference of two ms clock readings). */
export function noteLatency(k: PipelineCounters, c: Conn | undefined, ms: number, nowMs: number, zxid: number): void {
  if (ms < k.minLatencyMs) k.minLatencyMs = ms;
  if (ms > k.maxLatencyMs) k.maxLatencyMs = ms;
  k.totalLatencyMs += ms;
  k.latencyCount++;
  if (c === undefined) return;
  c.lastLatencyMs = ms;
  if (ms < c.minLatencyMs) c.minLatencyMs = ms;
  if (ms > c.maxLatencyMs) c.maxLatencyMs = ms;
  c.totalLatencyMs += ms;
  c.latencyCount++;
  c.lastResponseMs = nowMs;
  c.lastZxid = zxid;
}
