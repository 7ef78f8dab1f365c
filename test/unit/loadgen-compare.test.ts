// bench compare's parts that need no servers: its options (traffic modes, shapes), the CPU
// readers over /proc (process, threads by name), CPU per op over a measured window, and the
// report: every series labelled with its traffic and shape, with per-thread tables.
import { describe, expect, it } from 'vitest';
import { type CpuSample, type SeriesRun, type ServerRun, parseCompareArgs, parseShapes, pointCpuOf, renderMarkdown, runsFromJson, seriesPlan, threadTable } from '../../bench/compare.ts';
import { processCpuMs, threadCpu, threadCpuBetween } from '../../bench/proc.ts';
import type { SweepResult } from '../../loadgen/sweep.ts';
import type { RunResult } from '../../loadgen/run.ts';
import type { MachineFacts } from '../../bench/machine.ts';

describe('compare options', () => {
  it('runs per-request traffic over 8 × 50, 200 × 1 and 1,000 × 1 unless told', () => {
    const cfg = parseCompareArgs([]);
    expect(cfg.traffics).toEqual(['per-request']);
    expect(cfg.shapes).toEqual([{ connections: 8, outstanding: 50 }, { connections: 200, outstanding: 1 }, { connections: 1000, outstanding: 1 }]);
    expect(cfg.base.traffic).toBe('per-request');
    expect(cfg.serverConfig.maxClientCnxns).toBe('0');
  });

  it('takes traffic modes and shapes as lists, a series per pair', () => {
    const cfg = parseCompareArgs(['--traffic', 'per-request,batched', '--shapes', '8x50,200×1']);
    expect(seriesPlan(cfg).map(({ traffic, shape }) => `${traffic} ${shape.connections}x${shape.outstanding}`)).toEqual([
      'per-request 8x50',
      'per-request 200x1',
      'batched 8x50',
      'batched 200x1',
    ]);
    expect(parseCompareArgs(['--connections', '16', '--outstanding', '4']).shapes).toEqual([{ connections: 16, outstanding: 4 }]);
  });

  it.each([
    [['--shapes', '8x50', '--connections', '4'], /not both/],
    [['--shapes', '8*50'], /'8\*50' is not connections x in-flight/],
    [['--shapes', '0x1'], /--shapes must be in \[1, /],
    [['--shapes', '8x1,8x1'], /given twice/],
    [['--traffic', 'bulk'], /--traffic must be per-request or batched/],
    [['--traffic', 'batched,batched'], /given twice/],
    [['--threads', '4', '--shapes', '8x50,2x1'], /--threads 4 is more than the 2 connections of shape 2 × 1/],
  ])('rejects %j', (args, message) => {
    expect(() => parseCompareArgs(args)).toThrow(message);
  });

  it('parses shapes with underscores and spaces', () => {
    expect(parseShapes(' 1_000 x 1 ')).toEqual([{ connections: 1000, outstanding: 1 }]);
  });
});

describe('CPU from /proc', () => {
  it('reads this process and its threads by name; a busy thread shows under its own name', () => {
    const before = threadCpu(process.pid);
    expect(before.length).toBeGreaterThan(1);
    const processBefore = processCpuMs(process.pid);
    // burn 150 ms of this thread's CPU (not of wall time: the machine may be shared)
    const start = process.threadCpuUsage();
    const deadline = performance.now() + 20_000;
    const spentMs = () => {
      const u = process.threadCpuUsage(start);
      return (u.user + u.system) / 1000;
    };
    while (spentMs() < 150 && performance.now() < deadline) {
      // spin
    }
    expect(spentMs()).toBeGreaterThanOrEqual(150);
    const after = threadCpu(process.pid);
    const groups = threadCpuBetween(before, after);
    // /proc counts 10 ms ticks: 150 ms is at least 130 on one thread name, and on the process
    expect(Math.max(...groups.map((g) => g.cpuMs))).toBeGreaterThanOrEqual(130);
    expect(processCpuMs(process.pid) - processBefore).toBeGreaterThanOrEqual(130);
    expect(groups.reduce((n, g) => n + g.threads, 0)).toBe(after.length);
  });

  it('groups threads by name and counts a thread born in between from zero', () => {
    const before = [
      { tid: 1, name: 'io-0', cpuMs: 100 },
      { tid: 2, name: 'NIOWorkerThread', cpuMs: 50 },
    ];
    const after = [
      { tid: 1, name: 'io-0', cpuMs: 130 },
      { tid: 2, name: 'NIOWorkerThread', cpuMs: 60 },
      { tid: 3, name: 'NIOWorkerThread', cpuMs: 40 },
    ];
    expect(threadCpuBetween(before, after)).toEqual([
      { name: 'NIOWorkerThread', threads: 2, cpuMs: 50 },
      { name: 'io-0', threads: 1, cpuMs: 30 },
    ]);
  });

  it('CPU per op is the server time between the window edges over the replies in the window', () => {
    const edge = (wallMs: number, serverMs: number, io: number, selfMs: number, machineMs: number): CpuSample => ({
      wallMs, serverMs, serverThreads: [{ tid: 7, name: 'io-0', cpuMs: io }], selfMs, machineMs,
    });
    const cpu = pointCpuOf(edge(0, 1000, 400, 50, 5000), edge(2000, 1600, 800, 1050, 6800), { startSecond: 1, endSecond: 3, replies: 30_000 });
    expect(cpu.cpuMs).toBe(600);
    expect(cpu.usPerReply).toBe(20);
    expect(cpu.serverCores).toBe(0.3);
    expect(cpu.loadgenCores).toBe(0.5);
    expect(cpu.otherCores).toBe(0.1); // 1800 busy - 600 server - 1000 load generator
    expect(cpu.threads).toEqual([{ name: 'io-0', threads: 1, cpuMs: 400 }]);
    expect(pointCpuOf(null, edge(1, 1, 1, 1, 1), null).usPerReply).toBeNaN();
  });
});

function sweepOf(opsPerSec: number): SweepResult {
  const run = { loadgenBusy: [0.5, 0.6] } as unknown as RunResult;
  return {
    tool: 'zooid loadgen sweep', startedAt: '', load: '', latencyReadPct: 50, latency: [], knee: null, unloaded: null,
    throughput: [0, 100].map((readPct) => ({ readPct, opsPerSec, p50Us: 100, p99Us: 900, p999Us: 2000, errors: 0 })),
    runs: [run, run],
  };
}

function seriesOf(traffic: 'per-request' | 'batched', connections: number, outstanding: number, ioMs: number): SeriesRun {
  const cpu = { cpuMs: 1000, replies: 50_000, usPerReply: 20, windowMs: 2000, loadgenCores: 1, serverCores: 0.5, otherCores: 0, threads: [{ name: 'io-0', threads: 1, cpuMs: ioMs }, { name: 'pipeline', threads: 1, cpuMs: 1000 - ioMs }] };
  return { traffic, connections, outstanding, sweep: sweepOf(25_000), cpu: [cpu, cpu] };
}

describe('compare report', () => {
  it('labels every series with its traffic and shape and shows CPU per op by thread', () => {
    const cfg = parseCompareArgs(['--servers', 'zooid', '--traffic', 'per-request,batched', '--shapes', '8x50,1000x1', '--read-pcts', '0,100', '--repeats', '1']);
    const runs: ServerRun[] = [{
      server: 'zooid', repeat: 0, version: 'test', loadBefore: 0, loadAfter: 0,
      series: [seriesOf('per-request', 8, 50, 600), seriesOf('per-request', 1000, 1, 700), seriesOf('batched', 8, 50, 300), seriesOf('batched', 1000, 1, 400)],
    }];
    const md = renderMarkdown(cfg, { runs, rates: [], machine: { loadAvg: [0, 0, 0] } as unknown as MachineFacts, finishedAt: '' }, '2026-12-05T00:00:00Z');
    for (const title of ['per-request writes, 8 connections × 50 in flight', 'per-request writes, 1,000 connections × 1 in flight', 'batched writes, 8 connections × 50 in flight', 'batched writes, 1,000 connections × 1 in flight']) {
      expect(md).toContain(`## ${title}`);
    }
    expect(md).toContain('maxClientCnxns=0');
    expect(md).toMatch(/per-request = one socket write per request/);
    // 700 ms of io-0 and 300 of pipeline over 50,000 replies in 2 s
    expect(threadTable([runs[0].series[1]], [100])).toContain('| 100 | 20.0 (0.50) | 14.0 (0.35) | 6.0 (0.15) | 0.0 (0.00) |');
  });

  it('reads results written before traffic modes: one batched series per run', () => {
    const sweep = sweepOf(1);
    const runs = runsFromJson({ runs: [{ server: 'zooid', repeat: 0, version: 'v', loadBefore: 0, loadAfter: 0, sweep, cpu: [] } as unknown as ServerRun], config: { load: { connections: 8, outstanding: 50 } as never } });
    expect(runs[0].series).toEqual([{ traffic: 'batched', connections: 8, outstanding: 50, sweep, cpu: [] }]);
  });
});
