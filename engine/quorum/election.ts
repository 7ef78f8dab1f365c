// FastLeaderElection (ZooKeeper 3.8) as a synchronous state machine (STYLE.md §1): fed
// notifications, time and the server's own state; returns the notifications to send and,
// once, the decision. No sockets, no timers, no threads: the caller (elect.ts) moves bytes
// and calls tick() at nextDeadlineMs().
//
// What it keeps from ZooKeeper, rule by rule:
//   - votes are ordered by (peerEpoch, zxid, sid) (totalOrderPredicate);
//   - the logical clock (electionEpoch) starts a round per lookForLeader; a LOOKING vote from
//     a later round moves us to it and drops the round's votes, one from an earlier round is
//     ignored (and answered, so the laggard catches up);
//   - recvset holds this round's votes, outofelection the FOLLOWING/LEADING votes of any
//     round; a vote decides when a quorum of voters (QuorumMaj: more than half) holds an
//     equal vote (Vote.equals) and, unless it names us, the leader itself says LEADING;
//   - after a quorum agrees on our proposal we decide once finalizeWait (200 ms) passes with
//     no notification; a better vote reopens the round, any other is dropped (as in ZooKeeper);
//   - with nothing received for the notification interval we send our vote again and double
//     the interval, up to maxNotificationInterval (60 s);
//   - a server that is not LOOKING answers a LOOKING peer with the vote it decided, so a
//     restarted server learns the established leader; non-voters (observers) are always
//     answered and never counted;
//   - our own notifications come back to us through the inbox, as QuorumCnxManager loops a
//     message to itself back into its receive queue.
// Left out: dynamic reconfiguration (a config with a newer version is not acted on), the
// oracle of two-server ensembles (QuorumOracleMaj), weights (QuorumHierarchical).

import {
  NOTIFICATION_VERSION,
  SERVER_STATE_NAMES,
  ServerState,
  type Notification,
  type ServerStateCode,
} from './wire.ts';
import {
  ELECTION_INBOX_NOTIFICATIONS_MAX,
  FINALIZE_WAIT_MS,
  MAX_NOTIFICATION_INTERVAL_MS,
  MIN_NOTIFICATION_INTERVAL_MS,
} from './limits.ts';

/** Long.MIN_VALUE: what a non-voter proposes (it never becomes anyone's leader). */
const LONG_MIN = -(2n ** 63n);

/** ZooKeeper's Vote: what a server proposes or decided, as it is counted. */
export interface Vote {
  leader: bigint;
  zxid: bigint;
  electionEpoch: bigint;
  peerEpoch: bigint;
  state: ServerStateCode;
  /** The notification format version it came with (Vote.equals looks at it). */
  version: number;
}

/** The server's own durable state when it starts looking. */
export interface LocalState {
  /** QuorumPeer.getLastLoggedZxid. */
  lastLoggedZxid: bigint;
  /** QuorumPeer.getCurrentEpoch (the currentEpoch file). */
  currentEpoch: bigint;
}

export interface ElectionMembers {
  mySid: bigint;
  /** Participants; a server not among them is an observer. */
  voters: ReadonlySet<bigint>;
  /** QuorumMaj.toString() bytes, sent with every notification. */
  configBytes: Buffer;
}

export interface ElectionTiming {
  finalizeWaitMs: number;
  minNotificationIntervalMs: number;
  maxNotificationIntervalMs: number;
}

export const DEFAULT_ELECTION_TIMING: ElectionTiming = {
  finalizeWaitMs: FINALIZE_WAIT_MS,
  minNotificationIntervalMs: MIN_NOTIFICATION_INTERVAL_MS,
  maxNotificationIntervalMs: MAX_NOTIFICATION_INTERVAL_MS,
};

export type Role = 'LEADING' | 'FOLLOWING' | 'OBSERVING';

export interface Decision {
  role: Role;
  leader: bigint;
  zxid: bigint;
  electionEpoch: bigint;
  /** The epoch of the elected leader's history: the new epoch is chosen above it by Zab's discovery. */
  peerEpoch: bigint;
}

export interface OutboundNotification {
  to: bigint;
  notification: Notification;
}

/** What one call produced: notifications to send (bounded by a few per voter) and maybe the decision. */
export interface ElectionOutput {
  send: OutboundNotification[];
  decision: Decision | null;
}

interface Inbound {
  from: bigint;
  n: Notification;
}

