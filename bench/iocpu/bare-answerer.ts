// A bare one-thread ZooKeeper answerer: the floor for Node sockets (issue 13: zooid within
// 1.3x of it at 100% reads, 200 connections x 1 request in flight). Answers a ConnectRequest,
// then any request at once with a reply header and, for getData, VALUE_BYTES of data and a
// zero Stat (setData: a Stat; create: a 20-byte path); no tree, no sessions, no ordering work.
// Run the load generator against it with --no-setup.
// usage: node bench/iocpu/bare-answerer.ts PORT [VALUE_BYTES]
import net from 'node:net';
const port = Number(process.argv[2]);
const valueBytes = Number(process.argv[3] ?? 1024);
const STAT = 68;
const connectReply = Buffer.alloc(4 + 4 + 4 + 8 + 4 + 16 + 1);
connectReply.writeInt32BE(connectReply.length - 4, 0); connectReply.writeInt32BE(30000, 8); connectReply.writeBigInt64BE(1n, 12); connectReply.writeInt32BE(16, 20);
let sid = 1n;
net.createServer({ noDelay: true }, (s) => {
  let connected = false; let pending: Buffer | null = null;
  s.on('data', (chunk: Buffer) => {
    let b = pending === null ? chunk : Buffer.concat([pending, chunk]);
    let off = 0;
    while (b.length - off >= 4) {
      const len = b.readInt32BE(off);
      if (b.length - off - 4 < len) break;
      if (!connected) { connected = true; const r = Buffer.from(connectReply); r.writeBigInt64BE(sid++, 12); s.write(r); }
      else {
        const xid = b.readInt32BE(off + 4); const type = b.readInt32BE(off + 8);
        const body = type === 4 ? 4 + valueBytes + STAT : type === 5 ? STAT : type === 1 ? 4 + 20 : 0;
        const r = Buffer.allocUnsafe(4 + 16 + body); r.fill(0);
        r.writeInt32BE(16 + body, 0); r.writeInt32BE(xid, 4);
        if (type === 4) r.writeInt32BE(valueBytes, 20);
        if (type === 1) r.writeInt32BE(20, 20);
        s.write(r);
      }
      off += 4 + len;
    }
    pending = off === b.length ? null : Buffer.from(b.subarray(off));
  });
  s.on('error', () => {});
}).listen(port, '127.0.0.1');
