// Quorum worker (ensembles only): owns the election port and, while it leads or follows,
// the quorum port, and joins them to the pipeline by two rings (engine/rings/quorum-ring.ts,
// docs/ensemble.md). A shell around pure machines: FastLeaderElection (election.ts) over
// QuorumCnxManager, ZabLeader over ZabLeaderShell, ZabLearner over LearnerShell. What it
// adds is the role's life:
//
//   looking ──decision──► leading   ZabLeader: discovery, sync, established ──LEAD──► pipeline serves
//      ▲                  following ZabLearner: FOLLOW ──► pipeline; sync effects; SERVE at UPTODATE
//      │                      │
//      └── RELOADED ◄── LEAVE ┘  a step-down, a lost leader, a failed sync: the pipeline closes its
//                                clients, reloads from disk, and says how far its log goes
//
// The election's starting state is the pipeline's last logged zxid (recovery, or RELOADED) and
// the currentEpoch file. The log worker's durable zxid (a shared word; the log worker rings
// this thread's bell too) is what a learner ACKs; on a leader the pipeline counts it itself.
//
// A learner's sync by SNAP or TRUNC builds the synced tree here (the SNAP stream decoded, or
// the truncated log loaded), applies what the leader commits during the sync, writes it as a
// snapshot at NEWLEADER and tells the pipeline to load it (RELOAD): the disk is the channel,
// and the pipeline's reload is the one it uses for every role change. A TRUNC first goes
// through the pipeline to the log worker (TRUNCATE/TRUNCATED); the learner's effects wait in
// order until it is done.
import { workerData, parentPort } from 'node:worker_threads';
import { awaitStart } from './start-gate.ts';
import { trace } from '../startup-trace.ts';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { type Topology, attachBell, attachQuorumStats, attachRing, wordsOf } from '../rings/topology.ts';
import { ProposalTimes, ackHistogramName, quorumRecorders, txnHeaderTimeMs } from '../ops/quorumstats.ts';
import { sharedClockMs, type Histogram } from '../ops/stagestats.ts';
import {
  FromQuorum, QuorumWord, ToQuorum, decodeToQuorum, type FromQuorumMessage, type ToQuorumMessage,
} from '../rings/quorum-ring.ts';
import { CONTROL_DURABLE_ZXID } from '../records.ts';
import { createLogger } from '../logger.ts';
import type { OptionsFor } from '../config.ts';
import { QuorumCnxManager } from '../quorum/cnxmanager.ts';
import { DEFAULT_ELECTION_TIMING, FastLeaderElection, type Decision, type ElectionOutput, type LocalState } from '../quorum/election.ts';
import { quorumViewOf, electionAddressOf } from '../quorum/view.ts';
import { EnsembleConfig, LeaderConfigs, LearnerConfigs } from '../quorum/ensemble-config.ts';
import type { QuorumConfig } from '../quorum/dynamic-config.ts';
import { WireError, decodeNotification, encodeNotification, ServerState, type PeerAddress } from '../quorum/wire.ts';
import { ZabLeader } from '../quorum/zab-leader.ts';
import { ZabLeaderShell, type LearnerConnectionInfo } from '../quorum/zab-leader-shell.ts';
import { epochOf } from '../quorum/zab-learner-handler.ts';
import { LearnerShell } from '../quorum/zab-learner-shell.ts';
import type { ZabLearnerOutputs } from '../quorum/zab-learner.ts';
import type { Pipeline } from '../core/pipeline.ts';
import { TreeLoader, writeSnapshotNow } from '../persistence/snapshot.ts';
import { recoverState, stateHolder } from '../persistence/recovery.ts';
import { CommittedReplica } from '../persistence/committed-replica.ts';
import { loadEpochs as loadPersistedEpochs, writeEpochFile } from '../persistence/epochs.ts';
import { TxnHistory } from '../persistence/txn-history.ts';
import { ELECTION_BIND_RETRY_MS, EXIT_UNABLE_TO_BIND_QUORUM_PORT, PIPELINE_BACKLOG_BYTES_MAX, PROPOSAL_TIMES_MAX } from '../quorum/limits.ts';
import { COMMIT_LOG_COUNT, SNAPSHOT_SIZE_FACTOR } from '../quorum/zab-leader-limits.ts';
import { PeerTransport, connectToLeader, type PeerTlsOptions } from '../quorum/peer-transport.ts';
import { QuorumOutbox } from '../rings/quorum-outbox.ts';
import { authenticateToPeer, closeRefused, quorumAuthOf } from '../quorum/quorum-auth-shell.ts';

export interface QuorumWorkerData {
  /** The config fields the schema gives the quorum worker (servers, myid, tickTime, initLimit, syncLimit, ...). */
  config: OptionsFor<'quorum'>;
  topology: Topology;
  /** dataDir/version-2 and dataLogDir/version-2. */
  snapDir: string;
  logDir: string;
  txnBytesMax: number;
  /** sslQuorum / portUnification with the ssl.quorum.* stores read (engine/security/tls.ts); null: plain TCP. */
  peerTls: PeerTlsOptions | null;
}

