// What a leader syncs a learner from (ZooKeeper 3.8's ZKDatabase committed log and
// getProposalsFromTxnLog, and LearnerHandler.syncFollower's choice over them):
//
//   committed log  the newest committed txns in memory, at most committedLogMax + 1 of them
//                  (ZKDatabase.addCommittedProposal drops the oldest only when it already
//                  holds more than commitLogCount); at start, the txns the restore replayed
//                  after the snapshot (loadCommitted), then every txn as it commits (add)
//   txn log        for a learner older than the committed log: the log files from the one
//                  that holds its zxid on, unless their size (every selected file but the
//                  first, preallocation included: FileTxnIterator.getStorageSize) is above
//                  snapshotSizeFactor × the size of the newest valid snapshot (a factor below 0
//                  turns the txn log off; no snapshot, or a limit of 0, means no limit), or
//                  the log starts after the learner's zxid
//   plan           DIFF (txns after the learner's zxid), TRUNC (the learner has txns this
//                  leader never committed: cut back, maybe followed by txns), or SNAP — the
//                  decision is planSync (engine/quorum/zab-learner-handler.ts), shared with
//                  ZabLeader, which takes this class as its `history`.
//
// Txns are the bytes a PROPOSAL carries and the log stores: TxnHeader + record (+ digest).

import fs from 'node:fs';
import { TXN_BYTES_MAX_DEFAULT, listLogFiles, readTxnLog, txnZxid } from './txnlog.ts';
import { listSnapshots, looksComplete } from './snapshot.ts';
import { assertVersionDir } from './epochs.ts';
import { PacketType } from '../quorum/wire.ts';
import { planSync, type CommittedTxn, type TxnHistory as ZabTxnHistory } from '../quorum/zab-learner-handler.ts';

export interface TxnHistoryOptions {
  /** dataDir/version-2: the newest snapshot's size limits the txn log path. */
  snapDir: string;
  /** zookeeper.commitLogCount (500; ZooKeeper raises smaller values to 500). */
  committedLogMax: number;
  /** zookeeper.snapshotSizeFactor (0.33); below 0 the txn log is never used. */
  snapshotSizeFactor: number;
  txnBytesMax?: number;
  /** A torn tail met while reading the log (the log worker may be writing it). */
  warn?: (message: string) => void;
}

export type SyncTxn = { zxid: number; txn: Buffer };

export type SyncPlanResult =
  /** DIFF(zxid), then each txn as PROPOSAL + COMMIT; the learner then has syncedZxid. */
  | { kind: 'diff'; zxid: number; txns: SyncTxn[]; syncedZxid: number }
  /** TRUNC(zxid): the learner cuts its log back to zxid, then takes the txns as after a DIFF. */
  | { kind: 'trunc'; zxid: number; txns: SyncTxn[]; syncedZxid: number }
  /** SNAP: the committed state at lastCommittedZxid. */
  | { kind: 'snap' };

export class TxnHistory implements ZabTxnHistory {
  private readonly logDir: string;
  private readonly opts: TxnHistoryOptions;
  private readonly committed: CommittedTxn[] = [];
  private head = 0;

  constructor(logDir: string, opts: TxnHistoryOptions) {
    if (!(Number.isInteger(opts.committedLogMax) && opts.committedLogMax >= 1)) throw new RangeError(`committedLogMax ${opts.committedLogMax}`);
    if (!Number.isFinite(opts.snapshotSizeFactor)) throw new RangeError(`snapshotSizeFactor ${opts.snapshotSizeFactor}`);
    assertVersionDir(logDir);
    assertVersionDir(opts.snapDir);
    this.logDir = logDir;
    this.opts = opts;
  }

  /** The committed log, oldest first. */
  get committedLog(): readonly CommittedTxn[] {
    if (this.head > 0) {
      this.committed.splice(0, this.head);
      this.head = 0;
    }
    return this.committed;
  }

  /** The oldest and newest zxid of the committed log, or null while it is empty. */
  committedRange(): { min: number; max: number } | null {
    if (this.head === this.committed.length) return null;
    return { min: this.committed[this.head].zxid, max: this.committed[this.committed.length - 1].zxid };
  }

