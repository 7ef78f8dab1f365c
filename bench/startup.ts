// Startup timeline: spawn → first getData answered, for one or more zooid checkouts run in
// turn (A/B alternated, so a noisy minute on a shared machine hits them alike).
//
//   node bench/startup.ts [--roots DIR[+VAR=VALUE...][,DIR...]] [--data DIR|empty] [--runs N] [--probe PATH]
//
// A root may carry environment variables for its server: `.+ZOOID_X=1` (the same checkout
// with and without a setting).
// Each run copies --data (a dataDir holding version-2/, e.g. the 1M-znode one
// bench/persistence.ts restart writes to /tmp/zooid-bench-datadir-1000000-100) into a fresh
// temp dir, or starts on an empty one, and spawns `node <root>/engine/cli.ts server` with
// ZOOID_STARTUP_TRACE=1: servers that have engine/startup-trace.ts print "TRACE <epoch ms>
// t<thread> <event>" lines, shown as ms after the spawn. Median per root and per event; and
// the CPU the server had used when it first served (user, system, minor faults; per thread
// name), from /proc, less noisy than times on a shared machine.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LeanClient } from '../client/lean.ts';
import { freePort } from '../test/support/servers.ts';
import { median } from './bench-server.ts';

const SERVING_DEADLINE_MS = 120_000;
const POLL_MS = 10;

type Opts = { roots: string[]; data: string | null; runs: number; probe: string };

function parseArgs(args: string[]): Opts {
  const opts: Opts = { roots: ['.'], data: null, runs: 5, probe: '/' };
  for (let i = 0; i < args.length; i += 2) {
    const v = args[i + 1];
    if (args[i] === '--roots') opts.roots = v.split(',');
    else if (args[i] === '--data') opts.data = v === 'empty' ? null : path.resolve(v);
    else if (args[i] === '--runs') opts.runs = Number(v);
    else if (args[i] === '--probe') opts.probe = v;
    else throw new Error(`unknown option ${args[i]}`);
  }
  return opts;
}

type Run = { servingMs: number; events: Map<string, number>; cpu: Map<string, number> };

const CLOCK_TICK_MS = 10; // USER_HZ 100

/** Fields of a /proc stat line after the command name: index 0 is field 3 (state). */
function statFields(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/**
 * The server's CPU once it serves: user and system ms and minor page faults of the process,
 * and each thread's user + system ms by thread name (threads of one name summed).
 */
function cpuOf(pid: number): Map<string, number> {
  const cpu = new Map<string, number>();
  const p = statFields(`/proc/${pid}/stat`);
  cpu.set('process user ms', Number(p[11]) * CLOCK_TICK_MS);
  cpu.set('process system ms', Number(p[12]) * CLOCK_TICK_MS);
  cpu.set('process minor faults', Number(p[7]));
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const t = statFields(`/proc/${pid}/task/${tid}/stat`);
      const key = `thread ${name} ms`;
      cpu.set(key, (cpu.get(key) ?? 0) + (Number(t[11]) + Number(t[12])) * CLOCK_TICK_MS);
    } catch {
      // a thread that ended meanwhile
    }
  }
  return cpu;
}

