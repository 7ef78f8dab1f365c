// The pipeline: ZooKeeper's processor chain as a synchronous state machine. It is fed
// connection events and request frames, and produces log appends, reply frames and
// watch events. No I/O and no clock of its own: the worker shell passes time in and
// moves the outputs to rings.
//
// Ordering and durability: a write is applied to the tree as soon as it is prepared
// (so the next request sees it), and its txn goes to the log in the same step. Every
// output (reply, watch event, connection close) is tagged with the zxid of the state it
// reveals — for a reply that is the tree's lastZxid when it was produced — and leaves
// only once that zxid is committed (engine/core/commit.ts: standalone, the log worker
// reports it durable). Tags never decrease, so the held outputs form one FIFO released
// from the front: FIFO per session holds, and nothing uncommitted is ever observed by a
// client. Stages, each in its own module: prep (engine/core/handlers, one per opcode,
// described in engine/core/opcodes.ts) → log (logTxn) → apply (engine/core/txn.ts mutate,
// engine/core/tree.ts) → commit (engine/core/commit.ts) → reply and watch events.
import { JuteReader, JuteWriter, JuteError } from '../../native-free-io/jute.ts';
import {
  type Acl, type Id, type Stat, type TxnHeader, Op, Err, Perm, KeeperError,
  readConnectRequest, writeConnectResponse, beginReply, writeWatchEvent, parentOf, TxnTooLargeError,
} from '../protocol.ts';
import { DataTree, ZNode, newStat, QUOTA_ROOT, QUOTA_LIMITS, QUOTA_STATS, parseStatsTrack } from './tree.ts';
import { SessionTable, type Session } from './sessions.ts';
import { checkAcl, allowed, fixupAcl, generateDigest } from './acl.ts';
import { closeSessionOrder } from './javaorder.ts';
import { DigestMd5Server } from '../security/sasl.ts';
import { type Txn, encodeTxn, decodeTxn, mutate, triggerWatches, txnBodyBytes } from './txn.ts';
import { TXN_HEADER_BYTES } from '../persistence/txnlog-format.ts';
import { AUTH_IDS_PER_CONN_MAX, AUTH_ID_BYTES_PER_CONN_MAX } from '../limits.ts';
import { OPCODES, lastOperationOf } from './opcodes.ts';
import { CommitStage, type HeldOutput } from './commit.ts';

export interface PipelineOutputs {
  /** Send a frame on a connection; `frame` is only valid during the call. */
  send(conn: number, frame: Buffer): void;
  /** Close a connection once what was sent before has been written. */
  close(conn: number): void;
  /** Append a txn (TxnHeader + record) to the log; `txn` is only valid during the call. */
  appendLog(zxid: number, txn: Buffer): void;
}

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
}

/** A warning a client can cause over and over: `kind` names it, `conn` is the connection key. */
export interface RepeatedWarning {
  kind: string;
  conn: number;
}

export interface SaslOptions {
  /** DIGEST-MD5 users (JAAS Server section); null without a JAAS file: sasl requests get an empty answer. */
  users: ReadonlyMap<string, string> | null;
  /** authProvider.N = SASLAuthenticationProvider: sasl ids in ACLs. */
  aclScheme: boolean;
  /** zookeeper.superUser: this SASL user also gets the super id. */
  superUser: string | null;
  /** zookeeper.allowSaslFailedClients: a failed exchange is answered without closing the connection. */
  allowFailedClients: boolean;
  /** zookeeper.sessionRequireClientSASLAuth: other requests before a SASL login close the connection. */
  requireClientAuth: boolean;
  /** Random bytes for DIGEST-MD5 nonces (crypto.randomBytes; seeded in tests). */
  randomBytes: (count: number) => Buffer;
}

export interface Conn {
  key: number;
  addr: string;
  port: number;
  session: Session | null;
  authIds: Id[];
  /** The connection's DIGEST-MD5 exchange, from its first sasl request. */
  saslServer: DigestMd5Server | null;
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

export class Pipeline {
  readonly tree = new DataTree();
  readonly sessions: SessionTable;
  readonly conns = new Map<number, Conn>();
  readonly counters: PipelineCounters = { packetsReceived: 0, packetsSent: 0, minLatencyMs: Infinity, maxLatencyMs: 0, totalLatencyMs: 0, latencyCount: 0, connectionsRejected: 0,
    bytesReceived: 0, connectionRequests: 0, responseBytesLast: -1, responseBytesMin: -1, responseBytesMax: -1, responseBytesTotal: 0, authFailed: 0, sessionsExpired: 0,
    requestThrottleWaitCount: 0, staleRequestsDropped: 0, staleRequests: 0, throttledOps: 0 };
  /**
   * The commit stage: outputs held until the state they reveal is committed. Standalone,
   * this server is the one voter and the log worker's durable zxid its only ack.
   */
  readonly commit: CommitStage;
  /** Set while the log does not take writes (abandonUndurable .. logAvailable). */
  logUnavailable = false;
  private readonly opts: PipelineOptions;
  private readonly out: PipelineOutputs;
  private readonly w = new JuteWriter(1 << 20);
  private readonly txnW = new JuteWriter(1 << 20);
  private readonly r = new JuteReader(Buffer.alloc(0));
  private readonly stat = newStat();
  private nextContainerCheckMs = 0;
  private nextContainerDeleteMs = 0;
  /** Time the request being handled arrived at the pipeline. */
  private requestStartMs = 0;
  /**
   * While a TAGGED_READS request is handled: the newest zxid of the state it has looked at
   * (lookup() raises it), so its reply can leave before unrelated writes are durable; -1
   * otherwise (every other output is tagged with the tree's newest zxid).
   */
  private readTag = -1;
  /** The sasl ACL scheme is known (SASLAuthenticationProvider configured). */
  readonly saslScheme: boolean;

