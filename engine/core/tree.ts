// The data tree: znodes by path, their Stat, the ACL cache, ephemerals by session, and
// the one-shot watches they trigger. Synchronous; owned by the pipeline worker alone.
import { type Acl, type Stat, EventType, KeeperError, Err, OPEN_ACL_UNSAFE, READ_ACL_UNSAFE, parentOf, baseName } from '../protocol.ts';
import { WatchTable, type WatcherKey } from './watches.ts';

/** EphemeralType.CONTAINER_EPHEMERAL_OWNER: Long.MIN_VALUE. */
export const CONTAINER_OWNER = -0x8000000000000000n;
const NO_OWNER = 0n;
const EMPTY_DATA = Buffer.alloc(0);

export class ZNode {
  data: Buffer;
  aclRef: number;
  czxid: number;
  mzxid: number;
  ctime: number;
  mtime: number;
  version = 0;
  cversion = 0;
  aversion = 0;
  ephemeralOwner: bigint;
  pzxid: number;
  children: Set<string> | null = null;

  constructor(data: Buffer, aclRef: number, owner: bigint, zxid: number, timeMs: number) {
    this.data = data;
    this.aclRef = aclRef;
    this.ephemeralOwner = owner;
    this.czxid = zxid;
    this.mzxid = zxid;
    this.pzxid = zxid;
    this.ctime = timeMs;
    this.mtime = timeMs;
  }

  numChildren(): number {
    return this.children === null ? 0 : this.children.size;
  }

  statInto(s: Stat): Stat {
    s.czxid = this.czxid;
    s.mzxid = this.mzxid;
    s.ctime = this.ctime;
    s.mtime = this.mtime;
    s.version = this.version;
    // the stored cversion counts creates; clients see changes (DataNode.copyStat's v3
    // semantics): every create has a delete except for the children still present
    s.cversion = this.cversion * 2 - this.numChildren();
    s.aversion = this.aversion;
    // containers and TTL nodes show 0 to clients (DataNode.getClientEphemeralOwner)
    s.ephemeralOwner = this.ephemeralOwner > 0n ? this.ephemeralOwner : 0n;
    s.dataLength = this.data.length;
    s.numChildren = this.numChildren();
    s.pzxid = this.pzxid;
    return s;
  }
}

export function newStat(): Stat {
  return { czxid: 0, mzxid: 0, ctime: 0, mtime: 0, version: 0, cversion: 0, aversion: 0, ephemeralOwner: 0n, dataLength: 0, numChildren: 0, pzxid: 0 };
}

/**
 * ACL lists interned by value and referenced by a long index, as ZooKeeper's
 * ReferenceCountedACLCache (so snapshots keep its map). -1 stands for OPEN_ACL_UNSAFE.
 */
export class AclCache {
  private byRef = new Map<number, { acls: Acl[]; refs: number }>();
  private byKey = new Map<string, number>();
  private nextRef = 1;

  static keyOf(acls: readonly Acl[]): string {
    let k = '';
    for (const a of acls) k += `${a.perms}\u0000${a.id.scheme}\u0000${a.id.id}\u0001`;
    return k;
  }

  intern(acls: readonly Acl[]): number {
    const key = AclCache.keyOf(acls);
    let ref = this.byKey.get(key);
    if (ref === undefined) {
      ref = this.nextRef++;
      this.byKey.set(key, ref);
      this.byRef.set(ref, { acls: acls.map((a) => ({ perms: a.perms, id: { scheme: a.id.scheme, id: a.id.id } })), refs: 0 });
    }
    this.byRef.get(ref)!.refs++;
    return ref;
  }

  release(ref: number): void {
    const e = this.byRef.get(ref);
    if (e === undefined) return;
    if (--e.refs <= 0) {
      this.byRef.delete(ref);
      this.byKey.delete(AclCache.keyOf(e.acls));
    }
  }

