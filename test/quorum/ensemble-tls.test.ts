// TLS between ensemble servers (sslQuorum, portUnification, ssl.quorum.*; engine/quorum/peer-transport.ts),
// real processes on loopback with certificates from test/support/tls.ts (a server certificate
// for 127.0.0.1 that both ends of a peer connection present):
//   (a) three zooids with sslQuorum=true elect a leader and replicate over TLS; a plain peer,
//       a peer whose certificate is from an untrusted CA and one whose certificate does not
//       name its address are each refused with a log line, and the ensemble carries on;
//   (b) a mixed ensemble: two zooids and Apache ZooKeeper 3.8 with sslQuorum=true (PKCS12
//       stores, as ZooKeeper reads them) — ZooKeeper joins over TLS and serves;
//   (c) a rolling switch of a running plain ensemble to TLS, one server restart at a time, as
//       ZooKeeper's admin guide has it: portUnification=true everywhere, then sslQuorum=true
//       (still unified), then portUnification off; every restarted server rejoins and takes writes.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { allocatePorts, oneLeader, serverLines, srvrMode, startZooKeeperPeer, startZooidPeer, type ZooidPeer } from '../support/ensemble.ts';
import { makeTlsMaterial, STORE_PASSWORD, type TlsMaterial } from '../support/tls.ts';
import { ZkSession } from '../support/zkclient.ts';
import { waitFor, withDeadline } from '../support/wait.ts';

const DEADLINE_MS = 60_000;

let material: TlsMaterial;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(() => {
  material = makeTlsMaterial();
});

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await withDeadline(c(), DEADLINE_MS, 'a cleanup').catch((e: Error) => console.error(`cleanup: ${e.message}`));
  material.cleanup();
}, 120_000);

/** The quorum TLS settings, the same keys for zooid and ZooKeeper. */
function quorumTls(store: 'pem' | 'p12', extra: Record<string, string> = {}): Record<string, string> {
  const m = material;
  const settings: Record<string, string> = {
    sslQuorum: 'true',
    'ssl.quorum.keyStore.location': store === 'pem' ? m.serverPem : m.serverP12,
    'ssl.quorum.trustStore.location': store === 'pem' ? m.trustPem : m.trustP12,
    ...extra,
  };
  if (store === 'p12') {
    settings['ssl.quorum.keyStore.password'] = STORE_PASSWORD;
    settings['ssl.quorum.trustStore.password'] = STORE_PASSWORD;
  }
  return settings;
}

async function session(name: string, port: number): Promise<ZkSession> {
  const s = await ZkSession.connect(name, port, { sessionTimeoutMs: 10_000, connectTimeoutMs: DEADLINE_MS, requestTimeoutMs: 20_000 });
  cleanups.push(() => s.dispose());
  return s;
}

/** A write through `writer`, read through every one of `readers` after sync. */
async function writeAndReadEverywhere(writer: number, readers: readonly number[], path: string): Promise<void> {
  const w = await session(`write-${path}`, writer);
  expect(await w.create(path, `via ${writer}`)).toMatchObject({ err: 'OK' });
  for (const port of readers) {
    const r = await session(`read-${path}-${port}`, port);
    expect(await r.sync(path)).toMatchObject({ err: 'OK' });
    expect(await r.getData(path)).toMatchObject({ err: 'OK', data: `via ${writer}` });
  }
}

/** Resolves once the server closes `socket` (or it fails); rejects after the deadline. */
function closedByPeer(socket: net.Socket, what: string): Promise<void> {
  return withDeadline(new Promise<void>((resolve) => {
    socket.on('error', () => {});
    socket.once('close', () => resolve());
  }), 20_000, what);
}

function logOf(peer: ZooidPeer): string {
  return fs.readFileSync(peer.handle.logFile, 'utf8');
}

