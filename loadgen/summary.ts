// The text a run ends with: throughput, a latency table per op, errors by code, notes.
import type { RunResult } from './run.ts';
import type { LatencySummary } from './histogram.ts';

const ms = (us: number) => (us / 1000).toFixed(us < 10_000 ? 3 : us < 1_000_000 ? 1 : 0);
const int = (n: number) => Math.round(n).toLocaleString('en-US');

export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

function latencyRow(name: string, s: LatencySummary, opsPerSec: number, errors: number): string[] {
  return [name, int(s.count), int(opsPerSec), ms(s.p50Us), ms(s.p90Us), ms(s.p99Us), ms(s.p999Us), ms(s.maxUs), int(errors)];
}

export function formatSummary(r: RunResult): string {
  const lines: string[] = [];
  lines.push(`zooid loadgen — ${r.load}`);
  lines.push(`started ${r.startedAt}; node ${r.machine.node}, ${r.machine.cpu} × ${r.machine.cores}`);
  const offered = r.options.rateOpsPerSec === null ? '' : ` (offered ${int(r.options.rateOpsPerSec)} ops/s, open loop)`;
  const pairs = r.ops.delete === undefined ? '' : ' (a create+delete pair counts once)';
  lines.push(`throughput ${int(r.throughputOpsPerSec)} ops/s${offered}: ${int(r.okOps)} ok ops${pairs} in ${(r.options.durationMs / 1000).toFixed(1)} s, ${int(r.errorCount)} errors`);
  lines.push('');
  const rows: string[][] = [];
  for (const [op, s] of Object.entries(r.ops)) {
    const errors = Object.values(s.errors).reduce((a, b) => a + b, 0);
    rows.push(latencyRow(op, s, s.opsPerSec, errors));
  }
  rows.push(latencyRow('all', r.all, r.all.count / (r.options.durationMs / 1000), r.errorCount));
  lines.push(formatTable(['op', 'count', 'ops/s', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'errors'], rows));
  lines.push('');
  const codes = Object.entries(r.errors).sort((a, b) => b[1] - a[1]);
  lines.push(codes.length === 0 ? 'errors by code: none' : `errors by code: ${codes.map(([c, n]) => `${c} ${int(n)}`).join(', ')}`);
  if (r.sendLag !== null) {
    lines.push(`send lag behind the schedule (load generator): p50 ${ms(r.sendLag.p50Us)} ms, p99 ${ms(r.sendLag.p99Us)} ms, max ${ms(r.sendLag.maxUs)} ms; latencies count from the intended send time`);
  }
  lines.push(`connections: ${r.connects} sessions opened, ${r.disconnects} lost during the run; load generator threads busy ${r.loadgenBusy.map((b) => `${Math.round(b * 100)}%`).join(', ')}`);
  for (const n of r.notes) lines.push(`note: ${n}`);
  lines.push(`seed ${r.options.seed} (replay the same op stream with --seed ${r.options.seed})`);
  return lines.join('\n');
}
