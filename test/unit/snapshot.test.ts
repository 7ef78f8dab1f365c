// Snapshots: ZooKeeper 3.8's format both ways, and the fuzzy serializer's promise — a
// snapshot written in slices while writes keep coming, plus the log after its zxid,
// restores exactly the live tree. Seeded (TEST_SEED); the seed is in every failure.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Pipeline, type PipelineOptions } from '../../engine/core/pipeline.ts';
import { JuteWriter } from '../../native-free-io/jute.ts';
import { Op, OPEN_ACL_UNSAFE, NULL_DATA, writeAcls, type Acl, type Stat } from '../../engine/protocol.ts';
import { DataTree } from '../../engine/core/tree.ts';
import {
  SnapshotSerializer, SnapshotFileWriter, TreeLoader, readSnapshot, listSnapshots, looksComplete, writeSnapshotNow,
  SnapshotCorruptError, parseSnapshotFileName, type SnapshotFile,
} from '../../engine/persistence/snapshot.ts';
import { purge } from '../../engine/persistence/purge.ts';
import { seededRandom, testSeed } from '../support/random.ts';

const ZOOKEEPER_JAR = '/usr/share/java/zookeeper.jar';
const JAVA_CP = [ZOOKEEPER_JAR, '/usr/share/java/slf4j-nop.jar'].join(':');

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-snapshot-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function freshDir(name: string): string {
  const dir = path.join(tmp, name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

// ---- a pipeline driven by frames, its log captured

let now = 0;
let wall = 1_700_000_000_000;

function options(): PipelineOptions {
  return {
    tickMs: 100, minSessionTimeoutMs: 200, maxSessionTimeoutMs: 60_000, serverId: 1, superDigest: null,
    extendedTypesEnabled: false, containerCheckIntervalMs: 3_600_000, containerMaxPerMinute: 10_000,
    containerMaxNeverUsedIntervalMs: 0, enforceQuota: false, maxReplyBytes: 0xfffff, txnBytesMax: 2 * 0xfffff,
    nowMs: () => now, wallMs: () => wall,
  };
}

function newPipeline(logged: { zxid: number; bytes: Buffer }[]): Pipeline {
  const p = new Pipeline(options(), {
    send: () => {},
    close: () => {},
    appendLog: (zxid, bytes) => logged.push({ zxid, bytes: Buffer.from(bytes) }),
  });
  p.recovered();
  return p;
}

function frame(xid: number, type: number, body: (w: JuteWriter) => void): Buffer {
  const w = new JuteWriter(256);
  w.int(xid).int(type);
  body(w);
  return w.copy();
}

function connectFrame(): Buffer {
  const w = new JuteWriter(128);
  w.int(0).longNumber(0).int(30_000).long(0n).buffer(Buffer.alloc(16)).bool(false);
  return w.copy();
}

const ACL_CHOICES: Acl[][] = [
  [...OPEN_ACL_UNSAFE],
  [{ perms: 1, id: { scheme: 'world', id: 'anyone' } }],
  [{ perms: 31, id: { scheme: 'ip', id: '127.0.0.1' } }],
  [{ perms: 3, id: { scheme: 'world', id: 'anyone' } }, { perms: 31, id: { scheme: 'ip', id: '10.0.0.0/8' } }],
];

/** The tree as comparable text: every node's path, data, stat, ACL and children. */
function canonical(tree: DataTree): string[] {
  const out: string[] = [];
  for (const p of [...tree.nodes.keys()].sort()) {
    const n = tree.nodes.get(p)!;
    const kids = n.childNames().sort();
    out.push(JSON.stringify([p, n.data.toString('hex'), n.czxid, n.mzxid, n.ctime, n.mtime, n.version, n.cversion, n.aversion,
      n.ephemeralOwner.toString(), n.pzxid, tree.acls.get(n.aclRef), kids]));
  }
  return out;
}

function sessionsOf(p: Pipeline): [bigint, number][] {
  return [...p.sessions.sessions.values()].map((s): [bigint, number] => [s.id, s.timeoutMs]);
}

/** Random writes from a few connections: creates (some ephemeral), deletes, setData, setACL, multi, session churn. */
class Workload {
  private xid = 1;
  private conns: number[] = [];
  private nextConn = 1;
  private readonly p: Pipeline;
  private readonly random: () => number;

  constructor(p: Pipeline, random: () => number) {
    this.p = p;
    this.random = random;
    for (let i = 0; i < 3; i++) this.open();
  }

  private open(): void {
    const c = this.nextConn++;
    this.p.connect(c, '127.0.0.1', 4000 + c, connectFrame());
    this.conns.push(c);
  }

  private pick<T>(xs: T[]): T {
    return xs[Math.floor(this.random() * xs.length)];
  }

  private somePath(): string {
    const paths = [...this.p.tree.nodes.keys()].filter((k) => !k.startsWith('/zookeeper'));
    return this.pick(paths);
  }

  step(): void {
    const p = this.p;
    const conn = this.pick(this.conns);
    const r = this.random();
    wall += 1 + Math.floor(this.random() * 5);
    if (r < 0.35) {
      const parent = this.somePath();
      const name = `n${Math.floor(this.random() * 40)}`;
      const flags = this.random() < 0.15 ? 1 : this.random() < 0.1 ? 2 : 0;
      const acls = this.pick(ACL_CHOICES);
      p.request(conn, frame(this.xid++, Op.create, (w) => {
        w.string(parent === '/' ? `/${name}` : `${parent}/${name}`).buffer(Buffer.from(`d${this.xid}`));
        writeAcls(w, acls);
        w.int(flags);
      }));
    } else if (r < 0.55) {
      p.request(conn, frame(this.xid++, Op.delete, (w) => w.string(this.somePath()).int(-1)));
    } else if (r < 0.75) {
      const data = this.random() < 0.1 ? null : Buffer.from(`s${this.xid}`.repeat(1 + Math.floor(this.random() * 4)));
      p.request(conn, frame(this.xid++, Op.setData, (w) => w.string(this.somePath()).buffer(data).int(-1)));
    } else if (r < 0.85) {
      const acls = this.pick(ACL_CHOICES);
      p.request(conn, frame(this.xid++, Op.setACL, (w) => {
        w.string(this.somePath());
        writeAcls(w, acls);
        w.int(-1);
      }));
    } else if (r < 0.95) {
      // a multi: delete a leaf and create under another node; fails (and rolls back) now and then
      const a = this.somePath();
      const b = this.somePath();
      p.request(conn, frame(this.xid++, Op.multi, (w) => {
        w.int(Op.delete).bool(false).int(-1);
        w.string(a).int(-1);
        w.int(Op.create).bool(false).int(-1);
        w.string(b === '/' ? '/m' : `${b}/m`).buffer(Buffer.from('m'));
        writeAcls(w, OPEN_ACL_UNSAFE);
        w.int(0);
        w.int(Op.setData).bool(false).int(-1);
        w.string(this.somePath()).buffer(Buffer.from('x')).int(-1);
        w.int(-1).bool(true).int(-1);
      }));
    } else if (this.conns.length > 1 && this.random() < 0.5) {
      // close a session (its ephemerals go) and open another
      const c = this.conns.splice(this.conns.indexOf(conn), 1)[0];
      p.request(c, frame(this.xid++, Op.closeSession, () => {}));
      p.disconnect(c);
      this.open();
    } else {
      this.open();
    }
    p.durable(p.tree.lastZxid);
  }
}

function restore(file: SnapshotFile, logged: { zxid: number; bytes: Buffer }[]): Pipeline {
  const q = newPipeline([]);
  const loader = new TreeLoader(q.tree, (m) => {
    throw new Error(m);
  });
  const info = readSnapshot(file, loader);
  loader.finish(info.zxid);
  for (const [id, timeoutMs] of loader.sessions) q.sessions.add(id, timeoutMs, now);
  for (const e of logged) if (e.zxid > info.zxid) q.replay(e.bytes);
  q.recovered();
  return q;
}

describe('snapshot format', () => {
  it('round-trips a tree with sessions, ACLs, ephemerals and null data', () => {
    const dir = freshDir('roundtrip');
    const t = new DataTree();
    const digestAcl = t.acls.intern([{ perms: 31, id: { scheme: 'digest', id: 'u:abc=' } }]);
    t.createNode('/a', Buffer.from('hello'), digestAcl, 0n, -1, 5, 1_700_000_000_001);
    t.createNode('/a/b', Buffer.from('é✓'), t.acls.intern(OPEN_ACL_UNSAFE), 0x1234n, -1, 6, 1_700_000_000_002);
    t.createNode('/n', Buffer.alloc(0), t.acls.intern(OPEN_ACL_UNSAFE), 0n, -1, 7, 1_700_000_000_003);
    t.setData('/n', NULL_DATA, 1, 8, 1_700_000_000_004);
    t.lastZxid = 8;
    writeSnapshotNow(dir, t, [[0x1234n, 30_000], [0x99n, 4000]]);
    const [file] = listSnapshots(dir);
    expect(file.name).toBe('snapshot.8');
    expect(looksComplete(file)).toBe(true);
    const t2 = new DataTree();
    const loader = new TreeLoader(t2, () => {});
    const info = readSnapshot(file, loader);
    loader.finish(info.zxid);
    expect(info).toMatchObject({ zxid: 8, sessionCount: 2, nodeCount: 7, digest: { zxid: 0, version: 2, digest: 0n } });
    expect(canonical(t2)).toEqual(canonical(t));
    expect(t2.get('/n')!.data).toBe(t.get('/n')!.data); // NULL_DATA stays null, not empty
    expect([...t2.ephemerals.get(0x1234n)!]).toEqual(['/a/b']);
    expect(loader.sessions).toEqual([[0x1234n, 30_000], [0x99n, 4000]]);
    expect(t2.approximateDataSize).toBe(t.approximateDataSize);
  });

  it('names files as ZooKeeper does and ignores temporary ones', () => {
    expect(parseSnapshotFileName('snapshot.1a')).toEqual({ zxid: 0x1a, compression: 'none' });
    expect(parseSnapshotFileName('snapshot.1a.gz')).toEqual({ zxid: 0x1a, compression: 'gz' });
    expect(parseSnapshotFileName('snapshot.1a.snappy')).toEqual({ zxid: 0x1a, compression: 'snappy' });
    expect(parseSnapshotFileName('tmp.snapshot.1a')).toBeNull();
    expect(parseSnapshotFileName('snapshot.xyz')).toBeNull();
    expect(parseSnapshotFileName('log.1a')).toBeNull();
  });

  it('detects a flipped byte (Adler32), a cut file and a bad magic, naming file and offset', () => {
    const dir = freshDir('damage');
    const t = new DataTree();
    for (let i = 0; i < 50; i++) t.createNode(`/x${i}`, Buffer.from(`data-${i}`), t.acls.intern(OPEN_ACL_UNSAFE), 0n, -1, i + 1, 1_700_000_000_000);
    t.lastZxid = 50;
    const { path: good } = writeSnapshotNow(dir, t, []);
    const bytes = fs.readFileSync(good);
    const variants: [string, Buffer][] = [
      ['snapshot.100', Buffer.concat([bytes.subarray(0, 400), Buffer.from([bytes[400] ^ 0x10]), bytes.subarray(401)])],
      ['snapshot.101', bytes.subarray(0, bytes.length - 40)],
      ['snapshot.102', Buffer.concat([Buffer.from('ZKXX'), bytes.subarray(4)])],
    ];
    for (const [name, content] of variants) {
      fs.writeFileSync(path.join(dir, name), content);
      const file = listSnapshots(dir).find((f) => f.name === name)!;
      const attempt = () => readSnapshot(file, new TreeLoader(new DataTree(), () => {}));
      expect(attempt).toThrow(SnapshotCorruptError);
      expect(attempt).toThrow(new RegExp(`${name} is not valid at offset \\d+`));
    }
    expect(looksComplete(listSnapshots(dir).find((f) => f.name === 'snapshot.101')!)).toBe(false);
  });

  it('verifies the seals with a checksum thread too (startup), past several 1 MiB checkpoints', () => {
    const dir = freshDir('parallel');
    const t = new DataTree();
    const data = Buffer.alloc(1000, 0x33);
    for (let i = 0; i < 3500; i++) t.createNode(`/p${i}`, data, t.acls.intern(OPEN_ACL_UNSAFE), 0n, -1, i + 1, 1_700_000_000_000);
    t.lastZxid = 3500;
    const { path: good } = writeSnapshotNow(dir, t, []);
    const load = (name: string) => {
      const loader = new TreeLoader(new DataTree(), () => {});
      return readSnapshot(listSnapshots(dir).find((f) => f.name === name)!, loader, { parallelChecksum: true });
    };
    expect(load('snapshot.dac').nodeCount).toBe(3504);
    const bytes = fs.readFileSync(good);
    bytes[2_600_000] ^= 0x01; // inside some node's data: only the checksum can tell
    fs.writeFileSync(path.join(dir, 'snapshot.dad'), bytes);
    expect(() => load('snapshot.dad')).toThrow(/Adler32/);
  });

  it('loads a big snapshot (pages touched ahead by another thread) into the same tree, which then keeps changing', () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    const dir = freshDir('prefault');
    const t = new DataTree();
    const acl = t.acls.intern(OPEN_ACL_UNSAFE);
    // over 16 MiB and past the node store's first page (32,768 nodes): both kinds of buffer prefaulted
    for (let i = 0; i < 40_000; i++) {
      const data = Buffer.alloc(Math.floor(random() * 900), i % 251);
      t.createNode(i % 100 === 0 ? `/d${i}` : `/d${i - (i % 100)}/n${i}`, data, acl, 0n, -1, i + 1, 1_700_000_000_000 + i);
    }
    t.lastZxid = 40_000;
    const { path: file } = writeSnapshotNow(dir, t, []);
    expect(fs.statSync(file).size, `seed ${seed}`).toBeGreaterThan(16 << 20);
    const loaded = new DataTree();
    const loader = new TreeLoader(loaded, (msg) => { throw new Error(msg); });
    expect(readSnapshot(listSnapshots(dir)[0], loader, { parallelChecksum: true }).nodeCount).toBe(t.nodes.size);
    loader.finish(40_000);
    for (const [p, node] of t.nodes) {
      const got = loaded.get(p);
      expect(got?.data.equals(node.data), `${p}, seed ${seed}`).toBe(true);
      expect(got!.statInto({} as Stat), `${p}, seed ${seed}`).toEqual(node.statInto({} as Stat));
    }
    for (let i = 0; i < 40_000; i++) loaded.createNode(`/e${i}`, Buffer.alloc(100, 7), acl, 0n, -1, 40_001 + i, 1_700_000_100_000);
    loaded.setData('/d0/n1', Buffer.alloc(300, 9), -1, 80_001, 1_700_000_200_000);
    expect(loaded.get('/e39999')!.data.equals(Buffer.alloc(100, 7))).toBe(true);
    expect(loaded.get('/d0/n1')!.data.equals(Buffer.alloc(300, 9))).toBe(true);
  });

  it.skipIf(!fs.existsSync(ZOOKEEPER_JAR))('is read by ZooKeeper\'s own SnapshotFormatter', () => {
    const dir = freshDir('formatter');
    const logged: { zxid: number; bytes: Buffer }[] = [];
    const p = newPipeline(logged);
    const w = new Workload(p, seededRandom(7));
    for (let i = 0; i < 300; i++) w.step();
    const { path: file } = writeSnapshotNow(dir, p.tree, sessionsOf(p));
    const text = execFileSync('java', ['-cp', JAVA_CP, 'org.apache.zookeeper.server.SnapshotFormatter', '-d', file], { encoding: 'utf8' });
    // ZooKeeper counts the root twice ("" and "/")
    expect(text).toContain(`ZNode Details (count=${p.tree.nodes.size + 1})`);
    expect(text).toContain(`Last zxid: 0x${p.tree.lastZxid.toString(16)}`);
    for (const k of p.tree.nodes.keys()) if (k !== '/') expect(text).toContain(`\n${k}\n`);
    const json = execFileSync('java', ['-cp', JAVA_CP, 'org.apache.zookeeper.server.SnapshotFormatter', '-json', file], { encoding: 'utf8' });
    expect(() => JSON.parse(json)).not.toThrow();
  });
});

describe('fuzzy snapshots', () => {
  it('written in slices while writes continue, then the log after its zxid, restore the live tree exactly', () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    for (let round = 0; round < 20; round++) {
      const dir = freshDir(`fuzzy-${round}`);
      const logged: { zxid: number; bytes: Buffer }[] = [];
      now = 0;
      const p = newPipeline(logged);
      const w = new Workload(p, random);
      for (let i = 0; i < 200 + Math.floor(random() * 400); i++) w.step();
      // start a snapshot, and between every slice of a few nodes apply a few writes
      const zxid = p.tree.lastZxid;
      const serializer = new SnapshotSerializer(p.tree, sessionsOf(p), zxid);
      const writer = new SnapshotFileWriter(dir, zxid);
      const buf = Buffer.alloc(1 << 16);
      while (!serializer.done) {
        const end = serializer.fill(buf, 0, 200 + Math.floor(random() * 2000), 1 + Math.floor(random() * 8));
        writer.append(buf, 0, end);
        for (let i = Math.floor(random() * 6); i > 0; i--) w.step();
      }
      writer.finish();
      writer.commit();
      for (let i = 0; i < 50; i++) w.step();
      const file = listSnapshots(dir)[0];
      expect(file.zxid, `seed ${seed}`).toBe(zxid);
      const q = restore(file, logged);
      expect(canonical(q.tree), `seed ${seed} round ${round}`).toEqual(canonical(p.tree));
      expect(sessionsOf(q).sort(), `seed ${seed} round ${round}`).toEqual(sessionsOf(p).sort());
      expect(q.tree.lastZxid).toBe(p.tree.lastZxid);
    }
  });
});

