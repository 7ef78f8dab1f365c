// The request throttler (engine/core/request-throttler.ts) as the pipeline worker's loop drives
// it, with the server it reads faked: stall while maxRequests are in process and resume when
// they drop, park at most the stall time only after a stall, stale requests dropped or counted,
// closeSession never stale, throttled_op_wait_time. Time is the `waitedMs` passed in.
import { describe, it, expect } from 'vitest';
import { RequestThrottler, Throttle, type RequestThrottlerOptions, type ThrottlerCounters } from '../../engine/core/request-throttler.ts';
import { Op } from '../../engine/protocol.ts';
import { seededRandom, testSeed } from '../support/random.ts';

const SEED = testSeed();
console.log(`request-throttler.test.ts seed ${SEED} (replay with TEST_SEED=${SEED})`);

function frameOf(type: number, xid = 1): Buffer {
  const b = Buffer.alloc(16);
  b.writeInt32BE(xid, 0);
  b.writeInt32BE(type, 4);
  return b;
}

function setup(options: Partial<RequestThrottlerOptions> = {}) {
  const server = {
    inProcess: 0,
    closed: new Set<number>(),
    timeouts: new Map<number, number>(),
  };
  const counters: ThrottlerCounters = { staleRequests: 0, staleRequestsDropped: 0, requestThrottleWaitCount: 0 };
  const throttler = new RequestThrottler(
    { maxRequests: 3, stallTimeMs: 100, dropStale: true, staleLatencyCheck: false, throttledOpWaitTimeMs: 0, ...options },
    {
      inProcess: () => server.inProcess,
      connectionClosed: (_ioIndex, connId) => server.closed.has(connId),
      sessionTimeoutMsOf: (key) => server.timeouts.get(key) ?? -1,
    },
    counters,
  );
  return { server, counters, throttler };
}

describe('RequestThrottler', () => {
  it('stalls while maxRequests are in process, parks at most the stall time, and takes again once they drop', () => {
    const { server, counters, throttler } = setup();
    throttler.beginTurn();
    server.inProcess = 2;
    expect(throttler.mayTake()).toBe(true);
    server.inProcess = 3;
    expect(throttler.mayTake()).toBe(false);
    expect(throttler.parkMs()).toBe(100);
    expect(counters.requestThrottleWaitCount).toBe(1);
    // woken (a durable signal) with the same count in process: stalls again
    throttler.beginTurn();
    expect(throttler.mayTake()).toBe(false);
    expect(throttler.parkMs()).toBe(100);
    expect(counters.requestThrottleWaitCount).toBe(2);
    // the replies went out: no stall, no limit on the park
    throttler.beginTurn();
    server.inProcess = 0;
    expect(throttler.mayTake()).toBe(true);
    expect(throttler.parkMs()).toBe(Infinity);
    expect(counters.requestThrottleWaitCount).toBe(2);
  });

  it('forgets a stall when the turn did other work and the loop looks again at once', () => {
    const { server, counters, throttler } = setup();
    throttler.beginTurn();
    server.inProcess = 5;
    expect(throttler.mayTake()).toBe(false);
    throttler.beginTurn(); // the turn did work: no park, next turn
    server.inProcess = 0;
    expect(throttler.mayTake()).toBe(true);
    expect(throttler.parkMs()).toBe(Infinity);
    expect(counters.requestThrottleWaitCount).toBe(0);
  });

  it('never stalls or checks staleness with max_requests 0', () => {
    const { server, counters, throttler } = setup({ maxRequests: 0 });
    server.inProcess = 1_000_000;
    server.closed.add(7);
    expect(throttler.enabled).toBe(false);
    expect(throttler.mayTake()).toBe(true);
    expect(throttler.admit(0, 7, 7, frameOf(Op.getData), 0)).toBe(Throttle.PROCEED);
    expect(counters).toEqual({ staleRequests: 0, staleRequestsDropped: 0, requestThrottleWaitCount: 0 });
  });

  it('drops the requests of a closed connection, but never its closeSession', () => {
    const { server, counters, throttler } = setup();
    server.closed.add(7);
    expect(throttler.admit(0, 7, 7, frameOf(Op.setData), 0)).toBe(Throttle.DROP);
    expect(throttler.admit(0, 7, 7, frameOf(Op.closeSession), 0)).toBe(Throttle.PROCEED);
    expect(throttler.admit(0, 8, 8, frameOf(Op.setData), 0)).toBe(Throttle.PROCEED);
    expect(counters.staleRequestsDropped).toBe(1);
  });

  it('counts stale requests and processes them with drop_stale off', () => {
    const { server, counters, throttler } = setup({ dropStale: false });
    server.closed.add(7);
    expect(throttler.admit(0, 7, 7, frameOf(Op.setData), 0)).toBe(Throttle.PROCEED);
    expect(counters).toMatchObject({ staleRequests: 1, staleRequestsDropped: 0 });
  });

  it('with the latency check, a request that waited longer than its session timeout is stale', () => {
    const { server, throttler } = setup({ staleLatencyCheck: true });
    server.timeouts.set(9, 4000);
    expect(throttler.admit(0, 9, 9, frameOf(Op.getData), 4000)).toBe(Throttle.PROCEED);
    expect(throttler.admit(0, 9, 9, frameOf(Op.getData), 4000.5)).toBe(Throttle.DROP);
    expect(throttler.admit(0, 10, 10, frameOf(Op.getData), 1e9)).toBe(Throttle.PROCEED); // no session yet
    const off = setup({ staleLatencyCheck: false });
    off.server.timeouts.set(9, 4000);
    expect(off.throttler.admit(0, 9, 9, frameOf(Op.getData), 1e9)).toBe(Throttle.PROCEED);
  });

  it('marks throttlable requests that waited past throttled_op_wait_time, not session requests', () => {
    const { throttler } = setup({ maxRequests: 0, throttledOpWaitTimeMs: 50 });
    expect(throttler.admit(0, 1, 1, frameOf(Op.create), 50)).toBe(Throttle.PROCEED);
    expect(throttler.admit(0, 1, 1, frameOf(Op.create), 51)).toBe(Throttle.THROTTLED_OP);
    expect(throttler.admit(0, 1, 1, frameOf(Op.ping, -2), 51)).toBe(Throttle.PROCEED);
    expect(throttler.admit(0, 1, 1, frameOf(Op.closeSession), 51)).toBe(Throttle.PROCEED);
    expect(throttler.admit(0, 1, 1, Buffer.alloc(7), 1e9)).toBe(Throttle.PROCEED); // too short to have a type
  });

  it('follows a model of in-process counts over a seeded sequence of takes and completions', () => {
    const random = seededRandom(SEED);
    const max = 1 + Math.floor(random() * 8);
    const { server, counters, throttler } = setup({ maxRequests: max });
    let waits = 0;
    for (let turn = 0; turn < 2000; turn++) {
      throttler.beginTurn();
      let stalled = false;
      const offered = Math.floor(random() * 5);
      for (let i = 0; i < offered; i++) {
        const may = throttler.mayTake();
        expect(may, `seed ${SEED} turn ${turn}`).toBe(server.inProcess < max);
        if (!may) {
          stalled = true;
          break;
        }
        server.inProcess++;
      }
      server.inProcess -= Math.min(server.inProcess, Math.floor(random() * 3));
      const park = throttler.parkMs();
      expect(park).toBe(stalled ? 100 : Infinity);
      if (stalled) waits++;
    }
    expect(counters.requestThrottleWaitCount).toBe(waits);
  });
});
