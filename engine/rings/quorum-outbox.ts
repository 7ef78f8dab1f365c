// The quorum worker's end of quorum/out: records to the pipeline in order, one doorbell per task
// (not per ACK or PROPOSAL), and a bounded backlog while the ring is full (backpressure: the
// backlog goes first when the pipeline drains the ring; past its bound the worker fails loudly).

import { JuteWriter } from '../../native-free-io/jute.ts';
import type { Ring } from '../../native-free-io/ring.ts';
import { encodeFromQuorum, type FromQuorumMessage } from './quorum-ring.ts';

/** How long a wait for ring space lasts before the backlog is tried again. */
const SPACE_WAIT_MS = 10;

export class QuorumOutbox {
  private readonly ring: Ring;
  private readonly backlogBytesMax: number;
  private readonly writer = new JuteWriter(64 * 1024);
  /** Records the ring had no room for, in order. */
  private readonly backlog: { kind: number; payload: Buffer }[] = [];
  private backlogBytes = 0;
  private waitingForSpace = false;
  /** Records are on the ring the pipeline's bell has not been rung for (rung once, when the task ends). */
  private bellQueued = false;

  constructor(ring: Ring, backlogBytesMax: number) {
    this.ring = ring;
    this.backlogBytesMax = backlogBytesMax;
  }

  send(m: FromQuorumMessage): void {
    const payload = encodeFromQuorum(this.writer, m);
    if (this.backlog.length === 0 && this.pushQuiet(m.kind, payload)) return;
    this.backlog.push({ kind: m.kind, payload: Buffer.from(payload) });
    this.backlogBytes += payload.length;
    if (this.backlogBytes > this.backlogBytesMax) throw new Error(`the pipeline has not taken ${this.backlogBytes} bytes of quorum messages`);
    this.waitForSpace();
  }

  private readonly ringBell = (): void => {
    this.bellQueued = false;
    this.ring.flushDataBell();
  };

  private pushQuiet(kind: number, payload: Buffer): boolean {
    const at = this.ring.reserve(payload.length);
    if (at < 0) return false;
    this.ring.data.set(payload, at);
    this.ring.commitQuiet(kind, payload.length);
    if (!this.bellQueued) {
      this.bellQueued = true;
      queueMicrotask(this.ringBell);
    }
    return true;
  }

  private waitForSpace(): void {
    if (this.waitingForSpace) return;
    this.waitingForSpace = true;
    void this.ring.spaceBell.waitAsync(this.ring.spaceBell.sequence(), SPACE_WAIT_MS).then(this.flushBacklog);
  }

  private readonly flushBacklog = (): void => {
    this.waitingForSpace = false;
    while (this.backlog.length > 0 && this.pushQuiet(this.backlog[0].kind, this.backlog[0].payload)) this.backlogBytes -= this.backlog.shift()!.payload.length;
    if (this.backlog.length > 0) this.waitForSpace();
  };
}
