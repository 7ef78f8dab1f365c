// Java iteration orders ZooKeeper exposes (engine/core/javaorder.ts), against what Java
// itself produces: every expected value here was printed by
// fixtures/zookeeper-java/JavaOrders.java on OpenJDK 17 with ZooKeeper 3.8.0's classes
// (the line it came from is named in each test).
import { describe, it, expect } from 'vitest';
import { OPEN_ACL_UNSAFE } from '../../engine/protocol.ts';
import { DataTree } from '../../engine/core/tree.ts';
import { javaStringHash, javaIdHash, hashMapCapacityFor, javaHashSetOrder, closeSessionOrder, authInfoOrder } from '../../engine/core/javaorder.ts';

const SESSION = 0x11n;

/**
 * The order of CloseSessionTxn.paths2Delete after these steps, as the pipeline asks it: the
 * tree's ephemeral set for the session and its peak size (JavaOrders.closeSession does the
 * same steps on DataTree's HashSet).
 */
function closeOrderAfter(added: readonly string[], removed: readonly string[] = [], readded: readonly string[] = []): string[] {
  const tree = new DataTree();
  const acl = tree.acls.intern(OPEN_ACL_UNSAFE);
  let zxid = 1;
  const create = (path: string) => {
    const parent = path.slice(0, path.lastIndexOf('/'));
    if (tree.get(parent) === undefined) tree.createNode(parent, Buffer.alloc(0), acl, 0n, -1, zxid++, 0);
    tree.createNode(path, Buffer.alloc(0), acl, SESSION, -1, zxid++, 0);
  };
  added.forEach(create);
  for (const path of removed) tree.deleteNode(path, zxid++);
  readded.forEach(create);
  return closeSessionOrder([...tree.ephemerals.get(SESSION)!], tree.ephemeralPeaks.get(SESSION)!);
}

const range = (prefix: string, from: number, to: number) => Array.from({ length: to - from }, (_, i) => `${prefix}${from + i}`);

/** JavaOrders.ipAndDigests: ip:10.0.0.1, then digest:u<i>:hash<i>. */
function ipAndDigests(digests: number): { scheme: string; id: string }[] {
  return [{ scheme: 'ip', id: '10.0.0.1' }, ...range('u', 0, digests).map((u, i) => ({ scheme: 'digest', id: `${u}:hash${i}` }))];
}

const listed = (ids: { scheme: string; id: string }[]) => ids.map((x) => `${x.scheme}:${x.id}`);

describe('Java hash codes', () => {
  it('String.hashCode over UTF-16 code units, wrapping as an int ("hash" lines)', () => {
    const java: [string, number][] = [['', 0], ['a', 97], ['hello', 99162322], ['/app/eph-a1', -1623360579], ['日本😀', 804253066], [`/${'x'.repeat(100)}`, -1119876433]];
    for (const [s, hash] of java) expect(javaStringHash(s), s).toBe(hash);
  });

  it('Id.hashCode as jute generates it ("idhash" lines)', () => {
    expect(javaIdHash('digest', 'u:h')).toBe(-2036013344);
    expect(javaIdHash('ip', '127.0.0.1')).toBe(1506146057);
    expect(javaIdHash('super', '')).toBe(-232294480);
  });
});

describe('HashMap capacity and HashSet order', () => {
  it('a HashMap doubles its 16 bins when an entry would pass 0.75 of them', () => {
    const sizes: [number, number][] = [[0, 16], [12, 16], [13, 32], [24, 32], [25, 64], [48, 64], [49, 128]];
    for (const [size, capacity] of sizes) expect(hashMapCapacityFor(size), `${size} entries`).toBe(capacity);
  });

  it('iterates a HashSet<String> bin by bin ("hashset13")', () => {
    const items = range('/g/n-', 0, 13);
    expect(javaHashSetOrder(items, hashMapCapacityFor(items.length))).toEqual([
      '/g/n-10', '/g/n-12', '/g/n-11', '/g/n-4', '/g/n-5', '/g/n-2', '/g/n-3', '/g/n-0', '/g/n-1', '/g/n-8', '/g/n-9', '/g/n-6', '/g/n-7',
    ]);
  });
});

