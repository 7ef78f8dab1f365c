// SASL pieces as pure functions: the JAAS file parser, zoo.cfg's SASL keys, DIGEST-MD5
// response values (RFC 2831's example and an exchange captured from ZooKeeper 3.8's Java
// client), and the server state machine fed malformed tokens (seeded; the seed is printed).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../engine/config.ts';
import { Pipeline, type SaslOptions } from '../../engine/core/pipeline.ts';
import { JuteReader, JuteWriter } from '../../native-free-io/jute.ts';
import { allowed, fixupAcl } from '../../engine/core/acl.ts';
import { Err, KeeperError, Op, Perm } from '../../engine/protocol.ts';
import {
  DigestMd5Server, DIGEST_URI, JaasError, SASL_REALM, digestResponseValue, parseDirectives, parseJaas, saslUsersOf, type SaslStep,
} from '../../engine/security/sasl.ts';
import { seededRandom, testSeed } from '../support/random.ts';

const USERS = new Map([['bob', 'bobsecret'], ['super', 'adminsecret'], ['jörg', 'pässwörd€']]);

/** What ZooKeeper 3.8's Java client (DigestMD5Client) sent and got back, captured through a proxy. */
const JAVA_EXCHANGE = {
  nonce: 'msXPCVH5tJCMOPJ0Ed/mtavteL0InmZKfg72pZgd',
  challenge: 'realm="zk-sasl-md5",nonce="msXPCVH5tJCMOPJ0Ed/mtavteL0InmZKfg72pZgd",charset=utf-8,algorithm=md5-sess',
  response: 'charset=utf-8,username="bob",realm="zk-sasl-md5",nonce="msXPCVH5tJCMOPJ0Ed/mtavteL0InmZKfg72pZgd",nc=00000001,' +
    'cnonce="RddOR+bo2PH40+PBIg84ldtCtsI+7sZO6EbI3lHg",digest-uri="zookeeper/zk-sasl-md5",maxbuf=65536,' +
    'response=e6b7b08b5ca9adf4e6f54ea80cab38a1,qop=auth,authzid="bob"',
  rspauth: 'rspauth=cd95b77a2215025b88a41813f0a4a34a',
};

function fixedNonce(base64: string): (count: number) => Buffer {
  return (count) => {
    const b = Buffer.from(base64, 'base64');
    expect(b.length).toBe(count);
    return b;
  };
}

function ok(step: SaslStep): Extract<SaslStep, { kind: 'challenge' | 'success' }> {
  if (step.kind === 'failure') throw new Error(`unexpected failure: ${step.reason}`);
  return step;
}

/** A client's digest-response, computed here from RFC 2831 directly (not with the server's helper). */
function clientResponse(o: { user: string; password: string; nonce: string; cnonce?: string; authzid?: string; extra?: string }): string {
  // each credential on its own: ISO 8859-1 when it fits, else UTF-8 (RFC 2831 §2.1.2.1, as Java's DigestMD5Base)
  const h = (...parts: (Buffer | string)[]) => {
    const x = createHash('md5');
    for (const p of parts) x.update(typeof p === 'string' ? Buffer.from(p, /[^\u0000-\u00ff]/.test(p) ? 'utf8' : 'latin1') : p);
    return x.digest();
  };
  const cnonce = o.cnonce ?? 'c-nonce-42';
  const a1 = o.authzid === undefined
    ? h(h(o.user, ':', SASL_REALM, ':', o.password), `:${o.nonce}:${cnonce}`)
    : h(h(o.user, ':', SASL_REALM, ':', o.password), `:${o.nonce}:${cnonce}:`, Buffer.from(o.authzid, 'utf8'));
  const a2 = h(`AUTHENTICATE:${DIGEST_URI}`);
  const response = h(`${a1.toString('hex')}:${o.nonce}:00000001:${cnonce}:auth:${a2.toString('hex')}`).toString('hex');
  const authzid = o.authzid === undefined ? '' : `,authzid="${o.authzid}"`;
  return `charset=utf-8,username="${o.user.replace(/"/g, '\\"')}",realm="${SASL_REALM}",nonce="${o.nonce}",nc=00000001,cnonce="${cnonce}",` +
    `digest-uri="${DIGEST_URI}",maxbuf=65536,response=${response},qop=auth${authzid}${o.extra ?? ''}`;
}

