// Zab for a follower or an observer (ZooKeeper 3.8's Learner, Follower and Observer), as a
// pure synchronous state machine (STYLE.md §1): fed the leader's bytes, ticks and the local
// log's durable zxid; calling ZabLearnerOutputs for the packets to send and the effects for
// the shell (epoch files, log, tree, pipeline). From "the election says FOLLOWING L (or
// OBSERVING)" and a connected socket to "serving", and on through broadcast:
//
//   discovery  → FOLLOWERINFO/OBSERVERINFO [zxid = acceptedEpoch<<32][LearnerInfo(sid, 0x10000, configVersion)]
//              ← LEADERINFO [zxid = newEpoch<<32][int protocolVersion]
//                 newEpoch > acceptedEpoch: write acceptedEpoch, answer our currentEpoch;
//                 equal: answer -1 (not an ack of the epoch); lower: refuse (fail)
//              → ACKEPOCH [zxid = lastLoggedZxid][int currentEpoch or -1]
//   sync       ← DIFF | TRUNC (cut the log to zxid) | SNAP (the tree follows on the socket,
//                 zab-learner-snap.ts), then PROPOSAL/COMMIT/INFORM until NEWLEADER:
//                 after SNAP/TRUNC a COMMIT of the oldest proposal applies it to the tree at
//                 once (the snapshot taken at NEWLEADER holds it); after DIFF everything
//                 waits for the txn log
//              ← NEWLEADER [zxid = newEpoch<<32][config]: snapshot (SNAP/TRUNC), log the
//                 proposals held; once all of that is durable write currentEpoch, then
//              → ACK [zxid = newEpoch<<32]
//              ← UPTODATE → ACK [newEpoch<<32], the ACKs of the proposals logged at
//                 NEWLEADER, log what came after it, apply the commits held, start serving
//   broadcast  PROPOSAL → log, ACK each in order once durable; COMMIT → apply;
//              INFORM (observer) → log and apply; PING → PING [same zxid][touches]
//              REVALIDATE answer → revalidated; SYNC → synced
//
// Contract with the shell: outputs are called in order and take effect in that order.
// writeAcceptedEpoch/writeCurrentEpoch are durable when they return (small files, written
// and fsynced in place, as ZooKeeper does), so a packet sent after one may depend on it.
// Log appends (logProposal, inform) and takeSnapshot are asynchronous: the shell reports
// them with durable(zxid) and snapshotSaved(zxid); no ACK leaves before those (§2).
// Buffers handed to outputs are views valid for the call only.

import type { Acl } from '../protocol.ts';
import type { NodeRecord } from '../core/tree.ts';
import { ACKS_PENDING_MAX, SYNC_QUEUE_BYTES_MAX, SYNC_QUEUE_PACKETS_MAX, TOUCH_BYTES, TOUCHED_SESSIONS_MAX } from './limits.ts';
import { SnapStreamDecoder } from './zab-learner-snap.ts';
import {
  type AuthId, type QuorumPacket, PacketType, WireError, ZAB_PROTOCOL_VERSION, decodeIntData, encodeAckEpochData,
  encodeLearnerInfo, epochOfZxid, makeZxid, packetTypeName, takeQuorumPacket,
} from './wire.ts';

export interface ZabLearnerConfig {
  sid: bigint;
  observer: boolean;
  /** The newest zxid in the local log (or snapshot). */
  lastLoggedZxid: number;
  /** The acceptedEpoch and currentEpoch files. */
  acceptedEpoch: number;
  currentEpoch: number;
  /** The local QuorumVerifier's version (0 without dynamic reconfiguration). */
  configVersion: bigint;
  /** ZooKeeper's socket timeouts, in ticks: initLimit until NEWLEADER, syncLimit after. */
  initLimitTicks: number;
  syncLimitTicks: number;
  /** The largest packet (and snapshot record) accepted: jute.maxbuffer + its extra size. */
  packetBytesMax: number;
}

