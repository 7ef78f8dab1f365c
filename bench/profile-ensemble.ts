// Where a zooid ensemble's time goes: bench/profile.ts's per-thread summary for each member
// of an N-server ensemble (bench/deploy.ts) started with --cpu-prof, under one load spread
// over every member's client port.
//
//   npx node bench/profile-ensemble.ts --read-pct 0 --duration 5s --connections 8 --outstanding 50 --keys 500
//
// Every option but --servers-count and --keep goes to the load generator (loadgen/options.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deploy } from './deploy.ts';
import { summarizeProfile, formatThread, type Window } from './profile.ts';
import { parseLoadOptions } from '../loadgen/options.ts';
import { closePool, runLoad } from '../loadgen/run.ts';
import { srvrMode } from '../test/support/ensemble.ts';

const args = process.argv.slice(2);
const flags = new Map<string, string>();
for (let i = 0; i + 1 < args.length; i += 2) flags.set(args[i].replace(/^--/, ''), args[i + 1]);
const size = Number(flags.get('servers-count') ?? '3');
const keepDir = flags.get('keep') ?? null;
const loadArgs: string[] = [];
for (const [k, v] of flags) if (k !== 'servers-count' && k !== 'keep') loadArgs.push(`--${k}`, v);

const profDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-ens-prof-'));
const saved = process.env.NODE_OPTIONS;
process.env.NODE_OPTIONS = `${saved ?? ''} --cpu-prof --cpu-prof-dir=${profDir}`.trim();
let d;
try {
  d = await deploy('zooid', size, { forceSync: 'yes', maxClientCnxns: '0', 'admin.enableServer': 'false', snapCount: '100000' });
} finally {
  if (saved === undefined) delete process.env.NODE_OPTIONS;
  else process.env.NODE_OPTIONS = saved;
}
const modes = await Promise.all(d.ports.map((p) => srvrMode(p)));
const hosts = d.ports.map((p) => `127.0.0.1:${p}`).join(',');
const { options } = parseLoadOptions([...loadArgs, '--hosts', hosts]);
let window: Window | null = null;
try {
  const { result } = await runLoad(options);
  process.stdout.write(`${options.connections} × ${options.outstanding}: ${result.throughputOpsPerSec.toLocaleString('en-US')} ops/s, p50 ${(result.all.p50Us / 1000).toFixed(3)} ms, p99 ${(result.all.p99Us / 1000).toFixed(3)} ms, errors ${result.errorCount}\n`);
  const nowHrUs = Number(process.hrtime.bigint() / 1000n);
  const hrOfEpoch = (epochMs: number) => nowHrUs - (Date.now() - epochMs) * 1000;
  const fromEpoch = Date.parse(result.startedAt) + options.warmupMs;
  window = { fromUs: hrOfEpoch(fromEpoch), toUs: hrOfEpoch(fromEpoch + options.durationMs) };
} finally {
  await d.stop();
  await closePool();
}
// one process per member: a profile file is named CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile
const files = fs.readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
for (let i = 0; i < d.pids.length; i++) {
  process.stdout.write(`\n# server ${i + 1} (${modes[i]}), pid ${d.pids[i]}\n`);
  for (const f of files.filter((name) => name.split('.')[3] === String(d.pids[i]))) {
    const t = summarizeProfile(f, JSON.parse(fs.readFileSync(path.join(profDir, f), 'utf8')), window);
    if (t.busyMs < 1) continue;
    process.stdout.write(`${formatThread(t)}\n`);
  }
}
if (keepDir !== null) fs.cpSync(profDir, keepDir, { recursive: true });
fs.rmSync(profDir, { recursive: true, force: true });
