// The fuzzer's model of what a client sends (issue 12, fuzzing): every request record of
// zookeeper.jute as a small tree of typed fields, so that mutations can act on structure
// (a string's length, a vector's count, a nested multi header) before the bytes exist.
//
// A Frame is one length-prefixed frame on the wire: the ConnectRequest that opens a
// session, a request (RequestHeader {xid, type} + the opcode's record), or a four-letter
// word (4 raw bytes, no length prefix). `generateFrame` makes valid ones from a seeded
// Random; `encodeFrame` turns a (possibly mutated) tree into bytes. Overrides on a field
// (`len`, `count`) and on the frame (`lenOverride`) are lies the encoder tells on purpose.
import { JuteWriter } from '../../native-free-io/jute.ts';
import { Op, Xid, CreateFlag } from '../../engine/protocol.ts';
import type { Random } from '../../loadgen/random.ts';

export type Field =
  | { k: 'i32'; v: number }
  | { k: 'i64'; v: bigint }
  /** A bool or a byte. */
  | { k: 'u8'; v: number }
  /** A jute buffer or ustring: int length, then the bytes; `len` replaces the true length (a lie). */
  | { k: 'buf'; v: Uint8Array | null; text: boolean; len?: number }
  /** A jute vector: int count, then the items; `count` replaces the true count (a lie). */
  | { k: 'vec'; items: Field[][]; count?: number }
  /** A nested record (an ACL, one op of a multi with its MultiHeader). */
  | { k: 'rec'; name: string; fields: Field[] }
  | { k: 'raw'; v: Uint8Array };

export type FrameKind = 'connect' | 'request' | 'word';

export interface Frame {
  kind: FrameKind;
  /** The opcode (request), -10 for a ConnectRequest, the word's code for a four-letter word. */
  op: number;
  /** Request: [xid, type, ...record]. Connect: the ConnectRequest. Word: one raw field. */
  fields: Field[];
  /** The length prefix to send instead of the true one. */
  lenOverride?: number;
}

export const i32 = (v: number): Field => ({ k: 'i32', v: v | 0 });
export const i64 = (v: bigint): Field => ({ k: 'i64', v: BigInt.asIntN(64, v) });
export const u8 = (v: number): Field => ({ k: 'u8', v: v & 0xff });
export const text = (s: string | null): Field => ({ k: 'buf', v: s === null ? null : Buffer.from(s, 'utf8'), text: true });
export const bytes = (b: Uint8Array | null): Field => ({ k: 'buf', v: b, text: false });
export const vec = (items: Field[][]): Field => ({ k: 'vec', items });
export const rec = (name: string, fields: Field[]): Field => ({ k: 'rec', name, fields });

// ---------------------------------------------------------------------------------------
// Encoding

/** Appends raw bytes (JuteWriter writes buffers with their length: write one, then close the gap). */
export function writeRaw(w: JuteWriter, b: Uint8Array): void {
  const at = w.offset;
  w.buffer(b);
  w.buf.copyWithin(at, at + 4, w.offset);
  w.offset -= 4;
}

export function encodeFields(w: JuteWriter, fields: readonly Field[]): void {
  for (const f of fields) {
    switch (f.k) {
      case 'i32': w.int(f.v); break;
      case 'i64': w.long(f.v); break;
      case 'u8': w.byte(f.v > 127 ? f.v - 256 : f.v); break;
      case 'buf':
        w.int(f.len ?? (f.v === null ? -1 : f.v.length));
        if (f.v !== null) writeRaw(w, f.v);
        break;
      case 'vec':
        w.int(f.count ?? f.items.length);
        for (const item of f.items) encodeFields(w, item);
        break;
      case 'rec': encodeFields(w, f.fields); break;
      case 'raw': writeRaw(w, f.v); break;
    }
  }
}

/** Appends the frame's bytes to w (length prefix first, unless it is a four-letter word). */
export function encodeFrame(w: JuteWriter, frame: Frame): void {
  if (frame.kind === 'word') {
    encodeFields(w, frame.fields);
    return;
  }
  const at = w.beginFrame();
  encodeFields(w, frame.fields);
  w.endFrame(at);
  if (frame.lenOverride !== undefined) w.buf.writeInt32BE(frame.lenOverride | 0, at);
}