  get(ref: number): readonly Acl[] {
    const e = this.byRef.get(ref);
    if (e === undefined) {
      if (ref === -1) return OPEN_ACL_UNSAFE;
      throw new Error(`ACL reference ${ref} is not in the cache`);
    }
    return e.acls;
  }

  size(): number {
    return this.byRef.size;
  }

  // ---- snapshots (engine/persistence/snapshot.ts)

  /** The largest reference handed out so far. References are never reused. */
  lastRef(): number {
    return this.nextRef - 1;
  }

  /** The lists in the cache now, by reference (a copy of the index; the lists are immutable). */
  entries(): [number, readonly Acl[]][] {
    const out: [number, readonly Acl[]][] = [];
    for (const [ref, e] of this.byRef) out.push([ref, e.acls]);
    return out;
  }

  /** Empties the cache before a snapshot load. */
  clear(): void {
    this.byRef.clear();
    this.byKey.clear();
    this.nextRef = 1;
  }

  /** Snapshot load: a list under its reference, no users yet (ReferenceCountedACLCache.deserialize). */
  load(ref: number, acls: readonly Acl[]): void {
    const key = AclCache.keyOf(acls);
    if (!this.byKey.has(key)) this.byKey.set(key, ref);
    this.byRef.set(ref, { acls: acls.map((a) => ({ perms: a.perms, id: { scheme: a.id.scheme, id: a.id.id } })), refs: 0 });
    if (ref >= this.nextRef) this.nextRef = ref + 1;
  }

  /** Snapshot load: one more node uses ref. False when ref is neither -1 nor in the cache. */
  addUsage(ref: number): boolean {
    if (ref === -1) return true;
    const e = this.byRef.get(ref);
    if (e === undefined) return false;
    e.refs++;
    return true;
  }

  /** Snapshot load done: drops the lists no node uses (ReferenceCountedACLCache.purgeUnused). */
  purgeUnused(): void {
    for (const [ref, e] of this.byRef) {
      if (e.refs > 0) continue;
      this.byRef.delete(ref);
      if (this.byKey.get(AclCache.keyOf(e.acls)) === ref) this.byKey.delete(AclCache.keyOf(e.acls));
    }
  }
}

export const QUOTA_ROOT = '/zookeeper/quota';
export const QUOTA_LIMITS = 'zookeeper_limits';
export const QUOTA_STATS = 'zookeeper_stats';

/**
 * StatsTrack's parser: pairs split by "," or ";" (3.8 writes the limits as
 * "count=4,bytes=5=;byteHardLimit=10;countHardLimit=10"), key=value, an empty value -1.
 */
export function parseStatsTrack(data: Buffer): Map<string, number> {
  const out = new Map<string, number>();
  for (const pair of data.toString('utf8').split(/[,;]+/)) {
    const [key, value] = pair.split('=');
    if (key === undefined || value === undefined) continue;
    const n = value.trim() === '' ? -1 : Number(value.trim());
    if (Number.isFinite(n)) out.set(key.trim(), n);
  }
  return out;
}

/** StatsTrack.toString: count and bytes first; other keys sorted, after an "=", ";"-separated. */
export function formatStatsTrack(stats: Map<string, number>): Buffer {
  let s = `count=${stats.get('count') ?? -1},bytes=${stats.get('bytes') ?? -1}`;
  const others = [...stats.keys()].filter((k) => k !== 'count' && k !== 'bytes').sort();
  if (others.length > 0) s += '=' + others.map((key) => `;${key}=${stats.get(key)}`).join('');
  return Buffer.from(s);
}

/**
 * Receives watch events as the tree triggers them, with the ACL the watcher must be able to
 * READ for the event to be delivered (ZooKeeper 3.8.4's ServerCnxn.process, the
 * CVE-2024-23944 family), as DataTree passes it: the created, changed or deleted node's
 * ACL, or for NodeChildrenChanged the parent's. null: nothing to check.
 */
export type WatchSink = (watcher: WatcherKey, type: number, path: string, zxid: number, acl: readonly Acl[] | null) => void;

