// Idle memory trim (issue 13; bench/results/memory-2026-12-05.md). A burst of traffic grows
// a worker's V8 heap — io-0 to ~60 MiB while 9,000 sessions are open, the pipeline to ~66
// MiB after 600k watch events — and V8 keeps those pages: it runs no collection in an idle
// worker isolate, and a plain major collection frees the objects but not the pages. The
// memory-reducing collection (V8's "last resort": CollectAllAvailableGarbage) gives them
// back. A thread runs one when it has been quiet for a while after being busy and holds much
// more heap than it did after its last trim, as the JDK's periodic G1 collection (JEP 346)
// does for an idle JVM. The collection pauses the thread (tens of ms for a few MiB live,
// growing with the live heap), so a thread whose heap holds much live data (the pipeline
// with a large tree) never trims: there the pause would be long and the pages are in use.
// The pipeline also trims once right after recovery (trimNow): a snapshot load's garbage.
import v8 from 'node:v8';
import type { StatsBlock } from './ops/stagestats.ts';
import { IDLE_TRIM_CHECK_MS, IDLE_TRIM_QUIET_CHECKS, IDLE_TRIM_QUIET_UNITS_PER_S, IDLE_TRIM_SLACK_BYTES, IDLE_TRIM_USED_BYTES_MAX } from './limits.ts';

export type GcFunction = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/**
 * Makes V8's gc extension available to the isolates created after this call (the worker
 * threads), as `--expose-gc` on the command line would. Call before the workers start.
 */
export function exposeGcToWorkers(): void {
  v8.setFlagsFromString('--expose-gc');
}

function gcFunction(): GcFunction | null {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === 'function' ? (gc as GcFunction) : null;
}

export interface TrimResult {
  durationMs: number;
  heapBeforeBytes: number;
  heapAfterBytes: number;
}

/**
 * One thread's trim policy, driven by check() every IDLE_TRIM_CHECK_MS with a counter of
 * the thread's work (frames read, records taken) that only grows.
 */
export class IdleTrim {
  private readonly gc: GcFunction | null;
  private readonly heapStats: () => HeapFigures;
  private lastUnits = 0;
  private quietChecks = 0;
  /** A busy window since the last trim: only then is there anything a trim would give back. */
  private armed = false;
  /** Heap (V8 heap + external) after the last trim or at the first check: the thread's resting size. */
  private restingBytes = -1;

  /** The gc extension and V8's heap statistics of this thread unless given (tests give both). */
  constructor(deps: { gc?: GcFunction | null; heapStats?: () => HeapFigures } = {}) {
    this.gc = deps.gc === undefined ? gcFunction() : deps.gc;
    this.heapStats = deps.heapStats ?? (() => v8.getHeapStatistics());
  }

  /** Whether this thread can trim at all (the gc extension was exposed before it started). */
  get available(): boolean {
    return this.gc !== null;
  }

  /** Called every IDLE_TRIM_CHECK_MS; returns the trim it ran, or null. */
  check(units: number): TrimResult | null {
    if (this.gc === null) return null;
    const delta = units - this.lastUnits;
    this.lastUnits = units;
    if (this.restingBytes < 0) this.restingBytes = heapBytes(this.heapStats());
    if (delta > (IDLE_TRIM_QUIET_UNITS_PER_S * IDLE_TRIM_CHECK_MS) / 1000) {
      this.armed = true;
      this.quietChecks = 0;
      return null;
    }
    if (!this.armed || ++this.quietChecks < IDLE_TRIM_QUIET_CHECKS) return null;
    this.armed = false;
    const before = this.heapStats();
    const beforeBytes = heapBytes(before);
    if (beforeBytes < this.restingBytes + IDLE_TRIM_SLACK_BYTES || before.used_heap_size > IDLE_TRIM_USED_BYTES_MAX) return null;
    const result = trim(this.gc, this.heapStats);
    this.restingBytes = result.heapAfterBytes;
    return result;
  }
}

/**
 * One memory-reducing collection now, if the gc extension is there: the pipeline's, once
 * it has recovered. Loading a snapshot leaves garbage no collection would take back soon
 * in a thread that then idles or serves reads: the reader's 8 MiB buffer, the young
 * generation grown while loading (at 1M znodes ~17 MiB of resident memory in all, for a
 * pause of ~20-25 ms on the 2-core VM: bench/results/bytes-2026-12-06.md).
 */
export function trimNow(): TrimResult | null {
  const gc = gcFunction();
  return gc === null ? null : trim(gc, () => v8.getHeapStatistics());
}

/** One memory-reducing collection, and the heap before and after. */
function trim(gc: GcFunction, heapStats: () => HeapFigures): TrimResult {
  const beforeBytes = heapBytes(heapStats());
  const startMs = performance.now();
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  return { durationMs: performance.now() - startMs, heapBeforeBytes: beforeBytes, heapAfterBytes: heapBytes(heapStats()) };
}

/** The figures of v8.getHeapStatistics() a trim looks at. */
export interface HeapFigures {
  total_heap_size: number;
  used_heap_size: number;
  external_memory: number;
}

function heapBytes(s: HeapFigures): number {
  return s.total_heap_size + s.external_memory;
}

const MiB = 1024 * 1024;

/** "idle memory trim: heap 61.2 → 14.0 MiB in 84 ms" */
export function describeTrim(t: TrimResult, what = 'idle memory trim'): string {
  const mib = (b: number) => (b / MiB).toFixed(1);
  return `${what}: heap ${mib(t.heapBeforeBytes)} → ${mib(t.heapAfterBytes)} MiB in ${t.durationMs.toFixed(0)} ms`;
}

/**
 * A thread's periodic check: trim.check(units), and a trim it ran counted in the thread's
 * stats block (idle_trims, idle_trim_us: the zooid_idle_memory_trim* metrics) and logged.
 */
export function checkIdleTrim(trim: IdleTrim, units: number, stats: StatsBlock, log: { info(msg: string): void }): void {
  const result = trim.check(units);
  if (result === null) return;
  stats.add(stats.counterIndex('idle_trims'), 1);
  stats.add(stats.counterIndex('idle_trim_us'), result.durationMs * 1000);
  log.info(describeTrim(result));
}
