// Quorum SASL as pure state machines: the DIGEST-MD5 client against an exchange captured
// from ZooKeeper 3.8's Java client, QuorumAuthPacket bytes, and the learner and server
// exchanges fed to each other whole and byte by byte (seeded; the seed is printed).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../engine/config.ts';
import { CLIENT_SASL_SERVICE, DigestMd5Client, DigestMd5Server, digestResponseValue } from '../../engine/security/sasl.ts';
import {
  QUORUM_AUTH_MAGIC, QUORUM_SASL_SERVICE, QuorumAuthLearnerExchange, QuorumAuthServerExchange, QuorumAuthStatus,
  encodeQuorumAuthPacket, takeQuorumAuthPacket, type AuthProgress,
} from '../../engine/quorum/quorum-auth.ts';
import { seededRandom, testSeed } from '../support/random.ts';

/** The exchange test/unit/sasl.test.ts holds, captured from ZooKeeper 3.8's Java client (user bob, password bobsecret). */
const JAVA = {
  challenge: 'realm="zk-sasl-md5",nonce="msXPCVH5tJCMOPJ0Ed/mtavteL0InmZKfg72pZgd",charset=utf-8,algorithm=md5-sess',
  cnonce: 'RddOR+bo2PH40+PBIg84ldtCtsI+7sZO6EbI3lHg',
  response: 'charset=utf-8,username="bob",realm="zk-sasl-md5",nonce="msXPCVH5tJCMOPJ0Ed/mtavteL0InmZKfg72pZgd",nc=00000001,' +
    'cnonce="RddOR+bo2PH40+PBIg84ldtCtsI+7sZO6EbI3lHg",digest-uri="zookeeper/zk-sasl-md5",maxbuf=65536,' +
    'response=e6b7b08b5ca9adf4e6f54ea80cab38a1,qop=auth,authzid="bob"',
  rspauth: 'rspauth=cd95b77a2215025b88a41813f0a4a34a',
};

const fixed = (base64: string) => (count: number) => {
  const b = Buffer.from(base64, 'base64');
  expect(b.length).toBe(count);
  return b;
};

function randomSource(seed: number): (count: number) => Buffer {
  const rnd = seededRandom(seed);
  return (count) => Buffer.from(Array.from({ length: count }, () => Math.floor(rnd() * 256)));
}

const PEERS = new Map([['zk1', 'secret-one'], ['zk2', 'secret-two']]);

describe('DigestMd5Client', () => {
  it('answers a challenge byte for byte as Java\'s DigestMD5Client and checks rspauth', () => {
    const client = new DigestMd5Client({ ...CLIENT_SASL_SERVICE, username: 'bob', password: 'bobsecret' }, fixed(JAVA.cnonce));
    const step = client.evaluate(Buffer.from(JAVA.challenge));
    expect(step.kind).toBe('response');
    expect(step.kind === 'response' && step.token.toString()).toBe(JAVA.response);
    expect(client.evaluate(Buffer.from(JAVA.rspauth))).toEqual({ kind: 'complete' });
    expect(client.complete).toBe(true);
  });

  it('refuses a forged rspauth, a challenge without md5-sess and a foreign realm', () => {
    const opts = { ...CLIENT_SASL_SERVICE, username: 'bob', password: 'bobsecret' };
    const forged = new DigestMd5Client(opts, fixed(JAVA.cnonce));
    forged.evaluate(Buffer.from(JAVA.challenge));
    expect(forged.evaluate(Buffer.from('rspauth=00000000000000000000000000000000'))).toMatchObject({ kind: 'failure', reason: /mismatched rspauth/ });
    const md5 = new DigestMd5Client(opts, fixed(JAVA.cnonce));
    expect(md5.evaluate(Buffer.from(JAVA.challenge.replace(',algorithm=md5-sess', '')))).toMatchObject({ kind: 'failure', reason: /md5-sess/ });
    const realm = new DigestMd5Client({ ...opts, realm: 'zk-quorum-sasl-md5' }, fixed(JAVA.cnonce));
    expect(realm.evaluate(Buffer.from(JAVA.challenge))).toMatchObject({ kind: 'failure', reason: /realm/ });
  });

  it('is what the server accepts, with the quorum\'s realm and digest-uri', () => {
    const server = new DigestMd5Server(PEERS, randomSource(1), { ...QUORUM_SASL_SERVICE, authzidMustMatch: true });
    const client = new DigestMd5Client({ ...QUORUM_SASL_SERVICE, username: 'zk2', password: 'secret-two' }, randomSource(2));
    const challenge = server.evaluate(Buffer.alloc(0));
    expect(challenge.kind).toBe('challenge');
    const text = challenge.kind === 'challenge' ? challenge.token.toString() : '';
    expect(text).toMatch(/^realm="zk-quorum-sasl-md5",nonce="[A-Za-z0-9+/]{40}",charset=utf-8,algorithm=md5-sess$/);
    const response = client.evaluate(Buffer.from(text));
    expect(response.kind === 'response' && response.token.toString()).toMatch(/digest-uri="zookeeper-quorum\/zk-quorum-sasl-md5"/);
    const done = server.evaluate(response.kind === 'response' ? response.token : Buffer.alloc(0));
    expect(done).toMatchObject({ kind: 'success', authorizationId: 'zk2' });
    expect(client.evaluate(done.kind === 'success' ? done.token : Buffer.alloc(0))).toEqual({ kind: 'complete' });
  });
});

