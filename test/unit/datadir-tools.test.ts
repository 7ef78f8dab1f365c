// zooid dump-log / dump-snapshot / purge: output, damage reports with offsets, and
// --recover cutting a log at its first bad entry into a new file.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { TxnLogWriter, readTxnLog, LOG_HEADER_BYTES } from '../../engine/persistence/txnlog.ts';
import { writeSnapshotNow } from '../../engine/persistence/snapshot.ts';
import { dumpLog, recoverLog, dumpSnapshot } from '../../engine/tools/datadir.ts';
import { encodeTxn } from '../../engine/core/txn.ts';
import { JuteWriter } from '../../native-free-io/jute.ts';
import { Op, OPEN_ACL_UNSAFE } from '../../engine/protocol.ts';
import { DataTree } from '../../engine/core/tree.ts';
import { REPO_ROOT } from '../support/servers.ts';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-tools-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function txn(zxid: number, p: string): Buffer {
  const w = new JuteWriter(256);
  encodeTxn(w, { sessionId: 0x42n, cxid: zxid, zxid, timeMs: 1_700_000_000_000 + zxid, type: Op.create },
    { type: Op.create, path: p, data: Buffer.from(`data-${zxid}`), acls: [...OPEN_ACL_UNSAFE], ephemeral: false, parentCVersion: zxid, ttlMs: 0 });
  return w.copy();
}

/** A log.1 with `count` creates; returns the entry offsets. */
function writeLog(sub: string, count: number): { file: string; offsets: number[] } {
  const d = path.join(dir, sub);
  fs.mkdirSync(d, { recursive: true });
  const w = new TxnLogWriter({ dir: d, preAllocBytes: 4096, forceSync: false });
  const offsets: number[] = [];
  let at = LOG_HEADER_BYTES;
  for (let z = 1; z <= count; z++) {
    const t = txn(z, `/n${z}`);
    offsets.push(at);
    at += 13 + t.length;
    w.append(z, t);
  }
  w.flush();
  w.close();
  return { file: path.join(d, 'log.1'), offsets };
}

describe('dump-log', () => {
  it('prints every entry like zkTxnLogToolkit, and JSON lines with --json', () => {
    const { file } = writeLog('clean', 3);
    const lines: string[] = [];
    expect(dumpLog(file, false, (l) => lines.push(l))).toBe(0);
    expect(lines[0]).toContain('txnlog format version 2');
    expect(lines[1]).toMatch(/session 0x42 cxid 0x1 zxid 0x1 create \/n1 data="data-1" acl=\[world:anyone:31\]/);
    expect(lines.at(-1)).toBe('EOF reached after 3 txns.');
    const json: string[] = [];
    dumpLog(file, true, (l) => json.push(l));
    expect(json.map((l) => JSON.parse(l).zxid)).toEqual(['0x1', '0x2', '0x3']);
    expect(JSON.parse(json[0]).txn.path).toBe('/n1');
  });

  it('reports damage with its offset, keeps going, and --recover cuts the log at the first bad entry', () => {
    const { file, offsets } = writeLog('damaged', 10);
    const bytes = fs.readFileSync(file);
    bytes[offsets[4] + 20] ^= 0xff; // inside entry 5's txn: its Adler32 no longer matches
    fs.writeFileSync(file, bytes);
    const lines: string[] = [];
    expect(dumpLog(file, false, (l) => lines.push(l))).toBe(1);
    expect(lines).toContain(`DAMAGE at offset ${offsets[4]}: ${lines.find((l) => l.startsWith('DAMAGE'))!.split(': ').slice(1).join(': ')}`);
    expect(lines.find((l) => l.startsWith('DAMAGE'))).toMatch(/checksum/);
    // the entries after the damage are still shown
    expect(lines.some((l) => l.includes('zxid 0xa create'))).toBe(true);
    expect(lines.at(-1)).toBe('EOF reached after 9 txns, 1 damaged stretch(es).');

    const out: string[] = [];
    expect(recoverLog(file, (l) => out.push(l))).toBe(0);
    expect(out[0]).toContain(`first bad entry at offset ${offsets[4]}`);
    const recovered = `${file}.recovered`;
    expect(fs.statSync(recovered).size).toBe(offsets[4]);
    expect(fs.readFileSync(file)).toEqual(bytes); // the original is untouched
    // the recovered file is a clean log of the 4 entries before the damage
    const d2 = path.join(dir, 'recovered-dir');
    fs.mkdirSync(d2);
    fs.copyFileSync(recovered, path.join(d2, 'log.1'));
    expect([...readTxnLog(d2, 0)].map((e) => e.zxid)).toEqual([1, 2, 3, 4]);
    expect(() => recoverLog(file, () => {})).toThrow(/EEXIST/); // never overwrites
  });
});

