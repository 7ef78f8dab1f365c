// TLS on secureClientPort and the x509 ACL scheme, zooid only, real sockets and real
// certificates (openssl and keytool write them into a temp dir for this run):
// - every key store type ZooKeeper reads (PEM, PEM with an encrypted key, PKCS12, JKS) with
//   its trust store serves TLS clients; the x509 id is the certificate's RFC 2253 subject;
// - x509 ACLs: the certificate's session may read, a plain-port session gets NOAUTH;
// - clientAuth=need refuses a client without (or with an untrusted) certificate, garbage
//   on the secure port is closed and logged, and sessions already open carry on;
// - clientAuth=want serves a client without a certificate, with no x509 id;
// - X509AuthenticationProvider.superUser; conf shows secureClientPort;
// - a missing store or a wrong password exits 2 naming the setting.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { startZooid, freePort, fourLetterWord, ZOOID_CLI, REPO_ROOT, type ServerHandle } from '../support/servers.ts';
import { makeTlsMaterial, tlsServerConfig, TlsZkClient, STORE_PASSWORD, type TlsMaterial } from '../support/tls.ts';
import { waitFor, withDeadline } from '../support/wait.ts';
import { LeanClient } from '../../client/lean.ts';
import { Err, Perm } from '../../engine/protocol.ts';

let m: TlsMaterial;
const handles: ServerHandle[] = [];

beforeAll(() => {
  m = makeTlsMaterial();
});

afterAll(async () => {
  await Promise.all(handles.map((h) => h.stop().catch(() => {})));
  m?.cleanup();
});

async function start(store: 'pem' | 'pem-encrypted' | 'p12' | 'jks', extra: Record<string, string> = {}): Promise<{ server: ServerHandle; securePort: number }> {
  const securePort = await freePort();
  const server = await startZooid({ config: { ...tlsServerConfig(m, securePort, store), ...extra } });
  handles.push(server);
  return { server, securePort };
}

