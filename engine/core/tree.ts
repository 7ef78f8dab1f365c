// The data tree: znodes by path, their Stat, the ACL cache, ephemerals by session, and
// the one-shot watches they trigger. Synchronous; owned by the pipeline worker alone.
import { type Acl, type Stat, EventType, KeeperError, Err, NULL_DATA, OPEN_ACL_UNSAFE, READ_ACL_UNSAFE, parentOf, baseName } from '../protocol.ts';
import { WatchTable, type WatcherKey } from './watches.ts';
import { HashMapBins, hashMapCapacityFor, hashMapSizeFor } from './javaorder.ts';
import { EphemeralType, I, NodeRecord, NodeStore, NodesView, ZNode, type NodeFields } from './znode.ts';
import { type IndexWalk, NOT_ASCII, PathIndex, RESTORE_NEW } from './path-index.ts';

export { EphemeralType, NodeRecord, NodesView, ZNode, type NodeFields };

/** EphemeralType.CONTAINER_EPHEMERAL_OWNER: Long.MIN_VALUE. */
export const CONTAINER_OWNER = -0x8000000000000000n;

/**
 * EphemeralType.get. With zookeeper.extendedTypesEnabled, an owner whose high byte is 0xFF is
 * an extended type: TTL, the only one, has 0 in the next two bytes (any other value is an
 * error, as in Java). Long.MIN_VALUE is a container either way. Any other non-zero owner is a
 * session, negative ones too: server ids 128..255 put the top bit of a session id in its sign
 * (SessionTrackerImpl.initializeNextSessionId), and with extended types off 0xFF.. is one.
 */
export function ephemeralTypeOf(owner: bigint, extendedTypesEnabled: boolean): number {
  if (owner === 0n) return EphemeralType.void; // most nodes: no BigInt arithmetic
  if (extendedTypesEnabled && owner >> 56n === -1n) {
    if (((owner >> 40n) & 0xffffn) !== 0n) throw new Error(`Invalid ephemeralOwner. [${BigInt.asUintN(64, owner).toString(16)}]`);
    return EphemeralType.ttl;
  }
  if (owner === CONTAINER_OWNER) return EphemeralType.container;
  return owner === 0n ? EphemeralType.void : EphemeralType.normal;
}
const NO_OWNER = 0n;
const ZOOKEEPER_PATH = Buffer.from('/zookeeper');
const EMPTY_DATA = Buffer.alloc(0);
const NONE = -1;

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
const QUOTA_LIMITS_SUFFIX = `/${QUOTA_LIMITS}`;

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
 * ACL, or for NodeChildrenChanged the parent's, as the op that decided the event left it
 * (within a multi, a later op may delete the node). null: nothing to check.
 */
export type WatchSink = (watcher: WatcherKey, type: number, path: string, zxid: number, acl: readonly Acl[] | null) => void;

