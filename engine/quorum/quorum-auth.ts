// Quorum SASL as ZooKeeper 3.8 does it (QuorumAuth, SaslQuorumAuthServer,
// SaslQuorumAuthLearner): pure state machines fed the bytes a peer sends, returning the
// bytes to answer and, at the end, whether the connection may carry on. No sockets
// (engine/quorum/quorum-auth-shell.ts drives them).
//
// The exchange runs on a connection before its own protocol: on an election connection
// right after the initiation message (QuorumCnxManager.startConnection / handleConnection),
// on a quorum connection before FOLLOWERINFO (Learner.connectToLeader, LearnerHandler).
// The side that connected is the "learner", the side that accepted the "server".
//
// Each message is a jute QuorumAuthPacket {long magic; int status; buffer token}, written
// with no length prefix. With DIGEST-MD5:
//   learner → IN_PROGRESS, empty token (DIGEST-MD5 has no initial response)
//   server  → IN_PROGRESS, the challenge
//   learner → IN_PROGRESS, the digest-response
//   server  → SUCCESS with rspauth, or ERROR with an empty token
// The server peeks at the first 8 bytes: a learner that does not authenticate sends its
// own protocol's bytes, whose first long is never the magic.

import { DigestMd5Client, DigestMd5Server, type DigestMd5Service } from '../security/sasl.ts';

/**
 * QuorumAuth.QUORUM_AUTH_MAGIC_NUMBER, written -0xa0dbcafecafe1234L. ZooKeeper's comment
 * calls it negative, but the hex literal is already a negative long, so the value is
 * 0x5f2435013501edcc: positive. Either way no length-prefixed packet starts with it (its
 * first int would be a 1.6 GB length).
 */
export const QUORUM_AUTH_MAGIC = BigInt.asIntN(64, -0xa0dbcafecafe1234n);

/** QuorumAuth.Status. */
export const QuorumAuthStatus = { IN_PROGRESS: 0, SUCCESS: 1, ERROR: -1 } as const;
export type QuorumAuthStatus = (typeof QuorumAuthStatus)[keyof typeof QuorumAuthStatus];

/** QuorumAuth.QUORUM_SERVER_PROTOCOL_NAME / QUORUM_SERVER_SASL_DIGEST: the quorum's realm and digest-uri. */
export const QUORUM_SASL_SERVICE: DigestMd5Service = { realm: 'zk-quorum-sasl-md5', digestUri: 'zookeeper-quorum/zk-quorum-sasl-md5' };

/** magic, status and the token's length. */
const PACKET_HEADER_BYTES = 8 + 4 + 4;
/** A DIGEST-MD5 token is under 4096 bytes (RFC 2831 §2.1.2); ZooKeeper's GSSAPI tokens are not spoken here. */
export const QUORUM_AUTH_TOKEN_BYTES_MAX = 4096;
/** SaslQuorumAuthServer.MAX_RETRIES: challenges sent before the server gives up. DIGEST-MD5 needs one. */
const SERVER_CHALLENGES_MAX = 5;
/** Packets a learner answers; DIGEST-MD5 needs two (challenge, then SUCCESS). */
const LEARNER_ROUNDS_MAX = 5;

export interface QuorumAuthPacket {
  status: number;
  /** null: jute's null buffer (length -1). */
  token: Buffer | null;
}

export class QuorumAuthWireError extends Error {}

export function encodeQuorumAuthPacket(status: QuorumAuthStatus, token: Buffer | null): Buffer {
  if (token !== null && token.length > QUORUM_AUTH_TOKEN_BYTES_MAX) throw new Error(`quorum auth token of ${token.length} bytes`);
  const out = Buffer.alloc(PACKET_HEADER_BYTES + (token?.length ?? 0));
  out.writeBigInt64BE(QUORUM_AUTH_MAGIC, 0);
  out.writeInt32BE(status, 8);
  out.writeInt32BE(token === null ? -1 : token.length, 12);
  token?.copy(out, PACKET_HEADER_BYTES);
  return out;
}

/** One packet from the front of buf; null when more bytes are needed. Throws QuorumAuthWireError on bytes that are not one. */
export function takeQuorumAuthPacket(buf: Buffer): { packet: QuorumAuthPacket; byteCount: number } | null {
  if (buf.length >= 8 && buf.readBigInt64BE(0) !== QUORUM_AUTH_MAGIC) throw new QuorumAuthWireError('not a quorum auth packet (wrong magic)');
  if (buf.length < PACKET_HEADER_BYTES) return null;
  const status = buf.readInt32BE(8);
  const length = buf.readInt32BE(12);
  if (length < -1 || length > QUORUM_AUTH_TOKEN_BYTES_MAX) throw new QuorumAuthWireError(`quorum auth token length ${length}`);
  const byteCount = PACKET_HEADER_BYTES + Math.max(0, length);
  if (buf.length < byteCount) return null;
  const token = length === -1 ? null : Buffer.from(buf.subarray(PACKET_HEADER_BYTES, byteCount));
  return { packet: { status, token }, byteCount };
}

