// TxnLogWriter.abandon/openNext, the log worker's way out of a failed write (disk full):
// the disk keeps exactly the flushed txns, and appends continue after them in a new file.
// The failure itself (ENOSPC) is exercised for real in test/integration/diskfull.test.ts.
import { describe, it, expect, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TxnLogWriter, readTxnLog, LOG_HEADER_BYTES } from '../../engine/persistence/txnlog.ts';
import { JuteWriter } from '../../native-free-io/jute.ts';

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-abandon-'));
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

function txn(zxid: number): Buffer {
  const w = new JuteWriter(64);
  w.long(1n).int(zxid).longNumber(zxid).longNumber(1_700_000_000_000).int(-10).int(30_000); // createSession
  return w.copy();
}

describe('TxnLogWriter.abandon', () => {
  it('cuts the file back to the last flush and continues after it in a new file', () => {
    const dir = path.join(base, 'a');
    fs.mkdirSync(dir);
    const w = new TxnLogWriter({ dir, preAllocBytes: 64 * 1024, forceSync: true });
    for (let z = 1; z <= 3; z++) w.append(z, txn(z));
    w.flush();
    w.append(4, txn(4));
    w.append(5, txn(5));
    w.abandon();
    expect(w.lastAppendedZxid).toBe(3);
    // exactly three entries, no preallocated tail
    expect(fs.statSync(path.join(dir, 'log.1')).size).toBe(LOG_HEADER_BYTES + 3 * (13 + txn(1).length));
    w.openNext(4);
    expect(fs.existsSync(path.join(dir, 'log.4'))).toBe(true);
    w.append(4, txn(4));
    w.flush();
    w.close();
    expect([...readTxnLog(dir, 0)].map((e) => e.zxid)).toEqual([1, 2, 3, 4]);
  });

  it('removes a file no flush reached', () => {
    const dir = path.join(base, 'b');
    fs.mkdirSync(dir);
    const w = new TxnLogWriter({ dir, preAllocBytes: 4096, forceSync: true, lastLoggedZxid: 9 });
    w.append(10, txn(10));
    w.abandon();
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(() => w.openNext(9)).toThrow(/does not follow/);
  });
});