export interface ZabLearnerOutputs {
  send(packet: QuorumPacket): void;
  writeAcceptedEpoch(epoch: number): void;
  writeCurrentEpoch(epoch: number): void;
  /** TRUNC: cut the log after zxid and bring the tree back to zxid. */
  truncateLog(zxid: number): void;
  /** SNAP: the tree (and sessions) are replaced by the leader's, which follows item by item. */
  loadSnapshotBegin(zxid: number): void;
  loadSnapshotSession(sessionId: bigint, timeoutMs: number): void;
  loadSnapshotAcl(ref: number, acls: Acl[]): void;
  /** path '/' for the root; children unset (DataTree.restoreNode). */
  loadSnapshotNode(path: string, node: NodeRecord): void;
  loadSnapshotEnd(zxid: number): void;
  /** A txn committed during a SNAP/TRUNC sync: into the tree now, not logged (the NEWLEADER snapshot holds it). */
  applyTxn(zxid: number, txn: Buffer): void;
  /** Save a snapshot of the tree as it is (zxid: its last txn); answer with snapshotSaved(zxid). */
  takeSnapshot(zxid: number): void;
  /** A proposal: to the log (answer with durable) and held until its COMMIT (Pipeline.proposal). */
  logProposal(zxid: number, txn: Buffer): void;
  /** COMMIT: apply the oldest proposal held (Pipeline.commitProposal). */
  commit(zxid: number): void;
  /** Observer: log and apply at once (Pipeline.inform). */
  inform(zxid: number, txn: Buffer): void;
  /** NEWLEADER's data: the leader's last seen config (QuorumMaj text), or null. */
  leaderConfig?(data: Buffer | null): void;
  /** COMMITANDACTIVATE / INFORMANDACTIVATE: the reconfig txn at zxid is committed; activate its config. */
  activate?(zxid: number, designatedLeader: bigint): void;
  revalidated(sessionId: bigint, valid: boolean): void;
  synced(): void;
  /** UPTODATE: the tree is the leader's as of lastZxid; clients may be served. */
  startServing(lastZxid: number): void;
  warn(message: string): void;
  /** The session with the leader is over: close the socket, back to election. Called once. */
  fail(reason: string): void;
}

export type ZabLearnerPhase =
  | 'idle' // not started
  | 'discovery' // FOLLOWERINFO sent, waiting for LEADERINFO
  | 'syncStart' // ACKEPOCH sent, waiting for DIFF/TRUNC/SNAP
  | 'snapshot' // the SNAP stream is arriving
  | 'sync' // packets until NEWLEADER
  | 'newLeader' // NEWLEADER came; its ACK waits for the snapshot and the log
  | 'synced' // NEWLEADER acknowledged, waiting for UPTODATE
  | 'broadcast'
  | 'failed';

type SyncMode = 'DIFF' | 'TRUNC' | 'SNAP';

/** A proposal (or INFORM) held during the sync: its zxid (from its TxnHeader) and a copy of its bytes. */
interface Held {
  zxid: number;
  txn: Buffer;
}

/** The leader broke the protocol: the session ends (not a bug here). */
class ZabProtocolError extends Error {}

/** TxnHeader: long clientId, int cxid, long zxid, … */
const TXN_HEADER_ZXID_AT = 12;
const TXN_HEADER_BYTES = 32;

export class ZabLearner {
  private readonly cfg: ZabLearnerConfig;
  private readonly out: ZabLearnerOutputs;
  private phaseNow: ZabLearnerPhase = 'idle';
  private acceptedEpoch: number;
  private currentEpoch: number;
  private newEpoch = -1;
  private newLeaderZxid = 0n;
  private syncMode: SyncMode | null = null;
  /** The zxid of the tree's newest txn as the sync leaves it (for startServing). */
  private appliedZxid: number;
  private lastQueuedZxid = 0;
  private silentTicks = 0;
  private snap: SnapStreamDecoder | null = null;
  private snapZxid = 0;

