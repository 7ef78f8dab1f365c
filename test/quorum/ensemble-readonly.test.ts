// Read-only mode (readonlymode.enabled), side by side with Apache ZooKeeper 3.8: three servers,
// the two others killed, the survivor looks for a leader in vain and after its grace
// (max(2 s, tickTime)) serves read-only clients: reads answered, writes and sync NOTREADONLY,
// a client that did not ask for read-only closed without an answer, an ensemble session closed
// too (ReadOnlyZooKeeperServer.validateSession), `isro` "ro", srvr/mntr Mode "read-only". The two
// come back: the survivor rejoins, its read-only connections are closed, a kazoo client with
// read_only=True reconnects (its read-only session is unknown to the ensemble: expired, a new
// session) and writes; the C client (cli_mt -r) reads and is refused a create. Without
// readonlymode.enabled the survivor serves nothing.
//
// ZooKeeper reads only the JVM flag -Dreadonlymode.enabled=true (zoo.cfg's key becomes the
// zookeeper.-prefixed property, which QuorumPeer does not read), and its read-only server needs
// localSessionsEnabled=true: without it a new session's handshake is answered with a bare
// NOTREADONLY reply header that no client can parse (measured: kazoo fails to deserialize it
// and retries forever). zooid's read-only sessions are always local.
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { describe, it, expect, afterAll } from 'vitest';
import { JuteReader, JuteWriter } from '../../native-free-io/jute.ts';
import { Err, Op } from '../../engine/protocol.ts';
import { allocatePorts, Cleanups, serverLines, startZooidPeer, startZooKeeperPeer, type PeerPorts } from '../support/ensemble.ts';
import { fourLetterWord } from '../support/servers.ts';
import { waitFor, withDeadline } from '../support/wait.ts';
import { ZkSession } from '../support/zkclient.ts';

const PYTHON = '/usr/bin/python3'; // Debian's python, where python3-kazoo is installed
const CLI_MT = '/usr/lib/zookeeper/bin/cli_mt';
const KAZOO_SCRIPT = path.join(import.meta.dirname, 'kazoo_readonly.py');
const DEADLINE_MS = 60_000;

type Kind = 'zooid' | 'zookeeper';

interface Member {
  sid: number;
  clientPort: number;
  kill9(): Promise<void>;
  restart(): Promise<void>;
  logTail(lineCount?: number): string;
}

const cleanups = new Cleanups();
afterAll(() => cleanups.run(), 60_000);

async function startMember(kind: Kind, p: PeerPorts, lines: string[], readOnly: boolean): Promise<Member> {
  if (kind === 'zooid') {
    const peer = await startZooidPeer(p, lines, readOnly ? { 'readonlymode.enabled': 'true' } : {});
    cleanups.push(() => peer.stop());
    return peer;
  }
  const flags = readOnly ? ['-Dreadonlymode.enabled=true'] : [];
  const extra = { localSessionsEnabled: 'true', localSessionsUpgradingEnabled: 'true' };
  let peer = await startZooKeeperPeer(p.sid, p.clientPort, lines, undefined, extra, flags);
  cleanups.push(() => peer.stop());
  return {
    sid: p.sid,
    clientPort: p.clientPort,
    kill9: () => peer.kill9(),
    async restart() {
      peer = await startZooKeeperPeer(p.sid, p.clientPort, lines, peer.dir, extra, flags);
    },
    logTail: (n) => peer.logTail(n),
  };
}

async function startEnsemble(kind: Kind, readOnly: boolean): Promise<Member[]> {
  const ports = await allocatePorts([1, 2, 3]);
  const lines = serverLines(ports);
  const members = await Promise.all(ports.map((p) => startMember(kind, p, lines, readOnly)));
  await waitFor(async () => (await Promise.all(members.map((m) => mode(m.clientPort)))).every((m) => m === 'leader' || m === 'follower'),
    { timeoutMs: DEADLINE_MS, what: `${kind}: three serving`, intervalMs: 100 });
  return members;
}

async function mode(port: number): Promise<string | null> {
  const m = /^Mode: ([\w-]+)/m.exec(await fourLetterWord(port, 'srvr', 1_000).catch(() => ''));
  return m === null ? null : m[1];
}

/** A bare client: ZooKeeper's frames on a socket, to see exactly what the server answers (or that it closes). */
class RawClient {
  private buffered = Buffer.alloc(0);
  private readonly frames: Buffer[] = [];
  private wake: (() => void) | null = null;
  closed = false;

