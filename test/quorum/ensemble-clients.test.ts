// Real clients against every server of a three-server zooid ensemble (issue 10): kazoo
// (python3-kazoo), zkCli (Apache ZooKeeper 3.8's ZooKeeperMain) and the C client (cli_mt), each
// connected to one server at a time, leader and followers alike. Each creates, sets and reads its
// own znode through every server, and reads through every server, after sync, what was written
// through the others (kazoo's znodes by zkCli, zkCli's by cli_mt, everyone's by node-zookeeper-client).
// zkCli's JVM start is the slow part: one invocation per server, its commands piped in a batch,
// the three at once.
import { spawn, execFile } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, expect, afterAll } from 'vitest';
import { Cleanups, oneLeader, type ZooidPeer } from '../support/ensemble.ts';
import { zkCliLines } from '../support/transcript.ts';
import { withDeadline, waitFor } from '../support/wait.ts';

const DEADLINE_MS = 60_000;
const RUN_TIMEOUT_MS = 45_000;
const PYTHON = '/usr/bin/python3'; // Debian's python, where python3-kazoo is installed
const KAZOO_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'kazoo_ensemble.py');
const ZKCLI_CLASSPATH = '/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-nop.jar';
const CLI_MT = '/usr/lib/zookeeper/bin/cli_mt';

const cleanups = new Cleanups();
afterAll(() => cleanups.run(), 60_000);

interface KazooRun {
  own: { port: number; created: string; version: number; data: string }[];
  cross: { writer: number; reader: number; data: string }[];
}

function runKazoo(ports: readonly number[]): Promise<KazooRun> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [KAZOO_SCRIPT, ...ports.map(String)], { timeout: RUN_TIMEOUT_MS, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`kazoo_ensemble.py failed (${error.message}):\n${stderr.slice(-4000)}`));
      try {
        resolve(JSON.parse(stdout) as KazooRun);
      } catch (e) {
        reject(new Error(`kazoo_ensemble.py printed no JSON (${(e as Error).message}):\n${stdout}\n${stderr.slice(-4000)}`));
      }
    });
  });
}

/** zkCli with `commands` piped in; its output lines without the start-up noise. */
async function runZkCli(port: number, commands: readonly string[]): Promise<string[]> {
  const child = spawn('java', ['-Xshare:auto', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-cp', ZKCLI_CLASSPATH,
    'org.apache.zookeeper.ZooKeeperMain', '-server', `127.0.0.1:${port}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (b: Buffer) => (output += b.toString('utf8')));
  child.stderr.on('data', (b: Buffer) => (output += b.toString('utf8')));
  child.stdin.end([...commands, 'quit', ''].join('\n'));
  const exited = new Promise<void>((resolve, reject) => {
    child.once('exit', () => resolve());
    child.once('error', reject);
  });
  await withDeadline(exited, RUN_TIMEOUT_MS, `zkCli on ${port}`).catch((e: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${e.message}; output so far:\n${output}`);
  });
  return zkCliLines(output).filter((l) => !/^(WATCHER::|WatchedEvent |JLine support|$)/.test(l));
}

/**
 * The C client driven line by line: cli_mt runs each command asynchronously and quits at the end
 * of its input, so every command is written once the previous one's answer (`until`) is printed.
 * Returns each step's match.
 */
