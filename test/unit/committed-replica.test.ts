// CommittedReplica (engine/persistence/committed-replica.ts): fed the committed txns of a real
// Pipeline under a seeded random client workload (sessions, ephemerals, sequentials, setData,
// setACL, deletes, multis that fail, closes and expiries), its SNAP body is byte for byte what
// the pipeline's own tree serializes at the same zxid; behind the pipeline (txns not committed
// yet) it is the state at its own zxid; a learner's decoder reads it back to the same tree;
// fromDisk() loads a dataDir without changing a file.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Pipeline, type PipelineOptions } from '../../engine/core/pipeline.ts';
import { encodeTxn } from '../../engine/core/txn.ts';
import { DataTree } from '../../engine/core/tree.ts';
import { Op, OPEN_ACL_UNSAFE, writeAcls, type Acl } from '../../engine/protocol.ts';
import { JuteWriter } from '../../native-free-io/jute.ts';
import { CommittedReplica } from '../../engine/persistence/committed-replica.ts';
import { serializeForLearner } from '../../engine/quorum/zab-leader-shell.ts';
import { SnapStreamDecoder, SNAP_SIGNATURE } from '../../engine/quorum/zab-learner-snap.ts';
import { TreeLoader, writeSnapshotNow } from '../../engine/persistence/snapshot.ts';
import { TxnLogWriter } from '../../engine/persistence/txnlog.ts';
import { seededRandom, testSeed } from '../support/random.ts';
import { treeState } from './core-support.ts';

const seed = testSeed();
const TXN_BYTES_MAX = 2 * 0xfffff;
const RESTRICTED: Acl[] = [{ perms: 1, id: { scheme: 'world', id: 'anyone' } }, { perms: 31, id: { scheme: 'ip', id: '127.0.0.1' } }];

/** A standalone Pipeline driven by random client requests; every txn it logs, in order. */
class Workload {
  nowMs = 0;
  readonly p: Pipeline;
  readonly logged: { zxid: number; bytes: Buffer }[] = [];
  private readonly random: () => number;
  private conns: number[] = [];
  private nextConn = 1;
  private xid = 1;
  private readonly paths: string[] = ['/'];
  private seq = 0;

  constructor(random: () => number) {
    this.random = random;
    const opts: PipelineOptions = {
      tickMs: 100, minSessionTimeoutMs: 200, maxSessionTimeoutMs: 5000, serverId: 1, superDigest: null, extendedTypesEnabled: false,
      containerCheckIntervalMs: 60_000, containerMaxPerMinute: 10_000, containerMaxNeverUsedIntervalMs: 0, enforceQuota: false,
      maxReplyBytes: 0xfffff, txnBytesMax: TXN_BYTES_MAX, nowMs: () => this.nowMs, wallMs: () => 1_700_000_000_000 + this.nowMs,
    };
    this.p = new Pipeline(opts, { send: () => {}, close: () => {}, appendLog: (zxid, bytes) => this.logged.push({ zxid, bytes: Buffer.from(bytes) }) });
    this.p.recovered();
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)];
  }

  private frame(type: number, body: (w: JuteWriter) => void): Buffer {
    const w = new JuteWriter(1024);
    w.int(this.xid++).int(type);
    body(w);
    return w.copy();
  }

  private createBody(w: JuteWriter, p: string, flags: number): void {
    w.string(p).buffer(Buffer.alloc(Math.floor(this.random() * 40), this.seq & 0xff));
    writeAcls(w, this.random() < 0.2 ? RESTRICTED : OPEN_ACL_UNSAFE);
    w.int(flags);
  }

  private newPath(): string {
    const parent = this.pick(this.paths);
    return `${parent === '/' ? '' : parent}/n${this.seq++}`;
  }

  /** One client action, then everything logged is made durable (standalone: committed). */
  step(): void {
    const r = this.random();
    const conn = this.conns.length === 0 ? -1 : this.pick(this.conns);
    if (conn < 0 || r < 0.06) {
      const key = this.nextConn++;
      const w = new JuteWriter(128);
      w.int(0).longNumber(0).int(1000 + Math.floor(this.random() * 3000)).long(0n).buffer(Buffer.alloc(16)).bool(false);
      this.p.connect(key, '127.0.0.1', 5000 + key, w.copy());
      this.conns.push(key);
    } else if (r < 0.09) {
      this.p.request(conn, this.frame(Op.closeSession, () => {}));
      this.conns = this.conns.filter((c) => c !== conn);
    } else if (r < 0.1) {
      // every session expires
      this.nowMs += 10_000;
      this.p.tick();
      this.conns = [];
    } else if (r < 0.5) {
      const p = this.newPath();
      const flags = Math.floor(this.random() * 4); // persistent, ephemeral, sequential, both
      this.p.request(conn, this.frame(Op.create, (w) => this.createBody(w, p, flags)));
      if (flags === 0) this.paths.push(p);
    } else if (r < 0.7) {
      const p = this.pick(this.paths);
      this.p.request(conn, this.frame(Op.setData, (w) => w.string(p).buffer(Buffer.from(`d${this.seq++}`)).int(-1)));
    } else if (r < 0.78) {
      const p = this.pick(this.paths);
      this.p.request(conn, this.frame(Op.delete, (w) => w.string(p).int(-1)));
    } else if (r < 0.85) {
      const p = this.pick(this.paths);
      this.p.request(conn, this.frame(Op.setACL, (w) => {
        w.string(p);
        writeAcls(w, this.random() < 0.5 ? RESTRICTED : OPEN_ACL_UNSAFE);
        w.int(-1);
      }));
    } else {
      // a multi: two creates and a delete, which fails when the victim has children or is gone
      const a = this.newPath();
      const victim = this.pick(this.paths);
      this.p.request(conn, this.frame(Op.multi, (w) => {
        w.int(Op.create).bool(false).int(-1);
        this.createBody(w, a, 0);
        w.int(Op.create).bool(false).int(-1);
        this.createBody(w, `${a}/c`, 1);
        w.int(Op.delete).bool(false).int(-1);
        w.string(victim).int(-1);
        w.int(-1).bool(true).int(-1);
      }));
    }
    this.p.durable(this.p.tree.lastZxid);
  }

  sessions(): [bigint, number][] {
    return [...this.p.sessions.sessions.values()].map((s) => [s.id, s.timeoutMs]);
  }
}

