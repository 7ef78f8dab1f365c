// One connected learner, as the leader sees it (ZooKeeper's LearnerHandler): a pure state
// machine fed the learner's QuorumPackets and time, emitting packets and pipeline calls
// through its leader (zab-leader.ts). No socket, no thread: where ZooKeeper's handler
// thread blocks on the leader (getEpochToPropose, waitForEpochAck, waitForNewLeaderAck,
// waitForStartup) this one waits in a phase and the leader moves it on.
//
//   info        FOLLOWERINFO / OBSERVERINFO (LearnerInfo: sid, protocol 0x10000, config version)
//   epoch       waiting for a quorum's FOLLOWERINFO to fix the new epoch
//   ackEpoch    LEADERINFO(new epoch's first zxid, 0x10000) sent; ACKEPOCH expected
//   epochQuorum waiting for a quorum's ACKEPOCH
//   newLeaderAck  sync sent (DIFF / TRUNC / SNAP, the txns after the sync point), NEWLEADER
//               (config) sent; its ACK expected
//   startup     waiting for a quorum's NEWLEADER ACK (the leader starts)
//   broadcast   UPTODATE sent: PROPOSAL/COMMIT or INFORM, PING; ACK, PING answers, REQUEST,
//               REVALIDATE, SYNC
//
// The sync choice (planSync) is LearnerHandler.syncFollower + queueCommittedProposals over
// the leader's committed log and its txn log history.

import type { ZabLeader } from './zab-leader.ts';
import { SYNC_PACKETS_MAX } from './zab-leader-limits.ts';
import { PacketType, ZAB_PROTOCOL_VERSION, decodeIntData, decodeLearnerInfo, encodeLeaderInfoData, type QuorumPacket } from './wire.ts';

/** A committed txn: its zxid and its PROPOSAL data (TxnHeader + record). */
export interface CommittedTxn {
  zxid: number;
  data: Buffer;
}

/** The leader's history on disk, for a DIFF that reaches back past the committed log. */
export interface TxnHistory {
  /**
   * The committed txns with zxid ≥ fromZxid, in order, from the txn log files — or null
   * when the log does not reach back to fromZxid or reading it would cost more than
   * snapshotSizeFactor × the newest snapshot's size (ZKDatabase.getProposalsFromTxnLog).
   */
  txnsFrom(fromZxid: number): Iterable<CommittedTxn> | null;
}

export const NO_HISTORY: TxnHistory = { txnsFrom: () => null };

export type SyncKind = 'DIFF' | 'TRUNC' | 'SNAP';

export interface SyncPlan {
  kind: SyncKind;
  /** DIFF/TRUNC, then PROPOSAL+COMMIT pairs (empty for SNAP). */
  packets: QuorumPacket[];
  /** The learner has everything up to here once the packets are through (SNAP: the snapshot's zxid). */
  syncedZxid: number;
}

const EPOCH_UNIT = 2 ** 32;

export function epochOf(zxid: number): number {
  return Math.floor(zxid / EPOCH_UNIT);
}

export function zxidOf(epoch: number, counter: number): number {
  return epoch * EPOCH_UNIT + counter;
}

/** A zxid that opens an epoch (counter 0): what a learner has right after accepting one. */
function isNewEpochZxid(zxid: number): boolean {
  return zxid >= 0 && zxid % EPOCH_UNIT === 0;
}

function op(type: number, zxid: number): QuorumPacket {
  return { type, zxid: BigInt(zxid), data: null, authinfo: null };
}

/**
 * How to bring a learner whose last logged zxid is peerLastZxid up to the leader's
 * committed state (lastCommittedZxid, committedLog the newest of it in order).
 */
