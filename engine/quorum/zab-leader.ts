// The leader's side of Zab (ZooKeeper's Leader.lead and its LearnerMaster half) as a pure,
// synchronous state machine: fed learners' packets (per connection), the pipeline's
// propose/commit/synced outputs and time; every input returns the effects it caused, in
// the order they must happen (STYLE.md §1). The shell (zab-leader-shell.ts, later the
// quorum worker) writes packets, streams snapshots, persists epochs and calls the pipeline.
//
// Phases (each of the first three must finish within initLimit ticks, or the leader steps down):
//   discovery  a quorum of FOLLOWERINFO (the leader among them) fixes the new epoch:
//              one past every acceptedEpoch seen (getEpochToPropose) → acceptedEpoch file
//   epochAck   a quorum of ACKEPOCH, none ahead of the leader (waitForEpochAck) → currentEpoch
//              file; each learner is synced (zab-learner-handler.ts) and sent NEWLEADER
//   newLeader  a quorum ACKs NEWLEADER (waitForNewLeaderAck) → 'established': the pipeline
//              starts at the new epoch's zxid, learners get UPTODATE
//   broadcast  proposals and commits go out; every half tick a PING to each learner, and
//              every tick the leader checks it still hears from a quorum within syncLimit
//              ticks — else it steps down
//   stopped    after a step down: inputs are ignored
//
// Zxids are numbers (epoch × 2^32 + counter), as in the pipeline; packets carry bigints.

import { COMMIT_LOG_COUNT, LEARNER_CONNECTIONS_MAX, OUTSTANDING_PROPOSALS_MAX } from './zab-leader-limits.ts';
import { LearnerHandler, NO_HISTORY, zxidOf, type CommittedTxn, type StateSummary, type SyncKind, type TxnHistory } from './zab-learner-handler.ts';
import { PacketType, type AuthId, type QuorumPacket } from './wire.ts';

export type ZabEffect =
  /** Write this packet to the learner on connection conn. */
  | { kind: 'send'; conn: number; packet: QuorumPacket }
  /** Write SNAP(zxid), the committed state at exactly zxid serialized as ZKDatabase.serializeSnapshot does, then the string "BenWasHere". */
  | { kind: 'snapshot'; conn: number; zxid: number }
  /** Close the connection (the handler is gone already). */
  | { kind: 'close'; conn: number; reason: string }
  /** Persist before anything after it: the acceptedEpoch / currentEpoch file. */
  | { kind: 'acceptedEpoch'; epoch: number }
  | { kind: 'currentEpoch'; epoch: number }
  /** A quorum follows: the pipeline starts proposing after zxid (the new epoch's zxid 0). */
  | { kind: 'established'; zxid: number }
  /** Leadership is lost: stop serving, throw away what was never committed, elect again. */
  | { kind: 'stepDown'; reason: string }
  /** Pipeline inputs. */
  | { kind: 'ack'; sid: number; zxid: number }
  | { kind: 'request'; sid: number; sessionId: bigint; cxid: number; type: number; record: Buffer; authIds: AuthId[] }
  | { kind: 'touch'; sid: number; touches: Map<bigint, number> }
  | { kind: 'revalidate'; sid: number; sessionId: bigint; timeoutMs: number }
  /**
   * A learner's sync began (LearnerHandler's DIFF_COUNT / SNAP_COUNT) or ended (UPTODATE);
   * inflight: the syncs of its class (SNAP, or DIFF/TRUNC) in progress after it began or ended.
   */
  | { kind: 'syncStarted' | 'syncEnded'; sid: number; syncKind: SyncKind; inflight: number };

export interface ZabTiming {
  tickMs: number;
  initLimit: number;
  syncLimit: number;
}