  private readonly socket: net.Socket;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      while (this.buffered.length >= 4 && this.buffered.length >= 4 + this.buffered.readInt32BE(0)) {
        this.frames.push(this.buffered.subarray(4, 4 + this.buffered.readInt32BE(0)));
        this.buffered = this.buffered.subarray(4 + this.buffered.readInt32BE(0));
      }
      this.wake?.();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }

  static async open(port: number): Promise<RawClient> {
    const socket = net.connect(port, '127.0.0.1');
    await withDeadline(new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject)), 5_000, 'a TCP connection');
    return new RawClient(socket);
  }

  /** The next frame, or null once the server closed the connection with none left. */
  async next(): Promise<Buffer | null> {
    await withDeadline(new Promise<void>((resolve) => {
      const check = () => (this.frames.length > 0 || this.closed ? resolve() : (this.wake = check));
      check();
    }), 10_000, 'a frame or the close');
    return this.frames.shift() ?? null;
  }

  send(body: (w: JuteWriter) => void): void {
    const w = new JuteWriter(256);
    const at = w.beginFrame();
    body(w);
    w.endFrame(at);
    this.socket.write(w.copy());
  }

  /** ConnectRequest with the readOnly byte; the ConnectResponse, or null when the server closed instead. */
  async connect(readOnly: boolean, sessionId = 0n, passwd: Buffer = Buffer.alloc(16)): Promise<{ sessionId: bigint; passwd: Buffer; readOnly: boolean } | null> {
    this.send((w) => w.int(0).longNumber(0).int(10_000).long(sessionId).buffer(passwd).bool(readOnly));
    const f = await this.next();
    if (f === null) return null;
    const r = new JuteReader(f);
    r.int();
    r.int();
    const id = r.long();
    const sessionPasswd = Buffer.from(r.buffer() ?? Buffer.alloc(0));
    return { sessionId: id, passwd: sessionPasswd, readOnly: r.bool() };
  }

  /** A request; its reply header's err and zxid, and the rest of the reply. */
  async call(xid: number, type: number, body: (w: JuteWriter) => void): Promise<{ err: number; zxid: number; rest: JuteReader }> {
    this.send((w) => body(w.int(xid).int(type)));
    const f = await this.next();
    if (f === null) throw new Error(`connection closed instead of answering request type ${type}`);
    const r = new JuteReader(f);
    expect(r.int()).toBe(xid);
    return { zxid: r.longNumber(), err: r.int(), rest: r };
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/**
 * The C client with -r (read-only): its session state, then a get of /a and a create, each written
 * once the previous answer is printed. The state, the get's rc and value, the create's rc.
 */
async function runCliMtReadOnly(port: number): Promise<string[]> {
  const child = spawn(CLI_MT, ['-h', `127.0.0.1:${port}`, '-r'], { stdio: ['pipe', 'pipe', 'pipe'] });
  cleanups.push(async () => void child.kill('SIGKILL'));
  let output = '';
  child.stdout.on('data', (b: Buffer) => (output += b.toString('utf8')));
  child.stderr.on('data', (b: Buffer) => (output += b.toString('utf8')));
  const seen: string[] = [];
  const step = async (command: string | null, until: RegExp): Promise<void> => {
    const from = output.length;
    if (command !== null) child.stdin.write(`${command}\n`);
    const m = await waitFor(() => output.slice(from).match(until), { timeoutMs: DEADLINE_MS, what: `cli_mt: ${command} → ${until}` })
      .catch((e: Error) => Promise.reject(new Error(`${e.message}\noutput:\n${output}`)));
    seen.push(...m.slice(1));
  };
  try {
    await step(null, /SESSION_EVENT state = (\w+)/);
    await step('get /a', /\/a: rc = (-?\d+)\n value_len = \d+\n(.*)\n/);
    await step('create /d x', /\[\/d x\]: rc = (-?\d+)/);
    child.stdin.end('quit\n');
  } finally {
    child.kill('SIGKILL');
  }
  return seen;
}

interface KazooRun {
  lines: Record<string, unknown>[];
  ready: Promise<void>;
  done: Promise<void>;
}

function runKazoo(port: number): KazooRun {
  const child = spawn(PYTHON, [KAZOO_SCRIPT, String(port), '90'], { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanups.push(async () => void child.kill('SIGKILL'));
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  let out = '';
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
    for (let at = out.indexOf('\n'); at !== -1; at = out.indexOf('\n')) {
      const line = JSON.parse(out.slice(0, at)) as Record<string, unknown>;
      out = out.slice(at + 1);
      lines.push(line);
      if (line.step === 'READY') onReady();
    }
  });
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const done = new Promise<void>((resolve, reject) => child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`kazoo exited ${code}: ${stderr.slice(-2000)}`)))));
  return { lines, ready: Promise.race([ready, done]), done };
}

