// What the leader's committed state for SNAP costs, three ways (docs/ensemble.md):
//   replica   CommittedReplica fed every committed txn: heap per znode (a second copy of
//             the tree) and decode + apply per txn on the quorum worker's thread;
//   hold      the pipeline holds writes until commit reaches its tree and serializes that:
//             writes stall for the serialization (µs per znode here) plus a commit round trip;
//   lazy      build the committed state only when a SNAP is due: load the newest snapshot
//             file and replay the log after it (µs per znode), off the pipeline thread.
//
//   node --expose-gc bench/committed-replica.ts [--nodes 200000] [--data 100] [--sets 200000] [--rounds 3]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JuteWriter } from '../native-free-io/jute.ts';
import { Op, OPEN_ACL_UNSAFE, type TxnHeader } from '../engine/protocol.ts';
import { DataTree } from '../engine/core/tree.ts';
import { encodeTxn, type Txn } from '../engine/core/txn.ts';
import { CommittedReplica } from '../engine/persistence/committed-replica.ts';
import { writeSnapshotNow } from '../engine/persistence/snapshot.ts';
import { machineFacts } from './machine.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}

const NODES = arg('nodes', 200_000);
const DATA_BYTES = arg('data', 100);
const SETS = arg('sets', 200_000);
const ROUNDS = arg('rounds', 3);
const PARENTS = 1000;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

/** The txns: PARENTS parents, NODES znodes under them, then SETS setData, then deletes of half the nodes. */
function makeTxns(): { creates: Buffer[]; sets: Buffer[]; deletes: Buffer[] } {
  const w = new JuteWriter(DATA_BYTES + 512);
  let zxid = 0;
  const txn = (t: Txn, type: number): Buffer => {
    zxid++;
    const hdr: TxnHeader = { sessionId: 0x1000000000001n, cxid: zxid, zxid, timeMs: 1_700_000_000_000 + zxid, type };
    encodeTxn(w.reset(), hdr, t);
    return w.copy();
  };
  const data = Buffer.alloc(DATA_BYTES, 97);
  const creates: Buffer[] = [];
  for (let p = 0; p < PARENTS; p++) creates.push(txn({ type: Op.create, path: `/p${p}`, data, acls: [...OPEN_ACL_UNSAFE], ephemeral: false, parentCVersion: -1, ttlMs: 0 }, Op.create));
  for (let i = 0; i < NODES; i++) creates.push(txn({ type: Op.create, path: `/p${i % PARENTS}/n${i}`, data, acls: [...OPEN_ACL_UNSAFE], ephemeral: false, parentCVersion: -1, ttlMs: 0 }, Op.create));
  const sets: Buffer[] = [];
  for (let i = 0; i < SETS; i++) {
    const k = (i * 7919) % NODES;
    sets.push(txn({ type: Op.setData, path: `/p${k % PARENTS}/n${k}`, data, version: -1 }, Op.setData));
  }
  const deletes: Buffer[] = [];
  for (let i = 0; i < NODES; i += 2) deletes.push(txn({ type: Op.delete, path: `/p${i % PARENTS}/n${i}` }, Op.delete));
  return { creates, sets, deletes };
}

const zxidOf = (b: Buffer) => b.readUInt32BE(12) * 2 ** 32 + b.readUInt32BE(16);

function applyAll(replica: CommittedReplica, txns: Buffer[]): number {
  const t0 = performance.now();
  for (const b of txns) replica.apply(zxidOf(b), b);
  return ((performance.now() - t0) * 1000) / txns.length;
}

function heapBytes(): number {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs: number[], digits = 2) => `median ${median(xs).toFixed(digits)} (runs: ${xs.map((x) => x.toFixed(digits)).join(', ')})`;

const facts = machineFacts(os.tmpdir());
console.log(`# committed replica cost — ${new Date().toISOString()}`);
console.log(`machine: ${facts.cpuModel}, ${facts.cores} cores, ${facts.memoryGiB} GiB, ${facts.os}, node ${facts.node}, load ${facts.loadAvg.join(' ')}, code ${facts.code}`);
console.log(`workload: ${PARENTS} parents, ${NODES} znodes of ${DATA_BYTES} bytes, ${SETS} setData, ${NODES / 2} deletes; ${ROUNDS} rounds\n`);

const { creates, sets, deletes } = makeTxns();
const bytesPerZnode: number[] = [];
const createUs: number[] = [];
const setUs: number[] = [];
const deleteUs: number[] = [];
const serializeUsPerNode: number[] = [];
const snapMiBps: number[] = [];
const lazyUsPerNode: number[] = [];
let snapBytes = 0;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-bench-replica-'));
try {
  // warm-up: the code paths JIT-compiled before anything is timed
  const warm = new CommittedReplica({ tree: new DataTree(), sessions: [] });
  applyAll(warm, creates.slice(0, PARENTS + 20_000));
  for (const _ of warm.serialize()) { /* drain */ }

  for (let round = 0; round < ROUNDS; round++) {
    const before = heapBytes();
    const replica = new CommittedReplica({ tree: new DataTree(), sessions: [] });
    createUs.push(applyAll(replica, creates));
    const after = heapBytes();
    bytesPerZnode.push((after - before) / replica.nodeCount);

    // "hold": the whole tree serialized, as the pipeline would with writes held
    let t0 = performance.now();
    snapBytes = 0;
    for (const chunk of replica.serialize()) snapBytes += chunk.length;
    const serializeMs = performance.now() - t0;
    serializeUsPerNode.push((serializeMs * 1000) / replica.nodeCount);
    snapMiBps.push(snapBytes / 2 ** 20 / (serializeMs / 1000));

    // "lazy": a snapshot file of this state loaded back (what a SNAP built on demand starts from)
    for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f));
    const tree = (replica as unknown as { tree: DataTree }).tree;
    writeSnapshotNow(dir, tree, []);
    t0 = performance.now();
    const loaded = CommittedReplica.recover({ snapDir: dir, logDir: dir, txnBytesMax: 2 * 0xfffff, warn: () => {} });
    lazyUsPerNode.push(((performance.now() - t0) * 1000) / loaded.replica.nodeCount);

    setUs.push(applyAll(replica, sets));
    deleteUs.push(applyAll(replica, deletes));
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

console.log(`replica heap per znode (tree + its ${DATA_BYTES} data bytes), bytes: ${fmt(bytesPerZnode, 0)}`);
console.log(`replica apply, µs per txn: create ${fmt(createUs)}; setData ${fmt(setUs)}; delete ${fmt(deleteUs)}`);
console.log(`serialize (hold design: write stall per znode), µs per znode: ${fmt(serializeUsPerNode, 3)}; ${(snapBytes / 2 ** 20).toFixed(1)} MiB at ${fmt(snapMiBps, 0)} MiB/s`);
console.log(`  → a ${NODES}-znode tree stalls writes ${((median(serializeUsPerNode) * (NODES + PARENTS)) / 1000).toFixed(0)} ms; 1,000,000 znodes ${(median(serializeUsPerNode) * 1000).toFixed(0)} ms`);
console.log(`snapshot file load (lazy design, per SNAP), µs per znode: ${fmt(lazyUsPerNode, 3)}`);
