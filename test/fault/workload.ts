// The workloads, through real client connections (LeanClient over the fault proxy):
// - register workers: getData / setData(version -1) / setData(expected version) on a few
//   shared znodes, one request at a time, every op recorded (history.ts);
// - sequential-create workers: PERSISTENT_SEQUENTIAL children of /fault/seq;
// - a FIFO worker: pipelines setData, getData, create, exists, setData, getData on znodes
//   only its current session writes, and checks each reply answers its own request in
//   order (the getData sees the setData just before it, the create names its path, the
//   versions step by one).
// - a watch worker: sets data watches on the registers (getData with watch) and reads them
//   without; each watch must fire at most once, never before the reply of the read that set
//   it (a client registers the watcher on that reply), and before the reply of any read
//   that sees a newer version than it was set at;
// - an ephemeral worker: each of its sessions creates an ephemeral znode and keeps checking
//   it exists (a session that answers is alive, so its ephemeral must be there); at the end
//   every ephemeral must go once its session is closed or expired (run.ts checks).
// Every session also checks that reply zxids never go backwards.
// A lost connection makes the op in flight `unknown`; the worker then opens a new session.

import { LeanClient, readStat, type Reply } from '../../client/lean.ts';
import { CreateFlag, Err, EventType, Op, OPEN_ACL_UNSAFE, writeAcls } from '../../engine/protocol.ts';
import type { JuteReader, JuteWriter } from '../../native-free-io/jute.ts';
import { type HistoryRecorder, type Outcome } from './history.ts';
import { seqNumberOf } from './invariants.ts';

export const FAULT_ROOT = '/fault';
export const SEQ_PARENT = `${FAULT_ROOT}/seq`;
export const FIFO_PARENT = `${FAULT_ROOT}/fifo`;
export const EPHEMERAL_PARENT = `${FAULT_ROOT}/eph`;
export const REGISTER_INITIAL_VALUE = 'init';
export const registerPath = (index: number): string => `${FAULT_ROOT}/r${index}`;

/** Between two checks of the ephemeral worker: a few hundred a run is plenty. */
const EPHEMERAL_CHECK_GAP_MS = 10;
/** Errors that prove the request was not applied. Anything else (loss, expiry, timeout, …) leaves the outcome unknown. */
const DEFINITE_ERRORS: ReadonlySet<number> = new Set([Err.BADVERSION, Err.NONODE, Err.NODEEXISTS, Err.BADARGUMENTS, Err.NOAUTH]);
/** Errors that end a session's requests without saying anything about them. */
const SESSION_LOST_ERRORS: ReadonlySet<number> = new Set([Err.CONNECTIONLOSS, Err.SESSIONEXPIRED, Err.SESSIONMOVED, Err.OPERATIONTIMEOUT, Err.UNKNOWNSESSION, Err.THROTTLEDOP]);

export interface WorkloadOptions {
  host: string;
  port: number;
  /** Ensembles: the client ports to spread over; each new session picks one (`port` is then unused). */
  ports?: readonly number[];
  sessionTimeoutMs: number;
  /** A request not answered within this is abandoned as unknown (and its connection dropped). */
  requestTimeoutMs: number;
  random: () => number;
  history: HistoryRecorder;
  registerCount: number;
  isStopped: () => boolean;
}

type Result<T> = { status: 'reply'; err: number; zxid: number; value: T | undefined } | { status: 'lost'; reason: number | 'timeout' };

/** A worker's connection: reconnects with a new session after a loss; checks reply zxid order. */
class Session {
  client: LeanClient | null = null;
  generation = 0;
  private lastReplyZxid = 0;
  private readonly name: string;
  private readonly options: WorkloadOptions;
  constructor(name: string, options: WorkloadOptions) {
    this.name = name;
    this.options = options;
  }

  get label(): string {
    return `${this.name}.${this.generation}`;
  }

