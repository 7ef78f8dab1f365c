// One worker thread's load: picks ops and keys, issues them on its connections (closed
// loop: keep N in flight; open loop: on the schedule), and times every reply into
// histograms. Per-request traffic writes each request to its socket as it is queued (one
// write per request, as real clients do); batched traffic writes what one reply chunk or
// one pump freed in a single write. A synchronous state machine: the clock comes in as a function, connections
// as TaggedClients, so tests drive it with a fake clock and a fake server. The worker
// shell (worker.ts) owns sockets, timers and reconnects.
import type { Histogram } from 'hdr-histogram-js';
import type { JuteReader, JuteWriter } from '../native-free-io/jute.ts';
import { Err, Op } from '../engine/protocol.ts';
import { type TaggedReplyHandler, type WatchEvent } from '../client/lean.ts';
import { errorName } from '../client/errors.ts';
import { type TimedOp, TIMED_OPS, newLatencyHistogram, recordNs, encodeHistogram } from './histogram.ts';
import { MIX_OPS, type MixOp, type TrafficMode } from './options.ts';
import { type KeyPicker, type Random, deriveSeed, seededRandom, uniformKeys, zipfKeys } from './random.ts';
import { OpenLoopSchedule } from './schedule.ts';

/** What the workload needs of a connection (LeanClient has it). */
export interface TaggedClient {
  readonly isClosed: boolean;
  beginRequest(type: number, xid?: number): JuteWriter;
  endRequest(tag: number): boolean;
  flush(): void;
  onTagged: TaggedReplyHandler | null;
  onWatch: ((e: WatchEvent) => void) | null;
}

// Request tags. The timed op of a tag is TAG_OP[tag].
const TAG_GET = 0;
const TAG_EXISTS = 1;
const TAG_CHILDREN = 2;
const TAG_SET = 3;
const TAG_CREATE = 4;
const TAG_DELETE = 5;
const TAG_MULTI = 6;
const TAG_WATCH_ARM = 7;
const TAG_WATCH_SET = 8;
const TAG_PING = 9;
const TAG_OP: readonly (TimedOp | null)[] = ['get', 'exists', 'children', 'set', 'create', 'delete', 'multi', 'watch', 'watch', null];
const OP_INDEX: Record<TimedOp, number> = Object.fromEntries(TIMED_OPS.map((op, i) => [op, i])) as Record<TimedOp, number>;
const WATCH_OP = OP_INDEX.watch;

/** Keys per parent znode: getChildren lists one such group. */
export const KEYS_PER_GROUP = 16;
/** Key paths are built once up to this many keys; beyond, per op. */
const KEY_PATH_CACHE_MAX = 200_000;

export function keyGroupPath(root: string, key: number): string {
  return `${root}/g${Math.floor(key / KEYS_PER_GROUP)}`;
}
export function keyPath(root: string, key: number): string {
  return `${root}/g${Math.floor(key / KEYS_PER_GROUP)}/k${key}`;
}
/** The znode a connection's watch ops arm and set (one per connection: events stay in FIFO order). */
export function watchPath(root: string, globalSlot: number): string {
  return `${root}/w/c${globalSlot}`;
}
export const TMP_DIR = 't';

/** An error code's name as the results count it ("NONODE"; ERR-42 for a number ZooKeeper does not define). */
export function errName(code: number): string {
  return errorName(code) ?? `ERR${code}`;
}
/** Sent but not answered before the end of the grace period. */
export const UNFINISHED = 'UNFINISHED';

export interface WorkloadPlan {
  workerIndex: number;
  workerCount: number;
  /** Global index of each of this worker's connections (paths and seeds use it). */
  globalSlots: number[];
  /** Closed loop: in flight per connection; open loop: the cap. */
  outstanding: number;
  traffic: TrafficMode;
  /** Open loop: this worker's share of the rate; null: closed loop. */
  rateOpsPerSec: number | null;
  /** The whole run's rate (open loop): workers' schedules interleave at 1/rate. */
  totalRateOpsPerSec: number | null;
  mix: Record<MixOp, number>;
  keys: number;
  keyDistribution: 'uniform' | 'zipf';
  zipfTheta: number;
  valueBytes: number;
  root: string;
  /** Distinguishes this run's temporary znodes from any earlier run's. */
  runTag: string;
  seed: number;
  warmupMs: number;
  durationMs: number;
}

