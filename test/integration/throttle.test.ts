// Overload through real sockets: what a server does when clients ask more than it can
// answer or read. ZooKeeper's answer (and zooid's): stop reading the connections
// (TCP backpressure), delay, never fail. And bounded memory: a client that floods
// requests and never reads its replies must not make the server grow (engine/limits.ts).
//
// The flood tests read the server's resident memory from /proc/<pid>/status while the
// flood runs, and time another session's requests; bounds are generous (the machine is
// shared), waits are on conditions.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startZooid, fourLetterWord, freePort, type ServerHandle } from '../support/servers.ts';
import { waitFor } from '../support/wait.ts';
import { LeanClient } from '../../client/lean.ts';
import { JuteWriter } from '../../native-free-io/jute.ts';
import { Err, Op } from '../../engine/protocol.ts';
import { writeAcls, OPEN_ACL_UNSAFE } from '../../engine/protocol.ts';
import { rssBytes, metric, mntrValue } from '../support/probes.ts';


const MiB = 1024 * 1024;
/** What the flood may add to the server's resident memory. Unbounded, it would be gigabytes. */
const FLOOD_RSS_GROWTH_BYTES_MAX = 320 * MiB;
/** Longest another session may wait for one answer while a flood runs (generous: a shared 2-core machine). */
const PROBE_LATENCY_MS_MAX = 5_000;

/** `count` getData frames for `path`, xids from 1, as one buffer: what a pipelining client writes. */
function getDataFrames(path: string, count: number): Buffer {
  const w = new JuteWriter(64 * 1024);
  for (let i = 0; i < count; i++) {
    const at = w.beginFrame();
    w.int(i + 1).int(Op.getData).string(path).bool(false);
    w.endFrame(at);
  }
  return w.copy();
}

interface Tagged { tag: number; err: number; data: string | null }

/** Queues requests on a LeanClient with tags and records the replies in arrival order. */
function recordReplies(c: LeanClient, readsData: Set<number>): Tagged[] {
  const got: Tagged[] = [];
  c.onTagged = (tag, err, _zxid, body) => {
    got.push({ tag, err, data: err === Err.OK && readsData.has(tag) ? (body.buffer() ?? Buffer.alloc(0)).toString() : null });
  };
  return got;
}

async function startWithMetrics(config: Record<string, string>): Promise<{ server: ServerHandle; metricsPort: number }> {
  const metricsPort = await freePort();
  const server = await startZooid({
    config: {
      '4lw.commands.whitelist': '*',
      'metricsProvider.className': 'org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider',
      'metricsProvider.httpPort': String(metricsPort),
      'metricsProvider.httpHost': '127.0.0.1',
      ...config,
    },
  });
  return { server, metricsPort };
}

