// One fault run against an ensemble of three (ensemble-target.ts): the members talk through
// the peer fault proxy, a client fault proxy stands in front of each member, and the
// workers' sessions spread over them (each new session picks a member). The seeded nemesis
// (ensemble-nemesis.ts) kills, pauses and partitions; then everything heals, the ensemble
// must settle (one leader, two followers), and the state is read back through every member
// after sync: every member must show the same registers and sequential children, and every
// ephemeral of a closed or lost session must go on each. The checks: linearizability of the
// writes, cas ops and final reads (checker.ts), ZooKeeper's weaker promise for the other
// reads (ensemble-checks.ts), acknowledged writes and creates kept, sequence numbers, FIFO,
// zxid order, watches and ephemerals (as for a standalone server).

import { performance } from 'node:perf_hooks';
import { LeanClient, ZkError } from '../../client/lean.ts';
import { Err, Op } from '../../engine/protocol.ts';
import { deriveSeed, seededRandom } from '../../loadgen/random.ts';
import { waitFor, withDeadline } from '../support/wait.ts';
import { checkHistory, formatViolation, type RegisterState } from './checker.ts';
import { checkSequentialReads } from './ensemble-checks.ts';
import { assertEnsembleNemeses, runEnsembleNemesis } from './ensemble-nemesis.ts';
import { startEnsemble, type Ensemble, type EnsembleMember, type EnsembleTarget } from './ensemble-target.ts';
import { HistoryRecorder, type InvariantViolation } from './history.ts';
import { checkAckedWritesKept, checkSeqCreates } from './invariants.ts';
import { startFaultProxy, type FaultProxy } from './proxy.ts';
import type { RunOptions, RunResult } from './run.ts';
import {
  EPHEMERAL_PARENT,
  FAULT_ROOT,
  FIFO_PARENT,
  REGISTER_INITIAL_VALUE,
  SEQ_PARENT,
  ephemeralWorker,
  fifoWorker,
  registerPath,
  registerWorker,
  seqCreateWorker,
  watchWorker,
  type FifoStats,
  type WatchStats,
  type WorkloadOptions,
} from './workload.ts';

/** Forming the ensemble, and settling again after the faults healed (JVMs on a loaded machine, elections after partitions). */
const SETTLE_TIMEOUT_MS = 90_000;
/** Time allowed, after the run's duration, for workers to finish the request in flight. */
const WIND_DOWN_MS = 20_000;
/** Beyond 3 session timeouts, how long an ephemeral of a lost session may outlive it (a new leader restarts the session clocks). */
const EPHEMERAL_EXPIRY_SLACK_MS = 15_000;

/** Requests of the read-back: sync then read, through one member. */
function syncPath(client: LeanClient, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    client.send(Op.sync, (w) => w.string(path), (reply) => (reply.err === Err.OK ? resolve() : reject(new ZkError(reply.err, 'sync'))));
  });
}

async function connectTo(member: EnsembleMember): Promise<LeanClient> {
  return waitFor(() => LeanClient.connect({ host: '127.0.0.1', port: member.clientPort, connectTimeoutMs: 2_000 }).catch(() => null), {
    timeoutMs: 30_000,
    what: `${member.kind} ${member.sid} on :${member.clientPort} to open a session`,
    intervalMs: 100,
  });
}

/** What one member shows after sync: register values and versions (null: missing), the sequential children. */
interface MemberView {
  sid: number;
  registers: Map<string, { value: string; version: number } | null>;
  seqChildren: string[] | null;
}

