// The fuzzer's witnesses (issue 12, fuzzing):
// - the control client checks its own data for the whole run: two sessions that hold the
//   digest id the fuzzers never learn; a register (/control/register) that only they can
//   write, read back after every write with the exact value and version; a data watch on
//   each session that must fire for every write (the writer's own before its setData
//   reply, as ZooKeeper orders them; the other session's within the deadline); an
//   ephemeral that must still belong to the writer's session. Every request has a
//   deadline: one that passes it is a hang.
// - the janitor (the super user) keeps the fuzzers' namespace bounded: it empties /f and
//   removes whatever else they created at the root or under /zookeeper/quota, and gives /
//   back its open ACL, so the server's memory can be judged apart from the data it holds.
// All three sessions ping while idle (keepAlive): the run counts them after the fuzzers'
// sessions expired, and an idle one would expire in the same tick.
import { LeanClient, ZkError, type WatchEvent } from '../../client/lean.ts';
import { Err, EventType, Op, Perm, Xid, OPEN_ACL_UNSAFE, writeAcls, readStrings, type Acl } from '../../engine/protocol.ts';
import { withDeadline } from '../support/wait.ts';
import { CONTROL_ROOT } from './records.ts';

/** The control sessions' digest identity: no fuzzed frame carries it. */
const CONTROL_USER = 'control:c0ntr0l-only';
/** The janitor's: the server is started with this super digest (zookeeper.DigestAuthenticationProvider.superDigest). */
export const SUPER_PASSWORD = 'fuzz-janitor';
export const SUPER_USER = `super:${SUPER_PASSWORD}`;

const REGISTER = `${CONTROL_ROOT}/register`;
const CONTROL_ACL: readonly Acl[] = [{ perms: Perm.ALL, id: { scheme: 'auth', id: '' } }];
/** Reconnects one control round may need before it fails (ZooKeeper closes a session's connection whenever anyone asks for that session with a wrong password). */
const RECOVERIES_PER_ROUND_MAX = 20;
/** Children of / and /zookeeper that are not the fuzzers' to keep. */
const KEPT_AT_ROOT = new Set(['zookeeper', CONTROL_ROOT.slice(1)]);
const KEPT_IN_ZOOKEEPER = new Set(['quota', 'config']);
/** Nodes the server makes, open to all: the fuzzers change their data and ACLs, the janitor puts both back. */
const RESET_NODES = ['/', '/zookeeper', '/zookeeper/quota'];

export interface ControlOptions {
  host: string;
  port: number;
  /** A control request slower than this is a hang. */
  requestDeadlineMs: number;
  sessionTimeoutMs: number;
}

export interface ControlStats {
  rounds: number;
  requests: number;
  watchEvents: number;
  latencyMsMax: number;
  /** The writer's own watch event arrived after its setData reply (ZooKeeper sends it before). */
  ownEventsAfterReply: number;
  /** Connections the server closed under a control session (each reopened with the session). */
  reconnects: number;
  lostConnections: string[];
}

async function addAuth(c: LeanClient, scheme: string, auth: string): Promise<void> {
  await c.call(Op.auth, (w) => w.int(0).string(scheme).buffer(Buffer.from(auth)), () => null, 'auth', Xid.auth);
}

function createWithAcl(c: LeanClient, path: string, data: Buffer, acls: readonly Acl[], flags = 0): Promise<string> {
  return c.call(Op.create, (w) => {
    w.string(path).buffer(data);
    writeAcls(w, acls);
    w.int(flags);
  }, (r) => r.ustring(), 'create');
}

/**
 * Pings the connection every third of its session timeout, as ZooKeeper's own client does
 * when idle: a witness keeps its session while it waits (the janitor while the fuzzers'
 * sessions expire, which takes a session timeout; the control client while memory
 * settles). Without it an idle witness expires with them. Returns the stop.
 */
function keepAlive(c: LeanClient): () => void {
  const timer = setInterval(() => {
    if (!c.isClosed) c.ping().catch(() => undefined); // a lost connection is the next request's to find
  }, Math.max(1, Math.floor(c.timeoutMs / 3)));
  timer.unref();
  return () => clearInterval(timer);
}

/** A control session: its connection (replaced after a loss) and the watch events it got. */
class ControlSession {
  client: LeanClient;
  readonly events: WatchEvent[] = [];
  private wake: (() => void) | null = null;
  private stopPinging: () => void;

  constructor(client: LeanClient) {
    this.client = client;
    this.watch(client);
    this.stopPinging = keepAlive(client);
  }

  private watch(client: LeanClient): void {
    client.onWatch = (e) => {
      this.events.push(e);
      this.wake?.();
    };
    client.onClose = () => this.wake?.();
  }

  /** The same session on a new connection, with its digest id again (auth belongs to a connection). */
  async reopen(o: ControlOptions): Promise<void> {
    const old = this.client;
    this.stopPinging();
    old.disconnect();
    this.client = await LeanClient.connect({ host: o.host, port: o.port, sessionTimeoutMs: o.sessionTimeoutMs, sessionId: old.sessionId, passwd: old.passwd });
    this.watch(this.client);
    this.stopPinging = keepAlive(this.client);
    this.events.length = 0;
    await addAuth(this.client, 'digest', CONTROL_USER);
  }