  constructor(opts: PipelineOptions, out: PipelineOutputs) {
    this.opts = opts;
    this.out = out;
    this.saslScheme = opts.sasl?.aclScheme === true;
    this.commit = new CommitStage([opts.serverId]);
    this.sessions = new SessionTable(opts.tickMs, opts.serverId, opts.wallMs());
    this.tree.quotaWarning = (msg) => this.log('warn', msg);
    this.tree.setWatchSink((watcher, type, path, zxid, acl) => {
      // an event reaches only a watcher that may READ the node it is about (ZooKeeper 3.8.4's
      // ServerCnxn.process, the CVE-2024-23944 family): the watch is used up, the event dropped
      if (acl !== null) {
        const c = this.conns.get(watcher);
        if (c === undefined || !this.allowed(acl, Perm.READ, c)) return;
      }
      writeWatchEvent(this.w.reset(), type, path);
      this.noteResponseBytes(this.w.offset - 4, false);
      this.emit(watcher, zxid);
    });
  }

  // ---------------------------------------------------------------- inputs

  /** Startup replay of one logged txn (TxnHeader + record). Txns are idempotent. */
  replay(bytes: Buffer): void {
    const { hdr, txn } = decodeTxn(bytes);
    if (hdr.zxid <= this.tree.lastZxid) return;
    this.replayTxn(hdr, txn);
    if (txn.type === Op.createSession) this.sessions.add(hdr.sessionId, txn.timeoutMs, this.opts.nowMs());
    else if (txn.type === Op.closeSession) this.sessions.remove(hdr.sessionId);
    this.tree.lastZxid = hdr.zxid;
  }

  /**
   * Applies one txn during replay as ZooKeeper's DataTree.processTxn does after a fuzzy
   * snapshot: each op of a multi on its own, an op that fails (NONODE, NODEEXISTS: the
   * snapshot already holds its effect) skipped, and a create that finds its node gives the
   * parent the txn's cversion and pzxid (setCversionPzxid, for ZooKeeper's snapshots).
   */
  private replayTxn(hdr: TxnHeader, txn: Txn): void {
    if (txn.type === Op.multi) {
      // a failed multi is logged as error txns only: nothing to apply
      if (txn.txns.some((sub) => sub.type === Op.error)) return;
      for (const sub of txn.txns) this.replayTxn(hdr, sub);
      return;
    }
    if (txn.type === Op.closeSession) {
      // ephemerals the snapshot missed (deleted before the walk reached them) still moved their parents' pzxid
      for (const path of txn.paths) if (this.tree.get(path) === undefined) this.replayPzxid(path, hdr.zxid);
    }
    try {
      mutate(this.tree, hdr, txn);
    } catch (e) {
      if (!(e instanceof KeeperError)) throw e;
      if ((txn.type === Op.delete || txn.type === Op.deleteContainer) && e.code === Err.NONODE) {
        // the node was deleted after the snapshot started, before the walk reached it; its
        // delete succeeded live and moved the parent's pzxid, which the snapshot may predate
        this.replayPzxid(txn.path, hdr.zxid);
        return;
      }
      if (txn.type !== Op.create || e.code !== Err.NODEEXISTS) return;
      const parent = this.tree.get(parentOf(txn.path));
      if (parent === undefined) return;
      const cversion = txn.parentCVersion === -1 ? parent.cversion + 1 : txn.parentCVersion;
      if (cversion > parent.cversion) {
        parent.cversion = cversion;
        parent.pzxid = hdr.zxid;
      }
    }
  }

  /** Replay of a delete whose node is already gone: the parent's pzxid as the delete left it. */
  private replayPzxid(path: string, zxid: number): void {
    const parent = this.tree.get(parentOf(path));
    if (parent !== undefined && zxid > parent.pzxid) parent.pzxid = zxid;
  }

  /**
   * The log failed (disk full, I/O error): what was applied and is not durable will never
   * be. Outputs waiting for it are dropped and every connection is closed at once, so no
   * client sees un-durable state and every request in flight ends in connection loss
   * (clients reconnect to their sessions). The caller then reloads the tree and sessions
   * from disk (recoverState), and writes are refused (NOTREADONLY), new sessions and
   * expiry held, until logAvailable().
   */
  abandonUndurable(): void {
    this.logUnavailable = true;
    this.commit.dropAll();
    for (const conn of this.conns.values()) {
      this.out.close(conn.key);
      this.tree.removeWatcher(conn.key);
      if (conn.session !== null && conn.session.conn === conn.key) conn.session.conn = -1;
    }
    this.conns.clear();
  }

