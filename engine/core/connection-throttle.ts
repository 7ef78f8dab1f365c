// ZooKeeper's connection throttle (BlueThrottle, zookeeper.connection_throttle_*): a token
// bucket every ConnectRequest draws from, with BLUE's randomized dropping on top. Off unless
// connection_throttle_tokens is set (0, the default). A ConnectRequest it refuses closes its
// connection without an answer (ZooKeeper's ClientCnxnLimitException) and counts in mntr's
// connection_rejected.
//
//  - The bucket holds at most maxTokens and starts full. When more than fillTimeMs passed since
//    the last refill, floor(elapsed × fillCount / fillTimeMs) tokens go back in (the remainder of
//    the interval is lost, as in ZooKeeper). A connection takes `need` tokens or is refused.
//  - BLUE (freezeTimeMs ≠ -1): at most once per freezeTimeMs, the drop chance rises by
//    dropIncrease while the bucket is empty, and falls by dropDecrease while it is at most
//    decreaseRatio × maxTokens short; each connection is then refused with that chance, before
//    the bucket is looked at.
//  - Weights (connection_throttle_weight_enabled): a new global session takes globalWeight
//    tokens, a new local session localWeight, a reconnect renewWeight; tokens and fillCount
//    are then counted in global sessions (both multiplied by globalWeight). Off: one each.
//
// Pure: time (ms, monotonic) and the random source are parameters.

export interface ConnectionThrottleOptions {
  /** connection_throttle_tokens: the bucket's size; 0 = no throttle. */
  tokens: number;
  /** connection_throttle_fill_time, ms. */
  fillTimeMs: number;
  /** connection_throttle_fill_count: tokens back per fillTimeMs. */
  fillCount: number;
  /** connection_throttle_freeze_time, ms; -1 = no BLUE dropping. */
  freezeTimeMs: number;
  dropIncrease: number;
  dropDecrease: number;
  decreaseRatio: number;
  weightEnabled: boolean;
  globalWeight: number;
  localWeight: number;
  renewWeight: number;
}

/**
 * The weights as ZooKeeper settles them: a global or renew weight below the local one is
 * raised to it, with a warning (each was already above 0: the config saw to that).
 */
export function settleWeights(o: ConnectionThrottleOptions, warn: (message: string) => void): ConnectionThrottleOptions {
  let { globalWeight, renewWeight } = o;
  if (globalWeight < o.localWeight) {
    warn(`the connection throttle's global session weight ${globalWeight} is less than the local session weight ${o.localWeight}: using the local session weight`);
    globalWeight = o.localWeight;
  }
  if (renewWeight < o.localWeight) {
    warn(`the connection throttle's renew session weight ${renewWeight} is less than the local session weight ${o.localWeight}: using the local session weight`);
    renewWeight = o.localWeight;
  }
  return { ...o, globalWeight, renewWeight };
}

export class ConnectionThrottle {
  readonly maxTokens: number;
  private readonly fillTimeMs: number;
  private readonly fillCount: number;
  private readonly freezeTimeMs: number;
  private readonly dropIncrease: number;
  private readonly dropDecrease: number;
  private readonly decreasePoint: number;
  private readonly weights: { global: number; local: number; renew: number } | null;
  private readonly random: () => number;
  private tokens: number;
  private lastFillMs: number;
  private lastFreezeMs: number;
  private drop = 0;

  constructor(o: ConnectionThrottleOptions, nowMs: number, random: () => number) {
    if (!(o.globalWeight >= o.localWeight && o.renewWeight >= o.localWeight && o.localWeight > 0)) {
      throw new RangeError(`connection throttle weights global ${o.globalWeight}, renew ${o.renewWeight} must be at least local ${o.localWeight} > 0`);
    }
    const scale = o.weightEnabled ? o.globalWeight : 1;
    this.maxTokens = scale * o.tokens;
    this.fillCount = scale * o.fillCount;
    this.fillTimeMs = o.fillTimeMs;
    this.freezeTimeMs = o.freezeTimeMs;
    this.dropIncrease = o.dropIncrease;
    this.dropDecrease = o.dropDecrease;
    this.decreasePoint = o.decreaseRatio;
    this.weights = o.weightEnabled ? { global: o.globalWeight, local: o.localWeight, renew: o.renewWeight } : null;
    this.random = random;
    this.tokens = this.maxTokens;
    this.lastFillMs = nowMs;
    this.lastFreezeMs = nowMs;
  }

  get enabled(): boolean {
    return this.maxTokens !== 0;
  }

  /** The tokens a ConnectRequest takes: by its kind when weights are on, else 1. */
  tokensFor(sessionId: bigint, localSession: boolean): number {
    const w = this.weights;
    if (w === null) return 1;
    if (sessionId !== 0n) return w.renew;
    return localSession ? w.local : w.global;
  }

  /** Whether a connection that needs `need` tokens may go on at nowMs (it takes them if so). */
  checkLimit(need: number, nowMs: number): boolean {
    if (this.maxTokens === 0) return true;
    const elapsedMs = nowMs - this.lastFillMs;
    if (elapsedMs > this.fillTimeMs) {
      this.tokens = Math.min(this.tokens + Math.floor((elapsedMs * this.fillCount) / this.fillTimeMs), this.maxTokens);
      this.lastFillMs = nowMs;
    }
    if (this.freezeTimeMs !== -1 && !this.passesBlue(nowMs)) return false;
    if (this.tokens < need) return false;
    this.tokens -= need;
    return true;
  }

  private passesBlue(nowMs: number): boolean {
    if (nowMs - this.lastFreezeMs > this.freezeTimeMs) {
      const short = this.maxTokens - this.tokens;
      if (short === this.maxTokens && this.drop < 1) this.drop = Math.min(this.drop + this.dropIncrease, 1);
      else if (short <= Math.round(this.maxTokens * this.decreasePoint) && this.drop > 0) this.drop = Math.max(this.drop - this.dropDecrease, 0);
      this.lastFreezeMs = nowMs;
    }
    return !(this.random() < this.drop);
  }

  /** mntr's connection_drop_probability. */
  get dropChance(): number {
    return this.drop;
  }

  /** Tokens short of a full bucket (ZooKeeper's getDeficit). */
  get deficit(): number {
    return this.maxTokens - this.tokens;
  }
}
