// Ensembles for quorum tests: loopback ports for server.N lines, zooid members (startZooidPeer),
// and Apache ZooKeeper 3.8 peers (QuorumPeerMain) that may never serve clients (their leader may be a zooid election
// runner that does not speak Zab yet), so they are ready once `ruok` answers, not once
// `srvr` shows a Mode as in servers.ts. Their election decisions are read from
// FastLeaderElection's DEBUG line "About to leave FLE instance: leader=…, my state=…".

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fourLetterWord, freePort, startZooid, NETTY_EXTRA_JARS, type ServerHandle } from './servers.ts';
import { waitFor, withDeadline } from './wait.ts';
import { ZkSession, type ConnectOptions } from './zkclient.ts';

export interface PeerPorts {
  sid: number;
  quorumPort: number;
  electionPort: number;
  clientPort: number;
}

/** Three distinct free loopback ports per sid (freePort moves on to the next port at each call). */
export async function allocatePorts(sids: readonly number[]): Promise<PeerPorts[]> {
  const out: PeerPorts[] = [];
  for (const sid of sids) out.push({ sid, quorumPort: await freePort(), electionPort: await freePort(), clientPort: await freePort() });
  return out;
}

export function serverLines(ports: readonly PeerPorts[], observers: readonly number[] = []): string[] {
  return ports.map((p) => `server.${p.sid}=127.0.0.1:${p.quorumPort}:${p.electionPort}${observers.includes(p.sid) ? ':observer' : ''}`);
}

export interface FleExit {
  leader: number;
  myid: number;
  state: string;
}

