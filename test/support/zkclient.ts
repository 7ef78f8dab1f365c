// A ZooKeeper session driven by node-zookeeper-client, instrumented for
// transcripts.
//
// The library does the connecting, pings, auth packets, watch bookkeeping and
// SetWatches on reconnect, and its jute classes encode our requests. We queue
// requests on its ConnectionManager ourselves (not through Client's methods) so
// that we can send what its client-side checks refuse (paths like "a", empty
// ACL lists, version 0 in multi — its Transaction turns 0 into -1) and ops it
// cannot decode (getChildren, sync, create2).
//
// A tap in front of the library's socket handler frames the byte stream and
// logs every frame in arrival order (connect responses, replies with their
// header zxid and error, watch notifications, auth replies, socket closes).
// Replies to our own requests are decoded here, so each reply knows exactly
// which notifications arrived before it on the wire.

import { createRequire } from 'node:module';
import { waitFor, withDeadline } from './wait.ts';
import { Op } from '../../engine/protocol.ts';
import { JuteReader } from '../../native-free-io/jute.ts';
import { errorName as errorNameOf } from '../../client/errors.ts';

const require = createRequire(import.meta.url);
// The library ships no types; these are the parts we use.
/* eslint-disable @typescript-eslint/no-explicit-any */
const zookeeper: any = require('node-zookeeper-client');
const jute: any = require('node-zookeeper-client/lib/jute/index.js');

/** ZooDefs.OpCode, from the engine's table of the same facts. */
export const OP = Op;

const OP_NAMES = new Map<number, string>(Object.entries(OP).map(([name, code]) => [code, name]));

/** Codes node-zookeeper-client's Exception accepts (it throws on any other). */
const LIBRARY_KNOWN_ERRORS = new Set([0, -1, -2, -3, -4, -5, -6, -7, -8, -100, -101, -102, -103, -108, -110, -111, -112, -113, -114, -115]);
/** KeeperException.Code's name as transcripts show it ("NONODE"; ERROR(-42) for an unknown number). */
export function errorName(code: number): string {
  return errorNameOf(code) ?? `ERROR(${code})`;
}

const EVENT_NAMES = new Map<number, string>([
  [-1, 'None'],
  [1, 'NodeCreated'],
  [2, 'NodeDeleted'],
  [3, 'NodeDataChanged'],
  [4, 'NodeChildrenChanged'],
  [5, 'DataWatchRemoved'],
  [6, 'ChildWatchRemoved'],
  [7, 'PersistentWatchRemoved'],
]);
const STATE_NAMES = new Map<number, string>([
  [0, 'Disconnected'],
  [3, 'SyncConnected'],
  [4, 'AuthFailed'],
  [5, 'ConnectedReadOnly'],
  [6, 'SaslAuthenticated'],
  [-112, 'Expired'],
  [7, 'Closed'],
]);

export const CreateMode = {
  PERSISTENT: 0,
  EPHEMERAL: 1,
  PERSISTENT_SEQUENTIAL: 2,
  EPHEMERAL_SEQUENTIAL: 3,
  CONTAINER: 4,
  PERSISTENT_WITH_TTL: 5,
  PERSISTENT_SEQUENTIAL_WITH_TTL: 6,
} as const;

export const Perms = { READ: 1, WRITE: 2, CREATE: 4, DELETE: 8, ADMIN: 16, ALL: 31 } as const;

export interface Acl {
  perms: number;
  scheme: string;
  id: string;
}
export const OPEN_ACL_UNSAFE: Acl[] = [{ perms: Perms.ALL, scheme: 'world', id: 'anyone' }];
export const READ_ACL_UNSAFE: Acl[] = [{ perms: Perms.READ, scheme: 'world', id: 'anyone' }];
export const CREATOR_ALL_ACL: Acl[] = [{ perms: Perms.ALL, scheme: 'auth', id: '' }];

export interface Stat {
  czxid: bigint;
  mzxid: bigint;
  ctime: bigint;
  mtime: bigint;
  version: number;
  cversion: number;
  aversion: number;
  ephemeralOwner: bigint;
  dataLength: number;
  numChildren: number;
  pzxid: bigint;
}

