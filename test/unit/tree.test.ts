// The data tree (engine/core/tree.ts) through its API: what each mutation does to a node's
// and its parent's Stat, the ACL cache's reference counts, the ephemeral/container/TTL
// indexes, quota stats under /zookeeper/quota, the node count and the approximate data
// size; undo and snapshot restore; and a seeded random run that checks the bookkeeping
// against a recount after every step.
import { describe, it, expect } from 'vitest';
import { type Acl, Err, EventType, KeeperError, NULL_DATA, OPEN_ACL_UNSAFE, READ_ACL_UNSAFE, Perm, parentOf } from '../../engine/protocol.ts';
import { JuteWriter } from '../../native-free-io/jute.ts';
import { WatchMode } from '../../engine/core/watches.ts';
import { DataTree, AclCache, NodeRecord, CONTAINER_OWNER, EphemeralType, ephemeralTypeOf, QUOTA_ROOT, parseStatsTrack, formatStatsTrack } from '../../engine/core/tree.ts';
import { closeSessionOrder } from '../../engine/core/javaorder.ts';
import { seededRandom, testSeed } from '../support/random.ts';
import { statOf, treeState, subtreeCounts, expectTreeConsistent, recordEvents } from './core-support.ts';

const T0 = 1_700_000_000_000;
const DIGEST_ACL: Acl[] = [{ perms: Perm.ALL, id: { scheme: 'digest', id: 'u:hash=' } }];
/** EphemeralType.TTL.toEphemeralOwner(1000): 0xFF << 56 | ttl. */
const TTL_OWNER = BigInt.asIntN(64, (0xffn << 56n) | 1000n);
/** The first session ids of servers 200 and 255 at 1700000000000 ms (JavaOrders.java "sessionId" lines). */
const SESSION_OF_SERVER_200 = -3995871660161892352n;
const SESSION_OF_SERVER_255 = -32703988075855872n;

/** Creates path at zxid (time T0 + zxid) with the parent's cversion counted up, as a live create. */
function mk(tree: DataTree, path: string, zxid: number, data = '', owner = 0n, acls: readonly Acl[] = OPEN_ACL_UNSAFE) {
  return tree.createNode(path, Buffer.from(data), tree.acls.intern(acls), owner, -1, zxid, T0 + zxid);
}

function keeperCode(f: () => unknown): number {
  try {
    f();
  } catch (e) {
    if (e instanceof KeeperError) return e.code;
    throw e;
  }
  throw new Error('did not throw');
}

describe('DataTree: a new tree', () => {
  it('holds the root, /zookeeper, /zookeeper/quota and /zookeeper/config, as ZooKeeper\'s DataTree', () => {
    const tree = new DataTree();
    expect(tree.nodeCount()).toBe(4);
    expect(tree.get('/')!.childNames()).toEqual(['zookeeper']);
    expect(tree.get('/zookeeper')!.childNames().sort()).toEqual(['config', 'quota']);
    expect(tree.acls.get(tree.get('/zookeeper/config')!.aclRef)).toEqual(READ_ACL_UNSAFE);
    expect(tree.acls.get(tree.get('/zookeeper/quota')!.aclRef)).toEqual(OPEN_ACL_UNSAFE);
    // ZooKeeper sets the config node's ACL with version -1
    expect(statOf(tree, '/zookeeper/config').aversion).toBe(-1);
    // the system nodes are not counted as creates: a fresh / shows -1, /zookeeper -2 (test/compat/README.md)
    expect(statOf(tree, '/').cversion).toBe(-1);
    expect(statOf(tree, '/zookeeper').cversion).toBe(-2);
    expect(tree.acls.size()).toBe(2);
    // paths of the system nodes (ZooKeeper's mntr says 44: its map holds the root again as "/")
    expect(tree.approximateDataSize).toBe('/zookeeper'.length + '/zookeeper/quota'.length + '/zookeeper/config'.length);
    expect(tree.lastZxid).toBe(0);
    expect(tree.ephemeralCount()).toBe(0);
    expectTreeConsistent(tree, 'new tree');
  });
});