  // ZooKeeper's packetsNotCommitted / packetsCommitted, and what they hold
  private notCommitted: Held[] = [];
  private committed: number[] = [];
  private heldBytes = 0;
  /** false until NEWLEADER after SNAP/TRUNC: a COMMIT then applies to the tree directly. */
  private writeToTxnLog = true;
  /** Proposals logged at NEWLEADER, ACKed after UPTODATE (ZooKeeper's requestsToAck). */
  private ackAfterUpToDate: number[] = [];
  /** What the NEWLEADER ACK waits for: a snapshot, and the log durable up to a zxid. */
  private awaitSnapshotZxid: number | null = null;
  private awaitDurableZxid: number | null = null;

  // broadcast
  /** Proposals logged, oldest first, not yet ACKed: ACKed in order as they become durable. */
  private readonly acksPending = new ZxidQueue(ACKS_PENDING_MAX);
  private durableZxid = 0;
  /** Sessions touched since the last PING answer, with their timeouts. */
  private touches = new Map<bigint, number>();

  constructor(cfg: ZabLearnerConfig, out: ZabLearnerOutputs) {
    assert(cfg.acceptedEpoch >= cfg.currentEpoch, `acceptedEpoch ${cfg.acceptedEpoch} < currentEpoch ${cfg.currentEpoch}`);
    assert(cfg.initLimitTicks > 0 && cfg.syncLimitTicks > 0, 'limits must be positive');
    this.cfg = cfg;
    this.out = out;
    this.acceptedEpoch = cfg.acceptedEpoch;
    this.currentEpoch = cfg.currentEpoch;
    this.appliedZxid = cfg.lastLoggedZxid;
    this.durableZxid = cfg.lastLoggedZxid;
  }

  get phase(): ZabLearnerPhase {
    return this.phaseNow;
  }

  /** DIFF, TRUNC or SNAP once the leader chose. */
  get syncType(): SyncMode | null {
    return this.syncMode;
  }

  /** The epoch being joined (-1 before LEADERINFO). */
  get epoch(): number {
    return this.newEpoch;
  }

  /** Proposals logged and not yet acknowledged. */
  get acksPendingCount(): number {
    return this.acksPending.length;
  }

  /** Connected: register with the leader (Learner.registerWithLeader). */
  start(): void {
    assert(this.phaseNow === 'idle', `start in phase ${this.phaseNow}`);
    this.phaseNow = 'discovery';
    const li = encodeLearnerInfo({ sid: this.cfg.sid, protocolVersion: ZAB_PROTOCOL_VERSION, configVersion: this.cfg.configVersion });
    const type = this.cfg.observer ? PacketType.OBSERVERINFO : PacketType.FOLLOWERINFO;
    this.send(type, makeZxid(BigInt(this.acceptedEpoch), 0n), li);
  }

  // ------------------------------------------------------------------ inputs

  /**
   * Bytes from the leader's socket at buf[offset, end): packets, and the snapshot stream
   * after SNAP. Returns how many were consumed; the caller keeps the rest and passes it
   * again with more. After a failure everything is consumed and ignored.
   */
  receive(buf: Buffer, offset = 0, end = buf.length): number {
    if (this.phaseNow === 'failed') return end - offset;
    assert(this.phaseNow !== 'idle', 'bytes before start');
    let at = offset;
    try {
      while (at < end && this.phase !== 'failed') {
        if (this.phaseNow === 'snapshot') {
          const used = this.snap!.feed(buf, at, end);
          at += used;
          if (this.snap!.done) this.snapshotLoaded();
          else if (used === 0) break;
          continue;
        }
        const taken = takeQuorumPacket(buf.subarray(0, end), at, this.cfg.packetBytesMax);
        if (taken === null) break;
        at += taken.byteCount;
        this.handle(taken.packet);
      }
    } catch (e) {
      if (!isProtocolError(e)) throw e;
      this.fail((e as Error).message);
      return end - offset;
    }
    if (at > offset) this.silentTicks = 0;
    return at - offset;
  }

