// Runs every microbenchmark in bench/ (*.bench.ts), one process each, one after the other
// (`npm run bench:micro`). Arguments pick files by name: `npm run bench:micro -- jute tree`.
// BENCH_TIME_MS / BENCH_WARMUP_MS set the sampling per task (micro-util.ts); ring.bench.ts
// reads RING_BENCH_TIME_MS. `--save` also writes the output to bench/results/micro-<date>.txt.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineFacts, formatMachine } from './machine.ts';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));

export async function microMain(args: string[]): Promise<number> {
  const save = args.includes('--save');
  const names = args.filter((a) => !a.startsWith('--'));
  const all = fs.readdirSync(BENCH_DIR).filter((f) => f.endsWith('.bench.ts')).sort();
  const files = names.length === 0 ? all : all.filter((f) => names.some((n) => f.startsWith(n)));
  if (files.length === 0) {
    process.stderr.write(`bench micro: no benchmark matches ${names.join(', ')} (have: ${all.join(', ')})\n`);
    return 2;
  }
  const out: string[] = [`# zooid microbenchmarks — ${new Date().toISOString()}`, ...formatMachine(machineFacts()), ''];
  process.stdout.write(out.join('\n') + '\n');
  let failed = 0;
  for (const f of files) {
    const header = `## ${f} (${process.execPath} ${path.join('bench', f)})`;
    process.stdout.write(`\n${header}\n`);
    const r = spawnSync(process.execPath, [path.join(BENCH_DIR, f)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: process.env, maxBuffer: 64 * 1024 * 1024 });
    process.stdout.write(r.stdout ?? '');
    out.push(header, r.stdout ?? '');
    if (r.status !== 0) {
      failed++;
      const why = `${f} failed (${r.signal ?? `exit ${r.status}`})`;
      process.stderr.write(`bench micro: ${why}\n`);
      out.push(why);
    }
  }
  if (save) {
    const dir = path.join(BENCH_DIR, 'results');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `micro-${new Date().toISOString().slice(0, 10)}.txt`);
    fs.writeFileSync(file, out.join('\n') + '\n');
    process.stdout.write(`\nwritten to ${file}\n`);
  }
  return failed === 0 ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await microMain(process.argv.slice(2));
}
