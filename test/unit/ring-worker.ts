// Worker threads for test/unit/ring.test.ts. Each role moves records through real rings
// and posts one 'done' message with what it saw; they block only on doorbells.

import { parentPort, workerData } from 'node:worker_threads';
import { Doorbell, Ring } from '../../native-free-io/ring.ts';
import { checkRecord, fillPayload, recordKind, recordSizes } from './ring-records.ts';

export interface StreamSpec {
  ringSab: SharedArrayBuffer;
  seed: number;
  count: number;
  salt: number; // kind salt, tells streams apart
}

export interface BellRef {
  sab: SharedArrayBuffer;
  byteOffset: number;
}

export type WorkerJob =
  | { role: 'producer'; stream: StreamSpec; dataBell?: BellRef; announceBlocked: boolean; quietBatch?: number }
  | { role: 'consumer'; streams: StreamSpec[]; dataBell?: BellRef; quiet?: boolean }
  | { role: 'pinger'; requestRingSab: SharedArrayBuffer; responseRingSab: SharedArrayBuffer; seed: number; count: number }
  | { role: 'echo'; requestRingSab: SharedArrayBuffer; responseRingSab: SharedArrayBuffer; count: number }
  | { role: 'bell-pong'; serve: boolean; ringBell: BellRef; waitBell: BellRef; count: number; stallMs: number };

export interface ProducerDone {
  type: 'done';
  pushed: number;
  fullCount: number;
}
export interface ConsumerDone {
  type: 'done';
  received: number[];
  parks: number;
  error: string | null;
}
export interface Blocked {
  type: 'blocked';
  pushed: number;
  payloadBytes: number;
}

function attachBell(ref: BellRef | undefined): Doorbell | undefined {
  return ref === undefined ? undefined : Doorbell.attach(ref.sab, ref.byteOffset);
}

/** Push one record, waiting on spaceBell while the ring is full. Returns how often it found the ring full. */
function pushBlocking(ring: Ring, kind: number, payloadBytes: number, sequence: number, onFull: (() => void) | null, quiet = false): number {
  let fullCount = 0;
  for (;;) {
    const seen = ring.spaceBell.sequence();
    const offset = ring.reserve(payloadBytes);
    if (offset >= 0) {
      fillPayload(ring.data, offset, payloadBytes, sequence);
      if (quiet) ring.commitQuiet(kind, payloadBytes);
      else ring.commit(kind, payloadBytes);
      return fullCount;
    }
    fullCount++;
    if (onFull !== null) onFull();
    ring.spaceBell.wait(seen, Infinity);
  }
}

function produce(job: Extract<WorkerJob, { role: 'producer' }>): ProducerDone {
  const ring = Ring.attach(job.stream.ringSab, attachBell(job.dataBell));
  const sizes = recordSizes(job.stream.seed, ring.maxPayloadBytes);
  let fullCount = 0;
  let announced = !job.announceBlocked;
  for (let sequence = 0; sequence < job.stream.count; sequence++) {
    const payloadBytes = sizes.next();
    const onFull = announced
      ? null
      : () => {
          announced = true;
          const blocked: Blocked = { type: 'blocked', pushed: sequence, payloadBytes };
          parentPort!.postMessage(blocked);
        };
    // quietBatch: commit without ringing and ring once every quietBatch records (a full
    // reserve() rings what is owed by itself), as the pipeline does once per loop turn
    const quiet = job.quietBatch !== undefined;
    fullCount += pushBlocking(ring, recordKind(sequence, job.stream.salt), payloadBytes, sequence, onFull, quiet);
    if (quiet && (sequence + 1) % job.quietBatch! === 0) ring.flushDataBell();
  }
  ring.flushDataBell();
  return { type: 'done', pushed: job.stream.count, fullCount };
}

