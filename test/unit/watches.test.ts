// The watch table (engine/core/watches.ts), as ZooKeeper's WatchManager: standard watches
// fire once, persistent ones every time, persistent-recursive ones for the path and every
// descendant except on NodeChildrenChanged; a closed connection's watches go at once; and
// the counts wchs shows. The watchers each trigger fires in the first six tests are what
// ZooKeeper 3.8.0's WatchManager fires in the same steps (fixtures/zookeeper-java/WatchOracle.java).
import { describe, it, expect } from 'vitest';
import { WatchTable, WatchMode, type WatcherKey } from '../../engine/core/watches.ts';
import { formatWchs } from '../../engine/ops/fourlw.ts';

const DATA = false;
const CHILDREN = true;

/** What collect fires, as a sorted array (null when nothing fires). */
function fire(table: WatchTable, path: string, childrenChanged: boolean): WatcherKey[] | null {
  const fired = table.collect(path, childrenChanged);
  return fired === null ? null : [...fired].sort((a, b) => a - b);
}

/** Triggers each [path, childrenChanged] in turn and expects the watchers it fires. */
function expectFiring(table: WatchTable, steps: [string, boolean, WatcherKey[] | null][]): void {
  for (const [path, childrenChanged, expected] of steps) expect(fire(table, path, childrenChanged), `${path} ${childrenChanged ? 'children' : 'data'}`).toEqual(expected);
}

function counts(table: WatchTable) {
  return { watches: table.watchCount(), paths: table.pathCount(), watchers: table.watcherCount() };
}