  /** One decoded packet from the leader (tests; receive() is the socket's entry). */
  receivePacket(p: QuorumPacket): void {
    if (this.phaseNow === 'failed') return;
    assert(this.phaseNow !== 'idle' && this.phaseNow !== 'snapshot', `a packet in phase ${this.phaseNow}`);
    this.silentTicks = 0;
    try {
      this.handle(p);
    } catch (e) {
      if (!isProtocolError(e)) throw e;
      this.fail((e as Error).message);
    }
  }

  /** One tick passed: a leader silent for longer than the socket timeout is gone. */
  tick(): void {
    if (this.phaseNow === 'idle' || this.phaseNow === 'failed') return;
    this.silentTicks++;
    const limit = this.beforeNewLeader() ? this.cfg.initLimitTicks : this.cfg.syncLimitTicks;
    if (this.silentTicks > limit) this.fail(`leader silent for ${this.silentTicks} ticks (limit ${limit})`);
  }

  /** The connection to the leader is gone (closed, reset, refused). */
  connectionLost(reason: string): void {
    this.fail(reason);
  }

  /** The local log has every txn up to zxid on disk. */
  durable(zxid: number): void {
    if (zxid <= this.durableZxid) return;
    this.durableZxid = zxid;
    if (this.phaseNow === 'newLeader') this.maybeAckNewLeader();
    else if (this.phaseNow === 'broadcast') this.sendDurableAcks();
  }

  /** The snapshot asked for by takeSnapshot is saved. */
  snapshotSaved(zxid: number): void {
    if (this.awaitSnapshotZxid === null || zxid < this.awaitSnapshotZxid) return;
    this.awaitSnapshotZxid = null;
    if (this.phaseNow === 'newLeader') this.maybeAckNewLeader();
  }

  /** A client touched a session (reported to the leader with the next PING answer). False when the table is full. */
  touch(sessionId: bigint, timeoutMs: number): boolean {
    if (this.touches.size >= TOUCHED_SESSIONS_MAX && !this.touches.has(sessionId)) return false;
    this.touches.set(sessionId, timeoutMs);
    return true;
  }

  /** REQUEST: a write (or sync, createSession, closeSession) for the leader to prepare. */
  forward(sessionId: bigint, cxid: number, type: number, record: Buffer, authIds: readonly AuthId[]): void {
    assert(this.phaseNow === 'broadcast' || this.phaseNow === 'failed', `forward in phase ${this.phaseNow}`);
    if (this.phaseNow === 'failed') return;
    const data = Buffer.allocUnsafe(16 + record.length);
    data.writeBigInt64BE(sessionId, 0);
    data.writeInt32BE(cxid, 8);
    data.writeInt32BE(type, 12);
    record.copy(data, 16);
    this.out.send({ type: PacketType.REQUEST, zxid: -1n, data, authinfo: [...authIds] });
  }

  /** REVALIDATE: is this session alive at the leader (Learner.validateSession). */
  revalidate(sessionId: bigint, timeoutMs: number): void {
    assert(this.phaseNow === 'broadcast' || this.phaseNow === 'failed', `revalidate in phase ${this.phaseNow}`);
    if (this.phaseNow === 'failed') return;
    const data = Buffer.allocUnsafe(12);
    data.writeBigInt64BE(sessionId, 0);
    data.writeInt32BE(timeoutMs, 8);
    this.send(PacketType.REVALIDATE, -1n, data);
  }

  // ------------------------------------------------------------------ the leader's packets

  private handle(p: QuorumPacket): void {
    switch (this.phaseNow) {
      case 'discovery':
        return this.onLeaderInfo(p);
      case 'syncStart':
        return this.onSyncStart(p);
      case 'sync':
      case 'newLeader':
      case 'synced':
        return this.onSyncPacket(p);
      case 'broadcast':
        return this.onBroadcastPacket(p);
      default:
        throw new Error(`zab learner: a packet in phase ${this.phaseNow}`);
    }
  }

