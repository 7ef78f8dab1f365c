// Compatibility scenarios driven by node-zookeeper-client. Each scenario is a
// plain async function over a ScenarioEnv: it connects sessions through the
// env (so both servers run identical code) and every call on a recorded
// session lands in the transcript with its result code, reply zxid, payload
// (Stat, data, sorted children, ACLs) and the watch notifications that arrived
// on that connection before the reply.
//
// Scenarios run in this order against one server each (oracle and target in
// parallel), and later ones see the nodes earlier ones left — identically on
// both sides. Every scenario works under its own top-level node.

import { createHash } from 'node:crypto';
import { startProxy, type CuttableProxy } from '../support/proxy.ts';
import { Transcript, type TranscriptEntry } from '../support/transcript.ts';
import { describeError, waitFor, withDeadline } from '../support/wait.ts';
import {
  CREATOR_ALL_ACL,
  CreateMode,
  OP,
  OPEN_ACL_UNSAFE,
  Perms,
  READ_ACL_UNSAFE,
  ZkSession,
  type Acl,
  type ConnectOptions,
  type Reply,
  type WireEntry,
} from '../support/zkclient.ts';

/** The session methods a scenario calls; on a recorded session each call is a transcript step. */
type SessionOps = Pick<
  ZkSession,
  | 'create'
  | 'create2'
  | 'delete'
  | 'exists'
  | 'getData'
  | 'setData'
  | 'getACL'
  | 'setACL'
  | 'getChildren'
  | 'getChildren2'
  | 'sync'
  | 'multi'
  | 'addAuth'
  | 'close'
>;

export interface Recorded extends SessionOps {
  /** The same calls, with the notifications of each reply sorted (where ZooKeeper's order is a hash order). */
  readonly sorted: SessionOps;
  /** The unrecorded session (state, abandon, observe). */
  readonly raw: ZkSession;
  readonly name: string;
}

export interface ScenarioEnv {
  port: number;
  t: Transcript;
  /** Connect a session and record the handshake (negotiated timeout, session id). */
  connect(name: string, options?: ConnectOptions & { via?: CuttableProxy }): Promise<Recorded>;
  /** A cuttable proxy in front of the server (closed after the scenario). */
  proxy(): Promise<CuttableProxy>;
  /** Record a step: anything the scenario wants in the transcript. */
  note(step: string, fields?: Record<string, unknown>): void;
}

export interface Scenario {
  name: string;
  /** Deadline for the whole scenario on one server. */
  timeoutMs?: number;
  run(env: ScenarioEnv): Promise<void>;
}

export interface ScenarioResult {
  entries: TranscriptEntry[];
  /** Set when the scenario threw (a missing reply, a failed wait); also the last transcript entry. */
  abortedWith?: string;
}

const RECORDED_METHODS = new Set([
  'create',
  'create2',
  'delete',
  'exists',
  'getData',
  'setData',
  'getACL',
  'setACL',
  'getChildren',
  'getChildren2',
  'sync',
  'multi',
  'addAuth',
  'close',
]);

function showArg(arg: unknown): string {
  if (arg === undefined) return 'undefined';
  if (Buffer.isBuffer(arg)) return `hex:${arg.toString('hex')}`;
  if (Array.isArray(arg) && arg.every((a) => typeof a === 'object' && a !== null && 'perms' in a)) {
    return `[${(arg as Acl[]).map((a) => `${a.scheme}:${a.id}:${a.perms}`).join(',')}]`;
  }
  return JSON.stringify(arg, (_k, v: unknown) => (Buffer.isBuffer(v) ? `hex:${v.toString('hex')}` : v));
}