export interface ZabLeaderOptions {
  mySid: number;
  /** The voting members, this server among them. */
  voters: readonly number[];
  timing: ZabTiming;
  /** The acceptedEpoch and currentEpoch files. */
  acceptedEpoch: number;
  currentEpoch: number;
  /** The newest committed zxid of the data (what a snapshot streamed now holds). */
  lastZxid: number;
  /** Recently committed txns, oldest first, ending at lastZxid (the committed log's start). */
  recentTxns?: readonly CommittedTxn[];
  history?: TxnHistory;
  /** QuorumVerifier text (NEWLEADER's data) and its version. */
  configBytes: Buffer;
  configVersion: bigint;
}

export type LeaderPhase = 'discovery' | 'epochAck' | 'newLeader' | 'broadcast' | 'stopped';

/** Proposals in flight: zxid order, oldest at head. */
interface Proposal {
  zxid: number;
  data: Buffer;
}

export class ZabLeader {
  readonly mySid: number;
  readonly timing: ZabTiming;
  /** NEWLEADER's data: the last seen config (with reconfigEnabled the quorum worker sets its version once the epoch is known). */
  configBytes: Buffer;
  /** The config activated: a learner with a later one is refused (LearnerHandler). */
  configVersion: bigint;
  readonly history: TxnHistory;
  phase: LeaderPhase = 'discovery';
  stepDownReason: string | null = null;
  /** The epoch being established (-1 until a first proposal for it). */
  epoch = -1;
  newLeaderZxid = -1;
  lastCommittedZxid: number;
  lastProposedZxid: number;
  /** Leader.self.tick: counts ticks from the start of broadcast. */
  currentTick = 0;
  unexpectedPackets = 0;
  private voters: ReadonlySet<number>;
  /** Reconfig txns proposed: their COMMIT goes out as COMMITANDACTIVATE / INFORMANDACTIVATE naming this leader. */
  private readonly activations = new Map<number, bigint>();
  private readonly currentEpoch: number;
  private readonly acceptedEpoch: number;
  private readonly handlers = new Map<number, LearnerHandler>();
  private readonly connecting = new Set<number>();
  private readonly electing = new Set<number>();
  private readonly newLeaderAcks = new Set<number>();
  private readonly committedLog: CommittedTxn[] = [];
  private outstanding: Proposal[] = [];
  private outstandingHead = 0;
  private effects: ZabEffect[] = [];
  /** The current phase's end (initLimit ticks); none before start(). */
  private phaseDeadlineMs = Number.POSITIVE_INFINITY;
  private nextHalfTickMs = 0;
  private tickSkip = true;
  private nextAnonymousSid = -1;
  private nowMs = 0;

  constructor(opts: ZabLeaderOptions) {
    if (!opts.voters.includes(opts.mySid)) throw new Error(`zab leader: server ${opts.mySid} is not a voter`);
    if (opts.timing.tickMs <= 0 || opts.timing.initLimit <= 0 || opts.timing.syncLimit <= 0) throw new Error('zab leader: tickMs, initLimit and syncLimit must be positive');
    this.mySid = opts.mySid;
    this.voters = new Set(opts.voters);
    this.timing = opts.timing;
    this.acceptedEpoch = opts.acceptedEpoch;
    this.currentEpoch = opts.currentEpoch;
    this.lastCommittedZxid = opts.lastZxid;
    this.lastProposedZxid = opts.lastZxid;
    this.history = opts.history ?? NO_HISTORY;
    this.configBytes = opts.configBytes;
    this.configVersion = opts.configVersion;
    for (const t of (opts.recentTxns ?? []).slice(-COMMIT_LOG_COUNT)) {
      if (t.zxid > opts.lastZxid) throw new Error(`zab leader: recent txn 0x${t.zxid.toString(16)} after the last zxid`);
      this.committedLog.push(t);
    }
  }

  // ------------------------------------------------------------------ inputs

  /** Leader.lead: the leader proposes an epoch past its own acceptedEpoch and waits for a quorum. */
  start(nowMs: number): ZabEffect[] {
    this.nowMs = nowMs;
    this.phaseDeadlineMs = nowMs + this.initLimitMs();
    this.proposeEpoch(this.mySid, this.acceptedEpoch);
    return this.drain();
  }

