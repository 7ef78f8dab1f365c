// Iteration orders of Java's HashSet<String>, for the few places where Apache ZooKeeper
// exposes one to clients (the order in which a closed session's ephemerals are deleted,
// and so the order of the watch events that follow).

/** java.lang.String.hashCode over UTF-16 code units. */
export function javaStringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/** The table capacity a HashMap reaches holding `size` entries (default 16, load 0.75). */
export function hashMapCapacityFor(peakSize: number): number {
  let cap = 16;
  while (peakSize > cap * 0.75) cap *= 2;
  return cap;
}

/** Orders items as a Java HashSet of this capacity iterates them, given insertion order. */
export function javaHashSetOrder(items: readonly string[], capacity: number): string[] {
  const keyed = items.map((s, i) => {
    const h = javaStringHash(s);
    return { s, i, bucket: (h ^ (h >>> 16)) & (capacity - 1) };
  });
  keyed.sort((a, b) => a.bucket - b.bucket || a.i - b.i);
  return keyed.map((k) => k.s);
}

/**
 * The order of CloseSessionTxn.paths2Delete: the session's ephemeral HashSet (whose
 * capacity grew with its peak size) is cloned — HashMap.clone sizes the copy for its
 * current size — and the clone is iterated.
 */
export function closeSessionOrder(paths: readonly string[], peakSize: number): string[] {
  const source = javaHashSetOrder(paths, hashMapCapacityFor(peakSize));
  let cloneCap = 1;
  const wanted = Math.floor(paths.length / 0.75 + 1);
  while (cloneCap < wanted) cloneCap *= 2;
  return javaHashSetOrder(source, cloneCap);
}

/** org.apache.zookeeper.data.Id.hashCode (jute-generated): 37 × (37 × 17 + scheme) + id. */
export function javaIdHash(scheme: string, id: string): number {
  return (Math.imul(37, (Math.imul(37, 17) + javaStringHash(scheme)) | 0) + javaStringHash(id)) | 0;
}

/**
 * The order ServerCnxn.getAuthInfo() lists a connection's ids in (whoAmI shows it): a hash
 * set of them (16 bins, growing as a HashMap's past 12 ids), iterated bin by bin,
 * insertion order within a bin.
 */
export function authInfoOrder<T extends { scheme: string; id: string }>(ids: readonly T[]): T[] {
  const capacity = hashMapCapacityFor(ids.length);
  const keyed = ids.map((x, i) => {
    const h = javaIdHash(x.scheme, x.id);
    return { x, i, bin: (h ^ (h >>> 16)) & (capacity - 1) };
  });
  keyed.sort((a, b) => a.bin - b.bin || a.i - b.i);
  return keyed.map((k) => k.x);
}
