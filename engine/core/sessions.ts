// Sessions and their expiry, as ZooKeeper's SessionTrackerImpl: deadlines rounded up to
// the next tick, kept in buckets so each tick looks only at the sessions due then.
import type { Id } from '../protocol.ts';
import { CONTAINER_OWNER } from './tree.ts';

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
  /**
   * A local session (localSessionsEnabled): known to this server only, never logged, closed
   * and expired here; made global by its first ephemeral create (engine/core/local-sessions.ts).
   */
  local: boolean;
}

// ZooKeeperServer.generatePasswd: a session's password is 16 bytes of java.util.Random
// seeded with the session id xor a fixed secret. Any server can check it (a client moving
// to another server of the ensemble, or to zooid started on ZooKeeper's dataDir, keeps its
// session), and it is still valid after a restart — the (documented) property ZooKeeper has.
const SUPER_SECRET = 0xb3415c00n;
const SESSION_PASSWORD_BYTES = 16;

export function sessionPassword(id: bigint): Buffer {
  return javaRandomBytes(BigInt.asIntN(64, id) ^ SUPER_SECRET, SESSION_PASSWORD_BYTES);
}

const RANDOM_MULTIPLIER = 0x5deece66dn;
const RANDOM_MASK = (1n << 48n) - 1n;

/** new java.util.Random(seed).nextBytes(new byte[count]): the LCG and nextBytes' little-endian use of each nextInt. */
export function javaRandomBytes(seed: bigint, count: number): Buffer {
  let state = (seed ^ RANDOM_MULTIPLIER) & RANDOM_MASK;
  const out = Buffer.alloc(count);
  for (let i = 0; i < count;) {
    state = (state * RANDOM_MULTIPLIER + 0xbn) & RANDOM_MASK;
    let rnd = Number(BigInt.asIntN(32, state >> 16n)); // next(32)
    for (let n = Math.min(count - i, 4); n-- > 0; rnd >>= 8) out[i++] = rnd & 0xff;
  }
  return out;
}

/** EphemeralType.MAX_EXTENDED_SERVER_ID: with extended types on, a session id's top byte must not be a TTL's 0xFF. */
export const EXTENDED_SERVER_ID_MAX = 254;

export class SessionTable {
  readonly sessions = new Map<bigint, Session>();
  private buckets = new Map<number, Set<Session>>();
  private nextId: bigint;
  private localCount = 0;
  readonly tickMs: number;

  /**
   * Throws, as SessionTrackerImpl's constructor (EphemeralType.validateServerId), for a
   * server id above 254 with extended types on: its sessions' ids would read as TTL owners.
   */
  constructor(tickMs: number, serverId: number, nowWallMs: number, extendedTypesEnabled = false) {
    if (extendedTypesEnabled && serverId > EXTENDED_SERVER_ID_MAX) {
      throw new Error(`extendedTypesEnabled is true but Server ID is too large. Cannot be larger than ${EXTENDED_SERVER_ID_MAX}`);
    }
    this.tickMs = tickMs;
    // SessionTrackerImpl.initializeNextSessionId in Java's long arithmetic:
    // (time << 24 >>> 8) | (sid << 56). The server id's low 8 bits make the top byte, so
    // for ids 128..255 the session ids are negative; 256 leaves no trace.
    const time = BigInt.asUintN(64, BigInt(nowWallMs) << 24n) >> 8n;
    this.nextId = BigInt.asIntN(64, time | (BigInt(serverId) << 56n));
    if (this.nextId === CONTAINER_OWNER) this.nextId++;
  }

  private bucketOf(atMs: number): number {
    return (Math.floor(atMs / this.tickMs) + 1) * this.tickMs;
  }

  /** The next id not in the table, counting up as a Java long (wrapping at 2^63). */
  newSessionId(): bigint {
    let id = this.nextId;
    while (this.sessions.has(id)) id = BigInt.asIntN(64, id + 1n);
    this.nextId = BigInt.asIntN(64, id + 1n);
    return id;
  }

  add(id: bigint, timeoutMs: number, nowMs: number, local = false): Session {
    const existing = this.sessions.get(id);
    if (existing !== undefined) return existing;
    if (local) this.localCount++;
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
      local,
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

  /** A local session becomes global (UpgradeableSessionTracker.upgradeSession). */
  makeGlobal(s: Session): void {
    if (!s.local) return;
    s.local = false;
    this.localCount--;
  }

  remove(id: bigint): void {
    const s = this.sessions.get(id);
    if (s === undefined) return;
    this.sessions.delete(id);
    if (s.local) this.localCount--;
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
    this.localCount = 0;
  }

  size(): number {
    return this.sessions.size;
  }

  /** Global sessions (mntr's zk_global_sessions): the ones every server knows. */
  globalCount(): number {
    return this.sessions.size - this.localCount;
  }

  /** Local sessions (zk_local_sessions). */
  localSessionCount(): number {
    return this.localCount;
  }
}