const bytesOf = (chunks: Iterable<Buffer>) => Buffer.concat([...chunks]);

/** What a learner makes of a SNAP body (with the signature LearnerHandler writes after it). */
function learnerReads(chunks: Iterable<Buffer>, zxid: number): { tree: DataTree; sessions: [bigint, number][] } {
  const tree = new DataTree();
  const loader = new TreeLoader(tree, (m) => {
    throw new Error(m);
  });
  const decoder = new SnapStreamDecoder(loader, TXN_BYTES_MAX);
  const stream = Buffer.concat([...chunks, new JuteWriter(64).string(SNAP_SIGNATURE).copy()]);
  expect(decoder.feed(stream, 0)).toBe(stream.length);
  expect(decoder.done).toBe(true);
  loader.finish(zxid);
  return { tree, sessions: loader.sessions };
}

function emptyReplica(): CommittedReplica {
  return new CommittedReplica({ tree: new DataTree(), sessions: [] });
}

describe(`CommittedReplica (seed ${seed})`, () => {
  it('fed every committed txn, its SNAP body holds the pipeline tree and sessions at every step', () => {
    const w = new Workload(seededRandom(seed));
    const replica = emptyReplica();
    let fed = 0;
    for (let i = 0; i < 1500; i++) {
      w.step();
      for (; fed < w.logged.length; fed++) replica.apply(w.logged[fed].zxid, w.logged[fed].bytes);
      if (i % 100 === 99) {
        expect(replica.lastZxid).toBe(w.p.tree.lastZxid);
        // the same tree and sessions; ACL cache references may differ (the pipeline's advanced
        // for writes that failed after prep, the replica's only for committed txns)
        const snap = learnerReads(replica.serialize(), replica.lastZxid);
        expect(treeState(snap.tree), `step ${i}`).toEqual(treeState(w.p.tree));
        expect(snap.sessions, `step ${i}`).toEqual(w.sessions());
      }
    }
    expect(replica.nodeCount).toBe(w.p.tree.nodes.size);
    expect(w.logged.length).toBeGreaterThan(1500);
    const types = new Set(w.logged.map((l) => l.bytes.readInt32BE(28)));
    for (const t of [Op.createSession, Op.closeSession, Op.create, Op.setData, Op.delete, Op.setACL, Op.multi, Op.error]) expect(types, `txn type ${t}`).toContain(t);
  });

  it('behind the pipeline (txns not committed yet) it is the state at its own zxid, and a learner reads it back', () => {
    const w = new Workload(seededRandom(seed ^ 0x5eed));
    for (let i = 0; i < 800; i++) w.step();
    const committed = w.logged.slice(0, Math.floor(w.logged.length * 0.6));
    const replica = emptyReplica();
    for (const t of committed) replica.apply(t.zxid, t.bytes);
    // the committed state, independently: a second pipeline replaying the same txns
    const at = new Workload(seededRandom(0));
    for (const t of committed) at.p.replay(t.bytes);
    expect(treeState(learnerReads(replica.serialize(), 0).tree)).not.toEqual(treeState(w.p.tree));
    // replayed txns intern ACLs in the same order: here even the bytes are the same
    expect(bytesOf(replica.serialize())).toEqual(bytesOf(serializeForLearner(at.p.tree, at.sessions())));
    // a learner's SNAP decoder gets the same tree
    const read = learnerReads(replica.serialize(), replica.lastZxid);
    expect(treeState(read.tree)).toEqual(treeState(at.p.tree));
    expect(read.sessions).toEqual(at.sessions());
  });

  it('applies exactly: a txn out of order, with another zxid, or not fitting the state throws', () => {
    const w = new Workload(seededRandom(seed));
    for (let i = 0; i < 300; i++) w.step();
    const replica = emptyReplica();
    const [first, second] = w.logged;
    expect(() => replica.apply(first.zxid + 1, first.bytes)).toThrow(/carries zxid/);
    replica.apply(first.zxid, first.bytes);
    expect(() => replica.apply(first.zxid, first.bytes)).toThrow(/after/);
    replica.apply(second.zxid, second.bytes);
    // a delete of a node the replica does not have: a broken stream
    const zxid = second.zxid + 1;
    const broken = new JuteWriter(256);
    encodeTxn(broken, { sessionId: 1n, cxid: 1, zxid, timeMs: 0, type: Op.delete }, { type: Op.delete, path: '/missing' });
    expect(() => replica.apply(zxid, broken.copy())).toThrow(/does not apply to the committed state: error -101 at \/missing/);
  });

  it('refuses txns while a SNAP is being serialized, and takes them again after', () => {
    const w = new Workload(seededRandom(seed));
    for (let i = 0; i < 30; i++) w.step();
    const replica = emptyReplica();
    const half = Math.floor(w.logged.length / 2);
    for (const t of w.logged.slice(0, half)) replica.apply(t.zxid, t.bytes);
    const next = w.logged[half];
    const chunks = replica.serialize();
    chunks.next();
    expect(() => replica.apply(next.zxid, next.bytes)).toThrow(/being serialized/);
    for (const _ of chunks) { /* drain */ }
    replica.apply(next.zxid, next.bytes);
    for (const _ of replica.serialize()) break; // stopped early: released too
    replica.apply(w.logged[half + 1].zxid, w.logged[half + 1].bytes);
  });
});

