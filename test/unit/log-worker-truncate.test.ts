// The log worker's TRUNCATE (engine/workers/log-worker.ts): the real worker thread on a real
// topology, this test playing the pipeline — TXN records in, the durable zxid and the
// truncation count out, the files read back.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { JuteWriter } from '../../native-free-io/jute.ts';
import { buildTopology, attachRing, type Topology } from '../../engine/rings/topology.ts';
import { LogKind, TXN_RECORD_HEADER_BYTES, writeTruncate, writeTxnRecord } from '../../engine/rings/log-ring.ts';
import { CONTROL_DURABLE_ZXID, CONTROL_LOG_TRUNCATED_ZXID, CONTROL_LOG_TRUNCATIONS, CONTROL_STOP, STOP_LOG } from '../../engine/records.ts';
import { readTxnLog } from '../../engine/persistence/txnlog.ts';
import type { LogWorkerData } from '../../engine/workers/log-worker.ts';
import type { Ring } from '../../native-free-io/ring.ts';
import { waitFor } from '../support/wait.ts';

const TXN_BYTES_MAX = 2 * 0xfffff;

function createTxn(zxid: number): Buffer {
  const w = new JuteWriter(256);
  w.long(0x1000004811300a0n).int(7).longNumber(zxid).longNumber(1_700_000_000_000).int(1);
  w.string(`/n${zxid.toString(16)}`).buffer(Buffer.alloc(30, zxid & 0xff));
  w.int(1).int(31).string('world').string('anyone');
  w.bool(false).int(-1);
  return w.copy();
}

interface Harness {
  dir: string;
  ring: Ring;
  control64: BigInt64Array;
  worker: Worker;
  errors: Error[];
  append(zxids: number[]): void;
  truncate(zxid: number): void;
  durable(): number;
  truncations(): number;
  stop(): Promise<void>;
}

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) {
    await h.worker.terminate();
    fs.rmSync(h.dir, { recursive: true, force: true });
  }
});