/** Vote.equals: a LOOKING vote matches on all four fields; settled votes on the leader (and its epoch when both sides carry a version). */
export function votesEqual(a: Vote, b: Vote): boolean {
  if (a.state === ServerState.LOOKING || b.state === ServerState.LOOKING) {
    return a.leader === b.leader && a.zxid === b.zxid && a.electionEpoch === b.electionEpoch && a.peerEpoch === b.peerEpoch;
  }
  if (a.version > 0 !== b.version > 0) return a.leader === b.leader;
  return a.leader === b.leader && a.peerEpoch === b.peerEpoch;
}

/** totalOrderPredicate: is (leader, zxid, peerEpoch) a better proposal than cur? QuorumMaj gives every id weight 1. */
export function isBetterVote(
  next: { leader: bigint; zxid: bigint; peerEpoch: bigint },
  cur: { leader: bigint; zxid: bigint; peerEpoch: bigint },
): boolean {
  if (next.peerEpoch !== cur.peerEpoch) return next.peerEpoch > cur.peerEpoch;
  if (next.zxid !== cur.zxid) return next.zxid > cur.zxid;
  return next.leader > cur.leader;
}

export class FastLeaderElection {
  members: ElectionMembers;
  readonly timing: ElectionTiming;
  /** QuorumPeer's state: LOOKING until a decision, then the role decided. */
  state: ServerStateCode = ServerState.LOOKING;
  /** The round (electionEpoch) this server is in. */
  logicalClock = 0n;
  /** What this server proposes in the current round. */
  proposal: { leader: bigint; zxid: bigint; peerEpoch: bigint };
  /** QuorumPeer.currentVote: what non-voters and LOOKING peers are told once decided. */
  currentVote: Vote;
  private local: LocalState;
  private participant: boolean;
  private recvset = new Map<bigint, Vote>();
  private outOfElection = new Map<bigint, Vote>();
  private inbox: Inbound[] = [];
  private notificationIntervalMs: number;
  /** When the current wait for a notification began (recvqueue.poll's start). */
  private pollStartMs = 0;
  /** While a quorum agrees with us: when to decide if no better vote arrives. */
  private finalizeAtMs: number | null = null;
  private out: ElectionOutput = { send: [], decision: null };

  constructor(members: ElectionMembers, local: LocalState, timing: ElectionTiming = DEFAULT_ELECTION_TIMING) {
    if (members.voters.size === 0) throw new Error('election: no voters');
    if (timing.minNotificationIntervalMs <= 0 || timing.maxNotificationIntervalMs < timing.minNotificationIntervalMs) {
      throw new Error(`election: notification intervals ${timing.minNotificationIntervalMs}..${timing.maxNotificationIntervalMs} ms`);
    }
    this.members = members;
    this.timing = timing;
    this.local = local;
    this.participant = members.voters.has(members.mySid);
    this.notificationIntervalMs = timing.minNotificationIntervalMs;
    this.proposal = { leader: -1n, zxid: -1n, peerEpoch: -1n };
    // QuorumPeer.startLeaderElection
    this.currentVote = this.voteOf(members.mySid, local.lastLoggedZxid, -1n, local.currentEpoch, ServerState.LOOKING);
  }

  /**
   * QuorumPeer.setQuorumVerifier: a config activated (dynamic reconfiguration). Notifications
   * carry it from now on; the next round (lookForLeader) counts its voters.
   */
  reconfigure(members: ElectionMembers): void {
    if (members.voters.size === 0 || members.mySid !== this.members.mySid) throw new Error('election: a new config without voters, or for another server');
    this.members = members;
    this.participant = members.voters.has(members.mySid);
  }

  /** lookForLeader: start a round (at start, and whenever the server becomes LOOKING again). */
  lookForLeader(nowMs: number, local: LocalState = this.local): ElectionOutput {
    this.begin();
    this.local = local;
    this.state = ServerState.LOOKING;
    this.recvset.clear();
    this.outOfElection.clear();
    this.inbox.length = 0;
    this.finalizeAtMs = null;
    this.notificationIntervalMs = this.timing.minNotificationIntervalMs;
    this.pollStartMs = nowMs;
    this.logicalClock++;
    this.proposal = this.initialProposal();
    this.sendNotifications();
    this.drain(nowMs);
    return this.out;
  }

  /** A notification from sid arrived (WorkerReceiver.run, then the main loop). */
  receive(nowMs: number, from: bigint, n: Notification): ElectionOutput {
    this.begin();
    if (!this.members.voters.has(from)) {
      // a non-voter (observer) is answered at once and never counted
      this.reply(from, this.currentVote, this.logicalClock);
      return this.out;
    }
    if (n.state < ServerState.LOOKING || n.state > ServerState.OBSERVING) return this.out;
    if (this.state === ServerState.LOOKING) {
      this.enqueue(from, n);
      if (n.state === ServerState.LOOKING && n.electionEpoch < this.logicalClock) {
        // the sender is in an earlier round: tell it ours
        this.reply(from, this.proposal, this.logicalClock);
      }
      this.drain(nowMs);
    } else if (n.state === ServerState.LOOKING) {
      // decided already: tell a LOOKING peer whom we follow (or that we lead)
      this.reply(from, this.currentVote, this.currentVote.electionEpoch);
    }
    return this.out;
  }