export interface IntervalSample {
  workerIndex: number;
  /** Index of the second since the start (warm-up included). */
  second: number;
  ops: number;
  errors: number;
  /** All ops completed in the interval (warm-up too), encoded. */
  histogram: string;
}

export interface WorkerResult {
  workerIndex: number;
  /** Ops started in the measured window, per timed op, encoded. */
  histograms: Record<TimedOp, string>;
  /** Errors of ops started in the measured window, by op then by code name; `connect` for failed connects. */
  errors: Record<string, Record<string, number>>;
  /** Open loop: how late the sends were against their intended time (the load generator's own lag). */
  sendLag: string | null;
  /** Open loop: ops due before the end that were never sent (nowhere to send them). */
  unsent: number;
  connects: number;
  disconnects: number;
  /** Share of the run this thread's event loop was busy (set by the worker shell; 0 in tests). */
  eventLoopUtilization: number;
}

class Slot {
  readonly index: number;
  readonly globalSlot: number;
  client: TaggedClient | null = null;
  inflight = 0;
  /** Start (intended or sent) time and tag of each request in flight, FIFO as replies come. */
  readonly startMs: Float64Array;
  readonly tags: Uint8Array;
  head = 0;
  readonly mask: number;
  /** Watch ops by sequence number: start times, and whether they can still see their event. */
  readonly watchStartMs: Float64Array;
  readonly watchDead: Uint8Array;
  watchIssued = 0;
  watchArmReplied = 0;
  watchSetReplied = 0;
  watchNext = 0;
  createSeq = 0;
  lastSendMs = 0;
  readonly watchPath: string;

  constructor(index: number, globalSlot: number, capacity: number, root: string) {
    this.index = index;
    this.globalSlot = globalSlot;
    let slots = 8;
    while (slots < capacity) slots *= 2;
    this.startMs = new Float64Array(slots);
    this.tags = new Uint8Array(slots);
    this.mask = slots - 1;
    this.watchStartMs = new Float64Array(slots);
    this.watchDead = new Uint8Array(slots);
    this.watchPath = watchPath(root, globalSlot);
  }

  push(tag: number, startMs: number): void {
    if (this.inflight > this.mask) throw new Error(`slot ${this.index}: more than ${this.mask + 1} requests in flight`);
    const at = (this.head + this.inflight) & this.mask;
    this.startMs[at] = startMs;
    this.tags[at] = tag;
    this.inflight++;
  }

  resetWatches(): void {
    this.watchIssued = this.watchArmReplied = this.watchSetReplied = this.watchNext = 0;
  }
}

export class Workload {
  readonly plan: WorkloadPlan;
  private readonly now: () => number;
  private readonly slots: Slot[];
  private readonly cumulative: Float64Array;
  private readonly mixOps: MixOp[];
  private readonly keys: KeyPicker;
  private readonly random: Random;
  private readonly value: Buffer;
  private readonly keyPaths: string[] | null;
  private readonly histograms: Histogram[];
  private readonly interval: Histogram;
  private readonly sendLag: Histogram | null;
  private readonly errors = new Map<string, Map<string, number>>();
  private schedule: OpenLoopSchedule | null = null;
  private nextSlot = 0;
  private intervalOps = 0;
  private intervalErrors = 0;
  private startMs = Infinity;
  private measureStartMs = Infinity;
  private endMs = Infinity;
  private connects = 0;
  private disconnects = 0;
  private stopped = false;
  /** Closed loop: the first pump at or after the start has run (replies pump from then on). */
  private closedLoopStarted = false;
  /** Open loop: ops are due but every connection is full or down (replies will pump). */
  blockedOnCapacity = false;
  /** Slots written to since the last flushAll (batched traffic only). */
  private readonly dirty: Slot[] = [];
  /** Write each request as it is queued (per-request traffic). */
  private readonly writeEachRequest: boolean;

