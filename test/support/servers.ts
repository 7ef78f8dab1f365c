// Start and stop real servers for integration and compatibility tests:
// Apache ZooKeeper 3.8 (Debian's packages, the oracle) and zooid
// (`process.execPath engine/cli.ts server <zoo.cfg>`), both standalone, each in
// its own temp dir with a fresh dataDir, a free loopback port and its output
// captured to a log file that failure messages quote.
//
// Readiness is a polled condition with a deadline (ZooKeeper: `ruok` → `imok` and
// `srvr` shows a Mode; zooid: any answer to `ruok`), never a sleep, and the answering
// socket must be the child's.

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor, withDeadline } from './wait.ts';
import { LeanClient } from '../../client/lean.ts';

export type ServerKind = 'zookeeper' | 'zooid';

export interface ServerHandle {
  kind: ServerKind;
  port: number;
  /** Temp dir holding zoo.cfg, the log and (by default) the dataDir. */
  dir: string;
  dataDir: string;
  configPath: string;
  logFile: string;
  pid: number;
  /** SIGTERM, wait for exit (SIGKILL after a deadline). Removes the temp dir unless kept. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit; keeps the temp dir (dataDir) for a restart. */
  kill9(): Promise<void>;
  /** Last lines of the captured stdout+stderr, for failure messages. */
  logTail(lineCount?: number): string;
}

export interface StartOptions {
  /** Extra zoo.cfg lines (key → value); override the defaults. */
  config?: Record<string, string>;
  /** Reuse this dataDir (restart after kill9); default: a fresh one in the temp dir. */
  dataDir?: string;
  /** Use this client port; default: a free one (bind port 0 first). */
  port?: number;
  /** Deadline for the server to become ready. Default 30 s (JVM start). */
  readyTimeoutMs?: number;
  /** Keep the temp dir after stop() (also forced by ZOOID_TEST_KEEP_TMP=1). */
  keepDir?: boolean;
  /** Java system properties for Apache ZooKeeper (-Dkey=value); zooid reads the same keys from zoo.cfg. */
  systemProperties?: Record<string, string>;
  /** zooid only: run the zooid under this root instead of this repository's (test/fault/broken-build.ts). */
  zooidRoot?: string;
  /** Extra environment for the server process (the fault harness's clock-jump preloads libfaketime). */
  env?: Record<string, string>;
}

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ZOOID_CLI = path.join(REPO_ROOT, 'engine', 'cli.ts');

const JAVA_LIB_DIR = '/usr/share/java';
const ZOOKEEPER_JAR = path.join(JAVA_LIB_DIR, 'zookeeper.jar'); // its manifest Class-Path names its dependencies
const LOG4J_JARS = [path.join(JAVA_LIB_DIR, 'slf4j-log4j12.jar'), path.join(JAVA_LIB_DIR, 'log4j-1.2.jar')];
const SLF4J_NOP_JAR = path.join(JAVA_LIB_DIR, 'slf4j-nop.jar');
const SERVLET_API_JAR = path.join(JAVA_LIB_DIR, 'servlet-api.jar');
// Debian's zookeeper.jar manifest leaves out netty-codec and netty-resolver, which the Netty
// connection factory needs for TLS (secureClientPort) and the Netty client socket
export const NETTY_EXTRA_JARS = ['netty-codec.jar', 'netty-resolver.jar'].map((j) => path.join(JAVA_LIB_DIR, j)).filter((j) => fs.existsSync(j));

const LOG4J_PROPERTIES = [
  'log4j.rootLogger=INFO, CONSOLE',
  'log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender',
  'log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout',
  'log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} - %-5p [%t:%C{1}@%L] - %m%n',
  '',
].join('\n');

const STOP_TIMEOUT_MS = 10_000;
const PORT_RETRY_COUNT_MAX = 3; // another process may grab the port between our probe and the server's bind

/** Which implementation plays "zooid" in compat tests: ZOOID_COMPAT_TARGET=zookeeper makes it another Apache ZooKeeper. */
export function compatTarget(): ServerKind {
  const value = (process.env.ZOOID_COMPAT_TARGET ?? 'zooid').trim().toLowerCase();
  if (value === 'zookeeper' || value === 'zk') return 'zookeeper';
  if (value === 'zooid' || value === '') return 'zooid';
  throw new Error(`ZOOID_COMPAT_TARGET must be "zooid" or "zookeeper", not ${JSON.stringify(process.env.ZOOID_COMPAT_TARGET)}`);
}

