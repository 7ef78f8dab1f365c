// engine/quorum/cnxmanager.ts on loopback, with raw sockets playing the peers so every
// byte and every close is visible: the larger sid keeps the connection, a newer message
// replaces one waiting, the last message goes again on a new connection, and bad input
// (a wrong protocol version, an oversized frame, silence) closes only that connection.
import { describe, it, expect, afterEach } from 'vitest';
import * as net from 'node:net';
import { QuorumCnxManager } from '../../engine/quorum/cnxmanager.ts';
import { createLogger } from '../../engine/logger.ts';
import { OUTSIDE_VIEW_CHANNELS_MAX } from '../../engine/quorum/limits.ts';
import { OBSERVER_SID, encodeElectionFrame, encodeInitialMessage, takeElectionFrame, takeInitialMessage, type PeerAddress } from '../../engine/quorum/wire.ts';
import { freePort } from '../support/servers.ts';
import { waitFor, withDeadline } from '../support/wait.ts';

const DEADLINE_MS = 10_000;
const log = createLogger('cnx-test');
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const loopback = (port: number): PeerAddress => ({ host: '127.0.0.1', port });

/** Manager for sid 2 whose peers 1 and 3 are raw listeners; it records what it receives. */
async function managerWithPeers(options: { handshakeTimeoutMs?: number } = {}) {
  const [mine, one, three] = [await freePort(), await freePort(), await freePort()];
  const received: [bigint, string][] = [];
  const cnx = new QuorumCnxManager({
    mySid: 2n,
    listenAddress: loopback(mine),
    peers: new Map([[1n, loopback(one)], [3n, loopback(three)]]),
    onMessage: (from, message) => received.push([from, message.toString()]),
    log,
    handshakeTimeoutMs: options.handshakeTimeoutMs,
  });
  await cnx.listen();
  cleanups.push(() => cnx.close());
  return { cnx, received, ports: { mine, one, three } };
}

/** A socket's incoming bytes and whether it has ended. */
function watch(socket: net.Socket): { bytes: () => Buffer; closed: () => boolean } {
  let bytes = Buffer.alloc(0);
  let closed = false;
  socket.on('data', (c) => {
    bytes = Buffer.concat([bytes, c]);
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    closed = true;
  });
  cleanups.push(() => void socket.destroy());
  return { bytes: () => bytes, closed: () => closed };
}

async function connectAs(port: number, sid: bigint, ownPort: number): Promise<{ socket: net.Socket; seen: ReturnType<typeof watch> }> {
  const socket = net.connect(port, '127.0.0.1');
  const seen = watch(socket);
  await withDeadline(new Promise((resolve) => socket.once('connect', resolve)), DEADLINE_MS, 'connect');
  socket.write(encodeInitialMessage(sid, [loopback(ownPort)]));
  return { socket, seen };
}

/** A raw listener; resolves each accepted connection in order. */
async function rawListener(port: number): Promise<() => Promise<ReturnType<typeof watch>>> {
  const queue: net.Socket[] = [];
  const server = net.createServer((s) => queue.push(s));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return async () => watch(await waitFor(() => queue.shift(), { timeoutMs: DEADLINE_MS, what: `a connection on ${port}` }));
}

/** The messages in bytes a manager sent: after its initiation message when it opened the connection. */
const frames = (b: Buffer, opened = false): string[] => {
  const out: string[] = [];
  for (let at = opened ? (takeInitialMessage(b)?.byteCount ?? b.length) : 0, f; (f = takeElectionFrame(b, at)) !== null; at += f.byteCount) out.push(f.message.toString());
  return out;
};