describe('a client that floods requests and never reads its replies', () => {
  let server: ServerHandle;
  let metricsPort: number;
  const clients: LeanClient[] = [];

  beforeAll(async () => {
    ({ server, metricsPort } = await startWithMetrics({}));
  }, 30_000);

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await server?.stop();
  });

  async function connect(): Promise<LeanClient> {
    const c = await LeanClient.connect({ host: '127.0.0.1', port: server.port });
    clients.push(c);
    return c;
  }

  /**
   * Floods getData(path) from a client that never reads, while another session keeps
   * asking; returns the peak RSS growth, the slowest probe, and whether the flooder was
   * closed. Ends once `until` holds (polled) and the probe made 50 more round trips.
   */
  async function flood(path: string, until: () => Promise<boolean>): Promise<{ rssGrowthBytes: number; probeMsMax: number; flooderClosed: boolean; probes: number; flooder: LeanClient }> {
    const probe = await connect();
    const probePath = `/probe-${path.slice(1)}`;
    await probe.create(probePath, Buffer.from('0'));
    const baseline = rssBytes(server.pid);
    const flooder = await connect();
    flooder.socket.pause(); // never reads: replies pile up in the kernel, then in the server
    const frames = getDataFrames(path, 2_000);
    let stop = false;
    let flooderClosed = false;
    flooder.socket.on('close', () => { flooderClosed = true; });
    const writing = (async () => {
      while (!stop && !flooderClosed) {
        if (flooder.socket.write(frames)) continue;
        // the server stops reading us: our writes back up; wait for a drain that may never come
        await new Promise<void>((resolve) => {
          const t = setInterval(() => { if (stop || flooderClosed || !flooder.socket.writableNeedDrain) { clearInterval(t); resolve(); } }, 20);
        });
      }
    })();
    let peak = baseline;
    let probeMsMax = 0;
    let probes = 0;
    let after = -1;
    try {
      for (;;) {
        const t0 = performance.now();
        await probe.setData(probePath, Buffer.from(String(probes)));
        const { data } = await probe.getData(probePath);
        expect(data.toString()).toBe(String(probes));
        probeMsMax = Math.max(probeMsMax, performance.now() - t0);
        probes++;
        peak = Math.max(peak, rssBytes(server.pid));
        if (after === -1 && probes % 10 === 0 && (await until())) after = probes;
        if (after !== -1 && probes >= after + 50) break;
        if (probes > 20_000) throw new Error('the flood never reached its condition');
      }
    } finally {
      stop = true;
      await writing;
    }
    return { rssGrowthBytes: peak - baseline, probeMsMax, flooderClosed, probes, flooder };
  }

  it('stops reading it while its replies wait (4 KiB replies): memory stays bounded, others are answered', async () => {
    const setup = await connect();
    await setup.create('/small', Buffer.alloc(4096, 's'));
    const r = await flood('/small', async () => (await metric(metricsPort, 'zooid_io_write_buffer_pauses_total')) >= 1);
    console.log(`4 KiB flood: RSS +${(r.rssGrowthBytes / MiB).toFixed(1)} MiB, slowest probe ${r.probeMsMax.toFixed(0)} ms over ${r.probes} probes, flooder closed: ${r.flooderClosed}`);
    expect(r.rssGrowthBytes).toBeLessThan(FLOOD_RSS_GROWTH_BYTES_MAX);
    expect(r.probeMsMax).toBeLessThan(PROBE_LATENCY_MS_MAX);
  }, 120_000);

  it('closes it once its unread replies pass the outbound cap (512 KiB replies); its session lives on', async () => {
    const setup = await connect();
    await setup.create('/big', Buffer.alloc(512 * 1024, 'b'));
    const r = await flood('/big', async () => (await metric(metricsPort, 'zooid_io_outbound_overflow_closes_total')) >= 1);
    console.log(`512 KiB flood: RSS +${(r.rssGrowthBytes / MiB).toFixed(1)} MiB, slowest probe ${r.probeMsMax.toFixed(0)} ms over ${r.probes} probes, flooder closed: ${r.flooderClosed}`);
    expect(r.flooderClosed).toBe(true);
    expect(r.rssGrowthBytes).toBeLessThan(FLOOD_RSS_GROWTH_BYTES_MAX);
    expect(r.probeMsMax).toBeLessThan(PROBE_LATENCY_MS_MAX);
    // the server is fine afterwards, and the flooder's session can be resumed on a new connection
    expect((await setup.exists('/big'))?.dataLength).toBe(512 * 1024);
    const again = await LeanClient.connect({ host: '127.0.0.1', port: server.port, sessionId: r.flooder.sessionId, passwd: r.flooder.passwd });
    clients.push(again);
    expect(again.sessionId).toBe(r.flooder.sessionId);
    expect((await again.getData('/small')).data.length).toBe(4096);
  }, 120_000);
});