  /** A live client, or null once the run is stopping. Retries every 100 ms (a backoff, not a wait for a condition we could observe). */
  async connected(): Promise<LeanClient | null> {
    if (this.options.isStopped()) return null;
    while (this.client === null || this.client.isClosed) {
      if (this.options.isStopped()) return null;
      try {
        const { ports } = this.options;
        const port = ports === undefined ? this.options.port : ports[Math.floor(this.options.random() * ports.length)];
        this.client = await LeanClient.connect({ host: this.options.host, port, sessionTimeoutMs: this.options.sessionTimeoutMs, connectTimeoutMs: 2_000 });
        this.generation++;
        this.lastReplyZxid = 0;
      } catch {
        this.client = null;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    return this.client;
  }

  /**
   * One request. `onSettled` runs synchronously when the reply is handled, before frames
   * behind it in the same chunk (a watch event, say); code after the returned promise runs
   * only after the whole chunk.
   */
  request<T>(client: LeanClient, type: number, body: (w: JuteWriter) => void, parse: (r: JuteReader) => T, onSettled?: (result: Result<T>) => void): Promise<Result<T>> {
    return new Promise((resolvePromise) => {
      const resolve = (result: Result<T>): void => {
        onSettled?.(result);
        resolvePromise(result);
      };
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        resolve({ status: 'lost', reason: 'timeout' });
        client.disconnect(); // FIFO: nothing after an abandoned request can be matched
      }, this.options.requestTimeoutMs);
      client.send(type, body, (reply: Reply) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (reply.err === Err.CONNECTIONLOSS && reply.zxid === -1) return resolve({ status: 'lost', reason: Err.CONNECTIONLOSS });
        if (reply.zxid > 0) {
          if (reply.zxid < this.lastReplyZxid) {
            this.options.history.violations.push({
              invariant: 'session-zxid-order',
              detail: `session ${this.label} (0x${client.sessionId.toString(16)}): a reply carries zxid 0x${reply.zxid.toString(16)} after one with 0x${this.lastReplyZxid.toString(16)}`,
            });
          }
          this.lastReplyZxid = Math.max(this.lastReplyZxid, reply.zxid);
        }
        if (reply.err !== Err.OK) return resolve({ status: 'reply', err: reply.err, zxid: reply.zxid, value: undefined });
        try {
          resolve({ status: 'reply', err: Err.OK, zxid: reply.zxid, value: parse(reply.body) });
        } catch (error) {
          // a reply that does not parse as the answer to this request: answered out of order
          this.options.history.violations.push({ invariant: 'session-fifo', detail: `session ${this.label}: reply to opcode ${type} does not parse (${(error as Error).message})` });
          resolve({ status: 'lost', reason: Err.MARSHALLINGERROR });
          client.disconnect();
        }
      });
    });
  }

  close(): void {
    this.client?.disconnect();
  }

  /** closeSession (bounded by the request timeout), then the socket: its ephemerals go at once. */
  async closeSession(): Promise<void> {
    const client = this.client;
    if (client === null || client.isClosed) return;
    await this.request(client, Op.closeSession, () => undefined, () => undefined);
    client.disconnect();
  }
}

function outcomeOf(result: Result<unknown>): { outcome: Outcome; err?: number | 'timeout' } {
  if (result.status === 'lost') return { outcome: 'unknown', err: result.reason };
  if (result.err === Err.OK) return { outcome: 'ok' };
  return { outcome: DEFINITE_ERRORS.has(result.err) ? 'fail' : 'unknown', err: result.err };
}

const writeSetData = (path: string, value: string, version: number) => (w: JuteWriter) => w.string(path).buffer(Buffer.from(value)).int(version);
const writeGetData = (path: string) => (w: JuteWriter) => w.string(path).bool(false);
const writeCreate = (path: string, flags: number) => (w: JuteWriter) => {
  w.string(path).buffer(Buffer.alloc(0));
  writeAcls(w, OPEN_ACL_UNSAFE);
  w.int(flags);
};
const parseGetData = (r: JuteReader) => {
  const data = (r.buffer() ?? Buffer.alloc(0)).toString('utf8');
  return { data, version: readStat(r).version };
};
const parseVersion = (r: JuteReader) => readStat(r).version;
const parsePath = (r: JuteReader) => r.ustring();

export async function registerWorker(name: string, options: WorkloadOptions): Promise<void> {
  const { history, random } = options;
  const session = new Session(name, options);
  const knownVersion = new Map<string, number>();
  let count = 0;
  for (;;) {
    const client = await session.connected();
    if (client === null) break;
    const key = registerPath(Math.floor(random() * options.registerCount));
    const r = random();
    if (r < 0.45) {
      const op = history.invokeRegister(session.label, key, 'read');
      const result = await session.request(client, Op.getData, writeGetData(key), parseGetData);
      const { outcome, err } = outcomeOf(result);
      if (outcome === 'ok' && result.status === 'reply') {
        history.complete(op, 'ok', { value: result.value!.data, version: result.value!.version });
        knownVersion.set(key, result.value!.version);
      } else {
        history.complete(op, outcome, { err });
      }
    } else {
      const isCas = r < 0.8;
      const value = `${session.label}:${count++}`;
      const expectedVersion = isCas ? (knownVersion.get(key) ?? 0) : -1;
      const op = history.invokeRegister(session.label, key, isCas ? 'cas' : 'write', isCas ? { value, expectedVersion } : { value });
      const result = await session.request(client, Op.setData, writeSetData(key, value, expectedVersion), parseVersion);
      const { outcome, err } = outcomeOf(result);
      if (outcome === 'ok' && result.status === 'reply') {
        history.complete(op, 'ok', { version: result.value });
        knownVersion.set(key, result.value!);
      } else {
        history.complete(op, outcome, { err });
        if (outcome === 'fail') knownVersion.delete(key); // read again before the next cas hits
      }
    }
  }
  session.close();
}

