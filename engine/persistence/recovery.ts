// Startup recovery (ZooKeeper's FileTxnSnapLog.restore): the newest snapshot that loads,
// then the txns logged after its zxid.
//
//   1. Temporary snapshot files left by a crash (tmp.snapshot.*) are removed.
//   2. Snapshots are tried newest first (at most 100, as ZooKeeper): one that does not
//      end with a seal, fails its Adler32, or does not parse is skipped with a warning
//      and the next older one is tried. Snapshots exist but none loads: refuse to start.
//   3. No snapshot at all: the logs must start at zxid 1 (a dataDir zooid wrote before it
//      took snapshots, or an empty one); otherwise txns are missing: refuse to start.
//      The caller then writes a snapshot before serving (ZooKeeper's snapshot.0), since
//      ZooKeeper refuses a dataDir with logs and no snapshot.
//   4. The log files that can hold txns after the snapshot are checked and a torn tail
//      is truncated (recoverTxnLogs: corruption before the tail refuses to start, naming
//      file and offset); the txns after the snapshot's zxid are replayed. They must follow
//      each other (zxid + 1, or a jump to a later epoch): a gap means a missing log
//      file, and starting would silently lose acknowledged writes.
//   5. Sessions come back with their timeouts restarting now (Pipeline.recovered).
import fs from 'node:fs';
import { recoverTxnLogs, readTxnLog, listLogFiles } from './txnlog.ts';
import { listSnapshots, looksComplete, readSnapshot, removeTempSnapshots, TreeLoader, SNAPSHOTS_TRIED_MAX, type SnapshotFile } from './snapshot.ts';
import { Pipeline } from '../core/pipeline.ts';
import type { DataTree } from '../core/tree.ts';

export class RecoveryError extends Error {}

/** What recovery fills: the pipeline, or a committed replica (engine/persistence/committed-replica.ts). */
export interface RecoveryTarget {
  readonly tree: DataTree;
  readonly sessions: { clear(): void; add(id: bigint, timeoutMs: number, nowMs: number): unknown };
  /** One logged txn (TxnHeader + record) after the snapshot; txns are idempotent. */
  replay(bytes: Buffer): void;
  recovered(): void;
}

export type RecoveryOptions = {
  /** dataDir/version-2 and dataLogDir/version-2. */
  snapDir: string;
  logDir: string;
  txnBytesMax: number;
  /** Monotonic ms (session deadlines). */
  nowMs: number;
  warn: (msg: string) => void;
  /** A reload after a log failure while running: the snapshot worker owns tmp.snapshot.* files. */
  reload?: boolean;
  /**
   * false: only read (no torn tail cut, no temporary snapshot removed): a second reader of
   * a dataDir the server's own recovery already repaired, while the log worker appends.
   */
  repair?: boolean;
};

export type RecoveryReport = {
  /** The snapshot loaded, or null when there was none. */
  snapshot: SnapshotFile | null;
  snapshotNodeCount: number;
  /** Txns replayed from the log after the snapshot. */
  txnCount: number;
  loadMs: number;
  replayMs: number;
};

const EPOCH = 0x1_0000_0000;

/**
 * Snapshots at least this large are checksummed on another thread while they are parsed;
 * for smaller ones starting that thread costs more than it saves (a reload between ensemble
 * roles took 1.8 s on a loaded machine for a 500-byte snapshot).
 */
const PARALLEL_CHECKSUM_BYTES_MIN = 16 * 1024 * 1024;

function hex(zxid: number): string {
  return `0x${zxid.toString(16)}`;
}

