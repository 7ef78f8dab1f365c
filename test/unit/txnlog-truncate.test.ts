// truncateTxnLog on real log files, each case run on a copy by ZooKeeper 3.8's own
// FileTxnLog.truncate too (test/support/zk-oracle.ts): where ZooKeeper truncates, the
// directories must come out byte for byte the same; where it does something else (zxid not in
// the log), the difference is the documented one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { JuteWriter } from '../../native-free-io/jute.ts';
import { LOG_HEADER_BYTES, TxnLogTruncateError, TxnLogWriter, listLogFiles, readTxnLog, truncateTxnLog } from '../../engine/persistence/txnlog.ts';
import { zkTruncate } from '../support/zk-oracle.ts';
import { Pipeline, type PipelineOptions } from '../../engine/core/pipeline.ts';
import { Op, OPEN_ACL_UNSAFE, writeAcls } from '../../engine/protocol.ts';
import { SnapshotFileWriter, SnapshotSerializer } from '../../engine/persistence/snapshot.ts';
import { recoverState } from '../../engine/persistence/recovery.ts';

const E1 = 0x1_0000_0000;
const E2 = 0x2_0000_0000;
const PREALLOC = 16 * 1024;

/** TxnHeader + CreateTxn of /n<zxid hex> (no parent beyond /). */
function createTxn(zxid: number): Buffer {
  const w = new JuteWriter(256);
  w.long(0x1000004811300a0n).int(7).longNumber(zxid).longNumber(1_700_000_000_000).int(1);
  w.string(`/n${zxid.toString(16)}`).buffer(Buffer.alloc(20 + (zxid % 7), zxid & 0xff));
  w.int(1).int(31).string('world').string('anyone');
  w.bool(false).int(-1);
  return w.copy();
}

