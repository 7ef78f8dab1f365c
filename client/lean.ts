// A lean ZooKeeper client on native-free-io's codec: enough of the protocol to drive any
// ZooKeeper-compatible server hard (pipelined requests, no per-request timers) and to
// poke at it with raw bytes in tests. Replies are matched to requests in FIFO order, as
// ZooKeeper guarantees per session. The repo's own client: loadgen drives load with
// it, `zooid shell` wraps it (shell/client.ts), the tests and benchmarks talk through it.
import net from 'node:net';
import { JuteReader, JuteWriter } from '../native-free-io/jute.ts';
import { type Acl, type Stat, Op, Err, Xid, OPEN_ACL_UNSAFE, writeAcls } from '../engine/protocol.ts';

export class ZkError extends Error {
  code: number;
  constructor(code: number, op: string) {
    super(`${op} failed with error ${code}`);
    this.code = code;
  }
}

export interface Reply {
  zxid: number;
  err: number;
  /** The reply body (valid until the next reply is handled): read it in the callback. */
  body: JuteReader;
}

export interface WatchEvent {
  type: number;
  state: number;
  path: string;
}

type Callback = (reply: Reply) => void;

/**
 * The load generator's reply hook: a numeric tag instead of a closure per request. `body`
 * is valid only during the call.
 */
export type TaggedReplyHandler = (tag: number, err: number, zxid: number, body: JuteReader) => void;

/** Requests a client holds before its pending queue doubles (it grows, never shrinks). */
const PENDING_SLOTS_INITIAL = 64;

export interface ConnectOptions {
  host: string;
  port: number;
  sessionTimeoutMs?: number;
  sessionId?: bigint;
  passwd?: Buffer;
  lastZxidSeen?: number;
  connectTimeoutMs?: number;
}

export function readStat(r: JuteReader): Stat {
  return {
    czxid: r.longNumber(), mzxid: r.longNumber(), ctime: r.longNumber(), mtime: r.longNumber(),
    version: r.int(), cversion: r.int(), aversion: r.int(), ephemeralOwner: r.long(),
    dataLength: r.int(), numChildren: r.int(), pzxid: r.longNumber(),
  };
}

export class LeanClient {
  readonly socket: net.Socket;
  sessionId = 0n;
  passwd: Buffer = Buffer.alloc(16);
  timeoutMs = 0;
  lastZxid = 0;
  private readonly w = new JuteWriter(64 * 1024);
  private readonly r = new JuteReader(Buffer.alloc(0));
  /** Callbacks or tags of requests sent and not answered, in send order (a ring that grows). */
  private pending: (Callback | number | undefined)[] = new Array(PENDING_SLOTS_INITIAL);
  private pendingHead = 0;
  private pendingCount = 0;
  /** Frames queued with beginRequest/endRequest, written by flush(). */
  private readonly outbox = new JuteWriter(64 * 1024);
  private outboxFrameAt = -1;
  private inbuf: Buffer | null = null;
  private nextXid = 1;
  private connected = false;
  private closedErr: Error | null = null;
  onWatch: ((e: WatchEvent) => void) | null = null;
  onClose: ((err: Error) => void) | null = null;
  /** Receives the replies of requests queued with endRequest(tag). */
  onTagged: TaggedReplyHandler | null = null;

  private constructor(socket: net.Socket) {
    this.socket = socket;
  }

