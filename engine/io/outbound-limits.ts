// The bounds on what an io worker holds for clients that do not read (engine/limits.ts has
// the reasons for each number): per connection, stop reading it past connPauseBytes queued
// and close it past connBytesMax; over all io workers, past totalSoftBytes stop reading the
// heavy connections (heavyConnBytesMin queued or more), past totalHardBytes close this
// worker's heaviest until the total is back under it.
//
// OutboundLedger keeps this worker's side of it: what each connection had queued when last
// looked at, their sum, and which connections hold anything. Byte counts come in as
// parameters (the caller reads its sockets); decisions go out as return values or through
// the callbacks given to enforce().

export interface OutboundBounds {
  connPauseBytes: number;
  connBytesMax: number;
  totalSoftBytes: number;
  totalHardBytes: number;
  heavyConnBytesMin: number;
}

/** What the ledger reads and writes of a connection. */
export interface OutboundConnection {
  /** Bytes queued for writing when last looked at. */
  queuedBytes: number;
  /** Not read until its queued bytes drain (the per-connection pause or the server-wide one). */
  writeFull: boolean;
  closed: boolean;
}

export class OutboundLedger<C extends OutboundConnection> {
  readonly bounds: OutboundBounds;
  /** Connections that had bytes queued when last looked at. */
  readonly queuedConns = new Set<C>();
  /** Sum of queuedBytes over the connections. */
  bytes = 0;

  constructor(bounds: OutboundBounds) {
    if (!(bounds.connPauseBytes < bounds.connBytesMax && bounds.totalSoftBytes <= bounds.totalHardBytes)) {
      throw new RangeError('outbound bounds: pause below close, soft at most hard');
    }
    this.bounds = bounds;
  }

  /** A connection has `queuedBytes` queued now (a closed one has none). */
  note(conn: C, queuedBytes: number): void {
    const q = conn.closed ? 0 : queuedBytes;
    this.bytes += q - conn.queuedBytes;
    conn.queuedBytes = q;
    if (q > 0) this.queuedConns.add(conn);
    else this.queuedConns.delete(conn);
  }

  /** After a write left `queuedBytes` queued on a connection: past connBytesMax it must be closed. */
  overflows(queuedBytes: number): boolean {
    return queuedBytes > this.bounds.connBytesMax;
  }

  /** After a write left `queuedBytes` queued on a connection still read: past connPauseBytes it stops being read until it drains. */
  pausesAfterWrite(conn: C, queuedBytes: number): boolean {
    return queuedBytes > this.bounds.connPauseBytes && !conn.writeFull;
  }

  /** After its socket drained down to `queuedBytes`: whether a connection paused for writing may be read again. */
  resumesAfterDrain(conn: C, queuedBytes: number): boolean {
    return conn.writeFull && queuedBytes <= this.bounds.connPauseBytes;
  }

  /**
   * The server-wide bound, with `totalBytes` queued on all io workers (this one's share as
   * noted). Over the hard bound, takes this worker's heaviest heavy connections out of the
   * ledger and hands each to `shed` (with its bytes and the total before it) until the total
   * is under it; then, over the soft bound, hands each heavy connection still read to
   * `pause`. Returns how many were shed.
   */
  enforce(totalBytes: number, shed: (conn: C, shedBytes: number, totalBytes: number) => void, pause: (conn: C) => void): number {
    const b = this.bounds;
    let total = totalBytes;
    let shedCount = 0;
    while (total > b.totalHardBytes) {
      let heaviest: C | null = null;
      for (const conn of this.queuedConns) {
        if (conn.queuedBytes >= b.heavyConnBytesMin && (heaviest === null || conn.queuedBytes > heaviest.queuedBytes)) heaviest = conn;
      }
      if (heaviest === null) break;
      const shedBytes = heaviest.queuedBytes;
      // its bytes go with the socket
      this.bytes -= shedBytes;
      heaviest.queuedBytes = 0;
      this.queuedConns.delete(heaviest);
      shedCount++;
      shed(heaviest, shedBytes, total);
      total -= shedBytes;
    }
    if (total <= b.totalSoftBytes) return shedCount;
    for (const conn of this.queuedConns) {
      if (conn.writeFull || conn.queuedBytes < b.heavyConnBytesMin) continue;
      pause(conn);
    }
    return shedCount;
  }
}
