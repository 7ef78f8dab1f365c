// Memory benchmarks (issue 13): a zooid server's resident memory in the shapes where it
// grew and was not given back, measured from outside (VmRSS of the process, each thread's
// V8 heap from /metrics), during a load and while it sits idle after it.
//
//   node bench/memory.ts idle                  RSS of a fresh, empty server; where it goes
//   node bench/memory.ts churn [--seconds S]   16 connections × 20 setData in flight on
//                                              10,000 keys of 1 KiB (loadgen), then idle
//   node bench/memory.ts watches [--events N]  N watch events fired (loadgen's watch mix:
//                                              getData(watch) + setData), then idle
//   node bench/memory.ts sessions [--count N]  N sessions held open (loadgen, 1 op/s each),
//                                              then closed, then idle
//   node bench/memory.ts znodes [--count N]    a server started on a dataDir holding a
//                                              snapshot of N znodes of 100 bytes (as
//                                              bench/persistence.ts's), idle once serving;
//                                              RSS per znode over the same server empty
//
// Each prints one line per sample (seconds, RSS, per-thread heap in use / reserved /
// external) and a summary line: RSS at start, at the end of the load, peak, and after
// --idle seconds (default 30) with no client. --json prints the samples as JSON.
// The server runs as `node engine/cli.ts server zoo.cfg` (test/support/servers.ts), one io
// worker by default on a 2-core machine; extra zoo.cfg lines with --cfg key=value.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { freePort, startZooid, REPO_ROOT, type ServerHandle } from '../test/support/servers.ts';
import { rssBytes, threadHeapsMiB } from '../test/support/probes.ts';
import { processCpuMs } from './proc.ts';
import fs from 'node:fs';
import os from 'node:os';
import { DataTree } from '../engine/core/tree.ts';
import { writeSnapshotNow } from '../engine/persistence/snapshot-writer.ts';
import { OPEN_ACL_UNSAFE } from '../engine/protocol.ts';

const MiB = 1024 * 1024;
const mib = (b: number): number => Math.round((b / MiB) * 10) / 10;

interface Sample {
  atS: number;
  phase: string;
  rssMiB: number;
  heaps: Record<string, number>;
}


function formatHeaps(h: Record<string, number>): string {
  const threads = [...new Set(Object.keys(h).map((k) => k.slice(0, k.lastIndexOf('.'))))];
  return threads.map((t) => `${t} ${h[`${t}.used`]}/${h[`${t}.total`]}/${h[`${t}.external`]}`).join('  ');
}

class Recorder {
  readonly samples: Sample[] = [];
  private readonly t0 = performance.now();
  private readonly server: ServerHandle;
  private readonly metricsPort: number;
  private readonly quiet: boolean;
  phase = 'start';
  constructor(server: ServerHandle, metricsPort: number, quiet: boolean) {
    this.server = server;
    this.metricsPort = metricsPort;
    this.quiet = quiet;
  }

  async sample(): Promise<Sample> {
    const s: Sample = {
      atS: Math.round((performance.now() - this.t0) / 100) / 10,
      phase: this.phase,
      rssMiB: mib(rssBytes(this.server.pid)),
      heaps: await threadHeapsMiB(this.metricsPort).catch(() => ({})),
    };
    this.samples.push(s);
    if (!this.quiet) console.log(`${s.atS.toFixed(1).padStart(6)} s  ${s.phase.padEnd(6)} RSS ${s.rssMiB.toFixed(1).padStart(7)} MiB  heaps used/total/external MiB: ${formatHeaps(s.heaps)}`);
    return s;
  }

  /** Samples every intervalMs until done resolves. */
  async during(done: Promise<unknown>, intervalMs: number): Promise<void> {
    let finished = false;
    void done.finally(() => (finished = true));
    while (!finished) {
      await this.sample();
      await Promise.race([done, new Promise((r) => setTimeout(r, intervalMs))]).catch(() => undefined);
    }
  }
}

