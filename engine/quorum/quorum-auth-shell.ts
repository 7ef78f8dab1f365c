// Runs a quorum SASL exchange (quorum-auth.ts) on a peer connection, after TLS and before
// the connection's own protocol: the election's (cnxmanager.ts) and Zab's (the leader's
// accept in zab-leader-shell.ts, the learner's connect in the quorum worker).
//
// The socket is left paused when the exchange passes: the caller puts its own 'data'
// handler on, feeds it `rest` (bytes the peer sent after the exchange) and resumes.

import { randomBytes } from 'node:crypto';
import type * as net from 'node:net';
import type { QuorumSaslConfig } from '../config/security.ts';
import {
  QuorumAuthLearnerExchange, QuorumAuthServerExchange, type AuthProgress,
  type QuorumAuthLearnerOptions, type QuorumAuthServerOptions,
} from './quorum-auth.ts';

/** What one server does on its peer connections (QuorumPeer's authServer and authLearner). */
export interface QuorumAuth {
  /** null: NullQuorumAuthServer (quorum.auth.enableSasl=false), nothing is read. */
  server: QuorumAuthServerOptions | null;
  /** null: the learner does not authenticate (learnerRequireSasl=false, or SASL off). */
  learner: QuorumAuthLearnerOptions | null;
}

export const NO_QUORUM_AUTH: QuorumAuth = { server: null, learner: null };

/** A peer that refused us, or that we refused, gets this long to read the last packet before the socket is destroyed. */
const REFUSED_LINGER_MS = 1_000;

export function quorumAuthOf(cfg: QuorumSaslConfig | null): QuorumAuth {
  if (cfg === null) return NO_QUORUM_AUTH;
  return {
    server: { required: cfg.serverRequired, users: cfg.users, randomBytes },
    learner: cfg.learner === null ? null : { ...cfg.learner, randomBytes },
  };
}

export type AuthOutcome = { kind: 'pass'; rest: Buffer; authenticatedAs: string | null; warning: string | null } | { kind: 'refuse'; reason: string };

/** The accepting side; `prefix` is what the peer sent after its previous message (the election's initiation message). */
export function authenticatePeer(socket: net.Socket, options: QuorumAuthServerOptions, prefix: Buffer, timeoutMs: number): Promise<AuthOutcome> {
  const exchange = new QuorumAuthServerExchange(options);
  return drive(socket, exchange, null, prefix, timeoutMs);
}

/** The connecting side (learnerRequireSasl=true). */
export function authenticateToPeer(socket: net.Socket, options: QuorumAuthLearnerOptions, timeoutMs: number): Promise<AuthOutcome> {
  const exchange = new QuorumAuthLearnerExchange(options);
  return drive(socket, exchange, exchange.start(), Buffer.alloc(0), timeoutMs);
}

/** Ends a refused connection: the ERROR packet already written gets a moment to leave. */
export function closeRefused(socket: net.Socket): void {
  socket.on('error', () => socket.destroy());
  socket.end();
  setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref();
}

interface Exchange {
  receive(chunk: Buffer): AuthProgress;
  end(why: string): AuthProgress;
}

function drive(socket: net.Socket, exchange: Exchange, first: Buffer | null, prefix: Buffer, timeoutMs: number): Promise<AuthOutcome> {
  return new Promise<AuthOutcome>((resolve) => {
    let over = false;
    const timer = setTimeout(() => step(exchange.end(`no answer within ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer) => step(exchange.receive(chunk));
    const onGone = () => step(exchange.end('the connection closed'));
    const onError = () => socket.destroy();
    const step = (p: AuthProgress) => {
      if (over) return;
      for (const b of p.send) if (!socket.destroyed) socket.write(b);
      if (p.outcome === null) return;
      over = true;
      clearTimeout(timer);
      socket.pause();
      socket.off('data', onData);
      socket.off('end', onGone);
      socket.off('close', onGone);
      socket.off('error', onError);
      resolve(p.outcome);
    };
    socket.on('data', onData);
    socket.once('end', onGone);
    socket.once('close', onGone);
    socket.on('error', onError);
    if (first !== null) socket.write(first);
    if (prefix.length > 0) onData(prefix);
    if (!over) socket.resume();
  });
}