  private onLeaderInfo(p: QuorumPacket): void {
    if (p.type !== PacketType.LEADERINFO) {
      // a pre-Zab-1.0 leader would send NEWLEADER here; 3.8 never does to a 0x10000 learner
      throw new ZabProtocolError(`first packet from the leader is ${packetTypeName(p.type)}, not LEADERINFO`);
    }
    decodeIntData(p.data, 'LEADERINFO'); // the leader's protocol version: nothing depends on it here
    const newEpoch = Number(epochOfZxid(p.zxid));
    let answer: number;
    if (newEpoch > this.acceptedEpoch) {
      answer = this.currentEpoch;
      this.acceptedEpoch = newEpoch;
      this.out.writeAcceptedEpoch(newEpoch);
    } else if (newEpoch === this.acceptedEpoch) {
      answer = -1; // already acked this epoch: say so, and still give our last zxid for the sync
    } else {
      throw new ZabProtocolError(`leader's epoch ${newEpoch} is less than accepted epoch ${this.acceptedEpoch}`);
    }
    this.newEpoch = newEpoch;
    this.newLeaderZxid = makeZxid(BigInt(newEpoch), 0n);
    this.send(PacketType.ACKEPOCH, BigInt(this.cfg.lastLoggedZxid), encodeAckEpochData(answer));
    this.phaseNow = 'syncStart';
  }

  private onSyncStart(p: QuorumPacket): void {
    const zxid = Number(p.zxid);
    switch (p.type) {
      case PacketType.DIFF:
        this.syncMode = 'DIFF';
        this.writeToTxnLog = true;
        this.phaseNow = 'sync';
        return;
      case PacketType.TRUNC:
        this.syncMode = 'TRUNC';
        this.writeToTxnLog = false;
        this.out.truncateLog(zxid);
        this.appliedZxid = zxid;
        this.durableZxid = Math.min(this.durableZxid, zxid);
        this.phaseNow = 'sync';
        return;
      case PacketType.SNAP:
        this.syncMode = 'SNAP';
        this.writeToTxnLog = false;
        this.snapZxid = zxid;
        this.out.loadSnapshotBegin(zxid);
        this.snap = new SnapStreamDecoder({
          session: (id, timeoutMs) => this.out.loadSnapshotSession(id, timeoutMs),
          acl: (ref, acls) => this.out.loadSnapshotAcl(ref, acls),
          node: (path, node) => this.out.loadSnapshotNode(path, node),
        }, this.cfg.packetBytesMax);
        this.phaseNow = 'snapshot';
        return;
      default:
        throw new ZabProtocolError(`expected DIFF, TRUNC or SNAP, got ${packetTypeName(p.type)}`);
    }
  }

  private snapshotLoaded(): void {
    this.snap = null;
    this.out.loadSnapshotEnd(this.snapZxid);
    this.appliedZxid = this.snapZxid;
    this.durableZxid = Math.min(this.durableZxid, this.snapZxid);
    this.phaseNow = 'sync';
  }

  /** Learner.syncWithLeader's loop: from the sync packet to UPTODATE. */
  private onSyncPacket(p: QuorumPacket): void {
    switch (p.type) {
      case PacketType.PROPOSAL:
        return this.hold(this.txnOf(p, p.data));
      case PacketType.COMMIT:
      case PacketType.COMMITANDACTIVATE:
        return this.onSyncCommit(Number(p.zxid));
      case PacketType.INFORM:
      case PacketType.INFORMANDACTIVATE: {
        const held = this.txnOf(p, p.type === PacketType.INFORM ? p.data : afterLeaderId(p.data));
        if (!this.writeToTxnLog) {
          this.apply(held);
        } else {
          this.hold(held);
          this.committed.push(held.zxid);
        }
        return;
      }
      case PacketType.NEWLEADER:
        return this.onNewLeader(p);
      case PacketType.UPTODATE:
        return this.onUpToDate();
      default:
        // PING may come once the leader queued NEWLEADER; ZooKeeper ignores it until UPTODATE
        return;
    }
  }