describe('DIGEST-MD5 response values', () => {
  it('match RFC 2831 §4 example', () => {
    const f = { username: 'chris', realm: 'elwood.innosoft.com', password: 'secret', nonce: 'OA6MG9tEQGm2hh', cnonce: 'OA6MHXh6VqTrRk',
      nc: '00000001', qop: 'auth', digestUri: 'imap/elwood.innosoft.com', authzid: null };
    // RFC 2831 uses algorithm md5-sess with these values: response and rspauth as printed there
    expect(digestResponseValue({ ...f, a2Prefix: 'AUTHENTICATE' })).toBe('d388dad90d4bbd760a152321f2143af7');
    expect(digestResponseValue({ ...f, a2Prefix: '' })).toBe('ea40f60335c427b5527b84dbabcdfffd');
  });
});

describe('DigestMd5Server', () => {
  it('answers the Java client exactly as ZooKeeper 3.8 did (fixed nonce)', () => {
    const server = new DigestMd5Server(USERS, fixedNonce(JAVA_EXCHANGE.nonce));
    expect(ok(server.evaluate(Buffer.alloc(0))).token.toString()).toBe(JAVA_EXCHANGE.challenge);
    expect(server.complete).toBe(false);
    const last = server.evaluate(Buffer.from(JAVA_EXCHANGE.response));
    expect(last).toEqual({ kind: 'success', token: Buffer.from(JAVA_EXCHANGE.rspauth), authorizationId: 'bob' });
    expect(server.complete).toBe(true);
    // a third token after completion fails instead of authenticating again
    expect(server.evaluate(Buffer.from(JAVA_EXCHANGE.response)).kind).toBe('failure');
  });

  it('authenticates a user with non-Latin-1 credentials, and without authzid; the id is the user name even with another authzid', () => {
    const nonce = Buffer.alloc(30, 7).toString('base64');
    for (const [user, password, authzid] of [['jörg', 'pässwörd€', undefined], ['bob', 'bobsecret', undefined], ['bob', 'bobsecret', 'alice']] as const) {
      const server = new DigestMd5Server(USERS, fixedNonce(nonce));
      ok(server.evaluate(Buffer.alloc(0)));
      const step = ok(server.evaluate(Buffer.from(clientResponse({ user, password, nonce, authzid }), 'utf8')));
      expect(step.kind).toBe('success');
      if (step.kind === 'success') expect(step.authorizationId).toBe(user);
    }
  });

  it('rejects wrong passwords, unknown users and every malformed response without throwing', () => {
    const nonce = Buffer.alloc(30, 1).toString('base64');
    const good = clientResponse({ user: 'bob', password: 'bobsecret', nonce });
    const cases: [string, string | Buffer, RegExp][] = [
      ['wrong password', clientResponse({ user: 'bob', password: 'nope', nonce }), /Mismatched response/],
      ['unknown user', clientResponse({ user: 'eve', password: 'x', nonce }), /cannot acquire password for eve/],
      ['other nonce', clientResponse({ user: 'bob', password: 'bobsecret', nonce: 'AAAA' }), /Mismatched nonce/],
      ['empty', '', /length/],
      ['too long', good + ',x="' + 'a'.repeat(5000) + '"', /length/],
      ['not utf-8', Buffer.from([0x75, 0x3d, 0xff, 0xfe]), /not UTF-8/],
      ['garbage', '\u0001\u0002 garbage', /not a directive list/],
      ['unterminated quote', 'username="bob', /not a directive list/],
      ['no value', 'username', /not a directive list/],
      ['duplicate username', `${good},username="bob"`, /more than one username/],
      ['realm missing', good.replace(`realm="${SASL_REALM}",`, ''), /Nonexistent realm: $/],
      ['other realm', good.replace(`realm="${SASL_REALM}"`, 'realm="x"'), /Nonexistent realm: x/],
      ['nc 2', good.replace('nc=00000001', 'nc=00000002'), /Nonce count/],
      ['no cnonce', good.replace(/cnonce="[^"]*",/, ''), /Missing cnonce/],
      ['qop auth-conf', good.replace('qop=auth', 'qop=auth-conf'), /Invalid QOP/],
      ['other digest-uri', good.replace(DIGEST_URI, 'zookeeper/elsewhere'), /Mismatched URI/],
      ['charset latin1', good.replace('charset=utf-8', 'charset=iso-8859-1'), /charset/],
      ['no response', good.replace(/response=[0-9a-f]+,/, ''), /response/],
      ['short response', good.replace(/response=([0-9a-f]+)/, 'response=abc'), /response/],
      ['bad maxbuf', good.replace('maxbuf=65536', 'maxbuf=-1'), /maxbuf/],
    ];
    for (const [name, token, reason] of cases) {
      const server = new DigestMd5Server(USERS, fixedNonce(nonce));
      ok(server.evaluate(Buffer.alloc(0)));
      const step = server.evaluate(typeof token === 'string' ? Buffer.from(token, 'utf8') : token);
      expect(step.kind, name).toBe('failure');
      if (step.kind === 'failure') expect(step.reason, name).toMatch(reason);
      // a failed exchange stays failed
      expect(server.evaluate(Buffer.from(good)).kind, name).toBe('failure');
    }
    const eager = new DigestMd5Server(USERS, fixedNonce(nonce));
    expect(eager.evaluate(Buffer.from(good))).toEqual({ kind: 'failure', reason: 'DIGEST-MD5 must not have an initial response' });
  });

  it('survives random and mutated tokens (seeded)', () => {
    const seed = testSeed();
    console.log(`sasl fuzz seed ${seed} (TEST_SEED=${seed} replays it)`);
    const random = seededRandom(seed);
    const nonce = Buffer.alloc(30, 9).toString('base64');
    const good = Buffer.from(clientResponse({ user: 'bob', password: 'bobsecret', nonce }));
    let successes = 0;
    for (let i = 0; i < 3000; i++) {
      const server = new DigestMd5Server(USERS, fixedNonce(nonce));
      ok(server.evaluate(Buffer.alloc(0)));
      let token: Buffer;
      if (i % 3 === 0) {
        token = Buffer.alloc(Math.floor(random() * 300));
        for (let j = 0; j < token.length; j++) token[j] = Math.floor(random() * 256);
      } else {
        token = Buffer.from(good);
        const edits = 1 + Math.floor(random() * 4);
        for (let e = 0; e < edits; e++) token[Math.floor(random() * token.length)] = ' ,="\\\u00ff\u0000az9'.charCodeAt(Math.floor(random() * 12)) & 0xff;
      }
      let step: SaslStep;
      try {
        step = server.evaluate(token);
      } catch (error) {
        throw new Error(`seed ${seed}, iteration ${i}: threw ${(error as Error).message} on ${JSON.stringify(token.toString('latin1'))}`);
      }
      if (step.kind === 'success') successes++;
      expect(step.kind === 'challenge', `seed ${seed} iteration ${i}`).toBe(false);
    }
    // a mutation can land in a place that does not matter (maxbuf digits, charset case); never most of them
    expect(successes, `seed ${seed}`).toBeLessThan(300);
  });
});

describe('parseDirectives', () => {
  it('reads tokens, quoted strings with escapes, empty list elements and spaces', () => {
    const d = parseDirectives(' a=1 ,, b="x\\"y, z" ,C=tok,');
    expect(d).toEqual(new Map([['a', ['1']], ['b', ['x"y, z']], ['c', ['tok']]]));
    expect(parseDirectives('a="1"b=2')).toBeNull();
    expect(parseDirectives('=1')).toBeNull();
    expect(parseDirectives(Array.from({ length: 40 }, (_, i) => `k${i}=v`).join(','))).toBeNull();
  });
});

const SERVER_JAAS = `/* ZooKeeper server login */
Server {
  // DIGEST-MD5 users
  org.apache.zookeeper.server.auth.DigestLoginModule required
  user_super="adminsecret"
  user_bob='bob "the" secret'
  user_x=word-value
  debug="true";
};

Client {
  org.apache.zookeeper.server.auth.DigestLoginModule REQUIRED username="bob" password="bobsecret";
};
`;

describe('JAAS files', () => {
  it('parses sections, quoted and bare options, comments and flags in any case', () => {
    const sections = parseJaas(SERVER_JAAS, 'jaas.conf');
    expect(sections.map((s) => [s.name, s.line, s.entries.length])).toEqual([['Server', 2, 1], ['Client', 11, 1]]);
    expect(sections[1].entries[0].flag).toBe('required');
    const { users, warnings } = saslUsersOf(sections, 'Server', 'jaas.conf');
    expect(users).toEqual(new Map([['super', 'adminsecret'], ['bob', 'bob "the" secret'], ['x', 'word-value']]));
    expect(warnings).toEqual([]);
  });

  it('names the file and line of what is wrong', () => {
    const cases: [string, RegExp][] = [
      ['Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  user_bob="x"\n};', /^j:4: expected an option name or ';' after the options of org.apache.zookeeper.server.auth.DigestLoginModule, found '}'/],
      ['Server {\n  m required user_bob="x\n";\n};', /^j:2: unterminated quoted string/],
      ['Server {\n  m mandatory;\n};', /^j:2: 'mandatory' is not a control flag/],
      ['Server {\n};\nServer {\n};', /^j:3: section Server is already defined on line 1/],
      ['Server {\n  m required a b;\n};', /^j:2: expected '=' after option a, found 'b'/],
      ['Server {\n  m required;\n}', /^j:3: expected ';' after the closing '}' of section Server, found the end of the file/],
      ['/* never\nclosed', /^j:1: unterminated \/\* comment/],
      ['Server {\n  m required a="${user.home}";\n};', /^j:2: option a: \$\{…\} property expansion is not supported/],
      ['Server {\n  m required a=@;\n};', /^j:2: unexpected character '@'/],
    ];
    for (const [text, message] of cases) {
      expect(() => parseJaas(text, 'j'), text).toThrow(JaasError);
      expect(() => parseJaas(text, 'j'), text).toThrow(message);
    }
  });

  it('needs a Server section with DigestLoginModule', () => {
    expect(() => saslUsersOf(parseJaas('Client {\n};', 'j'), 'Server', 'j')).toThrow(/^j:1: no JAAS configuration section named 'Server' \(it has Client\)/);
    expect(() => saslUsersOf(parseJaas('Server {\n};', 'j'), 'Server', 'j')).toThrow(/^j:1: section Server has no login module/);
    expect(() => saslUsersOf(parseJaas('Server {\n com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true;\n};', 'j'), 'Server', 'j'))
      .toThrow(/^j:2: login module com.sun.security.auth.module.Krb5LoginModule is not supported/);
    const empty = saslUsersOf(parseJaas('Server {\n org.apache.zookeeper.server.auth.DigestLoginModule required;\n};', 'j'), 'Server', 'j');
    expect(empty.warnings[0]).toMatch(/no user_<name>/);
  });
});

describe('zoo.cfg SASL keys', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-sasl-cfg-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const jaas = path.join(dir, 'jaas.conf');
  fs.writeFileSync(jaas, SERVER_JAAS);
  const bad = path.join(dir, 'bad.conf');
  fs.writeFileSync(bad, 'Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  user_bob="x"\n');
  const base = 'dataDir=/tmp/zk\nclientPort=2181\n';
  const parse = (text: string, env: Record<string, string> = {}) => parseConfig(base + text, { path: 'zoo.cfg', cwd: dir, readMyid: false, env });

  it('reads the JAAS file from zoo.cfg (relative to the working directory) and the provider, super user and flags', () => {
    const cfg = parse(`java.security.auth.login.config=jaas.conf\nauthProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n` +
      'zookeeper.superUser=super\nallowSaslFailedClients=true\nzookeeper.sessionRequireClientSASLAuth=false\n');
    expect(cfg.sasl).toEqual({ jaasFile: jaas, section: 'Server', users: new Map([['super', 'adminsecret'], ['bob', 'bob "the" secret'], ['x', 'word-value']]) });
    expect([cfg.saslAuthProvider, cfg.saslSuperUser, cfg.allowSaslFailedClients, cfg.sessionRequireClientSaslAuth]).toEqual([true, 'super', true, false]);
    expect(cfg.warnings).toEqual([]);
  });

  it('reads -Djava.security.auth.login.config from SERVER_JVMFLAGS or JVMFLAGS; zoo.cfg wins with a warning', () => {
    expect(parse('', { SERVER_JVMFLAGS: `-Xmx1g -Djava.security.auth.login.config=${jaas} -Dx=y` }).sasl?.jaasFile).toBe(jaas);
    expect(parse('', { JVMFLAGS: `-Djava.security.auth.login.config="file:${jaas}"` }).sasl?.jaasFile).toBe(jaas);
    expect(parse('', {}).sasl).toBeNull();
    const both = parse(`java.security.auth.login.config=${jaas}\n`, { SERVER_JVMFLAGS: '-Djava.security.auth.login.config=/elsewhere' });
    expect(both.sasl?.jaasFile).toBe(jaas);
    expect(both.warnings.join('\n')).toMatch(/overrides -Djava.security.auth.login.config=\/elsewhere in SERVER_JVMFLAGS/);
  });

  it('refuses a malformed JAAS file, a missing one and a missing Server section, naming file and line', () => {
    expect(() => parse(`java.security.auth.login.config=${bad}\n`)).toThrow(ConfigError);
    expect(() => parse(`java.security.auth.login.config=${bad}\n`)).toThrow(`${bad}:4: expected an option name or ';' after the options of org.apache.zookeeper.server.auth.DigestLoginModule, found the end of the file (the JAAS file named by java.security.auth.login.config)`);
    expect(() => parse('', { SERVER_JVMFLAGS: `-Djava.security.auth.login.config=${dir}/missing.conf` }))
      .toThrow(/java.security.auth.login.config \(from SERVER_JVMFLAGS\): cannot read the JAAS file .*missing.conf/);
    expect(() => parse(`java.security.auth.login.config=${jaas}\nzookeeper.sasl.serverconfig=Nope\n`)).toThrow(/no JAAS configuration section named 'Nope' \(it has Server, Client\)/);
  });

  it('warns about auth providers zooid cannot load, not about the built-in ones', () => {
    const cfg = parse('authProvider.1=org.apache.zookeeper.server.auth.DigestAuthenticationProvider\nzookeeper.authProvider.x509=com.example.Mine\n');
    expect(cfg.saslAuthProvider).toBe(false);
    expect(cfg.warnings).toEqual(['zoo.cfg:4: zookeeper.authProvider.x509: com.example.Mine cannot be loaded by zooid (it knows ip, digest, sasl and x509); ignored']);
  });
});

