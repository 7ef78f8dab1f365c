// TLS test material and a small TLS ZooKeeper client.
//
// makeTlsMaterial() writes, into a fresh temp dir, with /usr/bin/openssl and keytool: a CA,
// a server certificate for localhost/127.0.0.1, client certificates (a simple subject and
// one with escapes, a multi-valued RDN and an e-mail attribute), a client certificate from
// another CA (untrusted), and the stores ZooKeeper reads: PEM (key + chain, plain and with
// an encrypted key), PKCS12 and JKS key stores; PEM, PKCS12 and JKS trust stores.
//
// TlsZkClient speaks the jute protocol over a TLS socket (node-zookeeper-client has no TLS):
// connect handshake, then one request at a time.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import tls from 'node:tls';
import { JuteReader, JuteWriter } from '../../native-free-io/jute.ts';
import { Op, readAcls, writeAcls, type Acl } from '../../engine/protocol.ts';
import { withDeadline } from './wait.ts';

export const STORE_PASSWORD = 'storepass1';

export interface TlsMaterial {
  dir: string;
  caPem: string;
  serverPem: string;          // key + chain
  serverEncryptedPem: string; // encrypted PKCS8 key (STORE_PASSWORD) + chain
  serverP12: string;
  serverJks: string;
  trustPem: string;
  trustP12: string;
  trustJks: string;
  /** CN=zkclient */
  client: ClientCert;
  /** C=US,O=Acme\, Inc.,OU=Eng+OU=Ops,CN=client one,emailAddress=a@b.c */
  fancyClient: ClientCert;
  /** CN=zkadmin: the x509 superUser in tests that set one */
  adminClient: ClientCert;
  /** CN=intruder, signed by a CA the server does not trust */
  untrustedClient: ClientCert;
  cleanup(): void;
}

export interface ClientCert {
  keyPem: string;
  certPem: string;
  p12: string;
  /** Its subject as X500Principal.getName() prints it: the x509 id ZooKeeper gives it. */
  x509Id: string;
}

function run(cmd: string, args: string[], cwd: string): void {
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

function issue(dir: string, name: string, subject: string, caName: string, extra: string[] = []): void {
  run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`,
    '-subj', subject, '-multivalue-rdn', '-utf8'], dir);
  run('openssl', ['x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.pem`, '-CAkey', `${caName}.key`, '-CAcreateserial',
    '-out', `${name}.crt`, '-days', '2', ...extra], dir);
}

function clientCert(dir: string, name: string, subject: string, caName: string, x509Id: string): ClientCert {
  issue(dir, name, subject, caName);
  run('openssl', ['pkcs12', '-export', '-in', `${name}.crt`, '-inkey', `${name}.key`, '-out', `${name}.p12`, '-passout', `pass:${STORE_PASSWORD}`], dir);
  return { keyPem: path.join(dir, `${name}.key`), certPem: path.join(dir, `${name}.crt`), p12: path.join(dir, `${name}.p12`), x509Id };
}