describe('QuorumAuthPacket', () => {
  it('is magic, status, token with no length prefix (jute QuorumAuthPacket)', () => {
    const bytes = encodeQuorumAuthPacket(QuorumAuthStatus.SUCCESS, Buffer.from('ab'));
    expect(bytes.toString('hex')).toBe('5f2435013501edcc' + '00000001' + '00000002' + '6162');
    expect(bytes.readBigInt64BE(0)).toBe(QUORUM_AUTH_MAGIC);
    expect(encodeQuorumAuthPacket(QuorumAuthStatus.IN_PROGRESS, null).subarray(8).toString('hex')).toBe('00000000ffffffff');
    expect(takeQuorumAuthPacket(bytes)).toEqual({ packet: { status: 1, token: Buffer.from('ab') }, byteCount: 18 });
    expect(takeQuorumAuthPacket(bytes.subarray(0, 17))).toBeNull();
  });

  it('refuses a wrong magic and token lengths out of bounds', () => {
    expect(() => takeQuorumAuthPacket(Buffer.alloc(16))).toThrow(/wrong magic/);
    const huge = encodeQuorumAuthPacket(QuorumAuthStatus.IN_PROGRESS, Buffer.alloc(0));
    huge.writeInt32BE(1 << 30, 12);
    expect(() => takeQuorumAuthPacket(huge)).toThrow(/token length/);
    huge.writeInt32BE(-2, 12);
    expect(() => takeQuorumAuthPacket(huge)).toThrow(/token length/);
  });
});

/** Runs learner and server against each other; every hop is split into chunkBytes pieces. */
function converse(learner: QuorumAuthLearnerExchange, server: QuorumAuthServerExchange, chunkBytes: number) {
  type Outcome = AuthProgress['outcome'];
  const feed = (bytes: Buffer, into: (b: Buffer) => AuthProgress): { sent: Buffer; outcome: Outcome } => {
    const sent: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += chunkBytes) {
      const p = into(bytes.subarray(at, at + chunkBytes));
      sent.push(...p.send);
      if (p.outcome !== null) return { sent: Buffer.concat(sent), outcome: p.outcome };
    }
    return { sent: Buffer.concat(sent), outcome: null };
  };
  let serverOutcome: Outcome = null;
  let learnerOutcome: Outcome = null;
  let toServer = learner.start();
  for (let round = 0; round < 10 && learnerOutcome === null; round++) {
    const s: { sent: Buffer; outcome: Outcome } = serverOutcome === null ? feed(toServer, (b) => server.receive(b)) : { sent: Buffer.alloc(0), outcome: null };
    serverOutcome ??= s.outcome;
    const l: { sent: Buffer; outcome: Outcome } = s.sent.length > 0 ? feed(s.sent, (b) => learner.receive(b)) : { sent: Buffer.alloc(0), outcome: learner.end('the connection closed').outcome };
    learnerOutcome = l.outcome;
    toServer = l.sent;
  }
  return { learner: learnerOutcome, server: serverOutcome };
}