describe('purge', () => {
  function touch(dir: string, name: string, content: Buffer = Buffer.alloc(0)): void {
    fs.writeFileSync(path.join(dir, name), content);
  }
  const sealed = Buffer.concat([Buffer.alloc(20), Buffer.from([0, 0, 0, 1, 0x2f])]);

  it('keeps N snapshots and every log needed to replay from the oldest kept one', () => {
    const snapDir = freshDir('purge-snap');
    const logDir = freshDir('purge-log');
    for (const z of [0x10, 0x20, 0x30, 0x40, 0x50]) touch(snapDir, `snapshot.${z.toString(16)}`, sealed);
    touch(snapDir, 'snapshot.60', Buffer.from('torn')); // no seal: does not count
    for (const z of [0x1, 0x11, 0x25, 0x2f, 0x35, 0x52]) touch(logDir, `log.${z.toString(16)}`);
    const result = purge(snapDir, logDir, 3);
    expect(result.oldestKeptZxid).toBe(0x30);
    expect(fs.readdirSync(snapDir).sort()).toEqual(['snapshot.30', 'snapshot.40', 'snapshot.50', 'snapshot.60']);
    // log.2f holds the txns right after snapshot.30
    expect(fs.readdirSync(logDir).sort()).toEqual(['log.2f', 'log.35', 'log.52']);
  });

  it('deletes nothing with fewer snapshots than it keeps, and refuses fewer than 3', () => {
    const snapDir = freshDir('purge-few');
    for (const z of [0x10, 0x20]) touch(snapDir, `snapshot.${z.toString(16)}`, sealed);
    touch(snapDir, 'log.1');
    touch(snapDir, 'log.15');
    expect(purge(snapDir, snapDir, 3).deleted).toEqual([]);
    expect(fs.readdirSync(snapDir).length).toBe(4);
    expect(() => purge(snapDir, snapDir, 2)).toThrow(/at least 3/);
  });
});
