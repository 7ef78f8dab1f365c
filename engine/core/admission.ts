// Session admission: who gets a session and how it is answered, and the sessions a server
// keeps off the log. A ConnectRequest the pipeline has parsed and checked is answered by the
// server's role (ZooKeeperServer.processConnectRequest): standalone and a leader create the
// session with a createSession txn; a learner asks its leader (createSession forwarded, a
// reconnect revalidated: engine/core/learner.ts); read-only mode makes its own
// (engine/core/read-only.ts); with localSessionsEnabled a new session is this server's alone
// (engine/core/local-sessions.ts). Local and read-only sessions are upgraded, closed and
// expired here, with no txn. The pipeline (engine/core/pipeline.ts) owns this object and
// calls in; it uses only the pipeline's public surface.
import { hex64 } from '../ops/java.ts';
import { Err, Op, KeeperError, writeConnectResponse } from '../protocol.ts';
import { sessionPassword, type Session } from './sessions.ts';
import { serverIdOfSession, standInSession } from './local-sessions.ts';
import { ReadOnlySessions } from './read-only.ts';
import type { Conn, PipelineOptions } from './types.ts';
import type { Pipeline } from './pipeline.ts';

export class SessionAdmission {
  private readonly p: Pipeline;
  private readonly opts: PipelineOptions;
  /** Sessions made in read-only mode: local, dropped when it ends. */
  private readonly readOnlySessions = new ReadOnlySessions();

  constructor(p: Pipeline, opts: PipelineOptions) {
    this.p = p;
    this.opts = opts;
  }

  /**
   * A ConnectRequest that may have a session (parsed, not ahead of this server, the log
   * taking new sessions): a new session, or a reconnect to one, answered by role.
   */
  admit(conn: Conn, sessionId: bigint, passwd: Buffer, timeoutMs: number, nowMs: number): void {
    const p = this.p;
    if (sessionId === 0n && p.localSessionsOn) {
      this.createLocalSession(conn, timeoutMs, nowMs);
      return;
    }
    if (p.learner !== null) {
      this.connectLearner(conn, sessionId, passwd, timeoutMs);
      return;
    }
    if (p.role === 'read-only') {
      this.connectReadOnly(conn, sessionId, passwd, timeoutMs);
      return;
    }
    if (sessionId === 0n) {
      const id = p.sessions.newSessionId();
      const s = p.sessions.add(id, timeoutMs, nowMs);
      this.bind(conn, s);
      const zxid = p.logTxn(id, 0, Op.createSession, { type: Op.createSession, timeoutMs });
      writeConnectResponse(p.writer.reset(), timeoutMs, id, s.passwd, false);
      p.emit(conn.key, zxid);
      return;
    }
    const s = p.sessions.get(sessionId);
    // expired or unknown session, or a wrong password
    if (s === undefined || s.closing || !s.passwd.equals(passwd)) this.refuseSession(conn, sessionId);
    else this.acceptSession(conn, s, timeoutMs);
  }

  /** ZooKeeper's answer to an expired or unknown session, or a wrong password: timeout 0, id 0, then close. */
  refuseSession(conn: Conn, sessionId: bigint): void {
    const p = this.p;
    p.log('info', `invalid session 0x${hex64(sessionId)} for client ${conn.addr}:${conn.port}, probably expired`);
    writeConnectResponse(p.writer.reset(), 0, 0n, Buffer.alloc(16), p.role === 'read-only');
    p.emit(conn.key, p.tree.lastZxid);
    p.dropConnection(conn);
  }

  /** Binds the connection to its session and answers the ConnectRequest. */
  acceptSession(conn: Conn, s: Session, timeoutMs: number): void {
    const p = this.p;
    if (s.conn !== -1 && s.conn !== conn.key) {
      const old = p.conns.get(s.conn);
      if (old !== undefined) p.dropConnection(old);
    }
    s.timeoutMs = timeoutMs;
    this.bind(conn, s);
    p.sessions.touch(s, this.opts.nowMs());
    writeConnectResponse(p.writer.reset(), timeoutMs, s.id, s.passwd, p.role === 'read-only');
    p.emit(conn.key, p.tree.lastZxid);
  }

  private bind(conn: Conn, s: Session): void {
    conn.session = s;
    s.conn = conn.key;
  }

  /** A learner's connect: a new session is created by the leader, a reconnect revalidated with it. */
  private connectLearner(conn: Conn, sessionId: bigint, passwd: Buffer, timeoutMs: number): void {
    const learner = this.p.learner!;
    if (sessionId === 0n) {
      learner.createSession(this.p.sessions.newSessionId(), conn.key, timeoutMs);
      return;
    }
    if (!sessionPassword(sessionId).equals(passwd)) {
      this.refuseSession(conn, sessionId);
      return;
    }
    const local = this.p.sessions.get(sessionId);
    if (local !== undefined && local.local) {
      // LearnerZooKeeperServer.revalidateSession: this server's local session is checked here
      if (local.closing) this.refuseSession(conn, sessionId);
      else this.acceptSession(conn, local, timeoutMs);
      return;
    }
    learner.revalidate(sessionId, conn.key, timeoutMs);
  }

  // ---------------------------------------------------------------- local sessions (engine/core/local-sessions.ts)

  /** A new session known to this server only: answered at once, nothing logged, nothing sent to the leader. */
  private createLocalSession(conn: Conn, timeoutMs: number, nowMs: number): void {
    const p = this.p;
    const s = p.sessions.add(p.sessions.newSessionId(), timeoutMs, nowMs, true);
    this.bind(conn, s);
    writeConnectResponse(p.writer.reset(), timeoutMs, s.id, s.passwd, false);
    p.emit(conn.key, p.tree.lastZxid);
  }

