// Limits and timings of the quorum layer (election and peer connections), in one place
// with the reason for each (STYLE.md §4). Values that ZooKeeper 3.8 fixes are copied so a
// zooid peer accepts exactly what a ZooKeeper peer accepts.

/** QuorumCnxManager.maxBuffer: the address string of a connection initiation message is at most this long. */
export const INITIAL_MESSAGE_ADDRESS_BYTES_MAX = 2048;

/** Bytes of a whole connection initiation message: protocol version, sid, address length and addresses. */
export const INITIAL_MESSAGE_BYTES_MAX = 8 + 8 + 4 + INITIAL_MESSAGE_ADDRESS_BYTES_MAX;

/** QuorumCnxManager.PACKETMAXSIZE: a length-prefixed election message is at most 512 KiB; a larger one breaks the connection. */
export const ELECTION_MESSAGE_BYTES_MAX = 512 * 1024;

/**
 * QuorumCnxManager.SEND_CAPACITY: one message waits per peer. A newer notification
 * supersedes the one waiting (a stale vote is worse than none), as in ZooKeeper.
 */
export const SEND_QUEUE_MESSAGES_MAX = 1;

/**
 * The election's own inbox (FastLeaderElection's recvqueue) is drained within every call,
 * so it holds the notification being handled and the loopbacks it causes: a few per voter.
 * This bound only catches a broken invariant.
 */
export const ELECTION_INBOX_NOTIFICATIONS_MAX = 1024;

/** FastLeaderElection.finalizeWait: after a quorum agrees, wait this long for a better vote. */
export const FINALIZE_WAIT_MS = 200;

/** zookeeper.fastleader.minNotificationInterval (default finalizeWait): the first re-send interval. */
export const MIN_NOTIFICATION_INTERVAL_MS = FINALIZE_WAIT_MS;

/** zookeeper.fastleader.maxNotificationInterval: the re-send interval doubles up to this. */
export const MAX_NOTIFICATION_INTERVAL_MS = 60_000;

/** zookeeper.cnxTimeout: how long a connection attempt to a peer's election port may take. */
export const CONNECT_TIMEOUT_MS = 5_000;

/**
 * How long an accepted election connection may take to send its initiation message.
 * ZooKeeper uses the quorum socket timeout (tickTime × syncLimit, 4 s with the common
 * 2000 × 2); a runner passes its own.
 */
export const HANDSHAKE_TIMEOUT_MS = 4_000;

/**
 * Accepted election connections still sending their initiation message. A peer keeps at
 * most one, so this bounds what a misbehaving client of the election port can hold open.
 */
export const PENDING_HANDSHAKES_MAX = 64;

/**
 * Open election connections from servers outside the view (a larger sid this server's
 * config does not name: ZooKeeper accepts them for dynamic reconfiguration, which zooid
 * does not do). They are answered, so a few are kept; more are closed.
 */
export const OUTSIDE_VIEW_CHANNELS_MAX = 8;

// ---------------------------------------------------------------------------------
// Zab, learner side (zab-learner.ts)

/**
 * Proposals, INFORMs and COMMITs a learner holds between the sync packet (DIFF/TRUNC/SNAP)
 * and UPTODATE. ZooKeeper keeps them in unbounded deques; a leader sends at most its
 * committed log (zookeeper.commitLogCount, 500) or a txn-log diff no larger than a third of
 * its snapshot (zookeeper.snapshotSizeFactor), plus what is proposed during the sync. A
 * sync larger than this is refused (the learner goes back to election, as if the leader
 * failed) rather than let memory grow without bound.
 */
export const SYNC_QUEUE_PACKETS_MAX = 1_000_000;
export const SYNC_QUEUE_BYTES_MAX = 512 * 1024 * 1024;

/**
 * Proposals a follower has handed to its log and not yet acknowledged (not durable yet).
 * The log ring's capacity bounds this in practice; a leader running further ahead than this
 * of a follower's disk ends the follower's session with it.
 */
export const ACKS_PENDING_MAX = 1 << 20;

/** Sessions touched since the last PING: at most one entry per session the server holds. */
export const TOUCHED_SESSIONS_MAX = 1 << 20;

/** A PING answer's touch: long sessionId, int timeout. The answer fits in what the leader reads (jute.maxbuffer); the rest waits for the next PING. */
export const TOUCH_BYTES = 12;

// ---------------------------------------------------------------------------------
// The quorum worker (engine/workers/quorum-worker.ts)

/**
 * Learner.connectToLeader sleeps zookeeper.leaderConnectDelayDuringRetryMs (100 ms) between
 * attempts; zooid tries until initLimit ticks have passed. The new leader listens only once it
 * has loaded its committed replica, so its followers' first attempt is often refused: a second
 * here was most of a failover.
 */
export const LEARNER_CONNECT_RETRY_MS = 100;

/**
 * Messages for the pipeline that quorum/out had no room for. The ring holds at least two of
 * the largest txn; a pipeline that falls this far behind its quorum worker is stuck, and the
 * worker stops (a crash is better than memory without bound).
 */
export const PIPELINE_BACKLOG_BYTES_MAX = 256 * 1024 * 1024;

/**
 * Proposals whose time the quorum worker remembers for the latency metrics (proposal →
 * ACK, → COMMIT, per-follower ack): 16 bytes each. An ACK or COMMIT for one pushed out by
 * 4096 newer proposals is not measured (engine/ops/quorumstats.ts ProposalTimes).
 */
export const PROPOSAL_TIMES_MAX = 4096;

/** QuorumCnxManager.Listener: a second between attempts to bind the election port (electionPortBindRetry of them). */
export const ELECTION_BIND_RETRY_MS = 1000;
/** ZooKeeper's ExitCode.UNABLE_TO_BIND_QUORUM_PORT: the election port never bound. */
export const EXIT_UNABLE_TO_BIND_QUORUM_PORT = 14;