  /** A txn committed (in zxid order). The bytes are copied. */
  add(zxid: number, txnBytes: Buffer): void {
    const last = this.committed.length === this.head ? -1 : this.committed[this.committed.length - 1].zxid;
    if (!(Number.isSafeInteger(zxid) && zxid > last)) throw new Error(`committed txn 0x${zxid.toString(16)} does not follow 0x${last.toString(16)}`);
    if (txnZxid(txnBytes) !== zxid) throw new Error(`committed txn 0x${zxid.toString(16)} carries zxid 0x${txnZxid(txnBytes).toString(16)}`);
    if (this.committed.length - this.head > this.opts.committedLogMax) this.head++;
    this.committed.push({ zxid, data: Buffer.from(txnBytes) });
    // drop the dropped entries' slots now and then, not on every add
    if (this.head >= 1024 && this.head * 2 >= this.committed.length) {
      this.committed.splice(0, this.head);
      this.head = 0;
    }
  }

  /**
   * Startup (ZKDatabase.loadDataBase's playback): the txns the restore replayed after the
   * snapshot at afterZxid become the committed log. Returns how many were read.
   */
  loadCommitted(afterZxid: number): number {
    let count = 0;
    for (const e of readTxnLog(this.logDir, afterZxid, { txnBytesMax: this.txnBytesMax, onWarning: this.opts.warn })) {
      this.add(e.zxid, e.bytes);
      count++;
    }
    return count;
  }

  /**
   * ZKDatabase.getProposalsFromTxnLog(fromZxid, calculateTxnLogSizeLimit()): the logged txns
   * from the start of the file that holds fromZxid on, or null when the log is off, too large
   * for the limit, empty, or starts after fromZxid. Read when iterated (a for…of that stops
   * early closes the file), each txn copied.
   */
  txnsFrom(fromZxid: number): Iterable<CommittedTxn> | null {
    if (this.opts.snapshotSizeFactor < 0) return null;
    const sizeLimitBytes = this.txnLogSizeLimitBytes();
    if (sizeLimitBytes > 0 && this.storageBytesFrom(fromZxid) > sizeLimitBytes) return null;
    const read = { txnBytesMax: this.txnBytesMax, onWarning: this.opts.warn, wholeFiles: true };
    let firstZxid = -1;
    for (const e of readTxnLog(this.logDir, fromZxid, read)) {
      firstZxid = e.zxid;
      break;
    }
    if (firstZxid < 0 || firstZxid > fromZxid) return null;
    const logDir = this.logDir;
    return {
      *[Symbol.iterator]() {
        for (const e of readTxnLog(logDir, fromZxid, read)) yield { zxid: e.zxid, data: Buffer.from(e.bytes) };
      },
    };
  }

  /** LearnerHandler.syncFollower for a learner whose last zxid is peerLastZxid (lastCommittedZxid: the leader's data). */
  plan(peerLastZxid: number, lastCommittedZxid: number): SyncPlanResult {
    const p = planSync(peerLastZxid, lastCommittedZxid, this.committedLog, this);
    if (p.kind === 'SNAP') return { kind: 'snap' };
    const txns: SyncTxn[] = [];
    for (const packet of p.packets) {
      if (packet.type === PacketType.PROPOSAL) txns.push({ zxid: Number(packet.zxid), txn: packet.data! });
    }
    return { kind: p.kind === 'DIFF' ? 'diff' : 'trunc', zxid: Number(p.packets[0].zxid), txns, syncedZxid: p.syncedZxid };
  }

  private get txnBytesMax(): number {
    return this.opts.txnBytesMax ?? TXN_BYTES_MAX_DEFAULT;
  }

  /** ZKDatabase.calculateTxnLogSizeLimit: the newest valid snapshot's size × the factor (0: none). */
  private txnLogSizeLimitBytes(): number {
    const newest = listSnapshots(this.opts.snapDir).find(looksComplete);
    if (newest === undefined) return 0;
    return Math.floor(fs.statSync(newest.path).size * this.opts.snapshotSizeFactor);
  }

  /**
   * FileTxnIterator.getStorageSize after it opened its first file: the files that start at
   * or after fromZxid plus the newest one before it, less the oldest of them (being read).
   */
  private storageBytesFrom(fromZxid: number): number {
    const files = listLogFiles(this.logDir);
    let bytes = 0;
    let anyBefore = false;
    let oldestAtOrAfter = -1;
    for (const f of files) {
      if (f.zxid < fromZxid) {
        anyBefore = true;
        continue;
      }
      const size = fs.statSync(f.path).size;
      if (oldestAtOrAfter < 0) oldestAtOrAfter = size;
      bytes += size;
    }
    return anyBefore || oldestAtOrAfter < 0 ? bytes : bytes - oldestAtOrAfter;
  }
}
