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
//   node bench/persistence.ts latency [--znodes N] [--rate R] [--duration S] [--read-pct P] [--zooid-config k=v,...]
//     zooid on the N-znode dataDir under an open-loop load (loadgen: R ops/s, 50% reads,
//     100-byte values, 8 connections): snapshots off (snapCount 10^9); one snapshot of the
//     whole tree during the measured window (snapCount 50000); snapshots back to back
//     (snapCount 2000: one is always in progress, ~200 MB/s of snapshot writes on the disk
//     the log fdatasyncs to). p50/p99/p99.9/max of each, and the snapshots written.
//   node bench/persistence.ts all [...]   both, then a Markdown table on stdout
//   node bench/persistence.ts scale [--znodes N] [--bytes B] [--rate R] [--duration S] [--runs K] [--read-pct P] [--zooid-config k=v,...]
//     (npm run bench:scale) issue 13's 10M-znode scenario on one server: filled through the
//     client protocol, snapshotted, restarted after SIGKILL, served during snapshots;
//     bench/scale.ts says how. Default 10,000,000 znodes, 3 runs of the load.
//
// ZooKeeper runs as zkServer.sh runs it by default (QuorumPeerMain, -Xmx1000m, the JVM's
// default collector); zooid as `node engine/cli.ts server zoo.cfg`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataTree } from '../engine/core/tree.ts';
import { writeSnapshotNow, listSnapshots } from '../engine/persistence/snapshot.ts';
import { OPEN_ACL_UNSAFE } from '../engine/protocol.ts';
import { freePort } from '../test/support/servers.ts';
import { machineFacts, formatMachine } from './machine.ts';
import { REPO, type Kind, configPairs, copyDataDir, launch, untilServing, rssBytes, javaLiveHeapBytes, stop, settle, median } from './bench-server.ts';
import { scaleScenario, type ScaleOpts } from './scale.ts';

const NODES_PER_PARENT = 1000;

type Opts = { znodes: number; bytes: number; runs: number; rate: number; durationS: number; readPct: number; zooidConfig: Record<string, string> };

function parseArgs(args: string[]): { command: string; opts: Opts } {
  const opts: Opts = { znodes: 1_000_000, bytes: 100, runs: 3, rate: 4000, durationS: 20, readPct: 50, zooidConfig: {} };
  const command = args[0] ?? 'all';
  for (let i = 1; i < args.length; i++) {
    const v = Number(args[i + 1]);
    if (args[i] === '--znodes') opts.znodes = v;
    else if (args[i] === '--bytes') opts.bytes = v;
    else if (args[i] === '--runs') opts.runs = v;
    else if (args[i] === '--rate') opts.rate = v;
    else if (args[i] === '--duration') opts.durationS = v;
    else if (args[i] === '--read-pct') opts.readPct = v;
    else if (args[i] === '--zooid-config') opts.zooidConfig = configPairs(args[i + 1] ?? '', '--zooid-config');
    else throw new Error(`unknown option ${args[i]}`);
    i++;
  }
  return { command, opts };
}

/** The zoo.cfg lines --zooid-config added, for the results' header ('' without). */
function extraConfigText(opts: Opts): string {
  const pairs = Object.entries(opts.zooidConfig);
  return pairs.length === 0 ? '' : `; zooid's zoo.cfg adds ${pairs.map(([k, v]) => `${k}=${v}`).join(', ')}`;
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
  const r = launch('zooid', dataDir, { ...opts.zooidConfig, snapCount }, port);
  await untilServing(r, '/bench/p0000/n0000');
  const args = [path.join(REPO, 'engine', 'cli.ts'), 'loadgen', '--hosts', `127.0.0.1:${port}`, '--connections', '8', '--threads', '1', '--rate', String(opts.rate),
    '--read-pct', String(opts.readPct), '--value-bytes', '100', '--keys', '10000', '--duration', `${opts.durationS}s`, '--warmup', '5s', '--seed', '1', '--json', '--no-progress'];
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

async function main(): Promise<void> {
  const { command, opts } = parseArgs(process.argv.slice(2));
  if (command === 'scale') return scaleMain(opts);
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
    out.push(`zooid latency under load (open loop ${opts.rate} ops/s, ${opts.readPct}% getData / ${100 - opts.readPct}% setData of 100 B, 8 connections, ${opts.durationS} s after 5 s warm-up), tree of ${opts.znodes.toLocaleString('en-US')} znodes, ${opts.runs} runs of each, interleaved${extraConfigText(opts)}; median of the runs:`, '');
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

async function scaleMain(opts: Opts): Promise<void> {
  const argv = process.argv.slice(2);
  const scale: ScaleOpts = { ...opts, znodes: argv.includes('--znodes') ? opts.znodes : 10_000_000, runs: argv.includes('--runs') ? opts.runs : 3 };
  const out = [`### Scale: ${scale.znodes.toLocaleString('en-US')} znodes of ${scale.bytes} bytes (${new Date().toISOString().slice(0, 10)})`, '', ...formatMachine(machineFacts()), ''];
  out.push(`\`node bench/persistence.ts ${argv.join(' ')}\`; zooid ${spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).stdout.trim()}, standalone, fsync on (forceSync default), snapCount 10^9 (snapshots by csnp only)${extraConfigText(opts)}`, '');
  out.push(...(await scaleScenario(scale)));
  process.stdout.write(out.join('\n') + '\n');
}

await main();