export function startServer(kind: ServerKind, options: StartOptions = {}): Promise<ServerHandle> {
  return kind === 'zookeeper' ? startZooKeeper(options) : startZooid(options);
}

/** Start the oracle and the compat target side by side; if one fails, the other is stopped. */
export async function startPair(options: StartOptions = {}): Promise<{ oracle: ServerHandle; target: ServerHandle }> {
  const results = await Promise.allSettled([startZooKeeper(options), startServer(compatTarget(), options)]);
  const [oracle, target] = results;
  if (oracle.status === 'fulfilled' && target.status === 'fulfilled') return { oracle: oracle.value, target: target.value };
  for (const r of results) if (r.status === 'fulfilled') await r.value.stop();
  const reasons = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason?.message ?? r));
  throw new Error(reasons.join('\n\n'));
}

/**
 * Ports handed out for servers to bind later lie below the kernel's ephemeral range
 * (/proc/sys/net/ipv4/ip_local_port_range, 32768 and up on Linux): a port taken from that
 * range (bind to 0) is free only until some outgoing connection, for example one peer's to
 * another, happens to take it as its source port, and then the server's bind fails.
 */
const PICKED_PORT_MIN = 20_000;
const PICKED_PORT_END = 32_000;
let pickedPortCursor = PICKED_PORT_MIN + ((process.pid * 7919 + Date.now()) % (PICKED_PORT_END - PICKED_PORT_MIN));

function bindsOn(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A port that was free a moment ago on 127.0.0.1, outside the ephemeral range; each call in
 * a process moves on to the next port, so ports handed out together are distinct.
 */
export async function freePort(): Promise<number> {
  for (let tried = 0; tried < PICKED_PORT_END - PICKED_PORT_MIN; tried++) {
    const port = pickedPortCursor;
    pickedPortCursor = port + 1 >= PICKED_PORT_END ? PICKED_PORT_MIN : port + 1;
    if (await bindsOn(port)) return port;
  }
  throw new Error(`no free port on 127.0.0.1 between ${PICKED_PORT_MIN} and ${PICKED_PORT_END}`);
}

/** Send a four-letter word and return the whole answer ('' if the server closed without one). */
export function fourLetterWord(port: number, word: string, timeoutMs = 2_000): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.end(word));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to ${word} on port ${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      socket.destroy();
      if (chunks.length > 0) resolve(Buffer.concat(chunks).toString('utf8'));
      else reject(error);
    });
  });
}

/** Resolve true if something accepts a TCP connection on the port. */
/** Whether something accepts a TCP connection on 127.0.0.1:port (within timeoutMs). */
export function tcpAccepts(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => done(false), timeoutMs);
    function done(ok: boolean): void {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    }
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function zooCfg(port: number, dataDir: string, extra: Record<string, string> | undefined): string {
  const entries: Record<string, string> = {
    tickTime: '2000',
    dataDir,
    clientPort: String(port),
    clientPortAddress: '127.0.0.1',
    '4lw.commands.whitelist': '*',
    'admin.enableServer': 'false',
    ...extra,
  };
  return Object.entries(entries).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
}

const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // A crashed test run must not leave servers behind: kill what we started.
    process.once('exit', () => {
      for (const c of liveChildren) c.kill('SIGKILL');
    });
  }
}

function readTail(file: string, lineCount: number): string {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return `(no log at ${file})`;
  }
  const lines = text.split('\n');
  return lines.slice(Math.max(0, lines.length - lineCount - 1)).join('\n');
}

interface Launch {
  kind: ServerKind;
  command: string;
  args: (configPath: string, dir: string) => string[];
  /** Write extra files into the temp dir before start. */
  prepare?: (dir: string) => void;
  /**
   * zooid: any answer to ruok means it serves, "ruok is not executed because it is not in the
   * whitelist" too (its io workers listen only once the pipeline has recovered, and the
   * pipeline answers the words). Not an accepted TCP connection: a starting zooid listens on
   * the client port for a moment to claim it (engine/server.ts claimClientPorts), then closes
   * it until it serves, and a connection in that moment passed for a served one (tests then
   * got ECONNREFUSED from a server still loading).
   */
  anyAnswerIsReady: boolean;
}

