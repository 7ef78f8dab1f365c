// The apply stage's records and effects (engine/core/txn.ts): every txn codec writes what
// ZooKeeper's own jute classes write and reads it back; txnBodyBytes is what encoding
// writes, for seeded random txns; mutate changes the tree as DataTree.processTxn and
// triggerWatches fires the events ZooKeeper's DataTree fires, in its order, each with the
// ACL its watcher must be able to READ.
import { describe, it, expect } from 'vitest';
import { JuteWriter, JuteReader, JuteError } from '../../native-free-io/jute.ts';
import { type Acl, type TxnHeader, Op, Err, EventType, KeeperError, NULL_DATA, OPEN_ACL_UNSAFE, Perm } from '../../engine/protocol.ts';
import { DataTree, CONTAINER_OWNER } from '../../engine/core/tree.ts';
import { WatchMode } from '../../engine/core/watches.ts';
import {
  type Txn, type CreateTxn, encodeTxn, decodeTxn, encodeTxnBody, decodeTxnBody, txnBodyBytes, codecOf, showTxn,
  mutate, triggerWatches, multiError, ownerOf, ttlOwner,
} from '../../engine/core/txn.ts';
import { seededRandom, testSeed } from '../support/random.ts';
import type { Random } from '../../loadgen/random.ts';
import { SESSION, statOf, hdrAt, recordEvents, treeState, hex, expectTreeConsistent } from './core-support.ts';

const ACLS: Acl[] = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }, { perms: 1, id: { scheme: 'digest', id: 'üser:h/ash=' } }];
const DATA = Buffer.from('héllo');
const DIGEST_ACL: Acl[] = [{ perms: Perm.ALL, id: { scheme: 'digest', id: 'u:hash=' } }];

/** A txn and its log entry as fixtures/zookeeper-java/TxnRecords.java prints it (the header from hdrOf). */
interface Fixture { name: string; cxid: number; txn: Txn; hex: string }

/** TxnRecords.entry's header: session 0x0100a2b3c4d50000, zxid 0x100000002 + cxid, time 1700000000123 + cxid. */
function hdrOf(cxid: number, type: number): TxnHeader {
  return { sessionId: SESSION, cxid, zxid: 0x100000002 + cxid, timeMs: 1_700_000_000_123 + cxid, type };
}