  /** The log takes writes again: writes are accepted, session timeouts restart now. */
  logAvailable(): void {
    this.logUnavailable = false;
    const now = this.opts.nowMs();
    for (const s of this.sessions.sessions.values()) this.sessions.touch(s, now);
  }

  /** Startup: state recovered from disk is durable by definition. */
  recovered(): void {
    this.commit.committedAt(this.tree.lastZxid);
    const now = this.opts.nowMs();
    for (const s of this.sessions.sessions.values()) this.sessions.touch(s, now);
  }

  /** The newest committed zxid (standalone: durable in the local log). Outputs up to it have left. */
  get durableZxid(): number {
    return this.commit.committedZxid;
  }

  /** The log worker made everything up to zxid durable: this server's ack, which commits it standalone. */
  durable(zxid: number): void {
    this.commit.ack(this.opts.serverId, zxid, this.releaseOutput);
  }

  /** Sends (or closes) one output the commit stage released. */
  private readonly releaseOutput = (h: HeldOutput): void => {
    const c = this.conns.get(h.conn);
    if (c !== undefined) c.heldCount--;
    if (h.frame === null) this.out.close(h.conn);
    else {
      this.out.send(h.conn, h.frame);
      this.noteLatency(h.conn, h.startMs, this.opts.nowMs(), h.zxid);
    }
  };

  heldCount(): number {
    return this.commit.size;
  }

  /**
   * A new connection sent its ConnectRequest frame (without the length prefix). `tls`: it came in
   * on secureClientPort, with the RFC 2253 subject of the client certificate the io worker's TLS
   * handshake trusted, if any.
   */
  connect(key: number, addr: string, port: number, frame: Buffer, tls: { x509Id: string | null } | null = null): void {
    const now = this.opts.nowMs();
    this.requestStartMs = now;
    let conn = this.conns.get(key);
    if (conn === undefined) {
      conn = {
        key, addr, port, session: null, authIds: [{ scheme: 'ip', id: addr }], saslServer: null, secure: tls !== null, established: this.opts.wallMs(),
        packetsReceived: 0, packetsSent: 0, lastOp: 'NA', lastLatencyMs: 0, minLatencyMs: Infinity, maxLatencyMs: 0, totalLatencyMs: 0, latencyCount: 0,
        lastResponseMs: 0, lastZxid: -1, heldCount: 0,
      };
      this.conns.set(key, conn);
      if (tls !== null && tls.x509Id !== null) this.addX509Auth(conn, tls.x509Id);
    }
    conn.packetsReceived++;
    this.counters.packetsReceived++;
    this.counters.bytesReceived += 4 + frame.length;
    let req;
    try {
      this.r.reset(frame, 0, frame.length);
      req = readConnectRequest(this.r);
    } catch (e) {
      this.reject(conn, `malformed ConnectRequest: ${(e as Error).message}`);
      return;
    }
    this.counters.connectionRequests++;
    if (req.lastZxidSeen > this.tree.lastZxid) {
      this.reject(conn, `refusing session request: client has seen zxid 0x${req.lastZxidSeen.toString(16)}, our last zxid is 0x${this.tree.lastZxid.toString(16)}; client must try another server`);
      return;
    }
    const timeoutMs = Math.min(Math.max(req.timeoutMs, this.opts.minSessionTimeoutMs), this.opts.maxSessionTimeoutMs);
    if (req.sessionId === 0n && this.logUnavailable) {
      this.reject(conn, 'the transaction log does not take writes: no new session until it does');
      return;
    }
    if (req.sessionId === 0n) {
      const id = this.sessions.newSessionId();
      const s = this.sessions.add(id, timeoutMs, now);
      this.bind(conn, s);
      const zxid = this.logTxn(id, 0, Op.createSession, { type: Op.createSession, timeoutMs });
      writeConnectResponse(this.w.reset(), timeoutMs, id, s.passwd, false);
      this.emit(key, zxid);
      return;
    }
    const s = this.sessions.get(req.sessionId);
    if (s === undefined || s.closing || !s.passwd.equals(req.passwd)) {
      // expired or unknown session, or a wrong password: ZooKeeper answers timeout 0, id 0
      this.log('info', `invalid session 0x${req.sessionId.toString(16)} for client ${addr}:${port}, probably expired`);
      writeConnectResponse(this.w.reset(), 0, 0n, Buffer.alloc(16), false);
      this.emit(key, this.tree.lastZxid);
      this.closeConn(conn);
      return;
    }
    if (s.conn !== -1 && s.conn !== key) {
      const old = this.conns.get(s.conn);
      if (old !== undefined) this.closeConn(old);
    }
    s.timeoutMs = timeoutMs;
    this.bind(conn, s);
    this.sessions.touch(s, now);
    writeConnectResponse(this.w.reset(), timeoutMs, s.id, s.passwd, false);
    this.emit(key, this.tree.lastZxid);
  }

  /** The connection is gone (socket closed). Its session lives on until it expires. */
  disconnect(key: number): void {
    const conn = this.conns.get(key);
    if (conn === undefined) return;
    this.conns.delete(key);
    this.tree.removeWatcher(key);
    if (conn.session !== null && conn.session.conn === key) conn.session.conn = -1;
  }

