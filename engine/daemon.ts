// `zooid start|stop|status [zoo.cfg]`: zkServer.sh's daemon commands, same words, files and
// exit codes (Apache ZooKeeper 3.8's bin/zkServer.sh):
//
//   start   "Starting zooid ... STARTED"; the pid (no newline) in <dataDir>/zookeeper_server.pid
//           (ZOOPIDFILE overrides, as in zkServer.sh); output to <ZOO_LOG_DIR or dataDir>/zooid-server.out.
//           Already running: "zooid already running as process N." exit 1. The server did not come
//           up: "FAILED TO START" exit 1 (zkServer.sh waits one second and checks the process;
//           zooid waits until `srvr` answers with a Mode, or the process exits, at most START_WAIT_MS).
//   stop    "Stopping zooid ... STOPPED" after SIGTERM and the process is gone; no pid file:
//           "no zooid to stop (could not find file F)". Exit 0 either way, as zkServer.sh.
//   status  "Client port found: P. Client address: A. Client SSL: false." then the Mode line
//           of `srvr` and exit 0, or "Error contacting service. It is probably not running." exit 1.
//
// "Using config: F" goes to stderr first, as zkServer.sh prints it.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigOrExit, type ServerConfig } from './config.ts';

export const PID_FILE_NAME = 'zookeeper_server.pid';
const OUT_FILE_NAME = 'zooid-server.out';
const START_WAIT_MS = 30_000;
const STOP_WAIT_MS = 30_000;
const POLL_MS = 100;
const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));

function configOf(arg: string | undefined): ServerConfig {
  return loadConfigOrExit(arg ?? null);
}

export function pidFileOf(cfg: ServerConfig): string {
  return process.env.ZOOPIDFILE ?? path.join(cfg.dataDir, PID_FILE_NAME);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readPid(file: string): number | null {
  try {
    const n = Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One four-letter word; '' when nothing answers. */
export function askWord(host: string, port: number, word: string, timeoutMs = 2_000): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host, port }, () => socket.end(word));
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

function clientAddressOf(cfg: ServerConfig): string {
  return cfg.clientPortAddress ?? 'localhost';
}

async function start(cfgArg: string | undefined): Promise<number> {
  const cfg = configOf(cfgArg);
  const pidFile = pidFileOf(cfg);
  fs.mkdirSync(path.dirname(pidFile), { recursive: true });
  fs.mkdirSync(cfg.dataDir, { recursive: true });
  process.stdout.write('Starting zooid ... ');
  const old = readPid(pidFile);
  if (old !== null && alive(old)) {
    process.stdout.write(`zooid already running as process ${old}.\n`);
    return 1;
  }
  const logDir = process.env.ZOO_LOG_DIR ?? cfg.dataDir;
  fs.mkdirSync(logDir, { recursive: true });
  const out = fs.openSync(path.join(logDir, OUT_FILE_NAME), 'a');
  const args = [CLI, 'server', ...(cfg.configPath === null ? [] : [cfg.configPath])];
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', out, out], env: process.env });
  fs.closeSync(out);
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  if (child.pid === undefined) {
    process.stdout.write('SERVER DID NOT START\n');
    return 1;
  }
  try {
    fs.writeFileSync(pidFile, String(child.pid));
  } catch {
    process.stdout.write('FAILED TO WRITE PID\n');
    return 1;
  }
  const deadline = Date.now() + START_WAIT_MS;
  while (Date.now() < deadline && !exited) {
    // srvr is always whitelisted (ruok is not by default): serving once it shows a Mode
    if ((await askWord(clientAddressOf(cfg), cfg.clientPort, 'srvr', 1_000)).includes('Mode: ')) {
      child.unref();
      process.stdout.write('STARTED\n');
      return 0;
    }
    await sleep(POLL_MS);
  }
  if (!exited) child.kill('SIGKILL');
  try {
    fs.rmSync(pidFile);
  } catch {
    // already gone
  }
  process.stdout.write('FAILED TO START\n');
  return 1;
}

async function stop(cfgArg: string | undefined): Promise<number> {
  const cfg = configOf(cfgArg);
  const pidFile = pidFileOf(cfg);
  process.stdout.write('Stopping zooid ... ');
  if (!fs.existsSync(pidFile)) {
    process.stdout.write(`no zooid to stop (could not find file ${pidFile})\n`);
    return 0;
  }
  const pid = readPid(pidFile);
  if (pid !== null && alive(pid)) {
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + STOP_WAIT_MS;
    while (alive(pid) && Date.now() < deadline) await sleep(POLL_MS);
  }
  fs.rmSync(pidFile, { force: true });
  process.stdout.write('STOPPED\n');
  return 0;
}

async function status(cfgArg: string | undefined): Promise<number> {
  const cfg = configOf(cfgArg);
  const address = clientAddressOf(cfg);
  process.stdout.write(`Client port found: ${cfg.clientPort}. Client address: ${address}. Client SSL: false.\n`);
  const answer = await askWord(address, cfg.clientPort, 'srvr');
  const mode = answer.split('\n').find((l) => l.startsWith('Mode'));
  if (mode === undefined) {
    process.stdout.write('Error contacting service. It is probably not running.\n');
    return 1;
  }
  process.stdout.write(`${mode}\n`);
  return 0;
}

/** Runs `zooid start|stop|status [zoo.cfg]`; resolves with the exit code. */
export async function daemonCommand(command: 'start' | 'stop' | 'status', args: string[]): Promise<number> {
  const cfgArg = args[0];
  process.stderr.write(`Using config: ${cfgArg === undefined ? '(embedded default: clientPort=2181, dataDir=./data)' : cfgArg}\n`);
  if (command === 'start') return start(cfgArg);
  if (command === 'stop') return stop(cfgArg);
  return status(cfgArg);
}
