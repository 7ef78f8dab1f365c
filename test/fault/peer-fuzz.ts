// The peer-port fuzzer as a script (issue 12): starts an ensemble of three (zooid or Apache
// ZooKeeper 3.8), sends seeded structure-aware fuzz inputs (peer-input.ts) to the members'
// election ports and the leader's quorum port, and after every batch checks that the
// ensemble carries on: every member runs, one leads, and a write through each member is
// read back through each after sync; at the end the control data is intact everywhere.
//
//   node test/fault/peer-fuzz.ts --target zooid --inputs 2000 --seed 0x1234
//   node test/fault/peer-fuzz.ts --target zookeeper --inputs 500          (the same inputs against ZooKeeper)
//
// Exit code 0 when the ensemble carried on throughout, 1 otherwise.

import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { deriveSeed, freshSeed, seededRandom } from '../../loadgen/random.ts';
import { allocatePorts, serverLines, startZooKeeperPeer, startZooidPeer, srvrMode, type PeerPorts } from '../support/ensemble.ts';
import type { ServerKind } from '../support/servers.ts';
import { waitFor } from '../support/wait.ts';
import { parseSeed } from '../support/random.ts';
import { ZkSession } from '../support/zkclient.ts';
import { fuzzInput, probe, type PeerPort } from './peer-input.ts';

export interface PlainMember {
  sid: number;
  kind: ServerKind;
  ports: PeerPorts;
  logFile: string;
  isRunning(): boolean;
  mode(): Promise<string | null>;
  logTail(lineCount?: number): string;
  stop(): Promise<void>;
}

/** Three members of one kind on their real ports (no proxy), settled with one leader. */
export async function startPlainEnsemble(kind: ServerKind): Promise<PlainMember[]> {
  const ports = await allocatePorts([1, 2, 3]);
  const lines = serverLines(ports);
  const members = await Promise.all(
    ports.map(async (p): Promise<PlainMember> => {
      if (kind === 'zooid') {
        const peer = await startZooidPeer(p, lines, { '4lw.commands.whitelist': '*' });
        return {
          sid: p.sid, kind, ports: p, logFile: peer.handle.logFile,
          isRunning: () => { try { process.kill(peer.handle.pid, 0); return true; } catch { return false; } },
          mode: () => peer.mode(), logTail: (n) => peer.logTail(n), stop: () => peer.stop(),
        };
      }
      const peer = await startZooKeeperPeer(p.sid, p.clientPort, lines);
      return { sid: p.sid, kind, ports: p, logFile: peer.logFile, isRunning: () => !peer.hasExited(), mode: () => peer.mode(), logTail: (n) => peer.logTail(n), stop: () => peer.stop() };
    }),
  );
  await leaderOf(members, 'the ensemble to form', 90_000);
  return members;
}

/** Waits for one leader and two followers; returns the leader. */
export async function leaderOf(members: readonly PlainMember[], what: string, timeoutMs: number): Promise<PlainMember> {
  let modes: (string | null)[] = [];
  try {
    await waitFor(
      async () => {
        modes = await Promise.all(members.map((m) => (m.isRunning() ? m.mode() : Promise.resolve('not running'))));
        return modes.filter((m) => m === 'leader').length === 1 && modes.every((m) => m === 'leader' || m === 'follower');
      },
      { timeoutMs, what, intervalMs: 100 },
    );
  } catch (error) {
    throw new Error(`${(error as Error).message} (modes ${JSON.stringify(modes)})\n${members.map((m) => `--- ${m.kind} ${m.sid}\n${m.logTail(15)}`).join('\n')}`);
  }
  return members[modes.indexOf('leader')];
}

/** A session per member, for the carry-on checks. */
export async function controlSessions(members: readonly PlainMember[]): Promise<ZkSession[]> {
  return Promise.all(members.map((m) => ZkSession.connect(`control-${m.sid}`, m.ports.clientPort, { sessionTimeoutMs: 30_000, connectTimeoutMs: 30_000, requestTimeoutMs: 30_000 })));
}

/**
 * The ensemble carries on: every member runs, one leads, and a write through each member
 * (to /control-<sid>) is read back through every member after sync. Throws what failed.
 */
export async function carriesOn(members: readonly PlainMember[], sessions: readonly ZkSession[], tag: string): Promise<void> {
  for (const m of members) if (!m.isRunning()) throw new Error(`${m.kind} ${m.sid} is not running after ${tag}\n${m.logTail(20)}`);
  await leaderOf(members, `one leader after ${tag}`, 60_000);
  for (let i = 0; i < members.length; i++) {
    const path = `/control-${members[i].sid}`;
    const wrote = await sessions[i].setData(path, tag);
    if (wrote.err === 'NONODE') await sessions[i].create(path, tag);
    else if (wrote.err !== 'OK') throw new Error(`setData ${path} through ${members[i].sid} after ${tag}: ${wrote.err}`);
  }
  for (let j = 0; j < members.length; j++) {
    for (let i = 0; i < members.length; i++) {
      const path = `/control-${members[i].sid}`;
      await sessions[j].sync(path);
      const got = await sessions[j].getData(path);
      if (got.err !== 'OK' || got.data !== tag) throw new Error(`${path} through ${members[j].sid} after ${tag}: ${got.err} ${JSON.stringify(got.data)}, not ${JSON.stringify(tag)}`);
    }
  }
}

