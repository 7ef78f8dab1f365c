// Certificates and key stores as ZooKeeper's Java side sees them, without native addons:
// - the subject of a certificate in X500Principal.getName()'s RFC 2253 form (the id the
//   x509 ACL scheme gives a client, X509AuthenticationProvider.getClientId);
// - the certificates of a PKCS12 trust store (what keytool writes: cert bags, encrypted
//   with PBES2 or PKCS12's 3DES PBE, integrity-checked with PKCS12's HMAC);
// - JKS key and trust stores (Sun's format: trusted certs, and private keys protected by
//   sun.security.provider.KeyProtector's SHA-1 stream).
// Pure functions over bytes; a malformed store or a wrong password throws Error.
import { createDecipheriv, createHash, createHmac, pbkdf2Sync } from 'node:crypto';

// ---------------------------------------------------------------------------------
// DER

interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the contents. */
  contentStart: number;
  /** Offset just past the contents. */
  end: number;
}

/** Nesting a certificate or PKCS12 file needs is far below this; deeper is malformed input. */
const DER_LENGTH_BYTES_MAX = 4;

function readTlv(b: Buffer, at: number, limit: number = b.length): Tlv {
  if (at + 2 > limit) throw new Error('DER: truncated');
  const tag = b[at];
  if ((tag & 0x1f) === 0x1f) throw new Error('DER: multi-byte tags are not supported');
  let length = b[at + 1];
  let contentStart = at + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > DER_LENGTH_BYTES_MAX) throw new Error('DER: unsupported length form');
    if (contentStart + n > limit) throw new Error('DER: truncated length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + b[contentStart + i];
    contentStart += n;
  }
  const end = contentStart + length;
  if (end > limit) throw new Error('DER: contents run past their container');
  return { tag, start: at, contentStart, end };
}

/** The elements of a constructed value (SEQUENCE, SET, [n]). */
function children(b: Buffer, t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = t.contentStart; at < t.end;) {
    const c = readTlv(b, at, t.end);
    out.push(c);
    at = c.end;
  }
  return out;
}

function expectTag(t: Tlv, tag: number, what: string): Tlv {
  if (t.tag !== tag) throw new Error(`${what}: expected tag 0x${tag.toString(16)}, found 0x${t.tag.toString(16)}`);
  return t;
}

function oidOf(b: Buffer, t: Tlv): string {
  expectTag(t, 0x06, 'OID');
  const parts: number[] = [];
  let value = 0;
  for (let i = t.contentStart; i < t.end; i++) {
    value = value * 128 + (b[i] & 0x7f);
    if ((b[i] & 0x80) === 0) {
      if (parts.length === 0) {
        const first = value < 80 ? Math.floor(value / 40) : 2;
        parts.push(first, value - first * 40);
      } else {
        parts.push(value);
      }
      value = 0;
    }
  }
  return parts.join('.');
}

function intOf(b: Buffer, t: Tlv): number {
  expectTag(t, 0x02, 'INTEGER');
  let n = 0;
  for (let i = t.contentStart; i < t.end; i++) n = n * 256 + b[i];
  return n;
}

function contents(b: Buffer, t: Tlv): Buffer {
  return b.subarray(t.contentStart, t.end);
}

/** An OCTET STRING, primitive or (BER, as some PKCS12 writers emit) constructed from primitive pieces. */
function octets(b: Buffer, t: Tlv): Buffer {
  if (t.tag === 0x04 || t.tag === 0x80) return contents(b, t);
  if (t.tag === 0x24 || t.tag === 0xa0) return Buffer.concat(children(b, t).map((c) => octets(b, c)));
  throw new Error(`OCTET STRING: unexpected tag 0x${t.tag.toString(16)}`);
}

// ---------------------------------------------------------------------------------
// X500Principal.getName(): RFC 2253

/** The attribute types Java prints by keyword in RFC 2253 form (AVAKeyword's rfc2253Compliant ones). */
const RFC2253_KEYWORDS: Record<string, string> = {
  '2.5.4.3': 'CN', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST', '2.5.4.10': 'O', '2.5.4.11': 'OU',
  '2.5.4.9': 'STREET', '0.9.2342.19200300.100.1.25': 'DC', '0.9.2342.19200300.100.1.1': 'UID',
};

/** Characters AVA.toRFC2253String escapes with a backslash. */
const RFC2253_ESCAPED = ',=+<>#;"\\';

