// Operation records for the fault harness (issue 12). Every operation a workload sends
// through a real client connection is recorded with its invocation and completion times
// (ms on one monotonic clock, performance.now() relative to the run's start) and what the
// client learnt: `ok` with the reply's data, `fail` with a definite error code (the
// operation did not take effect, e.g. BADVERSION), or `unknown` (connection loss, timeout,
// an error that does not prove the op was not applied): then the op may have taken effect
// at any time after its invocation, and its completion time is Infinity.
//
// The records are plain data: the checker (checker.ts) is a pure function of them.

export type Outcome = 'ok' | 'fail' | 'unknown';

/** A versioned register per znode: getData, setData(version -1), setData(expected version). */
export type RegisterOpKind = 'read' | 'write' | 'cas';

export interface RegisterOp {
  /** Unique within a history (index order is invocation order when recorded live). */
  id: number;
  /** Who sent it (a worker and its connection generation), for printing. */
  process: string;
  /** The register: the znode path. */
  key: string;
  kind: RegisterOpKind;
  invokeMs: number;
  /** Infinity when the outcome is unknown. */
  returnMs: number;
  outcome: Outcome;
  /** write/cas: the value written; ok read: the value read. */
  value?: string;
  /** cas: the version the setData required. */
  expectedVersion?: number;
  /** ok read: the version read; ok write/cas: the version the reply's stat reports. */
  version?: number;
  /** fail/unknown: the ZooKeeper error code (or 'timeout'). */
  err?: number | 'timeout';
  /** Set by the shrinker on an op it made unknown because it straddles the window's edge (its real outcome is not used). */
  straddles?: true;
}

/** A sequential create (`/fault/seq/s-` with PERSISTENT_SEQUENTIAL). */
export interface SeqCreateOp {
  id: number;
  process: string;
  invokeMs: number;
  returnMs: number;
  outcome: Outcome;
  /** ok: the path the server created and its sequence number. */
  path?: string;
  seq?: number;
  err?: number | 'timeout';
}

/** A broken guarantee found while the run went on (FIFO order, zxid order) or after it. */
export interface InvariantViolation {
  invariant:
    | 'linearizable'
    | 'acked-write-lost'
    | 'seq-reused'
    | 'seq-order'
    | 'acked-create-lost'
    | 'session-fifo'
    | 'session-zxid-order'
    | 'watch-once'
    | 'watch-order'
    | 'ephemeral-lost'
    | 'ephemeral-outlived-session'
    | 'check-gave-up'
    // ensembles (ensemble-checks.ts): reads are sequentially consistent, not linearizable, in ZooKeeper
    | 'read-unwritten'
    | 'read-version-conflict'
    | 'session-read-order'
    | 'replicas-diverge';
  detail: string;
  /** The smallest failing sub-history, already formatted, when there is one. */
  history?: string[];
}

/** Collects operation records; ids are handed out in invocation order. */
export class HistoryRecorder {
  readonly registerOps: RegisterOp[] = [];
  readonly seqCreates: SeqCreateOp[] = [];
  readonly violations: InvariantViolation[] = [];
  private nextId = 0;
  private readonly originMs: number;
  private readonly nowMs: () => number;

  constructor(nowMs: () => number) {
    this.nowMs = nowMs;
    this.originMs = nowMs();
  }

  now(): number {
    return this.nowMs() - this.originMs;
  }

  invokeRegister(process: string, key: string, kind: RegisterOpKind, fields: { value?: string; expectedVersion?: number } = {}): RegisterOp {
    const op: RegisterOp = { id: this.nextId++, process, key, kind, invokeMs: this.now(), returnMs: Infinity, outcome: 'unknown', ...fields };
    this.registerOps.push(op);
    return op;
  }

  invokeSeqCreate(process: string): SeqCreateOp {
    const op: SeqCreateOp = { id: this.nextId++, process, invokeMs: this.now(), returnMs: Infinity, outcome: 'unknown' };
    this.seqCreates.push(op);
    return op;
  }

  /** Mark an op completed now (ok or fail); unknown ops are left as invoked, with err noted. */
  complete<T extends RegisterOp | SeqCreateOp>(op: T, outcome: Outcome, fields: Partial<T> = {}): void {
    if (op.outcome !== 'unknown' || op.returnMs !== Infinity) throw new Error(`op ${op.id} completed twice`);
    Object.assign(op, fields);
    op.outcome = outcome;
    if (outcome !== 'unknown') op.returnMs = this.now();
  }
}

function ms(t: number): string {
  return t === Infinity ? '∞' : t.toFixed(1);
}

/** One line per op, e.g. `#12 w1.0 /fault/r0 cas(v3 → "w1.0.7") ok v4 [103.2, 105.9] ms`. */
export function formatRegisterOp(op: RegisterOp): string {
  let call: string;
  if (op.kind === 'read') call = 'read()';
  else if (op.kind === 'write') call = `write(${JSON.stringify(op.value)})`;
  else call = `cas(v${op.expectedVersion} → ${JSON.stringify(op.value)})`;
  let result: string;
  if (op.straddles === true) result = 'taken as unknown (straddles the window)';
  else if (op.outcome === 'unknown') result = `unknown${op.err !== undefined ? ` (${op.err})` : ''}`;
  else if (op.outcome === 'fail') result = `fail ${op.err}`;
  else if (op.kind === 'read') result = `ok ${JSON.stringify(op.value)} v${op.version}`;
  else result = `ok v${op.version ?? '?'}`;
  const returnMs = op.straddles === true ? '…' : ms(op.returnMs);
  return `#${op.id} ${op.process} ${op.key} ${call} ${result} [${ms(op.invokeMs)}, ${returnMs}] ms`;
}
