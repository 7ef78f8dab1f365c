// `zooid start|stop|status zoo.cfg` with a real daemon: zkServer.sh's words, pid file
// (<dataDir>/zookeeper_server.pid, no newline) and exit codes.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, ZOOID_CLI, freePort } from '../support/servers.ts';
import { withDeadline } from '../support/wait.ts';

interface Run {
  stdout: string;
  stderr: string;
  code: number | null;
}

function zooid(...args: string[]): Promise<Run> {
  const child = spawn(process.execPath, [ZOOID_CLI, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  return withDeadline(new Promise<Run>((resolve) => child.once('close', (code) => resolve({ stdout, stderr, code }))), 40_000, `zooid ${args.join(' ')}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let dir: string;
let cfgPath: string;
let dataDir: string;
let pidFile: string;

describe('zooid start|stop|status', () => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-daemon-'));
    dataDir = path.join(dir, 'data');
    cfgPath = path.join(dir, 'zoo.cfg');
    pidFile = path.join(dataDir, 'zookeeper_server.pid');
    const port = await freePort();
    fs.writeFileSync(cfgPath, `tickTime=2000\ndataDir=${dataDir}\nclientPort=${port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n`);
  });

  afterAll(() => {
    const pid = Number(fs.existsSync(pidFile) ? fs.readFileSync(pidFile, 'utf8') : 0);
    if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reports a stopped server, starts it, refuses a second start, reports it, stops it', async () => {
    const before = await zooid('status', cfgPath);
    expect(before.code).toBe(1);
    expect(before.stdout).toMatch(/^Client port found: \d+\. Client address: 127\.0\.0\.1\. Client SSL: false\.\n/);
    expect(before.stdout).toContain('Error contacting service. It is probably not running.\n');
    expect(before.stderr).toContain(`Using config: ${cfgPath}`);

    const started = await zooid('start', cfgPath);
    expect(started.stdout).toBe('Starting zooid ... STARTED\n');
    expect(started.code).toBe(0);
    const pidText = fs.readFileSync(pidFile, 'utf8');
    expect(pidText).toMatch(/^\d+$/);
    const pid = Number(pidText);
    expect(alive(pid)).toBe(true);

    const again = await zooid('start', cfgPath);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe(`Starting zooid ... zooid already running as process ${pid}.\n`);

    const status = await zooid('status', cfgPath);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('Mode: standalone\n');

    const stopped = await zooid('stop', cfgPath);
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toBe('Stopping zooid ... STOPPED\n');
    expect(fs.existsSync(pidFile)).toBe(false);
    expect(alive(pid)).toBe(false);

    const none = await zooid('stop', cfgPath);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe(`Stopping zooid ... no zooid to stop (could not find file ${pidFile})\n`);
    expect((await zooid('status', cfgPath)).code).toBe(1);
  }, 60_000);
});
