// Session requests answered outside the txn path: ping, and authentication (addauth and
// SASL, decided by engine/core/auth.ts), whose replies carry zxid 0 as ZooKeeper's do.
import { Err, Xid, beginReply } from '../../protocol.ts';
import type { Handler } from '../opcodes.ts';

export const ping: Handler = (p, conn, _s, xid) => {
  p.finish(conn.key, p.beginOk(xid));
};

const EMPTY_TOKEN = Buffer.alloc(0);
const SASL_ERR = { ok: Err.OK, authFailed: Err.AUTHFAILED, requireSasl: Err.SESSIONCLOSEDREQUIRESASLAUTH } as const;

/** A SetSASLResponse: its header carries zxid 0; a failed exchange closes the connection after it. */
export const sasl: Handler = (p, conn, s, xid, r) => {
  const answer = p.auth.saslStep(conn, s.id, r.buffer() ?? EMPTY_TOKEN);
  if (answer.failed) p.counters.authFailed++;
  const at = beginReply(p.writer.reset(), xid, 0, SASL_ERR[answer.err]);
  p.writer.buffer(answer.token);
  p.finish(conn.key, at);
  if (answer.close) p.dropConnection(conn);
};

export const auth: Handler = (p, conn, _s, _xid, r) => {
  r.int();
  const scheme = r.ustring();
  const data = r.buffer();
  if (p.auth.add(conn, scheme, data)) {
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
