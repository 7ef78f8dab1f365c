// What tests read off a running server from outside: its resident memory (/proc), a
// Prometheus family summed over its labels, a mntr value.
import * as fs from 'node:fs';

/** The process's resident set size in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** A metric family from GET /metrics, summed over its label sets (0 when absent). */
export async function metric(port: number, family: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${family} `) || line.startsWith(`${family}{`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** One key of a mntr answer. */
export function mntrValue(text: string, key: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${key}\t`));
  if (line === undefined) throw new Error(`mntr has no ${key}`);
  return Number(line.split('\t')[1]);
}

/** zooid's V8 heaps per thread (MiB, one decimal), from /metrics: `<thread>.used`, `.total`, `.external`. */
export async function threadHeapsMiB(metricsPort: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const names: Record<string, string> = { heap_used: 'used', heap_total: 'total', external: 'external' };
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^zooid_thread_(heap_used|heap_total|external)_bytes\{thread="([^"]+)"\} (\S+)$/gm)) {
    out[`${m[2]}.${names[m[1]]}`] = Math.round((Number(m[3]) / (1024 * 1024)) * 10) / 10;
  }
  return out;
}
