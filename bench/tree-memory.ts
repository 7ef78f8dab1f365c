// Memory per znode at the unit level (issue 13): a DataTree filled with N znodes of B bytes
// (/bench/pXXXX/nXXXX, 1000 per parent, as bench/persistence.ts), measured as the growth of
// the V8 heap in use, of external memory and of RSS after full collections.
//
//   node --expose-gc bench/tree-memory.ts [--znodes N] [--bytes B]
//
// Prints bytes per znode for each, and the heap's spaces in use after the fill.
import v8 from 'node:v8';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { DataTree } from '../engine/core/tree.ts';

const { values } = parseArgs({ options: { znodes: { type: 'string', default: '1000000' }, bytes: { type: 'string', default: '100' } } });
const znodes = Number(values.znodes);
const bytes = Number(values.bytes);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

function settle(): { heap: number; external: number; rss: number } {
  for (let i = 0; i < 3; i++) gc!();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external, rss: m.rss };
}

const tree = new DataTree();
const openRef = tree.acls.intern([{ perms: 31, id: { scheme: 'world', id: 'anyone' } }]);
tree.createNode('/bench', Buffer.alloc(0), openRef, 0n, -1, 1, Date.now());
const value = Buffer.alloc(bytes, 0x61);
const before = settle();
const startedMs = performance.now();
let zxid = 0x1_0000_0002; // epoch 1: zxids past 2^31, as on any server that ever had a leader election
const timeMs = Date.now();
for (let i = 0; i < znodes; i++) {
  const parent = `/bench/p${String(Math.floor(i / 1000)).padStart(4, '0')}`;
  if (i % 1000 === 0) tree.createNode(parent, Buffer.alloc(0), tree.acls.intern([{ perms: 31, id: { scheme: 'world', id: 'anyone' } }]), 0n, -1, zxid++, timeMs);
  // a fresh copy per node, as the pipeline's request decoding makes one
  tree.createNode(`${parent}/n${String(i % 1000).padStart(4, '0')}`, Buffer.from(value), tree.acls.intern([{ perms: 31, id: { scheme: 'world', id: 'anyone' } }]), 0n, -1, zxid++, timeMs + i);
}
const fillMs = performance.now() - startedMs;
const after = settle();
const per = (k: 'heap' | 'external' | 'rss') => ((after[k] - before[k]) / znodes).toFixed(0);
console.log(`${znodes} znodes of ${bytes} B: fill ${(fillMs / 1000).toFixed(2)} s (${Math.round(znodes / (fillMs / 1000))}/s); ` +
  `per znode: V8 heap ${per('heap')} B, external ${per('external')} B, RSS ${per('rss')} B; tree has ${tree.nodeCount()} nodes`);
const spaces = v8.getHeapSpaceStatistics().map((s) => `${s.space_name} ${(s.space_used_size / 1048576).toFixed(0)}`).join(', ');
console.log(`heap spaces in use (MiB): ${spaces}`);