describe('closeSessionOrder: a closed session\'s ephemerals as CloseSessionTxn lists them', () => {
  it('a few paths ("three")', () => {
    expect(closeOrderAfter(['/app/eph-a1', '/app/eph-a2', '/locks/lock-0000000000'])).toEqual(['/app/eph-a1', '/app/eph-a2', '/locks/lock-0000000000']);
  });

  it('twenty sequential nodes: a 32-bin table cloned into 32 bins ("sequential20")', () => {
    const paths = Array.from({ length: 20 }, (_, i) => `/e/n-${String(i).padStart(10, '0')}`);
    expect(closeOrderAfter(paths)).toEqual([
      '/e/n-0000000008', '/e/n-0000000019', '/e/n-0000000009', '/e/n-0000000010', '/e/n-0000000000', '/e/n-0000000011', '/e/n-0000000001',
      '/e/n-0000000012', '/e/n-0000000002', '/e/n-0000000013', '/e/n-0000000003', '/e/n-0000000014', '/e/n-0000000004', '/e/n-0000000015',
      '/e/n-0000000005', '/e/n-0000000016', '/e/n-0000000006', '/e/n-0000000017', '/e/n-0000000007', '/e/n-0000000018',
    ]);
  });

  it('a set that grew to 30 and shrank to 5: the clone is sized for 5 ("peak30left5")', () => {
    expect(closeOrderAfter(range('/big/x', 0, 30), range('/big/x', 5, 30))).toEqual(['/big/x1', '/big/x0', '/big/x4', '/big/x3', '/big/x2']);
  });

  it('a path deleted and created again goes to the end of its bin ("readded")', () => {
    expect(closeOrderAfter(['/r/a', '/r/b', '/r/c', '/r/d', '/r/e'], ['/r/a'], ['/r/a'])).toEqual(['/r/c', '/r/b', '/r/a', '/r/e', '/r/d']);
  });

  // Nine strings in one bin: Java's HashMap.putVal calls treeifyBin when a bin passes 8
  // entries, and below 64 bins that resizes the table instead: the set (and its clone) has 32
  // bins, not the 16 hashMapCapacityFor(9) gives, and the bin splits in two. A client picks
  // its ephemeral names, so it can make this happen.
  const collide9 = ['/q/e-120', '/q/e-14', '/q/e-131', '/q/e-25', '/q/e-36', '/q/e-142', '/q/e-47', '/q/e-58', '/q/e-69'];

  it('nine paths in one bin: Java resizes instead of treeifying ("collide9")', () => {
    expect(closeOrderAfter(collide9)).toEqual(['/q/e-14', '/q/e-25', '/q/e-36', '/q/e-47', '/q/e-58', '/q/e-69', '/q/e-120', '/q/e-131', '/q/e-142']);
  });

  it('the table nine in a bin doubled stays doubled when they go ("collide9left5")', () => {
    expect(closeOrderAfter(collide9, ['/q/e-36', '/q/e-47', '/q/e-58', '/q/e-69'])).toEqual(['/q/e-14', '/q/e-25', '/q/e-120', '/q/e-131', '/q/e-142']);
  });

  // Not modeled (HashMapBins): ten paths in one bin of 64. The set doubles its table twice
  // (16 to 32 to 64), and the clone, sized for 32 bins, doubles once and then makes the bin a
  // tree, whose keys iterate in HashMap.TreeNode's order (here /c/n-239 first).
  it.fails('ten paths in one bin of 64: the clone makes the bin a tree ("collide10")', () => {
    const paths = ['/c/b3', '/c/a6', '/c/b80', '/c/a7', '/c/n-71', '/c/n-93', '/c/n-118', '/c/n-217', '/c/n-239', '/c/n-316', '/c/n-338', '/c/n-415', '/c/n-437', '/c/n-459'];
    expect(closeOrderAfter(paths)).toEqual([
      '/c/n-239', '/c/n-71', '/c/n-93', '/c/n-118', '/c/n-217', '/c/n-316', '/c/n-338', '/c/n-415', '/c/n-437', '/c/n-459', '/c/a6', '/c/a7', '/c/b80', '/c/b3',
    ]);
  });
});

