// Totals of recorded fault campaigns (the JSON lines run.ts appends), one paragraph per
// file: runs, verdicts, faults by kind, operations checked, wall time.
//   node test/fault/summary.ts test/fault/results/*.jsonl
import * as fs from 'node:fs';
import type { RunResult } from './run.ts';

export function summarizeFile(file: string): string {
  const runs = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as RunResult & { campaignSeed: string });
  const verdicts = new Map<string, number>();
  const faults = new Map<string, number>();
  let ops = 0;
  let unknown = 0;
  let seq = 0;
  let fifo = 0;
  let watches = 0;
  let ephemeral = 0;
  let wallMs = 0;
  for (const r of runs) {
    verdicts.set(r.verdict, (verdicts.get(r.verdict) ?? 0) + 1);
    for (const e of r.events) faults.set(e.kind, (faults.get(e.kind) ?? 0) + 1);
    ops += r.counts.registerOps;
    unknown += r.counts.unknown;
    seq += r.counts.seqAcked;
    fifo += r.counts.fifoBatches;
    watches += r.counts.watchesFired ?? 0;
    ephemeral += r.counts.ephemeralChecks ?? 0;
    wallMs += r.wallMs;
  }
  const targets = [...new Set(runs.map((r) => r.target))].join(', ');
  const seeds = [...new Set(runs.map((r) => r.campaignSeed))].join(', ');
  const nemeses = [...new Set(runs.flatMap((r) => r.nemeses))].join(',');
  return [
    `${file}: ${runs.length} runs against ${targets} (campaign seed ${seeds}; nemeses ${nemeses}; ${(runs[0]?.durationMs ?? 0) / 1000} s of load each), ${(wallMs / 60_000).toFixed(1)} min of runs`,
    `  verdicts: ${[...verdicts].map(([v, n]) => `${v} ${n}`).join(', ')}`,
    `  faults: ${[...faults].sort().map(([k, n]) => `${k} ${n}`).join(', ')}`,
    `  checked: ${ops} register ops (${unknown} unknown), ${seq} acknowledged sequential creates, ${fifo} FIFO batches, ${watches} watches fired, ${ephemeral} ephemeral checks`,
  ].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url.endsWith('/summary.ts')) {
  for (const file of process.argv.slice(2)) console.log(summarizeFile(file));
}
