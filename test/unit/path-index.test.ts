// The tree's path index (engine/core/path-index.ts) against a Map from path to node, as the
// index it replaced: lookups, insertion order (the snapshot's walk), walks that go on while
// nodes come and go, deletes that shift probe runs back, multi undo (a node put back under
// its number), names the arena does not hold (non-ASCII, long), and the paths and snapshot
// path bytes rebuilt from the parents.
import { describe, it, expect } from 'vitest';
import { NULL_DATA, OPEN_ACL_UNSAFE, Op } from '../../engine/protocol.ts';
import { decodeTxn, encodeTxn } from '../../engine/core/txn.ts';
import { replaySetDataInPlace, replayTxn } from '../../engine/core/replay.ts';
import { hdrAt, treeState } from './core-support.ts';
import { DataTree, NodeRecord, type ZNode } from '../../engine/core/tree.ts';
import { TreeLoader } from '../../engine/persistence/snapshot.ts';
import { JuteWriter } from '../../native-free-io/jute.ts';
import { seededRandom, testSeed } from '../support/random.ts';

const NAMES = ['a', 'b', 'node', 'x'.repeat(255), 'y'.repeat(300), 'é', 'ü-名前', 'lock-0000000001', ''];

/** The tree's nodes as [path, number] in its order, and their count. */
function indexOrder(tree: DataTree): [string, number][] {
  const out: [string, number][] = [];
  for (const [path, node] of tree.nodes) out.push([path, node.index]);
  return out;
}

describe('path index', () => {
  it('agrees with a Map of paths in lookups, order and paths through a seeded run of creates, deletes, undos and walks', () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    const tree = new DataTree();
    // the model: path → node number, in the index's order (a Map's insertion order)
    const model = new Map<string, number>();
    for (const [path, node] of tree.nodes) model.set(path, node.index);
    const pick = (): string => [...model.keys()][Math.floor(random() * model.size)];
    let zxid = 1;
    // a walk opened now sees what a Map iterator opened now sees
    let walk = tree.walkNodes();
    let walkModel = model.entries();
    for (let step = 0; step < 6000; step++) {
      const r = random();
      const context = `seed ${seed} step ${step}`;
      if (r < 0.55 || model.size < 20) {
        const parent = pick();
        const name = random() < 0.2 ? NAMES[Math.floor(random() * (NAMES.length - 1))] : `n${Math.floor(random() * 400)}`;
        const path = parent === '/' ? `/${name}` : `${parent}/${name}`;
        if (model.has(path)) continue;
        const node = tree.createNode(path, Buffer.alloc(3), tree.acls.intern(OPEN_ACL_UNSAFE), 0n, -1, zxid++, 0);
        model.set(path, node.index);
      } else if (r < 0.85) {
        // often the node the walk passed last, or the one after it: the walk must go on from the right place
        const near = random();
        const cursor = walk.cursor;
        const at = near < 0.15 ? cursor : near < 0.3 ? walk.peek() : -1;
        const path = at !== -1 ? tree.pathOf(at) : pick();
        const node = tree.get(path)!;
        if (path === '/' || path.startsWith('/zookeeper') || node.numChildren() > 0) continue;
        const z = zxid++;
        const parent = tree.get(path.slice(0, Math.max(1, path.lastIndexOf('/'))))!;
        const [cversion, pzxid] = [parent.cversion, parent.pzxid];
        const deleted = tree.deleteNode(path, z);
        model.delete(path);
        if (random() < 0.3) {
          // a failed multi: the node comes back under its number, last in the order (as Map.set)
          tree.undoDelete(path, deleted, OPEN_ACL_UNSAFE, cversion, pzxid);
          model.set(path, deleted.index);
        }
      } else if (r < 0.95) {
        // the walk moves on a few nodes, as a snapshot between slices
        for (let k = 0; k < 5; k++) {
          const i = walk.peek();
          // a Map iterator skips deleted entries and comes to re-added ones again
          const next = walkModel.next().value;
          expect(i, context).toBe(next === undefined ? -1 : next[1]);
          if (i === -1) {
            walk.close();
            walk = tree.walkNodes();
            walkModel = model.entries();
            break;
          }
          walk.advance(i);
        }
      } else {
        const path = pick();
        expect(tree.indexOf(path), context).toBe(model.get(path));
        expect(tree.pathOf(model.get(path)!), context).toBe(path);
        expect(tree.indexOf(`${path === '/' ? '' : path}/absent`), context).toBeUndefined();
      }
      if (step % 500 === 0) {
        expect(indexOrder(tree), context).toEqual([...model]);
        for (const [path, i] of model) expect(tree.indexOf(path), `${context} ${path}`).toBe(i);
      }
    }
    walk.close();
    expect(indexOrder(tree)).toEqual([...model]);
    expect(tree.nodeCount()).toBe(model.size);
  });

  it('rebuilds paths and snapshot path bytes from the names, in UTF-8, the root as ""', () => {
    const tree = new DataTree();
    const aclRef = tree.acls.intern(OPEN_ACL_UNSAFE);
    const paths = ['/é', '/é/ü-名前', '/é/ü-名前/' + 'y'.repeat(300), '/a', '/a/' + 'x'.repeat(255)];
    paths.forEach((p, k) => tree.createNode(p, Buffer.alloc(0), tree.acls.intern(OPEN_ACL_UNSAFE), 0n, -1, k + 1, 0));
    const buf = Buffer.alloc(1024);
    for (const p of paths) {
      const i = tree.indexOf(p)!;
      expect(tree.pathOf(i)).toBe(p);
      expect(tree.index.pathBytes(i)).toBe(Buffer.byteLength(p));
      expect(tree.index.writePath(i, buf, 7)).toBe(Buffer.byteLength(p));
      expect(buf.toString('utf8', 7, 7 + Buffer.byteLength(p))).toBe(p);
    }
    expect(tree.index.pathOf(tree.index.root)).toBe('/');
    expect(tree.get('/é')!.childNames()).toEqual(['ü-名前']);
    // getChildren's reply: jute strings written from the names, as w.string of childNames would
    for (const parent of ['/', '/a', '/é', '/é/ü-名前']) {
      const direct = new JuteWriter(16);
      tree.get(parent)!.writeChildNames(direct);
      const viaStrings = new JuteWriter(16);
      for (const name of tree.get(parent)!.childNames()) viaStrings.string(name);
      expect(direct.buf.subarray(0, direct.offset), parent).toEqual(viaStrings.buf.subarray(0, viaStrings.offset));
    }
    // a prefix of a name, or a name with a prefix, is another path
    expect(tree.indexOf('/a/' + 'x'.repeat(254))).toBeUndefined();
    expect(tree.indexOf('/é/ü-名')).toBeUndefined();
    expect(aclRef).toBeGreaterThan(0);
  });

  it('finds every one of 200,000 nodes after the table grew and half of them went', () => {
    const tree = new DataTree();
    const ref = (): number => tree.acls.intern(OPEN_ACL_UNSAFE);
    let zxid = 1;
    for (let p = 0; p < 200; p++) {
      tree.createNode(`/p${p}`, Buffer.alloc(0), ref(), 0n, -1, zxid++, 0);
      for (let c = 0; c < 1000; c++) tree.createNode(`/p${p}/c${c}`, Buffer.alloc(0), ref(), 0n, -1, zxid++, 0);
    }
    for (let p = 0; p < 200; p++) for (let c = 0; c < 1000; c += 2) tree.deleteNode(`/p${p}/c${c}`, zxid++);
    for (let p = 0; p < 200; p++) {
      for (let c = 0; c < 1000; c++) {
        const node: ZNode | undefined = tree.get(`/p${p}/c${c}`);
        if (c % 2 === 0) expect(node).toBeUndefined();
        else expect(tree.pathOf(node!.index)).toBe(`/p${p}/c${c}`);
      }
    }
    expect(tree.nodeCount()).toBe(4 + 200 + 100_000);
  });
});