const ACLS_HEX = '000000020000001f00000005776f726c6400000006616e796f6e6500000001000000066469676573740000000cc3bc7365723a682f6173683d';
const FIXTURES: Fixture[] = [
  {
    name: 'create', cxid: 1, txn: { type: Op.create, path: '/app/ß', data: DATA, acls: ACLS, ephemeral: true, parentCVersion: 3, ttlMs: 0 },
    hex: `0100a2b3c4d500000000000100000001000000030000018bcfe5687c00000001000000072f6170702fc39f0000000668c3a96c6c6f${ACLS_HEX}0100000003`,
  },
  {
    name: 'create2, null data', cxid: 2, txn: { type: Op.create2, path: '/a', data: NULL_DATA, acls: ACLS, ephemeral: false, parentCVersion: -1, ttlMs: 0 },
    hex: `0100a2b3c4d500000000000200000001000000040000018bcfe5687d0000000f000000022f61ffffffff${ACLS_HEX}00ffffffff`,
  },
  {
    name: 'createContainer', cxid: 3, txn: { type: Op.createContainer, path: '/c', data: DATA, acls: ACLS, ephemeral: false, parentCVersion: 7, ttlMs: 0 },
    hex: `0100a2b3c4d500000000000300000001000000050000018bcfe5687e00000013000000022f630000000668c3a96c6c6f${ACLS_HEX}00000007`,
  },
  {
    name: 'createTTL', cxid: 4, txn: { type: Op.createTTL, path: '/t', data: Buffer.alloc(0), acls: ACLS, ephemeral: false, parentCVersion: 2, ttlMs: 86_400_000 },
    hex: `0100a2b3c4d500000000000400000001000000060000018bcfe5687f00000015000000022f7400000000${ACLS_HEX}000000020000000005265c00`,
  },
  { name: 'delete', cxid: 5, txn: { type: Op.delete, path: '/app/日本' }, hex: '0100a2b3c4d500000000000500000001000000070000018bcfe56880000000020000000b2f6170702fe697a5e69cac' },
  { name: 'deleteContainer', cxid: 6, txn: { type: Op.deleteContainer, path: '/c' }, hex: '0100a2b3c4d500000000000600000001000000080000018bcfe5688100000014000000022f63' },
  {
    name: 'setData', cxid: 7, txn: { type: Op.setData, path: '/app', data: DATA, version: 4 },
    hex: '0100a2b3c4d500000000000700000001000000090000018bcfe5688200000005000000042f6170700000000668c3a96c6c6f00000004',
  },
  {
    name: 'setData, null data', cxid: 8, txn: { type: Op.setData, path: '/app', data: NULL_DATA, version: 5 },
    hex: '0100a2b3c4d5000000000008000000010000000a0000018bcfe5688300000005000000042f617070ffffffff00000005',
  },
  {
    name: 'setACL', cxid: 9, txn: { type: Op.setACL, path: '/app', acls: ACLS, version: 2 },
    hex: `0100a2b3c4d5000000000009000000010000000b0000018bcfe5688400000007000000042f617070${ACLS_HEX}00000002`,
  },
  { name: 'check', cxid: 10, txn: { type: Op.check, path: '/app', version: 6 }, hex: '0100a2b3c4d500000000000a000000010000000c0000018bcfe568850000000d000000042f61707000000006' },
  { name: 'error', cxid: 11, txn: { type: Op.error, err: Err.NONODE }, hex: '0100a2b3c4d500000000000b000000010000000d0000018bcfe56886ffffffffffffff9b' },
  { name: 'createSession', cxid: 12, txn: { type: Op.createSession, timeoutMs: 30_000 }, hex: '0100a2b3c4d500000000000c000000010000000e0000018bcfe56887fffffff600007530' },
  {
    name: 'closeSession', cxid: 13, txn: { type: Op.closeSession, paths: ['/e/1', '/é/2'], listed: true },
    hex: '0100a2b3c4d500000000000d000000010000000f0000018bcfe56888fffffff500000002000000042f652f31000000052fc3a92f32',
  },
  {
    name: 'closeSession, no ephemerals', cxid: 14, txn: { type: Op.closeSession, paths: [], listed: true },
    hex: '0100a2b3c4d500000000000e00000001000000100000018bcfe56889fffffff500000000',
  },
  {
    name: 'multi', cxid: 15,
    txn: {
      type: Op.multi, txns: [
        { type: Op.create, path: '/m', data: DATA, acls: ACLS, ephemeral: false, parentCVersion: 1, ttlMs: 0 },
        { type: Op.setData, path: '/m', data: Buffer.from([1, 2]), version: 1 },
        { type: Op.check, path: '/m', version: 1 },
        { type: Op.delete, path: '/m' },
      ],
    },
    hex: '0100a2b3c4d500000000000f00000001000000110000018bcfe5688a0000000e00000004000000010000004e000000022f6d0000000668c3a96c6c6f'
      + `${ACLS_HEX}00000000010000000500000010000000022f6d000000020102000000010000000d0000000a000000022f6d000000010000000200000006000000022f6d`,
  },
  {
    // as PrepRequestProcessor logs a failed multi: ops before the failure keep their records
    name: 'multi, failed', cxid: 16,
    txn: {
      type: Op.multi, txns: [
        { type: Op.create, path: '/m', data: DATA, acls: ACLS, ephemeral: false, parentCVersion: 1, ttlMs: 0 },
        { type: Op.error, err: Err.NODEEXISTS },
        { type: Op.error, err: Err.RUNTIMEINCONSISTENCY },
      ],
    },
    hex: '0100a2b3c4d500000000001000000001000000120000018bcfe5688b0000000e00000003000000010000004e000000022f6d0000000668c3a96c6c6f'
      + `${ACLS_HEX}0000000001ffffffff00000004ffffff92ffffffff00000004fffffffe`,
  },
];

/** A txn by value, with null data told apart from empty data. */
function shape(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return v === NULL_DATA ? 'null' : `0x${hex(v)}`;
  if (Array.isArray(v)) return v.map(shape);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)]));
  return v;
}

function encoded(hdr: TxnHeader, txn: Txn, initialBytes = 16): Buffer {
  const w = new JuteWriter(initialBytes);
  encodeTxn(w, hdr, txn);
  return Buffer.from(w.buf.subarray(0, w.offset));
}