async function oneRun(rootSpec: string, opts: Opts): Promise<Run> {
  const [rootDir, ...vars] = rootSpec.split('+');
  const root = path.resolve(rootDir);
  const env: Record<string, string> = { ...process.env, ZOOID_STARTUP_TRACE: '1' };
  for (const v of vars) env[v.slice(0, v.indexOf('='))] = v.slice(v.indexOf('=') + 1);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-startup-'));
  const dataDir = path.join(dir, 'data');
  if (opts.data !== null) fs.cpSync(opts.data, dataDir, { recursive: true });
  else fs.mkdirSync(dataDir);
  const port = await freePort();
  const cfg = path.join(dir, 'zoo.cfg');
  fs.writeFileSync(cfg, `tickTime=2000\ndataDir=${dataDir}\nclientPort=${port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=*\nsnapCount=100000000\n`);
  const logPath = path.join(dir, 'server.log');
  const fd = fs.openSync(logPath, 'a');
  const spawnedAtMs = performance.timeOrigin + performance.now();
  const child = spawn(process.execPath, [path.join(root, 'engine', 'cli.ts'), 'server', cfg], { cwd: root, stdio: ['ignore', fd, fd], env });
  fs.closeSync(fd);
  let servingMs = -1;
  let cpu = new Map<string, number>();
  try {
    while (servingMs < 0) {
      if (child.exitCode !== null) throw new Error(`server exited: ${fs.readFileSync(logPath, 'utf8').slice(-3000)}`);
      if (performance.timeOrigin + performance.now() - spawnedAtMs > SERVING_DEADLINE_MS) throw new Error('server did not serve in time');
      try {
        const c = await LeanClient.connect({ host: '127.0.0.1', port, connectTimeoutMs: 1000 });
        try {
          await c.getData(opts.probe);
          servingMs = performance.timeOrigin + performance.now() - spawnedAtMs;
          cpu = cpuOf(child.pid!);
        } finally {
          c.disconnect();
        }
      } catch {
        await new Promise((res) => setTimeout(res, POLL_MS));
      }
    }
  } finally {
    const exited = new Promise((res) => child.once('exit', res));
    child.kill('SIGKILL');
    await exited;
  }
  const events = new Map<string, number>();
  for (const m of fs.readFileSync(logPath, 'utf8').matchAll(/^TRACE ([\d.]+) t\d+ (.+)$/gm)) {
    if (!events.has(m[2])) events.set(m[2], Number(m[1]) - spawnedAtMs);
  }
  // the pipeline's own account of its recovery (every version logs it): a duration, not a time
  const recovered = /\[pipeline\] recovered .* in (\d+) ms/.exec(fs.readFileSync(logPath, 'utf8'));
  if (recovered !== null) events.set('(duration) recovery, as the pipeline logs it', Number(recovered[1]));
  fs.rmSync(dir, { recursive: true, force: true });
  return { servingMs, events, cpu };
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const runs = new Map<string, Run[]>(opts.roots.map((r) => [r, []]));
  for (let i = 0; i < opts.runs; i++) {
    for (const root of opts.roots) {
      const r = await oneRun(root, opts);
      runs.get(root)!.push(r);
      process.stderr.write(`${root} run ${i + 1}: serving after ${r.servingMs.toFixed(0)} ms\n`);
    }
  }
  const out = [`startup, data ${opts.data ?? 'empty'}, ${opts.runs} runs per root, alternated; load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} at the end`];
  for (const [root, rs] of runs) {
    out.push(`${root}: spawn → first getData median ${median(rs.map((r) => r.servingMs)).toFixed(0)} ms (${rs.map((r) => r.servingMs.toFixed(0)).join(', ')})`);
    const names = [...new Set(rs.flatMap((r) => [...r.events.keys()]))];
    const rows = names.map((n) => [n, median(rs.map((r) => r.events.get(n) ?? NaN).filter((x) => !Number.isNaN(x)))] as const).sort((a, b) => a[1] - b[1]);
    for (const [n, ms] of rows) out.push(`  ${ms.toFixed(0).padStart(6)} ms  ${n}`);
    const counters = [...new Set(rs.flatMap((r) => [...r.cpu.keys()]))].sort();
    out.push(`  CPU once serving, median (runs): ${counters.filter((c) => rs.some((r) => (r.cpu.get(c) ?? 0) > 0)).map((c) => `${c} ${median(rs.map((r) => r.cpu.get(c) ?? 0))} (${rs.map((r) => r.cpu.get(c) ?? 0).join(', ')})`).join('; ')}`);
  }
  process.stdout.write(out.join('\n') + '\n');
}

await main();