export class DataTree {
  readonly nodes = new Map<string, ZNode>();
  readonly acls = new AclCache();
  readonly ephemerals = new Map<bigint, Set<string>>();
  /** Paths with a quota (a zookeeper_limits node under /zookeeper/quota). */
  readonly quotaPaths = new Set<string>();
  /** Container nodes and TTL nodes, for the ContainerManager's sweep. */
  readonly containers = new Set<string>();
  readonly ttls = new Set<string>();
  /** Largest size each session's ephemeral set reached (fixes Java's HashSet order). */
  readonly ephemeralPeaks = new Map<bigint, number>();
  readonly dataWatches = new WatchTable();
  readonly childWatches = new WatchTable();
  lastZxid = 0;
  /**
   * The newest zxid that changed an ACL (setACL changes no zxid field of a Stat): a read
   * checked against an ACL, or showing aversion, reveals state up to here.
   */
  lastAclZxid = 0;
  /** Bytes of paths and data, as ZooKeeper's approximateDataSize. */
  approximateDataSize = 0;
  private sink: WatchSink = () => {};
  /** ACLs of watched nodes just deleted, kept for the READ check of their NodeDeleted events until their trigger. */
  private readonly deletedAcls = new Map<string, readonly Acl[]>();

  constructor() {
    const openRef = this.acls.intern(OPEN_ACL_UNSAFE);
    const root = new ZNode(EMPTY_DATA, openRef, NO_OWNER, 0, 0);
    this.nodes.set('/', root);
    this.insertSystemNode('/zookeeper', this.acls.intern(OPEN_ACL_UNSAFE));
    this.insertSystemNode('/zookeeper/quota', this.acls.intern(OPEN_ACL_UNSAFE));
    this.insertSystemNode('/zookeeper/config', this.acls.intern(READ_ACL_UNSAFE));
    // ZooKeeper sets the config node's ACL with version -1, so its aversion shows -1
    this.nodes.get('/zookeeper/config')!.aversion = -1;
  }

  private insertSystemNode(path: string, aclRef: number): void {
    const node = new ZNode(EMPTY_DATA, aclRef, NO_OWNER, 0, 0);
    this.nodes.set(path, node);
    const parent = this.nodes.get(parentOf(path))!;
    (parent.children ??= new Set()).add(baseName(path));
    this.approximateDataSize += path.length;
  }

  setWatchSink(sink: WatchSink): void {
    this.sink = sink;
  }

  get(path: string): ZNode | undefined {
    return this.nodes.get(path);
  }

  nodeCount(): number {
    return this.nodes.size;
  }

  ephemeralCount(): number {
    let n = 0;
    for (const s of this.ephemerals.values()) n += s.size;
    return n;
  }

  // ---- mutations (each used live and at replay; they assume prep validated them)

  createNode(path: string, data: Buffer, aclRef: number, owner: bigint, parentCVersion: number, zxid: number, timeMs: number): ZNode {
    const parentPath = parentOf(path);
    const parent = this.nodes.get(parentPath);
    if (parent === undefined) throw new KeeperError(Err.NONODE, parentPath);
    const children = (parent.children ??= new Set());
    const name = baseName(path);
    if (children.has(name)) throw new KeeperError(Err.NODEEXISTS, path);
    parent.cversion = parentCVersion === -1 ? parent.cversion + 1 : parentCVersion;
    parent.pzxid = zxid;
    const node = new ZNode(data, aclRef, owner, zxid, timeMs);
    children.add(name);
    this.nodes.set(path, node);
    this.approximateDataSize += path.length + data.length;
    this.indexOwner(path, owner);
    if (parentPath.startsWith(QUOTA_ROOT)) this.quotaNodeCreated(parentPath, baseName(path));
    this.updateQuotaStat(path, data.length, 1);
    return node;
  }