describe('replay of setData entries in place (replaySetDataInPlace)', () => {
  /** One log entry's payload: TxnHeader + SetDataTxn. */
  function setDataEntry(zxid: number, path: string, data: Buffer, version: number): Buffer {
    const w = new JuteWriter(64);
    encodeTxn(w, hdrAt(zxid, Op.setData), { type: Op.setData, path, data, version });
    return Buffer.from(w.buf.subarray(0, w.offset));
  }

  function twoTrees(): [DataTree, DataTree] {
    return [new DataTree(), new DataTree()].map((tree) => {
      for (const [k, p] of ['/a', '/a/b', '/ü', '/big'].entries()) tree.createNode(p, Buffer.from('x'), tree.acls.intern(OPEN_ACL_UNSAFE), 0n, -1, k + 1, 0);
      tree.lastZxid = 4;
      return tree;
    }) as [DataTree, DataTree];
  }

  it('leaves the tree as decoding and replayTxn do: data (null, empty, large), Stat, size, NONODE skipped; falls back for non-ASCII paths and watches', () => {
    const [fast, general] = twoTrees();
    const entries = [
      setDataEntry(5, '/a/b', Buffer.alloc(100, 7), 1),
      setDataEntry(6, '/a', NULL_DATA, 1),
      setDataEntry(7, '/a/b', Buffer.alloc(0), 2),
      setDataEntry(8, '/missing/x', Buffer.alloc(3), 1),
      setDataEntry(9, '/big', Buffer.alloc(9000, 1), 1),
      setDataEntry(10, '/ü', Buffer.alloc(5), 1),
      setDataEntry(11, '/a/b', Buffer.alloc(100, 9), 3),
      setDataEntry(11, '/a/b', Buffer.alloc(100, 1), 4), // not after lastZxid: skipped either way
    ];
    const took: boolean[] = [];
    for (const bytes of entries) {
      const inPlace = replaySetDataInPlace(fast, bytes);
      took.push(inPlace);
      if (!inPlace) {
        const { hdr, txn } = decodeTxn(bytes);
        if (hdr.zxid > fast.lastZxid) {
          replayTxn(fast, hdr, txn);
          fast.lastZxid = hdr.zxid;
        }
      }
      const { hdr, txn } = decodeTxn(bytes);
      if (hdr.zxid > general.lastZxid) {
        replayTxn(general, hdr, txn);
        general.lastZxid = hdr.zxid;
      }
    }
    expect(took).toEqual([true, true, true, true, true, false, true, false]);
    expect(treeState(fast)).toEqual(treeState(general));
    expect(fast.approximateDataSize).toBe(general.approximateDataSize);
    expect(fast.lastZxid).toBe(11);
    expect(fast.get('/a')!.dataIsNull).toBe(true);
    // a data watch needs the path as a string: the general way
    fast.dataWatches.add('/a', 1);
    expect(replaySetDataInPlace(fast, setDataEntry(12, '/a/b', Buffer.alloc(1), 5))).toBe(false);
  });
});

