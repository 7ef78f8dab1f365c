// Whole runs against a fake server (real sockets, real piscina threads): unreachable hosts,
// server errors, dropped connections and a silent server are counted and reported, and the
// run always ends within warm-up + duration + grace + a fixed slack.
import { afterAll, describe, expect, it } from 'vitest';
import { Err } from '../../engine/protocol.ts';
import { parseLoadOptions } from '../../loadgen/options.ts';
import { closePool, runLoad } from '../../loadgen/run.ts';
import { LoadgenError } from '../../loadgen/setup.ts';
import { closedPort, startFakeServer } from './loadgen-fake-server.ts';
import { renderRunReport } from '../../loadgen/report.ts';
import { formatSummary } from '../../loadgen/summary.ts';

/** What a run may take beyond warm-up + duration + grace: setup, thread start, the finish slack. */
const OVERRUN_MS_MAX = 4_500;

afterAll(async () => {
  await closePool();
});

function options(...args: string[]) {
  const duration = args.includes('--duration') ? [] : ['--duration', '1s'];
  return parseLoadOptions(['--threads', '2', '--connections', '4', '--warmup', '0', ...duration, '--grace', '500ms', '--keys', '32', '--value-bytes', '8', '--connect-timeout', '1s', '--seed', '11', '--no-progress', ...args]).options;
}

describe('loadgen runs', () => {
  it('counts an unreachable host and still drives the reachable one', async () => {
    const server = await startFakeServer();
    const dead = await closedPort();
    try {
      const t0 = Date.now();
      // 2 s, not 1: on a loaded 2-core machine a 1 s window can pass before the thread that
      // drives the reachable host gets its first reply (seen once in a full-suite run)
      const { result } = await runLoad(options('--hosts', `127.0.0.1:${server.port},127.0.0.1:${dead}`, '--duration', '2s'));
      expect(Date.now() - t0).toBeLessThan(2000 + 500 + OVERRUN_MS_MAX);
      expect(result.complete).toBe(true);
      expect(result.okOps).toBeGreaterThan(0);
      expect(result.errors['connect ECONNREFUSED']).toBeGreaterThanOrEqual(2);
      expect(result.notes.join('\n')).toMatch(/connection attempts failed/);
      expect(formatSummary(result)).toMatch(/connect ECONNREFUSED/);
      expect(renderRunReport(result)).toMatch(/<svg[\s\S]*<\/svg>/);
    } finally {
      await server.close();
    }
  });

  it('counts server errors and connections dropped mid-run, and reconnects', async () => {
    const server = await startFakeServer({ errorEvery: { n: 10, code: Err.NONODE }, dropAfterRequests: 300 });
    try {
      const { result } = await runLoad(options('--hosts', `127.0.0.1:${server.port}`, '--read-pct', '100', '--no-setup'));
      expect(result.complete).toBe(true);
      expect(result.errors.NONODE).toBeGreaterThan(0);
      expect(result.ops.get!.errors.NONODE).toBe(result.errors.NONODE);
      expect(result.disconnects).toBeGreaterThanOrEqual(1);
      expect(result.errors.CONNECTIONLOSS).toBeGreaterThan(0);
      expect(result.connects).toBeGreaterThan(4); // the lost ones came back
      expect(result.okOps).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  });

  it('ends on time against a server that stops answering, counting the unfinished', async () => {
    const server = await startFakeServer({ stallAfterRequests: 2000 });
    try {
      const t0 = Date.now();
      const { result } = await runLoad(options('--hosts', `127.0.0.1:${server.port}`, '--rate', '4000', '--outstanding', '50'));
      expect(Date.now() - t0).toBeLessThan(1000 + 500 + OVERRUN_MS_MAX);
      expect(result.complete).toBe(true);
      expect(result.errors.UNFINISHED).toBeGreaterThan(0);
      expect(result.unsent).toBeGreaterThan(0); // every connection full: the schedule backed up
      expect(result.notes.join('\n')).toMatch(/never sent/);
    } finally {
      await server.close();
    }
  });

  it('fails fast and says why when no host is reachable', async () => {
    const dead = await closedPort();
    const t0 = Date.now();
    await expect(runLoad(options('--hosts', `127.0.0.1:${dead}`))).rejects.toThrow(LoadgenError);
    await expect(runLoad(options('--hosts', `127.0.0.1:${dead}`))).rejects.toThrow(/cannot reach any host: 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });
});