describe('DataTree: mutations and the Stat', () => {
  it('create: the node\'s zxids and times come from its txn; the parent\'s cversion and pzxid move, its mzxid does not', () => {
    const tree = new DataTree();
    mk(tree, '/a', 5, 'hello');
    const a = statOf(tree, '/a');
    expect(a).toEqual({
      czxid: 5, mzxid: 5, pzxid: 5, ctime: T0 + 5, mtime: T0 + 5, version: 0, cversion: 0, aversion: 0,
      ephemeralOwner: 0n, dataLength: 5, numChildren: 0,
    });
    const root = statOf(tree, '/');
    expect(root).toMatchObject({ cversion: 1 * 2 - 2, pzxid: 5, mzxid: 0, numChildren: 2 });
    expect(tree.get('/')!.cversion).toBe(1);
    expect(tree.nodeCount()).toBe(5);
    expect(tree.approximateDataSize).toBe(43 + '/a'.length + 5);
  });

  it('create: a txn\'s parentCVersion is stored as given; -1 counts one more create', () => {
    const tree = new DataTree();
    mk(tree, '/p', 1);
    tree.createNode('/p/x', Buffer.alloc(0), tree.acls.intern(OPEN_ACL_UNSAFE), 0n, 7, 2, T0);
    expect(tree.get('/p')!.cversion).toBe(7);
    mk(tree, '/p/y', 3);
    expect(tree.get('/p')!.cversion).toBe(8);
    // clients see changes: 8 creates, each with a delete but for the 2 children present
    expect(statOf(tree, '/p').cversion).toBe(8 * 2 - 2);
  });

  it('delete: clients\' cversion counts creates and deletes (DataNode.copyStat); pzxid only moves forward', () => {
    const tree = new DataTree();
    mk(tree, '/p', 1);
    for (const [i, name] of ['a', 'b', 'c'].entries()) mk(tree, `/p/${name}`, 2 + i);
    const removed = tree.deleteNode('/p/b', 10);
    expect(removed.czxid).toBe(3);
    expect(statOf(tree, '/p')).toMatchObject({ cversion: 4, numChildren: 2, pzxid: 10, mzxid: 1 });
    // a replayed delete older than the parent's pzxid leaves pzxid alone
    tree.deleteNode('/p/a', 9);
    expect(statOf(tree, '/p')).toMatchObject({ cversion: 5, numChildren: 1, pzxid: 10 });
    expect(tree.get('/p/a')).toBeUndefined();
    expect(tree.nodeCount()).toBe(6);
    expectTreeConsistent(tree, 'after deletes');
  });

  it('create refuses a missing parent (NONODE) and an existing node (NODEEXISTS), changing nothing', () => {
    const tree = new DataTree();
    mk(tree, '/a', 1, 'x');
    const before = treeState(tree);
    expect(keeperCode(() => mk(tree, '/missing/b', 2))).toBe(Err.NONODE);
    expect(keeperCode(() => mk(tree, '/a', 2, 'other'))).toBe(Err.NODEEXISTS);
    expect(treeState(tree)).toEqual(before);
  });

  it('setData: data, version, mzxid and mtime change, nothing else does', () => {
    const tree = new DataTree();
    mk(tree, '/a', 1, 'abc');
    mk(tree, '/a/c', 2);
    const before = statOf(tree, '/a');
    tree.setData('/a', Buffer.from('abcdefg'), 1, 3, T0 + 3);
    expect(statOf(tree, '/a')).toEqual({ ...before, version: 1, mzxid: 3, mtime: T0 + 3, dataLength: 7 });
    expect(tree.get('/a')!.data.toString()).toBe('abcdefg');
    expect(statOf(tree, '/')).toMatchObject({ mzxid: 0, pzxid: 1 });
    expectTreeConsistent(tree, 'after setData');
  });

  it('setAcl: the ACL and aversion change, no zxid or time field moves', () => {
    const tree = new DataTree();
    mk(tree, '/a', 1);
    const before = statOf(tree, '/a');
    tree.setAcl('/a', DIGEST_ACL, 1);
    expect(statOf(tree, '/a')).toEqual({ ...before, aversion: 1 });
    expect(tree.acls.get(tree.get('/a')!.aclRef)).toEqual(DIGEST_ACL);
  });

  it('delete, setData and setAcl of a missing node throw NONODE', () => {
    const tree = new DataTree();
    expect(keeperCode(() => tree.deleteNode('/nope', 1))).toBe(Err.NONODE);
    expect(keeperCode(() => tree.setData('/nope', Buffer.alloc(1), 1, 1, T0))).toBe(Err.NONODE);
    expect(keeperCode(() => tree.setAcl('/nope', DIGEST_ACL, 1))).toBe(Err.NONODE);
  });
});

