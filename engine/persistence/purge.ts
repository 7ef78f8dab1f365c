// Purging old snapshots and logs, as ZooKeeper's PurgeTxnLog (autopurge, zkCleanup.sh).
//
// Keep the `retainCount` newest snapshots that look complete (ZooKeeper's quick check: the
// file ends with a seal). Let Z be the zxid of the oldest of them. Delete every snapshot
// and every log file named with a zxid below Z, except the logs needed to replay from Z:
// the newest log file starting at or before Z, and every later one (a log named below Z
// can hold the txns right after Z). With fewer snapshots than that, nothing is deleted
// but the logs still go by the oldest kept snapshot, so a restore from any kept snapshot
// always finds its txns.
//
// Only names are read (and the last bytes of snapshots); the log being written is always
// newer than the newest snapshot, so it is never a candidate.

import fs from 'node:fs';
import { listLogFiles, selectLogFiles } from './txnlog.ts';
import { listSnapshots, looksComplete } from './snapshot.ts';
import { fsyncDirectory } from '../../native-free-io/logfile.ts';

/** PurgeTxnLog refuses to keep fewer than 3 snapshots. */
export const SNAP_RETAIN_COUNT_MIN = 3;

export type PurgeResult = {
  /** Zxid of the oldest snapshot kept, or -1 when there was none (nothing deleted). */
  oldestKeptZxid: number;
  keptSnapshots: string[];
  deleted: string[];
};

/** Deletes what is no longer needed (see the top of this file). snapDir and logDir are the version-2 directories. */
export function purge(snapDir: string, logDir: string, retainCount: number): PurgeResult {
  if (!(Number.isInteger(retainCount) && retainCount >= SNAP_RETAIN_COUNT_MIN)) {
    throw new RangeError(`snapRetainCount must be at least ${SNAP_RETAIN_COUNT_MIN}, got ${retainCount}`);
  }
  const kept = listSnapshots(snapDir).filter(looksComplete).slice(0, retainCount);
  if (kept.length === 0) return { oldestKeptZxid: -1, keptSnapshots: [], deleted: [] };
  const oldest = kept[kept.length - 1].zxid;
  const logs = listLogFiles(logDir);
  const needed = new Set(selectLogFiles(logs, oldest).map((f) => f.path));
  const victims: string[] = [];
  for (const f of logs) if (f.zxid < oldest && !needed.has(f.path)) victims.push(f.path);
  for (const s of listSnapshots(snapDir)) if (s.zxid < oldest) victims.push(s.path);
  const deleted: string[] = [];
  for (const victim of victims) {
    try {
      fs.unlinkSync(victim);
      deleted.push(victim);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`purge: cannot delete ${victim}: ${(err as Error).message}`, { cause: err });
    }
  }
  if (deleted.length > 0) {
    fsyncDirectory(snapDir);
    if (logDir !== snapDir) fsyncDirectory(logDir);
  }
  return { oldestKeptZxid: oldest, keptSnapshots: kept.map((s) => s.path), deleted };
}