/** QuorumAuth.nextPacketIsAuth; null until 8 bytes are there. */
export function startsWithAuthPacket(buf: Buffer): boolean | null {
  if (buf.length < 8) return null;
  return buf.readBigInt64BE(0) === QUORUM_AUTH_MAGIC;
}

/**
 * What an exchange says after some bytes: packets to send, and once it is over, `pass`
 * (the connection carries on; `rest` is what the peer sent after the exchange, for the
 * protocol that follows) or `refuse` (close it; `reason` for the log).
 */
export interface AuthProgress {
  send: Buffer[];
  outcome: null
    | { kind: 'pass'; rest: Buffer; authenticatedAs: string | null; warning: string | null }
    | { kind: 'refuse'; reason: string };
}

// ---------------------------------------------------------------------------------
// The accepting side (SaslQuorumAuthServer.authenticate)

export interface QuorumAuthServerOptions {
  /** quorum.auth.serverRequireSasl. */
  required: boolean;
  /** The QuorumServer section's user_<name> options. */
  users: ReadonlyMap<string, string>;
  randomBytes: (count: number) => Buffer;
}

export class QuorumAuthServerExchange {
  private readonly opts: QuorumAuthServerOptions;
  private pending: Buffer = Buffer.alloc(0);
  private sasl: DigestMd5Server | null = null;
  private challenges = 0;
  private over = false;

  constructor(opts: QuorumAuthServerOptions) {
    this.opts = opts;
  }

  /** The bytes the learner sent before the exchange started (after its initiation message). */
  receive(chunk: Buffer): AuthProgress {
    if (this.over) throw new Error('quorum auth: the exchange is over');
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const progress: AuthProgress = { send: [], outcome: null };
    if (this.sasl === null) {
      const isAuth = startsWithAuthPacket(this.pending);
      if (isAuth === null) return progress;
      if (!isAuth) return this.finish(progress, this.opts.required
        ? { kind: 'refuse', reason: 'the peer is not trying to authenticate and quorum.auth.serverRequireSasl=true' }
        : { kind: 'pass', rest: this.pending, authenticatedAs: null, warning: null });
      this.sasl = new DigestMd5Server(this.opts.users, this.opts.randomBytes, { ...QUORUM_SASL_SERVICE, authzidMustMatch: true });
    }
    for (;;) {
      let taken: ReturnType<typeof takeQuorumAuthPacket>;
      try {
        taken = takeQuorumAuthPacket(this.pending);
      } catch (e) {
        if (!(e instanceof QuorumAuthWireError)) throw e;
        // the stream cannot be read past this: refused whatever serverRequireSasl says
        progress.send.push(encodeQuorumAuthPacket(QuorumAuthStatus.ERROR, Buffer.alloc(0)));
        return this.finish(progress, { kind: 'refuse', reason: e.message });
      }
      if (taken === null) return progress;
      this.pending = this.pending.subarray(taken.byteCount);
      const step = this.sasl.evaluate(taken.packet.token ?? Buffer.alloc(0));
      if (step.kind === 'success') {
        progress.send.push(encodeQuorumAuthPacket(QuorumAuthStatus.SUCCESS, step.token));
        return this.finish(progress, { kind: 'pass', rest: this.pending, authenticatedAs: step.authorizationId, warning: null });
      }
      if (step.kind === 'challenge' && ++this.challenges <= SERVER_CHALLENGES_MAX) {
        progress.send.push(encodeQuorumAuthPacket(QuorumAuthStatus.IN_PROGRESS, step.token));
        continue;
      }
      const reason = step.kind === 'failure' ? step.reason : `more than ${SERVER_CHALLENGES_MAX} rounds`;
      progress.send.push(encodeQuorumAuthPacket(QuorumAuthStatus.ERROR, Buffer.alloc(0)));
      return this.finish(progress, this.failed(reason));
    }
  }