describe('DataTree: the ACL cache', () => {
  it('nodes with equal lists share one reference; a list leaves the cache with its last user', () => {
    const tree = new DataTree();
    const a = mk(tree, '/a', 1, '', 0n, DIGEST_ACL);
    const b = mk(tree, '/b', 2, '', 0n, [{ perms: Perm.ALL, id: { scheme: 'digest', id: 'u:hash=' } }]);
    expect(b.aclRef).toBe(a.aclRef);
    expect(tree.acls.size()).toBe(3);
    tree.deleteNode('/a', 3);
    expect(tree.acls.get(b.aclRef)).toEqual(DIGEST_ACL);
    tree.setAcl('/b', READ_ACL_UNSAFE, 1);
    expect(tree.get('/b')!.aclRef).toBe(tree.get('/zookeeper/config')!.aclRef);
    expect(tree.acls.size()).toBe(2);
    expect(() => tree.acls.get(a.aclRef)).toThrow(/not in the cache/);
    expectTreeConsistent(tree, 'after the last user left');
  });

  it('never reuses a reference; -1 reads as OPEN_ACL_UNSAFE; lists are copies of what was interned', () => {
    const cache = new AclCache();
    const acls: Acl[] = [{ perms: Perm.READ, id: { scheme: 'ip', id: '10.0.0.0/8' } }];
    const first = cache.intern(acls);
    acls[0].id.id = 'changed';
    expect(cache.get(first)).toEqual([{ perms: Perm.READ, id: { scheme: 'ip', id: '10.0.0.0/8' } }]);
    cache.release(first);
    expect(cache.size()).toBe(0);
    const second = cache.intern([{ perms: Perm.READ, id: { scheme: 'ip', id: '10.0.0.0/8' } }]);
    expect(second).toBe(first + 1);
    expect(cache.lastRef()).toBe(second);
    expect(cache.get(-1)).toBe(OPEN_ACL_UNSAFE);
    expect(() => cache.get(99)).toThrow(/ACL reference 99/);
    cache.release(99); // an unknown reference: nothing to release
    // the same entries in another order are another list
    const ab = cache.intern([...OPEN_ACL_UNSAFE, ...READ_ACL_UNSAFE]);
    expect(cache.intern([...READ_ACL_UNSAFE, ...OPEN_ACL_UNSAFE])).not.toBe(ab);
  });

  it('snapshot load: lists come in under their references, users are counted, unused lists are purged', () => {
    const cache = new AclCache();
    cache.intern(OPEN_ACL_UNSAFE);
    cache.clear();
    cache.load(5, OPEN_ACL_UNSAFE);
    cache.load(9, DIGEST_ACL);
    expect(cache.addUsage(5)).toBe(true);
    expect(cache.addUsage(-1)).toBe(true);
    expect(cache.addUsage(7)).toBe(false);
    cache.purgeUnused();
    expect(cache.entries()).toEqual([[5, OPEN_ACL_UNSAFE]]);
    // interning an equal list finds the loaded reference; a new list takes the next after the largest loaded
    expect(cache.intern(OPEN_ACL_UNSAFE)).toBe(5);
    expect(cache.intern(DIGEST_ACL)).toBe(10);
  });
});

describe('DataTree: ephemerals, containers and TTL nodes', () => {
  it('indexes ephemerals by session, containers and TTL nodes in their own sets; clients see 0 as their owner', () => {
    const tree = new DataTree({ extendedTypesEnabled: true });
    mk(tree, '/e1', 1, '', 0x11n);
    mk(tree, '/e2', 2, '', 0x11n);
    mk(tree, '/e3', 3, '', 0x22n);
    mk(tree, '/c', 4, '', CONTAINER_OWNER);
    mk(tree, '/t', 5, '', TTL_OWNER);
    expect(tree.ephemeralCount()).toBe(3);
    expect([...tree.ephemerals.get(0x11n)!]).toEqual(['/e1', '/e2']);
    expect([...tree.containers]).toEqual(['/c']);
    expect([...tree.ttls]).toEqual(['/t']);
    expect(statOf(tree, '/e1').ephemeralOwner).toBe(0x11n);
    expect(statOf(tree, '/c').ephemeralOwner).toBe(0n);
    expect(statOf(tree, '/t').ephemeralOwner).toBe(0n);
    expect(tree.get('/t')!.ephemeralOwner).toBe(TTL_OWNER);
    tree.deleteNode('/e3', 6);
    tree.deleteNode('/c', 7);
    tree.deleteNode('/t', 8);
    expect(tree.ephemerals.has(0x22n)).toBe(false);
    expect(tree.containers.size + tree.ttls.size).toBe(0);
    expectTreeConsistent(tree, 'after deletes');
  });

  it('EphemeralType.get: an owner is a TTL only with extended types on, a container always, else a session, negative or not', () => {
    // TxnRecords.java "ephemeralType" lines (the type; then what DataNode.copyStat shows)
    const java: [bigint, string, string, bigint | null][] = [
      [0n, 'VOID', 'VOID', 0n], [0x11n, 'NORMAL', 'NORMAL', 0x11n],
      [SESSION_OF_SERVER_200, 'NORMAL', 'NORMAL', SESSION_OF_SERVER_200],
      [SESSION_OF_SERVER_255, 'NORMAL', 'IllegalArgumentException', null],
      [TTL_OWNER, 'NORMAL', 'TTL', 0n], [CONTAINER_OWNER, 'CONTAINER', 'CONTAINER', 0n],
    ];
    const names = ['VOID', 'NORMAL', 'CONTAINER', 'TTL'];
    const typeName = (owner: bigint, extended: boolean) => {
      try {
        return names[ephemeralTypeOf(owner, extended)];
      } catch {
        return 'IllegalArgumentException';
      }
    };
    for (const [owner, off, on, shownOn] of java) {
      expect(typeName(owner, false), `${owner} with extended types off`).toBe(off);
      expect(typeName(owner, true), `${owner} with extended types on`).toBe(on);
      // extended types off, every non-container owner is shown (the TTL-shaped one is a session of server 255)
      const plain = new DataTree();
      mk(plain, '/n', 1, '', owner);
      expect(statOf(plain, '/n').ephemeralOwner, `${owner} shown, extended types off`).toBe(owner === CONTAINER_OWNER ? 0n : owner);
      if (shownOn === null) continue;
      const extended = new DataTree({ extendedTypesEnabled: true });
      mk(extended, '/n', 1, '', owner);
      expect(statOf(extended, '/n').ephemeralOwner, `${owner} shown, extended types on`).toBe(shownOn);
    }
    expect(EphemeralType).toEqual({ void: 0, normal: 1, container: 2, ttl: 3 });
  });

  it('files a negative session id\'s nodes as that session\'s ephemerals (servers 128..255), not as TTL nodes', () => {
    for (const extendedTypesEnabled of [false, true]) {
      const tree = new DataTree({ extendedTypesEnabled });
      mk(tree, '/p', 1);
      mk(tree, '/p/e', 2, '', SESSION_OF_SERVER_200);
      expect([...tree.ephemerals.get(SESSION_OF_SERVER_200)!]).toEqual(['/p/e']);
      expect(tree.ttls.size + tree.containers.size).toBe(0);
      expect(tree.get('/p/e')!.ephemeralType).toBe(EphemeralType.normal);
      tree.deleteNode('/p/e', 3);
      expect(tree.ephemerals.has(SESSION_OF_SERVER_200)).toBe(false);
      expectTreeConsistent(tree, `extended types ${extendedTypesEnabled}`);
    }
    // with extended types off, an owner of 0xFF.. is a session too (server 255), and a TTL node
    // restored from a snapshot becomes one: ZooKeeper deletes it with the dead sessions at startup
    const tree = new DataTree();
    mk(tree, '/e', 1, '', SESSION_OF_SERVER_255);
    mk(tree, '/t', 2, '', TTL_OWNER);
    expect([...tree.ephemerals.keys()]).toEqual([SESSION_OF_SERVER_255, TTL_OWNER]);
    expect(tree.ttls.size).toBe(0);
  });

  it('refuses an extended owner of no known type with extended types on, as EphemeralType.get', () => {
    const tree = new DataTree({ extendedTypesEnabled: true });
    expect(() => mk(tree, '/e', 1, '', SESSION_OF_SERVER_255)).toThrow(/Invalid ephemeralOwner/);
  });

  it('remembers the largest ephemeral set each session reached (the capacity of Java\'s HashSet)', () => {
    const tree = new DataTree();
    for (let i = 0; i < 5; i++) mk(tree, `/e${i}`, 1 + i, '', 0x11n);
    for (let i = 0; i < 4; i++) tree.deleteNode(`/e${i}`, 10 + i);
    mk(tree, '/again', 20, '', 0x11n);
    expect(tree.ephemerals.get(0x11n)!.size).toBe(2);
    expect(tree.ephemeralPeaks.get(0x11n)).toBe(5);
  });
});