  connected(conn: number, nowMs: number): ZabEffect[] {
    this.nowMs = nowMs;
    if (this.handlers.has(conn)) throw new Error(`zab leader: connection ${conn} twice`);
    if (this.phase === 'stopped' || this.handlers.size >= LEARNER_CONNECTIONS_MAX) {
      this.effect({ kind: 'close', conn, reason: this.phase === 'stopped' ? 'not leading' : `over ${LEARNER_CONNECTIONS_MAX} learner connections` });
    } else {
      this.handlers.set(conn, new LearnerHandler(this, conn, nowMs));
    }
    return this.drain();
  }

  packet(conn: number, p: QuorumPacket, nowMs: number): ZabEffect[] {
    this.nowMs = nowMs;
    this.handlers.get(conn)?.receive(p, nowMs);
    return this.drain();
  }

  disconnected(conn: number, nowMs: number): ZabEffect[] {
    this.nowMs = nowMs;
    const h = this.handlers.get(conn);
    if (h !== undefined) {
      this.handlers.delete(conn);
      h.phase = 'closed';
      h.forwarding = false;
    }
    return this.drain();
  }

  /** Time passed: phase deadlines, silent learners, half-tick PINGs and the quorum check. */
  tick(nowMs: number): ZabEffect[] {
    this.nowMs = nowMs;
    if (this.phase === 'stopped') return this.drain();
    if (this.phase !== 'broadcast' && nowMs >= this.phaseDeadlineMs) {
      const what = { discovery: 'epoch from quorum', epochAck: 'epoch to be acked by quorum', newLeader: 'NEWLEADER to be acked by quorum' }[this.phase];
      this.stepDown(`Timeout while waiting for ${what}`);
      return this.drain();
    }
    for (const h of [...this.handlers.values()]) {
      const limit = h.silenceLimitMs();
      if (limit !== null && nowMs - h.lastHeardMs >= limit) h.close(`nothing heard for ${limit} ms in phase ${h.phase} (read timeout)`);
    }
    while (this.phase === 'broadcast' && nowMs >= this.nextHalfTickMs) {
      this.nextHalfTickMs += this.timing.tickMs / 2;
      this.halfTick(nowMs);
    }
    return this.drain();
  }

  /** When tick next has something to do. */
  nextDeadlineMs(): number | null {
    if (this.phase === 'stopped') return null;
    let at: number = this.phase === 'broadcast' ? this.nextHalfTickMs : this.phaseDeadlineMs;
    for (const h of this.handlers.values()) {
      const limit = h.silenceLimitMs();
      if (limit !== null) at = Math.min(at, h.lastHeardMs + limit);
    }
    return Number.isFinite(at) ? at : null;
  }

  /**
   * The pipeline logged a txn: PROPOSAL to every forwarding learner that is not an observer
   * (observers hear of it at commit). As in ZooKeeper (Leader.sendPacket to the forwarding
   * followers), a follower outside the voting view gets PROPOSALs too: it is sent COMMITs, and
   * a COMMIT without its PROPOSAL stops a ZooKeeper follower. Its ACKs never count (ackProposal).
   */
  proposed(zxid: number, txn: Buffer, nowMs: number): ZabEffect[] {
    this.nowMs = nowMs;
    if (this.phase !== 'broadcast') throw new Error(`zab leader: proposal 0x${zxid.toString(16)} in phase ${this.phase}`);
    if (zxid <= this.lastProposedZxid) throw new Error(`zab leader: proposal 0x${zxid.toString(16)} after 0x${this.lastProposedZxid.toString(16)}`);
    if (this.outstanding.length - this.outstandingHead >= OUTSTANDING_PROPOSALS_MAX) {
      this.stepDown(`${OUTSTANDING_PROPOSALS_MAX} proposals outstanding: the commit stage does not move`);
      return this.drain();
    }
    const data = Buffer.from(txn); // the pipeline's buffer is valid only during its call
    this.outstanding.push({ zxid, data });
    this.lastProposedZxid = zxid;
    const packet: QuorumPacket = { type: PacketType.PROPOSAL, zxid: BigInt(zxid), data, authinfo: null };
    for (const h of this.handlers.values()) {
      if (!h.forwarding || h.observer) continue;
      this.send(h.conn, packet);
      h.proposalSent(zxid, nowMs);
    }
    return this.drain();
  }

