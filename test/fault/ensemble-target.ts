// Ensembles of three as fault targets (issue 12): zooid × 3, Apache ZooKeeper 3.8 × 3, or
// mixed (two zooid and a ZooKeeper), every peer connection through the peer fault proxy
// (peer-proxy.ts), each member started from its own zoo.cfg (test/support/ensemble.ts).
// A member can be killed with -9 and restarted on its dataDir, or stopped and continued.

import * as fs from 'node:fs';
import { allocatePorts, srvrMode, startZooKeeperPeer, startZooidPeer, type ZooKeeperPeer, type ZooidPeer } from '../support/ensemble.ts';
import type { ServerKind } from '../support/servers.ts';
import { waitFor } from '../support/wait.ts';
import { startPeerMesh, type PeerMesh } from './peer-proxy.ts';

export const ENSEMBLE_TARGETS = ['zooid-ensemble', 'zookeeper-ensemble', 'mixed-ensemble'] as const;
export type EnsembleTarget = (typeof ENSEMBLE_TARGETS)[number];
export const isEnsembleTarget = (target: string): target is EnsembleTarget => (ENSEMBLE_TARGETS as readonly string[]).includes(target);

/** The kinds of sids 1, 2, 3. Mixed: ZooKeeper has the largest sid, so it leads some elections and follows others. */
const MEMBER_KINDS: Record<EnsembleTarget, readonly ServerKind[]> = {
  'zooid-ensemble': ['zooid', 'zooid', 'zooid'],
  'zookeeper-ensemble': ['zookeeper', 'zookeeper', 'zookeeper'],
  'mixed-ensemble': ['zooid', 'zooid', 'zookeeper'],
};

/** Both kinds run tickTime 1000, initLimit 5, syncLimit 2 (ENSEMBLE_TIMING); zooid gets these too. */
const ZOOID_EXTRA_CONFIG: Record<string, string> = { '4lw.commands.whitelist': '*' };

export interface EnsembleMember {
  sid: number;
  kind: ServerKind;
  clientPort: number;
  /** The running process's pid (changes on restart). */
  pid(): number;
  isRunning(): boolean;
  /** A dataDir to keep when the run fails. */
  dataDir: string;
  kill9(): Promise<void>;
  /** Start again on the same dataDir and ports (after kill9). */
  restart(): Promise<void>;
  /** Stop and remove its files (`keep`: kill -9 and leave them for a look). */
  close(keep: boolean): Promise<void>;
  logTail(lineCount?: number): string;
}

export interface Ensemble {
  target: EnsembleTarget;
  members: EnsembleMember[];
  mesh: PeerMesh;
  /** The member srvr calls leader now, when exactly one does. */
  leader(): Promise<EnsembleMember | null>;
  /** Waits until every member runs, one leads and the others follow. */
  settled(what: string, timeoutMs: number): Promise<EnsembleMember>;
  close(keep: boolean): Promise<void>;
}

function zooidMember(peer: ZooidPeer): EnsembleMember {
  const oldDirs: string[] = [];
  const running = (): boolean => {
    try {
      process.kill(peer.handle.pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  return {
    sid: peer.sid,
    kind: 'zooid',
    clientPort: peer.clientPort,
    dataDir: peer.dataDir,
    pid: () => peer.handle.pid,
    isRunning: running,
    kill9: () => peer.kill9(),
    async restart() {
      oldDirs.push(peer.handle.dir);
      await peer.restart();
    },
    async close(keep) {
      if (keep) {
        await peer.kill9();
        return;
      }
      await peer.stop();
      for (const dir of oldDirs) fs.rmSync(dir, { recursive: true, force: true });
    },
    logTail: (lineCount = 30) => peer.logTail(lineCount),
  };
}

function zookeeperMember(first: ZooKeeperPeer, lines: readonly string[]): EnsembleMember {
  let peer = first;
  return {
    sid: peer.sid,
    kind: 'zookeeper',
    clientPort: peer.clientPort,
    dataDir: `${peer.dir}/data`,
    pid: () => peer.pid,
    isRunning: () => !peer.hasExited(),
    kill9: () => peer.kill9(),
    async restart() {
      peer = await startZooKeeperPeer(peer.sid, peer.clientPort, lines, peer.dir);
    },
    async close(keep) {
      if (keep) await peer.kill9();
      else await peer.stop();
    },
    logTail: (lineCount = 30) => peer.logTail(lineCount),
  };
}

export async function startEnsemble(target: EnsembleTarget): Promise<Ensemble> {
  const kinds = MEMBER_KINDS[target];
  const ports = await allocatePorts(kinds.map((_, i) => i + 1));
  const mesh = await startPeerMesh(ports);
  const members: EnsembleMember[] = [];
  try {
    const started = await Promise.allSettled(
      ports.map(async (p, i) => {
        const lines = mesh.linesFor(p.sid);
        const member = kinds[i] === 'zooid' ? zooidMember(await startZooidPeer(p, lines, ZOOID_EXTRA_CONFIG)) : zookeeperMember(await startZooKeeperPeer(p.sid, p.clientPort, lines), lines);
        members.push(member);
      }),
    );
    const failed = started.find((s) => s.status === 'rejected');
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  } catch (error) {
    await Promise.all(members.map((m) => m.close(false).catch(() => undefined)));
    await mesh.close();
    throw error;
  }
  members.sort((a, b) => a.sid - b.sid);
  const ensemble: Ensemble = {
    target,
    members,
    mesh,
    async leader() {
      const modes = await Promise.all(members.map((m) => (m.isRunning() ? srvrMode(m.clientPort) : Promise.resolve(null))));
      const leaders = members.filter((_, i) => modes[i] === 'leader');
      return leaders.length === 1 ? leaders[0] : null;
    },
    async settled(what, timeoutMs) {
      let modes: (string | null)[] = [];
      try {
        await waitFor(
          async () => {
            modes = await Promise.all(members.map((m) => (m.isRunning() ? srvrMode(m.clientPort) : Promise.resolve('not running'))));
            return modes.filter((m) => m === 'leader').length === 1 && modes.every((m) => m === 'leader' || m === 'follower');
          },
          { timeoutMs, intervalMs: 100, what },
        );
      } catch (error) {
        const logs = members.map((m) => `--- ${m.kind} ${m.sid}\n${m.logTail(15)}`).join('\n');
        throw new Error(`${(error as Error).message} (modes ${JSON.stringify(modes)})\n${logs}`);
      }
      return members[modes.indexOf('leader')];
    },
    async close(keep) {
      await Promise.all(members.map((m) => m.close(keep).catch(() => undefined)));
      await mesh.close();
    },
  };
  return ensemble;
}
