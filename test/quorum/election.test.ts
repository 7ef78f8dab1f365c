// zooid election runners (engine/quorum/elect.ts) over real loopback TCP: three runners
// elect the server with the highest zxid, then the highest sid; a restarted runner learns
// the leader the other two still hold; an observer learns it too. Deadlines everywhere;
// the only waiting is on decisions.
import { describe, it, expect, afterEach } from 'vitest';
import { ElectionRunner } from '../../engine/quorum/elect.ts';
import type { Decision, LocalState } from '../../engine/quorum/election.ts';
import { serversFromLines } from '../../engine/quorum/view.ts';
import { allocatePorts, serverLines } from '../support/ensemble.ts';
import { withDeadline } from '../support/wait.ts';
import { createLogger } from '../../engine/logger.ts';

const DECISION_DEADLINE_MS = 15_000;
const log = createLogger('quorum-test');
const running: ElectionRunner[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
});

async function start(lines: string[], myid: number, local: LocalState): Promise<ElectionRunner> {
  const runner = await ElectionRunner.start({ servers: serversFromLines(lines), myid, local, log });
  running.push(runner);
  return runner;
}

function decided(runner: ElectionRunner): Promise<Decision> {
  return withDeadline(runner.waitForDecision(), DECISION_DEADLINE_MS, `server ${runner.view.mySid} to decide`);
}

const history = (epoch: bigint, counter: bigint): LocalState => ({ currentEpoch: epoch, lastLoggedZxid: (epoch << 32n) | counter });

describe('zooid election runners over TCP', () => {
  it('three runners elect the highest zxid, then the highest sid', async () => {
    for (const [locals, leader] of [
      [[history(1n, 7n), history(1n, 9n), history(1n, 8n)], 2n],
      [[history(2n, 0n), history(2n, 0n), history(1n, 5n)], 2n],
      [[history(0n, 0n), history(0n, 0n), history(0n, 0n)], 3n],
    ] as const) {
      const lines = serverLines(await allocatePorts([1, 2, 3]));
      const runners = await Promise.all(locals.map((local, i) => start(lines, i + 1, local)));
      const decisions = await Promise.all(runners.map(decided));
      for (const [i, d] of decisions.entries()) {
        expect(d.leader, `server ${i + 1} (${JSON.stringify(locals.map(String))})`).toBe(leader);
        expect(d.role).toBe(BigInt(i + 1) === leader ? 'LEADING' : 'FOLLOWING');
      }
      await Promise.all(running.splice(0).map((r) => r.close()));
    }
  });

  it('a restarted runner follows the leader the others still hold; an observer learns it', async () => {
    const ports = await allocatePorts([1, 2, 3, 4]);
    const lines = serverLines(ports, [4]);
    const local = history(0n, 0n);
    const first = await Promise.all([1, 2, 3].map((id) => start(lines, id, local)));
    await Promise.all(first.map(decided));
    expect(first[2].decision?.role).toBe('LEADING');
    await first[0].close();
    const again = await start(lines, 1, local);
    expect(await decided(again)).toMatchObject({ role: 'FOLLOWING', leader: 3n, electionEpoch: 1n });
    const observer = await start(lines, 4, local);
    expect(await decided(observer)).toMatchObject({ role: 'OBSERVING', leader: 3n });
  });
});