// ---------------------------------------------------------------------------------------
// Valid values

/** Where fuzzed requests point: a small, bounded namespace under /f (the janitor empties it), ZooKeeper's own nodes, the control client's (ACL-protected) and invalid paths. */
export const FUZZ_ROOT = '/f';
const VALID_PATHS = [
  '/', '/f', '/f/a', '/f/a/b', '/f/a/b/c', '/f/b', '/f/b/c', '/f/c', '/f/e', '/f/s', '/f/s/n-', '/f/t', '/f/t/x',
  '/f/\u00e9t\u00e9', '/f/\u{1f600}', '/zookeeper', '/zookeeper/quota', '/zookeeper/quota/f', '/zookeeper/config',
];
/** Nodes that exist whatever the fuzzers do, and that they may not change: the control client's. */
export const CONTROL_ROOT = '/control';
const PROTECTED_PATHS = [CONTROL_ROOT, `${CONTROL_ROOT}/register`];
const INVALID_PATHS = ['', 'f', '/f/', '/f//a', '/f/./a', '/f/../a', '/f/a\u0000b', '/f/\u0001', '/f/\ud800', '//', '/f/.', '/f/..'];

const INTERESTING_INTS = [0, 1, -1, -2, 2, 255, 256, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, -0x80000000, 1 << 20, (1 << 20) + 1];
const INTERESTING_LONGS = [0n, 1n, -1n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0x7fffffffffffffffn, -0x8000000000000000n];

export function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)];
}

export function intBelow(random: Random, n: number): number {
  return Math.floor(random() * n);
}

export function interestingInt(random: Random): number {
  return random() < 0.8 ? pick(random, INTERESTING_INTS) : (random() * 0x1_0000_0000) | 0;
}

export function interestingLong(random: Random): bigint {
  if (random() < 0.8) return pick(random, INTERESTING_LONGS);
  return BigInt.asIntN(64, (BigInt(Math.floor(random() * 0x1_0000_0000)) << 32n) | BigInt(Math.floor(random() * 0x1_0000_0000)));
}

export function randomBytes(random: Random, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(random() * 256);
  return b;
}

function path(random: Random): string {
  const x = random();
  if (x < 0.85) return pick(random, VALID_PATHS);
  if (x < 0.92) return pick(random, INVALID_PATHS);
  if (x < 0.97) return pick(random, PROTECTED_PATHS);
  // a long one, under the fuzz root
  return `${FUZZ_ROOT}/${'l'.repeat(1 + intBelow(random, 2000))}`;
}

function data(random: Random): Field {
  const x = random();
  if (x < 0.05) return bytes(null);
  if (x < 0.95) return bytes(randomBytes(random, intBelow(random, 48)));
  if (x < 0.998) return bytes(Buffer.alloc(intBelow(random, 4096), intBelow(random, 256)));
  return bytes(Buffer.alloc(intBelow(random, 64 * 1024), intBelow(random, 256)));
}

function version(random: Random): Field {
  const x = random();
  return i32(x < 0.7 ? -1 : x < 0.9 ? intBelow(random, 4) : interestingInt(random));
}

const DIGEST_IDS = ['fuzz:Jk5pTjhKX7x9S1n9bX1bq4yX2wQ=', 'other:yyyyyyyyyyyyyyyyyyyyyyyyyyy=', 'bad', 'a:b:c', ':'];
const ACL_IDS: readonly [string, () => string][] = [
  ['world', () => 'anyone'],
  ['auth', () => ''],
  ['ip', () => '127.0.0.1'],
  ['ip', () => '10.0.0.0/8'],
  ['ip', () => '::1'],
  ['ip', () => '300.1.1.1/40'],
  ['x509', () => 'CN=fuzz'],
  ['sasl', () => 'fuzz'],
  ['super', () => 'x'],
  ['nosuchscheme', () => 'x'],
];

function acl(random: Random): Field {
  const perms = random() < 0.8 ? pick(random, [31, 1, 3, 15, 30, 0, 16]) : interestingInt(random);
  if (random() < 0.25) return rec('acl', [i32(perms), text('digest'), text(pick(random, DIGEST_IDS))]);
  const [scheme, id] = pick(random, ACL_IDS);
  return rec('acl', [i32(perms), text(scheme), text(id())]);
}