/** DerValue string types AVA prints as text (isDerString, non-canonical); the rest are #hex. */
function derStringText(b: Buffer, t: Tlv): string | null {
  const c = contents(b, t);
  switch (t.tag) {
    case 0x0c: return c.toString('utf8');                       // UTF8String
    case 0x13: case 0x16: case 0x14: case 0x1b: return c.toString('latin1'); // Printable, IA5, T61, General
    case 0x1e: {                                               // BMPString: UTF-16BE
      const swapped = Buffer.from(c);
      swapped.swap16();
      return swapped.toString('utf16le');
    }
    case 0x1c: {                                               // UniversalString: UTF-32BE
      let s = '';
      for (let i = 0; i + 4 <= c.length; i += 4) s += String.fromCodePoint(c.readUInt32BE(i));
      return s;
    }
    default: return null;
  }
}

function escapeRfc2253(value: string): string {
  let s = '';
  for (const ch of value) {
    if (RFC2253_ESCAPED.includes(ch)) s += `\\${ch}`;
    else if (ch === '\u0000') s += '\\00';
    else s += ch;
  }
  // leading and trailing spaces (and CRs) are escaped too
  let lead = 0;
  while (lead < s.length && (s[lead] === ' ' || s[lead] === '\r')) lead++;
  let trail = s.length - 1;
  while (trail >= 0 && (s[trail] === ' ' || s[trail] === '\r')) trail--;
  if (lead === 0 && trail === s.length - 1) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) out += i < lead || i > trail ? `\\${s[i]}` : s[i];
  return out;
}

function nameToRfc2253(b: Buffer, name: Tlv): string {
  expectTag(name, 0x30, 'Name');
  const rdns = children(b, name).map((set) => {
    expectTag(set, 0x31, 'RelativeDistinguishedName');
    return children(b, set).map((ava) => {
      const [typeTlv, valueTlv] = children(b, expectTag(ava, 0x30, 'AttributeTypeAndValue'));
      if (typeTlv === undefined || valueTlv === undefined) throw new Error('AttributeTypeAndValue: missing type or value');
      const oid = oidOf(b, typeTlv);
      const keyword = RFC2253_KEYWORDS[oid] ?? oid;
      const text = keyword === oid ? null : derStringText(b, valueTlv);
      // an attribute named by OID, or a value of a non-string type, is the hex of its DER encoding
      return text === null ? `${keyword}=#${b.subarray(valueTlv.start, valueTlv.end).toString('hex')}` : `${keyword}=${escapeRfc2253(text)}`;
    }).join('+');
  });
  return rdns.reverse().join(',');
}

/** The subject of a DER certificate as X500Principal.getName() prints it (RFC 2253, most specific RDN first). */
export function subjectRfc2253(certDer: Buffer): string {
  const cert = expectTag(readTlv(certDer, 0), 0x30, 'Certificate');
  const tbs = expectTag(children(certDer, cert)[0], 0x30, 'TBSCertificate');
  const fields = children(certDer, tbs);
  const skip = fields[0]?.tag === 0xa0 ? 1 : 0;                // [0] version
  const subject = fields[skip + 4];                            // serial, signature, issuer, validity, subject
  if (subject === undefined) throw new Error('TBSCertificate: no subject');
  return nameToRfc2253(certDer, subject);
}

/**
 * X509AuthenticationProvider.isValid: `new X500Principal(id)` accepts it. An approximation:
 * comma- (or semicolon-) separated RDNs of `+`-joined `type=value`, the type a keyword or an
 * OID; backslash escapes and quoted values allowed. The empty name is valid; one of blanks
 * only is not (X500Name.parseDN takes only "" for the empty name).
 */