  /** The connection closed or went quiet before the exchange was over. */
  end(why: string): AuthProgress {
    if (this.over) throw new Error('quorum auth: the exchange is over');
    // before the first packet, a peer that does not authenticate may just have nothing to say (it lost the challenge)
    const outcome = this.sasl === null && !this.opts.required
      ? { kind: 'pass' as const, rest: this.pending, authenticatedAs: null, warning: null }
      : { kind: 'refuse' as const, reason: `${why} before authenticating` };
    return this.finish({ send: [], outcome }, outcome);
  }

  /** A failed exchange: refused, unless serverRequireSasl=false ("maintaining learner connection despite SASL authentication failure"). */
  private failed(reason: string): NonNullable<AuthProgress['outcome']> {
    if (this.opts.required) return { kind: 'refuse', reason };
    return { kind: 'pass', rest: this.pending, authenticatedAs: null, warning: `SASL authentication failed (${reason}); let in as quorum.auth.serverRequireSasl=false` };
  }

  private finish(progress: AuthProgress, outcome: NonNullable<AuthProgress['outcome']>): AuthProgress {
    this.over = true;
    progress.outcome = outcome;
    return progress;
  }
}

// ---------------------------------------------------------------------------------
// The connecting side (SaslQuorumAuthLearner.authenticate, with learnerRequireSasl=true)

export interface QuorumAuthLearnerOptions {
  username: string;
  password: string;
  randomBytes: (count: number) => Buffer;
}

export class QuorumAuthLearnerExchange {
  private readonly client: DigestMd5Client;
  private pending: Buffer = Buffer.alloc(0);
  private rounds = 0;
  private over = false;

  constructor(opts: QuorumAuthLearnerOptions) {
    this.client = new DigestMd5Client({ ...QUORUM_SASL_SERVICE, username: opts.username, password: opts.password }, opts.randomBytes);
  }

  /** The first packet: DIGEST-MD5 has no initial response, so an empty token. */
  start(): Buffer {
    return encodeQuorumAuthPacket(QuorumAuthStatus.IN_PROGRESS, Buffer.alloc(0));
  }

  receive(chunk: Buffer): AuthProgress {
    if (this.over) throw new Error('quorum auth: the exchange is over');
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const progress: AuthProgress = { send: [], outcome: null };
    for (;;) {
      let taken: ReturnType<typeof takeQuorumAuthPacket>;
      try {
        taken = takeQuorumAuthPacket(this.pending);
      } catch (e) {
        if (!(e instanceof QuorumAuthWireError)) throw e;
        return this.finish(progress, { kind: 'refuse', reason: `the server answered with ${e.message}` });
      }
      if (taken === null) return progress;
      this.pending = this.pending.subarray(taken.byteCount);
      if (++this.rounds > LEARNER_ROUNDS_MAX) return this.finish(progress, { kind: 'refuse', reason: `more than ${LEARNER_ROUNDS_MAX} rounds` });
      const { status, token } = taken.packet;
      if (status === QuorumAuthStatus.ERROR) return this.finish(progress, { kind: 'refuse', reason: 'the server refused our credentials (status ERROR)' });
      if (status !== QuorumAuthStatus.IN_PROGRESS && status !== QuorumAuthStatus.SUCCESS) {
        return this.finish(progress, { kind: 'refuse', reason: `unknown status ${status}` });
      }
      if (token === null) return this.finish(progress, { kind: 'refuse', reason: 'the server\'s token is null' });
      const step = this.client.evaluate(token);
      if (step.kind === 'failure') return this.finish(progress, { kind: 'refuse', reason: step.reason });
      if (status === QuorumAuthStatus.SUCCESS) {
        // SUCCESS carries rspauth, which completes the client; an answer to it is a protocol error
        if (step.kind !== 'complete') return this.finish(progress, { kind: 'refuse', reason: 'protocol error: SUCCESS before the exchange was complete' });
        return this.finish(progress, { kind: 'pass', rest: this.pending, authenticatedAs: null, warning: null });
      }
      if (step.kind !== 'response') return this.finish(progress, { kind: 'refuse', reason: 'the server said IN_PROGRESS after the exchange was complete' });
      progress.send.push(encodeQuorumAuthPacket(QuorumAuthStatus.IN_PROGRESS, step.token));
    }
  }

  end(why: string): AuthProgress {
    if (this.over) throw new Error('quorum auth: the exchange is over');
    return this.finish({ send: [], outcome: null }, { kind: 'refuse', reason: `${why} before authenticating` });
  }

  private finish(progress: AuthProgress, outcome: NonNullable<AuthProgress['outcome']>): AuthProgress {
    this.over = true;
    progress.outcome = outcome;
    return progress;
  }
}