  private onSyncCommit(zxid: number): void {
    if (this.writeToTxnLog) {
      this.bound(1, 0);
      this.committed.push(zxid);
      return;
    }
    const head = this.notCommitted[0];
    if (head === undefined || head.zxid !== zxid) {
      this.out.warn(`committing 0x${zxid.toString(16)}, but the next proposal is ${head === undefined ? 'none' : `0x${head.zxid.toString(16)}`}`);
      return;
    }
    this.notCommitted.shift();
    this.heldBytes -= head.txn.length;
    this.apply(head);
  }

  private onNewLeader(p: QuorumPacket): void {
    if (this.phaseNow !== 'sync') throw new ZabProtocolError(`a second NEWLEADER in phase ${this.phaseNow}`);
    this.out.leaderConfig?.(p.data); // the leader's last seen config: activated at UPTODATE (Learner.syncWithLeader)
    if (p.zxid !== this.newLeaderZxid) this.out.warn(`NEWLEADER 0x${p.zxid.toString(16)}, LEADERINFO said 0x${this.newLeaderZxid.toString(16)}`);
    this.phaseNow = 'newLeader';
    this.silentTicks = 0;
    // ZOOKEEPER-3911: a follower's held txns are durable before the NEWLEADER ACK. What the
    // ACK waits for is set before any effect: the shell may answer from inside one.
    const held = this.cfg.observer ? [] : this.notCommitted;
    if (held.length > 0) {
      this.notCommitted = [];
      this.heldBytes = 0; // commits hold no bytes
      this.awaitDurableZxid = held[held.length - 1].zxid;
    }
    const snapshotNeeded = !this.writeToTxnLog;
    if (snapshotNeeded) this.awaitSnapshotZxid = this.appliedZxid;
    this.writeToTxnLog = true;
    if (snapshotNeeded) this.out.takeSnapshot(this.appliedZxid);
    for (const h of held) {
      this.out.logProposal(h.zxid, h.txn);
      this.ackAfterUpToDate.push(h.zxid);
    }
    this.maybeAckNewLeader();
  }

  private maybeAckNewLeader(): void {
    if (this.phaseNow !== 'newLeader' || this.awaitSnapshotZxid !== null) return;
    if (this.awaitDurableZxid !== null && this.durableZxid < this.awaitDurableZxid) return;
    this.awaitDurableZxid = null;
    this.currentEpoch = this.newEpoch;
    this.out.writeCurrentEpoch(this.newEpoch);
    this.send(PacketType.ACK, this.newLeaderZxid, null);
    this.phaseNow = 'synced';
  }

  private onUpToDate(): void {
    if (this.phaseNow !== 'synced') throw new ZabProtocolError(`UPTODATE in phase ${this.phaseNow} (before the NEWLEADER ACK)`);
    this.send(PacketType.ACK, this.newLeaderZxid, null);
    this.phaseNow = 'broadcast';
    if (!this.cfg.observer) {
      for (const zxid of this.ackAfterUpToDate) this.send(PacketType.ACK, BigInt(zxid), null);
      this.ackAfterUpToDate = [];
      for (const h of this.notCommitted) this.logAndAwaitAck(h.zxid, h.txn);
      for (const zxid of this.committed) {
        this.out.commit(zxid);
        this.appliedZxid = zxid;
      }
    } else {
      // Observer: each held txn whose commit came is logged and applied; others are dropped
      let c = 0;
      for (const h of this.notCommitted) {
        if (c < this.committed.length && this.committed[c] === h.zxid) {
          c++;
          this.out.inform(h.zxid, h.txn);
          this.appliedZxid = h.zxid;
        } else {
          this.out.warn(`dropping 0x${h.zxid.toString(16)} held during the sync: no commit for it`);
        }
      }
    }
    this.notCommitted = [];
    this.committed = [];
    this.heldBytes = 0;
    this.out.startServing(this.appliedZxid);
  }

  // ------------------------------------------------------------------ broadcast