describe('zooid TLS on secureClientPort', () => {
  for (const store of ['pem', 'pem-encrypted', 'p12', 'jks'] as const) {
    it(`serves TLS with a ${store} key store; the session's x509 id is its certificate's subject`, async () => {
      const { server, securePort } = await start(store);
      const c = await TlsZkClient.connect(securePort, { ca: m.caPem, cert: m.fancyClient });
      try {
        expect((await c.whoAmI()).sort()).toEqual(['ip:127.0.0.1', `x509:${m.fancyClient.x509Id}`]);
      } finally {
        c.close();
      }
      // the plain port keeps working alongside
      expect(await fourLetterWord(server.port, 'ruok')).toBe('imok');
      expect(await fourLetterWord(server.port, 'conf')).toContain(`secureClientPort=${securePort}\n`);
    }, 60_000);
  }

  it('x509 ACLs: the certificate may, another certificate and the plain port may not', async () => {
    const { server, securePort } = await start('pem');
    const owner = await TlsZkClient.connect(securePort, { ca: m.caPem, cert: m.client });
    const other = await TlsZkClient.connect(securePort, { ca: m.caPem, cert: m.fancyClient });
    const plain = await LeanClient.connect({ host: '127.0.0.1', port: server.port, connectTimeoutMs: 5_000 });
    try {
      const acl = [{ perms: Perm.ALL, id: { scheme: 'x509', id: m.client.x509Id } }];
      expect(await owner.create('/secure', 'hush', acl)).toBe(Err.OK);
      expect(await owner.getData('/secure')).toEqual({ err: Err.OK, data: 'hush' });
      expect(await owner.getAcl('/secure')).toEqual({ err: Err.OK, acls: acl });
      expect((await other.getData('/secure')).err).toBe(Err.NOAUTH);
      await expect(plain.getData('/secure')).rejects.toMatchObject({ code: Err.NOAUTH });
      // "auth" stands for the session's x509 id, as for a digest id
      expect(await owner.create('/mine', 'm', [{ perms: Perm.ALL, id: { scheme: 'auth', id: '' } }])).toBe(Err.OK);
      expect((await owner.getAcl('/mine')).acls).toEqual(acl);
      // an id that is no X.500 name is an invalid ACL
      expect(await owner.create('/bad', 'b', [{ perms: Perm.ALL, id: { scheme: 'x509', id: 'not a name' } }])).toBe(Err.INVALIDACL);
    } finally {
      owner.close();
      other.close();
      plain.disconnect();
    }
  }, 60_000);

  it('clientAuth=need: no certificate, an untrusted one and plain bytes are refused; open sessions carry on', async () => {
    const { server, securePort } = await start('pem');
    const good = await TlsZkClient.connect(securePort, { ca: m.caPem, cert: m.client });
    try {
      expect(await good.create('/alive', 'x', [{ perms: Perm.ALL, id: { scheme: 'world', id: 'anyone' } }])).toBe(Err.OK);
      await expect(TlsZkClient.connect(securePort, { ca: m.caPem, timeoutMs: 5_000 })).rejects.toThrow();
      await expect(TlsZkClient.connect(securePort, { ca: m.caPem, cert: m.untrustedClient, timeoutMs: 5_000 })).rejects.toThrow();
      // a plain ZooKeeper ConnectRequest on the TLS port: closed with no answer but a TLS alert
      const answer = await withDeadline(new Promise<Buffer>((resolve) => {
        const chunks: Buffer[] = [];
        const s = net.connect({ host: '127.0.0.1', port: securePort }, () => {
          const req = Buffer.alloc(48);
          req.writeInt32BE(44, 0);
          req.writeInt32BE(30_000, 16);
          req.writeInt32BE(16, 28);
          s.write(req);
        });
        s.on('data', (c) => chunks.push(c));
        s.on('error', () => {});
        s.on('close', () => resolve(Buffer.concat(chunks)));
      }), 5_000, 'the server to close a plain connection on the TLS port');
      expect(answer.length === 0 || answer[0] === 0x15, `not closed or a TLS alert: ${answer.toString('hex')}`).toBe(true);
      await waitFor(() => /TLS handshake failed/.test(fs.readFileSync(server.logFile, 'utf8')), { timeoutMs: 5_000, what: 'the refused handshake in the log' });
      expect(await good.getData('/alive')).toEqual({ err: Err.OK, data: 'x' });
      expect(await good.whoAmI()).toEqual(['x509:CN=zkclient', 'ip:127.0.0.1']); // ZooKeeper's hash-set order
    } finally {
      good.close();
    }
  }, 60_000);

  it('clientAuth=want serves a client without a certificate (no x509 id), still refuses an untrusted one', async () => {
    const { securePort } = await start('p12', { 'ssl.clientAuth': 'want' });
    const anonymous = await TlsZkClient.connect(securePort, { ca: m.caPem });
    const known = await TlsZkClient.connect(securePort, { ca: m.caPem, cert: m.client });
    try {
      expect(await anonymous.whoAmI()).toEqual(['ip:127.0.0.1']);
      expect(await known.whoAmI()).toEqual(['x509:CN=zkclient', 'ip:127.0.0.1']);
      await expect(TlsZkClient.connect(securePort, { ca: m.caPem, cert: m.untrustedClient, timeoutMs: 5_000 })
        .then(async (c) => c.whoAmI().finally(() => c.close()))).rejects.toThrow();
    } finally {
      anonymous.close();
      known.close();
    }
  }, 60_000);

  it('X509AuthenticationProvider.superUser may do anything', async () => {
    const { securePort } = await start('pem', { 'X509AuthenticationProvider.superUser': m.adminClient.x509Id });
    const owner = await TlsZkClient.connect(securePort, { ca: m.caPem, cert: m.client });
    const admin = await TlsZkClient.connect(securePort, { ca: m.caPem, cert: m.adminClient });
    try {
      expect(await owner.create('/private', 'p', [{ perms: Perm.ALL, id: { scheme: 'x509', id: m.client.x509Id } }])).toBe(Err.OK);
      expect(await admin.getData('/private')).toEqual({ err: Err.OK, data: 'p' });
      expect(await admin.whoAmI()).toEqual(['super:', 'ip:127.0.0.1', 'x509:CN=zkadmin']); // as ZooKeeper lists them
    } finally {
      owner.close();
      admin.close();
    }
  }, 60_000);

  it('the AdminServer lists TLS connections under secure_connections', async () => {
    const adminPort = await freePort();
    const { server, securePort } = await start('pem', { 'admin.enableServer': 'true', 'admin.serverPort': String(adminPort), 'admin.serverAddress': '127.0.0.1' });
    const secure = await TlsZkClient.connect(securePort, { ca: m.caPem, cert: m.client });
    const plain = await LeanClient.connect({ host: '127.0.0.1', port: server.port, connectTimeoutMs: 5_000 });
    try {
      // the AdminServer starts listening just after the client ports serve: wait for it
      const body = await waitFor(
        () => fetch(`http://127.0.0.1:${adminPort}/commands/connections`).then((r) => r.json(), () => null),
        { timeoutMs: 10_000, what: 'the AdminServer to answer' },
      ) as {
        connections: { remote_socket_address: string }[];
        secure_connections: { remote_socket_address: string }[];
      };
      expect(body.secure_connections.map((c) => c.remote_socket_address)).toEqual([`127.0.0.1:${secure.socket.localPort}`]);
      expect(body.connections).toHaveLength(1);
      expect(body.connections[0].remote_socket_address).not.toBe(`127.0.0.1:${secure.socket.localPort}`);
    } finally {
      secure.close();
      plain.disconnect();
    }
  }, 60_000);

  it('only secureClientPort: no plain listener, TLS works', async () => {
    const securePort = await freePort();
    const config = tlsServerConfig(m, securePort, 'pem');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-tls-only-'));
    const cfgPath = path.join(dir, 'zoo.cfg');
    fs.writeFileSync(cfgPath, [`dataDir=${dir}/data`, 'admin.enableServer=false', 'secureClientPortAddress=127.0.0.1',
      ...Object.entries(config).map(([k, v]) => `${k}=${v}`)].join('\n') + '\n');
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [ZOOID_CLI, 'server', cfgPath], { cwd: REPO_ROOT, stdio: 'ignore' });
    try {
      const c = await waitFor(() => TlsZkClient.connect(securePort, { ca: m.caPem, cert: m.client, timeoutMs: 2_000 }).catch(() => null),
        { timeoutMs: 20_000, what: 'zooid with only a secure port to serve' });
      expect(await c.whoAmI()).toEqual(['x509:CN=zkclient', 'ip:127.0.0.1']);
      c.close();
    } finally {
      child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('zooid TLS config errors exit 2 naming the setting', () => {
  function runWith(lines: Record<string, string>): { status: number | null; stderr: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-tls-cfg-'));
    try {
      const cfgPath = path.join(dir, 'zoo.cfg');
      fs.writeFileSync(cfgPath, [`dataDir=${dir}/data`, 'admin.enableServer=false',
        ...Object.entries(lines).map(([k, v]) => `${k}=${v}`)].join('\n') + '\n');
      const r = spawnSync(process.execPath, [ZOOID_CLI, 'server', cfgPath], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 20_000 });
      return { status: r.status, stderr: r.stderr };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  it('a missing key store file', () => {
    const r = runWith({ ...tlsServerConfig(m, 1, 'pem'), 'ssl.keyStore.location': '/nonexistent/keystore.pem' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/ssl\.keyStore\.location: cannot read \/nonexistent\/keystore\.pem/);
  });

  it('a wrong key store password (PKCS12, JKS, encrypted PEM)', () => {
    for (const store of ['p12', 'jks', 'pem-encrypted'] as const) {
      const r = runWith({ ...tlsServerConfig(m, 1, store), 'ssl.keyStore.password': 'wrong' });
      expect(r.status, `${store}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/ssl\.keyStore\.password: cannot open .* with this password/);
    }
  });

  it('a wrong trust store password', () => {
    const r = runWith({ ...tlsServerConfig(m, 1, 'p12'), 'ssl.trustStore.password': 'wrong' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/ssl\.trustStore\.password: /);
  });

  it('no key store, an unknown clientAuth, a store type it cannot infer', () => {
    const base = tlsServerConfig(m, 1, 'pem');
    const { ['ssl.keyStore.location']: _, ...noKeyStore } = base;
    expect(runWith(noKeyStore).stderr).toMatch(/ssl\.keyStore\.location: is not set/);
    expect(runWith({ ...base, 'ssl.clientAuth': 'maybe' }).stderr).toMatch(/ssl\.clientAuth: 'maybe' is not need, want or none/);
    const r = runWith({ ...base, 'ssl.keyStore.location': path.join(m.dir, 'server.key') });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/ssl\.keyStore\.location: cannot tell the store type/);
  });
});
