// QuorumCnxManager's job over node:net, as a thin shell (STYLE.md §1): it listens on the
// election port, connects to peers, speaks the initiation message, frames messages and hands
// each received message to onMessage. It knows nothing of votes; the bytes are wire.ts's.
//
// ZooKeeper 3.8's rules, kept:
//   - one connection per pair of servers, the one the larger sid opened: a server that
//     connects to a larger sid sends its initiation message and closes; a server accepting a
//     connection from a smaller sid closes it and connects back (so both ends agree);
//   - a connection from an observer without an id (Long.MAX_VALUE) gets a negative sid, which
//     is smaller than ours: it is closed and, having no address, not connected back (as in 3.8);
//   - one message waits per peer (SEND_CAPACITY 1): a newer one replaces it; when a
//     connection opens with nothing waiting, the last message sent goes again (the peer may
//     have lost it with the old connection; a duplicate vote is harmless);
//   - sending to a peer without a connection starts one (connectOne); attempts time out
//     after cnxTimeout; there is no background reconnect loop: the election sends again after
//     each silent interval, and that reconnects.
// Node's event loop replaces ZooKeeper's send/receive threads; a full socket buffer is
// waited out ('drain') while the one-message queue keeps only the newest message.

import * as net from 'node:net';
import type { Logger } from '../logger.ts';
import { PLAIN_PEERS, type PeerTransport } from './peer-transport.ts';
import { authenticatePeer, authenticateToPeer, closeRefused, NO_QUORUM_AUTH, type QuorumAuth } from './quorum-auth-shell.ts';
import {
  CONNECT_TIMEOUT_MS,
  HANDSHAKE_TIMEOUT_MS,
  INITIAL_MESSAGE_BYTES_MAX,
  OUTSIDE_VIEW_CHANNELS_MAX,
  PENDING_HANDSHAKES_MAX,
  SEND_QUEUE_MESSAGES_MAX,
} from './limits.ts';
import {
  OBSERVER_SID,
  WireError,
  encodeElectionFrame,
  encodeInitialMessage,
  formatAddress,
  takeElectionFrame,
  takeInitialMessage,
  type PeerAddress,
} from './wire.ts';

export interface CnxManagerOptions {
  mySid: bigint;
  /** This server's election address: announced to peers, and listened on unless bindHost says otherwise. */
  listenAddress: PeerAddress;
  /** quorumListenOnAllIPs: listen on this host (0.0.0.0) instead of listenAddress's. */
  bindHost?: string;
  /** The other servers' election addresses. */
  peers: ReadonlyMap<bigint, PeerAddress>;
  /** A message arrived from sid (a copy the callee may keep). */
  onMessage: (from: bigint, message: Buffer) => void;
  log: Logger;
  connectTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  /** Plain TCP, TLS or both (sslQuorum, portUnification); default plain. */
  transport?: PeerTransport;
  /** Quorum SASL after the initiation message (quorum.auth.*); default none. */
  auth?: QuorumAuth;
}

interface Channel {
  sid: bigint;
  socket: net.Socket;
  /** Received bytes not yet a whole frame (at most one frame: takeElectionFrame bounds its length). */
  pending: Buffer;
  /** The socket's buffer is full: wait for 'drain' before writing the queue. */
  blocked: boolean;
}

export class QuorumCnxManager {
  private readonly opts: CnxManagerOptions;
  private readonly log: Logger;
  private readonly server: net.Server;
  private readonly transport: PeerTransport;
  /** Established connections, one per peer. */
  private readonly channels = new Map<bigint, Channel>();
  /** Messages waiting per peer (queueSendMap), at most SEND_QUEUE_MESSAGES_MAX each. */
  private readonly queues = new Map<bigint, Buffer[]>();
  private readonly lastSent = new Map<bigint, Buffer>();
  /** Outgoing connection attempts in progress (inprogressConnections). */
  private readonly connecting = new Map<bigint, net.Socket>();
  /** Accepted sockets still sending their initiation message. */
  private readonly handshaking = new Set<net.Socket>();
  /** Election addresses peers announced in their initiation messages (win over the config). */
  private readonly announced = new Map<bigint, PeerAddress>();
  private observerSid = -1n;
  private closed = false;

  constructor(opts: CnxManagerOptions) {
    if (opts.peers.has(opts.mySid)) throw new Error(`cnxmanager: peers include this server (${opts.mySid})`);
    this.opts = opts;
    this.log = opts.log;
    this.transport = opts.transport ?? PLAIN_PEERS;
    this.server = this.transport.createServer((socket) => this.accept(socket), this.log, 'election');
  }

