// SASL authentication as Apache ZooKeeper 3.8 does it with DIGEST-MD5 (RFC 2831):
// users come from the `Server` section of a JAAS login configuration file
// (org.apache.zookeeper.server.auth.DigestLoginModule, options user_<name>="<password>"),
// clients send SASL tokens in `sasl` requests (opcode 102, GetSASLRequest {token}) and
// get the server's next token back (SetSASLResponse {token}).
//
// Four pure pieces: the JAAS file parser (Java's ConfigFile grammar), the parser of
// DIGEST-MD5 directive lists, the server's per-connection state machine and the client's
// (quorum SASL: a learner authenticating to a server, engine/quorum/quorum-auth.ts). Realm
// and digest-uri are parameters (the client port's and the quorum's differ). Nonces come
// from an injected source of random bytes, so tests can fix them.

import { createHash, timingSafeEqual } from 'node:crypto';

// ---------------------------------------------------------------------------------
// Limits and fixed names (one place, with the reason for each)

/** ZooKeeperSaslServer creates its SaslServer for protocol "zookeeper" on host "zk-sasl-md5". */
export const SASL_PROTOCOL = 'zookeeper';
export const SASL_REALM = 'zk-sasl-md5';
export const DIGEST_URI = `${SASL_PROTOCOL}/${SASL_REALM}`;
/** Where a DIGEST-MD5 exchange runs: the server's realm and the digest-uri (protocol "/" server name) both ends use. */
export interface DigestMd5Service {
  realm: string;
  digestUri: string;
}
/** The client port's (ZooKeeperSaslServer). */
export const CLIENT_SASL_SERVICE: DigestMd5Service = { realm: SASL_REALM, digestUri: DIGEST_URI };
/** RFC 2831 §2.1.2: the digest-response must be shorter than 4096 bytes (Java's server refuses longer ones). */
export const DIGEST_RESPONSE_BYTES_MAX = 4096;
/** RFC 2831 §2.1.1: a digest-challenge is shorter than 2048 bytes (Java's client refuses longer ones). */
const DIGEST_CHALLENGE_BYTES_MAX = 2048;
/** Java's DigestMD5Base: 30 random bytes, base64-encoded into a 40-character nonce (the client's cnonce too). */
export const NONCE_RANDOM_BYTES = 30;
/** The maxbuf Java's DigestMD5Client announces (its default receive buffer). */
const CLIENT_MAXBUF_BYTES = 65536;
/** More directives than RFC 2831 defines (13) twice over is not a client talking DIGEST-MD5. */
const DIRECTIVES_MAX = 32;
/** The login module ZooKeeper's server uses for DIGEST-MD5 users. */
export const DIGEST_LOGIN_MODULE = 'org.apache.zookeeper.server.auth.DigestLoginModule';
/** A JAAS file is a few sections of a few lines; a bigger one is not a login configuration. */
export const JAAS_FILE_BYTES_MAX = 1 << 20;

// ---------------------------------------------------------------------------------
// JAAS login configuration files (sun.security.provider.ConfigFile's grammar)
//
//   Name {
//     module.Class  required|requisite|sufficient|optional  key="value" key2=word ;
//   };
//
// Comments are `// …` and `/* … */`. Values are quoted ("…" or '…', with backslash
// escapes) or bare words. Section names are unique.

export class JaasError extends Error {
  line: number;
  constructor(source: string, line: number, detail: string) {
    super(`${source}:${line}: ${detail}`);
    this.name = 'JaasError';
    this.line = line;
  }
}

export interface JaasEntry {
  module: string;
  flag: 'required' | 'requisite' | 'sufficient' | 'optional';
  options: Map<string, string>;
  line: number;
}

export interface JaasSection {
  name: string;
  entries: JaasEntry[];
  line: number;
}

interface JaasToken {
  kind: 'word' | 'quoted' | 'punct' | 'eof';
  text: string;
  line: number;
}

const JAAS_PUNCT = new Set(['{', '}', ';', '=']);
const JAAS_FLAGS = new Set(['required', 'requisite', 'sufficient', 'optional']);