describe('txn codecs against ZooKeeper 3.8.0\'s jute classes', () => {
  it('write every record byte for byte as TxnRecords.java', () => {
    for (const f of FIXTURES) expect(hex(encoded(hdrOf(f.cxid, f.txn.type), f.txn)), f.name).toBe(f.hex);
  });

  it('read ZooKeeper\'s bytes back to the same header and txn; null data stays null, empty stays empty', () => {
    for (const f of FIXTURES) {
      const { hdr, txn } = decodeTxn(Buffer.from(f.hex, 'hex'));
      expect(hdr, f.name).toEqual(hdrOf(f.cxid, f.txn.type));
      expect(shape(txn), f.name).toEqual(shape(f.txn));
    }
  });

  it('a closeSession logged without its list (closeSessionTxn.enabled=false) is the header alone, read back as not listed', () => {
    const bytes = encoded(hdrOf(1, Op.closeSession), { type: Op.closeSession, paths: ['/e/1'], listed: false });
    expect(bytes.length).toBe(8 + 4 + 8 + 8 + 4);
    expect(decodeTxn(bytes).txn).toEqual({ type: Op.closeSession, paths: [], listed: false });
    expect(txnBodyBytes({ type: Op.closeSession, paths: ['/e/1'], listed: false })).toBe(0);
  });

  it('name each record as zookeeper.jute; an unknown type throws', () => {
    const records: [number, string][] = [
      [Op.create, 'CreateTxn'], [Op.create2, 'CreateTxn'], [Op.createContainer, 'CreateContainerTxn'], [Op.createTTL, 'CreateTTLTxn'],
      [Op.delete, 'DeleteTxn'], [Op.deleteContainer, 'DeleteTxn'], [Op.setData, 'SetDataTxn'], [Op.setACL, 'SetACLTxn'],
      [Op.check, 'CheckVersionTxn'], [Op.error, 'ErrorTxn'], [Op.createSession, 'CreateSessionTxn'], [Op.closeSession, 'CloseSessionTxn'],
      [Op.multi, 'MultiTxn'],
    ];
    for (const [type, record] of records) expect(codecOf(type).record, `type ${type}`).toBe(record);
    for (const type of [Op.getData, Op.sync, 99, 0]) expect(() => codecOf(type)).toThrow(`unknown txn type ${type}`);
  });

  it('refuse a truncated entry, an unknown type and an unknown type inside a multi', () => {
    const create = Buffer.from(FIXTURES[0].hex, 'hex');
    expect(() => decodeTxn(create.subarray(0, create.length - 1))).toThrow(JuteError);
    expect(() => decodeTxn(create.subarray(0, 20))).toThrow(JuteError);
    const unknown = Buffer.from(create);
    unknown.writeInt32BE(42, 28);
    expect(() => decodeTxn(unknown)).toThrow('unknown txn type 42');
    const w = new JuteWriter(64);
    w.int(1).int(42).int(0);
    expect(() => decodeTxnBody(Op.multi, new JuteReader(Buffer.from(w.buf.subarray(0, w.offset))))).toThrow('unknown txn type 42');
  });

  it('give TTL nodes and containers the owners EphemeralType gives them', () => {
    // TxnRecords.java: EphemeralType.TTL.toEphemeralOwner(86400000), CONTAINER_EPHEMERAL_OWNER
    expect(ttlOwner(86_400_000)).toBe(-72057593951527936n);
    expect(CONTAINER_OWNER).toBe(-9223372036854775808n);
    const create = (type: CreateTxn['type'], ephemeral: boolean): CreateTxn => ({ type, path: '/x', data: NULL_DATA, acls: ACLS, ephemeral, parentCVersion: -1, ttlMs: 86_400_000 });
    expect(ownerOf(create(Op.create, true), SESSION)).toBe(SESSION);
    expect(ownerOf(create(Op.create2, false), SESSION)).toBe(0n);
    expect(ownerOf(create(Op.createContainer, false), SESSION)).toBe(CONTAINER_OWNER);
    expect(ownerOf(create(Op.createTTL, false), SESSION)).toBe(ttlOwner(86_400_000));
  });

  it('show each record on one line (dump-log)', () => {
    expect(showTxn(FIXTURES[0].txn)).toBe('/app/ß data=base64:aMOpbGxv acl=[world:anyone:31,digest:üser:h/ash=:1] ephemeral=true parentCVersion=3');
    expect(showTxn({ type: Op.createTTL, path: '/t', data: Buffer.from('ok'), acls: [], ephemeral: false, parentCVersion: 2, ttlMs: 5 }))
      .toBe('/t data="ok" acl=[] ephemeral=false parentCVersion=2 ttl=5');
    expect(showTxn({ type: Op.setData, path: '/a', data: NULL_DATA, version: 1 })).toBe('/a data=null version=1');
    expect(showTxn({ type: Op.closeSession, paths: ['/a', '/b'], listed: true })).toBe('ephemerals=[/a,/b]');
    expect(showTxn({ type: Op.closeSession, paths: [], listed: false })).toBe('ephemerals=(not listed)');
    expect(showTxn(FIXTURES[FIXTURES.length - 1].txn)).toMatch(/^\[create \/m data=base64:aMOpbGxv .*; error err=-110; error err=-2\]$/);
  });
});

