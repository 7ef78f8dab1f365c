// Authentication: the ids a connection holds (ip from its address, x509 from its client
// certificate, digest and super from addauth, sasl and super from a DIGEST-MD5 exchange),
// bounded per connection (engine/limits.ts). ZooKeeper's AuthenticationProvider
// .handleAuthentication and ZooKeeperServer.processSasl, as a pure class: it decides and
// records ids; the session handlers (engine/core/handlers/session.ts) write the replies.
import { hex64 } from '../ops/java.ts';
import type { Id } from '../protocol.ts';
import { generateDigest } from './acl.ts';
import { authInfoOrder } from './javaorder.ts';
import { DigestMd5Server } from '../security/sasl.ts';
import { AUTH_IDS_PER_CONN_MAX, AUTH_ID_BYTES_PER_CONN_MAX } from '../limits.ts';

export interface SaslOptions {
  /** DIGEST-MD5 users (JAAS Server section); null without a JAAS file: sasl requests get an empty answer. */
  users: ReadonlyMap<string, string> | null;
  /** authProvider.N = SASLAuthenticationProvider: sasl ids in ACLs. */
  aclScheme: boolean;
  /** zookeeper.superUser: this SASL user also gets the super id. */
  superUser: string | null;
  /** zookeeper.allowSaslFailedClients: a failed exchange is answered without closing the connection. */
  allowFailedClients: boolean;
  /** zookeeper.sessionRequireClientSASLAuth: other requests before a SASL login close the connection. */
  requireClientAuth: boolean;
  /** Random bytes for DIGEST-MD5 nonces (crypto.randomBytes; seeded in tests). */
  randomBytes: (count: number) => Buffer;
}

export interface AuthOptions {
  /** zookeeper.DigestAuthenticationProvider.superDigest: an addauth digest with this value is also super. */
  superDigest: string | null;
  /** zookeeper.X509AuthenticationProvider.superUser: a client whose x509 id is this is also super. */
  x509SuperUser: string | null;
  /** SASL authentication and the sasl ACL scheme; absent: neither. */
  sasl: SaslOptions | undefined;
}

/** What authentication needs of a connection. */
export interface AuthHolder {
  key: number;
  addr: string;
  port: number;
  /**
   * The ids the connection holds, in the order ZooKeeper's ServerCnxn.getAuthInfo lists them
   * (a set over a ConcurrentHashMap, authInfoOrder): whoAmI shows it, an "auth" ACL expands in
   * it, and a learner forwards it with a write. hold() keeps it so.
   */
  authIds: Id[];
  /** The connection's DIGEST-MD5 exchange, from its first sasl request. */
  saslServer: DigestMd5Server | null;
}

/** One sasl request's outcome: the reply's error code and token, and whether the connection closes. */
export interface SaslAnswer {
  err: 'ok' | 'authFailed' | 'requireSasl';
  token: Buffer | null;
  close: boolean;
  /** An exchange that failed counts in zk_auth_failed_count. */
  failed: boolean;
}

/** Why a warning was logged, for the shell's rate limit: the kind and the connection. */
export type AuthLog = (level: 'info' | 'warn', msg: string, conn: number) => void;

export class Authenticator {
  private readonly opts: AuthOptions;
  private readonly log: AuthLog;
  /** The sasl ACL scheme is known (SASLAuthenticationProvider configured). */
  readonly saslScheme: boolean;
  /** Each connection's ids in the order it gained them, which fixes the order of its authIds. */
  private readonly idsAdded = new WeakMap<AuthHolder, Id[]>();

  constructor(opts: AuthOptions, log: AuthLog) {
    this.opts = opts;
    this.log = log;
    this.saslScheme = opts.sasl?.aclScheme === true;
  }

  /** zookeeper.sessionRequireClientSASLAuth is set. */
  get requireClientSasl(): boolean {
    return this.opts.sasl?.requireClientAuth === true;
  }

  /** X509AuthenticationProvider.handleAuthentication: the superUser's certificate is also super. */
  addX509(conn: AuthHolder, x509Id: string): void {
    if (this.opts.x509SuperUser !== null && x509Id === this.opts.x509SuperUser) this.hold(conn, 'super', x509Id);
    this.hold(conn, 'x509', x509Id);
    this.log('info', `authenticated id '${x509Id}' for scheme 'x509' (${conn.addr}:${conn.port})`, conn.key);
  }

