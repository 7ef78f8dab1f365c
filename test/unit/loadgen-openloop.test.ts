// The workload state machine with a hand-driven clock and a fake connection: open-loop
// latency counts from each op's intended send time, so a stall shows in every op it
// delayed (no coordinated omission); closed loop, for contrast, records it once. Errors,
// lost connections and unfinished requests are counted by op and code.
import { describe, expect, it } from 'vitest';
import { JuteReader, JuteWriter } from '../../native-free-io/jute.ts';
import { Err } from '../../engine/protocol.ts';
import type { TaggedReplyHandler, WatchEvent } from '../../client/lean.ts';
import { type TaggedClient, Workload } from '../../loadgen/workload.ts';
import { OpenLoopSchedule } from '../../loadgen/schedule.ts';
import { decodeHistogram, newLatencyHistogram, recordNs, summarize } from '../../loadgen/histogram.ts';
import { resolveMix, parseMix } from '../../loadgen/options.ts';
import { testPlan } from './loadgen-plan.ts';

class FakeClient implements TaggedClient {
  isClosed = false;
  onTagged: TaggedReplyHandler | null = null;
  onWatch: ((e: WatchEvent) => void) | null = null;
  readonly queued: number[] = [];
  flushes = 0;
  private readonly writer = new JuteWriter(4096);
  private readonly empty = new JuteReader(Buffer.alloc(0));

  beginRequest(): JuteWriter {
    return this.writer.reset();
  }
  endRequest(tag: number): boolean {
    if (this.isClosed) return false;
    this.queued.push(tag);
    return true;
  }
  flush(): void {
    this.flushes++;
  }
  /** Answers the oldest `count` requests with `err`. */
  answer(count: number, err: number = Err.OK): void {
    for (let i = 0; i < count; i++) {
      const tag = this.queued.shift();
      if (tag === undefined) throw new Error('nothing to answer');
      this.onTagged!(tag, err, 1, this.empty);
    }
  }
  /** The connection drops: every pending request fails with CONNECTIONLOSS, as LeanClient does. */
  drop(): void {
    this.isClosed = true;
    this.answer(this.queued.length, Err.CONNECTIONLOSS);
  }
}

const plan = testPlan;

describe('open-loop schedule', () => {
  it('issues op k at start + k/rate, however late it is taken', () => {
    const s = new OpenLoopSchedule(10, 500, 20); // one op every 2 ms, from 10 until 20
    expect(s.dueCount(9.99)).toBe(0);
    expect(s.takeDue(9.99)).toBe(-1);
    expect(s.dueCount(10)).toBe(1);
    expect(s.takeDue(10)).toBe(10);
    expect(s.dueCount(15)).toBe(2); // 12 and 14
    expect(s.takeDue(15)).toBe(12);
    expect(s.nextIntendedMs()).toBe(14);
    // taken late, the op keeps its intended time
    expect(s.takeDue(19)).toBe(14);
    expect(s.unissuedCount()).toBe(2); // 16 and 18 are due before the end and not taken
    expect(s.takeDue(100)).toBe(16);
    expect(s.takeDue(100)).toBe(18);
    expect(s.takeDue(100)).toBe(-1); // 20 is the end: not issued
    expect(s.nextIntendedMs()).toBe(Infinity);
    expect(s.unissuedCount()).toBe(0);
  });

  it('interleaves the workers of one run', () => {
    let now = 0;
    const w0 = new Workload(plan({ workerIndex: 0, workerCount: 2, rateOpsPerSec: 500 }), () => now);
    const w1 = new Workload(plan({ workerIndex: 1, workerCount: 2, rateOpsPerSec: 500, globalSlots: [1] }), () => now);
    w0.begin(100);
    w1.begin(100);
    expect(w0.nextWakeMs()).toBe(100);
    expect(w1.nextWakeMs()).toBe(101);
  });
});

