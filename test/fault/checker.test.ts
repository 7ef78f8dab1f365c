// The linearizability checker on hand-made histories (linearizable, not, with unknown
// outcomes, a stale read after an acknowledged write) and on seeded random histories
// generated from the sequential model (which must all pass), plus the shrinker.
import { describe, it, expect } from 'vitest';
import { SEARCH_STEPS_MAX, checkHistory, checkRegister, shrinkRegister, windowOf, formatViolation, ERR_BADVERSION, type RegisterState } from './checker.ts';
import { type RegisterOp, type RegisterOpKind, formatRegisterOp } from './history.ts';
import { seededRandom, testSeed } from '../support/random.ts';

const INIT: RegisterState = { value: 'init', version: 0 };
const K = '/r';

let nextId = 0;
function op(process: string, kind: RegisterOpKind, invokeMs: number, returnMs: number, fields: Partial<RegisterOp>): RegisterOp {
  return { id: nextId++, process, key: K, kind, invokeMs, returnMs, outcome: 'ok', ...fields };
}
const read = (p: string, a: number, b: number, value: string, version: number) => op(p, 'read', a, b, { value, version });
const write = (p: string, a: number, b: number, value: string, version?: number) => op(p, 'write', a, b, { value, version });
const cas = (p: string, a: number, b: number, expectedVersion: number, value: string) =>
  op(p, 'cas', a, b, { value, expectedVersion, version: expectedVersion + 1 });
const casFailed = (p: string, a: number, b: number, expectedVersion: number, value: string) =>
  op(p, 'cas', a, b, { value, expectedVersion, outcome: 'fail', err: ERR_BADVERSION, version: undefined });
const unknown = (o: RegisterOp): RegisterOp => ({ ...o, outcome: 'unknown', returnMs: Infinity, version: undefined, err: -4 });

const verdict = (ops: RegisterOp[], initial = INIT) => checkRegister(ops, initial).verdict;

describe('checkRegister: hand-made histories', () => {
  it('accepts a sequential history and concurrent reads that see either side of a write', () => {
    expect(verdict([write('a', 0, 1, 'x', 1), read('b', 2, 3, 'x', 1), cas('a', 4, 5, 1, 'y'), read('b', 6, 7, 'y', 2)])).toBe('ok');
    // a write concurrent with two reads: the first sees the new value, the second the old one
    // would be a violation if the reads were ordered, fine when they are concurrent too
    expect(verdict([write('a', 0, 10, 'x', 1), read('b', 1, 3, 'x', 1), read('c', 2, 9, 'init', 0)])).toBe('ok');
  });

  it('rejects a read that goes back in time (new value, then old, reads ordered)', () => {
    expect(verdict([write('a', 0, 10, 'x', 1), read('b', 1, 3, 'x', 1), read('c', 4, 9, 'init', 0)])).toBe('violation');
  });

  it('rejects a stale read after an acknowledged write', () => {
    expect(verdict([write('a', 0, 1, 'x', 1), read('b', 2, 3, 'init', 0)])).toBe('violation');
  });

  it('rejects a value nobody wrote and a version that skips', () => {
    expect(verdict([read('b', 0, 1, 'ghost', 1)])).toBe('violation');
    expect(verdict([write('a', 0, 1, 'x', 2)])).toBe('violation');
  });

  it('rejects two successful cas ops from the same version, accepts one winner and one BADVERSION', () => {
    expect(verdict([cas('a', 0, 10, 0, 'x'), cas('b', 1, 9, 0, 'y')])).toBe('violation');
    expect(verdict([cas('a', 0, 10, 0, 'x'), casFailed('b', 1, 9, 0, 'y'), read('c', 11, 12, 'x', 1)])).toBe('ok');
  });

  it('rejects a BADVERSION when the version matched the whole time', () => {
    expect(verdict([casFailed('b', 0, 1, 0, 'y')])).toBe('violation');
  });

  it('lets an unknown write take effect late, or never', () => {
    const w = unknown(write('a', 0, 1, 'x'));
    expect(verdict([w, read('b', 5, 6, 'init', 0), read('b', 7, 8, 'x', 1)])).toBe('ok'); // after the read that did not see it
    expect(verdict([w, read('b', 5, 6, 'init', 0)])).toBe('ok'); // never
    expect(verdict([w, read('b', 5, 6, 'x', 1), read('b', 7, 8, 'x', 1)])).toBe('ok');
    // but not before its invocation
    expect(verdict([read('b', 0, 1, 'x', 1), unknown(write('a', 2, 3, 'x'))])).toBe('violation');
    // and once seen, not unseen
    expect(verdict([w, read('b', 5, 6, 'x', 1), read('b', 7, 8, 'init', 0)])).toBe('violation');
  });

  it('applies an unknown cas only when its version matches', () => {
    const c = unknown(cas('a', 0, 1, 0, 'x'));
    expect(verdict([c, read('b', 2, 3, 'x', 1)])).toBe('ok');
    const stale = unknown(cas('a', 0, 1, 5, 'x'));
    expect(verdict([stale, read('b', 2, 3, 'x', 6)])).toBe('violation');
  });

  it('counts touching intervals as concurrent', () => {
    expect(verdict([write('a', 0, 5, 'x', 1), read('b', 5, 6, 'init', 0)])).toBe('ok');
  });

  it('gives up with unknown rather than searching without bound', () => {
    // many concurrent unknown writes and a read nobody can explain: exponential without memo hits
    const ops: RegisterOp[] = [];
    for (let i = 0; i < 16; i++) ops.push(unknown(write(`p${i}`, i, i + 1, `v${i}`)));
    ops.push(read('r', 100, 101, 'nobody', 3));
    const result = checkRegister(ops, INIT, 1_000);
    expect(result.verdict).toBe('unknown');
  });
});