  deleteNode(path: string, zxid: number): ZNode {
    const node = this.nodes.get(path);
    if (node === undefined) throw new KeeperError(Err.NONODE, path);
    const parentPath = parentOf(path);
    const parent = this.nodes.get(parentPath)!;
    this.nodes.delete(path);
    parent.children!.delete(baseName(path));
    // the stored cversion counts creates only (see statInto); a delete moves pzxid
    if (zxid > parent.pzxid) parent.pzxid = zxid;
    this.approximateDataSize -= path.length + node.data.length;
    if (this.dataWatches.hasRecursive() || this.dataWatches.watches(path) || this.childWatches.watches(path)) this.deletedAcls.set(path, this.acls.get(node.aclRef));
    if (parentPath.startsWith(QUOTA_ROOT) && baseName(path) === QUOTA_LIMITS) this.quotaPaths.delete(parentPath.slice(QUOTA_ROOT.length));
    this.updateQuotaStat(path, -node.data.length, -1);
    this.acls.release(node.aclRef);
    this.dropEphemeral(node.ephemeralOwner, path);
    return node;
  }

  setData(path: string, data: Buffer, version: number, zxid: number, timeMs: number): ZNode {
    const node = this.nodes.get(path);
    if (node === undefined) throw new KeeperError(Err.NONODE, path);
    this.approximateDataSize += data.length - node.data.length;
    this.updateQuotaStat(path, data.length - node.data.length, 0);
    node.data = data;
    node.version = version;
    node.mzxid = zxid;
    node.mtime = timeMs;
    return node;
  }

  setAcl(path: string, acls: readonly Acl[], aversion: number): ZNode {
    const node = this.nodes.get(path);
    if (node === undefined) throw new KeeperError(Err.NONODE, path);
    const ref = this.acls.intern(acls);
    this.acls.release(node.aclRef);
    node.aclRef = ref;
    node.aversion = aversion;
    return node;
  }

  // ---- watch triggers, in ZooKeeper's order; called after a txn (or a whole multi) applied

  triggerCreated(path: string, zxid: number): void {
    const parentPath = parentOf(path);
    // (a multi can delete what it created before its triggers run: then the deleted node's ACL)
    this.trigger(this.dataWatches, path, EventType.NodeCreated, zxid, null, this.aclAt(path) ?? this.deletedAcls.get(path) ?? null);
    this.trigger(this.childWatches, parentPath, EventType.NodeChildrenChanged, zxid, null, this.aclAt(parentPath));
  }

  triggerDeleted(path: string, zxid: number): void {
    const acl = this.deletedAcls.get(path) ?? null;
    this.deletedAcls.delete(path);
    const parentPath = parentOf(path);
    const notified = this.trigger(this.dataWatches, path, EventType.NodeDeleted, zxid, null, acl);
    this.trigger(this.childWatches, path, EventType.NodeDeleted, zxid, notified, acl);
    this.trigger(this.childWatches, parentPath, EventType.NodeChildrenChanged, zxid, null, this.aclAt(parentPath));
  }

  triggerDataChanged(path: string, zxid: number): void {
    this.trigger(this.dataWatches, path, EventType.NodeDataChanged, zxid, null, this.aclAt(path));
  }

  /** The ACL of the node at path, or null when there is none. */
  private aclAt(path: string): readonly Acl[] | null {
    const node = this.nodes.get(path);
    return node === undefined ? null : this.acls.get(node.aclRef);
  }

  // ---- quotas (/zookeeper/quota/<path>/zookeeper_limits and zookeeper_stats), as DataTree

  /** The deepest path with a quota that is path or an ancestor of it, or null. */
  quotaPrefixOf(path: string): string | null {
    if (this.quotaPaths.size === 0) return null;
    let at = path;
    for (;;) {
      if (this.quotaPaths.has(at)) return at === '/' || at === '' ? null : at;
      if (at === '/') return null;
      at = parentOf(at);
    }
  }

