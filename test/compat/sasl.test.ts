// SASL (DIGEST-MD5) logins and the sasl ACL scheme: zkCli (Apache ZooKeeper 3.8's
// ZooKeeperMain) with a client JAAS file — what zkCli.sh does with
// CLIENT_JVMFLAGS="-Djava.security.auth.login.config=<file>" — must print the same
// transcripts against the target as against Apache ZooKeeper started with the server JAAS
// file (-Djava.security.auth.login.config, authProvider.1=SASLAuthenticationProvider).
//
// Several clients run one after another against one server pair: bob creates nodes with
// sasl ACLs, an unauthenticated client is refused (NOAUTH), a wrong password and an
// unknown user fail (AuthFailed), the super user reads everything. Each command's output
// is compared; the connection-state events (SyncConnected, SaslAuthenticated, AuthFailed)
// are printed by another zkCli thread at times that race the commands, so they are
// compared as a set per client.
//
// kazoo (python3-kazoo with python3-pure-sasl, test/compat/kazoo_sasl.py) runs a second
// client's DIGEST-MD5 against the same pair.
//
// A second pair runs with zookeeper.sessionRequireClientSASLAuth=true: an
// unauthenticated client's first request closes its connection.

import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compatTarget, startPair, type ServerHandle } from '../support/servers.ts';
import { assertSameTranscript, maybeDumpTranscript, type TranscriptEntry, ZKCLI_NOISE } from '../support/transcript.ts';
import { withDeadline } from '../support/wait.ts';

const ZOOKEEPER_JAR = '/usr/share/java/zookeeper.jar';
const SLF4J_NOP_JAR = '/usr/share/java/slf4j-nop.jar';
const SEPARATOR_COMMAND = 'printwatches';
const SEPARATOR_LINE = 'printwatches is on';
const RUN_TIMEOUT_MS = 60_000;
const JAAS_PROPERTY = 'java.security.auth.login.config';
const PYTHON = '/usr/bin/python3'; // Debian's python, where python3-kazoo and python3-pure-sasl are installed
const KAZOO_SCRIPT = path.join(path.dirname(new URL(import.meta.url).pathname), 'kazoo_sasl.py');

/** kazoo_sasl.py against a port: its steps, or the failure as one step. */
function runKazoo(port: number): Promise<TranscriptEntry[]> {
  return new Promise((resolve) => {
    execFile(PYTHON, [KAZOO_SCRIPT, String(port)], { timeout: RUN_TIMEOUT_MS }, (error, stdout, stderr) => {
      if (error !== null) {
        resolve([{ step: 'kazoo run failed', error: `${error.message}\n${stderr}` }]);
        return;
      }
      const steps = JSON.parse(stdout) as { step: string; result: unknown }[];
      resolve(steps.map((s) => ({ step: `kazoo ${s.step}`, result: s.result })));
    });
  });
}

const SERVER_JAAS = `// users zkCli logs in as
Server {
  org.apache.zookeeper.server.auth.DigestLoginModule required
  user_admin="adminsecret"
  user_bob="bobsecret";
};
`;

function clientJaas(user: string, password: string): string {
  return `Client {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  username="${user}"\n  password="${password}";\n};\n`;
}

interface Client {
  name: string;
  /** JAAS Client section; null: no JAAS file (zkCli does not try SASL). */
  login: { user: string; password: string } | null;
  commands: string[];
}

const CLIENTS: Client[] = [
  {
    name: 'bob',
    login: { user: 'bob', password: 'bobsecret' },
    commands: [
      'whoami',
      'create /s data sasl:bob:cdrwa',
      'getAcl /s',
      'get /s',
      'create /t x auth::cdrwa',
      'getAcl /t',
      'create /m x sasl:bob:r,world:anyone:r',
      'create /u x sasl:a@b@c:cdrwa',
      'create /v x sasl:zk/host@REALM:cdrwa',
      'getAcl /v',
      'addauth digest alice:pw',
      'whoami',
      'create /w x auth::cdrwa',
      'getAcl /w',
    ],
  },
  {
    name: 'anonymous',
    login: null,
    commands: ['whoami', 'get /s', 'getAcl /s', 'set /s x', 'create /s/c x', 'get /m', 'setAcl /m world:anyone:cdrwa', 'create /a x sasl:bob:cdrwa'],
  },
  { name: 'wrong password', login: { user: 'bob', password: 'not-bobs' }, commands: ['get /s'] },
  { name: 'unknown user', login: { user: 'eve', password: 'evesecret' }, commands: ['get /s'] },
  { name: 'super user', login: { user: 'admin', password: 'adminsecret' }, commands: ['whoami', 'get /s', 'set /s by-admin', 'getAcl /t'] },
  { name: 'bob again', login: { user: 'bob', password: 'bobsecret' }, commands: ['get /s', 'delete /t', 'setAcl /s world:anyone:r', 'getAcl /s'] },
];