describe('txn codecs on seeded random txns', () => {
  const CHARS = ['a', 'z', '0', '-', '/', 'é', 'ß', '日', '😀'];

  function text(random: Random, maxChars: number): string {
    let s = '';
    for (let n = Math.floor(random() * maxChars); n > 0; n--) s += CHARS[Math.floor(random() * CHARS.length)];
    return s;
  }

  function int32(random: Random): number {
    return (Math.floor(random() * 0x1_0000_0000) | 0);
  }

  function data(random: Random): Buffer {
    if (random() < 0.2) return NULL_DATA;
    return Buffer.from(Array.from({ length: Math.floor(random() * 40) }, () => Math.floor(random() * 256)));
  }

  function acls(random: Random): Acl[] {
    return Array.from({ length: Math.floor(random() * 4) }, () => ({ perms: Math.floor(random() * 32), id: { scheme: text(random, 8), id: text(random, 30) } }));
  }

  function randomTxn(random: Random, inMulti: boolean): Txn {
    const path = `/${text(random, 20)}`;
    const kinds = inMulti ? 7 : 11;
    switch (Math.floor(random() * kinds)) {
      case 0: {
        const type = [Op.create, Op.create2, Op.createContainer, Op.createTTL][Math.floor(random() * 4)] as CreateTxn['type'];
        const ephemeral = type === Op.create || type === Op.create2 ? random() < 0.5 : false;
        const ttlMs = type === Op.createTTL ? Math.floor(random() * 2 ** 40) : 0;
        return { type, path, data: data(random), acls: acls(random), ephemeral, parentCVersion: int32(random), ttlMs };
      }
      case 1: return { type: random() < 0.5 ? Op.delete : Op.deleteContainer, path };
      case 2: return { type: Op.setData, path, data: data(random), version: int32(random) };
      case 3: return { type: Op.check, path, version: int32(random) };
      case 4: return { type: Op.error, err: int32(random) };
      case 5: return { type: Op.setACL, path, acls: acls(random), version: int32(random) };
      case 6: return { type: Op.delete, path };
      case 7: return { type: Op.createSession, timeoutMs: int32(random) };
      case 8: {
        const listed = random() < 0.8;
        return { type: Op.closeSession, paths: listed ? Array.from({ length: Math.floor(random() * 5) }, () => `/${text(random, 12)}`) : [], listed };
      }
      default:
        return { type: Op.multi, txns: Array.from({ length: Math.floor(random() * 6) }, () => randomTxn(random, true)) };
    }
  }

  it('round-trip, and txnBodyBytes is the size encoding writes', () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    for (let i = 0; i < 2000; i++) {
      const txn = randomTxn(random, false);
      const hdr: TxnHeader = { sessionId: BigInt.asIntN(64, BigInt(int32(random)) << 32n), cxid: int32(random), zxid: Math.floor(random() * 2 ** 52), timeMs: Math.floor(random() * 2 ** 45), type: txn.type };
      const why = `seed ${seed} txn ${i}: ${showTxn(txn)}`;
      const w = new JuteWriter(8);
      encodeTxnBody(w, txn);
      expect(txnBodyBytes(txn), why).toBe(w.offset);
      const back = decodeTxn(encoded(hdr, txn, 8));
      expect(back.hdr, why).toEqual(hdr);
      expect(shape(back.txn), why).toEqual(shape(txn));
    }
  });
});

