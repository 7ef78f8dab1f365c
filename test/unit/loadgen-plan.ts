// A workload plan for tests that drive loadgen's Workload by hand: one connection, get only,
// open loop at 1,000 ops/s for 100 ms, per-request traffic; tests override what they test.
import type { WorkloadPlan } from '../../loadgen/workload.ts';
import { parseMix, resolveMix } from '../../loadgen/options.ts';

export function testPlan(overrides: Partial<WorkloadPlan> = {}): WorkloadPlan {
  return {
    workerIndex: 0,
    workerCount: 1,
    globalSlots: [0],
    outstanding: 1000,
    traffic: 'per-request',
    rateOpsPerSec: 1000,
    totalRateOpsPerSec: 1000,
    mix: resolveMix(parseMix('get:1'), null),
    keys: 10,
    keyDistribution: 'uniform',
    zipfTheta: 0.99,
    valueBytes: 16,
    root: '/lg',
    runTag: 'test',
    seed: 1,
    warmupMs: 0,
    durationMs: 100,
    ...overrides,
  };
}
