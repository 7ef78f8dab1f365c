// Quorum SASL (quorum.auth.*, DIGEST-MD5 with the JAAS sections QuorumServer and
// QuorumLearner; engine/quorum/quorum-auth.ts), real processes on loopback:
//   (a) zooids with learnerRequireSasl and serverRequireSasl form an ensemble and replicate;
//       a third server is refused while it cannot authenticate — a wrong password, a user
//       the QuorumServer section does not list (CVE-2023-44981 as it applies to DIGEST-MD5:
//       only configured identities join), and no quorum SASL at all (CVE-2018-8012: with
//       serverRequireSasl=true a server without credentials does not join) — each refusal
//       logged, the ensemble serving throughout; with its right password it joins;
//   (b) quorum SASL inside quorum TLS (sslQuorum): the exchange runs on the TLS connection;
//   (c) mid rolling switch (enableSasl everywhere, learnerRequireSasl on some): servers that
//       authenticate and one that does not form one ensemble, as ZooKeeper's steps allow;
//   (d) a mixed ensemble, two zooids and Apache ZooKeeper 3.8, all requiring quorum SASL:
//       ZooKeeper follows a zooid leader, then leads a zooid follower (its leader stopped);
//       the stopped zooid, back with a wrong password, is refused by ZooKeeper, and with the
//       right one rejoins ZooKeeper's ensemble.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { allocatePorts, oneLeader, serverLines, srvrMode, startZooKeeperPeer, startZooidPeer, type PeerPorts, type ZooidPeer } from '../support/ensemble.ts';
import { makeTlsMaterial } from '../support/tls.ts';
import { ZkSession } from '../support/zkclient.ts';
import { waitFor, withDeadline } from '../support/wait.ts';

const DEADLINE_MS = 30_000;
const DIGEST = 'org.apache.zookeeper.server.auth.DigestLoginModule';
/** The peers every server lets in (QuorumServer's user_<name> options). */
const PEERS: Record<string, string> = { zk1: 'pw-one', zk2: 'pw-two', zk3: 'pw-three' };

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-quorum-sasl-'));
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await withDeadline(c(), DEADLINE_MS, 'a cleanup').catch((e: Error) => console.error(`cleanup: ${e.message}`));
}, 60_000);

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A JAAS file: the QuorumServer users above, and this server's QuorumLearner identity. */
function jaasFile(name: string, username: string, password: string): string {
  const users = Object.entries(PEERS).map(([u, p]) => `user_${u}="${p}"`).join('\n  ');
  const file = path.join(dir, `${name}.jaas`);
  fs.writeFileSync(file, `QuorumServer {\n  ${DIGEST} required\n  ${users};\n};\n` +
    `QuorumLearner {\n  ${DIGEST} required\n  username="${username}"\n  password="${password}";\n};\n`);
  return file;
}

const REQUIRED: Record<string, string> = {
  'quorum.auth.enableSasl': 'true', 'quorum.auth.learnerRequireSasl': 'true', 'quorum.auth.serverRequireSasl': 'true',
};

/** zooid reads the JAAS file from zoo.cfg (ZooKeeper from -Djava.security.auth.login.config). */
function zooidSasl(jaas: string): Record<string, string> {
  return { ...REQUIRED, 'java.security.auth.login.config': jaas };
}

async function startSaslZooid(ports: PeerPorts, lines: string[], user = `zk${ports.sid}`, password = PEERS[`zk${ports.sid}`]): Promise<ZooidPeer> {
  const peer = await startZooidPeer(ports, lines, zooidSasl(jaasFile(`zooid${ports.sid}-${user}-${password}`, user, password)));
  cleanups.push(() => peer.stop());
  return peer;
}

async function session(name: string, port: number): Promise<ZkSession> {
  const s = await ZkSession.connect(name, port, { sessionTimeoutMs: 10_000, connectTimeoutMs: DEADLINE_MS, requestTimeoutMs: 20_000 });
  cleanups.push(() => s.dispose());
  return s;
}

/** A write through `writer`, read through every one of `readers` after sync. */
async function writeAndReadEverywhere(writer: number, readers: readonly number[], znode: string): Promise<void> {
  const w = await session(`write-${znode}`, writer);
  expect(await w.create(znode, `via ${writer}`)).toMatchObject({ err: 'OK' });
  for (const port of readers) {
    const r = await session(`read-${znode}-${port}`, port);
    expect(await r.sync(znode)).toMatchObject({ err: 'OK' });
    expect(await r.getData(znode)).toMatchObject({ err: 'OK', data: `via ${writer}` });
  }
}

function logOf(peer: ZooidPeer): string {
  return fs.readFileSync(peer.handle.logFile, 'utf8');
}