  /** A request frame (RequestHeader + record, without the length prefix). */
  request(key: number, frame: Buffer): void {
    const conn = this.conns.get(key);
    if (conn === undefined || conn.session === null) return;
    this.requestStartMs = this.opts.nowMs();
    conn.packetsReceived++;
    this.counters.packetsReceived++;
    this.counters.bytesReceived += 4 + frame.length;
    const r = this.r;
    r.reset(frame, 0, frame.length);
    let xid = 0;
    let type = 0;
    try {
      xid = r.int();
      type = r.int();
    } catch {
      this.reject(conn, 'request shorter than its header');
      return;
    }
    const s = conn.session;
    conn.lastOp = lastOperationOf(type);
    if (s.closing || this.sessions.get(s.id) !== s) {
      this.replyError(key, xid, Err.SESSIONEXPIRED);
      return;
    }
    this.sessions.touch(s, this.requestStartMs);
    if (xid >= 0) s.lastCxid = xid;
    if (this.opts.sasl?.requireClientAuth === true && type !== Op.sasl && type !== Op.auth && !conn.authIds.some((i) => i.scheme === 'sasl')) {
      // AuthenticationHelper.enforceAuthentication: answer, then close the connection
      this.log('warn', `closing connection ${conn.addr}:${conn.port}: zookeeper.sessionRequireClientSASLAuth is set and session 0x${s.id.toString(16)} has not authenticated with SASL`);
      this.finish(key, beginReply(this.w.reset(), xid, 0, Err.SESSIONCLOSEDREQUIRESASLAUTH));
      this.dropConnection(conn);
      return;
    }
    const opcode = OPCODES.get(type);
    if (this.logUnavailable && opcode?.write === true) {
      // the log does not take writes (disk full): refuse them as a read-only server does
      this.replyError(key, xid, Err.NOTREADONLY);
      return;
    }
    this.readTag = opcode?.taggedRead === true ? 0 : -1;
    try {
      const handler = opcode?.handler;
      if (handler === undefined || handler === null) {
        this.log('warn', `unknown request type ${type} from session 0x${s.id.toString(16)}`, { kind: 'unknown request type', conn: key });
        this.replyError(key, xid, Err.UNIMPLEMENTED);
        return;
      }
      handler(this, conn, s, xid, r, type);
    } catch (e) {
      if (e instanceof KeeperError) this.replyError(key, xid, e.code);
      else if (e instanceof JuteError) this.malformed(conn, s, xid, type, opcode?.prepped === true, e);
      else throw e;
    } finally {
      this.readTag = -1;
    }
  }

  /**
   * A request whose record does not parse. As ZooKeeper: auth and sasl close the connection;
   * a write is a failed write (an error txn, MARSHALLINGERROR); anything else is answered
   * MARSHALLINGERROR. The connection stays open. Handlers read their whole record before
   * they change anything, so nothing was applied.
   */
  private malformed(conn: Conn, s: Session, xid: number, type: number, prepped: boolean, e: JuteError): void {
    if (type === Op.auth || type === Op.sasl) {
      this.reject(conn, `malformed request (type ${type}): ${e.message}`);
      return;
    }
    this.log('warn', `malformed request (type ${type}) from session 0x${s.id.toString(16)}: ${e.message}; answering MARSHALLINGERROR`, { kind: 'malformed request', conn: conn.key });
    if (prepped) this.failWrite(conn.key, s, xid, Err.MARSHALLINGERROR);
    else this.replyError(conn.key, xid, Err.MARSHALLINGERROR);
  }

  /** A write whose txn would be over txnBytesMax: answered MARSHALLINGERROR, nothing applied or logged. */
  refuseTooLarge(conn: Conn, xid: number, e: TxnTooLargeError): void {
    this.log('warn', `refusing request of session 0x${conn.session?.id.toString(16)} from ${conn.addr}:${conn.port}: ${e.message}`, { kind: 'txn too large', conn: conn.key });
    this.replyError(conn.key, xid, Err.MARSHALLINGERROR);
  }

  /**
   * A request that waited longer than zookeeper.throttled_op_wait_time before the pipeline
   * took it: ZooKeeper marks it throttled, skips its processing and answers THROTTLEDOP
   * (FinalRequestProcessor). The session is touched as for any request.
   */
  requestThrottled(key: number, frame: Buffer): void {
    const conn = this.conns.get(key);
    if (conn === undefined || conn.session === null || frame.length < 8) {
      this.request(key, frame); // request() has the answers for these cases
      return;
    }
    this.requestStartMs = this.opts.nowMs();
    conn.packetsReceived++;
    this.counters.packetsReceived++;
    this.counters.bytesReceived += 4 + frame.length;
    this.counters.throttledOps++;
    const xid = frame.readInt32BE(0);
    conn.lastOp = 'NA';
    const s = conn.session;
    if (!s.closing && this.sessions.get(s.id) === s) this.sessions.touch(s, this.requestStartMs);
    this.replyError(key, xid, Err.THROTTLEDOP);
  }

  /** The session timeout of the connection's session (ms), or -1 when it has none. */
  sessionTimeoutMsOf(key: number): number {
    return this.conns.get(key)?.session?.timeoutMs ?? -1;
  }