describe('checkHistory: partitions and shrinking', () => {
  it('checks each key on its own and names the failing one with a small sub-history', () => {
    const other = (o: RegisterOp): RegisterOp => ({ ...o, key: '/other' });
    const ops: RegisterOp[] = [];
    let t = 0;
    // a long linearizable prefix on both keys, then a lost acked write on /r
    for (let v = 1; v <= 30; v++) {
      ops.push(write('a', t, t + 1, `a${v}`, v), read('b', t + 2, t + 3, `a${v}`, v));
      ops.push(other(write('c', t, t + 1, `c${v}`, v)));
      t += 4;
    }
    ops.push(write('a', t, t + 1, 'lost', 31), read('b', t + 2, t + 3, 'a30', 30), read('b', t + 4, t + 5, 'a30', 30));
    const result = checkHistory(ops, () => INIT);
    expect(result.verdict).toBe('violation');
    expect(result.violations.map((v) => v.key)).toEqual(['/r']);
    const v = result.violations[0];
    const lines = formatViolation(v, INIT);
    expect(v.ops.length, lines.join('\n')).toBeLessThanOrEqual(3);
    expect(v.ops.some((o) => o.value === 'lost')).toBe(true);
    expect(checkRegister(v.ops, v.fromInitialState ? INIT : { value: undefined, version: undefined }).verdict).toBe('violation');
  });

  it('windows are sound: a window of a linearizable history is linearizable', () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    for (let round = 0; round < 30; round++) {
      const ops = generateLinearizable(random, { processCount: 4, opCount: 60 });
      const times = ops.flatMap((o) => [o.invokeMs, o.returnMs]).filter((x) => x !== Infinity);
      const a = times[Math.floor(random() * times.length)];
      const b = times[Math.floor(random() * times.length)];
      const w = windowOf(ops, Math.min(a, b), Math.max(a, b));
      expect(checkRegister(w, { value: undefined, version: undefined }).verdict, `seed ${seed} round ${round}`).toBe('ok');
      expect(checkRegister(windowOf(ops, -Infinity, Math.max(a, b)), INIT).verdict, `seed ${seed} round ${round}`).toBe('ok');
    }
  });

  it('shrinks what it is given to something that still fails', () => {
    const ops = [write('a', 0, 1, 'x', 1), read('b', 2, 3, 'x', 1), write('a', 4, 5, 'y', 2), read('c', 6, 7, 'x', 1), read('b', 8, 9, 'y', 2)];
    const shrunk = shrinkRegister(ops, INIT);
    expect(checkRegister(shrunk.ops, shrunk.fromInitialState ? INIT : { value: undefined, version: undefined }).verdict).toBe('violation');
    expect(shrunk.ops.map(formatRegisterOp).join('\n')).toContain('"y"');
    expect(shrunk.ops.length).toBeLessThanOrEqual(2);
  });
});

/**
 * A random history that is linearizable by construction: each process runs ops one after
 * another; each op takes effect on the sequential model at a random point inside its
 * interval, and the result recorded is what the model gave. Some ops end unknown (the
 * client "lost the connection"): half of those took effect, half never did.
 */
