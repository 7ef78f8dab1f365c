// Hostile clients (issue 8, items 3 and 4), through real sockets:
// - connections that never send a byte, or trickle a frame that never completes, are
//   closed after zookeeper.nio.sessionlessCnxnTimeout, counted in mntr and /metrics;
//   thousands of them cost bounded memory and lock nobody out;
// - zookeeper.maxCnxns caps all connections (compared with Apache ZooKeeper 3.8);
// - replies queued for clients that never read are bounded server-wide, and the memory
//   comes back once those connections close.
//
// Resident memory is read from /proc/<pid>/status; bounds are generous (a shared 2-core
// machine) and stated next to each test; waits are on conditions with deadlines.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import net from 'node:net';
import { startZooid, startZooKeeper, fourLetterWord, freePort, type ServerHandle } from '../support/servers.ts';
import { waitFor } from '../support/wait.ts';
import { LeanClient } from '../../client/lean.ts';
import { JuteWriter } from '../../native-free-io/jute.ts';
import { Op } from '../../engine/protocol.ts';
import { OUTBOUND_TOTAL_BYTES_HARD } from '../../engine/limits.ts';
import { rssBytes, metric, mntrValue } from '../support/probes.ts';

const MiB = 1024 * 1024;

async function startWithMetrics(config: Record<string, string>): Promise<{ server: ServerHandle; metricsPort: number }> {
  const metricsPort = await freePort();
  const server = await startZooid({
    config: {
      'metricsProvider.className': 'org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider',
      'metricsProvider.httpPort': String(metricsPort),
      'metricsProvider.httpHost': '127.0.0.1',
      ...config,
    },
  });
  return { server, metricsPort };
}

/** A raw socket and when the server closed it (performance.now() ms; null while open). */
interface RawConn {
  socket: net.Socket;
  openedAtMs: number;
  closedAtMs: number | null;
}

function rawConnect(port: number): Promise<RawConn> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const conn: RawConn = { socket, openedAtMs: 0, closedAtMs: null };
    socket.once('connect', () => {
      conn.openedAtMs = performance.now();
      resolve(conn);
    });
    socket.on('data', () => {});
    socket.on('error', reject);
    socket.on('close', () => { conn.closedAtMs = performance.now(); });
  });
}

