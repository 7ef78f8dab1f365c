// Bad input on the peer ports of a running ensemble (issue 10's must-show, issue 12's fuzzing
// of election and quorum packets). Against three zooid members, and against three Apache
// ZooKeeper 3.8 members for comparison, each named case of test/fault/peer-input.ts goes to a
// follower's election port or the leader's quorum port on a fresh connection; then the
// ensemble must carry on: every member runs, one leads, and a write through each member is
// read back through every member after sync. zooid must also close the connection (where
// the case says it must) and say why in its log. Then seeded structure-aware fuzz inputs
// (notifications, QuorumPackets; peer-input.ts) go to every member, with the same check after
// each batch. What each server did is printed as a table; TEST_SEED=<n> replays the fuzz.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import { testSeed } from '../support/random.ts';
import type { ServerKind } from '../support/servers.ts';
import { waitFor } from '../support/wait.ts';
import type { ZkSession } from '../support/zkclient.ts';
import { badPeerCases, probe } from '../fault/peer-input.ts';
import { carriesOn, controlSessions, leaderOf, runPeerFuzz, startPlainEnsemble, type PlainMember } from '../fault/peer-fuzz.ts';

/** Longer than zooid's handshake timeout (tickTime × syncLimit, 2 s) and the leader's read timeout during discovery (initLimit ticks, 5 s). */
const CLOSE_DEADLINE_MS = 8_000;
const ZOOID_SAYS = /election connection refused|election channel broken|closing learner connection|skipping a malformed notification|learner connection error/;
/** A sid outside the view of sids 1..3. */
const UNKNOWN_SID = 99n;

const logSize = (file: string): number => (fs.existsSync(file) ? fs.statSync(file).size : 0);
const logSince = (file: string, from: number): string => fs.readFileSync(file).subarray(from).toString('utf8');

/** The first warning or error a log gained since `from` (ZooKeeper: log4j's WARN/ERROR lines; zooid: the lines ZOOID_SAYS names). */
function firstComplaint(kind: ServerKind, text: string): string | null {
  const lines = text.split('\n');
  const line = kind === 'zooid' ? lines.find((l) => ZOOID_SAYS.test(l)) : lines.find((l) => / (WARN|ERROR) /.test(l));
  if (line === undefined) return null;
  return line.replace(/^\S+ \S+ /, '').slice(0, 200);
}

const cases = badPeerCases(UNKNOWN_SID);

describe.each(['zooid', 'zookeeper'] as const)('bad peer input to a %s ensemble of three', (kind) => {
  let members: PlainMember[] = [];
  let sessions: ZkSession[] = [];
  const table: string[] = [];

  beforeAll(async () => {
    members = await startPlainEnsemble(kind);
    sessions = await controlSessions(members);
    await carriesOn(members, sessions, 'the start');
  }, 180_000);

  afterAll(async () => {
    console.log(`what ${kind} did with bad peer input:\n${table.join('\n')}`);
    await Promise.all(sessions.map((s) => s.dispose().catch(() => undefined)));
    await Promise.all(members.map((m) => m.stop().catch((e: Error) => console.error(`stop ${m.sid}: ${e.message}`))));
  }, 60_000);

  it.each(cases)('$port port: $name', async (c) => {
    const leader = await leaderOf(members, 'a leader before the case', 60_000);
    const target = c.port === 'quorum' ? leader : members.find((m) => m !== leader)!;
    const from = logSize(target.logFile);
    const result = await probe(c.port === 'quorum' ? target.ports.quorumPort : target.ports.electionPort, c.parts, CLOSE_DEADLINE_MS);
    expect(result.refused, `${kind} ${target.sid}'s ${c.port} port refused the connection`).toBe(false);
    if (kind === 'zooid' && c.mustClose) {
      expect(result.closedByServer, `zooid ${target.sid} kept the connection open`).toBe(true);
      await waitFor(() => ZOOID_SAYS.test(logSince(target.logFile, from)), { timeoutMs: 5_000, what: `a log line of zooid ${target.sid} about the connection` });
    }
    await carriesOn(members, sessions, `${c.port} ${c.name}`);
    const said = firstComplaint(kind, logSince(target.logFile, from));
    table.push(`  ${c.port.padEnd(8)} ${c.name.padEnd(52)} ${result.closedByServer ? 'closed' : 'kept open'}; ${said ?? '(no warning logged)'}`);
  }, 120_000);

  it(`carries on through seeded fuzz inputs on its election and quorum ports`, async () => {
    const seed = testSeed();
    const inputCount = kind === 'zooid' ? 300 : 100;
    const report = await runPeerFuzz(members, sessions, seed, inputCount, { checkEvery: 100 });
    console.log(`${kind} peer fuzz, seed ${seed} (TEST_SEED=${seed} replays it): ${JSON.stringify(report)}`);
    expect(report.inputs).toBe(inputCount);
    expect(report.refused).toBe(0);
    // most inputs are broken: the members closed most connections themselves
    expect(report.closedByServer).toBeGreaterThan(inputCount / 3);
  }, 300_000);
});