async function start(lastZxid: number, prepare?: (dir: string) => void, snapDir?: string): Promise<Harness> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-logworker-'));
  prepare?.(dir);
  const topology: Topology = buildTopology({ ioThreads: 1, maxFrameBytes: 0xfffff + 1024, txnBytesMax: TXN_BYTES_MAX });
  const data: LogWorkerData = {
    topology, preAllocSizeBytes: 16 * 1024, forceSync: true, dir, txnBytesMax: TXN_BYTES_MAX,
    rollAfterTxns: Number.MAX_SAFE_INTEGER, batchBytesMax: 1 << 20, snapDir,
  };
  const worker = new Worker(new URL('../../engine/workers/log-worker.ts', import.meta.url), { workerData: data });
  const errors: Error[] = [];
  worker.on('error', (e) => errors.push(e));
  // the startup handshake (engine/workers/start-gate.ts): 'loaded', then 'start' with the recovered zxid, then 'ready'
  for (const [awaited, reply] of [['loaded', { type: 'start', lastZxid }], ['ready', null]] as const) {
    await new Promise<void>((resolve, reject) => {
      const onMessage = (msg: { type: string }) => {
        if (msg.type !== awaited) return;
        worker.off('message', onMessage);
        resolve();
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
    if (reply !== null) worker.postMessage(reply);
  }
  const ring = attachRing(topology, 'log', 'pipeline');
  const control64 = new BigInt64Array(topology.words.control);
  const control32 = new Int32Array(topology.words.control);
  const h: Harness = {
    dir, ring, control64, worker, errors,
    append(zxids) {
      for (const z of zxids) {
        const txn = createTxn(z);
        const at = ring.reserve(TXN_RECORD_HEADER_BYTES + txn.length);
        if (at < 0) throw new Error('log ring full');
        writeTxnRecord(ring, at, z, txn);
        ring.commitQuiet(LogKind.TXN, TXN_RECORD_HEADER_BYTES + txn.length);
      }
      ring.flushDataBell();
    },
    truncate(zxid) {
      const at = ring.reserve(8);
      if (at < 0) throw new Error('log ring full');
      writeTruncate(ring, at, zxid);
      ring.commit(LogKind.TRUNCATE, 8);
    },
    durable: () => Number(Atomics.load(control64, CONTROL_DURABLE_ZXID)),
    truncations: () => Number(Atomics.load(control64, CONTROL_LOG_TRUNCATIONS)),
    async stop() {
      const stopped = new Promise<void>((resolve) => worker.on('message', (m: { type: string }) => m.type === 'stopped' && resolve()));
      Atomics.store(control32, CONTROL_STOP, STOP_LOG);
      ring.dataBell.ring();
      await stopped;
    },
  };
  open.push(h);
  return h;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const zxidsIn = (dir: string) => [...readTxnLog(dir, 0)].map((e) => e.zxid);

describe('log worker TRUNCATE', () => {
  it('cuts the log back, sets the durable zxid back, tells the pipeline, and appends after it in a new file', async () => {
    const h = await start(0);
    h.append(range(1, 40));
    await waitFor(() => h.durable() === 40, { timeoutMs: 10_000, what: 'zxid 40 durable' });
    h.truncate(25);
    await waitFor(() => h.truncations() === 1, { timeoutMs: 10_000, what: 'the truncation done' });
    expect(Number(Atomics.load(h.control64, CONTROL_LOG_TRUNCATED_ZXID))).toBe(25);
    expect(h.durable()).toBe(25);
    expect(zxidsIn(h.dir)).toEqual(range(1, 25));
    h.append(range(26, 30));
    await waitFor(() => h.durable() === 30, { timeoutMs: 10_000, what: 'zxid 30 durable after the truncation' });
    await h.stop();
    expect(fs.readdirSync(h.dir).sort()).toEqual(['log.1', 'log.1a']);
    expect(zxidsIn(h.dir)).toEqual(range(1, 30));
    expect(h.errors).toEqual([]);
  });

  it('txns queued right before the TRUNCATE are synced first; later records wait for it', async () => {
    const h = await start(0);
    h.append(range(1, 10));
    h.truncate(7);
    h.append(range(8, 9)); // a follower's next proposals after the TRUNC: numbered after 7 again
    await waitFor(() => h.truncations() === 1 && h.durable() === 9, { timeoutMs: 10_000, what: 'the truncation, then 8..9 durable' });
    await h.stop();
    expect(zxidsIn(h.dir)).toEqual(range(1, 9));
    const files = fs.readdirSync(h.dir).sort();
    expect(files).toEqual(['log.1', 'log.8']);
  });

  it('a TRUNCATE past the end of the log changes nothing but the file in use', async () => {
    const h = await start(0);
    h.append(range(1, 5));
    h.truncate(99);
    await waitFor(() => h.truncations() === 1, { timeoutMs: 10_000, what: 'the truncation done' });
    expect(Number(Atomics.load(h.control64, CONTROL_LOG_TRUNCATED_ZXID))).toBe(5);
    expect(h.durable()).toBe(5);
    h.append([6]);
    await waitFor(() => h.durable() === 6, { timeoutMs: 10_000, what: 'zxid 6 durable' });
    await h.stop();
    expect(zxidsIn(h.dir)).toEqual(range(1, 6));
  });

  it('a snapshot newer than the zxid stops the worker (the server exits, as ZooKeeper\'s learner does)', async () => {
    const snapDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-logworker-snap-'));
    try {
      fs.writeFileSync(path.join(snapDir, 'snapshot.8'), 'x');
      const h = await start(0, undefined, snapDir);
      const exited = new Promise<number>((resolve) => h.worker.once('exit', resolve));
      h.append(range(1, 10));
      h.truncate(5);
      await exited;
      expect(h.errors.map((e) => e.message).join('\n')).toMatch(/snapshot snapshot\.8 .* holds later txns/);
      expect(h.truncations()).toBe(0);
      expect(zxidsIn(h.dir)).toEqual(range(1, 10));
    } finally {
      fs.rmSync(snapDir, { recursive: true, force: true });
    }
  });
});
