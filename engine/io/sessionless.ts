// zookeeper.nio.sessionlessCnxnTimeout: a connection that has sent neither a ConnectRequest
// nor a four-letter word within the timeout of its accept is closed.
//
// Connections wait in accept order, which is deadline order (one timeout for all), so the
// caller needs one timer, armed for the head. Connections that handshake or close stay in
// the queue until they reach the head (no search on the hot path); the queue holds at most
// the connections accepted in one timeout. Time is a parameter.

/** What the queue reads of a connection. */
export interface SessionlessCandidate {
  acceptedAtMs: number;
  closed: boolean;
  handshaken: boolean;
}

/** Dead entries at the front kept before the array is compacted. */
const HEAD_SLACK_MAX = 1024;

export class SessionlessQueue<C extends SessionlessCandidate> {
  readonly timeoutMs: number;
  private queue: C[] = [];
  private head = 0;

  constructor(timeoutMs: number) {
    if (!(timeoutMs > 0)) throw new RangeError(`sessionless timeout ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }

  /** Entries in the queue, dead ones included. */
  get size(): number {
    return this.queue.length - this.head;
  }

  /** A connection was accepted at conn.acceptedAtMs (not earlier than the last one's). */
  add(conn: C): void {
    const last = this.queue.length > this.head ? this.queue[this.queue.length - 1] : null;
    if (last !== null && conn.acceptedAtMs < last.acceptedAtMs) throw new Error('sessionless queue: accepts out of order');
    this.queue.push(conn);
  }

  /** When the head's timeout runs out (it may have handshaken or closed since), or -1 when empty. */
  nextDueMs(): number {
    return this.head === this.queue.length ? -1 : this.queue[this.head].acceptedAtMs + this.timeoutMs;
  }

  /**
   * Takes the connections still waiting whose timeout ran out by nowMs out of the queue and
   * hands each to `expire`; drops the handshaken and closed ones on the way. Returns how
   * many expired.
   */
  expire(nowMs: number, expire: (conn: C) => void): number {
    const queue = this.queue;
    let expired = 0;
    while (this.head < queue.length) {
      const conn = queue[this.head];
      const waiting = !conn.closed && !conn.handshaken;
      if (waiting && conn.acceptedAtMs + this.timeoutMs > nowMs) break;
      this.head++;
      if (!waiting) continue;
      expired++;
      expire(conn);
    }
    if (this.head > HEAD_SLACK_MAX && this.head * 2 > queue.length) {
      this.queue = queue.slice(this.head);
      this.head = 0;
    } else if (this.head === queue.length) {
      queue.length = 0;
      this.head = 0;
    }
    return expired;
  }
}
