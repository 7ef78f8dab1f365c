// ACL checks and fix-ups (engine/core/acl.ts) against what ZooKeeper 3.8.0's own classes
// answer (fixtures/zookeeper-java/AclOracle.java): ZooKeeperServer.checkACL's rules for the
// world, super, digest, ip (CIDR masks), x509 and sasl schemes; PrepRequestProcessor.fixupACL's
// "auth" expansion and id validation; the bound on the list's encoded size; and
// DigestAuthenticationProvider.generateDigest.
import { describe, it, expect } from 'vitest';
import { JuteWriter } from '../../native-free-io/jute.ts';
import { type Acl, type Id, Err, KeeperError, TxnTooLargeError, Perm, writeAcls } from '../../engine/protocol.ts';
import { allowed, checkAcl, fixupAcl, generateDigest, ipMatches } from '../../engine/core/acl.ts';
import { Authenticator } from '../../engine/core/auth.ts';

const acl = (perms: number, scheme: string, id: string): Acl => ({ perms, id: { scheme, id } });
const id = (scheme: string, text: string): Id => ({ scheme, id: text });
const ANYONE_READ = acl(Perm.READ, 'world', 'anyone');

/** fixupAcl's answer: the list, or the KeeperError code it threw. */
function fixup(acls: Acl[], ids: Id[] = [], saslScheme = false, bytesMax = Infinity): Acl[] | number {
  try {
    return fixupAcl(acls, ids, saslScheme, bytesMax);
  } catch (e) {
    if (e instanceof KeeperError) return e.code;
    throw e;
  }
}

/** Whether fixupAcl accepts one entry of this scheme and id. */
function validId(scheme: string, text: string, saslScheme = false): boolean {
  const result = fixup([acl(Perm.ALL, scheme, text)], [], saslScheme);
  if (typeof result === 'number') expect(result, `${scheme}:${text}`).toBe(Err.INVALIDACL);
  return typeof result !== 'number';
}

describe('generateDigest', () => {
  it('is "user:" + base64(sha1("user:password")) as DigestAuthenticationProvider.generateDigest', () => {
    // AclOracle.java "digest" lines (and `DigestAuthenticationProvider super:superpw` from the jar)
    const java: [string, string][] = [
      ['super:superpw', 'super:g9oN2HttPfn8MMWJZ2r45Np/LIA='],
      ['alice:secret', 'alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E='],
      ['bob:pä:ss', 'bob:8g3rg7/0/o2K98v4XeOcyPGTd58='],
      ['nocolon', 'nocolon:Ra+cHr2ZoHvBjtNArFGNGlVie4g='],
      [':empty', ':d28FdgWGP7/+uHX3M9UcKTYVL90='],
    ];
    for (const [idPassword, digest] of java) expect(generateDigest(idPassword), idPassword).toBe(digest);
  });
});

