// A load generator thread (a piscina task that lasts the whole run): connects its share of
// the connections, waits for the common start time, then drives a Workload with sockets
// and timers: the open-loop clock, one interval sample per second to the main thread,
// reconnects with backoff, and a bounded drain at the end. Every wait here has a deadline.
import type { MessagePort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { LeanClient } from '../client/lean.ts';
import { Workload, type WorkloadPlan, type WorkerResult, type IntervalSample } from './workload.ts';
import type { HostPort } from './options.ts';

export interface WorkerTask {
  plan: WorkloadPlan;
  /** The host of each of plan.globalSlots. */
  hosts: HostPort[];
  connectTimeoutMs: number;
  sessionTimeoutMs: number;
  graceMs: number;
  /** Connection attempts this thread may have in flight at once (its share of LIMITS.connectsInFlightMax). */
  connectsInFlightMax: number;
  port: MessagePort;
}

/** Worker → main messages. */
export type WorkerMessage =
  | { type: 'ready'; workerIndex: number; connected: number }
  | { type: 'interval'; sample: IntervalSample };

/** Main → worker messages. */
export type MainMessage = { type: 'start'; startAtEpochMs: number } | { type: 'abort' };

const RECONNECT_BACKOFF_MS_MIN = 50;
const RECONNECT_BACKOFF_MS_MAX = 1000;
/**
 * Open loop: the clock ticks on timers, at best every millisecond; each tick sends every op
 * whose intended time has come (their latency still counts from that time, and the lateness
 * is reported as send lag). Spinning on setImmediate would be more punctual but burns a core,
 * and on a small machine that core is taken from the server under test.
 */
const TICK_MS_MIN = 1;
/** A closeSession at the end waits this long for its reply, then the socket is dropped. */
const CLOSE_SESSION_MS_MAX = 300;

const now = () => performance.now();
const epochToLocal = (epochMs: number) => epochMs - performance.timeOrigin;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

function reasonOf(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code === 'string') return e.code;
  const message = String(e?.message ?? err);
  if (/timed out/.test(message)) return 'CONNECT_TIMEOUT';
  if (/closed during handshake/.test(message)) return 'CLOSED_IN_HANDSHAKE';
  if (/failed with error (-?\d+)/.test(message)) return `HANDSHAKE_${/failed with error (-?\d+)/.exec(message)![1]}`;
  return message.slice(0, 60);
}