export async function seqCreateWorker(name: string, options: WorkloadOptions): Promise<void> {
  const { history } = options;
  const session = new Session(name, options);
  for (;;) {
    const client = await session.connected();
    if (client === null) break;
    const op = history.invokeSeqCreate(session.label);
    const result = await session.request(client, Op.create, writeCreate(`${SEQ_PARENT}/s-`, CreateFlag.persistentSequential), parsePath);
    const { outcome, err } = outcomeOf(result);
    if (outcome === 'ok' && result.status === 'reply') history.complete(op, 'ok', { path: result.value, seq: seqNumberOf(result.value!) });
    else history.complete(op, outcome, { err });
  }
  session.close();
}

/** Batches the FIFO worker completed with every reply checked. */
export interface FifoStats {
  batchCount: number;
}

export async function fifoWorker(name: string, options: WorkloadOptions, stats: FifoStats): Promise<void> {
  const { history } = options;
  const session = new Session(name, options);
  let privatePath: string | null = null;
  let privateGeneration = -1;
  let batch = 0;
  const violation = (detail: string) => history.violations.push({ invariant: 'session-fifo', detail: `session ${session.label}, batch ${batch}: ${detail}` });
  for (;;) {
    const client = await session.connected();
    if (client === null) break;
    if (privateGeneration !== session.generation) {
      // a znode only this session writes: no request of an earlier session can land on it
      const path = `${FIFO_PARENT}/p-${session.label}`;
      const made = await session.request(client, Op.create, writeCreate(path, CreateFlag.persistent), parsePath);
      if (made.status === 'lost' || SESSION_LOST_ERRORS.has(made.err)) continue;
      if (made.err !== Err.OK) {
        violation(`create of its private znode ${path} failed with ${made.err}`);
        client.disconnect();
        continue;
      }
      privatePath = path;
      privateGeneration = session.generation;
    }
    batch++;
    const a = `${session.label}:${batch}a`;
    const b = `${session.label}:${batch}b`;
    const child = `${FIFO_PARENT}/c-${session.label}-${batch}`;
    // all six are written before any reply is read; LeanClient pairs replies with requests
    // in send order, so a reply out of order shows as the wrong content below
    const pending = [
      session.request(client, Op.setData, writeSetData(privatePath!, a, -1), parseVersion),
      session.request(client, Op.getData, writeGetData(privatePath!), parseGetData),
      session.request(client, Op.create, writeCreate(child, CreateFlag.persistent), parsePath),
      session.request(client, Op.exists, writeGetData(child), (r) => readStat(r).czxid),
      session.request(client, Op.setData, writeSetData(privatePath!, b, -1), parseVersion),
      session.request(client, Op.getData, writeGetData(privatePath!), parseGetData),
    ] as const;
    const [setA, getA, created, exists, setB, getB] = await Promise.all(pending);
    const replies = [setA, getA, created, exists, setB, getB];
    // only the replies before the first loss say anything
    const firstLoss = replies.findIndex((r) => r.status === 'lost' || SESSION_LOST_ERRORS.has(r.err));
    const answered = firstLoss === -1 ? replies.length : firstLoss;
    for (let i = 0; i < answered; i++) {
      const r = replies[i];
      if (r.status === 'reply' && r.err !== Err.OK) violation(`request ${i} failed with ${r.err}`);
    }
    const ok = (i: number) => i < answered && replies[i].status === 'reply' && (replies[i] as { err: number }).err === Err.OK;
    const value = <T>(r: Result<T>) => (r.status === 'reply' ? r.value : undefined);
    if (ok(0) && ok(1) && (value(getA)!.data !== a || value(getA)!.version !== value(setA))) {
      violation(`getData after setData(${JSON.stringify(a)}) → v${value(setA)} read ${JSON.stringify(value(getA)!.data)} v${value(getA)!.version}`);
    }
    if (ok(2) && value(created) !== child) violation(`create ${child} answered ${JSON.stringify(value(created))}`);
    if (ok(4) && ok(0) && value(setB) !== value(setA)! + 1) violation(`second setData → v${value(setB)} after v${value(setA)}`);
    if (ok(4) && ok(5) && (value(getB)!.data !== b || value(getB)!.version !== value(setB))) {
      violation(`getData after setData(${JSON.stringify(b)}) → v${value(setB)} read ${JSON.stringify(value(getB)!.data)} v${value(getB)!.version}`);
    }
    if (answered === replies.length) stats.batchCount++;
  }
  session.close();
}