  /** Resolves once an event is in; rejects when the connection is lost first. */
  async nextEvent(): Promise<WatchEvent> {
    while (this.events.length === 0) {
      if (this.client.isClosed) throw new ZkError(Err.CONNECTIONLOSS, 'watch');
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
    return this.events.shift()!;
  }

  close(): Promise<void> {
    this.stopPinging();
    return this.client.close();
  }
}

export class ControlClient {
  readonly stats: ControlStats = { rounds: 0, requests: 0, watchEvents: 0, latencyMsMax: 0, ownEventsAfterReply: 0, reconnects: 0, lostConnections: [] };
  private readonly writer: ControlSession;
  private readonly reader: ControlSession;
  private readonly o: ControlOptions;
  private value = 0;
  private version = 0;
  private ephemeral = '';

  private constructor(writer: LeanClient, reader: LeanClient, o: ControlOptions) {
    this.writer = new ControlSession(writer);
    this.reader = new ControlSession(reader);
    this.o = o;
  }

  static async start(o: ControlOptions): Promise<ControlClient> {
    const open = async () => {
      const c = await LeanClient.connect({ host: o.host, port: o.port, sessionTimeoutMs: o.sessionTimeoutMs });
      await addAuth(c, 'digest', CONTROL_USER);
      return c;
    };
    const control = new ControlClient(await open(), await open(), o);
    await control.setUp();
    return control;
  }

  /** The writer's session (the one with the ephemeral). */
  get sessionId(): bigint {
    return this.writer.client.sessionId;
  }

  /** Both sessions: the writer's, the reader's. */
  get sessionIds(): bigint[] {
    return [this.writer.client.sessionId, this.reader.client.sessionId];
  }

  /** Runs a control request under the deadline; its latency counts. */
  private async timed<T>(what: string, p: Promise<T>): Promise<T> {
    const t0 = performance.now();
    const v = await withDeadline(p, this.o.requestDeadlineMs, `control ${what} (a hang)`);
    this.stats.latencyMsMax = Math.max(this.stats.latencyMsMax, performance.now() - t0);
    this.stats.requests++;
    return v;
  }

  private async setUp(): Promise<void> {
    const w = this.writer.client;
    const existing = (e: unknown) => { if (!(e instanceof ZkError && e.code === Err.NODEEXISTS)) throw e; };
    await createWithAcl(w, CONTROL_ROOT, Buffer.alloc(0), CONTROL_ACL).catch(existing);
    await createWithAcl(w, REGISTER, Buffer.from('0'), CONTROL_ACL).catch(existing);
    const { data, stat } = await w.getData(REGISTER);
    this.value = Number(data.toString());
    this.version = stat.version;
    this.ephemeral = await createWithAcl(w, `${CONTROL_ROOT}/eph-`, Buffer.from('alive'), CONTROL_ACL, 3);
  }

  /**
   * One round (see roundOnce). A connection the server closed is reopened with the same
   * session, counted, and the register read back: it must hold the value the round began
   * with or the one it was writing. A round gives up after RECOVERIES_PER_ROUND_MAX
   * reconnects in a row.
   */
  async round(): Promise<void> {
    for (let recoveries = 0; ; recoveries++) {
      try {
        if (recoveries > 0) await this.recover();
        await this.roundOnce();
        return;
      } catch (e) {
        const lost = (e instanceof ZkError && e.code === Err.CONNECTIONLOSS) || this.writer.client.isClosed || this.reader.client.isClosed;
        if (!lost || recoveries >= RECOVERIES_PER_ROUND_MAX) throw e;
      }
    }
  }

  /** Reopens the lost connections with their sessions and reads the register back. */
  private async recover(): Promise<void> {
    for (const s of [this.writer, this.reader]) {
      if (!s.client.isClosed) continue;
      this.stats.reconnects++;
      if (this.stats.lostConnections.length < 10) this.stats.lostConnections.push(`0x${s.client.sessionId.toString(16)} at round ${this.stats.rounds}`);
      await this.timed('reconnect', s.reopen(this.o));
    }
    const { data, stat } = await this.timed('getData', this.writer.client.getData(REGISTER));
    const value = Number(data.toString());
    if (value !== this.value && value !== this.value + 1) throw new Error(`control register reads ${value} after a reconnect, expected ${this.value} or ${this.value + 1}`);
    this.value = value;
    this.version = stat.version;
  }

