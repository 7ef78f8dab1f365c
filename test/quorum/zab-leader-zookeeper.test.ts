// zooid's Zab leader (engine/quorum/zab-leader.ts over zab-leader-shell.ts, a real leader
// Pipeline behind it) leading two Apache ZooKeeper 3.8 followers (Debian's QuorumPeerMain):
// server.3 is zooid (the highest sid and a newer history, so the ZooKeeper pair elects it
// through zooid's election runner), servers 1 and 2 are ZooKeeper and start empty.
//   (a) both ZooKeeper followers finish discovery and sync and report Mode: follower;
//   (b) the tree zooid had before (streamed as SNAP, or sent as a DIFF from its txn log) and
//       txns proposed after are read by ZooKeeper clients of the ZooKeeper followers;
//   (c) a write a ZooKeeper client sends to a ZooKeeper follower reaches zooid as REQUEST, is
//       proposed, ACKed, committed, and the client is answered;
//   (d) the Pipeline's commit stage counts the followers' ACKs.
import { describe, it, expect, afterEach } from 'vitest';
import { ElectionRunner } from '../../engine/quorum/elect.ts';
import { quorumViewOf, serversFromLines } from '../../engine/quorum/view.ts';
import { zxidOf } from '../../engine/quorum/zab-learner-handler.ts';
import { createLogger } from '../../engine/logger.ts';
import { Op, OPEN_ACL_UNSAFE, type TxnHeader } from '../../engine/protocol.ts';
import type { Txn } from '../../engine/core/txn.ts';
import { allocatePorts, serverLines, startZooKeeperPeer, type ZooKeeperPeer } from '../support/ensemble.ts';
import { LeaderNode } from '../support/zab-leader-node.ts';
import { ZkSession } from '../support/zkclient.ts';
import { waitFor, withDeadline } from '../support/wait.ts';

const DEADLINE_MS = 40_000;
const log = createLogger('zab-leader-compat');

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await withDeadline(c(), DEADLINE_MS, 'a cleanup').catch((e: Error) => console.error(`cleanup: ${e.message}`));
});

/** What zooid had before this epoch: /before and /before/child, committed in epoch 1. */
function history(): { hdr: TxnHeader; txn: Txn }[] {
  const create = (counter: number, path: string, data: string, parentCVersion: number): { hdr: TxnHeader; txn: Txn } => ({
    hdr: { sessionId: 0n, cxid: counter, zxid: zxidOf(1, counter), timeMs: 1_700_000_000_000, type: Op.create },
    txn: { type: Op.create, path, data: Buffer.from(data), acls: [...OPEN_ACL_UNSAFE], ephemeral: false, parentCVersion, ttlMs: 0 },
  });
  return [create(1, '/before', 'old', 1), create(2, '/before/child', 'kid', 1)];
}

async function zookeeper(sid: number, clientPort: number, lines: string[]): Promise<ZooKeeperPeer> {
  const peer = await startZooKeeperPeer(sid, clientPort, lines);
  cleanups.push(() => peer.stop());
  return peer;
}

async function session(name: string, port: number): Promise<ZkSession> {
  const s = await ZkSession.connect(name, port, { sessionTimeoutMs: 6000, connectTimeoutMs: 20_000, requestTimeoutMs: 20_000 });
  cleanups.push(() => s.dispose());
  return s;
}

