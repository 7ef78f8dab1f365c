import { describe, expect, it } from 'vitest';
import { SpinPolicy, SPIN_MISSES_MAX, SPIN_OFF_MS_MAX, SPIN_OFF_MS_MIN } from '../../engine/rings/spin-policy.ts';

/** Misses SPIN_MISSES_MAX spins in a row at t: the run that turns spinning off. */
function missRun(p: SpinPolicy, t: number): void {
  for (let i = 0; i < SPIN_MISSES_MAX; i++) {
    expect(p.maySpin(t)).toBe(true);
    p.missed(t);
  }
}

describe('SpinPolicy', () => {
  it('spins until a run of misses, then stays off for a while', () => {
    const p = new SpinPolicy();
    for (let i = 0; i < SPIN_MISSES_MAX - 1; i++) p.missed(0);
    expect(p.maySpin(0)).toBe(true); // single misses are forgiven
    p.missed(0);
    expect(p.maySpin(0)).toBe(false);
    expect(p.maySpin(SPIN_OFF_MS_MIN - 0.001)).toBe(false);
    expect(p.maySpin(SPIN_OFF_MS_MIN)).toBe(true);
  });

  it('a catch resets the count of misses', () => {
    const p = new SpinPolicy();
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < SPIN_MISSES_MAX - 1; i++) p.missed(round);
      p.caught();
      expect(p.maySpin(round)).toBe(true);
    }
  });

  it('doubles the time off per failed probe up to the cap, and a catch brings it back to the minimum', () => {
    const p = new SpinPolicy();
    let t = 0;
    let off = SPIN_OFF_MS_MIN;
    for (let run = 0; run < 8; run++) {
      missRun(p, t);
      expect(p.maySpin(t + off - 0.001)).toBe(false);
      expect(p.maySpin(t + off)).toBe(true);
      t += off;
      off = Math.min(off * 2, SPIN_OFF_MS_MAX);
    }
    expect(off).toBe(SPIN_OFF_MS_MAX);
    p.caught();
    missRun(p, t);
    expect(p.maySpin(t + SPIN_OFF_MS_MIN)).toBe(true);
  });

  it('spin() catches what arrives before its deadline, misses otherwise, and is off after a run of misses', () => {
    const p = new SpinPolicy();
    let t = 0;
    const clock = () => (t += 0.01);
    let arriveAt = 0.05;
    const arrived = () => t >= arriveAt;
    expect(p.spin(t, t + 0.15, arrived, clock)).toBe(true);
    for (let i = 0; i < SPIN_MISSES_MAX; i++) {
      arriveAt = Infinity;
      expect(p.spin(t, t + 0.15, arrived, clock)).toBe(false);
    }
    arriveAt = 0; // would be caught at once, but spinning is off now
    expect(p.spin(t, t + 0.15, arrived, clock)).toBe(false);
    t += SPIN_OFF_MS_MIN;
    expect(p.spin(t, t + 0.15, arrived, clock)).toBe(true);
    expect(p.spin(t, t, arrived, clock)).toBe(false); // deadline already passed: no spin
  });
});
