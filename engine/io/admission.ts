// Which accepted connections an io worker keeps: zookeeper.maxCnxns over all io workers
// (one shared count) and maxClientCnxns per client address (shared counts in slots the
// addresses hash into; two addresses sharing a slot share its count, so a lookup can only
// refuse early, never let more in). ZooKeeper checks maxCnxns first, then maxClientCnxns.
// The counts are shared words (engine/records.ts IO words, the connection count slots):
// plain memory, so this is deterministic and testable without sockets.
import { IO_WORDS_CONNS_OPEN } from '../records.ts';

/** admit(): refused by zookeeper.maxCnxns (ZooKeeper resets such a connection: SO_LINGER 0). */
export const REFUSED_MAX_CNXNS = -1;
/** admit(): refused by maxClientCnxns (too many from this address). */
export const REFUSED_MAX_CLIENT_CNXNS = -2;

export class Admission {
  private readonly ioWords: Int32Array;
  private readonly connCounts: Int32Array;
  /** 0: unlimited. */
  readonly maxCnxns: number;
  readonly maxClientCnxns: number;

  constructor(ioWords: Int32Array, connCounts: Int32Array, maxCnxns: number, maxClientCnxns: number) {
    if (connCounts.length === 0) throw new RangeError('no connection count slots');
    this.ioWords = ioWords;
    this.connCounts = connCounts;
    this.maxCnxns = maxCnxns;
    this.maxClientCnxns = maxClientCnxns;
  }

  /** The count slot of a client address (FNV-1a of its text). */
  slotOf(addr: string): number {
    let h = 2166136261;
    for (let i = 0; i < addr.length; i++) h = Math.imul(h ^ addr.charCodeAt(i), 16777619);
    return (h >>> 0) % this.connCounts.length;
  }

  /**
   * Counts a new connection from `addr` in: its count slot (≥ 0, for release()), or
   * REFUSED_MAX_CNXNS / REFUSED_MAX_CLIENT_CNXNS with nothing counted.
   */
  admit(addr: string): number {
    const open = Atomics.add(this.ioWords, IO_WORDS_CONNS_OPEN, 1) + 1;
    if (this.maxCnxns > 0 && open > this.maxCnxns) {
      Atomics.sub(this.ioWords, IO_WORDS_CONNS_OPEN, 1);
      return REFUSED_MAX_CNXNS;
    }
    const slot = this.slotOf(addr);
    const count = Atomics.add(this.connCounts, slot, 1) + 1;
    if (this.maxClientCnxns > 0 && count > this.maxClientCnxns) {
      Atomics.sub(this.connCounts, slot, 1);
      Atomics.sub(this.ioWords, IO_WORDS_CONNS_OPEN, 1);
      return REFUSED_MAX_CLIENT_CNXNS;
    }
    return slot;
  }

  /** A connection admit() counted in has closed. */
  release(slot: number): void {
    if (!(slot >= 0 && slot < this.connCounts.length)) throw new RangeError(`connection count slot ${slot}`);
    Atomics.sub(this.connCounts, slot, 1);
    Atomics.sub(this.ioWords, IO_WORDS_CONNS_OPEN, 1);
  }
}