  private quotaNodeCreated(parentPath: string, name: string): void {
    const quotaPath = parentPath.slice(QUOTA_ROOT.length);
    if (name === QUOTA_LIMITS) this.quotaPaths.add(quotaPath);
    if (name === QUOTA_STATS) {
      // updateQuotaForPath: the stats node holds the subtree's count and bytes
      let count = 0;
      let bytes = 0;
      const walk = (p: string) => {
        const n = this.nodes.get(p);
        if (n === undefined) return;
        count++;
        bytes += n.data.length;
        if (n.children !== null) for (const c of n.children) walk(p === '/' ? `/${c}` : `${p}/${c}`);
      };
      walk(quotaPath);
      const stats = this.nodes.get(`${QUOTA_ROOT}${quotaPath}/${QUOTA_STATS}`);
      if (stats !== undefined) this.replaceQuotaData(stats, formatStatsTrack(new Map([['count', count], ['bytes', bytes]])));
    }
  }

  /** Keeps the stats node of the path's quota current, in place (not a txn), and warns past soft limits. */
  private updateQuotaStat(path: string, bytesDiff: number, countDiff: number): void {
    const prefix = this.quotaPrefixOf(path);
    if (prefix === null) return;
    const stats = this.nodes.get(`${QUOTA_ROOT}${prefix}/${QUOTA_STATS}`);
    if (stats === undefined) return;
    const track = parseStatsTrack(stats.data);
    track.set('count', (track.get('count') ?? 0) + countDiff);
    track.set('bytes', (track.get('bytes') ?? 0) + bytesDiff);
    this.replaceQuotaData(stats, formatStatsTrack(track));
    const limits = this.nodes.get(`${QUOTA_ROOT}${prefix}/${QUOTA_LIMITS}`);
    if (limits === undefined) return;
    const limit = parseStatsTrack(limits.data);
    for (const key of ['count', 'bytes']) {
      const max = limit.get(key) ?? -1;
      if (max > -1 && max < (track.get(key) ?? 0)) this.quotaWarning?.(`Quota exceeded: ${prefix} ${key}=${track.get(key)} limit=${max}`);
    }
  }

  private replaceQuotaData(node: ZNode, data: Buffer): void {
    this.approximateDataSize += data.length - node.data.length;
    node.data = data;
  }

  /** Set by the pipeline: where soft-limit warnings go. */
  quotaWarning: ((msg: string) => void) | null = null;

  /** Restores a node's data fields (a multi's setData undone). */
  restoreData(path: string, node: ZNode, data: Buffer, version: number, mzxid: number, mtime: number): void {
    this.approximateDataSize += data.length - node.data.length;
    this.updateQuotaStat(path, data.length - node.data.length, 0);
    node.data = data;
    node.version = version;
    node.mzxid = mzxid;
    node.mtime = mtime;
  }

  // ---- undo, for a multi whose later op failed (live path only)

  /** Reverts createNode: the node goes, the parent's cversion and pzxid are restored. */
  undoCreate(path: string, parentCversion: number, parentPzxid: number): void {
    const node = this.nodes.get(path)!;
    const parent = this.nodes.get(parentOf(path))!;
    this.updateQuotaStat(path, -node.data.length, -1);
    this.nodes.delete(path);
    parent.children!.delete(baseName(path));
    parent.cversion = parentCversion;
    parent.pzxid = parentPzxid;
    this.approximateDataSize -= path.length + node.data.length;
    this.acls.release(node.aclRef);
    this.dropEphemeral(node.ephemeralOwner, path);
  }

  /** Reverts deleteNode with the node object it returned and the acls it held. */
  undoDelete(path: string, node: ZNode, acls: readonly Acl[], parentCversion: number, parentPzxid: number): void {
    const parent = this.nodes.get(parentOf(path))!;
    this.deletedAcls.delete(path);
    node.aclRef = this.acls.intern(acls);
    this.nodes.set(path, node);
    this.updateQuotaStat(path, node.data.length, 1);
    (parent.children ??= new Set()).add(baseName(path));
    parent.cversion = parentCversion;
    parent.pzxid = parentPzxid;
    this.approximateDataSize += path.length + node.data.length;
    this.indexOwner(path, node.ephemeralOwner);
  }

