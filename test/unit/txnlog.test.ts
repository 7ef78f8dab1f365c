import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { adler32 } from '../../native-free-io/adler32.ts';
import { JuteWriter } from '../../native-free-io/jute.ts';
import { PreallocatedFile, paddedSizeBytes } from '../../native-free-io/logfile.ts';
import {
  ENTRY_FRAME_BYTES,
  LOG_HEADER_BYTES,
  TxnLogCorruptError,
  TxnLogWriter,
  encodeLogHeader,
  listLogFiles,
  logFileName,
  readTxnLog,
  recoverTxnLogs,
  selectLogFiles,
  zxidFromLogFileName,
} from '../../engine/persistence/txnlog.ts';

const EPOCH1 = 0x1_0000_0000;
const OP_CREATE = 1;
const PREALLOC = 64 * 1024;

/** mulberry32: a seeded PRNG so failures reproduce. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** TxnHeader + CreateTxn, as ZooKeeper serializes a create (no digest). */
function createTxn(zxid: number, nodePath: string, data: Uint8Array, sessionId = 0x1000004811300a0n): Buffer {
  const w = new JuteWriter(256);
  w.long(sessionId).int(7).longNumber(zxid).longNumber(1_700_000_000_000).int(OP_CREATE);
  w.string(nodePath).buffer(data);
  w.int(1).int(31).string('world').string('anyone'); // acl: [{perms ALL, world:anyone}]
  w.bool(false).int(1); // ephemeral, parentCVersion
  return w.copy();
}

function txnFor(zxid: number, dataBytes: number): Buffer {
  const data = Buffer.alloc(dataBytes, zxid & 0xff);
  return createTxn(zxid, `/n${zxid.toString(16)}`, data);
}

