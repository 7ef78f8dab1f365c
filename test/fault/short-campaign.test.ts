// The short fault campaign CI runs (issue 12): a few seeded runs against zooid and against
// Apache ZooKeeper 3.8 (the control) with every nemesis, which must find no violation, and
// a run through the fault proxy's planted bug (it acknowledges some setData requests itself
// and never forwards them: a server that acks what it did not persist), which the checker
// must catch, and one where it answers some reads from older replies (stale reads). The long campaign is `npm run fault -- --runs 1000` (README, Tests).
// Seeds are printed; TEST_SEED=<n> replays a campaign's choices.
import { describe, it, expect } from 'vitest';
import { DEFAULT_RUN_OPTIONS, runCampaign, summarize, type RunResult } from './run.ts';
import { NEMESIS_KINDS } from './nemesis.ts';
import { testSeed } from '../support/random.ts';
import type { ServerKind } from '../support/servers.ts';

const RUN_DURATION_MS = 3_000;

async function campaign(target: ServerKind, runCount: number, extra: Partial<Parameters<typeof runCampaign>[0]> = {}): Promise<{ seed: number; results: RunResult[]; report: string }> {
  const seed = testSeed();
  const lines: string[] = [];
  const results = await runCampaign({
    ...DEFAULT_RUN_OPTIONS,
    target,
    nemeses: NEMESIS_KINDS,
    durationMs: RUN_DURATION_MS,
    campaignSeed: seed,
    runCount,
    resultsFile: null,
    log: (line) => lines.push(line),
    ...extra,
  });
  const report = `campaign seed ${seed} (TEST_SEED=${seed} replays it)\n${lines.join('\n')}`;
  console.log(report);
  return { seed, results, report };
}

function expectCleanAndExercised(results: RunResult[], report: string): void {
  expect(results.map((r) => r.verdict), report).toEqual(results.map(() => 'ok'));
  // a campaign that did nothing must not pass: ops were checked and faults happened
  expect(results.reduce((n, r) => n + r.counts.ok, 0), report).toBeGreaterThan(100);
  expect(results.reduce((n, r) => n + r.counts.fifoBatches, 0), report).toBeGreaterThan(0);
  expect(results.reduce((n, r) => n + r.events.length, 0), report).toBeGreaterThan(0);
}

describe('short fault campaign', () => {
  it('finds no violation in zooid under kill -9, pauses, cuts and delays', { timeout: 240_000 }, async () => {
    const { results, report } = await campaign('zooid', 3);
    expectCleanAndExercised(results, report);
  });

  it('finds no violation in Apache ZooKeeper 3.8 (the control)', { timeout: 240_000 }, async () => {
    const { results, report } = await campaign('zookeeper', 2);
    expectCleanAndExercised(results, report);
  });

  // fake-ack: writes acknowledged by the proxy and never made; stale-read: reads answered from an older reply
  it.each(['fake-ack', 'stale-read'] as const)('catches the planted bug %s', { timeout: 240_000 }, async (plant) => {
    const { results, report } = await campaign('zooid', 3, { plant, nemeses: [], stopOnFailure: true, keepFailed: false });
    const last = results[results.length - 1];
    expect(last.counts.fakeAcks, report).toBeGreaterThan(0);
    expect(last.verdict, report).toBe('violation');
    const kinds = new Set(last.violations.map((v) => v.invariant));
    expect(kinds.has('linearizable'), report).toBe(true);
    // the smallest failing sub-history is printed, and it is small
    const linear = last.violations.find((v) => v.invariant === 'linearizable')!;
    expect(linear.history!.length, summarize(results.length - 1, results.length, last)).toBeLessThanOrEqual(10);
  });
});
