// ZooKeeper's wire constants (ZooDefs.OpCode, KeeperException.Code, Watcher.Event,
// ZooDefs.Perms) and the records of zookeeper.jute that the engine reads and writes.
import { JuteReader, JuteWriter } from '../native-free-io/jute.ts';

export const Op = {
  notification: 0,
  create: 1,
  delete: 2,
  exists: 3,
  getData: 4,
  setData: 5,
  getACL: 6,
  setACL: 7,
  getChildren: 8,
  sync: 9,
  ping: 11,
  getChildren2: 12,
  check: 13,
  multi: 14,
  create2: 15,
  reconfig: 16,
  checkWatches: 17,
  removeWatches: 18,
  createContainer: 19,
  deleteContainer: 20,
  createTTL: 21,
  multiRead: 22,
  auth: 100,
  setWatches: 101,
  sasl: 102,
  getEphemerals: 103,
  getAllChildrenNumber: 104,
  setWatches2: 105,
  addWatch: 106,
  whoAmI: 107,
  createSession: -10,
  closeSession: -11,
  error: -1,
} as const;

export const Err = {
  OK: 0,
  SYSTEMERROR: -1,
  RUNTIMEINCONSISTENCY: -2,
  DATAINCONSISTENCY: -3,
  CONNECTIONLOSS: -4,
  MARSHALLINGERROR: -5,
  UNIMPLEMENTED: -6,
  OPERATIONTIMEOUT: -7,
  BADARGUMENTS: -8,
  UNKNOWNSESSION: -12,
  NEWCONFIGNOQUORUM: -13,
  RECONFIGINPROGRESS: -14,
  APIERROR: -100,
  NONODE: -101,
  NOAUTH: -102,
  BADVERSION: -103,
  NOCHILDRENFOREPHEMERALS: -108,
  NODEEXISTS: -110,
  NOTEMPTY: -111,
  SESSIONEXPIRED: -112,
  INVALIDCALLBACK: -113,
  INVALIDACL: -114,
  AUTHFAILED: -115,
  SESSIONMOVED: -118,
  NOTREADONLY: -119,
  EPHEMERALONLOCALSESSION: -120,
  NOWATCHER: -121,
  RECONFIGDISABLED: -123,
  SESSIONCLOSEDREQUIRESASLAUTH: -124,
  QUOTAEXCEEDED: -125,
  THROTTLEDOP: -127,
} as const;

/** Thrown by prep handlers; carries a ZooKeeper error code. */
export class KeeperError extends Error {
  code: number;
  constructor(code: number, message = '') {
    super(message);
    this.code = code;
  }
}

/**
 * A write whose txn would be larger than ZooKeeper can read back from the log (jute.maxbuffer
 * + zookeeper.jute.maxbuffer.extrasize): refused with MARSHALLINGERROR before anything is
 * applied or logged.
 */
export class TxnTooLargeError extends KeeperError {
  constructor(bytes: number, bytesMax: number) {
    super(Err.MARSHALLINGERROR, `txn of at least ${bytes} bytes is over the ${bytesMax}-byte bound (jute.maxbuffer + zookeeper.jute.maxbuffer.extrasize)`);
  }
}

export const EventType = {
  None: -1,
  NodeCreated: 1,
  NodeDeleted: 2,
  NodeDataChanged: 3,
  NodeChildrenChanged: 4,
  DataWatchRemoved: 5,
  ChildWatchRemoved: 6,
  PersistentWatchRemoved: 7,
} as const;

export const KeeperState = {
  Disconnected: 0,
  SyncConnected: 3,
  AuthFailed: 4,
  ConnectedReadOnly: 5,
  Expired: -112,
  Closed: 7,
} as const;

export const Perm = {
  READ: 1,
  WRITE: 2,
  CREATE: 4,
  DELETE: 8,
  ADMIN: 16,
  ALL: 31,
} as const;

export const Xid = {
  notification: -1,
  ping: -2,
  auth: -4,
  setWatches: -8,
} as const;

/** CreateMode flags as sent in CreateRequest.flags. */
export const CreateFlag = {
  persistent: 0,
  ephemeral: 1,
  persistentSequential: 2,
  ephemeralSequential: 3,
  container: 4,
  persistentWithTtl: 5,
  persistentSequentialWithTtl: 6,
} as const;

export interface Id {
  scheme: string;
  id: string;
}

export interface Acl {
  perms: number;
  id: Id;
}

export const OPEN_ACL_UNSAFE: readonly Acl[] = Object.freeze([{ perms: Perm.ALL, id: { scheme: 'world', id: 'anyone' } }]);
export const READ_ACL_UNSAFE: readonly Acl[] = Object.freeze([{ perms: Perm.READ, id: { scheme: 'world', id: 'anyone' } }]);

/** Stat as sent to clients (dataLength and numChildren are derived). */
export interface Stat {
  czxid: number;
  mzxid: number;
  ctime: number;
  mtime: number;
  version: number;
  cversion: number;
  aversion: number;
  ephemeralOwner: bigint;
  dataLength: number;
  numChildren: number;
  pzxid: number;
}

export function readAcls(r: JuteReader): Acl[] {
  const n = r.vectorLength();
  const acls: Acl[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const perms = r.int();
    const scheme = r.ustring();
    const id = r.ustring();
    acls[i] = { perms, id: { scheme, id } };
  }
  return acls;
}

