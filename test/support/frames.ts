// Client frames for tests that drive a Pipeline directly (no sockets): a ConnectRequest, a
// request with its header, a create, and a reply header read back.
import { JuteReader, JuteWriter } from '../../native-free-io/jute.ts';
import { type Acl, Op, OPEN_ACL_UNSAFE, writeAcls } from '../../engine/protocol.ts';

export function connectFrame(timeoutMs: number, sessionId = 0n, passwd: Uint8Array = Buffer.alloc(16), lastZxidSeen = 0): Buffer {
  return new JuteWriter(128).int(0).longNumber(lastZxidSeen).int(timeoutMs).long(sessionId).buffer(passwd).bool(false).copy();
}

/** RequestHeader(xid, type) and the record `body` writes. */
export function request(xid: number, type: number, body: (w: JuteWriter) => void): Buffer {
  const w = new JuteWriter(256);
  w.int(xid).int(type);
  body(w);
  return w.copy();
}

export function createRequest(xid: number, path: string, type: number = Op.create, acls: readonly Acl[] = OPEN_ACL_UNSAFE): Buffer {
  return request(xid, type, (w) => {
    w.string(path).buffer(Buffer.from('v'));
    writeAcls(w, acls);
    w.int(0);
  });
}

/** A reply frame's header: [len][xid][zxid][err]. */
export function replyHeader(frame: Buffer): { xid: number; zxid: number; err: number } {
  const r = new JuteReader(frame, 4);
  return { xid: r.int(), zxid: r.longNumber(), err: r.int() };
}
