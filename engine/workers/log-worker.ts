// Log worker: group commit on a thread of its own. It drains the log ring, encodes and
// writes what it found with one write, fdatasyncs it right here (a blocking call: this thread
// has nothing else to do meanwhile), publishes the durable zxid and rings the pipeline.
// What the pipeline sends during a sync waits in the ring and makes the next batch. While it
// syncs the worker is not parked, so the pipeline's pushes ring no one; when the ring is empty
// it parks in Atomics.wait. A thin shell over TxnLogWriter.
// A TRUNCATE record (a follower's TRUNC) stops the draining: what came before it is synced,
// the files are cut back (truncateTxnLog) and the pipeline is told.
import { workerData, parentPort } from 'node:worker_threads';
import { TxnLogWriter } from '../persistence/txnlog-writer.ts';
import { truncateTxnLog } from '../persistence/txnlog.ts';
import { LogFailures } from '../persistence/log-failures.ts';
import { LogKind, recordZxid, txnRecordBytes } from '../rings/log-ring.ts';
import {
  CONTROL_DURABLE_ZXID, CONTROL_LOG_FAILURES, CONTROL_LOG_RECOVERIES, CONTROL_LOG_TRUNCATED_ZXID, CONTROL_LOG_TRUNCATIONS, CONTROL_STOP, STOP_LOG,
} from '../records.ts';
import { createLogger } from '../logger.ts';
import { LOG_STATS } from '../ops/stagestats.ts';
import type { OptionsFor } from '../config.ts';
import { type Topology, attachBell, attachRing, attachStats, wordsOf } from '../rings/topology.ts';
import { awaitStart } from './start-gate.ts';
import { trace } from '../startup-trace.ts';

/** The config fields the schema gives the log worker (preAllocSizeBytes, forceSync), and its rings. */
export interface LogWorkerData extends OptionsFor<'log'> {
  /** Every ring, bell and shared word block (engine/rings/topology.ts); this thread attaches its own by name. */
  topology: Topology;
  dir: string;
  txnBytesMax: number;
  /** Roll to a new file after this many txns (snapCount/2 + random, as ZooKeeper). */
  rollAfterTxns: number;
  /** Stop draining and flush once a batch holds this many bytes. */
  batchBytesMax: number;
  /**
   * dataDir/version-2: given, a TRUNCATE refuses (the worker fails, the server exits) while a
   * snapshot newer than its zxid exists, since a restart would load the txns it removes.
   */
  snapDir?: string;
}

const data = workerData as LogWorkerData;
trace('log worker loaded');
/** Recovery's last zxid: the writer's first file starts after it. */
const { lastZxid } = await awaitStart();
const log = createLogger('log');
const ring = attachRing(data.topology, 'log', 'log');
const pipelineBell = attachBell(data.topology, 'pipeline');
// in an ensemble the quorum worker ACKs what is durable (a learner's) : it is rung too
const quorumBell = data.topology.quorum ? attachBell(data.topology, 'quorum') : null;
const control64 = new BigInt64Array(wordsOf(data.topology, 'control'));
const control32 = new Int32Array(wordsOf(data.topology, 'control'));
const writer = new TxnLogWriter({ dir: data.dir, preAllocBytes: data.preAllocSizeBytes, forceSync: data.forceSync, lastLoggedZxid: lastZxid, txnBytesMax: data.txnBytesMax });

let txnsInFile = 0;

// Stage statistics: group-commit sizes and the write/fdatasync split, published in a
// SharedArrayBuffer (no messages); the main thread reads them for /metrics.
const stats = attachStats(data.topology, 'log', LOG_STATS);
const batchTxns = stats.histogram('batch_txns');
const batchBytes = stats.histogram('batch_bytes');
const writeUs = stats.histogram('write_us');
const fsyncUs = stats.histogram('fsync_us');
const PARKED_US = stats.counterIndex('parked_us');
const BUSY_US = stats.counterIndex('busy_us');
const BATCHES = stats.counterIndex('batches');
const TXNS = stats.counterIndex('txns');
const BYTES = stats.counterIndex('bytes');

/** Set when the txn count or a ROLL record asks for a new file: rolled before the next append. */
let rollPending = false;
/** A TRUNCATE taken off the ring and not yet carried out: its zxid. Nothing is drained meanwhile. */
let truncatePending: number | null = null;
let publishedZxid = lastZxid;
/** Txns and bytes written since the last sync (the next sync's batch, for the stats). */
let unsyncedTxns = 0;
let unsyncedBytes = 0;

/** Appends and writes what the ring holds (up to batchBytesMax); never syncs. Returns records taken. */
function drainOnce(): number {
  let taken = 0;
  let bytes = 0;
  while (bytes < data.batchBytesMax && truncatePending === null) {
    if (rollPending) {
      writer.roll();
      rollPending = false;
      txnsInFile = 0;
      publishDurable();
    }
    if (!ring.poll()) break;
    const kind = ring.kind;
    if (kind === LogKind.TXN) {
      writer.append(recordZxid(ring), txnRecordBytes(ring));
      bytes += ring.payloadLength;
      unsyncedTxns++;
      if (++txnsInFile >= data.rollAfterTxns) rollPending = true;
    } else if (kind === LogKind.ROLL) {
      rollPending = true;
    } else if (kind === LogKind.TRUNCATE) {
      truncatePending = recordZxid(ring);
    } else {
      throw new Error(`log ring: unknown record kind ${kind}`);
    }
    ring.releaseQuiet();
    taken++;
  }
  ring.flushSpaceBell();
  if (bytes > 0) {
    writer.writeBuffered();
    writeUs.observe(writer.lastWriteMs * 1000);
    unsyncedBytes += bytes;
  }
  return taken;
}