function sortEvents(reply: Reply): Reply {
  if (!reply.events) return reply;
  const key = (e: unknown) => JSON.stringify(e, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  const events = [...reply.events].sort((a, b) => key(a).localeCompare(key(b)));
  return { ...reply, events };
}

/** Run one scenario against the server on `port`; never throws for scenario failures (they end the transcript). */
export async function runScenario(scenario: Scenario, port: number): Promise<ScenarioResult> {
  const t = new Transcript();
  const sessions: ZkSession[] = [];
  const proxies: CuttableProxy[] = [];

  const record = (session: ZkSession, sorted = false): Recorded =>
    new Proxy(session, {
      get(target, prop, receiver) {
        if (prop === 'sorted') return record(session, true);
        if (prop === 'raw') return session;
        const value = Reflect.get(target, prop, receiver);
        if (typeof prop !== 'string' || !RECORDED_METHODS.has(prop) || typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          const label = [session.name, prop, ...args.map(showArg)].join(' ');
          const reply = (await (value as (...a: unknown[]) => Promise<Reply>).apply(target, args)) as Reply;
          t.add(label, sorted ? sortEvents(reply) : reply);
          return reply;
        };
      },
    }) as unknown as Recorded;

  const env: ScenarioEnv = {
    port,
    t,
    async connect(name, options = {}) {
      const session = await ZkSession.connect(name, options.via?.port ?? port, options);
      sessions.push(session);
      if (options.waitConnected === false) {
        t.add(`connect ${name}`, { requestedTimeoutMs: options.sessionTimeoutMs ?? 30_000 });
        return record(session);
      }
      const seen = await session.observe((e) => e.kind === 'connected', 'connect response', 5_000);
      t.add(`connect ${name}`, { requestedTimeoutMs: options.sessionTimeoutMs ?? 30_000, seen: withoutRefusedAttempts(seen.seen) });
      return record(session);
    },
    async proxy() {
      const p = await startProxy(port);
      proxies.push(p);
      return p;
    },
    note(step, fields = {}) {
      t.add(step, fields);
    },
  };

  let abortedWith: string | undefined;
  try {
    const timeoutMs = scenario.timeoutMs ?? 30_000;
    await withDeadline(scenario.run(env), timeoutMs, `scenario "${scenario.name}" to finish`);
  } catch (error) {
    abortedWith = describeError(error);
    t.add('scenario aborted', { error: abortedWith });
  } finally {
    await Promise.all(sessions.map((s) => s.dispose()));
    await Promise.all(proxies.map((p) => p.close()));
  }
  // A copy: after a deadline the abandoned scenario may still be failing its way out.
  return { entries: [...t.entries], abortedWith };
}

// ---- helpers used by scenarios ------------------------------------------------------

const isEvent = (type: string, path: string) => (e: WireEntry) => e.kind === 'event' && e.type === type && e.path === path;

/** digest ACL id for user:password, as ZooKeeper's DigestAuthenticationProvider computes it. */
export function digestId(userPassword: string): string {
  const user = userPassword.slice(0, userPassword.indexOf(':'));
  return `${user}:${createHash('sha1').update(userPassword).digest('base64')}`;
}

/** Wire entries of a reconnect, without the attempts the cut proxy refused (their number is timing). */
function withoutRefusedAttempts(seen: unknown): unknown {
  if (!Array.isArray(seen)) return seen;
  return seen.filter((e: Record<string, unknown>) => !('socketClosed' in e));
}

// ---- the scenarios --------------------------------------------------------------------

export const scenarios: Scenario[] = [
  {
    name: 'root and the /zookeeper system nodes on a fresh server',
    async run(env) {
      const s1 = await env.connect('s1');
      await s1.getChildren2('/');
      await s1.getChildren('/');
      await s1.getData('/');
      await s1.exists('/');
      await s1.getACL('/');
      await s1.getChildren2('/zookeeper');
      await s1.getData('/zookeeper');
      await s1.getACL('/zookeeper');
      await s1.getChildren2('/zookeeper/quota');
      await s1.getData('/zookeeper/quota');
      await s1.getACL('/zookeeper/quota');
      await s1.exists('/zookeeper/config');
      await s1.getChildren2('/zookeeper/config');
      await s1.getACL('/zookeeper/config');
      await s1.exists('/zookeeper/nothing');
      await s1.close();
    },
  },
  {
    name: 'session timeout negotiation',
    async run(env) {
      for (const [name, sessionTimeoutMs] of [
        ['below-min', 1_000],
        ['min', 4_000],
        ['middle', 10_000],
        ['max', 40_000],
        ['above-max', 100_000],
      ] as const) {
        const s = await env.connect(name, { sessionTimeoutMs });
        await s.close();
      }
    },
  },
  {
    name: 'create: persistent, ephemeral, sequential, create2 Stat',
    async run(env) {
      const s1 = await env.connect('s1');
      await s1.create('/cm', 'parent');
      await s1.create('/cm/persistent', 'p');
      await s1.create('/cm/nulldata', null);
      await s1.create('/cm/emptydata', Buffer.alloc(0));
      await s1.create('/cm/binary', Buffer.from([0, 1, 2, 0xfe, 0xff]));
      await s1.create('/cm/ephemeral', 'e', { mode: CreateMode.EPHEMERAL });
      await s1.create('/cm/seq-', 's', { mode: CreateMode.PERSISTENT_SEQUENTIAL });
      await s1.create('/cm/eseq-', 'es', { mode: CreateMode.EPHEMERAL_SEQUENTIAL });
      await s1.create2('/cm/c2', 'two');
      await s1.create2('/cm/c2eph', 'x', { mode: CreateMode.EPHEMERAL });
      await s1.create2('/cm/c2seq-', 'y', { mode: CreateMode.PERSISTENT_SEQUENTIAL });
      await s1.create2('/cm/c2eseq-', 'z', { mode: CreateMode.EPHEMERAL_SEQUENTIAL });
      for (const p of ['/cm/persistent', '/cm/nulldata', '/cm/emptydata', '/cm/binary', '/cm/ephemeral', '/cm/seq-0000000005']) {
        await s1.getData(p);
      }
      await s1.getChildren2('/cm');
      await s1.getData('/cm');
      await s1.close();
    },
  },
  {
    name: 'create: error codes and invalid paths',
    async run(env) {
      const s1 = await env.connect('s1');
      await s1.create('/ce', 'x');
      await s1.create('/ce/missing/child', 'x');
      await s1.create('/ce', 'again');
      await s1.create2('/ce', 'again');
      await s1.create('/ce/eph', 'e', { mode: CreateMode.EPHEMERAL });
      await s1.create('/ce/eph/child', 'x');
      await s1.create('/ce/eph/seq-', 'x', { mode: CreateMode.EPHEMERAL_SEQUENTIAL });
      for (const path of ['ce', '/ce/', '/ce//x', '/ce/./x', '/ce/../x', '/ce/.', '/ce/..', '', '/', '/ce/nul\u0000x', '/ce/\u0001ctl']) {
        await s1.create(path, 'bad');
      }
      await s1.create('/zookeeper/x', 'x');
      await s1.create('/zookeeper/quota/x', 'x');
      await s1.create('/ce/container', 'c', { mode: CreateMode.CONTAINER });
      await s1.create('/ce/ttl', 't', { mode: CreateMode.PERSISTENT_WITH_TTL });
      await s1.create('/ce/badflags', 'f', { mode: 42 });
      await s1.create2('/ce/container2', 'c', { mode: CreateMode.CONTAINER, op: OP.createContainer });
      await s1.create('/ce/noacl', 'x', { acl: [] });
      await s1.create('/ce/authacl', 'x', { acl: CREATOR_ALL_ACL });
      await s1.create('/ce/badscheme', 'x', { acl: [{ perms: Perms.ALL, scheme: 'nosuch', id: 'x' }] });
      await s1.create('/ce/badworld', 'x', { acl: [{ perms: Perms.ALL, scheme: 'world', id: 'someone' }] });
      await s1.create('/ce/badip', 'x', { acl: [{ perms: Perms.ALL, scheme: 'ip', id: 'not-an-ip' }] });
      await s1.create('/ce/baddigest', 'x', { acl: [{ perms: Perms.ALL, scheme: 'digest', id: 'nocolon' }] });
      await s1.create('/ce/perms0', 'x', { acl: [{ perms: 0, scheme: 'world', id: 'anyone' }] });
      await s1.getChildren2('/ce');
      await s1.getChildren2('/zookeeper');
      await s1.getData('/ce');
      await s1.close();
    },
  },
  {
    name: 'delete: versions, NOTEMPTY, NONODE, system nodes',
    async run(env) {
      const s1 = await env.connect('s1');
      await s1.create('/del', 'd');
      await s1.create('/del/a', 'a');
      await s1.create('/del/b', 'b');
      await s1.create('/del/b/c', 'c');
      await s1.delete('/del/a', 5);
      await s1.delete('/del/a', 0);
      await s1.delete('/del/a', -1);
      await s1.delete('/del/b', -1);
      await s1.delete('/del/b', 3);
      await s1.delete('/del/b/c', -1);
      await s1.setData('/del/b', 'b1', -1);
      await s1.delete('/del/b', 0);
      await s1.delete('/del/b', 1);
      await s1.delete('/del/missing/child', -1);
      await s1.delete('/del/missing', 4);
      await s1.delete('del', -1);
      await s1.delete('/del/', -1);
      await s1.delete('/', -1);
      await s1.delete('/zookeeper', -1);
      await s1.getChildren2('/del');
      await s1.getData('/del');
      await s1.close();
    },
  },
  {
    name: 'getData/setData: versions and Stat after set',
    async run(env) {
      const s1 = await env.connect('s1');
      await s1.create('/dv', 'v0');
      await s1.getData('/dv');
      await s1.setData('/dv', 'v1', 0);
      await s1.setData('/dv', 'v2', 0);
      await s1.setData('/dv', 'v2', -1);
      await s1.setData('/dv', 'v3', 2);
      await s1.setData('/dv', 'v3', 99);
      await s1.setData('/dv', 'v3', -2);
      await s1.setData('/dv', Buffer.alloc(0), -1);
      await s1.getData('/dv');
      await s1.setData('/dv', null, -1);
      await s1.getData('/dv');
      await s1.setData('/dv', 'x'.repeat(1000), -1);
      await s1.getData('/dv');
      await s1.exists('/dv');
      await s1.setData('/dv/missing', 'x', -1);
      await s1.getData('/dv/missing');
      await s1.exists('/dv/missing');
      await s1.getData('dv');
      await s1.exists('dv');
      await s1.setData('dv', 'x', -1);
      await s1.close();
    },
  },
  {
    name: 'parent Stat: cversion, numChildren, pzxid',
    async run(env) {
      const s1 = await env.connect('s1');
      await s1.create('/ps', 'p');
      await s1.getData('/ps');
      await s1.create('/ps/a', 'a');
      await s1.create('/ps/b', 'b', { mode: CreateMode.EPHEMERAL });
      await s1.getData('/ps');
      await s1.setData('/ps/a', 'a1', -1);
      await s1.getData('/ps');
      await s1.create('/ps/b', 'dup');
      await s1.getData('/ps');
      await s1.delete('/ps/a', -1);
      await s1.getData('/ps');
      await s1.setData('/ps', 'p1', -1);
      await s1.getChildren2('/ps');
      await s1.delete('/ps/missing', -1);
      await s1.getData('/ps');
      await s1.close();
    },
  },
  {
    name: 'sequential numbering from the parent cversion',
    async run(env) {
      const s1 = await env.connect('s1');
      await s1.create('/sq', 'q');
      for (let i = 0; i < 3; i++) await s1.create('/sq/n-', 'x', { mode: CreateMode.PERSISTENT_SEQUENTIAL });
      await s1.getChildren2('/sq');
      await s1.delete('/sq/n-0000000001', -1);
      await s1.getData('/sq');
      await s1.create('/sq/n-', 'x', { mode: CreateMode.PERSISTENT_SEQUENTIAL });
      await s1.getData('/sq');
      await s1.create('/sq/other-', 'x', { mode: CreateMode.PERSISTENT_SEQUENTIAL });
      await s1.create('/sq/', 'slash', { mode: CreateMode.PERSISTENT_SEQUENTIAL });
      await s1.create('/sq/e-', 'x', { mode: CreateMode.EPHEMERAL_SEQUENTIAL });
      await s1.create('/sq/n-0000000009', 'manual');
      await s1.create('/sq/n-', 'collides', { mode: CreateMode.PERSISTENT_SEQUENTIAL });
      await s1.create('/sq/n-', 'collides again', { mode: CreateMode.PERSISTENT_SEQUENTIAL });
      await s1.create('/sq/m-', 'x', { mode: CreateMode.PERSISTENT_SEQUENTIAL });
      await s1.create2('/sq/c2-', 'x', { mode: CreateMode.PERSISTENT_SEQUENTIAL });
      await s1.multi([
        { op: 'create', path: '/sq/mu-', data: 'a', mode: CreateMode.PERSISTENT_SEQUENTIAL },
        { op: 'create', path: '/sq/mu-', data: 'b', mode: CreateMode.PERSISTENT_SEQUENTIAL },
      ]);
      await s1.getChildren2('/sq');
      await s1.create('/sq/missing/n-', 'x', { mode: CreateMode.PERSISTENT_SEQUENTIAL });
      await s1.create('/sq2', 'q');
      await s1.create('/sq2/n-', 'x', { mode: CreateMode.PERSISTENT_SEQUENTIAL });
      await s1.close();
    },
  },
  {
    name: 'getChildren and getChildren2',
    async run(env) {
      const s1 = await env.connect('s1');
      await s1.create('/gc', 'g');
      for (const child of ['b', 'a', 'c', 'aa', 'B']) await s1.create(`/gc/${child}`, child);
      await s1.create('/gc/e', 'e', { mode: CreateMode.EPHEMERAL });
      await s1.getChildren('/gc');
      await s1.getChildren2('/gc');
      await s1.getChildren('/gc/a');
      await s1.getChildren2('/gc/a');
      await s1.getChildren('/gc/missing');
      await s1.getChildren2('/gc/missing');
      await s1.getChildren('gc');
      await s1.close();
    },
  },
  {
    name: 'multi: success with create, setData, check, delete',
    async run(env) {
      const s1 = await env.connect('s1');
      await s1.create('/mu', 'm');
      await s1.multi([
        { op: 'create', path: '/mu/a', data: 'a' },
        { op: 'setData', path: '/mu', data: 'm2', version: 0 },
        { op: 'check', path: '/mu', version: 1 },
        { op: 'create', path: '/mu/b', data: 'b' },
        { op: 'delete', path: '/mu/b', version: 0 },
        { op: 'check', path: '/mu/a', version: 0 },
      ]);
      await s1.getData('/mu');
      await s1.getChildren2('/mu');
      await s1.getData('/mu/a');
      await s1.multi([
        { op: 'setData', path: '/mu/a', data: 'x', version: -1 },
        { op: 'setData', path: '/mu/a', data: 'y', version: 1 },
      ]);
      await s1.getData('/mu/a');
      await s1.multi([
        { op: 'create', path: '/mu/p', data: 'p' },
        { op: 'create', path: '/mu/p/q', data: 'q' },
        { op: 'create', path: '/mu/e', data: 'e', mode: CreateMode.EPHEMERAL },
      ]);
      await s1.getChildren2('/mu/p');
      await s1.getData('/mu/e');
      await s1.multi([
        { op: 'delete', path: '/mu/p/q', version: -1 },
        { op: 'delete', path: '/mu/p', version: -1 },
      ]);
      await s1.multi([]);
      await s1.getChildren2('/mu');
      await s1.close();
    },
  },
  {
    name: 'multi: a failing op rolls back everything',
    async run(env) {
      const s1 = await env.connect('s1');
      await s1.create('/mf', 'x');
      await s1.multi([
        { op: 'create', path: '/mf/a', data: 'a' },
        { op: 'setData', path: '/mf', data: 'y', version: 5 },
        { op: 'create', path: '/mf/b', data: 'b' },
      ]);
      await s1.getChildren2('/mf');
      await s1.getData('/mf');
      await s1.multi([
        { op: 'check', path: '/mf/missing', version: 0 },
        { op: 'create', path: '/mf/c', data: 'c' },
      ]);
      await s1.multi([
        { op: 'create', path: '/mf/d', data: 'd' },
        { op: 'create', path: '/mf/d', data: 'd' },
      ]);
      await s1.multi([
        { op: 'create', path: '/mf/e', data: 'e' },
        { op: 'delete', path: '/mf', version: -1 },
      ]);
      await s1.multi([
        { op: 'create', path: '/mf/f', data: 'f' },
        { op: 'setData', path: '/mf/f', data: 'z', version: 0 },
        { op: 'check', path: '/mf/f', version: 5 },
      ]);
      await s1.multi([{ op: 'delete', path: '/mf/nope', version: -1 }]);
      await s1.multi([
        { op: 'create', path: '/mf/g', data: 'g' },
        { op: 'create', path: 'bad-path', data: 'x' },
      ]);
      await s1.multi([
        { op: 'create', path: '/mf/h', data: 'h' },
        { op: 'create', path: '/mf/i', data: 'i', acl: [] },
      ]);
      await s1.multi([
        { op: 'create', path: '/mf/eph', data: 'e', mode: CreateMode.EPHEMERAL },
        { op: 'create', path: '/mf/eph/x', data: 'x' },
      ]);
      await s1.multi([
        { op: 'check', path: '/mf', version: 0 },
        { op: 'delete', path: '/mf/none', version: -1 },
        { op: 'check', path: '/mf', version: 0 },
      ]);
      await s1.getChildren2('/mf');
      await s1.getData('/mf');
      await s1.exists('/mf/a');
      await s1.close();
    },
  },
  {
    name: 'watches: one-shot data, exist and child watches, order against replies',
    async run(env) {
      const s1 = await env.connect('s1');
      const s2 = await env.connect('s2');
      await s2.create('/w', 'a');
      // data watch, fired by another session: the event comes before s1's next reply
      await s1.getData('/w', true);
      await s2.setData('/w', 'b', -1);
      await s1.exists('/w');
      // one-shot: consumed
      await s2.setData('/w', 'c', -1);
      await s1.exists('/w');
      // exist watch on an absent node
      await s1.exists('/w/new', true);
      await s2.create('/w/new', 'n');
      await s1.sync('/w');
      // child watch; child data changes do not fire it
      await s1.getChildren('/w', true);
      await s2.setData('/w/new', 'n1', -1);
      await s1.sync('/w');
      await s2.create('/w/c2', 'x');
      await s1.getData('/w');
      await s1.getChildren2('/w', true);
      await s2.delete('/w/c2', -1);
      await s1.exists('/w');
      // own write: the event comes before the write's own reply
      await s1.getData('/w', true);
      await s1.setData('/w', 'self', -1);
      // data + child + exist watch on a node that is deleted, and the parent's child watch
      await s1.getData('/w/new', true);
      await s1.getChildren('/w/new', true);
      await s1.exists('/w/new', true);
      await s1.getChildren('/w', true);
      await s2.delete('/w/new', -1);
      await s1.sync('/');
      // a read that fails leaves no watch
      await s1.getData('/w/absent', true);
      await s1.getChildren('/w/absent', true);
      await s2.create('/w/absent', 'x');
      await s1.sync('/');
      // setACL and sync do not fire data watches; setData with the same data does
      await s1.getData('/w', true);
      await s2.setACL('/w', OPEN_ACL_UNSAFE, -1);
      await s2.sync('/w');
      await s1.sync('/');
      await s2.setData('/w', 'self', -1);
      await s1.sync('/');
      // exists-watch on an existing node fires on delete
      await s2.create('/w/gone', 'g');
      await s1.exists('/w/gone', true);
      await s2.delete('/w/gone', -1);
      await s1.sync('/');
      // create: NodeCreated for the exist watch vs NodeChildrenChanged for the parent
      await s1.exists('/w/ord', true);
      await s1.getChildren('/w', true);
      await s2.create('/w/ord', 'o');
      await s1.sync('/');
      // several watches fired by one multi
      await s1.getData('/w', true);
      await s1.getChildren('/w', true);
      await s1.exists('/w/m1', true);
      await s1.getData('/w/ord', true);
      await s2.multi([
        { op: 'create', path: '/w/m1', data: 'm' },
        { op: 'setData', path: '/w', data: 'multi', version: -1 },
        { op: 'delete', path: '/w/ord', version: -1 },
      ]);
      await s1.sync('/');
      // a failed multi fires nothing
      await s1.getData('/w', true);
      await s2.multi([
        { op: 'setData', path: '/w', data: 'nope', version: -1 },
        { op: 'check', path: '/w', version: 999 },
      ]);
      await s1.sync('/');
      await s2.setData('/w', 'finally', -1);
      await s1.getData('/w');
      await s1.close();
      await s2.close();
    },
  },
  {
    name: 'ACLs: world, digest, ip, NOAUTH, INVALIDACL, AUTHFAILED',
    async run(env) {
      const s1 = await env.connect('s1');
      const s2 = await env.connect('s2');
      await s1.create('/acl-open', 'o');
      await s1.getACL('/acl-open');
      await s1.setACL('/acl-open', READ_ACL_UNSAFE, 5);
      await s1.setACL('/acl-open', READ_ACL_UNSAFE, 0);
      await s1.getACL('/acl-open');
      await s1.getData('/acl-open');
      await s1.setData('/acl-open', 'x', -1);
      await s1.create('/acl-open/child', 'x');
      await s1.setACL('/acl-open', OPEN_ACL_UNSAFE, -1);
      await s1.setACL('/acl-open', [], -1);
      await s1.setACL('/acl-open/missing', OPEN_ACL_UNSAFE, -1);
      await s1.delete('/acl-open', -1);

      await s1.addAuth('digest', 'alice:secret');
      await s1.create('/acl-digest', 'd', { acl: CREATOR_ALL_ACL });
      await s1.getACL('/acl-digest');
      await s1.create('/acl-digest/open', 'x');
      await s2.exists('/acl-digest');
      await s2.getData('/acl-digest');
      await s2.getACL('/acl-digest');
      await s2.getChildren('/acl-digest');
      await s2.setData('/acl-digest', 'x', -1);
      await s2.create('/acl-digest/x', 'x');
      await s2.setACL('/acl-digest', OPEN_ACL_UNSAFE, -1);
      await s2.delete('/acl-digest/open', -1);
      await s2.addAuth('digest', 'alice:wrong');
      await s2.getData('/acl-digest');
      await s2.addAuth('digest', 'alice:secret');
      await s2.getData('/acl-digest');
      await s1.setACL('/acl-digest', [{ perms: Perms.READ | Perms.ADMIN, scheme: 'auth', id: '' }], -1);
      await s1.getACL('/acl-digest');
      // repeats go before "auth" expands: its expansion and an equal explicit entry are both stored
      await s1.setACL('/acl-digest', [
        { perms: Perms.READ | Perms.ADMIN, scheme: 'auth', id: '' },
        { perms: Perms.READ | Perms.ADMIN, scheme: 'digest', id: digestId('alice:secret') },
        { perms: Perms.READ | Perms.ADMIN, scheme: 'digest', id: digestId('alice:secret') },
      ], -1);
      await s1.getACL('/acl-digest');

      const s3 = await env.connect('s3');
      await s3.create('/acl-creator', 'x', { acl: CREATOR_ALL_ACL });
      await s3.create('/acl-explicit', 'x', { acl: [{ perms: Perms.ALL, scheme: 'digest', id: digestId('alice:secret') }] });
      await s3.getData('/acl-explicit');
      await s3.getACL('/acl-explicit');
      await s3.create('/acl-ip-local', 'x', { acl: [{ perms: Perms.ALL, scheme: 'ip', id: '127.0.0.1' }] });
      await s3.getData('/acl-ip-local');
      await s3.create('/acl-ip-net', 'x', { acl: [{ perms: Perms.ALL, scheme: 'ip', id: '127.0.0.0/8' }] });
      await s3.getData('/acl-ip-net');
      await s3.create('/acl-ip-other', 'x', { acl: [{ perms: Perms.ALL, scheme: 'ip', id: '10.1.2.3' }] });
      await s3.getData('/acl-ip-other');
      await s3.getACL('/acl-ip-other');
      // IPAuthenticationProvider reads each octet and the mask with Integer.parseInt (signs, leading
      // zeros, any Unicode decimal digit), to validate and to match
      for (const [name, ip] of [['zeros', '127.000.000.001'], ['plus', '+127.0.0.1/+8'], ['digits', '\u0661\u0662\u0667.0.0.\uff11']]) {
        await s3.create(`/acl-ip-${name}`, 'x', { acl: [{ perms: Perms.ALL, scheme: 'ip', id: ip }] });
        await s3.getData(`/acl-ip-${name}`);
      }
      await s3.create('/acl-mixed', 'x', {
        acl: [
          { perms: Perms.READ, scheme: 'world', id: 'anyone' },
          { perms: Perms.ALL, scheme: 'digest', id: digestId('bob:pw') },
        ],
      });
      await s3.getACL('/acl-mixed');
      await s3.setData('/acl-mixed', 'x', -1);
      await s3.addAuth('nosuchscheme', 'whatever');
      await s3.raw.observe((e) => e.kind === 'closed', 'connection closed after AUTHFAILED', 5_000);
      await s3.getData('/');
      await s1.close();
      await s2.close();
    },
  },
  {
    name: 'sync',
    async run(env) {
      const s1 = await env.connect('s1');
      const s2 = await env.connect('s2');
      await s1.sync('/');
      await s1.sync('/zookeeper');
      await s1.create('/sy', 'a');
      await s2.setData('/sy', 'b', -1);
      await s1.sync('/sy');
      await s1.getData('/sy');
      await s1.sync('/sy/missing');
      await s1.sync('sy');
      await s1.close();
      await s2.close();
    },
  },
  {
    name: 'ephemerals vanish when their session closes',
    async run(env) {
      const s1 = await env.connect('s1');
      const s2 = await env.connect('s2');
      await s1.create('/eph', 'p');
      await s1.create('/eph/e1', 'e1', { mode: CreateMode.EPHEMERAL });
      await s1.create('/eph/e2-', 'e2', { mode: CreateMode.EPHEMERAL_SEQUENTIAL });
      await s1.create2('/eph/e3', 'e3', { mode: CreateMode.EPHEMERAL });
      await s2.getData('/eph/e1');
      await s2.exists('/eph/e1', true);
      await s2.getData('/eph/e3', true);
      await s2.getChildren2('/eph', true);
      await s2.getData('/eph', true);
      await s1.close();
      await s2.sorted.getChildren2('/eph');
      await s2.exists('/eph/e1');
      await s2.getData('/eph');
      await s1.getData('/eph');
      await s2.close();
    },
  },
  {
    // ZooKeeper deletes a closed session's ephemerals in the order of a clone of its HashSet,
    // which these names make crowd bins; a failed multi leaves that set as it was
    name: 'a closed session\'s ephemerals go in ZooKeeper\'s hash order, after failed multis and crowded bins',
    async run(env) {
      const s1 = await env.connect('s1');
      const s2 = await env.connect('s2');
      await s1.create('/q', 'p');
      const twelve = ['/q/e-14', '/q/e-25', ...Array.from({ length: 10 }, (_, i) => `/q/f${i}`)];
      for (const path of twelve) await s1.create(path, 'e', { mode: CreateMode.EPHEMERAL });
      // a thirteenth would double the set's table; a delete would move /q/e-14 behind /q/e-25
      await s1.multi([{ op: 'create', path: '/q/g', data: 'g', mode: CreateMode.EPHEMERAL }, { op: 'check', path: '/q', version: 99 }]);
      await s1.multi([{ op: 'delete', path: '/q/e-14', version: -1 }, { op: 'check', path: '/q', version: 99 }]);
      for (const path of twelve) await s2.exists(path, true);
      await s1.close();
      await s2.getData('/q');
      // nine in one bin: the set's table doubles to 32 bins, and so does its clone's
      const s3 = await env.connect('s3');
      const collide9 = ['/q/e-120', '/q/e-14', '/q/e-131', '/q/e-25', '/q/e-36', '/q/e-142', '/q/e-47', '/q/e-58', '/q/e-69'];
      for (const path of collide9) await s3.create(path, 'e', { mode: CreateMode.EPHEMERAL });
      for (const path of collide9) await s2.exists(path, true);
      await s3.close();
      await s2.getData('/q');
      await s2.close();
    },
  },
  {
    name: 'session expiry by the server (client cut off, never reconnects in time)',
    timeoutMs: 60_000,
    async run(env) {
      const proxy = await env.proxy();
      const s1 = await env.connect('s1', { via: proxy, sessionTimeoutMs: 4_000 });
      const s2 = await env.connect('s2');
      await s1.create('/exp', 'p');
      await s1.create('/exp/e', 'e', { mode: CreateMode.EPHEMERAL });
      await s1.create('/exp/e2', 'e', { mode: CreateMode.EPHEMERAL });
      await s2.exists('/exp/e', true);
      await s2.getChildren('/exp', true);
      await proxy.cut();
      env.note('s1 cut off from the server');
      // Expiry deletes the session's ephemerals in an unspecified order: wait for both events, compare them sorted.
      const deleted = await s2.raw.observeAll(
        [isEvent('NodeDeleted', '/exp/e'), isEvent('NodeChildrenChanged', '/exp')],
        'NodeDeleted /exp/e and NodeChildrenChanged /exp after s1 expires',
        30_000,
      );
      env.note('s2 sees the expiry', { seen: sortEvents({ err: 'OK', events: deleted.seen as Record<string, unknown>[] }).events });
      await s2.sorted.getChildren2('/exp');
      await proxy.restore();
      const handshake = await s1.raw.observe((e) => e.kind === 'connected', 's1 reconnect handshake', 15_000);
      env.note('s1 reconnects with the expired session', { seen: withoutRefusedAttempts(handshake.seen) });
      // ZooKeeper closes the connection after the expired handshake; only then is the client's state final.
      const closed = await s1.raw.observe((e) => e.kind === 'closed', 's1 connection closed after the expired handshake', 5_000);
      env.note('s1 connection closed by the server', { seen: closed.seen });
      await s1.getData('/exp');
      await s2.close();
    },
  },
  {
    name: 'SetWatches after reconnect (same session, changes made while away)',
    timeoutMs: 60_000,
    async run(env) {
      const proxy = await env.proxy();
      const s1 = await env.connect('s1', { via: proxy, sessionTimeoutMs: 30_000 });
      const s2 = await env.connect('s2');
      await s2.create('/sw', 'p');
      await s2.create('/sw/d', 'd0');
      await s2.create('/sw/gone', 'g');
      await s2.create('/sw/stay', 's');
      await s1.getData('/sw/d', true);
      await s1.exists('/sw/gone', true);
      await s1.getData('/sw/stay', true);
      await s1.exists('/sw/new', true);
      await s1.getChildren('/sw', true);
      await proxy.cut();
      await waitFor(() => !s1.raw.isConnected, { timeoutMs: 5_000, what: 's1 to notice the cut' });
      env.note('s1 disconnected');
      await s2.setData('/sw/d', 'd1', -1);
      await s2.create('/sw/new', 'n');
      await s2.delete('/sw/gone', -1);
      await proxy.restore();
      const back = await s1.raw.observe((e) => e.kind === 'reply' && e.op === 'setWatches', 's1 SetWatches reply after reconnect', 15_000);
      env.note('s1 reconnects and re-sets its watches', { seen: withoutRefusedAttempts(back.seen) });
      await s1.getData('/sw/d');
      await s2.setData('/sw/stay', 's1', -1);
      await s1.sync('/');
      await s1.close();
      await s2.close();
    },
  },
  {
    name: 'the root after all scenarios',
    async run(env) {
      const s1 = await env.connect('s1');
      await s1.getChildren2('/');
      await s1.getData('/');
      await s1.getChildren2('/zookeeper');
      await s1.close();
    },
  },
];