describe('the sasl ACL scheme', () => {
  const bob = [{ scheme: 'ip', id: '127.0.0.1' }, { scheme: 'sasl', id: 'bob' }];
  const acl = [{ perms: Perm.ALL, id: { scheme: 'sasl', id: 'bob' } }];
  it('exists only with SASLAuthenticationProvider configured', () => {
    expect(allowed(acl, Perm.READ, bob, true)).toBe(true);
    expect(allowed(acl, Perm.READ, bob, false)).toBe(false);
    expect(allowed(acl, Perm.READ, [{ scheme: 'sasl', id: 'super' }], true)).toBe(true);
    expect(allowed(acl, Perm.READ, [{ scheme: 'sasl', id: 'alice' }], true)).toBe(false);
    expect(fixupAcl([{ perms: Perm.ALL, id: { scheme: 'auth', id: '' } }], bob, true)).toEqual(acl);
    const invalid = (f: () => unknown) => expect(f).toThrow(expect.objectContaining({ code: Err.INVALIDACL }) as KeeperError);
    invalid(() => fixupAcl(acl, bob, false));
    invalid(() => fixupAcl([{ perms: Perm.ALL, id: { scheme: 'auth', id: '' } }], bob, false));
    invalid(() => fixupAcl([{ perms: Perm.ALL, id: { scheme: 'sasl', id: 'a@b@c' } }], bob, true));
    expect(fixupAcl([{ perms: Perm.ALL, id: { scheme: 'sasl', id: 'zk/host@REALM' } }], bob, true)).toHaveLength(1);
  });
});

