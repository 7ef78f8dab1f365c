// Limits of the leader's Zab roles (zab-leader.ts, zab-learner-handler.ts, zab-leader-shell.ts),
// with the reason for each (STYLE.md §4). Values ZooKeeper 3.8 fixes are copied.

/**
 * ZKDatabase.commitLogCount (zookeeper.commitLogCount, default 500): how many recently
 * committed txns the leader keeps in memory to DIFF a learner that is a little behind.
 */
export const COMMIT_LOG_COUNT = 500;

/**
 * Proposals sent and not yet committed. ZooKeeper has no bound (outstandingProposals is a
 * map); here the pipeline's own limits (globalOutstandingLimit per server, learners'
 * forwarded writes) keep it far below this, so reaching it means the commit stage has
 * stopped moving: the leader steps down rather than grow without end.
 */
export const OUTSTANDING_PROPOSALS_MAX = 100_000;

/** Learner connections at once: a handful per server of the view is plenty (a reconnecting learner's old connection lingers until it times out). */
export const LEARNER_CONNECTIONS_MAX = 64;

/**
 * Packets a sync may queue before NEWLEADER (DIFF from the committed log and the txn log).
 * The committed log gives at most 2 × COMMIT_LOG_COUNT; the txn log part is bounded by
 * bytes (zookeeper.snapshotSizeFactor × the newest snapshot's size) in the history the
 * shell gives, and by this count as the last word.
 */
export const SYNC_PACKETS_MAX = 1_000_000;

/**
 * Bytes written to a learner's socket and not yet taken by the kernel. ZooKeeper's
 * queuedPackets is unbounded; a learner this far behind is closed (it reconnects and syncs
 * again) instead of holding the leader's memory. A SNAP stream is written in slices and
 * waits for 'drain', so it does not count against this.
 */
export const LEARNER_SEND_BYTES_MAX = 64 * 1024 * 1024;

/** zookeeper.snapshotSizeFactor: the txn log may be used for a DIFF while it is under this share of the newest snapshot's size. */
export const SNAPSHOT_SIZE_FACTOR = 0.33;