function acls(random: Random): Field {
  const n = random() < 0.9 ? 1 + intBelow(random, 2) : intBelow(random, 6);
  return vec(Array.from({ length: n }, () => [acl(random)]));
}

function createFlags(random: Random, ttl: boolean): Field {
  if (random() < 0.05) return i32(interestingInt(random));
  if (ttl) return i32(pick(random, [CreateFlag.persistentWithTtl, CreateFlag.persistentSequentialWithTtl, CreateFlag.persistent]));
  return i32(pick(random, [CreateFlag.persistent, CreateFlag.persistent, CreateFlag.ephemeral, CreateFlag.ephemeralSequential, CreateFlag.persistentSequential, CreateFlag.container]));
}

function paths(random: Random): Field {
  const n = random() < 0.95 ? intBelow(random, 6) : intBelow(random, 400);
  return vec(Array.from({ length: n }, () => [text(path(random))]));
}

// ---------------------------------------------------------------------------------------
// One record per opcode (zookeeper.jute)

type RecordMaker = (random: Random) => Field[];

const createRecord = (random: Random): Field[] => [text(path(random)), data(random), acls(random), createFlags(random, false)];
const pathWatch = (random: Random): Field[] => [text(path(random)), u8(random() < 0.5 ? 1 : 0)];
const pathOnly = (random: Random): Field[] => [text(path(random))];
const pathVersion = (random: Random): Field[] => [text(path(random)), version(random)];
const setDataRecord = (random: Random): Field[] => [text(path(random)), data(random), version(random)];
// WatcherType {Children 1, Data 2, Any 3}: out-of-range values are the mutator's (ZooKeeper's WatcherType.fromInt
// throws on them: MARSHALLINGERROR)
const watcherType = (random: Random): Field => i32(1 + intBelow(random, 3));
const removeWatchesRecord = (random: Random): Field[] => [text(path(random)), watcherType(random)];
// ZooKeeper 3.8 answers checkWatches by walking the path towards / (WatchManager.containsWatcher,
// PathParentIterator), which throws on a non-empty path with no '/' (StringIndexOutOfBounds:
// MARSHALLINGERROR); removeWatches looks the path up as it is. Clients validate paths before
// sending either, so such a path is the mutator's: here a relative one is made absolute.
const checkWatchesRecord = (random: Random): Field[] => {
  const p = path(random);
  return [text(p === '' || p.startsWith('/') ? p : `/${p}`), watcherType(random)];
};

/** EphemeralType.TTL.maxValue(): a TTL mode's ttl is 1 … this. */
const TTL_MS_MAX = 0xff_ffff_ffffn;

/**
 * CreateTTLRequest: mostly a TTL mode and a ttl in range; a ttl out of range, or another
 * mode, is BADARGUMENTS. Never another mode with a negative ttl: ZooKeeper 3.8 lets that
 * through to a CreateTTLTxn its SyncThread dies on (test/fuzz/regressions.test.ts), so
 * only a mutation sends one (and not to ZooKeeper: see stopsZooKeeper).
 */
function createTtlRecord(random: Random): Field[] {
  const flags = createFlags(random, true);
  let ttl = random() < 0.9 ? BigInt(1 + intBelow(random, 100_000)) : interestingLong(random);
  const ttlMode = flags.k === 'i32' && (flags.v === CreateFlag.persistentWithTtl || flags.v === CreateFlag.persistentSequentialWithTtl);
  if (!ttlMode && ttl < 0n) ttl = TTL_MS_MAX + 1n;
  return [text(path(random)), data(random), acls(random), flags, i64(ttl)];
}

/** The ops a multi may hold (and what a fuzzed one may hold instead). */
const MULTI_OPS: readonly [number, RecordMaker][] = [
  [Op.create, createRecord], [Op.create2, createRecord], [Op.createContainer, createRecord],
  [Op.createTTL, (random) => [...createRecord(random).slice(0, 3), createFlags(random, true), i64(BigInt(1 + intBelow(random, 100_000)))]],
  [Op.delete, pathVersion], [Op.setData, setDataRecord], [Op.check, pathVersion],
];
const MULTI_READ_OPS: readonly [number, RecordMaker][] = [[Op.getData, pathWatch], [Op.getChildren, pathWatch]];

