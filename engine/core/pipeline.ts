// The pipeline: ZooKeeper's processor chain as a synchronous state machine, fed connection events and request
// frames, producing log appends, reply frames and watch events; no I/O or clock of its own (the shell moves them).
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
// engine/core/tree.ts) → commit (engine/core/commit.ts) → reply and watch events. Who gets a
// session: engine/core/admission.ts; what an ensemble's quorum worker feeds in (the leader's
// stream, the learners' requests): engine/core/ensemble-inputs.ts.
import { hex64, summaryAdd } from '../ops/java.ts';
import { JuteReader, JuteWriter, JuteError } from '../../native-free-io/jute.ts';
import { type Acl, type Id, type Stat, type TxnHeader, Op, Err, Perm, KeeperError, readConnectRequest, beginReply, writeWatchEvent, TxnTooLargeError } from '../protocol.ts';
import { DataTree, ZNode, newStat, exceedsHardQuota, revealedZxid } from './tree.ts';
import { SessionTable, type Session } from './sessions.ts';
import { checkAcl, allowed, fixupAcl } from './acl.ts';
import { Authenticator } from './auth.ts';
import { type PipelineOutputs, type PipelineOptions, type PipelineRole, type RepeatedWarning, type Conn, type PipelineCounters, noteLatency, noteResponseBytes } from './types.ts';
import { closeSessionOrder } from './javaorder.ts';
import { type Txn, encodeTxn, decodeTxn, mutate, triggerWatches, txnBodyBytes } from './txn.ts';
import { TXN_HEADER_BYTES } from '../persistence/txnlog-format.ts';
import { OPCODES, lastOperationOf } from './opcodes.ts';
import { CommitStage, type HeldOutput } from './commit.ts';
import { replayTxn, replaySetDataInPlace } from './replay.ts';
import { ContainerSweeper } from './containers.ts';
import { ReconfigState } from './reconfig.ts';
import { Learner } from './learner.ts';
import { createsEphemeral } from './local-sessions.ts';
import { LeaderRole, REMOTE_CONN } from './leader.ts';
import { refusedWhileReadOnly } from './read-only.ts';
import { SessionAdmission } from './admission.ts';
import { EnsembleInputs } from './ensemble-inputs.ts';

export type { PipelineOutputs, PipelineRole, PipelineOptions, RepeatedWarning, Conn, PipelineCounters } from './types.ts';
export type { SaslOptions } from './auth.ts';

export class Pipeline {
  readonly tree: DataTree;
  readonly sessions: SessionTable;
  readonly conns = new Map<number, Conn>();
  readonly counters: PipelineCounters = { packetsReceived: 0, packetsSent: 0, minLatencyMs: Infinity, maxLatencyMs: 0, totalLatencyMs: 0, latencyCount: 0, connectionsRejected: 0, connectionsThrottled: 0, connectionTokenDeficit: { count: 0, sum: 0, min: 0, max: 0 },
    bytesReceived: 0, connectionRequests: 0, responseBytesLast: -1, responseBytesMin: -1, responseBytesMax: -1, responseBytesTotal: 0, authFailed: 0, sessionsExpired: 0,
    requestThrottleWaitCount: 0, staleRequestsDropped: 0, staleRequests: 0, throttledOps: 0 };
  /**
   * The commit stage: outputs held until the state they reveal is committed. Standalone,
   * this server is the one voter and the log worker's durable zxid its only ack.
   */
  commit: CommitStage;
  /** Set while the log does not take writes (abandonUndurable .. logAvailable). */
  logUnavailable = false;
  private readonly opts: PipelineOptions;
  private readonly out: PipelineOutputs;
  private readonly w = new JuteWriter(1 << 20);
  private readonly txnW = new JuteWriter(1 << 20);
  private readonly r = new JuteReader(Buffer.alloc(0));
  private readonly stat = newStat();
  private readonly containers: ContainerSweeper;
  /** Time the request being handled arrived at the pipeline. */
  private requestStartMs = 0;
  /**
   * While a TAGGED_READS request is handled: the newest zxid of the state it has looked at
   * (lookup() raises it), so its reply can leave before unrelated writes are durable; -1
   * otherwise (every other output is tagged with the tree's newest zxid).
   */
  private readTag = -1;
  /** The ids connections hold: addauth, SASL, client certificates. */
  readonly auth: Authenticator;
  /** A follower's or observer's state; null otherwise. */
  learner: Learner | null = null;
  /** A leader's state; null otherwise. */
  leader: LeaderRole | null = null;
  /** The role this pipeline plays now (assumeRole changes it in an ensemble). */
  private roleNow: PipelineRole = 'standalone';
  /** Who gets a session, and the sessions kept off the log (local, read-only). */
  readonly admission: SessionAdmission;
  /** The ensemble's config as the reconfig opcode sees it. */
  readonly reconfig: ReconfigState;
  /** What the quorum worker feeds an ensemble server: the leader's stream, the learners' requests. */
  private readonly ensemble: EnsembleInputs;

