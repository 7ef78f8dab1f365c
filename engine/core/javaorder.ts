// Iteration orders of Java's hash tables (OpenJDK 17), for the few places where Apache
// ZooKeeper exposes one to clients: a session's ephemerals, a HashSet<String>, give the order
// in which a closed session's nodes are deleted (and so of the watch events that follow); a
// connection's auth ids, a set over a ConcurrentHashMap, give whoAmI's order and that of an
// "auth" ACL's expansion.

/** java.lang.String.hashCode over UTF-16 code units. */
export function javaStringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/** HashMap.TREEIFY_THRESHOLD (ConcurrentHashMap's too): a bin that holds more entries than this is made a tree... */
const TREEIFY_THRESHOLD = 8;
/** ...when the table has at least MIN_TREEIFY_CAPACITY bins; a smaller table is resized instead. */
const MIN_TREEIFY_CAPACITY = 64;
/** A tree bin split by a resize into this many entries or fewer becomes a list again. */
const UNTREEIFY_THRESHOLD = 6;

/** HashMap.hash: the high half folded into the low one; the bin is its low bits. */
function hashMapBin(key: string, capacity: number): number {
  const h = javaStringHash(key);
  return (h ^ (h >>> 16)) & (capacity - 1);
}

/** The table capacity a HashMap reaches holding `size` entries (default 16, load 0.75). */
export function hashMapCapacityFor(peakSize: number): number {
  let cap = 16;
  while (peakSize > cap * 0.75) cap *= 2;
  return cap;
}

/** The least size hashMapCapacityFor takes to this capacity: what a table of that many bins is sized for. */
export function hashMapSizeFor(capacity: number): number {
  return capacity <= 16 ? 0 : (capacity / 2) * 0.75 + 1;
}

/** Orders items as a Java HashSet of this capacity iterates them, given insertion order. */
export function javaHashSetOrder(items: readonly string[], capacity: number): string[] {
  const keyed = items.map((s, i) => ({ s, i, bucket: hashMapBin(s, capacity) }));
  keyed.sort((a, b) => a.bucket - b.bucket || a.i - b.i);
  return keyed.map((k) => k.s);
}

/**
 * How a Java HashMap with String keys and default sizing spreads them, as far as its order
 * depends on it: its bins and how many keys each holds. A key goes to the end of its bin and
 * a resize keeps each bin's order, so the keys iterate bin by bin in the order they were put
 * (javaHashSetOrder). Not modeled: a bin made a tree (a key put where eight or more are, in
 * a table of 64 bins or more), whose keys iterate in HashMap.TreeNode's order.
 */
export class HashMapBins {
  capacity: number;
  private counts: Int32Array;

  constructor(capacity: number, keys: Iterable<string>) {
    this.capacity = capacity;
    this.counts = new Int32Array(capacity);
    this.recount(keys);
  }

  /**
   * HashMap.putVal of a key not in the map, whose size is sizeAfter with it: a ninth key in a
   * bin of a table under 64 bins doubles the table (treeifyBin resizes instead of making a
   * tree), and so does a size past 0.75 of the bins. True when the table grew: recount then.
   */
  put(key: string, sizeAfter: number): boolean {
    const before = this.counts[hashMapBin(key, this.capacity)]++;
    let capacity = this.capacity;
    if (before >= TREEIFY_THRESHOLD && capacity < MIN_TREEIFY_CAPACITY) capacity *= 2;
    if (sizeAfter > capacity * 0.75) capacity *= 2;
    if (capacity === this.capacity) return false;
    this.capacity = capacity;
    return true;
  }

  /** A key removed and put back where it was (a remove undone): its bin holds one more; the table stays. */
  restore(key: string): void {
    this.counts[hashMapBin(key, this.capacity)]++;
  }

  /** HashMap.remove of a key in the map: its bin holds one fewer; the table stays. */
  remove(key: string): void {
    this.counts[hashMapBin(key, this.capacity)]--;
  }

  /** Counts the keys per bin again (the map's keys, after the table grew). */
  recount(keys: Iterable<string>): void {
    if (this.counts.length !== this.capacity) this.counts = new Int32Array(this.capacity);
    else this.counts.fill(0);
    for (const key of keys) this.counts[hashMapBin(key, this.capacity)]++;
  }
}

/**
 * The order of CloseSessionTxn.paths2Delete: the session's ephemeral HashSet, whose table is
 * sized for sizedFor entries (DataTree.ephemeralPeaks), is cloned and the clone iterated.
 * HashMap.clone (OpenJDK 17's putMapEntries) sizes the copy's table for the current size,
 * tableSizeFor(size / 0.75 + 1), then puts the keys in the source's order, where a crowded
 * bin may double it again.
 */
export function closeSessionOrder(paths: readonly string[], sizedFor: number): string[] {
  const source = javaHashSetOrder(paths, hashMapCapacityFor(sizedFor));
  let capacity = 1;
  const wanted = Math.floor(paths.length / 0.75 + 1);
  while (capacity < wanted) capacity *= 2;
  const clone = new HashMapBins(capacity, []);
  for (let i = 0; i < source.length; i++) if (clone.put(source[i], i + 1)) clone.recount(source.slice(0, i + 1));
  return javaHashSetOrder(source, clone.capacity);
}

