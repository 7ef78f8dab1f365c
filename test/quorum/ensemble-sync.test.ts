// How a zooid server that comes back to a zooid ensemble is synced (engine/workers/
// quorum-worker.ts, ZabLeader's planSync over its committed log and the txn log files):
//   DIFF   a follower killed while a few writes happen gets them as PROPOSAL/COMMIT pairs;
//   TRUNC  a leader that logged a txn no follower has (both followers killed under it), then
//          died, comes back after the others restarted and elected a new leader, and has that
//          txn cut from its log: the write is nowhere, every acknowledged one everywhere;
//   SNAP   a follower killed while more writes happen than the committed log keeps (500), with
//          a txn log too large next to the snapshot (snapCount 100 rolls it often), gets the
//          leader's committed tree.
// Each server's own log line says which sync it got ("synced with the leader (DIFF)").
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as path from 'node:path';
import { allocatePorts, oneLeader, serverLines, startZooidPeer, type ZooidPeer } from '../support/ensemble.ts';
import { ZkSession } from '../support/zkclient.ts';
import { waitFor, withDeadline } from '../support/wait.ts';
import { readTxnLog } from '../../engine/persistence/txnlog.ts';

const DEADLINE_MS = 60_000;
/** More than the leader's committed log (500): the learner is behind it. */
const WRITES_FOR_SNAP = 700;

const cleanups: (() => Promise<void>)[] = [];
async function session(name: string, port: number, sessionTimeoutMs = 10_000): Promise<ZkSession> {
  const s = await ZkSession.connect(name, port, { sessionTimeoutMs, connectTimeoutMs: DEADLINE_MS, requestTimeoutMs: 30_000 });
  cleanups.push(() => s.dispose());
  return s;
}

const settled = (peers: readonly ZooidPeer[], what: string) => oneLeader(peers, what, DEADLINE_MS);

/** The sync a server's last "synced with the leader (KIND)" line names. */
function lastSync(p: ZooidPeer): string | null {
  const all = [...p.logTail(10_000).matchAll(/synced with the leader \((\w+)\)/g)];
  return all.length === 0 ? null : all[all.length - 1][1];
}

/** Every write path in `paths` is on `p`, and none of `absent`, after a sync. */
async function expectData(p: ZooidPeer, paths: readonly string[], absent: readonly string[]): Promise<void> {
  const s = await session(`check-${p.sid}`, p.clientPort);
  expect(await s.sync('/')).toMatchObject({ err: 'OK' });
  const children = (await s.getChildren('/')).children as string[];
  expect(paths.filter((x) => !children.includes(x.slice(1))), `missing on server ${p.sid}`).toEqual([]);
  expect(absent.filter((x) => children.includes(x.slice(1))), `present on server ${p.sid}`).toEqual([]);
  await s.dispose();
}