  constructor(opts: PipelineOptions, out: PipelineOutputs) {
    this.opts = opts;
    this.out = out;
    this.tree = new DataTree({ extendedTypesEnabled: opts.extendedTypesEnabled });
    this.auth = new Authenticator(
      { superDigest: opts.superDigest, x509SuperUser: opts.x509SuperUser ?? null, sasl: opts.sasl },
      (level, msg, conn) => this.log(level, msg, level === 'warn' ? { kind: 'authentication failed', conn } : undefined),
    );
    this.commit = new CommitStage([opts.serverId]);
    this.admission = new SessionAdmission(this, opts);
    this.ensemble = new EnsembleInputs(this, opts, this.admission, {
      appendLog: (zxid, txn) => this.out.appendLog(zxid, txn),
      startRequest: (startMs) => {
        this.requestStartMs = startMs;
      },
      serve: (conn, s, frame) => this.serve(conn, s, frame),
      dispatchRecord: (conn, s, cxid, type, record) => {
        this.r.reset(record, 0, record.length);
        this.dispatch(conn, s, cxid, type);
      },
    });
    this.reconfig = new ReconfigState(opts.reconfigEnabled ?? false, opts.standaloneEnabled ?? true, opts.serverId);
    this.setRole(opts.role ?? 'standalone', opts.voters);
    this.containers = new ContainerSweeper({
      checkIntervalMs: opts.containerCheckIntervalMs, maxPerMinute: opts.containerMaxPerMinute, maxNeverUsedIntervalMs: opts.containerMaxNeverUsedIntervalMs,
    });
    this.sessions = new SessionTable(opts.tickMs, opts.serverId, opts.wallMs(), opts.extendedTypesEnabled);
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
    if (replaySetDataInPlace(this.tree, bytes)) return;
    const { hdr, txn } = decodeTxn(bytes);
    if (hdr.zxid <= this.tree.lastZxid) return;
    replayTxn(this.tree, hdr, txn);
    if (txn.type === Op.createSession) this.sessions.add(hdr.sessionId, txn.timeoutMs, this.opts.nowMs());
    else if (txn.type === Op.closeSession) this.sessions.remove(hdr.sessionId);
    this.tree.lastZxid = hdr.zxid;
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
    this.closeAllAtOnce();
  }

  /** Every connection closed now, its watches gone; sessions live on. */
  private closeAllAtOnce(): void {
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
    this.learner?.startAt(this.tree.lastZxid);
    const now = this.opts.nowMs();
    for (const s of this.sessions.sessions.values()) this.sessions.touch(s, now);
  }

  /** The role this pipeline plays: standalone, or its part in an ensemble. */
  get role(): PipelineRole {
    return this.roleNow;
  }

  /**
   * An ensemble server takes a role (the quorum worker decided it): the commit stage gets
   * the role's voters, a learner's stream starts after the tree's last zxid, and every
   * session's timeout restarts now. Only between roles: no connection, nothing held.
   */
  assumeRole(role: PipelineRole, voters?: readonly number[]): void {
    if (this.conns.size !== 0 || this.commit.size !== 0) throw new Error(`pipeline: ${role} assumed with ${this.conns.size} connections and ${this.commit.size} outputs held`);
    this.setRole(role, voters);
    this.recovered();
  }