function loadgen(port: number, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'loadgen', 'cli.ts'), '--hosts', `127.0.0.1:${port}`, '--no-progress', '--seed', '1', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`loadgen exited ${code}: ${out.slice(-2000)}`))));
  });
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      seconds: { type: 'string', default: '30' },
      events: { type: 'string', default: '1000000' },
      count: { type: 'string', default: '10000' },
      idle: { type: 'string', default: '30' },
      cfg: { type: 'string', multiple: true, default: [] },
      json: { type: 'boolean', default: false },
    },
  });
  const scenario = positionals[0] ?? 'idle';
  const metricsPort = await freePort();
  const dataDir = scenario === 'znodes' ? snapshotDataDir(Number(values.count), 100) : undefined;
  const extra = Object.fromEntries(values.cfg.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  const server = await startZooid({
    config: {
      'metricsProvider.className': 'org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider',
      'metricsProvider.httpPort': String(metricsPort),
      'metricsProvider.httpHost': '127.0.0.1',
      maxClientCnxns: '0',
      ...extra,
    },
    dataDir,
    readyTimeoutMs: 120_000,
  });
  const rec = new Recorder(server, metricsPort, values.json);
  const idleS = Number(values.idle);
  let loadSummary = '';
  try {
    await new Promise((r) => setTimeout(r, 2000));
    const start = await rec.sample();
    const cpuAtStartMs = processCpuMs(server.pid);
    if (scenario === 'churn') {
      rec.phase = 'load';
      const run = loadgen(server.port, ['--connections', '16', '--outstanding', '20', '--mix', 'set:1', '--keys', '10000', '--value-bytes', '1024', '--duration', `${values.seconds}s`, '--warmup', '0s']);
      await rec.during(run, 2000);
      loadSummary = summaryLine(await run);
    } else if (scenario === 'watches') {
      // each watch op fires one event: getData(watch) then setData on the same key
      const ratePerS = 20_000;
      const seconds = Math.ceil(Number(values.events) / ratePerS);
      rec.phase = 'load';
      const run = loadgen(server.port, ['--connections', '16', '--outstanding', '20', '--mix', 'watch:1', '--keys', '10000', '--value-bytes', '100', '--duration', `${seconds}s`, '--warmup', '0s']);
      await rec.during(run, 2000);
      loadSummary = summaryLine(await run);
    } else if (scenario === 'sessions') {
      const count = Number(values.count);
      const seconds = Number(values.seconds);
      rec.phase = 'held';
      const run = loadgen(server.port, ['--connections', String(count), '--threads', '1', '--rate', String(Math.max(1, Math.floor(count / 10))), '--mix', 'get:1', '--keys', '100', '--value-bytes', '100', '--duration', `${seconds}s`, '--warmup', '0s', '--connect-timeout', '30s']);
      await rec.during(run, 2000);
      loadSummary = summaryLine(await run);
    } else if (scenario !== 'idle' && scenario !== 'znodes') {
      throw new Error(`unknown scenario ${scenario} (idle, churn, watches, sessions, znodes)`);
    }
    const end = rec.samples.at(-1)!;
    const loadCpuS = (processCpuMs(server.pid) - cpuAtStartMs) / 1000;
    rec.phase = 'idle';
    const idleUntil = performance.now() + idleS * 1000;
    while (performance.now() < idleUntil) {
      await new Promise((r) => setTimeout(r, 5000));
      await rec.sample();
    }
    const last = rec.samples.at(-1)!;
    const map = residentByMapping(server.pid);
    const peak = Math.max(...rec.samples.map((s) => s.rssMiB));
    if (values.json) console.log(JSON.stringify({ scenario, samples: rec.samples }));
    if (scenario === 'znodes') console.log(server.logTail(200).split('\n').find((l) => l.includes('recovered')) ?? '');
    for (const line of server.logTail(400).split('\n')) if (line.includes('idle memory trim')) console.log(line);
    console.log(`${scenario}: RSS start ${start.rssMiB} MiB, end of load ${end.rssMiB}, peak ${peak}, after ${idleS} s idle ${last.rssMiB}; server CPU during the load ${loadCpuS.toFixed(1)} s` +
      `${loadSummary === '' ? '' : ` (${loadSummary})`}; heaps then: ${formatHeaps(last.heaps)}; resident by mapping (MiB): ${JSON.stringify(map)}`);
  } catch (err) {
    console.error(`server log tail:\n${server.logTail(40)}`);
    throw err;
  } finally {
    await server.stop();
    if (dataDir !== undefined) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * Where the resident memory is, from /proc/<pid>/smaps: the node binary and other files,
 * the main thread's malloc heap ([heap]), and anonymous mappings (V8's heap pages, the
 * threads' malloc arenas, stacks, SharedArrayBuffers: smaps cannot tell them apart).
 */
function residentByMapping(pid: number): Record<string, number> {
  const out: Record<string, number> = { file: 0, heap: 0, anon: 0 };
  let key = 'anon';
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const m = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m !== null) key = m[1].startsWith('/') ? 'file' : m[1] === '[heap]' ? 'heap' : 'anon';
    else if (line.startsWith('Rss:')) out[key] += Number(line.split(/\s+/)[1]) / 1024;
  }
  for (const k of Object.keys(out)) out[k] = Math.round(out[k] * 10) / 10;
  return out;
}

/** A fresh dataDir holding one snapshot of `znodes` znodes of `bytes` bytes (/bench/pXXXX/nXXXX, 1000 per parent). */
function snapshotDataDir(znodes: number, bytes: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-memory-znodes-'));
  const v2 = path.join(dir, 'version-2');
  fs.mkdirSync(v2);
  const t = new DataTree();
  const now = Date.now();
  let zxid = 1;
  t.createNode('/bench', Buffer.alloc(0), t.acls.intern(OPEN_ACL_UNSAFE), 0n, -1, zxid++, now);
  const data = Buffer.alloc(bytes, 0x61);
  for (let p = 0; p * 1000 < znodes; p++) {
    const parent = `/bench/p${String(p).padStart(4, '0')}`;
    t.createNode(parent, Buffer.alloc(0), t.acls.intern(OPEN_ACL_UNSAFE), 0n, -1, zxid++, now);
    for (let i = 0; i < 1000 && p * 1000 + i < znodes; i++) {
      t.createNode(`${parent}/n${String(i).padStart(4, '0')}`, data, t.acls.intern(OPEN_ACL_UNSAFE), 0n, -1, zxid++, now);
    }
  }
  t.lastZxid = zxid - 1;
  writeSnapshotNow(v2, t, []);
  return dir;
}

/** loadgen's throughput line, for the summary. */
function summaryLine(out: string): string {
  const line = out.split('\n').find((l) => /ops\/s/.test(l));
  return line === undefined ? '' : line.trim().replace(/\s+/g, ' ').slice(0, 160);
}

await main();