/** org.apache.zookeeper.data.Id.hashCode (jute-generated): 37 × (37 × 17 + scheme) + id. */
export function javaIdHash(scheme: string, id: string): number {
  return (Math.imul(37, (Math.imul(37, 17) + javaStringHash(scheme)) | 0) + javaStringHash(id)) | 0;
}

/** ConcurrentHashMap.spread: the high half folded into the low one, the sign bit cleared. */
function chmSpread(hash: number): number {
  return (hash ^ (hash >>> 16)) & 0x7fffffff;
}

/** A bin of the ConcurrentHashMap model: its entries in iteration order, and whether it is a TreeBin. */
interface ChmBin<T> {
  entries: { item: T; hash: number }[];
  tree: boolean;
}

/**
 * ConcurrentHashMap with its default sizing, as far as its iteration order goes, for keys
 * only ever added (a connection's auth ids). Its table starts at 16 bins and doubles when
 * the count reaches 0.75 of them (addCount: one entry sooner than a HashMap). A transfer
 * splits each list bin keeping the longest tail that goes to one half as it is and putting
 * the entries before it, reversed, in front of their half. A bin that reaches 9 entries
 * resizes the table to 8 times its bins when it has fewer than 64 (treeifyBin's tryPresize)
 * and becomes a TreeBin otherwise, which puts later keys first; a TreeBin keeps its order
 * through a transfer (one of 6 entries or fewer becomes a list again).
 */
class ChmModel<T> {
  private bins: (ChmBin<T> | null)[] = new Array(16).fill(null);
  private count = 0;
  /** sizeCtl once the table exists: 0.75 of the bins. */
  private sizeCtl = 12;

  /** putVal of a key not in the map (the caller skips equal ones). */
  put(item: T, hashCode: number): void {
    const hash = chmSpread(hashCode);
    const i = hash & (this.bins.length - 1);
    const bin = this.bins[i];
    if (bin === null) {
      this.bins[i] = { entries: [{ item, hash }], tree: false };
    } else if (bin.tree) {
      bin.entries.unshift({ item, hash }); // TreeBin.putTreeVal: the new node becomes first
    } else {
      const before = bin.entries.length;
      bin.entries.push({ item, hash });
      if (before >= TREEIFY_THRESHOLD) this.treeifyBin(bin);
    }
    this.count++;
    while (this.count >= this.sizeCtl) this.transfer(); // addCount
  }

  private treeifyBin(bin: ChmBin<T>): void {
    const n = this.bins.length;
    if (n >= MIN_TREEIFY_CAPACITY) {
      bin.tree = true;
      return;
    }
    // tryPresize(n << 1): grows while the wanted capacity is above sizeCtl
    const size = n << 1;
    let wanted = 1;
    while (wanted < size + (size >>> 1) + 1) wanted *= 2;
    while (wanted > this.sizeCtl) this.transfer();
  }

  private transfer(): void {
    const n = this.bins.length;
    const next: (ChmBin<T> | null)[] = new Array(n * 2).fill(null);
    for (let i = 0; i < n; i++) {
      const bin = this.bins[i];
      if (bin === null) continue;
      let low: ChmBin<T>['entries'];
      let high: ChmBin<T>['entries'];
      if (bin.tree) {
        low = bin.entries.filter((e) => (e.hash & n) === 0);
        high = bin.entries.filter((e) => (e.hash & n) !== 0);
      } else {
        let lastRun = bin.entries.length - 1;
        while (lastRun > 0 && (bin.entries[lastRun - 1].hash & n) === (bin.entries[lastRun].hash & n)) lastRun--;
        const tail = bin.entries.slice(lastRun);
        const tailHigh = (tail[0].hash & n) !== 0;
        low = tailHigh ? [] : tail;
        high = tailHigh ? tail : [];
        for (let j = 0; j < lastRun; j++) (((bin.entries[j].hash & n) === 0) ? low : high).unshift(bin.entries[j]);
      }
      if (low.length > 0) next[i] = { entries: low, tree: bin.tree && low.length > UNTREEIFY_THRESHOLD };
      if (high.length > 0) next[i + n] = { entries: high, tree: bin.tree && high.length > UNTREEIFY_THRESHOLD };
    }
    this.bins = next;
    this.sizeCtl = (n << 1) - (n >>> 1);
  }

  /** The keys as the map's iterator yields them: bin by bin, each bin in its order. */
  items(): T[] {
    const out: T[] = [];
    for (const bin of this.bins) if (bin !== null) for (const e of bin.entries) out.push(e.item);
    return out;
  }
}

/**
 * The order ServerCnxn.getAuthInfo() lists a connection's ids in (whoAmI shows it, and
 * PrepRequestProcessor.fixupACL expands "auth" in it): a set over a ConcurrentHashMap,
 * with ids added in the order given (an id given twice is one).
 */
export function authInfoOrder<T extends { scheme: string; id: string }>(ids: readonly T[]): T[] {
  const map = new ChmModel<T>();
  const seen = new Set<string>();
  for (const x of ids) {
    const key = `${x.scheme}\u0000${x.id}`;
    if (seen.has(key)) continue;
    seen.add(key);
    map.put(x, javaIdHash(x.scheme, x.id));
  }
  return map.items();
}
