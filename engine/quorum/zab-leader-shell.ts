// The thin shell around ZabLeader (zab-leader.ts): it listens on the quorum port, frames
// learners' QuorumPackets, feeds them and time to the state machine, and carries out its
// effects in order — packets written, snapshots streamed, epochs persisted and pipeline
// calls made through hooks. Today it runs on the thread of whoever owns it (tests); the
// quorum worker will own it and turn the hooks into ring records (docs/ensemble.md).
//
// Effects run from one FIFO: an effect whose hook calls back into the leader (a REQUEST
// the pipeline proposes at once) appends the new effects behind the ones already due, so
// packets to a learner leave in the order the state machine made them. They are encoded
// into one buffer per learner and leave in one socket write when the current task ends
// (a microtask): a burst of PROPOSALs and COMMITs costs one syscall, not one per packet.

import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../logger.ts';
import { PLAIN_PEERS, type PeerTransport } from './peer-transport.ts';
import { authenticatePeer, closeRefused } from './quorum-auth-shell.ts';
import type { QuorumAuthServerOptions } from './quorum-auth.ts';
import { JuteWriter } from '../../native-free-io/jute.ts';
import { SNAP_HEADER_BYTES, SnapshotSerializer } from '../persistence/snapshot.ts';
import type { DataTree } from '../core/tree.ts';
import { LEARNER_SEND_BYTES_MAX } from './zab-leader-limits.ts';
import type { ZabEffect, ZabLeader } from './zab-leader.ts';
import type { SyncKind } from './zab-learner-handler.ts';
import { PacketType, WireError, appendQuorumPacket, packetTypeName, takeQuorumPacket, type AuthId, type QuorumPacket } from './wire.ts';

/** What the shell asks of its owner (pipeline calls, files). Each runs synchronously, in effect order. */
export interface ZabLeaderHooks {
  /** The committed state at exactly zxid as ZKDatabase.serializeSnapshot writes it (sessions, ACL cache, nodes, "/"), in chunks. */
  snapshot(zxid: number): Iterable<Buffer>;
  acceptedEpoch(epoch: number): void;
  currentEpoch(epoch: number): void;
  established(zxid: number): void;
  stepDown(reason: string): void;
  ack(sid: number, zxid: number): void;
  request(sid: number, sessionId: bigint, cxid: number, type: number, record: Buffer, authIds: AuthId[]): void;
  touch(sid: number, touches: Map<bigint, number>): void;
  revalidate(sid: number, sessionId: bigint, timeoutMs: number): void;
  /** A learner's sync began (ended: false) or ended: its kind, and the syncs of that class in progress (metrics). */
  syncProgress?(sid: number, kind: SyncKind, inflight: number, ended: boolean): void;
  /** Every packet in and out (tests record them). */
  trace?(direction: 'in' | 'out', conn: number, packet: QuorumPacket): void;
}

export interface ZabLeaderShellOptions {
  host: string;
  port: number;
  hooks: ZabLeaderHooks;
  log: Logger;
  /** jute.maxbuffer plus its extra: the largest packet a learner may send. */
  packetBytesMax: number;
  /** Plain TCP, TLS or both (sslQuorum, portUnification); default plain. */
  transport?: PeerTransport;
  /** Quorum SASL before FOLLOWERINFO (LearnerHandler's authServer); null or absent: none. */
  auth?: QuorumAuthServerOptions | null;
  /** How long a learner may take to authenticate (the quorum socket timeout). */
  authTimeoutMs?: number;
}

/** Learners still authenticating: a learner has one at a time, so this bounds what strangers on the quorum port hold open. */
const AUTHENTICATING_MAX = 64;
/** Without authTimeoutMs: ZooKeeper's quorum socket timeout with the common tickTime 2000 × initLimit 10. */
const AUTH_TIMEOUT_MS_DEFAULT = 20_000;

interface Learner {
  socket: net.Socket;
  pending: Buffer;
  /** Packets encoded and not yet written (flushed at the end of the task, or once this is large). */
  unsent: JuteWriter;
  /** LearnerHandler's counters (the AdminServer's observers command). */
  establishedMs: number;
  packetsReceived: number;
  packetsSent: number;
  requests: number;
  /** The zxid of the last packet sent that had one (> 0); -1 before. */
  lastZxid: number;
}