  constructor(plan: WorkloadPlan, now: () => number) {
    if (plan.globalSlots.length === 0) throw new Error('a workload needs at least one connection');
    if (!(plan.outstanding >= 1)) throw new Error('outstanding must be >= 1');
    this.plan = plan;
    this.now = now;
    this.writeEachRequest = plan.traffic === 'per-request';
    const capacity = plan.outstanding + 2; // a two-request op may overshoot by one
    this.slots = plan.globalSlots.map((g, i) => new Slot(i, g, capacity, plan.root));
    this.random = seededRandom(deriveSeed(plan.seed, 1, plan.workerIndex));
    const keyRandom = seededRandom(deriveSeed(plan.seed, 3, plan.workerIndex));
    this.keys = plan.keyDistribution === 'zipf' ? zipfKeys(plan.keys, plan.zipfTheta, keyRandom) : uniformKeys(plan.keys, keyRandom);
    this.mixOps = MIX_OPS.filter((op) => plan.mix[op] > 0);
    this.cumulative = new Float64Array(this.mixOps.length);
    let sum = 0;
    this.mixOps.forEach((op, i) => {
      sum += plan.mix[op];
      this.cumulative[i] = sum;
    });
    if (!(sum > 0)) throw new Error('the mix is empty');
    for (let i = 0; i < this.cumulative.length; i++) this.cumulative[i] /= sum;
    this.value = valueBytes(plan.valueBytes, deriveSeed(plan.seed, 4));
    this.keyPaths = plan.keys <= KEY_PATH_CACHE_MAX ? Array.from({ length: plan.keys }, (_, k) => keyPath(plan.root, k)) : null;
    this.histograms = TIMED_OPS.map(() => newLatencyHistogram());
    this.interval = newLatencyHistogram();
    this.sendLag = plan.rateOpsPerSec === null ? null : newLatencyHistogram();
  }

  /** Starts the clock: warm-up from startMs, measured from startMs + warmupMs, no new ops after the end. */
  begin(startMs: number): void {
    const plan = this.plan;
    this.startMs = startMs;
    this.measureStartMs = startMs + plan.warmupMs;
    this.endMs = this.measureStartMs + plan.durationMs;
    if (plan.rateOpsPerSec !== null) {
      // worker w's ops sit between the other workers' ones: together, one op every 1/total
      const offsetMs = plan.totalRateOpsPerSec === null ? 0 : (plan.workerIndex * 1000) / plan.totalRateOpsPerSec;
      this.schedule = new OpenLoopSchedule(startMs + offsetMs, plan.rateOpsPerSec, this.endMs);
    }
  }

  get runEndMs(): number {
    return this.endMs;
  }

  get slotCount(): number {
    return this.slots.length;
  }

  inflight(): number {
    let n = 0;
    for (const s of this.slots) n += s.inflight;
    return n;
  }

  isAttached(slotIndex: number): boolean {
    return this.slots[slotIndex].client !== null;
  }

  /** A connection for a slot is up: replies and events come through its hooks. */
  attach(slotIndex: number, client: TaggedClient): void {
    const slot = this.slots[slotIndex];
    if (slot.client !== null) throw new Error(`slot ${slotIndex} already has a connection`);
    if (slot.inflight !== 0) throw new Error(`slot ${slotIndex} attached with ${slot.inflight} requests still in flight`);
    slot.client = client;
    slot.resetWatches();
    slot.lastSendMs = this.now();
    this.connects++;
    client.onTagged = (tag, err, _zxid, body) => this.onReply(slot, tag, err, body);
    client.onWatch = (e) => this.onWatchEvent(slot, e);
    this.pump();
  }

  /**
   * The slot's connection is gone. Call after the client failed its pending requests
   * (they arrive as CONNECTIONLOSS replies and count as errors).
   */
  detach(slotIndex: number): void {
    const slot = this.slots[slotIndex];
    if (slot.client === null) return;
    const now = this.now();
    // requests the client did not answer (a client that dropped them) count as lost too
    while (slot.inflight > 0) this.popAndFail(slot, Err.CONNECTIONLOSS, now);
    slot.client.onTagged = null;
    slot.client.onWatch = null;
    slot.client = null;
    slot.resetWatches();
    this.disconnects++;
  }

  /** A connection attempt failed (host unreachable, handshake refused). */
  connectFailed(reason: string): void {
    this.count('connect', reason);
    this.intervalErrors++;
  }

