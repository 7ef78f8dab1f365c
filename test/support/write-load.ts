// A steady write load from real clients that remembers every acknowledged write, for tests
// that restart servers under it (test/quorum/rolling-migration.test.ts).
//
// NodeWriter: a node-zookeeper-client session (no retries: every error reaches us) over a
// connection string of every server, its home server first; it holds an ephemeral
// /<root>/eph-<name> and every periodMs issues a create of /<root>/<name>/n-<seq> or a
// setData of /<root>/<name> to "<name>:<seq>", at most inFlightMax outstanding.
// KazooWriter: the same from kazoo in a python process (test/quorum/kazoo_migration.py),
// creates only, one at a time.
// Both count every error by name and every session state they pass through.

import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Random } from '../../loadgen/random.ts';
import { waitFor, withDeadline } from './wait.ts';

const require = createRequire(import.meta.url);
/* eslint-disable @typescript-eslint/no-explicit-any */
const zookeeper: any = require('node-zookeeper-client');

const SESSION_TIMEOUT_MS = 20_000;
const CONNECT_DEADLINE_MS = 60_000;
const DRAIN_DEADLINE_MS = 40_000;

export interface WriterReport {
  name: string;
  /** The session id at start (hex), and now. */
  sessionAtStart: string;
  sessionNow: string;
  /** Acknowledged creates: path → data. */
  acked: Map<string, string>;
  /** The node setData writes (null for a writer that only creates), its acknowledged count and last acknowledged / last sent seq. */
  setPath: string | null;
  setAckedCount: number;
  setAckedSeqMax: number;
  setSentSeqMax: number;
  /** Error name → count. */
  errors: Map<string, number>;
  /** Session states passed through, in order (SYNC_CONNECTED, DISCONNECTED, EXPIRED, …). */
  states: string[];
  /** The longest time between two acknowledged writes (the pause a server's restart caused this session). */
  ackGapMsMax: number;
}

export interface Writer {
  readonly name: string;
  /** Acknowledged writes so far. */
  ackedCount(): number;
  /** Stop issuing writes and wait for those in flight to be answered. */
  stop(): Promise<void>;
  report(): WriterReport;
  /** Close the session (its ephemeral goes). */
  close(): Promise<void>;
}

function hex(id: Buffer): string {
  return id.toString('hex');
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** The longest time between two acknowledgements. */
class AckGaps {
  private lastAtMs = 0;
  gapMsMax = 0;

  ack(): void {
    const nowMs = Date.now();
    if (this.lastAtMs > 0) this.gapMsMax = Math.max(this.gapMsMax, nowMs - this.lastAtMs);
    this.lastAtMs = nowMs;
  }
}

/** A promise for one node-zookeeper-client call; errors come back as their name ('CONNECTION_LOSS'). */
function call(fn: (cb: (error: any, result?: unknown) => void) => void): Promise<string | null> {
  return new Promise((resolve) => fn((error) => resolve(error ? String(error.name ?? error.code ?? error) : null)));
}

export class NodeWriter implements Writer {
  readonly name: string;
  private readonly client: any;
  private readonly root: string;
  private readonly random: Random;
  private readonly acked = new Map<string, string>();
  private readonly errors = new Map<string, number>();
  private readonly states: string[] = [];
  private readonly gaps = new AckGaps();
  private sessionAtStart = '';
  private seq = 0;
  private inFlight = 0;
  private setAckedCount = 0;
  private setAckedSeqMax = 0;
  private setSentSeqMax = 0;
  private timer: NodeJS.Timeout | null = null;

  private constructor(name: string, ports: readonly number[], root: string, random: Random) {
    this.name = name;
    this.root = root;
    this.random = random;
    this.client = zookeeper.createClient(ports.map((p) => `127.0.0.1:${p}`).join(','), { sessionTimeout: SESSION_TIMEOUT_MS, spinDelay: 200, retries: 0 });
    // the library shuffles the servers; a session starts on its home server (ports[0]) and moves in the given order
    this.client.connectionManager.servers = ports.map((port) => ({ host: '127.0.0.1', port }));
    this.client.on('state', (state: any) => this.states.push(String(state.name)));
  }

  /** Connect (home server `ports[0]`), create /<root>/<name> and the ephemeral /<root>/eph-<name>. */
  static async start(name: string, ports: readonly number[], root: string, random: Random): Promise<NodeWriter> {
    const w = new NodeWriter(name, ports, root, random);
    w.client.connect();
    await waitFor(() => w.states.includes('SYNC_CONNECTED'), { timeoutMs: CONNECT_DEADLINE_MS, what: `${name} to connect` });
    w.sessionAtStart = hex(w.client.getSessionId());
    for (const [p, mode, data] of [[w.setPath, zookeeper.CreateMode.PERSISTENT, `${name}:0`], [`${root}/eph-${name}`, zookeeper.CreateMode.EPHEMERAL, w.sessionAtStart]] as const) {
      const error = await call((cb) => w.client.create(p, Buffer.from(data), zookeeper.ACL.OPEN_ACL_UNSAFE, mode, cb));
      if (error !== null) throw new Error(`${name}: create ${p}: ${error}`);
    }
    return w;
  }

  get setPath(): string {
    return `${this.root}/${this.name}`;
  }

  /** Every periodMs, one more write if fewer than inFlightMax are outstanding: a create, or a setData one time in four. */
  run(periodMs: number, inFlightMax: number): void {
    this.timer = setInterval(() => {
      if (this.inFlight < inFlightMax) void this.writeOnce();
    }, periodMs);
  }

  private async writeOnce(): Promise<void> {
    const seq = ++this.seq;
    const data = `${this.name}:${seq}`;
    this.inFlight += 1;
    if (this.random() < 0.25) {
      this.setSentSeqMax = seq;
      const error = await call((cb) => this.client.setData(this.setPath, Buffer.from(data), -1, cb));
      if (error === null) {
        this.gaps.ack();
        this.setAckedCount += 1;
        this.setAckedSeqMax = Math.max(this.setAckedSeqMax, seq);
      } else {
        bump(this.errors, error);
      }
    } else {
      const p = `${this.setPath}/n-${seq}`;
      const error = await call((cb) => this.client.create(p, Buffer.from(data), zookeeper.ACL.OPEN_ACL_UNSAFE, zookeeper.CreateMode.PERSISTENT, cb));
      if (error === null) {
        this.gaps.ack();
        this.acked.set(p, data);
      } else {
        bump(this.errors, error);
      }
    }
    this.inFlight -= 1;
  }

  ackedCount(): number {
    return this.acked.size + this.setAckedCount;
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await waitFor(() => this.inFlight === 0, { timeoutMs: DRAIN_DEADLINE_MS, what: `${this.name}'s writes in flight to be answered` });
  }

  report(): WriterReport {
    return {
      name: this.name, sessionAtStart: this.sessionAtStart, sessionNow: hex(this.client.getSessionId()), acked: this.acked,
      setPath: this.setPath, setAckedCount: this.setAckedCount, setAckedSeqMax: this.setAckedSeqMax, setSentSeqMax: this.setSentSeqMax,
      errors: this.errors, states: this.states, ackGapMsMax: this.gaps.gapMsMax,
    };
  }

  async close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.client.close();
    await waitFor(() => this.states.at(-1) !== 'SYNC_CONNECTED', { timeoutMs: 10_000, what: `${this.name} to close` }).catch(() => undefined);
  }
}