  /**
   * Both sessions read the register with a watch, the writer writes the next value at the
   * version it expects, both watches fire, the ephemeral is still the writer's. Throws
   * (naming what was wrong) on any deviation.
   */
  private async roundOnce(): Promise<void> {
    const w = this.writer.client;
    for (const s of [this.writer, this.reader]) {
      s.events.length = 0;
      const got = await this.timed('getData', s.client.getData(REGISTER, true));
      const text = got.data.toString();
      if (text !== String(this.value) || got.stat.version !== this.version) {
        throw new Error(`control register reads ${JSON.stringify(text)} version ${got.stat.version}, expected ${this.value} version ${this.version}`);
      }
    }
    const next = this.value + 1;
    const stat = await this.timed('setData', w.setData(REGISTER, Buffer.from(String(next)), this.version));
    this.value = next;
    this.version = stat.version;
    if (this.writer.events.length === 0) this.stats.ownEventsAfterReply++;
    for (const s of [this.writer, this.reader]) {
      const e = await this.timed(`watch event on 0x${s.client.sessionId.toString(16)}`, s.nextEvent());
      if (e.type !== EventType.NodeDataChanged || e.path !== REGISTER || s.events.length > 0) {
        throw new Error(`control watch got ${JSON.stringify([e, ...s.events])}, expected one NodeDataChanged ${REGISTER}`);
      }
      this.stats.watchEvents++;
    }
    const eph = await this.timed('exists', w.exists(this.ephemeral));
    if (eph === null || eph.ephemeralOwner !== w.sessionId) throw new Error(`control ephemeral ${this.ephemeral} is ${eph === null ? 'gone' : `owned by 0x${eph.ephemeralOwner.toString(16)}`}`);
    this.stats.rounds++;
  }

  async close(): Promise<void> {
    await Promise.all([this.writer.close(), this.reader.close()]);
  }
}

export interface JanitorStats {
  passes: number;
  deleted: number;
}

/** The super user's session that keeps the fuzzers' data bounded. */
export class Janitor {
  readonly stats: JanitorStats = { passes: 0, deleted: 0 };

  private readonly c: LeanClient;
  private readonly requestDeadlineMs: number;
  private readonly stopPinging: () => void;

  private constructor(c: LeanClient, requestDeadlineMs: number) {
    this.c = c;
    this.requestDeadlineMs = requestDeadlineMs;
    this.stopPinging = keepAlive(c);
  }

  static async start(host: string, port: number, requestDeadlineMs: number): Promise<Janitor> {
    const c = await LeanClient.connect({ host, port, sessionTimeoutMs: 30_000 });
    await addAuth(c, 'digest', SUPER_USER);
    return new Janitor(c, requestDeadlineMs);
  }

  get sessionId(): bigint {
    return this.c.sessionId;
  }

  private children(path: string): Promise<string[]> {
    return withDeadline(this.c.call(Op.getChildren, (w) => w.string(path).bool(false), readStrings, 'getChildren'), this.requestDeadlineMs, `janitor getChildren ${path}`)
      .catch((e) => { if (e instanceof ZkError && e.code === Err.NONODE) return []; throw e; });
  }

  /** Deletes path and everything below it (what the fuzzers add meanwhile may be left: NOTEMPTY). */
  private async removeTree(path: string): Promise<void> {
    for (const child of await this.children(path)) await this.removeTree(path === '/' ? `/${child}` : `${path}/${child}`);
    try {
      await withDeadline(this.c.delete(path), this.requestDeadlineMs, `janitor delete ${path}`);
      this.stats.deleted++;
    } catch (e) {
      if (!(e instanceof ZkError)) throw e; // NONODE, NOTEMPTY: the fuzzers got there first
    }
  }

  /** One pass: the server's own nodes open and empty again, anything the fuzzers made at the root or under /zookeeper removed. */
  async pass(): Promise<void> {
    for (const path of RESET_NODES) {
      await withDeadline(this.c.call(Op.setACL, (w) => { w.string(path); writeAcls(w, OPEN_ACL_UNSAFE); w.int(-1); }, () => null, 'setACL'), this.requestDeadlineMs, `janitor setACL ${path}`);
      await withDeadline(this.c.setData(path, Buffer.alloc(0)), this.requestDeadlineMs, `janitor setData ${path}`);
    }
    for (const child of await this.children('/')) if (!KEPT_AT_ROOT.has(child)) await this.removeTree(`/${child}`);
    for (const path of await this.strays()) await this.removeTree(path);
    this.stats.passes++;
  }

  /** What the fuzzers made under /zookeeper: quotas, and children of its own nodes. */
  private async strays(): Promise<string[]> {
    const own = (await this.children('/zookeeper')).filter((c) => !KEPT_IN_ZOOKEEPER.has(c)).map((c) => `/zookeeper/${c}`);
    const quota = (await this.children('/zookeeper/quota')).map((c) => `/zookeeper/quota/${c}`);
    const config = (await this.children('/zookeeper/config')).map((c) => `/zookeeper/config/${c}`);
    return [...own, ...quota, ...config];
  }

  /** Nodes the fuzzers left: none once a pass ran with no fuzzer at work. */
  async leftover(): Promise<string[]> {
    const root = (await this.children('/')).filter((c) => !KEPT_AT_ROOT.has(c)).map((c) => `/${c}`);
    return [...root, ...(await this.strays())];
  }

  close(): Promise<void> {
    this.stopPinging();
    return this.c.close();
  }
}
