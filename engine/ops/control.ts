// The control path between the main thread and the pipeline worker (DESIGN.md §2: structured
// control messages are msgpackr over rings, never postMessage — the pipeline worker parks
// in Atomics.wait and has no event loop to receive messages on).
//
//   main ──control request ring──► pipeline     REQUEST     [u32 id][msgpackr ControlRequest]
//   main ◄──control reply ring───  pipeline     REPLY_PART  [u32 id][msgpackr bytes, a slice]
//                                               REPLY_END   [u32 id][msgpackr bytes, the last slice]
//
// The request ring's data bell is the pipeline's doorbell, so a request wakes the parked
// pipeline like any io worker's record; the pipeline polls it once per loop turn, after
// the request rings. The reply ring has its own doorbell; the main thread waits on it with
// Atomics.waitAsync only while requests are in flight. Replies larger than a record are
// sent in slices (REPLY_PART … REPLY_END), so a reply's size is bounded by memory, not by
// the ring. The main thread never blocks: a full request ring or too many requests in
// flight fail the request at once (the HTTP endpoints answer 503).
//
// Requests are rare (an operator's curl, a scrape every few seconds); none of this runs
// per client request.
import { Packr } from 'msgpackr';
import { Ring } from '../../native-free-io/ring.ts';
import type { ServerStatsSnapshot } from './fourlw.ts';
import type { HostFacts } from './probes.ts';

export const ControlKind = { REQUEST: 1, REPLY_PART: 2, REPLY_END: 3 } as const;

export { CONTROL_RING_BYTES } from '../records.ts';
/** Requests in flight at once, over all HTTP clients; more are refused (503), never queued without bound. */
export const CONTROL_IN_FLIGHT_MAX = 64;
/** A request the pipeline has not answered by then fails (it is busy or stuck; the HTTP client gets 503). */
export const CONTROL_TIMEOUT_MS = 10_000;
/** Control records the pipeline handles per loop turn, so a burst of scrapes cannot starve clients. */
export const CONTROL_RECORDS_PER_TURN = 4;

/** What the main thread asks the pipeline. One op today: the state for admin commands and metrics. */
export interface StatsRequest {
  op: 'stats';
  /** Directory sizes and file descriptors, measured by the asking thread (engine/ops/probes.ts), never by the pipeline. */
  host: HostFacts;
  /** Build the per-connection, per-session, ephemeral and watch lists (cons, dump, wchc…); metrics do not need them. */
  lists: boolean;
  /** Apply a four-letter word's side effect first, as the word would: crst, srst, or stmk with setTraceMask. */
  reset: 'crst' | 'srst' | null;
  setTraceMask: bigint | null;
}

export type ControlRequest = StatsRequest;

export interface StatsReply {
  snapshot: ServerStatsSnapshot;
  traceMask: bigint;
  /** The pipeline's clocks when it answered (to turn wall-clock expiries back into ZooKeeper's elapsed-time keys). */
  monoNowMs: number;
  wallNowMs: number;
}

export type ControlReply = { ok: true; value: StatsReply } | { ok: false; error: string };

/** msgpackr as both sides use it: plain maps (no records), and 64-bit integers back as bigint (session ids). */
export function controlPackr(): Packr {
  return new Packr({ useRecords: false, int64AsType: 'bigint' });
}

const ID_BYTES = 4;

// ---------------------------------------------------------------------------------------
// Main thread side

interface Pending {
  resolve: (reply: ControlReply) => void;
  timer: NodeJS.Timeout;
  parts: Buffer[];
}

export class ControlChannel {
  private readonly requests: Ring;
  private readonly replies: Ring;
  private readonly packr = controlPackr();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private readonly pumped: Promise<void>;

  /**
   * `requests`: producer side (its data bell is the pipeline's doorbell); `replies`:
   * consumer side. Starts draining replies at once and keeps at it until close(): a
   * reply that comes after its request timed out is read and dropped, so the pipeline
   * never waits on a full reply ring.
   */
  constructor(requests: Ring, replies: Ring) {
    this.requests = requests;
    this.replies = replies;
    this.pumped = this.pump();
  }

  inFlight(): number {
    return this.pending.size;
  }