  /** The pipeline's commit stage moved to zxid: a COMMIT per proposal to followers, INFORM to observers. */
  committed(zxid: number, nowMs: number): ZabEffect[] {
    this.nowMs = nowMs;
    while (this.outstandingHead < this.outstanding.length && this.outstanding[this.outstandingHead].zxid <= zxid) {
      const p = this.outstanding[this.outstandingHead];
      this.outstanding[this.outstandingHead++] = undefined as unknown as Proposal;
      this.lastCommittedZxid = p.zxid;
      this.committedLog.push(p);
      if (this.committedLog.length > COMMIT_LOG_COUNT) this.committedLog.shift();
      const designated = this.activations.get(p.zxid);
      this.activations.delete(p.zxid);
      const commit: QuorumPacket = designated === undefined
        ? { type: PacketType.COMMIT, zxid: BigInt(p.zxid), data: null, authinfo: null }
        : { type: PacketType.COMMITANDACTIVATE, zxid: BigInt(p.zxid), data: longBytes(designated), authinfo: null };
      const inform: QuorumPacket = designated === undefined
        ? { type: PacketType.INFORM, zxid: BigInt(p.zxid), data: p.data, authinfo: null }
        : { type: PacketType.INFORMANDACTIVATE, zxid: BigInt(p.zxid), data: Buffer.concat([longBytes(designated), p.data ?? Buffer.alloc(0)]), authinfo: null };
      for (const h of this.handlers.values()) {
        if (h.forwarding) this.send(h.conn, h.observer ? inform : commit);
      }
    }
    if (this.outstandingHead === this.outstanding.length) {
      this.outstanding = [];
      this.outstandingHead = 0;
    } else if (this.outstandingHead > 1024 && this.outstandingHead * 2 > this.outstanding.length) {
      this.outstanding = this.outstanding.slice(this.outstandingHead);
      this.outstandingHead = 0;
    }
    return this.drain();
  }

  /** The pipeline answered learner sid's SYNC. */
  synced(sid: number, nowMs: number): ZabEffect[] {
    this.nowMs = nowMs;
    const h = this.handlerOf(sid);
    if (h !== null) this.send(h.conn, { type: PacketType.SYNC, zxid: 0n, data: null, authinfo: null });
    return this.drain();
  }

  /** The pipeline answered learner sid's REVALIDATE: the packet goes back with the verdict. */
  revalidated(sid: number, sessionId: bigint, valid: boolean, nowMs: number): ZabEffect[] {
    this.nowMs = nowMs;
    const h = this.handlerOf(sid);
    if (h !== null) {
      const data = Buffer.alloc(9);
      data.writeBigInt64BE(sessionId, 0);
      data[8] = valid ? 1 : 0;
      this.send(h.conn, { type: PacketType.REVALIDATE, zxid: -1n, data, authinfo: null });
    }
    return this.drain();
  }

  /** A reconfig txn proposed at zxid: its commit activates the config, with this designated leader. */
  reconfigProposed(zxid: number, designatedLeader: bigint): void {
    this.activations.set(zxid, designatedLeader);
  }

  /** A config activated (a reconfig committed): its voters count from now on; NEWLEADER carries it to learners that sync later. */
  activated(voters: readonly number[], configBytes: Buffer, configVersion: bigint): void {
    this.voters = new Set(voters);
    this.configBytes = configBytes;
    this.configVersion = configVersion;
  }

  // ------------------------------------------------------------------ views

  isVoter(sid: number): boolean {
    return this.voters.has(sid);
  }

