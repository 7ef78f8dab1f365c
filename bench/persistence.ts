// Persistence benchmarks: 1M znodes of 100 bytes, zooid side by side with Apache
// ZooKeeper 3.8 on the same machine, in the same session.
//
//   node bench/persistence.ts restart [--znodes N] [--bytes B] [--runs R]
//     One dataDir holding a snapshot of N znodes (/bench/pXXXX/nXXXX, 1000 per parent,
//     B bytes each), written by zooid's serializer; each server starts on a fresh copy of
//     it, R times. Measured: spawn → first getData answered ("restart to serving"),
//     resident memory once serving (VmRSS, minus the same server's RSS on an empty
//     dataDir, per znode), ZooKeeper's live heap after a full GC (jcmd GC.heap_info), and
//     the size of the snapshot each server writes of that tree (zooid: its serializer;
//     ZooKeeper: the snapshot it takes at startup).
//   node bench/persistence.ts latency [--znodes N] [--rate R] [--duration S]
//     zooid on the N-znode dataDir under an open-loop load (loadgen: R ops/s, 50% reads,
//     100-byte values, 8 connections): snapshots off (snapCount 10^9); one snapshot of the
//     whole tree during the measured window (snapCount 50000); snapshots back to back
//     (snapCount 2000: one is always in progress, ~200 MB/s of snapshot writes on the disk
//     the log fdatasyncs to). p50/p99/p99.9/max of each, and the snapshots written.
//   node bench/persistence.ts all [...]   both, then a Markdown table on stdout
//
// ZooKeeper runs as zkServer.sh runs it by default (QuorumPeerMain, -Xmx1000m, the JVM's
// default collector); zooid as `node engine/cli.ts server zoo.cfg`.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataTree } from '../engine/core/tree.ts';
import { writeSnapshotNow, listSnapshots } from '../engine/persistence/snapshot.ts';
import { OPEN_ACL_UNSAFE } from '../engine/protocol.ts';
import { LeanClient } from '../client/lean.ts';
import { freePort } from '../test/support/servers.ts';
import { machineFacts, formatMachine } from './machine.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ZK_CP = ['/usr/share/java/zookeeper.jar', '/usr/share/java/slf4j-log4j12.jar', '/usr/share/java/log4j-1.2.jar'].join(':');
const NODES_PER_PARENT = 1000;
const SERVING_DEADLINE_MS = 120_000;

type Kind = 'zooid' | 'zookeeper';
type Opts = { znodes: number; bytes: number; runs: number; rate: number; durationS: number };

function parseArgs(args: string[]): { command: string; opts: Opts } {
  const opts: Opts = { znodes: 1_000_000, bytes: 100, runs: 3, rate: 4000, durationS: 20 };
  const command = args[0] ?? 'all';
  for (let i = 1; i < args.length; i++) {
    const v = Number(args[i + 1]);
    if (args[i] === '--znodes') opts.znodes = v;
    else if (args[i] === '--bytes') opts.bytes = v;
    else if (args[i] === '--runs') opts.runs = v;
    else if (args[i] === '--rate') opts.rate = v;
    else if (args[i] === '--duration') opts.durationS = v;
    else throw new Error(`unknown option ${args[i]}`);
    i++;
  }
  return { command, opts };
}

