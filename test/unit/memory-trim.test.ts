// The idle memory trim's policy (engine/memory-trim.ts): when a thread runs its
// memory-reducing collection, driven with a fake heap and a fake gc.
import { describe, expect, it } from 'vitest';
import { IdleTrim, checkIdleTrim, type HeapFigures } from '../../engine/memory-trim.ts';
import { StatsBlock, IO_STATS } from '../../engine/ops/stagestats.ts';
import { IDLE_TRIM_CHECK_MS, IDLE_TRIM_QUIET_CHECKS, IDLE_TRIM_QUIET_UNITS_PER_S, IDLE_TRIM_SLACK_BYTES, IDLE_TRIM_USED_BYTES_MAX } from '../../engine/limits.ts';

const MiB = 1024 * 1024;
const BUSY_UNITS = (IDLE_TRIM_QUIET_UNITS_PER_S * IDLE_TRIM_CHECK_MS) / 1000 + 1;

class FakeHeap {
  heap: HeapFigures = { total_heap_size: 10 * MiB, used_heap_size: 8 * MiB, external_memory: 2 * MiB };
  collections = 0;
  readonly gc = () => {
    this.collections++;
    this.heap = { total_heap_size: 11 * MiB, used_heap_size: 9 * MiB, external_memory: 2 * MiB };
  };
  grow(totalMiB: number, usedMiB: number): void {
    this.heap = { ...this.heap, total_heap_size: totalMiB * MiB, used_heap_size: usedMiB * MiB };
  }
}

function setup(): { fake: FakeHeap; trim: IdleTrim; units: { n: number }; check: (busy: boolean) => ReturnType<IdleTrim['check']> } {
  const fake = new FakeHeap();
  const trim = new IdleTrim({ gc: fake.gc, heapStats: () => fake.heap });
  const units = { n: 0 };
  const check = (busy: boolean) => {
    if (busy) units.n += BUSY_UNITS;
    else units.n += 1; // a ping or two: still quiet
    return trim.check(units.n);
  };
  check(false); // the resting size: 12 MiB
  return { fake, trim, units, check };
}

describe('IdleTrim', () => {
  it('collects once, after IDLE_TRIM_QUIET_CHECKS quiet checks that follow a busy one, when the heap grew by the slack', () => {
    const { fake, check } = setup();
    check(true);
    fake.grow(10 + IDLE_TRIM_SLACK_BYTES / MiB + 20, 30);
    for (let i = 1; i < IDLE_TRIM_QUIET_CHECKS; i++) expect(check(false)).toBeNull();
    const t = check(false);
    expect(t).not.toBeNull();
    expect(fake.collections).toBe(1);
    expect(t!.heapBeforeBytes).toBeGreaterThan(t!.heapAfterBytes);
    for (let i = 0; i < 5; i++) expect(check(false)).toBeNull(); // not again until the next busy spell
    expect(fake.collections).toBe(1);
  });

  it('does not collect while the thread stays busy', () => {
    const { fake, check } = setup();
    fake.grow(200, 60);
    for (let i = 0; i < 10; i++) expect(check(true)).toBeNull();
    expect(fake.collections).toBe(0);
  });

  it('does not collect when the heap has not grown by the slack over its resting size', () => {
    const { fake, check } = setup();
    check(true);
    fake.grow(10 + IDLE_TRIM_SLACK_BYTES / MiB - 4, 12);
    for (let i = 0; i < IDLE_TRIM_QUIET_CHECKS + 2; i++) expect(check(false)).toBeNull();
    expect(fake.collections).toBe(0);
  });

  it('does not collect a heap holding more than IDLE_TRIM_USED_BYTES_MAX (a large tree: a long pause, pages in use)', () => {
    const { fake, check } = setup();
    check(true);
    fake.grow(IDLE_TRIM_USED_BYTES_MAX / MiB + 100, IDLE_TRIM_USED_BYTES_MAX / MiB + 1);
    for (let i = 0; i < IDLE_TRIM_QUIET_CHECKS + 2; i++) expect(check(false)).toBeNull();
    expect(fake.collections).toBe(0);
  });

  it('measures growth from the size after its last trim', () => {
    const { fake, check } = setup();
    check(true);
    fake.grow(80, 40);
    for (let i = 0; i < IDLE_TRIM_QUIET_CHECKS; i++) check(false);
    expect(fake.collections).toBe(1); // resting now 13 MiB: 11 of heap, 2 external
    check(true);
    fake.grow(11 + IDLE_TRIM_SLACK_BYTES / MiB - 1, 20);
    for (let i = 0; i < IDLE_TRIM_QUIET_CHECKS; i++) check(false);
    expect(fake.collections).toBe(1);
  });

  it('counts a trim in the thread\'s stats block and logs it', () => {
    const { fake, trim, units } = setup();
    const stats = StatsBlock.create(IO_STATS);
    const lines: string[] = [];
    const log = { info: (m: string) => lines.push(m) };
    units.n += BUSY_UNITS;
    checkIdleTrim(trim, units.n, stats, log);
    fake.grow(80, 40);
    for (let i = 0; i < IDLE_TRIM_QUIET_CHECKS; i++) checkIdleTrim(trim, ++units.n, stats, log);
    expect(stats.counter('idle_trims')).toBe(1);
    expect(stats.counter('idle_trim_us')).toBeGreaterThanOrEqual(0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^idle memory trim: heap 82\.0 → 13\.0 MiB in \d+ ms$/);
  });

  it('is unavailable without the gc extension', () => {
    const trim = new IdleTrim({ gc: null });
    expect(trim.available).toBe(false);
    expect(trim.check(1e9)).toBeNull();
  });
});