describe('workload latency accounting', () => {
  it('open loop: a 50 ms stall counts in every op it delayed, from the intended send time', () => {
    let now = 0;
    const load = new Workload(plan({}), () => now);
    const client = new FakeClient();
    load.begin(0);
    load.attach(0, client);
    const expected: number[] = []; // latencies in ms the workload must have recorded
    // ops at 0..4 ms answered 0.2 ms after they were sent on time
    for (let t = 0; t < 5; t++) {
      now = t;
      load.pump();
      expect(client.queued.length).toBe(1);
      now = t + 0.2;
      client.answer(1);
      expected.push(0.2);
    }
    // the sender is stuck until 55 ms: ops intended at 5..55 go out late, together
    now = 55;
    load.pump();
    expect(client.queued.length).toBe(51);
    now = 55.5;
    client.answer(51);
    for (let t = 5; t <= 55; t++) expected.push(55.5 - t);
    // back to normal until the end (100 ms)
    for (let t = 56; t < 100; t++) {
      now = t;
      load.pump();
      now = t + 0.2;
      client.answer(1);
      expected.push(0.2);
    }
    now = 100;
    load.pump();
    expect(client.queued.length).toBe(0); // nothing intended at or after the end
    const result = load.finish();
    const got = decodeHistogram(result.histograms.get);
    const want = newLatencyHistogram();
    for (const ms of expected) recordNs(want, ms * 1e6);
    expect(got.totalCount).toBe(100);
    expect(summarize(got)).toEqual(summarize(want));
    // half the ops saw the stall: p90 is far above the 0.2 ms service time (closed loop: below 0.25 ms)
    expect(summarize(got).p90Us).toBeGreaterThan(30_000);
    expect(summarize(got).maxUs).toBeGreaterThanOrEqual(50_000);
    // the lateness of the sends is reported on its own
    const lag = summarize(decodeHistogram(result.sendLag!));
    expect(lag.maxUs).toBeGreaterThanOrEqual(50_000);
    expect(result.unsent).toBe(0);
    expect(result.errors).toEqual({});
  });

  it('open loop: ops due while every connection is full wait with their clock running', () => {
    let now = 0;
    const load = new Workload(plan({ outstanding: 2 }), () => now);
    const client = new FakeClient();
    load.begin(0);
    load.attach(0, client);
    now = 10; // 11 ops due (0..10); room for 2
    load.pump();
    expect(client.queued.length).toBe(2);
    expect(load.blockedOnCapacity).toBe(true);
    now = 20;
    client.answer(1); // frees a slot: the reply pumps the next due op (intended at 2)
    expect(client.queued.length).toBe(2);
    client.answer(2);
    now = 100;
    load.pump();
    const result = load.finish();
    const got = summarize(decodeHistogram(result.histograms.get));
    expect(got.count).toBe(3);
    expect(got.maxUs).toBeGreaterThanOrEqual(19_900); // op 1: intended 1, done at 20
    // 100 ops were due; 3 were answered, 2 went unanswered (unfinished), the rest never left
    expect(result.errors.get.UNFINISHED).toBe(2);
    expect(result.unsent).toBe(95);
  });

  it('closed loop, for contrast: the same stall is one slow sample', () => {
    let now = 0;
    const load = new Workload(plan({ rateOpsPerSec: null, totalRateOpsPerSec: null, outstanding: 1 }), () => now);
    const client = new FakeClient();
    load.begin(0);
    load.attach(0, client);
    for (let i = 0; i < 10; i++) {
      now += 0.2;
      client.answer(1); // each reply sends the next request
    }
    now += 50; // the server stalls on the next one
    client.answer(1);
    for (let i = 0; i < 10; i++) {
      now += 0.2;
      client.answer(1);
    }
    const s = summarize(decodeHistogram(load.finish().histograms.get));
    expect(s.count).toBe(21);
    expect(s.p90Us).toBeLessThan(250);
    expect(s.maxUs).toBeGreaterThanOrEqual(50_000);
  });

  it('counts server errors, lost connections and unfinished requests by op and code', () => {
    let now = 0;
    const load = new Workload(plan({ rateOpsPerSec: null, totalRateOpsPerSec: null, outstanding: 4, mix: resolveMix(parseMix('set:1'), null) }), () => now);
    const client = new FakeClient();
    load.begin(0);
    load.attach(0, client);
    expect(client.queued.length).toBe(4);
    now = 1;
    client.answer(1, Err.BADVERSION);
    client.answer(1, Err.NONODE);
    client.drop(); // 2 in flight, plus the 2 the replies queued on the way
    load.detach(0);
    const fresh = new FakeClient();
    load.attach(0, fresh);
    now = 2;
    fresh.answer(1);
    const result = load.finish(); // the reply topped it up: 4 in flight
    expect(result.errors.set).toEqual({ BADVERSION: 1, NONODE: 1, CONNECTIONLOSS: 4, UNFINISHED: 4 });
    expect(result.connects).toBe(2);
    expect(result.disconnects).toBe(1);
    expect(decodeHistogram(result.histograms.set).totalCount).toBe(1);
  });

  it('times watch ops to the event and skips ops whose set failed', () => {
    let now = 0;
    const load = new Workload(plan({ rateOpsPerSec: null, totalRateOpsPerSec: null, outstanding: 4, mix: resolveMix(parseMix('watch:1'), null) }), () => now);
    const client = new FakeClient();
    load.begin(0);
    load.attach(0, client); // two watch ops: arm, set, arm, set
    expect(client.queued.length).toBe(4);
    now = 1;
    client.answer(1); // arm 1
    client.answer(1, Err.NONODE); // set 1 fails: no event will come for it
    client.answer(1); // arm 2
    now = 3;
    client.onWatch!({ type: 3, state: 3, path: '/lg/w/c0' }); // event of op 2
    client.answer(1); // set 2
    const result = load.finish();
    const watch = summarize(decodeHistogram(result.histograms.watch));
    expect(watch.count).toBe(1);
    expect(watch.p50Us).toBeCloseTo(3000, -1);
    expect(result.errors.watch.NONODE).toBe(1);
  });

  it('measures only ops started after the warm-up and before the end', () => {
    let now = 0;
    const load = new Workload(plan({ warmupMs: 10, durationMs: 10 }), () => now);
    const client = new FakeClient();
    load.begin(0);
    load.attach(0, client);
    for (let t = 0; t < 25; t++) {
      now = t;
      load.pump();
      now = t + 0.5;
      if (client.queued.length > 0) client.answer(client.queued.length);
    }
    const result = load.finish();
    expect(decodeHistogram(result.histograms.get).totalCount).toBe(10); // intended 10..19
  });

  it('closed loop: a pump timer that fires just before the start is armed again, not dropped', () => {
    let now = 0;
    const load = new Workload(plan({ rateOpsPerSec: null, totalRateOpsPerSec: null, outstanding: 2 }), () => now);
    const client = new FakeClient();
    load.attach(0, client);
    load.begin(10);
    now = 9.999; // the timer for the start fired early: nothing is due yet
    load.pump();
    expect(client.queued.length).toBe(0);
    now = 10.001; // the start passed while the loop looked for its next wake-up
    expect(load.nextWakeMs()).toBe(10);
    load.pump();
    expect(client.queued.length).toBe(2);
    expect(load.nextWakeMs()).toBe(Infinity); // replies pump from here on
  });
});
