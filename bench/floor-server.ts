// The floor for CPU per op (issue 13: "within 1.3× of a bare one-thread Node answerer"): a
// ZooKeeper wire-protocol answerer in one Node thread, with nothing of a coordination server
// behind it. It speaks just enough of the jute protocol for the load generator — connect,
// create, delete, exists, getData, setData, getChildren, ping, closeSession, the srvr and
// ruok four-letter words — over a Map of paths, with no durability, no sessions beyond the
// socket, no watches, no ACLs and no limits. What it costs per op is what reading a request
// and writing its reply through Node's sockets costs on this machine, so zooid's CPU per op
// over it is the price of zooid's threads, rings and server semantics.
//
//   node bench/floor-server.ts --port P        serves on 127.0.0.1:P until SIGTERM
//
// Not a server to use for anything else: a bad frame closes the connection, and everything
// is lost at exit.
import net from 'node:net';

const PROTOCOL_VERSION = 0;
const SESSION_TIMEOUT_MS = 30_000;
const STAT_BYTES = 68;
const REPLY_HEADER_BYTES = 16; // xid, zxid, err
const FRAME_BYTES_MAX = 1 << 20;

const Op = { create: 1, delete: 2, exists: 3, getData: 4, setData: 5, getChildren: 8, ping: 11, getChildren2: 12, create2: 15, closeSession: -11 } as const;
const Err = { OK: 0, UNIMPLEMENTED: -6, NONODE: -101, BADVERSION: -103, NODEEXISTS: -110 } as const;

interface FloorNode {
  data: Buffer;
  czxid: number;
  mzxid: number;
  ctimeMs: number;
  mtimeMs: number;
  version: number;
  children: Set<string>;
}

const nodes = new Map<string, FloorNode>([['/', newNode(Buffer.alloc(0), 0)]]);
let lastZxid = 0;
let nextSessionId = BigInt(Date.now()) << 16n;

function newNode(data: Buffer, zxid: number): FloorNode {
  const now = Date.now();
  return { data, czxid: zxid, mzxid: zxid, ctimeMs: now, mtimeMs: now, version: 0, children: new Set() };
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? '/' : path.slice(0, slash);
}