  /** Expire sessions whose deadline passed. Returns ms until the next check is due. */
  tick(): number {
    const now = this.opts.nowMs();
    // without a writable log nothing expires (a closeSession is a txn): timeouts restart when it is back
    if (this.logUnavailable) return this.opts.tickMs;
    for (const s of this.sessions.expired(now)) {
      this.log('info', `expiring session 0x${s.id.toString(16)}, timeout of ${s.timeoutMs}ms exceeded`);
      this.counters.sessionsExpired++;
      this.closeSession(s, 0);
    }
    if (now >= this.nextContainerCheckMs) {
      this.nextContainerCheckMs = now + this.opts.containerCheckIntervalMs;
      this.checkContainers(now);
    }
    return Math.min(this.sessions.msUntilNextExpiry(now), Math.max(0, this.nextContainerCheckMs - now));
  }

  /**
   * ContainerManager: empty containers that once had children (or, when configured, were
   * never used for long enough) and childless TTL nodes unchanged for their TTL are
   * deleted through deleteContainer txns, at most maxPerMinute of them a minute.
   */
  private checkContainers(nowMs: number): void {
    const wall = this.opts.wallMs();
    const tree = this.tree;
    const intervalMs = 60_000 / this.opts.containerMaxPerMinute;
    const candidates: string[] = [];
    for (const path of tree.containers) {
      const n = tree.get(path);
      if (n === undefined || n.numChildren() > 0) continue;
      const neverUsedMax = this.opts.containerMaxNeverUsedIntervalMs;
      if (n.cversion > 0 || (neverUsedMax !== 0 && wall - n.mtime > neverUsedMax)) candidates.push(path);
    }
    for (const path of tree.ttls) {
      const n = tree.get(path);
      if (n === undefined || n.numChildren() > 0) continue;
      const ttlMs = Number(BigInt.asUintN(40, n.ephemeralOwner));
      if (ttlMs !== 0 && wall - n.mtime > ttlMs) candidates.push(path);
    }
    for (const path of candidates) {
      if (nowMs < this.nextContainerDeleteMs) break;
      this.nextContainerDeleteMs = nowMs + intervalMs;
      this.log('info', `deleting container or expired TTL node ${path}`);
      this.logTxn(0n, 0, Op.deleteContainer, { type: Op.deleteContainer, path });
    }
  }

  // ---------------------------------------------------------------- outputs

  /** Sends what is in this.w to conn once zxid is durable. */
  emit(conn: number, zxid: number): void {
    const c = this.conns.get(conn);
    if (c !== undefined) c.packetsSent++;
    this.counters.packetsSent++;
    if (this.readTag >= 0 && c !== undefined && c.heldCount === 0 && this.readTag <= this.durableZxid) {
      // A read whose state is durable, on a connection with nothing waiting before it: it
      // leaves now, whatever other sessions have in flight. Its header names the newest
      // durable zxid (as ZooKeeper's names the last one applied, which is durable there):
      // never an un-durable txn, never behind what this client was shown before.
      const headerZxid = this.durableZxid;
      const buf = this.w.buf;
      buf.writeUInt32BE(Math.floor(headerZxid / 0x1_0000_0000), READ_REPLY_ZXID_AT);
      buf.writeUInt32BE(headerZxid >>> 0, READ_REPLY_ZXID_AT + 4);
      this.out.send(conn, this.w.view());
      this.noteLatency(conn, this.requestStartMs, this.opts.nowMs(), headerZxid);
      return;
    }
    if (zxid <= this.durableZxid && this.commit.size === 0) {
      this.out.send(conn, this.w.view());
      this.noteLatency(conn, this.requestStartMs, this.opts.nowMs(), zxid);
      return;
    }
    this.commit.hold({ zxid, conn, frame: this.w.copy(), startMs: this.requestStartMs });
    if (c !== undefined) c.heldCount++;
  }

  /** ZooKeeper's client response sizes count replies and watch events (not the connect response); response_bytes replies only. */
  private noteResponseBytes(bytes: number, reply: boolean): void {
    const k = this.counters;
    k.responseBytesLast = bytes;
    if (k.responseBytesMin === -1 || bytes < k.responseBytesMin) k.responseBytesMin = bytes;
    if (bytes > k.responseBytesMax) k.responseBytesMax = bytes;
    if (reply) k.responseBytesTotal += bytes;
  }

  /** Whole ms, as ZooKeeper measures latency: the difference of two ms clock readings. */
  private noteLatency(conn: number, startMs: number, nowMs: number, zxid: number): void {
    const ms = Math.floor(nowMs) - Math.floor(startMs);
    const k = this.counters;
    if (ms < k.minLatencyMs) k.minLatencyMs = ms;
    if (ms > k.maxLatencyMs) k.maxLatencyMs = ms;
    k.totalLatencyMs += ms;
    k.latencyCount++;
    const c = this.conns.get(conn);
    if (c === undefined) return;
    c.lastLatencyMs = ms;
    if (ms < c.minLatencyMs) c.minLatencyMs = ms;
    if (ms > c.maxLatencyMs) c.maxLatencyMs = ms;
    c.totalLatencyMs += ms;
    c.latencyCount++;
    c.lastResponseMs = nowMs;
    c.lastZxid = zxid;
  }