function isJaasWordChar(c: string): boolean {
  return /[A-Za-z0-9_$\-*.]/.test(c) || c.charCodeAt(0) >= 0xa0;
}

function tokenizeJaas(text: string, source: string): JaasToken[] {
  const tokens: JaasToken[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '\n') {
      line++;
      i++;
    } else if (c <= ' ') {
      i++;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const startLine = line;
      i += 2;
      while (i < text.length && !(text[i] === '*' && text[i + 1] === '/')) {
        if (text[i] === '\n') line++;
        i++;
      }
      if (i >= text.length) throw new JaasError(source, startLine, 'unterminated /* comment');
      i += 2;
    } else if (c === '"' || c === "'") {
      const startLine = line;
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length || text[i] === '\n') throw new JaasError(source, startLine, `unterminated quoted string (a value ends with ${c} on the same line)`);
        const d = text[i++];
        if (d === c) break;
        if (d !== '\\') {
          value += d;
          continue;
        }
        const e = text[i++] ?? '';
        if (e === 'n') value += '\n';
        else if (e === 't') value += '\t';
        else if (e === 'r') value += '\r';
        else if (e === 'b') value += '\b';
        else if (e === 'f') value += '\f';
        else if (e === '\n') throw new JaasError(source, startLine, 'unterminated quoted string');
        else value += e;
      }
      tokens.push({ kind: 'quoted', text: value, line: startLine });
    } else if (JAAS_PUNCT.has(c)) {
      tokens.push({ kind: 'punct', text: c, line });
      i++;
    } else if (isJaasWordChar(c)) {
      const start = i;
      while (i < text.length && isJaasWordChar(text[i])) i++;
      tokens.push({ kind: 'word', text: text.slice(start, i), line });
    } else {
      throw new JaasError(source, line, `unexpected character '${c}'`);
    }
  }
  tokens.push({ kind: 'eof', text: '', line });
  return tokens;
}

/** Parses a JAAS login configuration; errors name the file and line. */
export function parseJaas(text: string, source: string): JaasSection[] {
  const tokens = tokenizeJaas(text, source);
  let at = 0;
  const describe = (t: JaasToken) => (t.kind === 'eof' ? 'the end of the file' : t.kind === 'quoted' ? `"${t.text}"` : `'${t.text}'`);
  const expectPunct = (p: string, what: string): JaasToken => {
    const t = tokens[at];
    if (t.kind !== 'punct' || t.text !== p) throw new JaasError(source, t.line, `expected '${p}' ${what}, found ${describe(t)}`);
    at++;
    return t;
  };
  const expectWord = (what: string, quotedToo = false): JaasToken => {
    const t = tokens[at];
    if (t.kind !== 'word' && !(quotedToo && t.kind === 'quoted')) throw new JaasError(source, t.line, `expected ${what}, found ${describe(t)}`);
    at++;
    return t;
  };
  const isPunct = (p: string) => tokens[at].kind === 'punct' && tokens[at].text === p;
  const sections: JaasSection[] = [];
  const names = new Map<string, number>();
  while (tokens[at].kind !== 'eof') {
    const nameToken = expectWord('a section name (e.g. Server)');
    const earlier = names.get(nameToken.text);
    if (earlier !== undefined) throw new JaasError(source, nameToken.line, `section ${nameToken.text} is already defined on line ${earlier}`);
    names.set(nameToken.text, nameToken.line);
    expectPunct('{', `after section name ${nameToken.text}`);
    const entries: JaasEntry[] = [];
    while (!isPunct('}')) {
      const moduleToken = expectWord(`a login module class name or '}' in section ${nameToken.text}`);
      const flagToken = expectWord(`a control flag (required, requisite, sufficient, optional) after ${moduleToken.text}`);
      const flag = flagToken.text.toLowerCase();
      if (!JAAS_FLAGS.has(flag)) throw new JaasError(source, flagToken.line, `'${flagToken.text}' is not a control flag (required, requisite, sufficient, optional)`);
      const options = new Map<string, string>();
      while (!isPunct(';')) {
        const key = expectWord(`an option name or ';' after the options of ${moduleToken.text}`);
        expectPunct('=', `after option ${key.text}`);
        const value = expectWord(`a value for option ${key.text}`, true);
        if (value.text.includes('${')) throw new JaasError(source, value.line, `option ${key.text}: \${…} property expansion is not supported by zooid`);
        options.set(key.text, value.text);
      }
      expectPunct(';', '');
      entries.push({ module: moduleToken.text, flag: flag as JaasEntry['flag'], options, line: moduleToken.line });
    }
    expectPunct('}', '');
    expectPunct(';', `after the closing '}' of section ${nameToken.text}`);
    sections.push({ name: nameToken.text, entries, line: nameToken.line });
  }
  return sections;
}

