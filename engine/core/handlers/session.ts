// Session requests answered outside the txn path: ping, and authentication (addauth and
// SASL), whose replies carry zxid 0 as ZooKeeper's do.
import { Err, Xid, beginReply } from '../../protocol.ts';
import type { Handler } from '../opcodes.ts';
export const ping: Handler = (p, conn, _s, xid) => {
  p.finish(conn.key, p.beginOk(xid));
};

export const sasl: Handler = (p, conn, _s, xid, r) => {
  p.saslStep(conn, xid, r.buffer() ?? EMPTY_TOKEN);
};

const EMPTY_TOKEN = Buffer.alloc(0);

export const auth: Handler = (p, conn, _s, _xid, r) => {
  r.int();
  const scheme = r.ustring();
  const data = r.buffer();
  if (p.addAuth(conn, scheme, data)) {
    p.finish(conn.key, beginReply(p.writer.reset(), Xid.auth, 0, Err.OK));
    return;
  }
  p.counters.authFailed++;
  p.log('warn', `authentication with scheme ${scheme} failed for ${conn.addr}:${conn.port}`, { kind: 'authentication failed', conn: conn.key });
  const at = beginReply(p.writer.reset(), Xid.auth, 0, Err.AUTHFAILED);
  p.writer.endFrame(at);
  p.emit(conn.key, p.tree.lastZxid);
  p.dropConnection(conn);
};