describe('mutate: a txn applied to the tree', () => {
  function apply(tree: DataTree, zxid: number, txn: Txn, sessionId = SESSION): number {
    return mutate(tree, hdrAt(zxid, txn.type, sessionId), txn);
  }

  function create(path: string, extra: Partial<CreateTxn> = {}): CreateTxn {
    return { type: Op.create, path, data: Buffer.from('d'), acls: [...OPEN_ACL_UNSAFE], ephemeral: false, parentCVersion: -1, ttlMs: 0, ...extra };
  }

  it('create, create2, createContainer and createTTL make nodes with the header\'s zxid and time and the owner their type gives', () => {
    const tree = new DataTree();
    const t = hdrAt(1, Op.create).timeMs;
    expect(apply(tree, 1, create('/a', { acls: DIGEST_ACL }))).toBe(Err.OK);
    expect(statOf(tree, '/a')).toMatchObject({ czxid: 1, mzxid: 1, pzxid: 1, ctime: t, mtime: t, dataLength: 1, ephemeralOwner: 0n });
    expect(tree.acls.get(tree.get('/a')!.aclRef)).toEqual(DIGEST_ACL);
    apply(tree, 2, create('/a/e', { type: Op.create2, ephemeral: true }));
    apply(tree, 3, create('/c', { type: Op.createContainer }));
    apply(tree, 4, create('/t', { type: Op.createTTL, ttlMs: 5000 }));
    expect(tree.get('/a/e')!.ephemeralOwner).toBe(SESSION);
    expect(tree.get('/c')!.ephemeralOwner).toBe(CONTAINER_OWNER);
    expect(tree.get('/t')!.ephemeralOwner).toBe(ttlOwner(5000));
    expect(statOf(tree, '/a')).toMatchObject({ cversion: 1, numChildren: 1, pzxid: 2 });
    // a replayed create carries the parent's cversion
    apply(tree, 5, create('/a/f', { parentCVersion: 9 }));
    expect(tree.get('/a')!.cversion).toBe(9);
    expectTreeConsistent(tree, 'after creates');
  });

  it('setData, setACL, delete and deleteContainer change what DataTree.processTxn changes', () => {
    const tree = new DataTree();
    apply(tree, 1, create('/a'));
    apply(tree, 2, create('/c', { type: Op.createContainer }));
    expect(apply(tree, 3, { type: Op.setData, path: '/a', data: Buffer.from('new data'), version: 1 })).toBe(Err.OK);
    expect(statOf(tree, '/a')).toMatchObject({ czxid: 1, mzxid: 3, mtime: hdrAt(3, 0).timeMs, version: 1, dataLength: 8 });
    expect(apply(tree, 4, { type: Op.setACL, path: '/a', acls: DIGEST_ACL, version: 1 })).toBe(Err.OK);
    expect(statOf(tree, '/a')).toMatchObject({ mzxid: 3, aversion: 1 });
    expect(tree.lastAclZxid).toBe(4);
    // an older setACL replayed does not move lastAclZxid back
    apply(tree, 2, { type: Op.setACL, path: '/a', acls: OPEN_ACL_UNSAFE as Acl[], version: 2 });
    expect(tree.lastAclZxid).toBe(4);
    expect(apply(tree, 5, { type: Op.delete, path: '/a' })).toBe(Err.OK);
    expect(apply(tree, 6, { type: Op.deleteContainer, path: '/c' })).toBe(Err.OK);
    expect(tree.get('/a')).toBeUndefined();
    expect(tree.containers.size).toBe(0);
    expect(statOf(tree, '/')).toMatchObject({ pzxid: 6, numChildren: 1 });
    expectTreeConsistent(tree, 'after deletes');
  });

  it('check and createSession change nothing; an error txn changes nothing and returns its code', () => {
    const tree = new DataTree();
    apply(tree, 1, create('/a'));
    const before = treeState(tree);
    expect(apply(tree, 2, { type: Op.check, path: '/a', version: 0 })).toBe(Err.OK);
    expect(apply(tree, 3, { type: Op.createSession, timeoutMs: 4000 })).toBe(Err.OK);
    expect(apply(tree, 4, { type: Op.error, err: Err.BADVERSION })).toBe(Err.BADVERSION);
    expect(treeState(tree)).toEqual(before);
  });

  it('closeSession deletes the listed paths, skips those already gone, then deletes what else the session holds', () => {
    const tree = new DataTree();
    for (const [i, p] of ['/e1', '/e2', '/e3'].entries()) apply(tree, 1 + i, create(p, { ephemeral: true }));
    apply(tree, 4, create('/other', { ephemeral: true }), 0x77n);
    expect(apply(tree, 10, { type: Op.closeSession, paths: ['/e3', '/gone', '/e1'], listed: true })).toBe(Err.OK);
    expect(['/e1', '/e2', '/e3'].map((p) => tree.get(p))).toEqual([undefined, undefined, undefined]);
    expect(tree.ephemerals.has(SESSION)).toBe(false);
    expect([...tree.ephemerals.get(0x77n)!]).toEqual(['/other']);
    expect(statOf(tree, '/').pzxid).toBe(10);
    // not listed: replay deletes what the tree holds for the session
    expect(apply(tree, 11, { type: Op.closeSession, paths: [], listed: false }, 0x77n)).toBe(Err.OK);
    expect(tree.ephemeralCount()).toBe(0);
    expectTreeConsistent(tree, 'after closeSession');
  });

  it('a multi applies every op at its zxid, or nothing when it holds an error (its first error is the result)', () => {
    const tree = new DataTree();
    const ok: Txn = { type: Op.multi, txns: [create('/m'), { type: Op.setData, path: '/m', data: Buffer.from('xy'), version: 1 }, create('/m/c'), { type: Op.check, path: '/m', version: 1 }] };
    expect(apply(tree, 1, ok)).toBe(Err.OK);
    expect(statOf(tree, '/m')).toMatchObject({ czxid: 1, mzxid: 1, version: 1, dataLength: 2, numChildren: 1 });
    const before = treeState(tree);
    const failed: Txn = { type: Op.multi, txns: [{ type: Op.delete, path: '/m/c' }, { type: Op.error, err: Err.NOTEMPTY }, { type: Op.error, err: Err.RUNTIMEINCONSISTENCY }] };
    expect(multiError(failed as Extract<Txn, { type: 14 }>)).toBe(Err.NOTEMPTY);
    expect(apply(tree, 2, failed)).toBe(Err.NOTEMPTY);
    expect(treeState(tree)).toEqual(before);
  });

  it('throws for what prep refuses: a create under a missing parent or over an existing node, a change to a missing node', () => {
    const tree = new DataTree();
    apply(tree, 1, create('/a'));
    const code = (txn: Txn) => {
      try {
        apply(tree, 2, txn);
      } catch (e) {
        return e instanceof KeeperError ? e.code : e;
      }
      return 'no error';
    };
    expect(code(create('/missing/b'))).toBe(Err.NONODE);
    expect(code(create('/a'))).toBe(Err.NODEEXISTS);
    expect(code({ type: Op.delete, path: '/b' })).toBe(Err.NONODE);
    expect(code({ type: Op.setData, path: '/b', data: NULL_DATA, version: 1 })).toBe(Err.NONODE);
    expect(code({ type: Op.setACL, path: '/b', acls: DIGEST_ACL, version: 1 })).toBe(Err.NONODE);
  });
});