  get outstandingCount(): number {
    return this.outstanding.length - this.outstandingHead;
  }

  committedLogView(): readonly CommittedTxn[] {
    return this.committedLog;
  }

  /** Learners by sid with their phase and sync (tests, mntr's zk_synced_followers). */
  learners(): { sid: number | null; conn: number; phase: string; observer: boolean; syncKind: string | null }[] {
    return [...this.handlers.values()].map((h) => ({ sid: h.sid, conn: h.conn, phase: h.phase, observer: h.observer, syncKind: h.syncKind }));
  }

  /** Learners whose SNAP (or DIFF/TRUNC) sync has started and not reached UPTODATE (LearnerSyncThrottler.getSyncInProgress). */
  syncsInProgress(snap: boolean): number {
    let count = 0;
    for (const h of this.handlers.values()) {
      if ((h.phase === 'newLeaderAck' || h.phase === 'startup') && (h.syncKind === 'SNAP') === snap) count++;
    }
    return count;
  }

  // ------------------------------------------------------------------ for the learner handlers

  send(conn: number, packet: QuorumPacket): void {
    this.effects.push({ kind: 'send', conn, packet });
  }

  effect(e: ZabEffect): void {
    this.effects.push(e);
  }

  streamSnapshot(conn: number, zxid: number): void {
    if (zxid !== this.lastCommittedZxid) throw new Error(`zab leader: snapshot at 0x${zxid.toString(16)}, committed 0x${this.lastCommittedZxid.toString(16)}`);
    this.effects.push({ kind: 'snapshot', conn, zxid });
  }

  /** LearnerMaster.getAndDecrementFollowerCounter: a sid for a learner that sent none. */
  anonymousSid(): number {
    return this.nextAnonymousSid--;
  }

  /** FOLLOWERINFO / OBSERVERINFO read: the handler waits for the new epoch. */
  learnerIdentified(h: LearnerHandler): void {
    const sid = h.sid!;
    for (const other of [...this.handlers.values()]) {
      if (other !== h && other.sid === sid) other.close(`server ${sid} connected again`);
    }
    if (this.phase === 'discovery') this.proposeEpoch(h.participant ? sid : null, h.acceptedEpoch);
    else h.sendLeaderInfo(this.newLeaderZxid);
  }

  /** ACKEPOCH read (Leader.waitForEpochAck). */
  learnerAckedEpoch(h: LearnerHandler): void {
    if (this.phase !== 'epochAck') return h.startSync();
    const ss = h.summary!;
    if (ss.currentEpoch !== -1) {
      if (this.isMoreRecent(ss)) return h.close('Follower is ahead of the leader');
      if (ss.lastZxid !== -1 && h.participant) this.electing.add(h.sid!);
    }
    this.maybeEpochAcked();
  }

  /** The ACK of NEWLEADER read (Leader.waitForNewLeaderAck). */
  learnerAckedNewLeader(h: LearnerHandler): void {
    if (this.phase === 'broadcast') return h.sendUpToDate();
    if (h.participant) this.newLeaderAcks.add(h.sid!);
    this.maybeEstablished();
  }

  /** LearnerMaster.startForwarding: what was proposed after the sync point, then every new proposal and commit. */
  startForwarding(h: LearnerHandler, syncedZxid: number): void {
    if (!h.observer) {
      for (let i = this.outstandingHead; i < this.outstanding.length; i++) {
        const p = this.outstanding[i];
        if (p.zxid <= syncedZxid) continue;
        this.send(h.conn, { type: PacketType.PROPOSAL, zxid: BigInt(p.zxid), data: p.data, authinfo: null });
      }
    }
    h.forwarding = true;
  }

  learnerClosed(h: LearnerHandler, reason: string): void {
    this.handlers.delete(h.conn);
    this.effects.push({ kind: 'close', conn: h.conn, reason });
  }

  // ------------------------------------------------------------------ phases

  private initLimitMs(): number {
    return this.timing.initLimit * this.timing.tickMs;
  }

