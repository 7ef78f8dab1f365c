// Read handlers (FinalRequestProcessor): answered from the tree as the pipeline has it.
// The tagged reads (engine/core/opcodes.ts) look at the tree only through p.node() and
// p.lookup(), so their replies can leave as soon as the state they reveal is durable.
import type { JuteReader } from '../../../native-free-io/jute.ts';
import { Op, Err, Perm, KeeperError, writeStat, writeAcls } from '../../protocol.ts';
import type { Handler } from '../opcodes.ts';
import type { NodeStore } from '../znode.ts';
export const exists: Handler = (p, conn, _s, xid, r) => {
  const path = r.ustring();
  const watch = r.bool();
  if (path.includes('\u0000')) throw new KeeperError(Err.BADARGUMENTS);
  const n = p.lookup(path);
  // ZOOKEEPER-2590 (3.8.4, 3.9.2): an existing node needs READ; a missing one is not checked
  if (n !== undefined) p.checkAcl(p.aclOf(n), Perm.READ, conn);
  if (watch) p.tree.dataWatches.add(path, conn.key);
  if (n === undefined) throw new KeeperError(Err.NONODE);
  const at = p.beginOk(xid);
  writeStat(p.writer, p.statOf(n));
  p.finish(conn.key, at);
};

export const getData: Handler = (p, conn, _s, xid, r) => {
  const path = r.ustring();
  const watch = r.bool();
  const n = p.node(path);
  p.checkAcl(p.aclOf(n), Perm.READ, conn);
  if (watch) p.tree.dataWatches.add(path, conn.key);
  const at = p.beginOk(xid);
  n.writeData(p.writer);
  writeStat(p.writer, p.statOf(n));
  p.finish(conn.key, at);
};

export function getChildrenWith(withStat: boolean): Handler {
  return (p, conn, _s, xid, r) => {
    const path = r.ustring();
    const watch = r.bool();
    const n = p.node(path);
    p.checkAcl(p.aclOf(n), Perm.READ, conn);
    if (watch) p.tree.childWatches.add(path, conn.key);
    const w = p.writer;
    const at = p.beginOk(xid);
    w.int(n.numChildren());
    n.writeChildNames(w);
    if (withStat) writeStat(w, p.statOf(n));
    p.finish(conn.key, at);
  };
}

export const getACL: Handler = (p, conn, _s, xid, r) => {
  const path = r.ustring();
  const n = p.node(path);
  const acls = p.aclOf(n);
  p.checkAcl(acls, Perm.READ | Perm.ADMIN, conn);
  // without ADMIN, digest hashes are masked (CVE-2019-0201) as Java's id.replaceAll(":.*", ":x"): every match, "." stopping at \n \r \u0085 \u2028 \u2029
  const shown = p.allowed(acls, Perm.ADMIN, conn) ? acls : acls.map((a) => (a.id.scheme === 'digest' ? { perms: a.perms, id: { scheme: 'digest', id: a.id.id.replace(/:[^\n\r\u0085\u2028\u2029]*/g, ':x') } } : a));
  const at = p.beginOk(xid);
  writeAcls(p.writer, shown);
  writeStat(p.writer, p.statOf(n));
  p.finish(conn.key, at);
};

export const sync: Handler = (p, conn, _s, xid, r) => {
  const path = r.ustring();
  const at = p.beginOk(xid);
  p.writer.string(path);
  p.finish(conn.key, at);
};

function readOp(type: number, r: JuteReader): { path: string; watch: boolean } {
  void type;
  return { path: r.ustring(), watch: r.bool() };
}

export const multiRead: Handler = (p, conn, _s, xid, r) => {
  const ops: { type: number; path: string; watch: boolean }[] = [];
  for (;;) {
    const type = r.int();
    const done = r.bool();
    r.int();
    if (done) break;
    if (type !== Op.getChildren && type !== Op.getData) throw new KeeperError(Err.BADARGUMENTS);
    ops.push({ type, ...readOp(type, r) });
  }
  const w = p.writer;
  const at = p.beginOk(xid);
  for (const op of ops) {
    const n = p.tree.get(op.path);
    let err: number = n === undefined ? Err.NONODE : Err.OK;
    if (n !== undefined && !p.allowed(p.aclOf(n), Perm.READ, conn)) err = Err.NOAUTH;
    if (err !== Err.OK || n === undefined) {
      w.int(Op.error).bool(false).int(err).int(err);
      continue;
    }
    w.int(op.type).bool(false).int(0);
    if (op.type === Op.getData) {
      if (op.watch) p.tree.dataWatches.add(op.path, conn.key);
      n.writeData(w);
      writeStat(w, p.statOf(n));
    } else {
      if (op.watch) p.tree.childWatches.add(op.path, conn.key);
      w.int(n.numChildren());
      n.writeChildNames(w);
    }
  }
  w.int(-1).bool(true).int(-1);
  p.finish(conn.key, at);
};

/** Nodes below node i, at any depth (a walk of the children lists, no path made). */
function descendantCount(store: NodeStore, i: number): number {
  let count = 0;
  const stack = [i];
  while (stack.length > 0) {
    for (let c = store.firstChild(stack.pop()!); c !== -1; c = store.nextSibling(c)) {
      count++;
      if (store.childCount(c) > 0) stack.push(c);
    }
  }
  return count;
}

export const getAllChildrenNumber: Handler = (p, conn, _s, xid, r) => {
  const path = r.ustring();
  const n = p.node(path);
  p.checkAcl(p.aclOf(n), Perm.READ, conn);
  const count = descendantCount(p.tree.store, n.index);
  const at = p.beginOk(xid);
  p.writer.int(count);
  p.finish(conn.key, at);
};

export const getEphemerals: Handler = (p, conn, s, xid, r) => {
  const prefix = r.ustring();
  const set = p.tree.ephemerals.get(s.id);
  const list = set === undefined ? [] : [...set].filter((x) => prefix === '/' || x.startsWith(prefix));
  const at = p.beginOk(xid);
  p.writer.int(list.length);
  for (const x of list) p.writer.string(x);
  p.finish(conn.key, at);
};

export const whoAmI: Handler = (p, conn, _s, xid) => {
  const at = p.beginOk(xid);
  // ZooKeeper keeps a connection's ids (super included) in a hash set and shows its iteration order: authIds' (auth.ts)
  const ids = conn.authIds;
  p.writer.int(ids.length);
  for (const i of ids) p.writer.string(i.scheme).string(p.auth.userOf(i));
  p.finish(conn.key, at);
};