describe('WatchTable', () => {
  it('a standard watch fires once, for whichever event comes first, then is gone from both indexes', () => {
    const table = new WatchTable();
    table.add('/a', 1);
    table.add('/a', 2);
    table.add('/b', 1);
    expect(counts(table)).toEqual({ watches: 3, paths: 2, watchers: 2 });
    expect(fire(table, '/a', DATA)).toEqual([1, 2]);
    expect(fire(table, '/a', DATA)).toBeNull();
    expect(table.watches('/a')).toBe(false);
    expect([...table.pathsOf(1)]).toEqual(['/b']);
    expect(table.pathsOf(2).size).toBe(0);
    expect(counts(table)).toEqual({ watches: 1, paths: 1, watchers: 1 });
    expect(fire(table, '/b', CHILDREN)).toEqual([1]);
    expect(counts(table)).toEqual({ watches: 0, paths: 0, watchers: 0 });
  });

  it('fires nothing for a path nobody watches, nor for a watched path\'s parent or child', () => {
    const table = new WatchTable();
    table.add('/a/b', 1);
    table.add('/a/b', 2, WatchMode.persistent);
    expectFiring(table, [['/a', DATA, null], ['/a/b/c', DATA, null], ['/a/bc', DATA, null]]);
    expect(counts(table)).toEqual({ watches: 2, paths: 1, watchers: 2 });
  });

  it('a persistent watch fires for every event on its path and stays', () => {
    const table = new WatchTable();
    table.add('/a', 7, WatchMode.persistent);
    for (const childrenChanged of [DATA, CHILDREN, DATA, CHILDREN]) expect(fire(table, '/a', childrenChanged)).toEqual([7]);
    expect(table.has('/a', 7)).toBe(true);
    expect(fire(table, '/a/b', DATA)).toBeNull();
  });

  it('a persistent recursive watch fires for its path and every descendant, never for NodeChildrenChanged', () => {
    const table = new WatchTable();
    table.add('/a', 1, WatchMode.persistentRecursive);
    table.add('/', 2, WatchMode.persistentRecursive);
    expect(table.hasRecursive()).toBe(true);
    expectFiring(table, [
      ['/a', DATA, [1, 2]], ['/a/b/c', DATA, [1, 2]], ['/ab', DATA, [2]], ['/', DATA, [2]],
      ['/a', CHILDREN, null], ['/a/b', CHILDREN, null],
    ]);
    expect(counts(table)).toEqual({ watches: 2, paths: 2, watchers: 2 });
  });

  it('a descendant\'s own standard watch fires (and goes) alongside its ancestors\' recursive ones, each watcher once', () => {
    const table = new WatchTable();
    table.add('/a', 1, WatchMode.persistentRecursive);
    table.add('/a/b', 1);
    table.add('/a/b', 2);
    expect(fire(table, '/a/b', DATA)).toEqual([1, 2]);
    expect(table.has('/a/b', 1)).toBe(false);
    expect(fire(table, '/a/b', DATA)).toEqual([1]);
    // NodeChildrenChanged: the standard child watch fires, the recursive one does not
    table.add('/a/b', 3);
    expect(fire(table, '/a/b', CHILDREN)).toEqual([3]);
  });

  it('a later watch on the same path replaces the mode (a standard one after a persistent one fires once)', () => {
    const table = new WatchTable();
    table.add('/a', 1, WatchMode.persistent);
    table.add('/a', 1);
    expect(counts(table)).toEqual({ watches: 1, paths: 1, watchers: 1 });
    expect(fire(table, '/a', DATA)).toEqual([1]);
    expect(fire(table, '/a', DATA)).toBeNull();
    table.add('/r', 1, WatchMode.persistentRecursive);
    table.add('/r', 1, WatchMode.persistentRecursive);
    expect(table.hasRecursive()).toBe(true);
    table.add('/r', 1, WatchMode.persistent);
    expect(table.hasRecursive()).toBe(false);
    expect(fire(table, '/r/x', DATA)).toBeNull();
  });

  it('remove takes one watch and says whether it was there; removeWatcher takes all of a watcher\'s', () => {
    const table = new WatchTable();
    table.add('/a', 1);
    table.add('/b', 1, WatchMode.persistentRecursive);
    table.add('/c', 1, WatchMode.persistent);
    table.add('/a', 2);
    expect(table.remove('/a', 3)).toBe(false);
    expect(table.remove('/zz', 1)).toBe(false);
    expect(table.remove('/c', 1)).toBe(true);
    expect(table.remove('/c', 1)).toBe(false);
    expect(counts(table)).toEqual({ watches: 3, paths: 2, watchers: 2 });
    table.removeWatcher(1);
    expect(table.hasRecursive()).toBe(false);
    expect(table.pathsOf(1).size).toBe(0);
    expect(counts(table)).toEqual({ watches: 1, paths: 1, watchers: 1 });
    expect(fire(table, '/b/x', DATA)).toBeNull();
    expect(fire(table, '/a', DATA)).toEqual([2]);
    table.removeWatcher(42); // unknown: nothing to do
  });

  it('lists watches by path, and its counts are the ones wchs prints', () => {
    const table = new WatchTable();
    // connections 10 and 11 belong to sessions 0xa and 0xb
    const sessionOf = new Map<WatcherKey, bigint>([[10, 0xan], [11, 0xbn]]);
    table.add('/app/config', 10);
    table.add('/app/config', 11);
    table.add('/app/missing', 11);
    table.add('/locks', 11, WatchMode.persistent);
    const listed = [...table.entriesByPath()].map(([path, watchers]) => [path, [...watchers].sort((a, b) => a - b)]);
    expect(listed.sort()).toEqual([['/app/config', [10, 11]], ['/app/missing', [11]], ['/locks', [11]]]);
    const dataWatches = [...table.entriesByPath()].flatMap(([path, watchers]) => [...watchers].map((w) => ({ path, sessionId: sessionOf.get(w)! })));
    const { watches, paths, watchers } = counts(table);
    expect(formatWchs({ dataWatches })).toBe(`${watchers} connections watching ${paths} paths\nTotal watches:${watches}\n`);
    expect(formatWchs({ dataWatches })).toBe('2 connections watching 3 paths\nTotal watches:4\n');
  });
});