  /** Time passed: decide after finalizeWait, or send our vote again after a silent interval. */
  tick(nowMs: number): ElectionOutput {
    this.begin();
    if (this.state !== ServerState.LOOKING) return this.out;
    if (this.finalizeAtMs !== null) {
      if (nowMs >= this.finalizeAtMs) this.decide(this.proposal.leader, this.proposalVote());
      return this.out;
    }
    if (nowMs >= this.pollStartMs + this.notificationIntervalMs) {
      this.sendNotifications();
      this.notificationIntervalMs = Math.min(this.notificationIntervalMs * 2, this.timing.maxNotificationIntervalMs);
      this.pollStartMs = nowMs;
      this.drain(nowMs);
    }
    return this.out;
  }

  /** When tick() has something to do; null once decided. */
  nextDeadlineMs(): number | null {
    if (this.state !== ServerState.LOOKING) return null;
    return this.finalizeAtMs ?? this.pollStartMs + this.notificationIntervalMs;
  }

  /** QuorumPeer.updateElectionVote: Zab's discovery settled a new epoch; LOOKING peers are told it. */
  updateElectionVotePeerEpoch(peerEpoch: bigint): void {
    this.currentVote = { ...this.currentVote, peerEpoch };
  }

  // -------------------------------------------------------------------------------
  // the main loop (lookForLeader's while loop over recvqueue)

  private drain(nowMs: number): void {
    let handled = 0;
    while (this.state === ServerState.LOOKING && this.inbox.length > 0) {
      if (++handled > ELECTION_INBOX_NOTIFICATIONS_MAX) throw new Error('election: the inbox keeps refilling (a loopback loop)');
      const { from, n } = this.inbox.shift()!;
      if (this.finalizeAtMs !== null) {
        // finalizeWait: only a better vote reopens the round; any other is dropped and the
        // wait starts again (ZooKeeper polls for finalizeWait once per notification)
        if (!isBetterVote(n, this.proposal)) {
          this.finalizeAtMs = nowMs + this.timing.finalizeWaitMs;
          continue;
        }
        this.finalizeAtMs = null;
      }
      this.pollStartMs = nowMs;
      this.handle(nowMs, from, n);
    }
  }

  private handle(nowMs: number, from: bigint, n: Notification): void {
    if (!this.members.voters.has(from) || !this.members.voters.has(n.leader)) return;
    switch (n.state) {
      case ServerState.LOOKING:
        this.handleLooking(nowMs, from, n);
        return;
      case ServerState.FOLLOWING:
      case ServerState.LEADING:
        this.handleSettled(from, n);
        return;
      default:
        return; // OBSERVING: observers' votes do not count
    }
  }

  private handleLooking(nowMs: number, from: bigint, n: Notification): void {
    if (this.initialProposal().zxid === -1n || n.zxid === -1n) return;
    if (n.electionEpoch > this.logicalClock) {
      this.logicalClock = n.electionEpoch;
      this.recvset.clear();
      const mine = this.initialProposal();
      this.proposal = isBetterVote(n, mine) ? { leader: n.leader, zxid: n.zxid, peerEpoch: n.peerEpoch } : mine;
      this.sendNotifications();
    } else if (n.electionEpoch < this.logicalClock) {
      return;
    } else if (isBetterVote(n, this.proposal)) {
      this.proposal = { leader: n.leader, zxid: n.zxid, peerEpoch: n.peerEpoch };
      this.sendNotifications();
    }
    this.recvset.set(from, this.voteOf(n.leader, n.zxid, n.electionEpoch, n.peerEpoch, ServerState.LOOKING));
    if (this.hasQuorum(this.recvset, this.proposalVote())) this.finalizeAtMs = nowMs + this.timing.finalizeWaitMs;
  }

