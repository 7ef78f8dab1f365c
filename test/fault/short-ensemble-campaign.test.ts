// The short ensemble fault campaign CI runs (issue 12): a few seeded runs against an ensemble
// of three zooid servers with every ensemble nemesis (kill -9 and SIGSTOP of a member or the
// leader, partitions through the peer fault proxy: the leader isolated, a minority of one, a
// bridge; client proxy cuts and delays), and one against three Apache ZooKeeper 3.8 servers
// (the control). Neither may show a violation. The control leaves out the faults aimed at
// the leader: ZooKeeper 3.8.0 itself diverges after some of them (a deposed leader that
// leads again for a moment snapshots its uncommitted txns, and a later TRUNC does not remove
// them from that snapshot: test/fault/results/README.md), which the long campaign records.
// The long campaign is `npm run fault -- --runs 30 --target zooid-ensemble`.
// Seeds are printed; TEST_SEED=<n> replays a campaign's choices.
import { describe, it, expect } from 'vitest';
import { DEFAULT_RUN_OPTIONS, ENSEMBLE_RUN_OPTIONS, runCampaign, type FaultTarget, type RunResult } from './run.ts';
import { testSeed } from '../support/random.ts';
import type { NemesisKind } from './nemesis.ts';

/** Shorter than a recorded campaign's 8 s: the test's budget is a couple of minutes in all. */
const RUN_DURATION_MS = 6_000;

/** ZooKeeper 3.8.0's control: faults on random members only (see the header). */
const CONTROL_NEMESES = ['kill9', 'pause', 'bridge', 'proxy-cut', 'proxy-delay'] as const;

async function campaign(target: FaultTarget, runCount: number, nemeses: readonly NemesisKind[] = ENSEMBLE_RUN_OPTIONS.nemeses): Promise<{ results: RunResult[]; report: string }> {
  const seed = testSeed();
  const lines: string[] = [];
  const results = await runCampaign({
    ...DEFAULT_RUN_OPTIONS,
    ...ENSEMBLE_RUN_OPTIONS,
    target,
    nemeses,
    durationMs: RUN_DURATION_MS,
    campaignSeed: seed,
    runCount,
    resultsFile: null,
    log: (line) => lines.push(line),
  });
  const report = `campaign seed ${seed} (TEST_SEED=${seed} replays it)\n${lines.join('\n')}`;
  console.log(report);
  return { results, report };
}

function expectCleanAndExercised(results: RunResult[], report: string): void {
  expect(results.map((r) => r.verdict), report).toEqual(results.map(() => 'ok'));
  // a campaign that did nothing must not pass: ops were checked and faults happened
  expect(results.reduce((n, r) => n + r.counts.ok, 0), report).toBeGreaterThan(50);
  expect(results.reduce((n, r) => n + r.counts.fifoBatches, 0), report).toBeGreaterThan(0);
  expect(results.reduce((n, r) => n + r.events.length, 0), report).toBeGreaterThan(0);
}

describe('short ensemble fault campaign', () => {
  it('finds no violation in a zooid ensemble under kills, pauses and partitions', { timeout: 300_000 }, async () => {
    const { results, report } = await campaign('zooid-ensemble', 2);
    expectCleanAndExercised(results, report);
  });

  it('finds no violation in an Apache ZooKeeper 3.8 ensemble (the control)', { timeout: 300_000 }, async () => {
    const { results, report } = await campaign('zookeeper-ensemble', 1, CONTROL_NEMESES);
    expectCleanAndExercised(results, report);
  });
});
