// Watches, as ZooKeeper's WatchManager: path → watchers with a mode each, and watcher →
// paths so a closed connection drops all of its watches at once. A watcher is a
// connection key. Standard watches fire once; persistent ones stay; persistent-recursive
// ones also fire for every descendant (except NodeChildrenChanged).

export type WatcherKey = number;

export const WatchMode = {
  standard: 0,
  persistent: 1,
  persistentRecursive: 2,
} as const;

export class WatchTable {
  private byPath = new Map<string, Map<WatcherKey, number>>();
  private byWatcher = new Map<WatcherKey, Set<string>>();
  /** Recursive watches present: only then do triggers walk a path's ancestors. */
  private recursiveCount = 0;
  /** Reused by collect(): the watchers one trigger fires. */
  private readonly fired = new Set<WatcherKey>();

  /** Adds or re-moded a watch (a later standard watch replaces a persistent one, as ZooKeeper). */
  add(path: string, watcher: WatcherKey, mode: number = WatchMode.standard): void {
    let watchers = this.byPath.get(path);
    if (watchers === undefined) this.byPath.set(path, (watchers = new Map()));
    const old = watchers.get(watcher);
    if (old === WatchMode.persistentRecursive) this.recursiveCount--;
    if (mode === WatchMode.persistentRecursive) this.recursiveCount++;
    watchers.set(watcher, mode);
    let paths = this.byWatcher.get(watcher);
    if (paths === undefined) this.byWatcher.set(watcher, (paths = new Set()));
    paths.add(path);
  }

  hasRecursive(): boolean {
    return this.recursiveCount > 0;
  }

  /** Whether a change at path may fire a watch: one set on path, or any recursive one. */
  mayFire(path: string): boolean {
    // size first: a path string fresh from a txn would be hashed for a lookup in an empty map
    return this.recursiveCount > 0 || (this.byPath.size > 0 && this.byPath.has(path));
  }

  /** Whether no watch at all is set. */
  isEmpty(): boolean {
    return this.byPath.size === 0 && this.recursiveCount === 0;
  }

  /** Whether any watch is set on path itself. */
  watches(path: string): boolean {
    return this.byPath.has(path);
  }

  has(path: string, watcher: WatcherKey): boolean {
    return this.byPath.get(path)?.has(watcher) ?? false;
  }

  /**
   * The watchers a change at `path` of this event type fires, in the order ZooKeeper's
   * table yields them. Standard watches that fire are removed. The set is reused: read it
   * before the next call. Returns null when nothing fires.
   */
  collect(path: string, childrenChanged: boolean): ReadonlySet<WatcherKey> | null {
    const fired = this.fired;
    fired.clear();
    const own = this.byPath.get(path);
    if (own !== undefined) {
      for (const [w, mode] of own) {
        if (mode === WatchMode.persistentRecursive) {
          if (!childrenChanged) fired.add(w);
        } else {
          fired.add(w);
          if (mode === WatchMode.standard) this.removeEntry(own, path, w);
        }
      }
      if (own.size === 0) this.byPath.delete(path);
    }
    if (this.recursiveCount > 0 && !childrenChanged) {
      let at = path;
      while (at !== '/') {
        const slash = at.lastIndexOf('/');
        at = slash === 0 ? '/' : at.slice(0, slash);
        const watchers = this.byPath.get(at);
        if (watchers === undefined) continue;
        for (const [w, mode] of watchers) if (mode === WatchMode.persistentRecursive) fired.add(w);
      }
    }
    return fired.size === 0 ? null : fired;
  }

  private removeEntry(watchers: Map<WatcherKey, number>, path: string, w: WatcherKey): void {
    if (watchers.get(w) === WatchMode.persistentRecursive) this.recursiveCount--;
    watchers.delete(w);
    const paths = this.byWatcher.get(w);
    if (paths === undefined) return;
    paths.delete(path);
    if (paths.size === 0) this.byWatcher.delete(w);
  }

  removeWatcher(watcher: WatcherKey): void {
    const paths = this.byWatcher.get(watcher);
    if (paths === undefined) return;
    for (const p of [...paths]) this.remove(p, watcher);
  }

  /** Removes one watch; true when it was there. */
  remove(path: string, watcher: WatcherKey): boolean {
    const watchers = this.byPath.get(path);
    if (watchers === undefined || !watchers.has(watcher)) return false;
    this.removeEntry(watchers, path, watcher);
    if (watchers.size === 0) this.byPath.delete(path);
    return true;
  }

  watchCount(): number {
    let n = 0;
    for (const set of this.byPath.values()) n += set.size;
    return n;
  }

  pathCount(): number {
    return this.byPath.size;
  }

  watcherCount(): number {
    return this.byWatcher.size;
  }

  pathsOf(watcher: WatcherKey): ReadonlySet<string> {
    return this.byWatcher.get(watcher) ?? EMPTY;
  }

  *entriesByPath(): IterableIterator<[string, Iterable<WatcherKey>]> {
    for (const [path, watchers] of this.byPath) yield [path, watchers.keys()];
  }
}

const EMPTY: ReadonlySet<string> = new Set();