describe('DataTree: quotas', () => {
  /** setquota's nodes for /app: the limits, then the stats (which the tree fills in). */
  function setQuota(tree: DataTree, path: string, limits: string, zxid: number): void {
    let at = QUOTA_ROOT;
    for (const part of path.split('/').slice(1)) {
      at += `/${part}`;
      if (tree.get(at) === undefined) mk(tree, at, zxid);
    }
    mk(tree, `${at}/zookeeper_limits`, zxid + 1, limits);
    mk(tree, `${at}/zookeeper_stats`, zxid + 2, 'count=0,bytes=0');
  }

  function statsOf(tree: DataTree, path: string): Map<string, number> {
    return parseStatsTrack(tree.get(`${QUOTA_ROOT}${path}/zookeeper_stats`)!.data);
  }

  it('zookeeper_stats starts from the subtree\'s count and bytes, then follows creates, setData and deletes', () => {
    const tree = new DataTree();
    mk(tree, '/app', 1, 'root');
    mk(tree, '/app/a', 2, '12345');
    mk(tree, '/other', 3, 'not counted');
    setQuota(tree, '/app', 'count=10,bytes=100', 4);
    expect([...tree.quotaPaths]).toEqual(['/app']);
    expect(tree.get(`${QUOTA_ROOT}/app/zookeeper_stats`)!.data.toString()).toBe('count=2,bytes=9');
    mk(tree, '/app/a/b', 10, 'xyz');
    tree.setData('/app/a', Buffer.from('1'), 1, 11, T0);
    expect(Object.fromEntries(statsOf(tree, '/app'))).toEqual({ count: 3, bytes: 8 });
    tree.deleteNode('/app/a/b', 12);
    mk(tree, '/other/x', 13, 'not counted either');
    expect(Object.fromEntries(statsOf(tree, '/app'))).toEqual({ count: 2, bytes: 5 });
    expect(statsOf(tree, '/app').get('count')).toBe(subtreeCounts(tree, '/app').count);
    // the stats node's data is rewritten in place: the approximate size follows it
    expectTreeConsistent(tree, 'quota stats rewritten');
  });

  /** A tree with /q under a quota of these limits, and the warnings it gives. */
  function quotaOnQ(limits: string): { tree: DataTree; warnings: string[] } {
    const tree = new DataTree();
    const warnings: string[] = [];
    tree.quotaWarning = (msg) => warnings.push(msg);
    mk(tree, '/q', 1);
    setQuota(tree, '/q', limits, 2);
    return { tree, warnings };
  }

  it('warns when a soft limit is passed, and stops tracking when zookeeper_limits goes', () => {
    const { tree, warnings } = quotaOnQ('count=2,bytes=4');
    mk(tree, '/q/a', 10, 'abcd');
    expect(warnings).toEqual([]);
    mk(tree, '/q/b', 11, 'e');
    expect(warnings).toEqual(['Quota exceeded: /q count=3 limit=2', 'Quota exceeded: /q bytes=5 limit=4']);
    tree.deleteNode(`${QUOTA_ROOT}/q/zookeeper_limits`, 12);
    expect(tree.quotaPaths.size).toBe(0);
    const stats = tree.get(`${QUOTA_ROOT}/q/zookeeper_stats`)!.data.toString();
    mk(tree, '/q/c', 13, 'more');
    expect(tree.get(`${QUOTA_ROOT}/q/zookeeper_stats`)!.data.toString()).toBe(stats);
    expect(warnings).toHaveLength(2);
  });

  it('a limit of -1 (unset) never warns', () => {
    const { tree, warnings } = quotaOnQ('count=-1,bytes=-1');
    for (let i = 0; i < 5; i++) mk(tree, `/q/n${i}`, 10 + i, 'data');
    expect(warnings).toEqual([]);
    expect(Object.fromEntries(statsOf(tree, '/q'))).toEqual({ count: 6, bytes: 20 });
  });

  it('quotaPrefixOf is the deepest path with a quota at or above a path, never the root', () => {
    const tree = new DataTree();
    expect(tree.quotaPrefixOf('/a/b')).toBeNull();
    mk(tree, '/a', 1);
    mk(tree, '/a/b', 2);
    setQuota(tree, '/a', 'count=5,bytes=-1', 3);
    setQuota(tree, '/a/b', 'count=5,bytes=-1', 10);
    setQuota(tree, '/', 'count=5,bytes=-1', 20);
    expect(tree.quotaPrefixOf('/a/b/c/d')).toBe('/a/b');
    expect(tree.quotaPrefixOf('/a/bb')).toBe('/a');
    expect(tree.quotaPrefixOf('/a')).toBe('/a');
    expect(tree.quotaPrefixOf('/z')).toBeNull();
  });

  it('parses and writes zookeeper_limits and zookeeper_stats as StatsTrack (values from ZooKeeper 3.8.0\'s StatsTrack)', () => {
    // StatsTrack(s).toString() in fixtures/zookeeper-java/AclOracle.java
    const fixtures: [string, string][] = [
      ['count=4,bytes=5=;byteHardLimit=10;countHardLimit=10', 'count=4,bytes=5=;byteHardLimit=10;countHardLimit=10'],
      ['bytes=7;count=2', 'count=2,bytes=7'],
      ['count=3,bytes=-1', 'count=3,bytes=-1'],
    ];
    for (const [text, java] of fixtures) expect(formatStatsTrack(parseStatsTrack(Buffer.from(text))).toString(), text).toBe(java);
    expect(Object.fromEntries(parseStatsTrack(Buffer.from('count=4,bytes=5=;byteHardLimit=10;countHardLimit=')))).toEqual({
      count: 4, bytes: 5, byteHardLimit: 10, countHardLimit: -1,
    });
    expect(formatStatsTrack(new Map()).toString()).toBe('count=-1,bytes=-1');
  });
});