/** A MultiHeader {type, done, err} followed by the op's record, as one nested record. */
function multiOp(type: number, fields: Field[]): Field {
  return rec('multiOp', [i32(type), u8(0), i32(-1), ...fields]);
}

function multiRecord(ops: readonly [number, RecordMaker][]): RecordMaker {
  return (random) => {
    const n = random() < 0.95 ? 1 + intBelow(random, 6) : intBelow(random, 64);
    const out: Field[] = [];
    for (let i = 0; i < n; i++) {
      const [type, make] = pick(random, ops);
      out.push(multiOp(type, make(random)));
    }
    out.push(rec('multiEnd', [i32(-1), u8(1), i32(-1)]));
    return out;
  };
}

const SASL_MECHANISM_TOKENS = ['', 'n,,n=fuzz,r=nonce', 'charset=utf-8,username="fuzz",realm="zk-sasl-md5",nonce="x",nc=00000001,cnonce="y",digest-uri="zookeeper/zk-sasl-md5",maxbuf=65536,response=00,qop=auth'];

function watchesRecord(listCount: number): RecordMaker {
  return (random) => [i64(random() < 0.8 ? BigInt(intBelow(random, 1000)) : interestingLong(random)), ...Array.from({ length: listCount }, () => paths(random))];
}

/** The record after the RequestHeader, for every opcode a client may send (and two it may not). */
export const REQUEST_RECORDS: ReadonlyMap<number, RecordMaker> = new Map<number, RecordMaker>([
  [Op.create, createRecord],
  [Op.create2, createRecord],
  [Op.createContainer, (random) => [text(path(random)), data(random), acls(random), i32(CreateFlag.container)]],
  [Op.createTTL, createTtlRecord],
  [Op.delete, pathVersion],
  [Op.exists, pathWatch],
  [Op.getData, pathWatch],
  [Op.setData, setDataRecord],
  [Op.getACL, pathOnly],
  [Op.setACL, (random) => [text(path(random)), acls(random), version(random)]],
  [Op.getChildren, pathWatch],
  [Op.getChildren2, pathWatch],
  [Op.getAllChildrenNumber, pathOnly],
  [Op.getEphemerals, pathOnly],
  [Op.sync, pathOnly],
  [Op.check, pathVersion],
  [Op.multi, multiRecord(MULTI_OPS)],
  [Op.multiRead, multiRecord(MULTI_READ_OPS)],
  [Op.setWatches, watchesRecord(3)],
  [Op.setWatches2, watchesRecord(5)],
  // AddWatchMode {PERSISTENT 0, PERSISTENT_RECURSIVE 1}
  [Op.addWatch, (random) => [text(path(random)), i32(intBelow(random, 2))]],
  [Op.removeWatches, removeWatchesRecord],
  [Op.checkWatches, checkWatchesRecord],
  [Op.auth, (random) => {
    // mostly ids a server accepts: a failed addauth closes the connection
    if (random() < 0.8) return [i32(0), text('digest'), text(pick(random, ['fuzz:pw', 'other:pw', 'fuzz:other', 'a:']))];
    const scheme = pick(random, ['digest', 'ip', 'world', 'super', 'sasl', 'x509', 'nosuchscheme', '']);
    const secret = random() < 0.9 ? pick(random, ['fuzz:pw', 'super:nope', 'nocolon', ':', '127.0.0.1']) : randomBytes(random, intBelow(random, 300)).toString('latin1');
    return [i32(0), text(scheme), text(secret)];
  }],
  [Op.ping, () => []],
  [Op.closeSession, () => []],
  [Op.sasl, (random) => [bytes(Buffer.from(pick(random, SASL_MECHANISM_TOKENS)))]],
  [Op.whoAmI, () => []],
  [Op.reconfig, (random) => [text(pick(random, ['', 'server.2=127.0.0.1:2888:3888;2181', 'garbage'])), text(pick(random, ['', '1', '2,3'])), text(random() < 0.8 ? null : 'server.1=127.0.0.1:2888:3888'), i64(random() < 0.8 ? -1n : interestingLong(random))]],
  // not for clients: the server's own (deleteContainer) and the handshake's (createSession)
  [Op.deleteContainer, pathOnly],
  [Op.createSession, () => []],
]);