const EVENT_LINE = /^WatchedEvent state:(\w+) type:None path:null$/;

interface CliRun {
  blocks: string[][];
  events: string[];
}

async function runZkCli(port: number, dir: string, client: Client): Promise<CliRun> {
  const tag = client.name.replace(/\W+/g, '-');
  const jaasFile = path.join(dir, `client-${tag}.jaas`);
  if (client.login !== null) fs.writeFileSync(jaasFile, clientJaas(client.login.user, client.login.password));
  const outFile = path.join(dir, `out-${tag}-${port}.txt`);
  const fd = fs.openSync(outFile, 'w');
  try {
    const jaas = client.login === null ? [`-D${JAAS_PROPERTY}=${path.join(dir, 'none.jaas')}`, '-Dzookeeper.sasl.client=false'] : [`-D${JAAS_PROPERTY}=${jaasFile}`];
    const child = spawn(
      'java',
      ['-Xshare:auto', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', ...jaas, '-cp', `${ZOOKEEPER_JAR}:${SLF4J_NOP_JAR}`,
        'org.apache.zookeeper.ZooKeeperMain', '-server', `127.0.0.1:${port}`],
      { stdio: ['pipe', fd, fd] },
    );
    child.stdin?.end([SEPARATOR_COMMAND, ...client.commands.flatMap((c) => [c, SEPARATOR_COMMAND]), 'quit', ''].join('\n'));
    const exited = new Promise<number | null>((resolve, reject) => {
      child.once('exit', (code) => resolve(code));
      child.once('error', reject);
    });
    try {
      await withDeadline(exited, RUN_TIMEOUT_MS, `zkCli (${client.name}) against port ${port} to finish`);
    } catch (error) {
      child.kill('SIGKILL');
      throw new Error(`${(error as Error).message}; output so far:\n${fs.readFileSync(outFile, 'utf8')}`);
    }
  } finally {
    fs.closeSync(fd);
  }
  const lines = fs.readFileSync(outFile, 'utf8').split('\n').map((l) => l.replace(/\r$/, ''));
  const events = new Set<string>();
  const blocks: string[][] = [];
  let current: string[] | undefined;
  for (const line of lines) {
    const event = EVENT_LINE.exec(line);
    if (event !== null) {
      // Closed (quit) and Disconnected (the server closed the connection) race zkCli's exit
      if (event[1] !== 'Closed' && event[1] !== 'Disconnected') events.add(event[1]);
    } else if (line === SEPARATOR_LINE) {
      if (current !== undefined) blocks.push(current);
      current = [];
    } else if (current !== undefined && !ZKCLI_NOISE.some((re) => re.test(line))) {
      current.push(line);
    }
  }
  return { blocks, events: [...events].sort() };
}

function toTranscript(client: Client, run: CliRun): TranscriptEntry[] {
  const entries: TranscriptEntry[] = client.commands.map((command, index) => ({
    step: `${client.name}: ${command}`,
    output: run.blocks[index] ?? ['<no output block: zkCli stopped early>'],
  }));
  entries.push({ step: `${client.name}: connection events`, output: run.events });
  return entries;
}

async function runClients(servers: { oracle: ServerHandle; target: ServerHandle }, dir: string, clients: Client[]): Promise<{ expected: TranscriptEntry[]; actual: TranscriptEntry[] }> {
  const expected: TranscriptEntry[] = [];
  const actual: TranscriptEntry[] = [];
  for (const client of clients) {
    const [e, a] = await Promise.all([
      runZkCli(servers.oracle.port, dir, client),
      runZkCli(servers.target.port, dir, client).catch((error: Error) => error),
    ]);
    expected.push(...toTranscript(client, e));
    actual.push(...(a instanceof Error ? [{ step: `${client.name}: zkCli run failed`, error: a.message }] : toTranscript(client, a)));
  }
  return { expected, actual };
}

const targetKind = compatTarget();

function startSaslPair(dir: string, extra: Record<string, string> = {}): Promise<{ oracle: ServerHandle; target: ServerHandle }> {
  const jaas = path.join(dir, 'server.jaas');
  return startPair({
    // zooid reads the JAAS file name from zoo.cfg; ZooKeeper from the JVM property (and ignores the key)
    config: {
      [JAAS_PROPERTY]: jaas,
      'authProvider.1': 'org.apache.zookeeper.server.auth.SASLAuthenticationProvider',
      superUser: 'admin',
      ...extra,
    },
    systemProperties: { [JAAS_PROPERTY]: jaas },
  });
}