/** LearnerHandler.getLearnerHandlerInfo's keys, for one connection. */
export interface LearnerConnectionInfo {
  remote_socket_address: string;
  sid: number;
  established: number;
  queued_packets: number;
  queued_packets_size: number;
  packets_received: number;
  packets_sent: number;
  requests: number;
  last_zxid: number;
}

/** A learner's batch is written at once past this size, not at the end of the task. */
const BATCH_BYTES_MAX = 256 * 1024;
/** A batch buffer that grew past this is replaced by a small one after its write. */
const BATCH_BUFFER_BYTES_KEEP = 1024 * 1024;

/** The signature LearnerHandler writes after the snapshot, as a jute string. */
const SNAPSHOT_SIGNATURE = 'BenWasHere';

export class ZabLeaderShell {
  private readonly leader: ZabLeader;
  private readonly opts: ZabLeaderShellOptions;
  private readonly server: net.Server;
  private readonly learners = new Map<number, Learner>();
  private readonly queue: ZabEffect[] = [];
  private running = false;
  private nextConn = 1;
  private timer: NodeJS.Timeout | null = null;
  /** When the armed timer fires (it may fire before the machine's deadline: tick then does nothing and re-arms). */
  private timerAtMs = Infinity;
  private closed = false;
  /** Learners with packets in their batch, and whether the flush microtask is queued. */
  private readonly batched = new Set<Learner>();
  private flushQueued = false;
  private readonly flushBatches = () => this.flush();
  private readonly w = new JuteWriter(1 << 16);
  private readonly authenticating = new Set<net.Socket>();