describe('a zooid server coming back to a zooid ensemble', () => {
  let peers: ZooidPeer[] = [];
  const written: string[] = [];

  beforeAll(async () => {
    const ports = await allocatePorts([1, 2, 3]);
    // sessions of up to two minutes: one the TRUNC case leaves behind must not expire (a txn in
    // the new epoch) before the old leader is back
    // snapCount 100: logs roll and snapshots are taken every 50-100 txns (a SNAP case needs a txn log
    // larger than a third of the snapshot); preAllocSize 1 MiB keeps the many log files small
    const extra = { maxSessionTimeout: '120000', snapCount: '100', preAllocSize: '1024' };
    peers = await Promise.all(ports.map((p) => startZooidPeer(p, serverLines(ports), extra)));
  }, 120_000);

  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await withDeadline(c(), DEADLINE_MS, 'a cleanup').catch((e: Error) => console.error(`cleanup: ${e.message}`));
    await Promise.all(peers.map((p) => p.stop().catch((e: Error) => console.error(`stop ${p.sid}: ${e.message}`))));
  }, 60_000);

  it('is sent the txns it missed (DIFF)', async () => {
    const leader = await settled(peers, 'one leader');
    const [gone, other] = peers.filter((p) => p !== leader);
    // the follower has a txn of this leader's committed log (else it is behind the log's start)
    const s = await session('diff-writer', other.clientPort);
    expect(await s.create('/diff-before', 'd')).toMatchObject({ err: 'OK' });
    written.push('/diff-before');
    await expectData(gone, written, []);
    await gone.kill9();
    for (let i = 0; i < 5; i++) {
      expect(await s.create(`/diff-${i}`, 'd')).toMatchObject({ err: 'OK' });
      written.push(`/diff-${i}`);
    }
    await s.dispose();
    await gone.restart();
    await settled(peers, `server ${gone.sid} to rejoin`);
    expect(lastSync(gone)).toBe('DIFF');
    await expectData(gone, written, []);
  }, 180_000);

  it('has a txn no quorum logged cut from its log (TRUNC)', async () => {
    const leader = await settled(peers, 'one leader');
    const followers = peers.filter((p) => p !== leader);
    const s = await session('trunc-writer', leader.clientPort, 120_000);
    for (const f of followers) await f.kill9();
    // the leader (until it misses its quorum, syncLimit ticks) logs /uncommitted and can send it to no one
    const pending = s.create('/uncommitted', 'never acknowledged').catch(() => ({ err: 'TIMEOUT' }));
    const logDir = path.join(leader.dataDir, 'version-2');
    let uncommittedZxid = -1;
    await waitFor(() => {
      for (const e of readTxnLog(logDir, 0)) if (e.bytes.includes(Buffer.from('/uncommitted'))) uncommittedZxid = e.zxid;
      return uncommittedZxid > 0;
    }, { timeoutMs: DEADLINE_MS, what: 'the leader to log /uncommitted' });
    await leader.kill9();
    expect((await pending).err).not.toBe('OK');
    await Promise.all(followers.map((f) => f.restart()));
    await settled(followers, 'the two followers to elect a leader between them');

    // no write in the new epoch yet: the old leader's extra txn follows the new leader's last one in its epoch
    await leader.restart();
    await settled(peers, `server ${leader.sid} to rejoin`);
    expect(lastSync(leader)).toBe('TRUNC');
    expect(leader.logTail(10_000)).toContain(`TRUNC: cutting the log after zxid 0x${(uncommittedZxid - 1).toString(16)}`);
    for (const p of peers) await expectData(p, written, ['/uncommitted']);
    // the log it keeps ends before the cut txn, and new writes follow
    expect([...readTxnLog(logDir, 0)].map((e) => e.zxid)).not.toContain(uncommittedZxid);
    const after = await session('after-trunc', leader.clientPort);
    expect(await after.create('/after-trunc', 't')).toMatchObject({ err: 'OK' });
    written.push('/after-trunc');
    for (const p of peers) await expectData(p, written, ['/uncommitted']);
  }, 180_000);

  it('is sent the leader\'s committed tree when it is too far behind (SNAP)', async () => {
    const leader = await settled(peers, 'one leader');
    const [gone, other] = peers.filter((p) => p !== leader);
    await gone.kill9();
    const s = await session('snap-writer', other.clientPort);
    const batch: Promise<{ err: string }>[] = [];
    for (let i = 0; i < WRITES_FOR_SNAP; i++) batch.push(s.create(`/snap-${i}`, 's'));
    for (const r of await Promise.all(batch)) expect(r).toMatchObject({ err: 'OK' });
    for (let i = 0; i < WRITES_FOR_SNAP; i++) written.push(`/snap-${i}`);
    await gone.restart();
    await settled(peers, `server ${gone.sid} to rejoin`);
    expect(lastSync(gone)).toBe('SNAP');
    // the tree it replaced was given back at once, not left to an idle trim
    expect(gone.logTail(10_000)).toMatch(/memory trim after the reload \(synced by snapshot\): heap [\d.]+ → [\d.]+ MiB/);
    await expectData(gone, written, ['/uncommitted']);
    // a write through it reaches the others: its log goes on after the snapshot
    const via = await session('via-snapped', gone.clientPort);
    expect(await via.create('/after-snap', 'x')).toMatchObject({ err: 'OK' });
    written.push('/after-snap');
    for (const p of peers) await expectData(p, written, ['/uncommitted']);
  }, 240_000);
});
