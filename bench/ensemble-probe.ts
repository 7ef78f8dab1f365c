// A quick look at one write's latency in a 3-server zooid ensemble: sequential setData through
// the leader and through a follower (one in flight), and each server's fsync time (mntr).
//   npx node bench/ensemble-probe.ts [count]
import { deploy } from './deploy.ts';
import { ZkSession } from '../test/support/zkclient.ts';
import { fourLetterWord } from '../test/support/servers.ts';

const count = Number(process.argv[2] ?? '300');
const d = await deploy('zooid', 3, { forceSync: 'yes', maxClientCnxns: '0', 'admin.enableServer': 'false' });
try {
  for (const [i, mode] of d.modes.entries()) {
    const s = await ZkSession.connect(`probe-${i}`, d.ports[i], { connectTimeoutMs: 30_000, requestTimeoutMs: 30_000 });
    await s.create(`/p${i}`, 'x');
    const us: number[] = [];
    for (let n = 0; n < count; n++) {
      const t = performance.now();
      const r = await s.setData(`/p${i}`, 'y'.repeat(1024));
      if (r.err !== 'OK') throw new Error(r.err);
      us.push((performance.now() - t) * 1000);
    }
    us.sort((a, b) => a - b);
    const q = (f: number) => (us[Math.floor(f * (us.length - 1))] / 1000).toFixed(2);
    console.log(`through ${mode} (server ${i + 1}): p50 ${q(0.5)} ms, p90 ${q(0.9)} ms, p99 ${q(0.99)} ms`);
    await s.dispose();
  }
  for (const [i, port] of d.ports.entries()) {
    const m = await fourLetterWord(port, 'mntr');
    const line = (k: string) => m.split('\n').find((l) => l.startsWith(`zk_${k}\t`)) ?? `zk_${k} -`;
    console.log(`server ${i + 1} (${d.modes[i]}): ${['avg_fsynctime', 'max_fsynctime', 'avg_sync_processor_batch_size'].map(line).join('  ')}`);
  }
} finally {
  await d.stop();
}