  /**
   * A leader's new epoch is established: its txns are numbered after zxid (the epoch's
   * zxid 0), and everything before it is committed (Zab's NEWLEADER quorum).
   */
  beginEpoch(zxid: number): void {
    if (this.leader === null || zxid <= this.tree.lastZxid) throw new Error(`pipeline: epoch start 0x${zxid.toString(16)} (role ${this.roleNow}, last zxid 0x${this.tree.lastZxid.toString(16)})`);
    this.tree.lastZxid = zxid;
    this.commit.committedAt(zxid);
  }

  /**
   * The server leaves its ensemble role (election, a failed sync, a leader that lost its
   * quorum): every connection is closed at once and every held output dropped, so nothing
   * uncommitted is seen; the caller reloads the tree and sessions from disk before the next
   * role. Until then the pipeline is a placeholder standalone one that must not serve.
   */
  leaveRole(): void {
    this.commit.dropAll();
    this.closeAllAtOnce();
    this.admission.endReadOnly();
    this.setRole('standalone');
  }

  private setRole(role: PipelineRole, voters?: readonly number[]): void {
    const out = this.out;
    if ((role === 'follower' || role === 'observer') && out.learner === undefined) throw new Error(`pipeline: a ${role} needs learner outputs`);
    if (role === 'leader' && (out.leader === undefined || voters === undefined || !voters.includes(this.opts.serverId))) {
      throw new Error('pipeline: a leader needs leader outputs and the voters, itself among them');
    }
    this.commit = new CommitStage(role === 'leader' ? voters! : [this.opts.serverId]);
    this.learner = role === 'follower' || role === 'observer' ? new Learner(out.learner!, role === 'observer') : null;
    this.leader = role === 'leader' ? new LeaderRole(out.leader!) : null;
    this.roleNow = role;
    this.reconfig.reset();
  }

  /** The newest committed zxid (standalone: durable in the local log). Outputs up to it have left. */
  get durableZxid(): number {
    return this.commit.committedZxid;
  }

  /** The log worker made everything up to zxid durable: this server's ack, which commits it standalone. */
  durable(zxid: number): void {
    // a learner's durable zxid is its ACK to the leader (the quorum worker's business): what
    // it has logged is not committed until the leader says so
    if (this.learner !== null) return;
    this.ack(this.opts.serverId, zxid);
  }

  /** A voter has everything up to zxid durable (a leader's followers ACK; standalone, the local log). */
  ack(voter: number, zxid: number): void {
    if (this.commit.ack(voter, zxid, this.releaseOutput)) this.leader?.committed(this.commit.committedZxid);
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
    return this.commit.size + (this.learner?.pendingCount ?? 0);
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
      if (tls !== null && tls.x509Id !== null) this.auth.addX509(conn, tls.x509Id);
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
    const throttle = this.opts.connectionThrottle;
    if (throttle !== undefined && !throttle.checkLimit(throttle.tokensFor(req.sessionId, this.localSessionsOn), now)) {
      // ZooKeeperServer.processConnectRequest: ClientCnxnLimitException, the connection closed without an answer
      this.counters.connectionsThrottled++;
      this.log('warn', `closing connection ${conn.addr}:${conn.port}: the connection throttle (zookeeper.connection_throttle_*) refused its session request`, { kind: 'connection throttle', conn: conn.key });
      this.closeConn(conn);
      return;
    }
    if (throttle !== undefined) summaryAdd(this.counters.connectionTokenDeficit, throttle.deficit);
    this.counters.connectionRequests++;
    if (!req.readOnly && this.roleNow === 'read-only') {
      // ZooKeeperServer.processConnectRequest: CloseRequestException(NOT_READ_ONLY_CLIENT), no answer
      this.log('info', `refusing session request for not-read-only client ${conn.addr}:${conn.port}`);
      this.closeConn(conn);
      return;
    }
    if (req.lastZxidSeen > this.tree.lastZxid) {
      this.reject(conn, `refusing session request: client has seen zxid 0x${req.lastZxidSeen.toString(16)}, our last zxid is 0x${this.tree.lastZxid.toString(16)}; client must try another server`);
      return;
    }
    const timeoutMs = Math.min(Math.max(req.timeoutMs, this.opts.minSessionTimeoutMs), this.opts.maxSessionTimeoutMs);
    if (req.sessionId === 0n && this.logUnavailable) {
      this.reject(conn, 'the transaction log does not take writes: no new session until it does');
      return;
    }
    this.admission.admit(conn, req.sessionId, req.passwd, timeoutMs, now);
  }

