// AdminServer and /metrics over real HTTP against a running zooid, with Apache ZooKeeper
// 3.8's AdminServer (Jetty) as the oracle for the JSON shapes: the same commands, the same
// keys (and nesting) for ruok, srvr/server_stats, stats, conf, mntr/monitor, connections,
// dump and the watch commands, Jackson's pretty-printing, and the HTTP behaviour around it.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startZooKeeper, startZooid, type ServerHandle } from '../support/servers.ts';
import { LeanClient } from '../../client/lean.ts';

interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(port: number, path: string, method = 'GET', headers: Record<string, string> = {}): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.end();
  });
}

async function command(port: number, name: string): Promise<Record<string, unknown>> {
  const r = await request(port, `/commands/${name}`);
  expect(r.status, `${name}: ${r.body}`).toBe(200);
  expect(r.headers['content-type']).toBe('application/json');
  return JSON.parse(r.body) as Record<string, unknown>;
}

/** The key paths of a JSON value: objects by key, arrays through their first element. */
function shape(v: unknown, prefix = ''): string[] {
  if (Array.isArray(v)) return [`${prefix}[]`, ...(v.length === 0 ? [] : shape(v[0], `${prefix}[]`))];
  if (v !== null && typeof v === 'object') {
    return Object.entries(v as Record<string, unknown>).flatMap(([k, x]) => [`${prefix}.${k}`, ...shape(x, `${prefix}.${k}`)]);
  }
  return [];
}

/**
 * Keys whose values depend on the run (session ids, expiry times, paths) are compared as
 * one placeholder. ZooKeeper's per-namespace byte summaries (<ns>_read_per_namespace…)
 * are a known gap: zooid's tree does not count bytes per top-level znode yet.
 */
