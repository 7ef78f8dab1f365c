// Jute encode/decode of the records on the hot path: request headers with getData and
// setData (1 KiB), create with an ACL, reply headers with a Stat and data, txn headers.
// Baseline in the same run: JSON.stringify/parse of the same setData request.
//
//   cd /work/main && npx node bench/jute.bench.ts       (BENCH_TIME_MS=3000 for steadier numbers)
import { JuteReader, JuteWriter } from '../native-free-io/jute.ts';
import { Op, OPEN_ACL_UNSAFE, beginReply, readAcls, readConnectRequest, readTxnHeader, writeAcls, writeStat, writeTxnHeader, type Stat } from '../engine/protocol.ts';
import { encodeTxnBody } from '../engine/core/txn.ts';
import { readStat } from '../client/lean.ts';
import { addBatched, newBench, runAndReport } from './micro-util.ts';

const PATH = '/zooid-loadgen/g123/k1975';
const VALUE = Buffer.alloc(1024, 7);
const STAT: Stat = { czxid: 0x100000001, mzxid: 0x100000fff, ctime: 1_700_000_000_000, mtime: 1_700_000_000_123, version: 12, cversion: 0, aversion: 0, ephemeralOwner: 0n, dataLength: 1024, numChildren: 0, pzxid: 0x100000001 };

const w = new JuteWriter(64 * 1024);
const r = new JuteReader(Buffer.alloc(0));
let sink = 0;

function frame(write: (w: JuteWriter) => void): Buffer {
  const at = w.reset().beginFrame();
  write(w);
  w.endFrame(at);
  return w.copy();
}

const getDataReq = frame((w) => w.int(17).int(Op.getData).string(PATH).bool(false));
const setDataReq = frame((w) => w.int(18).int(Op.setData).string(PATH).buffer(VALUE).int(-1));
const createReq = frame((w) => {
  w.int(19).int(Op.create).string(PATH).buffer(VALUE);
  writeAcls(w, OPEN_ACL_UNSAFE);
  w.int(0);
});
const getDataReply = (() => {
  w.reset();
  const at = beginReply(w, 17, 0x100000fff, 0);
  w.buffer(VALUE);
  writeStat(w, STAT);
  w.endFrame(at);
  return w.copy();
})();
const connectReq = frame((w) => w.int(0).longNumber(0).int(30_000).long(0n).buffer(Buffer.alloc(16)).bool(false));
const txnHeader = { sessionId: 0x1000000abcdefn, cxid: 18, zxid: 0x100001000, timeMs: 1_700_000_000_000, type: Op.setData };
const txn = frame((w) => {
  writeTxnHeader(w, txnHeader);
  encodeTxnBody(w, { type: Op.setData, path: PATH, data: VALUE, version: 13 });
});
const setDataJson = JSON.stringify({ xid: 18, type: Op.setData, path: PATH, data: VALUE.toString('base64'), version: -1 });

const bench = newBench('jute encode/decode');
const perCall: Record<string, number> = {};
const add = (name: string, op: () => void) => addBatched(bench, perCall, name, op);
add('encode getData request', () => {
    const at = w.reset().beginFrame();
    w.int(17).int(Op.getData).string(PATH).bool(false);
    w.endFrame(at);
    sink += w.offset;
});
add('decode getData request', () => {
    r.reset(getDataReq, 4, getDataReq.length);
    sink += r.int() + r.int() + r.ustring().length + (r.bool() ? 1 : 0);
});
add('encode setData request 1 KiB', () => {
    const at = w.reset().beginFrame();
    w.int(18).int(Op.setData).string(PATH).buffer(VALUE).int(-1);
    w.endFrame(at);
    sink += w.offset;
});
add('decode setData request 1 KiB (data viewed)', () => {
    r.reset(setDataReq, 4, setDataReq.length);
    sink += r.int() + r.int() + r.ustring().length + r.buffer()!.length + r.int();
});
add('decode setData request 1 KiB (data copied)', () => {
    r.reset(setDataReq, 4, setDataReq.length);
    sink += r.int() + r.int() + r.ustring().length + Buffer.from(r.buffer()!).length + r.int();
});
add('encode create request + ACL', () => {
    const at = w.reset().beginFrame();
    w.int(19).int(Op.create).string(PATH).buffer(VALUE);
    writeAcls(w, OPEN_ACL_UNSAFE);
    w.int(0);
    w.endFrame(at);
    sink += w.offset;
});
add('decode create request + ACL', () => {
    r.reset(createReq, 4, createReq.length);
    sink += r.int() + r.int() + r.ustring().length + r.buffer()!.length + readAcls(r).length + r.int();
});
add('encode getData reply (header + 1 KiB + Stat)', () => {
    w.reset();
    const at = beginReply(w, 17, 0x100000fff, 0);
    w.buffer(VALUE);
    writeStat(w, STAT);
    w.endFrame(at);
    sink += w.offset;
});
add('decode getData reply (header + 1 KiB + Stat)', () => {
    r.reset(getDataReply, 4, getDataReply.length);
    sink += r.int() + r.longNumber() + r.int() + r.buffer()!.length + readStat(r).version;
});
add('encode txn (TxnHeader + SetDataTxn 1 KiB)', () => {
    w.reset();
    writeTxnHeader(w, txnHeader);
    encodeTxnBody(w, { type: Op.setData, path: PATH, data: VALUE, version: 13 });
    sink += w.offset;
});
add('decode TxnHeader', () => {
    r.reset(txn, 4, txn.length);
    sink += readTxnHeader(r).cxid;
});
add('decode ConnectRequest', () => {
    r.reset(connectReq, 4, connectReq.length);
    sink += readConnectRequest(r).timeoutMs;
});
add('baseline: JSON.parse setData request (base64 data)', () => {
    const o = JSON.parse(setDataJson) as { path: string; data: string };
    sink += Buffer.from(o.data, 'base64').length + o.path.length;
});
add('baseline: JSON.stringify setData request (base64 data)', () => {
    sink += JSON.stringify({ xid: 18, type: Op.setData, path: PATH, data: VALUE.toString('base64'), version: -1 }).length;
});

await runAndReport(bench, perCall);
if (sink === 0.5) console.log(sink);