describe('DataTree: undo (a failed multi) and snapshot restore', () => {
  function populated(): DataTree {
    const tree = new DataTree();
    mk(tree, '/app', 1, 'root');
    mk(tree, '/q', 2);
    mk(tree, `${QUOTA_ROOT}/q`, 3);
    mk(tree, `${QUOTA_ROOT}/q/zookeeper_limits`, 4, 'count=100,bytes=-1');
    mk(tree, `${QUOTA_ROOT}/q/zookeeper_stats`, 5, '');
    mk(tree, '/q/e', 6, 'eph', 0x11n, DIGEST_ACL);
    mk(tree, '/q/d', 7, 'data');
    return tree;
  }

  it('undoCreate, undoDelete and restoreData put back Stats, data, ACLs, sizes, indexes and quota stats', () => {
    const tree = populated();
    const before = treeState(tree);
    const parent = tree.get('/q')!;
    const [cv, pz] = [parent.cversion, parent.pzxid];
    mk(tree, '/q/new', 8, 'new', 0x11n, [{ perms: Perm.READ, id: { scheme: 'world', id: 'anyone' } }, ...DIGEST_ACL]);
    tree.undoCreate('/q/new', cv, pz);
    expect(treeState(tree)).toEqual(before);

    const node = tree.get('/q/e')!;
    const acls = tree.acls.get(node.aclRef);
    tree.deleteNode('/q/e', 9);
    expect(tree.acls.size()).toBe(2); // its list had no other user
    tree.undoDelete('/q/e', node, acls, cv, pz);
    expect(treeState(tree)).toEqual(before);

    const d = tree.get('/q/d')!;
    const { data, version, mzxid, mtime } = d;
    tree.setData('/q/d', Buffer.from('longer data'), 1, 10, T0 + 10);
    tree.restoreData('/q/d', d, data, version, mzxid, mtime);
    expect(treeState(tree)).toEqual(before);
    expectTreeConsistent(tree, 'after undo');
  });

  it('an undone mutation\'s watch events never fire (ZooKeeper never applied the failed multi)', () => {
    const tree = populated();
    const events = recordEvents(tree);
    tree.dataWatches.add('/q/d', 1, WatchMode.persistent);
    tree.childWatches.add('/q', 2, WatchMode.persistent);
    const parent = tree.get('/q')!;
    const [cv, pz] = [parent.cversion, parent.pzxid];
    const d = tree.get('/q/d')!;
    const { data, version, mzxid, mtime } = d;
    tree.setData('/q/d', Buffer.from('new'), 1, 8, T0 + 8);
    mk(tree, '/q/new', 8);
    tree.undoCreate('/q/new', cv, pz);
    tree.restoreData('/q/d', d, data, version, mzxid, mtime);
    tree.fireEvents(8);
    expect(events).toEqual([]);
    // the next txn's events are its own
    mk(tree, '/q/next', 9);
    tree.fireEvents(9);
    expect(events.map((e) => [e.watcher, e.type, e.path, e.zxid])).toEqual([[2, EventType.NodeChildrenChanged, '/q', 9]]);
  });

  /** A session (0x11) with 12 ephemerals under /q, two of them in one bin of Java's HashSet. */
  function sessionOf12(): { tree: DataTree; order: () => string[]; cv: number; pz: number } {
    const tree = new DataTree();
    // '/q/e-14' and '/q/e-25' share a bin at 16 and at 32 bins (String.hashCode)
    const paths = ['/q/e-14', '/q/e-25', ...Array.from({ length: 10 }, (_, i) => `/q/f${i}`)];
    mk(tree, '/q', 1);
    paths.forEach((p, i) => mk(tree, p, 2 + i, '', 0x11n));
    const parent = tree.get('/q')!;
    const order = () => closeSessionOrder([...tree.ephemerals.get(0x11n)!], tree.ephemeralPeaks.get(0x11n)!);
    return { tree, order, cv: parent.cversion, pz: parent.pzxid };
  }

  // ZooKeeper never touches its DataTree for a failed multi, so the session's ephemeral
  // HashSet keeps 16 bins: the peak that went 12 → 13 with the create goes back to 12.
  it('undoCreate leaves the session\'s ephemeral peak (Java\'s HashSet capacity) as it was', () => {
    const { tree, order, cv, pz } = sessionOf12();
    const before = order();
    mk(tree, '/q/g', 20, '', 0x11n);
    tree.undoCreate('/q/g', cv, pz);
    expect(tree.ephemeralPeaks.get(0x11n)).toBe(12);
    expect(order()).toEqual(before);
    // a later create of the same path that raises nothing is undone without the earlier txn's note
    mk(tree, '/q/g', 21, '', 0x11n);
    tree.deleteNode('/q/g', 22);
    mk(tree, '/q/g', 23, '', 0x11n);
    tree.undoCreate('/q/g', cv, pz);
    expect(tree.ephemeralPeaks.get(0x11n)).toBe(13);
  });

  // ZooKeeper's set, never touched by the failed multi, keeps the creation order: undoDelete
  // puts the path back before those created after it ('/q/e-14' before '/q/e-25', one bin).
  it('undoDelete leaves the order closeSessionOrder gives the session\'s ephemerals', () => {
    const { tree, order, cv, pz } = sessionOf12();
    const before = order();
    const node = tree.get('/q/e-14')!;
    tree.deleteNode('/q/e-14', 21);
    tree.undoDelete('/q/e-14', node, OPEN_ACL_UNSAFE, cv, pz);
    expect(order()).toEqual(before);
  });

  it('a failed multi\'s creates and deletes, undone in reverse, leave the session\'s ephemerals and peak as they were', () => {
    const { tree, order } = sessionOf12();
    const before = { order: order(), set: [...tree.ephemerals.get(0x11n)!], peak: tree.ephemeralPeaks.get(0x11n) };
    const parent = tree.get('/q')!;
    const undo: (() => void)[] = [];
    const create = (path: string, zxid: number) => {
      const [cv, pz] = [parent.cversion, parent.pzxid];
      mk(tree, path, zxid, '', 0x11n);
      undo.push(() => tree.undoCreate(path, cv, pz));
    };
    const remove = (path: string, zxid: number) => {
      const [cv, pz, node] = [parent.cversion, parent.pzxid, tree.get(path)!];
      const acls = tree.acls.get(node.aclRef);
      tree.deleteNode(path, zxid);
      undo.push(() => tree.undoDelete(path, node, acls, cv, pz));
    };
    create('/q/g', 30); // 13 ephemerals: the table doubles
    remove('/q/e-14', 30);
    remove('/q/f3', 30);
    remove('/q/e-25', 30);
    create('/q/h', 30);
    for (let i = undo.length - 1; i >= 0; i--) undo[i]();
    expect({ order: order(), set: [...tree.ephemerals.get(0x11n)!], peak: tree.ephemeralPeaks.get(0x11n) }).toEqual(before);
    expectTreeConsistent(tree, 'after undo');
  });

  it('undoing the create of a session\'s first ephemeral forgets the session; undoing the delete of its last one keeps its peak', () => {
    const tree = new DataTree();
    mk(tree, '/q', 1);
    mk(tree, '/q/only', 2, '', 0x22n);
    tree.undoCreate('/q/only', 1, 1);
    expect(tree.ephemerals.has(0x22n) || tree.ephemeralPeaks.has(0x22n)).toBe(false);
    mk(tree, '/q/only', 3, '', 0x22n);
    const node = tree.get('/q/only')!;
    tree.deleteNode('/q/only', 4);
    tree.undoDelete('/q/only', node, OPEN_ACL_UNSAFE, 2, 3);
    expect([...tree.ephemerals.get(0x22n)!]).toEqual(['/q/only']);
    expect(tree.ephemeralPeaks.get(0x22n)).toBe(1);
  });

  it('restore: nodes in parent-first order rebuild the indexes; a repeated path replaces the first', () => {
    const source = populated();
    const tree = new DataTree();
    tree.clearForRestore();
    expect(tree.nodeCount()).toBe(0);
    expect(tree.approximateDataSize).toBe(0);
    for (const [ref, acls] of source.acls.entries()) tree.acls.load(ref, acls);
    for (const path of [...source.nodes.keys()].sort()) {
      const n = source.get(path)!;
      const copy = NodeRecord.of(n.data, n.aclRef, n.ephemeralOwner, n.czxid, n.ctime);
      Object.assign(copy, { mzxid: n.mzxid, mtime: n.mtime, pzxid: n.pzxid, version: n.version, cversion: n.cversion, aversion: n.aversion });
      tree.restoreNode(path, copy);
      tree.acls.addUsage(copy.aclRef);
    }
    const again = NodeRecord.of(Buffer.from('replaced'), source.get('/app')!.aclRef, 0n, 1, T0);
    tree.restoreNode('/app', again);
    tree.acls.addUsage(again.aclRef);
    tree.finishRestore();
    expect(tree.get('/app')!.data.toString()).toBe('replaced');
    expect([...tree.quotaPaths]).toEqual(['/q']);
    expect([...tree.ephemerals.get(0x11n)!]).toEqual(['/q/e']);
    expect(tree.nodeCount()).toBe(source.nodeCount());
    expectTreeConsistent(tree, 'restored');
  });

  it('restore keeps every Stat field exactly: longs past 2^32, negative and near 2^53; a changed node and an unchanged one; a repeat back to defaults', () => {
    const tree = new DataTree();
    tree.clearForRestore();
    const fields = (czxid: number, ctime: number, changes: Partial<NodeRecord>) => Object.assign(NodeRecord.of(Buffer.from('x'), -1, 0n, czxid, ctime), changes);
    const cases: [string, NodeRecord][] = [
      ['/', fields(0, 0, {})],
      ['/big', fields(2 ** 53 - 1, -(2 ** 40) - 7, { mzxid: 2 ** 53 - 1, mtime: -(2 ** 40) - 7 })],
      ['/changed', fields(0x1_0000_0005, T0, { mzxid: 0x2_ffff_ffff, mtime: T0 + 9, version: -1, aversion: 2 ** 31 - 1, cversion: 3, pzxid: 0x3_0000_0000 })],
      ['/negative', fields(-1, -1, { mzxid: -(2 ** 53) + 1, mtime: 2 ** 32, version: 7 })],
      ['/aclOnly', fields(0xffff_ffff, 2 ** 32 - 1, { aversion: 1 })],
    ];
    for (const [path, f] of cases) tree.restoreNode(path, f);
    // a repeated path whose fields are all defaults replaces a changed one's
    tree.restoreNode('/changed', fields(12, 13, {}));
    cases[2][1] = fields(12, 13, {});
    tree.finishRestore();
    for (const [path, f] of cases) {
      const st = statOf(tree, path);
      expect({ path, czxid: st.czxid, mzxid: st.mzxid, ctime: st.ctime, mtime: st.mtime, version: st.version, aversion: st.aversion, pzxid: st.pzxid })
        .toEqual({ path, czxid: f.czxid, mzxid: f.mzxid, ctime: f.ctime, mtime: f.mtime, version: f.version, aversion: f.aversion, pzxid: f.pzxid });
    }
    expect(() => tree.restoreNode('/frac', fields(1.5, 0, {}))).toThrow(/not an integer/);
  });

  it('setData on a node never changed, then restoreData back to its create\'s fields, reads as before', () => {
    const tree = new DataTree();
    const node = mk(tree, '/n', 0x1_0000_0002, 'a');
    const before = statOf(tree, '/n');
    tree.setData('/n', Buffer.from('bb'), 1, 0x1_0000_0009, T0 + 50);
    expect(statOf(tree, '/n')).toMatchObject({ version: 1, mzxid: 0x1_0000_0009, mtime: T0 + 50, czxid: 0x1_0000_0002, ctime: T0 + 0x1_0000_0002 });
    tree.restoreData('/n', node, Buffer.from('a'), 0, before.mzxid, before.mtime);
    expect(statOf(tree, '/n')).toEqual(before);
  });

  it('restore refuses an orphan node and a tree without a root', () => {
    const tree = new DataTree();
    tree.clearForRestore();
    expect(() => tree.restoreNode('/a/b', NodeRecord.of(Buffer.alloc(0), -1, 0n, 1, T0))).toThrow(/no parent \/a for \/a\/b/);
    expect(() => tree.finishRestore()).toThrow(/no root node/);
  });
});