/** Request opcodes in the order weights are given. */
const REQUEST_WEIGHTS: readonly [number, number][] = [
  [Op.create, 8], [Op.create2, 4], [Op.createContainer, 2], [Op.createTTL, 2], [Op.delete, 6], [Op.exists, 6], [Op.getData, 8],
  [Op.setData, 8], [Op.getACL, 4], [Op.setACL, 3], [Op.getChildren, 5], [Op.getChildren2, 4], [Op.getAllChildrenNumber, 2],
  [Op.getEphemerals, 2], [Op.sync, 3], [Op.check, 3], [Op.multi, 8], [Op.multiRead, 5], [Op.setWatches, 3], [Op.setWatches2, 3],
  [Op.addWatch, 4], [Op.removeWatches, 3], [Op.checkWatches, 2], [Op.auth, 1], [Op.ping, 3], [Op.sasl, 1], [Op.whoAmI, 2],
  [Op.reconfig, 1], [Op.closeSession, 1], [Op.deleteContainer, 1], [Op.createSession, 1],
];
const WEIGHT_TOTAL = REQUEST_WEIGHTS.reduce((n, [, w]) => n + w, 0);

export function pickOpcode(random: Random): number {
  let x = random() * WEIGHT_TOTAL;
  for (const [op, w] of REQUEST_WEIGHTS) {
    x -= w;
    if (x < 0) return op;
  }
  return Op.getData;
}

/** The xid a client sends with an opcode: pings, auth and set-watches have their own. */
export function xidFor(op: number, next: number): number {
  if (op === Op.ping) return Xid.ping;
  if (op === Op.auth) return Xid.auth;
  if (op === Op.setWatches || op === Op.setWatches2) return Xid.setWatches;
  return next;
}

/** A valid request frame for `op` (a known opcode: REQUEST_RECORDS has it). */
export function requestFrame(random: Random, op: number, xid: number): Frame {
  const make = REQUEST_RECORDS.get(op);
  if (make === undefined) throw new Error(`no record for opcode ${op}`);
  return { kind: 'request', op, fields: [i32(xidFor(op, xid)), i32(op), ...make(random)] };
}

export interface SessionCredentials {
  sessionId: bigint;
  passwd: Uint8Array;
}

/**
 * A ConnectRequest {protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly}:
 * a new session, or `resume`'s (a session the fuzzer opened before, to move it here).
 */
export function connectFrame(random: Random, resume: SessionCredentials | null, timeoutMs: number): Frame {
  const fields = [
    i32(0), i64(0n), i32(timeoutMs),
    i64(resume?.sessionId ?? 0n), bytes(resume?.passwd ?? Buffer.alloc(16)),
  ];
  // clients older than 3.4 leave the readOnly byte out
  if (random() < 0.95) fields.push(u8(random() < 0.1 ? 1 : 0));
  return { kind: 'connect', op: Op.createSession, fields };
}

/** ZooKeeper 3.8's four-letter words (FourLetterCommands), as the int of their 4 bytes; and telnet's close. */
const FOUR_LETTER_WORD_CODES: readonly [string, number][] = [
  ...['conf', 'cons', 'crst', 'dirs', 'dump', 'envi', 'gtmk', 'ruok', 'stmk', 'srst', 'srvr', 'stat', 'wchc', 'wchp', 'wchs', 'mntr', 'isro', 'hash']
    .map((w): [string, number] => [w, Buffer.from(w, 'latin1').readInt32BE(0)]),
  ['telnet close', 0xfff4fffd | 0],
];

/** A four-letter word; stmk carries its 8-byte trace mask. */
export function wordFrame(random: Random): Frame {
  const [word, code] = pick(random, FOUR_LETTER_WORD_CODES);
  const b = Buffer.alloc(word === 'stmk' ? 12 : 4);
  b.writeInt32BE(code | 0, 0);
  if (word === 'stmk') b.writeBigInt64BE(interestingLong(random), 4);
  return { kind: 'word', op: code, fields: [{ k: 'raw', v: b }] };
}