function collect(dir: string, fromZxid: number, warnings: string[] = []): { zxid: number; bytes: Buffer; file: string; offset: number }[] {
  const out = [];
  for (const e of readTxnLog(dir, fromZxid, { onWarning: (m) => warnings.push(m) })) {
    out.push({ ...e, bytes: Buffer.from(e.bytes) }); // bytes is a view: copy to keep
  }
  return out;
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-txnlog-'));
});
afterEach(() => {
  vi.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Writes entries with zxids first..last (inclusive) into one file and flushes. */
function writeFile(first: number, last: number, dataBytes = 20, preAllocBytes = PREALLOC): Map<number, Buffer> {
  const w = new TxnLogWriter({ dir, preAllocBytes, forceSync: true, lastLoggedZxid: first - 1 });
  const txns = new Map<number, Buffer>();
  for (let z = first; z <= last; z++) {
    const t = txnFor(z, dataBytes);
    txns.set(z, t);
    w.append(z, t);
  }
  w.close();
  return txns;
}

/** Offsets of the entries in a file, from its layout. */
function entryOffsets(filePath: string): number[] {
  const buf = fs.readFileSync(filePath);
  const offsets: number[] = [];
  let at = LOG_HEADER_BYTES;
  while (at + 12 <= buf.length && buf.readInt32BE(at + 8) !== 0) {
    offsets.push(at);
    at += ENTRY_FRAME_BYTES + buf.readInt32BE(at + 8);
  }
  offsets.push(at); // end of the last entry
  return offsets;
}

function patch(filePath: string, offset: number, bytes: Uint8Array): void {
  const fd = fs.openSync(filePath, 'r+');
  fs.writeSync(fd, bytes, 0, bytes.length, offset);
  fs.closeSync(fd);
}

describe('names and header', () => {
  it('encodes the FileHeader as ZKLG, version 2, dbid', () => {
    expect(encodeLogHeader().toString('hex')).toBe('5a4b4c47' + '00000002' + '0000000000000000');
    expect(encodeLogHeader(0x0102030405060708n).toString('hex')).toBe('5a4b4c470000000201020304050607' + '08');
  });

  it('names files log.<lowercase hex zxid> without padding, like Long.toHexString', () => {
    expect(logFileName(1)).toBe('log.1');
    expect(logFileName(0x1_0000_00ab)).toBe('log.1000000ab');
    expect(zxidFromLogFileName('log.1000000ab')).toBe(0x1_0000_00ab);
    expect(zxidFromLogFileName('snapshot.1')).toBe(-1);
    expect(zxidFromLogFileName('log.xyz')).toBe(-1);
  });
});

describe('TxnLogWriter and readTxnLog', () => {
  it('round-trips many entries across several rolls (seed 0x7a11)', () => {
    const seed = 0x7a11;
    const next = prng(seed);
    const w = new TxnLogWriter({ dir, preAllocBytes: PREALLOC, forceSync: true });
    const written: { zxid: number; bytes: Buffer }[] = [];
    const fileStarts: number[] = [];
    let zxid = EPOCH1;
    for (let i = 0; i < 1500; i++) {
      zxid += 1;
      if (w.currentFilePath === null) fileStarts.push(zxid);
      // mostly small, some large (up to 40 KiB) so entries cross read chunks and pads
      const dataBytes = next() < 0.05 ? (next() * 40_000) | 0 : (next() * 300) | 0;
      const bytes = txnFor(zxid, dataBytes);
      w.append(zxid, bytes);
      written.push({ zxid, bytes });
      if (next() < 0.2) w.flush();
      if (next() < 0.01) w.roll();
      if (i === 700) {
        // an epoch change, as after a leader election
        zxid = 2 * EPOCH1;
      }
    }
    w.flush();
    expect(w.lastFlushedZxid).toBe(zxid);
    w.close();

    expect(fileStarts.length, `seed ${seed}`).toBeGreaterThan(3);
    expect(listLogFiles(dir).map((f) => f.name)).toEqual(fileStarts.map(logFileName));
    const read = collect(dir, 0);
    expect(read.map((e) => e.zxid)).toEqual(written.map((e) => e.zxid));
    for (let i = 0; i < read.length; i++) expect(read[i].bytes.equals(written[i].bytes), `entry ${i}`).toBe(true);
    expect(recoverTxnLogs(dir)).toEqual({ lastZxid: zxid, warnings: [] });
  });

  it('group commit in two halves: writeBuffered writes, syncWrittenNow makes everything written durable', () => {
    const w = new TxnLogWriter({ dir, preAllocBytes: PREALLOC, forceSync: true, lastLoggedZxid: EPOCH1 });
    for (let z = EPOCH1 + 1; z <= EPOCH1 + 3; z++) w.append(z, txnFor(z, 50));
    w.writeBuffered();
    expect(w.lastWrittenZxid).toBe(EPOCH1 + 3);
    expect(w.lastFlushedZxid).toBe(EPOCH1);
    // a second batch written before the sync: one sync covers both
    for (let z = EPOCH1 + 4; z <= EPOCH1 + 6; z++) w.append(z, txnFor(z, 50));
    w.writeBuffered();
    expect(w.syncWrittenNow()).toBe(EPOCH1 + 6);
    expect(w.lastFlushedZxid).toBe(EPOCH1 + 6);
    // nothing new written: returns the durable zxid at once
    expect(w.syncWrittenNow()).toBe(EPOCH1 + 6);
    w.close();
    expect(collect(dir, 0).map((e) => e.zxid - EPOCH1)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('a failed sync fails the writer; abandon() cuts back to the last synced txn', () => {
    const w = new TxnLogWriter({ dir, preAllocBytes: PREALLOC, forceSync: true, lastLoggedZxid: EPOCH1 });
    w.append(EPOCH1 + 1, txnFor(EPOCH1 + 1, 50));
    w.writeBuffered();
    expect(w.syncWrittenNow()).toBe(EPOCH1 + 1);
    w.append(EPOCH1 + 2, txnFor(EPOCH1 + 2, 50));
    w.writeBuffered();
    vi.spyOn(fs, 'fdatasyncSync').mockImplementation(() => {
      throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    });
    expect(() => w.syncWrittenNow()).toThrow(/fdatasync .*EIO/);
    expect(() => w.append(EPOCH1 + 3, txnFor(EPOCH1 + 3, 50))).toThrow(/failed earlier/);
    vi.restoreAllMocks();
    w.abandon();
    expect(w.lastFlushedZxid).toBe(EPOCH1 + 1);
    w.close();
    expect(collect(dir, 0).map((e) => e.zxid - EPOCH1)).toEqual([1]);
  });

  it('lays out header, checksum, length, txn, 0x42 and zero preallocation exactly', () => {
    const t1 = txnFor(EPOCH1 + 1, 10);
    const t2 = txnFor(EPOCH1 + 2, 3);
    const w = new TxnLogWriter({ dir, preAllocBytes: PREALLOC, forceSync: true });
    w.append(EPOCH1 + 1, t1);
    w.append(EPOCH1 + 2, t2);
    expect(w.pendingBytes).toBe(2 * ENTRY_FRAME_BYTES + t1.length + t2.length);
    w.flush();
    expect(w.pendingBytes).toBe(0);
    w.close();

    expect(fs.readdirSync(dir)).toEqual(['log.100000001']);
    const buf = fs.readFileSync(path.join(dir, 'log.100000001'));
    // ZooKeeper pads from the end of the header: header + preAllocSize
    expect(buf.length).toBe(LOG_HEADER_BYTES + PREALLOC);
    const expected = Buffer.concat([
      encodeLogHeader(),
      Buffer.from([0, 0, 0, 0]), u32(adler32(t1)), u32(t1.length), t1, Buffer.from([0x42]),
      Buffer.from([0, 0, 0, 0]), u32(adler32(t2)), u32(t2.length), t2, Buffer.from('B'),
    ]);
    expect(buf.subarray(0, expected.length).equals(expected)).toBe(true);
    expect(buf.subarray(expected.length).every((b) => b === 0)).toBe(true);
  });

  it('writes byte-for-byte what ZooKeeper 3.8 wrote for the same txns, and reads its file', () => {
    // the first 351 bytes of a log.1 written by ZooKeeper 3.8.0 (createSession, create
    // /hello "world", createSession, create /hello/x; 3.8 appends a TxnDigest), then zeros
    // to 64 MiB + 16 bytes (its default preAllocSize)
    const zkFile = Buffer.alloc(67_108_880);
    Buffer.from(ZK_LOG_1_HEX, 'hex').copy(zkFile);
    const zkDir = path.join(dir, 'zk');
    fs.mkdirSync(zkDir);
    fs.writeFileSync(path.join(zkDir, 'log.1'), zkFile);
    const entries = collect(zkDir, 0);
    expect(entries.map((e) => e.zxid)).toEqual([1, 2, 3, 4]);
    expect(entries[1].bytes.includes(Buffer.from('/hello'))).toBe(true);

    const w = new TxnLogWriter({ dir, preAllocBytes: 64 * 1024 * 1024, forceSync: false });
    for (const e of entries) w.append(e.zxid, e.bytes);
    w.close();
    const ours = fs.readFileSync(path.join(dir, 'log.1'));
    expect(ours.length).toBe(zkFile.length);
    expect(ours.equals(zkFile)).toBe(true);
  });

  it('selects files as ZooKeeper does and yields only zxids above fromZxid', () => {
    writeFile(1, 10);
    writeFile(11, 20);
    writeFile(21, 30);
    const files = listLogFiles(dir);
    expect(files.map((f) => f.name)).toEqual(['log.1', 'log.b', 'log.15']);
    const names = (from: number) => selectLogFiles(files, from).map((f) => f.name);
    expect(names(0)).toEqual(['log.1', 'log.b', 'log.15']);
    expect(names(10)).toEqual(['log.1', 'log.b', 'log.15']);
    expect(names(11)).toEqual(['log.b', 'log.15']);
    expect(names(25)).toEqual(['log.15']);
    expect(names(1000)).toEqual(['log.15']);

    expect(collect(dir, 15).map((e) => e.zxid)).toEqual(range(16, 30));
    expect(collect(dir, 20).map((e) => e.zxid)).toEqual(range(21, 30));
    expect(collect(dir, 0).map((e) => e.zxid)).toEqual(range(1, 30));
    expect(collect(dir, 30)).toEqual([]);
    const e = collect(dir, 11)[0];
    expect(e).toMatchObject({ zxid: 12, file: path.join(dir, 'log.b') });
    expect(e.offset).toBe(entryOffsets(path.join(dir, 'log.b'))[1]);
  });

  it('reads entries larger than a read chunk', () => {
    const big = 1_500_000;
    const txns = writeFile(1, 4, big, 1 << 20);
    const read = collect(dir, 0);
    expect(read.map((e) => e.zxid)).toEqual([1, 2, 3, 4]);
    for (const e of read) expect(e.bytes.equals(txns.get(e.zxid)!)).toBe(true);
  });

  it('refuses appends that break its invariants', () => {
    const w = new TxnLogWriter({ dir, preAllocBytes: PREALLOC, forceSync: false, lastLoggedZxid: 5 });
    expect(() => w.append(5, txnFor(5, 1))).toThrow(/does not follow/);
    expect(() => w.append(6, txnFor(7, 1))).toThrow(/TxnHeader/);
    expect(() => w.append(6, Buffer.alloc(8))).toThrow(RangeError);
    w.append(6, txnFor(6, 1));
    w.close();
    // never overwrites an existing log file
    const again = new TxnLogWriter({ dir, preAllocBytes: PREALLOC, forceSync: false, lastLoggedZxid: 5 });
    expect(() => again.append(6, txnFor(6, 1))).toThrow(/log\.6.*EEXIST|EEXIST.*log\.6/);
    expect(() => again.append(7, txnFor(7, 1))).toThrow(/failed earlier/);
  });
});

describe('recoverTxnLogs: torn tails in the last file are truncated', () => {
  /** Writes log.1 (1..5) and log.6 (6..10); returns log.6's entry offsets. */
  function twoFiles(): { last: string; offsets: number[] } {
    writeFile(1, 5);
    writeFile(6, 10);
    const last = path.join(dir, 'log.6');
    return { last, offsets: entryOffsets(last) };
  }

  function expectTruncated(last: string, at: number, warnings: string[]): void {
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(last);
    expect(warnings[0]).toContain(`torn tail at offset ${at}`);
    expect(fs.statSync(last).size).toBe(at);
  }

  /** After repair, appending continues the log and everything replays. */
  function expectAppendAndReplay(lastZxid: number): void {
    writeFile(lastZxid + 1, lastZxid + 3);
    expect(collect(dir, 0).map((e) => e.zxid)).toEqual(range(1, lastZxid + 3));
    expect(recoverTxnLogs(dir)).toEqual({ lastZxid: lastZxid + 3, warnings: [] });
  }

  it('ends normally at the zero preallocation and at a wholly zero last entry', () => {
    const { last, offsets } = twoFiles();
    expect(recoverTxnLogs(dir)).toEqual({ lastZxid: 10, warnings: [] });
    // the last entry never reached the disk: zeros where it would be
    patch(last, offsets[4], Buffer.alloc(offsets[5] - offsets[4]));
    expect(recoverTxnLogs(dir)).toEqual({ lastZxid: 9, warnings: [] });
    expect(fs.statSync(last).size).toBe(LOG_HEADER_BYTES + PREALLOC); // untouched
  });

  it('truncates a short last entry (file ends inside it)', () => {
    const { last, offsets } = twoFiles();
    fs.truncateSync(last, offsets[4] + 20);
    const warnings: string[] = [];
    expect(collect(dir, 0, warnings).map((e) => e.zxid)).toEqual(range(1, 9)); // the reader stops, changes nothing
    expect(warnings[0]).toMatch(/torn tail.*cut short/);
    expect(fs.statSync(last).size).toBe(offsets[4] + 20);
    const r = recoverTxnLogs(dir);
    expect(r.lastZxid).toBe(9);
    expectTruncated(last, offsets[4], r.warnings);
    expectAppendAndReplay(9);
  });

  it('truncates a last entry whose tail is zeros (missing 0x42 trailer)', () => {
    const { last, offsets } = twoFiles();
    patch(last, offsets[5] - 10, Buffer.alloc(10));
    const r = recoverTxnLogs(dir);
    expect(r.lastZxid).toBe(9);
    expect(r.warnings[0]).toMatch(/trailer/);
    expectTruncated(last, offsets[4], r.warnings);
    expectAppendAndReplay(9);
  });

  it('truncates a last entry with a checksum mismatch', () => {
    const { last, offsets } = twoFiles();
    patch(last, offsets[4] + 30, Buffer.from([0xee]));
    const r = recoverTxnLogs(dir);
    expect(r.lastZxid).toBe(9);
    expect(r.warnings[0]).toMatch(/checksum/);
    expectTruncated(last, offsets[4], r.warnings);
    expectAppendAndReplay(9);
  });

  it('truncates non-zero garbage after the last entry', () => {
    const { last, offsets } = twoFiles();
    patch(last, offsets[5], Buffer.from('garbage after the end'));
    const r = recoverTxnLogs(dir);
    expect(r.lastZxid).toBe(10);
    expectTruncated(last, offsets[5], r.warnings);
    expectAppendAndReplay(10);
  });

  it('removes the last file when its only entry is torn, so log.<zxid> can be created again', () => {
    writeFile(1, 5);
    writeFile(6, 6);
    const last = path.join(dir, 'log.6');
    patch(last, LOG_HEADER_BYTES + 40, Buffer.from([0xee]));
    const r = recoverTxnLogs(dir);
    expect(r.lastZxid).toBe(5);
    expect(r.warnings).toHaveLength(2);
    expect(r.warnings[1]).toMatch(/log\.6: no entries; removed/);
    expect(fs.existsSync(last)).toBe(false);
    expectAppendAndReplay(5);
  });

  it('removes a torn creation of the last file (empty, or all zeros)', () => {
    writeFile(1, 5);
    fs.writeFileSync(path.join(dir, 'log.6'), Buffer.alloc(0));
    let r = recoverTxnLogs(dir);
    expect(r).toEqual({ lastZxid: 5, warnings: [expect.stringMatching(/log\.6: torn creation.*removed/)] });
    fs.writeFileSync(path.join(dir, 'log.6'), Buffer.alloc(PREALLOC));
    r = recoverTxnLogs(dir);
    expect(r.warnings).toEqual([expect.stringMatching(/log\.6: torn creation.*removed/)]);
    expectAppendAndReplay(5);
  });
});

describe('corruption refuses to start, naming file and offset', () => {
  it('throws for a bad entry followed by valid entries in the last file', () => {
    writeFile(1, 5);
    writeFile(6, 10);
    const last = path.join(dir, 'log.6');
    const offsets = entryOffsets(last);
    patch(last, offsets[1] + 30, Buffer.from([0xee])); // zxid 7's payload
    const size = fs.statSync(last).size;
    const expected = new RegExp(`${escape(last)} is corrupt at offset ${offsets[1]}: checksum .*a valid entry follows at offset ${offsets[2]}`);
    expect(() => recoverTxnLogs(dir)).toThrow(expected);
    expect(() => collect(dir, 0)).toThrow(expected);
    expect(fs.statSync(last).size).toBe(size); // nothing truncated
    try {
      recoverTxnLogs(dir);
    } catch (err) {
      expect(err).toBeInstanceOf(TxnLogCorruptError);
      expect(err).toMatchObject({ file: last, offset: offsets[1] });
    }
  });

  it('finds a valid entry far beyond a bad one, across the zero preallocation', () => {
    writeFile(1, 5);
    writeFile(6, 10);
    const last = path.join(dir, 'log.6');
    const offsets = entryOffsets(last);
    const buf = fs.readFileSync(last);
    patch(last, offsets[4] + 30, Buffer.from([0xee])); // zxid 10: bad
    // a copy of an older entry (zxid 6) out in the zeros is not "further valid data"
    const oldEntry = buf.subarray(offsets[0], offsets[1]);
    patch(last, 20_001, oldEntry);
    let r = recoverTxnLogs(dir);
    expect(r.lastZxid).toBe(9);
    expect(r.warnings[0]).toContain(`torn tail at offset ${offsets[4]}`);
    // a newer entry out there is: corruption, not a torn tail
    writeFile(1000, 1000);
    const newEntry = fs.readFileSync(path.join(dir, 'log.3e8')).subarray(LOG_HEADER_BYTES, entryOffsets(path.join(dir, 'log.3e8'))[1]);
    fs.rmSync(path.join(dir, 'log.3e8'));
    fs.rmSync(last);
    writeFile(6, 10);
    patch(last, offsets[4] + 30, Buffer.from([0xee]));
    // placed so the zero high half of its checksum ends a 4 KiB block of the scan (which
    // starts at the bad entry + 1) and that block is all zeros: the skip must stop short
    const plantedAt = offsets[4] + 1 + 9 * 4096 + 4093;
    patch(last, plantedAt, newEntry);
    expect(() => recoverTxnLogs(dir)).toThrow(new RegExp(`${escape(last)} is corrupt at offset ${offsets[4]}: .*a valid entry follows at offset ${plantedAt}`));
  });

  it('throws for a bad last entry in a file that is not the last', () => {
    writeFile(1, 5);
    writeFile(6, 10);
    const first = path.join(dir, 'log.1');
    const offsets = entryOffsets(first);
    patch(first, offsets[4] + 30, Buffer.from([0xee])); // zxid 5, the file's last entry
    expect(() => recoverTxnLogs(dir)).toThrow(new RegExp(`${escape(first)} is corrupt at offset ${offsets[4]}: .*not the last log file`));
    // a short tail too
    writeFileBytes(first, fs.readFileSync(first).subarray(0, offsets[4] + 20));
    expect(() => recoverTxnLogs(dir)).toThrow(new RegExp(`${escape(first)} is corrupt at offset ${offsets[4]}: entry cut short`));
  });

  it('throws for a bad header, naming the file', () => {
    writeFile(1, 5);
    writeFile(6, 10);
    const first = path.join(dir, 'log.1');
    patch(first, 0, Buffer.from('ZKXX'));
    expect(() => recoverTxnLogs(dir)).toThrow(new RegExp(`${escape(first)} is corrupt at offset 0: bad magic`));
    patch(first, 0, Buffer.from([0x5a, 0x4b, 0x4c, 0x47, 0, 0, 0, 3]));
    expect(() => recoverTxnLogs(dir)).toThrow(new RegExp(`${escape(first)} is corrupt at offset 0: unsupported version 3`));
    // a bad header in the last file is not a torn creation when it is not all zeros
    patch(first, 0, encodeLogHeader());
    const last = path.join(dir, 'log.6');
    patch(last, 0, Buffer.from('ZKXX'));
    expect(() => recoverTxnLogs(dir)).toThrow(new RegExp(`${escape(last)} is corrupt at offset 0: bad magic`));
  });
});

describe('PreallocatedFile', () => {
  it('pads by preAllocBytes whenever the end comes within 4 KiB, with zeros on disk', () => {
    const preAlloc = 16 * 1024;
    const file = PreallocatedFile.create(path.join(dir, 'f'), Buffer.from('HEAD'), preAlloc);
    expect(file.sizeBytes).toBe(4);
    expect(file.allocatedSizeBytes).toBe(4 + preAlloc);
    const chunk = Buffer.alloc(3000, 1);
    const sizes: number[] = [];
    for (let i = 0; i < 20; i++) {
      file.append([chunk]);
      sizes.push(file.allocatedSizeBytes);
      expect(fs.statSync(file.path).size).toBe(file.allocatedSizeBytes);
      expect(file.allocatedSizeBytes - file.sizeBytes).toBeGreaterThan(0);
    }
    file.sync(true);
    file.close();
    // the allocation only grows in steps of preAlloc
    for (const s of sizes) expect((s - 4) % preAlloc).toBe(0);
    const buf = fs.readFileSync(path.join(dir, 'f'));
    expect(buf.subarray(4, 4 + 20 * 3000).every((b) => b === 1)).toBe(true);
    expect(buf.subarray(4 + 20 * 3000).every((b) => b === 0)).toBe(true);
  });

  it('grows past a write larger than the preallocation, rounding to a multiple', () => {
    expect(paddedSizeBytes(100, 16, 64)).toBe(128);
    expect(paddedSizeBytes(16, 16, 64)).toBe(80);
    expect(paddedSizeBytes(10, 100_000, 64)).toBe(100_000);
    expect(paddedSizeBytes(10, 16, 0)).toBe(16);
    const file = PreallocatedFile.create(path.join(dir, 'g'), Buffer.from('H'), 8192);
    file.append([Buffer.alloc(50_000, 2), Buffer.alloc(10, 3)]);
    expect(file.sizeBytes).toBe(50_011);
    expect(file.allocatedSizeBytes % 8192).toBe(0);
    expect(file.allocatedSizeBytes - file.sizeBytes).toBeGreaterThanOrEqual(4096);
    file.close();
  });

  it('continues partial writes', () => {
    const file = PreallocatedFile.create(path.join(dir, 'p'), Buffer.from('H'), 4096);
    const realWritev = fs.writevSync;
    const spy = vi.spyOn(fs, 'writevSync').mockImplementation((fd, buffers, position) => {
      // the kernel took only 3 bytes of the first buffer
      return realWritev(fd, [(buffers[0] as Uint8Array).subarray(0, 3)], position);
    });
    file.append([Buffer.from('abcdef'), Buffer.from('ghi'), Buffer.from('jk')]);
    expect(spy).toHaveBeenCalledTimes(1);
    file.close();
    expect(fs.readFileSync(path.join(dir, 'p')).subarray(0, 12).toString()).toBe('Habcdefghijk');
  });

  it('reports operating errors with the path', () => {
    const p = path.join(dir, 'exists');
    fs.writeFileSync(p, 'x');
    expect(() => PreallocatedFile.create(p, Buffer.from('H'), 4096)).toThrow(new RegExp(`create ${escape(p)}: EEXIST`));
    const file = PreallocatedFile.create(path.join(dir, 'q'), Buffer.from('H'), 4096);
    vi.spyOn(fs, 'fdatasyncSync').mockImplementation(() => {
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    });
    expect(() => file.sync(true)).toThrow(new RegExp(`fdatasync ${escape(file.path)}: ENOSPC`));
    expect(() => file.sync(false)).not.toThrow();
    file.close();
    expect(() => file.append([Buffer.from('x')])).toThrow(/closed/);
  });
});

const ZK_JARS = ['zookeeper.jar', 'zookeeper-jute.jar', 'slf4j-api.jar', 'commons-cli.jar'].map((j) => path.join('/usr/share/java', j));
const hasZooKeeper = spawnSync('java', ['-version']).status === 0 && ZK_JARS.every((j) => fs.existsSync(j));
if (!hasZooKeeper) console.warn('skipping the TxnLogToolkit test: java or /usr/share/java/zookeeper.jar (with zookeeper-jute, slf4j-api, commons-cli) is absent');

describe('Apache ZooKeeper as the oracle', () => {
  it.skipIf(!hasZooKeeper)('TxnLogToolkit reads a file written by TxnLogWriter (skipped without java + zookeeper.jar)', () => {
    const w = new TxnLogWriter({ dir, preAllocBytes: PREALLOC, forceSync: true });
    w.append(EPOCH1 + 1, createTxn(EPOCH1 + 1, '/zooid-was-here', Buffer.from('hello')));
    w.append(EPOCH1 + 2, createTxn(EPOCH1 + 2, '/zooid-was-here/child', Buffer.alloc(0)));
    w.flush();
    w.close();
    const run = spawnSync('java', ['-cp', ZK_JARS.join(':'), 'org.apache.zookeeper.server.persistence.TxnLogToolkit', path.join(dir, 'log.100000001')], { encoding: 'utf8' });
    const output = run.stdout + run.stderr;
    expect(run.status, output).toBe(0);
    expect(output).toContain('txnlog format version 2');
    expect(output).toContain('zxid 0x100000001 create /zooid-was-here,hello,');
    expect(output).toContain('zxid 0x100000002 create /zooid-was-here/child,');
    expect(output).toContain('EOF reached after 2 txns.');
    expect(output).not.toMatch(/CRC|Exception/);
  });
});

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function writeFileBytes(filePath: string, bytes: Uint8Array): void {
  fs.writeFileSync(filePath, bytes);
}

const ZK_LOG_1_HEX =
  '5a4b4c47000000020000000000000000000000008fa508c1000000300100000481130000000000000000000000000001000001a200325416fffffff600007530000000020000000051c6d6604200000000fb360cf80000005f0100000481130000000000010000000000000002000001a20032542b00000001000000062f68656c6c6f00000005776f726c64000000010000001f00000005776f726c6400000006616e796f6e6500000000010000000200000000701a9f87420000000092a9085d000000300100000481130001000000000000000000000003000001a20032564afffffff6000075300000000200000000701a9f8742000000006cd10f7a0000005c0100000481130001000000010000000000000004000001a20032565500000001000000082f68656c6c6f2f78ffffffff000000010000001f00000005776f726c6400000006616e796f6e65000000000100000002000000011e108fcd42';