describe('DataTree: a seeded random run', () => {
  it('keeps its bookkeeping equal to a recount from its nodes after every step', () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
    const tree = new DataTree({ extendedTypesEnabled: true });
    const owners = [0n, 0n, 0x11n, 0x22n, SESSION_OF_SERVER_200, CONTAINER_OWNER, TTL_OWNER];
    const aclLists: readonly Acl[][] = [[...OPEN_ACL_UNSAFE], DIGEST_ACL, [...READ_ACL_UNSAFE, ...DIGEST_ACL]];
    mk(tree, '/s', 1);
    for (let zxid = 2; zxid < 400; zxid++) {
      const why = `seed ${seed} step ${zxid}`;
      const existing = [...tree.nodes.keys()].filter((p) => p.startsWith('/s/'));
      const leaves = existing.filter((p) => tree.get(p)!.numChildren() === 0);
      const roll = random();
      if (roll < 0.45 || existing.length === 0) {
        const path = `${pick(['/s', ...existing])}/n${Math.floor(random() * 6)}`;
        if (tree.get(path) !== undefined) continue;
        const cversion = tree.get(parentOf(path))!.cversion;
        mk(tree, path, zxid, 'x'.repeat(Math.floor(random() * 8)), pick(owners), pick(aclLists));
        expect(statOf(tree, path), why).toMatchObject({ czxid: zxid, mzxid: zxid, pzxid: zxid, version: 0 });
        expect(tree.get(parentOf(path))!.cversion, why).toBe(cversion + 1);
      } else if (roll < 0.7 && leaves.length > 0) {
        const path = pick(leaves);
        tree.deleteNode(path, zxid);
        expect(tree.get(parentOf(path))!.pzxid, why).toBe(zxid);
      } else if (roll < 0.85) {
        const path = pick(existing);
        const version = tree.get(path)!.version + 1;
        tree.setData(path, Buffer.from('y'.repeat(Math.floor(random() * 12))), version, zxid, T0 + zxid);
        expect(statOf(tree, path), why).toMatchObject({ version, mzxid: zxid });
      } else {
        tree.setAcl(pick(existing), pick(aclLists), zxid);
      }
      expectTreeConsistent(tree, why);
    }
  });
});