export interface WatchStats {
  setCount: number;
  firedCount: number;
}

export async function watchWorker(name: string, options: WorkloadOptions, stats: WatchStats): Promise<void> {
  const { history, random } = options;
  const session = new Session(name, options);
  let generation = -1;
  /** Per register: the version the watch was set at (active), or 'setting' while the read that sets it is in flight. */
  type WatchState = number | 'setting';
  let watches = new Map<string, WatchState>();
  for (;;) {
    const client = await session.connected();
    if (client === null) break;
    if (generation !== session.generation) {
      // watches belong to a session: a new one starts with none (LeanClient sends no setWatches)
      generation = session.generation;
      const mine = new Map<string, WatchState>();
      watches = mine;
      const label = session.label;
      client.onWatch = (event) => {
        if (event.type !== EventType.NodeDataChanged) return;
        const state = mine.get(event.path);
        if (state === undefined) {
          history.violations.push({ invariant: 'watch-once', detail: `session ${label}: NodeDataChanged for ${event.path} with no watch set (a second event for one watch?)` });
        } else if (state === 'setting') {
          // a client registers the watcher when the reply comes: an event before it is lost to it
          history.violations.push({ invariant: 'watch-order', detail: `session ${label}: NodeDataChanged for ${event.path} arrived before the reply of the getData that set the watch` });
          mine.delete(event.path);
        } else {
          mine.delete(event.path);
          stats.firedCount++;
        }
      };
    }
    const key = registerPath(Math.floor(random() * options.registerCount));
    const state = watches.get(key);
    const mine = watches;
    if (state === undefined) {
      mine.set(key, 'setting');
      await session.request(client, Op.getData, (w) => w.string(key).bool(true), parseGetData, (r) => {
        if (mine.get(key) !== 'setting') return;
        if (r.status === 'reply' && r.err === Err.OK) {
          mine.set(key, r.value!.version);
          stats.setCount++;
        } else {
          mine.delete(key);
        }
      });
    } else if (typeof state === 'number') {
      // the event for a change is delivered before the reply of any read that sees it
      // (checked when the reply is handled: an event behind it in the same chunk is too late)
      await session.request(client, Op.getData, writeGetData(key), parseGetData, (r) => {
        if (r.status === 'reply' && r.err === Err.OK && r.value!.version > state && mine.get(key) === state) {
          history.violations.push({
            invariant: 'watch-order',
            detail: `session ${session.label}: getData ${key} saw v${r.value!.version}, but the watch set at v${state} has not fired`,
          });
          mine.delete(key);
        }
      });
    }
  }
  session.close();
}

export async function ephemeralWorker(name: string, options: WorkloadOptions, stats: { checkCount: number }): Promise<void> {
  const { history } = options;
  const session = new Session(name, options);
  let mine: string | null = null;
  let generation = -1;
  for (;;) {
    const client = await session.connected();
    if (client === null) break;
    if (generation !== session.generation) {
      const path = `${EPHEMERAL_PARENT}/e-${session.label}`;
      const r = await session.request(client, Op.create, writeCreate(path, CreateFlag.ephemeral), parsePath);
      if (r.status === 'lost' || SESSION_LOST_ERRORS.has(r.err)) continue;
      if (r.err !== Err.OK) {
        history.violations.push({ invariant: 'ephemeral-lost', detail: `session ${session.label}: create of ephemeral ${path} failed with ${r.err}` });
        client.disconnect();
        continue;
      }
      mine = path;
      generation = session.generation;
    }
    const r = await session.request(client, Op.exists, writeGetData(mine!), (reader) => readStat(reader).ephemeralOwner);
    if (r.status === 'lost' || SESSION_LOST_ERRORS.has(r.err)) continue;
    if (r.err !== Err.OK) {
      history.violations.push({ invariant: 'ephemeral-lost', detail: `session ${session.label} (0x${client.sessionId.toString(16)}) is alive but its ephemeral ${mine} is gone (exists: ${r.err})` });
      client.disconnect();
    } else if (r.value !== client.sessionId) {
      history.violations.push({ invariant: 'ephemeral-lost', detail: `${mine}: ephemeralOwner 0x${r.value!.toString(16)}, not session 0x${client.sessionId.toString(16)}` });
    } else {
      stats.checkCount++;
    }
    await new Promise((resolve) => setTimeout(resolve, EPHEMERAL_CHECK_GAP_MS)); // pacing, so this worker does not take a core
  }
  await session.closeSession();
}
