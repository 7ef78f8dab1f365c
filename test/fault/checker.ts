// A linearizability checker for versioned registers (one per znode), after Wing & Gong
// ("Testing and verifying concurrent objects", 1993) with Lowe's memoisation of
// (linearized set, state) pairs, as Porcupine does it (anishathalye/porcupine, checker.go):
// the history becomes a time-ordered list of call and return entries; a depth-first search
// linearizes one pending call at a time (any call before the first return in the list),
// backtracks when it reaches a return whose call it could not place, and never revisits a
// (set of linearized ops, model state) pair it has already seen.
//
// Pure and deterministic: no clock, no randomness, no I/O. Linearizability is local
// (Herlihy & Wing), so each register is checked on its own (per-key partitioning).
//
// Unknown outcomes (connection loss, timeout): the op may have taken effect at any time
// after its invocation, or never. Its return is placed at Infinity; "never" is the same as
// "linearized after everything else", so the model accepts any unknown op at any point.
//
// The model state may be partly unknown (`undefined` fields): a sub-history cut out of a
// run starts from an unknown state, and a cas with an unknown outcome on an unknown version
// leaves the version unknown. An unknown field accepts any observation, so a looser state
// never produces a false violation.

import { type RegisterOp, formatRegisterOp } from './history.ts';

export interface RegisterState {
  value: string | undefined;
  version: number | undefined;
}

/**
 * Search steps per register before the check gives up and says 'unknown' instead of
 * hanging. Each step memoises at most one (bitset, state) pair, so this also bounds the
 * memory: 500k pairs of a few hundred bytes each stay well under 200 MB. Histories of a few
 * hundred ops per key with a handful of clients finish in far fewer steps.
 */
export const SEARCH_STEPS_MAX = 500_000;
/** Linearizability checks the shrinker may run for one failing register (each bounded as above, with a smaller budget). */
export const SHRINK_CHECKS_MAX = 400;
const SHRINK_STEPS_MAX = 100_000;
/** Rounds of "trim the start, drop the reads" the shrinker repeats while they still remove ops. */
const SHRINK_ROUNDS_MAX = 8;

export type KeyVerdict =
  | { verdict: 'ok'; steps: number }
  | { verdict: 'violation'; steps: number }
  | { verdict: 'unknown'; steps: number; reason: string };

/** The model's transition: the next state, or null when `op` cannot happen in `state`. */
export function step(state: RegisterState, op: RegisterOp): RegisterState | null {
  switch (op.kind) {
    case 'read': {
      if (op.outcome !== 'ok') return state; // (dropped before the search; harmless here)
      if (state.value !== undefined && state.value !== op.value) return null;
      if (state.version !== undefined && state.version !== op.version) return null;
      if (state.value === op.value && state.version === op.version) return state;
      return { value: op.value, version: op.version };
    }
    case 'write': {
      const nextVersion = state.version === undefined ? undefined : state.version + 1;
      if (op.outcome === 'ok' && op.version !== undefined) {
        if (nextVersion !== undefined && nextVersion !== op.version) return null;
        return { value: op.value, version: op.version };
      }
      return { value: op.value, version: nextVersion };
    }
    case 'cas': {
      const expected = op.expectedVersion;
      if (expected === undefined) throw new Error(`cas #${op.id} without an expected version`);
      if (op.outcome === 'ok') {
        if (op.version !== undefined && op.version !== expected + 1) return null; // the reply's stat must be the next version
        if (state.version !== undefined && state.version !== expected) return null;
        return { value: op.value, version: expected + 1 };
      }
      if (op.outcome === 'fail') {
        // only BADVERSION reaches the search (other definite failures are dropped)
        if (state.version === expected) return null;
        return state;
      }
      // unknown: linearized here it applies iff the version matches ("never" is the end of the order)
      if (state.version === expected) return { value: op.value, version: expected + 1 };
      if (state.version !== undefined) return state;
      return { value: state.value === op.value ? op.value : undefined, version: undefined };
    }
  }
}

/** BADVERSION (-103): the one definite failure that says something about the state. */
export const ERR_BADVERSION = -103;