const data = workerData as QuorumWorkerData;
trace('quorum worker loaded');
/** The newest zxid the pipeline recovered (snapshot + whole log): the first election's last logged zxid. */
const { lastZxid: recoveredZxid } = await awaitStart();
const cfg = data.config;
if (cfg.myid === null) throw new Error('quorum worker: an ensemble server needs a myid');
const myid = cfg.myid;
const log = createLogger('quorum');
const topology = data.topology;
const bell = attachBell(topology, 'quorum');
const fromPipeline = attachRing(topology, 'quorum/in', 'quorum');
const toPipelineRing = attachRing(topology, 'quorum/out', 'quorum');
const control64 = new BigInt64Array(wordsOf(topology, 'control'));
const words = new Int32Array(wordsOf(topology, 'quorum-words'));
const ensemble = new EnsembleConfig({
  myid, servers: cfg.servers, version: cfg.configVersion,
  reconfigEnabled: cfg.reconfigEnabled, configPath: cfg.configPath, log: (m) => log.info(m),
});
let view = quorumViewOf(ensemble.active.members, myid, ensemble.active.version);
let voters = ensemble.voters();
const me = cfg.servers.get(myid)!;
const bindHost = cfg.quorumListenOnAllIPs ? '0.0.0.0' : me.host;
const packetBytesMax = cfg.juteMaxBufferBytes + cfg.juteMaxBufferExtraBytes;
const timing = { tickMs: cfg.tickTimeMs, initLimit: cfg.initLimit, syncLimit: cfg.syncLimit };

// ---------------------------------------------------------------- metrics (engine/ops/quorumstats.ts)

const qstats = attachQuorumStats(topology);
const { counters, summaries: metrics } = quorumRecorders(qstats);
const { PROPOSAL_COUNT, COMMIT_COUNT, LEARNER_PROPOSALS, LEARNER_COMMITS, DIFF_COUNT, SNAP_COUNT, LOOKING_COUNT, LEADER_STARTED_MS, LEADER_SID, QUORUM_SIZE } = counters;
/** Per follower: its ACK's delay after the PROPOSAL (zooid's own metric). */
const ackUsBySid = new Map<number, Histogram>();
for (const sid of topology.quorumSids) ackUsBySid.set(sid, qstats.histogram(ackHistogramName(sid)));
/** When the recent proposals were proposed (leader) or received (learner), for the latencies above. */
const proposalTimes = new ProposalTimes(PROPOSAL_TIMES_MAX);
/** Since the first LOOKING not yet followed by broadcast (QuorumPeer.unavailableStartTime); 0: available. */
let unavailableSinceMs = 0;
qstats.set(QUORUM_SIZE, voters.length);
qstats.set(LEADER_SID, -1);

/** The peer serves (broadcast): the time it was unavailable ends (QuorumPeer.setZabState(BROADCAST)). */
function noteAvailable(leader: boolean): void {
  if (unavailableSinceMs === 0) return;
  const ms = performance.now() - unavailableSinceMs;
  metrics.unavailableTime.observe(ms);
  if (leader) metrics.leaderUnavailableTime.observe(ms);
  unavailableSinceMs = 0;
}

// ---------------------------------------------------------------- the pipeline's rings

const outbox = new QuorumOutbox(toPipelineRing, PIPELINE_BACKLOG_BYTES_MAX);
const toPipeline = (m: FromQuorumMessage): void => outbox.send(m);

function durableZxid(): number {
  return Number(Atomics.load(control64, CONTROL_DURABLE_ZXID));
}

// ---------------------------------------------------------------- election

let lastLoggedZxid = recoveredZxid;
/** The epoch files (QuorumPeer.loadDataBase's rules: made from the last zxid when missing). */
function loadEpochs(lastZxid: number): { acceptedEpoch: number; currentEpoch: number } {
  return loadPersistedEpochs(data.snapDir, lastZxid, (m) => log.info(m));
}
let epochs = loadEpochs(lastLoggedZxid);

function localState(): LocalState {
  return { lastLoggedZxid: BigInt(lastLoggedZxid), currentEpoch: BigInt(epochs.currentEpoch) };
}

const election = new FastLeaderElection(view, localState(), DEFAULT_ELECTION_TIMING);
/** The election and quorum connections: plain, TLS (sslQuorum) or both (portUnification). */
const peerTransport = new PeerTransport(data.peerTls);
/** Quorum SASL on those connections (quorum.auth.*), after TLS. */
const quorumAuth = quorumAuthOf(cfg.quorumSasl);
if (cfg.quorumSasl !== null) {
  const q = cfg.quorumSasl;
  log.info('quorum SASL (DIGEST-MD5)', {
    learnerRequireSasl: q.learnerRequired, serverRequireSasl: q.serverRequired, jaasFile: q.jaasFile,
    peers: `${q.users.size} users in ${q.serverSection}`, identity: q.learner === null ? 'none' : `${q.learner.username} from ${q.learnerSection}`,
  });
}
const peers = new Map<bigint, PeerAddress>();
for (const sid of view.members.keys()) if (sid !== view.mySid) peers.set(sid, electionAddressOf(view, sid)!);
const cnx = new QuorumCnxManager({
  mySid: view.mySid,
  listenAddress: electionAddressOf(view, view.mySid)!,
  bindHost: cfg.quorumListenOnAllIPs ? '0.0.0.0' : undefined,
  peers,
  onMessage: onNotification,
  log,
  connectTimeoutMs: cfg.cnxTimeoutMs,
  handshakeTimeoutMs: cfg.tickTimeMs * cfg.syncLimit,
  transport: peerTransport,
  auth: quorumAuth,
});
let electionTimer: NodeJS.Timeout | null = null;
let electionStartedMs = 0;

/**
 * Notifications that came while the pipeline reloads between roles, the newest per peer (so at
 * most one per server line): the next round takes them. ZooKeeper's peer is LOOKING by then and
 * queues them; dropped, a peer that went LOOKING first (its vote the best) was not heard until it
 * sent again, and the others could settle on a worse leader that never got a quorum (initLimit lost).
 */
const heldNotifications = new Map<bigint, Buffer>();