export function planSync(peerLastZxid: number, lastCommittedZxid: number, committedLog: readonly CommittedTxn[], history: TxnHistory): SyncPlan {
  const snap: SyncPlan = { kind: 'SNAP', packets: [], syncedZxid: lastCommittedZxid };
  const minCommitted = committedLog.length === 0 ? lastCommittedZxid : committedLog[0].zxid;
  const maxCommitted = committedLog.length === 0 ? lastCommittedZxid : committedLog[committedLog.length - 1].zxid;
  if (peerLastZxid === lastCommittedZxid) {
    return { kind: 'DIFF', packets: [op(PacketType.DIFF, peerLastZxid)], syncedZxid: peerLastZxid };
  }
  if (peerLastZxid > maxCommitted && !isNewEpochZxid(peerLastZxid)) {
    return { kind: 'TRUNC', packets: [op(PacketType.TRUNC, maxCommitted)], syncedZxid: maxCommitted };
  }
  if (minCommitted <= peerLastZxid && peerLastZxid <= maxCommitted) {
    const q = new SyncQueue(peerLastZxid, maxCommitted);
    q.add(committedLog, null);
    return q.plan() ?? snap;
  }
  if (peerLastZxid < minCommitted) {
    const fromLog = history.txnsFrom(peerLastZxid);
    if (fromLog === null) return snap;
    const q = new SyncQueue(peerLastZxid, maxCommitted);
    q.add(fromLog, minCommitted);
    // the txn log must reach the committed log, or the learner would miss the txns between
    if (q.queuedZxid < minCommitted || q.gaveUp) return snap;
    q.add(committedLog, null);
    return q.plan() ?? snap;
  }
  return snap;
}

/** LearnerHandler.queueCommittedProposals: the op packet decided by the first txn at or after the peer's zxid. */
class SyncQueue {
  readonly packets: QuorumPacket[] = [];
  queuedZxid: number;
  needOpPacket = true;
  kind: SyncKind = 'SNAP';
  /** A TRUNC across an epoch boundary was needed: the learner crashes on those, so it gets a SNAP. */
  gaveUp = false;
  private prevZxid = -1;
  private readonly peerLastZxid: number;
  private readonly lastCommittedZxid: number;

  constructor(peerLastZxid: number, lastCommittedZxid: number) {
    this.peerLastZxid = peerLastZxid;
    this.queuedZxid = peerLastZxid;
    this.lastCommittedZxid = lastCommittedZxid;
  }

  add(txns: Iterable<CommittedTxn>, maxZxid: number | null): void {
    const peer = this.peerLastZxid;
    for (const t of txns) {
      if (this.gaveUp) return;
      if (maxZxid !== null && t.zxid > maxZxid) return;
      if (t.zxid < peer) {
        this.prevZxid = t.zxid;
        continue;
      }
      if (this.needOpPacket) {
        if (t.zxid === peer) {
          this.opPacket('DIFF', this.lastCommittedZxid);
          continue;
        }
        if (isNewEpochZxid(peer)) {
          this.opPacket('DIFF', this.lastCommittedZxid);
        } else if (t.zxid > peer) {
          // the peer has txns this leader never saw (it led an old epoch)
          if (epochOf(t.zxid) !== epochOf(peer) || this.prevZxid < 0) {
            this.gaveUp = true;
            return;
          }
          this.opPacket('TRUNC', this.prevZxid);
        }
      }
      if (t.zxid <= this.queuedZxid) continue;
      if (this.packets.length + 2 > SYNC_PACKETS_MAX) {
        this.gaveUp = true;
        return;
      }
      this.packets.push({ type: PacketType.PROPOSAL, zxid: BigInt(t.zxid), data: t.data, authinfo: null }, op(PacketType.COMMIT, t.zxid));
      this.queuedZxid = t.zxid;
    }
  }

  plan(): SyncPlan | null {
    if (this.needOpPacket && isNewEpochZxid(this.peerLastZxid)) this.opPacket('DIFF', this.lastCommittedZxid);
    if (this.needOpPacket || this.gaveUp) return null; // ZooKeeper: "Unhandled scenario … fall back to use snapshot"
    return { kind: this.kind, packets: this.packets, syncedZxid: this.queuedZxid };
  }

