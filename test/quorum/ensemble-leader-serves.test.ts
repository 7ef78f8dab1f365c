// leaderServes=no (Leader.lead: the leader never hands its server to the client port): the
// leader of a zooid ensemble takes no client connection and its four-letter words say it is
// not serving, while the followers serve and their writes commit through it; Apache
// ZooKeeper 3.8 with the same setting, side by side, shows a client the same.
import { describe, it, expect, afterAll } from 'vitest';
import { LeanClient } from '../../client/lean.ts';
import { allocatePorts, serverLines, startZooKeeperPeer, startZooidPeer, srvrMode } from '../support/ensemble.ts';
import { fourLetterWord } from '../support/servers.ts';
import { waitFor, withDeadline } from '../support/wait.ts';

const DEADLINE_MS = 60_000;
const NOT_SERVING = 'This ZooKeeper instance is not currently serving requests';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await withDeadline(c(), DEADLINE_MS, 'a cleanup').catch((e: Error) => console.error(`cleanup: ${e.message}`));
}, 120_000);

async function connect(port: number): Promise<LeanClient> {
  const c = await LeanClient.connect({ host: '127.0.0.1', port, sessionTimeoutMs: 10_000 });
  cleanups.push(async () => c.disconnect());
  return c;
}

/** Two members say follower and the third (the leader) says it is not serving; returns the leader's client port. */
async function leaderNotServing(clientPorts: readonly number[], what: string): Promise<number> {
  let modes: (string | null)[] = [];
  await waitFor(async () => {
    modes = await Promise.all(clientPorts.map((p) => srvrMode(p)));
    return modes.filter((m) => m === 'follower').length === 2 && modes.filter((m) => m === null).length === 1;
  }, { timeoutMs: DEADLINE_MS, what: `${what}: two followers and a leader not serving (modes ${JSON.stringify(modes)})`, intervalMs: 100 });
  return clientPorts[modes.indexOf(null)];
}

async function expectLeaderServesNo(clientPorts: readonly number[], kind: string): Promise<void> {
  const leaderPort = await leaderNotServing(clientPorts, kind);
  expect(await fourLetterWord(leaderPort, 'srvr'), kind).toContain(NOT_SERVING);
  await expect(connect(leaderPort), `${kind}: a client of the leader`).rejects.toThrow(/closed/);
  // the followers serve, and a write through one is read through the other after sync
  const [a, b] = clientPorts.filter((p) => p !== leaderPort);
  const ca = await connect(a);
  await ca.create(`/ls-${kind}`, Buffer.from('via a follower'));
  const cb = await connect(b);
  await new Promise<void>((resolve, reject) => cb.send(9, (w) => w.string(`/ls-${kind}`), (r) => (r.err === 0 ? resolve() : reject(new Error(`sync: ${r.err}`)))));
  expect((await cb.getData(`/ls-${kind}`)).data.toString(), kind).toBe('via a follower');
}

describe('leaderServes=no', () => {
  it('a zooid leader takes no clients and says it is not serving; its followers serve', async () => {
    const ports = await allocatePorts([1, 2, 3]);
    const lines = serverLines(ports);
    const peers = await Promise.all(ports.map((p) => startZooidPeer(p, lines, { leaderServes: 'no' })));
    cleanups.push(() => Promise.all(peers.map((p) => p.stop())));
    await expectLeaderServesNo(peers.map((p) => p.clientPort), 'zooid');
  }, 180_000);

  it('Apache ZooKeeper 3.8 does the same', async () => {
    const ports = await allocatePorts([1, 2, 3]);
    const lines = [...serverLines(ports), 'leaderServes=no'];
    const zks = await Promise.all(ports.map((p) => startZooKeeperPeer(p.sid, p.clientPort, lines)));
    cleanups.push(() => Promise.all(zks.map((z) => z.stop())));
    await expectLeaderServesNo(zks.map((z) => z.clientPort), 'zookeeper');
  }, 180_000);
});