  /**
   * addauth: digest (null auth data fails, as ZooKeeper's provider throws on it) and ip (the
   * connection's own address, which it holds already). false: AUTHFAILED, and the caller
   * closes the connection; so too past the bounds on the ids one connection may hold.
   */
  add(conn: AuthHolder, scheme: string, auth: Buffer | null): boolean {
    if (scheme === 'ip') return this.hold(conn, 'ip', conn.addr);
    if (scheme !== 'digest' || auth === null) return false;
    const digest = generateDigest(auth.toString('utf8'));
    if (this.opts.superDigest !== null && digest === this.opts.superDigest && !this.hold(conn, 'super', '')) return false;
    return this.hold(conn, 'digest', digest);
  }

  /** Adds an id to the connection's (once); false when that would pass AUTH_IDS_PER_CONN_MAX or AUTH_ID_BYTES_PER_CONN_MAX. */
  hold(conn: AuthHolder, scheme: string, id: string): boolean {
    let bytes = 0;
    for (const held of conn.authIds) {
      if (held.scheme === scheme && held.id === id) return true;
      bytes += held.scheme.length + Buffer.byteLength(held.id, 'utf8');
    }
    bytes += scheme.length + Buffer.byteLength(id, 'utf8');
    if (conn.authIds.length >= AUTH_IDS_PER_CONN_MAX || bytes > AUTH_ID_BYTES_PER_CONN_MAX) {
      this.log('warn', `refusing auth id ${scheme} for ${conn.addr}:${conn.port}: a connection holds at most ${AUTH_IDS_PER_CONN_MAX} ids of ${AUTH_ID_BYTES_PER_CONN_MAX} bytes in all`, conn.key);
      return false;
    }
    // the ids the connection was made with (its ip) came before any hold
    const added = this.idsAdded.get(conn) ?? [...conn.authIds];
    added.push({ scheme, id });
    this.idsAdded.set(conn, added);
    const listed = authInfoOrder(added);
    conn.authIds.length = 0;
    for (const x of listed) conn.authIds.push(x);
    return true;
  }

  /** ZooKeeperServer.processSasl: one token of the connection's DIGEST-MD5 exchange. */
  saslStep(conn: AuthHolder, sessionId: bigint, token: Buffer): SaslAnswer {
    const cfg = this.opts.sasl;
    // no JAAS Server section: ZooKeeper has no SaslServer and answers OK with no token
    if (cfg === undefined || cfg.users === null) return { err: 'ok', token: null, close: false, failed: false };
    conn.saslServer ??= new DigestMd5Server(cfg.users, cfg.randomBytes);
    const step = conn.saslServer.evaluate(token);
    let held = true;
    if (step.kind === 'success') {
      this.log('info', `session 0x${hex64(sessionId)}: adding SASL authorization for authorizationID: ${step.authorizationId}`, conn.key);
      held = this.hold(conn, 'sasl', step.authorizationId);
      if (held && cfg.superUser !== null && cfg.superUser === step.authorizationId) held = this.hold(conn, 'super', '');
    }
    if (step.kind !== 'failure' && held) return { err: 'ok', token: step.token, close: false, failed: false };
    if (step.kind === 'failure') this.log('warn', `client ${conn.addr}:${conn.port} failed to SASL authenticate: ${step.reason}`, conn.key);
    if (cfg.allowFailedClients && !cfg.requireClientAuth) return { err: 'ok', token: null, close: false, failed: false };
    return { err: cfg.requireClientAuth ? 'requireSasl' : 'authFailed', token: null, close: true, failed: true };
  }

  /** The user name whoAmI shows for an id (AuthUtil.getUser: "" when no provider knows the scheme). */
  userOf(id: Id): string {
    if (id.scheme === 'digest') return id.id.slice(0, id.id.indexOf(':'));
    if (id.scheme === 'ip' || id.scheme === 'x509' || (id.scheme === 'sasl' && this.saslScheme)) return id.id;
    return '';
  }
}
