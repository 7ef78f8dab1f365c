// TLS on secureClientPort and the x509 scheme, Apache ZooKeeper 3.8 (Netty connection
// factory, X509AuthenticationProvider) vs zooid, driven by the real Java client: zkCli over
// TLS (ClientCnxnSocketNetty, zookeeper.client.secure=true, PKCS12 key and trust stores)
// with a certificate per role, and zkCli on the plain port. Same zoo.cfg for both servers
// (PEM key and trust stores, X509AuthenticationProvider.superUser). The transcripts of each
// run (one block of output per command) must be the same, zxids and times masked.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compatTarget, freePort, startServer, startZooKeeper, NETTY_EXTRA_JARS, type ServerHandle } from '../support/servers.ts';
import * as net from 'node:net';
import { makeTlsMaterial, tlsServerConfig, TlsZkClient, STORE_PASSWORD, type ClientCert, type TlsMaterial } from '../support/tls.ts';
import { assertSameTranscript, Masker, maybeDumpTranscript, type TranscriptEntry, zkCliLines } from '../support/transcript.ts';
import { withDeadline } from '../support/wait.ts';
import { Err } from '../../engine/protocol.ts';

const CLASSPATH = ['/usr/share/java/zookeeper.jar', ...NETTY_EXTRA_JARS, '/usr/share/java/slf4j-nop.jar'].join(':');
const SEPARATOR_COMMAND = 'printwatches';
const SEPARATOR_LINE = 'printwatches is on';
const RUN_TIMEOUT_MS = 60_000;

interface Run {
  name: string;
  /** null: the plain client port */
  cert: ClientCert | null;
  commands: string[];
}

function runs(m: TlsMaterial): Run[] {
  return [
    {
      name: 'owner (CN=zkclient) over TLS',
      cert: m.client,
      commands: [
        'whoami',
        'create /secure hush x509:CN=zkclient:cdrwa',
        'getAcl /secure',
        'get /secure',
        'set /secure v2',
        'get /secure',
        'create /shared s x509:CN=zkclient:cdrwa',
        'setAcl /shared x509:CN=zkclient:cdrwa,world:anyone:r',
        'getAcl /shared',
        'create /mine m auth::cdrwa',
        'getAcl /mine',
        'create /bad x x509:notaname:cdrwa',
        'create /bad2 x nosuchscheme:foo:cdrwa',
      ],
    },
    {
      name: 'plain port',
      cert: null,
      commands: ['whoami', 'get /secure', 'set /secure nope', 'get /shared', 'getAcl /secure', 'ls /'],
    },
    {
      name: 'another certificate (multi-valued RDN, escapes, e-mail) over TLS',
      cert: m.fancyClient,
      commands: ['whoami', 'get /secure', 'get /shared', 'create /fancy f x509:CN=zkclient:r', 'getAcl /fancy'],
    },
    {
      name: 'the x509 superUser (CN=zkadmin) over TLS',
      cert: m.adminClient,
      commands: ['whoami', 'get /secure', 'set /secure admin', 'get /fancy', 'delete /fancy'],
    },
  ];
}

async function runZkCli(port: number, run: Run, m: TlsMaterial): Promise<string[][]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-zkcli-tls-'));
  const outFile = path.join(dir, 'out.txt');
  const fd = fs.openSync(outFile, 'w');
  const secure = run.cert === null ? [] : [
    '-Dzookeeper.client.secure=true',
    '-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty',
    `-Dzookeeper.ssl.keyStore.location=${run.cert.p12}`,
    `-Dzookeeper.ssl.keyStore.password=${STORE_PASSWORD}`,
    `-Dzookeeper.ssl.trustStore.location=${m.trustP12}`,
    `-Dzookeeper.ssl.trustStore.password=${STORE_PASSWORD}`,
  ];
  try {
    const child = spawn('java', ['-Xshare:auto', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', ...secure, '-cp', CLASSPATH,
      'org.apache.zookeeper.ZooKeeperMain', '-server', `127.0.0.1:${port}`], { stdio: ['pipe', fd, fd] });
    child.stdin?.end([SEPARATOR_COMMAND, ...run.commands.flatMap((c) => [c, SEPARATOR_COMMAND]), 'quit', ''].join('\n'));
    const exited = new Promise<void>((resolve, reject) => {
      child.once('exit', () => resolve());
      child.once('error', reject);
    });
    try {
      await withDeadline(exited, RUN_TIMEOUT_MS, `zkCli (${run.name}) against port ${port} to finish`);
    } catch (error) {
      child.kill('SIGKILL');
      throw new Error(`${(error as Error).message}; output so far:\n${fs.readFileSync(outFile, 'utf8')}`);
    }
  } finally {
    fs.closeSync(fd);
  }
  const lines = zkCliLines(fs.readFileSync(outFile, 'utf8'));
  fs.rmSync(dir, { recursive: true, force: true });
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
  return blocks;
}

