// The data tree (engine/core/tree.ts DataTree) as the pipeline drives it: create+delete of a
// child under a parent with many children, setData on one of 100k znodes, lookups and Stat
// copies. Each sample runs a batch of ops (see micro-util.ts). Baseline in the same run: a
// bare Map set/delete of the same path strings (the floor under any path-keyed tree).
//
//   cd /work/main && npx node bench/tree.bench.ts
import { DataTree, newStat } from '../engine/core/tree.ts';
import { OPEN_ACL_UNSAFE } from '../engine/protocol.ts';
import { seededRandom } from '../loadgen/random.ts';
import { JuteWriter } from '../native-free-io/jute.ts';
import { addBatched, newBench, runAndReport } from './micro-util.ts';

const NODES = 100_000;
const GROUP = 16;
const SEED = Number(process.env.BENCH_SEED ?? 1);
const value = Buffer.alloc(1024, 3);

const tree = new DataTree();
const aclRef = tree.acls.intern(OPEN_ACL_UNSAFE);
let zxid = 1;
tree.createNode('/b', Buffer.alloc(0), aclRef, 0n, -1, zxid++, 0);
tree.createNode('/b/t', Buffer.alloc(0), aclRef, 0n, -1, zxid++, 0);
const paths: string[] = [];
for (let g = 0; g < NODES / GROUP; g++) tree.createNode(`/b/g${g}`, Buffer.alloc(0), aclRef, 0n, -1, zxid++, 0);
for (let k = 0; k < NODES; k++) {
  const p = `/b/g${Math.floor(k / GROUP)}/k${k}`;
  paths.push(p);
  tree.createNode(p, value, tree.acls.intern(OPEN_ACL_UNSAFE), 0n, -1, zxid++, 0);
}
// a wide parent: creates and deletes land among 10k siblings
for (let i = 0; i < 10_000; i++) tree.createNode(`/b/t/s${i}`, Buffer.alloc(0), tree.acls.intern(OPEN_ACL_UNSAFE), 0n, -1, zxid++, 0);

const random = seededRandom(SEED);
const picks = Uint32Array.from({ length: 1 << 16 }, () => Math.floor(random() * NODES));
let pick = 0;
const stat = newStat();
let seq = 0;
let sink = 0;
const map = new Map<string, number>();

const bench = newBench(`DataTree (${NODES.toLocaleString('en-US')} znodes of 1 KiB, seed ${SEED})`);
const perCall: Record<string, number> = {};
const add = (name: string, op: () => void) => addBatched(bench, perCall, name, op);
add('create + delete (parent with 10k children)', () => {
  const p = `/b/t/n${seq++}`;
  tree.createNode(p, value, tree.acls.intern(OPEN_ACL_UNSAFE), 0n, -1, zxid, 0);
  tree.deleteNode(p, zxid++);
});
add('setData (random of 100k)', () => {
  const p = paths[picks[pick++ & 0xffff]];
  sink += tree.setData(p, value, 1, zxid++, 0).version;
});
add('get + statInto (random of 100k)', () => {
  const n = tree.get(paths[picks[pick++ & 0xffff]])!;
  sink += n.statInto(stat).dataLength;
});
// the pipeline decodes each request's path into a fresh string: its hash is computed anew
const pathBytes = paths.slice(0, 1 << 12).map((p) => Buffer.from(p));
add('decode path from bytes + get + statInto', () => {
  const b = pathBytes[picks[pick++ & 0xffff] & 0xfff];
  sink += tree.get(b.toString('utf8'))!.statInto(stat).dataLength;
});
add('get missing path', () => {
  sink += tree.get('/b/g1/missing') === undefined ? 1 : 0;
});
add('getChildren copy (16 children)', () => {
  const n = tree.get(`/b/g${picks[pick++ & 0xffff] % (NODES / GROUP)}`)!;
  sink += n.childNames().length;
});
const writer = new JuteWriter(4096);
add('getChildren reply (16 children into a JuteWriter)', () => {
  const n = tree.get(`/b/g${picks[pick++ & 0xffff] % (NODES / GROUP)}`)!;
  writer.reset();
  if ('writeChildNames' in n) n.writeChildNames(writer);
  else for (const c of (n as { childNames(): string[] }).childNames()) writer.string(c);
  sink += writer.offset;
});
add('baseline: Map set + delete of a fresh path', () => {
  const p = `/b/t/n${seq++}`;
  map.set(p, 1);
  map.delete(p);
});

await runAndReport(bench, perCall);
if (sink === 0.5) console.log(sink);