  /** Listen on the election port; resolves with the bound port. */
  listen(): Promise<number> {
    const port = this.opts.listenAddress.port;
    const host = this.opts.bindHost ?? this.opts.listenAddress.host;
    return new Promise<number>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port, exclusive: true }, () => {
        this.server.off('error', reject);
        this.server.on('error', (e) => this.log.error('election listener failed', { error: e.message }));
        const bound = this.server.address() as net.AddressInfo;
        this.log.info('accepting election connections', { address: formatAddress({ host, port: bound.port }) });
        resolve(bound.port);
      });
    });
  }

  /** Queue a message for sid (replacing one still waiting) and connect if needed. */
  toSend(sid: bigint, message: Buffer): void {
    if (this.closed) return;
    if (sid === this.opts.mySid) throw new Error('cnxmanager: the election loops its own messages back itself');
    let queue = this.queues.get(sid);
    if (queue === undefined) {
      queue = [];
      this.queues.set(sid, queue);
    }
    if (queue.length >= SEND_QUEUE_MESSAGES_MAX) queue.shift();
    queue.push(message);
    if (this.channels.has(sid)) this.flush(this.channels.get(sid)!);
    else this.connectOne(sid);
  }

  isConnected(sid: bigint): boolean {
    return this.channels.has(sid);
  }

  /** Start a connection to sid unless one exists or is being made. */
  connectOne(sid: bigint): void {
    if (this.closed || this.channels.has(sid) || this.connecting.has(sid)) return;
    const address = this.announced.get(sid) ?? this.opts.peers.get(sid);
    if (address === undefined) {
      this.log.debug('no election address for server', { sid: String(sid) });
      return;
    }
    const { socket, readyEvent } = this.transport.connect(address.host, address.port);
    this.connecting.set(sid, socket);
    const timer = setTimeout(() => socket.destroy(new Error(`no connection within ${this.connectTimeout()} ms`)), this.connectTimeout());
    const giveUp = (e: Error) => this.log.debug('cannot open channel to server', { sid: String(sid), address: formatAddress(address), error: e.message });
    socket.once('error', giveUp);
    socket.once('close', () => {
      clearTimeout(timer);
      if (this.connecting.get(sid) === socket) this.connecting.delete(sid);
    });
    socket.once(readyEvent, () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      socket.write(encodeInitialMessage(this.opts.mySid, [this.opts.listenAddress]));
      this.authenticateOut(sid, socket, () => this.connected(sid, socket, giveUp));
    });
  }

  /** startConnection after the initiation message and SASL: keep the connection if our sid is larger. */
  private connected(sid: bigint, socket: net.Socket, giveUp: (e: Error) => void): void {
    if (this.connecting.get(sid) === socket) this.connecting.delete(sid);
    socket.off('error', giveUp);
    if (this.closed || socket.destroyed) return void socket.destroy();
    if (sid > this.opts.mySid) {
      // we lost the challenge: the larger sid connects back
      this.log.debug('have a smaller server id, dropping the connection', { sid: String(sid) });
      socket.end();
      socket.on('error', () => socket.destroy());
      return;
    }
    this.establish(sid, socket, Buffer.alloc(0));
  }

  /** SaslQuorumAuthLearner on an election connection we opened (learnerRequireSasl); `then` at once without it. */
  private authenticateOut(sid: bigint, socket: net.Socket, then: () => void): void {
    const learner = (this.opts.auth ?? NO_QUORUM_AUTH).learner;
    if (learner === null) return then();
    void authenticateToPeer(socket, learner, this.handshakeTimeout()).then((outcome) => {
      if (outcome.kind === 'pass') return then();
      this.log.warn('election connection to server not authenticated: closing it', { sid: String(sid), why: outcome.reason });
      closeRefused(socket);
    });
  }

  /** SaslQuorumAuthServer on an election connection we accepted; `then` gets the bytes that follow. */
  private authenticateIn(socket: net.Socket, remote: string, sid: bigint, rest: Buffer, then: (rest: Buffer) => void): void {
    const server = (this.opts.auth ?? NO_QUORUM_AUTH).server;
    if (server === null) return then(rest);
    void authenticatePeer(socket, server, rest, this.handshakeTimeout()).then((outcome) => {
      if (outcome.kind === 'pass') {
        if (outcome.warning !== null) this.log.warn('election connection let in', { remote, sid: String(sid), why: outcome.warning });
        else if (outcome.authenticatedAs !== null) this.log.info('election connection authenticated', { remote, sid: String(sid), user: outcome.authenticatedAs });
        return then(outcome.rest);
      }
      this.log.warn('election connection refused', { remote, sid: String(sid), why: `quorum SASL: ${outcome.reason}` });
      closeRefused(socket);
    });
  }

  /** Close every connection and stop listening. */
  close(): Promise<void> {
    this.closed = true;
    for (const c of this.channels.values()) c.socket.destroy();
    for (const s of this.connecting.values()) s.destroy();
    for (const s of this.handshaking) s.destroy();
    this.channels.clear();
    this.connecting.clear();
    this.handshaking.clear();
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // -------------------------------------------------------------------------------

  private connectTimeout(): number {
    return this.opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  }

  private handshakeTimeout(): number {
    return this.opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  }

  private accept(socket: net.Socket): void {
    if (this.closed || this.handshaking.size >= PENDING_HANDSHAKES_MAX) {
      socket.destroy();
      return;
    }
    this.handshaking.add(socket);
    socket.setNoDelay(true);
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    let received = Buffer.alloc(0);
    const fail = (why: string) => {
      this.log.warn('election connection refused', { remote, why });
      socket.destroy();
    };
    socket.setTimeout(this.opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS, () => fail('no initiation message in time'));
    socket.on('error', () => socket.destroy());
    socket.once('close', () => this.handshaking.delete(socket));
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      let taken: ReturnType<typeof takeInitialMessage>;
      try {
        taken = takeInitialMessage(received);
      } catch (e) {
        fail((e as Error).message);
        return;
      }
      if (taken === null) {
        if (received.length >= INITIAL_MESSAGE_BYTES_MAX) fail('initiation message too long');
        return;
      }
      socket.off('data', onData);
      socket.setTimeout(0);
      const { sid, addresses } = taken.message;
      this.authenticateIn(socket, remote, sid, received.subarray(taken.byteCount), (rest) => {
        this.handshaking.delete(socket);
        if (!this.closed) this.admit(socket, sid, addresses, rest);
      });
    };
    socket.on('data', onData);
  }

  /** handleConnection: keep a connection from a larger sid, turn one from a smaller sid around. */
  private admit(socket: net.Socket, announcedSid: bigint, addresses: PeerAddress[], rest: Buffer): void {
    let sid = announcedSid;
    if (sid === OBSERVER_SID) sid = this.observerSid--;
    // only configured peers: the map stays bounded by the view
    if (addresses.length > 0 && this.opts.peers.has(sid)) this.announced.set(sid, addresses[0]);
    if (sid < this.opts.mySid) {
      this.log.debug('connection from a smaller server id: connecting back', { sid: String(sid) });
      this.channels.get(sid)?.socket.destroy();
      this.channels.delete(sid);
      socket.destroy();
      this.connectOne(sid);
    } else if (sid === this.opts.mySid) {
      this.log.warn('connection request from a server with our own id: a configuration error', { remote: socket.remoteAddress });
      socket.destroy();
    } else if (!this.opts.peers.has(sid) && !this.channels.has(sid) && this.outsideViewChannels() >= OUTSIDE_VIEW_CHANNELS_MAX) {
      this.log.warn('too many election connections from servers outside the view', { sid: String(sid), remote: socket.remoteAddress });
      socket.destroy();
    } else if (!socket.destroyed) {
      this.establish(sid, socket, rest);
    }
  }

  private outsideViewChannels(): number {
    let count = 0;
    for (const sid of this.channels.keys()) if (!this.opts.peers.has(sid)) count++;
    return count;
  }

  private establish(sid: bigint, socket: net.Socket, rest: Buffer): void {
    const old = this.channels.get(sid);
    if (old !== undefined) old.socket.destroy();
    const channel: Channel = { sid, socket, pending: Buffer.alloc(0), blocked: false };
    this.channels.set(sid, channel);
    this.log.debug('election channel open', { sid: String(sid) });
    socket.on('data', (chunk: Buffer) => this.receive(channel, chunk));
    socket.on('drain', () => {
      channel.blocked = false;
      this.flush(channel);
    });
    socket.on('error', (e) => this.log.debug('election channel broken', { sid: String(sid), error: e.message }));
    socket.once('close', () => {
      if (this.channels.get(sid) !== channel) return;
      this.channels.delete(sid);
      if (!this.opts.peers.has(sid)) {
        // an observer or a server outside the view: nothing to resend once it is gone
        this.queues.delete(sid);
        this.lastSent.delete(sid);
      }
    });
    const queue = this.queues.get(sid);
    const last = this.lastSent.get(sid);
    if ((queue === undefined || queue.length === 0) && last !== undefined) this.write(channel, last);
    this.flush(channel);
    if (rest.length > 0) this.receive(channel, rest);
    socket.resume(); // paused by quorum SASL, if it ran
  }

  private receive(channel: Channel, chunk: Buffer): void {
    let buf = channel.pending.length === 0 ? chunk : Buffer.concat([channel.pending, chunk]);
    let offset = 0;
    try {
      for (;;) {
        const frame = takeElectionFrame(buf, offset);
        if (frame === null) break;
        offset += frame.byteCount;
        this.opts.onMessage(channel.sid, Buffer.from(frame.message));
        if (channel.socket.destroyed) return;
      }
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.log.warn('election channel broken', { sid: String(channel.sid), error: e.message });
      channel.socket.destroy();
      return;
    }
    buf = buf.subarray(offset);
    channel.pending = buf.length === 0 ? Buffer.alloc(0) : Buffer.from(buf);
  }

  private flush(channel: Channel): void {
    const queue = this.queues.get(channel.sid);
    while (queue !== undefined && queue.length > 0 && !channel.blocked && !channel.socket.destroyed) {
      this.write(channel, queue.shift()!);
    }
  }

  private write(channel: Channel, message: Buffer): void {
    this.lastSent.set(channel.sid, message);
    if (!channel.socket.write(encodeElectionFrame(message))) channel.blocked = true;
  }
}