async function runCliMt(port: number, steps: readonly { command: string; until: RegExp }[]): Promise<RegExpMatchArray[]> {
  const child = spawn(CLI_MT, [`127.0.0.1:${port}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (b: Buffer) => (output += b.toString('utf8')));
  child.stderr.on('data', (b: Buffer) => (output += b.toString('utf8')));
  const matches: RegExpMatchArray[] = [];
  try {
    await waitFor(() => /Got a new session id/.test(output), { timeoutMs: RUN_TIMEOUT_MS, what: `cli_mt to connect to ${port}` });
    for (const step of steps) {
      const from = output.length;
      child.stdin.write(`${step.command}\n`);
      matches.push(await waitFor(() => output.slice(from).match(step.until), { timeoutMs: RUN_TIMEOUT_MS, what: `cli_mt on ${port}: ${step.command} → ${step.until}` }));
    }
    child.stdin.end('quit\n');
    await withDeadline(new Promise((resolve) => child.once('exit', resolve)), RUN_TIMEOUT_MS, `cli_mt on ${port} to quit`);
  } catch (e) {
    throw new Error(`${(e as Error).message}\noutput:\n${output}`);
  } finally {
    child.kill('SIGKILL');
  }
  return matches;
}

describe('kazoo, zkCli and the C client against every server of a zooid ensemble', () => {
  it('each creates, sets and reads through every server, and reads through each what was written through the others', async () => {
    const { peers } = await cleanups.zooidEnsemble([1, 2, 3]);
    const leader = await oneLeader(peers, 'one leader and two followers', DEADLINE_MS);
    const ports = peers.map((p) => p.clientPort);
    const others = (p: ZooidPeer) => peers.map((_, i) => i).filter((i) => peers[i] !== p);
    console.log(`server ${leader.sid} leads`);

    // kazoo: /kazoo-i through server i, read through every server
    const kazoo = await runKazoo(ports);
    expect(kazoo.own).toEqual(ports.map((port, i) => ({ port, created: `/kazoo-${i}`, version: 1, data: `kazoo via ${port}` })));
    for (const c of kazoo.cross) expect(c.data, `kazoo: written via ${c.writer}, read via ${c.reader}`).toBe(`kazoo via ${c.writer}`);
    expect(kazoo.cross).toHaveLength(9);

    // zkCli, the three at once: /zkcli-i through server i, and kazoo's znodes of the other servers
    const zkCli = await Promise.all(peers.map((p, i) => runZkCli(p.clientPort, [
      `create /zkcli-${i} first`, `set /zkcli-${i} zkCli-via-${p.sid}`, `get /zkcli-${i}`,
      ...others(p).flatMap((k) => [`sync /kazoo-${k}`, `get /kazoo-${k}`]),
    ])));
    for (const [i, p] of peers.entries()) {
      expect(zkCli[i], `zkCli via server ${p.sid}`).toEqual([
        `Created /zkcli-${i}`, `zkCli-via-${p.sid}`,
        ...others(p).flatMap((k) => ['Sync is OK', `kazoo via ${ports[k]}`]),
      ]);
    }

    // cli_mt, the three at once: /cmt-i through server i, and zkCli's znodes of the other servers
    const value = (p: string) => new RegExp(`${p}: rc = 0\\n value_len = \\d+\\n(.*)\\n`);
    const cliMt = await Promise.all(peers.map((p, i) => runCliMt(p.clientPort, [
      { command: `create /cmt-${i}`, until: new RegExp(`\\[/cmt-${i}\\]: rc = (-?\\d+)`) },
      { command: `set /cmt-${i} cli_mt-via-${p.sid}`, until: new RegExp(`/cmt-${i}: rc = (-?\\d+)`) },
      { command: `get /cmt-${i}`, until: value(`/cmt-${i}`) },
      ...others(p).flatMap((k) => [
        { command: `sync /zkcli-${k}`, until: new RegExp(`\\[/zkcli-${k}\\]: rc = (-?\\d+)`) },
        { command: `get /zkcli-${k}`, until: value(`/zkcli-${k}`) },
      ]),
    ])));
    for (const [i, p] of peers.entries()) {
      expect(cliMt[i].map((m) => m[1]), `cli_mt via server ${p.sid}`).toEqual([
        '0', '0', `cli_mt-via-${p.sid}`,
        ...others(p).flatMap((k) => ['0', `zkCli-via-${peers[k].sid}`]),
      ]);
    }

    // and everyone's, through every server
    for (const [j, p] of peers.entries()) {
      const s = await cleanups.session(`check-${p.sid}`, p.clientPort);
      for (let i = 0; i < peers.length; i++) {
        expect(await s.sync(`/cmt-${i}`)).toMatchObject({ err: 'OK' });
        expect(await s.getData(`/cmt-${i}`), `cli_mt's via ${peers[i].sid}, read via ${peers[j].sid}`).toMatchObject({ err: 'OK', data: `cli_mt-via-${peers[i].sid}` });
        expect(await s.getData(`/zkcli-${i}`)).toMatchObject({ err: 'OK', data: `zkCli-via-${peers[i].sid}` });
        expect(await s.getData(`/kazoo-${i}`)).toMatchObject({ err: 'OK', data: `kazoo via ${ports[i]}` });
      }
    }
  }, 150_000);
});