export function makeTlsMaterial(): TlsMaterial {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-tls-'));
  const ca = (name: string, cn: string) =>
    run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`,
      '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${cn}`], dir);
  ca('ca', 'zooid test CA');
  ca('otherca', 'someone else');
  fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  issue(dir, 'server', '/CN=localhost', 'ca', ['-extfile', 'san.ext']);
  const chain = fs.readFileSync(path.join(dir, 'server.crt'), 'utf8') + fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8');
  fs.writeFileSync(path.join(dir, 'server.pem'), fs.readFileSync(path.join(dir, 'server.key'), 'utf8') + chain);
  run('openssl', ['pkcs8', '-topk8', '-in', 'server.key', '-out', 'server-enc.key', '-v2', 'aes-256-cbc', '-passout', `pass:${STORE_PASSWORD}`], dir);
  fs.writeFileSync(path.join(dir, 'server-enc.pem'), fs.readFileSync(path.join(dir, 'server-enc.key'), 'utf8') + chain);
  run('openssl', ['pkcs12', '-export', '-in', 'server.crt', '-inkey', 'server.key', '-certfile', 'ca.pem', '-name', 'server',
    '-out', 'server.p12', '-passout', `pass:${STORE_PASSWORD}`], dir);
  const keytool = (args: string[]) => run('keytool', args, dir);
  keytool(['-importkeystore', '-srckeystore', 'server.p12', '-srcstoretype', 'PKCS12', '-srcstorepass', STORE_PASSWORD,
    '-destkeystore', 'server.jks', '-deststoretype', 'JKS', '-deststorepass', STORE_PASSWORD, '-destkeypass', STORE_PASSWORD, '-noprompt']);
  keytool(['-importcert', '-noprompt', '-alias', 'ca', '-file', 'ca.pem', '-keystore', 'trust.p12', '-storetype', 'PKCS12', '-storepass', STORE_PASSWORD]);
  keytool(['-importcert', '-noprompt', '-alias', 'ca', '-file', 'ca.pem', '-keystore', 'trust.jks', '-storetype', 'JKS', '-storepass', STORE_PASSWORD]);
  const p = (f: string) => path.join(dir, f);
  return {
    dir,
    caPem: p('ca.pem'),
    serverPem: p('server.pem'),
    serverEncryptedPem: p('server-enc.pem'),
    serverP12: p('server.p12'),
    serverJks: p('server.jks'),
    trustPem: p('ca.pem'),
    trustP12: p('trust.p12'),
    trustJks: p('trust.jks'),
    client: clientCert(dir, 'client', '/CN=zkclient', 'ca', 'CN=zkclient'),
    fancyClient: clientCert(dir, 'fancy', '/C=US/O=Acme, Inc./OU=Eng+OU=Ops/CN=client one/emailAddress=a@b.c', 'ca',
      '1.2.840.113549.1.9.1=#16056140622e63,CN=client one,OU=Eng+OU=Ops,O=Acme\\, Inc.,C=US'),
    adminClient: clientCert(dir, 'admin', '/CN=zkadmin', 'ca', 'CN=zkadmin'),
    untrustedClient: clientCert(dir, 'intruder', '/CN=intruder', 'otherca', 'CN=intruder'),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** zoo.cfg keys for TLS on secureClientPort, the same for ZooKeeper and zooid. */
export function tlsServerConfig(m: TlsMaterial, securePort: number, store: 'pem' | 'pem-encrypted' | 'p12' | 'jks' = 'pem', extra: Record<string, string> = {}): Record<string, string> {
  const keyStore = { pem: m.serverPem, 'pem-encrypted': m.serverEncryptedPem, p12: m.serverP12, jks: m.serverJks }[store];
  const trustStore = { pem: m.trustPem, 'pem-encrypted': m.trustPem, p12: m.trustP12, jks: m.trustJks }[store];
  const config: Record<string, string> = {
    secureClientPort: String(securePort),
    serverCnxnFactory: 'org.apache.zookeeper.server.NettyServerCnxnFactory',
    'authProvider.x509': 'org.apache.zookeeper.server.auth.X509AuthenticationProvider',
    'ssl.keyStore.location': keyStore,
    'ssl.trustStore.location': trustStore,
    ...extra,
  };
  if (store !== 'pem') config['ssl.keyStore.password'] = STORE_PASSWORD;
  if (store === 'p12' || store === 'jks') config['ssl.trustStore.password'] = STORE_PASSWORD;
  return config;
}

// ---------------------------------------------------------------------------------
// A TLS jute client

export interface TlsConnectOptions {
  cert?: ClientCert;
  ca: string;
  timeoutMs?: number;
}

export interface Reply {
  err: number;
  reader: JuteReader;
}

export class TlsZkClient {
  readonly socket: tls.TLSSocket;
  private buffered = Buffer.alloc(0);
  private waiting: ((frame: Buffer) => void) | null = null;
  private closedWith: Error | null = null;
  private xid = 1;
  sessionId = 0n;

  private constructor(socket: tls.TLSSocket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.deliver();
    });
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('connection closed by the server')));
  }

  private fail(err: Error): void {
    this.closedWith ??= err;
    const w = this.waiting;
    this.waiting = null;
    w?.(Buffer.alloc(0));
  }

  private deliver(): void {
    if (this.waiting === null || this.buffered.length < 4) return;
    const len = this.buffered.readInt32BE(0);
    if (this.buffered.length < 4 + len) return;
    const frame = this.buffered.subarray(4, 4 + len);
    this.buffered = this.buffered.subarray(4 + len);
    const w = this.waiting;
    this.waiting = null;
    w(frame);
  }

  private nextFrame(timeoutMs: number): Promise<Buffer> {
    if (this.closedWith !== null && this.buffered.length < 4) return Promise.reject(this.closedWith);
    const p = new Promise<Buffer>((resolve, reject) => {
      this.waiting = (frame) => (frame.length === 0 && this.closedWith !== null ? reject(this.closedWith) : resolve(frame));
    });
    this.deliver();
    return withDeadline(p, timeoutMs, 'a reply over TLS');
  }

  /** TLS handshake, then ZooKeeper's ConnectRequest; rejects when either is refused. */
  static async connect(port: number, o: TlsConnectOptions): Promise<TlsZkClient> {
    const timeoutMs = o.timeoutMs ?? 10_000;
    const socket = tls.connect({
      host: '127.0.0.1', port, servername: 'localhost', ca: fs.readFileSync(o.ca),
      key: o.cert === undefined ? undefined : fs.readFileSync(o.cert.keyPem),
      cert: o.cert === undefined ? undefined : fs.readFileSync(o.cert.certPem),
    });
    const client = new TlsZkClient(socket);
    await withDeadline(new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
      socket.once('close', () => reject(new Error('closed during the TLS handshake')));
    }), timeoutMs, 'the TLS handshake');
    const w = new JuteWriter(256);
    const at = w.beginFrame();
    w.int(0).long(0n).int(30_000).long(0n).buffer(Buffer.alloc(16)).bool(false);
    w.endFrame(at);
    socket.write(w.copy());
    const frame = await client.nextFrame(timeoutMs);
    const r = new JuteReader(frame);
    r.int();
    r.int();
    client.sessionId = r.long();
    return client;
  }

  async request(op: number, body: (w: JuteWriter) => void, timeoutMs = 10_000): Promise<Reply> {
    const w = new JuteWriter(1024);
    const at = w.beginFrame();
    const xid = this.xid++;
    w.int(xid).int(op);
    body(w);
    w.endFrame(at);
    this.socket.write(w.copy());
    const frame = await this.nextFrame(timeoutMs);
    const r = new JuteReader(frame);
    const gotXid = r.int();
    if (gotXid !== xid) throw new Error(`reply xid ${gotXid}, expected ${xid}`);
    r.long();
    return { err: r.int(), reader: r };
  }

  async whoAmI(): Promise<string[]> {
    const { err, reader } = await this.request(Op.whoAmI, () => {});
    if (err !== 0) throw new Error(`whoAmI failed with ${err}`);
    const n = reader.int();
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(`${reader.string()}:${reader.string()}`);
    return out;
  }

  async create(path: string, data: string, acls: Acl[]): Promise<number> {
    return (await this.request(Op.create, (w) => {
      w.string(path).buffer(Buffer.from(data));
      writeAcls(w, acls);
      w.int(0);
    })).err;
  }

  async getData(path: string): Promise<{ err: number; data: string | null }> {
    const { err, reader } = await this.request(Op.getData, (w) => w.string(path).bool(false));
    return { err, data: err === 0 ? (reader.buffer()?.toString() ?? null) : null };
  }

  async getAcl(path: string): Promise<{ err: number; acls: Acl[] }> {
    const { err, reader } = await this.request(Op.getACL, (w) => w.string(path));
    return { err, acls: err === 0 ? readAcls(reader) : [] };
  }

  close(): void {
    this.socket.destroy();
  }
}