  /**
   * A local session's ephemeral create (checkUpgradeSession): with upgrading on, the session
   * becomes global first — a createSession txn here on a leader, forwarded before the create on
   * a learner; with it off, the create fails: a learner forwards it all the same (the leader
   * answers an error txn, the client EPHEMERALONLOCALSESSION: the returned code), a leader's
   * prep refuses it (checkGlobalSession).
   */
  maybeUpgrade(s: Session): number | undefined {
    const p = this.p;
    if (this.opts.localSessionsUpgradingEnabled !== true) return Err.EPHEMERALONLOCALSESSION;
    if (p.learner === null && p.logUnavailable) return undefined; // a leader refuses the write NOTREADONLY (dispatch): nothing to upgrade for
    p.log('info', `upgrading session 0x${hex64(s.id)}`);
    p.sessions.makeGlobal(s);
    if (p.learner !== null) {
      p.learner.upgradeSession(s.id, s.timeoutMs);
      p.learner.touch(s.id, s.timeoutMs);
    } else {
      p.logTxn(s.id, 0, Op.createSession, { type: Op.createSession, timeoutMs: s.timeoutMs });
    }
    return undefined;
  }

  /** A local session closed by its client (xid, reply to replyTo) or expired (replyTo -1): here only, no txn. */
  closeLocalSession(s: Session, xid: number, replyTo: number): void {
    const p = this.p;
    s.closing = true;
    p.sessions.remove(s.id);
    if (replyTo !== -1) p.finish(replyTo, p.beginOk(xid));
    const bound = p.conns.get(s.conn);
    if (bound !== undefined) p.dropConnection(bound);
  }

  /**
   * validateCreateRequest for an ephemeral: its owner must be a global session —
   * EPHEMERALONLOCALSESSION for this server's local one (upgrading off), SESSIONEXPIRED for
   * one this leader does not know (another server's local session).
   */
  checkGlobalSession(s: Session | null): void {
    if (s === null) return;
    if (s.local) throw new KeeperError(Err.EPHEMERALONLOCALSESSION);
    if (this.p.sessions.get(s.id) !== s) throw new KeeperError(Err.SESSIONEXPIRED);
  }

  /** A leader's view of a session a learner's client uses and this leader does not know: another server's local session, or none. */
  otherServersLocalSession(sessionId: bigint): Session | undefined {
    if (this.opts.localSessionsEnabled !== true || serverIdOfSession(sessionId) === this.opts.serverId) return undefined;
    return standInSession(sessionId);
  }

  /** A learner's tick: its local sessions past their deadline close; the global ones go back in their buckets. */
  expireLocalSessions(nowMs: number): void {
    const p = this.p;
    for (const s of p.sessions.expired(nowMs)) {
      if (!s.local) {
        p.sessions.touch(s, nowMs);
        continue;
      }
      p.log('info', `expiring local session 0x${hex64(s.id)}, timeout of ${s.timeoutMs}ms exceeded`);
      p.counters.sessionsExpired++;
      this.closeLocalSession(s, 0, -1);
    }
  }

  // ---------------------------------------------------------------- read-only sessions (engine/core/read-only.ts)

  /**
   * A read-only client's connect in read-only mode: a new session is this server's own (never
   * logged); one of those reconnects; an ensemble session is refused by closing the connection
   * (ReadOnlyZooKeeperServer.validateSession), an unknown one answered as expired.
   */
  private connectReadOnly(conn: Conn, sessionId: bigint, passwd: Buffer, timeoutMs: number): void {
    const p = this.p;
    if (sessionId === 0n) {
      const s = p.sessions.add(p.sessions.newSessionId(), timeoutMs, this.opts.nowMs());
      this.readOnlySessions.add(s.id);
      this.acceptSession(conn, s, timeoutMs);
      return;
    }
    const s = p.sessions.get(sessionId);
    if (s !== undefined && !this.readOnlySessions.has(sessionId)) {
      p.log('info', `refusing global session reconnection in read-only mode for ${conn.addr}:${conn.port}`);
      p.dropConnection(conn);
      return;
    }
    if (s === undefined || s.closing || !s.passwd.equals(passwd)) this.refuseSession(conn, sessionId);
    else this.acceptSession(conn, s, timeoutMs);
  }

  /** A read-only session ends (its client closed it, or it expired): no txn, the connection closed. */
  closeReadOnlySession(s: Session, xid: number, replyTo: number): void {
    this.readOnlySessions.delete(s.id);
    this.closeLocalSession(s, xid, replyTo);
  }

  /** Read-only mode's tick: its own sessions expire; the ensemble's are not this server's to expire (kept alive). */
  tickReadOnly(now: number): number {
    const p = this.p;
    for (const s of p.sessions.expired(now)) {
      if (!this.readOnlySessions.has(s.id)) {
        p.sessions.touch(s, now);
        continue;
      }
      p.log('info', `expiring read-only session 0x${hex64(s.id)}, timeout of ${s.timeoutMs}ms exceeded`);
      p.counters.sessionsExpired++;
      this.closeReadOnlySession(s, 0, -1);
    }
    return p.sessions.msUntilNextExpiry(now);
  }

  /** Read-only mode ends: its sessions leave the table (they were never the ensemble's). */
  endReadOnly(): void {
    for (const id of this.readOnlySessions.takeAll()) this.p.sessions.remove(id);
  }
}