/**
 * What the search sees: ok ops as they are, unknown writes and cas ops with their return
 * at Infinity, BADVERSION'd cas ops. Reads that did not succeed and writes that definitely
 * failed for another reason change nothing and are left out.
 */
export function searchable(ops: readonly RegisterOp[]): RegisterOp[] {
  return ops.filter((op) => {
    if (op.outcome === 'ok') return true;
    if (op.kind === 'read') return false;
    if (op.outcome === 'unknown') return true;
    return op.kind === 'cas' && op.err === ERR_BADVERSION;
  });
}

const CALL = 0;
const RETURN = 1;

interface Entry {
  kind: typeof CALL | typeof RETURN;
  /** Index into the partition's op array. */
  opIndex: number;
  timeMs: number;
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

function sameState(a: RegisterState, b: RegisterState): boolean {
  return a.value === b.value && a.version === b.version;
}

/**
 * Is this single-register history linearizable from `initial`? Ops must all be on one key
 * and already `searchable`. Gives up with 'unknown' after `stepsMax` search steps.
 */
export function checkRegister(ops: readonly RegisterOp[], initial: RegisterState, stepsMax = SEARCH_STEPS_MAX): KeyVerdict {
  const opCount = ops.length;
  if (opCount === 0) return { verdict: 'ok', steps: 0 };
  for (const op of ops) {
    if (!(op.returnMs >= op.invokeMs)) throw new Error(`op #${op.id} returns (${op.returnMs}) before it is invoked (${op.invokeMs})`);
  }
  // Entries in time order; at equal times calls first, so touching intervals count as
  // concurrent (the lenient reading: never a false violation from clock granularity).
  const entries: Entry[] = [];
  for (let i = 0; i < opCount; i++) {
    const call: Entry = { kind: CALL, opIndex: i, timeMs: ops[i].invokeMs, match: null, prev: null, next: null };
    const ret: Entry = { kind: RETURN, opIndex: i, timeMs: ops[i].returnMs, match: null, prev: null, next: null };
    call.match = ret;
    entries.push(call, ret);
  }
  entries.sort((a, b) => a.timeMs - b.timeMs || a.kind - b.kind || a.opIndex - b.opIndex);
  const head: Entry = { kind: CALL, opIndex: -1, timeMs: -Infinity, match: null, prev: null, next: null };
  let last = head;
  for (const e of entries) {
    last.next = e;
    e.prev = last;
    last = e;
  }

  const lift = (e: Entry): void => {
    e.prev!.next = e.next;
    e.next!.prev = e.prev; // a call is always followed by at least its return
    const m = e.match!;
    m.prev!.next = m.next;
    if (m.next !== null) m.next.prev = m.prev;
  };
  const unlift = (e: Entry): void => {
    const m = e.match!;
    m.prev!.next = m;
    if (m.next !== null) m.next.prev = m;
    e.prev!.next = e;
    e.next!.prev = e;
  };

  const words = new Uint16Array(Math.ceil(opCount / 16));
  const bitsetKey = (): string => String.fromCharCode.apply(null, words as unknown as number[]);
  const cache = new Map<string, RegisterState[]>();
  const stack: { entry: Entry; state: RegisterState }[] = [];
  let state = initial;
  let entry = head.next!;
  let steps = 0;
  while (head.next !== null) {
    if (++steps > stepsMax) return { verdict: 'unknown', steps, reason: `search gave up after ${stepsMax} steps` };
    if (entry.kind === CALL) {
      const next = step(state, ops[entry.opIndex]);
      if (next !== null) {
        const i = entry.opIndex;
        words[i >> 4] |= 1 << (i & 15);
        const key = bitsetKey();
        let seen = cache.get(key);
        if (seen === undefined || !seen.some((s) => sameState(s, next))) {
          if (seen === undefined) cache.set(key, (seen = []));
          seen.push(next);
          stack.push({ entry, state });
          state = next;
          lift(entry);
          entry = head.next!;
          continue;
        }
        words[i >> 4] &= ~(1 << (i & 15));
      }
      entry = entry.next!;
    } else {
      // a return whose call is not linearized yet: undo the last choice
      const top = stack.pop();
      if (top === undefined) return { verdict: 'violation', steps };
      const i = top.entry.opIndex;
      words[i >> 4] &= ~(1 << (i & 15));
      state = top.state;
      unlift(top.entry);
      entry = top.entry.next!;
    }
  }
  return { verdict: 'ok', steps };
}

export interface RegisterViolation {
  key: string;
  /** The small failing sub-history (sorted by invocation), and whether it starts from the known initial state. */
  ops: RegisterOp[];
  fromInitialState: boolean;
  /** ops in the key's whole history (searchable ones). */
  keyOpCount: number;
  shrinkChecks: number;
}

export interface HistoryVerdict {
  verdict: 'ok' | 'violation' | 'unknown';
  violations: RegisterViolation[];
  /** Keys whose search gave up. */
  undecidedKeys: string[];
  keyCount: number;
  opCount: number;
  steps: number;
}

/** Check every register in the history; each violating key is shrunk to a small failing sub-history. */
export function checkHistory(
  ops: readonly RegisterOp[],
  initial: (key: string) => RegisterState,
  options: { stepsMax?: number; shrink?: boolean } = {},
): HistoryVerdict {
  const byKey = new Map<string, RegisterOp[]>();
  for (const op of searchable(ops)) {
    let list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, (list = []));
    list.push(op);
  }
  const violations: RegisterViolation[] = [];
  const undecidedKeys: string[] = [];
  let steps = 0;
  let opCount = 0;
  for (const key of [...byKey.keys()].sort()) {
    const keyOps = byKey.get(key)!;
    opCount += keyOps.length;
    const result = checkRegister(keyOps, initial(key), options.stepsMax);
    steps += result.steps;
    if (result.verdict === 'unknown') undecidedKeys.push(key);
    if (result.verdict !== 'violation') continue;
    if (options.shrink === false) {
      violations.push({ key, ops: keyOps, fromInitialState: true, keyOpCount: keyOps.length, shrinkChecks: 0 });
    } else {
      const shrunk = shrinkRegister(keyOps, initial(key));
      violations.push({ key, ...shrunk, keyOpCount: keyOps.length });
    }
  }
  const verdict = violations.length > 0 ? 'violation' : undecidedKeys.length > 0 ? 'unknown' : 'ok';
  return { verdict, violations, undecidedKeys, keyCount: byKey.size, opCount, steps };
}