/** One frame (or socket fact) in arrival order on this session's connection. */
export type WireEntry =
  | { kind: 'connected'; timeOut: number; sessionId: bigint; readOnly: boolean }
  | { kind: 'event'; type: string; state: string; path: string; zxid: bigint }
  | { kind: 'reply'; op: string; zxid: bigint; err: string; mine: boolean }
  | { kind: 'auth'; err: string }
  | { kind: 'closed' };

/** What a transcript shows for a wire entry that was not our own reply. */
export function describeWire(entry: WireEntry): Record<string, unknown> {
  switch (entry.kind) {
    case 'connected':
      return { connected: { timeOut: entry.timeOut, sessionId: entry.sessionId } };
    case 'event':
      return { event: entry.type, path: entry.path, state: entry.state, zxid: entry.zxid };
    case 'reply':
      return { reply: entry.op, err: entry.err, zxid: entry.zxid };
    case 'auth':
      return { auth: entry.err };
    case 'closed':
      return { socketClosed: true };
  }
}

/**
 * The result of one request, ready to go into a transcript. `err` is the
 * server's code name ("OK", "NONODE", …); `local` marks errors the client made
 * up without a reply (connection loss). `events` lists what arrived on the
 * wire before this reply and after the previous one we reported.
 */
export interface Reply {
  err: string;
  zxid?: bigint;
  local?: true;
  events?: Record<string, unknown>[];
  [field: string]: unknown;
}

export interface MultiOp {
  op: 'create' | 'delete' | 'setData' | 'check';
  path: string;
  data?: string | Buffer;
  acl?: Acl[];
  mode?: number;
  version?: number;
}

export interface ConnectOptions {
  /** Requested session timeout; the server negotiates it into [2, 20] × tickTime. */
  sessionTimeoutMs?: number;
  /** Deadline for the first connection. */
  connectTimeoutMs?: number;
  /** Per-request deadline: a missing reply fails the step instead of hanging. */
  requestTimeoutMs?: number;
  /** Reconnect to an existing session. */
  sessionId?: Buffer;
  sessionPassword?: Buffer;
  /** Wait for SyncConnected (default) — false to inspect a refused/expired handshake. */
  waitConnected?: boolean;
}

// ConnectionManager states (lib/ConnectionManager.js)
const CM_STATE = { DISCONNECTED: 0, CONNECTING: 1, CONNECTED: 2, CLOSING: -1, CLOSED: -2, SESSION_EXPIRED: -3, AUTH_FAILED: -4 };

interface TapMarker {
  op: number;
  onReply: (frame: Buffer, zxid: bigint, err: number, wireIndex: number) => void;
}

/** native-free-io's reader, with the shapes transcripts show: bigint Stat fields, flat ACLs, '<null>'. */
class FrameReader extends JuteReader {
  stat(): Stat {
    return {
      czxid: this.long(),
      mzxid: this.long(),
      ctime: this.long(),
      mtime: this.long(),
      version: this.int(),
      cversion: this.int(),
      aversion: this.int(),
      ephemeralOwner: this.long(),
      dataLength: this.int(),
      numChildren: this.int(),
      pzxid: this.long(),
    };
  }
  strings(): string[] | null {
    const count = this.int();
    if (count < 0) return null;
    const out: string[] = [];
    for (let i = 0; i < count; i++) out.push(this.string() ?? '<null>');
    return out;
  }
  acls(): Acl[] | null {
    const count = this.int();
    if (count < 0) return null;
    const out: Acl[] = [];
    for (let i = 0; i < count; i++) {
      const perms = this.int();
      const scheme = this.string() ?? '<null>';
      const id = this.string() ?? '<null>';
      out.push({ perms, scheme, id });
    }
    return out;
  }
}