describe('quorum auth exchanges', () => {
  const seed = testSeed();
  console.log(`quorum-auth seed ${seed}`);
  const server = (required = true) => new QuorumAuthServerExchange({ required, users: PEERS, randomBytes: randomSource(seed) });
  const learner = (username: string, password: string) => new QuorumAuthLearnerExchange({ username, password, randomBytes: randomSource(seed + 1) });

  it('pass with a QuorumServer user, whole or a byte at a time, and hand over what follows', () => {
    for (const chunk of [1 << 20, 1, 7]) {
      const r = converse(learner('zk1', 'secret-one'), server(), chunk);
      expect(r.server).toMatchObject({ kind: 'pass', authenticatedAs: 'zk1', warning: null });
      expect(r.learner).toMatchObject({ kind: 'pass' });
    }
  });

  it('refuse a wrong password and an unknown user (CVE-2018-8012: no credentials, no join)', () => {
    const wrong = converse(learner('zk1', 'guess'), server(), 5);
    expect(wrong.server).toMatchObject({ kind: 'refuse', reason: /Mismatched response/ });
    expect(wrong.learner).toMatchObject({ kind: 'refuse', reason: /refused our credentials/ });
    const stranger = converse(learner('mallory', 'secret-one'), server(), 1 << 20);
    expect(stranger.server).toMatchObject({ kind: 'refuse', reason: /cannot acquire password for mallory/ });
  });

  it('refuse an authzid other than the user name (SaslQuorumServerCallbackHandler, CVE-2023-44981 for DIGEST-MD5)', () => {
    const s = server();
    const challenge = s.receive(encodeQuorumAuthPacket(QuorumAuthStatus.IN_PROGRESS, Buffer.alloc(0))).send[0];
    const nonce = /nonce="([^"]+)"/.exec(takeQuorumAuthPacket(challenge)!.packet.token!.toString())![1];
    const f = { username: 'zk1', realm: QUORUM_SASL_SERVICE.realm, password: 'secret-one', nonce, cnonce: 'c', nc: '00000001', qop: 'auth',
      digestUri: QUORUM_SASL_SERVICE.digestUri, authzid: 'zk2', a2Prefix: 'AUTHENTICATE' as const };
    const response = `username="zk1",realm="${f.realm}",nonce="${nonce}",nc=00000001,cnonce="c",digest-uri="${f.digestUri}",` +
      `response=${digestResponseValue(f)},qop=auth,authzid="zk2"`;
    const end = s.receive(encodeQuorumAuthPacket(QuorumAuthStatus.IN_PROGRESS, Buffer.from(response)));
    expect(end.outcome).toMatchObject({ kind: 'refuse', reason: /zk1 is not authorized to act as zk2/ });
    expect(takeQuorumAuthPacket(end.send[0])!.packet.status).toBe(QuorumAuthStatus.ERROR);
  });

  it('peek at the first 8 bytes: a peer that does not authenticate is refused, or let through with its bytes', () => {
    const follower = Buffer.from('0000001c000000' + '0b' + '00'.repeat(24), 'hex'); // a length-prefixed packet
    expect(server(true).receive(follower).outcome).toMatchObject({ kind: 'refuse', reason: /not trying to authenticate/ });
    const lenient = server(false);
    expect(lenient.receive(follower.subarray(0, 5)).outcome).toBeNull();
    expect(lenient.receive(follower.subarray(5)).outcome).toEqual({ kind: 'pass', rest: follower, authenticatedAs: null, warning: null });
    // a connection that ends first (it lost the election challenge) is let through, or refused
    expect(server(false).end('closed').outcome).toMatchObject({ kind: 'pass', rest: Buffer.alloc(0) });
    expect(server(true).end('closed').outcome).toMatchObject({ kind: 'refuse' });
  });

  it('with serverRequireSasl=false, keep a peer whose credentials fail (ZooKeeper logs and lets it in)', () => {
    const r = converse(learner('zk1', 'guess'), server(false), 1 << 20);
    expect(r.server).toMatchObject({ kind: 'pass', authenticatedAs: null, warning: /Mismatched response/ });
  });

  it('a learner refuses a server that cannot prove the password (rspauth) and garbage', () => {
    const l = learner('zk1', 'secret-one');
    l.start();
    const s = new DigestMd5Server(new Map([['zk1', 'other']]), randomSource(3), { ...QUORUM_SASL_SERVICE, authzidMustMatch: true });
    const challenge = s.evaluate(Buffer.alloc(0));
    const answer = l.receive(encodeQuorumAuthPacket(QuorumAuthStatus.IN_PROGRESS, challenge.kind === 'challenge' ? challenge.token : null));
    expect(answer.outcome).toBeNull();
    const rsp = 'rspauth=' + createHash('md5').update('x').digest('hex');
    expect(l.receive(encodeQuorumAuthPacket(QuorumAuthStatus.SUCCESS, Buffer.from(rsp))).outcome).toMatchObject({ kind: 'refuse', reason: /rspauth/ });
    expect(learner('zk1', 'x').receive(Buffer.alloc(16)).outcome).toMatchObject({ kind: 'refuse', reason: /wrong magic/ });
  });
});

