// client.portUnification (NettyServerCnxnFactory's DualModeSslHandler): the plain clientPort also
// takes TLS clients, the first byte of a connection (0x16, a TLS handshake record) deciding.
// Apache ZooKeeper 3.8 (its Netty connection factory, client.portUnification=true, the ssl.*
// stores, no secureClientPort) beside zooid with the same zoo.cfg: a plain client, TLS clients
// (x509 identity, a missing certificate refused) and a four-letter word on the one port see the
// same. Without the key a TLS client on the plain port is refused (the server reads its
// ClientHello as a frame length and closes) and plain clients are served as before.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compatTarget, fourLetterWord, startServer, startZooKeeper, type ServerHandle } from '../support/servers.ts';
import { makeTlsMaterial, TlsZkClient, type TlsMaterial } from '../support/tls.ts';
import { ZkSession } from '../support/zkclient.ts';

const targetKind = compatTarget();
let m: TlsMaterial | undefined;
const started: ServerHandle[] = [];

function unifiedConfig(material: TlsMaterial): Record<string, string> {
  return {
    serverCnxnFactory: 'org.apache.zookeeper.server.NettyServerCnxnFactory',
    'client.portUnification': 'true',
    'authProvider.x509': 'org.apache.zookeeper.server.auth.X509AuthenticationProvider',
    'ssl.keyStore.location': material.serverPem,
    'ssl.trustStore.location': material.trustPem,
  };
}

/** A TLS client's fate on `port`: its whoami, or 'refused'. */
async function tlsOutcome(port: number, connect: () => Promise<TlsZkClient>): Promise<string> {
  let c: TlsZkClient;
  try {
    c = await connect();
  } catch {
    return 'refused';
  }
  try {
    return (await c.whoAmI()).join(' ');
  } catch {
    return 'refused after the handshake';
  } finally {
    c.close();
  }
}

async function unifiedScenario(server: ServerHandle, material: TlsMaterial): Promise<Record<string, unknown>> {
  const port = server.port;
  const plain = await ZkSession.connect('plain', port, { connectTimeoutMs: 20_000, requestTimeoutMs: 10_000 });
  const tls = await TlsZkClient.connect(port, { ca: material.caPem, cert: material.client });
  try {
    const seen: Record<string, unknown> = {};
    seen.plainCreate = (await plain.create('/plain', 'p')).err;
    seen.tlsWhoAmI = await tls.whoAmI();
    seen.tlsReadsPlain = await tls.getData('/plain');
    seen.tlsCreate = await tls.create('/tls', 't', [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }]);
    seen.plainReadsTls = (await plain.getData('/tls')).data;
    seen.ruok = await fourLetterWord(port, 'ruok');
    seen.noCertificate = await tlsOutcome(port, () => TlsZkClient.connect(port, { ca: material.caPem, timeoutMs: 10_000 }));
    seen.untrusted = await tlsOutcome(port, () => TlsZkClient.connect(port, { ca: material.caPem, cert: material.untrustedClient, timeoutMs: 10_000 }));
    seen.plainAfterwards = (await plain.getData('/plain')).data;
    return seen;
  } finally {
    tls.close();
    await plain.dispose();
  }
}

async function plainOnlyScenario(server: ServerHandle, material: TlsMaterial): Promise<Record<string, unknown>> {
  const port = server.port;
  const tlsClient = await tlsOutcome(port, () => TlsZkClient.connect(port, { ca: material.caPem, cert: material.client, timeoutMs: 10_000 }));
  const plain = await ZkSession.connect('plain', port, { connectTimeoutMs: 20_000, requestTimeoutMs: 10_000 });
  try {
    return { tlsClient, plainCreate: (await plain.create('/plain', 'p')).err, ruok: await fourLetterWord(port, 'ruok') };
  } finally {
    await plain.dispose();
  }
}

describe(`client.portUnification: Apache ZooKeeper (Netty) vs ${targetKind}`, () => {
  beforeAll(() => {
    m = makeTlsMaterial();
  });

  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop()));
    m?.cleanup();
  });

  it('one port serves plain and TLS clients alike', async () => {
    const material = m!;
    const oracle = await startZooKeeper({ config: unifiedConfig(material) });
    started.push(oracle);
    const target = await startServer(targetKind, { config: unifiedConfig(material) });
    started.push(target);
    const expected = await unifiedScenario(oracle, material);
    const actual = await unifiedScenario(target, material);
    expect(expected).toEqual({
      plainCreate: 'OK', tlsWhoAmI: ['x509:CN=zkclient', 'ip:127.0.0.1'], tlsReadsPlain: { err: 0, data: 'p' }, tlsCreate: 0, plainReadsTls: 't',
      ruok: 'imok', noCertificate: 'refused', untrusted: 'refused', plainAfterwards: 'p',
    });
    expect(actual).toEqual(expected);
  }, 120_000);

  it('without it a TLS client on the plain port is refused, plain clients served', async () => {
    const material = m!;
    const oracle = await startZooKeeper({});
    started.push(oracle);
    const target = await startServer(targetKind, {});
    started.push(target);
    const expected = await plainOnlyScenario(oracle, material);
    const actual = await plainOnlyScenario(target, material);
    expect(expected).toEqual({ tlsClient: 'refused', plainCreate: 'OK', ruok: 'imok' });
    expect(actual).toEqual(expected);
  }, 120_000);
});
