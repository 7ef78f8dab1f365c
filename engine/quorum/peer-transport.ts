// How ensemble servers reach each other on the election and quorum ports: plain TCP, TLS
// (sslQuorum=true), or either on one port (portUnification=true, ZooKeeper's
// UnifiedServerSocket, for a rolling switch of a running ensemble from plain to TLS).
//
// As ZooKeeper's QuorumX509Util: both ends present the server's certificate from
// ssl.quorum.keyStore and check the other's against ssl.quorum.trustStore, and with
// ssl.quorum.hostnameVerification (the default) each end checks that the other's
// certificate names the IP address it talks to (ZKTrustManager; zooid does no reverse DNS).
// A peer that fails any of this is refused with a log line; the others are not affected.
import net from 'node:net';
import tls from 'node:tls';
import type { TlsServerOptions } from '../security/tls.ts';
import { LEARNER_CONNECT_RETRY_MS } from './limits.ts';

/** The quorum TLS settings as loaded by engine/security/tls.ts (plain data: it crosses to the quorum worker). */
export interface PeerTlsOptions {
  tls: TlsServerOptions;
  /** sslQuorum: the connections this server opens are TLS. */
  connectWithTls: boolean;
  /** portUnification: plain peers are accepted too. */
  acceptPlain: boolean;
  hostnameVerification: boolean;
}

export interface PeerLog {
  warn(msg: string, fields?: Record<string, unknown>): void;
}

/** The first byte of a TLS record carrying a handshake (a ClientHello opens every TLS connection). */
const TLS_HANDSHAKE_RECORD = 0x16;
/** A peer that neither sends its first bytes nor finishes the TLS handshake in this time is dropped. */
const PEER_HANDSHAKE_TIMEOUT_MS = 10_000;

/** A connection being opened: `readyEvent` fires on `socket` once bytes may flow (TCP connected, or TLS established and checked). */
export interface PeerConnection {
  socket: net.Socket;
  readyEvent: 'connect' | 'secureConnect';
}

export class PeerTransport {
  private readonly opts: PeerTlsOptions | null;
  private readonly context: tls.SecureContext | null;

  /** null: plain TCP both ways, as ZooKeeper without sslQuorum. */
  constructor(opts: PeerTlsOptions | null) {
    this.opts = opts;
    this.context = opts === null ? null : tls.createSecureContext(opts.tls);
  }

  /**
   * A listening server whose `onSocket` gets connections ready to carry peer bytes: plain
   * ones as they are, TLS ones once the handshake and the peer's certificate check passed.
   */
  createServer(onSocket: (socket: net.Socket) => void, log: PeerLog, what: string): net.Server {
    if (this.opts === null) return net.createServer(onSocket);
    const opts = this.opts;
    const refuse = (socket: net.Socket, remote: string, why: string) => {
      log.warn(`${what} connection refused`, { remote, why });
      socket.destroy();
    };
    // the TLS side: connections are handed to it after their first byte says TLS. It checks
    // the chain itself (rejectUnauthorized off) so that a refused peer gets a log line.
    const secure = tls.createServer({ ...opts.tls, rejectUnauthorized: false, handshakeTimeout: PEER_HANDSHAKE_TIMEOUT_MS });
    secure.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => refuse(socket, remoteOf(socket), `TLS: ${err.message}`));
    secure.on('secureConnection', (socket: tls.TLSSocket) => {
      const remote = remoteOf(socket);
      const cert = socket.getPeerX509Certificate();
      // a certificate shown must verify (as Java's trust manager), and with clientAuth=need one must be shown
      if (!socket.authorized && (cert !== undefined || opts.tls.rejectUnauthorized)) {
        return refuse(socket, remote, `TLS: ${cert === undefined ? 'no certificate' : String(socket.authorizationError)}`);
      }
      const ip = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
      if (opts.hostnameVerification && cert !== undefined && cert.checkIP(ip) === undefined) {
        return refuse(socket, remote, `its certificate (${cert.subject.replace(/\n/g, ', ')}) does not name ${ip}`);
      }
      onSocket(socket);
    });
    return net.createServer((raw) => {
      const remote = remoteOf(raw);
      const silent = () => refuse(raw, remote, 'sent nothing in time');
      raw.setTimeout(PEER_HANDSHAKE_TIMEOUT_MS);
      raw.once('timeout', silent);
      raw.on('error', () => raw.destroy());
      raw.once('data', (first: Buffer) => {
        raw.pause();
        raw.unshift(first);
        raw.setTimeout(0);
        raw.off('timeout', silent);
        if (first[0] === TLS_HANDSHAKE_RECORD) return void secure.emit('connection', raw);
        if (!opts.acceptPlain) return refuse(raw, remote, 'a plain connection, and sslQuorum=true without portUnification takes only TLS');
        onSocket(raw);
        raw.resume();
      });
    });
  }

  /** Opens a connection to a peer's election or quorum port (TLS with sslQuorum). */
  connect(host: string, port: number, timeoutMs?: number): PeerConnection {
    if (this.opts === null || !this.opts.connectWithTls) {
      return { socket: net.connect({ host, port, timeout: timeoutMs, noDelay: true }), readyEvent: 'connect' };
    }
    const verify = this.opts.hostnameVerification;
    const socket = tls.connect({
      host,
      port,
      timeout: timeoutMs,
      secureContext: this.context!,
      rejectUnauthorized: true,
      // IP literals are checked against the certificate's IP addresses, names against its DNS names
      checkServerIdentity: verify ? tls.checkServerIdentity : () => undefined,
    });
    socket.setNoDelay(true);
    return { socket, readyEvent: 'secureConnect' };
  }
}

function remoteOf(socket: net.Socket): string {
  return `${socket.remoteAddress}:${socket.remotePort}`;
}

/** Plain TCP both ways (no sslQuorum, no portUnification). */
export const PLAIN_PEERS = new PeerTransport(null);

/**
 * Learner.connectToLeader: the leader may not listen yet when its followers decide, so a
 * refused connection is tried again every LEARNER_CONNECT_RETRY_MS until the deadline
 * (initLimit ticks). Null when it never connects or the role ended meanwhile.
 */
export async function connectToLeader(transport: PeerTransport, host: string, port: number, deadlineMs: number, gone: () => boolean): Promise<net.Socket | null> {
  for (;;) {
    const socket = await new Promise<net.Socket | null>((resolve) => {
      const { socket: s, readyEvent } = transport.connect(host, port, Math.max(1, deadlineMs - performance.now()));
      const fail = () => {
        s.destroy();
        resolve(null);
      };
      s.once(readyEvent, () => {
        s.off('error', fail);
        s.setTimeout(0);
        resolve(s);
      });
      s.once('error', fail);
      s.once('timeout', fail);
    });
    if (socket !== null || gone() || performance.now() + LEARNER_CONNECT_RETRY_MS >= deadlineMs) return socket;
    await new Promise((resolve) => setTimeout(resolve, LEARNER_CONNECT_RETRY_MS));
    if (gone()) return null;
  }
}