describe('connections that never complete a handshake (zookeeper.nio.sessionlessCnxnTimeout)', () => {
  const TIMEOUT_MS = 500;
  let server: ServerHandle;
  let metricsPort: number;

  beforeAll(async () => {
    ({ server, metricsPort } = await startWithMetrics({ 'zookeeper.nio.sessionlessCnxnTimeout': String(TIMEOUT_MS) }));
  }, 30_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('closes silent sockets and one trickling a frame that never completes; sessions are unaffected', async () => {
    const session = await LeanClient.connect({ host: '127.0.0.1', port: server.port });
    await session.create('/alive', Buffer.from('yes'));
    const silent = await Promise.all(Array.from({ length: 5 }, () => rawConnect(server.port)));
    // a ConnectRequest frame announced as 44 bytes, sent one byte every 50 ms: it keeps the socket busy, never complete
    const trickler = await rawConnect(server.port);
    const header = Buffer.alloc(4);
    header.writeInt32BE(44);
    trickler.socket.write(header);
    const trickle = setInterval(() => { if (trickler.closedAtMs === null) trickler.socket.write(Buffer.alloc(1)); }, 50);
    try {
      const all = [...silent, trickler];
      await waitFor(() => all.every((c) => c.closedAtMs !== null), { timeoutMs: 10_000, what: 'the server to close the silent and trickling sockets' });
      for (const c of all) {
        // the deadline runs from the server's accept, which follows our connect: never early (5 ms for clock granularity)
        expect(c.closedAtMs! - c.openedAtMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
      }
    } finally {
      clearInterval(trickle);
    }
    // the session that handshook long before is still served, more than a timeout later
    expect(performance.now() - silent[0].openedAtMs).toBeGreaterThan(TIMEOUT_MS);
    expect((await session.getData('/alive')).data.toString()).toBe('yes');
    const mntr = await fourLetterWord(server.port, 'mntr');
    expect(mntrValue(mntr, 'zk_sessionless_connections_expired')).toBe(6);
    expect(await metric(metricsPort, 'sessionless_connections_expired')).toBe(6);
    expect(await metric(metricsPort, 'zooid_io_sessionless_expired_total')).toBe(6);
    await session.close();
  }, 60_000);

  it('a four-letter word needs no session: stmk waiting for its mask is closed, srvr is answered', async () => {
    const before = mntrValue(await fourLetterWord(server.port, 'mntr'), 'zk_sessionless_connections_expired');
    const stmk = await rawConnect(server.port);
    stmk.socket.write('stmk'); // an enabled stmk waits for its 8-byte mask: never sent
    await waitFor(() => stmk.closedAtMs !== null, { timeoutMs: 10_000, what: 'the server to close a stmk that never sent its mask' });
    expect((await fourLetterWord(server.port, 'srvr')).includes('Mode: standalone')).toBe(true);
    expect(mntrValue(await fourLetterWord(server.port, 'mntr'), 'zk_sessionless_connections_expired')).toBe(before + 1);
  }, 30_000);
});

describe('thousands of silent sockets', () => {
  /** Silent sockets opened at once. The machine's fd limit (ulimit -n) is 20,000 for both ends. */
  const SILENT_COUNT = 3_000;
  /** What they may add to the server's resident memory: a few KiB of Node socket state each. */
  const SILENT_RSS_GROWTH_BYTES_MAX = 96 * MiB;
  let server: ServerHandle;
  let metricsPort: number;
  const sockets: RawConn[] = [];

  beforeAll(async () => {
    ({ server, metricsPort } = await startWithMetrics({ 'zookeeper.nio.sessionlessCnxnTimeout': '4000', maxClientCnxns: '0' }));
  }, 30_000);

  afterAll(async () => {
    for (const c of sockets) c.socket.destroy();
    await server?.stop();
  });

  it(`${SILENT_COUNT} silent sockets cost bounded memory, lock nobody out, and are all closed`, async () => {
    const baseline = rssBytes(server.pid);
    for (let i = 0; i < SILENT_COUNT; i += 250) {
      sockets.push(...(await Promise.all(Array.from({ length: Math.min(250, SILENT_COUNT - i) }, () => rawConnect(server.port)))));
    }
    await waitFor(async () => (await metric(metricsPort, 'zooid_io_connections')) >= SILENT_COUNT, { timeoutMs: 30_000, what: 'the server to accept every socket' });
    const growth = rssBytes(server.pid) - baseline;
    // a normal client connects and is served while they are open
    const c = await LeanClient.connect({ host: '127.0.0.1', port: server.port });
    await c.create('/served', Buffer.from('ok'));
    expect((await c.getData('/served')).data.toString()).toBe('ok');
    console.log(`${SILENT_COUNT} silent sockets: server RSS +${(growth / MiB).toFixed(1)} MiB`);
    expect(growth).toBeLessThan(SILENT_RSS_GROWTH_BYTES_MAX);
    await waitFor(() => sockets.every((s) => s.closedAtMs !== null), { timeoutMs: 60_000, what: 'the server to close every silent socket' });
    expect(await metric(metricsPort, 'sessionless_connections_expired')).toBe(SILENT_COUNT);
    // the session is not sessionless: still served after its connection outlived the timeout
    expect((await c.getData('/served')).data.toString()).toBe('ok');
    expect(await metric(metricsPort, 'zooid_io_connections')).toBe(1);
    await c.close();
  }, 120_000);
});

describe('zookeeper.maxCnxns caps all connections, as in ZooKeeper 3.8', () => {
  const MAX = 3;
  const servers: ServerHandle[] = [];
  const clients: LeanClient[] = [];

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    for (const s of servers) await s.stop();
  });

  /**
   * What a client sees of the refusal: the connection is dropped before a session, as
   * 'refused (<how>)'. ZooKeeper accepts and closes it with SO_LINGER 0 (fastCloseSock):
   * depending on timing the client's ConnectRequest write meets EPIPE, its read
   * ECONNRESET, or it just sees the close (all three were seen from ZooKeeper 3.8 here).
   */
  async function refusalSeen(port: number): Promise<string> {
    try {
      const c = await LeanClient.connect({ host: '127.0.0.1', port, connectTimeoutMs: 5_000 });
      clients.push(c);
      return 'accepted';
    } catch (err) {
      const how = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      return ['ECONNRESET', 'EPIPE', 'connection closed during handshake'].includes(how) ? `refused (${how})` : how;
    }
  }

  async function scenario(server: ServerHandle): Promise<{ refusal: string; rejected: number }> {
    servers.push(server);
    const open: LeanClient[] = [];
    // ZooKeeper answers ruok before it serves sessions: retry the first one
    open.push(await waitFor(() => LeanClient.connect({ host: '127.0.0.1', port: server.port, connectTimeoutMs: 2_000 }).catch(() => null),
      { timeoutMs: 20_000, what: `${server.kind} to open a session`, intervalMs: 50 }));
    // the readiness probes' connections may still be closing on the server: wait until a full set fits
    while (open.length < MAX) {
      open.push(await waitFor(() => LeanClient.connect({ host: '127.0.0.1', port: server.port, connectTimeoutMs: 2_000 }).catch(() => null),
        { timeoutMs: 10_000, what: `${server.kind} to accept connection ${open.length + 1} of ${MAX}` }));
    }
    clients.push(...open);
    const refusal = await refusalSeen(server.port);
    // one closes: a new connection is accepted once the server has seen it go
    await open[0].close();
    const again = await waitFor(() => LeanClient.connect({ host: '127.0.0.1', port: server.port, connectTimeoutMs: 2_000 }).catch(() => null),
      { timeoutMs: 10_000, what: `${server.kind} to accept a connection after one closed` });
    clients.push(again);
    await again.close();
    const rejected = mntrValue(await waitFor(() => fourLetterWord(server.port, 'mntr').catch(() => ''), { timeoutMs: 10_000, what: 'mntr' }), 'zk_connection_rejected');
    return { refusal, rejected };
  }

  it(`with zookeeper.maxCnxns=${MAX} the ${MAX + 1}th connection is refused, and one is accepted after another closes`, async () => {
    const zk = await scenario(await startZooKeeper({ systemProperties: { 'zookeeper.maxCnxns': String(MAX) } }));
    const zooid = await scenario(await startZooid({ config: { 'zookeeper.maxCnxns': String(MAX) } }));
    console.log(`maxCnxns refusal: ZooKeeper ${zk.refusal} (zk_connection_rejected ${zk.rejected}), zooid ${zooid.refusal} (${zooid.rejected})`);
    expect(zk.refusal).toMatch(/^refused /);
    expect(zooid.refusal).toMatch(/^refused /);
    expect(zooid.rejected).toBeGreaterThanOrEqual(1);
    expect(zk.rejected).toBeGreaterThanOrEqual(1);
  }, 120_000);
});

