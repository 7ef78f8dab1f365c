// The shell's ZooKeeper client: the calls zkCli makes, as promises over client/'s LeanClient
// (which keeps the wire protocol: handshake, FIFO replies, watch events). Adds what an
// interactive session needs and a load generator does not: pings while idle, auth packets,
// and the opcodes of the newer API (addWatch, removeWatches, whoAmI, getEphemerals…).
import { LeanClient, readStat, ZkError, type WatchEvent } from '../client/lean.ts';
import { errorMessage } from '../client/errors.ts';
import type { JuteReader, JuteWriter } from '../native-free-io/jute.ts';
import { type Acl, type Stat, Op, Err, Xid, OPEN_ACL_UNSAFE, readAcls, readStrings, writeAcls } from '../engine/protocol.ts';

/** ZooKeeper's error from the server (or ConnectionLoss), with the path the call was about. */
export class KeeperError extends Error {
  readonly code: number;
  readonly path: string | null;
  constructor(code: number, path: string | null) {
    super(keeperMessage(code, path));
    this.code = code;
    this.path = path;
  }
}

/** KeeperException.getMessage(): "KeeperErrorCode = NoNode for /a". */
export function keeperMessage(code: number, path: string | null): string {
  const text = errorMessage(code);
  return path === null ? `KeeperErrorCode = ${text}` : `KeeperErrorCode = ${text} for ${path}`;
}

export const AddWatchMode = { PERSISTENT: 0, PERSISTENT_RECURSIVE: 1 } as const;
export const WatcherType = { Children: 1, Data: 2, Any: 3 } as const;

export class ShellClient {
  readonly host: string;
  readonly port: number;
  private readonly c: LeanClient;
  private readonly pingTimer: NodeJS.Timeout;
  private closedByUs = false;
  onWatch: ((e: WatchEvent) => void) | null = null;
  /** The connection went away (not by close()). */
  onLost: (() => void) | null = null;

  private constructor(c: LeanClient, host: string, port: number) {
    this.c = c;
    this.host = host;
    this.port = port;
    c.onWatch = (e) => this.onWatch?.(e);
    c.onClose = () => {
      clearInterval(this.pingTimer);
      if (!this.closedByUs) this.onLost?.();
    };
    // keep the session alive while the operator types: a ping every third of the timeout
    this.pingTimer = setInterval(() => {
      if (!c.isClosed && c.outstanding() === 0) void c.ping().catch(() => {});
    }, Math.max(500, Math.floor(c.timeoutMs / 3)));
    this.pingTimer.unref();
  }

  static async connect(host: string, port: number, sessionTimeoutMs = 30_000): Promise<ShellClient> {
    const c = await LeanClient.connect({ host, port, sessionTimeoutMs, connectTimeoutMs: 10_000 });
    return new ShellClient(c, host, port);
  }

  get sessionId(): bigint {
    return this.c.sessionId;
  }

  get alive(): boolean {
    return !this.c.isClosed;
  }

  async close(): Promise<void> {
    this.closedByUs = true;
    clearInterval(this.pingTimer);
    await this.c.close();
  }

  /** One request; a non-OK reply rejects with KeeperError(code, path). */
  private call<T>(type: number, path: string | null, body: (w: JuteWriter) => void, parse: (r: JuteReader) => T, xid?: number): Promise<T> {
    return this.c.call(type, body, parse, String(type), xid).catch((err: unknown) => {
      if (err instanceof ZkError) throw new KeeperError(err.code, path);
      throw err;
    });
  }

  create(path: string, data: Buffer | null, acls: readonly Acl[], flags: number, ttlMs: number | null): Promise<string> {
    const type = ttlMs !== null ? Op.createTTL : flags === 4 ? Op.createContainer : Op.create;
    return this.call(type, path, (w) => {
      w.string(path).buffer(data);
      writeAcls(w, acls);
      w.int(flags);
      if (ttlMs !== null) w.long(BigInt(ttlMs));
    }, (r) => r.ustring());
  }

