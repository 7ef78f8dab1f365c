// What the quorum worker feeds the pipeline of an ensemble server. A learner gets its leader's
// stream (engine/core/learner.ts): PROPOSALs logged, COMMITs applied and answered to the
// clients whose writes this server forwarded (and the reads held behind them run), INFORMs,
// REVALIDATE answers and SYNCs. A leader gets its learners' requests (engine/core/leader.ts):
// REQUESTs prepared like its own clients' writes, PING touches and REVALIDATEs of sessions.
// The pipeline (engine/core/pipeline.ts) owns this object and passes each input on; what it
// needs of the pipeline beyond its public surface is EnsembleHost.
import { type Id, type TxnHeader, Op, Err } from '../protocol.ts';
import { type Txn, triggerWatches } from './txn.ts';
import { applyWithStats } from './learner.ts';
import { remoteConn, forwardable } from './leader.ts';
import { OPCODES } from './opcodes.ts';
import type { Session } from './sessions.ts';
import type { Conn, PipelineOptions } from './types.ts';
import type { SessionAdmission } from './admission.ts';
import type { Pipeline } from './pipeline.ts';

/** What the ensemble's inputs need of the pipeline beyond its public surface (built once, with the pipeline). */
export interface EnsembleHost {
  /** PipelineOutputs.appendLog: a txn from the leader goes to the local log. */
  appendLog(zxid: number, txn: Buffer): void;
  /** The outputs that follow are timed from startMs (when their request arrived). */
  startRequest(startMs: number): void;
  /** Runs a request frame of a connection bound to session s, not held behind the leader (Pipeline.serve). */
  serve(conn: Conn, s: Session, frame: Buffer): void;
  /** Runs a request's handler on its record (the record loaded, then Pipeline.dispatch). */
  dispatchRecord(conn: Conn, s: Session, cxid: number, type: number, record: Buffer): void;
}

export class EnsembleInputs {
  private readonly p: Pipeline;
  private readonly opts: PipelineOptions;
  private readonly admission: SessionAdmission;
  private readonly host: EnsembleHost;

  constructor(p: Pipeline, opts: PipelineOptions, admission: SessionAdmission, host: EnsembleHost) {
    this.p = p;
    this.opts = opts;
    this.admission = admission;
    this.host = host;
  }

  // ---------------------------------------------------------------- a learner's: the leader's stream

  /** PROPOSAL from the leader: logged now (the quorum worker ACKs it once durable), applied at its COMMIT. */
  proposal(zxid: number, txn: Buffer): void {
    this.p.learner!.proposed(zxid, txn);
    this.host.appendLog(zxid, txn);
  }

  /** COMMIT from the leader: the oldest proposal is applied, and answered if it was forwarded from here. */
  commitProposal(zxid: number): void {
    const { hdr, txn } = this.p.learner!.committed(zxid);
    this.applyCommitted(hdr, txn);
  }

  /** INFORM (an observer's): a committed txn, logged and applied at once. */
  inform(zxid: number, txn: Buffer): void {
    this.proposal(zxid, txn);
    this.commitProposal(zxid);
  }

  /** The leader's answer to REVALIDATE. */
  revalidated(sessionId: bigint, valid: boolean): void {
    const p = this.p;
    const pending = p.learner!.revalidated(sessionId);
    const conn = pending === null ? undefined : p.conns.get(pending.conn);
    if (pending === null || conn === undefined) return;
    const s = valid ? p.sessions.get(sessionId) ?? p.sessions.add(sessionId, pending.timeoutMs, this.opts.nowMs()) : undefined;
    if (s === undefined || s.closing) this.admission.refuseSession(conn, sessionId);
    else this.admission.acceptSession(conn, s, pending.timeoutMs);
  }

  /** The leader's SYNC: the oldest forwarded sync is answered (the tree has caught up with the leader). */
  synced(): void {
    const p = this.p;
    const f = p.learner!.synced();
    if (f === null || !p.conns.has(f.conn)) return;
    this.host.startRequest(f.startMs);
    const at = p.beginOk(f.cxid);
    p.writer.string(f.path ?? '');
    p.finish(f.conn, at);
    this.runReleased(f.conn, f.sessionId, true);
  }