  /** The connection is gone (socket closed). Its session lives on until it expires. */
  disconnect(key: number): void {
    const conn = this.conns.get(key);
    if (conn === undefined) return;
    this.conns.delete(key);
    this.learner?.disconnect(key);
    this.tree.removeWatcher(key);
    if (conn.session !== null && conn.session.conn === key) conn.session.conn = -1;
  }

  /** A request frame (RequestHeader + record, without the length prefix). */
  request(key: number, frame: Buffer): void {
    const conn = this.conns.get(key);
    if (conn === undefined || conn.session === null) return;
    if (this.learner !== null && this.learner.busy(key) && !this.mayPipeline(key, conn.session, frame)) {
      // this connection has requests out at the leader: this one is answered after them
      this.learner.wait(key, frame, isPlainRead(frame));
      return;
    }
    this.serve(conn, conn.session, frame);
  }

  /**
   * On a learner with writes of this connection out at the leader: a write that can follow
   * them there at once (FollowerRequestProcessor forwards every write as it comes). Not
   * when it would be answered here (a closing session's, one needing SASL first) before them.
   */
  private mayPipeline(key: number, s: Session, frame: Buffer): boolean {
    if (frame.length < 8 || !this.learner!.mayPipeline(key)) return false;
    const type = frame.readInt32BE(4);
    if (type === Op.sync || OPCODES.get(type)?.write !== true) return false;
    return !s.closing && this.sessions.get(s.id) === s && !this.auth.requireClientSasl;
  }

  /** Runs a request frame of a connection bound to session s. */
  private serve(conn: Conn, s: Session, frame: Buffer): void {
    const key = conn.key;
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
    conn.lastOp = lastOperationOf(type);
    if (s.closing || this.sessions.get(s.id) !== s) {
      this.replyError(key, xid, Err.SESSIONEXPIRED);
      return;
    }
    this.sessions.touch(s, this.requestStartMs);
    if (!s.local) this.learner?.touch(s.id, s.timeoutMs);
    if (xid >= 0) s.lastCxid = xid;
    if (this.auth.requireClientSasl && type !== Op.sasl && type !== Op.auth && !conn.authIds.some((i) => i.scheme === 'sasl')) {
      // AuthenticationHelper.enforceAuthentication: answer, then close the connection
      this.log('warn', `closing connection ${conn.addr}:${conn.port}: zookeeper.sessionRequireClientSASLAuth is set and session 0x${hex64(s.id)} has not authenticated with SASL`);
      this.finish(key, beginReply(this.w.reset(), xid, 0, Err.SESSIONCLOSEDREQUIRESASLAUTH));
      this.dropConnection(conn);
      return;
    }
    if (s.local && type === Op.closeSession) {
      this.admission.closeLocalSession(s, xid, key);
      return;
    }
    const refusal = s.local && createsEphemeral(type, frame.subarray(8)) ? this.admission.maybeUpgrade(s) : undefined;
    if (this.learner !== null && (OPCODES.get(type)?.write === true || type === Op.sync)) {
      this.forwardToLeader(conn, s, xid, type, frame, refusal);
      return;
    }
    this.dispatch(conn, s, xid, type);
  }