describe('dump-snapshot', () => {
  it('prints nodes, sessions, ACLs and the zxid, like zkSnapShotToolkit; JSON with --json', () => {
    const d = path.join(dir, 'snap');
    fs.mkdirSync(d);
    const t = new DataTree();
    t.createNode('/app', Buffer.from('hi'), t.acls.intern(OPEN_ACL_UNSAFE), 0n, -1, 1, 1_700_000_000_000);
    t.createNode('/app/e', Buffer.from('x'), t.acls.intern(OPEN_ACL_UNSAFE), 0x77n, -1, 2, 1_700_000_000_000);
    t.lastZxid = 2;
    const { path: file } = writeSnapshotNow(d, t, [[0x77n, 5000]]);
    const lines: string[] = [];
    expect(dumpSnapshot(file, false, true, (l) => lines.push(l))).toBe(0);
    const text = lines.join('\n');
    expect(text).toContain('ZNode Details (count=6):');
    expect(text).toContain('/app/e\n  cZxid = 0x2');
    expect(text).toContain(`data = ${Buffer.from('hi').toString('base64')}`);
    expect(text).toContain('0x77, 5000, 1');
    expect(text).toContain('Last zxid: 0x2');
    const json: string[] = [];
    dumpSnapshot(file, true, false, (l) => json.push(l));
    expect(JSON.parse(json[0])).toMatchObject({ zxid: '0x2', nodeCount: 6, sessions: [{ id: '0x77', timeoutMs: 5000, ephemerals: 1 }] });
    expect(json.slice(1).map((l) => JSON.parse(l).path)).toContain('/app/e');
  });
});

describe('the zooid command', () => {
  it('runs dump-log, dump-snapshot and purge (zoo.cfg or directories) with zkCleanup.sh semantics', () => {
    const base = path.join(dir, 'cli');
    const v2 = path.join(base, 'version-2');
    fs.mkdirSync(v2, { recursive: true });
    const t = new DataTree();
    for (const z of [0x10, 0x20, 0x30, 0x40]) {
      t.lastZxid = z;
      writeSnapshotNow(v2, t, []);
      fs.writeFileSync(path.join(v2, `log.${(z - 5).toString(16)}`), '');
    }
    const cfg = path.join(base, 'zoo.cfg');
    fs.writeFileSync(cfg, `dataDir=${base}\nclientPort=2181\n`);
    const run = (...args: string[]) => spawnSync(process.execPath, [path.join(REPO_ROOT, 'engine', 'cli.ts'), ...args], { encoding: 'utf8' });
    const purged = run('purge', cfg, '-n', '3');
    expect(purged.status, purged.stderr).toBe(0);
    expect(purged.stdout).toContain('deleted 2 files');
    expect(fs.readdirSync(v2).sort()).toEqual(['log.1b', 'log.2b', 'log.3b', 'snapshot.20', 'snapshot.30', 'snapshot.40']);
    expect(run('purge', base, '-n', '2').status).toBe(2);
    const snap = run('dump-snapshot', path.join(v2, 'snapshot.40'));
    expect(snap.status, snap.stderr).toBe(0);
    expect(snap.stdout).toContain('Last zxid: 0x40');
    expect(run('dump-log').status).toBe(2);
  });
});
