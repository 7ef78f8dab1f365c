// Shared by the unit tests of engine/core's stages (tree, txn, watches, javaorder): Stats by
// path, the watch events a tree delivers, the tree's bookkeeping recomputed from its nodes,
// and fixture helpers. Only the modules' exported APIs are used.
import { expect } from 'vitest';
import { type Acl, type Stat, type TxnHeader, parentOf, baseName } from '../../engine/protocol.ts';
import { DataTree, AclCache, EphemeralType, ephemeralTypeOf, newStat } from '../../engine/core/tree.ts';
import type { WatcherKey } from '../../engine/core/watches.ts';

export const SESSION = 0x0100a2b3c4d50000n;

export function statOf(tree: DataTree, path: string): Stat {
  const node = tree.get(path);
  if (node === undefined) throw new Error(`no node ${path}`);
  return node.statInto(newStat());
}

/** A txn header for zxid, at 1_700_000_000_000 + zxid ms (so a Stat's times tell txns apart). */
export function hdrAt(zxid: number, type: number, sessionId = SESSION): TxnHeader {
  return { sessionId, cxid: zxid, zxid, timeMs: 1_700_000_000_000 + zxid, type };
}

export interface Delivered {
  watcher: WatcherKey;
  type: number;
  path: string;
  zxid: number;
  /** The ACL the watcher must be able to READ, as value (null: none to check). */
  acl: Acl[] | null;
}

/** Collects what the tree hands its watch sink, in order. */
export function recordEvents(tree: DataTree): Delivered[] {
  const events: Delivered[] = [];
  tree.setWatchSink((watcher, type, path, zxid, acl) => {
    events.push({ watcher, type, path, zxid, acl: acl === null ? null : acl.map((a) => ({ perms: a.perms, id: { ...a.id } })) });
  });
  return events;
}

export function hex(bytes: Buffer): string {
  return bytes.toString('hex');
}

/** The subtree's node count and data bytes, as ZooKeeper's DataTree.getCounts. */
export function subtreeCounts(tree: DataTree, path: string): { count: number; bytes: number } {
  const node = tree.get(path);
  if (node === undefined) return { count: 0, bytes: 0 };
  let count = 1;
  let bytes = node.data.length;
  for (const child of node.childNames()) {
    const c = subtreeCounts(tree, path === '/' ? `/${child}` : `${path}/${child}`);
    count += c.count;
    bytes += c.bytes;
  }
  return { count, bytes };
}

/**
 * Everything observable about a tree by value (ACL references and Set orders left out),
 * to compare a tree with itself before and after an undo or a restore.
 */
export function treeState(tree: DataTree): unknown {
  const nodes = [...tree.nodes.keys()].sort().map((path) => {
    const node = tree.get(path)!;
    return { path, stat: statOf(tree, path), data: hex(node.data), acl: tree.acls.get(node.aclRef), children: node.childNames().sort() };
  });
  const sorted = (items: Iterable<string>) => [...items].sort();
  return {
    nodes,
    approximateDataSize: tree.approximateDataSize,
    ephemerals: [...tree.ephemerals].map(([owner, paths]) => [owner, sorted(paths)]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    containers: sorted(tree.containers),
    ttls: sorted(tree.ttls),
    quotaPaths: sorted(tree.quotaPaths),
    acls: tree.acls.entries().map(([, acls]) => AclCache.keyOf(acls)).sort(),
  };
}

/**
 * The tree's derived bookkeeping, recomputed from its nodes: parent/child links, the
 * approximate data size (paths but the root's, and data), the ephemeral, container and TTL
 * indexes, and an ACL cache that holds exactly the lists in use.
 */
export function expectTreeConsistent(tree: DataTree, why: string): void {
  let size = 0;
  const broken: string[] = [];
  const ephemerals = new Map<bigint, string[]>();
  const containers: string[] = [];
  const ttls: string[] = [];
  for (const [path, node] of tree.nodes) {
    size += (path === '/' ? 0 : path.length) + node.data.length;
    const names = node.childNames();
    if (names.length !== node.numChildren() || new Set(names).size !== names.length) broken.push(`${path} counts ${node.numChildren()} children, lists ${names.join(',')}`);
    for (const child of names) if (!tree.nodes.has(path === '/' ? `/${child}` : `${path}/${child}`)) broken.push(`child ${child} of ${path} is missing`);
    if (path !== '/' && tree.get(parentOf(path))?.childNames().includes(baseName(path)) !== true) broken.push(`${path} is not listed by its parent`);
    const owner = node.ephemeralOwner;
    const type = ephemeralTypeOf(owner, tree.extendedTypesEnabled);
    if (node.ephemeralType !== type) broken.push(`${path} is filed as EphemeralType ${node.ephemeralType}, its owner makes it ${type}`);
    if (type === EphemeralType.normal) ephemerals.set(owner, [...(ephemerals.get(owner) ?? []), path]);
    else if (type === EphemeralType.container) containers.push(path);
    else if (type === EphemeralType.ttl) ttls.push(path);
  }
  expect(broken, why).toEqual([]);
  expect(tree.approximateDataSize, `${why}: approximateDataSize`).toBe(size);
  // indexes compared as sorted text: this runs after every step of a random run
  const text = (entries: Iterable<[bigint, Iterable<string>]>) => [...entries].map(([owner, paths]) => `${owner}:${[...paths].sort().join(',')}`).sort().join(' ');
  expect(text(tree.ephemerals), `${why}: ephemerals`).toBe(text(ephemerals));
  expect([...tree.containers].sort().join(' '), `${why}: containers`).toBe(containers.sort().join(' '));
  expect([...tree.ttls].sort().join(' '), `${why}: ttls`).toBe(ttls.sort().join(' '));
  const refs = (items: Iterable<number>) => [...new Set(items)].sort((a, b) => a - b).join(' ');
  expect(refs(tree.acls.entries().map(([ref]) => ref)), `${why}: ACL cache holds the lists in use`).toBe(refs([...tree.nodes.values()].map((n) => n.aclRef)));
}