  /** Connects and completes the session handshake. Rejects on an expired/refused session. */
  static connect(opts: ConnectOptions): Promise<LeanClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: opts.host, port: opts.port, noDelay: true });
      const c = new LeanClient(socket);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${opts.host}:${opts.port} timed out`));
      }, opts.connectTimeoutMs ?? 10_000);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('connect', () => {
        const w = c.w.reset();
        const at = w.beginFrame();
        w.int(0).longNumber(opts.lastZxidSeen ?? 0).int(opts.sessionTimeoutMs ?? 30_000).long(opts.sessionId ?? 0n).buffer(opts.passwd ?? Buffer.alloc(16)).bool(false);
        w.endFrame(at);
        socket.write(w.copy());
      });
      socket.on('data', (chunk: Buffer) => c.onData(chunk, (err) => {
        clearTimeout(timer);
        if (err === null) resolve(c);
        else reject(err);
      }));
      socket.on('close', () => {
        clearTimeout(timer);
        c.fail(new Error('connection closed'));
        if (!c.connected) reject(new Error('connection closed during handshake'));
      });
    });
  }

  get isClosed(): boolean {
    return this.closedErr !== null;
  }

  private fail(err: Error): void {
    if (this.closedErr !== null) return;
    this.closedErr = err;
    const body = new JuteReader(Buffer.alloc(0));
    const reply: Reply = { zxid: -1, err: Err.CONNECTIONLOSS, body };
    this.outbox.reset();
    this.outboxFrameAt = -1;
    for (let entry = this.shiftPending(); entry !== undefined; entry = this.shiftPending()) {
      if (typeof entry === 'number') this.onTagged?.(entry, Err.CONNECTIONLOSS, -1, body);
      else entry(reply);
    }
    this.onClose?.(err);
  }

  private onData(chunk: Buffer, handshakeDone: (err: Error | null) => void): void {
    let b = this.inbuf === null ? chunk : Buffer.concat([this.inbuf, chunk]);
    let off = 0;
    while (b.length - off >= 4) {
      const len = b.readInt32BE(off);
      if (b.length - off - 4 < len) break;
      this.onFrame(b, off + 4, off + 4 + len, handshakeDone);
      off += 4 + len;
    }
    this.inbuf = off === b.length ? null : Buffer.from(b.subarray(off));
    b = Buffer.alloc(0);
    // requests queued by reply handlers go out in one write per chunk received
    if (this.outbox.offset > 0) this.flush();
  }

  private onFrame(b: Buffer, start: number, end: number, handshakeDone: (err: Error | null) => void): void {
    const r = this.r;
    r.reset(b, start, end);
    if (!this.connected) {
      r.int();
      this.timeoutMs = r.int();
      this.sessionId = r.long();
      this.passwd = Buffer.from(r.buffer() ?? Buffer.alloc(0));
      if (this.timeoutMs <= 0) {
        handshakeDone(new ZkError(Err.SESSIONEXPIRED, 'connect'));
        this.socket.destroy();
        return;
      }
      this.connected = true;
      handshakeDone(null);
      return;
    }
    const xid = r.int();
    const zxid = r.longNumber();
    const err = r.int();
    if (xid === Xid.notification) {
      const type = r.int();
      const state = r.int();
      const path = r.ustring();
      this.onWatch?.({ type, state, path });
      return;
    }
    if (zxid > 0) this.lastZxid = zxid;
    if (xid === Xid.ping || xid === Xid.auth || xid === Xid.setWatches) {
      // answered in FIFO order like any other request we sent
    }
    const entry = this.shiftPending();
    if (entry === undefined) return;
    if (typeof entry === 'number') this.onTagged?.(entry, err, zxid, r);
    else entry({ zxid, err, body: r });
  }

  private pushPending(entry: Callback | number): void {
    const slots = this.pending.length;
    if (this.pendingCount === slots) {
      // full: unroll into a ring twice the size
      const next: (Callback | number | undefined)[] = new Array(slots * 2);
      for (let i = 0; i < this.pendingCount; i++) next[i] = this.pending[(this.pendingHead + i) % slots];
      this.pending = next;
      this.pendingHead = 0;
    }
    this.pending[(this.pendingHead + this.pendingCount) % this.pending.length] = entry;
    this.pendingCount++;
  }

  private shiftPending(): Callback | number | undefined {
    if (this.pendingCount === 0) return undefined;
    const entry = this.pending[this.pendingHead];
    this.pending[this.pendingHead] = undefined;
    this.pendingHead = (this.pendingHead + 1) % this.pending.length;
    this.pendingCount--;
    return entry;
  }

  /** Sends one request: `body` writes the record after the RequestHeader. */
  send(type: number, body: (w: JuteWriter) => void, cb: Callback, xid = this.nextXid++): void {
    if (this.closedErr !== null) {
      cb({ zxid: -1, err: Err.CONNECTIONLOSS, body: new JuteReader(Buffer.alloc(0)) });
      return;
    }
    const w = this.w.reset();
    const at = w.beginFrame();
    w.int(xid).int(type);
    body(w);
    w.endFrame(at);
    this.pushPending(cb);
    this.socket.write(w.copy());
  }

  /**
   * Starts a request in the outbox and returns the writer for its record (write it before
   * the next call on this client); endRequest(tag) closes it. Nothing is sent until
   * flush(), or until the end of the reply chunk being handled. No closure per request.
   */
  beginRequest(type: number, xid = this.nextXid++): JuteWriter {
    if (this.outboxFrameAt !== -1) throw new Error('beginRequest: the previous request was not ended');
    const w = this.outbox;
    this.outboxFrameAt = w.beginFrame();
    w.int(xid).int(type);
    return w;
  }

  /**
   * Ends the request begun last; its reply goes to onTagged with `tag`. Returns false (and
   * drops the request) when the connection is closed: no reply will come.
   */
  endRequest(tag: number): boolean {
    const at = this.outboxFrameAt;
    if (at === -1) throw new Error('endRequest without beginRequest');
    this.outboxFrameAt = -1;
    if (this.closedErr !== null) {
      this.outbox.offset = at;
      return false;
    }
    this.outbox.endFrame(at);
    this.pushPending(tag);
    return true;
  }

  /** Writes the queued requests in one socket write. */
  flush(): void {
    if (this.outboxFrameAt !== -1) throw new Error('flush inside a request');
    const w = this.outbox;
    if (w.offset === 0) return;
    if (this.closedErr === null) this.socket.write(w.copy());
    w.reset();
  }

  /** Raw bytes on the socket, for bad-input tests. */
  writeRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  outstanding(): number {
    return this.pendingCount;
  }

  call<T>(type: number, body: (w: JuteWriter) => void, parse: (r: JuteReader) => T, opName: string, xid?: number): Promise<T> {
    return new Promise((resolve, reject) => {
      this.send(type, body, (reply) => {
        if (reply.err !== Err.OK) reject(new ZkError(reply.err, opName));
        else resolve(parse(reply.body));
      }, xid);
    });
  }

  create(path: string, data: Uint8Array = Buffer.alloc(0), flags = 0, acls: readonly Acl[] = OPEN_ACL_UNSAFE): Promise<string> {
    return this.call(Op.create, (w) => {
      w.string(path).buffer(data);
      writeAcls(w, acls);
      w.int(flags);
    }, (r) => r.ustring(), 'create');
  }

  delete(path: string, version = -1): Promise<void> {
    return this.call(Op.delete, (w) => w.string(path).int(version), () => undefined, 'delete');
  }

  setData(path: string, data: Uint8Array, version = -1): Promise<Stat> {
    return this.call(Op.setData, (w) => w.string(path).buffer(data).int(version), readStat, 'setData');
  }

  getData(path: string, watch = false): Promise<{ data: Buffer; stat: Stat }> {
    return this.call(Op.getData, (w) => w.string(path).bool(watch), (r) => ({ data: Buffer.from(r.buffer() ?? Buffer.alloc(0)), stat: readStat(r) }), 'getData');
  }

  exists(path: string, watch = false): Promise<Stat | null> {
    return new Promise((resolve, reject) => {
      this.send(Op.exists, (w) => w.string(path).bool(watch), (reply) => {
        if (reply.err === Err.NONODE) resolve(null);
        else if (reply.err !== Err.OK) reject(new ZkError(reply.err, 'exists'));
        else resolve(readStat(reply.body));
      });
    });
  }

  getChildren(path: string, watch = false): Promise<string[]> {
    return this.call(Op.getChildren, (w) => w.string(path).bool(watch), (r) => {
      const n = r.int();
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push(r.ustring());
      return out;
    }, 'getChildren');
  }

  ping(): Promise<void> {
    return this.call(Op.ping, () => {}, () => undefined, 'ping', Xid.ping);
  }

  /** closeSession, then the socket. */
  async close(): Promise<void> {
    if (this.closedErr === null) {
      await this.call(Op.closeSession, () => {}, () => undefined, 'closeSession').catch(() => {});
    }
    this.socket.destroy();
  }

  /** Drops the TCP connection without closing the session. */
  disconnect(): void {
    this.socket.destroy();
  }
}