describe('QuorumCnxManager', () => {
  it('turns a connection from a smaller sid around: closes it and connects back', async () => {
    const { ports } = await managerWithPeers();
    const nextOnOne = await rawListener(ports.one);
    const { seen } = await connectAs(ports.mine, 1n, ports.one);
    await waitFor(() => seen.closed(), { timeoutMs: DEADLINE_MS, what: 'the smaller sid connection to be closed' });
    const back = await nextOnOne();
    const initial = await waitFor(() => takeInitialMessage(back.bytes()), { timeoutMs: DEADLINE_MS, what: 'the initiation message' });
    expect(initial.message.sid).toBe(2n);
    expect(back.closed()).toBe(false);
  });

  it('keeps a connection from a larger sid and talks over it both ways', async () => {
    const { cnx, received, ports } = await managerWithPeers();
    const { socket, seen } = await connectAs(ports.mine, 3n, ports.three);
    socket.write(encodeElectionFrame(Buffer.from('vote')));
    await waitFor(() => received.length === 1, { timeoutMs: DEADLINE_MS, what: 'the message' });
    expect(received).toEqual([[3n, 'vote']]);
    cnx.toSend(3n, Buffer.from('answer'));
    await waitFor(() => frames(seen.bytes()).length === 1, { timeoutMs: DEADLINE_MS, what: 'the answer' });
    expect(seen.bytes().toString('hex')).toBe(encodeElectionFrame(Buffer.from('answer')).toString('hex'));
  });

  it('connecting to a larger sid: sends the initiation message and closes; a newer message replaces one waiting; the last one goes again on a new connection', async () => {
    const { cnx, ports } = await managerWithPeers();
    const nextOnThree = await rawListener(ports.three);
    cnx.toSend(3n, Buffer.from('old'));
    cnx.toSend(3n, Buffer.from('new'));
    const lost = await nextOnThree();
    await waitFor(() => lost.closed(), { timeoutMs: DEADLINE_MS, what: 'the manager to drop its own connection to a larger sid' });
    expect(takeInitialMessage(lost.bytes())?.message.sid).toBe(2n);
    expect(frames(lost.bytes(), true)).toEqual([]);
    // 3 connects back: only the newest message waits
    const first = await connectAs(ports.mine, 3n, ports.three);
    await waitFor(() => frames(first.seen.bytes()).length > 0, { timeoutMs: DEADLINE_MS, what: 'the waiting message' });
    expect(frames(first.seen.bytes())).toEqual(['new']);
    first.socket.destroy();
    await waitFor(() => !cnx.isConnected(3n), { timeoutMs: DEADLINE_MS, what: 'the manager to see the connection gone' });
    const second = await connectAs(ports.mine, 3n, ports.three);
    await waitFor(() => frames(second.seen.bytes()).length > 0, { timeoutMs: DEADLINE_MS, what: 'the resent message' });
    expect(frames(second.seen.bytes())).toEqual(['new']);
  });

  it('drops an observer without an id, as ZooKeeper does (its negative sid is smaller than ours)', async () => {
    const { received, ports } = await managerWithPeers();
    const { socket, seen } = await connectAs(ports.mine, OBSERVER_SID, 1);
    socket.write(encodeElectionFrame(Buffer.from('hello')));
    await waitFor(() => seen.closed(), { timeoutMs: DEADLINE_MS, what: 'the observer connection to be closed' });
    expect(received).toEqual([]);
  });

  it('closes a connection with a bad protocol version, an oversized frame, or no initiation message in time', async () => {
    const { cnx, ports } = await managerWithPeers({ handshakeTimeoutMs: 300 });
    const bad = encodeInitialMessage(3n, [loopback(1)]);
    bad.writeBigInt64BE(-7n, 0);
    const oversized = Buffer.alloc(4);
    oversized.writeInt32BE(512 * 1024 + 1);
    const attempts = [bad, Buffer.concat([encodeInitialMessage(3n, [loopback(1)]), oversized]), Buffer.alloc(0)];
    for (const bytes of attempts) {
      const socket = net.connect(ports.mine, '127.0.0.1', () => socket.write(bytes));
      const seen = watch(socket);
      await waitFor(() => seen.closed(), { timeoutMs: DEADLINE_MS, what: `the manager to close after ${bytes.length} bytes` });
    }
    expect(cnx.isConnected(3n)).toBe(false);
  });

  it('keeps at most OUTSIDE_VIEW_CHANNELS_MAX connections from servers outside the view', async () => {
    const { cnx, ports } = await managerWithPeers();
    const outsiders: { sid: bigint; seen: ReturnType<typeof watch> }[] = [];
    for (let sid = 100n; sid < 100n + BigInt(OUTSIDE_VIEW_CHANNELS_MAX) + 1n; sid++) outsiders.push({ sid, ...(await connectAs(ports.mine, sid, 1)) });
    await waitFor(() => outsiders[outsiders.length - 1].seen.closed(), { timeoutMs: DEADLINE_MS, what: 'the connection over the bound to be closed' });
    await waitFor(() => outsiders.slice(0, -1).every((o) => cnx.isConnected(o.sid)), { timeoutMs: DEADLINE_MS, what: 'the others to be kept' });
  });
});