describe('sasl requests in the pipeline', () => {
  const NONCE = Buffer.alloc(30, 5).toString('base64');
  type Out = { kind: 'send' | 'close'; conn: number; frame?: Buffer };

  function pipelineWith(sasl: Partial<SaslOptions> | undefined): { p: Pipeline; outs: Out[]; session: (conn: number) => void } {
    const outs: Out[] = [];
    let zxid = 0;
    const p = new Pipeline({
      tickMs: 100, minSessionTimeoutMs: 200, maxSessionTimeoutMs: 2000, serverId: 1, superDigest: null, extendedTypesEnabled: false,
      containerCheckIntervalMs: 60_000, containerMaxPerMinute: 10_000, containerMaxNeverUsedIntervalMs: 0, enforceQuota: false, maxReplyBytes: 0xfffff, txnBytesMax: 2 * 0xfffff,
      nowMs: () => 0, wallMs: () => 1_700_000_000_000,
      sasl: sasl === undefined ? undefined : {
        users: USERS, aclScheme: true, superUser: null, allowFailedClients: false, requireClientAuth: false, randomBytes: fixedNonce(NONCE), ...sasl,
      },
    }, {
      send: (conn, frame) => outs.push({ kind: 'send', conn, frame: Buffer.from(frame) }),
      close: (conn) => outs.push({ kind: 'close', conn }),
      appendLog: (z) => { zxid = z; },
    });
    p.recovered();
    const session = (conn: number) => {
      const w = new JuteWriter(128);
      w.int(0).longNumber(0).int(1000).long(0n).buffer(Buffer.alloc(16)).bool(false);
      p.connect(conn, '127.0.0.1', 5000 + conn, w.copy());
      p.durable(zxid);
      outs.length = 0;
    };
    return { p, outs, session };
  }

  const saslRequest = (xid: number, token: Buffer) => new JuteWriter(token.length + 64).int(xid).int(Op.sasl).buffer(token).copy();
  /** A reply: header and, when there is one, the SetSASLResponse token (null: length -1). */
  function reply(o: Out): { xid: number; zxid: number; err: number; token: string | null } {
    const r = new JuteReader(o.frame!, 4);
    const h = { xid: r.int(), zxid: r.longNumber(), err: r.int() };
    return { ...h, token: r.remaining() > 0 ? (r.buffer()?.toString() ?? null) : null };
  }

  it('answers the challenge and rspauth with zxid 0, then the session is sasl:bob', () => {
    const { p, outs, session } = pipelineWith({});
    session(1);
    p.request(1, saslRequest(1, Buffer.alloc(0)));
    expect(reply(outs[0])).toMatchObject({ xid: 1, zxid: 0, err: Err.OK, token: expect.stringContaining(`nonce="${NONCE}"`) });
    p.request(1, saslRequest(2, Buffer.from(clientResponse({ user: 'bob', password: 'bobsecret', nonce: NONCE }))));
    expect(reply(outs[1])).toMatchObject({ xid: 2, zxid: 0, err: Err.OK, token: expect.stringMatching(/^rspauth=[0-9a-f]{32}$/) });
    p.request(1, new JuteWriter(16).int(3).int(Op.whoAmI).copy());
    const r = new JuteReader(outs[2].frame!, 4 + 16);
    const ids = Array.from({ length: r.int() }, () => `${r.ustring()}: ${r.ustring()}`);
    expect(ids).toEqual(['sasl: bob', 'ip: 127.0.0.1']);
  });

  it('answers a wrong password with AUTHFAILED and closes the connection; the session lives on', () => {
    const { p, outs, session } = pipelineWith({});
    session(1);
    p.request(1, saslRequest(1, Buffer.alloc(0)));
    p.request(1, saslRequest(2, Buffer.from(clientResponse({ user: 'bob', password: 'nope', nonce: NONCE }))));
    expect(reply(outs[1])).toEqual({ xid: 2, zxid: 0, err: Err.AUTHFAILED, token: null });
    expect(outs[2]).toEqual({ kind: 'close', conn: 1 });
    expect(p.sessions.size()).toBe(1);
    expect(p.counters.authFailed).toBe(1);
  });

  it('keeps a failed client connected with allowSaslFailedClients, and answers without a token when no JAAS file is set', () => {
    const allowed = pipelineWith({ allowFailedClients: true });
    allowed.session(1);
    allowed.p.request(1, saslRequest(1, Buffer.from('garbage')));
    expect(allowed.outs.map((o) => o.kind)).toEqual(['send']);
    expect(reply(allowed.outs[0])).toEqual({ xid: 1, zxid: 0, err: Err.OK, token: null });
    const none = pipelineWith({ users: null });
    none.session(1);
    none.p.request(1, saslRequest(1, Buffer.alloc(0)));
    expect(reply(none.outs[0])).toEqual({ xid: 1, zxid: 0, err: Err.OK, token: null });
    // a malformed sasl request (no token field) closes only that connection
    none.session(2);
    none.p.request(2, new JuteWriter(16).int(1).int(Op.sasl).int(7).copy());
    expect(none.outs.map((o) => o.kind)).toContain('close');
  });

  it('closes the connection of a request before a SASL login with sessionRequireClientSASLAuth', () => {
    const { p, outs, session } = pipelineWith({ requireClientAuth: true });
    session(1);
    p.request(1, new JuteWriter(64).int(1).int(Op.getData).string('/').bool(false).copy());
    expect(reply(outs[0])).toMatchObject({ xid: 1, zxid: 0, err: Err.SESSIONCLOSEDREQUIRESASLAUTH });
    expect(outs[1]).toEqual({ kind: 'close', conn: 1 });
  });
});