  constructor(leader: ZabLeader, opts: ZabLeaderShellOptions) {
    this.leader = leader;
    this.opts = opts;
    this.server = (opts.transport ?? PLAIN_PEERS).createServer((socket) => this.authenticate(socket), opts.log, 'quorum');
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => resolve());
    });
  }

  start(): void {
    this.apply(this.leader.start(performance.now()));
  }

  // pipeline outputs
  proposed(zxid: number, txn: Buffer): void {
    this.apply(this.leader.proposed(zxid, txn, performance.now()));
  }

  committed(zxid: number): void {
    this.apply(this.leader.committed(zxid, performance.now()));
  }

  synced(sid: number): void {
    this.apply(this.leader.synced(sid, performance.now()));
  }

  revalidated(sid: number, sessionId: bigint, valid: boolean): void {
    this.apply(this.leader.revalidated(sid, sessionId, valid, performance.now()));
  }

  /**
   * LearnerHandler.getLearnerHandlerInfo for connection conn as sid (null: not connected).
   * queued_packets and its size are 0: packets go to the socket as they are made, nothing queues.
   */
  connectionInfo(conn: number, sid: number): LearnerConnectionInfo | null {
    const l = this.learners.get(conn);
    if (l === undefined) return null;
    const addr = (l.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    return {
      remote_socket_address: `/${addr}:${l.socket.remotePort ?? 0}`, sid, established: l.establishedMs, queued_packets: 0, queued_packets_size: 0,
      packets_received: l.packetsReceived, packets_sent: l.packetsSent, requests: l.requests, last_zxid: l.lastZxid,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    for (const l of this.learners.values()) l.socket.destroy();
    this.learners.clear();
    for (const s of this.authenticating) s.destroy();
    this.authenticating.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** LearnerHandler's authServer.authenticate, before FOLLOWERINFO; without quorum SASL, accepted at once. */
  private authenticate(socket: net.Socket): void {
    const auth = this.opts.auth ?? null;
    if (auth === null) return this.accept(socket, Buffer.alloc(0));
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    if (this.closed || this.authenticating.size >= AUTHENTICATING_MAX) return void socket.destroy();
    this.authenticating.add(socket);
    socket.on('error', () => socket.destroy());
    void authenticatePeer(socket, auth, Buffer.alloc(0), this.opts.authTimeoutMs ?? AUTH_TIMEOUT_MS_DEFAULT).then((outcome) => {
      this.authenticating.delete(socket);
      if (outcome.kind === 'refuse') {
        this.opts.log.warn('learner connection refused', { remote, why: `quorum SASL: ${outcome.reason}` });
        return closeRefused(socket);
      }
      if (outcome.warning !== null) this.opts.log.warn('learner connection let in', { remote, why: outcome.warning });
      else if (outcome.authenticatedAs !== null) this.opts.log.info('learner authenticated', { remote, user: outcome.authenticatedAs });
      if (socket.destroyed) return;
      this.accept(socket, outcome.rest);
      socket.resume();
    });
  }

  private accept(socket: net.Socket, rest: Buffer): void {
    if (this.closed) return void socket.destroy();
    const conn = this.nextConn++;
    socket.setNoDelay(true);
    this.learners.set(conn, { socket, pending: Buffer.alloc(0), unsent: new JuteWriter(16 * 1024), establishedMs: Date.now(), packetsReceived: 0, packetsSent: 0, requests: 0, lastZxid: -1 });
    socket.on('data', (chunk) => this.onData(conn, chunk));
    socket.on('error', (e) => this.opts.log.info('learner connection error', { conn, error: e.message }));
    socket.on('close', () => {
      if (!this.learners.delete(conn)) return;
      this.apply(this.leader.disconnected(conn, performance.now()));
    });
    this.apply(this.leader.connected(conn, performance.now()));
    if (rest.length > 0) this.onData(conn, rest);
  }

  private onData(conn: number, chunk: Buffer): void {
    const l = this.learners.get(conn);
    if (l === undefined) return;
    let buf = l.pending.length === 0 ? chunk : Buffer.concat([l.pending, chunk]);
    let at = 0;
    try {
      for (;;) {
        const taken = takeQuorumPacket(buf, at, this.opts.packetBytesMax);
        if (taken === null) break;
        at += taken.byteCount;
        l.packetsReceived++;
        if (taken.packet.type === PacketType.REQUEST) l.requests++;
        this.opts.hooks.trace?.('in', conn, taken.packet);
        this.apply(this.leader.packet(conn, taken.packet, performance.now()));
        if (!this.learners.has(conn)) return;
      }
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.drop(conn, `bad packet: ${e.message}`);
      return;
    }
    buf = buf.subarray(at);
    l.pending = buf.length === 0 ? Buffer.alloc(0) : Buffer.from(buf);
  }

  /** Closes a connection the state machine still holds, and tells it. */
  private drop(conn: number, reason: string): void {
    const l = this.learners.get(conn);
    if (l === undefined) return;
    this.learners.delete(conn);
    l.socket.destroy();
    this.opts.log.warn('closing learner connection', { conn, reason });
    this.apply(this.leader.disconnected(conn, performance.now()));
  }

  private apply(effects: ZabEffect[]): void {
    for (const e of effects) this.queue.push(e);
    if (this.running) return;
    this.running = true;
    try {
      for (let e = this.queue.shift(); e !== undefined; e = this.queue.shift()) this.run(e);
    } finally {
      this.running = false;
    }
    this.arm();
  }

  private run(e: ZabEffect): void {
    const h = this.opts.hooks;
    switch (e.kind) {
      case 'send': return this.write(e.conn, e.packet);
      case 'snapshot': return this.streamSnapshot(e.conn, e.zxid);
      case 'close': {
        const l = this.learners.get(e.conn);
        this.learners.delete(e.conn);
        if (l !== undefined) {
          this.opts.log.info('closing learner connection', { conn: e.conn, reason: e.reason });
          this.writeBatch(l);
          l.socket.end();
          l.socket.destroySoon();
        }
        return;
      }
      case 'acceptedEpoch': return h.acceptedEpoch(e.epoch);
      case 'currentEpoch': return h.currentEpoch(e.epoch);
      case 'established': return h.established(e.zxid);
      case 'stepDown': return h.stepDown(e.reason);
      case 'ack': return h.ack(e.sid, e.zxid);
      case 'request': return h.request(e.sid, e.sessionId, e.cxid, e.type, e.record, e.authIds);
      case 'touch': return h.touch(e.sid, e.touches);
      case 'revalidate': return h.revalidate(e.sid, e.sessionId, e.timeoutMs);
      case 'syncStarted': return h.syncProgress?.(e.sid, e.syncKind, e.inflight, false);
      case 'syncEnded': return h.syncProgress?.(e.sid, e.syncKind, e.inflight, true);
    }
  }

  private write(conn: number, packet: QuorumPacket): void {
    const l = this.learners.get(conn);
    if (l === undefined) return;
    this.opts.hooks.trace?.('out', conn, packet);
    l.packetsSent++;
    if (packet.zxid > 0n) l.lastZxid = Number(packet.zxid);
    appendQuorumPacket(packet, l.unsent);
    if (l.unsent.offset >= BATCH_BYTES_MAX) {
      this.writeBatch(l);
      if (l.socket.writableLength > LEARNER_SEND_BYTES_MAX) {
        this.drop(conn, `${l.socket.writableLength} bytes unsent (over ${LEARNER_SEND_BYTES_MAX}): ${packetTypeName(packet.type)} backlog`);
      }
      return;
    }
    this.batched.add(l);
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flushBatches);
    }
  }

  /** The end of the task: every learner's batch in one write each. */
  private flush(): void {
    this.flushQueued = false;
    for (const l of this.batched) {
      this.writeBatch(l);
      if (l.socket.writableLength > LEARNER_SEND_BYTES_MAX) {
        for (const [conn, other] of this.learners) if (other === l) this.drop(conn, `${l.socket.writableLength} bytes unsent (over ${LEARNER_SEND_BYTES_MAX})`);
      }
    }
    this.batched.clear();
  }

  /** Writes what l has batched (before anything written to its socket directly: a snapshot, the end). */
  private writeBatch(l: Learner): void {
    this.batched.delete(l);
    if (l.unsent.offset === 0 || l.socket.destroyed) return void l.unsent.reset();
    l.socket.write(l.unsent.copy());
    if (l.unsent.buf.length > BATCH_BUFFER_BYTES_KEEP) l.unsent = new JuteWriter(16 * 1024);
    else l.unsent.reset();
  }

  /** LearnerHandler: SNAP(zxid), ZKDatabase.serializeSnapshot, the "BenWasHere" signature. */
  private streamSnapshot(conn: number, zxid: number): void {
    const l = this.learners.get(conn);
    if (l === undefined) return;
    this.write(conn, { type: PacketType.SNAP, zxid: BigInt(zxid), data: null, authinfo: null });
    this.writeBatch(l);
    let bytes = 0;
    for (const chunk of this.opts.hooks.snapshot(zxid)) {
      bytes += chunk.length;
      l.socket.write(Buffer.from(chunk));
    }
    l.socket.write(this.w.reset().string(SNAPSHOT_SIGNATURE).copy());
    this.opts.log.info('streamed a snapshot', { conn, zxid: `0x${zxid.toString(16)}`, bytes });
  }

  /** One timer, at the state machine's next deadline. */
  private arm(): void {
    const at = this.leader.nextDeadlineMs();
    if (at !== null && !this.closed && this.timer !== null && this.timerAtMs <= at) return; // fires in time (not re-made per packet)
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAtMs = Infinity;
    if (at === null || this.closed) return;
    this.timerAtMs = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAtMs = Infinity;
      this.apply(this.leader.tick(performance.now()));
    }, Math.max(0, Math.ceil(at - performance.now())));
  }
}

const SNAPSHOT_CHUNK_BYTES = 1 << 20;

/**
 * ZKDatabase.serializeSnapshot over a tree at rest (the committed state): the snapshot
 * file's body — sessions, ACL cache, nodes, "/" — without the file header, seal or digest.
 * The tree must not change while the chunks are taken.
 */
export function* serializeForLearner(tree: DataTree, sessions: Iterable<[bigint, number]>): Generator<Buffer> {
  const serializer = new SnapshotSerializer(tree, sessions, tree.lastZxid);
  const buf = Buffer.allocUnsafe(SNAPSHOT_CHUNK_BYTES);
  let skip = SNAP_HEADER_BYTES;
  while (!serializer.done) {
    const end = serializer.fill(buf, 0, buf.length, Number.MAX_SAFE_INTEGER);
    if (end === 0) throw new Error('snapshot record larger than the chunk buffer');
    const from = Math.min(skip, end);
    skip -= from;
    if (end > from) yield Buffer.from(buf.subarray(from, end));
  }
}