describe('zooid leads Apache ZooKeeper 3.8 followers', () => {
  for (const sync of ['SNAP', 'DIFF'] as const) {
    it(`syncs them by ${sync}, takes their writes as REQUESTs, commits on their ACKs`, async () => {
      const ports = await allocatePorts([1, 2, 3]);
      const lines = serverLines(ports);
      const servers = serversFromLines(lines);
      const node = new LeaderNode({
        sid: 3, voters: [1, 2, 3], port: ports[2].quorumPort, configBytes: quorumViewOf(servers, 3).configBytes,
        history: history(), historyOnDisk: sync === 'DIFF', log,
      });
      await node.shell.listen();
      cleanups.push(() => node.shell.close());
      const runner = await ElectionRunner.start({ servers, myid: 3, local: { lastLoggedZxid: BigInt(zxidOf(1, 2)), currentEpoch: 1n }, log });
      cleanups.push(() => runner.close());
      const peers = await Promise.all([zookeeper(1, ports[0].clientPort, lines), zookeeper(2, ports[1].clientPort, lines)]);
      expect(await withDeadline(runner.waitForDecision(), DEADLINE_MS, 'the election')).toMatchObject({ role: 'LEADING', leader: 3n });
      node.shell.start();

      // (a) discovery and sync: both ZooKeeper servers follow zooid
      for (const peer of peers) {
        await waitFor(async () => (await peer.mode()) === 'follower', { timeoutMs: DEADLINE_MS, what: `ZooKeeper ${peer.sid} to follow\n${peer.logTail()}\n${node.trace.join('\n')}` });
      }
      expect(node.epochs).toEqual({ accepted: 2, current: 2 });
      expect(node.established).toBe(zxidOf(2, 0));
      const learners = node.zab.learners();
      expect(learners.map((l) => [l.sid, l.phase, l.syncKind]).sort()).toEqual([[1, 'broadcast', sync], [2, 'broadcast', sync]]);
      const syncPackets = sync === 'SNAP' ? ['out:SNAP'] : ['out:DIFF', 'out:PROPOSAL', 'out:COMMIT', 'out:PROPOSAL', 'out:COMMIT'];
      for (const l of learners) {
        expect(node.conversation(l.conn).slice(0, 6 + syncPackets.length)).toEqual([
          'in:FOLLOWERINFO', 'out:LEADERINFO', 'in:ACKEPOCH', ...syncPackets, 'out:NEWLEADER', 'in:ACK', 'out:UPTODATE',
        ]);
      }

      // (b) the tree zooid had before, read on a ZooKeeper follower
      const one = await session('on-zk1', ports[0].clientPort);
      expect(await one.getData('/before/child')).toMatchObject({ err: 'OK', data: 'kid' });

      // (c) a write on ZooKeeper 1 goes ZooKeeper → zooid (REQUEST) → ZooKeeper (PROPOSAL, ACK, COMMIT) → its client
      const created = await one.create('/after', 'new');
      expect(created).toMatchObject({ err: 'OK', path: '/after' });
      const zxid = Number(created.zxid);
      expect(Math.floor(zxid / 2 ** 32)).toBe(2);
      expect(node.pipeline.tree.get('/after')?.data.toString()).toBe('new');
      for (const l of learners) {
        const c = node.conversation(l.conn);
        expect(c).toContain('out:PROPOSAL');
        expect(c).toContain('out:COMMIT');
      }
      expect(node.trace.some((t) => /^in \d+ REQUEST /.test(t))).toBe(true);

      // (b) on the other follower, after a sync (answered by zooid's SYNC)
      const two = await session('on-zk2', ports[1].clientPort);
      expect(await two.sync('/after')).toMatchObject({ err: 'OK' });
      expect(await two.getData('/after')).toMatchObject({ err: 'OK', data: 'new' });
      expect(await two.getData('/before')).toMatchObject({ err: 'OK', data: 'old' });

      // (d) the commit stage counted the ZooKeeper followers' ACKs
      await waitFor(() => node.acks.some((a) => a.sid === 1 && a.zxid >= zxid) && node.acks.some((a) => a.sid === 2 && a.zxid >= zxid), {
        timeoutMs: DEADLINE_MS, what: 'both followers to ACK the write',
      });
      expect(node.pipeline.commit.committedZxid).toBeGreaterThanOrEqual(zxid);
      expect(node.commits).toContain(zxid);
      expect(node.replica.tree.get('/after')).toBeDefined();
      expect(node.stepDownReason).toBeNull();
      for (const peer of peers) expect(await peer.mode()).toBe('follower');
    }, 120_000);
  }
});