/** A ConnectRequest's outcome: closed without an answer, answered as expired (session 0), or a session. */
function answerKind(hello: { sessionId: bigint } | null): string {
  return hello === null ? 'closed' : hello.sessionId === 0n ? 'expired' : 'session';
}

/** What clients of the survivor saw, to compare zooid with ZooKeeper. */
async function scenario(kind: Kind): Promise<Record<string, unknown>> {
  const seen: Record<string, unknown> = {};
  const members = await startEnsemble(kind, true);
  const modes = await Promise.all(members.map((m) => mode(m.clientPort)));
  const survivor = members[modes.indexOf('follower')];
  const others = members.filter((m) => m !== survivor);
  const port = survivor.clientPort;
  const writer = await ZkSession.connect('writer', port, { sessionTimeoutMs: 30_000, connectTimeoutMs: 30_000, requestTimeoutMs: 10_000 });
  expect((await writer.create('/a', 'hello')).err).toBe('OK');
  seen.isroBefore = await fourLetterWord(port, 'isro');
  await writer.dispose();
  // a session of the ensemble, its connection open until the cut (so it neither closes nor expires); its
  // ephemeral makes it global on ZooKeeper too (with localSessionsEnabled a session starts local to its server)
  const globalHolder = await RawClient.open(port);
  const globalSession = (await globalHolder.connect(false))!;
  expect(globalSession.readOnly).toBe(false);
  expect((await globalHolder.call(1, Op.create, (w) => w.string('/holder').buffer(null).int(1).int(31).string('world').string('anyone').int(1))).err).toBe(Err.OK);

  const cutAt = performance.now();
  await Promise.all(others.map((m) => m.kill9()));
  await waitFor(async () => (await fourLetterWord(port, 'isro', 1_000).catch(() => '')) === 'ro', { timeoutMs: DEADLINE_MS, what: `${kind}: isro ro`, intervalMs: 50 });
  const readOnlyAfterMs = performance.now() - cutAt;
  globalHolder.destroy();
  console.log(`${kind}: read-only ${readOnlyAfterMs.toFixed(0)} ms after the cut`);
  expect(readOnlyAfterMs).toBeGreaterThanOrEqual(1_900);
  const srvr = await fourLetterWord(port, 'srvr');
  seen.srvrMode = /^Mode: (.*)$/m.exec(srvr)?.[1];
  seen.srvrBanner = srvr.includes('READ-ONLY mode; serving only read-only clients');
  const mntr = await fourLetterWord(port, 'mntr');
  seen.mntrState = /^zk_server_state\t(.*)$/m.exec(mntr)?.[1];
  seen.mntrPeerState = /^zk_peer_state\t/m.test(mntr);
  seen.mntrQuorumSize = /^zk_quorum_size\t/m.test(mntr);
  seen.statBanner = (await fourLetterWord(port, 'stat')).includes('READ-ONLY mode; serving only read-only clients');

  const notReadOnly = await RawClient.open(port);
  seen.notReadOnlyClient = answerKind(await notReadOnly.connect(false));
  const global = await RawClient.open(port);
  seen.globalSessionReconnect = answerKind(await global.connect(true, globalSession.sessionId, globalSession.passwd));

  const ro = await RawClient.open(port);
  const hello = await ro.connect(true);
  expect(hello).not.toBeNull();
  seen.connectReadOnly = hello!.readOnly;
  seen.sessionOfSurvivor = Number(hello!.sessionId >> 56n) === survivor.sid;
  const get = await ro.call(1, Op.getData, (w) => w.string('/a').bool(false));
  seen.getData = [get.err, get.rest.buffer()?.toString()];
  const lastZxid = get.zxid;
  const create = await ro.call(2, Op.create, (w) => w.string('/b').buffer(Buffer.from('x')).int(1).int(31).string('world').string('anyone').int(0));
  seen.create = create.err;
  expect(create.zxid).toBe(lastZxid);
  seen.sync = (await ro.call(3, Op.sync, (w) => w.string('/'))).err;
  seen.setData = (await ro.call(4, Op.setData, (w) => w.string('/a').buffer(Buffer.from('y')).int(-1))).err;
  seen.exists = (await ro.call(5, Op.exists, (w) => w.string('/a').bool(false))).err;
  seen.children = (await ro.call(6, Op.getChildren, (w) => w.string('/').bool(false))).err;
  const second = await RawClient.open(port);
  const secondHello = await second.connect(true);
  const closeReply = await second.call(7, Op.closeSession, () => {});
  seen.closeReadOnlySession = [closeReply.err, await second.next()];
  const reattach = await RawClient.open(port);
  seen.reattachClosedSession = answerKind(await reattach.connect(true, secondHello!.sessionId, secondHello!.passwd));

  seen.cliMt = await runCliMtReadOnly(port);

  const kazoo = runKazoo(port);
  await withDeadline(kazoo.ready, DEADLINE_MS, `${kind}: kazoo read-only`);

  const backAt = performance.now();
  await Promise.all(others.map((m) => m.restart()));
  await waitFor(async () => ['leader', 'follower'].includes((await mode(port)) ?? ''), { timeoutMs: DEADLINE_MS, what: `${kind}: the survivor rejoins`, intervalMs: 100 });
  console.log(`${kind}: rejoined ${(performance.now() - backAt).toFixed(0)} ms after the others restarted`);
  seen.readOnlyConnectionAfterRejoin = (await ro.next()) === null ? 'closed' : 'frame';
  seen.isroAfter = await fourLetterWord(port, 'isro');
  await withDeadline(kazoo.done, 120_000, `${kind}: kazoo reconnects and writes`);
  seen.kazoo = kazoo.lines.map((l) => (l.step === 'reconnected' ? { ...l, states: [...new Set(l.states as string[])].sort() } : l));
  for (const c of [notReadOnly, global, ro, second, reattach]) c.destroy();
  const check = await ZkSession.connect('check', port, { connectTimeoutMs: 30_000, requestTimeoutMs: 10_000 });
  await check.sync('/');
  seen.writtenAfter = (await check.getData('/c')).data;
  await check.dispose();
  return seen;
}