function toTranscript(runList: Run[], results: string[][][]): TranscriptEntry[] {
  const masker = new Masker();
  return runList.flatMap((run, r) => run.commands.map((command, i) => {
    const block = results[r][i] ?? ['<no output block: zkCli stopped early>'];
    const output = block.map((line) => {
      let mm = /^(cZxid|mZxid|pZxid) = (0x[0-9a-fA-F]+)$/.exec(line);
      if (mm) return `${mm[1]} = ${masker.zxid(mm[2])}`;
      mm = /^(ctime|mtime) = (.*)$/.exec(line);
      if (mm) return `${mm[1]} = T`;
      return line;
    });
    return { step: `${run.name}: ${command}`, output };
  }));
}

async function scenario(server: ServerHandle, securePort: number, m: TlsMaterial): Promise<TranscriptEntry[]> {
  const list = runs(m);
  const results: string[][][] = [];
  for (const run of list) results.push(await runZkCli(run.cert === null ? server.port : securePort, run, m));
  return toTranscript(list, results);
}

const targetKind = compatTarget();
let m: TlsMaterial | undefined;
const servers: { server: ServerHandle; securePort: number }[] = [];

describe(`compat, TLS and x509 through zkCli: Apache ZooKeeper vs ${targetKind}`, () => {
  beforeAll(async () => {
    m = makeTlsMaterial();
    const material = m;
    const start = async (kind: 'zookeeper' | typeof targetKind) => {
      const securePort = await freePort();
      const config = tlsServerConfig(material, securePort, 'pem', { 'X509AuthenticationProvider.superUser': material.adminClient.x509Id });
      const server = await (kind === 'zookeeper' ? startZooKeeper({ config }) : startServer(kind, { config }));
      servers.push({ server, securePort });
    };
    await start('zookeeper');
    await start(targetKind);
  }, 90_000);

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.server.stop()));
    m?.cleanup();
  });

  it('the same transcripts: x509 ACLs, whoami, getAcl, NOAUTH on the plain port, the superUser', async () => {
    expect(servers).toHaveLength(2);
    const [oracle, target] = servers;
    const [expected, actual] = await Promise.all([
      scenario(oracle.server, oracle.securePort, m!),
      scenario(target.server, target.securePort, m!).catch((error: Error) => [{ step: 'zkCli runs failed', error: error.message }] as TranscriptEntry[]),
    ]);
    maybeDumpTranscript('tls', 'zkcli', 'oracle', expected);
    maybeDumpTranscript('tls', 'zkcli', targetKind, actual);
    const flat = expected.map((e) => `${e.step} → ${(e.output as string[]).join(' | ')}`).join('\n');
    // the oracle must show what this scenario is about
    expect(flat).toContain('owner (CN=zkclient) over TLS: whoami → Auth scheme: User | x509: CN=zkclient | ip: 127.0.0.1');
    expect(flat).toContain('plain port: get /secure → Insufficient permission : /secure');
    expect(flat).toContain(`x509: ${m!.fancyClient.x509Id}`);
    expect(flat).toContain('the x509 superUser (CN=zkadmin) over TLS: get /secure → v2');
    assertSameTranscript(expected, actual, {
      name: 'zkCli over TLS',
      targetLabel: `${targetKind} (port ${target.server.port}, secure ${target.securePort})`,
      details: () => `${targetKind} log (${target.server.logFile}), last lines:\n${target.server.logTail(30)}`,
    });
  }, 4 * RUN_TIMEOUT_MS);

  /** What a raw TLS client sees: refusals, garbage, and that the open session carries on. */
  async function refusals(securePort: number, material: TlsMaterial): Promise<Record<string, unknown>> {
    const outcome = (p: Promise<TlsZkClient>) => p.then(async (c) => {
      try {
        return `served: ${(await c.whoAmI()).join(' ')}`;
      } catch {
        return 'refused after the handshake';
      } finally {
        c.close();
      }
    }, () => 'refused');
    const good = await TlsZkClient.connect(securePort, { ca: material.caPem, cert: material.client });
    try {
      const noCert = await outcome(TlsZkClient.connect(securePort, { ca: material.caPem, timeoutMs: 10_000 }));
      const untrusted = await outcome(TlsZkClient.connect(securePort, { ca: material.caPem, cert: material.untrustedClient, timeoutMs: 10_000 }));
      /** Plain bytes to the TLS port: what comes back before the server closes (or a deadline passes). */
      const raw = (bytes: Buffer) => new Promise<string>((resolve) => {
        const chunks: Buffer[] = [];
        const s = net.connect({ host: '127.0.0.1', port: securePort }, () => s.write(bytes));
        const timer = setTimeout(() => {
          s.destroy();
          resolve('still open after 5 s');
        }, 5_000);
        s.on('data', (c) => chunks.push(c));
        s.on('error', () => {});
        s.on('close', () => {
          clearTimeout(timer);
          const got = Buffer.concat(chunks);
          resolve(got.length === 0 ? 'closed' : got.toString('latin1').includes('imok') ? 'imok in the clear' : `closed after ${got[0] === 0x15 ? 'a TLS alert' : 'bytes'}`);
        });
      });
      const garbage = await raw(Buffer.from('\x00\x00\x00\x2chello, this is not TLS at all\r\n\r\n'));
      const ruok = await raw(Buffer.from('ruok'));
      // x509 ids are checked as X500Principal reads them: "" is the empty name, blanks are no name
      const x509Id = (id: string) => good.create(`/x509-id-${id.length}`, 'x', [{ perms: 31, id: { scheme: 'x509', id } }]);
      const x509Ids = { empty: await x509Id(''), blank: await x509Id('  ') };
      return { noCert, untrusted, garbage, ruok, x509Ids, afterwards: await good.whoAmI() };
    } finally {
      good.close();
    }
  }

  it('the same refusals: no certificate, an untrusted one, plain bytes; the open session carries on', async () => {
    const [oracle, target] = servers;
    const [expected, actual] = await Promise.all([refusals(oracle.securePort, m!), refusals(target.securePort, m!)]);
    // ZooKeeper closes on bytes that are no TLS record, and waits for more after a 4-byte word
    expect(expected).toEqual({ noCert: 'refused', untrusted: 'refused', garbage: 'closed', ruok: 'still open after 5 s',
      x509Ids: { empty: Err.OK, blank: Err.INVALIDACL }, afterwards: ['x509:CN=zkclient', 'ip:127.0.0.1'] });
    expect(actual).toEqual(expected);
  }, 60_000);

  it('PKCS12 key and trust stores on both servers', async () => {
    const material = m!;
    const started: ServerHandle[] = [];
    try {
      const ports = [await freePort(), await freePort()];
      started.push(await startZooKeeper({ config: tlsServerConfig(material, ports[0], 'p12') }));
      started.push(await startServer(targetKind, { config: tlsServerConfig(material, ports[1], 'p12') }));
      const seen = await Promise.all(ports.map(async (port) => {
        const c = await TlsZkClient.connect(port, { ca: material.caPem, cert: material.fancyClient });
        try {
          return await c.whoAmI();
        } finally {
          c.close();
        }
      }));
      expect(seen[0]).toContain(`x509:${material.fancyClient.x509Id}`);
      expect(seen[1]).toEqual(seen[0]);
    } finally {
      await Promise.all(started.map((s) => s.stop()));
    }
  }, 90_000);
});
