// node-zookeeper-client against Apache ZooKeeper 3.8 (the oracle) and the
// target (zooid; ZOOID_COMPAT_TARGET=zookeeper makes it a second ZooKeeper to
// prove the harness). Each scenario runs on both servers at once; the masked
// transcripts must be identical.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyDeviations, EXISTS_NEEDS_READ } from './deviations.ts';
import { compatTarget, startPair, type ServerHandle } from '../support/servers.ts';
import {
  assertSameTranscript,
  maskTranscript,
  maybeDumpTranscript,
  renderTranscript,
  transcriptFacts,
  type TranscriptEntry,
} from '../support/transcript.ts';
import { runScenario, scenarios } from './scenarios.ts';

const targetKind = compatTarget();
let servers: { oracle: ServerHandle; target: ServerHandle } | undefined;
const oracleTranscripts: TranscriptEntry[][] = [];

function started(): { oracle: ServerHandle; target: ServerHandle } {
  if (servers === undefined) throw new Error('servers did not start (see beforeAll)');
  return servers;
}

describe(`compat, node-zookeeper-client: Apache ZooKeeper vs ${targetKind}`, () => {
  beforeAll(async () => {
    servers = await startPair();
  });

  afterAll(async () => {
    await Promise.all([servers?.oracle.stop(), servers?.target.stop()]);
  });

  for (const scenario of scenarios) {
    it(
      scenario.name,
      async () => {
        const { oracle, target } = started();
        const [expected, actual] = await Promise.all([runScenario(scenario, oracle.port), runScenario(scenario, target.port)]);
        oracleTranscripts.push(expected.entries);
        const index = String(scenarios.indexOf(scenario) + 1).padStart(2, '0');
        maybeDumpTranscript('nodeclient', `${index} ${scenario.name}`, 'oracle', expected.entries);
        maybeDumpTranscript('nodeclient', `${index} ${scenario.name}`, targetKind, actual.entries);
        if (expected.abortedWith !== undefined) {
          throw new Error(
            `harness problem: the scenario failed against Apache ZooKeeper itself: ${expected.abortedWith}\n` +
              renderTranscript(maskTranscript(expected.entries)) +
              `\n\nZooKeeper log (${oracle.logFile}):\n${oracle.logTail(30)}`,
          );
        }
        const oracleAsFixed = targetKind === 'zooid' ? applyDeviations(expected.entries, EXISTS_NEEDS_READ) : expected.entries;
        assertSameTranscript(oracleAsFixed, actual.entries, {
          name: scenario.name,
          targetLabel: `${targetKind} (port ${target.port})`,
          details: () => `${targetKind} log (${target.logFile}), last lines:\n${target.logTail(30)}`,
        });
      },
      (scenario.timeoutMs ?? 30_000) + 15_000,
    );
  }

  it('the transcripts can fail: they hold error codes and watch events', () => {
    expect(oracleTranscripts.length).toBe(scenarios.length);
    const facts = transcriptFacts(oracleTranscripts.flat());
    for (const code of ['NONODE', 'NODEEXISTS', 'BADVERSION', 'NOTEMPTY', 'NOAUTH', 'INVALIDACL', 'NOCHILDRENFOREPHEMERALS', 'BADARGUMENTS']) {
      expect(facts.errorCodes, `an oracle transcript shows ${code}`).toContain(code);
    }
    expect(facts.eventCount).toBeGreaterThanOrEqual(20);
  });
});