export interface SaslUsers {
  /** user name → password, from the section's user_<name> options. */
  users: Map<string, string>;
  warnings: string[];
}

/**
 * The DIGEST-MD5 users of a section (ZooKeeper's SaslServerCallbackHandler reads the
 * user_* options of every entry of its section). A missing section, a section without a
 * DigestLoginModule or with another login module (Kerberos) is an error.
 */
export function saslUsersOf(sections: readonly JaasSection[], sectionName: string, source: string): SaslUsers {
  const section = sections.find((s) => s.name === sectionName);
  if (section === undefined) {
    const found = sections.length === 0 ? 'it has no sections' : `it has ${sections.map((s) => s.name).join(', ')}`;
    throw new JaasError(source, 1, `no JAAS configuration section named '${sectionName}' (${found})`);
  }
  const users = new Map<string, string>();
  const warnings: string[] = [];
  if (section.entries.length === 0) throw new JaasError(source, section.line, `section ${sectionName} has no login module (expected ${DIGEST_LOGIN_MODULE})`);
  for (const e of section.entries) {
    if (e.module !== DIGEST_LOGIN_MODULE) {
      throw new JaasError(source, e.line, `login module ${e.module} is not supported by zooid: only ${DIGEST_LOGIN_MODULE} (SASL DIGEST-MD5); Kerberos (GSSAPI) is not implemented`);
    }
    for (const [key, value] of e.options) if (key.startsWith('user_') && key.length > 'user_'.length) users.set(key.slice('user_'.length), value);
  }
  if (users.size === 0) warnings.push(`${source}:${section.line}: section ${sectionName} defines no user_<name>="<password>" options: no client can authenticate with SASL`);
  return { users, warnings };
}

/**
 * The DIGEST-MD5 identity a section logs in with (DigestLoginModule's username and
 * password options, as ZooKeeper's learner reads them for the QuorumLearner section).
 */
export function saslCredentialsOf(sections: readonly JaasSection[], sectionName: string, source: string): { username: string; password: string } {
  const section = sections.find((s) => s.name === sectionName);
  if (section === undefined) {
    const found = sections.length === 0 ? 'it has no sections' : `it has ${sections.map((s) => s.name).join(', ')}`;
    throw new JaasError(source, 1, `no JAAS configuration section named '${sectionName}' (${found})`);
  }
  const entry = section.entries.find((e) => e.module === DIGEST_LOGIN_MODULE);
  const other = section.entries.find((e) => e.module !== DIGEST_LOGIN_MODULE);
  if (other !== undefined || entry === undefined) {
    const line = other?.line ?? section.line;
    throw new JaasError(source, line, `section ${sectionName} needs ${DIGEST_LOGIN_MODULE} (SASL DIGEST-MD5)` +
      (other === undefined ? '' : `; ${other.module} (Kerberos, GSSAPI) is not implemented by zooid`));
  }
  const username = entry.options.get('username');
  const password = entry.options.get('password');
  if (username === undefined || password === undefined) {
    throw new JaasError(source, entry.line, `section ${sectionName}: ${DIGEST_LOGIN_MODULE} needs username="…" and password="…" options`);
  }
  return { username, password };
}