  private containsQuorum(sids: ReadonlySet<number>): boolean {
    let n = 0;
    for (const sid of sids) if (this.voters.has(sid)) n++;
    return n > this.voters.size / 2;
  }

  /** Leader.getEpochToPropose: one past every acceptedEpoch heard while waiting. */
  private proposeEpoch(sid: number | null, lastAcceptedEpoch: number): void {
    if (lastAcceptedEpoch >= this.epoch) this.epoch = lastAcceptedEpoch + 1;
    if (sid !== null) this.connecting.add(sid);
    if (!this.connecting.has(this.mySid) || !this.containsQuorum(this.connecting)) return;
    this.phase = 'epochAck';
    this.phaseDeadlineMs = this.nowMs + this.initLimitMs();
    this.newLeaderZxid = zxidOf(this.epoch, 0);
    this.effects.push({ kind: 'acceptedEpoch', epoch: this.epoch });
    for (const h of [...this.handlers.values()]) if (h.phase === 'epoch') h.sendLeaderInfo(this.newLeaderZxid);
    this.electing.add(this.mySid);
    this.maybeEpochAcked();
  }

  /** StateSummary.isMoreRecentThan the leader's (currentEpoch, last zxid). */
  private isMoreRecent(ss: StateSummary): boolean {
    return ss.currentEpoch > this.currentEpoch || (ss.currentEpoch === this.currentEpoch && ss.lastZxid > this.lastCommittedZxid);
  }

  private maybeEpochAcked(): void {
    if (this.phase !== 'epochAck' || !this.containsQuorum(this.electing)) return;
    this.phase = 'newLeader';
    this.phaseDeadlineMs = this.nowMs + this.initLimitMs();
    this.effects.push({ kind: 'currentEpoch', epoch: this.epoch });
    this.newLeaderAcks.add(this.mySid);
    for (const h of [...this.handlers.values()]) if (h.phase === 'epochQuorum') h.startSync();
    this.maybeEstablished();
  }

  private maybeEstablished(): void {
    if (this.phase !== 'newLeader' || !this.containsQuorum(this.newLeaderAcks)) return;
    this.phase = 'broadcast';
    this.lastProposedZxid = this.newLeaderZxid;
    this.currentTick = 0;
    this.tickSkip = true;
    this.nextHalfTickMs = this.nowMs + this.timing.tickMs / 2;
    this.effects.push({ kind: 'established', zxid: this.newLeaderZxid });
    for (const h of [...this.handlers.values()]) if (h.phase === 'startup') h.sendUpToDate();
  }

  /** Leader.lead's loop body: a tick every other half tick with the quorum check, PINGs every half tick. */
  private halfTick(nowMs: number): void {
    if (!this.tickSkip) {
      this.currentTick++;
      const synced = new Set<number>([this.mySid]);
      for (const h of this.handlers.values()) if (h.sid !== null && h.synced()) synced.add(h.sid);
      if (!this.containsQuorum(synced)) {
        this.stepDown(`Not sufficient followers synced, only synced with sids: [ ${[...synced].filter((s) => this.voters.has(s)).sort((a, b) => a - b).join(',')} ]`);
        return;
      }
    }
    this.tickSkip = !this.tickSkip;
    for (const h of [...this.handlers.values()]) h.ping(nowMs, this.lastProposedZxid);
  }

  private stepDown(reason: string): void {
    if (this.phase === 'stopped') return;
    this.phase = 'stopped';
    this.stepDownReason = reason;
    for (const h of [...this.handlers.values()]) h.close(`leader stepping down: ${reason}`);
    this.effects.push({ kind: 'stepDown', reason });
  }

  private handlerOf(sid: number): LearnerHandler | null {
    for (const h of this.handlers.values()) if (h.sid === sid && h.phase !== 'closed') return h;
    return null;
  }

  private drain(): ZabEffect[] {
    const out = this.effects;
    this.effects = [];
    return out;
  }
}

function longBytes(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(n);
  return b;
}