/** Data as a transcript shows it: text when it is printable UTF-8, else hex. */
export function showData(data: Buffer | null): string | null {
  if (data === null) return null;
  const text = data.toString('utf8');
  if (Buffer.from(text, 'utf8').equals(data) && /^[\x20-\x7e]*$/.test(text)) return text;
  return `hex:${data.toString('hex')}`;
}

function toBuffer(data: string | Buffer | null | undefined): Buffer | undefined {
  if (data === null || data === undefined) return undefined;
  return Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8');
}

function aclRecords(acl: Acl[]): unknown[] {
  return acl.map((a) => new jute.data.ACL(a.perms, new jute.data.Id(a.scheme, a.id)));
}

function record(className: string, fields: Record<string, unknown>): any {
  const r = new jute.protocol[className]();
  Object.assign(r, fields);
  return r;
}

export class ZkSession {
  readonly name: string;
  readonly wire: WireEntry[] = [];
  readonly requestTimeoutMs: number;
  private readonly client: any;
  private readonly cm: any;
  private cursor = 0;
  private tapSocket: unknown = null;
  private tapBuffer: Buffer = Buffer.alloc(0);
  private expectConnectResponse = false;

  private constructor(name: string, host: string, options: ConnectOptions) {
    this.name = name;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.client = zookeeper.createClient(host, {
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      spinDelay: 100,
      retries: 0,
      sessionId: options.sessionId,
      sessionPassword: options.sessionPassword,
    });
    this.cm = this.client.connectionManager;
    this.installTap();
  }

  /** Connect a new session (or re-attach to `options.sessionId`) to 127.0.0.1:port. */
  static async connect(name: string, port: number, options: ConnectOptions = {}): Promise<ZkSession> {
    const session = new ZkSession(name, `127.0.0.1:${port}`, options);
    session.client.connect();
    if (options.waitConnected === false) return session;
    try {
      await waitFor(
        () => {
          const state = session.cm.state;
          if (state === CM_STATE.CONNECTED) return true;
          if (state === CM_STATE.SESSION_EXPIRED || state === CM_STATE.AUTH_FAILED) {
            throw new Error(`session ${name} ended while connecting (state ${state})`);
          }
          return false;
        },
        { timeoutMs: options.connectTimeoutMs ?? 5_000, what: `session ${name} to connect to 127.0.0.1:${port}`, intervalMs: 5 },
      );
    } catch (error) {
      session.abandon();
      throw error;
    }
    return session;
  }

  get sessionId(): bigint {
    return this.cm.getSessionId().readBigInt64BE(0);
  }
  get sessionIdBuffer(): Buffer {
    return this.cm.getSessionId();
  }
  get sessionPassword(): Buffer {
    return this.cm.getSessionPassword();
  }
  get negotiatedTimeoutMs(): number {
    return this.cm.getSessionTimeout();
  }
  get isConnected(): boolean {
    return this.cm.state === CM_STATE.CONNECTED;
  }
  get isExpired(): boolean {
    return this.cm.state === CM_STATE.SESSION_EXPIRED || this.wire.some((e) => e.kind === 'connected' && e.timeOut <= 0);
  }

  // ---- the tap ---------------------------------------------------------------

  private installTap(): void {
    const cm = this.cm;
    const original = Object.getPrototypeOf(cm).onSocketData as (this: any, b: Buffer) => void;
    const originalClosed = Object.getPrototypeOf(cm).onSocketClosed as (this: any, hadError: boolean) => void;
    // ConnectionManager binds `this.onSocketData` when it opens each socket, so
    // an own property replaces it for every connection.
    cm.onSocketData = (chunk: Buffer) => {
      if (cm.socket !== this.tapSocket) {
        this.tapSocket = cm.socket;
        this.tapBuffer = Buffer.alloc(0);
        this.expectConnectResponse = true;
      }
      this.tapBuffer = this.tapBuffer.length === 0 ? chunk : Buffer.concat([this.tapBuffer, chunk]);
      while (this.tapBuffer.length >= 4) {
        const size = this.tapBuffer.readInt32BE(0);
        if (this.tapBuffer.length < size + 4) break;
        const frame = this.tapBuffer.subarray(0, size + 4);
        this.tapBuffer = this.tapBuffer.subarray(size + 4);
        this.onFrame(frame, original);
      }
    };
    cm.onSocketClosed = (hadError: boolean) => {
      this.wire.push({ kind: 'closed' });
      originalClosed.call(cm, hadError);
    };
  }

