// One-shot watches, as ZooKeeper's WatchManager: path → watchers, and watcher → paths
// so a closed connection drops all of its watches at once. A watcher is a connection key.

export type WatcherKey = number;

export class WatchTable {
  private byPath = new Map<string, Set<WatcherKey>>();
  private byWatcher = new Map<WatcherKey, Set<string>>();

  add(path: string, watcher: WatcherKey): void {
    let set = this.byPath.get(path);
    if (set === undefined) this.byPath.set(path, (set = new Set()));
    set.add(watcher);
    let paths = this.byWatcher.get(watcher);
    if (paths === undefined) this.byWatcher.set(watcher, (paths = new Set()));
    paths.add(path);
  }

  has(path: string, watcher: WatcherKey): boolean {
    return this.byPath.get(path)?.has(watcher) ?? false;
  }

  /** Removes and returns the watchers of path (one-shot), or null when none. */
  take(path: string): Set<WatcherKey> | null {
    const set = this.byPath.get(path);
    if (set === undefined) return null;
    this.byPath.delete(path);
    for (const w of set) {
      const paths = this.byWatcher.get(w);
      if (paths === undefined) continue;
      paths.delete(path);
      if (paths.size === 0) this.byWatcher.delete(w);
    }
    return set;
  }

  removeWatcher(watcher: WatcherKey): void {
    const paths = this.byWatcher.get(watcher);
    if (paths === undefined) return;
    this.byWatcher.delete(watcher);
    for (const p of paths) {
      const set = this.byPath.get(p);
      if (set === undefined) continue;
      set.delete(watcher);
      if (set.size === 0) this.byPath.delete(p);
    }
  }

  /** Removes one watch; true when it was there. */
  remove(path: string, watcher: WatcherKey): boolean {
    const set = this.byPath.get(path);
    if (set === undefined || !set.delete(watcher)) return false;
    if (set.size === 0) this.byPath.delete(path);
    const paths = this.byWatcher.get(watcher);
    if (paths !== undefined) {
      paths.delete(path);
      if (paths.size === 0) this.byWatcher.delete(watcher);
    }
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

  entriesByPath(): IterableIterator<[string, Set<WatcherKey>]> {
    return this.byPath.entries();
  }
}

const EMPTY: ReadonlySet<string> = new Set();