describe('CommittedReplica.fromDisk', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-replica-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('loads snapshot + log as recovery does, reading only: a torn tail stays on disk', () => {
    const w = new Workload(seededRandom(seed));
    for (let i = 0; i < 400; i++) w.step();
    // a snapshot of the state after the first 300 txns, the whole log, and a torn tail
    const at = new Workload(seededRandom(0));
    for (const t of w.logged.slice(0, 300)) at.p.replay(t.bytes);
    writeSnapshotNow(dir, at.p.tree, at.sessions());
    const writer = new TxnLogWriter({ dir, preAllocBytes: 0, forceSync: false, lastLoggedZxid: 0 });
    for (const t of w.logged) writer.append(t.zxid, t.bytes);
    writer.close();
    const log = fs.readdirSync(dir).find((n) => n.startsWith('log.'))!;
    fs.appendFileSync(path.join(dir, log), Buffer.from([0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 99, 7]));
    const before = new Map(fs.readdirSync(dir).map((n) => [n, fs.readFileSync(path.join(dir, n))]));
    const warnings: string[] = [];
    const { replica, report } = CommittedReplica.recover({ snapDir: dir, logDir: dir, txnBytesMax: TXN_BYTES_MAX, warn: (m) => warnings.push(m) });
    expect(report.txnCount).toBe(w.logged.length - 300);
    expect(replica.lastZxid).toBe(w.p.tree.lastZxid);
    const read = learnerReads(replica.serialize(), replica.lastZxid);
    expect(treeState(read.tree)).toEqual(treeState(w.p.tree));
    expect(read.sessions).toEqual(w.sessions());
    expect(warnings.join('\n')).toMatch(/torn tail/);
    expect(new Map(fs.readdirSync(dir).map((n) => [n, fs.readFileSync(path.join(dir, n))]))).toEqual(before);
    const again = CommittedReplica.fromDisk({ snapDir: dir, logDir: dir, txnBytesMax: TXN_BYTES_MAX, warn: () => {} });
    expect(bytesOf(again.serialize())).toEqual(bytesOf(replica.serialize()));
  });
});