// ---------------------------------------------------------------------------------
// DIGEST-MD5 directive lists (RFC 2831 §7.1: #rule lists of name=value, value a token
// or a quoted-string with backslash escapes)

/** Parses `a=b, c="d\"e"`; null when it is not a directive list. Names are lower-cased. */
export function parseDirectives(text: string): Map<string, string[]> | null {
  const out = new Map<string, string[]>();
  let i = 0;
  let count = 0;
  const n = text.length;
  const skipSpace = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\r' || text[i] === '\n')) i++;
  };
  for (;;) {
    skipSpace();
    while (i < n && text[i] === ',') {
      i++;
      skipSpace();
    }
    if (i >= n) return out;
    const nameStart = i;
    while (i < n && /[A-Za-z0-9_\-]/.test(text[i])) i++;
    if (i === nameStart) return null;
    const name = text.slice(nameStart, i).toLowerCase();
    skipSpace();
    if (text[i] !== '=') return null;
    i++;
    skipSpace();
    let value = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= n) return null;
        const c = text[i++];
        if (c === '"') break;
        if (c === '\\') {
          if (i >= n) return null;
          value += text[i++];
        } else {
          value += c;
        }
      }
    } else {
      const start = i;
      while (i < n && text[i] !== ',' && text[i] !== ' ' && text[i] !== '\t' && text[i] !== '"') i++;
      value = text.slice(start, i);
    }
    if (++count > DIRECTIVES_MAX) return null;
    const list = out.get(name);
    if (list === undefined) out.set(name, [value]);
    else list.push(value);
    skipSpace();
    if (i < n && text[i] !== ',') return null;
  }
}

// ---------------------------------------------------------------------------------
// The server's DIGEST-MD5 state machine (one per connection)

export type SaslStep =
  | { kind: 'challenge'; token: Buffer }
  | { kind: 'success'; token: Buffer; authorizationId: string }
  | { kind: 'failure'; reason: string };

const md5 = (...parts: (Buffer | string)[]): Buffer => {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** DigestMD5Base.stringToByte_8859_1 with utf-8 negotiated: ISO 8859-1 when every char fits, else UTF-8 (RFC 2831 §2.1.2.1). */
function credentialBytes(s: string): Buffer {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) return Buffer.from(s, 'utf8');
  return Buffer.from(s, 'latin1');
}