function onNotification(from: bigint, message: Buffer): void {
  if (stopping) return;
  // between a role and the next election the decided vote is stale: say nothing rather than
  // tell LOOKING peers this server still leads or follows (the next round announces itself)
  if (phase === 'reloading') {
    if (view.members.has(from)) heldNotifications.set(from, Buffer.from(message));
    return;
  }
  let n;
  try {
    n = decodeNotification(message);
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    log.warn('skipping a malformed notification', { sid: String(from), error: e.message });
    return;
  }
  const newer = phase === 'looking' ? ensemble.fromNotification(n.config) : null;
  if (newer !== null) {
    log.info(`server ${from}'s notification carries config version ${newer.version.toString(16)}: electing again over it`);
    activateConfig(newer);
    return lookForLeader();
  }
  applyElection(election.receive(performance.now(), from, n));
}

function applyElection(out: ElectionOutput): void {
  for (const { to, notification } of out.send) cnx.toSend(to, encodeNotification(notification));
  if (out.decision !== null && phase === 'looking') startRole(out.decision);
  if (electionTimer !== null) clearTimeout(electionTimer);
  electionTimer = null;
  const deadline = election.nextDeadlineMs();
  if (deadline === null || stopping) return;
  electionTimer = setTimeout(() => {
    electionTimer = null;
    applyElection(election.tick(performance.now()));
  }, Math.max(0, Math.ceil(deadline - performance.now())));
}

function lookForLeader(): void {
  phase = 'looking';
  publish();
  if (ensemble.removed) return void log.warn(`not in config version ${ensemble.active.version.toString(16)}: removed from the ensemble, not serving`);
  armReadOnly();
  electionStartedMs = performance.now();
  if (unavailableSinceMs === 0) unavailableSinceMs = electionStartedMs;
  qstats.add(LOOKING_COUNT, 1);
  qstats.set(LEADER_SID, -1);
  log.info(`looking for a leader: last zxid 0x${lastLoggedZxid.toString(16)}, current epoch ${epochs.currentEpoch}`);
  applyElection(election.lookForLeader(performance.now(), localState()));
  const held = [...heldNotifications];
  heldNotifications.clear();
  for (const [from, message] of held) onNotification(from, message);
}

// ---------------------------------------------------------------- read-only mode

/** QuorumPeer's grace before a LOOKING server takes itself for partitioned: max(2 s, tickTime). */
const READ_ONLY_GRACE_MS = Math.max(2_000, cfg.tickTimeMs);
let readOnlyTimer: NodeJS.Timeout | null = null;
/** READ_ONLY on was sent to the pipeline and off not yet. */
let readOnlyServing = false;

/**
 * readonlymode.enabled: an election still undecided after the grace has the pipeline serve
 * read-only clients (QuorumPeer's LOOKING case starting its ReadOnlyZooKeeperServer).
 */
function armReadOnly(): void {
  if (!cfg.readonlyModeEnabled || readOnlyServing) return;
  if (readOnlyTimer !== null) clearTimeout(readOnlyTimer);
  readOnlyTimer = setTimeout(() => {
    readOnlyTimer = null;
    if (phase !== 'looking' || stopping || readOnlyServing) return;
    readOnlyServing = true;
    log.info(`no leader for ${READ_ONLY_GRACE_MS} ms: serving read-only clients until an election decides`);
    toPipeline({ kind: FromQuorum.READ_ONLY, on: true });
  }, READ_ONLY_GRACE_MS);
}

/** An election decided (or the server stops): read-only mode ends before the role starts, its clients are closed. */
function disarmReadOnly(): void {
  if (readOnlyTimer !== null) clearTimeout(readOnlyTimer);
  readOnlyTimer = null;
  if (!readOnlyServing) return;
  readOnlyServing = false;
  log.info('read-only mode ends: its client connections are closed');
  toPipeline({ kind: FromQuorum.READ_ONLY, on: false });
}

// ---------------------------------------------------------------- dynamic reconfiguration (engine/quorum/ensemble-config.ts)

/** The config this server runs becomes the pipeline's /zookeeper/config (ZKDatabase.initConfigInZKDatabase). */
function tellPipelineConfig(): void {
  toPipeline({ kind: FromQuorum.CONFIG, version: ensemble.active.version, text: ensemble.text() });
}

/** QuorumPeer.processReconfig: a newer config runs from now on (its files, /zookeeper/config, the next election's view). */
function activateConfig(c: QuorumConfig): void {
  if (!ensemble.activate(c)) return;
  voters = ensemble.voters();
  qstats.set(QUORUM_SIZE, voters.length);
  tellPipelineConfig();
  if (ensemble.removed) return;
  view = quorumViewOf(c.members, myid, c.version);
  for (const sid of [...peers.keys()]) if (!view.members.has(sid)) peers.delete(sid);
  for (const sid of view.members.keys()) if (sid !== view.mySid) peers.set(sid, electionAddressOf(view, sid)!);
  election.reconfigure(view);
}

// ---------------------------------------------------------------- roles

/** looking: electing; reloading: LEAVE sent, waiting for RELOADED; leading/following: a role is running. */
let phase: 'looking' | 'reloading' | 'leading' | 'following' = 'looking';
let leading: LeaderRun | null = null;
let following: LearnerRun | null = null;
let stopping = false;

function startRole(d: Decision): void {
  disarmReadOnly();
  const ms = (performance.now() - electionStartedMs).toFixed(0);
  log.info(`elected in ${ms} ms: ${d.role}, leader ${d.leader}, round ${d.electionEpoch}, peer epoch ${d.peerEpoch}`);
  // Leader.lead and Follower.followLeader count the election (an Observer does not)
  if (d.role !== 'OBSERVING') metrics.electionTime.observe(performance.now() - electionStartedMs);
  qstats.set(LEADER_SID, Number(d.leader));
  proposalTimes.clear();
  epochs = loadEpochs(lastLoggedZxid);
  if (d.role === 'LEADING') {
    phase = 'leading';
    leading = new LeaderRun();
  } else {
    phase = 'following';
    following = new LearnerRun(Number(d.leader), d.role === 'OBSERVING');
  }
  publish();
}

