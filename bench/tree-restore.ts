// Restart work in one process (issue 13): a dataDir holding a snapshot of N znodes of B
// bytes (/bench/pXXXX/nXXXX, 1000 per parent, as bench/persistence.ts) and a log tail of
// T setData txns on random ones of them (seeded), recovered with recoverState into a
// fresh state holder, R times. Prints the snapshot load (ms), the replay (ms, txns/s) and
// the V8 heap in use after the load.
//
//   node --expose-gc bench/tree-restore.ts [--znodes N] [--bytes B] [--txns T] [--runs R]
//
// The dataDir is cached in the temp dir across runs (it is built with the same code
// under test: the snapshot and log formats are ZooKeeper's, fixed).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { DataTree } from '../engine/core/tree.ts';
import { encodeTxn } from '../engine/core/txn.ts';
import { writeSnapshotNow, listSnapshots } from '../engine/persistence/snapshot.ts';
import { TxnLogWriter } from '../engine/persistence/txnlog.ts';
import { recoverState, stateHolder } from '../engine/persistence/recovery.ts';
import { OPEN_ACL_UNSAFE, Op } from '../engine/protocol.ts';
import { JuteWriter } from '../native-free-io/jute.ts';
import { seededRandom } from '../loadgen/random.ts';

const { values } = parseArgs({ options: {
  znodes: { type: 'string', default: '1000000' }, bytes: { type: 'string', default: '100' },
  txns: { type: 'string', default: '850000' }, runs: { type: 'string', default: '3' },
} });
const znodes = Number(values.znodes);
const bytes = Number(values.bytes);
const txns = Number(values.txns);
const runs = Number(values.runs);
const NODES_PER_PARENT = 1000;
const TXN_BYTES_MAX = 2 * 0xfffff;
const gc = (globalThis as { gc?: () => void }).gc;

function nodePath(i: number): string {
  return `/bench/p${String(Math.floor(i / NODES_PER_PARENT)).padStart(4, '0')}/n${String(i % NODES_PER_PARENT).padStart(4, '0')}`;
}

function buildDataDir(): string {
  const dir = path.join(os.tmpdir(), `zooid-bench-restore-${znodes}-${bytes}-${txns}`);
  const v2 = path.join(dir, 'version-2');
  if (fs.existsSync(path.join(dir, 'done'))) return v2;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(v2, { recursive: true });
  const t = new DataTree();
  const now = Date.now();
  let zxid = 0x1_0000_0001;
  t.createNode('/bench', Buffer.alloc(0), t.acls.intern(OPEN_ACL_UNSAFE), 0n, -1, zxid++, now);
  const data = Buffer.alloc(bytes, 0x61);
  for (let i = 0; i < znodes; i++) {
    if (i % NODES_PER_PARENT === 0) t.createNode(nodePath(i).slice(0, 12), Buffer.alloc(0), t.acls.intern(OPEN_ACL_UNSAFE), 0n, -1, zxid++, now);
    t.createNode(nodePath(i), Buffer.from(data), t.acls.intern(OPEN_ACL_UNSAFE), 0n, -1, zxid++, now);
  }
  t.lastZxid = zxid - 1;
  writeSnapshotNow(v2, t, []);
  const log = new TxnLogWriter({ dir: v2, preAllocBytes: 0, forceSync: false, lastLoggedZxid: t.lastZxid, txnBytesMax: TXN_BYTES_MAX });
  const random = seededRandom(13); // the same log for every build
  const w = new JuteWriter();
  const value = Buffer.alloc(bytes, 0x62);
  for (let i = 0; i < txns; i++) {
    const hdr = { sessionId: 0x100n, cxid: i, zxid: zxid++, timeMs: now + i, type: Op.setData };
    encodeTxn(w.reset(), hdr, { type: Op.setData, path: nodePath(Math.floor(random() * znodes)), data: value, version: -1 });
    log.append(hdr.zxid, w.buf.subarray(0, w.offset));
    if (i % 10_000 === 9_999) log.flush();
  }
  log.flush();
  log.close();
  fs.writeFileSync(path.join(dir, 'done'), '');
  return v2;
}

const built = performance.now();
const v2 = buildDataDir();
process.stderr.write(`dataDir ${v2} ready in ${(performance.now() - built).toFixed(0)} ms (${listSnapshots(v2).length} snapshot)\n`);
/** CPU time of the whole process (collector threads, the snapshot's checksum thread), ms. */
function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** CPU time of this thread (the pipeline's work: parse, tree, replay), ms. */
function threadCpuMs(): number {
  const u = (process as unknown as { threadCpuUsage(): { user: number; system: number } }).threadCpuUsage();
  return (u.user + u.system) / 1000;
}

for (let run = 0; run < runs; run++) {
  gc?.();
  const holder = stateHolder(TXN_BYTES_MAX);
  const replay = holder.replay.bind(holder);
  let replayCpuStartMs = -1;
  let replayProcessCpuStartMs = -1;
  holder.replay = (bytes: Buffer): void => {
    if (replayCpuStartMs < 0) {
      replayCpuStartMs = threadCpuMs();
      replayProcessCpuStartMs = processCpuMs();
    }
    replay(bytes);
  };
  const cpuStartMs = threadCpuMs();
  const processCpuStartMs = processCpuMs();
  const report = recoverState(holder, { snapDir: v2, logDir: v2, txnBytesMax: TXN_BYTES_MAX, nowMs: 0, warn: (m) => process.stderr.write(`${m}\n`), repair: false });
  const cpuEndMs = threadCpuMs();
  const processCpuEndMs = processCpuMs();
  const heapMiB = process.memoryUsage().heapUsed / 2 ** 20;
  const replayCpuMs = cpuEndMs - replayCpuStartMs;
  const replayProcessCpuMs = processCpuEndMs - replayProcessCpuStartMs;
  console.log(`run ${run + 1}: ${report.snapshotNodeCount} znodes loaded in ${report.loadMs.toFixed(0)} ms ` +
    `(CPU: thread ${(replayCpuStartMs - cpuStartMs).toFixed(0)} ms, process ${(replayProcessCpuStartMs - processCpuStartMs).toFixed(0)} ms); ` +
    `${report.txnCount} txns replayed in ${report.replayMs.toFixed(0)} ms (${Math.round(report.txnCount / (report.replayMs / 1000))} txns/s; ` +
    `CPU: thread ${replayCpuMs.toFixed(0)} ms, process ${replayProcessCpuMs.toFixed(0)} ms, ${Math.round(report.txnCount / (replayProcessCpuMs / 1000))} txns per process CPU s); heap in use ${heapMiB.toFixed(0)} MiB`);
}