  private applyCommitted(hdr: TxnHeader, txn: Txn): void {
    const p = this.p;
    const tree = p.tree;
    const stats = applyWithStats(tree, hdr, txn);
    tree.lastZxid = hdr.zxid;
    p.commit.committedAt(hdr.zxid); // committed by the leader: what it reveals leaves at once
    triggerWatches(tree, hdr, txn);
    if (txn.type === Op.createSession) {
      const s = p.sessions.add(hdr.sessionId, txn.timeoutMs, this.opts.nowMs());
      const pending = p.learner!.connects.get(hdr.sessionId);
      const conn = pending === undefined ? undefined : p.conns.get(pending.conn);
      if (pending !== undefined && pending.created) p.learner!.connects.delete(hdr.sessionId);
      if (conn !== undefined && pending?.created === true) this.admission.acceptSession(conn, s, txn.timeoutMs);
      return;
    }
    const f = p.learner!.answerFor(hdr);
    if (f !== null && p.conns.has(f.conn)) {
      this.host.startRequest(f.startMs);
      const reply = OPCODES.get(f.type)?.committed;
      if (f.err !== undefined) p.replyError(f.conn, f.cxid, f.err, hdr.zxid);
      else if (reply != null) reply(p, f.conn, f.cxid, f.type, hdr, txn, stats);
    }
    if (txn.type === Op.closeSession) {
      const s = p.sessions.get(hdr.sessionId);
      p.sessions.remove(hdr.sessionId);
      tree.ephemeralPeaks.delete(hdr.sessionId);
      const bound = s === undefined ? undefined : p.conns.get(s.conn);
      if (bound !== undefined) p.dropConnection(bound);
    }
    if (f !== null) this.runReleased(f.conn, f.sessionId, false);
  }

  /**
   * Runs the requests a connection kept behind the write (or sync) just answered: at once
   * while later writes of it are still out (they are reads that come before those), else as
   * new requests.
   */
  private runReleased(key: number, sessionId: bigint, sync: boolean): void {
    const p = this.p;
    const learner = p.learner!;
    const frames = learner.release(key, sessionId, sync);
    if (frames.length === 0) return;
    if (!learner.busy(key)) {
      for (const frame of frames) p.request(key, frame);
      return;
    }
    for (const frame of frames) {
      const conn = p.conns.get(key);
      if (conn === undefined || conn.session === null) return;
      this.host.serve(conn, conn.session, frame);
    }
  }

  // ---------------------------------------------------------------- a leader's: its learners' requests

  /**
   * A learner's REQUEST: a write (or createSession, closeSession, sync) one of its clients
   * sent it, with that client's auth ids. Prepared here like a client's; its txn's COMMIT
   * is the learner's answer to its client.
   */
  learnerRequest(sid: number, sessionId: bigint, cxid: number, type: number, record: Buffer, authIds: readonly Id[]): void {
    const p = this.p;
    const leader = p.leader!;
    const now = this.opts.nowMs();
    this.host.startRequest(now);
    if (type === Op.createSession) {
      if (record.length < 4) return p.log('warn', `createSession from server ${sid} without a timeout: ignored`);
      const timeoutMs = Math.min(Math.max(record.readInt32BE(0), this.opts.minSessionTimeoutMs), this.opts.maxSessionTimeoutMs);
      p.sessions.add(sessionId, timeoutMs, now);
      p.logTxn(sessionId, 0, Op.createSession, { type: Op.createSession, timeoutMs });
      return;
    }
    if (type === Op.sync) return leader.sync(sid, p.tree.lastZxid, p.durableZxid);
    if (!forwardable(type, OPCODES.get(type)?.write === true)) {
      return p.log('warn', `server ${sid} forwarded request type ${type}, which learners answer themselves: ignored`);
    }
    const known = p.sessions.get(sessionId);
    const s = known ?? this.admission.otherServersLocalSession(sessionId);
    if (s === undefined || s.closing) {
      // PrepRequestProcessor's checkSession: an unknown or closing session's write is an error txn
      p.logTxn(sessionId, cxid, Op.error, { type: Op.error, err: Err.SESSIONEXPIRED });
      return;
    }
    if (known !== undefined) p.sessions.touch(known, now);
    const conn = remoteConn(authIds);
    conn.session = s;
    this.host.dispatchRecord(conn, s, cxid, type, record);
  }

  /** A learner's PING answer: the sessions its clients touched, with their timeouts. */
  touchSessions(touches: ReadonlyMap<bigint, number>): void {
    const sessions = this.p.sessions;
    const now = this.opts.nowMs();
    for (const [id, timeoutMs] of touches) {
      const s = sessions.get(id);
      if (s === undefined || s.closing) continue;
      s.timeoutMs = timeoutMs;
      sessions.touch(s, now);
    }
  }

  /** A learner's REVALIDATE: whether the session lives (touched, with its new timeout, when it does). */
  revalidateSession(sessionId: bigint, timeoutMs: number): boolean {
    const s = this.p.sessions.get(sessionId);
    // checkIfValidGlobalSession: this leader's local sessions are not another server's to take
    if (s === undefined || s.closing || s.local) return false;
    this.touchSessions(new Map([[sessionId, timeoutMs]]));
    return true;
  }
}