describe('authInfoOrder: a connection\'s ids as ServerCnxn.getAuthInfo lists them (whoAmI)', () => {
  it('as Java for 3, 13, 20, 25 and 40 ids ("auth3", "auth13", "auth20", "auth25", "auth40")', () => {
    const three = [{ scheme: 'ip', id: '127.0.0.1' }, { scheme: 'digest', id: 'alice:xx' }, { scheme: 'digest', id: 'bob:yy' }];
    expect(listed(authInfoOrder(three))).toEqual(['digest:alice:xx', 'digest:bob:yy', 'ip:127.0.0.1']);
    const java: [number, number[]][] = [
      [12, [2, 9, 10, 11, 3, -1, 7, 6, 0, 4, 8, 1, 5]],
      [19, [2, 9, 10, 11, 12, 13, 14, 15, 16, 17, 3, -1, 7, 18, 6, 0, 4, 8, 1, 5]],
      [24, [20, 21, 22, 23, 3, -1, 0, 8, 5, 2, 9, 10, 11, 12, 13, 14, 15, 16, 17, 7, 18, 19, 6, 4, 1]],
      [39, [20, 21, 22, 23, 3, 24, -1, 25, 26, 33, 34, 35, 36, 37, 38, 0, 8, 5, 2, 9, 10, 11, 12, 13, 14, 15, 16, 17, 30, 7, 18, 31, 19, 32, 27, 6, 28, 29, 4, 1]],
    ];
    for (const [digests, order] of java) expect(listed(authInfoOrder(ipAndDigests(digests))), `${digests + 1} ids`).toEqual(idsInOrder(order));
  });

  // getAuthInfo lists a set over a ConcurrentHashMap, not a HashMap: its addCount resizes when
  // the count reaches 0.75 of the bins (12 of 16, 24 of 32), a HashMap only past it.
  it('as Java for 12 and 24 ids, where ConcurrentHashMap has already doubled ("auth12", "auth24")', () => {
    expect(listed(authInfoOrder(ipAndDigests(11)))).toEqual(idsInOrder([2, 9, 10, 3, -1, 7, 6, 0, 4, 8, 1, 5]));
    expect(listed(authInfoOrder(ipAndDigests(23)))).toEqual(idsInOrder([20, 21, 22, 3, -1, 0, 8, 5, 2, 9, 10, 11, 12, 13, 14, 15, 16, 17, 7, 18, 19, 6, 4, 1]));
  });


  it('as Java where ids collide: a transfer reverses the head of a bin, nine in a bin presize the table, a TreeBin puts the newest first', () => {
    const ipAnd = (...digests: string[]) => [{ scheme: 'ip', id: '10.0.0.1' }, ...digests.map((id) => ({ scheme: 'digest', id }))];
    // JavaOrders.java "authReversed": a19 and a191 share a bin of 16 and of 32 (with a0 in the other half); the transfer at 12 ids reverses them
    expect(listed(authInfoOrder(ipAnd('a19:h', 'a191:h', 'a0:h', 'f0:h', 'f1:h', 'f3:h', 'f4:h', 'f5:h', 'f6:h', 'f7:h', 'f8:h')))).toEqual([
      'digest:f1:h', 'digest:a191:h', 'digest:a19:h', 'digest:f0:h', 'digest:f5:h', 'digest:f6:h', 'digest:f3:h', 'digest:f4:h', 'ip:10.0.0.1',
      'digest:f7:h', 'digest:f8:h', 'digest:a0:h',
    ]);
    // "authCollide9": the ninth id in one bin of 16 makes tryPresize grow the table to 128
    expect(listed(authInfoOrder(ipAnd('c11:h', 'c22:h', 'c32:h', 'c43:h', 'c53:h', 'c64:h', 'c106:h', 'c117:h', 'c138:h')))).toEqual([
      'digest:c106:h', 'digest:c53:h', 'digest:c32:h', 'digest:c11:h', 'digest:c117:h', 'digest:c138:h', 'ip:10.0.0.1', 'digest:c22:h', 'digest:c43:h', 'digest:c64:h',
    ]);
    // "authTree": eleven in one bin of 128; the tenth makes it a TreeBin, and the eleventh goes first
    expect(listed(authInfoOrder(ipAnd('t202:h', 't223:h', 't244:h', 't265:h', 't478:h', 't499:h', 't515:h', 't728:h', 't749:h', 't1170:h', 't1420:h')))).toEqual([
      'digest:t1420:h', 'digest:t202:h', 'digest:t223:h', 'digest:t244:h', 'digest:t265:h', 'digest:t478:h', 'digest:t499:h', 'digest:t515:h', 'digest:t728:h',
      'digest:t749:h', 'digest:t1170:h', 'ip:10.0.0.1',
    ]);
  });

  it('lists an id given twice once, where it was first added', () => {
    const ids = [{ scheme: 'ip', id: '127.0.0.1' }, { scheme: 'digest', id: 'alice:xx' }, { scheme: 'digest', id: 'bob:yy' }, { scheme: 'digest', id: 'alice:xx' }];
    expect(listed(authInfoOrder(ids))).toEqual(['digest:alice:xx', 'digest:bob:yy', 'ip:127.0.0.1']);
  });
});

/** The listing of ipAndDigests' ids in this order: -1 for ip:10.0.0.1, i for digest:u<i>:hash<i>. */
function idsInOrder(order: number[]): string[] {
  return order.map((i) => (i === -1 ? 'ip:10.0.0.1' : `digest:u${i}:hash${i}`));
}
