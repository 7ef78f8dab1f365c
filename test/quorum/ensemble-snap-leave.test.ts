// A follower synced by SNAP whose leader dies before the next txn (found by the five-server
// tests: a server killed and restarted got SNAP, its leader was killed at once, and it never
// elected again). After a SNAP the pipeline reloads the snapshot the quorum worker wrote: the
// tree is at the snapshot's zxid, the log has nothing past its old end. Leaving the role waits
// for the log to be durable up to the last zxid the pipeline holds; with the durable zxid left
// at the log's end it waited forever, the server stuck between roles (not serving, not electing).
// Three zooid servers: a follower killed, writes (a txn log larger than a third of the tiny
// snapshot: it gets SNAP when it comes back), restarted, its leader killed as soon as it serves:
// it and the other follower must elect a leader and serve every write.
import { describe, it, expect, afterAll } from 'vitest';
import { Cleanups, oneLeader } from '../support/ensemble.ts';
import { waitFor } from '../support/wait.ts';

const DEADLINE_MS = 60_000;

const cleanups = new Cleanups();
afterAll(() => cleanups.run(), 60_000);

describe('a follower synced by SNAP', () => {
  it('elects again when its leader dies before the next txn', async () => {
    const { peers } = await cleanups.zooidEnsemble([1, 2, 3]);
    const leader = await oneLeader(peers, 'one leader and two followers', DEADLINE_MS);
    const [gone, other] = peers.filter((p) => p !== leader);
    await gone.kill9();
    const writer = await cleanups.session('writer', leader.clientPort);
    for (let i = 0; i < 10; i++) expect(await writer.create(`/w${i}`, 'x')).toMatchObject({ err: 'OK' });

    await gone.restart();
    await waitFor(async () => (await gone.mode()) === 'follower', { timeoutMs: DEADLINE_MS, what: `server ${gone.sid} to follow again\n${gone.logTail(20)}` });
    expect(gone.logTail(200)).toMatch(/synced with the leader \(SNAP\)/);
    await leader.kill9();

    const next = await oneLeader([gone, other], `servers ${gone.sid} and ${other.sid} to elect a leader`, DEADLINE_MS);
    const s = await cleanups.session('after', next.clientPort);
    expect(await s.create('/after', '')).toMatchObject({ err: 'OK' });
    for (const p of [gone, other]) {
      const c = await cleanups.session(`check-${p.sid}`, p.clientPort);
      expect(await c.sync('/')).toMatchObject({ err: 'OK' });
      expect(((await c.getChildren('/')).children as string[]).sort()).toEqual(['after', 'w0', 'w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7', 'w8', 'w9', 'zookeeper']);
    }
  }, 150_000);
});