const UNKNOWN_STATE: RegisterState = { value: undefined, version: undefined };

/**
 * The ops a window [fromMs, toMs] keeps. Each transformation keeps this sound: if the whole
 * history is linearizable, so is the window (so a failing window proves the whole fails).
 * - ops invoked after toMs go (each is ordered after every op that completed by toMs);
 * - ops that complete after toMs or straddle fromMs become "unknown" (a write or cas may
 *   have happened at its true point or, as far as the window can tell, never), while reads
 *   and BADVERSION'd cas ops among them go (they change nothing);
 * - ops that completed before fromMs go (each is ordered before every op invoked at or
 *   after fromMs); the window then starts from an unknown state.
 */
export function windowOf(ops: readonly RegisterOp[], fromMs: number, toMs: number): RegisterOp[] {
  const out: RegisterOp[] = [];
  for (const op of ops) {
    if (op.invokeMs > toMs) continue;
    if (op.returnMs < fromMs) continue;
    const straddles = op.returnMs > toMs || op.invokeMs < fromMs;
    if (!straddles || op.outcome === 'unknown') {
      out.push(op);
      continue;
    }
    if (op.kind === 'read' || op.outcome === 'fail') continue;
    out.push({ ...op, outcome: 'unknown', returnMs: Infinity, straddles: true });
  }
  return out;
}

function fails(ops: RegisterOp[], initial: RegisterState): boolean {
  return checkRegister(ops, initial, SHRINK_STEPS_MAX).verdict === 'violation';
}