  private onFrame(frame: Buffer, original: (this: any, b: Buffer) => void): void {
    const cm = this.cm;
    if (this.expectConnectResponse) {
      this.expectConnectResponse = false;
      const r = new FrameReader(frame, 4);
      r.int(); // protocolVersion
      const timeOut = r.int();
      const sessionId = r.long();
      r.buffer(); // passwd
      const readOnly = r.offset < frame.length ? r.bool() : false;
      this.wire.push({ kind: 'connected', timeOut, sessionId, readOnly });
      original.call(cm, Buffer.from(frame));
      return;
    }
    const xid = frame.readInt32BE(4);
    const zxid = frame.readBigInt64BE(8);
    const err = frame.readInt32BE(16);
    if (xid === -1) {
      const r = new FrameReader(frame, 20);
      const type = r.int();
      const state = r.int();
      const path = r.string() ?? '<null>';
      this.wire.push({
        kind: 'event',
        type: EVENT_NAMES.get(type) ?? `Event(${type})`,
        state: STATE_NAMES.get(state) ?? `State(${state})`,
        path,
        zxid,
      });
      try {
        original.call(cm, Buffer.from(frame)); // lets the library clear its one-shot watch bookkeeping
      } catch {
        // the library throws on event types it does not know; the tap has logged it
      }
      return;
    }
    if (xid === -2) {
      original.call(cm, Buffer.from(frame));
      return;
    }
    if (xid === -4) {
      this.wire.push({ kind: 'auth', err: errorName(err) });
      original.call(cm, Buffer.from(frame));
      return;
    }
    const packet = cm.pendingQueue[0];
    const marker: TapMarker | undefined = packet?.request?.zooidTap;
    const opCode: number = packet?.request?.header?.type ?? NaN;
    this.wire.push({ kind: 'reply', op: OP_NAMES.get(opCode) ?? `op(${opCode})`, zxid, err: errorName(err), mine: marker !== undefined });
    if (marker === undefined) {
      if (!LIBRARY_KNOWN_ERRORS.has(err)) {
        // The library would throw on a code it does not know: answer it ourselves.
        cm.pendingQueue.shift();
        cm.zxid = Buffer.from(frame.subarray(8, 16));
        return;
      }
      original.call(cm, Buffer.from(frame));
      return;
    }
    cm.pendingQueue.shift();
    cm.zxid = Buffer.from(frame.subarray(8, 16)); // what the library does: last zxid seen, sent on reconnect
    marker.onReply(Buffer.from(frame), zxid, err, this.wire.length - 1);
  }

  /**
   * Wire entries from the cursor up to (not including) `endIndex`, as
   * transcript objects (our own replies left out); the cursor moves to
   * `endIndex`, or past it with `skipEnd` (the reply being reported).
   */
  private take(endIndex: number, skipEnd = false): Record<string, unknown>[] {
    const out = this.wire.slice(this.cursor, endIndex).filter((e) => !(e.kind === 'reply' && e.mine)).map(describeWire);
    this.cursor = Math.max(this.cursor, skipEnd ? endIndex + 1 : endIndex);
    return out;
  }

  // ---- requests ----------------------------------------------------------------