/** Tells the pipeline how far the log is durable (after a sync, or a roll that synced). */
function publishDurable(): void {
  const zxid = writer.lastFlushedZxid;
  if (zxid === publishedZxid) return;
  publishedZxid = zxid;
  Atomics.store(control64, CONTROL_DURABLE_ZXID, BigInt(zxid));
  pipelineBell.ring();
  quorumBell?.ring();
}

/** Makes what drainOnce wrote durable (one fdatasync on this thread) and tells the pipeline. */
function syncNow(): void {
  if (writer.lastWrittenZxid === writer.lastFlushedZxid) return;
  const txns = unsyncedTxns;
  const bytes = unsyncedBytes;
  unsyncedTxns = 0;
  unsyncedBytes = 0;
  writer.syncWrittenNow();
  fsyncUs.observe(writer.lastSyncMs * 1000);
  batchTxns.observe(txns);
  batchBytes.observe(bytes);
  stats.add(BATCHES, 1);
  stats.add(TXNS, txns);
  stats.add(BYTES, bytes);
  publishDurable();
}

/**
 * A TRUNCATE: what came before it is written and synced, every entry
 * after zxid is removed from the files, and appends continue after zxid in a new file. The
 * durable zxid moves back to zxid (or stays, when the log did not reach it), then the
 * truncation count tells the pipeline. A failure here is fatal (ZooKeeper's learner exits when
 * it cannot truncate): it is thrown out of the worker's loop.
 */
function truncateNow(zxid: number): void {
  writer.roll();
  const to = Math.min(zxid, writer.lastFlushedZxid);
  const report = truncateTxnLog(data.dir, to, { txnBytesMax: data.txnBytesMax, snapDir: data.snapDir });
  writer.truncatedTo(to);
  rollPending = false;
  txnsInFile = 0;
  publishedZxid = to;
  Atomics.store(control64, CONTROL_DURABLE_ZXID, BigInt(to));
  Atomics.store(control64, CONTROL_LOG_TRUNCATED_ZXID, BigInt(to));
  Atomics.add(control64, CONTROL_LOG_TRUNCATIONS, 1n);
  pipelineBell.ring();
  const cut = report.cut === null ? '' : `; ${report.cut.file} cut to ${report.cut.lengthBytes} bytes`;
  log.warn(`transaction log truncated to zxid 0x${to.toString(16)}: ${report.removed.length} files removed${cut}`);
}

parentPort!.postMessage({ type: 'ready' });

// After a write fails (ENOSPC, EIO): engine/persistence/log-failures.ts (cut back, tell the
// pipeline, drop records up to its RESUME, retry the disk until it takes a new file).
const failures = new LogFailures(writer, {
  failed(message) {
    Atomics.add(control64, CONTROL_LOG_FAILURES, 1n);
    pipelineBell.ring();
    parentPort!.postMessage({ type: 'failed', message });
  },
  recovered() {
    txnsInFile = 0;
    Atomics.add(control64, CONTROL_LOG_RECOVERIES, 1n);
    pipelineBell.ring();
  },
  log: (level, message) => log[level](message),
});

/** Drops records up to RESUME. Returns how many it looked at. */
function discard(): number {
  let n = 0;
  while (ring.poll()) {
    n++;
    const resume = ring.kind === LogKind.RESUME;
    if (resume) failures.resumed(recordZxid(ring));
    ring.release();
    if (resume) return n;
  }
  return n;
}

function run(): void {
  let wokeAt = performance.now();
  for (;;) {
    const seq = ring.dataBell.sequence();
    let n = 0;
    const state = failures.state;
    if (state === 'writing' && truncatePending !== null) {
      // outside the write-failure handling below: a truncation that fails stops the worker
      truncateNow(truncatePending);
      truncatePending = null;
      continue;
    }
    if (state === 'writing') {
      try {
        n = drainOnce();
        syncNow();
      } catch (err) {
        failures.failed(err as Error); // abandon() cuts back to what was durable
        continue;
      }
    } else if (state === 'discarding') {
      n = discard();
    } else if (failures.retryTurn(performance.now(), () => (ring.poll() ? ring.kind : null)) === 'writing') {
      continue; // what the pipeline sent since it was told is drained as a writer
    }
    if (n > 0) continue;
    // only once the pipeline has stopped: what it logged before stopping is written first
    if (Atomics.load(control32, CONTROL_STOP) >= STOP_LOG) break;
    const parkedAt = performance.now();
    const timeoutMs = failures.state === 'retrying' ? failures.retryInMs(parkedAt) : 1000;
    ring.dataBell.wait(seq, timeoutMs);
    const after = performance.now();
    stats.add(BUSY_US, (parkedAt - wokeAt) * 1000);
    stats.add(PARKED_US, (after - parkedAt) * 1000);
    wokeAt = after;
  }
  writer.close();
  parentPort!.postMessage({ type: 'stopped' });
}

run();