/** One log file per group of zxids (each rolled, so each file is complete and synced). */
function writeLog(dir: string, groups: number[][], preAllocBytes = PREALLOC): void {
  fs.mkdirSync(dir, { recursive: true });
  const w = new TxnLogWriter({ dir, preAllocBytes, forceSync: false, lastLoggedZxid: 0 });
  for (const g of groups) {
    for (const z of g) w.append(z, createTxn(z));
    w.roll();
  }
  w.close();
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

function zxidsIn(dir: string): number[] {
  return [...readTxnLog(dir, 0)].map((e) => e.zxid);
}

function contents(dir: string): Map<string, Buffer> {
  return new Map(fs.readdirSync(dir).sort().map((n) => [n, fs.readFileSync(path.join(dir, n))]));
}

let root: string;
let n = 0;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-truncate-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

/** A fresh directory holding the given log, and a copy of it for ZooKeeper. */
function twoCopies(groups: number[][]): { ours: string; theirs: string } {
  const ours = path.join(root, `ours${n}`);
  const theirs = path.join(root, `theirs${n++}`);
  writeLog(ours, groups);
  fs.cpSync(ours, theirs, { recursive: true });
  return { ours, theirs };
}

// three files: log.1 (1..10), log.b (11..20), log.100000001 (epoch 1: 1..5), preallocated
const LAYOUT = [range(1, 10), range(11, 20), range(E1 + 1, E1 + 5)];
const ALL = LAYOUT.flat();

describe('truncateTxnLog', () => {
  it.each([
    ['in the middle of the first file', 5],
    ['at the first entry', 1],
    ['at the last entry of a file', 10],
    ['at the first entry of a file', 11],
    ['in the middle of a later file', 15],
    ['at the end of an epoch', 20],
    ['across the epoch boundary', E1 + 2],
    ['at the last entry (only the preallocation goes)', E1 + 5],
  ])('%s: the same files as FileTxnLog.truncate, byte for byte', (_what, zxid) => {
    const { ours, theirs } = twoCopies(LAYOUT);
    truncateTxnLog(ours, zxid);
    expect(zkTruncate(theirs, zxid)).toBe('truncated true');
    expect(contents(ours)).toEqual(contents(theirs));
    expect(zxidsIn(ours)).toEqual(ALL.filter((z) => z <= zxid));
  });

  it('removes later files newest first, each removal durable, before it cuts the file', () => {
    const { ours } = twoCopies(LAYOUT);
    const calls: string[] = [];
    const unlink = fs.unlinkSync;
    const ftruncate = fs.ftruncateSync;
    const fsync = fs.fsyncSync;
    vi.spyOn(fs, 'unlinkSync').mockImplementation((p) => {
      calls.push(`unlink ${path.basename(String(p))}`);
      unlink(p);
    });
    vi.spyOn(fs, 'ftruncateSync').mockImplementation((fd, len) => {
      calls.push(`ftruncate ${len}`);
      ftruncate(fd, len);
    });
    vi.spyOn(fs, 'fsyncSync').mockImplementation((fd) => {
      calls.push('fsync');
      fsync(fd);
    });
    const report = truncateTxnLog(ours, 5);
    expect(calls).toEqual(['unlink log.100000001', 'fsync', 'unlink log.b', 'fsync', expect.stringMatching(/^ftruncate \d+$/), 'fsync']);
    expect(report.removed.map((p) => path.basename(p))).toEqual(['log.100000001', 'log.b']);
    expect(report.cut?.file).toBe(path.join(ours, 'log.1'));
  });

  it('zxid after the last entry: only the zero preallocation goes (ZooKeeper fails: "No log files found to truncate")', () => {
    const { ours, theirs } = twoCopies(LAYOUT);
    const report = truncateTxnLog(ours, E1 + 99);
    expect(report.removed).toEqual([]);
    expect(zxidsIn(ours)).toEqual(ALL);
    expect(zkTruncate(theirs, E1 + 99)).toMatch(/^error No log files found to truncate/);
    // truncating again changes nothing
    const before = contents(ours);
    expect(truncateTxnLog(ours, E1 + 99)).toEqual({ removed: [], cut: null });
    expect(contents(ours)).toEqual(before);
  });

  it('zxid before the first entry: every file goes (ZooKeeper keeps the first entry)', () => {
    const { ours, theirs } = twoCopies(LAYOUT);
    truncateTxnLog(ours, 0);
    expect(fs.readdirSync(ours)).toEqual([]);
    expect(zkTruncate(theirs, 0)).toBe('truncated true');
    expect(zxidsIn(theirs)).toEqual([1]);
  });

  it('zxid in a gap of the log: the entries above it go (ZooKeeper keeps the first one above)', () => {
    const { ours, theirs } = twoCopies([[...range(1, 5), ...range(8, 10)], range(11, 12)]);
    truncateTxnLog(ours, 6);
    expect(zxidsIn(ours)).toEqual(range(1, 5));
    zkTruncate(theirs, 6);
    expect(zxidsIn(theirs)).toEqual([...range(1, 5), 8]);
  });

  it('a file left with no entry is removed, so the writer can start log.<zxid + 1> again', () => {
    const dir = path.join(root, `one${n++}`);
    writeLog(dir, [range(1, 3), range(4, 6)]);
    truncateTxnLog(dir, 3);
    expect(fs.readdirSync(dir)).toEqual(['log.1']);
    const w = new TxnLogWriter({ dir, preAllocBytes: PREALLOC, forceSync: false, lastLoggedZxid: 3 });
    w.append(4, createTxn(4));
    w.close();
    expect(fs.readdirSync(dir).sort()).toEqual(['log.1', 'log.4']);
    expect(zxidsIn(dir)).toEqual(range(1, 4));
  });

  it('a torn tail after the cut goes with it; corruption before the cut refuses and changes nothing', () => {
    const dir = path.join(root, `torn${n++}`);
    writeLog(dir, [range(1, 8)], 0);
    const file = path.join(dir, 'log.1');
    fs.appendFileSync(file, Buffer.from([0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 40, 1, 2, 3])); // a torn entry
    truncateTxnLog(dir, 8);
    expect(zxidsIn(dir)).toEqual(range(1, 8));
    expect(fs.statSync(file).size).toBe(LOG_HEADER_BYTES + range(1, 8).reduce((s, z) => s + 13 + createTxn(z).length, 0));

    const bad = path.join(root, `bad${n++}`);
    writeLog(bad, [range(1, 8), range(9, 9)], 0);
    const f1 = path.join(bad, 'log.1');
    const bytes = fs.readFileSync(f1);
    bytes[LOG_HEADER_BYTES + 13 + createTxn(1).length + 20] ^= 0xff; // inside entry 2
    fs.writeFileSync(f1, bytes);
    const before = contents(bad);
    expect(() => truncateTxnLog(bad, 5)).toThrow(/log\.1 is corrupt at offset/);
    expect(contents(bad)).toEqual(before);
  });

  it('refuses, changing nothing, while a snapshot newer than zxid is in snapDir', () => {
    const { ours } = twoCopies(LAYOUT);
    const snapDir = path.join(root, `snaps${n++}`);
    fs.mkdirSync(snapDir);
    fs.writeFileSync(path.join(snapDir, 'snapshot.0'), 'x');
    fs.writeFileSync(path.join(snapDir, 'snapshot.c'), 'x');
    const before = contents(ours);
    expect(() => truncateTxnLog(ours, 11, { snapDir })).toThrow(TxnLogTruncateError);
    expect(() => truncateTxnLog(ours, 11, { snapDir })).toThrow(/snapshot snapshot\.c in .* holds later txns/);
    expect(contents(ours)).toEqual(before);
    truncateTxnLog(ours, 12, { snapDir });
    expect(zxidsIn(ours)).toEqual(range(1, 12));
  });

  it('an empty directory, or no file reaching zxid, is fine', () => {
    const dir = path.join(root, `empty${n++}`);
    fs.mkdirSync(dir);
    expect(truncateTxnLog(dir, 5)).toEqual({ removed: [], cut: null });
    expect(listLogFiles(dir)).toEqual([]);
  });
});

// Why a leader may only seal snapshots that hold committed txns (docs/ensemble.md): truncation
// goes by file names, and a fuzzy snapshot named at or below the zxid can still hold a txn after
// it. This is what truncateTxnLog cannot undo; the fix belongs to whoever seals leader snapshots.
describe('a fuzzy snapshot and truncation', () => {
  it('a snapshot named at zxid that saw a later txn brings it back after the log is truncated to zxid', () => {
    const dir = path.join(root, `fuzzy${n++}`);
    fs.mkdirSync(dir);
    const logged: { zxid: number; bytes: Buffer }[] = [];
    const opts: PipelineOptions = {
      tickMs: 100, minSessionTimeoutMs: 200, maxSessionTimeoutMs: 5000, serverId: 1, superDigest: null, extendedTypesEnabled: false,
      containerCheckIntervalMs: 60_000, containerMaxPerMinute: 10_000, containerMaxNeverUsedIntervalMs: 0, enforceQuota: false,
      maxReplyBytes: 0xfffff, txnBytesMax: 2 * 0xfffff, nowMs: () => 0, wallMs: () => 1_700_000_000_000,
    };
    const leader = new Pipeline(opts, { send: () => {}, close: () => {}, appendLog: (zxid, bytes) => logged.push({ zxid, bytes: Buffer.from(bytes) }) });
    leader.recovered();
    const w = new JuteWriter(256);
    w.int(0).longNumber(0).int(3000).long(0n).buffer(Buffer.alloc(16)).bool(false);
    leader.connect(1, '127.0.0.1', 5001, w.copy());
    const request = (type: number, body: (w: JuteWriter) => void) => {
      w.reset().int(logged.length + 1).int(type);
      body(w);
      leader.request(1, w.copy());
      leader.durable(leader.tree.lastZxid);
    };
    for (const name of ['/a', '/b', '/c']) request(Op.create, (x) => { x.string(name).buffer(Buffer.from('committed')); writeAcls(x, OPEN_ACL_UNSAFE); x.int(0); });
    const committedZxid = leader.tree.lastZxid;
    // a snapshot starts at the committed zxid; before its walk reaches /c, a write to /c is applied (not committed)
    const serializer = new SnapshotSerializer(leader.tree, [], committedZxid);
    const file = new SnapshotFileWriter(dir, committedZxid);
    const buf = Buffer.alloc(1 << 16);
    let end = serializer.fill(buf, 0, buf.length, 2);
    file.append(buf, 0, end);
    request(Op.setData, (x) => x.string('/c').buffer(Buffer.from('never committed')).int(-1));
    while (!serializer.done) {
      end = serializer.fill(buf, 0, buf.length, Number.MAX_SAFE_INTEGER);
      file.append(buf, 0, end);
    }
    file.finish();
    file.commit();
    const log = new TxnLogWriter({ dir, preAllocBytes: 0, forceSync: false, lastLoggedZxid: 0 });
    for (const t of logged) log.append(t.zxid, t.bytes);
    log.close();
    // TRUNC to the committed zxid: no snapshot is named above it, so nothing refuses
    truncateTxnLog(dir, committedZxid, { snapDir: dir });
    const restarted = new Pipeline(opts, { send: () => {}, close: () => {}, appendLog: () => {} });
    recoverState(restarted, { snapDir: dir, logDir: dir, txnBytesMax: 2 * 0xfffff, nowMs: 0, warn: () => {} });
    expect(restarted.tree.lastZxid).toBe(committedZxid);
    expect(restarted.tree.get('/c')!.data.toString()).toBe('never committed');
  });
});