describe('allowed / checkAcl (ZooKeeperServer.checkACL)', () => {
  it('an empty ACL lets anyone do anything; a super id passes any ACL', () => {
    expect(allowed([], Perm.ADMIN, [])).toBe(true);
    expect(allowed([acl(Perm.READ, 'digest', 'alice:x')], Perm.DELETE, [id('super', '')])).toBe(true);
    expect(allowed([acl(Perm.READ, 'digest', 'alice:x')], Perm.DELETE, [id('ip', '1.2.3.4')])).toBe(false);
  });

  it('world:anyone grants its perms to every caller, and only those', () => {
    expect(allowed([ANYONE_READ], Perm.READ, [])).toBe(true);
    expect(allowed([ANYONE_READ], Perm.WRITE, [id('digest', 'alice:x')])).toBe(false);
    // world has no provider: an id other than "anyone" matches no one
    expect(allowed([acl(Perm.ALL, 'world', 'someone')], Perm.READ, [id('world', 'someone')])).toBe(false);
  });

  it('digest and x509 ids match exactly, and only within their scheme', () => {
    const acls = [acl(Perm.READ | Perm.WRITE, 'digest', 'alice:h='), acl(Perm.ADMIN, 'x509', 'CN=client,O=org')];
    expect(allowed(acls, Perm.WRITE, [id('ip', '1.2.3.4'), id('digest', 'alice:h=')])).toBe(true);
    expect(allowed(acls, Perm.WRITE, [id('digest', 'alice:other')])).toBe(false);
    expect(allowed(acls, Perm.WRITE, [id('x509', 'alice:h=')])).toBe(false);
    expect(allowed(acls, Perm.ADMIN, [id('x509', 'CN=client,O=org')])).toBe(true);
    expect(allowed(acls, Perm.ADMIN, [id('x509', 'cn=client,o=org')])).toBe(false);
    expect(allowed(acls, Perm.DELETE, [id('digest', 'alice:h='), id('x509', 'CN=client,O=org')])).toBe(false);
  });

  it('ip ACLs match the caller\'s address under the CIDR mask, as IPAuthenticationProvider.matches', () => {
    const acls = [acl(Perm.READ, 'ip', '192.168.0.0/16'), acl(Perm.WRITE, 'ip', '192.168.1.76/31')];
    expect(allowed(acls, Perm.READ, [id('ip', '192.168.1.77')])).toBe(true);
    expect(allowed(acls, Perm.WRITE, [id('ip', '192.168.1.77')])).toBe(true);
    expect(allowed(acls, Perm.WRITE, [id('ip', '192.168.1.78')])).toBe(false);
    expect(allowed(acls, Perm.READ, [id('ip', '192.169.0.1')])).toBe(false);
    // an IPv4 client seen through an IPv6 socket (Java's InetAddress gives the IPv4 form)
    expect(allowed(acls, Perm.READ, [id('ip', '::ffff:192.168.1.77')])).toBe(true);
  });

  it('sasl ids count only when the sasl scheme is configured; the SASL user "super" matches every sasl ACL', () => {
    const acls = [acl(Perm.ALL, 'sasl', 'alice')];
    expect(allowed(acls, Perm.READ, [id('sasl', 'alice')])).toBe(false);
    expect(allowed(acls, Perm.READ, [id('sasl', 'alice')], true)).toBe(true);
    expect(allowed(acls, Perm.READ, [id('sasl', 'bob')], true)).toBe(false);
    expect(allowed(acls, Perm.READ, [id('sasl', 'super')], true)).toBe(true);
  });

  it('an ACL of a scheme with no provider matches no one', () => {
    expect(allowed([acl(Perm.ALL, 'foo', 'bar')], Perm.READ, [id('foo', 'bar')])).toBe(false);
    expect(allowed([acl(Perm.ALL, 'auth', '')], Perm.READ, [id('auth', '')])).toBe(false);
  });

  it('checkAcl throws NOAUTH where allowed says no, and returns where it says yes', () => {
    expect(checkAcl([ANYONE_READ], Perm.READ, [])).toBeUndefined();
    let code: number | null = null;
    try {
      checkAcl([ANYONE_READ], Perm.WRITE, []);
    } catch (e) {
      code = (e as KeeperError).code;
    }
    expect(code).toBe(Err.NOAUTH);
  });
});

describe('ipMatches (IPAuthenticationProvider.matches)', () => {
  it('answers as ZooKeeper for addresses, masks and malformed expressions', () => {
    // AclOracle.java "ipMatches" lines
    const java: [string, string, boolean][] = [
      ['192.168.1.77', '192.168.0.0/16', true], ['192.168.1.77', '192.168.0.0/24', false], ['192.168.1.77', '192.168.0.0/23', true],
      ['192.168.1.77', '192.168.1.76/31', true], ['192.168.1.77', '192.168.1.76/32', false], ['192.168.1.77', '192.168.1.77', true],
      ['8.8.8.8', '0.0.0.0/0', true], ['10.0.0.1', '10.0.0.0/08', true], ['10.0.0.1', '10.0.0.1/-1', false], ['::1', '127.0.0.1', false],
      ['10.0.0.1', '10.0.0.256', false], ['10.0.0.1', '10.0.0', false],
      ['0.0.0.1', '-0.0.0.1', true], ['10.0.0.1', '10.0.0.1/8/9', false], ['10.0.0.1', '10.0.0.1.', false], ['11.0.0.1', '10.0.0.1/7', true],
      ['11.0.0.1', '10.0.0.1/8', false], ['10.0.0.1', '4294967306.0.0.1', false], ['010.0.0.1', '10.0.0.1', true],
      ['10.0.0.1', '10.0.0.1/-0', true], ['10.0.0.1', '10.0.0.1/+8', true], ['10.0.0.1', '10.0.0.1/ 8', false], ['10.0.0.1', '10.0.0.1/8e0', false],
      // Integer.parseInt reads any Unicode decimal digit (Character.digit)
      ['10.0.0.1', '\u0661\u0660.0.0.1', true], ['10.0.0.1', '\uff11\uff10.0.0.1', true], ['10.0.0.1', '10.0.0.1/\u0668', true],
    ];
    for (const [address, expr, matches] of java) expect(ipMatches(address, expr), `${address} ~ ${expr}`).toBe(matches);
  });

  // fixupAcl accepts octets the way Java's Integer.parseInt reads them ("010", "+10"), and
  // matches reads them the same way (IPAuthenticationProvider.v4addr2Bytes for both).
  it('matches an ACL address written with leading zeros or a plus sign, as ZooKeeper stores and matches it', () => {
    expect(validId('ip', '010.0.0.1')).toBe(true);
    expect(ipMatches('10.0.0.1', '010.0.0.1')).toBe(true);
    expect(ipMatches('10.0.0.1', '+10.0.0.1')).toBe(true);
  });

  // (Not reachable through fixupAcl, which refuses both expressions.) The mask is a Java int
  // in 0..32 for matches as for isValid.
  it('refuses a mask past the address\'s bits and an empty mask', () => {
    expect(ipMatches('10.0.0.1', '10.0.0.1/33')).toBe(false);
    expect(ipMatches('10.0.0.1', '10.0.0.1/')).toBe(false);
  });
});

