// When a consumer should spin for its next record instead of parking on its doorbell, kept
// only where spinning pays. Waking a parked thread costs tens of microseconds on a VM; a
// spin that catches the next record saves that. A spin that does not catch it costs its
// whole length in CPU, and worse: with no idle core, the thread the record comes from may
// be waiting for the spinning one's core, so the record arrives only once the spin gives
// up — every spin then adds its length to every request (seen on the 2-core VM while other
// processes ran: 40 µs unloaded reads became 300 µs). So a run of misses turns spinning off
// for a while, doubling each time it fails again; one catch turns it fully back on.
//
// Pure: time is a parameter (ms, any monotonic origin).

/** Consecutive spins that ran out before spinning is turned off: single misses happen (the client paused). */
export const SPIN_MISSES_MAX = 4;
/** How long spinning stays off after the first run of misses; doubled per run, up to SPIN_OFF_MS_MAX. */
export const SPIN_OFF_MS_MIN = 50;
export const SPIN_OFF_MS_MAX = 2000;

export class SpinPolicy {
  private misses = 0;
  private offUntilMs = -Infinity;
  private offMs = SPIN_OFF_MS_MIN;

  /** Whether to spin now (a caller has its own reason to, e.g. a lone client in flight). */
  maySpin(nowMs: number): boolean {
    return nowMs >= this.offUntilMs;
  }

  /** The spin caught its record. */
  caught(): void {
    this.misses = 0;
    this.offMs = SPIN_OFF_MS_MIN;
  }

  /**
   * Spins until arrived() (true: caught) or the clock passes untilMs (false: missed), if
   * spinning is on at nowMs (false at once otherwise). arrived and clock are made once by
   * the caller: nothing is allocated per spin.
   */
  spin(nowMs: number, untilMs: number, arrived: () => boolean, clockMs: () => number): boolean {
    if (nowMs >= untilMs || !this.maySpin(nowMs)) return false;
    let t = nowMs;
    do {
      if (arrived()) {
        this.caught();
        return true;
      }
      t = clockMs();
    } while (t < untilMs);
    this.missed(t);
    return false;
  }

  /** The spin ran out at nowMs without a record. */
  missed(nowMs: number): void {
    if (++this.misses < SPIN_MISSES_MAX) return;
    this.misses = 0;
    this.offUntilMs = nowMs + this.offMs;
    this.offMs = Math.min(this.offMs * 2, SPIN_OFF_MS_MAX);
  }
}