/** How many lines of peer's log match re. */
function countIn(peer: ZooidPeer, re: RegExp): number {
  return logOf(peer).split('\n').filter((l) => re.test(l)).length;
}

describe('quorum SASL', () => {
  it('zooids requiring quorum SASL replicate, and refuse a server with a wrong password, an unknown user (CVE-2023-44981) or no credentials (CVE-2018-8012)', async () => {
    const ports = await allocatePorts([1, 2, 3]);
    const lines = serverLines(ports);
    const pair = await Promise.all(ports.slice(0, 2).map((p) => startSaslZooid(p, lines)));
    await oneLeader(pair, 'two zooids with quorum SASL', DEADLINE_MS);
    await writeAndReadEverywhere(pair[0].clientPort, pair.map((p) => p.clientPort), '/sasl-a');

    const refusals: { what: string; extra: Record<string, string>; why: RegExp }[] = [
      { what: 'a wrong password', extra: zooidSasl(jaasFile('wrong', 'zk3', 'guess')), why: /Mismatched response/ },
      { what: 'a user QuorumServer does not list', extra: zooidSasl(jaasFile('stranger', 'mallory', 'pw-three')), why: /cannot acquire password for mallory/ },
      { what: 'no quorum SASL', extra: {}, why: /not trying to authenticate and quorum\.auth\.serverRequireSasl=true/ },
    ];
    for (const r of refusals) {
      const before = pair.map((p) => countIn(p, r.why));
      const intruder = await startZooidPeer(ports[2], lines, r.extra);
      try {
        // sid 3 opens the election connections to 1 and 2 (the larger sid keeps them): both refuse it
        await waitFor(() => pair.every((p, i) => countIn(p, r.why) > before[i]), {
          timeoutMs: DEADLINE_MS, what: `both servers to refuse ${r.what}\n${pair.map((p) => p.logTail(10)).join('\n')}`,
        });
        expect(logOf(pair[0])).toMatch(/election connection refused.*quorum SASL/);
        expect(await srvrMode(intruder.clientPort)).toBeNull();
        expect(await oneLeader(pair, `the pair serving while ${r.what} knocks`, DEADLINE_MS)).toBeDefined();
        await writeAndReadEverywhere(pair[1].clientPort, pair.map((p) => p.clientPort), `/sasl-a-${refusals.indexOf(r)}`);
      } finally {
        await intruder.stop();
      }
    }

    const third = await startSaslZooid(ports[2], lines);
    const all = [...pair, third];
    await oneLeader(all, 'three zooids once the third has the right password', DEADLINE_MS);
    await writeAndReadEverywhere(third.clientPort, all.map((p) => p.clientPort), '/sasl-a-joined');
    expect(logOf(third)).toMatch(/quorum SASL \(DIGEST-MD5\)/);
  }, 85_000);

  it('quorum SASL runs inside quorum TLS (sslQuorum): three zooids authenticate over TLS and replicate', async () => {
    const material = makeTlsMaterial();
    cleanups.push(async () => material.cleanup());
    const tlsSettings = { sslQuorum: 'true', 'ssl.quorum.keyStore.location': material.serverPem, 'ssl.quorum.trustStore.location': material.trustPem };
    const ports = await allocatePorts([1, 2, 3]);
    const lines = serverLines(ports);
    const peers = await Promise.all(ports.map((p) =>
      startZooidPeer(p, lines, { ...zooidSasl(jaasFile(`tls${p.sid}`, `zk${p.sid}`, PEERS[`zk${p.sid}`])), ...tlsSettings })));
    cleanups.push(async () => void (await Promise.all(peers.map((p) => p.stop()))));
    const leader = await oneLeader(peers, 'three zooids with quorum TLS and SASL', DEADLINE_MS);
    await writeAndReadEverywhere(peers[0].clientPort, peers.map((p) => p.clientPort), '/sasl-tls');
    expect(logOf(leader)).toMatch(/learner authenticated .*user=zk/);
  }, 60_000);

  it('mid rolling switch (ZooKeeper\'s steps: enableSasl, then learnerRequireSasl): servers that do and do not authenticate form one ensemble', async () => {
    const ports = await allocatePorts([1, 2, 3]);
    const lines = serverLines(ports);
    const jaas = (sid: number) => jaasFile(`rolling${sid}`, `zk${sid}`, PEERS[`zk${sid}`]);
    const enabled = (sid: number) => ({ 'quorum.auth.enableSasl': 'true', 'java.security.auth.login.config': jaas(sid) });
    const peers = await Promise.all([
      startZooidPeer(ports[0], lines, enabled(1)), // offers SASL, authenticates to nobody
      ...ports.slice(1).map((p) => startZooidPeer(p, lines, { ...enabled(p.sid), 'quorum.auth.learnerRequireSasl': 'true' })),
    ]);
    cleanups.push(async () => void (await Promise.all(peers.map((p) => p.stop()))));
    const leader = await oneLeader(peers, 'servers with and without learnerRequireSasl', DEADLINE_MS);
    expect(leader.sid).toBe(3);
    await writeAndReadEverywhere(peers[0].clientPort, peers.map((p) => p.clientPort), '/sasl-rolling');
    // server 2 authenticated to the leader; server 1's FOLLOWERINFO came through the peek unauthenticated
    expect(logOf(leader)).toMatch(/learner authenticated .*user=zk2/);
    expect(logOf(leader)).not.toMatch(/user=zk1/);
    expect(logOf(peers[0])).toMatch(/election connection authenticated .*user=zk3/);
  }, 60_000);

  it('Apache ZooKeeper 3.8 with quorum SASL follows a zooid leader, then leads a zooid follower', async () => {
    const ports = await allocatePorts([1, 2, 3]);
    const lines = serverLines(ports);
    const zooids = await Promise.all(ports.slice(0, 2).map((p) => startSaslZooid(p, lines)));
    const leader = await oneLeader(zooids, 'two zooids with quorum SASL', DEADLINE_MS);
    expect(leader.sid).toBe(2);
    const zkSettings = Object.entries(REQUIRED).map(([k, v]) => `${k}=${v}`);
    const zk = await startZooKeeperPeer(3, ports[2].clientPort, [...lines, ...zkSettings], undefined, {},
      [`-Djava.security.auth.login.config=${jaasFile('zk3', 'zk3', PEERS.zk3)}`]);
    cleanups.push(() => zk.stop());
    await waitFor(async () => (await srvrMode(zk.clientPort)) === 'follower', {
      timeoutMs: DEADLINE_MS, what: `ZooKeeper to follow the zooid leader\n${zk.logTail(20)}`,
    });
    expect(zk.logTail(400)).toMatch(/Successfully completed the authentication using SASL/);
    await writeAndReadEverywhere(zk.clientPort, [...zooids.map((p) => p.clientPort), zk.clientPort], '/sasl-b');

    expect(logOf(leader)).toMatch(/learner authenticated .*user=zk3/); // ZooKeeper's learner, to the zooid leader

    // the zooid leader goes: ZooKeeper (sid 3) and zooid 1 elect ZooKeeper, which zooid 1 follows
    await leader.handle.stop();
    await waitFor(async () => (await srvrMode(zk.clientPort)) === 'leader' && (await zooids[0].mode()) === 'follower', {
      timeoutMs: DEADLINE_MS, what: `ZooKeeper to lead zooid 1\n${zk.logTail(20)}\n${zooids[0].logTail(20)}`,
    });
    await writeAndReadEverywhere(zooids[0].clientPort, [zk.clientPort], '/sasl-b-zk-leads');
    // zooid 1 authenticated to ZooKeeper's LearnerCnxAcceptor
    expect(zk.logTail(1000)).toMatch(/LearnerCnxAcceptorHandler.*Successfully authenticated learner: authenticationID=zk1;/);
    // zooid 2 back with a wrong password: ZooKeeper's election port refuses it (ERROR), so it never hears a vote
    const wrong = await startZooidPeer(ports[1], lines, zooidSasl(jaasFile('zooid2-wrong', 'zk2', 'guess')), leader.dataDir);
    cleanups.push(() => wrong.handle.stop());
    const refusedBy3 = /election connection to server not authenticated: closing it sid=3 why="the server refused our credentials \(status ERROR\)"/;
    await waitFor(() => refusedBy3.test(logOf(wrong)) && /SaslQuorumAuthServer - Failed to authenticate using SASL/.test(zk.logTail(2000)), {
      timeoutMs: DEADLINE_MS, what: `ZooKeeper to refuse zooid 2's wrong password\n${wrong.logTail(20)}`,
    });
    expect(await wrong.mode()).toBeNull();
    await writeAndReadEverywhere(zk.clientPort, [zooids[0].clientPort], '/sasl-b-refused');
    await wrong.handle.stop();
    await leader.restart();
    await waitFor(async () => (await leader.mode()) === 'follower', { timeoutMs: DEADLINE_MS, what: `zooid 2 to rejoin\n${leader.logTail(20)}` });
    await writeAndReadEverywhere(zk.clientPort, [...zooids.map((p) => p.clientPort), zk.clientPort], '/sasl-b-rejoined');
  }, 85_000);
});