export interface ZooKeeperPeer {
  sid: number;
  clientPort: number;
  dir: string;
  logFile: string;
  /** The JVM's process id (the fault harness stops and continues it). */
  pid: number;
  /** Has the JVM exited? */
  hasExited(): boolean;
  /** Every election this peer finished, in order. */
  elections(): FleExit[];
  /** `srvr`'s Mode line (leader, follower, observer), null while not serving. */
  mode(): Promise<string | null>;
  logTail(lineCount?: number): string;
  /** SIGSTOP / SIGCONT: freeze the process (a partition that keeps its sockets open) and thaw it. */
  signal(signal: 'SIGSTOP' | 'SIGCONT'): void;
  /** SIGKILL; the dir stays (startZooKeeperPeer(..., peer.dir) starts it again). */
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

// servlet-api for the AdminServer's Jetty (tests that pass admin.enableServer=true)
export const ZOOKEEPER_CLASSPATH = ['zookeeper.jar', 'slf4j-log4j12.jar', 'log4j-1.2.jar', 'servlet-api.jar'].map((j) => path.join('/usr/share/java', j)).filter((j) => fs.existsSync(j));
const STOP_DEADLINE_MS = 10_000;
const FLE_EXIT = /About to leave FLE instance: leader=(\d+), zxid=0x[0-9a-f]+, my id=(\d+), my state=(\w+)/g;

/** log4j 1.2 settings: INFO to stdout, and the election at DEBUG for its exit line. */
export function log4jSettings(): string {
  const layout = 'org.apache.log4j.PatternLayout';
  return `log4j.rootLogger=INFO, out\nlog4j.appender.out=org.apache.log4j.ConsoleAppender\nlog4j.appender.out.layout=${layout}\n` +
    'log4j.appender.out.layout.ConversionPattern=%d{ISO8601} %-5p [%t] %c{1} - %m%n\n' +
    'log4j.logger.org.apache.zookeeper.server.quorum.FastLeaderElection=DEBUG\n';
}

/**
 * Start QuorumPeerMain as server `sid` of `lines`; resolves once its client port answers ruok.
 * `reuseDir`: the dir of a peer killed with kill9(), to start again on its dataDir.
 * `extra`: zoo.cfg keys written after the defaults (a later line wins: admin.enableServer=true, ...).
 * `jvmFlags`: more JVM flags (-Djava.security.auth.login.config=… for quorum SASL).
 */
export async function startZooKeeperPeer(sid: number, clientPort: number, lines: readonly string[], reuseDir?: string,
  extra: Readonly<Record<string, string>> = {}, jvmFlags: readonly string[] = []): Promise<ZooKeeperPeer> {
  const dir = reuseDir ?? fs.mkdtempSync(path.join(os.tmpdir(), `zooid-zkpeer${sid}-`));
  const dataDir = path.join(dir, 'data');
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(path.join(dataDir, 'myid'), `${sid}\n`);
  fs.writeFileSync(path.join(dir, 'log4j.properties'), log4jSettings());
  const cfg = [
    'tickTime=1000', 'initLimit=5', 'syncLimit=2', `dataDir=${dataDir}`, `clientPort=${clientPort}`,
    'clientPortAddress=127.0.0.1', 'admin.enableServer=false', '4lw.commands.whitelist=*', ...lines,
    ...Object.entries(extra).map(([k, v]) => `${k}=${v}`),
  ];
  fs.writeFileSync(path.join(dir, 'zoo.cfg'), cfg.join('\n') + '\n');
  const logFile = path.join(dir, 'zookeeper.log');
  const out = fs.openSync(logFile, 'a');
  const child = spawn('java', [
    '-Xmx128m', '-XX:+UseSerialGC', `-Dlog4j.configuration=file:${path.join(dir, 'log4j.properties')}`, ...jvmFlags,
    '-cp', [dir, ...ZOOKEEPER_CLASSPATH, ...NETTY_EXTRA_JARS].join(':'),
    'org.apache.zookeeper.server.quorum.QuorumPeerMain', path.join(dir, 'zoo.cfg'),
  ], { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const readLog = () => fs.readFileSync(logFile, 'utf8');
  const peer: ZooKeeperPeer = {
    sid,
    clientPort,
    dir,
    logFile,
    pid: child.pid ?? -1,
    hasExited: () => child.exitCode !== null || child.signalCode !== null,
    elections: () => [...readLog().matchAll(FLE_EXIT)].map((m) => ({ leader: Number(m[1]), myid: Number(m[2]), state: m[3] })),
    mode: () => srvrMode(clientPort),
    logTail: (lineCount = 30) => readLog().split('\n').slice(-lineCount).join('\n'),
    signal(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    async kill9() {
      child.kill('SIGCONT');
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await withDeadline(exited, STOP_DEADLINE_MS, `ZooKeeper peer ${sid} to exit`);
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await withDeadline(exited, STOP_DEADLINE_MS, `ZooKeeper peer ${sid} to exit`);
      }
      if (process.env.ZOOID_TEST_KEEP_TMP !== '1') fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitFor(async () => child.exitCode === null && (await fourLetterWord(clientPort, 'ruok', 1_000)) === 'imok', {
      timeoutMs: 30_000,
      what: `ZooKeeper peer ${sid} to answer ruok on ${clientPort}`,
      intervalMs: 100,
    });
  } catch (e) {
    const tail = peer.logTail();
    await peer.stop();
    throw new Error(`${(e as Error).message}\n${tail}`);
  }
  return peer;
}

/** What a test started, stopped after it newest first; a cleanup that fails or hangs is reported, not thrown. */
export class Cleanups {
  private readonly list: (() => Promise<void>)[] = [];

  push(cleanup: () => Promise<void>): void {
    this.list.push(cleanup);
  }

  /** For afterEach. */
  async run(deadlineMs = 30_000): Promise<void> {
    for (const c of this.list.splice(0).reverse()) await withDeadline(c(), deadlineMs, 'a cleanup').catch((e: Error) => console.error(`cleanup: ${e.message}`));
  }

  /** A ZooKeeper peer (startZooKeeperPeer) stopped after the test. */
  async zookeeper(ports: PeerPorts, lines: readonly string[], extra: Record<string, string> = {}): Promise<ZooKeeperPeer> {
    const peer = await startZooKeeperPeer(ports.sid, ports.clientPort, lines, undefined, extra);
    this.push(() => peer.stop());
    return peer;
  }

  /** A zooid member (startZooidPeer) stopped after the test. */
  async zooid(ports: PeerPorts, lines: readonly string[], extra: Record<string, string> = {}): Promise<ZooidPeer> {
    const peer = await startZooidPeer(ports, lines, extra);
    this.push(() => peer.stop());
    return peer;
  }

  /** A zooid ensemble of `sids` (those in `observers` as server.N=...:observer with peerType=observer), all started at once. */
  async zooidEnsemble(sids: readonly number[], observers: readonly number[] = []): Promise<{ peers: ZooidPeer[]; ports: PeerPorts[]; lines: string[] }> {
    const ports = await allocatePorts(sids);
    const lines = serverLines(ports, observers);
    const peers = await Promise.all(ports.map((p) => this.zooid(p, lines, observers.includes(p.sid) ? { peerType: 'observer' } : {})));
    return { peers, ports, lines };
  }

  /** A ZkSession (test/support/zkclient.ts) disposed after the test. */
  async session(name: string, port: number, options: ConnectOptions = {}): Promise<ZkSession> {
    const s = await ZkSession.connect(name, port, { sessionTimeoutMs: 10_000, connectTimeoutMs: 60_000, requestTimeoutMs: 20_000, ...options });
    this.push(() => s.dispose());
    return s;
  }
}

/** `srvr`'s Mode line on a client port (leader, follower, observer, standalone), null while not serving. */
export async function srvrMode(clientPort: number): Promise<string | null> {
  const m = /^Mode: (\w+)/m.exec(await fourLetterWord(clientPort, 'srvr', 1_000).catch(() => ''));
  return m === null ? null : m[1];
}

/** zoo.cfg timing for every member of a test ensemble (ZooKeeper peers above use the same). */
export const ENSEMBLE_TIMING = { tickTime: '1000', initLimit: '5', syncLimit: '2' } as const;

export interface ZooidPeer {
  sid: number;
  clientPort: number;
  dataDir: string;
  /** The running process (replaced by restart()). */
  handle: ServerHandle;
  /** `srvr`'s Mode (leader, follower, observer), null while not serving. */
  mode(): Promise<string | null>;
  /** kill -9; the dataDir stays for restart(). */
  kill9(): Promise<void>;
  /** SIGSTOP / SIGCONT: freeze the process (a partition that keeps its sockets open) and thaw it. */
  signal(signal: 'SIGSTOP' | 'SIGCONT'): void;
  /** Start again on the same dataDir and ports. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  logTail(lineCount?: number): string;
}

/**
 * A zooid ensemble member (`zooid server zoo.cfg` with the server.N lines, myid in a dataDir of
 * its own, or in `dataDir`: another server's, e.g. a ZooKeeper peer's being replaced).
 */
export async function startZooidPeer(ports: PeerPorts, lines: readonly string[], extra: Record<string, string> = {}, existingDataDir?: string): Promise<ZooidPeer> {
  const dataDir = existingDataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), `zooid-peer${ports.sid}-`));
  fs.writeFileSync(path.join(dataDir, 'myid'), `${ports.sid}\n`);
  const config: Record<string, string> = { ...ENSEMBLE_TIMING, ...extra };
  for (const line of lines) {
    const at = line.indexOf('=');
    config[line.slice(0, at)] = line.slice(at + 1);
  }
  const start = () => startZooid({ port: ports.clientPort, dataDir, config });
  const peer: ZooidPeer = {
    sid: ports.sid,
    clientPort: ports.clientPort,
    dataDir,
    handle: await start(),
    mode: () => srvrMode(ports.clientPort),
    kill9: () => {
      peer.signal('SIGCONT'); // a stopped process is killed all the same, but its exit is only reaped once it runs
      return peer.handle.kill9();
    },
    signal(signal) {
      try {
        process.kill(peer.handle.pid, signal);
      } catch {
        // gone already
      }
    },
    async restart() {
      peer.handle = await start();
    },
    async stop() {
      peer.signal('SIGCONT');
      await peer.handle.stop();
      if (process.env.ZOOID_TEST_KEEP_TMP !== '1') fs.rmSync(dataDir, { recursive: true, force: true });
    },
    logTail: (lineCount = 40) => peer.handle.logTail(lineCount),
  };
  return peer;
}

/**
 * Waits until exactly one of `peers` leads, those in `observers` (sids) observe and the others follow;
 * returns the leader (the failure names the modes and each log's tail).
 */
export async function oneLeader<P extends Pick<ZooidPeer, 'sid' | 'mode' | 'logTail'>>(peers: readonly P[], what: string, timeoutMs: number, observers: readonly number[] = []): Promise<P> {
  let seen: (string | null)[] = [];
  try {
    await waitFor(async () => {
      seen = await Promise.all(peers.map((p) => p.mode()));
      return seen.filter((m) => m === 'leader').length === 1 &&
        seen.every((m, i) => (observers.includes(peers[i].sid) ? m === 'observer' : m === 'leader' || m === 'follower'));
    }, { timeoutMs, what, intervalMs: 100 });
  } catch (e) {
    // the modes and logs as they were at the deadline
    throw new Error(`${(e as Error).message} (modes ${JSON.stringify(seen)})\n${peers.map((p) => `--- server ${p.sid}\n${p.logTail(15)}`).join('\n')}`);
  }
  return peers[seen.indexOf('leader')];
}
