// A client moving between the servers of a zooid ensemble (issue 10): its session is global,
// so reconnecting to another member with the session id and password keeps the session and
// its ephemerals, and setWatches (relative to the last zxid the client saw) brings back its
// watches, firing at once for what changed while it was away. A member refuses a client that
// has seen a newer zxid than it has (ZooKeeperServer.processConnectRequest: the client must
// try another server), and ZooKeeper 3.8 does the same (checked on a ZooKeeper ensemble).
import { describe, it, expect, afterAll } from 'vitest';
import { LeanClient, type WatchEvent } from '../../client/lean.ts';
import { Op, Xid } from '../../engine/protocol.ts';
import { allocatePorts, oneLeader, serverLines, startZooKeeperPeer, startZooidPeer, srvrMode, type ZooidPeer } from '../support/ensemble.ts';
import { waitFor, withDeadline } from '../support/wait.ts';

const DEADLINE_MS = 60_000;
const SESSION_TIMEOUT_MS = 20_000;
const EVENT_NODE_CHILDREN_CHANGED = 4;
const EVENT_NODE_DATA_CHANGED = 3;

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await withDeadline(c(), DEADLINE_MS, 'a cleanup').catch((e: Error) => console.error(`cleanup: ${e.message}`));
}, 120_000);

async function client(port: number, resume?: { sessionId: bigint; passwd: Buffer; lastZxidSeen: number }): Promise<LeanClient> {
  const c = await LeanClient.connect({ host: '127.0.0.1', port, sessionTimeoutMs: SESSION_TIMEOUT_MS, ...resume });
  cleanups.push(async () => c.disconnect());
  return c;
}

/** setWatches (as a client library sends it after reconnecting): the watches to set again, relative to the last zxid seen. */
function setWatches(c: LeanClient, relativeZxid: number, data: string[], exist: string[], child: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    c.send(Op.setWatches, (w) => {
      w.longNumber(relativeZxid);
      for (const paths of [data, exist, child]) {
        w.int(paths.length);
        for (const p of paths) w.string(p);
      }
    }, (reply) => (reply.err === 0 ? resolve() : reject(new Error(`setWatches: error ${reply.err}`))), Xid.setWatches);
  });
}

describe('a client moving between the servers of a zooid ensemble', () => {
  it('keeps its session, ephemerals and watches on another member, and a member behind the client refuses it', async () => {
    const ports = await allocatePorts([1, 2, 3]);
    const lines = serverLines(ports);
    const peers: ZooidPeer[] = await Promise.all(ports.map((p) => startZooidPeer(p, lines)));
    cleanups.push(() => Promise.all(peers.map((p) => p.stop())));
    const leader = await oneLeader(peers, 'one leader', DEADLINE_MS);
    const [first, second] = peers.filter((p) => p !== leader);

    // on the first follower: an ephemeral, a data watch and a child watch
    const a = await client(first.clientPort);
    await a.create('/move', Buffer.from('parent'));
    await a.create('/move/eph', Buffer.from('mine'), 1);
    await a.create('/move/w', Buffer.from('v0'));
    await a.getData('/move/w', true);
    await a.getChildren('/move', true);
    const { sessionId, passwd, lastZxid } = a;
    a.disconnect(); // the connection drops; the session lives on

    // while it is away, another client changes what it watches
    const other = await client(leader.clientPort);
    await other.setData('/move/w', Buffer.from('v1'));
    await other.create('/move/new', Buffer.from(''));

    // it reconnects to the other follower with the same session, and sets its watches again
    const moved = await client(second.clientPort, { sessionId, passwd, lastZxidSeen: lastZxid });
    expect(moved.sessionId).toBe(sessionId);
    const events: WatchEvent[] = [];
    moved.onWatch = (e) => events.push(e);
    await setWatches(moved, lastZxid, ['/move/w'], [], ['/move']);
    await waitFor(() => events.length >= 2, { timeoutMs: 10_000, what: `both watch events on the new server (got ${JSON.stringify(events)})` });
    expect(events.map((e) => [e.type, e.path]).sort()).toEqual([[EVENT_NODE_CHILDREN_CHANGED, '/move'], [EVENT_NODE_DATA_CHANGED, '/move/w']].sort());
    // the ephemeral is still the session's, seen from every member
    for (const p of peers) {
      const c = await client(p.clientPort);
      const stat = await c.exists('/move/eph');
      expect(stat?.ephemeralOwner, `server ${p.sid}`).toBe(sessionId);
    }
    // and the session works on its new server
    expect((await moved.getData('/move/w')).data.toString()).toBe('v1');

    // a client that has seen a zxid beyond a member's is refused there (it must try another)
    await expect(client(second.clientPort, { sessionId, passwd, lastZxidSeen: lastZxid + 1_000_000 })).rejects.toThrow(/closed/);
    await waitFor(() => /client has seen zxid/.test(second.logTail(200)), { timeoutMs: 10_000, what: 'the refusal logged' });
    expect(await srvrMode(second.clientPort)).toBe('follower');
  }, 180_000);

  it('Apache ZooKeeper 3.8 refuses a client that has seen a newer zxid than it has, the same way', async () => {
    const ports = await allocatePorts([1, 2, 3]);
    const lines = serverLines(ports);
    const zks = await Promise.all(ports.map((p) => startZooKeeperPeer(p.sid, p.clientPort, lines)));
    cleanups.push(() => Promise.all(zks.map((z) => z.stop())));
    await waitFor(async () => (await Promise.all(zks.map((z) => srvrMode(z.clientPort)))).sort().join() === 'follower,follower,leader', {
      timeoutMs: DEADLINE_MS, what: 'a ZooKeeper leader and two followers serving',
    });
    const c = await client(zks[0].clientPort);
    await c.create('/seen', Buffer.from(''));
    await expect(client(zks[1].clientPort, { sessionId: c.sessionId, passwd: c.passwd, lastZxidSeen: c.lastZxid + 1_000_000 })).rejects.toThrow(/closed/);
  }, 180_000);
});
