// Snapshot design (a) vs (b) (DESIGN.md §2), measured: what a replica fed by the txn
// stream costs per txn (decode + apply, on its thread, for every txn) against what
// serializing the live tree costs per node (on the pipeline thread, only while a
// snapshot runs). `node bench/snapshot-design.ts`
import { Pipeline, type PipelineOptions } from '../engine/core/pipeline.ts';
import { JuteWriter } from '../native-free-io/jute.ts';
import { Op, OPEN_ACL_UNSAFE, writeAcls } from '../engine/protocol.ts';
import { SnapshotSerializer } from '../engine/persistence/snapshot.ts';
const opts = { tickMs: 100, minSessionTimeoutMs: 200, maxSessionTimeoutMs: 60000, serverId: 1, superDigest: null, extendedTypesEnabled: false, containerCheckIntervalMs: 3.6e6, containerMaxPerMinute: 10000, containerMaxNeverUsedIntervalMs: 0, enforceQuota: false, maxReplyBytes: 0xfffff, txnBytesMax: 2 * 0xfffff, nowMs: () => 0, wallMs: () => 1.7e12 };
const logged: Buffer[] = [];
const p = new Pipeline(opts as PipelineOptions, { send() {}, close() {}, appendLog(_z, b) { logged.push(Buffer.from(b)); } });
p.recovered();
const cw = new JuteWriter(128); cw.int(0).longNumber(0).int(30000).long(0n).buffer(Buffer.alloc(16)).bool(false);
p.connect(1, '127.0.0.1', 1, cw.copy());
const req = (xid: number, type: number, body: (w: JuteWriter) => void) => { const w = new JuteWriter(256); w.int(xid).int(type); body(w); return w.copy(); };
let xid = 1;
for (let i = 0; i < 100000; i++) p.request(1, req(xid++, Op.create, (w) => { w.string(`/n${i}`).buffer(Buffer.alloc(100, 97)); writeAcls(w, OPEN_ACL_UNSAFE); w.int(0); }));
for (let i = 0; i < 200000; i++) p.request(1, req(xid++, Op.setData, (w) => { w.string(`/n${i % 100000}`).buffer(Buffer.alloc(100, 98)).int(-1); }));
const q = new Pipeline(opts as PipelineOptions, { send() {}, close() {}, appendLog() {} });
let t = performance.now();
for (const b of logged) q.replay(b);
const ms = performance.now() - t;
console.log(`replica cost (design b): ${logged.length} txns decoded+applied in ${ms.toFixed(0)} ms = ${(ms * 1000 / logged.length).toFixed(2)} µs/txn`);
t = performance.now();
const s = new SnapshotSerializer(p.tree, [], p.tree.lastZxid);
const buf = Buffer.alloc(1 << 20);
let bytes = 0;
while (!s.done) bytes += s.fill(buf, 0, buf.length, 1e9);
const sms = performance.now() - t;
console.log(`slicing cost (design a): ${p.tree.nodes.size} nodes, ${bytes} bytes serialized in ${sms.toFixed(0)} ms = ${(sms * 1000 / p.tree.nodes.size).toFixed(2)} µs/node`);
