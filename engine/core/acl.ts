// ACL checks and fix-ups as ZooKeeper's PrepRequestProcessor does them, and the auth
// schemes a session can hold: ip (from its connection), x509 (from its TLS client
// certificate), digest, super, and sasl (a SASL login; its ACL scheme exists only when
// SASLAuthenticationProvider is configured, as ZooKeeper's ProviderRegistry only knows the
// providers named by authProvider.N).
import { createHash } from 'node:crypto';
import { type Acl, type Id, Err, KeeperError, TxnTooLargeError } from '../protocol.ts';
import { saslIdMatches, saslIdValid } from '../security/sasl.ts';
import { isValidX500Name } from '../security/x509.ts';

/** DigestAuthenticationProvider.generateDigest: "user:" + base64(sha1("user:password")). */
export function generateDigest(idPassword: string): string {
  const colon = idPassword.indexOf(':');
  const user = colon < 0 ? idPassword : idPassword.slice(0, colon);
  return `${user}:${createHash('sha1').update(idPassword, 'utf8').digest('base64')}`;
}

const DECIMAL_DIGIT = /\p{Nd}/u;

/**
 * Character.digit(ch, 10) of one UTF-16 unit: its value when it is a Unicode decimal digit
 * (general category Nd, which comes in runs of ten from zero: "١" and "１" are 1), else -1.
 */
function javaDigit(unit: number): number {
  if (unit >= 0x30 && unit <= 0x39) return unit - 0x30;
  if (!DECIMAL_DIGIT.test(String.fromCharCode(unit))) return -1;
  let below = 0;
  while (DECIMAL_DIGIT.test(String.fromCharCode(unit - below - 1))) below++;
  return below % 10;
}

/** Java's Integer.parseInt(text): an optional sign, then digits (javaDigit), in int range; null where it throws. */
function javaParseInt(text: string): number | null {
  const negative = text.startsWith('-');
  let i = negative || text.startsWith('+') ? 1 : 0;
  if (i === text.length) return null;
  let magnitude = 0;
  for (; i < text.length; i++) {
    const digit = javaDigit(text.charCodeAt(i));
    if (digit < 0) return null;
    magnitude = magnitude * 10 + digit;
    if (magnitude > 0x80000000) return null;
  }
  if (!negative && magnitude > 0x7fffffff) return null;
  return negative ? -magnitude + 0 : magnitude; // (+ 0: Java has no -0)
}

/**
 * Java's String.split(regex) count for a one-character separator: trailing empty strings
 * are dropped, and "" is one (empty) part.
 */
function javaSplitCount(text: string, separator: string): number {
  if (text.length === 0) return 1;
  const parts = text.split(separator);
  let n = parts.length;
  while (n > 0 && parts[n - 1] === '') n--;
  return n;
}

/**
 * IPAuthenticationProvider.v4addr2Bytes: four dot-separated Java ints in 0..255 ("010" and
 * "+10" are 10), or null (3.8 knows no IPv6).
 */
function ipv4Bytes(addr: string): number[] | null {
  const parts = addr.split('.');
  if (parts.length !== 4) return null;
  const bytes: number[] = [];
  for (const part of parts) {
    const v = javaParseInt(part);
    if (v === null || v < 0 || v > 255) return null;
    bytes.push(v);
  }
  return bytes;
}

/**
 * An ip ACL id as IPAuthenticationProvider reads it (split("/", 2)): an IPv4 address and
 * the mask's bits, a Java int in 0..32 (32 without a mask); null where isValid says no and
 * matches answers false.
 */
function ipExpr(expr: string): { addr: number[]; bits: number } | null {
  const slash = expr.indexOf('/');
  const addr = ipv4Bytes(slash < 0 ? expr : expr.slice(0, slash));
  if (addr === null) return null;
  const bits = slash < 0 ? 32 : javaParseInt(expr.slice(slash + 1));
  return bits === null || bits < 0 || bits > 32 ? null : { addr, bits };
}

/**
 * IPAuthenticationProvider.matches: the client's address (its host address: an IPv4 client
 * on an IPv6 socket in its IPv4 form, as Java's InetAddress gives it) under the ACL's mask.
 */
export function ipMatches(address: string, aclExpr: string): boolean {
  const acl = ipExpr(aclExpr);
  const remote = ipv4Bytes(address.startsWith('::ffff:') ? address.slice(7) : address);
  if (acl === null || remote === null) return false;
  for (let i = 0, bits = acl.bits; i < 4 && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((acl.addr[i] & mask) !== (remote[i] & mask)) return false;
  }
  return true;
}

