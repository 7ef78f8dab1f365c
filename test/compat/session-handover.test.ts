// A session outlives the server that made it, whichever implementation that was: a client
// whose session Apache ZooKeeper created reconnects — same id, same password — to zooid
// started on ZooKeeper's dataDir, and the other way round. This is what a rolling switch
// from ZooKeeper to zooid (and an ensemble mixing them) rests on: a session's password is
// ZooKeeperServer.generatePasswd's (java.util.Random seeded from the id), which every
// server must compute alike.
import { describe, it, expect, afterAll } from 'vitest';
import { startZooKeeper, startZooid, type ServerHandle } from '../support/servers.ts';
import { ZkSession, CreateMode } from '../support/zkclient.ts';

const handles: ServerHandle[] = [];
afterAll(async () => {
  for (const h of handles) await h.stop().catch(() => {});
});

async function start(kind: 'zookeeper' | 'zooid', dataDir?: string, port?: number): Promise<ServerHandle> {
  const h = kind === 'zookeeper' ? await startZooKeeper({ dataDir, port, keepDir: true }) : await startZooid({ dataDir, port, keepDir: true });
  handles.push(h);
  return h;
}

async function handOver(from: 'zookeeper' | 'zooid', to: 'zookeeper' | 'zooid'): Promise<void> {
  const first = await start(from);
  const holder = await ZkSession.connect('holder', first.port, { sessionTimeoutMs: 30_000 });
  expect((await holder.create('/eph', 'mine', { mode: CreateMode.EPHEMERAL })).err).toBe('OK');
  const sessionId = holder.sessionIdBuffer;
  const password = holder.sessionPassword;
  await first.kill9();
  holder.abandon();

  const second = await start(to, first.dataDir, first.port);
  const again = await ZkSession.connect('again', second.port, { sessionId, sessionPassword: password, sessionTimeoutMs: 30_000 });
  try {
    expect(again.sessionIdBuffer.equals(sessionId), `${to} keeps the session ${from} made`).toBe(true);
    expect(again.isExpired).toBe(false);
    const eph = await again.exists('/eph');
    expect(eph.err).toBe('OK');
    expect((eph.stat as { ephemeralOwner: bigint }).ephemeralOwner).toBe(sessionId.readBigInt64BE(0));
    // a wrong password is refused (expired, as ZooKeeper answers it)
    const wrong = Buffer.from(password);
    wrong[0] ^= 0xff;
    const impostor = await ZkSession.connect('impostor', second.port, { sessionId, sessionPassword: wrong, waitConnected: false });
    await expect.poll(() => impostor.isExpired, { timeout: 10_000 }).toBe(true);
    impostor.abandon();
    await again.close();
  } finally {
    again.abandon();
  }
}

describe('a session made by one implementation continues on the other', () => {
  it('ZooKeeper → zooid on the same dataDir', () => handOver('zookeeper', 'zooid'), 90_000);
  it('zooid → ZooKeeper on the same dataDir', () => handOver('zooid', 'zookeeper'), 90_000);
});