/** A dataDir with one snapshot of the tree (cached across runs in the temp dir). */
function benchDataDir(znodes: number, bytes: number): string {
  const dir = path.join(os.tmpdir(), `zooid-bench-datadir-${znodes}-${bytes}`);
  const v2 = path.join(dir, 'version-2');
  if (fs.existsSync(v2) && listSnapshots(v2).length === 1) return dir;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(v2, { recursive: true });
  const t = new DataTree();
  const now = Date.now();
  let zxid = 1;
  t.createNode('/bench', Buffer.alloc(0), t.acls.intern(OPEN_ACL_UNSAFE), 0n, -1, zxid++, now);
  const data = Buffer.alloc(bytes, 0x61);
  for (let p = 0; p * NODES_PER_PARENT < znodes; p++) {
    const parent = `/bench/p${String(p).padStart(4, '0')}`;
    t.createNode(parent, Buffer.alloc(0), t.acls.intern(OPEN_ACL_UNSAFE), 0n, -1, zxid++, now);
    for (let i = 0; i < NODES_PER_PARENT && p * NODES_PER_PARENT + i < znodes; i++) {
      t.createNode(`${parent}/n${String(i).padStart(4, '0')}`, Buffer.from(data), t.acls.intern(OPEN_ACL_UNSAFE), 0n, -1, zxid++, now);
    }
  }
  t.lastZxid = zxid - 1;
  writeSnapshotNow(v2, t, []);
  return dir;
}

function copyDataDir(from: string | null, tag: string): string {
  const to = fs.mkdtempSync(path.join(os.tmpdir(), `zooid-bench-${tag}-`));
  if (from !== null) fs.cpSync(from, to, { recursive: true });
  return to;
}

type Running = { child: ChildProcess; port: number; dir: string; log: string; spawnedAt: number };