  /** Follower.processPacket and Observer.processPacket: what both do, then each one's txns. */
  private onBroadcastPacket(p: QuorumPacket): void {
    switch (p.type) {
      case PacketType.PING:
        return this.answerPing(p);
      case PacketType.REVALIDATE: {
        if (p.data === null || p.data.length < 9) throw new ZabProtocolError(`REVALIDATE answer of ${p.data?.length ?? 'no'} bytes`);
        this.out.revalidated(p.data.readBigInt64BE(0), p.data[8] !== 0);
        return;
      }
      case PacketType.SYNC:
        this.out.synced();
        return;
      case PacketType.UPTODATE:
        this.out.warn('UPTODATE after the learner started');
        return;
    }
    const known = this.cfg.observer ? this.observerTxn(p) : this.followerTxn(p);
    if (!known) this.out.warn(`unknown packet ${packetTypeName(p.type)} (${p.type}) 0x${p.zxid.toString(16)}`);
  }

  /** PROPOSAL → log (ACK once durable); COMMIT → apply. False for anything else. */
  private followerTxn(p: QuorumPacket): boolean {
    if (p.type === PacketType.PROPOSAL) {
      const { zxid, txn } = this.txnOf(p, p.data, false);
      this.logAndAwaitAck(zxid, txn);
      return true;
    }
    if (p.type !== PacketType.COMMIT && p.type !== PacketType.COMMITANDACTIVATE) return false;
    this.appliedZxid = Number(p.zxid);
    this.out.commit(this.appliedZxid);
    // COMMITANDACTIVATE's data: [long designated leader] (Leader.commitAndActivate)
    if (p.type === PacketType.COMMITANDACTIVATE) this.out.activate?.(this.appliedZxid, leaderIdOf(p.data));
    return true;
  }

  /** INFORM → log and apply; PROPOSAL and COMMIT are ignored (an observer learns from INFORM only). False for anything else. */
  private observerTxn(p: QuorumPacket): boolean {
    if (p.type === PacketType.PROPOSAL || p.type === PacketType.COMMIT) return true;
    if (p.type !== PacketType.INFORM && p.type !== PacketType.INFORMANDACTIVATE) return false;
    const { zxid, txn } = this.txnOf(p, p.type === PacketType.INFORM ? p.data : afterLeaderId(p.data), false, false);
    this.appliedZxid = zxid;
    this.out.inform(zxid, txn);
    if (p.type === PacketType.INFORMANDACTIVATE) this.out.activate?.(zxid, leaderIdOf(p.data));
    return true;
  }

  /** Learner.ping: the same packet back, its data the touched sessions ([long id][int timeout]…). */
  private answerPing(p: QuorumPacket): void {
    const countMax = Math.floor((this.cfg.packetBytesMax - 64) / TOUCH_BYTES);
    const count = Math.min(this.touches.size, countMax);
    const data = Buffer.allocUnsafe(count * TOUCH_BYTES);
    let at = 0;
    for (const [id, timeoutMs] of this.touches) {
      if (at === data.length) break;
      data.writeBigInt64BE(id, at);
      data.writeInt32BE(timeoutMs, at + 8);
      this.touches.delete(id);
      at += TOUCH_BYTES;
    }
    this.out.send({ type: PacketType.PING, zxid: p.zxid, data, authinfo: p.authinfo });
  }

  private logAndAwaitAck(zxid: number, txn: Buffer): void {
    if (this.acksPendingCount >= ACKS_PENDING_MAX) throw new ZabProtocolError(`${ACKS_PENDING_MAX} proposals not yet durable: the leader is too far ahead of the log`);
    this.out.logProposal(zxid, txn);
    this.acksPending.push(zxid);
    this.sendDurableAcks(); // the shell may report durability synchronously
  }

  private sendDurableAcks(): void {
    while (this.acksPending.length > 0 && this.acksPending.peek() <= this.durableZxid) {
      this.send(PacketType.ACK, BigInt(this.acksPending.shift()), null);
    }
  }

  // ------------------------------------------------------------------ helpers