describe(`compat, SASL DIGEST-MD5 with zkCli: Apache ZooKeeper vs ${targetKind}`, () => {
  let dir = '';
  let servers: { oracle: ServerHandle; target: ServerHandle } | undefined;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-sasl-'));
    fs.writeFileSync(path.join(dir, 'server.jaas'), SERVER_JAAS);
    servers = await startSaslPair(dir);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([servers?.oracle.stop(), servers?.target.stop()]);
    if (dir !== '') fs.rmSync(dir, { recursive: true, force: true });
  });

  it(
    'logins, sasl ACLs, NOAUTH, failed logins and the super user print the same transcripts',
    async () => {
      if (servers === undefined) throw new Error('servers did not start (see beforeAll)');
      const { expected, actual } = await runClients(servers, dir, CLIENTS);
      maybeDumpTranscript('sasl', 'clients', 'oracle', expected);
      maybeDumpTranscript('sasl', 'clients', targetKind, actual);
      // The oracle must show what this test is about at all.
      const flat = expected.map((e) => `${e.step} → ${(e.output as string[]).join(' | ')}`).join('\n');
      expect(flat, 'the oracle transcript').toContain("bob: whoami → Auth scheme: User | sasl: bob | ip: 127.0.0.1");
      expect(flat).toContain('anonymous: get /s → Insufficient permission : /s');
      expect(flat).toContain('wrong password: connection events → AuthFailed | SyncConnected');
      expect(flat).toContain('super user: get /s → data');
      const target = servers.target;
      assertSameTranscript(expected, actual, {
        name: 'SASL zkCli clients',
        targetLabel: `${targetKind} (port ${target.port})`,
        details: () => `${targetKind} log (${target.logFile}), last lines:\n${target.logTail(30)}`,
      });
    },
    CLIENTS.length * (RUN_TIMEOUT_MS + 5_000),
  );

  it(
    'kazoo (python3-pure-sasl) logins, sasl ACLs and a wrong password give the same results',
    async () => {
      if (servers === undefined) throw new Error('servers did not start (see beforeAll)');
      const [expected, actual] = await Promise.all([runKazoo(servers.oracle.port), runKazoo(servers.target.port)]);
      maybeDumpTranscript('sasl', 'kazoo', 'oracle', expected);
      maybeDumpTranscript('sasl', 'kazoo', targetKind, actual);
      const flat = JSON.stringify(expected);
      expect(flat, 'the oracle transcript').toContain('"step":"kazoo anonymous: get /k","result":"NoAuthError"');
      expect(flat).toContain('"step":"kazoo wrong password: get /k","result":"AuthFailedError"');
      const target = servers.target;
      assertSameTranscript(expected, actual, {
        name: 'kazoo SASL',
        targetLabel: `${targetKind} (port ${target.port})`,
        details: () => `${targetKind} log (${target.logFile}), last lines:\n${target.logTail(30)}`,
      });
    },
    RUN_TIMEOUT_MS + 5_000,
  );
});

describe(`compat, zookeeper.sessionRequireClientSASLAuth: Apache ZooKeeper vs ${targetKind}`, () => {
  let dir = '';
  let servers: { oracle: ServerHandle; target: ServerHandle } | undefined;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-sasl-required-'));
    fs.writeFileSync(path.join(dir, 'server.jaas'), SERVER_JAAS);
    servers = await startSaslPair(dir, { sessionRequireClientSASLAuth: 'true' });
  }, 60_000);

  afterAll(async () => {
    await Promise.all([servers?.oracle.stop(), servers?.target.stop()]);
    if (dir !== '') fs.rmSync(dir, { recursive: true, force: true });
  });

  it(
    'an unauthenticated client is cut off, an authenticated one works, a wrong password fails',
    async () => {
      if (servers === undefined) throw new Error('servers did not start (see beforeAll)');
      const clients: Client[] = [
        { name: 'bob', login: { user: 'bob', password: 'bobsecret' }, commands: ['create /s data', 'get /s'] },
        { name: 'anonymous', login: null, commands: ['get /s'] },
        { name: 'wrong password', login: { user: 'bob', password: 'not-bobs' }, commands: ['get /s'] },
      ];
      const { expected, actual } = await runClients(servers, dir, clients);
      maybeDumpTranscript('sasl', 'required', 'oracle', expected);
      maybeDumpTranscript('sasl', 'required', targetKind, actual);
      const flat = expected.map((e) => `${e.step} → ${(e.output as string[]).join(' | ')}`).join('\n');
      expect(flat, 'the oracle transcript').toContain('bob: get /s → data');
      const target = servers.target;
      assertSameTranscript(expected, actual, {
        name: 'sessionRequireClientSASLAuth zkCli clients',
        targetLabel: `${targetKind} (port ${target.port})`,
        details: () => `${targetKind} log (${target.logFile}), last lines:\n${target.logTail(30)}`,
      });
    },
    3 * (RUN_TIMEOUT_MS + 5_000),
  );
});