/** A request body being read: position advances over jute fields. */
class Body {
  readonly buf: Buffer;
  at: number;
  constructor(buf: Buffer, start: number) {
    this.buf = buf;
    this.at = start;
  }
  int(): number {
    const v = this.buf.readInt32BE(this.at);
    this.at += 4;
    return v;
  }
  bytes(): Buffer {
    const n = this.int();
    if (n < 0) return Buffer.alloc(0);
    const v = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
  string(): string {
    return this.bytes().toString('utf8');
  }
}

/** A non-negative safe integer as a jute long, without a BigInt. */
function writeLong(out: Buffer, at: number, v: number): void {
  out.writeUInt32BE(Math.floor(v / 0x1_0000_0000), at);
  out.writeUInt32BE(v >>> 0, at + 4);
}

function writeStat(out: Buffer, at: number, n: FloorNode): number {
  writeLong(out, at, n.czxid);
  writeLong(out, at + 8, n.mzxid);
  writeLong(out, at + 16, n.ctimeMs);
  writeLong(out, at + 24, n.mtimeMs);
  out.writeInt32BE(n.version, at + 32);
  out.writeInt32BE(0, at + 36); // cversion
  out.writeInt32BE(0, at + 40); // aversion
  writeLong(out, at + 44, 0); // ephemeralOwner
  out.writeInt32BE(n.data.length, at + 52);
  out.writeInt32BE(n.children.size, at + 56);
  writeLong(out, at + 60, n.mzxid); // pzxid
  return at + STAT_BYTES;
}

/** A whole reply frame: length, header, then `bodyBytes` written by `body` at the returned offset. */
function reply(xid: number, err: number, bodyBytes: number, body?: (out: Buffer, at: number) => void): Buffer {
  const out = Buffer.allocUnsafe(4 + REPLY_HEADER_BYTES + bodyBytes);
  out.writeInt32BE(REPLY_HEADER_BYTES + bodyBytes, 0);
  out.writeInt32BE(xid, 4);
  writeLong(out, 8, lastZxid);
  out.writeInt32BE(err, 16);
  body?.(out, 20);
  return out;
}

function statReply(xid: number, n: FloorNode | undefined): Buffer {
  return n === undefined ? reply(xid, Err.NONODE, 0) : reply(xid, Err.OK, STAT_BYTES, (out, at) => writeStat(out, at, n));
}

function create(xid: number, type: number, b: Body): Buffer {
  const path = b.string();
  const data = Buffer.from(b.bytes());
  const parent = nodes.get(parentOf(path));
  if (parent === undefined) return reply(xid, Err.NONODE, 0);
  if (nodes.has(path)) return reply(xid, Err.NODEEXISTS, 0);
  const n = newNode(data, ++lastZxid);
  nodes.set(path, n);
  parent.children.add(path.slice(path.lastIndexOf('/') + 1));
  const name = Buffer.from(path);
  const statBytes = type === Op.create2 ? STAT_BYTES : 0;
  return reply(xid, Err.OK, 4 + name.length + statBytes, (out, at) => {
    out.writeInt32BE(name.length, at);
    name.copy(out, at + 4);
    if (statBytes > 0) writeStat(out, at + 4 + name.length, n);
  });
}

function answer(xid: number, type: number, b: Body): Buffer | null {
  switch (type) {
    case Op.getData: {
      const n = nodes.get(b.string());
      if (n === undefined) return reply(xid, Err.NONODE, 0);
      return reply(xid, Err.OK, 4 + n.data.length + STAT_BYTES, (out, at) => {
        out.writeInt32BE(n.data.length, at);
        n.data.copy(out, at + 4);
        writeStat(out, at + 4 + n.data.length, n);
      });
    }
    case Op.setData: {
      const n = nodes.get(b.string());
      const data = b.bytes();
      const version = b.int();
      if (n === undefined) return reply(xid, Err.NONODE, 0);
      if (version !== -1 && version !== n.version) return reply(xid, Err.BADVERSION, 0);
      n.data = Buffer.from(data);
      n.version++;
      n.mzxid = ++lastZxid;
      n.mtimeMs = Date.now();
      return statReply(xid, n);
    }
    case Op.exists:
      return statReply(xid, nodes.get(b.string()));
    case Op.create:
    case Op.create2:
      return create(xid, type, b);
    case Op.delete: {
      const path = b.string();
      const n = nodes.get(path);
      if (n === undefined) return reply(xid, Err.NONODE, 0);
      nodes.delete(path);
      nodes.get(parentOf(path))?.children.delete(path.slice(path.lastIndexOf('/') + 1));
      lastZxid++;
      return reply(xid, Err.OK, 0);
    }
    case Op.getChildren:
    case Op.getChildren2: {
      const n = nodes.get(b.string());
      if (n === undefined) return reply(xid, Err.NONODE, 0);
      const names = [...n.children].map((c) => Buffer.from(c));
      const listBytes = 4 + names.reduce((sum, c) => sum + 4 + c.length, 0);
      return reply(xid, Err.OK, listBytes + (type === Op.getChildren2 ? STAT_BYTES : 0), (out, at) => {
        out.writeInt32BE(names.length, at);
        at += 4;
        for (const c of names) {
          out.writeInt32BE(c.length, at);
          c.copy(out, at + 4);
          at += 4 + c.length;
        }
        if (type === Op.getChildren2) writeStat(out, at, n);
      });
    }
    case Op.ping:
      return reply(xid, Err.OK, 0);
    case Op.closeSession:
      return null;
    default:
      return reply(xid, Err.UNIMPLEMENTED, 0);
  }
}

function connectReply(): Buffer {
  const out = Buffer.alloc(4 + 4 + 4 + 8 + 4 + 16 + 1);
  out.writeInt32BE(out.length - 4, 0);
  out.writeInt32BE(PROTOCOL_VERSION, 4);
  out.writeInt32BE(SESSION_TIMEOUT_MS, 8);
  out.writeBigInt64BE(nextSessionId++, 12);
  out.writeInt32BE(16, 20); // password: 16 zero bytes
  return out;
}

const FOUR_LETTER_WORDS: Record<string, () => string> = {
  ruok: () => 'imok',
  srvr: () => `Zookeeper version: floor answerer (bench/floor-server.ts, node ${process.version})\nZxid: 0x${lastZxid.toString(16)}\nMode: standalone\nNode count: ${nodes.size}\n`,
};

function serve(socket: net.Socket): void {
  socket.setNoDelay(true);
  let pending: Buffer | null = null;
  let connected = false;
  socket.on('data', (chunk: Buffer) => {
    const buf = pending === null ? chunk : Buffer.concat([pending, chunk]);
    if (!connected && buf.length >= 4) {
      const word = FOUR_LETTER_WORDS[buf.toString('latin1', 0, 4)];
      if (word !== undefined) {
        socket.end(word());
        return;
      }
    }
    const replies: Buffer[] = [];
    let at = 0;
    while (buf.length - at >= 4) {
      const len = buf.readInt32BE(at);
      if (len < 0 || len > FRAME_BYTES_MAX) {
        socket.destroy();
        return;
      }
      if (buf.length - at - 4 < len) break;
      const start = at + 4;
      at = start + len;
      if (!connected) {
        connected = true;
        replies.push(connectReply());
        continue;
      }
      const b = new Body(buf, start);
      const xid = b.int();
      const type = b.int();
      const out = answer(xid, type, b);
      if (out === null) {
        socket.end(reply(xid, Err.OK, 0));
        return;
      }
      replies.push(out);
    }
    pending = at === buf.length ? null : Buffer.from(buf.subarray(at));
    // one write per chunk read: with one request per chunk, one write per request
    if (replies.length === 1) socket.write(replies[0]);
    else if (replies.length > 1) socket.write(Buffer.concat(replies));
  });
  socket.on('error', () => socket.destroy());
}

function main(): void {
  const i = process.argv.indexOf('--port');
  const port = i === -1 ? 2181 : Number(process.argv[i + 1]);
  const server = net.createServer(serve);
  server.listen(port, '127.0.0.1', () => console.log(`floor answerer serving on 127.0.0.1:${port}`));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
  process.on('SIGINT', () => process.exit(0));
}

main();