/** Drain several rings that share one data doorbell; check every record. */
function consume(job: Extract<WorkerJob, { role: 'consumer' }>): ConsumerDone {
  const bell = attachBell(job.dataBell);
  const rings = job.streams.map((s) => Ring.attach(s.ringSab, bell));
  const doorbell = rings[0].dataBell;
  const sizes = job.streams.map((s, i) => recordSizes(s.seed, rings[i].maxPayloadBytes));
  const received = job.streams.map(() => 0);
  let parks = 0;
  let remaining = job.streams.reduce((sum, s) => sum + s.count, 0);
  while (remaining > 0) {
    const seen = doorbell.sequence();
    let progressed = false;
    for (let i = 0; i < rings.length; i++) {
      const ring = rings[i];
      while (ring.poll()) {
        const sequence = received[i];
        const error = checkRecord(ring, job.streams[i], sequence, sizes[i].next());
        if (error !== null) return { type: 'done', received, parks, error: `stream ${i}: ${error}` };
        if (job.quiet === true) ring.releaseQuiet();
        else ring.release();
        received[i]++;
        remaining--;
        progressed = true;
      }
      // (an empty poll() above already rang the space bell owed by releaseQuiet)
    }
    if (!progressed && remaining > 0) {
      parks++;
      doorbell.wait(seen, Infinity);
    }
  }
  return { type: 'done', received, parks, error: null };
}

/** Round trips: push request n, wait for its echo. Every wait finds an empty ring, so both sides park constantly. */
function ping(job: Extract<WorkerJob, { role: 'pinger' }>): ConsumerDone {
  const requests = Ring.attach(job.requestRingSab);
  const responses = Ring.attach(job.responseRingSab);
  const sizes = recordSizes(job.seed, requests.maxPayloadBytes);
  const stream = { count: job.count, salt: 0 };
  let parks = 0;
  for (let sequence = 0; sequence < job.count; sequence++) {
    const payloadBytes = sizes.next();
    pushBlocking(requests, recordKind(sequence, 0), payloadBytes, sequence, null);
    for (;;) {
      const seen = responses.dataBell.sequence();
      if (responses.poll()) break;
      parks++;
      responses.dataBell.wait(seen, Infinity);
    }
    const error = checkRecord(responses, stream, sequence, payloadBytes);
    if (error !== null) return { type: 'done', received: [sequence], parks, error };
    responses.release();
  }
  return { type: 'done', received: [job.count], parks, error: null };
}

function echo(job: Extract<WorkerJob, { role: 'echo' }>): ConsumerDone {
  const requests = Ring.attach(job.requestRingSab);
  const responses = Ring.attach(job.responseRingSab);
  let parks = 0;
  for (let n = 0; n < job.count; n++) {
    for (;;) {
      const seen = requests.dataBell.sequence();
      if (requests.poll()) break;
      parks++;
      requests.dataBell.wait(seen, Infinity);
    }
    // The response ring is empty here (the pinger waits for each echo), so this never blocks.
    const pushed = responses.tryPush(requests.kind, requests.data.subarray(requests.payloadStart, requests.payloadStart + requests.payloadLength));
    if (!pushed) return { type: 'done', received: [n], parks, error: `echo ${n}: response ring full` };
    requests.release();
  }
  return { type: 'done', received: [job.count], parks, error: null };
}

/**
 * Doorbell-only round trips, the tightest loop around the parking race: the server rings
 * after each ring it receives. Waits are bounded by stallMs so that a lost wake-up shows up
 * as a stall (a wait that ran its full bound although the sequence had moved) instead of a
 * hang; a correct doorbell has none.
 */
function bellPong(job: Extract<WorkerJob, { role: 'bell-pong' }>): ConsumerDone {
  const mine = Doorbell.attach(job.ringBell.sab, job.ringBell.byteOffset);
  const theirs = Doorbell.attach(job.waitBell.sab, job.waitBell.byteOffset);
  let parks = 0;
  let stalls = 0;
  for (let n = 1; n <= job.count; n++) {
    if (!job.serve) mine.ring();
    for (;;) {
      const seen = theirs.sequence();
      if (seen >= n) break;
      parks++;
      const startedMs = performance.now();
      theirs.wait(seen, job.stallMs);
      if (performance.now() - startedMs >= job.stallMs && theirs.sequence() !== seen) stalls++;
    }
    if (job.serve) mine.ring();
  }
  return { type: 'done', received: [job.count, stalls], parks, error: stalls === 0 ? null : `${stalls} lost wake-ups` };
}

function run(job: WorkerJob): ProducerDone | ConsumerDone {
  switch (job.role) {
    case 'producer':
      return produce(job);
    case 'consumer':
      return consume(job);
    case 'pinger':
      return ping(job);
    case 'echo':
      return echo(job);
    case 'bell-pong':
      return bellPong(job);
  }
}

if (parentPort !== null && workerData !== null && typeof workerData === 'object' && 'role' in workerData) {
  parentPort.postMessage(run(workerData as WorkerJob));
}
