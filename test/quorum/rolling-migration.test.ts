// Rolling migration, end to end (issue 11): a three-server Apache ZooKeeper 3.8 ensemble under
// a steady write load from real clients (four node-zookeeper-client sessions and a kazoo
// process, their home servers spread over the three, each holding an ephemeral) is converted
// to zooid one server at a time — SIGTERM the ZooKeeper server, start zooid on the same
// zoo.cfg, dataDir and myid, wait until it serves and has the writes it missed — followers
// first, the leader last; then back to ZooKeeper the same way. Then, on every server after
// sync: every acknowledged create is there with its data, every writer's setData node holds
// its last acknowledged value or a later one; every ephemeral is still there, owned by its
// session, whose id never changed; no client saw an error other than CONNECTIONLOSS, and
// no session expired. The seed (TEST_SEED) picks the home servers, the order of the
// followers and the writers' mix of creates and setData.
import { describe, it, expect, afterEach } from 'vitest';
import { allocatePorts, serverLines, Cleanups } from '../support/ensemble.ts';
import { createMember, type MemberKind, type SwitchableMember } from '../support/member.ts';
import { deriveSeed } from '../../loadgen/random.ts';
import { seededRandom, testSeed } from '../support/random.ts';
import { waitFor } from '../support/wait.ts';
import { KazooWriter, NodeWriter, type Writer, type WriterReport } from '../support/write-load.ts';
import { type ZkSession } from '../support/zkclient.ts';

const ROOT = '/migration';
const NODE_WRITER_COUNT = 4;
const WRITE_PERIOD_MS = 40; // per node writer, at most 2 in flight: about 100 writes/s in all with kazoo's
const KAZOO_PERIOD_MS = 50;
const IN_FLIGHT_MAX = 2;
const STEP_DEADLINE_MS = 60_000;
const PROGRESS_ACKS_MIN = 10; // every writer acknowledged this many more writes after each step
const READ_BATCH = 200;

const cleanups = new Cleanups();
afterEach(() => cleanups.run(), 120_000);

interface StepTiming {
  step: string;
  stopMs: number;
  servingMs: number;
}

/** Waits until the members show one leader and followers only; returns the leader. */
async function settled(members: readonly SwitchableMember[], what: string): Promise<SwitchableMember> {
  let seen: (string | null)[] = [];
  try {
    await waitFor(async () => {
      seen = await Promise.all(members.map((m) => m.mode()));
      return seen.filter((m) => m === 'leader').length === 1 && seen.every((m) => m === 'leader' || m === 'follower');
    }, { timeoutMs: STEP_DEADLINE_MS, what, intervalMs: 100 });
  } catch (e) {
    throw new Error(`${(e as Error).message} (modes ${JSON.stringify(seen)})\n${members.map((m) => `--- ${m.kind()} ${m.sid}\n${m.logTail(15)}`).join('\n')}`);
  }
  return members[seen.indexOf('leader')];
}

/** Every writer acknowledges `count` more writes (the load goes on, its sessions reconnected). */
async function loadProgresses(writers: readonly Writer[], count: number, what: string): Promise<void> {
  const from = writers.map((w) => w.ackedCount());
  await waitFor(() => writers.every((w, i) => w.ackedCount() >= from[i] + count), {
    timeoutMs: STEP_DEADLINE_MS, what: `every writer to acknowledge ${count} more writes ${what} (${writers.map((w, i) => `${w.name} ${w.ackedCount() - from[i]}`).join(', ')})`,
  });
}