  /** Closes a connection after what was queued for it (its session lives on). */
  dropConnection(conn: Conn): void {
    this.closeConn(conn);
  }

  private closeConn(conn: Conn): void {
    this.commit.hold({ zxid: this.tree.lastZxid, conn: conn.key, frame: null, startMs: 0 });
    conn.heldCount++;
    this.commit.releaseCommitted(this.releaseOutput);
    if (conn.session !== null && conn.session.conn === conn.key) conn.session.conn = -1;
    conn.session = null;
  }

  private reject(conn: Conn, why: string): void {
    this.counters.connectionsRejected++;
    this.log('warn', `closing connection ${conn.addr}:${conn.port}: ${why}`, { kind: 'malformed request', conn: conn.key });
    this.closeConn(conn);
  }

  replyError(conn: number, xid: number, err: number, zxid = this.tree.lastZxid): void {
    const at = beginReply(this.w.reset(), xid, zxid, err);
    this.w.endFrame(at);
    this.noteResponseBytes(this.w.offset - 4, true);
    this.emit(conn, zxid);
  }

  /** Starts a reply in this.w; the handler writes the body and calls finish(). */
  beginOk(xid: number): number {
    return beginReply(this.w.reset(), xid, this.tree.lastZxid, Err.OK);
  }

  finish(conn: number, at: number, zxid = this.tree.lastZxid): void {
    this.w.endFrame(at);
    if (this.w.offset - at - 4 > this.opts.maxReplyBytes) {
      // a reply no client could read (e.g. getChildren of a huge node): fail this request
      // alone instead of sending a frame past jute.maxbuffer that would drop the connection
      const xid = this.w.buf.readInt32BE(at + 4);
      const zxidSent = this.w.buf.readInt32BE(at + 8) * 0x1_0000_0000 + this.w.buf.readUInt32BE(at + 12);
      this.log('warn', `reply of ${this.w.offset - at - 4} bytes to xid ${xid} exceeds jute.maxbuffer (${this.opts.maxReplyBytes}); answering MARSHALLINGERROR`);
      this.w.offset = at;
      this.w.endFrame(beginReply(this.w.reset(), xid, zxidSent, Err.MARSHALLINGERROR));
    }
    this.noteResponseBytes(this.w.offset - 4, true);
    this.emit(conn, zxid);
  }

  get writer(): JuteWriter {
    return this.w;
  }

  get maxReplyBytes(): number {
    return this.opts.maxReplyBytes;
  }

  get txnBytesMax(): number {
    return this.opts.txnBytesMax;
  }

  wallMs(): number {
    return this.opts.wallMs();
  }

  get extendedTypesEnabled(): boolean {
    return this.opts.extendedTypesEnabled;
  }

  /**
   * ZooKeeperServer.checkQuota: with enforceQuota, a change that takes the quota'd
   * subtree past a hard limit (or past the soft one when no hard one is set) fails.
   */
  checkQuota(path: string, bytesDiff: number, countDiff: number): void {
    if (!this.opts.enforceQuota) return;
    const tree = this.tree;
    const prefix = tree.quotaPrefixOf(path);
    if (prefix === null) return;
    const limitsNode = tree.get(`${QUOTA_ROOT}${prefix}/${QUOTA_LIMITS}`);
    const statsNode = tree.get(`${QUOTA_ROOT}${prefix}/${QUOTA_STATS}`);
    if (limitsNode === undefined || statsNode === undefined) return;
    const limits = parseStatsTrack(limitsNode.data);
    const stats = parseStatsTrack(statsNode.data);
    const exceeds = (diff: number, current: string, soft: string, hard: string) => {
      if (diff === 0) return false;
      const hardLimit = limits.get(hard) ?? -1;
      const softLimit = limits.get(soft) ?? -1;
      if (hardLimit <= -1 && softLimit <= -1) return false;
      const next = (stats.get(current) ?? 0) + diff;
      const limit = hardLimit > -1 ? hardLimit : softLimit;
      if (next <= limit) return false;
      this.log('warn', `Quota exceeded: ${prefix} [current ${current}=${next}, ${hardLimit > -1 ? 'hard' : 'soft'}${current === 'count' ? 'Count' : 'Byte'}Limit=${limit}]`);
      return hardLimit > -1;
    };
    if (exceeds(countDiff, 'count', 'count', 'countHardLimit') || exceeds(bytesDiff, 'bytes', 'bytes', 'byteHardLimit')) {
      throw new KeeperError(Err.QUOTAEXCEEDED);
    }
  }

  log(level: 'info' | 'warn', msg: string, limit?: RepeatedWarning): void {
    this.opts.log?.(level, msg, limit);
  }

  private bind(conn: Conn, s: Session): void {
    conn.session = s;
    s.conn = conn.key;
  }

  // ---------------------------------------------------------------- txns

