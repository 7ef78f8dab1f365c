// The fault proxy between the harness's clients and the server. It frames the ZooKeeper
// protocol in both directions (4-byte length prefix; first frame each way is the session
// handshake) so it can act per request:
// - cut(): drop every connection and refuse new ones until restore();
// - setDelayMs(d): hold every frame d ms in both directions (order kept);
// - the planted bug `fake-ack`: with probability `plantRate`, a setData is not forwarded
//   and the proxy answers it itself with OK and a plausible Stat, in its FIFO place among
//   the server's replies. To the harness this is a server that acknowledges a write it
//   never made durable (e.g. replies released before fsync and then lost): the checker
//   must catch it;
// - the planted bug `stale-read`: with probability `plantRate`, a getData (without a watch)
//   of a path the proxy has seen read before is answered from that earlier reply, with a
//   current zxid in the header: a server serving stale reads.
// - the planted bug `lost-event`: with probability `plantRate`, a watch event is dropped
//   (a server that loses watch notifications).
// They exist only here, in the test harness; no engine code knows of them.

import * as net from 'node:net';
import { Op, Xid } from '../../engine/protocol.ts';
import { CuttableListener } from '../support/proxy.ts';

/** Planted bugs: fake-ack, stale-read and lost-event live in this proxy, lost-tail in the kill -9 nemesis (nemesis.ts). */
export type PlantedBug = 'none' | 'fake-ack' | 'stale-read' | 'lost-event' | 'lost-tail';
export const PLANTED_BUGS: readonly PlantedBug[] = ['none', 'fake-ack', 'stale-read', 'lost-event', 'lost-tail'];

export interface FaultProxyOptions {
  plant?: PlantedBug;
  /** Share of setData requests the planted bug answers itself. */
  plantRate?: number;
  random?: () => number;
}

export interface FaultProxy {
  port: number;
  /** Requests the planted bug answered itself (setData acknowledged, getData from an old reply) or events it dropped. */
  readonly fakeAckCount: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  setDelayMs(delayMs: number): void;
  close(): Promise<void>;
}

/** Frames held per direction before a connection is dropped (a delayed, unread peer must not grow memory without bound). */
const HELD_FRAMES_MAX = 10_000;
const STAT_BYTES = 68;

/** Splits a byte stream into length-prefixed frames. */
class Framer {
  private pending: Buffer | null = null;
  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    let b = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    let off = 0;
    while (b.length - off >= 4) {
      const len = b.readInt32BE(off);
      if (len < 0 || b.length - off - 4 < len) break;
      onFrame(b.subarray(off, off + 4 + len));
      off += 4 + len;
    }
    this.pending = off === b.length ? null : Buffer.from(b.subarray(off));
    b = Buffer.alloc(0);
  }
}

/** A setData reply: ReplyHeader (xid, zxid, err 0) + Stat with the given version. */
function fakeSetDataReply(xid: number, zxid: bigint, version: number): Buffer {
  const b = Buffer.alloc(4 + 16 + STAT_BYTES);
  b.writeInt32BE(16 + STAT_BYTES, 0);
  b.writeInt32BE(xid, 4);
  b.writeBigInt64BE(zxid, 8);
  b.writeInt32BE(0, 16);
  const stat = 20;
  b.writeBigInt64BE(zxid, stat); // czxid
  b.writeBigInt64BE(zxid, stat + 8); // mzxid
  const nowMs = BigInt(Date.now());
  b.writeBigInt64BE(nowMs, stat + 16); // ctime
  b.writeBigInt64BE(nowMs, stat + 24); // mtime
  b.writeInt32BE(version, stat + 32);
  b.writeBigInt64BE(zxid, stat + 60); // pzxid
  return b;
}

/** A reply header (xid, zxid, err 0) and a body. */
function replyWithBody(xid: number, zxid: bigint, body: Buffer): Buffer {
  const b = Buffer.alloc(20 + body.length);
  b.writeInt32BE(16 + body.length, 0);
  b.writeInt32BE(xid, 4);
  b.writeBigInt64BE(zxid, 8);
  b.writeInt32BE(0, 16);
  body.copy(b, 20);
  return b;
}

interface Awaited {
  /** The request's path (getData/setData), to learn versions from replies. */
  path: string | null;
  type: number;
  /** A request the proxy answers itself when it reaches the head of the queue: a setData (the version to claim) or a getData (an old reply's body). */
  fake: { xid: number; version: number } | { xid: number; body: Buffer } | null;
}