describe('DataTree: znode data kept as one-byte strings', () => {
  // every byte value, null apart from empty, through each way data enters and leaves a node
  const everyByte = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7) & 0xff));

  it('reads back every byte exactly: data getter, dataLength, writeData, copyDataTo; after create, setData and restoreData', () => {
    const tree = new DataTree();
    const n = tree.createNode('/bin', Buffer.from(everyByte), tree.acls.intern(OPEN_ACL_UNSAFE), 0n, -1, 1, T0);
    const w = new JuteWriter(16);
    const check = (expected: Buffer) => {
      expect(n.data.equals(expected)).toBe(true);
      expect(n.dataLength).toBe(expected.length);
      expect(n.dataIsNull).toBe(false);
      n.writeData(w.reset());
      expect(w.view().equals(new JuteWriter().buffer(expected).view())).toBe(true);
      const out = Buffer.alloc(expected.length + 3, 0xee);
      expect(n.copyDataTo(out, 3)).toBe(expected.length);
      expect(out.subarray(3).equals(expected)).toBe(true);
    };
    check(everyByte);
    const reversed = Buffer.from(everyByte).reverse();
    tree.setData('/bin', reversed, 1, 2, T0 + 2);
    reversed.fill(0); // the node kept its own copy
    check(Buffer.from(everyByte).reverse());
    tree.restoreData('/bin', n, everyByte, 0, 1, T0);
    check(everyByte);
    expect(tree.approximateDataSize).toBe(new DataTree().approximateDataSize + '/bin'.length + everyByte.length);
  });

  it('null data stays null (jute length -1) and empty stays empty (length 0)', () => {
    const tree = new DataTree();
    const nul = tree.createNode('/null', NULL_DATA, tree.acls.intern(OPEN_ACL_UNSAFE), 0n, -1, 1, T0);
    const empty = tree.createNode('/empty', Buffer.alloc(0), tree.acls.intern(OPEN_ACL_UNSAFE), 0n, -1, 2, T0);
    expect(nul.data).toBe(NULL_DATA);
    expect(nul.dataIsNull).toBe(true);
    expect(empty.data).not.toBe(NULL_DATA);
    expect(empty.dataIsNull).toBe(false);
    expect([nul.dataLength, empty.dataLength]).toEqual([0, 0]);
    expect(new JuteWriter(8).latin1Buffer(null).view()).toEqual(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    const w = new JuteWriter(8);
    nul.writeData(w);
    empty.writeData(w);
    expect(w.view()).toEqual(Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]));
    expect(nul.copyDataTo(Buffer.alloc(4), 0)).toBe(0);
  });
});
