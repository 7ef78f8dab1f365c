// zkCli (Apache ZooKeeper 3.8's ZooKeeperMain) must print the same transcript
// against the target as against Apache ZooKeeper, times and zxids masked.
//
// One JVM per server reads all commands from stdin (non-interactive, JLine
// off). After each command we send `printwatches`, which only prints
// "printwatches is on" and never talks to the server: that line splits the
// output into one block per command. stdout and stderr go to the same file
// descriptor, so their lines keep their order.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compatTarget, startPair, type ServerHandle } from '../support/servers.ts';
import { assertSameTranscript, Masker, maybeDumpTranscript, type TranscriptEntry, zkCliLines } from '../support/transcript.ts';
import { withDeadline } from '../support/wait.ts';

const ZOOKEEPER_JAR = '/usr/share/java/zookeeper.jar';
const SLF4J_NOP_JAR = '/usr/share/java/slf4j-nop.jar';
const SEPARATOR_COMMAND = 'printwatches';
const SEPARATOR_LINE = 'printwatches is on';
const RUN_TIMEOUT_MS = 60_000;

// The session from the brief first, then a few more error paths people hit.
const COMMANDS = [
  'create /zkPro myData',
  'ls /',
  'get -s /zkPro',
  'set /zkPro myData123',
  'stat /zkPro',
  'create -e /zkEph e',
  'create -s /zkSeq- s',
  'getAcl /zkPro',
  'delete /zkPro',
  'ls /zkPro',
  'get /nope',
  'create /a/b c',
  'create /zkEph dup',
  'create /zkEph/child c',
  'set -v 7 /zkSeq-0000000002 x',
  'delete -v 3 /zkSeq-0000000002',
  'stat /nope',
  'ls -s /',
  'ls /zookeeper',
  'getAcl /zookeeper/config',
  'getEphemerals /',
  'getAllChildrenNumber /',
  'sync /',
  'delete /zookeeper',
];


interface CliRun {
  blocks: string[][];
  raw: string;
}

async function runZkCli(port: number): Promise<CliRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-zkcli-'));
  const outFile = path.join(dir, 'out.txt');
  const fd = fs.openSync(outFile, 'w');
  try {
    const child = spawn(
      'java',
      ['-Xshare:auto', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-cp', `${ZOOKEEPER_JAR}:${SLF4J_NOP_JAR}`, 'org.apache.zookeeper.ZooKeeperMain', '-server', `127.0.0.1:${port}`],
      { stdio: ['pipe', fd, fd] },
    );
    const script = [SEPARATOR_COMMAND, ...COMMANDS.flatMap((c) => [c, SEPARATOR_COMMAND]), 'quit', ''].join('\n');
    child.stdin?.end(script);
    const exited = new Promise<number | null>((resolve, reject) => {
      child.once('exit', (code) => resolve(code));
      child.once('error', reject);
    });
    try {
      await withDeadline(exited, RUN_TIMEOUT_MS, `zkCli against port ${port} to finish`);
    } catch (error) {
      child.kill('SIGKILL');
      throw new Error(`${(error as Error).message}; output so far:\n${fs.readFileSync(outFile, 'utf8')}`);
    }
  } finally {
    fs.closeSync(fd);
  }
  const raw = fs.readFileSync(outFile, 'utf8');
  fs.rmSync(dir, { recursive: true, force: true });
  const lines = zkCliLines(raw);
  // Everything before the first separator is start-up; then one block per command.
  const blocks: string[][] = [];
  let current: string[] | undefined;
  for (const line of lines) {
    if (line === SEPARATOR_LINE) {
      if (current !== undefined) blocks.push(current);
      current = [];
    } else if (current !== undefined) {
      current.push(line);
    }
  }
  return { blocks, raw };
}

/** zkCli output as transcript entries, with zxids/sessions labelled and dates masked. */
function toTranscript(run: CliRun): TranscriptEntry[] {
  const masker = new Masker();
  const entries: TranscriptEntry[] = COMMANDS.map((command, index) => {
    const block = run.blocks[index];
    if (block === undefined) return { step: command, output: '<no output block: zkCli stopped early>' };
    const output = block.map((line) => {
      let m = /^(cZxid|mZxid|pZxid) = (0x[0-9a-fA-F]+)$/.exec(line);
      if (m) return `${m[1]} = ${masker.zxid(m[2])}`;
      m = /^(ctime|mtime) = (.*)$/.exec(line);
      if (m) return `${m[1]} = ${/^Thu Jan 01 00:00:00 UTC 1970$/.test(m[2]) ? 'epoch' : 'T'}`;
      m = /^ephemeralOwner = (0x[0-9a-fA-F]+)$/.exec(line);
      if (m) return `ephemeralOwner = ${masker.session(m[1])}`;
      return line;
    });
    return { step: command, output };
  });
  if (run.blocks.length > COMMANDS.length) entries.push({ step: '(after quit)', output: run.blocks.slice(COMMANDS.length).flat() });
  return entries;
}

const targetKind = compatTarget();
let servers: { oracle: ServerHandle; target: ServerHandle } | undefined;

describe(`compat, zkCli: Apache ZooKeeper vs ${targetKind}`, () => {
  beforeAll(async () => {
    servers = await startPair();
  });

  afterAll(async () => {
    await Promise.all([servers?.oracle.stop(), servers?.target.stop()]);
  });

  it(
    'a zkCli session prints the same transcript',
    async () => {
      if (servers === undefined) throw new Error('servers did not start (see beforeAll)');
      const { oracle, target } = servers;
      const [expectedRun, actualRun] = await Promise.all([runZkCli(oracle.port), runZkCli(target.port).catch((error: Error) => error)]);
      const expected = toTranscript(expectedRun);
      maybeDumpTranscript('zkcli', 'session', 'oracle', expected);
      // The oracle's answers must be what this test expects zkCli to print at all.
      const flat = expected.map((e) => `${e.step} → ${(e.output as string[]).join(' | ')}`).join('\n');
      expect(flat, 'the oracle transcript').toContain('Node does not exist: /nope');
      expect(flat).toContain('Created /zkSeq-0000000002');
      expect(flat).toContain('dataVersion = 1');
      const actual: TranscriptEntry[] =
        actualRun instanceof Error ? [{ step: 'zkCli run failed', error: actualRun.message }] : toTranscript(actualRun);
      maybeDumpTranscript('zkcli', 'session', targetKind, actual);
      assertSameTranscript(expected, actual, {
        name: 'zkCli session',
        targetLabel: `${targetKind} (port ${target.port})`,
        details: () => `${targetKind} log (${target.logFile}), last lines:\n${target.logTail(30)}`,
      });
    },
    RUN_TIMEOUT_MS + 15_000,
  );
});