export interface FuzzReport {
  seed: number;
  inputs: number;
  closedByServer: number;
  refused: number;
  byPort: Record<PeerPort, number>;
}

/**
 * `inputCount` fuzz inputs, `concurrency` at a time, to random members' election ports and the
 * leader's quorum port; carriesOn after every `checkEvery`. Throws at the first check that fails,
 * naming the inputs of the batch before it.
 */
export async function runPeerFuzz(
  members: readonly PlainMember[],
  sessions: readonly ZkSession[],
  seed: number,
  inputCount: number,
  options: { checkEvery?: number; concurrency?: number; closeDeadlineMs?: number; log?: (line: string) => void } = {},
): Promise<FuzzReport> {
  const checkEvery = options.checkEvery ?? 100;
  const concurrency = options.concurrency ?? 4;
  const closeDeadlineMs = options.closeDeadlineMs ?? 500;
  const random = seededRandom(deriveSeed(seed, 0xf022));
  const report: FuzzReport = { seed, inputs: 0, closedByServer: 0, refused: 0, byPort: { election: 0, quorum: 0 } };
  let leader = await leaderOf(members, 'a leader before fuzzing', 60_000);
  for (let batchStart = 0; batchStart < inputCount; batchStart += checkEvery) {
    const batch = Array.from({ length: Math.min(checkEvery, inputCount - batchStart) }, () => {
      const input = fuzzInput(random, 99n);
      const target = input.port === 'quorum' ? leader : members[Math.floor(random() * members.length)];
      return { input, port: input.port === 'quorum' ? target.ports.quorumPort : target.ports.electionPort, sid: target.sid };
    });
    for (let i = 0; i < batch.length; i += concurrency) {
      const results = await Promise.all(batch.slice(i, i + concurrency).map((b) => probe(b.port, b.input.parts, closeDeadlineMs)));
      for (let k = 0; k < results.length; k++) {
        report.inputs++;
        report.byPort[batch[i + k].input.port]++;
        if (results[k].closedByServer) report.closedByServer++;
        if (results[k].refused) report.refused++;
      }
    }
    const tag = `fuzz batch ${batchStart / checkEvery} of seed ${seed}`;
    try {
      await carriesOn(members, sessions, tag);
    } catch (error) {
      const inputs = batch.map((b) => `  to ${b.sid} ${b.input.what}`).join('\n');
      throw new Error(`${(error as Error).message}\nthe batch's inputs:\n${inputs}`);
    }
    leader = await leaderOf(members, 'a leader between batches', 60_000);
    options.log?.(`${report.inputs}/${inputCount} inputs, ${report.closedByServer} closed by the server, ${report.refused} refused; the ensemble carries on`);
  }
  return report;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { target: { type: 'string', default: 'zooid' }, inputs: { type: 'string', default: '1000' }, seed: { type: 'string' } } });
  const kind = values.target as ServerKind;
  if (kind !== 'zooid' && kind !== 'zookeeper') throw new Error('--target zooid or zookeeper');
  const seed = values.seed !== undefined ? parseSeed(values.seed) : freshSeed();
  console.log(`peer fuzz: ${values.inputs} inputs against a ${kind} ensemble, seed 0x${seed.toString(16)}`);
  const members = await startPlainEnsemble(kind);
  const sessions = await controlSessions(members);
  let failed = false;
  try {
    await carriesOn(members, sessions, 'the start');
    const report = await runPeerFuzz(members, sessions, seed, Number(values.inputs), { log: (line) => console.log(line) });
    const leader = await leaderOf(members, 'a leader at the end', 60_000);
    const modes = await Promise.all(members.map((m) => srvrMode(m.ports.clientPort)));
    console.log(`done: ${JSON.stringify(report)}; leader ${leader.sid}, modes ${modes.join(',')}`);
  } catch (error) {
    failed = true;
    console.error(`FAILED (seed 0x${seed.toString(16)}): ${(error as Error).message}`);
    for (const m of members) console.error(`--- ${m.kind} ${m.sid} (${m.logFile})\n${m.logTail(20)}`);
  } finally {
    await Promise.all(sessions.map((s) => s.dispose().catch(() => undefined)));
    await Promise.all(members.map((m) => m.stop().catch(() => undefined)));
  }
  process.exitCode = failed ? 1 : 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  main().catch((error) => {
    console.error(error);
    process.exitCode = 2;
  });
}