  /** receivedFollowingNotification (LEADING is the same for QuorumMaj: no oracle). */
  private handleSettled(from: bigint, n: Notification): void {
    const state = n.state as ServerStateCode;
    const settled: Vote = { leader: n.leader, zxid: n.zxid, electionEpoch: n.electionEpoch, peerEpoch: n.peerEpoch, state, version: n.version };
    const decided: Vote = { ...settled, state: ServerState.LOOKING, version: 0 };
    if (n.electionEpoch === this.logicalClock) {
      this.recvset.set(from, { ...settled, version: 0 });
      if (this.hasQuorum(this.recvset, settled) && this.leaderConfirmed(this.recvset, n.leader, n.electionEpoch)) {
        this.decide(n.leader, decided);
        return;
      }
    }
    // joining an established ensemble: a quorum follows this leader, whatever their rounds
    this.outOfElection.set(from, settled);
    if (this.hasQuorum(this.outOfElection, settled) && this.leaderConfirmed(this.outOfElection, n.leader, n.electionEpoch)) {
      this.logicalClock = n.electionEpoch;
      this.decide(n.leader, decided);
    }
  }

  /** SyncedLearnerTracker over QuorumMaj: more than half of the voters hold a vote equal to `vote`. */
  private hasQuorum(votes: ReadonlyMap<bigint, Vote>, vote: Vote): boolean {
    let acks = 0;
    for (const [sid, v] of votes) if (this.members.voters.has(sid) && votesEqual(vote, v)) acks++;
    return acks > Math.floor(this.members.voters.size / 2);
  }

  /** checkLeader: a leader other than us must itself say LEADING; we lead only in our own round. */
  private leaderConfirmed(votes: ReadonlyMap<bigint, Vote>, leader: bigint, electionEpoch: bigint): boolean {
    if (leader !== this.members.mySid) return votes.get(leader)?.state === ServerState.LEADING;
    return this.logicalClock === electionEpoch;
  }

  private decide(leader: bigint, endVote: Vote): void {
    this.state = leader === this.members.mySid ? ServerState.LEADING : this.participant ? ServerState.FOLLOWING : ServerState.OBSERVING;
    this.currentVote = endVote;
    this.finalizeAtMs = null;
    this.inbox.length = 0; // leaveInstance
    this.out.decision = {
      role: SERVER_STATE_NAMES[this.state] as Role,
      leader,
      zxid: endVote.zxid,
      electionEpoch: endVote.electionEpoch,
      peerEpoch: endVote.peerEpoch,
    };
  }

  // -------------------------------------------------------------------------------
  // sending

  /** To every voter; the copy to ourselves comes back through the inbox. */
  private sendNotifications(): void {
    const n = this.notification(this.proposal, this.logicalClock);
    for (const sid of this.members.voters) {
      if (sid === this.members.mySid) this.enqueue(sid, n);
      else this.out.send.push({ to: sid, notification: n });
    }
  }

  private reply(to: bigint, vote: { leader: bigint; zxid: bigint; peerEpoch: bigint }, electionEpoch: bigint): void {
    const n = this.notification(vote, electionEpoch);
    if (to === this.members.mySid) this.enqueue(to, n);
    else this.out.send.push({ to, notification: n });
  }

  /** Our notifications carry our state (not the vote's): LOOKING while looking, the role after. */
  private notification(vote: { leader: bigint; zxid: bigint; peerEpoch: bigint }, electionEpoch: bigint): Notification {
    return {
      state: this.state,
      leader: vote.leader,
      zxid: vote.zxid,
      electionEpoch,
      peerEpoch: vote.peerEpoch,
      version: NOTIFICATION_VERSION,
      config: this.members.configBytes,
    };
  }

  private enqueue(from: bigint, n: Notification): void {
    if (this.inbox.length >= ELECTION_INBOX_NOTIFICATIONS_MAX) throw new Error(`election: inbox over ${ELECTION_INBOX_NOTIFICATIONS_MAX}`);
    this.inbox.push({ from, n });
  }

  // -------------------------------------------------------------------------------

  private begin(): void {
    this.out = { send: [], decision: null };
  }

  /** getInitId / getInitLastLoggedZxid / getPeerEpoch: an observer proposes nobody. */
  private initialProposal(): { leader: bigint; zxid: bigint; peerEpoch: bigint } {
    if (!this.participant) return { leader: LONG_MIN, zxid: LONG_MIN, peerEpoch: LONG_MIN };
    return { leader: this.members.mySid, zxid: this.local.lastLoggedZxid, peerEpoch: this.local.currentEpoch };
  }

  private proposalVote(): Vote {
    const p = this.proposal;
    return this.voteOf(p.leader, p.zxid, this.logicalClock, p.peerEpoch, ServerState.LOOKING);
  }

  private voteOf(leader: bigint, zxid: bigint, electionEpoch: bigint, peerEpoch: bigint, state: ServerStateCode): Vote {
    return { leader, zxid, electionEpoch, peerEpoch, state, version: 0 };
  }
}