describe('replies queued for clients that never read are bounded server-wide', () => {
  /** The repro: 16 connections each pipeline 70 getData of a 900 KB node in one write and never read. */
  const FLOODERS = 16;
  const REQUESTS_EACH = 70;
  const NODE_BYTES = 900 * 1024;
  /**
   * What the flood may add to the server's resident memory: the hard bound (256 MiB) plus
   * one reply turn past it, the slabs and Node's own buffers. Unbounded it was +930 MiB.
   */
  const FLOOD_RSS_GROWTH_BYTES_MAX = OUTBOUND_TOTAL_BYTES_HARD + 128 * MiB;
  /** What may stay resident once the flooders are gone (it stayed at +930 MiB before). */
  const AFTER_RSS_GROWTH_BYTES_MAX = 64 * MiB;
  /** Longest another session may wait for one answer during the flood (generous: a shared 2-core machine). */
  const PROBE_LATENCY_MS_MAX = 5_000;
  let server: ServerHandle;
  let metricsPort: number;
  const clients: LeanClient[] = [];

  beforeAll(async () => {
    ({ server, metricsPort } = await startWithMetrics({ '4lw.commands.whitelist': '*' }));
  }, 30_000);

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await server?.stop();
  });

  it('16 × 70 pipelined 900 KB getData: RSS stays bounded, others are served, and the memory comes back', async () => {
    const probe = await LeanClient.connect({ host: '127.0.0.1', port: server.port });
    clients.push(probe);
    await probe.create('/big', Buffer.alloc(NODE_BYTES, 'b'));
    await probe.create('/probe', Buffer.from('p'));
    const sentBefore = mntrValue(await fourLetterWord(server.port, 'mntr'), 'zk_packets_sent');
    const baseline = rssBytes(server.pid);
    const w = new JuteWriter(64 * 1024);
    for (let i = 0; i < REQUESTS_EACH; i++) {
      const at = w.beginFrame();
      w.int(i + 1).int(Op.getData).string('/big').bool(false);
      w.endFrame(at);
    }
    const frames = w.copy();
    const flooders: LeanClient[] = [];
    for (let i = 0; i < FLOODERS; i++) {
      const c = await LeanClient.connect({ host: '127.0.0.1', port: server.port });
      c.socket.pause(); // never reads
      c.socket.write(frames);
      flooders.push(c);
    }
    clients.push(...flooders);
    let peak = baseline;
    let probeMsMax = 0;
    let probes = 0;
    // the pipeline has answered every flooding request (the io worker wrote or dropped them)
    await waitFor(async () => {
      const t0 = performance.now();
      expect((await probe.getData('/probe')).data.toString()).toBe('p');
      probeMsMax = Math.max(probeMsMax, performance.now() - t0);
      probes++;
      peak = Math.max(peak, rssBytes(server.pid));
      const sent = mntrValue(await fourLetterWord(server.port, 'mntr'), 'zk_packets_sent');
      return sent >= sentBefore + FLOODERS * REQUESTS_EACH;
    }, { timeoutMs: 60_000, what: 'every flooding request to be answered', intervalMs: 50 });
    peak = Math.max(peak, rssBytes(server.pid));
    const closes = await metric(metricsPort, 'zooid_io_outbound_budget_closes_total');
    const queued = await metric(metricsPort, 'zooid_io_outbound_queued_bytes');
    console.log(`reply flood: RSS baseline ${(baseline / MiB).toFixed(0)} MiB, peak +${((peak - baseline) / MiB).toFixed(0)} MiB, ` +
      `${closes} connections closed by the server-wide bound, ${(queued / MiB).toFixed(0)} MiB still queued, slowest probe ${probeMsMax.toFixed(0)} ms over ${probes}`);
    expect(peak - baseline).toBeLessThan(FLOOD_RSS_GROWTH_BYTES_MAX);
    expect(closes).toBeGreaterThan(0);
    expect(queued).toBeLessThanOrEqual(OUTBOUND_TOTAL_BYTES_HARD);
    expect(probeMsMax).toBeLessThan(PROBE_LATENCY_MS_MAX);

    for (const c of flooders) c.socket.destroy();
    await waitFor(async () => (await metric(metricsPort, 'zooid_io_connections')) === 1, { timeoutMs: 10_000, what: 'the flooders to be gone' });
    const after = await waitFor(() => {
      const growth = rssBytes(server.pid) - baseline;
      return growth < AFTER_RSS_GROWTH_BYTES_MAX ? { growth } : null;
    }, { timeoutMs: 15_000, what: `RSS to come back within ${AFTER_RSS_GROWTH_BYTES_MAX / MiB} MiB of the baseline` });
    console.log(`reply flood: RSS +${(after.growth / MiB).toFixed(0)} MiB once the flooders closed`);
    expect(await metric(metricsPort, 'zooid_io_outbound_queued_bytes')).toBe(0);
    // a flooder's session lives on: it resumes on a new connection
    const again = await LeanClient.connect({ host: '127.0.0.1', port: server.port, sessionId: flooders[0].sessionId, passwd: flooders[0].passwd });
    clients.push(again);
    expect(again.sessionId).toBe(flooders[0].sessionId);
    expect((await again.getData('/probe')).data.toString()).toBe('p');
  }, 180_000);
});
