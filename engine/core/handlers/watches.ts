// Watch requests: setWatches/setWatches2 after a reconnect (fire what was missed,
// re-register the rest), addWatch (persistent, persistent-recursive), checkWatches and
// removeWatches.
import { Err, KeeperError, writeWatchEvent, readStrings } from '../../protocol.ts';
import { WatchMode, type WatchTable } from '../watches.ts';
import type { DataTree } from '../tree.ts';
import type { Handler } from '../opcodes.ts';
export function setWatchesWith(v2: boolean): Handler {
  return (p, conn, _s, xid, r) => {
    const relativeZxid = r.longNumber();
    const data = readStrings(r);
    const exist = readStrings(r);
    const child = readStrings(r);
    const persistent = v2 ? readStrings(r) : [];
    const recursive = v2 ? readStrings(r) : [];
    const tree = p.tree;
    const fire = (type: number, path: string) => {
      writeWatchEvent(p.writer.reset(), type, path);
      p.emit(conn.key, tree.lastZxid);
    };
    for (const path of data) {
      const n = tree.get(path);
      if (n === undefined) fire(2, path);
      else if (n.mzxid > relativeZxid) fire(3, path);
      else tree.dataWatches.add(path, conn.key);
    }
    for (const path of exist) {
      if (tree.get(path) !== undefined) fire(1, path);
      else tree.dataWatches.add(path, conn.key);
    }
    for (const path of child) {
      const n = tree.get(path);
      if (n === undefined) fire(2, path);
      else if (n.pzxid > relativeZxid) fire(4, path);
      else tree.childWatches.add(path, conn.key);
    }
    // persistent watches are re-registered without replaying what was missed, as ZooKeeper
    for (const path of persistent) addPersistentWatch(tree, path, conn.key, WatchMode.persistent);
    for (const path of recursive) addPersistentWatch(tree, path, conn.key, WatchMode.persistentRecursive);
    p.finish(conn.key, p.beginOk(xid));
  };
}

/** DataTree.addWatch: persistent watches sit in both tables, recursive ones in the data table. */
function addPersistentWatch(tree: DataTree, path: string, watcher: number, mode: number): void {
  tree.dataWatches.add(path, watcher, mode);
  if (mode !== WatchMode.persistentRecursive) tree.childWatches.add(path, watcher, mode);
}

/** addWatch (AddWatchRequest {path, mode}): 0 persistent, 1 persistent recursive. */
export const addWatch: Handler = (p, conn, _s, xid, r) => {
  const path = r.ustring();
  const mode = r.int();
  // WatcherMode.fromZooDef rejects other modes; ZooKeeper answers MARSHALLINGERROR
  if (mode !== 0 && mode !== 1) throw new KeeperError(Err.MARSHALLINGERROR);
  addPersistentWatch(p.tree, path, conn.key, mode === 0 ? WatchMode.persistent : WatchMode.persistentRecursive);
  const at = p.beginOk(xid);
  p.writer.int(0); // ErrorResponse {err}
  p.finish(conn.key, at);
};

/** WatcherType in CheckWatchesRequest / RemoveWatchesRequest: 1 children, 2 data, 3 any. */
function watchTablesFor(tree: DataTree, type: number): WatchTable[] {
  if (type === 1) return [tree.childWatches];
  if (type === 2) return [tree.dataWatches];
  if (type === 3) return [tree.childWatches, tree.dataWatches];
  throw new KeeperError(Err.BADARGUMENTS);
}

export const checkWatches: Handler = (p, conn, _s, xid, r) => {
  const path = r.ustring();
  const type = r.int();
  if (!watchTablesFor(p.tree, type).some((t) => t.has(path, conn.key))) throw new KeeperError(Err.NOWATCHER);
  p.finish(conn.key, p.beginOk(xid));
};

export const removeWatches: Handler = (p, conn, _s, xid, r) => {
  const path = r.ustring();
  const type = r.int();
  let removed = false;
  for (const t of watchTablesFor(p.tree, type)) if (t.remove(path, conn.key)) removed = true;
  if (!removed) throw new KeeperError(Err.NOWATCHER);
  p.finish(conn.key, p.beginOk(xid));
};