export class DataTree {
  /** The znodes' fields, by number. */
  readonly store = new NodeStore();
  /** Node numbers by path, in the order the nodes were inserted (the snapshot's walk); read-only outside the tree. */
  readonly index = new PathIndex(this.store);
  /** The nodes as a read-only map of views (tests, tools; the hot paths use get()). */
  readonly nodes: NodesView = new NodesView(this.store);
  /**
   * Numbers of the nodes deleted by txn retiredZxid: not reused until a later txn, since
   * an undo within the txn (a failed multi) puts a deleted node back as it was.
   */
  private retiredZxid = -1;
  private readonly retired: number[] = [];
  /** createNode's fields for the store, reused (versions stay 0). */
  private readonly createFields = new NodeRecord();
  readonly acls = new AclCache();
  readonly ephemerals = new Map<bigint, Set<string>>();
  /** Paths with a quota (a zookeeper_limits node under /zookeeper/quota). */
  readonly quotaPaths = new Set<string>();
  /** Container nodes and TTL nodes, for the ContainerManager's sweep. */
  readonly containers = new Set<string>();
  readonly ttls = new Set<string>();
  /**
   * The size each session's ephemeral HashSet (in ZooKeeper's DataTree) has its table sized
   * for, which fixes its order (closeSessionOrder): the largest size it reached, or more where
   * a crowded bin doubled the table. Kept after the set empties, until the session closes.
   */
  readonly ephemeralPeaks = new Map<bigint, number>();
  /** The bins of those HashSets, while a session has ephemerals. */
  private readonly ephemeralBins = new Map<bigint, HashMapBins>();
  /** The last ZNode.ephemeralSeq given. */
  private ephemeralSeqLast = 0;
  /** The ephemeralPeaks the creates of txn peaksZxid replaced, in their order, for undoCreate. */
  private peaksZxid = -1;
  private readonly peaksReplaced: { path: string; owner: bigint; sizedFor: number | undefined }[] = [];
  readonly dataWatches = new WatchTable();
  readonly childWatches = new WatchTable();
  /** zookeeper.extendedTypesEnabled: whether an owner of 0xFF.. is a TTL node or a session (ephemeralTypeOf). */
  readonly extendedTypesEnabled: boolean;
  lastZxid = 0;
  /**
   * The newest zxid that changed an ACL (setACL changes no zxid field of a Stat): a read
   * checked against an ACL, or showing aversion, reveals state up to here.
   */
  lastAclZxid = 0;
  /** Bytes of paths and data, as ZooKeeper's approximateDataSize. */
  approximateDataSize = 0;
  private sink: WatchSink = () => {};
  /**
   * The events the mutations of txn eventsZxid decided, in the order they applied, each with
   * the ACL its watchers must READ as that op left it (ZooKeeper's DataTree triggers as each
   * op applies; here they wait for fireEvents, after the txn is logged). Only events some
   * watch may fire are kept. Parallel arrays reused across txns: a multi's ops at most.
   */
  private eventsZxid = -1;
  private eventCount = 0;
  private readonly eventTypes: number[] = [];
  private readonly eventPaths: string[] = [];
  private readonly eventAcls: (readonly Acl[])[] = [];

  constructor(options: { extendedTypesEnabled?: boolean } = {}) {
    this.extendedTypesEnabled = options.extendedTypesEnabled ?? false;
    const openRef = this.acls.intern(OPEN_ACL_UNSAFE);
    this.index.addRoot(this.store.add(NodeRecord.of(EMPTY_DATA, openRef, NO_OWNER, 0, 0), EphemeralType.void));
    this.insertSystemNode('/zookeeper', this.acls.intern(OPEN_ACL_UNSAFE));
    this.insertSystemNode('/zookeeper/quota', this.acls.intern(OPEN_ACL_UNSAFE));
    this.insertSystemNode('/zookeeper/config', this.acls.intern(READ_ACL_UNSAFE));
    // ZooKeeper sets the config node's ACL with version -1, so its aversion shows -1
    this.get('/zookeeper/config')!.aversion = -1;
  }

  private insertSystemNode(path: string, aclRef: number): void {
    const i = this.store.add(NodeRecord.of(EMPTY_DATA, aclRef, NO_OWNER, 0, 0), EphemeralType.void);
    const p = this.index.find(parentOf(path));
    const nameStart = path.lastIndexOf('/') + 1;
    this.index.add(i, p, path, nameStart, this.index.childHash(p, path, nameStart));
    this.store.linkChild(p, i);
    this.approximateDataSize += path.length;
  }

  setWatchSink(sink: WatchSink): void {
    this.sink = sink;
  }

  get(path: string): ZNode | undefined {
    const i = this.index.find(path);
    return i === NONE ? undefined : new ZNode(this.store, i);
  }

  /** The number of the node at path, or undefined. */
  indexOf(path: string): number | undefined {
    const i = this.index.find(path);
    return i === NONE ? undefined : i;
  }

  /** A walk of the node numbers in insertion order (safe against changes while walking, as a Map's iterator); close it when done. */
  walkNodes(): IndexWalk {
    return this.index.walk();
  }