/** The role is over: close its sockets, have the pipeline close its clients and reload, then elect again. */
function endRole(reason: string): void {
  if (phase !== 'leading' && phase !== 'following') return;
  log.warn(`leaving the ${phase === 'leading' ? 'leader' : 'learner'} role: ${reason}`);
  closeRole();
  phase = 'reloading';
  publish();
  toPipeline({ kind: FromQuorum.LEAVE });
}

function closeRole(): void {
  qstats.set(LEADER_STARTED_MS, 0);
  leading?.close();
  following?.close();
  leading = null;
  following = null;
}

function onPipeline(m: ToQuorumMessage): void {
  if (m.kind === ToQuorum.RELOADED) {
    // answers LEAVE; unasked, the pipeline left its role itself (its learner lost step with the leader)
    if (phase === 'leading' || phase === 'following') {
      log.warn('the pipeline left its role');
      closeRole();
    }
    lastLoggedZxid = m.lastZxid;
    epochs = loadEpochs(lastLoggedZxid);
    if (!stopping) lookForLeader();
    return;
  }
  // anything else belongs to the role that sent it; between roles it is stale
  if (leading !== null) leading.fromPipeline(m);
  else if (following !== null) following.fromPipeline(m);
}

/** What mntr and srvr show (engine/rings/quorum-ring.ts QuorumWord). */
function publish(): void {
  let peerState: number = ServerState.LOOKING;
  let zab = 0;
  let sync = 0;
  let learners = 0;
  let syncedFollowers = 0;
  let syncedObservers = 0;
  if (leading !== null) {
    peerState = ServerState.LEADING;
    const p = leading.zab.phase;
    zab = p === 'broadcast' ? 3 : p === 'newLeader' ? 2 : 1;
    for (const l of leading.zab.learners()) {
      learners++;
      if (l.phase === 'broadcast' && l.observer) syncedObservers++;
      else if (l.phase === 'broadcast') syncedFollowers++;
    }
  } else if (following !== null) {
    peerState = following.observer ? ServerState.OBSERVING : ServerState.FOLLOWING;
    const p = following.phase();
    zab = p === 'broadcast' ? 3 : p === 'discovery' || p === 'syncStart' || p === 'connecting' ? 1 : 2;
    const t = following.syncType();
    sync = t === 'DIFF' ? 1 : t === 'SNAP' ? 2 : t === 'TRUNC' ? 3 : 0;
  }
  Atomics.store(words, QuorumWord.PEER_STATE, peerState);
  Atomics.store(words, QuorumWord.ZAB_STATE, zab);
  Atomics.store(words, QuorumWord.SYNC_MODE, zab === 3 ? 0 : sync);
  Atomics.store(words, QuorumWord.LEARNERS, learners);
  Atomics.store(words, QuorumWord.SYNCED_FOLLOWERS, syncedFollowers);
  Atomics.store(words, QuorumWord.SYNCED_OBSERVERS, syncedObservers);
  if (leading !== null && leading.zab.phase === 'broadcast') leading.tellSynced();
}

/** Leading: ZabLeader on the quorum port, the committed replica for SNAPs, the pipeline's seam. */
class LeaderRun {
  readonly zab: ZabLeader;
  private readonly shell: ZabLeaderShell;
  private readonly replica: CommittedReplica;
  /** Proposals not yet committed, oldest first: the replica takes them at COMMIT. */
  private proposed: { zxid: number; txn: Buffer }[] = [];
  private closed = false;
  /** ACKs heard in this task, the newest zxid per follower (noteAck). */
  private readonly acks = new Map<number, number>();
  private acksQueued = false;
  private readonly configs = new LeaderConfigs(ensemble);
  /** The synced followers the pipeline was last told (LEARNERS). */
  private syncedTold = '';