/** IPAuthenticationProvider.isValid: an IPv4 address, optionally /bits with bits in 0..32. */
function ipValid(expr: string): boolean {
  return ipExpr(expr) !== null;
}

/** DigestAuthenticationProvider.isValid: id.split(":") has exactly two parts (Java drops trailing empty ones). */
function digestValid(id: string): boolean {
  return javaSplitCount(id, ':') === 2;
}

function schemeMatches(scheme: string, authId: string, aclId: string): boolean {
  if (scheme === 'ip') return ipMatches(authId, aclId);
  if (scheme === 'sasl') return saslIdMatches(authId, aclId);
  return authId === aclId;
}

/** ACL schemes with a provider: ip, digest and x509 always, sasl when saslScheme is on. */
function knownScheme(scheme: string, saslScheme: boolean): boolean {
  return scheme === 'digest' || scheme === 'ip' || scheme === 'x509' || (saslScheme && scheme === 'sasl');
}

/** True when ids may do perm on a node with these ACLs (ZooKeeperServer.checkACL). */
export function allowed(acls: readonly Acl[], perm: number, ids: readonly Id[], saslScheme = false): boolean {
  if (acls.length === 0) return true;
  for (const id of ids) if (id.scheme === 'super') return true;
  for (const a of acls) {
    if ((a.perms & perm) === 0) continue;
    if (a.id.scheme === 'world' && a.id.id === 'anyone') return true;
    if (!knownScheme(a.id.scheme, saslScheme)) continue;
    for (const id of ids) if (id.scheme === a.id.scheme && schemeMatches(id.scheme, id.id, a.id.id)) return true;
  }
  return false;
}

export function checkAcl(acls: readonly Acl[], perm: number, ids: readonly Id[], saslScheme = false): void {
  if (!allowed(acls, perm, ids, saslScheme)) throw new KeeperError(Err.NOAUTH);
}

/** PrepRequestProcessor.removeDuplicates: the request's entries, each once, where it first appears. */
function withoutRepeats(acls: readonly Acl[]): Acl[] {
  const seen = new Set<string>();
  const out: Acl[] = [];
  for (const a of acls) {
    const key = `${a.perms}\u0000${a.id.scheme}\u0000${a.id.id}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(a);
  }
  return out;
}

/**
 * PrepRequestProcessor.fixupACL: drop the request's repeated entries, then expand "auth" and
 * validate ids. ids: the connection's, in the order getAuthInfo lists them (AuthHolder.authIds
 * is kept so): "auth" expands in that order. What "auth" expands to is kept as it comes, even where it repeats an entry
 * (getACL shows both). "auth" entries copy every id the connection holds, so the result can
 * be far larger than the request: past bytesMax (as jute encodes the list) it throws
 * TxnTooLargeError before growing further.
 */
export function fixupAcl(acls: readonly Acl[], ids: readonly Id[], saslScheme = false, bytesMax = Infinity): Acl[] {
  if (acls.length === 0) throw new KeeperError(Err.INVALIDACL);
  const out: Acl[] = [];
  let bytes = 4;
  const push = (a: Acl) => {
    bytes += 4 + 4 + Buffer.byteLength(a.id.scheme, 'utf8') + 4 + Buffer.byteLength(a.id.id, 'utf8');
    if (bytes > bytesMax) throw new TxnTooLargeError(bytes, bytesMax);
    out.push(a);
  };
  for (const a of withoutRepeats(acls)) {
    const { scheme, id } = a.id;
    if (scheme === 'world' && id === 'anyone') {
      push(a);
    } else if (scheme === 'auth') {
      let valid = false;
      for (const cid of ids) {
        // only schemes whose provider isAuthenticated() (digest, x509, sasl) stand in for "auth"
        if (cid.scheme === 'digest' || cid.scheme === 'x509' || (saslScheme && cid.scheme === 'sasl')) {
          valid = true;
          push({ perms: a.perms, id: { scheme: cid.scheme, id: cid.id } });
        }
      }
      if (!valid) throw new KeeperError(Err.INVALIDACL);
    } else if (scheme === 'digest') {
      if (!digestValid(id)) throw new KeeperError(Err.INVALIDACL);
      push(a);
    } else if (scheme === 'ip') {
      if (!ipValid(id)) throw new KeeperError(Err.INVALIDACL);
      push(a);
    } else if (scheme === 'x509') {
      if (!isValidX500Name(id)) throw new KeeperError(Err.INVALIDACL);
      push(a);
    } else if (scheme === 'sasl' && saslScheme) {
      if (!saslIdValid(id)) throw new KeeperError(Err.INVALIDACL);
      push(a);
    } else {
      throw new KeeperError(Err.INVALIDACL);
    }
  }
  return out;
}