  /** Sends a request; resolves with the pipeline's reply or an error reply (busy, timeout, closed). Never rejects. */
  request(req: ControlRequest, timeoutMs = CONTROL_TIMEOUT_MS): Promise<ControlReply> {
    if (this.closed) return Promise.resolve({ ok: false, error: 'the server is shutting down' });
    if (this.pending.size >= CONTROL_IN_FLIGHT_MAX) return Promise.resolve({ ok: false, error: `too many control requests in flight (${CONTROL_IN_FLIGHT_MAX})` });
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffff_ffff ? 1 : this.nextId + 1;
    const body = this.packr.pack(req);
    if (ID_BYTES + body.length > this.requests.maxPayloadBytes) return Promise.resolve({ ok: false, error: 'control request too large' });
    const at = this.requests.reserve(ID_BYTES + body.length);
    if (at === -1) return Promise.resolve({ ok: false, error: 'the control ring is full' });
    this.requests.data.writeUInt32BE(id, at);
    this.requests.data.set(body, at + ID_BYTES);
    return new Promise<ControlReply>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ ok: false, error: `the pipeline did not answer within ${timeoutMs} ms` });
      }, timeoutMs);
      this.pending.set(id, { resolve, timer, parts: [] });
      this.requests.commit(ControlKind.REQUEST, ID_BYTES + body.length); // rings the pipeline's doorbell
    });
  }

  /** Fails what is in flight, refuses new requests, and stops draining. */
  async close(): Promise<void> {
    if (this.closed) return this.pumped;
    this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.resolve({ ok: false, error: 'the server is shutting down' });
    }
    this.replies.dataBell.ring(); // wake the pump so it sees `closed`
    return this.pumped;
  }

  private async pump(): Promise<void> {
    const r = this.replies;
    while (!this.closed) {
      const seq = r.dataBell.sequence();
      let n = 0;
      while (r.poll()) {
        this.take();
        r.release();
        n++;
      }
      if (n === 0) await r.dataBell.waitAsync(seq, 1000);
    }
  }

  private take(): void {
    const r = this.replies;
    const d = r.data;
    const at = r.payloadStart;
    const id = d.readUInt32BE(at);
    const p = this.pending.get(id);
    if (p === undefined) return; // its request timed out: drop the slice
    p.parts.push(Buffer.from(d.subarray(at + ID_BYTES, at + r.payloadLength)));
    if (r.kind === ControlKind.REPLY_PART) return;
    if (r.kind !== ControlKind.REPLY_END) throw new Error(`control reply ring: unknown record kind ${r.kind}`);
    this.pending.delete(id);
    clearTimeout(p.timer);
    let reply: ControlReply;
    try {
      reply = this.packr.unpack(p.parts.length === 1 ? p.parts[0] : Buffer.concat(p.parts)) as ControlReply;
    } catch (err) {
      reply = { ok: false, error: `undecodable control reply: ${(err as Error).message}` };
    }
    p.resolve(reply);
  }
}

// ---------------------------------------------------------------------------------------
// Pipeline worker side

/**
 * Serves control requests inside the pipeline worker's loop. Never parks: a reply that
 * does not fit in the reply ring now stays in `outgoing` and goes on at the next turn
 * (the worker keeps its wait short while hasOutput()). One reply at a time is in flight.
 */
export class ControlServer {
  private readonly requests: Ring;
  private readonly replies: Ring;
  private readonly packr = controlPackr();
  private outgoing: { id: number; bytes: Buffer; offset: number } | null = null;

  constructor(requests: Ring, replies: Ring) {
    this.requests = requests;
    this.replies = replies;
  }

  /** A reply is part-way out: poll again soon. */
  hasOutput(): boolean {
    return this.outgoing !== null;
  }

  /** Sends what is pending, then handles up to CONTROL_RECORDS_PER_TURN requests; returns the records moved. */
  poll(handle: (req: ControlRequest) => StatsReply): number {
    let n = this.flush();
    const ring = this.requests;
    let handled = 0;
    while (this.outgoing === null && handled < CONTROL_RECORDS_PER_TURN && ring.poll()) {
      const at = ring.payloadStart;
      const id = ring.data.readUInt32BE(at);
      let reply: ControlReply;
      try {
        if (ring.kind !== ControlKind.REQUEST) throw new Error(`unknown control record kind ${ring.kind}`);
        const req = this.packr.unpack(ring.data.subarray(at + ID_BYTES, at + ring.payloadLength)) as ControlRequest;
        reply = { ok: true, value: handle(req) };
      } catch (err) {
        // a bad request is the asker's problem, never the pipeline's: answer it and go on
        reply = { ok: false, error: (err as Error).message };
      }
      ring.release();
      this.outgoing = { id, bytes: this.packr.pack(reply), offset: 0 };
      n += 1 + this.flush();
      handled++;
    }
    return n;
  }

  /** Moves slices of the outgoing reply into the reply ring while it has room. */
  private flush(): number {
    const out = this.outgoing;
    if (out === null) return 0;
    const ring = this.replies;
    const sliceBytes = ring.maxPayloadBytes - ID_BYTES;
    let n = 0;
    while (out.offset < out.bytes.length || (out.bytes.length === 0 && n === 0)) {
      const end = Math.min(out.bytes.length, out.offset + sliceBytes);
      const at = ring.reserve(ID_BYTES + end - out.offset);
      if (at === -1) return n;
      ring.data.writeUInt32BE(out.id, at);
      ring.data.set(out.bytes.subarray(out.offset, end), at + ID_BYTES);
      ring.commit(end === out.bytes.length ? ControlKind.REPLY_END : ControlKind.REPLY_PART, ID_BYTES + end - out.offset);
      out.offset = end;
      n++;
      if (end === out.bytes.length) break;
    }
    this.outgoing = null;
    return n;
  }
}
