// The open-loop schedule: op k is due at startMs + k × intervalMs, whatever happened to
// op k-1. Latency is measured from that intended time, not from when the op was finally
// sent, so a server (or client) stall shows up in every op it delayed instead of in the
// one op that was waiting when it began (coordinated omission, Gil Tene). The schedule is
// arithmetic, not a queue: a backlog of any size costs no memory.

export class OpenLoopSchedule {
  readonly startMs: number;
  readonly intervalMs: number;
  /** Ops intended at or after this time are never issued. */
  readonly endMs: number;
  private issuedCount = 0;

  constructor(startMs: number, rateOpsPerSec: number, endMs: number) {
    if (!(rateOpsPerSec > 0 && Number.isFinite(rateOpsPerSec))) throw new Error(`rate must be a positive number, not ${rateOpsPerSec}`);
    if (!(endMs >= startMs)) throw new Error(`schedule ends (${endMs}) before it starts (${startMs})`);
    this.startMs = startMs;
    this.intervalMs = 1000 / rateOpsPerSec;
    this.endMs = endMs;
  }

  get issued(): number {
    return this.issuedCount;
  }

  /** When the next op is intended to go out (Infinity once the schedule is over). */
  nextIntendedMs(): number {
    const t = this.startMs + this.issuedCount * this.intervalMs;
    return t < this.endMs ? t : Infinity;
  }

  /** Ops whose intended time has come by nowMs and that were not issued yet. */
  dueCount(nowMs: number): number {
    const last = Math.min(nowMs, this.endMs - 1e-9);
    if (last < this.startMs) return 0;
    const dueTotal = Math.floor((last - this.startMs) / this.intervalMs) + 1;
    return Math.max(0, dueTotal - this.issuedCount);
  }

  /** Takes the next op if it is due by nowMs: returns its intended time, or -1. */
  takeDue(nowMs: number): number {
    const t = this.nextIntendedMs();
    if (t > nowMs) return -1;
    this.issuedCount++;
    return t;
  }

  /** Ops intended before the end that were never issued (the backlog a slow server left). */
  unissuedCount(): number {
    return this.dueCount(this.endMs);
  }
}