  /** The path of node i (rebuilt from its parents' names). */
  pathOf(i: number): string {
    return this.index.pathOf(i);
  }

  nodeCount(): number {
    return this.index.count;
  }

  ephemeralCount(): number {
    let n = 0;
    for (const s of this.ephemerals.values()) n += s.size;
    return n;
  }

  // ---- mutations (each used live and at replay; they assume prep validated them)

  createNode(path: string, data: Buffer, aclRef: number, owner: bigint, parentCVersion: number, zxid: number, timeMs: number): ZNode {
    const parentPath = parentOf(path);
    const p = this.index.find(parentPath);
    if (p === NONE) throw new KeeperError(Err.NONODE, parentPath);
    const nameStart = parentPath.length === 1 ? 1 : parentPath.length + 1;
    const hash = this.index.childHash(p, path, nameStart);
    if (this.index.findChild(p, hash, path, nameStart) !== NONE) throw new KeeperError(Err.NODEEXISTS, path);
    const store = this.store;
    store.setCversion(p, parentCVersion === -1 ? store.cversion(p) + 1 : parentCVersion);
    store.setPzxid(p, zxid);
    if (zxid !== this.retiredZxid) this.releaseRetired();
    const fields = this.createFields;
    fields.data = data;
    fields.aclRef = aclRef;
    fields.ephemeralOwner = owner;
    fields.czxid = fields.mzxid = fields.pzxid = zxid;
    fields.ctime = fields.mtime = timeMs;
    const i = store.add(fields, ephemeralTypeOf(owner, this.extendedTypesEnabled));
    fields.data = EMPTY_DATA; // holds no request buffer (a pool slab) past the call
    store.linkChild(p, i);
    this.index.add(i, p, path, nameStart, hash);
    this.approximateDataSize += path.length + data.length;
    const sizedFor = this.ephemeralPeaks.get(owner);
    this.indexOwner(path, i);
    if (this.ephemeralPeaks.get(owner) !== sizedFor) this.notePeakReplaced(zxid, path, owner, sizedFor);
    if (parentPath.startsWith(QUOTA_ROOT)) this.quotaNodeCreated(parentPath, baseName(path));
    this.updateQuotaStat(path, data.length, 1);
    if (this.dataWatches.mayFire(path)) this.noteEvent(zxid, EventType.NodeCreated, path, this.acls.get(aclRef));
    if (this.childWatches.mayFire(parentPath)) this.noteEvent(zxid, EventType.NodeChildrenChanged, parentPath, this.acls.get(store.n(p, I.aclRef)));
    return new ZNode(store, i);
  }

  deleteNode(path: string, zxid: number): ZNode {
    const i = this.index.find(path);
    if (i === NONE) throw new KeeperError(Err.NONODE, path);
    const parentPath = parentOf(path);
    const p = this.index.parentOf(i);
    const store = this.store;
    const node = new ZNode(store, i);
    this.index.remove(i);
    store.unlinkChild(p, i);
    this.retire(i, zxid);
    // the stored cversion counts creates only (see statInto); a delete moves pzxid
    if (zxid > store.pzxid(p)) store.setPzxid(p, zxid);
    const dataLength = node.dataLength;
    const aclRef = store.n(i, I.aclRef);
    this.approximateDataSize -= path.length + dataLength;
    if (this.dataWatches.mayFire(path) || this.childWatches.mayFire(path)) this.noteEvent(zxid, EventType.NodeDeleted, path, this.acls.get(aclRef));
    if (this.childWatches.mayFire(parentPath)) this.noteEvent(zxid, EventType.NodeChildrenChanged, parentPath, this.acls.get(store.n(p, I.aclRef)));
    if (parentPath.startsWith(QUOTA_ROOT) && baseName(path) === QUOTA_LIMITS) this.quotaPaths.delete(parentPath.slice(QUOTA_ROOT.length));
    this.updateQuotaStat(path, -dataLength, -1);
    this.acls.release(aclRef);
    this.dropEphemeral(i, path);
    return node;
  }