  constructor() {
    this.replica = CommittedReplica.fromDisk({ snapDir: data.snapDir, logDir: data.logDir, txnBytesMax: data.txnBytesMax, warn: (w) => log.warn(w) });
    if (this.replica.lastZxid !== lastLoggedZxid) log.warn(`the committed replica loaded zxid 0x${this.replica.lastZxid.toString(16)}, the pipeline 0x${lastLoggedZxid.toString(16)}`);
    this.zab = new ZabLeader({
      mySid: myid, voters, timing, acceptedEpoch: epochs.acceptedEpoch, currentEpoch: epochs.currentEpoch,
      lastZxid: this.replica.lastZxid, configBytes: view.configBytes, configVersion: view.version,
      // a learner behind gets a DIFF from the txn log files when they are small enough (ZKDatabase.getProposalsFromTxnLog)
      history: new TxnHistory(data.logDir, {
        snapDir: data.snapDir, committedLogMax: COMMIT_LOG_COUNT, snapshotSizeFactor: SNAPSHOT_SIZE_FACTOR, txnBytesMax: data.txnBytesMax, warn: (w) => log.warn(w),
      }),
    });
    this.shell = new ZabLeaderShell(this.zab, {
      host: bindHost, port: me.quorumPort, log, packetBytesMax, transport: peerTransport,
      auth: quorumAuth.server, authTimeoutMs: cfg.initLimit * cfg.tickTimeMs,
      hooks: {
        snapshot: (zxid) => {
          if (zxid !== this.replica.lastZxid) throw new Error(`SNAP at 0x${zxid.toString(16)}, the committed replica is at 0x${this.replica.lastZxid.toString(16)}`);
          return this.replica.serialize();
        },
        acceptedEpoch: (epoch) => {
          writeEpochFile(data.snapDir, 'acceptedEpoch', epoch);
          this.zab.configBytes = this.configs.epochDecided(epoch) ?? this.zab.configBytes;
        },
        currentEpoch: (epoch) => {
          writeEpochFile(data.snapDir, 'currentEpoch', epoch);
          epochs = { acceptedEpoch: Math.max(epochs.acceptedEpoch, epoch), currentEpoch: epoch };
          election.updateElectionVotePeerEpoch(BigInt(epoch));
        },
        established: (zxid) => {
          log.info(`leading epoch ${epochOf(zxid)}: a quorum acknowledged NEWLEADER; serving`);
          qstats.set(LEADER_STARTED_MS, sharedClockMs(performance.timeOrigin, performance.now()));
          noteAvailable(true);
          const config = this.configs.established();
          if (config !== null) activateConfig(config);
          else tellPipelineConfig();
          this.zab.activated(voters, Buffer.from(ensemble.text(), 'utf8'), ensemble.active.version);
          toPipeline({ kind: FromQuorum.LEAD, zxid, voters });
          publish();
        },
        stepDown: (reason) => queueMicrotask(() => endRole(reason)),
        ack: (sid, zxid) => this.noteAck(sid, zxid),
        syncProgress: (_sid, kind, inflight, ended) => {
          // LearnerHandler: counted when it begins; the syncs in progress sampled when one begins and ends
          if (!ended) qstats.add(kind === 'SNAP' ? SNAP_COUNT : DIFF_COUNT, 1);
          (kind === 'SNAP' ? metrics.inflightSnap : metrics.inflightDiff).observe(inflight);
          // a learner synced (UPTODATE is on its way): mntr's zk_synced_followers counts it before it can serve
          if (ended) publish();
        },
        request: (sid, sessionId, cxid, type, record, authIds) => toPipeline({ kind: FromQuorum.LEARNER_REQUEST, sid, sessionId, cxid, type, record, authIds }),
        touch: (_sid, touches) => toPipeline({ kind: FromQuorum.TOUCH_SESSIONS, touches }),
        revalidate: (sid, sessionId, timeoutMs) => toPipeline({ kind: FromQuorum.REVALIDATE_SESSION, sid, sessionId, timeoutMs }),
      },
    });
    this.shell.listen().then(() => {
      if (this.closed) return;
      log.info(`leading: accepting learners on ${bindHost}:${me.quorumPort}`);
      this.shell.start();
      publish();
    }, (err: Error) => queueMicrotask(() => endRole(`cannot listen on the quorum port ${me.quorumPort}: ${err.message}`)));
  }

  /**
   * A follower's ACK, passed on once per task with its newest zxid: an ACK says everything up
   * to its zxid is durable there (a learner acks in order), so the commit stage needs only the
   * last of a burst — one ring record and one quorum count instead of one per proposal.
   */
  private noteAck(sid: number, zxid: number): void {
    const proposedMs = proposalTimes.timeOf(zxid);
    if (!Number.isNaN(proposedMs)) ackUsBySid.get(sid)?.observe((performance.now() - proposedMs) * 1000);
    const before = this.acks.get(sid);
    if (before === undefined || zxid > before) this.acks.set(sid, zxid);
    if (this.acksQueued) return;
    this.acksQueued = true;
    queueMicrotask(this.passAcks);
  }

  private readonly passAcks = (): void => {
    this.acksQueued = false;
    if (!this.closed) for (const [sid, zxid] of this.acks) toPipeline({ kind: FromQuorum.ACK, sid, zxid });
    this.acks.clear();
  };

  fromPipeline(m: ToQuorumMessage): void {
    const now = this.zab.phase;
    switch (m.kind) {
      case ToQuorum.PROPOSE:
        if (now !== 'broadcast') return; // the role is ending: the pipeline has not heard yet
        qstats.add(PROPOSAL_COUNT, 1);
        proposalTimes.push(m.zxid, performance.now());
        this.proposed.push({ zxid: m.zxid, txn: m.txn });
        this.noteReconfig(m.zxid, m.txn);
        this.shell.proposed(m.zxid, m.txn);
        return;
      case ToQuorum.COMMIT: {
        // the replica first: a SNAP streamed from here on holds this commit
        let i = 0;
        while (i < this.proposed.length && this.proposed[i].zxid <= m.zxid) {
          this.replica.apply(this.proposed[i].zxid, this.proposed[i].txn);
          i++;
        }
        this.proposed = i === this.proposed.length ? [] : this.proposed.slice(i);
        qstats.add(COMMIT_COUNT, i);
        proposalTimes.committedUpTo(m.zxid, performance.now(), metrics.quorumAck);
        if (now === 'broadcast') this.shell.committed(m.zxid);
        this.activateReconfig(this.configs.committed(m.zxid));
        return;
      }
      case ToQuorum.SYNCED:
        return this.shell.synced(m.sid);
      case ToQuorum.REVALIDATE_ANSWER:
        return this.shell.revalidated(m.sid, m.sessionId, m.valid);
      default:
        return;
    }
  }

  /** Leader.propose of a reconfig: its commit will activate the config it proposes (COMMITANDACTIVATE). */
  private noteReconfig(zxid: number, txn: Buffer): void {
    const designated = this.configs.proposed(zxid, txn, this.syncedFollowers());
    if (designated !== null) this.zab.reconfigProposed(zxid, designated);
  }