  private opPacket(kind: 'DIFF' | 'TRUNC', zxid: number): void {
    this.packets.push(op(kind === 'DIFF' ? PacketType.DIFF : PacketType.TRUNC, zxid));
    this.kind = kind;
    this.needOpPacket = false;
    // after a TRUNC the learner has exactly what precedes the first txn it lacks
    if (kind === 'TRUNC') this.queuedZxid = zxid;
  }
}

export type HandlerPhase = 'info' | 'epoch' | 'ackEpoch' | 'epochQuorum' | 'newLeaderAck' | 'startup' | 'broadcast' | 'closed';

/** What a learner said of itself in ACKEPOCH (ZooKeeper's StateSummary). */
export interface StateSummary {
  currentEpoch: number;
  lastZxid: number;
}

export class LearnerHandler {
  readonly conn: number;
  phase: HandlerPhase = 'info';
  /** From LearnerInfo; null until FOLLOWERINFO/OBSERVERINFO. */
  sid: number | null = null;
  observer = false;
  /** The epoch the learner had accepted (its FOLLOWERINFO's zxid's epoch). */
  acceptedEpoch = -1;
  summary: StateSummary | null = null;
  syncKind: SyncKind | null = null;
  /** Registered for new proposals and commits (LearnerMaster.startForwarding). */
  forwarding = false;
  /** Past NEWLEADER: it is pinged (ZooKeeper's sendingThreadStarted). */
  pinged = false;
  /** LearnerHandler.tickOfNextAckDeadline: the tick by which it must have been heard from to count as synced. */
  tickOfNextAckDeadline: number;
  lastHeardMs: number;
  /** Proposals sent after its NEWLEADER ACK and not yet ACKed, oldest first (SyncLimitCheck, exact). */
  private readonly unacked: { zxid: number; sentMs: number }[] = [];
  private unackedHead = 0;
  private readonly leader: ZabLeader;

  constructor(leader: ZabLeader, conn: number, nowMs: number) {
    this.leader = leader;
    this.conn = conn;
    this.lastHeardMs = nowMs;
    this.tickOfNextAckDeadline = leader.currentTick + leader.timing.initLimit + leader.timing.syncLimit;
  }

  get participant(): boolean {
    return !this.observer && this.sid !== null && this.leader.isVoter(this.sid);
  }

  /** How long the learner may stay silent in this phase (ZooKeeper's socket read timeouts), null where it is not expected to speak. */
  silenceLimitMs(): number | null {
    const t = this.leader.timing;
    switch (this.phase) {
      case 'info': case 'ackEpoch': case 'newLeaderAck':
        return t.initLimit * t.tickMs;
      case 'startup': case 'broadcast':
        return t.syncLimit * t.tickMs;
      default:
        return null;
    }
  }

  receive(p: QuorumPacket, nowMs: number): void {
    if (this.phase === 'closed') return;
    this.lastHeardMs = nowMs;
    switch (this.phase) {
      case 'info': return this.onInfo(p);
      case 'ackEpoch': return this.onAckEpoch(p);
      case 'newLeaderAck': return this.onNewLeaderAck(p);
      case 'startup': case 'broadcast': return this.onBroadcast(p);
      default: return this.close(`unexpected ${p.type} while the leader decides (${this.phase})`);
    }
  }

  private onInfo(p: QuorumPacket): void {
    if (p.type !== PacketType.FOLLOWERINFO && p.type !== PacketType.OBSERVERINFO) return this.close(`first packet ${p.type} is not FOLLOWERINFO or OBSERVERINFO`);
    const info = decodeLearnerInfo(p.data);
    if (info.protocolVersion < ZAB_PROTOCOL_VERSION) return this.close(`protocol version 0x${info.protocolVersion.toString(16)}: pre-1.0 learners are not supported`);
    if (info.configVersion !== null && info.configVersion > this.leader.configVersion) return this.close('Follower is ahead of the leader (has a later activated configuration)');
    if (info.sid !== null && (info.sid > BigInt(Number.MAX_SAFE_INTEGER) || info.sid < BigInt(Number.MIN_SAFE_INTEGER))) return this.close(`sid ${info.sid} out of range`);
    this.sid = info.sid === null ? this.leader.anonymousSid() : Number(info.sid);
    this.observer = p.type === PacketType.OBSERVERINFO;
    const zxid = packetZxid(p);
    if (zxid === null) return this.close('FOLLOWERINFO zxid out of range');
    this.acceptedEpoch = epochOf(zxid);
    this.phase = 'epoch';
    this.leader.learnerIdentified(this);
  }

