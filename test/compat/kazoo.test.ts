// kazoo (python3-kazoo) against Apache ZooKeeper 3.8 and the target: the
// scenarios in kazoo_scenarios.py print a raw JSON transcript per server; the
// masked transcripts must be identical.

import { execFile } from 'node:child_process';
import { applyDeviations, EXISTS_NEEDS_READ } from './deviations.ts';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compatTarget, startPair, type ServerHandle } from '../support/servers.ts';
import {
  assertSameTranscript,
  maskTranscript,
  maybeDumpTranscript,
  renderTranscript,
  transcriptFacts,
  type TranscriptEntry,
} from '../support/transcript.ts';

const PYTHON = '/usr/bin/python3'; // Debian's python, where python3-kazoo is installed
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'kazoo_scenarios.py');
const RUN_TIMEOUT_MS = 60_000;

// Keep in step with SCENARIOS in kazoo_scenarios.py.
const SCENARIO_NAMES = [
  'kazoo basics',
  'kazoo transactions',
  'kazoo ACLs',
  'kazoo watches',
  'kazoo reconnect after a dropped connection',
];

interface KazooRun {
  scenarios: { name: string; entries: TranscriptEntry[]; aborted: string | null }[];
}

function runKazoo(port: number, scenario: string): Promise<{ run: KazooRun; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      PYTHON,
      [SCRIPT, String(port), scenario],
      { timeout: RUN_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, env: { ...process.env, PYTHONUNBUFFERED: '1' } },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`kazoo_scenarios.py on port ${port} failed (${error.message}):\n${stderr.slice(-4000)}`));
          return;
        }
        try {
          resolve({ run: JSON.parse(stdout) as KazooRun, stderr });
        } catch (parseError) {
          reject(new Error(`kazoo_scenarios.py printed no JSON (${(parseError as Error).message}):\n${stdout.slice(-2000)}\n${stderr.slice(-4000)}`));
        }
      },
    );
  });
}

const targetKind = compatTarget();
let servers: { oracle: ServerHandle; target: ServerHandle } | undefined;
const oracleTranscripts: TranscriptEntry[][] = [];

describe(`compat, kazoo: Apache ZooKeeper vs ${targetKind}`, () => {
  beforeAll(async () => {
    servers = await startPair();
  });

  afterAll(async () => {
    await Promise.all([servers?.oracle.stop(), servers?.target.stop()]);
  });

  for (const name of SCENARIO_NAMES) {
    it(
      name,
      async () => {
        if (servers === undefined) throw new Error('servers did not start (see beforeAll)');
        const { oracle, target } = servers;
        const [expected, actual] = await Promise.all([
          runKazoo(oracle.port, name),
          runKazoo(target.port, name).catch((error: Error) => error),
        ]);
        const oracleScenario = expected.run.scenarios.find((s) => s.name === name);
        if (oracleScenario === undefined) throw new Error(`kazoo_scenarios.py has no scenario named ${JSON.stringify(name)}`);
        oracleTranscripts.push(oracleScenario.entries);
        maybeDumpTranscript('kazoo', name, 'oracle', oracleScenario.entries);
        if (oracleScenario.aborted !== null) {
          throw new Error(
            `harness problem: the scenario failed against Apache ZooKeeper itself: ${oracleScenario.aborted}\n` +
              renderTranscript(maskTranscript(oracleScenario.entries)) +
              `\n${expected.stderr.slice(-3000)}`,
          );
        }
        const targetEntries: TranscriptEntry[] =
          actual instanceof Error
            ? [{ step: 'kazoo run failed', error: actual.message }]
            : (actual.run.scenarios.find((s) => s.name === name)?.entries ?? [{ step: 'scenario missing' }]);
        maybeDumpTranscript('kazoo', name, targetKind, targetEntries);
        const oracleAsFixed = targetKind === 'zooid' ? applyDeviations(oracleScenario.entries, EXISTS_NEEDS_READ) : oracleScenario.entries;
        assertSameTranscript(oracleAsFixed, targetEntries, {
          name,
          targetLabel: `${targetKind} (port ${target.port})`,
          details: () =>
            (actual instanceof Error ? '' : `kazoo stderr against ${targetKind}:\n${actual.stderr.slice(-2000)}\n`) +
            `${targetKind} log (${target.logFile}), last lines:\n${target.logTail(30)}`,
        });
      },
      RUN_TIMEOUT_MS + 15_000,
    );
  }

  it('the transcripts can fail: they hold error codes and watch events', () => {
    expect(oracleTranscripts.length).toBe(SCENARIO_NAMES.length);
    const facts = transcriptFacts(oracleTranscripts.flat());
    for (const error of ['NoNodeError', 'NodeExistsError', 'BadVersionError', 'NoAuthError', 'RolledBackError', 'RuntimeInconsistency']) {
      expect(facts.errorCodes, `an oracle transcript shows ${error}`).toContain(error);
    }
    expect(facts.eventCount).toBeGreaterThanOrEqual(5);
  });
});
