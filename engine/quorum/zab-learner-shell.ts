// A socket around the learner's Zab state machine (zab-learner.ts): connects to the
// leader's quorum port (or takes a connected socket), feeds it the bytes that arrive and a
// tick every tickMs, writes the packets it sends, and closes the connection when it fails.
// Everything else it does (epoch files, log, tree) goes to the caller's effects; the quorum
// worker carries them over its rings to the pipeline. Packets sent in one task (the ACKs of
// a durable batch, REQUESTs forwarded together) leave in one socket write when it ends.

import * as net from 'node:net';
import type { Logger } from '../logger.ts';
import { ZabLearner, type ZabLearnerConfig, type ZabLearnerOutputs } from './zab-learner.ts';
import { JuteWriter } from '../../native-free-io/jute.ts';
import { appendQuorumPacket, type QuorumPacket } from './wire.ts';

export interface LearnerShellOptions {
  host: string;
  port: number;
  /** A socket already connected to the leader (host and port then only name it in logs). */
  socket?: net.Socket;
  config: ZabLearnerConfig;
  /** Told of every packet sent (send) and of the end (fail) as well as every effect. */
  effects: ZabLearnerOutputs;
  tickMs: number;
  log: Logger;
  /** Sees every chunk read from the leader (tests record the bytes). */
  tap?: (chunk: Buffer) => void;
}

/** The batch is written at once past this size, not at the end of the task. */
const BATCH_BYTES_MAX = 256 * 1024;
/** A batch buffer that grew past this is replaced by a small one after its write. */
const BATCH_BUFFER_BYTES_KEEP = 1024 * 1024;

export class LearnerShell {
  readonly machine: ZabLearner;
  /** Resolves with the reason once the session with the leader is over. */
  readonly ended: Promise<string>;
  private readonly socket: net.Socket;
  /** Packets encoded and not yet written: flushed when the task ends, or once this is large. */
  private unsent = new JuteWriter(64 * 1024);
  private flushQueued = false;
  private readonly flushUnsent = () => this.flush();
  private pending: Buffer = Buffer.alloc(0);
  private timer: NodeJS.Timeout | null = null;
  private endWith: (reason: string) => void = () => {};
  private over = false;

  constructor(opts: LearnerShellOptions) {
    const e = opts.effects;
    const outputs: ZabLearnerOutputs = {
      send: (p) => this.write(p, e),
      writeAcceptedEpoch: (x) => e.writeAcceptedEpoch(x),
      writeCurrentEpoch: (x) => e.writeCurrentEpoch(x),
      truncateLog: (z) => e.truncateLog(z),
      loadSnapshotBegin: (z) => e.loadSnapshotBegin(z),
      loadSnapshotSession: (id, t) => e.loadSnapshotSession(id, t),
      loadSnapshotAcl: (ref, acls) => e.loadSnapshotAcl(ref, acls),
      loadSnapshotNode: (path, node) => e.loadSnapshotNode(path, node),
      loadSnapshotEnd: (z) => e.loadSnapshotEnd(z),
      applyTxn: (z, t) => e.applyTxn(z, t),
      takeSnapshot: (z) => e.takeSnapshot(z),
      logProposal: (z, t) => e.logProposal(z, t),
      commit: (z) => e.commit(z),
      inform: (z, t) => e.inform(z, t),
      leaderConfig: (d) => e.leaderConfig?.(d),
      activate: (z, leader) => e.activate?.(z, leader),
      revalidated: (id, v) => e.revalidated(id, v),
      synced: () => e.synced(),
      startServing: (z) => e.startServing(z),
      warn: (m) => {
        opts.log.warn(m);
        e.warn(m);
      },
      fail: (reason) => {
        e.fail(reason);
        this.end(reason);
      },
    };
    this.machine = new ZabLearner(opts.config, outputs);
    this.ended = new Promise((resolve) => (this.endWith = resolve));
    const started = () => {
      opts.log.info(`connected to the leader at ${opts.host}:${opts.port}`);
      this.timer = setInterval(() => this.machine.tick(), opts.tickMs);
      this.machine.start();
    };
    if (opts.socket !== undefined) {
      this.socket = opts.socket;
      this.socket.setNoDelay(true);
      queueMicrotask(started);
    } else {
      this.socket = net.connect({ host: opts.host, port: opts.port, noDelay: true });
      this.socket.on('connect', started);
    }
    this.socket.on('data', (chunk) => {
      opts.tap?.(chunk);
      this.onData(chunk);
    });
    this.socket.on('error', (err) => this.lost(`socket error: ${err.message}`));
    this.socket.on('close', () => this.lost('the leader closed the connection'));
  }

  /** Ends the session from this side. */
  close(): Promise<string> {
    this.lost('closed by this server');
    return this.ended;
  }

  private onData(chunk: Buffer): void {
    if (this.over) return;
    // what is kept between chunks is at most one unfinished packet or snapshot item
    const bytes = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const used = this.machine.receive(bytes);
    this.pending = used === bytes.length ? Buffer.alloc(0) : Buffer.from(bytes.subarray(used));
  }

  private write(p: QuorumPacket, e: ZabLearnerOutputs): void {
    e.send(p);
    if (this.over) return;
    appendQuorumPacket(p, this.unsent);
    if (this.unsent.offset >= BATCH_BYTES_MAX) this.flush();
    else if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flushUnsent);
    }
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.unsent.offset === 0 || this.over) return void this.unsent.reset();
    this.socket.write(this.unsent.copy());
    if (this.unsent.buf.length > BATCH_BUFFER_BYTES_KEEP) this.unsent = new JuteWriter(64 * 1024);
    else this.unsent.reset();
  }

  /** The socket went away: the machine fails (and so ends this). */
  private lost(reason: string): void {
    if (this.over) return;
    this.machine.connectionLost(reason);
    this.end(reason);
  }

  private end(reason: string): void {
    if (this.over) return;
    this.over = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.socket.destroy();
    this.endWith(reason);
  }
}