  /** Assigns the next zxid, appends the txn to the log, applies it. Returns the zxid. */
  logTxn(sessionId: bigint, cxid: number, type: number, txn: Txn, timeMs = this.opts.wallMs()): number {
    const zxid = this.tree.lastZxid + 1;
    const hdr: TxnHeader = { sessionId, cxid, zxid, timeMs, type };
    encodeTxn(this.txnW.reset(), hdr, txn);
    // callers bound what they build (fixupAcl, multi, closeSession); this is the last word
    if (this.txnW.offset > this.opts.txnBytesMax) throw new TxnTooLargeError(this.txnW.offset, this.opts.txnBytesMax);
    this.out.appendLog(zxid, this.txnW.view());
    this.applyLive(hdr, txn);
    this.tree.lastZxid = zxid;
    return zxid;
  }

  private applyLive(hdr: TxnHeader, txn: Txn): void {
    let deleted: string[] | null = null;
    if (txn.type === Op.closeSession) deleted = txn.paths;
    if (txn.type !== Op.multi) mutate(this.tree, hdr, txn);
    // a live multi was mutated op by op while it was prepared
    triggerWatches(this.tree, hdr, txn, deleted);
    if (txn.type === Op.createSession) this.sessions.add(hdr.sessionId, txn.timeoutMs, this.opts.nowMs());
    if (txn.type === Op.closeSession) {
      this.sessions.remove(hdr.sessionId);
      this.tree.ephemeralPeaks.delete(hdr.sessionId);
    }
  }

  /** Logs an error txn for a failed write (ZooKeeper spends a zxid on it) and replies. */
  failWrite(conn: number, s: Session, xid: number, err: number): void {
    const zxid = this.logTxn(s.id, xid, Op.error, { type: Op.error, err });
    this.replyError(conn, xid, err, zxid);
  }

  /** closeSession: by request (xid >= 0, replies) or by expiry (xid 0, no reply). */
  closeSession(s: Session, xid: number, replyTo = -1): void {
    s.closing = true;
    const set = this.tree.ephemerals.get(s.id);
    const paths = set === undefined ? [] : closeSessionOrder([...set], this.tree.ephemeralPeaks.get(s.id) ?? set.size);
    const txn: Txn = { type: Op.closeSession, paths, listed: true };
    // a session with more ephemeral path bytes than a log entry holds: logged without the list
    // (ZooKeeper's closeSessionTxn.enabled=false form), replay deletes what the tree holds
    if (TXN_HEADER_BYTES + txnBodyBytes(txn) > this.opts.txnBytesMax) txn.listed = false;
    const zxid = this.logTxn(s.id, xid, Op.closeSession, txn);
    if (replyTo !== -1) {
      const at = beginReply(this.w.reset(), xid, zxid, Err.OK);
      this.finish(replyTo, at, zxid);
    }
    const bound = this.conns.get(s.conn);
    if (bound !== undefined) this.closeConn(bound);
  }

  // ---------------------------------------------------------------- helpers for handlers

  node(path: string): ZNode {
    const n = this.lookup(path);
    if (n === undefined) throw new KeeperError(Err.NONODE);
    return n;
  }

  /** The node at path, or undefined; a TAGGED_READS request notes the state it saw. */
  lookup(path: string): ZNode | undefined {
    const n = this.tree.get(path);
    if (this.readTag >= 0) {
      const tag = revealedZxid(this.tree, path, n);
      if (tag > this.readTag) this.readTag = tag;
    }
    return n;
  }

  aclOf(n: ZNode): readonly Acl[] {
    return this.tree.acls.get(n.aclRef);
  }

  statOf(n: ZNode): Stat {
    return n.statInto(this.stat);
  }

  /** Auth ids for ACL checks: the connection's, plus super when its digest matches. */
  /** NOAUTH unless conn's ids may do perm on a node with these ACLs (the schemes this server knows). */
  checkAcl(acls: readonly Acl[], perm: number, conn: Conn): void {
    checkAcl(acls, perm, conn.authIds, this.saslScheme);
  }

  /** Whether conn's ids may do perm on a node with these ACLs. */
  allowed(acls: readonly Acl[], perm: number, conn: Conn): boolean {
    return allowed(acls, perm, conn.authIds, this.saslScheme);
  }

  /** An ACL as sent, validated, deduplicated and with "auth" expanded to conn's ids. */
  fixupAcl(acls: readonly Acl[], conn: Conn): Acl[] {
    return fixupAcl(acls, conn.authIds, this.saslScheme, this.opts.txnBytesMax);
  }

  /** X509AuthenticationProvider.handleAuthentication: the superUser's certificate is also super. */
  addX509Auth(conn: Conn, x509Id: string): void {
    if (this.opts.x509SuperUser != null && x509Id === this.opts.x509SuperUser) this.holdAuthId(conn, 'super', x509Id);
    this.holdAuthId(conn, 'x509', x509Id);
    this.log('info', `authenticated id '${x509Id}' for scheme 'x509' (${conn.addr}:${conn.port})`);
  }

  /**
   * AuthenticationProvider.handleAuthentication for addauth: digest (null auth data fails, as
   * ZooKeeper's provider throws on it) and ip (the connection's own address, which it holds
   * already). false: AUTHFAILED, and the caller closes the connection; so too past the
   * bounds on the ids one connection may hold (engine/limits.ts).
   */
  addAuth(conn: Conn, scheme: string, auth: Buffer | null): boolean {
    if (scheme === 'ip') return this.holdAuthId(conn, 'ip', conn.addr);
    if (scheme !== 'digest' || auth === null) return false;
    const digest = generateDigest(auth.toString('utf8'));
    if (this.opts.superDigest !== null && digest === this.opts.superDigest && !this.holdAuthId(conn, 'super', '')) return false;
    return this.holdAuthId(conn, 'digest', digest);
  }