/**
 * Whether process `pid` holds a socket listening on TCP `port` (any address): /proc/net/tcp
 * and tcp6 give the listening sockets' inodes, /proc/<pid>/fd the process's. Linux only, as
 * the servers these tests start.
 */
export function listensOn(pid: number, port: number): boolean {
  const inodes = new Set<string>();
  const portHex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local_address rem_address st ... inode (10th field); st 0A = LISTEN
      if (f.length > 9 && f[1].endsWith(portHex) && f[3] === '0A') inodes.add(f[9]);
    }
  }
  if (inodes.size === 0) return false;
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m !== null && inodes.has(m[1])) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

async function launch(spec: Launch, options: StartOptions): Promise<ServerHandle> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const keepDir = options.keepDir === true || process.env.ZOOID_TEST_KEEP_TMP === '1';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `zooid-${spec.kind}-`));
  const dataDir = options.dataDir ?? path.join(dir, 'data');
  fs.mkdirSync(dataDir, { recursive: true });
  const configPath = path.join(dir, 'zoo.cfg');
  const logFile = path.join(dir, 'server.log');
  spec.prepare?.(dir);

  let lastFailure = '';
  const attempts = options.port === undefined ? PORT_RETRY_COUNT_MAX : 1;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const port = options.port ?? (await freePort());
    fs.writeFileSync(configPath, zooCfg(port, dataDir, options.config));
    fs.appendFileSync(logFile, `==== starting ${spec.kind} on port ${port} (attempt ${attempt}) ====\n`);
    const logFd = fs.openSync(logFile, 'a');
    const child = spawn(spec.command, spec.args(configPath, dir), {
      cwd: spec.kind === 'zooid' ? (options.zooidRoot ?? REPO_ROOT) : dir,
      stdio: ['ignore', logFd, logFd],
      env: options.env === undefined ? process.env : { ...process.env, ...options.env },
    });
    fs.closeSync(logFd);
    track(child);
    let exitInfo: string | undefined;
    const exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        exitInfo = signal ? `signal ${signal}` : `code ${code}`;
        resolve();
      });
      child.once('error', (error) => {
        exitInfo = `spawn error: ${error.message}`;
        resolve();
      });
    });

    try {
      const outcome = await waitFor(
        async () => {
          if (exitInfo !== undefined) return 'exited';
          try {
            // ZooKeeper answers ruok with imok before it serves clients (its
            // first sessions get "ZooKeeperServer not running"); srvr says
            // "Mode: standalone" only once it serves.
            const answer = await fourLetterWord(port, 'ruok', 1_000);
            // the answer must come from this child: another server holding the port (a port
            // another test picked at the same moment) would otherwise pass for it
            if (answer === '' || !listensOn(child.pid ?? -1, port)) return false;
            if (spec.anyAnswerIsReady) return 'ready';
            if (answer === 'imok' && (await fourLetterWord(port, 'srvr', 1_000)).includes('Mode: ')) return 'ready';
          } catch {
            // not listening yet
          }
          return false;
        },
        { timeoutMs: readyTimeoutMs, what: `${spec.kind} on 127.0.0.1:${port} to be ready`, intervalMs: 50 },
      );
      if (outcome === 'exited') throw new ExitedEarly(exitInfo);
    } catch (error) {
      if (exitInfo === undefined) {
        child.kill('SIGKILL');
        await withDeadline(exited, STOP_TIMEOUT_MS, `${spec.kind} to exit`).catch(() => undefined);
      } else {
        await exited;
      }
      const tail = readTail(logFile, 40);
      lastFailure =
        `${spec.kind} did not become ready on port ${port}: ` +
        (error instanceof ExitedEarly ? `it exited early (${exitInfo})` : (error as Error).message) +
        `\nconfig ${configPath}, log ${logFile}; last lines:\n${tail}`;
      if (/Address already in use|EADDRINUSE/.test(tail) && attempt < attempts) continue;
      throw new Error(lastFailure);
    }

    const stopProcess = async (signal: NodeJS.Signals): Promise<void> => {
      if (exitInfo === undefined) {
        child.kill(signal);
        try {
          await withDeadline(exited, STOP_TIMEOUT_MS, `${spec.kind} (pid ${child.pid}) to exit after ${signal}`);
        } catch {
          child.kill('SIGKILL');
          await exited;
        }
      }
    };
    return {
      kind: spec.kind,
      port,
      dir,
      dataDir,
      configPath,
      logFile,
      pid: child.pid ?? -1,
      async stop() {
        await stopProcess('SIGTERM');
        if (!keepDir) fs.rmSync(dir, { recursive: true, force: true });
      },
      async kill9() {
        await stopProcess('SIGKILL');
      },
      logTail(lineCount = 40) {
        return readTail(logFile, lineCount);
      },
    };
  }
  throw new Error(lastFailure);
}