  /** Leader.tryToCommit of a reconfig: the new voters count from now on; a leader that no longer votes steps down. */
  private activateReconfig(config: QuorumConfig | null): void {
    if (config === null) return;
    activateConfig(config);
    if (ensemble.removed || !voters.includes(myid)) return void queueMicrotask(() => endRole('not a voter in the new config'));
    this.zab.activated(voters, Buffer.from(ensemble.text(), 'utf8'), ensemble.active.version);
  }

  /** The followers synced now (Leader.isQuorumSynced's candidates). */
  syncedFollowers(): number[] {
    const sids: number[] = [];
    for (const l of this.zab.learners()) if (!l.observer && l.phase === 'broadcast' && l.sid !== null) sids.push(l.sid);
    return sids.sort((a, b) => a - b);
  }

  /** LEARNERS to the pipeline when the synced followers changed (the reconfig opcode's NEWCONFIGNOQUORUM check). */
  tellSynced(): void {
    const sids = this.syncedFollowers();
    if (sids.join(',') === this.syncedTold) return;
    this.syncedTold = sids.join(',');
    toPipeline({ kind: FromQuorum.LEARNERS, sids });
  }

  /** Leader.getObservingLearnersInfo: the observers that are synced (forwarding). */
  observersInfo(): LearnerConnectionInfo[] {
    const out: LearnerConnectionInfo[] = [];
    for (const l of this.zab.learners()) {
      if (!l.observer || l.phase !== 'broadcast' || l.sid === null) continue;
      const info = this.shell.connectionInfo(l.conn, l.sid);
      if (info !== null) out.push(info);
    }
    return out;
  }

  close(): void {
    this.closed = true;
    void this.shell.close();
  }
}

/** Following (or observing): LearnerShell on a connection to the leader; its effects carried to the pipeline in order. */
class LearnerRun {
  readonly observer: boolean;
  private shell: LearnerShell | null = null;
  private closed = false;
  /** The tree being synced by SNAP or TRUNC (a placeholder pipeline holds tree and sessions), written at NEWLEADER. */
  private syncState: Pipeline | null = null;
  private loader: TreeLoader | null = null;
  /** While a TRUNCATE is with the log worker: the learner's later effects wait here, in order. */
  private truncatingTo: number | null = null;
  private readonly waiting: (() => void)[] = [];
  /** When the connection to the leader was made (the sync time runs from there to UPTODATE). */
  private connectedMs = 0;
  private readonly configs = new LearnerConfigs(ensemble);
  private readonly leaderSid: number;

  constructor(leaderSid: number, observer: boolean) {
    this.leaderSid = leaderSid;
    this.observer = observer;
    toPipeline({ kind: FromQuorum.FOLLOW, observer });
    const leader = ensemble.active.members.get(leaderSid);
    if (leader === undefined) {
      queueMicrotask(() => endRole(`the elected leader ${leaderSid} is not in the config`));
      return;
    }
    const deadline = performance.now() + cfg.initLimit * cfg.tickTimeMs;
    void connectToLeader(peerTransport, leader.host, leader.quorumPort, deadline, () => this.closed).then(async (socket) => {
      if (this.closed) return void socket?.destroy();
      if (socket === null) return endRole(`cannot connect to leader ${leaderSid} at ${leader.host}:${leader.quorumPort}`);
      const refused = await authenticateToLeader(socket);
      if (this.closed) return void socket.destroy();
      if (refused !== null) return endRole(`quorum SASL with leader ${leaderSid} at ${leader.host}:${leader.quorumPort} failed: ${refused}`);
      this.connectedMs = performance.now();
      this.shell = new LearnerShell({
        host: leader.host, port: leader.quorumPort, socket, tickMs: cfg.tickTimeMs, log,
        config: {
          sid: BigInt(myid), observer, lastLoggedZxid, acceptedEpoch: epochs.acceptedEpoch, currentEpoch: epochs.currentEpoch,
          configVersion: view.version, initLimitTicks: cfg.initLimit, syncLimitTicks: cfg.syncLimit, packetBytesMax,
        },
        effects: this.effects(),
      });
      socket.resume(); // paused by quorum SASL, if it ran
    });
  }

  phase(): string {
    return this.shell === null ? 'connecting' : this.shell.machine.phase;
  }

  syncType(): string | null {
    return this.shell?.machine.syncType ?? null;
  }

  /** The log's durable zxid to the learner, once its log is the leader's (after the sync's TRUNC). */
  noteDurable(): void {
    const m = this.shell?.machine;
    if (m === undefined || this.truncatingTo !== null) return;
    if (m.phase !== 'newLeader' && m.phase !== 'synced' && m.phase !== 'broadcast') return;
    const zxid = durableZxid();
    if (m.phase === 'broadcast') proposalTimes.durableUpTo(zxid, performance.now(), metrics.ackCreation);
    m.durable(zxid);
  }

  fromPipeline(m: ToQuorumMessage): void {
    const machine = this.shell?.machine;
    if (machine === undefined) return;
    switch (m.kind) {
      case ToQuorum.FORWARD:
        if (machine.phase === 'broadcast') machine.forward(m.sessionId, m.cxid, m.type, m.record, m.authIds);
        return;
      case ToQuorum.REVALIDATE:
        if (machine.phase === 'broadcast') machine.revalidate(m.sessionId, m.timeoutMs);
        return;
      case ToQuorum.TOUCHES:
        for (const [id, timeoutMs] of m.touches) machine.touch(id, timeoutMs);
        return;
      case ToQuorum.TRUNCATED:
        return this.truncated(m.zxid, m.ok);
      default:
        return;
    }
  }

  close(): void {
    this.closed = true;
    void this.shell?.close();
  }