  /** Issue what is due now: closed loop tops every connection up, open loop follows the schedule. */
  pump(): void {
    const now = this.now();
    if (this.stopped || now < this.startMs) return;
    if (this.schedule === null) {
      if (now >= this.endMs) return;
      this.closedLoopStarted = true;
      for (const slot of this.slots) this.topUp(slot, now);
    } else {
      // ops intended before the end still go out after it (late, and timed from their intended time)
      this.pumpOpen(now);
    }
    this.flushAll();
  }

  /**
   * When pump() should run next, or Infinity: open loop, the next intended send; closed loop,
   * the start until a pump has run at or after it. A timer may fire a little before its time
   * (pump() then does nothing); asking the clock again here instead would find the start
   * passed and let the run go by with nothing sent.
   */
  nextWakeMs(): number {
    if (this.stopped) return Infinity;
    if (this.schedule === null) return this.closedLoopStarted ? Infinity : this.startMs;
    return this.schedule.nextIntendedMs();
  }

  /** Idle connections get a ping so their sessions live through quiet stretches. */
  keepAlive(idleMsMax: number): void {
    const now = this.now();
    for (const slot of this.slots) {
      const client = slot.client;
      if (client === null || now - slot.lastSendMs < idleMsMax) continue;
      client.beginRequest(Op.ping, -2);
      if (client.endRequest(TAG_PING)) slot.push(TAG_PING, now);
      slot.lastSendMs = now;
      client.flush();
    }
  }

  /** The interval since the last call, for the per-second line and the timeline. */
  takeInterval(second: number): IntervalSample {
    const sample: IntervalSample = {
      workerIndex: this.plan.workerIndex,
      second,
      ops: this.intervalOps,
      errors: this.intervalErrors,
      histogram: encodeHistogram(this.interval),
    };
    this.interval.reset();
    this.intervalOps = 0;
    this.intervalErrors = 0;
    return sample;
  }

  /** No more ops; what is still in flight is unfinished. */
  finish(): WorkerResult {
    this.stopped = true;
    for (const slot of this.slots) {
      while (slot.inflight > 0) {
        const at = slot.head;
        const op = TAG_OP[slot.tags[at]];
        const started = slot.startMs[at];
        slot.head = (slot.head + 1) & slot.mask;
        slot.inflight--;
        if (op !== null && this.inWindow(started)) this.count(op, UNFINISHED);
      }
      // watch ops armed and set whose event never came
      for (let seq = slot.watchNext; seq < slot.watchIssued; seq++) {
        const at = seq & slot.mask;
        if (slot.watchDead[at] === 0 && this.inWindow(slot.watchStartMs[at])) this.count('watch', UNFINISHED);
      }
      slot.resetWatches();
    }
    const histograms = {} as Record<TimedOp, string>;
    TIMED_OPS.forEach((op, i) => (histograms[op] = encodeHistogram(this.histograms[i])));
    const errors: Record<string, Record<string, number>> = {};
    for (const [op, byCode] of this.errors) errors[op] = Object.fromEntries(byCode);
    return {
      workerIndex: this.plan.workerIndex,
      histograms,
      errors,
      sendLag: this.sendLag === null ? null : encodeHistogram(this.sendLag),
      unsent: this.schedule === null ? 0 : this.schedule.unissuedCount(),
      connects: this.connects,
      disconnects: this.disconnects,
      eventLoopUtilization: 0,
    };
  }

  // ---- issuing

  private topUp(slot: Slot, now: number): void {
    const client = slot.client;
    if (client === null || client.isClosed) return;
    const cap = this.plan.outstanding;
    while (slot.inflight < cap) {
      if (!this.issue(slot, client, now)) return;
    }
  }

  private pumpOpen(now: number): void {
    const schedule = this.schedule!;
    const slots = this.slots;
    const cap = this.plan.outstanding;
    this.blockedOnCapacity = false;
    while (schedule.nextIntendedMs() <= now) {
      // the next connection with room, round robin; none: the op waits (its clock runs)
      let slot: Slot | null = null;
      for (let i = 0; i < slots.length; i++) {
        const candidate = slots[(this.nextSlot + i) % slots.length];
        if (candidate.client !== null && !candidate.client.isClosed && candidate.inflight < cap) {
          slot = candidate;
          this.nextSlot = (candidate.index + 1) % slots.length;
          break;
        }
      }
      if (slot === null) {
        this.blockedOnCapacity = true;
        return;
      }
      const intended = schedule.takeDue(now);
      this.sendLag!.recordValue(Math.max(1, Math.round((now - intended) * 1e6)));
      this.issue(slot, slot.client!, intended);
    }
  }