describe('fixupAcl (PrepRequestProcessor.fixupACL)', () => {
  it('refuses an empty list; keeps world:anyone; refuses any other world id and unknown schemes', () => {
    expect(fixup([])).toBe(Err.INVALIDACL);
    expect(fixup([ANYONE_READ])).toEqual([ANYONE_READ]);
    expect(fixup([acl(Perm.ALL, 'world', 'someone')])).toBe(Err.INVALIDACL);
    expect(fixup([acl(Perm.ALL, 'foo', 'bar')])).toBe(Err.INVALIDACL);
    expect(fixup([acl(Perm.ALL, 'super', '')])).toBe(Err.INVALIDACL);
  });

  it('expands "auth" to every digest and x509 id of the caller (sasl when configured) with its perms; ip and super ids never stand in', () => {
    const ids = [id('ip', '10.0.0.1'), id('digest', 'alice:h='), id('super', ''), id('x509', 'CN=c'), id('sasl', 'bob')];
    expect(fixup([acl(Perm.READ, 'auth', 'ignored')], ids)).toEqual([acl(Perm.READ, 'digest', 'alice:h='), acl(Perm.READ, 'x509', 'CN=c')]);
    expect(fixup([acl(Perm.READ, 'auth', '')], ids, true)).toEqual([acl(Perm.READ, 'digest', 'alice:h='), acl(Perm.READ, 'x509', 'CN=c'), acl(Perm.READ, 'sasl', 'bob')]);
    // AclOracle.java "fixup ip-only auth": nobody to stand in
    expect(fixup([acl(Perm.READ, 'auth', '')], [id('ip', '10.0.0.1'), id('super', '')])).toBe(Err.INVALIDACL);
    expect(fixup([acl(Perm.READ, 'auth', '')], [id('sasl', 'bob')], false)).toBe(Err.INVALIDACL);
  });

  it('drops repeated entries of the request, keeping the first', () => {
    expect(fixup([ANYONE_READ, acl(Perm.ALL, 'world', 'anyone'), ANYONE_READ])).toEqual([ANYONE_READ, acl(Perm.ALL, 'world', 'anyone')]);
  });

  // ZooKeeper drops repeats from the request before it expands "auth", not after: an "auth"
  // entry whose expansion equals an explicit entry leaves both in the stored ACL
  // (AclOracle.java "fixup": [31 digest u:h, 31 digest u:h]), which getACL then shows.
  it('keeps an "auth" expansion that repeats an explicit entry, as ZooKeeper stores it', () => {
    const acls = [acl(31, 'auth', ''), acl(31, 'digest', 'u:h'), acl(31, 'digest', 'u:h')];
    expect(fixup(acls, [id('ip', '10.0.0.1'), id('digest', 'u:h'), id('super', '')])).toEqual([acl(31, 'digest', 'u:h'), acl(31, 'digest', 'u:h')]);
    // repeated "auth" entries are one; "auth" entries with other perms expand each ("fixup auth-repeats")
    expect(fixup([acl(1, 'auth', ''), acl(1, 'auth', ''), acl(3, 'auth', 'x')], [id('digest', 'u:h')])).toEqual([acl(1, 'digest', 'u:h'), acl(3, 'digest', 'u:h')]);
  });

  it('expands "auth" in the order the connection holds its ids, ServerCnxn.getAuthInfo\'s (Authenticator keeps authIds so)', () => {
    const auth = new Authenticator({ superDigest: null, x509SuperUser: null, sasl: undefined }, () => {});
    const conn = { key: 1, addr: '10.0.0.1', port: 1, authIds: [id('ip', '10.0.0.1')], saslServer: null };
    for (let i = 0; i < 12; i++) expect(auth.hold(conn, 'digest', `u${i}:hash${i}`)).toBe(true);
    expect(auth.hold(conn, 'digest', 'u3:hash3')).toBe(true); // held already: no change
    // AclOracle.java "fixup auth13": fixupACL over getAuthInfo() of these ids, added in this order
    const java = [2, 9, 10, 11, 3, 7, 6, 0, 4, 8, 1, 5].map((i) => acl(31, 'digest', `u${i}:hash${i}`));
    expect(fixup([acl(31, 'auth', '')], conn.authIds)).toEqual(java);
    expect(conn.authIds).toHaveLength(13);
    expect(conn.authIds[5]).toEqual(id('ip', '10.0.0.1'));
  });

  it('validates digest and ip ids as their providers\' isValid', () => {
    // AclOracle.java "digestValid" and "ipValid" lines
    const digest: [string, boolean][] = [
      ['u:h', true], ['u:h:', true], ['u:h::', true], [':h', true], ['u:', false], ['u', false], ['', false], ['u:h:x', false], ['u::h', false],
    ];
    const ip: [string, boolean][] = [
      ['10.0.0.1', true], ['10.0.0.0/8', true], ['10.0.0.0/0', true], ['10.0.0.0/32', true], ['10.0.0.0/33', false], ['10.0.0.0/-1', false],
      ['10.0.0.0/', false], ['010.0.0.1', true], ['+10.0.0.1', true], ['10.0.0', false], ['10.0.0.256', false], ['::1', false],
      ['10.0.0.1/ 8', false], ['a.b.c.d', false], ['-0.0.0.1', true], ['10.0.0.1/+8', true], ['\u0661\u0660.0.0.1', true],
      ['10.0.0.1/\u0668', true], ['10.0.0.1/8/9', false], ['10.0.0.1.', false],
    ];
    for (const [text, valid] of digest) expect(validId('digest', text), `digest:${text}`).toBe(valid);
    for (const [text, valid] of ip) expect(validId('ip', text), `ip:${text}`).toBe(valid);
  });

  it('validates x509 ids as X500Principal and sasl ids as KerberosName; sasl ids only when the scheme is configured', () => {
    // AclOracle.java "x509Valid" and "saslValid" lines (but '  ', below)
    const x509: [string, boolean][] = [
      ['CN=client,O=org', true], ['cn=a+ou=b', true], ['1.2.3.4=x', true], ['CN="quoted,comma"', true], ['', true],
      ['not a dn', false], ['CN=a,', false], ['=x', false], ['CN=a\\', false],
    ];
    const sasl: [string, boolean][] = [
      ['alice', true], ['alice@EXAMPLE.COM', true], ['zk/host@EXAMPLE.COM', true], ['a/b/c@R', false], ['a@b@c', false], ['@R', true], ['a/@R', true], ['', true],
    ];
    for (const [text, valid] of x509) expect(validId('x509', text), `x509:${text}`).toBe(valid);
    for (const [text, valid] of sasl) expect(validId('sasl', text, true), `sasl:${text}`).toBe(valid);
    expect(validId('sasl', 'alice', false)).toBe(false);
  });

  // engine/security/x509.ts isValidX500Name: only "" is the empty name; X500Principal refuses
  // a name of blanks only (AclOracle.java x509Valid '  ' false, and ' ', '\t', '\n').
  it('refuses an x509 id of blanks only, as X500Principal does', () => {
    for (const blank of ['  ', ' ', '\t', '\n']) expect(validId('x509', blank), JSON.stringify(blank)).toBe(false);
    for (const padded of [' CN=a', 'CN=a ', '\tCN=a']) expect(validId('x509', padded), JSON.stringify(padded)).toBe(true);
  });

  it('bounds the list at bytesMax as jute encodes it, refusing with TxnTooLargeError (MARSHALLINGERROR) past it', () => {
    const ids = [id('digest', 'ünï:' + 'h'.repeat(200)), id('x509', 'CN=' + 'c'.repeat(300))];
    const acls = [acl(Perm.READ, 'world', 'anyone'), acl(Perm.ALL, 'auth', '')];
    const expected = fixupAcl(acls, ids);
    const w = new JuteWriter(64);
    writeAcls(w, expected);
    expect(fixupAcl(acls, ids, false, w.offset)).toEqual(expected);
    let thrown: unknown = null;
    try {
      fixupAcl(acls, ids, false, w.offset - 1);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(TxnTooLargeError);
    expect((thrown as KeeperError).code).toBe(Err.MARSHALLINGERROR);
  });
});