async function readBack(member: EnsembleMember, registerCount: number): Promise<MemberView> {
  const client = await connectTo(member);
  try {
    const orNull = async <T>(read: () => Promise<T>): Promise<T | null> => {
      try {
        return await read();
      } catch (error) {
        if (error instanceof ZkError && error.code === Err.NONODE) return null;
        throw error;
      }
    };
    const registers = new Map<string, { value: string; version: number } | null>();
    for (let i = 0; i < registerCount; i++) {
      const key = registerPath(i);
      await syncPath(client, key);
      const got = await orNull(() => client.getData(key));
      registers.set(key, got === null ? null : { value: got.data.toString('utf8'), version: got.stat.version });
    }
    await syncPath(client, SEQ_PARENT);
    const seqChildren = await orNull(() => client.getChildren(SEQ_PARENT));
    return { sid: member.sid, registers, seqChildren: seqChildren === null ? null : seqChildren.sort() };
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** Waits until no member shows an ephemeral under EPHEMERAL_PARENT; returns what is left past the deadline ('none' when all went). */
async function ephemeralsGone(members: readonly EnsembleMember[], sessionTimeoutMs: number): Promise<string> {
  const clients = await Promise.all(members.map(connectTo));
  const fromMs = performance.now();
  const slackMs = EPHEMERAL_EXPIRY_SLACK_MS + 3 * sessionTimeoutMs;
  try {
    return await waitFor(
      async () => {
        const left: string[] = [];
        for (let i = 0; i < members.length; i++) {
          await syncPath(clients[i], EPHEMERAL_PARENT);
          for (const child of await clients[i].getChildren(EPHEMERAL_PARENT)) left.push(`${child} on ${members[i].sid}`);
        }
        return left.length === 0 ? 'none' : performance.now() - fromMs > slackMs ? left.join(', ') : null;
      },
      { timeoutMs: 2 * slackMs, what: 'the ephemerals of closed and expired sessions to go on every member', intervalMs: 200 },
    );
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  }
}

/** Every member must show the same state: the first view against each other. */
function compareViews(views: readonly MemberView[]): InvariantViolation[] {
  const out: InvariantViolation[] = [];
  const [first, ...rest] = views;
  for (const other of rest) {
    for (const [key, mine] of first.registers) {
      const theirs = other.registers.get(key) ?? null;
      if (JSON.stringify(mine) !== JSON.stringify(theirs)) {
        out.push({ invariant: 'replicas-diverge', detail: `after sync, ${key} is ${JSON.stringify(mine)} on member ${first.sid} and ${JSON.stringify(theirs)} on member ${other.sid}` });
      }
    }
    if (JSON.stringify(first.seqChildren) !== JSON.stringify(other.seqChildren)) {
      const a = new Set(first.seqChildren ?? []);
      const b = new Set(other.seqChildren ?? []);
      const onlyFirst = [...a].filter((c) => !b.has(c));
      const onlyOther = [...b].filter((c) => !a.has(c));
      out.push({ invariant: 'replicas-diverge', detail: `after sync, ${SEQ_PARENT}'s children differ: only on ${first.sid}: ${onlyFirst.join(', ') || '-'}; only on ${other.sid}: ${onlyOther.join(', ') || '-'}` });
    }
  }
  return out;
}

export async function runEnsembleOnce(o: RunOptions & { target: EnsembleTarget }): Promise<RunResult> {
  const startedMs = performance.now();
  const result: RunResult = {
    seed: '0x' + (o.seed >>> 0).toString(16).padStart(8, '0'),
    target: o.target,
    nemeses: o.nemeses,
    plant: o.plant,
    durationMs: o.durationMs,
    wallMs: 0,
    events: [],
    counts: { registerOps: 0, ok: 0, fail: 0, unknown: 0, seqCreates: 0, seqAcked: 0, fifoBatches: 0, fakeAcks: 0, watchesSet: 0, watchesFired: 0, ephemeralChecks: 0, ephemeralsGoneMs: 0 },
    checkSteps: 0,
    verdict: 'ok',
    violations: [],
  };
  let ensemble: Ensemble | null = null;
  const proxies: FaultProxy[] = [];
  try {
    if (o.plant !== 'none') throw new Error('planted bugs run against a standalone zooid (--target zooid)');
    assertEnsembleNemeses(o.nemeses);
    ensemble = await startEnsemble(o.target);
    const first = await ensemble.settled(`the ${o.target} to form`, SETTLE_TIMEOUT_MS);
    const setup = await connectTo(first);
    await setup.create(FAULT_ROOT);
    for (let i = 0; i < o.registerCount; i++) await setup.create(registerPath(i), Buffer.from(REGISTER_INITIAL_VALUE));
    for (const parent of [SEQ_PARENT, FIFO_PARENT, EPHEMERAL_PARENT]) await setup.create(parent);
    await setup.close();

    for (let i = 0; i < ensemble.members.length; i++) {
      proxies.push(await startFaultProxy(ensemble.members[i].clientPort, { random: seededRandom(deriveSeed(o.seed, 1, i)) }));
    }
    const history = new HistoryRecorder(() => performance.now());
    const untilMs = history.now() + o.durationMs;
    const base = (stream: number): WorkloadOptions => ({
      host: '127.0.0.1',
      port: proxies[0].port,
      ports: proxies.map((p) => p.port),
      sessionTimeoutMs: o.sessionTimeoutMs,
      requestTimeoutMs: o.requestTimeoutMs,
      random: seededRandom(deriveSeed(o.seed, 2, stream)),
      history,
      registerCount: o.registerCount,
      isStopped: () => history.now() >= untilMs,
    });
    const fifoStats: FifoStats = { batchCount: 0 };
    const watchStats: WatchStats = { setCount: 0, firedCount: 0 };
    const ephemeralStats = { checkCount: 0 };
    const workers: Promise<void>[] = [];
    for (let i = 0; i < o.registerWorkerCount; i++) workers.push(registerWorker(`w${i}`, base(i)));
    for (let i = 0; i < o.seqWorkerCount; i++) workers.push(seqCreateWorker(`s${i}`, base(100 + i)));
    workers.push(fifoWorker('f0', base(200), fifoStats));
    workers.push(watchWorker('v0', base(300), watchStats));
    workers.push(ephemeralWorker('e0', base(400), ephemeralStats));

    await runEnsembleNemesis({ ensemble, proxies, sessionTimeoutMs: o.sessionTimeoutMs }, o.nemeses, seededRandom(deriveSeed(o.seed, 3)), () => history.now(), untilMs, result.events);
    await withDeadline(Promise.all(workers), o.requestTimeoutMs + WIND_DOWN_MS, 'the workers to finish their last requests');
    for (const p of proxies) await p.close();
    ensemble.mesh.heal();

    // healed: the ensemble must settle, and every member must show the same state
    for (const m of ensemble.members) if (!m.isRunning()) throw new Error(`${m.kind} ${m.sid} is not running at the end of the run\n${m.logTail(20)}`);
    await ensemble.settled('the ensemble to settle after the faults healed', SETTLE_TIMEOUT_MS);
    const views: MemberView[] = [];
    for (const m of ensemble.members) views.push(await readBack(m, o.registerCount));
    const finalVersions = new Map<string, number>();
    const missing: string[] = [];
    for (const view of views) {
      for (const [key, got] of view.registers) {
        if (got === null) {
          missing.push(`${key} on ${view.sid}`);
          continue;
        }
        // a final read after sync, once nothing else runs: it must be linearizable with the writes
        const op = history.invokeRegister(`final-${view.sid}`, key, 'read');
        history.complete(op, 'ok', { value: got.value, version: got.version });
        if (view === views[0]) finalVersions.set(key, got.version);
      }
      if (view.seqChildren === null) missing.push(`${SEQ_PARENT} on ${view.sid}`);
    }
    const goneFromMs = performance.now();
    const ephemeralsLeft = await ephemeralsGone(ensemble.members, o.sessionTimeoutMs);
    const ephemeralsGoneMs = Math.round(performance.now() - goneFromMs);

    const initial = (): RegisterState => ({ value: REGISTER_INITIAL_VALUE, version: 0 });
    const linearizable = history.registerOps.filter((op) => op.kind !== 'read' || op.process.startsWith('final-'));
    const verdict = checkHistory(linearizable, initial);
    result.checkSteps = verdict.steps;
    const violations: InvariantViolation[] = [...history.violations];
    for (const v of verdict.violations) {
      const lines = formatViolation(v, initial());
      violations.push({ invariant: 'linearizable', detail: lines[0], history: lines.slice(1) });
    }
    if (verdict.undecidedKeys.length > 0) violations.push({ invariant: 'check-gave-up', detail: `search limit reached on ${verdict.undecidedKeys.join(', ')}` });
    violations.push(...checkSequentialReads(history.registerOps, REGISTER_INITIAL_VALUE));
    violations.push(...checkAckedWritesKept(history.registerOps, finalVersions));
    if (missing.length > 0) violations.push({ invariant: 'acked-create-lost', detail: `znodes the setup created (acknowledged) are missing after recovery: ${missing.join(', ')}` });
    violations.push(...compareViews(views));
    violations.push(...checkSeqCreates(history.seqCreates, new Set(views[0].seqChildren ?? []), SEQ_PARENT));
    if (ephemeralsLeft !== 'none') {
      violations.push({ invariant: 'ephemeral-outlived-session', detail: `${ephemeralsGoneMs} ms after every owner session was closed or lost, ephemerals remain: ${ephemeralsLeft}` });
    }
    result.violations = violations;
    const hard = violations.filter((v) => v.invariant !== 'check-gave-up');
    result.verdict = hard.length > 0 ? 'violation' : violations.length > 0 ? 'unknown' : 'ok';
    const ops = history.registerOps.filter((op) => !op.process.startsWith('final-'));
    result.counts = {
      registerOps: ops.length,
      ok: ops.filter((op) => op.outcome === 'ok').length,
      fail: ops.filter((op) => op.outcome === 'fail').length,
      unknown: ops.filter((op) => op.outcome === 'unknown').length,
      seqCreates: history.seqCreates.length,
      seqAcked: history.seqCreates.filter((c) => c.outcome === 'ok').length,
      fifoBatches: fifoStats.batchCount,
      fakeAcks: 0,
      watchesSet: watchStats.setCount,
      watchesFired: watchStats.firedCount,
      ephemeralChecks: ephemeralStats.checkCount,
      ephemeralsGoneMs,
    };
  } catch (error) {
    result.verdict = 'error';
    const logs = ensemble?.members.map((m) => `--- ${m.kind} ${m.sid}\n${m.logTail(15)}`).join('\n') ?? '';
    result.error = `${(error as Error).message}${logs !== '' ? `\nmember log tails:\n${logs}` : ''}`;
  } finally {
    for (const p of proxies) await p.close().catch(() => undefined);
    const keep = result.verdict !== 'ok' && o.keepFailed;
    if (keep && ensemble !== null) result.dataDir = ensemble.members.map((m) => `${m.sid}:${m.dataDir}`).join(' ');
    await ensemble?.close(keep).catch(() => undefined);
    result.wallMs = Math.round(performance.now() - startedMs);
  }
  return result;
}