export async function startFaultProxy(targetPort: number, options: FaultProxyOptions = {}): Promise<FaultProxy> {
  const plant = options.plant ?? 'none';
  const plantRate = options.plantRate ?? 0.05;
  const random = options.random ?? Math.random;
  const sockets = new Set<net.Socket>();
  /** Latest version seen per path in any reply, so a fake Stat looks like the server's. */
  const versions = new Map<string, number>();
  /** Last getData reply body (data and Stat) per path, for stale-read. */
  const lastReads = new Map<string, Buffer>();
  let delayMs = 0;
  let fakeAckCount = 0;

  const server = net.createServer((client) => {
    client.on('error', () => undefined);
    if (listener.isCut) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    sockets.add(client);
    sockets.add(upstream);
    const drop = (): void => {
      sockets.delete(client);
      sockets.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    upstream.on('error', drop);
    client.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);

    // frames leave in order, each no earlier than its arrival plus the delay in force then:
    // one queue and one timer per direction (timers of different lengths may fire out of order)
    const sender = (to: net.Socket) => {
      const queue: { releaseMs: number; frame: Buffer }[] = [];
      let timer: NodeJS.Timeout | null = null;
      const pump = (): void => {
        timer = null;
        const nowMs = Date.now();
        while (queue.length > 0 && queue[0].releaseMs <= nowMs) {
          const { frame } = queue.shift()!;
          if (!to.destroyed) to.write(frame);
        }
        if (queue.length > 0) timer = setTimeout(pump, queue[0].releaseMs - nowMs);
      };
      return (frame: Buffer): void => {
        if (to.destroyed) return;
        if (delayMs === 0 && queue.length === 0) {
          to.write(frame);
          return;
        }
        if (queue.length >= HELD_FRAMES_MAX) return drop();
        const lastMs = queue.length > 0 ? queue[queue.length - 1].releaseMs : 0;
        queue.push({ releaseMs: Math.max(Date.now() + delayMs, lastMs), frame: Buffer.from(frame) });
        if (timer === null) timer = setTimeout(pump, queue[0].releaseMs - Date.now());
      };
    };
    const toServer = sender(upstream);
    const toClient = sender(client);
    const awaited: Awaited[] = [];
    let lastZxid = 0n;
    let clientHandshake = true;
    let serverHandshake = true;
    const flushFakes = (): void => {
      // made at its turn, so its zxid is the newest this client was shown (as a real reply's would be)
      while (awaited.length > 0 && awaited[0].fake !== null) {
        const fake = awaited.shift()!.fake!;
        toClient('body' in fake ? replyWithBody(fake.xid, lastZxid, fake.body) : fakeSetDataReply(fake.xid, lastZxid, fake.version));
      }
    };

    const fromClient = new Framer();
    client.on('data', (chunk: Buffer) =>
      fromClient.push(chunk, (frame) => {
        if (clientHandshake) {
          clientHandshake = false;
          return toServer(frame);
        }
        const xid = frame.readInt32BE(4);
        const type = frame.readInt32BE(8);
        let path: string | null = null;
        if (type === Op.setData || type === Op.getData) {
          const pathLen = frame.readInt32BE(12);
          path = frame.toString('utf8', 16, 16 + pathLen);
        }
        if (plant === 'fake-ack' && type === Op.setData && path !== null && random() < plantRate) {
          const dataLen = frame.readInt32BE(16 + Buffer.byteLength(path));
          const version = frame.readInt32BE(20 + Buffer.byteLength(path) + Math.max(0, dataLen));
          const fakeVersion = version === -1 ? (versions.get(path) ?? 0) + 1 : version + 1;
          fakeAckCount++;
          awaited.push({ path, type, fake: { xid, version: fakeVersion } });
          flushFakes();
          return;
        }
        const stale = path !== null ? lastReads.get(path) : undefined;
        const watch = frame[frame.length - 1] !== 0;
        if (plant === 'stale-read' && type === Op.getData && stale !== undefined && !watch && random() < plantRate) {
          fakeAckCount++;
          awaited.push({ path, type, fake: { xid, body: stale } });
          flushFakes();
          return;
        }
        awaited.push({ path, type, fake: null });
        toServer(frame);
      }),
    );
    const fromServer = new Framer();
    upstream.on('data', (chunk: Buffer) =>
      fromServer.push(chunk, (frame) => {
        if (serverHandshake) {
          serverHandshake = false;
          return toClient(frame);
        }
        const xid = frame.readInt32BE(4);
        if (xid === Xid.notification) {
          if (plant === 'lost-event' && random() < plantRate) {
            fakeAckCount++;
            return;
          }
          return toClient(frame);
        }
        const zxid = frame.readBigInt64BE(8);
        if (zxid > lastZxid) lastZxid = zxid;
        const request = awaited.shift();
        if (request !== undefined && request.path !== null && frame.readInt32BE(16) === 0) {
          // getData: buffer then Stat; setData: Stat
          const statAt = request.type === Op.getData ? 24 + Math.max(0, frame.readInt32BE(20)) : 20;
          if (frame.length >= statAt + STAT_BYTES) versions.set(request.path, Math.max(versions.get(request.path) ?? 0, frame.readInt32BE(statAt + 32)));
          if (request.type === Op.getData) lastReads.set(request.path, Buffer.from(frame.subarray(20)));
        }
        toClient(frame);
        flushFakes();
      }),
    );
  });

  const dropAll = (): void => {
    for (const s of [...sockets]) s.destroy();
    sockets.clear();
  };
  const listener = new CuttableListener(server, dropAll);
  const port = await listener.start();
  return {
    port,
    get fakeAckCount() {
      return fakeAckCount;
    },
    cut: () => listener.cut(),
    restore: () => listener.restore(),
    setDelayMs(ms: number) {
      delayMs = ms;
    },
    close: () => listener.cut(),
  };
}