describe('over globalOutstandingLimit requests are delayed, not failed', () => {
  const clients: LeanClient[] = [];
  let server: ServerHandle | null = null;

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await server?.stop();
  });

  /**
   * `sessions` clients each pipeline `rounds` × (create, setData, getData) on their own
   * node in one write; every reply must be OK, in the order sent, and each getData must
   * read the value its session set just before (FIFO per session).
   */
  async function pipelineBurst(port: number, sessions: number, rounds: number): Promise<void> {
    const cs = await Promise.all(Array.from({ length: sessions }, () => LeanClient.connect({ host: '127.0.0.1', port })));
    clients.push(...cs);
    await cs[0].create('/q').catch(() => undefined);
    const results = cs.map((c, s) => {
      const reads = new Set<number>();
      const got = recordReplies(c, reads);
      let tag = 0;
      let w = c.beginRequest(Op.create);
      w.string(`/q/s${s}`).buffer(Buffer.alloc(0));
      writeAcls(w, OPEN_ACL_UNSAFE);
      w.int(0);
      c.endRequest(tag++);
      for (let i = 0; i < rounds; i++) {
        w = c.beginRequest(Op.create);
        w.string(`/q/s${s}/c${i}`).buffer(Buffer.alloc(64, 'c'));
        writeAcls(w, OPEN_ACL_UNSAFE);
        w.int(0);
        c.endRequest(tag++);
        c.beginRequest(Op.setData).string(`/q/s${s}`).buffer(Buffer.from(`v${i}`)).int(-1);
        c.endRequest(tag++);
        c.beginRequest(Op.getData).string(`/q/s${s}`).bool(false);
        reads.add(tag);
        c.endRequest(tag++);
      }
      c.flush();
      return { got, total: tag };
    });
    await waitFor(() => results.every((r) => r.got.length === r.total), { timeoutMs: 60_000, what: 'every pipelined request to be answered' });
    for (const { got, total } of results) {
      expect(got.map((g) => g.tag)).toEqual(Array.from({ length: total }, (_, i) => i));
      expect(got.filter((g) => g.err !== Err.OK)).toEqual([]);
      for (let i = 0; i < rounds; i++) expect(got[1 + 3 * i + 2].data).toBe(`v${i}`);
    }
  }

  it('globalOutstandingLimit=5: connections stop being read, every request is answered in order', async () => {
    const started = await startWithMetrics({ globalOutstandingLimit: '5' });
    server = started.server;
    await pipelineBurst(server.port, 4, 300);
    expect(await metric(started.metricsPort, 'zooid_io_throttle_pauses_total')).toBeGreaterThan(0);
    const mntr = await fourLetterWord(server.port, 'mntr');
    expect(mntrValue(mntr, 'zk_throttled_ops')).toBe(0);
    await server.stop();
    server = null;
  }, 120_000);

  it('request_throttle_max_requests=2: the pipeline stalls (request_throttle_wait_count), every request is answered in order', async () => {
    const started = await startWithMetrics({ 'zookeeper.request_throttle_max_requests': '2', 'zookeeper.request_throttle_stall_time': '50' });
    server = started.server;
    await pipelineBurst(server.port, 2, 200);
    const mntr = await fourLetterWord(server.port, 'mntr');
    expect(mntrValue(mntr, 'zk_request_throttle_wait_count')).toBeGreaterThan(0);
    expect(mntrValue(mntr, 'zk_stale_requests_dropped')).toBe(0);
    await server.stop();
    server = null;
  }, 120_000);

  it('request_throttle_drop_stale: requests of a connection closed while they waited are dropped, not applied', async () => {
    const started = await startWithMetrics({ 'zookeeper.request_throttle_max_requests': '1' });
    server = started.server;
    const c = await LeanClient.connect({ host: '127.0.0.1', port: server.port });
    clients.push(c);
    await c.create('/stale');
    const quitter = await LeanClient.connect({ host: '127.0.0.1', port: server.port });
    const count = 2_000;
    for (let i = 0; i < count; i++) {
      const w = quitter.beginRequest(Op.create);
      w.string(`/stale/n${i}`).buffer(Buffer.alloc(0));
      writeAcls(w, OPEN_ACL_UNSAFE);
      w.int(0);
      quitter.endRequest(i);
    }
    quitter.flush();
    quitter.socket.end(); // gone while its creates wait behind the throttler, one fsync each
    quitter.socket.destroy();
    const dropped = await waitFor(async () => {
      const n = mntrValue(await fourLetterWord(server!.port, 'mntr'), 'zk_stale_requests_dropped');
      return n > 0 ? n : null;
    }, { timeoutMs: 30_000, what: 'stale requests to be dropped' });
    // the session's remaining creates were never applied, and the server serves on
    await waitFor(async () => mntrValue(await fourLetterWord(server!.port, 'mntr'), 'zk_outstanding_requests') === 0, { timeoutMs: 30_000, what: 'the queue to drain' });
    const children = (await c.getChildren('/stale')).length;
    console.log(`drop_stale: ${dropped}+ dropped, ${children} of ${count} creates applied`);
    expect(children).toBeLessThan(count);
    await server.stop();
    server = null;
  }, 120_000);
});