describe('read-only mode (readonlymode.enabled), zooid beside ZooKeeper 3.8', () => {
  it('a survivor of three serves read-only clients, refuses writes and the others, and rejoins', async () => {
    const zk = await scenario('zookeeper');
    const zooid = await scenario('zooid');
    console.log(JSON.stringify({ zk, zooid }, (_k, v) => (typeof v === 'bigint' ? v.toString() : Buffer.isBuffer(v) ? v.toString() : v), 1));
    expect(zooid).toEqual(zk);
    expect(zooid).toMatchObject({
      isroBefore: 'rw', srvrMode: 'read-only', srvrBanner: true, mntrState: 'read-only', notReadOnlyClient: 'closed',
      globalSessionReconnect: 'closed', reattachClosedSession: 'expired', connectReadOnly: true, getData: [Err.OK, 'hello'], create: Err.NOTREADONLY, sync: Err.NOTREADONLY,
      setData: Err.NOTREADONLY, readOnlyConnectionAfterRejoin: 'closed', isroAfter: 'rw', cliMt: ['READONLY_STATE', '0', 'hello', String(Err.NOTREADONLY)],
    });
  }, 400_000);

  it('without readonlymode.enabled a survivor serves nothing, read-only clients included', async () => {
    const members = await startEnsemble('zooid', false);
    const survivor = members[0];
    await Promise.all(members.slice(1).map((m) => m.kill9()));
    await waitFor(async () => (await mode(survivor.clientPort)) === null, { timeoutMs: DEADLINE_MS, what: 'the survivor stops serving', intervalMs: 100 });
    // past the grace: still nothing for a read-only client
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // the absence of a change has no event to wait for
    const ro = await RawClient.open(survivor.clientPort);
    expect(await ro.connect(true)).toBeNull();
    ro.destroy();
    expect(await mode(survivor.clientPort)).toBeNull();
    expect(await fourLetterWord(survivor.clientPort, 'isro')).toBe('null'); // IsroCommand while no server runs
  }, 120_000);
});