describe('zoo.cfg quorum.auth.* keys', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-quorum-sasl-cfg-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    fs.writeFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  };
  const DIGEST = 'org.apache.zookeeper.server.auth.DigestLoginModule';
  const jaas = write('jaas.conf', `QuorumServer {\n  ${DIGEST} required\n  user_zk1="s1"\n  user_zk2="s2";\n};\n` +
    `QuorumLearner {\n  ${DIGEST} required\n  username="zk1"\n  password="s1";\n};\n`);
  const noLearner = write('nolearner.conf', `QuorumServer {\n  ${DIGEST} required user_zk1="s1";\n};\n`);
  const noPassword = write('nopassword.conf', `QuorumServer {\n  ${DIGEST} required user_zk1="s1";\n};\nQuorumLearner {\n  ${DIGEST} required\n  username="zk1";\n};\n`);
  const kerberos = write('krb.conf', `QuorumServer {\n  com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true;\n};\n`);
  const base = 'dataDir=/tmp/zk\nclientPort=2181\n';
  const parse = (text: string, env: Record<string, string> = {}) => parseConfig(base + text, { path: 'zoo.cfg', cwd: dir, readMyid: false, env });
  const ON = 'quorum.auth.enableSasl=true\nquorum.auth.learnerRequireSasl=true\nquorum.auth.serverRequireSasl=true\n';

  it('reads the QuorumServer users and the QuorumLearner identity; the file may lack a Server section', () => {
    const cfg = parse(ON, { SERVER_JVMFLAGS: `-Djava.security.auth.login.config=${jaas}` });
    expect(cfg.quorumSasl).toEqual({
      jaasFile: jaas, learnerRequired: true, serverRequired: true, serverSection: 'QuorumServer', users: new Map([['zk1', 's1'], ['zk2', 's2']]),
      learnerSection: 'QuorumLearner', learner: { username: 'zk1', password: 's1' },
    });
    expect(cfg.sasl).toBeNull(); // no Server section: client SASL stays off, as ServerCnxnFactory.configureSaslLogin
    expect(cfg.warnings).toEqual([]);
    expect(parse(base).quorumSasl).toBeNull();
    // enableSasl alone: SASL offered, nothing required, no identity needed
    expect(parse(`java.security.auth.login.config=${noLearner}\nquorum.auth.enableSasl=true\nquorum.auth.learner.saslLoginContext=QuorumServer\n`).quorumSasl)
      .toMatchObject({ learnerRequired: false, serverRequired: false, learner: null });
  });

  it('refuses what QuorumPeerConfig refuses, and missing sections and credentials, naming the key', () => {
    const err = (text: string, key: string, message: RegExp) => {
      try {
        parse(text);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        expect((e as ConfigError).key).toBe(key);
        expect((e as Error).message).toMatch(message);
        return;
      }
      throw new Error('no error');
    };
    err('quorum.auth.serverRequireSasl=true\n', 'quorum.auth.serverRequireSasl', /quorum.auth.enableSasl is disabled/);
    err('quorum.auth.learnerRequireSasl=true\n', 'quorum.auth.learnerRequireSasl', /quorum.auth.enableSasl is disabled/);
    err('quorum.auth.enableSasl=true\nquorum.auth.serverRequireSasl=true\n', 'quorum.auth.serverRequireSasl', /learnerRequireSasl is disabled/);
    err(ON, 'quorum.auth.enableSasl', /needs a JAAS file/);
    err(`java.security.auth.login.config=${noLearner}\n${ON}`, 'quorum.auth.learner.saslLoginContext', /no JAAS configuration section named 'QuorumLearner'/);
    err(`java.security.auth.login.config=${noPassword}\n${ON}`, 'quorum.auth.learner.saslLoginContext', /needs username=.* and password=/);
    err(`java.security.auth.login.config=${jaas}\n${ON}quorum.auth.server.saslLoginContext=Peers\n`, 'quorum.auth.server.saslLoginContext', /no JAAS configuration section named 'Peers'/);
    err(`java.security.auth.login.config=${kerberos}\n${ON}`, 'quorum.auth.server.saslLoginContext', /Kerberos/);
  });

  it('accepts quorum.auth.kerberos.servicePrincipal with a warning', () => {
    const cfg = parse(`java.security.auth.login.config=${jaas}\n${ON}quorum.auth.kerberos.servicePrincipal=zkquorum/localhost\n`);
    expect(cfg.warnings).toEqual(['zoo.cfg:7: quorum.auth.kerberos.servicePrincipal is accepted but not used by zooid yet']);
  });
});