  /** The new epoch is fixed: LEADERINFO. */
  sendLeaderInfo(newLeaderZxid: number): void {
    if (this.phase !== 'epoch') throw new Error(`learner handler: LEADERINFO in phase ${this.phase}`);
    this.phase = 'ackEpoch';
    this.leader.send(this.conn, { type: PacketType.LEADERINFO, zxid: BigInt(newLeaderZxid), data: encodeLeaderInfoData(ZAB_PROTOCOL_VERSION), authinfo: null });
  }

  private onAckEpoch(p: QuorumPacket): void {
    if (p.type !== PacketType.ACKEPOCH) return this.close(`${p.type} is not ACKEPOCH`);
    const lastZxid = packetZxid(p);
    if (lastZxid === null || p.data === null || p.data.length < 4) return this.close('malformed ACKEPOCH');
    this.summary = { currentEpoch: decodeIntData(p.data, 'ACKEPOCH'), lastZxid };
    this.phase = 'epochQuorum';
    this.leader.learnerAckedEpoch(this);
  }

  /** A quorum acked the epoch: DIFF / TRUNC / SNAP, what was proposed since, NEWLEADER. */
  startSync(): void {
    if (this.phase !== 'epochQuorum' || this.summary === null) throw new Error(`learner handler: sync in phase ${this.phase}`);
    const leader = this.leader;
    const plan = planSync(this.summary.lastZxid, leader.lastCommittedZxid, leader.committedLogView(), leader.history);
    this.syncKind = plan.kind;
    if (plan.kind === 'SNAP') leader.streamSnapshot(this.conn, plan.syncedZxid);
    for (const p of plan.packets) leader.send(this.conn, p);
    leader.startForwarding(this, plan.syncedZxid);
    leader.send(this.conn, { type: PacketType.NEWLEADER, zxid: BigInt(leader.newLeaderZxid), data: leader.configBytes, authinfo: null });
    this.pinged = true;
    this.phase = 'newLeaderAck';
    leader.effect({ kind: 'syncStarted', sid: this.sid!, syncKind: plan.kind, inflight: leader.syncsInProgress(plan.kind === 'SNAP') });
  }

  private onNewLeaderAck(p: QuorumPacket): void {
    if (p.type !== PacketType.ACK) return this.close(`packet ${p.type} where the ACK of NEWLEADER was due`);
    const zxid = packetZxid(p);
    if (zxid === null) return this.close('ACK zxid out of range');
    if (zxid !== this.leader.newLeaderZxid) {
      // a proposal logged at NEWLEADER is ACKed first (ZOOKEEPER-3911); ZooKeeper takes it
      // for the NEWLEADER ACK and never counts the real one — here it is counted as what it is
      this.ackProposal(zxid);
      return;
    }
    this.phase = 'startup';
    this.leader.learnerAckedNewLeader(this);
  }

  /** The leader has started: UPTODATE, and the learner serves. */
  sendUpToDate(): void {
    if (this.phase !== 'startup') throw new Error(`learner handler: UPTODATE in phase ${this.phase}`);
    this.phase = 'broadcast';
    this.leader.send(this.conn, { type: PacketType.UPTODATE, zxid: -1n, data: null, authinfo: null });
    // LearnerHandler's endSync: the syncs of this kind still in progress (this one no longer)
    const snap = this.syncKind === 'SNAP';
    this.leader.effect({ kind: 'syncEnded', sid: this.sid!, syncKind: this.syncKind ?? 'DIFF', inflight: this.leader.syncsInProgress(snap) });
  }