  /** Follower.processPacket's PROPOSAL: counted, its age since the leader stamped it, its time kept for the ACK and COMMIT. */
  private proposalReceived(zxid: number, txn: Buffer): void {
    const nowMs = performance.now();
    qstats.add(LEARNER_PROPOSALS, 1);
    const stampedMs = txnHeaderTimeMs(txn);
    const latencyMs = Date.now() - stampedMs;
    if (latencyMs >= 0) metrics.proposalLatency.observe(latencyMs); // wall clocks of two hosts: a negative age is skew
    proposalTimes.push(zxid, nowMs);
  }

  /** Follower.processPacket's COMMIT: counted, and how long after its PROPOSAL it came. */
  private commitReceived(zxid: number): void {
    qstats.add(LEARNER_COMMITS, 1);
    proposalTimes.committedUpTo(zxid, performance.now(), metrics.commitPropagation);
  }

  /**
   * Follower/Observer processPacket's ACTIVATE (QuorumPeer.processReconfig): the config runs; a
   * server made to change role or led by another leaves its role. One the config removed stays
   * with its leader as a non-voting learner, as ZooKeeper 3.8's does, until the role ends.
   */
  private activate(zxid: number, designated: bigint): void {
    const config = this.configs.activated(zxid);
    if (config === undefined) return log.warn(`ACTIVATE 0x${zxid.toString(16)} without its reconfig txn`);
    activateConfig(config);
    const role = config.members.get(myid)?.role;
    if (ensemble.removed) log.warn(`not in the config of zxid 0x${zxid.toString(16)}: a non-voting ${this.observer ? 'observer' : 'follower'} until this role ends`);
    else if ((role === 'observer') !== this.observer) endRole(`made ${role} by the config of zxid 0x${zxid.toString(16)}`);
    else if (designated !== BigInt(this.leaderSid)) endRole(`the config of zxid 0x${zxid.toString(16)} designates leader ${designated}`);
  }

  /** Runs an effect now, or after the TRUNC under way. */
  private inOrder(effect: () => void): void {
    if (this.truncatingTo === null) effect();
    else this.waiting.push(effect);
  }

  private truncated(zxid: number, ok: boolean): void {
    if (this.truncatingTo !== zxid) return;
    if (!ok) return endRole(`the log could not be truncated to zxid 0x${zxid.toString(16)}`);
    this.syncState = stateHolder(data.txnBytesMax, myid);
    recoverState(this.syncState, { snapDir: data.snapDir, logDir: data.logDir, txnBytesMax: data.txnBytesMax, nowMs: 0, warn: (w) => log.warn(w), reload: true });
    if (this.syncState.tree.lastZxid !== zxid) return endRole(`after TRUNC to 0x${zxid.toString(16)} the disk holds 0x${this.syncState.tree.lastZxid.toString(16)}`);
    this.truncatingTo = null;
    while (this.waiting.length > 0 && this.truncatingTo === null && !this.closed) this.waiting.shift()!();
    this.noteDurable();
  }

  private effects(): ZabLearnerOutputs {
    const copy = (b: Buffer): Buffer => (this.truncatingTo === null ? b : Buffer.from(b));
    return {
      send: () => {},
      writeAcceptedEpoch: (epoch) => {
        writeEpochFile(data.snapDir, 'acceptedEpoch', epoch);
        epochs = { ...epochs, acceptedEpoch: epoch };
      },
      writeCurrentEpoch: (epoch) => {
        writeEpochFile(data.snapDir, 'currentEpoch', epoch);
        epochs = { ...epochs, currentEpoch: epoch };
        election.updateElectionVotePeerEpoch(BigInt(epoch));
      },
      truncateLog: (zxid) => this.inOrder(() => {
        // a snapshot is sealed only once what it holds is committed (engine/workers/snapshot-worker.ts),
        // so none is newer than a TRUNC's zxid; the log worker refuses to truncate under one
        log.info(`TRUNC: cutting the log after zxid 0x${zxid.toString(16)}`);
        this.truncatingTo = zxid;
        toPipeline({ kind: FromQuorum.TRUNCATE, zxid });
      }),
      loadSnapshotBegin: (zxid) => this.inOrder(() => {
        log.info(`SNAP: loading the leader's snapshot at zxid 0x${zxid.toString(16)}`);
        this.syncState = stateHolder(data.txnBytesMax, myid);
        this.loader = new TreeLoader(this.syncState.tree, (w) => log.warn(w));
      }),
      loadSnapshotSession: (id, timeoutMs) => this.inOrder(() => void this.syncState!.sessions.add(id, timeoutMs, 0)),
      loadSnapshotAcl: (ref, acls) => this.inOrder(() => this.loader!.acl(ref, acls)),
      loadSnapshotNode: (p, node) => this.inOrder(() => this.loader!.node(p, node)),
      loadSnapshotEnd: (zxid) => this.inOrder(() => {
        this.loader!.finish(zxid);
        this.loader = null;
      }),
      applyTxn: (_zxid, txn) => {
        const t = copy(txn);
        this.inOrder(() => this.syncState!.replay(t));
      },
      takeSnapshot: (zxid) => this.inOrder(() => {
        const state = this.syncState;
        if (state === null) throw new Error('takeSnapshot without a synced tree');
        if (state.tree.lastZxid !== zxid) throw new Error(`snapshot at 0x${zxid.toString(16)}, the synced tree is at 0x${state.tree.lastZxid.toString(16)}`);
        const sessions: [bigint, number][] = [];
        for (const s of state.sessions.sessions.values()) sessions.push([s.id, s.timeoutMs]);
        const written = writeSnapshotNow(data.snapDir, state.tree, sessions);
        log.info(`synced tree written to ${written.path} (${written.nodes} znodes, ${written.bytes} bytes)`);
        this.syncState = null;
        toPipeline({ kind: FromQuorum.RELOAD });
        this.shell?.machine.snapshotSaved(zxid);
      }),
      leaderConfig: (data) => this.configs.newLeader(data),
      activate: (zxid, designated) => this.inOrder(() => this.activate(zxid, designated)),
      logProposal: (zxid, txn) => {
        this.configs.txn(zxid, txn);
        if (this.shell?.machine.phase === 'broadcast') this.proposalReceived(zxid, txn);
        const t = copy(txn);
        this.inOrder(() => toPipeline({ kind: FromQuorum.PROPOSAL, zxid, txn: t }));
      },
      commit: (zxid) => {
        if (this.shell?.machine.phase === 'broadcast') this.commitReceived(zxid);
        this.inOrder(() => toPipeline({ kind: FromQuorum.COMMIT_PROPOSAL, zxid }));
      },
      inform: (zxid, txn) => {
        this.configs.txn(zxid, txn);
        if (this.shell?.machine.phase === 'broadcast') qstats.add(LEARNER_COMMITS, 1);
        const t = copy(txn);
        this.inOrder(() => toPipeline({ kind: FromQuorum.INFORM, zxid, txn: t }));
      },
      revalidated: (sessionId, valid) => this.inOrder(() => toPipeline({ kind: FromQuorum.REVALIDATED, sessionId, valid })),
      synced: () => this.inOrder(() => toPipeline({ kind: FromQuorum.SYNCED })),
      startServing: (zxid) => this.inOrder(() => {
        log.info(`${this.observer ? 'observing' : 'following'}: synced with the leader (${this.syncType()}) up to zxid 0x${zxid.toString(16)}; serving`);
        (this.observer ? metrics.observerSyncTime : metrics.followerSyncTime).observe(performance.now() - this.connectedMs);
        noteAvailable(false);
        const config = this.configs.upToDate();
        if (config !== null) activateConfig(config);
        else tellPipelineConfig();
        toPipeline({ kind: FromQuorum.SERVE, zxid });
        publish();
      }),
      warn: () => {}, // LearnerShell logs them
      fail: (reason) => queueMicrotask(() => endRole(reason)),
    };
  }
}

