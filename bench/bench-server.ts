// Servers for the persistence benchmarks: zooid or Apache ZooKeeper 3.8 started on a dataDir
// with a generated zoo.cfg, waited for until a getData is answered, measured (/proc RSS,
// the JVM's live heap) and stopped with SIGKILL.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LeanClient } from '../client/lean.ts';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ZK_CP = ['/usr/share/java/zookeeper.jar', '/usr/share/java/slf4j-log4j12.jar', '/usr/share/java/log4j-1.2.jar'].join(':');
const SERVING_DEADLINE_MS = 120_000;

export type Kind = 'zooid' | 'zookeeper';

/** 'k=v,k=v' (a flag's value) → zoo.cfg settings; `flag` names it in the error. */
export function configPairs(text: string, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text.split(',').filter((p) => p.trim() !== '')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`${flag}: '${pair}' is not key=value`);
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}

export function copyDataDir(from: string | null, tag: string): string {
  const to = fs.mkdtempSync(path.join(os.tmpdir(), `zooid-bench-${tag}-`));
  if (from !== null) fs.cpSync(from, to, { recursive: true });
  return to;
}

export type Running = { child: ChildProcess; port: number; dir: string; log: string; spawnedAt: number };

/** ZooKeeper's heap: -Xmx1000m as zkServer.sh, or ZOOKEEPER_BENCH_XMX (e.g. 8g). Extra node flags for zooid servers (e.g. --max-old-space-size=8192 --trace-gc), from ZOOID_BENCH_NODE_ARGS. */
export function zooidNodeArgs(): string[] {
  return (process.env.ZOOID_BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
}

export function launch(kind: Kind, dataDir: string, extra: Record<string, string>, port: number): Running {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `zooid-bench-${kind}-run-`));
  const cfg = path.join(dir, 'zoo.cfg');
  const lines = { tickTime: '2000', dataDir, clientPort: String(port), clientPortAddress: '127.0.0.1', 'admin.enableServer': 'false', '4lw.commands.whitelist': '*', ...extra };
  fs.writeFileSync(cfg, Object.entries(lines).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  const log = path.join(dir, 'server.log');
  const fd = fs.openSync(log, 'a');
  fs.writeFileSync(path.join(dir, 'log4j.properties'), 'log4j.rootLogger=INFO, C\nlog4j.appender.C=org.apache.log4j.ConsoleAppender\nlog4j.appender.C.layout=org.apache.log4j.PatternLayout\nlog4j.appender.C.layout.ConversionPattern=%d{ISO8601} %-5p %m%n\n');
  const spawnedAt = performance.now();
  const child = kind === 'zooid'
    ? spawn(process.execPath, [...zooidNodeArgs(), path.join(REPO, 'engine', 'cli.ts'), 'server', cfg], { cwd: REPO, stdio: ['ignore', fd, fd] })
    : spawn('java', [`-Xmx${process.env.ZOOKEEPER_BENCH_XMX ?? '1000m'}`, `-Dlog4j.configuration=file:${path.join(dir, 'log4j.properties')}`, '-cp', ZK_CP, 'org.apache.zookeeper.server.quorum.QuorumPeerMain', cfg], { cwd: dir, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  return { child, port, dir, log, spawnedAt };
}

/** Spawn → the first getData of `probe` answered, in ms. */
export async function untilServing(r: Running, probe: string, deadlineMs = SERVING_DEADLINE_MS): Promise<number> {
  for (;;) {
    if (r.child.exitCode !== null) throw new Error(`server exited: ${fs.readFileSync(r.log, 'utf8').slice(-3000)}`);
    if (performance.now() - r.spawnedAt > deadlineMs) throw new Error('server did not serve in time');
    try {
      const c = await LeanClient.connect({ host: '127.0.0.1', port: r.port, connectTimeoutMs: 1000 });
      try {
        await c.getData(probe);
        return performance.now() - r.spawnedAt;
      } finally {
        c.disconnect();
      }
    } catch {
      await new Promise((res) => setTimeout(res, 20));
    }
  }
}

export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]) * 1024;
}

/** ZooKeeper's heap in use after a full GC (jcmd GC.run, then GC.heap_info). */
export function javaLiveHeapBytes(pid: number): number {
  spawnSync('jcmd', [String(pid), 'GC.run'], { encoding: 'utf8' });
  const info = spawnSync('jcmd', [String(pid), 'GC.heap_info'], { encoding: 'utf8' }).stdout;
  // G1: "garbage-first heap   total 123456K, used 98765K"; serial: per generation
  let used = 0;
  for (const m of info.matchAll(/(?:heap|generation)\s+total \d+K, used (\d+)K/g)) used += Number(m[1]) * 1024;
  return used;
}

export async function stop(r: Running): Promise<void> {
  if (r.child.exitCode === null && r.child.signalCode === null) {
    const exited = new Promise((res) => r.child.once('exit', res));
    r.child.kill('SIGKILL');
    await exited;
  }
  // ZOOID_BENCH_LOG_DIR: keep each server's log (e.g. with --trace-gc in ZOOID_BENCH_NODE_ARGS)
  const keep = process.env.ZOOID_BENCH_LOG_DIR;
  if (keep !== undefined) fs.copyFileSync(r.log, path.join(keep, `${path.basename(r.dir)}.log`));
  fs.rmSync(r.dir, { recursive: true, force: true });
}

export async function settle(ms: number): Promise<void> {
  await new Promise((res) => setTimeout(res, ms));
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