const PYTHON = '/usr/bin/python3'; // Debian's python, where python3-kazoo is installed
const KAZOO_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'quorum', 'kazoo_migration.py');

export class KazooWriter implements Writer {
  readonly name = 'kazoo';
  private readonly child: ChildProcess;
  private readonly acked = new Map<string, string>();
  private readonly errors = new Map<string, number>();
  private readonly states: string[] = [];
  private readonly gaps = new AckGaps();
  private stderr = '';
  private sessionAtStart = '';
  private sessionNow = '';

  private constructor(ports: readonly number[], periodMs: number) {
    this.child = spawn(PYTHON, [KAZOO_SCRIPT, ports.map((p) => `127.0.0.1:${p}`).join(','), String(periodMs)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let pending = '';
    this.child.stdout!.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      for (let at = pending.indexOf('\n'); at >= 0; at = pending.indexOf('\n')) {
        this.onLine(JSON.parse(pending.slice(0, at)) as Record<string, unknown>);
        pending = pending.slice(at + 1);
      }
    });
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-8_000);
    });
  }

  private onLine(line: Record<string, unknown>): void {
    if (typeof line.acked === 'string') {
      this.gaps.ack();
      this.acked.set(line.acked, String(line.data));
    }
    if (typeof line.error === 'string') bump(this.errors, line.error);
    if (typeof line.state === 'string') this.states.push(line.state);
    if (typeof line.ready === 'string') this.sessionAtStart = line.ready;
    if (typeof line.stopped === 'string') this.sessionNow = line.stopped;
  }

  /** Start the process (home server `ports[0]`); resolves once its ephemeral exists. */
  static async start(ports: readonly number[], periodMs: number): Promise<KazooWriter> {
    const w = new KazooWriter(ports, periodMs);
    await waitFor(() => {
      if (w.child.exitCode !== null) throw new Error(`kazoo_migration.py exited ${w.child.exitCode}:\n${w.stderr}`);
      return w.sessionAtStart !== '';
    }, { timeoutMs: CONNECT_DEADLINE_MS, what: `kazoo to connect and create its ephemeral (stderr: ${w.stderr})` });
    return w;
  }

  ackedCount(): number {
    return this.acked.size;
  }

  async stop(): Promise<void> {
    this.child.stdin!.write('stop\n');
    await waitFor(() => this.sessionNow !== '', { timeoutMs: DRAIN_DEADLINE_MS, what: `kazoo to stop writing (stderr: ${this.stderr})` });
  }

  report(): WriterReport {
    return {
      name: this.name, sessionAtStart: this.sessionAtStart, sessionNow: this.sessionNow, acked: this.acked,
      setPath: null, setAckedCount: 0, setAckedSeqMax: 0, setSentSeqMax: 0, errors: this.errors, states: this.states,
      ackGapMsMax: this.gaps.gapMsMax,
    };
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin!.end('close\n');
    await withDeadline(exited, 20_000, 'kazoo to close').catch(() => this.child.kill('SIGKILL'));
  }
}
