// electionPortBindRetry (QuorumCnxManager.Listener): a busy election port is tried that many
// times, a second apart; a server that never binds it cannot take part in elections and exits
// with ZooKeeper's UNABLE_TO_BIND_QUORUM_PORT (14). With 0 it keeps trying, and takes the
// port once it is free.
import { describe, it, expect, afterEach } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { allocatePorts, serverLines } from '../support/ensemble.ts';
import { waitFor, withDeadline } from '../support/wait.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const children: ChildProcess[] = [];
const dirs: string[] = [];
const holders: net.Server[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const h of holders.splice(0)) await new Promise((resolve) => h.close(resolve));
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** Holds a port the way another process would. */
async function hold(port: number): Promise<net.Server> {
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', () => resolve()));
  holders.push(server);
  return server;
}

/** Server 1 of a three-server config (the others never start), its output collected. */
async function startMember(retries: string): Promise<{ child: ChildProcess; output: () => string; exited: Promise<number | null>; electionPort: number }> {
  const ports = await allocatePorts([1, 2, 3]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-bindretry-'));
  dirs.push(dir);
  fs.writeFileSync(path.join(dir, 'myid'), '1\n');
  const cfg = path.join(dir, 'zoo.cfg');
  fs.writeFileSync(cfg, [
    'tickTime=1000', 'initLimit=5', 'syncLimit=2', `dataDir=${dir}`, `clientPort=${ports[0].clientPort}`, 'clientPortAddress=127.0.0.1',
    'admin.enableServer=false', `electionPortBindRetry=${retries}`, ...serverLines(ports),
  ].join('\n') + '\n');
  await hold(ports[0].electionPort);
  let out = '';
  const child = spawn(process.execPath, [path.join(REPO, 'engine', 'cli.ts'), 'server', cfg], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited, electionPort: ports[0].electionPort };
}

describe('electionPortBindRetry', () => {
  it('a busy election port is tried electionPortBindRetry times, then the server exits 14', async () => {
    const m = await startMember('2');
    const code = await withDeadline(m.exited, 30_000, `the server to give up binding\n${m.output()}`);
    expect(code, m.output()).toBe(14);
    expect(m.output()).toMatch(/cannot listen on the election port \d+ \(attempt 1\)/);
    expect(m.output()).toMatch(/cannot listen on the election port \d+ \(attempt 2\)/);
  }, 60_000);

  it('with 0 it keeps trying, and takes the port once it is free', async () => {
    const m = await startMember('0');
    await waitFor(() => /\(attempt 2\)/.test(m.output()), { timeoutMs: 30_000, what: 'two failed attempts' });
    const holder = holders.pop()!;
    await new Promise((resolve) => holder.close(resolve));
    await waitFor(() => /accepting election connections/.test(m.output()), { timeoutMs: 30_000, what: `the election port bound\n${m.output()}` });
    expect(m.child.exitCode).toBeNull();
  }, 60_000);
});
