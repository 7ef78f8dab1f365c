// TxnHistory (engine/persistence/txn-history.ts) on real dataDirs, against ZooKeeper 3.8's own
// decision: for each dataDir (snapshots and log files written with zooid's writers), Apache
// ZooKeeper's ZKDatabase.loadDataBase + LearnerHandler.syncFollower run in a JVM
// (test/support/zk-oracle.ts) for many learner zxids, and TxnHistory loaded the same way must
// plan the same sync: SNAP or not, the DIFF/TRUNC packet and its zxid, every PROPOSAL's zxid and
// data (Adler32), and where forwarding starts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JuteWriter } from '../../native-free-io/jute.ts';
import { adler32 } from '../../native-free-io/adler32.ts';
import { DataTree } from '../../engine/core/tree.ts';
import { decodeTxn } from '../../engine/core/txn.ts';
import { replayTxn } from '../../engine/core/replay.ts';
import { TxnLogWriter } from '../../engine/persistence/txnlog.ts';
import { writeSnapshotNow } from '../../engine/persistence/snapshot.ts';
import { TxnHistory, type SyncPlanResult } from '../../engine/persistence/txn-history.ts';
import { zkSyncFollower } from '../support/zk-oracle.ts';
import { seededRandom, testSeed } from '../support/random.ts';

const E = 0x1_0000_0000;
const seed = testSeed();

function createTxn(zxid: number, dataBytes: number): Buffer {
  const w = new JuteWriter(dataBytes + 256);
  w.long(0x1000004811300a0n).int(7).longNumber(zxid).longNumber(1_700_000_000_000).int(1);
  w.string(`/n${zxid.toString(16)}`).buffer(Buffer.alloc(dataBytes, zxid & 0xff));
  w.int(1).int(31).string('world').string('anyone');
  w.bool(false).int(-1);
  return w.copy();
}

interface Layout {
  /** One log file per segment. */
  segments: number[][];
  /** Snapshots written once these zxids are applied (snapshot.0 is always there). */
  snapshotsAt: number[];
  dataBytes: (zxid: number) => number;
  preAllocBytes: number;
}

interface Built {
  dataDir: string;
  v2: string;
  lastZxid: number;
  newestSnapshotZxid: number;
}

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-txnhistory-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

let built = 0;
function build(layout: Layout): Built {
  const dataDir = path.join(root, `data${built++}`);
  const v2 = path.join(dataDir, 'version-2');
  fs.mkdirSync(v2, { recursive: true });
  const tree = new DataTree();
  writeSnapshotNow(v2, tree, []);
  let newestSnapshotZxid = 0;
  const w = new TxnLogWriter({ dir: v2, preAllocBytes: layout.preAllocBytes, forceSync: false, lastLoggedZxid: 0 });
  for (const segment of layout.segments) {
    for (const z of segment) {
      const bytes = createTxn(z, layout.dataBytes(z));
      w.append(z, bytes);
      const { hdr, txn } = decodeTxn(bytes);
      replayTxn(tree, hdr, txn);
      tree.lastZxid = z;
      if (layout.snapshotsAt.includes(z)) {
        w.flush();
        writeSnapshotNow(v2, tree, []);
        newestSnapshotZxid = z;
      }
    }
    w.roll();
  }
  w.close();
  return { dataDir, v2, lastZxid: tree.lastZxid, newestSnapshotZxid };
}

/** ZooKeeper's line for a DIFF or TRUNC plan: its packets, then where forwarding starts. */
function render(plan: SyncPlanResult): string {
  const hex = (z: number) => z.toString(16);
  if (plan.kind === 'snap') return 'SNAP';
  const packets = [`${plan.kind === 'diff' ? 13 : 14}:${hex(plan.zxid)}`];
  for (const t of plan.txns) packets.push(`2:${hex(t.zxid)}:${adler32(t.txn).toString(16)}`, `4:${hex(t.zxid)}`);
  return `${packets.join(' ')} fwd ${hex(plan.syncedZxid)}`;
}