  /** Adds an id to the connection's (once); false when that would pass AUTH_IDS_PER_CONN_MAX or AUTH_ID_BYTES_PER_CONN_MAX. */
  holdAuthId(conn: Conn, scheme: string, id: string): boolean {
    let bytes = 0;
    for (const held of conn.authIds) {
      if (held.scheme === scheme && held.id === id) return true;
      bytes += held.scheme.length + Buffer.byteLength(held.id, 'utf8');
    }
    bytes += scheme.length + Buffer.byteLength(id, 'utf8');
    if (conn.authIds.length >= AUTH_IDS_PER_CONN_MAX || bytes > AUTH_ID_BYTES_PER_CONN_MAX) {
      this.log('warn', `refusing auth id ${scheme} for ${conn.addr}:${conn.port}: a connection holds at most ${AUTH_IDS_PER_CONN_MAX} ids of ${AUTH_ID_BYTES_PER_CONN_MAX} bytes in all`, { kind: 'authentication failed', conn: conn.key });
      return false;
    }
    conn.authIds.push({ scheme, id });
    return true;
  }

  /** ZooKeeperServer.processSasl: one token of the connection's DIGEST-MD5 exchange. */
  saslStep(conn: Conn, xid: number, token: Buffer): void {
    const cfg = this.opts.sasl;
    if (cfg === undefined || cfg.users === null) {
      // no JAAS Server section: ZooKeeper has no SaslServer and answers OK with no token
      this.replySasl(conn, xid, Err.OK, null);
      return;
    }
    conn.saslServer ??= new DigestMd5Server(cfg.users, cfg.randomBytes);
    const step = conn.saslServer.evaluate(token);
    let held = true;
    if (step.kind === 'success') {
      this.log('info', `session 0x${conn.session?.id.toString(16)}: adding SASL authorization for authorizationID: ${step.authorizationId}`);
      held = this.holdAuthId(conn, 'sasl', step.authorizationId);
      if (held && cfg.superUser !== null && cfg.superUser === step.authorizationId) held = this.holdAuthId(conn, 'super', '');
    }
    if (step.kind !== 'failure' && held) {
      this.replySasl(conn, xid, Err.OK, step.token);
      return;
    }
    if (step.kind === 'failure') this.log('warn', `client ${conn.addr}:${conn.port} failed to SASL authenticate: ${step.reason}`, { kind: 'authentication failed', conn: conn.key });
    if (cfg.allowFailedClients && !cfg.requireClientAuth) {
      this.replySasl(conn, xid, Err.OK, null);
      return;
    }
    this.counters.authFailed++;
    this.replySasl(conn, xid, cfg.requireClientAuth ? Err.SESSIONCLOSEDREQUIRESASLAUTH : Err.AUTHFAILED, null);
    this.dropConnection(conn);
  }

  /** A SetSASLResponse: ZooKeeper's reply header carries zxid 0 for it. */
  private replySasl(conn: Conn, xid: number, err: number, token: Buffer | null): void {
    const at = beginReply(this.w.reset(), xid, 0, err);
    this.w.buffer(token);
    this.finish(conn.key, at, this.tree.lastZxid);
  }

  /** The user name whoAmI shows for an id (AuthUtil.getUser: "" when no provider knows the scheme). */
  userOf(id: Id): string {
    if (id.scheme === 'digest') return id.id.slice(0, id.id.indexOf(':'));
    if (id.scheme === 'ip' || id.scheme === 'x509' || (id.scheme === 'sasl' && this.saslScheme)) return id.id;
    return '';
  }
}

/** Where a reply frame (length prefix included) keeps its header's zxid: [len][xid][zxid][err]. */
const READ_REPLY_ZXID_AT = 8;

/**
 * The newest zxid whose txn a read of path can reveal. A node: its data and Stat (mzxid),
 * its child list, cversion and numChildren (pzxid moves with every child create and
 * delete), its ACL and aversion (setACL moves no Stat zxid: the tree's last ACL change).
 * No node: the pzxid of the nearest existing ancestor — whatever removed the path (or
 * an ancestor of it) was a delete under that ancestor, and a child is deleted before its
 * parent. Under /zookeeper (quota stats change in place, without a zxid): the newest.
 */
function revealedZxid(tree: DataTree, path: string, n: ZNode | undefined): number {
  if (path === '/zookeeper' || path.startsWith('/zookeeper/')) return tree.lastZxid;
  if (n !== undefined) return Math.max(n.mzxid, n.pzxid, tree.lastAclZxid);
  let at = path;
  while (at !== '/' && at.length > 0) {
    const slash = at.lastIndexOf('/');
    at = slash <= 0 ? '/' : at.slice(0, slash);
    const ancestor = tree.get(at);
    if (ancestor !== undefined) return ancestor.pzxid;
  }
  return tree.lastZxid;
}
