// A worker for test/unit/topology.test.ts: attaches request/1 as io-1 and writes three records.
import { workerData, parentPort } from 'node:worker_threads';
import { attachRing, type Topology } from '../../engine/rings/topology.ts';

const ring = attachRing(workerData as Topology, 'request/1', 'io-1');
for (const n of [1, 2, 3]) {
  const at = ring.reserve(4);
  if (at === -1) throw new Error('ring full');
  ring.data.writeUInt32BE(n, at);
  ring.commit(2, 4);
}
parentPort!.postMessage('sent');