  private send(op: number, payload: unknown, decode: (r: FrameReader) => Record<string, unknown>, what: string): Promise<Reply> {
    const header = new jute.protocol.RequestHeader();
    header.type = op;
    const request = new jute.Request(header, payload);
    const promise = new Promise<Reply>((resolve) => {
      const marker: TapMarker = {
        op,
        onReply: (frame, zxid, err, wireIndex) => {
          const events = this.take(wireIndex, true);
          const reply: Reply = { err: errorName(err), zxid };
          if (err === 0) {
            try {
              Object.assign(reply, decode(new FrameReader(frame, 20)));
            } catch (error) {
              reply.decodeError = (error as Error).message;
            }
          }
          if (events.length > 0) reply.events = events;
          resolve(reply);
        },
      };
      request.zooidTap = marker;
      // The library calls back with an error only when no reply will come
      // (connection lost, session expired, closed): a client-side error.
      this.cm.queue(request, (error: any) => {
        if (error) {
          const events = this.take(this.wire.length);
          const reply: Reply = { err: errorName(typeof error.code === 'number' ? error.code : -1), local: true };
          if (events.length > 0) reply.events = events;
          resolve(reply);
        }
      });
    });
    return withDeadline(promise, this.requestTimeoutMs, `reply to ${this.name} ${what}`);
  }

  create(path: string, data?: string | Buffer | null, options: { acl?: Acl[]; mode?: number } = {}): Promise<Reply> {
    const payload = record('CreateRequest', {
      path,
      data: toBuffer(data),
      acl: aclRecords(options.acl ?? OPEN_ACL_UNSAFE),
      flags: options.mode ?? CreateMode.PERSISTENT,
    });
    return this.send(OP.create, payload, (r) => ({ path: r.string() }), `create ${path}`);
  }

  /** create2 (opcode 15): the reply carries the new node's Stat. */
  create2(path: string, data?: string | Buffer | null, options: { acl?: Acl[]; mode?: number; op?: number } = {}): Promise<Reply> {
    const payload = record('CreateRequest', {
      path,
      data: toBuffer(data),
      acl: aclRecords(options.acl ?? OPEN_ACL_UNSAFE),
      flags: options.mode ?? CreateMode.PERSISTENT,
    });
    return this.send(options.op ?? OP.create2, payload, (r) => ({ path: r.string(), stat: r.stat() }), `create2 ${path}`);
  }

  delete(path: string, version = -1): Promise<Reply> {
    return this.send(OP.delete, record('DeleteRequest', { path, version }), () => ({}), `delete ${path}`);
  }

  /** exists; with watch, registers like the library does (data watch if present, existence watch if absent). */
  async exists(path: string, watch = false): Promise<Reply> {
    const reply = await this.send(OP.exists, record('ExistsRequest', { path, watch }), (r) => ({ stat: r.stat() }), `exists ${path}`);
    if (watch && reply.err === 'OK') this.cm.registerDataWatcher(path, noop);
    if (watch && reply.err === 'NONODE') this.cm.registerExistenceWatcher(path, noop);
    return reply;
  }

  async getData(path: string, watch = false): Promise<Reply> {
    const reply = await this.send(
      OP.getData,
      record('GetDataRequest', { path, watch }),
      (r) => ({ data: showData(r.buffer()), stat: r.stat() }),
      `getData ${path}`,
    );
    if (watch && reply.err === 'OK') this.cm.registerDataWatcher(path, noop);
    return reply;
  }

  setData(path: string, data: string | Buffer | null, version = -1): Promise<Reply> {
    return this.send(
      OP.setData,
      record('SetDataRequest', { path, data: toBuffer(data), version }),
      (r) => ({ stat: r.stat() }),
      `setData ${path}`,
    );
  }

  /** reconfig (opcode 16): ReconfigRequest {joiningServers, leavingServers, newMembers, curConfigId}; the reply is the new config's data and Stat. */
  reconfig(joining: string | null, leaving: string | null, newMembers: string | null, fromConfig = -1n): Promise<Reply> {
    const parts: Buffer[] = [];
    for (const s of [joining, leaving, newMembers]) {
      const len = Buffer.alloc(4);
      if (s === null) len.writeInt32BE(-1);
      else len.writeInt32BE(Buffer.byteLength(s));
      parts.push(len);
      if (s !== null) parts.push(Buffer.from(s, 'utf8'));
    }
    const version = Buffer.alloc(8);
    version.writeBigInt64BE(fromConfig);
    const bytes = Buffer.concat([...parts, version]);
    const payload = { byteLength: () => bytes.length, serialize: (buf: Buffer, at: number) => bytes.copy(buf, at) };
    return this.send(16, payload, (r) => ({ data: showData(r.buffer()), stat: r.stat() }), 'reconfig');
  }