class ExitedEarly extends Error {}

/** Apache ZooKeeper 3.8 standalone from Debian's packages (QuorumPeerMain, as zkServer.sh runs it). */
export function startZooKeeper(options: StartOptions = {}): Promise<ServerHandle> {
  if (!fs.existsSync(ZOOKEEPER_JAR)) throw new Error(`Apache ZooKeeper is not installed: ${ZOOKEEPER_JAR} is missing (apt-get install zookeeper)`);
  const logging = LOG4J_JARS.every((jar) => fs.existsSync(jar)) ? LOG4J_JARS : [SLF4J_NOP_JAR];
  // Jetty needs the servlet API for the AdminServer (tests that set admin.enableServer=true)
  const servlet = fs.existsSync(SERVLET_API_JAR) ? [SERVLET_API_JAR] : [];
  return launch(
    {
      kind: 'zookeeper',
      command: 'java',
      args: (configPath, dir) => [
        '-Xmx256m',
        '-XX:+UseSerialGC',
        `-Dzookeeper.log.dir=${dir}`,
        `-Dlog4j.configuration=file:${path.join(dir, 'log4j.properties')}`,
        ...Object.entries(options.systemProperties ?? {}).map(([k, v]) => `-D${k}=${v}`),
        '-cp',
        [dir, ZOOKEEPER_JAR, ...NETTY_EXTRA_JARS, ...servlet, ...logging].join(':'),
        'org.apache.zookeeper.server.quorum.QuorumPeerMain',
        configPath,
      ],
      prepare: (dir) => fs.writeFileSync(path.join(dir, 'log4j.properties'), LOG4J_PROPERTIES),
      anyAnswerIsReady: false,
    },
    options,
  );
}

/** zooid: `process.execPath engine/cli.ts server <zoo.cfg>` with cwd at the repo root. */
export function startZooid(options: StartOptions = {}): Promise<ServerHandle> {
  if (!fs.existsSync(ZOOID_CLI)) {
    return Promise.reject(
      new Error(
        `zooid is not there yet: ${ZOOID_CLI} does not exist. ` +
          'Run with ZOOID_COMPAT_TARGET=zookeeper to check the harness against Apache ZooKeeper on both sides.',
      ),
    );
  }
  // 30 s as for the JVM: a machine shared with other test runs (load 20 on 2 cores) has taken over 15 s to start a zooid
  return launch(
    {
      kind: 'zooid',
      command: process.execPath,
      args: (configPath) => [options.zooidRoot === undefined ? ZOOID_CLI : path.join(options.zooidRoot, 'engine', 'cli.ts'), 'server', configPath],
      anyAnswerIsReady: true,
    },
    { readyTimeoutMs: 30_000, ...options },
  );
}

/** A session on `server`, retried until a deadline: ZooKeeper answers ruok a moment before it serves sessions. */
export function connectWhenServing(server: ServerHandle): Promise<LeanClient> {
  return waitFor(
    () => LeanClient.connect({ host: '127.0.0.1', port: server.port, connectTimeoutMs: 2_000 }).catch(() => null),
    { timeoutMs: 20_000, what: `${server.kind} on :${server.port} to open a session`, intervalMs: 50 },
  );
}