/** Replace `member`'s server by `kind` on its files; resolves once it serves with a write made after it stopped. */
async function switchOne(members: readonly SwitchableMember[], member: SwitchableMember, kind: MemberKind, probe: ZkSession, step: string): Promise<StepTiming> {
  const stopAt = Date.now();
  const from = member.kind();
  // zooid, like ZooKeeper, exits on SIGTERM (a lost 'stopped' message once left it hanging until SIGKILL)
  expect(await member.stop(), `${from} ${member.sid} to exit on SIGTERM within the deadline\n${member.logTail()}`).toBe(true);
  const stopMs = Date.now() - stopAt;
  // a write the new server must get from the leader (DIFF or SNAP) before it can answer it
  const others = members.filter((m) => m !== member);
  await settled(others, `${step}: the two others to serve`);
  expect(await probe.setData(ROOT, step)).toMatchObject({ err: 'OK' });
  const startAt = Date.now();
  await member.start(kind);
  await settled(members, `${step}: ${kind} ${member.sid} to join`);
  const on = await cleanups.session(`probe-${step}`, member.clientPort, { connectTimeoutMs: STEP_DEADLINE_MS });
  await waitFor(async () => (await on.getData(ROOT)).data === step, { timeoutMs: STEP_DEADLINE_MS, what: `${step}: ${kind} ${member.sid} to have the probe write` });
  const servingMs = Date.now() - startAt;
  await on.dispose();
  return { step, stopMs, servingMs };
}

/** Members in the order they are switched: the followers (in a seeded order), the leader last. */
async function switchOrder(members: readonly SwitchableMember[], random: () => number): Promise<SwitchableMember[]> {
  const leader = await settled(members, 'one leader');
  const followers = members.filter((m) => m !== leader);
  if (random() < 0.5) followers.reverse();
  return [...followers, leader];
}

/** Reads back on `port`, after sync, what every writer had acknowledged; returns the findings that are wrong. */
async function lostOn(port: number, reports: readonly WriterReport[]): Promise<string[]> {
  const s = await cleanups.session(`check-${port}`, port, { connectTimeoutMs: STEP_DEADLINE_MS });
  const lost: string[] = [];
  for (const r of reports) {
    expect(await s.sync(`${ROOT}/${r.name}`)).toMatchObject({ err: 'OK' });
    const children = new Set(((await s.getChildren(`${ROOT}/${r.name}`)).children as string[] | null) ?? []);
    const entries = [...r.acked];
    for (let i = 0; i < entries.length; i += READ_BATCH) {
      const replies = await Promise.all(entries.slice(i, i + READ_BATCH).map(([p]) => s.getData(p)));
      replies.forEach((reply, j) => {
        const [p, data] = entries[i + j];
        if (!children.has(p.slice(p.lastIndexOf('/') + 1)) || reply.err !== 'OK' || reply.data !== data) lost.push(`${p} on ${port}: ${reply.err} ${String(reply.data)}`);
      });
    }
    if (r.setPath !== null) {
      const reply = await s.getData(r.setPath);
      const seq = Number(String(reply.data).split(':')[1]);
      const version = (reply.stat as { version: number } | undefined)?.version ?? -1;
      // the last acknowledged setData, or one sent after it whose answer was lost with a connection
      if (!(seq >= r.setAckedSeqMax && seq <= r.setSentSeqMax && version >= r.setAckedCount)) {
        lost.push(`${r.setPath} on ${port}: ${String(reply.data)} version ${version}, acked up to seq ${r.setAckedSeqMax} (${r.setAckedCount} sets)`);
      }
    }
    const eph = await s.getData(`${ROOT}/eph-${r.name}`);
    const owner = (eph.stat as { ephemeralOwner: bigint } | undefined)?.ephemeralOwner;
    if (eph.err !== 'OK' || owner === undefined || owner.toString(16).padStart(16, '0') !== r.sessionAtStart) {
      lost.push(`${ROOT}/eph-${r.name} on ${port}: ${eph.err}, owner ${owner?.toString(16)}, session ${r.sessionAtStart}`);
    }
  }
  await s.dispose();
  return lost;
}