/** Learner.connectToLeader's authLearner.authenticate, before FOLLOWERINFO: null when it passed (or is not asked for), else why not. */
async function authenticateToLeader(socket: net.Socket): Promise<string | null> {
  if (quorumAuth.learner === null) return null;
  const outcome = await authenticateToPeer(socket, quorumAuth.learner, cfg.initLimit * cfg.tickTimeMs);
  if (outcome.kind === 'pass') return null;
  closeRefused(socket);
  return outcome.reason;
}

// ---------------------------------------------------------------- the loop

/** Drains quorum/in and feeds the durable zxid, parked on this thread's bell (rung by the pipeline and the log worker). */
async function pump(): Promise<void> {
  while (!stopping) {
    const seq = bell.sequence();
    while (fromPipeline.poll()) {
      const m = decodeToQuorum(fromPipeline.kind, fromPipeline.data.subarray(fromPipeline.payloadStart, fromPipeline.payloadStart + fromPipeline.payloadLength));
      fromPipeline.releaseQuiet();
      onPipeline(m);
    }
    fromPipeline.flushSpaceBell();
    following?.noteDurable();
    // the leader's own log: AckRequestProcessor's proposal_ack_creation_latency
    if (leading !== null) proposalTimes.durableUpTo(durableZxid(), performance.now(), metrics.ackCreation);
    await bell.waitAsync(seq, 1000);
  }
}

parentPort!.on('message', (msg: { type: string; id?: number }) => {
  if (msg.type === 'observers') {
    // the AdminServer's observers command (main thread): a follower's list is empty, as ZooKeeper's without an ObserverMaster
    parentPort!.postMessage({ type: 'observers', id: msg.id, observers: leading?.observersInfo() ?? [] });
    return;
  }
  if (msg.type !== 'stop') return;
  stopping = true;
  bell.ring();
  if (electionTimer !== null) clearTimeout(electionTimer);
  if (readOnlyTimer !== null) clearTimeout(readOnlyTimer);
  closeRole();
  void cnx.close().then(() => parentPort!.postMessage({ type: 'stopped' }));
});

/**
 * QuorumCnxManager.Listener: the election port is tried electionPortBindRetry times (0: until
 * it binds), a second apart; a server that cannot bind it cannot take part in elections and
 * exits with ZooKeeper's UNABLE_TO_BIND_QUORUM_PORT (the main thread maps `exitCode`).
 */
async function listenForElections(): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    try {
      await cnx.listen();
      return true;
    } catch (err) {
      const why = `cannot listen on the election port ${me.electionPort} (attempt ${attempt}): ${(err as Error).message}`;
      if (cfg.electionPortBindRetry !== 0 && attempt >= cfg.electionPortBindRetry) {
        // the main thread exits on this message (a throw here could reach it first, as a plain worker error)
        parentPort!.postMessage({ type: 'error', message: why, exitCode: EXIT_UNABLE_TO_BIND_QUORUM_PORT });
        return false;
      }
      log.error(why);
      await new Promise((resolve) => setTimeout(resolve, ELECTION_BIND_RETRY_MS));
    }
  }
}

const publishTimer = setInterval(publish, Math.max(1, Math.floor(cfg.tickTimeMs / 2)));
publishTimer.unref();

if (await listenForElections()) {
  parentPort!.postMessage({ type: 'ready' });
  lookForLeader();
  void pump().catch((err: Error) => {
    log.error(`quorum worker failed: ${err.stack ?? err.message}`);
    throw err;
  });
}
