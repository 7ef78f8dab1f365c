// msgpackr for control messages (DESIGN.md §2: structured control messages cross rings as
// msgpackr, never postMessage). The Packr is configured as engine/ops/control.ts's controlPackr
// (plain maps, 64-bit integers as bigint); a records Packr (shared structures) and JSON
// and v8 structured-clone serialization of the same messages are the baselines.
//
//   cd /work/main && npx node bench/msgpackr.bench.ts
import { controlPackr as makeControlPackr } from '../engine/ops/control.ts';
import v8 from 'node:v8';
import { Packr } from 'msgpackr';
import { addBatched, newBench, runAndReport } from './micro-util.ts';

const controlPackr = makeControlPackr(); // exactly as engine/ops/control.ts configures it
const recordsPackr = new Packr({ useRecords: true, int64AsType: 'bigint', structures: [] });

const messages = {
  'stats request': { op: 'stats', dirs: false, fds: true, lists: false, reset: null, setTraceMask: null },
  'session open': { op: 'sessionOpen', sessionId: 0x1000001234abcdn, timeoutMs: 30_000, passwd: Buffer.alloc(16, 9), readOnly: false },
  'snapshot request': { op: 'snapshot', zxid: 0x1000abcde, reason: 'snapCount', startedAtMs: 1_700_000_000_000 },
  'stats reply (40 fields)': Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`field_${i}`, i % 3 === 0 ? `value ${i}` : i * 1234.5])),
} as const;

let sink = 0;
const bench = newBench('msgpackr control messages');
const perCall: Record<string, number> = {};
const add = (name: string, op: () => void) => addBatched(bench, perCall, name, op);
for (const [name, msg] of Object.entries(messages)) {
  const packed = controlPackr.pack(msg);
  const hasBigInt = Object.values(msg).some((v) => typeof v === 'bigint');
  add(`pack ${name} (${packed.length} B)`, () => {
    sink += controlPackr.pack(msg).length;
  });
  add(`unpack ${name}`, () => {
    sink += Object.keys(controlPackr.unpack(packed) as object).length;
  });
  const packedRecord = recordsPackr.pack(msg);
  add(`records: pack+unpack ${name} (${packedRecord.length} B)`, () => {
    sink += Object.keys(recordsPackr.unpack(recordsPackr.pack(msg)) as object).length;
  });
  add(`baseline v8.serialize+deserialize ${name}`, () => {
    sink += Object.keys(v8.deserialize(v8.serialize(msg)) as object).length;
  });
  if (!hasBigInt) {
    add(`baseline JSON stringify+parse ${name}`, () => {
      sink += Object.keys(JSON.parse(JSON.stringify(msg)) as object).length;
    });
  }
}

await runAndReport(bench, perCall);
if (sink === 0.5) console.log(sink);