  delete(path: string, version: number): Promise<void> {
    return this.call(Op.delete, path, (w) => w.string(path).int(version), () => undefined);
  }

  exists(path: string, watch: boolean): Promise<Stat | null> {
    return this.call(Op.exists, path, (w) => w.string(path).bool(watch), readStat).catch((err: unknown) => {
      if (err instanceof KeeperError && err.code === Err.NONODE) return null;
      throw err;
    });
  }

  getData(path: string, watch: boolean): Promise<{ data: Buffer | null; stat: Stat }> {
    return this.call(Op.getData, path, (w) => w.string(path).bool(watch), (r) => {
      const b = r.buffer();
      return { data: b === null ? null : Buffer.from(b), stat: readStat(r) };
    });
  }

  setData(path: string, data: Buffer, version: number): Promise<Stat> {
    return this.call(Op.setData, path, (w) => w.string(path).buffer(data).int(version), readStat);
  }

  getChildren(path: string, watch: boolean): Promise<{ children: string[]; stat: Stat }> {
    return this.call(Op.getChildren2, path, (w) => w.string(path).bool(watch), (r) => ({ children: readStrings(r), stat: readStat(r) }));
  }

  getACL(path: string): Promise<{ acls: Acl[]; stat: Stat }> {
    return this.call(Op.getACL, path, (w) => w.string(path), (r) => ({ acls: readAcls(r), stat: readStat(r) }));
  }

  setACL(path: string, acls: readonly Acl[], version: number): Promise<Stat> {
    return this.call(Op.setACL, path, (w) => {
      w.string(path);
      writeAcls(w, acls);
      w.int(version);
    }, readStat);
  }

  sync(path: string): Promise<number> {
    return this.call(Op.sync, path, (w) => w.string(path), () => 0).catch((err: unknown) => {
      if (err instanceof KeeperError) return err.code;
      throw err;
    });
  }

  /** An auth packet (xid -4). A refused one makes the server close the connection (AUTHFAILED). */
  addAuth(scheme: string, auth: Buffer | null): Promise<void> {
    return this.call(Op.auth, null, (w) => w.int(0).string(scheme).buffer(auth), () => undefined, Xid.auth);
  }

  addWatch(path: string, mode: number): Promise<void> {
    return this.call(Op.addWatch, path, (w) => w.string(path).int(mode), () => undefined);
  }

  removeWatches(path: string, type: number): Promise<void> {
    return this.call(Op.removeWatches, path, (w) => w.string(path).int(type), () => undefined);
  }

  getEphemerals(prefix: string): Promise<string[]> {
    return this.call(Op.getEphemerals, prefix, (w) => w.string(prefix), readStrings);
  }

  getAllChildrenNumber(path: string): Promise<number> {
    return this.call(Op.getAllChildrenNumber, path, (w) => w.string(path), (r) => r.int());
  }

  whoAmI(): Promise<{ scheme: string; user: string }[]> {
    return this.call(Op.whoAmI, null, () => {}, (r) => {
      const n = r.int();
      const out: { scheme: string; user: string }[] = [];
      for (let i = 0; i < n; i++) out.push({ scheme: r.ustring(), user: r.ustring() });
      return out;
    });
  }

  /** multi of deletes (ZKUtil.deleteRecursive's batches); rejects with the first failing op's error. */
  deleteMulti(paths: readonly string[]): Promise<void> {
    return this.call(Op.multi, paths[0] ?? null, (w) => {
      for (const p of paths) {
        w.int(Op.delete).bool(false).int(-1);
        w.string(p).int(-1);
      }
      w.int(-1).bool(true).int(-1);
    }, (r) => {
      // the header says OK; a failed op shows in the results (type -1 with its error code)
      for (;;) {
        const type = r.int();
        const done = r.bool();
        const err = r.int();
        if (done) return;
        if (type === Op.error) {
          r.int();
          if (err !== Err.OK && err !== Err.RUNTIMEINCONSISTENCY) throw new KeeperError(err, null);
        }
      }
    });
  }
}

export { OPEN_ACL_UNSAFE };
export type { Acl, Stat, WatchEvent };