  // ---- snapshot load (engine/persistence/snapshot.ts): the whole content is replaced

  /** Empties the tree before a snapshot load: no nodes, ACLs, ephemerals or quotas; watches stay. */
  clearForRestore(): void {
    this.nodes.clear();
    this.acls.clear();
    this.ephemerals.clear();
    this.ephemeralPeaks.clear();
    this.quotaPaths.clear();
    this.containers.clear();
    this.ttls.clear();
    this.deletedAcls.clear();
    this.approximateDataSize = 0;
    this.lastZxid = 0;
    this.lastAclZxid = 0;
  }

  /**
   * Snapshot load: adds one node whose parent was restored before it (DataTree.deserialize).
   * A path seen twice replaces the first node, as ZooKeeper's map does. Throws on an orphan.
   */
  restoreNode(path: string, node: ZNode): void {
    const old = this.nodes.get(path);
    if (old !== undefined) this.approximateDataSize -= (path === '/' ? 0 : path.length) + old.data.length;
    if (path !== '/') {
      const parentPath = parentOf(path);
      const parent = this.nodes.get(parentPath);
      if (parent === undefined) throw new Error(`invalid data tree: no parent ${parentPath} for ${path}`);
      const name = baseName(path);
      (parent.children ??= new Set()).add(name);
      const owner = node.ephemeralOwner;
      this.indexOwner(path, owner);
      if (name === QUOTA_LIMITS && parentPath.startsWith(QUOTA_ROOT)) this.quotaPaths.add(parentPath.slice(QUOTA_ROOT.length));
    }
    this.nodes.set(path, node);
    // the root's path is "" in ZooKeeper's accounting
    this.approximateDataSize += (path === '/' ? 0 : path.length) + node.data.length;
  }

  /** Snapshot load done: drops ACL lists no node uses; the root must be there. */
  finishRestore(): void {
    if (!this.nodes.has('/')) throw new Error('invalid data tree: no root node');
    this.acls.purgeUnused();
  }

  /** Files a node under its owner: a session's ephemerals, the containers or the TTL nodes. */
  private indexOwner(path: string, owner: bigint): void {
    if (owner > 0n) {
      let set = this.ephemerals.get(owner);
      if (set === undefined) this.ephemerals.set(owner, (set = new Set()));
      set.add(path);
      if (set.size > (this.ephemeralPeaks.get(owner) ?? 0)) this.ephemeralPeaks.set(owner, set.size);
    } else if (owner === CONTAINER_OWNER) this.containers.add(path);
    else if (owner < 0n) this.ttls.add(path);
  }

  private dropEphemeral(owner: bigint, path: string): void {
    if (owner === CONTAINER_OWNER) this.containers.delete(path);
    else if (owner < 0n) this.ttls.delete(path);
    if (owner <= 0n) return;
    const set = this.ephemerals.get(owner);
    if (set === undefined) return;
    set.delete(path);
    if (set.size === 0) this.ephemerals.delete(owner);
  }

  /** Fires the watches of one event; returns who was notified (for the delete dedupe). */
  private trigger(table: WatchTable, path: string, type: number, zxid: number, skip: Set<WatcherKey> | null, acl: readonly Acl[] | null): Set<WatcherKey> | null {
    const fired = table.collect(path, type === EventType.NodeChildrenChanged);
    if (fired === null) return null;
    const notified = new Set<WatcherKey>();
    for (const w of fired) {
      if (skip !== null && skip.has(w)) continue;
      notified.add(w);
      this.sink(w, type, path, zxid, acl);
    }
    return notified;
  }

  removeWatcher(watcher: WatcherKey): void {
    this.dataWatches.removeWatcher(watcher);
    this.childWatches.removeWatcher(watcher);
  }
}