  getACL(path: string): Promise<Reply> {
    return this.send(OP.getACL, record('GetACLRequest', { path }), (r) => ({ acl: r.acls(), stat: r.stat() }), `getACL ${path}`);
  }

  setACL(path: string, acl: Acl[], version = -1): Promise<Reply> {
    return this.send(
      OP.setACL,
      record('SetACLRequest', { path, acl: aclRecords(acl), version }),
      (r) => ({ stat: r.stat() }),
      `setACL ${path}`,
    );
  }

  /** getChildren (opcode 8, no Stat). Children sorted: ZooKeeper does not order them. */
  async getChildren(path: string, watch = false): Promise<Reply> {
    const reply = await this.send(
      OP.getChildren,
      record('GetChildren2Request', { path, watch }),
      (r) => ({ children: sorted(r.strings()) }),
      `getChildren ${path}`,
    );
    if (watch && reply.err === 'OK') this.cm.registerChildWatcher(path, noop);
    return reply;
  }

  /** getChildren2 (opcode 12): children (sorted) and the parent's Stat. */
  async getChildren2(path: string, watch = false): Promise<Reply> {
    const reply = await this.send(
      OP.getChildren2,
      record('GetChildren2Request', { path, watch }),
      (r) => ({ children: sorted(r.strings()), stat: r.stat() }),
      `getChildren2 ${path}`,
    );
    if (watch && reply.err === 'OK') this.cm.registerChildWatcher(path, noop);
    return reply;
  }

  sync(path: string): Promise<Reply> {
    return this.send(OP.sync, record('GetACLRequest', { path }), (r) => ({ path: r.string() }), `sync ${path}`);
  }

  /** multi (opcode 14) with exactly the versions given; per-op results as ZooKeeper reports them. */
  multi(ops: MultiOp[]): Promise<Reply> {
    const libOps = ops.map((o) => {
      switch (o.op) {
        case 'create':
          return {
            type: OP.create,
            path: o.path,
            data: toBuffer(o.data),
            acls: (o.acl ?? OPEN_ACL_UNSAFE).map((a) => ({ toRecord: () => new jute.data.ACL(a.perms, new jute.data.Id(a.scheme, a.id)) })),
            mode: o.mode ?? CreateMode.PERSISTENT,
          };
        case 'delete':
          return { type: OP.delete, path: o.path, version: o.version ?? -1 };
        case 'setData':
          return { type: OP.setData, path: o.path, data: toBuffer(o.data), version: o.version ?? -1 };
        case 'check':
          return { type: OP.check, path: o.path, version: o.version ?? -1 };
      }
    });
    const payload = new jute.TransactionRequest(libOps);
    return this.send(OP.multi, payload, (r) => ({ results: readMultiResults(r) }), `multi of ${ops.length} ops`);
  }

  /** addAuthInfo, then wait for the server's answer to the auth packet. */
  async addAuth(scheme: string, auth: string): Promise<Reply> {
    const seen = this.wire.length;
    this.client.addAuthInfo(scheme, Buffer.from(auth, 'utf8'));
    const index = await waitFor(
      () => {
        for (let i = seen; i < this.wire.length; i++) if (this.wire[i].kind === 'auth' || this.wire[i].kind === 'closed') return i + 1;
        return 0;
      },
      { timeoutMs: this.requestTimeoutMs, what: `${this.name}: answer to auth ${scheme}`, intervalMs: 5 },
    );
    const entry = this.wire[index - 1];
    const events = this.take(index - 1, true);
    const reply: Reply = entry.kind === 'auth' ? { err: entry.err } : { err: 'CONNECTIONLOSS', local: true };
    if (events.length > 0) reply.events = events;
    return reply;
  }