function normalizeShape(keys: string[]): string[] {
  // a set, sorted: Jackson orders a bean's properties (server_stats) differently from run to run
  const normalized = keys.filter((k) => !k.endsWith('_per_namespace')).map((k) => k.replace(/\.\d+(?=\.|\[|$)/g, '.<n>').replace(/\.\/[^.[\]]*/g, '.<path>'));
  return [...new Set(normalized)].sort();
}

let zk: ServerHandle;
let zooid: ServerHandle;
const ports = { zkAdmin: 0, zooidAdmin: 0, zooidMetrics: 0 };
const clients: LeanClient[] = []; // [0]: on ZooKeeper, [1]: on zooid

/** The same small state on both: a node, an ephemeral, a data watch, an exists watch. */
async function populate(port: number): Promise<LeanClient> {
  const c = await LeanClient.connect({ host: '127.0.0.1', port });
  await c.create('/adm', Buffer.from('x'));
  await c.create('/adm/e', Buffer.from('y'), 1);
  await c.getData('/adm', true);
  await c.exists('/adm/none', true);
  await c.setData('/adm', Buffer.from('z'));
  await c.getData('/adm', true);
  return c;
}

describe('AdminServer and /metrics (zooid, with Apache ZooKeeper 3.8 as the oracle)', () => {
  beforeAll(async () => {
    ports.zkAdmin = await freePort();
    ports.zooidAdmin = await freePort();
    ports.zooidMetrics = await freePort();
    const admin = (port: number) => ({ 'admin.enableServer': 'true', 'admin.serverPort': String(port), 'admin.serverAddress': '127.0.0.1' });
    [zk, zooid] = await Promise.all([
      startZooKeeper({ config: admin(ports.zkAdmin) }),
      startZooid({
        config: {
          ...admin(ports.zooidAdmin),
          'metricsProvider.className': 'org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider',
          'metricsProvider.httpPort': String(ports.zooidMetrics),
          'metricsProvider.httpHost': '127.0.0.1',
        },
      }),
    ]);
    clients.push(...(await Promise.all([populate(zk.port), populate(zooid.port)])));
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await Promise.all([zk?.stop(), zooid?.stop()]);
  });

  it('lists the same commands as ZooKeeper under /commands', async () => {
    const [a, b] = await Promise.all([request(ports.zkAdmin, '/commands'), request(ports.zooidAdmin, '/commands')]);
    expect(b.status).toBe(200);
    expect(b.body.trim()).toBe(a.body.trim());
    expect((await request(ports.zooidAdmin, '/commands/')).body).toBe(b.body);
  });

  it.each(['ruok', 'srvr', 'server_stats', 'stats', 'conf', 'configuration', 'mntr', 'monitor', 'connections', 'dump', 'wchs', 'wchc', 'wchp',
    'dirs', 'gtmk', 'isro', 'hash', 'observers', 'voting_view', 'zabstate', 'leader', 'lsnp', 'orst'])('%s has ZooKeeper\'s keys', async (name) => {
    const [a, b] = await Promise.all([command(ports.zkAdmin, name), command(ports.zooidAdmin, name)]);
    expect(normalizeShape(shape(b)), `zooid: ${JSON.stringify(b)}\nZooKeeper: ${JSON.stringify(a)}`).toEqual(normalizeShape(shape(a)));
    expect(b.command).toBe(a.command);
    expect(b.error).toBe(a.error);
  });

  it('prints JSON the way Jackson does', async () => {
    const [a, b] = await Promise.all([request(ports.zkAdmin, '/commands/ruok'), request(ports.zooidAdmin, '/commands/ruok')]);
    expect(b.body).toBe(a.body);
    const mntr = await request(ports.zooidAdmin, '/commands/mntr');
    expect(mntr.body).toMatch(/^\{\n {2}"version" : "3\.8\.\d+-/);
    expect(mntr.body).toMatch(/\n {2}"avg_latency" : \d+\.\d+,\n/); // a double stays a double: 0.0, not 0
    const cons = await request(ports.zooidAdmin, '/commands/cons');
    expect(cons.body).toMatch(/"connections" : \[ \{\n {4}"remote_socket_address" : "127\.0\.0\.1:\d+",/);
  });

  it('reports live state: the session, its ephemeral and its data watches', async () => {
    const dump = await command(ports.zooidAdmin, 'dump');
    const ephemerals = dump.session_id_to_ephemeral_paths as Record<string, string[]>;
    expect(Object.values(ephemerals)).toEqual([['/adm/e']]);
    const sessionId = Object.keys(ephemerals)[0];
    expect(BigInt(sessionId)).toBe(clients[1].sessionId);
    const watches = await command(ports.zooidAdmin, 'wchc');
    expect(Object.keys(watches.session_id_to_watched_paths as object)).toEqual([sessionId]);
    const summary = await command(ports.zooidAdmin, 'wchs');
    expect(summary).toMatchObject({ num_connections: 1, num_paths: 2, num_total_watches: 2 });
    const srvr = await command(ports.zooidAdmin, 'srvr');
    expect((srvr.server_stats as Record<string, unknown>).server_state).toBe('standalone');
    const mntr = await command(ports.zooidAdmin, 'mntr');
    expect(mntr.ephemerals_count).toBe(1);
    expect(mntr.num_alive_connections).toBe(1);
    // the monitor keys are mntr's, in the same order as ZooKeeper's
    const zkMntr = await command(ports.zkAdmin, 'mntr');
    expect(Object.keys(mntr)).toEqual(Object.keys(zkMntr).filter((k) => !k.endsWith('_per_namespace')));
  });

  it('takes keyword arguments, answers errors inside the JSON, and only GET/HEAD', async () => {
    expect(await command(ports.zooidAdmin, 'stmk?traceMask=42')).toMatchObject({ tracemask: 42, command: 'set_trace_mask', error: null });
    expect(await command(ports.zooidAdmin, 'gtmk')).toMatchObject({ tracemask: 42 });
    for (const [path, expected] of [['stmk', 'setTraceMask requires long traceMask argument'], ['stmk?traceMask=abc', 'setTraceMask requires long traceMask argument, got abc']]) {
      const [a, b] = await Promise.all([command(ports.zkAdmin, path), command(ports.zooidAdmin, path)]);
      expect(b).toEqual(a);
      expect(b.error).toBe(expected);
    }
    await command(ports.zooidAdmin, 'stmk?traceMask=306');
    const [a, b] = await Promise.all([command(ports.zkAdmin, 'nosuch'), command(ports.zooidAdmin, 'nosuch')]);
    expect(b).toEqual(a);
    expect((await request(ports.zooidAdmin, '/commands/ruok', 'POST')).status).toBe(405);
    expect((await request(ports.zooidAdmin, '/commands/ruok', 'TRACE')).status).toBe(403);
    const head = await request(ports.zooidAdmin, '/commands/ruok', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect((await request(ports.zooidAdmin, '/elsewhere')).status).toBe(404);
  });

  it('answers the same with forged forwarding headers (CVE-2024-51504)', async () => {
    // zooid's admin commands take no IP-based auth (ZooKeeper's that did trusted X-Forwarded-For), so
    // no header can grant anything; this only shows a forged header changes no answer.
    const plain = await request(ports.zooidAdmin, '/commands/isro');
    const forgeries: Record<string, string>[] = [{ 'X-Forwarded-For': '10.1.2.3' }, { 'X-Forwarded-For': '127.0.0.1, 10.0.0.1' }, { Forwarded: 'for=10.1.2.3' }];
    for (const h of forgeries) {
      const forged = await request(ports.zooidAdmin, '/commands/isro', 'GET', h);
      expect(forged.status).toBe(plain.status);
      expect(forged.body).toBe(plain.body);
    }
  });

  it('serves Prometheus text with ZooKeeper\'s metric names and zooid\'s stages', async () => {
    // a few writes so the log worker has batches to report
    for (let i = 0; i < 5; i++) await clients[1].setData('/adm', Buffer.from(`v${i}`));
    const r = await request(ports.zooidMetrics, '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const types = new Map<string, string>();
    const samples = new Map<string, number>();
    for (const line of r.body.split('\n')) {
      if (line === '') continue;
      const t = /^# TYPE (\S+) (gauge|counter|summary|histogram)$/.exec(line);
      if (t !== null) {
        expect(types.has(t[1]), `family ${t[1]} declared twice`).toBe(false);
        types.set(t[1], t[2]);
        continue;
      }
      if (line.startsWith('# HELP ')) continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
      expect(m, `not a sample line: ${line}`).not.toBeNull();
      const value = m![3] === 'NaN' ? NaN : m![3] === '+Inf' ? Infinity : Number(m![3]);
      expect(Number.isNaN(value) && m![3] !== 'NaN', `bad value in ${line}`).toBe(false);
      samples.set(`${m![1]}${m![2] ?? ''}`, value);
    }
    // ZooKeeper's PrometheusMetricsProvider names and types
    for (const g of ['znode_count', 'watch_count', 'ephemerals_count', 'num_alive_connections', 'packets_received', 'avg_latency', 'global_sessions', 'uptime']) {
      expect(types.get(g), g).toBe('gauge');
    }
    for (const c of ['bytes_received_count', 'connection_request_count', 'response_bytes', 'connection_rejected']) expect(types.get(c), c).toBe('counter');
    for (const s of ['fsynctime', 'sync_processor_batch_size', 'readlatency', 'updatelatency']) expect(types.get(s), s).toBe('summary');
    expect(samples.get('ephemerals_count')).toBe(1);
    expect(samples.get('fsynctime_count')).toBeGreaterThan(0);
    expect(samples.get('sync_processor_batch_size_sum')).toBeGreaterThanOrEqual(samples.get('sync_processor_batch_size_count')!);
    expect(samples.has('updatelatency{quantile="0.99"}')).toBe(true);
    // zooid's stages: histograms with cumulative buckets
    for (const h of ['zooid_request_ring_wait_seconds', 'zooid_pipeline_read_seconds', 'zooid_pipeline_write_seconds', 'zooid_commit_wait_seconds',
      'zooid_release_seconds', 'zooid_log_write_seconds', 'zooid_log_fsync_seconds', 'zooid_log_batch_txns', 'zooid_log_batch_bytes', 'zooid_reply_wait_seconds']) {
      expect(types.get(h), h).toBe('histogram');
    }
    expect(samples.get('zooid_pipeline_write_seconds_count')).toBeGreaterThanOrEqual(8);
    expect(samples.get('zooid_log_batch_txns_sum')).toBeGreaterThanOrEqual(8);
    let previous = 0;
    for (const [key, v] of samples) {
      if (!key.startsWith('zooid_log_fsync_seconds_bucket')) continue;
      expect(v).toBeGreaterThanOrEqual(previous);
      previous = v;
    }
    expect(previous).toBe(samples.get('zooid_log_fsync_seconds_count'));
    // ring occupancy and thread load
    for (const ring of ['{ring="request",io="0"}', '{ring="reply",io="0"}', '{ring="log"}', '{ring="control_request"}', '{ring="control_reply"}']) {
      expect(samples.get(`zooid_ring_capacity_bytes${ring}`), ring).toBeGreaterThan(0);
      expect(samples.has(`zooid_ring_used_bytes${ring}`), ring).toBe(true);
    }
    for (const thread of ['main', 'pipeline', 'log', 'snapshot', 'io-0']) {
      expect(samples.get(`zooid_thread_heap_used_bytes{thread="${thread}"}`), thread).toBeGreaterThan(0);
      expect(samples.get(`zooid_thread_heap_total_bytes{thread="${thread}"}`), thread).toBeGreaterThan(0);
    }
    for (const thread of ['pipeline', 'log', 'io-0']) {
      const u = samples.get(`zooid_thread_utilization{thread="${thread}"}`);
      expect(u, thread).toBeGreaterThanOrEqual(0);
      expect(u, thread).toBeLessThanOrEqual(1);
      expect(samples.get(`zooid_thread_busy_seconds_total{thread="${thread}"}`), thread).toBeGreaterThan(0);
    }
    expect(samples.get('zooid_io_connections{io="0"}')).toBe(1);
    // name[] keeps only the families asked for
    const only = await request(ports.zooidMetrics, '/metrics?name[]=znode_count&name[]=fsynctime');
    expect([...only.body.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1])).toEqual(['znode_count', 'fsynctime']);
    expect((await request(ports.zooidMetrics, '/other')).status).toBe(404);
  });
});