  setData(path: string, data: Buffer, version: number, zxid: number, timeMs: number): ZNode {
    const i = this.index.find(path);
    if (i === NONE) throw new KeeperError(Err.NONODE, path);
    const store = this.store;
    const node = new ZNode(store, i);
    const dataLength = node.dataLength;
    this.approximateDataSize += data.length - dataLength;
    this.updateQuotaStat(path, data.length - dataLength, 0);
    node.data = data;
    store.setRevision(i, version, zxid, timeMs);
    if (this.dataWatches.mayFire(path)) this.noteEvent(zxid, EventType.NodeDataChanged, path, this.acls.get(store.n(i, I.aclRef)));
    return node;
  }

  /**
   * setData for replay, with the path as UTF-8 bytes and the data as a range of a log
   * entry (-1 bytes: null): no path string, no data Buffer. False when it cannot (a quota
   * or a watch would need the path as a string; a path past ASCII): nothing was done, the
   * caller takes the general way. NONODE is true, nothing done, as replay skips it.
   */
  replaySetData(pathBuf: Buffer, pathStart: number, pathBytes: number, dataLengthOrNull: number, dataStart: number, version: number, zxid: number, timeMs: number): boolean {
    if (this.quotaPaths.size > 0 || !this.dataWatches.isEmpty()) return false;
    const i = this.index.findBytes(pathBuf, pathStart, pathBytes);
    if (i === NOT_ASCII) return false;
    if (i === NONE) return true;
    const store = this.store;
    this.approximateDataSize += Math.max(dataLengthOrNull, 0) - store.dataLength(i);
    store.setData(i, pathBuf, dataStart, dataLengthOrNull);
    store.setRevision(i, version, zxid, timeMs);
    return true;
  }

  setAcl(path: string, acls: readonly Acl[], aversion: number): ZNode {
    const node = this.get(path);
    if (node === undefined) throw new KeeperError(Err.NONODE, path);
    const ref = this.acls.intern(acls);
    this.acls.release(node.aclRef);
    node.aclRef = ref;
    node.aversion = aversion;
    return node;
  }

  /**
   * Node i leaves the tree in txn zxid: its number is reused only after a later txn
   * (the numbers of an earlier txn's deletes are let go first, unless undone since).
   */
  private retire(i: number, zxid: number): void {
    if (zxid !== this.retiredZxid) {
      this.releaseRetired();
      this.retiredZxid = zxid;
    }
    this.store.kill(i);
    this.retired.push(i);
  }

  private releaseRetired(): void {
    for (const i of this.retired) this.store.release(i);
    this.retired.length = 0;
  }

  // ---- watch events: decided as each mutation applies, fired once its txn is logged

  /** Keeps one event of txn zxid; a mutation of another zxid first forgets those of the last. */
  private noteEvent(zxid: number, type: number, path: string, acl: readonly Acl[]): void {
    if (zxid !== this.eventsZxid) {
      this.eventsZxid = zxid;
      this.eventCount = 0;
    }
    const i = this.eventCount++;
    this.eventTypes[i] = type;
    this.eventPaths[i] = path;
    this.eventAcls[i] = acl;
  }

  /**
   * Fires the watches of the events txn zxid's mutations decided, in ZooKeeper's order: a
   * NodeDeleted goes to the node's data watchers, then to its child watchers not yet told.
   */
  fireEvents(zxid: number): void {
    const count = zxid === this.eventsZxid ? this.eventCount : 0;
    this.dropEvents();
    for (let i = 0; i < count; i++) {
      const type = this.eventTypes[i];
      const path = this.eventPaths[i];
      const acl = this.eventAcls[i];
      if (type === EventType.NodeChildrenChanged) this.trigger(this.childWatches, path, type, zxid, null, acl);
      else if (type !== EventType.NodeDeleted) this.trigger(this.dataWatches, path, type, zxid, null, acl);
      else this.trigger(this.childWatches, path, type, zxid, this.trigger(this.dataWatches, path, type, zxid, null, acl), acl);
    }
  }