/**
 * A small failing sub-history of a register history that fails: the shortest failing
 * prefix (cut at a completion time), then the latest start that still fails from an
 * unknown state, then every read and BADVERSION'd cas that can go one by one. Best effort
 * (each step is a bounded check), always sound: what it returns fails.
 */
export function shrinkRegister(
  ops: readonly RegisterOp[],
  initial: RegisterState,
): { ops: RegisterOp[]; fromInitialState: boolean; shrinkChecks: number } {
  let checks = 0;
  const check = (candidate: RegisterOp[], from: RegisterState): boolean => {
    checks++;
    return fails(candidate, from);
  };
  // 1. the earliest completion time t1 at which the prefix already fails (binary search:
  //    a longer prefix only adds constraints, so failing is monotone in t1)
  const ends = [...new Set(ops.map((op) => op.returnMs).filter((t) => t !== Infinity))].sort((a, b) => a - b);
  ends.push(Infinity);
  let lo = 0;
  let hi = ends.length - 1;
  while (lo < hi && checks < SHRINK_CHECKS_MAX) {
    const mid = (lo + hi) >> 1;
    if (check(windowOf(ops, -Infinity, ends[mid]), initial)) hi = mid;
    else lo = mid + 1;
  }
  const toMs = ends[hi];
  let best = windowOf(ops, -Infinity, toMs);
  let fromInitialState = true;
  if (!check(best, initial)) return { ops: [...ops], fromInitialState: true, shrinkChecks: checks };

  // 2 and 3 again until neither removes anything: dropping a read can free a later start
  for (let round = 0; round < SHRINK_ROUNDS_MAX && checks < SHRINK_CHECKS_MAX; round++) {
    const sizeBefore = best.length;
    // 2. the latest invocation time t0 from which the window still fails from an unknown state
    const trimmed = latestFailingStart(best, toMs, check);
    if (trimmed !== undefined) {
      best = trimmed;
      fromInitialState = false;
    }
    // 3. drop reads and BADVERSION'd cas ops (they change no state) one at a time, newest first
    const from = fromInitialState ? initial : UNKNOWN_STATE;
    for (let i = best.length - 1; i >= 0 && checks < SHRINK_CHECKS_MAX; i--) {
      const op = best[i];
      if (op.kind !== 'read' && op.outcome !== 'fail') continue;
      const candidate = best.filter((_, j) => j !== i);
      if (check(candidate, from)) best = candidate;
    }
    if (best.length === sizeBefore) break;
  }
  best.sort((a, b) => a.invokeMs - b.invokeMs || a.id - b.id);
  return { ops: best, fromInitialState, shrinkChecks: checks };
}

/**
 * The window of `ops` from the latest invocation time that still fails from an unknown
 * state (binary search over invocation times), or undefined when even the whole of `ops`
 * passes from an unknown state.
 */
function latestFailingStart(
  ops: readonly RegisterOp[],
  toMs: number,
  check: (candidate: RegisterOp[], from: RegisterState) => boolean,
): RegisterOp[] | undefined {
  if (!check(windowOf(ops, -Infinity, toMs), UNKNOWN_STATE)) return undefined;
  const starts = [...new Set(ops.map((op) => op.invokeMs))].sort((a, b) => a - b);
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (check(windowOf(ops, starts[mid], toMs), UNKNOWN_STATE)) lo = mid;
    else hi = mid - 1;
  }
  const candidate = windowOf(ops, starts[lo], toMs);
  return check(candidate, UNKNOWN_STATE) ? candidate : undefined;
}

/** A violation as lines to print: what failed, from which state, and the sub-history. */
export function formatViolation(v: RegisterViolation, initial: RegisterState): string[] {
  const start = v.fromInitialState ? `from ${JSON.stringify(initial.value)} v${initial.version}` : 'from an unknown state';
  return [
    `register ${v.key}: not linearizable; smallest failing sub-history found (${v.ops.length} of ${v.keyOpCount} ops, ${start}):`,
    ...v.ops.map((op) => '  ' + formatRegisterOp(op)),
  ];
}
