// What the log worker does when the disk fails it (ENOSPC, EIO), as a synchronous state
// machine. Outcomes come in as calls (a write or sync failed, a record came off the ring, a
// retry is due at a time given as a parameter); the effects go through the writer it is given
// (cut back, create the next file: either may throw, which is how tests inject outcomes), the
// signals to the pipeline, and the log.
//
//   writing ──failed()──► discarding ──resumed(zxid)──► retrying ──retry(now) ok──► writing
//                                                          └─ retry fails: again RETRY_MS later
//
//  - failed: the log is cut back to the last durable txn (TxnLogWriter.abandon: the disk holds
//    exactly what was acknowledged, nothing a restart could replay that no client saw
//    durable), and the pipeline is told (its failure count): it refuses writes from then on,
//    drops what it applied past the durable zxid, reloads from disk and sends RESUME.
//    A cut-back that fails itself is fatal: nothing is safe any more.
//  - discarding: records the pipeline queued before it reloaded are dropped, up to RESUME,
//    whose zxid must be the durable one.
//  - retrying: nothing is written; the next log file (log.<resume zxid + 1>) is created every
//    RETRY_MS until the disk takes it (a failed attempt is cleaned up). Then the pipeline is
//    told (its recovery count): writes are accepted again. No write is ever retried: what was
//    not durable is gone, its clients saw their connection lost.

/** How often a disk that refused the log is tried again. */
export const LOG_RETRY_MS = 500;
/** Failed retries between two "still not writable" warnings (the first one is logged). */
const RETRY_WARN_EVERY = 20;

export type LogFailureState = 'writing' | 'discarding' | 'retrying';

/** The writer's side of it (TxnLogWriter). */
export interface FailingLogWriter {
  /** The zxid the log is durable to. */
  readonly lastFlushedZxid: number;
  /** Cuts the log back to lastFlushedZxid and makes the writer usable again; throws when it cannot. */
  abandon(): void;
  /** Creates the file an append of `zxid` would create; throws while the disk refuses. */
  openNext(zxid: number): void;
}

/** What the pipeline is told (shared counts and its doorbell), and the log. */
export interface LogFailureSignals {
  failed(message: string): void;
  recovered(): void;
  log(level: 'info' | 'warn' | 'error', message: string): void;
}

export class LogFailures {
  private readonly writer: FailingLogWriter;
  private readonly signals: LogFailureSignals;
  private stateNow: LogFailureState = 'writing';
  private resumeZxid = 0;
  private nextRetryAtMs = 0;
  private retries = 0;
  /** Failures and recoveries so far (the pipeline's counts advance with them). */
  failures = 0;
  recoveries = 0;

  constructor(writer: FailingLogWriter, signals: LogFailureSignals) {
    this.writer = writer;
    this.signals = signals;
  }

  get state(): LogFailureState {
    return this.stateNow;
  }

  /** A write or a sync failed while writing. Throws when the log cannot even be cut back. */
  failed(err: Error): void {
    if (this.stateNow !== 'writing') throw new Error(`log failure while ${this.stateNow}`);
    const { writer, signals } = this;
    signals.log('error', `transaction log write failed: ${err.message}; writes are refused until it works again, reads go on`);
    try {
      writer.abandon();
      signals.log('warn', `transaction log cut back to zxid 0x${writer.lastFlushedZxid.toString(16)}, the last durable txn`);
    } catch (cleanup) {
      // the log cannot even be cut back: nothing is safe any more
      signals.log('error', `cannot cut the transaction log back after the failure: ${(cleanup as Error).message}`);
      throw cleanup;
    }
    this.failures++;
    signals.failed(err.message);
    this.stateNow = 'discarding';
  }

  /** While discarding: the pipeline's RESUME came, for `zxid` (it must be the durable zxid). */
  resumed(zxid: number): void {
    if (this.stateNow !== 'discarding') throw new Error(`log: RESUME while ${this.stateNow}`);
    const durable = this.writer.lastFlushedZxid;
    if (zxid !== durable) throw new Error(`log: the pipeline resumes at 0x${zxid.toString(16)}, the log is durable to 0x${durable.toString(16)}`);
    this.resumeZxid = zxid;
    this.stateNow = 'retrying';
    this.nextRetryAtMs = 0;
    this.retries = 0;
  }

  /** While retrying: tries the disk if a retry is due at nowMs. True when it takes the log again (back to writing). */
  retry(nowMs: number): boolean {
    if (this.stateNow !== 'retrying') throw new Error(`log: retry while ${this.stateNow}`);
    if (nowMs < this.nextRetryAtMs) return false;
    const { writer, signals } = this;
    try {
      writer.openNext(this.resumeZxid + 1);
    } catch (err) {
      if (this.retries++ % RETRY_WARN_EVERY === 0) signals.log('warn', `transaction log still not writable: ${(err as Error).message}`);
      try {
        writer.abandon();
      } catch (cleanup) {
        signals.log('error', `cannot clean up after a failed log file creation: ${(cleanup as Error).message}`);
      }
      this.nextRetryAtMs = nowMs + LOG_RETRY_MS;
      return false;
    }
    signals.log('info', `transaction log writable again: log.${(this.resumeZxid + 1).toString(16)} created; writes resume`);
    this.stateNow = 'writing';
    this.recoveries++;
    signals.recovered();
    return true;
  }

  /**
   * One turn of the log worker while retrying: tries the disk if due; 'writing' once it takes
   * the log. The pipeline is told at once and its next write may be on the ring before the
   * worker looks again: that record is the writer's to drain, not a fault. While still
   * retrying nothing may come (the pipeline refuses writes): a record then throws.
   */
  retryTurn(nowMs: number, recordWaiting: () => number | null): 'writing' | 'retrying' {
    if (this.retry(nowMs)) return 'writing';
    const kind = recordWaiting();
    if (kind !== null) throw new Error(`log ring: record kind ${kind} while the log is not writable`);
    return 'retrying';
  }

  /** While retrying: ms from nowMs to the next retry, at least 1. */
  retryInMs(nowMs: number): number {
    return Math.max(1, this.nextRetryAtMs - nowMs);
  }
}
