// `zooid shell` must print what zkCli (Apache ZooKeeper 3.8's ZooKeeperMain) prints: the
// same commands piped to both, each against its own fresh Apache ZooKeeper (so only the
// clients differ), transcripts compared after masking zxids, times and session ids. Then
// one-shot mode (`zooid shell -server h:p cmd args`) against zooid: output and exit codes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startZooKeeper, startZooid, type ServerHandle } from '../support/servers.ts';
import { Masker, zkCliLines } from '../support/transcript.ts';
import { zkCli, zooidShell, SHELL_RUN_TIMEOUT_MS as RUN_TIMEOUT_MS, SEPARATOR_COMMAND, SEPARATOR_LINE } from '../support/shells.ts';

// No watches here: zkCli prints events from its event thread, so where they land among
// the command output is a race (the zooid-vs-ZooKeeper zkCli transcript covers them).
const COMMANDS = [
  'create /s1 hello',
  'create /s1/c1 x',
  'create -e /s1/eph e',
  'create -s /s1/seq- s',
  'create -c /cont',
  'create /s1/eph/child x',
  'ls /s1',
  'ls -s /s1',
  'ls -R /s1',
  'get /s1',
  'get -s /s1',
  'set /s1 world',
  'set -v 99 /s1 w',
  'set -s /s1 again',
  'stat /s1',
  'stat /nope',
  'delete /s1',
  'delete -v 5 /s1/c1',
  'deleteall /nope',
  'getAcl /s1',
  'setAcl /s1 world:anyone:cdrwa',
  'setAcl -s /s1 world:anyone:cdra',
  'addauth digest user:pass',
  'create /s2 x auth:user:pass:cdrwa',
  'getAcl /s2',
  'whoami',
  'sync /s1',
  'getEphemerals',
  'getEphemerals /s1',
  'getAllChildrenNumber /s1',
  'setquota -n 5 /s1',
  'listquota /s1',
  'delquota /s1',
  'listquota /s1',
  'history',
  'create /s1',
  'create',
  'ls',
  'get /nope',
  'ls nope',
  'bogus cmd',
  'deleteall /s1',
  'ls /',
  'close',
  'ls /',
];


/** One block of lines per command, split at the separator lines; zxids, times and session ids masked. */
function blocks(output: string): string[] {
  const lines = zkCliLines(output);
  const masker = new Masker();
  const out: string[][] = [];
  let current: string[] | undefined;
  for (const line of lines) {
    if (line === SEPARATOR_LINE) {
      if (current !== undefined) out.push(current);
      current = [];
      continue;
    }
    if (current === undefined) continue;
    let m = /^(cZxid|mZxid|pZxid) = (0x[0-9a-fA-F]+)$/.exec(line);
    if (m) current.push(`${m[1]} = ${masker.zxid(m[2])}`);
    else if ((m = /^(ctime|mtime) = /.exec(line))) current.push(`${m[1]} = T`);
    else if ((m = /^ephemeralOwner = (0x[0-9a-fA-F]+)$/.exec(line))) current.push(`ephemeralOwner = ${masker.session(m[1])}`);
    else current.push(line);
  }
  if (current !== undefined) out.push(current);
  return out.map((b, i) => `${COMMANDS[i] ?? '(after)'}\n  ${b.join('\n  ')}`);
}

let zkA: ServerHandle;
let zkB: ServerHandle;
let zooid: ServerHandle;

describe('zooid shell', () => {
  beforeAll(async () => {
    [zkA, zkB, zooid] = await Promise.all([startZooKeeper(), startZooKeeper(), startZooid()]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([zkA?.stop(), zkB?.stop(), zooid?.stop()]);
  });

  it('prints zkCli\'s transcript for commands piped on stdin', async () => {
    const script = [SEPARATOR_COMMAND, ...COMMANDS.flatMap((c) => [c, SEPARATOR_COMMAND]), 'quit', ''].join('\n');
    const [expected, actual] = await Promise.all([zkCli(zkA.port, script), zooidShell(zkB.port, script)]);
    const e = blocks(expected.output);
    expect(e.join('\n'), 'the oracle transcript').toContain('Node does not exist: /nope');
    expect(blocks(actual.output)).toEqual(e);
    expect(actual.code).toBe(expected.code);
  }, RUN_TIMEOUT_MS + 15_000);

  it('runs one command and exits with zkCli\'s exit code (one-shot mode, against zooid)', async () => {
    const created = await zooidShell(zooid.port, null, ['create', '/one', 'v1']);
    expect(created.code).toBe(0);
    expect(created.output).toContain('Created /one\n');
    const got = await zooidShell(zooid.port, null, ['get', '-s', '/one']);
    expect(got.code).toBe(0);
    expect(got.output).toMatch(/\nv1\ncZxid = 0x[0-9a-f]+\n/);
    expect(got.output).toContain('dataLength = 2\n');
    const missing = await zooidShell(zooid.port, null, ['get', '/nope']);
    expect(missing.code).toBe(1);
    expect(missing.output).toContain('Node does not exist: /nope\n');
    const unknown = await zooidShell(zooid.port, null, ['bogus']);
    expect(unknown.code).toBe(127);
    expect(unknown.output).toContain('Command not found: Command not found bogus');
    const usage = await zooidShell(zooid.port, null, ['set', '/one']);
    expect(usage.code).toBe(1);
    expect(usage.output).toContain('set [-s] [-v version] path data\n');
  }, RUN_TIMEOUT_MS);

  it('one-shot output matches zkCli\'s for the same command', async () => {
    for (const cmd of [['ls', '/'], ['stat', '/zookeeper'], ['getAcl', '/zookeeper/quota'], ['get', '/nope']]) {
      const [a, b] = await Promise.all([zkCli(zkA.port, null, cmd), zooidShell(zkA.port, null, cmd)]);
      const clean = (s: string) => zkCliLines(s).map((l) => l.replace(/^(ctime|mtime) = .*/, '$1 = T')).join('\n');
      expect(clean(b.output), cmd.join(' ')).toBe(clean(a.output));
      expect(b.code, cmd.join(' ')).toBe(a.code);
    }
  }, RUN_TIMEOUT_MS + 15_000);
});