/** RFC 2831 §2.1.2.1 response-value (qop=auth, algorithm md5-sess) for A2 = a2Prefix ":" digest-uri. */
export function digestResponseValue(f: {
  username: string; realm: string; password: string; nonce: string; cnonce: string; nc: string; qop: string;
  digestUri: string; authzid: string | null; a2Prefix: 'AUTHENTICATE' | '';
}): string {
  const userHash = md5(credentialBytes(f.username), ':', credentialBytes(f.realm), ':', credentialBytes(f.password));
  const a1 = f.authzid === null ? md5(userHash, `:${f.nonce}:${f.cnonce}`) : md5(userHash, `:${f.nonce}:${f.cnonce}:`, Buffer.from(f.authzid, 'utf8'));
  const a2 = md5(`${f.a2Prefix}:${f.digestUri}`);
  return md5(`${a1.toString('hex')}:${f.nonce}:${f.nc}:${f.cnonce}:${f.qop}:${a2.toString('hex')}`).toString('hex');
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/**
 * A DIGEST-MD5 token's directives that may appear once (`names`) by name, and all of them; or, when the token
 * is not UTF-8, not a directive list, or repeats one of them, what is wrong with it.
 */
function singleDirectives(token: Buffer, names: readonly string[]): { one: Map<string, string>; all: Map<string, string[]> } | string {
  let text: string;
  try {
    text = utf8Strict.decode(token);
  } catch {
    return 'not UTF-8';
  }
  const parsed = parseDirectives(text);
  if (parsed === null) return 'not a directive list';
  const one = new Map<string, string>();
  for (const name of names) {
    const values = parsed.get(name);
    if (values === undefined) continue;
    if (values.length > 1) return `more than one ${name} directive`;
    one.set(name, values[0]);
  }
  return { one, all: parsed };
}

/** The directives of a digest-response that may appear once (RFC 2831 §2.1.2). */
const SINGLE_DIRECTIVES = ['username', 'realm', 'nonce', 'cnonce', 'nc', 'qop', 'digest-uri', 'response', 'maxbuf', 'charset', 'cipher', 'authzid'];

/**
 * DIGEST-MD5 server (the part of Java's DigestMD5Server ZooKeeper uses): an empty first
 * token gets the challenge, the digest-response gets rspauth and completes. Any other
 * token, or a second exchange, fails with the reason Java's server would give.
 */
export interface DigestMd5ServerOptions extends DigestMd5Service {
  /**
   * The authorization callback: true refuses an authzid other than the user name (as
   * SaslQuorumServerCallbackHandler, authenticationID.equals(authorizationID)); false takes
   * the user name as the id whatever authzid says (as the client port's SaslServerCallbackHandler).
   */
  authzidMustMatch: boolean;
}

export class DigestMd5Server {
  private state: 'initial' | 'challenged' | 'complete' | 'failed' = 'initial';
  private nonce = '';
  private readonly users: ReadonlyMap<string, string>;
  private readonly randomBytes: (count: number) => Buffer;
  private readonly service: DigestMd5ServerOptions;

  constructor(users: ReadonlyMap<string, string>, randomBytes: (count: number) => Buffer,
    service: DigestMd5ServerOptions = { ...CLIENT_SASL_SERVICE, authzidMustMatch: false }) {
    this.users = users;
    this.randomBytes = randomBytes;
    this.service = service;
  }

  get complete(): boolean {
    return this.state === 'complete';
  }

  evaluate(token: Buffer): SaslStep {
    const step = this.step(token);
    if (step.kind === 'failure') this.state = 'failed';
    return step;
  }

  private step(token: Buffer): SaslStep {
    if (this.state === 'initial') {
      if (token.length !== 0) return { kind: 'failure', reason: 'DIGEST-MD5 must not have an initial response' };
      const random = this.randomBytes(NONCE_RANDOM_BYTES);
      if (random.length !== NONCE_RANDOM_BYTES) throw new Error(`nonce source gave ${random.length} bytes, not ${NONCE_RANDOM_BYTES}`);
      this.nonce = random.toString('base64');
      this.state = 'challenged';
      return { kind: 'challenge', token: Buffer.from(`realm="${this.service.realm}",nonce="${this.nonce}",charset=utf-8,algorithm=md5-sess`, 'utf8') };
    }
    if (this.state !== 'challenged') return { kind: 'failure', reason: 'DIGEST-MD5: authentication already completed or failed' };
    return this.verify(token);
  }

  private verify(token: Buffer): SaslStep {
    const fail = (detail: string): SaslStep => ({ kind: 'failure', reason: `DIGEST-MD5: digest response format violation. ${detail}` });
    if (token.length === 0 || token.length >= DIGEST_RESPONSE_BYTES_MAX) {
      return { kind: 'failure', reason: `DIGEST-MD5: invalid digest response length: ${token.length} bytes` };
    }
    const directives = singleDirectives(token, SINGLE_DIRECTIVES);
    if (typeof directives === 'string') return fail(directives);
    const one = directives.one;
    const charset = one.get('charset');
    if (charset !== undefined && charset.toLowerCase() !== 'utf-8') return fail(`charset ${charset} (utf-8 was offered)`);
    const username = one.get('username');
    if (username === undefined) return fail('missing username');
    const realm = one.get('realm') ?? '';
    if (realm !== this.service.realm) return fail(`Nonexistent realm: ${realm}`);
    if (one.get('nonce') !== this.nonce) return fail('Mismatched nonce.');
    const nc = one.get('nc');
    if (nc === undefined || !/^[0-9a-fA-F]{8}$/.test(nc) || parseInt(nc, 16) !== 1) return fail('Nonce count does not match: ' + (nc ?? 'missing'));
    const cnonce = one.get('cnonce');
    if (cnonce === undefined || cnonce === '') return fail('Missing cnonce');
    const qop = one.get('qop') ?? 'auth';
    if (qop !== 'auth') return fail(`Invalid QOP: ${qop}`);
    const maxbuf = one.get('maxbuf');
    if (maxbuf !== undefined && !/^[0-9]{1,10}$/.test(maxbuf)) return fail(`maxbuf ${maxbuf}`);
    const digestUri = one.get('digest-uri');
    if (digestUri === undefined) return fail('Missing digest-uri');
    const expectedUri = this.service.digestUri;
    if (digestUri.toLowerCase() !== expectedUri.toLowerCase()) return fail(`Mismatched URI: ${digestUri}; expecting: ${expectedUri}`);
    const response = one.get('response');
    if (response === undefined || !/^[0-9a-fA-F]{32}$/.test(response)) return fail('Missing or malformed response');
    const password = this.users.get(username);
    if (password === undefined) return { kind: 'failure', reason: `DIGEST-MD5: cannot acquire password for ${username} in realm : ${this.service.realm}` };
    const authzid = one.get('authzid') ?? null;
    const fields = { username, realm, password, nonce: this.nonce, cnonce, nc, qop, digestUri, authzid };
    const expected = Buffer.from(digestResponseValue({ ...fields, a2Prefix: 'AUTHENTICATE' }), 'latin1');
    if (!timingSafeEqual(expected, Buffer.from(response.toLowerCase(), 'latin1'))) return fail('Mismatched response.');
    // DigestMD5Server: without authzid the authorization id is the user name
    if (this.service.authzidMustMatch && authzid !== null && authzid !== username) {
      return { kind: 'failure', reason: `DIGEST-MD5: ${username} is not authorized to act as ${authzid}` };
    }
    this.state = 'complete';
    const rspauth = digestResponseValue({ ...fields, a2Prefix: '' });
    // SaslServerCallbackHandler.handleAuthorizeCallback: the id is the authentication id (user name)
    return { kind: 'success', token: Buffer.from(`rspauth=${rspauth}`, 'latin1'), authorizationId: username };
  }
}

// ---------------------------------------------------------------------------------
// The client's DIGEST-MD5 state machine (what Java's DigestMD5Client does for a quorum
// learner: no initial response, one digest-response, then the server's rspauth checked)

export type SaslClientStep =
  | { kind: 'response'; token: Buffer }
  | { kind: 'complete' }
  | { kind: 'failure'; reason: string };

/** The directives of a challenge that may appear once (RFC 2831 §2.1.1; realm may repeat). */
const CHALLENGE_SINGLE_DIRECTIVES = ['nonce', 'qop', 'stale', 'maxbuf', 'charset', 'algorithm', 'cipher'];

/** RFC 2831 quoted-string: backslash before '"' and '\\'. */
function quoted(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export interface DigestMd5ClientOptions extends DigestMd5Service {
  username: string;
  password: string;
}

/**
 * DIGEST-MD5 client, answering as Java's DigestMD5Client does (charset=utf-8, qop=auth,
 * md5-sess, nc=00000001, authzid = the user name, maxbuf=65536). The first server token
 * is the challenge; the second carries rspauth, which must prove the server knew the password.
 */
export class DigestMd5Client {
  private state: 'initial' | 'responded' | 'complete' | 'failed' = 'initial';
  private readonly opts: DigestMd5ClientOptions;
  private readonly randomBytes: (count: number) => Buffer;
  private expectedRspauth = '';

  constructor(opts: DigestMd5ClientOptions, randomBytes: (count: number) => Buffer) {
    this.opts = opts;
    this.randomBytes = randomBytes;
  }

  get complete(): boolean {
    return this.state === 'complete';
  }

  evaluate(token: Buffer): SaslClientStep {
    const step = this.state === 'initial' ? this.respond(token) : this.state === 'responded' ? this.checkRspauth(token)
      : { kind: 'failure' as const, reason: 'DIGEST-MD5: authentication already completed or failed' };
    if (step.kind === 'failure') this.state = 'failed';
    return step;
  }

  private respond(token: Buffer): SaslClientStep {
    const fail = (detail: string): SaslClientStep => ({ kind: 'failure', reason: `DIGEST-MD5: digest challenge format violation. ${detail}` });
    if (token.length === 0 || token.length >= DIGEST_CHALLENGE_BYTES_MAX) return fail(`challenge length ${token.length} bytes`);
    const directives = singleDirectives(token, CHALLENGE_SINGLE_DIRECTIVES);
    if (typeof directives === 'string') return fail(directives);
    const { one, all: parsed } = directives;
    const nonce = one.get('nonce');
    if (nonce === undefined || nonce === '') return fail('Missing nonce');
    if (one.get('algorithm') !== 'md5-sess') return fail(`algorithm ${one.get('algorithm') ?? 'missing'} (md5-sess is required)`);
    const qops = (one.get('qop') ?? 'auth').split(',').map((q) => q.trim());
    if (!qops.includes('auth')) return fail(`the server offers qop ${qops.join(',')}, not auth`);
    const realms = parsed.get('realm') ?? [];
    if (realms.length > 0 && !realms.includes(this.opts.realm)) return fail(`the server offers realm ${realms.join(',')}, not ${this.opts.realm}`);
    const random = this.randomBytes(NONCE_RANDOM_BYTES);
    if (random.length !== NONCE_RANDOM_BYTES) throw new Error(`cnonce source gave ${random.length} bytes, not ${NONCE_RANDOM_BYTES}`);
    const cnonce = random.toString('base64');
    const { username, password, digestUri } = this.opts;
    const realm = realms.length > 0 ? this.opts.realm : '';
    const fields = { username, realm, password, nonce, cnonce, nc: '00000001', qop: 'auth', digestUri, authzid: username };
    const response = digestResponseValue({ ...fields, a2Prefix: 'AUTHENTICATE' });
    this.expectedRspauth = digestResponseValue({ ...fields, a2Prefix: '' });
    this.state = 'responded';
    const realmDirective = realms.length > 0 ? `realm=${quoted(realm)},` : '';
    return {
      kind: 'response',
      token: Buffer.from(`charset=utf-8,username=${quoted(username)},${realmDirective}nonce=${quoted(nonce)},nc=00000001,cnonce=${quoted(cnonce)},` +
        `digest-uri=${quoted(digestUri)},maxbuf=${CLIENT_MAXBUF_BYTES},response=${response},qop=auth,authzid=${quoted(username)}`, 'utf8'),
    };
  }

  private checkRspauth(token: Buffer): SaslClientStep {
    const parsed = parseDirectives(token.toString('latin1'));
    const rspauth = parsed?.get('rspauth');
    if (rspauth === undefined || rspauth.length !== 1) return { kind: 'failure', reason: 'DIGEST-MD5: the server sent no rspauth' };
    const got = Buffer.from(rspauth[0].toLowerCase(), 'latin1');
    const want = Buffer.from(this.expectedRspauth, 'latin1');
    if (got.length !== want.length || !timingSafeEqual(got, want)) {
      return { kind: 'failure', reason: 'DIGEST-MD5: mismatched rspauth: the server does not know this password' };
    }
    this.state = 'complete';
    return { kind: 'complete' };
  }
}

// ---------------------------------------------------------------------------------
// The sasl ACL scheme (SASLAuthenticationProvider)

/** SASLAuthenticationProvider.isValid: KerberosName syntax — a name with '@' must be primary[/instance]@REALM. */
export function saslIdValid(id: string): boolean {
  if (!id.includes('@')) return true;
  return /^[^/@]*(\/[^/@]*)?@[^/@]*$/.test(id);
}

/** SASLAuthenticationProvider.matches: the same name, or the SASL user "super". */
export function saslIdMatches(authId: string, aclId: string): boolean {
  return authId === 'super' || authId === aclId;
}
