// A ZooKeeper stand-in for load generator tests: it speaks just enough of the protocol
// (connect handshake, reply headers with empty bodies) and misbehaves on request: error
// codes, dropped connections, or silence.
import net from 'node:net';

export interface FakeBehaviour {
  /** Answer every Nth request (counted per server) with this error code. */
  errorEvery?: { n: number; code: number };
  /** Close each connection once, after it has received this many requests. */
  dropAfterRequests?: number;
  /** Stop answering anything after this many requests in total. */
  stallAfterRequests?: number;
  /** Hold each connection's replies until this many are ready, then send them in one write. */
  replyBatch?: number;
  /** Close connections past this many open ones before their handshake (as maxClientCnxns does). */
  connectionsMax?: number;
}

/** The server's counters, live (read them while it runs). */
export interface FakeServer {
  port: number;
  requests: number;
  connections: number;
  /** 'data' events that carried at least one whole request (the handshake's excluded). */
  requestChunks: number;
  /** The most requests one 'data' event completed. */
  requestsPerChunkMax: number;
  /** The most connections open at once that had not been sent their handshake reply. */
  handshakesPendingMax: number;
  /** Connections closed at once for being past connectionsMax. */
  refused: number;
  close(): Promise<void>;
}

export async function startFakeServer(behaviour: FakeBehaviour = {}): Promise<FakeServer> {
  const sockets = new Set<net.Socket>();
  let dropped = 0;
  const state: FakeServer = {
    port: 0, requests: 0, connections: 0, requestChunks: 0, requestsPerChunkMax: 0, handshakesPendingMax: 0, refused: 0,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      void dropped;
    },
  };
  let handshakesPending = 0;
  let nextSession = 1n;
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    if (behaviour.connectionsMax !== undefined && sockets.size >= behaviour.connectionsMax) {
      state.refused++;
      socket.destroy();
      return;
    }
    sockets.add(socket);
    state.connections++;
    let handshaken = false;
    handshakesPending++;
    state.handshakesPendingMax = Math.max(state.handshakesPendingMax, handshakesPending);
    socket.on('close', () => {
      sockets.delete(socket);
      if (!handshaken) handshakesPending--;
    });
    let buf = Buffer.alloc(0);
    let requestsHere = 0;
    let droppedHere = false;
    let held: Buffer[] = [];
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      const out: Buffer[] = [];
      let requestsInChunk = 0;
      while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        const len = buf.readInt32BE(0);
        const frame = buf.subarray(4, 4 + len);
        buf = buf.subarray(4 + len);
        if (!handshaken) {
          handshaken = true;
          handshakesPending--;
          const r = Buffer.alloc(4 + 4 + 4 + 8 + 4 + 16 + 1);
          r.writeInt32BE(r.length - 4, 0);
          r.writeInt32BE(0, 4);
          r.writeInt32BE(30_000, 8);
          r.writeBigInt64BE(nextSession++, 12);
          r.writeInt32BE(16, 20);
          out.push(r);
          continue;
        }
        const xid = frame.readInt32BE(0);
        const type = frame.readInt32BE(4);
        state.requests++;
        requestsHere++;
        requestsInChunk++;
        if (behaviour.stallAfterRequests !== undefined && state.requests > behaviour.stallAfterRequests) continue;
        let err = 0;
        const e = behaviour.errorEvery;
        if (e !== undefined && type !== -11 && state.requests % e.n === 0) err = e.code;
        // a successful create answers its path (clients read it); everything else, no body
        const body = type === 1 && err === 0 ? frame.subarray(8, 12 + frame.readInt32BE(8)) : Buffer.alloc(0);
        const reply = Buffer.alloc(4 + 16 + body.length);
        reply.writeInt32BE(16 + body.length, 0);
        reply.writeInt32BE(xid, 4);
        reply.writeBigInt64BE(BigInt(state.requests), 8);
        reply.writeInt32BE(err, 16);
        body.copy(reply, 20);
        if (behaviour.replyBatch !== undefined) {
          held.push(reply);
          if (held.length < behaviour.replyBatch) continue;
          out.push(...held);
          held = [];
        } else {
          out.push(reply);
        }
        if (behaviour.dropAfterRequests !== undefined && !droppedHere && requestsHere >= behaviour.dropAfterRequests) {
          droppedHere = true;
          dropped++;
          socket.write(Buffer.concat(out));
          socket.destroy();
          return;
        }
      }
      if (requestsInChunk > 0) {
        state.requestChunks++;
        state.requestsPerChunkMax = Math.max(state.requestsPerChunkMax, requestsInChunk);
      }
      if (out.length > 0) socket.write(Buffer.concat(out));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  state.port = address.port;
  return state;
}

/** A port nothing listens on (bound, read, released). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