  private pickOp(): MixOp {
    const u = this.random();
    const c = this.cumulative;
    for (let i = 0; i < c.length - 1; i++) if (u < c[i]) return this.mixOps[i];
    return this.mixOps[c.length - 1];
  }

  private pathOf(key: number): string {
    return this.keyPaths === null ? keyPath(this.plan.root, key) : this.keyPaths[key];
  }

  /** Queues one mix op (one or two requests) timed from startMs. False if the connection is closed. */
  private issue(slot: Slot, client: TaggedClient, startMs: number): boolean {
    const op = this.pickOp();
    let w: JuteWriter;
    switch (op) {
      case 'get':
        client.beginRequest(Op.getData).string(this.pathOf(this.keys.next())).bool(false);
        return this.queued(slot, client, TAG_GET, startMs);
      case 'exists':
        client.beginRequest(Op.exists).string(this.pathOf(this.keys.next())).bool(false);
        return this.queued(slot, client, TAG_EXISTS, startMs);
      case 'children':
        client.beginRequest(Op.getChildren).string(keyGroupPath(this.plan.root, this.keys.next())).bool(false);
        return this.queued(slot, client, TAG_CHILDREN, startMs);
      case 'set':
        client.beginRequest(Op.setData).string(this.pathOf(this.keys.next())).buffer(this.value).int(-1);
        return this.queued(slot, client, TAG_SET, startMs);
      case 'create': {
        const path = `${this.plan.root}/${TMP_DIR}/${this.plan.runTag}-${slot.globalSlot}-${slot.createSeq++}`;
        w = client.beginRequest(Op.create).string(path).buffer(this.value);
        w.int(1).int(31).string('world').string('anyone'); // OPEN_ACL_UNSAFE
        w.int(0);
        if (!this.queued(slot, client, TAG_CREATE, startMs)) return false;
        client.beginRequest(Op.delete).string(path).int(-1);
        return this.queued(slot, client, TAG_DELETE, startMs);
      }
      case 'multi': {
        // check(version -1, always true) on one key, setData on another: one txn
        w = client.beginRequest(Op.multi);
        w.int(Op.check).bool(false).int(-1).string(this.pathOf(this.keys.next())).int(-1);
        w.int(Op.setData).bool(false).int(-1).string(this.pathOf(this.keys.next())).buffer(this.value).int(-1);
        w.int(-1).bool(true).int(-1);
        return this.queued(slot, client, TAG_MULTI, startMs);
      }
      case 'watch': {
        // getData with a watch, then setData of the same znode; timed to the event
        client.beginRequest(Op.getData).string(slot.watchPath).bool(true);
        if (!this.queued(slot, client, TAG_WATCH_ARM, startMs)) return false;
        const seq = slot.watchIssued;
        if (seq - slot.watchNext > slot.mask) {
          // cannot happen: each watch op holds two request slots until its set reply
          throw new Error(`slot ${slot.index}: watch window overflow`);
        }
        slot.watchStartMs[seq & slot.mask] = startMs;
        slot.watchDead[seq & slot.mask] = 0;
        slot.watchIssued++;
        client.beginRequest(Op.setData).string(slot.watchPath).buffer(this.value).int(-1);
        return this.queued(slot, client, TAG_WATCH_SET, startMs);
      }
    }
  }

  private queued(slot: Slot, client: TaggedClient, tag: number, startMs: number): boolean {
    if (!client.endRequest(tag)) return false;
    slot.push(tag, startMs);
    slot.lastSendMs = startMs;
    if (this.writeEachRequest) {
      client.flush(); // this request alone, one socket write
      return true;
    }
    if (this.dirty.length === 0 || this.dirty[this.dirty.length - 1] !== slot) this.dirty.push(slot);
    return true;
  }

  private flushAll(): void {
    for (let i = 0; i < this.dirty.length; i++) this.dirty[i].client?.flush();
    this.dirty.length = 0;
  }

  // ---- replies