export default async function runWorker(task: WorkerTask): Promise<WorkerResult> {
  const { plan, port } = task;
  const load = new Workload(plan, now);
  const clients: (LeanClient | null)[] = plan.globalSlots.map(() => null);
  let aborted = false;
  let endMs = Infinity;

  const startMessage = new Promise<number>((resolve) => {
    port.on('message', (msg: MainMessage) => {
      if (msg.type === 'start') resolve(epochToLocal(msg.startAtEpochMs));
      else if (msg.type === 'abort') {
        aborted = true;
        resolve(now());
      }
    });
  });

  const connectSlot = async (i: number, deadlineMs: number): Promise<boolean> => {
    const timeoutMs = Math.min(task.connectTimeoutMs, deadlineMs - now());
    if (timeoutMs <= 0) return false;
    const hp = task.hosts[i];
    try {
      const client = await LeanClient.connect({ host: hp.host, port: hp.port, sessionTimeoutMs: task.sessionTimeoutMs, connectTimeoutMs: timeoutMs });
      if (aborted || now() >= deadlineMs) {
        client.disconnect();
        return false;
      }
      clients[i] = client;
      client.onClose = () => {
        clients[i] = null;
        load.detach(i);
        if (!aborted && now() < endMs) void maintain(i);
      };
      load.attach(i, client);
      return true;
    } catch (err) {
      load.connectFailed(reasonOf(err));
      return false;
    }
  };

  // keeps one slot connected until the end of the run, backing off between failures
  const maintain = async (i: number): Promise<void> => {
    let backoffMs = RECONNECT_BACKOFF_MS_MIN;
    while (!aborted && now() < endMs && clients[i] === null) {
      await delay(Math.min(backoffMs, endMs - now()));
      if (aborted || now() >= endMs) return;
      if (await connectSlot(i, endMs)) return;
      backoffMs = Math.min(RECONNECT_BACKOFF_MS_MAX, backoffMs * 2);
    }
  };

  // paced: a burst of SYNs past the server's listen backlog is dropped and retried a second later
  const firstTryEndMs = now() + task.connectTimeoutMs;
  const firstTry: boolean[] = plan.globalSlots.map(() => false);
  let nextSlot = 0;
  const connectLane = async (): Promise<void> => {
    while (nextSlot < firstTry.length && !aborted && now() < firstTryEndMs) {
      const i = nextSlot++;
      firstTry[i] = await connectSlot(i, firstTryEndMs);
    }
  };
  await Promise.all(Array.from({ length: Math.min(task.connectsInFlightMax, firstTry.length) }, connectLane));
  port.postMessage({ type: 'ready', workerIndex: plan.workerIndex, connected: firstTry.filter(Boolean).length } satisfies WorkerMessage);

  const startMs = await startMessage;
  load.begin(startMs);
  endMs = load.runEndMs;
  // slots that failed, or were not tried by the first try's deadline, keep trying during the run
  for (let i = 0; i < firstTry.length; i++) if (!firstTry[i] && !aborted) void maintain(i);

  // one interval sample per second of the run, aligned on the start
  let second = 0;
  let intervalTimer: NodeJS.Timeout | null = null;
  const postInterval = () => {
    port.postMessage({ type: 'interval', sample: load.takeInterval(second) } satisfies WorkerMessage);
    second++;
  };
  const scheduleInterval = () => {
    intervalTimer = setTimeout(() => {
      postInterval();
      if (!aborted && now() < endMs) scheduleInterval();
    }, startMs + (second + 1) * 1000 - now());
  };
  scheduleInterval();

  // keep idle sessions alive (an open loop at a low rate may leave a connection quiet)
  const keepAliveTimer = setInterval(() => load.keepAlive(task.sessionTimeoutMs / 3), 1000);

  // the open-loop clock; closed loop needs one pump at the start (replies pump after that)
  let pumpTimer: NodeJS.Timeout | null = null;
  const pumpLoop = () => {
    pumpTimer = null;
    if (aborted) return;
    load.pump();
    const next = load.nextWakeMs();
    if (!Number.isFinite(next)) return;
    // everything full or down: replies and reconnects pump; look again in a tick
    const gap = load.blockedOnCapacity ? TICK_MS_MIN : next - now();
    pumpTimer = setTimeout(pumpLoop, Math.max(TICK_MS_MIN, Math.floor(gap)));
  };
  pumpTimer = setTimeout(pumpLoop, startMs - now());

  // how busy this thread is over the run (is the load generator the bottleneck?)
  await delay(startMs - now());
  const eluAtStart = performance.eventLoopUtilization();
  // the end: no new ops; replies may come until the grace runs out
  await delay(endMs - now());
  const busyShare = performance.eventLoopUtilization(eluAtStart).utilization;
  load.pump(); // open loop: the ops intended in the last tick before the end
  const drainDeadlineMs = endMs + task.graceMs;
  while (!aborted && load.inflight() > 0 && now() < drainDeadlineMs) await delay(Math.min(5, drainDeadlineMs - now()));
  if (pumpTimer !== null) clearTimeout(pumpTimer);
  clearInterval(keepAliveTimer);
  if (intervalTimer !== null) clearTimeout(intervalTimer);
  postInterval();
  const result = load.finish();
  result.eventLoopUtilization = busyShare;

  aborted = true; // no reconnects from here on
  await Promise.all(
    clients.map(async (c) => {
      if (c === null) return;
      c.onTagged = null;
      c.onClose = null;
      await Promise.race([c.close(), delay(CLOSE_SESSION_MS_MAX)]);
      c.disconnect();
    }),
  );
  port.close();
  return result;
}