export function recoverState(pipeline: RecoveryTarget, opts: RecoveryOptions): RecoveryReport {
  const { snapDir, logDir, txnBytesMax, warn } = opts;
  const repair = opts.repair !== false;
  if (opts.reload !== true && repair) for (const name of removeTempSnapshots(snapDir)) warn(`removed ${name}: a snapshot a crash left unfinished`);

  const loadStarted = performance.now();
  const candidates = listSnapshots(snapDir).slice(0, SNAPSHOTS_TRIED_MAX);
  let loaded: SnapshotFile | null = null;
  let nodeCount = 0;
  const problems: string[] = [];
  for (const snap of candidates) {
    if (!looksComplete(snap)) {
      problems.push(`${snap.path}: incomplete (no seal at its end)`);
      warn(`snapshot ${snap.path} is incomplete (no seal at its end); trying an older one`);
      continue;
    }
    const loader = new TreeLoader(pipeline.tree, warn);
    try {
      const parallelChecksum = fs.statSync(snap.path).size >= PARALLEL_CHECKSUM_BYTES_MIN;
      const info = readSnapshot(snap, loader, { recordBytesMax: txnBytesMax, parallelChecksum });
      loader.finish(info.zxid);
      pipeline.sessions.clear();
      for (const [id, timeoutMs] of loader.sessions) pipeline.sessions.add(id, timeoutMs, opts.nowMs);
      loaded = snap;
      nodeCount = info.nodeCount;
      break;
    } catch (err) {
      problems.push(`${snap.path}: ${(err as Error).message}`);
      warn(`cannot load snapshot ${snap.path}: ${(err as Error).message}; trying an older one`);
    } finally {
      loader.close();
    }
  }
  if (candidates.length > 0 && loaded === null) {
    throw new RecoveryError(`no valid snapshot in ${snapDir} (tried ${candidates.length}):\n  ${problems.join('\n  ')}`);
  }
  const fromZxid = loaded === null ? 0 : loaded.zxid;
  if (loaded === null) {
    const logs = listLogFiles(logDir);
    if (logs.length > 0 && logs[0].zxid > 1) {
      throw new RecoveryError(`no snapshot in ${snapDir}, and the oldest log ${logs[0].path} starts at zxid ${hex(logs[0].zxid)}: the txns before it are missing`);
    }
  }
  const loadMs = performance.now() - loadStarted;

  const replayStarted = performance.now();
  if (repair) {
    const { warnings } = recoverTxnLogs(logDir, { fromZxid, txnBytesMax });
    for (const w of warnings) warn(w);
  }
  let txnCount = 0;
  let prev = fromZxid;
  for (const entry of readTxnLog(logDir, fromZxid, { txnBytesMax, onWarning: warn })) {
    const next = entry.zxid;
    if (next !== prev + 1 && !(Math.floor(next / EPOCH) > Math.floor(prev / EPOCH))) {
      throw new RecoveryError(
        `the log jumps from zxid ${hex(prev)} to ${hex(next)} (${entry.file} at offset ${entry.offset}): ` +
          `the txns between are missing${loaded === null ? '' : ` (snapshot ${loaded.path})`}`,
      );
    }
    pipeline.replay(entry.bytes);
    prev = next;
    txnCount++;
  }
  pipeline.recovered();
  return { snapshot: loaded, snapshotNodeCount: nodeCount, txnCount, loadMs, replayMs: performance.now() - replayStarted };
}

/**
 * A Pipeline that only holds a tree and sessions (a committed replica, a learner's tree
 * being synced): loaded by recoverState or replay, never serving, its outputs dropped.
 */
export function stateHolder(txnBytesMax: number, serverId = 1): Pipeline {
  return new Pipeline({
    tickMs: 1000, minSessionTimeoutMs: 1, maxSessionTimeoutMs: 0x7fff_ffff, serverId, superDigest: null,
    extendedTypesEnabled: true, maxReplyBytes: txnBytesMax, txnBytesMax, enforceQuota: false,
    containerCheckIntervalMs: 0x7fff_ffff, containerMaxPerMinute: 1, containerMaxNeverUsedIntervalMs: 0,
    nowMs: () => 0, wallMs: () => 0,
  }, { send: () => {}, close: () => {}, appendLog: () => {} });
}
