// Latency histograms (HdrHistogram, nanoseconds, 3 significant digits). Each worker
// thread records into its own; they cross threads as compressed base64 and are merged by
// adding counts bucket by bucket, which is exact: the merged histogram is the one a single
// recorder would have built from all the values.
import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';

/** Longest latency kept as itself; longer ones are recorded as this (and show as the max). */
export const LATENCY_NS_MAX = 600e9;
const SIGNIFICANT_DIGITS = 3;
const BIT_BUCKET_SIZE = 32;

/** The ops that get a histogram of their own (the mix's `create` is `create` + `delete`). */
export const TIMED_OPS = ['get', 'exists', 'children', 'set', 'create', 'delete', 'multi', 'watch'] as const;
export type TimedOp = (typeof TIMED_OPS)[number];

export function newLatencyHistogram(): Histogram {
  return build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: LATENCY_NS_MAX,
    numberOfSignificantValueDigits: SIGNIFICANT_DIGITS,
    bitBucketSize: BIT_BUCKET_SIZE,
    autoResize: false,
    useWebAssembly: false,
  });
}

export function recordNs(h: Histogram, latencyNs: number): void {
  const v = latencyNs < 1 ? 1 : latencyNs > LATENCY_NS_MAX ? LATENCY_NS_MAX : Math.round(latencyNs);
  h.recordValue(v);
}

export function encodeHistogram(h: Histogram): string {
  return encodeIntoCompressedBase64(h);
}

export function decodeHistogram(encoded: string): Histogram {
  const h = decodeFromCompressedBase64(encoded, BIT_BUCKET_SIZE, false);
  // a decoded histogram keeps the encoder's range; re-home it in ours so add() is exact
  const out = newLatencyHistogram();
  out.add(h);
  h.destroy();
  return out;
}

/** Adds encoded histograms into `into` (a fresh one when not given). */
export function mergeEncoded(encoded: readonly string[], into: Histogram = newLatencyHistogram()): Histogram {
  for (const e of encoded) {
    const h = decodeFromCompressedBase64(e, BIT_BUCKET_SIZE, false);
    into.add(h);
    h.destroy();
  }
  return into;
}

/** What reports show of a histogram, in microseconds. */
export interface LatencySummary {
  count: number;
  meanUs: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

const usOf = (ns: number) => Math.round(ns / 100) / 10;

export function summarize(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, meanUs: 0, p50Us: 0, p90Us: 0, p99Us: 0, p999Us: 0, maxUs: 0 };
  return {
    count: h.totalCount,
    meanUs: usOf(h.mean),
    p50Us: usOf(h.getValueAtPercentile(50)),
    p90Us: usOf(h.getValueAtPercentile(90)),
    p99Us: usOf(h.getValueAtPercentile(99)),
    p999Us: usOf(h.getValueAtPercentile(99.9)),
    // the top of the max's bucket, as a decoded or merged histogram knows it (raw maxima
    // do not survive encoding, so this keeps merged and single-recorder results identical)
    maxUs: usOf(h.getValueAtPercentile(100)),
  };
}

/** Points of the latency CDF: [latency µs, fraction of ops at or below it], log-spaced in the tail. */
export function cdfPoints(h: Histogram): [number, number][] {
  if (h.totalCount === 0) return [];
  const points: [number, number][] = [];
  const percentiles = [0.1, 1, 5, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 93, 95, 97, 98, 99, 99.5, 99.7, 99.9, 99.95, 99.99, 99.995, 99.999, 100];
  for (const p of percentiles) points.push([usOf(h.getValueAtPercentile(p)), p / 100]);
  return points;
}
