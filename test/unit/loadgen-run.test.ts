// Whole runs against a fake server (real sockets, real piscina threads): unreachable hosts,
// server errors, dropped connections and a silent server are counted and reported, and the
// run always ends within warm-up + duration + grace + a fixed slack.
import { afterAll, describe, expect, it } from 'vitest';
import { Err } from '../../engine/protocol.ts';
import { parseLoadOptions } from '../../loadgen/options.ts';
import { closePool, openFilesLimit, runLoad } from '../../loadgen/run.ts';
import { LIMITS } from '../../loadgen/options.ts';
import { LoadgenError } from '../../loadgen/setup.ts';
import { closedPort, startFakeServer } from './loadgen-fake-server.ts';
import { renderRunReport } from '../../loadgen/report.ts';
import { formatSummary } from '../../loadgen/summary.ts';

/** What a run may take beyond warm-up + duration + grace: setup, thread start, the finish slack. */
const OVERRUN_MS_MAX = 4_500;

afterAll(async () => {
  await closePool();
});

/** A short run's options; flags in `args` replace the defaults here. */
function options(...args: string[]) {
  const defaults: Record<string, string> = { threads: '2', connections: '4', warmup: '0', duration: '1s', grace: '500ms', keys: '32', 'value-bytes': '8', 'connect-timeout': '1s', seed: '11' };
  const given = new Set(args.filter((a) => a.startsWith('--')).map((a) => a.slice(2)));
  const base = Object.entries(defaults).filter(([flag]) => !given.has(flag)).flatMap(([flag, value]) => [`--${flag}`, value]);
  return parseLoadOptions([...base, '--no-progress', ...args]).options;
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

  it('opens many connections paced, at most LIMITS.connectsInFlightMax handshakes at once; marks the measured window', async () => {
    const server = await startFakeServer();
    try {
      const edges: { edge: string; requests: number }[] = [];
      const onWindowEdge = (edge: 'start' | 'end') => edges.push({ edge, requests: server.requests });
      const { result } = await runLoad(options('--hosts', `127.0.0.1:${server.port}`, '--connections', '300', '--outstanding', '1', '--read-pct', '100', '--no-setup', '--warmup', '1s', '--duration', '2s', '--connect-timeout', '10s'), { onWindowEdge });
      expect(result.complete).toBe(true);
      expect(result.connects).toBe(300);
      expect(result.errors).toEqual({});
      expect(server.handshakesPendingMax).toBeGreaterThan(0);
      expect(server.handshakesPendingMax).toBeLessThanOrEqual(LIMITS.connectsInFlightMax);
      expect(openFilesLimit()).toBeGreaterThan(300);
      // the window is seconds 1 and 2 (after the 1 s warm-up): its replies are about the requests the
      // server read between the edges (half as many again with the warm-up in it); timers on a busy machine run late
      expect(edges.map((e) => e.edge)).toEqual(['start', 'end']);
      expect(result.window).toMatchObject({ startSecond: 1, endSecond: 3 });
      const servedInWindow = edges[1].requests - edges[0].requests;
      expect(result.window!.replies).toBeGreaterThan(0);
      expect(Math.abs(result.window!.replies - servedInWindow)).toBeLessThanOrEqual(Math.max(300 * 2, servedInWindow * 0.25));
    } finally {
      await server.close();
    }
  });

  it('says to set maxClientCnxns=0 when a server closes connections past 60 from one address', async () => {
    const server = await startFakeServer({ connectionsMax: 60 });
    try {
      const { result } = await runLoad(options('--hosts', `127.0.0.1:${server.port}`, '--connections', '64', '--outstanding', '1', '--read-pct', '100', '--no-setup', '--connect-timeout', '2s'));
      expect(server.refused).toBeGreaterThanOrEqual(4);
      expect(result.okOps).toBeGreaterThan(0);
      expect(result.notes.join('\n')).toMatch(/closed before their session began, with up to 64 per server from this one address: .*set maxClientCnxns=0/);
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
