// A truncated dataDir served by zooid and by Apache ZooKeeper 3.8: zooid writes a dataDir
// (creates, setData and deletes; several snapshots and log files), the log is truncated to a
// zxid in the middle with truncateTxnLog, and both servers start on copies of it and serve
// exactly the state of the txns up to that zxid — the same tree, node for node, and Zxid in
// srvr is that zxid. Then both take new writes after it.
//
// The snapshots newer than the zxid are removed first: a follower told to TRUNC holds none (its
// tree only has committed txns, and the leader truncates it to its newest committed zxid), and
// truncateTxnLog refuses to run while one exists (checked here too).
import { describe, it, expect, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startZooKeeper, startZooid, connectWhenServing, fourLetterWord, type ServerHandle } from '../support/servers.ts';
import { seededRandom, testSeed } from '../support/random.ts';
import { LeanClient } from '../../client/lean.ts';
import { TxnLogTruncateError, listLogFiles, readTxnLog, truncateTxnLog } from '../../engine/persistence/txnlog.ts';
import { listSnapshots } from '../../engine/persistence/snapshot.ts';

const seed = testSeed();
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-truncate-compat-'));
const handles: ServerHandle[] = [];
afterAll(async () => {
  for (const h of handles) await h.stop().catch(() => {});
  if (process.env.ZOOID_TEST_KEEP_TMP !== '1') fs.rmSync(root, { recursive: true, force: true });
});

type Op = { zxid: number; kind: 'create' | 'set' | 'delete'; path: string; data: string };

/** The children of /t and their data after the ops up to zxid. */
function modelAt(ops: readonly Op[], zxid: number): Map<string, string> {
  const nodes = new Map<string, string>();
  for (const op of ops) {
    if (op.zxid > zxid) break;
    if (op.kind === 'delete') nodes.delete(op.path);
    else nodes.set(op.path, op.data);
  }
  return new Map([...nodes].sort(([a], [b]) => a.localeCompare(b)));
}

const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));

async function treeOf(c: LeanClient): Promise<{ nodes: Map<string, string>; maxZxid: number; stats: string }> {
  const names = (await c.getChildren('/t')).sort();
  const nodes = new Map<string, string>();
  let maxZxid = 0;
  const stats: string[] = [];
  for (const name of names) {
    const { data, stat } = await c.getData(`/t/${name}`);
    nodes.set(`/t/${name}`, data.toString());
    maxZxid = Math.max(maxZxid, stat.czxid, stat.mzxid);
    stats.push(`${name} ${json(stat)}`);
  }
  const t = await c.exists('/t');
  stats.push(`/t ${json(t)}`);
  return { nodes, maxZxid: Math.max(maxZxid, t!.mzxid, t!.pzxid), stats: stats.join('\n') };
}

describe(`a truncated dataDir (seed ${seed})`, () => {
  it('zooid and ZooKeeper 3.8 both serve exactly the txns up to the zxid, then take new writes', async () => {
    const random = seededRandom(seed);
    const source = path.join(root, 'source');
    const writer = await startZooid({ dataDir: source, config: { snapCount: '16' }, keepDir: true });
    handles.push(writer);
    const ops: Op[] = [];
    const c = await connectWhenServing(writer);
    await c.create('/t');
    const live: string[] = [];
    for (let i = 0; i < 120; i++) {
      const r = random();
      if (r < 0.55 || live.length < 3) {
        const p = `/t/n${String(i).padStart(3, '0')}`;
        await c.create(p, Buffer.from(`c${i}`));
        live.push(p);
        ops.push({ zxid: c.lastZxid, kind: 'create', path: p, data: `c${i}` });
      } else if (r < 0.85) {
        const p = live[Math.floor(random() * live.length)];
        await c.setData(p, Buffer.from(`s${i}`));
        ops.push({ zxid: c.lastZxid, kind: 'set', path: p, data: `s${i}` });
      } else {
        const p = live.splice(Math.floor(random() * live.length), 1)[0];
        await c.delete(p);
        ops.push({ zxid: c.lastZxid, kind: 'delete', path: p, data: '' });
      }
    }
    await c.close();
    await writer.stop();

    const v2 = path.join(source, 'version-2');
    expect(listLogFiles(v2).length, 'several log files').toBeGreaterThan(2);
    // a zxid of one of the ops in the middle third, not at a snapshot
    const snapZxids = new Set(listSnapshots(v2).map((s) => s.zxid));
    const candidates = ops.slice(40, 80).filter((o) => !snapZxids.has(o.zxid));
    const zxid = candidates[Math.floor(random() * candidates.length)].zxid;
    expect(() => truncateTxnLog(v2, zxid, { snapDir: v2 })).toThrow(TxnLogTruncateError);
    for (const s of listSnapshots(v2)) if (s.zxid > zxid) fs.rmSync(s.path);
    const report = truncateTxnLog(v2, zxid, { snapDir: v2 });
    expect(report.removed.length).toBeGreaterThan(0);
    const logged = [...readTxnLog(v2, 0)].map((e) => e.zxid);
    expect(logged[logged.length - 1]).toBe(zxid);

    const expected = modelAt(ops, zxid);
    const trees: { nodes: Map<string, string>; maxZxid: number; stats: string }[] = [];
    for (const kind of ['zooid', 'zookeeper'] as const) {
      const dataDir = path.join(root, kind);
      fs.cpSync(source, dataDir, { recursive: true });
      const server = kind === 'zooid' ? await startZooid({ dataDir, keepDir: true }) : await startZooKeeper({ dataDir, keepDir: true });
      handles.push(server);
      expect(await fourLetterWord(server.port, 'srvr'), kind).toContain(`Zxid: 0x${zxid.toString(16)}\n`);
      const client = await connectWhenServing(server);
      const tree = await treeOf(client);
      expect([...tree.nodes], kind).toEqual([...expected]);
      expect(tree.maxZxid, kind).toBeLessThanOrEqual(zxid);
      trees.push(tree);
      // new writes continue after the zxid
      await client.create('/after', Buffer.from(kind));
      const stat = await client.exists('/after');
      expect(stat!.czxid, kind).toBeGreaterThan(zxid);
      await client.close();
      await server.stop();
    }
    expect(trees[0].stats, 'every Stat the same on both').toBe(trees[1].stats);
  }, 180_000);
});