function generateLinearizable(random: () => number, options: { processCount: number; opCount: number; unknownRate?: number }): RegisterOp[] {
  return generate(random, options).ops;
}

function generate(random: () => number, options: { processCount: number; opCount: number; unknownRate?: number }): { ops: RegisterOp[]; final: RegisterState } {
  const unknownRate = options.unknownRate ?? 0.1;
  type Event = { atMs: number; kind: 'point' | 'return'; op: RegisterOp; applies: boolean };
  const events: Event[] = [];
  const ops: RegisterOp[] = [];
  const state = { value: 'init', version: 0 };
  const lastSeenVersion = new Map<string, number>();
  const clock = new Array<number>(options.processCount).fill(0);
  let id = 0;
  // schedule invocations per process; points and returns inside the interval
  for (let n = 0; n < options.opCount; n++) {
    const p = Math.floor(random() * options.processCount);
    const invokeMs = clock[p] + random() * 3;
    const pointMs = invokeMs + random() * 5;
    const returnMs = pointMs + random() * 5;
    clock[p] = returnMs;
    const r = random();
    const kind: RegisterOpKind = r < 0.4 ? 'read' : r < 0.7 ? 'cas' : 'write';
    const o: RegisterOp = { id: id++, process: `p${p}`, key: K, kind, invokeMs, returnMs, outcome: 'ok' };
    if (kind !== 'read') o.value = `p${p}.${n}`;
    if (kind === 'cas') o.expectedVersion = lastSeenVersion.get(o.process) ?? 0;
    const isUnknown = random() < unknownRate;
    ops.push(o);
    events.push({ atMs: pointMs, kind: 'point', op: o, applies: !isUnknown || random() < 0.5 });
    events.push({ atMs: returnMs, kind: 'return', op: o, applies: !isUnknown });
  }
  events.sort((a, b) => a.atMs - b.atMs);
  for (const e of events) {
    const o = e.op;
    if (e.kind === 'return') {
      if (!e.applies) {
        o.outcome = 'unknown';
        o.returnMs = Infinity;
        o.version = undefined;
        o.err = -4;
      }
      continue;
    }
    if (!e.applies) continue;
    if (o.kind === 'read') {
      o.value = state.value;
      o.version = state.version;
      lastSeenVersion.set(o.process, state.version);
    } else if (o.kind === 'write') {
      state.value = o.value!;
      state.version++;
      o.version = state.version;
    } else if (state.version === o.expectedVersion) {
      state.value = o.value!;
      state.version++;
      o.version = state.version;
      lastSeenVersion.set(o.process, state.version);
    } else {
      o.outcome = 'fail';
      o.err = ERR_BADVERSION;
    }
  }
  // an unknown op that "never happened" must not carry a result
  for (const o of ops) if (o.outcome === 'unknown' && o.kind === 'read') o.value = undefined;
  return { ops, final: { ...state } };
}

describe('checkRegister: seeded random histories from the sequential model', () => {
  it('finds every generated history linearizable', () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    for (let round = 0; round < 200; round++) {
      const ops = generateLinearizable(random, { processCount: 2 + Math.floor(random() * 5), opCount: 20 + Math.floor(random() * 150) });
      // generated histories pack far more unknown outcomes per key than a campaign's (which took about one
      // step per op): give the search room enough that a bound never stands in for the answer
      const result = checkHistory(ops, () => INIT, { stepsMax: 20 * SEARCH_STEPS_MAX });
      expect(result.verdict, `seed ${seed} round ${round}`).toBe('ok');
    }
  });

  it('finds a lost acknowledged write planted into a generated history', () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    let caught = 0;
    for (let round = 0; round < 50; round++) {
      const { ops, final } = generate(random, { processCount: 3, opCount: 80, unknownRate: 0 });
      // an acknowledged write after everything that a final read does not see
      const endMs = Math.max(...ops.map((o) => o.returnMs));
      ops.push(write('x', endMs + 1, endMs + 2, 'acked-then-lost', final.version! + 1), read('y', endMs + 3, endMs + 4, final.value!, final.version!));
      const result = checkHistory(ops, () => INIT);
      if (result.verdict === 'violation') caught++;
      const v = result.violations[0];
      expect(v.ops.some((o) => o.value === 'acked-then-lost'), `seed ${seed} round ${round}\n${formatViolation(v, INIT).join('\n')}`).toBe(true);
    }
    expect(caught).toBe(50);
  });
});
