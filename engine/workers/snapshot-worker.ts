// Snapshot worker: writes the snapshot bytes the pipeline hands over (engine/persistence/snapshotter.ts)
// to tmp.snapshot.<zxid> with a running Adler32, seals and fsyncs the file, waits until
// the log is durable up to the END record's zxid (in an ensemble also until the commit stage
// has reached it: a leader's tree holds txns that are not committed yet, and a snapshot of
// one that never commits would outlive the TRUNC that removes it from the log), renames it
// to snapshot.<zxid> and fsyncs the directory. Also runs autopurge every autopurge.purgeInterval hours. One snapshot at
// a time; no event-loop duties, so it parks in Atomics.wait on its ring's doorbell.
import { workerData, parentPort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { SnapshotFileWriter } from '../persistence/snapshot-writer.ts';
import { purge } from '../persistence/purge.ts';
import { SnapKind, SNAP_CONTROL_FINISHED, SNAP_CONTROL_FAILED, SNAP_CONTROL_PURGES, SNAP_CONTROL_LAST_ZXID } from '../persistence/snapshotter.ts';
import { CONTROL_COMMITTED_ZXID, CONTROL_DURABLE_ZXID, CONTROL_LOG_FAILURES, CONTROL_STOP, STOP_SNAPSHOT } from '../records.ts';
import { createLogger } from '../logger.ts';
import type { OptionsFor } from '../config.ts';
import { type Topology, attachBell, attachRing, wordsOf } from '../rings/topology.ts';
import { awaitStart } from './start-gate.ts';
import { trace } from '../startup-trace.ts';

/** The config fields the schema gives the snapshot worker (autopurge.*), and its rings. */
export interface SnapshotWorkerData extends OptionsFor<'snapshot'> {
  /** Every ring, bell and shared word block (engine/rings/topology.ts): the snapshot ring, its control words, the log worker's (durable zxid, log failures, stop). */
  topology: Topology;
  /** dataDir/version-2 and dataLogDir/version-2. */
  snapDir: string;
  logDir: string;
}

/** While sealing, how often to look at the durable zxid. */
const DURABLE_POLL_MS = 1;
/** Longest park when idle (the stop flag is looked at after each). */
const IDLE_WAIT_MS = 1000;

const data = workerData as SnapshotWorkerData;
trace('snapshot worker loaded');
// autopurge runs at start: not while the pipeline still reads the snapshot and logs it recovers from
await awaitStart();
const log = createLogger('snapshot');
const ring = attachRing(data.topology, 'snapshot', 'snapshot');
const pipelineBell = attachBell(data.topology, 'pipeline');
const snap32 = new Int32Array(wordsOf(data.topology, 'snapshot-control'));
const snap64 = new BigInt64Array(wordsOf(data.topology, 'snapshot-control'));
const control64 = new BigInt64Array(wordsOf(data.topology, 'control'));
const control32 = new Int32Array(wordsOf(data.topology, 'control'));

let writer: SnapshotFileWriter | null = null;
/** Why the snapshot in progress cannot be committed (its bytes are then ignored until END). */
let failure: string | null = null;
/** Set between END and the commit: commit once the log is durable up to this zxid. */
let sealAtZxid = -1;
let logFailuresAtBegin = 0n;
let beganAtMs = 0;
let beganZxid = 0;
let inProgress = false;

function readZxid(at: number): number {
  return ring.data.readUInt32BE(at) * 0x1_0000_0000 + ring.data.readUInt32BE(at + 4);
}

function finish(ok: boolean): void {
  if (!ok) {
    writer?.abort();
    Atomics.add(snap32, SNAP_CONTROL_FAILED, 1);
    log.warn(`snapshot 0x${beganZxid.toString(16)} dropped: ${failure ?? 'aborted'}`);
  } else {
    Atomics.store(snap64, SNAP_CONTROL_LAST_ZXID, BigInt(beganZxid));
    log.info(`snapshot ${writer!.finalPath} written: ${writer!.bytesWritten} bytes in ${(performance.now() - beganAtMs).toFixed(0)} ms`);
  }
  writer = null;
  failure = null;
  sealAtZxid = -1;
  inProgress = false;
  Atomics.add(snap32, SNAP_CONTROL_FINISHED, 1);
  pipelineBell.ring();
}

function begin(zxid: number): void {
  if (inProgress) {
    failure = 'a newer snapshot began';
    finish(false);
  }
  inProgress = true;
  beganZxid = zxid;
  beganAtMs = performance.now();
  logFailuresAtBegin = Atomics.load(control64, CONTROL_LOG_FAILURES);
  try {
    writer = new SnapshotFileWriter(data.snapDir, zxid);
  } catch (err) {
    failure = `cannot create it: ${(err as Error).message}`;
  }
}

function handle(kind: number): void {
  switch (kind) {
    case SnapKind.BEGIN:
      begin(readZxid(ring.payloadStart));
      return;
    case SnapKind.BYTES:
      if (!inProgress || failure !== null || writer === null) return;
      try {
        writer.append(ring.data, ring.payloadStart, ring.payloadStart + ring.payloadLength);
      } catch (err) {
        failure = `write failed: ${(err as Error).message}`;
      }
      return;
    case SnapKind.END:
      if (!inProgress) return;
      if (failure === null && writer !== null) {
        try {
          writer.finish();
        } catch (err) {
          failure = `fsync failed: ${(err as Error).message}`;
        }
      }
      if (failure !== null || writer === null) finish(false);
      else sealAtZxid = readZxid(ring.payloadStart);
      return;
    case SnapKind.ABORT:
      if (inProgress) finish(false);
      return;
    default:
      throw new Error(`snapshot ring: unknown record kind ${kind}`);
  }
}

/** Commits a sealed snapshot once its content is durable in the log; drops it if the log failed. */
function maybeCommit(): void {
  if (sealAtZxid < 0) return;
  if (Atomics.load(control64, CONTROL_LOG_FAILURES) !== logFailuresAtBegin) {
    failure = 'the transaction log failed while it was written';
    finish(false);
    return;
  }
  if (Number(Atomics.load(control64, CONTROL_DURABLE_ZXID)) < sealAtZxid) return;
  if (data.topology.quorum && Number(Atomics.load(control64, CONTROL_COMMITTED_ZXID)) < sealAtZxid) return;
  try {
    writer!.commit();
    finish(true);
  } catch (err) {
    failure = `rename failed: ${(err as Error).message}`;
    finish(false);
  }
}

const purgeIntervalMs = data.autopurgePurgeIntervalHours * 3_600_000;
let nextPurgeAtMs = purgeIntervalMs > 0 ? performance.now() : Infinity;

function maybePurge(now: number): void {
  if (now < nextPurgeAtMs) return;
  nextPurgeAtMs = now + purgeIntervalMs;
  try {
    const result = purge(data.snapDir, data.logDir, data.autopurgeSnapRetainCount);
    Atomics.add(snap32, SNAP_CONTROL_PURGES, 1);
    log.info(`autopurge: kept ${result.keptSnapshots.length} snapshots from zxid 0x${Math.max(0, result.oldestKeptZxid).toString(16)}, deleted ${result.deleted.length} files${result.deleted.length > 0 ? `: ${result.deleted.join(', ')}` : ''}`);
  } catch (err) {
    log.error(`autopurge failed: ${(err as Error).message}`);
  }
}

parentPort!.postMessage({ type: 'ready' });
for (;;) {
  const seq = ring.dataBell.sequence();
  let n = 0;
  while (ring.poll()) {
    handle(ring.kind);
    ring.release();
    n++;
  }
  // the pipeline waits for ring space when we fall behind: tell it there is some
  if (n > 0) pipelineBell.ring();
  maybeCommit();
  const now = performance.now();
  if (!inProgress) maybePurge(now);
  if (n > 0) continue;
  if (Atomics.load(control32, CONTROL_STOP) >= STOP_SNAPSHOT) break;
  const waitMs = sealAtZxid >= 0 ? DURABLE_POLL_MS : Math.max(1, Math.min(IDLE_WAIT_MS, nextPurgeAtMs - now));
  ring.dataBell.wait(seq, waitMs);
}
if (inProgress) {
  failure = 'the server stopped';
  finish(false);
}
parentPort!.postMessage({ type: 'stopped' });