/** Zxids worth asking about: the edges of files, epochs and the committed log, and random ones. */
function peersFor(layout: Layout, b: Built, committed: { min: number; max: number } | null, random: () => number): number[] {
  const all = layout.segments.flat();
  const edges = new Set<number>([0, 1, b.lastZxid, b.lastZxid + 1, b.lastZxid + 50]);
  for (const s of layout.segments) for (const z of [s[0] - 1, s[0], s[0] + 1, s[s.length - 1], s[s.length - 1] + 1]) edges.add(z);
  for (const z of all) edges.add(Math.floor(z / E) * E).add((Math.floor(z / E) + 1) * E);
  if (committed !== null) for (const z of [committed.min - 1, committed.min, committed.min + 1, committed.max - 1, committed.max]) edges.add(z);
  for (const z of layout.snapshotsAt) edges.add(z);
  for (let i = 0; i < 30; i++) edges.add(all[Math.floor(random() * all.length)]);
  for (let i = 0; i < 10; i++) edges.add(all[Math.floor(random() * all.length)] + 1 + Math.floor(random() * 3));
  return [...edges].filter((z) => z >= 0).sort((x, y) => x - y);
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

const LAYOUTS: [string, Layout][] = [
  ['one epoch, big snapshot: the txn log path reaches back past the committed log', {
    segments: [range(1, 150), range(151, 400), range(401, 900)], snapshotsAt: [120, 380],
    dataBytes: (z) => (z <= 380 ? 1500 : 10), preAllocBytes: 0,
  }],
  ['one epoch, small snapshot: the txn log is over snapshotSizeFactor', {
    segments: [range(1, 150), range(151, 400), range(401, 900)], snapshotsAt: [120, 380],
    dataBytes: () => 30, preAllocBytes: 0,
  }],
  ['three epochs, preallocated files', {
    segments: [range(E + 1, E + 100), range(2 * E + 1, 2 * E + 300), range(3 * E + 1, 3 * E + 400)], snapshotsAt: [E + 50],
    dataBytes: (z) => (z <= E + 50 ? 4000 : 20), preAllocBytes: 64 * 1024,
  }],
  ['three epochs, two files in one', {
    segments: [[...range(E + 1, E + 100), ...range(2 * E + 1, 2 * E + 40)], range(2 * E + 41, 2 * E + 700)], snapshotsAt: [E + 90],
    dataBytes: (z) => (z <= E + 90 ? 8000 : 20), preAllocBytes: 0,
  }],
  ['a gap in the log: a learner with txns this leader never saw is cut back (TRUNC, then the txns)', {
    segments: [[...range(1, 100), ...range(120, 300)], range(301, 400)], snapshotsAt: [],
    dataBytes: () => 20, preAllocBytes: 0,
  }],
  ['a gap before the committed log, reached through the txn log', {
    segments: [[...range(1, 100), ...range(120, 300)], range(301, 1000)], snapshotsAt: [200],
    dataBytes: (z) => (z <= 200 ? 3000 : 20), preAllocBytes: 0,
  }],
];

describe(`TxnHistory.plan against LearnerHandler.syncFollower (seed ${seed})`, () => {
  const random = seededRandom(seed);
  it.each(LAYOUTS)('%s', (_what, layout) => {
    const b = build(layout);
    const history = new TxnHistory(b.v2, { snapDir: b.v2, committedLogMax: 500, snapshotSizeFactor: 0.33 });
    history.loadCommitted(b.newestSnapshotZxid);
    const committed = history.committedRange();
    const peers = peersFor(layout, b, committed, random);
    const zk = zkSyncFollower(b.dataDir, b.dataDir, peers);
    // both hold the same committed log
    expect(zk.loaded.lastProcessed).toBe(b.lastZxid);
    expect(committed === null ? [0, 0] : [committed.min, committed.max]).toEqual([zk.loaded.min, zk.loaded.max]);
    const kinds = new Set<string>();
    for (const d of zk.decisions) {
      const plan = history.plan(d.peer, b.lastZxid);
      kinds.add(plan.kind);
      if (d.snap) {
        // ZooKeeper forwards from the snapshot's zxid — or, where a TRUNC across an epoch
        // made it give up on the committed log, from the learner's own zxid (a quirk: the
        // proposals in between come again after the snapshot); a SNAP here is always at lastZxid
        expect(plan.kind, `peer 0x${d.peer.toString(16)}`).toBe('snap');
        expect([b.lastZxid, d.peer]).toContain(d.forwardFrom);
        continue;
      }
      expect(render(plan), `peer 0x${d.peer.toString(16)}`).toBe(`${d.packets.join(' ')} fwd ${d.forwardFrom.toString(16)}`);
    }
    expect(kinds.size, `more than one kind of sync among ${peers.length} peers`).toBeGreaterThan(1);
  }, 60_000);
});

describe('TxnHistory', () => {
  it('keeps committedLogMax + 1 txns, as ZKDatabase.addCommittedProposal', () => {
    const b = build({ segments: [range(1, 5)], snapshotsAt: [], dataBytes: () => 1, preAllocBytes: 0 });
    const h = new TxnHistory(b.v2, { snapDir: b.v2, committedLogMax: 3, snapshotSizeFactor: 0.33 });
    const txn = range(1, 3000).map((z) => createTxn(z, 1));
    for (let z = 1; z <= 3000; z++) h.add(z, txn[z - 1]);
    expect(h.committedRange()).toEqual({ min: 2997, max: 3000 });
    expect(h.committedLog.map((t) => t.zxid)).toEqual([2997, 2998, 2999, 3000]);
    expect(() => h.add(3000, txn[2999])).toThrow(/does not follow/);
    expect(() => h.add(3001, txn[0])).toThrow(/carries zxid 0x1/);
  });

  it('copies what it is given', () => {
    const b = build({ segments: [range(1, 2)], snapshotsAt: [], dataBytes: () => 1, preAllocBytes: 0 });
    const h = new TxnHistory(b.v2, { snapDir: b.v2, committedLogMax: 500, snapshotSizeFactor: 0.33 });
    const buf = createTxn(7, 4);
    h.add(7, buf);
    buf.fill(0);
    expect(h.committedLog[0].data).toEqual(createTxn(7, 4));
  });

  it('txnsFrom: off with a negative factor, null when the log starts after the zxid, else from the file holding it', () => {
    const b = build({ segments: [range(10, 20), range(21, 30)], snapshotsAt: [], dataBytes: () => 1, preAllocBytes: 0 });
    const off = new TxnHistory(b.v2, { snapDir: b.v2, committedLogMax: 500, snapshotSizeFactor: -1 });
    expect(off.txnsFrom(15)).toBeNull();
    // snapshot.0 is small: its limit is a few bytes, and the log past the first file is over it
    const small = new TxnHistory(b.v2, { snapDir: b.v2, committedLogMax: 500, snapshotSizeFactor: 0.33 });
    expect(small.txnsFrom(15)).toBeNull();
    expect(small.txnsFrom(9)).toBeNull();
    const all = new TxnHistory(b.v2, { snapDir: b.v2, committedLogMax: 500, snapshotSizeFactor: 1000 });
    expect(all.txnsFrom(9)).toBeNull(); // the log starts after 9
    expect([...all.txnsFrom(15)!].map((t) => t.zxid)).toEqual(range(10, 30));
    expect([...all.txnsFrom(25)!].map((t) => t.zxid)).toEqual(range(21, 30));
    expect([...small.txnsFrom(25)!].map((t) => t.zxid)).toEqual(range(21, 30)); // the file being read does not count
  });

  it('refuses a dataDir for its version-2 directory', () => {
    const b = build({ segments: [range(1, 2)], snapshotsAt: [], dataBytes: () => 1, preAllocBytes: 0 });
    expect(() => new TxnHistory(b.dataDir, { snapDir: b.v2, committedLogMax: 500, snapshotSizeFactor: 0.33 })).toThrow(/pass dataDir\/version-2/);
  });
});