  /**
   * Wait (with a deadline) for the first wire entry after the cursor that
   * matches, and report everything up to and including it. What arrives after
   * it is reported with the next reply, so the transcript stays deterministic.
   */
  async observe(match: (entry: WireEntry) => boolean, what: string, timeoutMs = 20_000): Promise<Reply> {
    const index = await waitFor(
      () => {
        for (let i = this.cursor; i < this.wire.length; i++) if (match(this.wire[i])) return i + 1;
        return 0;
      },
      { timeoutMs, what: `${this.name}: ${what}`, intervalMs: 10 },
    );
    return { err: 'OK', seen: this.take(index) };
  }

  /**
   * Like observe, for several entries whose relative order is not specified
   * (e.g. the deletes of one session's ephemerals): waits until every matcher
   * has matched a distinct entry, reports everything up to the last of them.
   */
  async observeAll(matchers: ((entry: WireEntry) => boolean)[], what: string, timeoutMs = 20_000): Promise<Reply> {
    const index = await waitFor(
      () => {
        const used = new Set<number>();
        let last = -1;
        for (const match of matchers) {
          let found = -1;
          for (let i = this.cursor; i < this.wire.length; i++) {
            if (!used.has(i) && match(this.wire[i])) {
              found = i;
              break;
            }
          }
          if (found < 0) return 0;
          used.add(found);
          last = Math.max(last, found);
        }
        return last + 1;
      },
      { timeoutMs, what: `${this.name}: ${what}`, intervalMs: 10 },
    );
    return { err: 'OK', seen: this.take(index) };
  }

  /** Close the session (closeSession) and wait until the library has closed the socket. */
  async close(): Promise<Reply> {
    const seen = this.wire.length;
    this.client.close();
    await waitFor(() => this.cm.state === CM_STATE.CLOSED, {
      timeoutMs: this.requestTimeoutMs,
      what: `${this.name}: closeSession to complete`,
      intervalMs: 5,
    });
    let index = -1;
    for (let i = seen; i < this.wire.length; i++) {
      const e = this.wire[i];
      if (e.kind === 'reply' && e.op === 'closeSession') index = i;
    }
    if (index < 0) return { err: 'CONNECTIONLOSS', local: true, events: this.take(this.wire.length) };
    const entry = this.wire[index] as Extract<WireEntry, { kind: 'reply' }>;
    const events = this.take(index, true);
    this.cursor = this.wire.length;
    const reply: Reply = { err: entry.err, zxid: entry.zxid };
    if (events.length > 0) reply.events = events;
    return reply;
  }

  /** Stop reconnecting and drop the socket: the server will expire the session. */
  abandon(): void {
    this.cm.connect = () => undefined;
    this.cm.onPacketQueueReadable = () => undefined;
    if (this.cm.connectTimeoutHandler) clearTimeout(this.cm.connectTimeoutHandler);
    this.cm.socket?.destroy();
  }

  /** Close if still open; never throws (cleanup after a scenario). */
  async dispose(): Promise<void> {
    try {
      if (this.cm.state === CM_STATE.CONNECTED) await this.close();
    } catch {
      // fall through to abandon
    }
    this.abandon();
  }
}

function noop(): void {}

function sorted(list: string[] | null): string[] | null {
  return list === null ? null : [...list].sort();
}

function readMultiResults(r: FrameReader): Record<string, unknown>[] {
  const results: Record<string, unknown>[] = [];
  for (let i = 0; i < 10_000; i++) {
    const type = r.int();
    const done = r.bool();
    const err = r.int();
    if (done) return results;
    const op = OP_NAMES.get(type) ?? `op(${type})`;
    switch (type) {
      case OP.create:
        results.push({ op, path: r.string() });
        break;
      case OP.create2:
        results.push({ op, path: r.string(), stat: r.stat() });
        break;
      case OP.setData:
        results.push({ op, stat: r.stat() });
        break;
      case OP.delete:
      case OP.check:
        results.push({ op });
        break;
      case OP.error:
        results.push({ op, err: errorName(r.int()), headerErr: errorName(err) });
        break;
      default:
        results.push({ op, unparsed: true });
        return results;
    }
  }
  throw new Error('multi response without a done header');
}