  /** The txn a PROPOSAL or INFORM carries, with the zxid of its TxnHeader (as ZooKeeper takes it). copy: for holding. */
  private txnOf(p: QuorumPacket, data: Buffer | null, copy = true, checkOrder = true): Held {
    if (data === null || data.length < TXN_HEADER_BYTES) throw new ZabProtocolError(`${packetTypeName(p.type)} with a txn of ${data?.length ?? 'no'} bytes`);
    const zxid = Number(data.readBigInt64BE(TXN_HEADER_ZXID_AT));
    if (checkOrder) this.checkOrder(zxid);
    return { zxid, txn: copy ? Buffer.from(data) : data };
  }

  /** ZooKeeper warns (only) when a txn is not the one after the last; a new epoch's first is expected too. */
  private checkOrder(zxid: number): void {
    const last = this.lastQueuedZxid;
    const newEpochFirst = zxid % 0x1_0000_0000 === 1 && zxid > last;
    if (last !== 0 && zxid !== last + 1 && !newEpochFirst) {
      this.out.warn(`got zxid 0x${zxid.toString(16)}, expected 0x${(last + 1).toString(16)}`);
    }
    this.lastQueuedZxid = zxid;
  }

  private hold(h: Held): void {
    this.bound(1, h.txn.length);
    this.notCommitted.push(h);
    this.heldBytes += h.txn.length;
  }

  private bound(packets: number, bytes: number): void {
    if (this.notCommitted.length + this.committed.length + packets > SYNC_QUEUE_PACKETS_MAX || this.heldBytes + bytes > SYNC_QUEUE_BYTES_MAX) {
      throw new ZabProtocolError(`sync holds more than ${SYNC_QUEUE_PACKETS_MAX} packets or ${SYNC_QUEUE_BYTES_MAX} bytes`);
    }
  }

  private apply(h: Held): void {
    this.out.applyTxn(h.zxid, h.txn);
    this.appliedZxid = h.zxid;
  }

  private beforeNewLeader(): boolean {
    return this.phaseNow === 'discovery' || this.phaseNow === 'syncStart' || this.phaseNow === 'snapshot' || this.phaseNow === 'sync';
  }

  private send(type: number, zxid: bigint, data: Buffer | null): void {
    this.out.send({ type, zxid, data, authinfo: null });
  }

  private fail(reason: string): void {
    if (this.phaseNow === 'failed') return;
    this.phaseNow = 'failed';
    this.snap = null;
    this.notCommitted = [];
    this.committed = [];
    this.touches = new Map();
    this.out.fail(reason);
  }
}

/** A FIFO of zxids in a ring that doubles up to a fixed capacity (no garbage per entry). */
class ZxidQueue {
  length = 0;
  private ring = new Float64Array(64);
  private head = 0;
  private readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  push(zxid: number): void {
    assert(this.length < this.capacity, `zxid queue over ${this.capacity}`);
    if (this.length === this.ring.length) {
      const bigger = new Float64Array(Math.min(this.ring.length * 2, this.capacity));
      for (let i = 0; i < this.length; i++) bigger[i] = this.ring[(this.head + i) % this.ring.length];
      this.ring = bigger;
      this.head = 0;
    }
    this.ring[(this.head + this.length) % this.ring.length] = zxid;
    this.length++;
  }

  peek(): number {
    assert(this.length > 0, 'peek of an empty zxid queue');
    return this.ring[this.head];
  }

  shift(): number {
    const zxid = this.peek();
    this.head = (this.head + 1) % this.ring.length;
    this.length--;
    return zxid;
  }
}

/** COMMITANDACTIVATE's and INFORMANDACTIVATE's designated leader (their data's first long). */
function leaderIdOf(data: Buffer | null): bigint {
  if (data === null || data.length < 8) throw new ZabProtocolError('an ACTIVATE packet without the designated leader');
  return data.readBigInt64BE(0);
}

/** INFORMANDACTIVATE's data: [long suggestedLeaderId][txn]. */
function afterLeaderId(data: Buffer | null): Buffer | null {
  return data === null || data.length < 8 ? null : data.subarray(8);
}

function isProtocolError(e: unknown): boolean {
  return e instanceof ZabProtocolError || e instanceof WireError || e instanceof RangeError;
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`zab learner: ${message}`);
}