describe('TLS between ensemble servers', () => {
  it('three zooids with sslQuorum replicate over TLS and refuse plain, untrusted and misnamed peers', async () => {
    const ports = await allocatePorts([1, 2, 3]);
    const lines = serverLines(ports);
    const peers = await Promise.all(ports.map((p) => startZooidPeer(p, lines, quorumTls('pem'))));
    cleanups.push(async () => void (await Promise.all(peers.map((p) => p.stop()))));
    const leader = await oneLeader(peers, 'one leader over TLS', DEADLINE_MS);
    await writeAndReadEverywhere(peers[0].clientPort, peers.map((p) => p.clientPort), '/tls-a');

    const follower = peers.find((p) => p !== leader)!;
    const electionPort = ports[peers.indexOf(follower)].electionPort;
    const quorumPort = ports[peers.indexOf(leader)].quorumPort;
    // a plain peer: an election initial message's first bytes (protocol version -65536)
    const plain = net.connect({ host: '127.0.0.1', port: electionPort });
    plain.once('connect', () => plain.write(Buffer.from([0xff, 0xff, 0x00, 0x00, 0, 0, 0, 0])));
    await closedByPeer(plain, 'the TLS-only election port to close a plain connection');
    // a certificate from a CA the servers do not trust
    const untrusted = tls.connect({
      host: '127.0.0.1', port: quorumPort, key: fs.readFileSync(material.untrustedClient.keyPem), cert: fs.readFileSync(material.untrustedClient.certPem),
      ca: fs.readFileSync(material.caPem),
    });
    await closedByPeer(untrusted, 'the quorum port to refuse an untrusted certificate');
    // a trusted certificate that does not name 127.0.0.1 (ssl.quorum.hostnameVerification, on by default)
    const misnamed = tls.connect({
      host: '127.0.0.1', port: quorumPort, key: fs.readFileSync(material.client.keyPem), cert: fs.readFileSync(material.client.certPem),
      ca: fs.readFileSync(material.caPem),
    });
    await closedByPeer(misnamed, 'the quorum port to refuse a certificate that does not name the peer');
    await waitFor(() => /election connection refused.*plain connection/.test(logOf(follower)), { timeoutMs: 10_000, what: 'the plain peer logged' });
    await waitFor(() => /quorum connection refused.*TLS/.test(logOf(leader)), { timeoutMs: 10_000, what: `the untrusted peer logged\n${logOf(leader).split('\n').filter((l) => /refused/.test(l)).join('\n')}` });
    await waitFor(() => /quorum connection refused.*does not name 127\.0\.0\.1/.test(logOf(leader)), { timeoutMs: 10_000, what: 'the misnamed peer logged' });
    // and the ensemble carries on
    expect(await oneLeader(peers, 'the same leader after the refused peers', DEADLINE_MS)).toBe(leader);
    await writeAndReadEverywhere(follower.clientPort, peers.map((p) => p.clientPort), '/tls-a-after');
  }, 180_000);

  it('Apache ZooKeeper 3.8 joins two zooids over TLS', async () => {
    const ports = await allocatePorts([1, 2, 3]);
    const lines = serverLines(ports);
    const settings = quorumTls('p12');
    const zooids = await Promise.all(ports.slice(0, 2).map((p) => startZooidPeer(p, lines, settings)));
    cleanups.push(async () => void (await Promise.all(zooids.map((p) => p.stop()))));
    const zk = await startZooKeeperPeer(3, ports[2].clientPort, [...lines, ...Object.entries(settings).map(([k, v]) => `${k}=${v}`)]);
    cleanups.push(() => zk.stop());
    // two zooids are a quorum on their own: ZooKeeper serving proves it synced over TLS
    await waitFor(async () => ['leader', 'follower'].includes((await srvrMode(zk.clientPort)) ?? ''), {
      timeoutMs: DEADLINE_MS, what: `ZooKeeper to join over TLS\n${zk.logTail(20)}`,
    });
    await writeAndReadEverywhere(zk.clientPort, [...zooids.map((p) => p.clientPort), zk.clientPort], '/tls-b');
    await writeAndReadEverywhere(zooids[0].clientPort, [zk.clientPort], '/tls-b-2');
  }, 180_000);

  it('a running plain ensemble switches to TLS one restart at a time (portUnification, then sslQuorum)', async () => {
    const ports = await allocatePorts([1, 2, 3]);
    const lines = serverLines(ports);
    let peers = await Promise.all(ports.map((p) => startZooidPeer(p, lines)));
    cleanups.push(async () => void (await Promise.all(peers.map((p) => p.stop()))));
    await oneLeader(peers, 'a plain ensemble', DEADLINE_MS);
    const steps: { what: string; settings: Record<string, string> }[] = [
      { what: 'portUnification', settings: { ...quorumTls('pem'), sslQuorum: 'false', portUnification: 'true' } },
      { what: 'sslQuorum + portUnification', settings: { ...quorumTls('pem'), portUnification: 'true' } },
      { what: 'sslQuorum only', settings: quorumTls('pem') },
    ];
    let written = 0;
    for (const step of steps) {
      for (let i = 0; i < peers.length; i++) {
        await peers[i].handle.stop();
        peers[i] = await startZooidPeer(ports[i], lines, step.settings, peers[i].dataDir);
        await oneLeader(peers, `all three after server ${ports[i].sid} restarted with ${step.what}`, DEADLINE_MS);
        await writeAndReadEverywhere(peers[i].clientPort, peers.map((p) => p.clientPort), `/switch-${written++}`);
      }
    }
    // at the end every server takes only TLS
    const plain = net.connect({ host: '127.0.0.1', port: ports[0].electionPort });
    plain.once('connect', () => plain.write(Buffer.from([0xff, 0xff, 0x00, 0x00, 0, 0, 0, 0])));
    await closedByPeer(plain, 'the switched ensemble to refuse a plain peer');
  }, 300_000);
});