  /** The connection throttle's random drop chance (mntr's connection_drop_probability); 0 without one. */
  get connectionDropChance(): number {
    return this.opts.connectionThrottle?.dropChance ?? 0;
  }

  /** localSessionsEnabled, on a server with an ensemble role (ZooKeeper's standalone server has no local sessions). */
  get localSessionsOn(): boolean {
    return this.opts.localSessionsEnabled === true && (this.leader !== null || this.learner !== null);
  }

  /**
   * Runs a request's handler: its record is in this.r, after the RequestHeader. `conn` is a
   * client connection, or (on a leader) a learner's client, whose outputs go nowhere.
   */
  dispatch(conn: Conn, s: Session, xid: number, type: number): void {
    const opcode = OPCODES.get(type);
    const key = conn.key;
    if (this.roleNow === 'read-only' && (refusedWhileReadOnly(type) || type === Op.closeSession)) {
      if (type === Op.closeSession) this.admission.closeReadOnlySession(s, xid, key);
      else this.replyError(key, xid, Err.NOTREADONLY);
      return;
    }
    if (this.logUnavailable && opcode?.write === true) {
      // the log does not take writes (disk full): refuse them as a read-only server does
      this.replyError(key, xid, Err.NOTREADONLY);
      return;
    }
    this.readTag = opcode?.taggedRead === true ? 0 : -1;
    try {
      const handler = opcode?.handler;
      if (handler === undefined || handler === null) {
        this.log('warn', `unknown request type ${type} from session 0x${hex64(s.id)}`, { kind: 'unknown request type', conn: key });
        this.replyError(key, xid, Err.UNIMPLEMENTED);
        return;
      }
      handler(this, conn, s, xid, this.r, type);
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
    this.log('warn', `malformed request (type ${type}) from session 0x${hex64(s.id)}: ${e.message}; answering MARSHALLINGERROR`, { kind: 'malformed request', conn: conn.key });
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
    // a learner's sessions expire at the leader (but its local ones here), and its containers are the leader's to delete
    if (this.learner !== null) {
      if (this.opts.localSessionsEnabled === true) this.admission.expireLocalSessions(now);
      return this.opts.tickMs;
    }
    if (this.roleNow === 'read-only') return this.admission.tickReadOnly(now);
    for (const s of this.sessions.expired(now)) {
      this.log('info', `expiring session 0x${hex64(s.id)}, timeout of ${s.timeoutMs}ms exceeded`);
      this.counters.sessionsExpired++;
      this.closeSession(s, 0);
    }
    this.containers.maybeSweep(this.tree, now, this.opts.wallMs(), this.deleteContainer);
    return Math.min(this.sessions.msUntilNextExpiry(now), this.containers.msUntilDue(now));
  }

  private readonly deleteContainer = (path: string): void => {
    this.log('info', `deleting container or expired TTL node ${path}`);
    this.logTxn(0n, 0, Op.deleteContainer, { type: Op.deleteContainer, path });
  };

  /** A learner's client's write or sync: forwarded to the leader (answered at its COMMIT or SYNC: engine/core/ensemble-inputs.ts). */
  private forwardToLeader(conn: Conn, s: Session, xid: number, type: number, frame: Buffer, refusal?: number): void {
    const record = frame.subarray(8);
    let path: string | undefined;
    if (type === Op.sync) {
      path = this.r.ustring(); // checked here: a sync the leader could not read would never be answered
    }
    // a multi carries the leader's per-op results, not the refusal (FinalRequestProcessor throws it for other types only)
    const err = type === Op.multi ? undefined : refusal;
    this.learner!.forward({ sessionId: s.id, cxid: xid, type, conn: conn.key, startMs: this.requestStartMs, path, err }, record, conn.authIds);
  }

  // ---------------------------------------------------------------- the ensemble's inputs (engine/core/ensemble-inputs.ts)

  /** PROPOSAL from the leader (a learner's). */
  proposal(zxid: number, txn: Buffer): void {
    this.ensemble.proposal(zxid, txn);
  }

  /** COMMIT from the leader (a learner's). */
  commitProposal(zxid: number): void {
    this.ensemble.commitProposal(zxid);
  }

  /** INFORM from the leader (an observer's). */
  inform(zxid: number, txn: Buffer): void {
    this.ensemble.inform(zxid, txn);
  }

  /** The leader's answer to REVALIDATE (a learner's). */
  revalidated(sessionId: bigint, valid: boolean): void {
    this.ensemble.revalidated(sessionId, valid);
  }

  /** The leader's SYNC (a learner's). */
  synced(): void {
    this.ensemble.synced();
  }

  /** A learner's REQUEST (a leader's). */
  learnerRequest(sid: number, sessionId: bigint, cxid: number, type: number, record: Buffer, authIds: readonly Id[]): void {
    this.ensemble.learnerRequest(sid, sessionId, cxid, type, record, authIds);
  }

  /** A learner's PING answer (a leader's). */
  touchSessions(touches: ReadonlyMap<bigint, number>): void {
    this.ensemble.touchSessions(touches);
  }

  /** A learner's REVALIDATE (a leader's): whether the session lives. */
  revalidateSession(sessionId: bigint, timeoutMs: number): boolean {
    return this.ensemble.revalidateSession(sessionId, timeoutMs);
  }

  // ---------------------------------------------------------------- outputs

  /** Sends what is in this.w to conn once zxid is durable. */
  emit(conn: number, zxid: number): void {
    if (conn === REMOTE_CONN) return; // a learner's client: the learner answers it from the committed txn
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

  private noteResponseBytes(bytes: number, reply: boolean): void {
    noteResponseBytes(this.counters, bytes, reply);
  }

  private noteLatency(conn: number, startMs: number, nowMs: number, zxid: number): void {
    noteLatency(this.counters, this.conns.get(conn), Math.floor(nowMs) - Math.floor(startMs), nowMs, zxid);
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
    if (this.opts.enforceQuota && exceedsHardQuota(this.tree, path, bytesDiff, countDiff, (msg) => this.log('warn', msg))) {
      throw new KeeperError(Err.QUOTAEXCEEDED);
    }
  }

  log(level: 'info' | 'warn', msg: string, limit?: RepeatedWarning): void {
    this.opts.log?.(level, msg, limit);
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
    this.leader?.proposed(zxid, this.txnW.view());
    this.applyLive(hdr, txn);
    this.tree.lastZxid = zxid;
    return zxid;
  }

  private applyLive(hdr: TxnHeader, txn: Txn): void {
    if (txn.type !== Op.multi) mutate(this.tree, hdr, txn);
    // a live multi was mutated op by op while it was prepared
    triggerWatches(this.tree, hdr, txn);
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
    if (s.local) {
      this.admission.closeLocalSession(s, xid, replyTo);
      return;
    }
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
    if (this.opts.skipAcl !== true) checkAcl(acls, perm, conn.authIds, this.auth.saslScheme);
  }

  /** Whether conn's ids may do perm on a node with these ACLs. */
  allowed(acls: readonly Acl[], perm: number, conn: Conn): boolean {
    return this.opts.skipAcl === true || allowed(acls, perm, conn.authIds, this.auth.saslScheme);
  }

  /** An ACL as sent, validated, deduplicated and with "auth" expanded to conn's ids. */
  fixupAcl(acls: readonly Acl[], conn: Conn): Acl[] {
    return fixupAcl(acls, conn.authIds, this.auth.saslScheme, this.opts.txnBytesMax);
  }
}

/** Where a reply frame (length prefix included) keeps its header's zxid: [len][xid][zxid][err]. */
const READ_REPLY_ZXID_AT = 8;

/**
 * A request a learner answers from its own tree and that changes nothing a later write
 * depends on (not a write, sync, auth or SASL step): later writes may pass it to the leader.
 */
function isPlainRead(frame: Buffer): boolean {
  if (frame.length < 8) return false;
  const type = frame.readInt32BE(4);
  const opcode = OPCODES.get(type);
  return opcode !== undefined && !opcode.write && opcode.throttlable && type !== Op.sync;
}

