// Sessions and their expiry, as ZooKeeper's SessionTrackerImpl: deadlines rounded up to
// the next tick, kept in buckets so each tick looks only at the sessions due then.
import { createHash } from 'node:crypto';
import type { Id } from '../protocol.ts';

export interface Session {
  id: bigint;
  timeoutMs: number;
  passwd: Buffer;
  /** Connection key the session is bound to, or -1 while disconnected. */
  conn: number;
  expiresAtMs: number;
  closing: boolean;
  authIds: Id[];
  /** Bookkeeping for cons / stat. */
  lastCxid: number;
  lastZxid: number;
}

// ZooKeeperServer's fixed secret: passwords follow from the session id, so they are
// still valid after a restart. Same (documented) property as ZooKeeper.
const PASSWORD_SALT = 'zooid-session-passwd-0xB3415C00';

export function sessionPassword(id: bigint): Buffer {
  return createHash('sha256').update(PASSWORD_SALT).update(id.toString(16)).digest().subarray(0, 16);
}

export class SessionTable {
  readonly sessions = new Map<bigint, Session>();
  private buckets = new Map<number, Set<Session>>();
  private nextId: bigint;
  readonly tickMs: number;

  constructor(tickMs: number, serverId: number, nowWallMs: number) {
    this.tickMs = tickMs;
    // SessionTrackerImpl.initializeNextSessionId: (time << 24 >>> 8) | (sid << 56)
    const time = BigInt.asUintN(64, BigInt(nowWallMs) << 24n) >> 8n;
    this.nextId = time | (BigInt(serverId) << 56n);
  }

  private bucketOf(atMs: number): number {
    return (Math.floor(atMs / this.tickMs) + 1) * this.tickMs;
  }

  newSessionId(): bigint {
    let id = this.nextId++;
    while (this.sessions.has(id)) id = this.nextId++;
    return id;
  }

  add(id: bigint, timeoutMs: number, nowMs: number): Session {
    const existing = this.sessions.get(id);
    if (existing !== undefined) return existing;
    const s: Session = {
      id,
      timeoutMs,
      passwd: sessionPassword(id),
      conn: -1,
      expiresAtMs: 0,
      closing: false,
      authIds: [],
      lastCxid: 0,
      lastZxid: 0,
    };
    this.sessions.set(id, s);
    this.touch(s, nowMs);
    return s;
  }

  get(id: bigint): Session | undefined {
    return this.sessions.get(id);
  }

  touch(s: Session, nowMs: number): void {
    const at = this.bucketOf(nowMs + s.timeoutMs);
    if (at === s.expiresAtMs) return;
    this.buckets.get(s.expiresAtMs)?.delete(s);
    s.expiresAtMs = at;
    let b = this.buckets.get(at);
    if (b === undefined) this.buckets.set(at, (b = new Set()));
    b.add(s);
  }

  remove(id: bigint): void {
    const s = this.sessions.get(id);
    if (s === undefined) return;
    this.sessions.delete(id);
    const b = this.buckets.get(s.expiresAtMs);
    b?.delete(s);
    if (b !== undefined && b.size === 0) this.buckets.delete(s.expiresAtMs);
  }

  /** Sessions whose deadline has passed and that are not already closing. */
  expired(nowMs: number): Session[] {
    const out: Session[] = [];
    for (const [at, bucket] of this.buckets) {
      if (at > nowMs) continue;
      for (const s of bucket) if (!s.closing) out.push(s);
      this.buckets.delete(at);
    }
    return out;
  }

  /** Milliseconds until the next bucket falls due (bounded by a tick). */
  msUntilNextExpiry(nowMs: number): number {
    let next = nowMs + this.tickMs;
    for (const at of this.buckets.keys()) if (at < next) next = at;
    return Math.max(0, next - nowMs);
  }

  /** Forgets every session (before a snapshot load or a reload from disk). */
  clear(): void {
    this.sessions.clear();
    this.buckets.clear();
  }

  size(): number {
    return this.sessions.size;
  }
}