describe('rolling migration of a ZooKeeper 3.8 ensemble to zooid and back, under load', () => {
  it('switches every server to zooid and back one at a time: no acknowledged write lost, no session expired, only CONNECTIONLOSS seen', async () => {
    const seed = testSeed();
    console.log(`rolling-migration: TEST_SEED=${seed}`);
    const random = seededRandom(seed);
    const ports = await allocatePorts([1, 2, 3]);
    const lines = serverLines(ports);
    const members = ports.map((p) => createMember(p, lines));
    for (const m of members) cleanups.push(() => m.remove());
    await Promise.all(members.map((m) => m.start('zookeeper')));
    await settled(members, 'the ZooKeeper ensemble to form');

    const probe = await cleanups.session('probe', members[0].clientPort, { connectTimeoutMs: STEP_DEADLINE_MS });
    expect(await probe.create(ROOT, 'start')).toMatchObject({ err: 'OK' });
    await probe.dispose();

    // home servers round robin from a seeded start; each session's list goes on with the others
    const clientPorts = members.map((m) => m.clientPort);
    const homeAt = Math.floor(random() * clientPorts.length);
    const portsFrom = (i: number) => clientPorts.map((_, k) => clientPorts[(homeAt + i + k) % clientPorts.length]);
    const writers: Writer[] = [];
    for (let i = 0; i < NODE_WRITER_COUNT; i++) {
      const w = await NodeWriter.start(`node-${i}`, portsFrom(i), ROOT, seededRandom(deriveSeed(seed, i)));
      cleanups.push(() => w.close());
      writers.push(w);
    }
    const kazoo = await KazooWriter.start(portsFrom(NODE_WRITER_COUNT), KAZOO_PERIOD_MS);
    cleanups.push(() => kazoo.close());
    writers.push(kazoo);
    for (const w of writers) if (w instanceof NodeWriter) w.run(WRITE_PERIOD_MS, IN_FLIGHT_MAX);
    await loadProgresses(writers, PROGRESS_ACKS_MIN, 'before the first step');

    // the probe session moves with the steps: it writes through a server that is not being switched
    const timings: StepTiming[] = [];
    const startedAt = Date.now();
    for (const [from, to] of [['zookeeper', 'zooid'], ['zooid', 'zookeeper']] as const) {
      for (const member of await switchOrder(members, random)) {
        expect(member.kind()).toBe(from);
        const role = await member.mode();
        const other = members.find((m) => m !== member)!;
        const prober = await cleanups.session(`prober-${to}-${member.sid}`, other.clientPort, { connectTimeoutMs: STEP_DEADLINE_MS });
        timings.push(await switchOne(members, member, to, prober, `${to}-${member.sid}-was-${role}`));
        await prober.dispose();
        await loadProgresses(writers, PROGRESS_ACKS_MIN, `after ${to} ${member.sid} joined`);
      }
      expect(members.map((m) => m.kind())).toEqual([to, to, to]);
    }
    const migrationMs = Date.now() - startedAt;

    for (const w of writers) await w.stop();
    const reports = writers.map((w) => w.report());
    const lost = (await Promise.all(members.map((m) => lostOn(m.clientPort, reports)))).flat();

    const ackedCreates = reports.reduce((n, r) => n + r.acked.size, 0);
    const ackedSets = reports.reduce((n, r) => n + r.setAckedCount, 0);
    const errors = reports.map((r) => `${r.name} ${JSON.stringify(Object.fromEntries(r.errors))}`).join(', ');
    const gaps = reports.map((r) => `${r.name} ${r.ackGapMsMax}`).join(', ');
    console.log(`rolling-migration (seed ${seed}): ${ackedCreates} creates and ${ackedSets} setData acknowledged in ${migrationMs} ms of migration, ` +
      `lost ${lost.length}; errors: ${errors}; longest pause between two acknowledged writes (ms): ${gaps}\n` + timings.map((t) => `  ${t.step}: stopped in ${t.stopMs} ms, serving with the probe write ${t.servingMs} ms after start`).join('\n'));

    expect(lost).toEqual([]);
    for (const r of reports) {
      expect(r.sessionNow, `${r.name}'s session id`).toBe(r.sessionAtStart);
      expect(r.states.filter((s) => s === 'EXPIRED' || s === 'LOST'), `${r.name}'s states`).toEqual([]);
      expect([...r.errors.keys()].filter((e) => e !== 'CONNECTION_LOSS' && e !== 'ConnectionLoss'), `${r.name}'s errors`).toEqual([]);
    }
    expect(ackedCreates).toBeGreaterThan(NODE_WRITER_COUNT * PROGRESS_ACKS_MIN * 6);
  }, 300_000);
});