describe('triggerWatches: the events a txn fires once applied', () => {
  const [W1, W2, W3] = [1, 2, 3];

  /** A tree with /a (ACL DIGEST_ACL) and /a/b (open), and a recorder of the events it delivers. */
  function setup() {
    const tree = new DataTree();
    const events = recordEvents(tree);
    const run = (zxid: number, txn: Txn, sessionId = SESSION) => {
      const hdr = hdrAt(zxid, txn.type, sessionId);
      mutate(tree, hdr, txn);
      triggerWatches(tree, hdr, txn);
    };
    run(1, { type: Op.create, path: '/a', data: NULL_DATA, acls: DIGEST_ACL, ephemeral: false, parentCVersion: -1, ttlMs: 0 });
    run(2, { type: Op.create, path: '/a/b', data: NULL_DATA, acls: [...OPEN_ACL_UNSAFE], ephemeral: false, parentCVersion: -1, ttlMs: 0 });
    return { tree, events, run };
  }

  const mkTxn = (path: string, acls: Acl[] = [...OPEN_ACL_UNSAFE], ephemeral = false): Txn => ({ type: Op.create, path, data: NULL_DATA, acls, ephemeral, parentCVersion: -1, ttlMs: 0 });

  it('create: NodeCreated to the node\'s data watchers, then NodeChildrenChanged to the parent\'s child watchers', () => {
    const { tree, events, run } = setup();
    tree.dataWatches.add('/a/new', W1);
    tree.childWatches.add('/a', W2);
    tree.childWatches.add('/a/new', W3);
    run(3, mkTxn('/a/new', DIGEST_ACL));
    expect(events).toEqual([
      { watcher: W1, type: EventType.NodeCreated, path: '/a/new', zxid: 3, acl: DIGEST_ACL },
      { watcher: W2, type: EventType.NodeChildrenChanged, path: '/a', zxid: 3, acl: DIGEST_ACL },
    ]);
    // standard watches fire once
    events.length = 0;
    run(4, mkTxn('/a/new/x'));
    run(5, { type: Op.delete, path: '/a/new/x' });
    expect(events.map((e) => [e.watcher, e.type, e.path])).toEqual([[W3, EventType.NodeChildrenChanged, '/a/new']]);
  });

  it('setData: NodeDataChanged to the node\'s data watchers only', () => {
    const { tree, events, run } = setup();
    tree.dataWatches.add('/a', W1);
    tree.childWatches.add('/a', W2);
    tree.dataWatches.add('/a/b', W3);
    run(3, { type: Op.setData, path: '/a', data: Buffer.from('x'), version: 1 });
    expect(events).toEqual([{ watcher: W1, type: EventType.NodeDataChanged, path: '/a', zxid: 3, acl: DIGEST_ACL }]);
    expect(tree.dataWatches.has('/a', W1)).toBe(false);
    expect(tree.childWatches.has('/a', W2)).toBe(true);
  });

  it('delete: NodeDeleted once per watcher of the node (data or child), with the deleted node\'s ACL; NodeChildrenChanged to the parent\'s', () => {
    const { tree, events, run } = setup();
    run(3, mkTxn('/a/b/gone', DIGEST_ACL));
    tree.dataWatches.add('/a/b/gone', W1);
    tree.childWatches.add('/a/b/gone', W1);
    tree.childWatches.add('/a/b/gone', W2);
    tree.childWatches.add('/a/b', W3);
    run(4, { type: Op.delete, path: '/a/b/gone' });
    expect(events).toEqual([
      { watcher: W1, type: EventType.NodeDeleted, path: '/a/b/gone', zxid: 4, acl: DIGEST_ACL },
      { watcher: W2, type: EventType.NodeDeleted, path: '/a/b/gone', zxid: 4, acl: DIGEST_ACL },
      { watcher: W3, type: EventType.NodeChildrenChanged, path: '/a/b', zxid: 4, acl: [...OPEN_ACL_UNSAFE] },
    ]);
    expect(tree.childWatches.watchCount() + tree.dataWatches.watchCount()).toBe(0);
  });

  it('a persistent recursive watch sees creates, changes and deletes below it, never NodeChildrenChanged', () => {
    const { tree, events, run } = setup();
    tree.dataWatches.add('/a', W1, WatchMode.persistentRecursive);
    tree.childWatches.add('/a', W2, WatchMode.persistent);
    run(3, mkTxn('/a/b/c', DIGEST_ACL));
    run(4, { type: Op.setData, path: '/a/b/c', data: Buffer.from('v'), version: 1 });
    run(5, { type: Op.delete, path: '/a/b/c' });
    run(6, { type: Op.delete, path: '/a/b' });
    expect(events.map((e) => [e.watcher, e.type, e.path, e.zxid])).toEqual([
      [W1, EventType.NodeCreated, '/a/b/c', 3],
      [W1, EventType.NodeDataChanged, '/a/b/c', 4],
      [W1, EventType.NodeDeleted, '/a/b/c', 5],
      [W1, EventType.NodeDeleted, '/a/b', 6],
      [W2, EventType.NodeChildrenChanged, '/a', 6],
    ]);
    // the READ check of a deleted node's event is against the ACL it had
    expect(events[2].acl).toEqual(DIGEST_ACL);
  });

  it('closeSession: NodeDeleted for each node it deletes, in its order, listed or not', () => {
    const { tree, events, run } = setup();
    for (const [i, p] of ['/a/b/e1', '/a/b/e2'].entries()) run(3 + i, mkTxn(p, undefined, true));
    for (const p of ['/a/b/e1', '/a/b/e2']) tree.dataWatches.add(p, W1);
    tree.childWatches.add('/a/b', W2, WatchMode.persistent);
    events.length = 0;
    run(10, { type: Op.closeSession, paths: ['/a/b/e2', '/a/b/e1'], listed: true });
    expect(events.map((e) => [e.watcher, e.type, e.path])).toEqual([
      [W1, EventType.NodeDeleted, '/a/b/e2'], [W2, EventType.NodeChildrenChanged, '/a/b'],
      [W1, EventType.NodeDeleted, '/a/b/e1'], [W2, EventType.NodeChildrenChanged, '/a/b'],
    ]);
    // logged without its list, a closeSession deletes what the tree holds for the session, and
    // those deletes fire as any (DataTree.killSession triggers as each node goes)
    run(11, mkTxn('/a/b/e3', undefined, true));
    events.length = 0;
    run(12, { type: Op.closeSession, paths: [], listed: false });
    expect(events.map((e) => [e.watcher, e.type, e.path])).toEqual([[W2, EventType.NodeChildrenChanged, '/a/b']]);
  });

  /** A multi that creates /x (ACL DIGEST_ACL), changes it and deletes it, watched persistently on /x and once on /. */
  function createChangeDelete() {
    const { tree, events, run } = setup();
    tree.dataWatches.add('/x', W1, WatchMode.persistent);
    tree.childWatches.add('/', W2);
    events.length = 0;
    run(3, { type: Op.multi, txns: [mkTxn('/x', DIGEST_ACL), { type: Op.setData, path: '/x', data: Buffer.from('1'), version: 1 }, { type: Op.delete, path: '/x' }] });
    return events;
  }

  it('a multi fires its ops\' events in order; a node it creates and deletes keeps its ACL for NodeCreated and NodeDeleted', () => {
    const events = createChangeDelete();
    expect(events.map((e) => [e.watcher, e.type, e.path, e.zxid])).toEqual([
      [W1, EventType.NodeCreated, '/x', 3],
      [W2, EventType.NodeChildrenChanged, '/', 3],
      [W1, EventType.NodeDataChanged, '/x', 3],
      [W1, EventType.NodeDeleted, '/x', 3],
    ]);
    expect([events[0].acl, events[1].acl, events[3].acl]).toEqual([DIGEST_ACL, [...OPEN_ACL_UNSAFE], DIGEST_ACL]);
  });

  // ZooKeeper 3.8.4's DataTree triggers as each op applies, with the ACL that op left (then
  // ServerCnxn.process checks READ against it): a node the multi deletes later still has one.
  it('a multi\'s NodeDataChanged for a node it then deletes is checked against that node\'s ACL', () => {
    const events = createChangeDelete();
    expect(events[2]).toEqual({ watcher: W1, type: EventType.NodeDataChanged, path: '/x', zxid: 3, acl: DIGEST_ACL });
  });

  it('a multi\'s NodeChildrenChanged for a parent it then deletes is checked against the parent\'s ACL', () => {
    const { tree, events, run } = setup();
    tree.childWatches.add('/p', W2, WatchMode.persistent);
    run(3, { type: Op.multi, txns: [mkTxn('/p', DIGEST_ACL), mkTxn('/p/c'), { type: Op.delete, path: '/p/c' }, { type: Op.delete, path: '/p' }] });
    expect(events).toEqual([
      { watcher: W2, type: EventType.NodeChildrenChanged, path: '/p', zxid: 3, acl: DIGEST_ACL },
      { watcher: W2, type: EventType.NodeChildrenChanged, path: '/p', zxid: 3, acl: DIGEST_ACL },
      { watcher: W2, type: EventType.NodeDeleted, path: '/p', zxid: 3, acl: DIGEST_ACL },
    ]);
  });

  it('a multi that deletes a node and creates it again with another ACL checks each event against the ACL of its time', () => {
    const { tree, events, run } = setup();
    tree.dataWatches.add('/a/b', W1, WatchMode.persistent);
    run(3, { type: Op.multi, txns: [{ type: Op.setData, path: '/a/b', data: Buffer.from('1'), version: 1 }, { type: Op.delete, path: '/a/b' }, mkTxn('/a/b', DIGEST_ACL)] });
    expect(events.map((e) => [e.type, e.acl])).toEqual([
      [EventType.NodeDataChanged, [...OPEN_ACL_UNSAFE]],
      [EventType.NodeDeleted, [...OPEN_ACL_UNSAFE]],
      [EventType.NodeCreated, DIGEST_ACL],
    ]);
  });

  it('a failed multi, an error, check, createSession and setACL fire nothing', () => {
    const { tree, events, run } = setup();
    tree.dataWatches.add('/a', W1, WatchMode.persistentRecursive);
    tree.childWatches.add('/a', W2, WatchMode.persistent);
    events.length = 0;
    run(3, { type: Op.multi, txns: [mkTxn('/a/new'), { type: Op.error, err: Err.NODEEXISTS }] });
    run(4, { type: Op.error, err: Err.NONODE });
    run(5, { type: Op.check, path: '/a', version: 0 });
    run(6, { type: Op.createSession, timeoutMs: 3000 });
    run(7, { type: Op.setACL, path: '/a', acls: [...OPEN_ACL_UNSAFE], version: 1 });
    expect(events).toEqual([]);
  });
});
