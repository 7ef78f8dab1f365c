// Which log files startup recovery reads (engine/persistence/recovery.ts, txnlog.ts): those
// that can hold txns after the snapshot's zxid, chosen from zxid + 1 as ZooKeeper's
// fastForwardFromEdits reads from lastProcessedZxid + 1. On real files: our writer's logs
// with a snapshot at, inside and after a file's range, and a dataDir Apache ZooKeeper 3.8
// wrote with many rolled logs and fuzzy snapshots.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { JuteWriter } from '../../native-free-io/jute.ts';
import { TxnLogWriter, listLogFiles, readTxnLog } from '../../engine/persistence/txnlog.ts';
import { listSnapshots, writeSnapshotNow } from '../../engine/persistence/snapshot.ts';
import { RecoveryError, recoverState, stateHolder } from '../../engine/persistence/recovery.ts';
import { startZooKeeper, connectWhenServing } from '../support/servers.ts';

const TXN_BYTES_MAX = 2 * 0xfffff;
const PREALLOC = 16 * 1024;

/** TxnHeader + CreateTxn of /n<zxid hex> (no parent beyond /). */
function createTxn(zxid: number): Buffer {
  const w = new JuteWriter(256);
  w.long(0x1000004811300a0n).int(7).longNumber(zxid).longNumber(1_700_000_000_000).int(1);
  w.string(`/n${zxid.toString(16)}`).buffer(Buffer.alloc(20, zxid & 0xff));
  w.int(1).int(31).string('world').string('anyone');
  w.bool(false).int(-1);
  return w.copy();
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

let root: string;
let n = 0;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-logselect-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

/**
 * A dataDir with one log file per group of zxids and a snapshot of the tree after
 * snapshotZxid (every txn up to it applied).
 */
function dataDir(groups: number[][], snapshotZxid: number): string {
  const dir = path.join(root, `d${n++}`);
  fs.mkdirSync(dir);
  const w = new TxnLogWriter({ dir, preAllocBytes: PREALLOC, forceSync: false, lastLoggedZxid: groups[0][0] - 1 });
  const state = stateHolder(TXN_BYTES_MAX);
  for (const g of groups) {
    for (const z of g) {
      w.append(z, createTxn(z));
      if (z <= snapshotZxid) state.replay(createTxn(z));
    }
    w.roll();
  }
  w.close();
  if (state.tree.lastZxid < snapshotZxid) state.tree.lastZxid = snapshotZxid; // a snapshot past the logs' end
  writeSnapshotNow(dir, state.tree, []);
  return dir;
}

/** Recovers dir, recording which log files were opened. */
function recover(dir: string): { zxid: number; txnCount: number; opened: string[]; nodes: number[] } {
  const opened: string[] = [];
  const openSync = fs.openSync;
  vi.spyOn(fs, 'openSync').mockImplementation(((p: fs.PathLike, ...rest: unknown[]) => {
    const name = path.basename(String(p));
    if (name.startsWith('log.')) opened.push(name);
    return (openSync as (...a: unknown[]) => number)(p, ...rest);
  }) as typeof fs.openSync);
  const state = stateHolder(TXN_BYTES_MAX);
  let report;
  try {
    report = recoverState(state, { snapDir: dir, logDir: dir, txnBytesMax: TXN_BYTES_MAX, nowMs: 0, warn: () => {} });
  } finally {
    vi.restoreAllMocks();
  }
  const nodes = range(1, NODE_ZXID_MAX).filter((z) => state.tree.get(`/n${z.toString(16)}`) !== undefined);
  expect(state.tree.nodeCount()).toBe(BASE_NODES + nodes.length);
  return { zxid: state.tree.lastZxid, txnCount: report.txnCount, opened: [...new Set(opened)], nodes };
}

/** /, /zookeeper, /zookeeper/quota, /zookeeper/config. */
const BASE_NODES = 4;
/** The largest zxid these tests log. */
const NODE_ZXID_MAX = 40;

describe('recovery reads the logs from the snapshot zxid + 1 on', () => {
  // log.1 holds 1..10, log.b 11..20, log.15 21..30
  const groups = [range(1, 10), range(11, 20), range(21, 30)];

  it('a snapshot inside a file: that file and the later ones', () => {
    const r = recover(dataDir(groups, 15));
    expect(r.opened).toEqual(['log.b', 'log.15']);
    expect(r).toMatchObject({ zxid: 30, txnCount: 15 });
    expect(r.nodes).toEqual(range(1, 30));
  });

  it('a snapshot at the last zxid of a file: only the files after it', () => {
    const r = recover(dataDir(groups, 10));
    expect(r.opened).toEqual(['log.b', 'log.15']);
    expect(r).toMatchObject({ zxid: 30, txnCount: 20 });
    expect(r.nodes).toEqual(range(1, 30));
  });

  it('a snapshot at the first zxid of a file: that file (its first txn is skipped) and the later ones', () => {
    const r = recover(dataDir(groups, 11));
    expect(r.opened).toEqual(['log.b', 'log.15']);
    expect(r).toMatchObject({ zxid: 30, txnCount: 19 });
  });

  it('a snapshot one before a file boundary: the file holding its zxid + 1 and the later ones', () => {
    const r = recover(dataDir(groups, 9));
    expect(r.opened).toEqual(['log.1', 'log.b', 'log.15']);
    expect(r).toMatchObject({ zxid: 30, txnCount: 21 });
  });

  it('no txn logged after the snapshot: the last file is read (and checked), nothing replayed', () => {
    const r = recover(dataDir(groups, 30));
    expect(r.opened).toEqual(['log.15']);
    expect(r).toMatchObject({ zxid: 30, txnCount: 0 });
    expect(r.nodes).toEqual(range(1, 30));
  });

  it('a snapshot past every log (the logs after it purged or lost): the snapshot alone', () => {
    const r = recover(dataDir(groups, 40));
    expect(r.opened).toEqual(['log.15']);
    expect(r).toMatchObject({ zxid: 40, txnCount: 0 });
  });

  it('an older file with damage in it is not read once a later file starts right after the snapshot', () => {
    const dir = dataDir(groups, 10);
    // a damaged byte in the middle of log.1 (not the last file: corruption if it were read)
    const log1 = path.join(dir, 'log.1');
    const bytes = fs.readFileSync(log1);
    bytes[200] ^= 0xff;
    fs.writeFileSync(log1, bytes);
    expect(recover(dir)).toMatchObject({ zxid: 30, txnCount: 20, opened: ['log.b', 'log.15'] });
  });

  it('a missing file after the snapshot is still a gap that refuses to start', () => {
    const dir = dataDir(groups, 15);
    fs.rmSync(path.join(dir, 'log.b'));
    const refused = (() => {
      try {
        recover(dir);
        return null;
      } catch (err) {
        return err;
      }
    })();
    expect(refused).toBeInstanceOf(RecoveryError);
    expect((refused as Error).message).toMatch(/jumps from zxid 0xf to 0x15/);
  });

  it('a torn empty last file right after the snapshot is removed, the older file still read', () => {
    const dir = dataDir([range(1, 10), range(11, 20)], 20);
    fs.writeFileSync(path.join(dir, 'log.15'), Buffer.alloc(0)); // created, crashed before its header
    const r = recover(dir);
    expect(r).toMatchObject({ zxid: 20, txnCount: 0 });
    expect(listLogFiles(dir).map((f) => f.name)).toEqual(['log.1', 'log.b']);
  });
});

describe('a dataDir Apache ZooKeeper 3.8 wrote', () => {
  it('recovers the same tree and zxid from its fuzzy snapshots and rolled logs', async () => {
    const dataDirPath = path.join(root, 'zk');
    // snapCount 10: a roll and a snapshot every 5..10 txns, taken while txns go on (fuzzy)
    const zk = await startZooKeeper({ dataDir: dataDirPath, systemProperties: { 'zookeeper.snapCount': '10' } });
    const expected = new Map<string, string>();
    try {
      const c = await connectWhenServing(zk);
      for (let i = 0; i < 60; i++) {
        await c.create(`/z${i}`, Buffer.from(`v${i}`));
        expected.set(`/z${i}`, `v${i}`);
        if (i % 3 === 0) {
          await c.setData(`/z${i}`, Buffer.from(`w${i}`));
          expected.set(`/z${i}`, `w${i}`);
        }
        if (i % 7 === 0 && i > 0) {
          await c.delete(`/z${i - 1}`);
          expected.delete(`/z${i - 1}`);
        }
      }
      c.disconnect();
    } finally {
      await zk.stop();
    }
    const v2 = path.join(dataDirPath, 'version-2');
    expect(listLogFiles(v2).length).toBeGreaterThan(5);
    expect(listSnapshots(v2).length).toBeGreaterThan(5);
    const lastLogged = [...readTxnLog(v2, 0)].at(-1)!.zxid;

    const state = stateHolder(TXN_BYTES_MAX);
    recoverState(state, { snapDir: v2, logDir: v2, txnBytesMax: TXN_BYTES_MAX, nowMs: 0, warn: () => {} });
    expect(state.tree.lastZxid).toBe(lastLogged);
    const got = new Map<string, string>();
    for (let i = 0; i < 60; i++) {
      const node = state.tree.get(`/z${i}`);
      if (node !== undefined) got.set(`/z${i}`, node.data.toString());
    }
    expect(got).toEqual(expected);
    expect(state.tree.nodeCount()).toBe(BASE_NODES + expected.size);
  }, 60_000);
});
