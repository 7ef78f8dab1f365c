// One server of an ensemble that runs as Apache ZooKeeper 3.8 or as zooid, switched between
// the two on the same files: one zoo.cfg, one dataDir with its myid, one client port. A
// rolling migration stops one and starts the other on them (test/quorum/rolling-migration.test.ts).
// Each run's output goes to <dir>/<kind>-<run>.log; stop() is SIGTERM, as zkServer.sh stop
// and `zooid stop` send.

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ZOOKEEPER_CLASSPATH, log4jSettings, srvrMode, ENSEMBLE_TIMING, type PeerPorts } from './ensemble.ts';
import { fourLetterWord, NETTY_EXTRA_JARS, REPO_ROOT, ZOOID_CLI } from './servers.ts';
import { waitFor, withDeadline } from './wait.ts';

export type MemberKind = 'zookeeper' | 'zooid';

const START_DEADLINE_MS = 60_000;
const STOP_DEADLINE_MS = 15_000;

export interface SwitchableMember {
  readonly sid: number;
  readonly clientPort: number;
  readonly dir: string;
  readonly dataDir: string;
  readonly configPath: string;
  /** What runs now; null while stopped. */
  kind(): MemberKind | null;
  /** Start `kind` on this member's zoo.cfg; resolves once its client port answers ruok. */
  start(kind: MemberKind): Promise<void>;
  /** SIGTERM and wait for the exit (SIGKILL past a deadline): true if it exited by itself. The files stay. */
  stop(): Promise<boolean>;
  /** `srvr`'s Mode (leader, follower), null while not serving. */
  mode(): Promise<string | null>;
  /** The current (or last) run's output. */
  logTail(lineCount?: number): string;
  /** stop() and remove the dir (unless ZOOID_TEST_KEEP_TMP=1). */
  remove(): Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of running) c.kill('SIGKILL');
  });
}

/** One zoo.cfg for sid `ports.sid` of `lines` (server.N lines), written once, with `extra` keys after the defaults. */
export function createMember(ports: PeerPorts, lines: readonly string[], extra: Readonly<Record<string, string>> = {}): SwitchableMember {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `zooid-member${ports.sid}-`));
  const dataDir = path.join(dir, 'data');
  fs.mkdirSync(dataDir);
  fs.writeFileSync(path.join(dataDir, 'myid'), `${ports.sid}\n`);
  fs.writeFileSync(path.join(dir, 'log4j.properties'), log4jSettings());
  const configPath = path.join(dir, 'zoo.cfg');
  const settings: Record<string, string> = {
    ...ENSEMBLE_TIMING, dataDir, clientPort: String(ports.clientPort), clientPortAddress: '127.0.0.1',
    'admin.enableServer': 'false', '4lw.commands.whitelist': '*', ...extra,
  };
  fs.writeFileSync(configPath, [...Object.entries(settings).map(([k, v]) => `${k}=${v}`), ...lines].join('\n') + '\n');

  let child: ChildProcess | null = null;
  let currentKind: MemberKind | null = null;
  let exited: Promise<void> = Promise.resolve();
  let runCount = 0;
  let logFile = '';

  const command = (kind: MemberKind): [string, string[]] => kind === 'zooid'
    ? [process.execPath, [ZOOID_CLI, 'server', configPath]]
    : ['java', ['-Xmx128m', '-XX:+UseSerialGC', `-Dlog4j.configuration=file:${path.join(dir, 'log4j.properties')}`,
      '-cp', [dir, ...ZOOKEEPER_CLASSPATH, ...NETTY_EXTRA_JARS].join(':'), 'org.apache.zookeeper.server.quorum.QuorumPeerMain', configPath]];

  const member: SwitchableMember = {
    sid: ports.sid,
    clientPort: ports.clientPort,
    dir,
    dataDir,
    configPath,
    kind: () => currentKind,
    async start(kind) {
      if (child !== null) throw new Error(`member ${ports.sid} runs ${currentKind} already`);
      runCount += 1;
      logFile = path.join(dir, `${kind}-${runCount}.log`);
      const out = fs.openSync(logFile, 'a');
      const [file, args] = command(kind);
      const started = spawn(file, args, { cwd: kind === 'zooid' ? REPO_ROOT : dir, stdio: ['ignore', out, out] });
      fs.closeSync(out);
      track(started);
      child = started;
      currentKind = kind;
      exited = new Promise<void>((resolve) => started.once('exit', () => resolve()));
      const alive = () => started.exitCode === null && started.signalCode === null;
      let outcome: string;
      try {
        outcome = await waitFor(async () => {
          if (!alive()) return 'exited';
          return (await fourLetterWord(ports.clientPort, 'ruok', 1_000).catch(() => '')) === 'imok' ? 'ready' : '';
        }, { timeoutMs: START_DEADLINE_MS, what: `${kind} ${ports.sid} to answer ruok on ${ports.clientPort}`, intervalMs: 50 });
      } catch (e) {
        throw new Error(`${(e as Error).message}\n${member.logTail()}`);
      }
      if (outcome === 'exited') throw new Error(`${kind} ${ports.sid} exited (${started.exitCode ?? started.signalCode}) before it answered ruok\n${member.logTail()}`);
    },
    async stop() {
      const c = child;
      if (c === null) return true;
      let byItself = true;
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGTERM');
        await withDeadline(exited, STOP_DEADLINE_MS, `${currentKind} ${ports.sid} to exit after SIGTERM`).catch(async () => {
          byItself = false;
          c.kill('SIGKILL');
          await exited;
        });
      }
      child = null;
      currentKind = null;
      return byItself;
    },
    mode: () => srvrMode(ports.clientPort),
    logTail(lineCount = 30) {
      if (logFile === '') return '(never started)';
      return fs.readFileSync(logFile, 'utf8').split('\n').slice(-lineCount).join('\n');
    },
    async remove() {
      await member.stop();
      if (process.env.ZOOID_TEST_KEEP_TMP !== '1') fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return member;
}