  /** Forgets the events kept (a failed multi's, undone: ZooKeeper never applied them). */
  dropEvents(): void {
    this.eventsZxid = -1;
    this.eventCount = 0;
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
      const store = this.store;
      const walk = (i: number) => {
        count++;
        bytes += store.dataLength(i);
        for (let c = store.firstChild(i); c !== NONE; c = store.nextSibling(c)) walk(c);
      };
      const top = this.index.find(quotaPath);
      if (top !== NONE) walk(top);
      const stats = this.get(`${QUOTA_ROOT}${quotaPath}/${QUOTA_STATS}`);
      if (stats !== undefined) this.replaceQuotaData(stats, formatStatsTrack(new Map([['count', count], ['bytes', bytes]])));
    }
  }

  /** Keeps the stats node of the path's quota current, in place (not a txn), and warns past soft limits. */
  private updateQuotaStat(path: string, bytesDiff: number, countDiff: number): void {
    const prefix = this.quotaPrefixOf(path);
    if (prefix === null) return;
    const stats = this.get(`${QUOTA_ROOT}${prefix}/${QUOTA_STATS}`);
    if (stats === undefined) return;
    const track = parseStatsTrack(stats.data);
    track.set('count', (track.get('count') ?? 0) + countDiff);
    track.set('bytes', (track.get('bytes') ?? 0) + bytesDiff);
    this.replaceQuotaData(stats, formatStatsTrack(track));
    const limits = this.get(`${QUOTA_ROOT}${prefix}/${QUOTA_LIMITS}`);
    if (limits === undefined) return;
    const limit = parseStatsTrack(limits.data);
    for (const key of ['count', 'bytes']) {
      const max = limit.get(key) ?? -1;
      if (max > -1 && max < (track.get(key) ?? 0)) this.quotaWarning?.(`Quota exceeded: ${prefix} ${key}=${track.get(key)} limit=${max}`);
    }
  }

  private replaceQuotaData(node: ZNode, data: Buffer): void {
    this.approximateDataSize += data.length - node.dataLength;
    node.data = data;
  }

  /** Set by the pipeline: where soft-limit warnings go. */
  quotaWarning: ((msg: string) => void) | null = null;

  /** Restores a node's data fields (a multi's setData undone). */
  restoreData(path: string, node: ZNode, data: Buffer, version: number, mzxid: number, mtime: number): void {
    this.dropEvents();
    this.approximateDataSize += data.length - node.dataLength;
    this.updateQuotaStat(path, data.length - node.dataLength, 0);
    node.data = data;
    node.version = version;
    node.mzxid = mzxid;
    node.mtime = mtime;
  }

  // ---- undo, for a multi whose later op failed (live path only)

  /** Reverts createNode: the node goes, the parent's cversion and pzxid are restored. */
  undoCreate(path: string, parentCversion: number, parentPzxid: number): void {
    this.dropEvents();
    const i = this.index.find(path);
    const node = new ZNode(this.store, i);
    const p = this.index.parentOf(i);
    this.updateQuotaStat(path, -node.dataLength, -1);
    this.index.remove(i);
    this.store.unlinkChild(p, i);
    this.retire(i, node.czxid);
    this.store.setCversion(p, parentCversion);
    this.store.setPzxid(p, parentPzxid);
    this.approximateDataSize -= path.length + node.dataLength;
    this.acls.release(node.aclRef);
    this.dropEphemeral(i, path);
    // the session's HashSet is as before: ZooKeeper never applied the create
    const replaced = this.peaksReplaced.at(-1);
    if (replaced === undefined || replaced.path !== path || node.czxid !== this.peaksZxid) return;
    this.peaksReplaced.pop();
    if (replaced.sizedFor === undefined) this.ephemeralPeaks.delete(replaced.owner);
    else this.ephemeralPeaks.set(replaced.owner, replaced.sizedFor);
    this.ephemeralBins.delete(replaced.owner); // counted again at the next create, for the table as it was
  }

  /** Reverts deleteNode with the node object it returned and the acls it held. */
  undoDelete(path: string, node: ZNode, acls: readonly Acl[], parentCversion: number, parentPzxid: number): void {
    const i = node.index;
    if (node.store !== this.store || this.store.isLive(i)) throw new Error(`undoDelete ${path}: not a node this tree deleted in this txn`);
    const p = this.index.parentOf(i);
    this.dropEvents();
    node.aclRef = this.acls.intern(acls);
    this.store.revive(i);
    this.index.reinsert(i);
    this.updateQuotaStat(path, node.dataLength, 1);
    this.store.linkChild(p, i);
    this.store.setCversion(p, parentCversion);
    this.store.setPzxid(p, parentPzxid);
    this.approximateDataSize += path.length + node.dataLength;
    if (node.ephemeralType === EphemeralType.normal) this.refileEphemeral(path, node);
    else this.indexOwner(path, i);
  }

  /**
   * Puts a session's node back among its ephemerals where it was (ZooKeeper never applied
   * the delete): before those that joined after it, as its bin holds them. Its HashSet's
   * table is as it was.
   */
  private refileEphemeral(path: string, node: ZNode): void {
    const owner = node.ephemeralOwner;
    let set = this.ephemerals.get(owner);
    if (set === undefined) this.ephemerals.set(owner, (set = new Set()));
    const later: string[] = [];
    for (const p of set) if (later.length > 0 || this.get(p)!.ephemeralSeq > node.ephemeralSeq) later.push(p);
    for (const p of later) set.delete(p);
    set.add(path);
    for (const p of later) set.add(p);
    this.ephemeralBins.get(owner)?.restore(path);
  }

  // ---- snapshot load (engine/persistence/snapshot.ts): the whole content is replaced

  /** Empties the tree before a snapshot load: no nodes, ACLs, ephemerals or quotas; watches stay. */
  clearForRestore(): void {
    this.index.clear();
    this.store.clear();
    this.retired.length = 0;
    this.retiredZxid = -1;
    this.restoredParentPath = '';
    this.restoredParent = NONE;
    this.acls.clear();
    this.ephemerals.clear();
    this.ephemeralPeaks.clear();
    this.ephemeralBins.clear();
    this.peaksReplaced.length = 0;
    this.quotaPaths.clear();
    this.containers.clear();
    this.ttls.clear();
    this.dropEvents();
    this.approximateDataSize = 0;
    this.lastZxid = 0;
    this.lastAclZxid = 0;
  }

  /**
   * Snapshot load: adds one node whose parent was restored before it (DataTree.deserialize).
   * A path seen twice replaces the first node, as ZooKeeper's map does. Throws on an orphan.
   */
  restoreNode(path: string, f: NodeFields): void {
    const type = ephemeralTypeOf(f.ephemeralOwner, this.extendedTypesEnabled);
    let i: number;
    if (path === '/') {
      const old = this.index.root;
      if (old === NONE) this.index.addRoot((i = this.store.add(f, type)));
      else {
        this.approximateDataSize -= this.store.dataLength(old);
        this.store.assign((i = old), f, type);
      }
      // the root's path is "" in ZooKeeper's accounting
      this.approximateDataSize += this.store.dataLength(i);
      return;
    }
    const p = this.restoredParentOf(path);
    const nameStart = path.lastIndexOf('/') + 1;
    const hash = this.index.childHash(p, path, nameStart);
    const old = this.index.findChild(p, hash, path, nameStart);
    if (old !== NONE) {
      // a repeated path: the first node keeps its number, children and place, and takes the new fields
      this.approximateDataSize -= path.length + this.store.dataLength(old);
      this.store.assign((i = old), f, type);
    } else {
      i = this.store.add(f, type);
      this.index.add(i, p, path, nameStart, hash);
      this.store.linkChild(p, i);
    }
    this.indexOwner(path, i);
    if (path.endsWith(QUOTA_LIMITS_SUFFIX)) {
      const parentPath = this.restoredParentPath;
      if (parentPath.startsWith(QUOTA_ROOT)) this.quotaPaths.add(parentPath.slice(QUOTA_ROOT.length));
    }
    this.approximateDataSize += path.length + this.store.dataLength(i);
  }

  /** restoreNode for a record's path bytes buf[start, start + bytes), no string: false when it needs one (root, owner, /zookeeper, not ASCII, no parent). */
  restoreNodeAt(buf: Buffer, start: number, bytes: number, f: NodeFields): boolean {
    if (bytes < 2 || f.ephemeralOwner !== 0n || (bytes >= 10 && buf[start + 1] === 0x7a && buf.compare(ZOOKEEPER_PATH, 0, 10, start, start + 10) === 0)) return false;
    let i = this.index.restoreAt(buf, start, bytes);
    if (i === NONE) return false;
    if (i === RESTORE_NEW) {
      i = this.store.add(f, EphemeralType.void);
      this.index.fileRestored(i, buf);
      this.store.linkChild(this.index.parentOf(i), i);
    } else {
      // a repeated path: the first node keeps its number, children and place, and takes the new fields
      this.approximateDataSize -= bytes + this.store.dataLength(i);
      this.store.assign(i, f, EphemeralType.void);
    }
    this.approximateDataSize += bytes + this.store.dataLength(i);
    return true;
  }

  /** The parent restoredParentOf found last: a snapshot lists siblings one after another. */
  private restoredParentPath = '';
  private restoredParent = NONE;

  /** The number of path's parent, which must be there; the parent's path in restoredParentPath. */
  private restoredParentOf(path: string): number {
    if (path.charCodeAt(0) !== 0x2f) throw new Error(`invalid data tree: node path ${JSON.stringify(path)} does not start with /`);
    const slash = path.lastIndexOf('/');
    const cached = this.restoredParentPath;
    // path is "<cached>/<name>": no string made for the parent's path, no lookup
    if (this.restoredParent !== NONE && slash === (cached === '/' ? 0 : cached.length) && path.startsWith(cached)) return this.restoredParent;
    const parentPath = slash <= 0 ? '/' : path.slice(0, slash);
    const p = this.index.find(parentPath);
    if (p === NONE) throw new Error(`invalid data tree: no parent ${parentPath} for ${path}`);
    this.restoredParentPath = parentPath;
    this.restoredParent = p;
    return p;
  }

  /** Snapshot load done: drops ACL lists no node uses; the root must be there. */
  finishRestore(): void {
    if (this.index.root === NONE) throw new Error('invalid data tree: no root node');
    this.restoredParentPath = '';
    this.restoredParent = NONE;
    this.acls.purgeUnused();
  }

  /**
   * Files a node under its owner, by its EphemeralType (DataTree.createNode and
   * deserialize): a session's ephemerals, the containers or the TTL nodes.
   */
  private indexOwner(path: string, i: number): void {
    const type = this.store.ephemeralType(i);
    if (type === EphemeralType.normal) {
      const owner = this.store.owner(i);
      let set = this.ephemerals.get(owner);
      if (set === undefined) this.ephemerals.set(owner, (set = new Set()));
      // a snapshot repeating a path: the set keeps its place, the node its ephemeralSeq
      if (set.has(path)) return;
      const peak = this.ephemeralPeaks.get(owner) ?? 0;
      let bins = this.ephemeralBins.get(owner);
      if (bins === undefined) this.ephemeralBins.set(owner, (bins = new HashMapBins(hashMapCapacityFor(peak), set)));
      const grew = bins.put(path, set.size + 1);
      set.add(path);
      this.store.ephemeralSeq.set(i, ++this.ephemeralSeqLast);
      if (grew) bins.recount(set);
      const sizedFor = Math.max(peak, set.size, hashMapSizeFor(bins.capacity));
      if (sizedFor !== peak) this.ephemeralPeaks.set(owner, sizedFor);
    } else if (type === EphemeralType.container) this.containers.add(path);
    else if (type === EphemeralType.ttl) this.ttls.add(path);
  }

  /** Keeps what a create of txn zxid replaced in ephemeralPeaks, for undoCreate; forgets those of earlier txns. */
  private notePeakReplaced(zxid: number, path: string, owner: bigint, sizedFor: number | undefined): void {
    if (zxid !== this.peaksZxid) {
      this.peaksZxid = zxid;
      this.peaksReplaced.length = 0;
    }
    this.peaksReplaced.push({ path, owner, sizedFor });
  }

  /** Takes a node out of the index indexOwner filed it in. */
  private dropEphemeral(i: number, path: string): void {
    const type = this.store.ephemeralType(i);
    if (type === EphemeralType.container) this.containers.delete(path);
    else if (type === EphemeralType.ttl) this.ttls.delete(path);
    if (type !== EphemeralType.normal) return;
    const owner = this.store.owner(i);
    const set = this.ephemerals.get(owner);
    if (set === undefined || !set.delete(path)) return;
    this.ephemeralBins.get(owner)?.remove(path);
    if (set.size > 0) return;
    this.ephemerals.delete(owner);
    this.ephemeralBins.delete(owner);
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

/**
 * ZooKeeperServer.checkQuota: whether a change of bytesDiff data bytes and countDiff nodes
 * at path takes its quota'd subtree past a hard limit (or past the soft one when no hard
 * one is set). Passing a limit is warned about; only a hard limit refuses the change.
 */
export function exceedsHardQuota(tree: DataTree, path: string, bytesDiff: number, countDiff: number, warn: (msg: string) => void): boolean {
  const prefix = tree.quotaPrefixOf(path);
  if (prefix === null) return false;
  const limitsNode = tree.get(`${QUOTA_ROOT}${prefix}/${QUOTA_LIMITS}`);
  const statsNode = tree.get(`${QUOTA_ROOT}${prefix}/${QUOTA_STATS}`);
  if (limitsNode === undefined || statsNode === undefined) return false;
  const limits = parseStatsTrack(limitsNode.data);
  const stats = parseStatsTrack(statsNode.data);
  const exceeds = (diff: number, current: string, soft: string, hard: string): boolean => {
    if (diff === 0) return false;
    const hardLimit = limits.get(hard) ?? -1;
    const softLimit = limits.get(soft) ?? -1;
    if (hardLimit <= -1 && softLimit <= -1) return false;
    const next = (stats.get(current) ?? 0) + diff;
    const limit = hardLimit > -1 ? hardLimit : softLimit;
    if (next <= limit) return false;
    warn(`Quota exceeded: ${prefix} [current ${current}=${next}, ${hardLimit > -1 ? 'hard' : 'soft'}${current === 'count' ? 'Count' : 'Byte'}Limit=${limit}]`);
    return hardLimit > -1;
  };
  return exceeds(countDiff, 'count', 'count', 'countHardLimit') || exceeds(bytesDiff, 'bytes', 'bytes', 'byteHardLimit');
}

/**
 * The newest zxid whose txn a read of path can reveal. A node: its data and Stat (mzxid),
 * its child list, cversion and numChildren (pzxid moves with every child create and
 * delete), its ACL and aversion (setACL moves no Stat zxid: the tree's last ACL change).
 * No node: the pzxid of the nearest existing ancestor — whatever removed the path (or
 * an ancestor of it) was a delete under that ancestor, and a child is deleted before its
 * parent. Under /zookeeper (quota stats change in place, without a zxid): the newest.
 */
export function revealedZxid(tree: DataTree, path: string, n: ZNode | undefined): number {
  if (path === '/zookeeper' || path.startsWith('/zookeeper/')) return tree.lastZxid;
  if (n !== undefined) return Math.max(n.mzxid, n.pzxid, tree.lastAclZxid);
  let at = path;
  while (at !== '/' && at.length > 0) {
    const slash = at.lastIndexOf('/');
    at = slash <= 0 ? '/' : at.slice(0, slash);
    const ancestor = tree.get(at);
    if (ancestor !== undefined) return ancestor.pzxid;
  }
  return tree.lastZxid;
}