export function writeAcls(w: JuteWriter, acls: readonly Acl[]): void {
  w.int(acls.length);
  for (const a of acls) {
    w.int(a.perms);
    w.string(a.id.scheme);
    w.string(a.id.id);
  }
}

export function readStrings(r: JuteReader): string[] {
  const n = r.vectorLength();
  const out: string[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = r.ustring();
  return out;
}

export function writeStrings(w: JuteWriter, items: Iterable<string>, count: number): void {
  w.int(count);
  for (const s of items) w.string(s);
}

// ---- connect handshake

export interface ConnectRequest {
  protocolVersion: number;
  lastZxidSeen: number;
  timeoutMs: number;
  sessionId: bigint;
  passwd: Buffer;
  readOnly: boolean;
}

export function readConnectRequest(r: JuteReader): ConnectRequest {
  const protocolVersion = r.int();
  const lastZxidSeen = r.longNumber();
  const timeoutMs = r.int();
  const sessionId = r.long();
  const passwd = Buffer.from(r.buffer() ?? Buffer.alloc(0));
  // clients older than 3.4 omit the readOnly byte
  const readOnly = r.remaining() > 0 ? r.bool() : false;
  return { protocolVersion, lastZxidSeen, timeoutMs, sessionId, passwd, readOnly };
}

/** A whole ConnectResponse frame, length prefix included. */
export function writeConnectResponse(w: JuteWriter, timeoutMs: number, sessionId: bigint, passwd: Uint8Array, readOnly: boolean): void {
  const at = w.beginFrame();
  w.int(0);
  w.int(timeoutMs);
  w.long(sessionId);
  w.buffer(passwd);
  w.bool(readOnly);
  w.endFrame(at);
}

// ---- stat

export function writeStat(w: JuteWriter, s: Stat): void {
  w.longNumber(s.czxid);
  w.longNumber(s.mzxid);
  w.longNumber(s.ctime);
  w.longNumber(s.mtime);
  w.int(s.version);
  w.int(s.cversion);
  w.int(s.aversion);
  w.long(s.ephemeralOwner);
  w.int(s.dataLength);
  w.int(s.numChildren);
  w.longNumber(s.pzxid);
}

/** Starts a reply frame: length placeholder and ReplyHeader. Returns the frame start for endFrame. */
export function beginReply(w: JuteWriter, xid: number, zxid: number, err: number): number {
  const at = w.beginFrame();
  w.int(xid);
  w.longNumber(zxid);
  w.int(err);
  return at;
}

/** A watch notification frame: ReplyHeader(-1, zxid, 0) + WatcherEvent. */
export function writeWatchEvent(w: JuteWriter, type: number, path: string): void {
  // Apache ZooKeeper 3.8 sends -1 as the notification's zxid
  const at = beginReply(w, Xid.notification, -1, 0);
  w.int(type);
  w.int(KeeperState.SyncConnected);
  w.string(path);
  w.endFrame(at);
}

// ---- txn records (zookeeper.jute, module org.apache.zookeeper.txn)

export interface TxnHeader {
  sessionId: bigint;
  cxid: number;
  zxid: number;
  timeMs: number;
  type: number;
}

export function writeTxnHeader(w: JuteWriter, h: TxnHeader): void {
  w.long(h.sessionId);
  w.int(h.cxid);
  w.longNumber(h.zxid);
  w.longNumber(h.timeMs);
  w.int(h.type);
}

export function readTxnHeader(r: JuteReader): TxnHeader {
  const sessionId = r.long();
  const cxid = r.int();
  const zxid = r.longNumber();
  const timeMs = r.longNumber();
  const type = r.int();
  return { sessionId, cxid, zxid, timeMs, type };
}

/** Paths ZooKeeper rejects (PathUtils.validatePath). Returns a reason or null. */
export function invalidPathReason(path: string): string | null {
  if (path.length === 0) return 'Path length must be > 0';
  if (path.charCodeAt(0) !== 0x2f) return 'Path must start with / character';
  if (path.length === 1) return null;
  if (path.charCodeAt(path.length - 1) === 0x2f) return 'Path must not end with / character';
  let last = 0x2f;
  for (let i = 1; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0) return `null character not allowed @${i}`;
    if (c === 0x2f && last === 0x2f) return `empty node name specified @${i}`;
    if (c === 0x2e && last === 0x2e) {
      const before = path.charCodeAt(i - 2);
      const after = i + 1 === path.length ? 0x2f : path.charCodeAt(i + 1);
      if (before === 0x2f && after === 0x2f) return `relative paths not allowed @${i}`;
    } else if (c === 0x2e) {
      const before = path.charCodeAt(i - 1);
      const after = i + 1 === path.length ? 0x2f : path.charCodeAt(i + 1);
      if (before === 0x2f && after === 0x2f) return `relative paths not allowed @${i}`;
    } else if ((c > 0x00 && c <= 0x1f) || (c >= 0x7f && c <= 0x9f) || (c >= 0xd800 && c <= 0xf8ff) || (c >= 0xfff0 && c <= 0xffff)) {
      return `invalid character @${i}`;
    }
    last = c;
  }
  return null;
}

/** Znode data that a client set to null (jute length -1); kept apart from empty data. */
export const NULL_DATA: Buffer = Buffer.alloc(0);

export function readData(r: JuteReader): Buffer {
  const b = r.buffer();
  return b === null ? NULL_DATA : Buffer.from(b);
}

export function writeData(w: JuteWriter, data: Buffer): void {
  w.buffer(data === NULL_DATA ? null : data);
}

export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