  private onReply(slot: Slot, tag: number, err: number, body: JuteReader): void {
    if (slot.inflight === 0) throw new Error(`slot ${slot.index}: a reply with nothing in flight`);
    const at = slot.head;
    const expected = slot.tags[at];
    if (expected !== tag) throw new Error(`slot ${slot.index}: reply tagged ${tag} where ${expected} was next (replies out of order)`);
    const started = slot.startMs[at];
    slot.head = (slot.head + 1) & slot.mask;
    slot.inflight--;
    const now = this.now();
    switch (tag) {
      case TAG_PING:
        break;
      case TAG_WATCH_ARM:
        if (err !== Err.OK) {
          if (slot.watchArmReplied < slot.watchIssued) slot.watchDead[slot.watchArmReplied & slot.mask] = 1;
          this.fail(WATCH_OP, err, started);
        }
        slot.watchArmReplied++;
        break;
      case TAG_WATCH_SET:
        // the event (if any) came first; a failed set means no event for this op
        if (err !== Err.OK) {
          if (slot.watchSetReplied >= slot.watchNext && slot.watchSetReplied < slot.watchIssued) slot.watchDead[slot.watchSetReplied & slot.mask] = 1;
          this.fail(WATCH_OP, err, started);
        }
        slot.watchSetReplied++;
        break;
      case TAG_EXISTS:
        if (err === Err.OK || err === Err.NONODE) this.complete(TAG_EXISTS, started, now);
        else this.fail(TAG_EXISTS, err, started);
        break;
      case TAG_MULTI: {
        let code = err;
        // a failed multi answers OK with an error result per op
        if (code === Err.OK && err !== Err.CONNECTIONLOSS && body.remaining() >= 9) {
          const type = body.int();
          body.bool();
          const subErr = body.int();
          if (type === Op.error) code = subErr;
        }
        if (code === Err.OK) this.complete(TAG_MULTI, started, now);
        else this.fail(TAG_MULTI, code, started);
        break;
      }
      default:
        if (err === Err.OK) this.complete(tag, started, now);
        else this.fail(tag, err, started);
    }
    if (this.schedule === null) {
      if (slot.client !== null && !this.stopped && now < this.endMs && now >= this.startMs) this.topUp(slot, now);
      // batched: the client writes what this chunk freed at the end of it (per-request wrote each already)
      this.dirty.length = 0;
    } else if (!this.stopped && this.schedule.nextIntendedMs() <= now) {
      // room opened up for ops that were waiting on the schedule
      this.pumpOpen(now);
      this.flushAll();
    }
  }

  private onWatchEvent(slot: Slot, _e: WatchEvent): void {
    while (slot.watchNext < slot.watchIssued && slot.watchDead[slot.watchNext & slot.mask] === 1) slot.watchNext++;
    if (slot.watchNext >= slot.watchIssued) {
      this.count('watch', 'STRAY_EVENT');
      return;
    }
    const started = slot.watchStartMs[slot.watchNext & slot.mask];
    slot.watchNext++;
    this.complete(WATCH_OP, started, this.now());
  }

  private popAndFail(slot: Slot, err: number, _now: number): void {
    const at = slot.head;
    const tag = slot.tags[at];
    const started = slot.startMs[at];
    slot.head = (slot.head + 1) & slot.mask;
    slot.inflight--;
    const op = TAG_OP[tag];
    if (op !== null) this.fail(OP_INDEX[op], err, started);
  }

  private inWindow(startedMs: number): boolean {
    return startedMs >= this.measureStartMs && startedMs < this.endMs;
  }

  private complete(opIndex: number, startedMs: number, nowMs: number): void {
    const ns = (nowMs - startedMs) * 1e6;
    recordNs(this.interval, ns);
    this.intervalOps++;
    if (this.inWindow(startedMs)) recordNs(this.histograms[opIndex], ns);
  }

  private fail(opIndex: number, err: number, startedMs: number): void {
    this.intervalErrors++;
    if (this.inWindow(startedMs)) this.count(TIMED_OPS[opIndex], errName(err));
  }

  private count(op: string, code: string): void {
    let byCode = this.errors.get(op);
    if (byCode === undefined) this.errors.set(op, (byCode = new Map()));
    byCode.set(code, (byCode.get(code) ?? 0) + 1);
  }
}

/** Pseudo-random value bytes (compressible data would flatter a server that compresses). */
export function valueBytes(length: number, seed: number): Buffer {
  const random = seededRandom(seed);
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = Math.floor(random() * 256);
  return b;
}