export function isValidX500Name(name: string): boolean {
  if (name === '') return true;
  const avas: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < name.length; i++) {
    const ch = name[i];
    if (ch === '\\' && i + 1 < name.length) {
      cur += ch + name[++i];
    } else if (ch === '"') {
      quoted = !quoted;
      cur += ch;
    } else if (!quoted && (ch === ',' || ch === ';' || ch === '+')) {
      avas.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  if (quoted || name.endsWith('\\')) return false;
  avas.push(cur);
  return avas.every((ava) => /^\s*([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)\s*=/.test(ava));
}

// ---------------------------------------------------------------------------------
// PKCS12

const OID_DATA = '1.2.840.113549.1.7.1';
const OID_ENCRYPTED_DATA = '1.2.840.113549.1.7.6';
const OID_CERT_BAG = '1.2.840.113549.1.12.10.1.3';
const OID_X509_CERT = '1.2.840.113549.1.9.22.1';
const OID_PBES2 = '1.2.840.113549.1.5.13';
const OID_PBKDF2 = '1.2.840.113549.1.5.12';
const OID_PBE_SHA1_3DES = '1.2.840.113549.1.12.1.3';

const HASH_BY_OID: Record<string, { name: string; blockBytes: number }> = {
  '1.3.14.3.2.26': { name: 'sha1', blockBytes: 64 },
  '2.16.840.1.101.3.4.2.4': { name: 'sha224', blockBytes: 64 },
  '2.16.840.1.101.3.4.2.1': { name: 'sha256', blockBytes: 64 },
  '2.16.840.1.101.3.4.2.2': { name: 'sha384', blockBytes: 128 },
  '2.16.840.1.101.3.4.2.3': { name: 'sha512', blockBytes: 128 },
};
const HMAC_BY_OID: Record<string, string> = {
  '1.2.840.113549.2.7': 'sha1', '1.2.840.113549.2.8': 'sha224', '1.2.840.113549.2.9': 'sha256',
  '1.2.840.113549.2.10': 'sha384', '1.2.840.113549.2.11': 'sha512',
};
const CIPHER_BY_OID: Record<string, string> = {
  '2.16.840.1.101.3.4.1.2': 'aes-128-cbc', '2.16.840.1.101.3.4.1.22': 'aes-192-cbc',
  '2.16.840.1.101.3.4.1.42': 'aes-256-cbc', '1.2.840.113549.3.7': 'des-ede3-cbc',
};
/** PBKDF2 and PKCS12 KDF iteration counts above this are a malformed (or hostile) file, not a real store. */
const KDF_ITERATIONS_MAX = 10_000_000;

/** The wrong password: callers report it against the password setting. */
export class BadPasswordError extends Error {}

/** RFC 7292 appendix B.2: the PKCS12 key derivation (id 1 key, 2 iv, 3 MAC key). */
function pkcs12Kdf(hashName: string, blockBytes: number, password: string, salt: Buffer, id: number, iterations: number, sizeBytes: number): Buffer {
  const pw = Buffer.concat([jksPasswordBytes(password), Buffer.alloc(2)]); // BMPString, NUL-terminated
  const fill = (src: Buffer): Buffer => {
    if (src.length === 0) return Buffer.alloc(0);
    const out = Buffer.alloc(blockBytes * Math.ceil(src.length / blockBytes));
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length];
    return out;
  };
  const I = Buffer.concat([fill(salt), fill(pw)]);
  const D = Buffer.alloc(blockBytes, id);
  const out: Buffer[] = [];
  let produced = 0;
  while (produced < sizeBytes) {
    let A = createHash(hashName).update(D).update(I).digest();
    for (let r = 1; r < iterations; r++) A = createHash(hashName).update(A).digest();
    out.push(A);
    produced += A.length;
    const B = fill(A);
    for (let j = 0; j < I.length; j += blockBytes) {
      let carry = 1;
      for (let k = blockBytes - 1; k >= 0; k--) {
        const sum = I[j + k] + B[k] + carry;
        I[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(out).subarray(0, sizeBytes);
}

function checkIterations(n: number): number {
  if (n < 1 || n > KDF_ITERATIONS_MAX) throw new Error(`PKCS12: iteration count ${n} is out of range`);
  return n;
}

function decrypt(b: Buffer, algorithm: Tlv, data: Buffer, password: string): Buffer {
  const [algOid, params] = children(b, algorithm);
  const alg = oidOf(b, algOid);
  let cipher: string;
  let key: Buffer;
  let iv: Buffer;
  if (alg === OID_PBES2) {
    const [kdf, scheme] = children(b, params);
    const [kdfOid, kdfParams] = children(b, kdf);
    if (oidOf(b, kdfOid) !== OID_PBKDF2) throw new Error('PKCS12: PBES2 with a key derivation other than PBKDF2');
    const kp = children(b, kdfParams);
    const salt = octets(b, kp[0]);
    const iterations = checkIterations(intOf(b, kp[1]));
    let prf = 'sha1';
    for (const extra of kp.slice(2)) {
      if (extra.tag === 0x30) prf = HMAC_BY_OID[oidOf(b, children(b, extra)[0])] ?? '';
    }
    const [schemeOid, ivTlv] = children(b, scheme);
    cipher = CIPHER_BY_OID[oidOf(b, schemeOid)] ?? '';
    if (prf === '' || cipher === '') throw new Error('PKCS12: unsupported PBES2 cipher or PRF');
    iv = octets(b, ivTlv);
    const keyBytes = cipher === 'des-ede3-cbc' ? 24 : Number(/aes-(\d+)/.exec(cipher)![1]) / 8;
    key = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, keyBytes, prf);
  } else if (alg === OID_PBE_SHA1_3DES) {
    const [saltTlv, iterTlv] = children(b, params);
    const salt = octets(b, saltTlv);
    const iterations = checkIterations(intOf(b, iterTlv));
    cipher = 'des-ede3-cbc';
    key = pkcs12Kdf('sha1', 64, password, salt, 1, iterations, 24);
    iv = pkcs12Kdf('sha1', 64, password, salt, 2, iterations, 8);
  } else {
    throw new Error(`PKCS12: encryption ${alg} is not supported (re-create the store with keytool or openssl 3, which use AES)`);
  }
  try {
    const d = createDecipheriv(cipher, key, iv);
    return Buffer.concat([d.update(data), d.final()]);
  } catch {
    throw new BadPasswordError('PKCS12: cannot decrypt (wrong password?)');
  }
}

function verifyMac(b: Buffer, macData: Tlv, authSafe: Buffer, password: string): void {
  const [digestInfo, saltTlv, iterTlv] = children(b, macData);
  const [algTlv, digestTlv] = children(b, digestInfo);
  const hash = HASH_BY_OID[oidOf(b, children(b, algTlv)[0])];
  if (hash === undefined) throw new Error('PKCS12: unsupported MAC digest');
  const iterations = iterTlv === undefined ? 1 : checkIterations(intOf(b, iterTlv));
  const expected = octets(b, digestTlv);
  const key = pkcs12Kdf(hash.name, hash.blockBytes, password, octets(b, saltTlv), 3, iterations, expected.length);
  const mac = createHmac(hash.name, key).update(authSafe).digest();
  if (!mac.equals(expected)) throw new BadPasswordError('PKCS12: integrity check failed (wrong password?)');
}

/** The DER certificates of every cert bag in a PKCS12 file (a keytool or openssl trust store). */
export function pkcs12Certificates(file: Buffer, password: string): Buffer[] {
  const pfx = children(file, expectTag(readTlv(file, 0), 0x30, 'PFX'));
  if (pfx.length < 2 || intOf(file, pfx[0]) !== 3) throw new Error('PKCS12: not a version 3 PFX');
  const [typeTlv, wrapped] = children(file, pfx[1]);
  if (oidOf(file, typeTlv) !== OID_DATA) throw new Error('PKCS12: public-key integrity mode is not supported');
  const authSafe = octets(file, children(file, wrapped)[0]);
  if (pfx[2] !== undefined) verifyMac(file, pfx[2], authSafe, password);
  const certs: Buffer[] = [];
  const safes = children(authSafe, readTlv(authSafe, 0));
  for (const ci of safes) {
    const [ciType, ciContent] = children(authSafe, ci);
    const type = oidOf(authSafe, ciType);
    let safeContents: Buffer;
    if (type === OID_DATA) {
      safeContents = octets(authSafe, children(authSafe, ciContent)[0]);
    } else if (type === OID_ENCRYPTED_DATA) {
      const encryptedData = children(authSafe, children(authSafe, ciContent)[0]);
      const [, algorithm, encrypted] = children(authSafe, encryptedData[1]);
      safeContents = decrypt(authSafe, algorithm, octets(authSafe, encrypted), password);
    } else {
      continue; // enveloped data: not written by keytool or openssl for stores
    }
    for (const bag of children(safeContents, readTlv(safeContents, 0))) {
      const [bagId, bagValue] = children(safeContents, bag);
      if (oidOf(safeContents, bagId) !== OID_CERT_BAG) continue;
      const [certId, certValue] = children(safeContents, children(safeContents, bagValue)[0]);
      if (oidOf(safeContents, certId) !== OID_X509_CERT) continue;
      certs.push(Buffer.from(octets(safeContents, children(safeContents, certValue)[0])));
    }
  }
  return certs;
}

// ---------------------------------------------------------------------------------
// JKS

const JKS_MAGIC = 0xfeedfeed;
const JKS_PRIVATE_KEY = 1;
const JKS_TRUSTED_CERT = 2;
const JKS_ENTRIES_MAX = 100_000;

export interface JksContents {
  /** PKCS8 DER private keys, each with its certificate chain (DER, leaf first). */
  keys: { alias: string; pkcs8: Buffer; chain: Buffer[] }[];
  trusted: Buffer[];
}

/** UTF-16BE bytes of the password, as Sun's JKS code feeds its digests. */
function jksPasswordBytes(password: string): Buffer {
  const out = Buffer.alloc(password.length * 2);
  for (let i = 0; i < password.length; i++) out.writeUInt16BE(password.charCodeAt(i), i * 2);
  return out;
}

/** sun.security.provider.KeyProtector.recover: salt(20) ‖ key XOR SHA-1 stream ‖ check(20). */
function jksRecoverKey(protectedKey: Buffer, password: string): Buffer {
  const info = children(protectedKey, readTlv(protectedKey, 0));
  const enc = octets(protectedKey, info[1]);
  if (enc.length < 40) throw new Error('JKS: protected key too short');
  const pw = jksPasswordBytes(password);
  const salt = enc.subarray(0, 20);
  const body = enc.subarray(20, enc.length - 20);
  const check = enc.subarray(enc.length - 20);
  const plain = Buffer.alloc(body.length);
  let digest: Buffer = salt;
  for (let i = 0; i < body.length; i += 20) {
    digest = createHash('sha1').update(pw).update(digest).digest();
    for (let j = 0; j < 20 && i + j < body.length; j++) plain[i + j] = body[i + j] ^ digest[j];
  }
  if (!createHash('sha1').update(pw).update(plain).digest().equals(check)) throw new BadPasswordError('JKS: cannot recover the private key (wrong password?)');
  return plain;
}

/** Reads a JKS key or trust store, checking its integrity with the password (as keytool does). */
export function readJks(file: Buffer, password: string): JksContents {
  let at = 0;
  const need = (n: number) => {
    if (at + n > file.length - 20) throw new Error('JKS: truncated');
  };
  const u32 = () => { need(4); const v = file.readUInt32BE(at); at += 4; return v; };
  const utf = () => { need(2); const n = file.readUInt16BE(at); need(2 + n); const s = file.toString('utf8', at + 2, at + 2 + n); at += 2 + n; return s; };
  const bytes = () => { const n = u32(); need(n); const v = file.subarray(at, at + n); at += n; return v; };
  if (file.length < 32 || file.readUInt32BE(0) !== JKS_MAGIC) throw new Error('JKS: not a JKS file');
  const integrity = createHash('sha1').update(jksPasswordBytes(password)).update('Mighty Aphrodite', 'utf8')
    .update(file.subarray(0, file.length - 20)).digest();
  if (!integrity.equals(file.subarray(file.length - 20))) throw new BadPasswordError('JKS: integrity check failed (wrong password?)');
  at = 4;
  const version = u32();
  if (version !== 1 && version !== 2) throw new Error(`JKS: version ${version} is not supported`);
  const count = u32();
  if (count > JKS_ENTRIES_MAX) throw new Error('JKS: too many entries');
  const out: JksContents = { keys: [], trusted: [] };
  for (let i = 0; i < count; i++) {
    const tag = u32();
    const alias = utf();
    need(8);
    at += 8; // creation date
    if (tag === JKS_PRIVATE_KEY) {
      const protectedKey = bytes();
      const chainLength = u32();
      const chain: Buffer[] = [];
      for (let c = 0; c < chainLength; c++) {
        if (version === 2) utf(); // certificate type
        chain.push(Buffer.from(bytes()));
      }
      out.keys.push({ alias, pkcs8: jksRecoverKey(protectedKey, password), chain });
    } else if (tag === JKS_TRUSTED_CERT) {
      if (version === 2) utf();
      out.trusted.push(Buffer.from(bytes()));
    } else {
      throw new Error(`JKS: entry type ${tag} is not supported`);
    }
  }
  return out;
}

/** DER → PEM, the form Node's tls options take. */
export function derToPem(der: Buffer, label: string): string {
  const b64 = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}