  private onBroadcast(p: QuorumPacket): void {
    this.tickOfNextAckDeadline = this.leader.currentTick + this.leader.timing.syncLimit;
    const data = p.data;
    switch (p.type) {
      case PacketType.ACK: {
        const zxid = packetZxid(p);
        if (zxid === null) return this.close('ACK zxid out of range');
        return this.ackProposal(zxid);
      }
      case PacketType.PING: {
        if (data === null || data.length === 0) return;
        if (data.length % 12 !== 0) return this.close(`PING answer of ${data.length} bytes`);
        const touches = new Map<bigint, number>();
        for (let at = 0; at < data.length; at += 12) touches.set(data.readBigInt64BE(at), data.readInt32BE(at + 8));
        return this.leader.effect({ kind: 'touch', sid: this.sid!, touches });
      }
      case PacketType.REVALIDATE:
        if (data === null || data.length < 12) return this.close('malformed REVALIDATE');
        return this.leader.effect({ kind: 'revalidate', sid: this.sid!, sessionId: data.readBigInt64BE(0), timeoutMs: data.readInt32BE(8) });
      case PacketType.REQUEST:
        if (data === null || data.length < 16) return this.close('malformed REQUEST');
        return this.leader.effect({
          kind: 'request', sid: this.sid!, sessionId: data.readBigInt64BE(0), cxid: data.readInt32BE(8), type: data.readInt32BE(12),
          record: data.subarray(16), authIds: p.authinfo ?? [],
        });
      default:
        this.leader.unexpectedPackets++;
    }
  }

  private ackProposal(zxid: number): void {
    // NEWLEADER and UPTODATE ACKs (counter 0) are not proposals; observers are sent none
    if (zxid % EPOCH_UNIT === 0 || this.observer) return;
    while (this.unackedHead < this.unacked.length && this.unacked[this.unackedHead].zxid <= zxid) this.unackedHead++;
    if (this.unackedHead === this.unacked.length) {
      this.unacked.length = 0;
      this.unackedHead = 0;
    }
    // a follower outside the voting view is sent proposals and times its ACKs, but never counts
    if (this.participant) this.leader.effect({ kind: 'ack', sid: this.sid!, zxid });
  }

  /** A PROPOSAL went out to it: timed from its NEWLEADER ACK on (SyncLimitCheck.start). */
  proposalSent(zxid: number, nowMs: number): void {
    if (this.phase !== 'startup' && this.phase !== 'broadcast') return;
    this.unacked.push({ zxid, sentMs: nowMs });
  }

  /** LearnerHandler.ping: a PING, or the close of a learner that left a proposal un-ACKed for syncLimit ticks. */
  ping(nowMs: number, lastProposedZxid: number): void {
    if (!this.pinged || this.phase === 'closed') return;
    const t = this.leader.timing;
    if (this.unackedHead < this.unacked.length && nowMs - this.unacked[this.unackedHead].sentMs >= t.syncLimit * t.tickMs) {
      return this.close(`proposal 0x${this.unacked[this.unackedHead].zxid.toString(16)} not ACKed within syncLimit (transaction timeout)`);
    }
    this.leader.send(this.conn, { type: PacketType.PING, zxid: BigInt(lastProposedZxid), data: null, authinfo: null });
  }

  /** Whether it counts towards the quorum this tick (LearnerHandler.synced). */
  synced(): boolean {
    return this.phase !== 'closed' && this.leader.currentTick <= this.tickOfNextAckDeadline;
  }

  close(reason: string): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.forwarding = false;
    this.leader.learnerClosed(this, reason);
  }
}

/** A packet's zxid as a safe integer, null when it is not one (-1 stays -1). */
function packetZxid(p: QuorumPacket): number | null {
  if (p.zxid > BigInt(Number.MAX_SAFE_INTEGER) || p.zxid < -1n) return null;
  return Number(p.zxid);
}