describe('snapshot load from the records\' path bytes (DataTree.restoreNodeAt)', () => {
  it('builds the same tree, order and sizes as restoreNode with strings: repeated paths, owners, /zookeeper, non-ASCII and long names', () => {
    const records: [string, NodeRecord][] = [];
    const add = (path: string, zxid: number, owner = 0n, data = 'd'): void => {
      const r = NodeRecord.of(Buffer.from(data), -1, owner, zxid, 1000 + zxid);
      r.pzxid = zxid + (path.length % 3); // some pzxid ≠ czxid: a family record for a leaf
      r.cversion = path.length % 2;
      records.push([path, r]);
    };
    add('/', 0);
    add('/zookeeper', 0);
    add('/zookeeper/quota', 0);
    add('/a', 1);
    add('/a/b', 2);
    add('/a/é', 3);
    add('/a/é/x', 4);
    add('/a/' + 'l'.repeat(300), 5);
    add('/a/b/c', 6, 0x1234n);
    add('/a/b', 7, 0n, 'again'); // repeated: keeps its number and place
    add('/e', 8);
    add('/e/f', 9);
    const viaStrings = new DataTree();
    viaStrings.clearForRestore();
    for (const [path, r] of records) viaStrings.restoreNode(path, r);
    viaStrings.finishRestore();
    const viaBytes = new DataTree();
    const loader = new TreeLoader(viaBytes, (msg) => { throw new Error(msg); });
    for (const [path, r] of records) {
      const bytes = Buffer.concat([Buffer.from('xyz'), Buffer.from(path === '/' ? '' : path), Buffer.from('tail')]);
      loader.nodeAt(bytes, 3, bytes.length - 7, r);
    }
    loader.finish(9);
    expect(treeState(viaBytes)).toEqual(treeState(viaStrings));
    expect([...viaBytes.nodes.keys()]).toEqual([...viaStrings.nodes.keys()]);
    expect(viaBytes.approximateDataSize).toBe(viaStrings.approximateDataSize);
    expect(viaBytes.get('/a/b')!.data.toString()).toBe('again');
    expect([...viaBytes.ephemerals.get(0x1234n)!]).toEqual(['/a/b/c']);
  });
});

describe('path index sizing', () => {
  it('reserve() sizes the table once for what is coming, keeps every node findable and never shrinks it', () => {
    const tree = new DataTree();
    const acl = tree.acls.intern(OPEN_ACL_UNSAFE);
    for (let i = 0; i < 100; i++) tree.createNode(`/r${i}`, Buffer.alloc(1), acl, 0n, -1, i + 1, 0);
    tree.index.reserve(50_000);
    const slots = tree.index.tableSlots;
    expect(slots & (slots - 1)).toBe(0);
    expect(slots * 3).toBeGreaterThanOrEqual(50_000 * 4);
    expect(slots).toBeLessThan((50_000 * 4 * 2) / 3);
    for (let i = 0; i < 100; i++) expect(tree.get(`/r${i}`)?.index, `/r${i}`).toBeDefined();
    for (let i = 100; i < 50_000 - 10; i++) tree.createNode(`/r${i}`, Buffer.alloc(1), acl, 0n, -1, i + 1, 0);
    expect(tree.index.tableSlots).toBe(slots); // no doubling on the way
    tree.index.reserve(10);
    expect(tree.index.tableSlots).toBe(slots);
    expect(tree.get('/r49000')).toBeDefined();
    expect(tree.get('/r50000')).toBeUndefined();
  });

  it('a snapshot load reserves from the file size', () => {
    const tree = new DataTree();
    const loader = new TreeLoader(tree, (msg) => { throw new Error(msg); });
    loader.expectFileBytes(194 * 1_000_000);
    expect(tree.index.tableSlots).toBe(1 << 21); // 1M znodes of 100 B: what their last doubling makes
    loader.close();
  });
});