function launch(kind: Kind, dataDir: string, extra: Record<string, string>, port: number): Running {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `zooid-bench-${kind}-run-`));
  const cfg = path.join(dir, 'zoo.cfg');
  const lines = { tickTime: '2000', dataDir, clientPort: String(port), clientPortAddress: '127.0.0.1', 'admin.enableServer': 'false', '4lw.commands.whitelist': '*', ...extra };
  fs.writeFileSync(cfg, Object.entries(lines).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  const log = path.join(dir, 'server.log');
  const fd = fs.openSync(log, 'a');
  fs.writeFileSync(path.join(dir, 'log4j.properties'), 'log4j.rootLogger=INFO, C\nlog4j.appender.C=org.apache.log4j.ConsoleAppender\nlog4j.appender.C.layout=org.apache.log4j.PatternLayout\nlog4j.appender.C.layout.ConversionPattern=%d{ISO8601} %-5p %m%n\n');
  const spawnedAt = performance.now();
  const child = kind === 'zooid'
    ? spawn(process.execPath, [path.join(REPO, 'engine', 'cli.ts'), 'server', cfg], { cwd: REPO, stdio: ['ignore', fd, fd] })
    : spawn('java', ['-Xmx1000m', `-Dlog4j.configuration=file:${path.join(dir, 'log4j.properties')}`, '-cp', ZK_CP, 'org.apache.zookeeper.server.quorum.QuorumPeerMain', cfg], { cwd: dir, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  return { child, port, dir, log, spawnedAt };
}

/** Spawn → the first getData of `probe` answered, in ms. */
async function untilServing(r: Running, probe: string): Promise<number> {
  for (;;) {
    if (r.child.exitCode !== null) throw new Error(`server exited: ${fs.readFileSync(r.log, 'utf8').slice(-3000)}`);
    if (performance.now() - r.spawnedAt > SERVING_DEADLINE_MS) throw new Error('server did not serve in time');
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

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]) * 1024;
}

/** ZooKeeper's heap in use after a full GC (jcmd GC.run, then GC.heap_info). */
function javaLiveHeapBytes(pid: number): number {
  spawnSync('jcmd', [String(pid), 'GC.run'], { encoding: 'utf8' });
  const info = spawnSync('jcmd', [String(pid), 'GC.heap_info'], { encoding: 'utf8' }).stdout;
  // G1: "garbage-first heap   total 123456K, used 98765K"; serial: per generation
  let used = 0;
  for (const m of info.matchAll(/(?:heap|generation)\s+total \d+K, used (\d+)K/g)) used += Number(m[1]) * 1024;
  return used;
}

async function stop(r: Running): Promise<void> {
  if (r.child.exitCode === null) {
    const exited = new Promise((res) => r.child.once('exit', res));
    r.child.kill('SIGKILL');
    await exited;
  }
  fs.rmSync(r.dir, { recursive: true, force: true });
}

async function settle(ms: number): Promise<void> {
  await new Promise((res) => setTimeout(res, ms));
}

type RestartResult = { kind: Kind; servingMs: number[]; rssBytes: number; emptyRssBytes: number; liveHeapBytes: number | null; snapshotBytes: number };

async function restartBench(kind: Kind, opts: Opts, source: string): Promise<RestartResult> {
  const probe = '/bench/p0000/n0000';
  // the same server on an empty dataDir: its baseline resident memory
  const emptyDir = copyDataDir(null, `${kind}-empty`);
  const empty = launch(kind, emptyDir, {}, await freePort());
  await untilServing(empty, '/');
  await settle(2000);
  const emptyRss = rssBytes(empty.child.pid!);
  await stop(empty);
  fs.rmSync(emptyDir, { recursive: true, force: true });

  const servingMs: number[] = [];
  let rss = 0;
  let live: number | null = null;
  let snapshotBytes = 0;
  for (let run = 0; run < opts.runs; run++) {
    const dataDir = copyDataDir(source, kind);
    // drop the copy from the page cache? No: a restart after a crash finds the files cached too;
    // both servers read the same cached bytes.
    const r = launch(kind, dataDir, { snapCount: '100000000' }, await freePort());
    const ms = await untilServing(r, probe);
    servingMs.push(ms);
    process.stderr.write(`${kind} run ${run + 1}: serving ${opts.znodes} znodes after ${ms.toFixed(0)} ms\n`);
    if (run === opts.runs - 1) {
      await settle(5000);
      rss = rssBytes(r.child.pid!);
      if (kind === 'zookeeper') live = javaLiveHeapBytes(r.child.pid!);
      const snaps = listSnapshots(path.join(dataDir, 'version-2'));
      // zooid: the snapshot it reads is the one its serializer wrote; ZooKeeper: the one it took at startup
      snapshotBytes = fs.statSync(snaps[0].path).size;
    }
    await stop(r);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return { kind, servingMs, rssBytes: rss, emptyRssBytes: emptyRss, liveHeapBytes: live, snapshotBytes };
}

type LatencyResult = { label: string; opsPerSec: number; p50Ms: number; p99Ms: number; p999Ms: number; maxMs: number; errors: number; snapshots: number; skipped: number };

async function latencyRun(label: string, source: string, snapCount: string, opts: Opts): Promise<LatencyResult> {
  const dataDir = copyDataDir(source, 'latency');
  const port = await freePort();
  const r = launch('zooid', dataDir, { snapCount }, port);
  await untilServing(r, '/bench/p0000/n0000');
  const args = [path.join(REPO, 'engine', 'cli.ts'), 'loadgen', '--hosts', `127.0.0.1:${port}`, '--connections', '8', '--threads', '1', '--rate', String(opts.rate),
    '--read-pct', '50', '--value-bytes', '100', '--keys', '10000', '--duration', `${opts.durationS}s`, '--warmup', '5s', '--seed', '1', '--json', '--no-progress'];
  const run = spawnSync(process.execPath, args, { cwd: REPO, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(`loadgen failed: ${run.stderr.slice(-2000)}`);
  const result = JSON.parse(run.stdout);
  const log = fs.readFileSync(r.log, 'utf8');
  const snapshots = (log.match(/\[snapshot\] snapshot .* written/g) ?? []).length;
  const skipped = (log.match(/too busy to snap/g) ?? []).length;
  await stop(r);
  fs.rmSync(dataDir, { recursive: true, force: true });
  const ms = (us: number) => us / 1000;
  return { label, opsPerSec: result.throughputOpsPerSec, p50Ms: ms(result.all.p50Us), p99Ms: ms(result.all.p99Us), p999Ms: ms(result.all.p999Us), maxMs: ms(result.all.maxUs), errors: result.errorCount, snapshots, skipped };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const { command, opts } = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const source = benchDataDir(opts.znodes, opts.bytes);
  process.stderr.write(`dataDir ${source} ready in ${(performance.now() - started).toFixed(0)} ms\n`);
  const out: string[] = [];
  out.push(`### Persistence: ${opts.znodes.toLocaleString('en-US')} znodes of ${opts.bytes} bytes (${new Date().toISOString().slice(0, 10)})`, '');
  out.push(...formatMachine(machineFacts()), "");
  if (command === 'restart' || command === 'all') {
    const results = [await restartBench('zooid', opts, source), await restartBench('zookeeper', opts, source)];
    out.push(`Restart to serving (spawn → first getData answered), ${opts.runs} runs each, \`node bench/persistence.ts restart --znodes ${opts.znodes}\`:`, '');
    out.push('| server | restart to serving (median, runs) | resident (RSS) | RSS over empty server, per znode | live heap per znode | snapshot file |');
    out.push('|---|---|---|---|---|---|');
    for (const r of results) {
      const perZnode = (r.rssBytes - r.emptyRssBytes) / opts.znodes;
      out.push(`| ${r.kind} | ${(median(r.servingMs) / 1000).toFixed(2)} s (${r.servingMs.map((m) => (m / 1000).toFixed(2)).join(', ')}) | ${(r.rssBytes / 2 ** 20).toFixed(0)} MiB | ${perZnode.toFixed(0)} B | ${r.liveHeapBytes === null ? 'n/a' : `${(r.liveHeapBytes / opts.znodes).toFixed(0)} B`} | ${(r.snapshotBytes / 1e6).toFixed(1)} MB |`);
    }
    out.push('');
  }
  if (command === 'latency' || command === 'all') {
    // the trigger comes after snapCount/2 + random(snapCount/2) txns: with ~20k txns of setup
    // and warm-up and 2000 writes/s, snapCount 50000 starts exactly one during the measured window
    const scenarios: [string, string][] = [
      ['no snapshot', '1000000000'],
      ['one snapshot of the whole tree during the run (snapCount 50000)', '50000'],
      ['snapshots back to back (snapCount 2000: one always in progress)', '2000'],
    ];
    const results: LatencyResult[] = [];
    // scenarios interleaved, so a noisy minute on the machine hits them alike
    for (let run = 0; run < opts.runs; run++) for (const [label, snapCount] of scenarios) results.push(await latencyRun(label, source, snapCount, opts));
    out.push(`zooid latency under load (open loop ${opts.rate} ops/s, 50% getData / 50% setData of 100 B, 8 connections, ${opts.durationS} s after 5 s warm-up), tree of ${opts.znodes.toLocaleString('en-US')} znodes, ${opts.runs} runs of each, interleaved; median of the runs:`, '');
    out.push('| | p50 | p99 | p99.9 (each run) | max |');
    out.push('|---|---|---|---|---|');
    for (const [label] of scenarios) {
      const rs = results.filter((r) => r.label === label);
      out.push(`| ${label} | ${median(rs.map((r) => r.p50Ms)).toFixed(2)} ms | ${median(rs.map((r) => r.p99Ms)).toFixed(2)} ms | ${median(rs.map((r) => r.p999Ms)).toFixed(2)} ms (${rs.map((r) => r.p999Ms.toFixed(1)).join(', ')}) | ${median(rs.map((r) => r.maxMs)).toFixed(1)} ms |`);
    }
    out.push('', 'Each run:', '');
    out.push('| | ops/s | p50 | p99 | p99.9 | max | errors | snapshots written during the run |');
    out.push('|---|---|---|---|---|---|---|---|');
    for (const r of results) out.push(`| ${r.label} | ${r.opsPerSec.toFixed(0)} | ${r.p50Ms.toFixed(2)} ms | ${r.p99Ms.toFixed(2)} ms | ${r.p999Ms.toFixed(2)} ms | ${r.maxMs.toFixed(1)} ms | ${r.errors} | ${r.snapshots} (${r.skipped} triggers skipped while one ran) |`);
    out.push('');
  }
  process.stdout.write(out.join('\n') + '\n');
}

await main();
