// The peer fault proxy (peer-proxy.ts) really partitions an ensemble: with the leader's links
// cut, the two others elect a new leader among themselves and the old one stops serving;
// healed, it rejoins as a follower. For zooid and for Apache ZooKeeper 3.8 (whose election
// connects back to the announced address, which the proxy rewrites to pass a proxy too).
import { describe, it, expect } from 'vitest';
import { srvrMode } from '../support/ensemble.ts';
import { waitFor } from '../support/wait.ts';
import { startEnsemble, type EnsembleTarget } from './ensemble-target.ts';

const DEADLINE_MS = 90_000;

describe.each(['zooid-ensemble', 'zookeeper-ensemble'] as const)('the peer fault proxy in a %s', (target: EnsembleTarget) => {
  it('isolating the leader makes the others elect a new one; healed, the old leader follows', { timeout: 300_000 }, async () => {
    const ensemble = await startEnsemble(target);
    try {
      const leader = await ensemble.settled('the ensemble to form', DEADLINE_MS);
      expect(ensemble.mesh.forwardedCount).toBeGreaterThan(0);
      const others = ensemble.members.filter((m) => m !== leader);
      ensemble.mesh.partition([[leader.sid], others.map((m) => m.sid)]);
      expect(ensemble.mesh.cutLinks()).toHaveLength(2);
      let modes: (string | null)[] = [];
      await waitFor(
        async () => {
          modes = await Promise.all(ensemble.members.map((m) => srvrMode(m.clientPort)));
          const otherModes = others.map((m) => modes[ensemble.members.indexOf(m)]);
          return otherModes.includes('leader') && otherModes.includes('follower') && modes[ensemble.members.indexOf(leader)] === null;
        },
        { timeoutMs: DEADLINE_MS, what: `a new leader among ${others.map((m) => m.sid).join(' and ')}, and ${leader.sid} not serving` },
      );
      ensemble.mesh.heal();
      const again = await ensemble.settled('the old leader to rejoin', DEADLINE_MS);
      expect(again).not.toBe(leader);
      expect(await srvrMode(leader.clientPort)).toBe('follower');
    } finally {
      await ensemble.close(false);
    }
  });
});
