// Prometheus text (exposition format 0.0.4) on metricsProvider.httpHost:httpPort /metrics,
// served when zoo.cfg sets metricsProvider.className (ZooKeeper's PrometheusMetricsProvider).
//
// Two groups of metrics:
// - ZooKeeper's names and types, as its PrometheusMetricsProvider registers them
//   (simpleclient 0.9: counters without a _total suffix; the gauges ZooKeeperServer
//   registers; summaries with quantile 0.5, and 0.5/0.9/0.99 for the "percentile" ones),
//   filled from the pipeline's ServerStatsSnapshot (the same numbers mntr prints). Of the
//   summaries zooid measures fsynctime (ms per fdatasync) and sync_processor_batch_size
//   (txns per group commit); the others are exported empty (NaN quantiles, count 0), as
//   ZooKeeper exports a summary nobody observed. An ensemble server adds the quorum
//   gauges (quorum_size; a leader's learners, synced_followers, leader_uptime, ...) and the
//   quorum worker's summaries (election_time, quorum_ack_latency, ...: engine/ops/quorumstats.ts)
//   and, as zooid's own, zooid_quorum_ack_seconds{sid}. connection_rejected and
//   sessionless_connections_expired come from the io workers' stats blocks (through the
//   pipeline's snapshot, as mntr shows them).
// - zooid's own (zooid_*): per-stage histograms in seconds, log batch sizes, ring
//   occupancy, per-thread busy/parked time and io event-loop utilization, io counters.
//   They come from the SharedArrayBuffer stats blocks (engine/ops/stagestats.ts) and the
//   rings' counters, read here without asking any worker.
//
// renderMetrics is pure; collectMetrics and startMetricsServer are the shell.
import http from 'node:http';
import type { Worker } from 'node:worker_threads';
import { getHeapStatistics } from 'node:v8';
import { javaDouble } from './java.ts';
import type { EventLoopUtilization } from 'node:perf_hooks';
import type { Ring } from '../../native-free-io/ring.ts';
import type { ServerConfig } from '../config.ts';
import type { ControlChannel, StatsReply } from './control.ts';
import { MNTR_COUNTERS, MNTR_PERCENTILE_SUMMARIES, MNTR_SUMMARIES } from './fourlw.ts';
import { QUORUM_SUMMARIES, type QuorumSummaryName } from './quorumstats.ts';
import { monitorJson, JavaDouble } from './admin.ts';
import { probeHost, type HostDirs } from './probes.ts';
import { histogramQuantile, type HistogramSnapshot, type StatsBlock } from './stagestats.ts';

export { histogramQuantile };
import type { Logger } from '../logger.ts';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** The gauges ZooKeeperServer.registerMetrics registers (3.8), in that order. */
const ZK_GAUGES = [
  'avg_latency', 'max_latency', 'min_latency', 'packets_received', 'packets_sent', 'num_alive_connections',
  'outstanding_requests', 'uptime', 'znode_count', 'watch_count', 'ephemerals_count', 'approximate_data_size',
  'global_sessions', 'local_sessions', 'open_file_descriptor_count', 'max_file_descriptor_count',
  'connection_drop_probability', 'last_client_response_size', 'max_client_response_size', 'min_client_response_size',
  'outstanding_tls_handshake', 'auth_failed_count', 'non_mtls_remote_conn_count', 'non_mtls_local_conn_count',
] as const;

/**
 * The gauges an ensemble server adds: QuorumZooKeeperServer's quorum_size, then
 * LeaderZooKeeperServer's (a leader only). Exported when mntr shows them.
 */
const ZK_QUORUM_GAUGES = [
  'quorum_size', 'learners', 'synced_followers', 'synced_non_voting_followers', 'synced_observers', 'pending_syncs',
  'leader_uptime', 'last_proposal_size', 'max_proposal_size', 'min_proposal_size',
] as const;

export interface ThreadLoad {
  thread: string;
  busySeconds: number;
  idleSeconds: number;
  /** Busy share since the previous scrape (0..1), or since start on the first. */
  utilization: number;
}

export interface RingLoad {
  ring: string;
  io: number | null;
  usedBytes: number;
  capacityBytes: number;
}

/** Everything one scrape shows, gathered by the shell. */
export interface MetricsInput {
  /** The pipeline's answer; null when it did not answer (ZooKeeper's metrics are then left out). */
  stats: StatsReply | null;
  pipeline: Readonly<Record<string, number>>;
  pipelineHistograms: Readonly<Record<string, HistogramSnapshot>>;
  log: Readonly<Record<string, number>>;
  logHistograms: Readonly<Record<string, HistogramSnapshot>>;
  /** The quorum worker's histograms (engine/ops/quorumstats.ts); empty standalone. */
  quorumHistograms?: Readonly<Record<string, HistogramSnapshot>>;
  io: readonly { counters: Readonly<Record<string, number>>; histograms: Readonly<Record<string, HistogramSnapshot>> }[];
  rings: readonly RingLoad[];
  threads: readonly ThreadLoad[];
  /** Each thread's V8 heap (worker.getHeapStatistics; the main thread's own): where resident memory goes. */
  heaps: readonly ThreadHeap[];
  process: { cpuSeconds: number; residentBytes: number; heapUsedBytes: number; startTimeSeconds: number };
}

export interface ThreadHeap {
  thread: string;
  usedBytes: number;
  totalBytes: number;
  /** Memory outside the V8 heap that its objects hold: Buffers, ArrayBuffers. */
  externalBytes: number;
}

/** A sample value as simpleclient prints it: Java's Double.toString, NaN, +Inf, -Inf. */
export function sampleValue(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return '+Inf';
  if (x === -Infinity) return '-Inf';
  return x === 0 ? '0.0' : javaDouble(x);
}

function labelText(labels: Readonly<Record<string, string | number>> | undefined): string {
  if (labels === undefined) return '';
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

class Writer {
  out = '';
  family(name: string, type: 'gauge' | 'counter' | 'summary' | 'histogram', help: string): void {
    this.out += `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
  }
  sample(name: string, value: number, labels?: Readonly<Record<string, string | number>>): void {
    this.out += `${name}${labelText(labels)} ${sampleValue(value)}\n`;
  }
  /** A log2 histogram (unit per observation) as a Prometheus histogram in `scale` units (1e-6: µs → s). */
  histogram(name: string, h: HistogramSnapshot, scale: number, labels?: Readonly<Record<string, string | number>>): void {
    let cumulative = 0;
    for (let i = 0; i < h.bounds.length; i++) {
      cumulative += h.counts[i];
      this.sample(`${name}_bucket`, cumulative, { ...labels, le: boundText(h.bounds[i] * scale) });
    }
    this.sample(`${name}_bucket`, h.count, { ...labels, le: '+Inf' });
    this.sample(`${name}_sum`, h.sum * scale, labels);
    this.sample(`${name}_count`, h.count, labels);
  }
}

function boundText(x: number): string {
  return String(Number(x.toPrecision(12)));
}

const BASIC_QUANTILES = [0.5];
const ADVANCED_QUANTILES = [0.5, 0.9, 0.99];

function summaryFromHistogram(w: Writer, name: string, h: HistogramSnapshot | undefined, scale: number, quantiles: readonly number[]): void {
  for (const q of quantiles) w.sample(name, h === undefined ? NaN : histogramQuantile(h, q) * scale, { quantile: String(q) });
  w.sample(`${name}_count`, h?.count ?? 0);
  w.sample(`${name}_sum`, h === undefined ? 0 : h.sum * scale);
}

export function renderMetrics(m: MetricsInput): string {
  const w = new Writer();
  if (m.stats !== null) {
    const mon = monitorJson(m.stats.snapshot);
    for (const g of ZK_GAUGES) {
      const v = mon[g];
      w.family(g, 'gauge', g);
      w.sample(g, v instanceof JavaDouble ? v.value : Number(v ?? 0));
    }
    for (const g of ZK_QUORUM_GAUGES) {
      const v = mon[g];
      if (v === undefined) continue;
      w.family(g, 'gauge', g);
      w.sample(g, Number(v));
    }
  }
  const qh = m.quorumHistograms ?? {};
  for (const c of MNTR_COUNTERS) {
    const v = Number(m.stats?.snapshot.monitor.counters?.[c] ?? 0);
    w.family(c, 'counter', c);
    w.sample(c, v);
  }
  const zooidSummaries: Partial<Record<string, { h: HistogramSnapshot | undefined; scale: number }>> = {
    fsynctime: { h: m.logHistograms.fsync_us, scale: 1e-3 }, // ms, as ZooKeeper's
    sync_processor_batch_size: { h: m.logHistograms.batch_txns, scale: 1 },
  };
  // the quorum worker's: durations observed in µs, exported in ms as ZooKeeper's; counts as they are
  for (const name of Object.keys(QUORUM_SUMMARIES) as QuorumSummaryName[]) {
    if (qh[name] !== undefined) zooidSummaries[name] = { h: qh[name], scale: QUORUM_SUMMARIES[name] === 'count' ? 1 : 1e-3 };
  }
  for (const name of MNTR_SUMMARIES) {
    const filled = zooidSummaries[name];
    w.family(name, 'summary', name);
    summaryFromHistogram(w, name, filled?.h, filled?.scale ?? 1, BASIC_QUANTILES);
  }
  for (const name of MNTR_PERCENTILE_SUMMARIES) {
    w.family(name, 'summary', name);
    summaryFromHistogram(w, name, qh[name], 1e-3, ADVANCED_QUANTILES);
  }

  // ---- zooid's own
  const stage = (name: string, h: HistogramSnapshot | undefined, help: string, scale = 1e-6) => {
    if (h === undefined) return;
    w.family(name, 'histogram', help);
    w.histogram(name, h, scale);
  };
  stage('zooid_request_ring_wait_seconds', m.pipelineHistograms.ring_wait_us, 'Time a request waited in its io worker\'s request ring before the pipeline took it.');
  stage('zooid_pipeline_read_seconds', m.pipelineHistograms.read_us, 'Pipeline time to answer a read (checks, tree lookup, reply encoding).');
  stage('zooid_pipeline_write_seconds', m.pipelineHistograms.write_us, 'Pipeline time to prepare a write: validate, assign its zxid, apply it, hand its txn to the log ring.');
  stage('zooid_commit_wait_seconds', m.pipelineHistograms.commit_wait_us, 'Time from a txn handed to the log ring until the pipeline saw it durable.');
  stage('zooid_release_seconds', m.pipelineHistograms.release_us, 'Pipeline time to release the replies a durable signal unblocked onto the reply rings.');
  stage('zooid_log_write_seconds', m.logHistograms.write_us, 'Log worker: the write of one group-commit batch.');
  stage('zooid_log_fsync_seconds', m.logHistograms.fsync_us, 'Log worker: the fdatasync of one group-commit batch.');
  stage('zooid_log_batch_txns', m.logHistograms.batch_txns, 'Txns per group-commit batch.', 1);
  stage('zooid_log_batch_bytes', m.logHistograms.batch_bytes, 'Txn bytes per group-commit batch.', 1);
  if (m.io.length > 0) {
    w.family('zooid_reply_wait_seconds', 'histogram', 'Time from the pipeline putting a reply on a reply ring until its io worker wrote it to the socket.');
    m.io.forEach((x, i) => {
      if (x.histograms.reply_wait_us !== undefined) w.histogram('zooid_reply_wait_seconds', x.histograms.reply_wait_us, 1e-6, { io: i });
    });
  }

  // only the followers that acked something: a follower's own block, and the leader's own sid, have none
  const acks = Object.entries(qh).filter(([name, h]) => name.startsWith('ack_us/') && h.count > 0);
  if (acks.length > 0) {
    w.family('zooid_quorum_ack_seconds', 'histogram', 'Leader: time from a PROPOSAL to its ACK, per follower (sid).');
    for (const [name, h] of acks) w.histogram('zooid_quorum_ack_seconds', h, 1e-6, { sid: name.slice('ack_us/'.length) });
  }

  w.family('zooid_ring_used_bytes', 'gauge', 'Bytes between a ring\'s tail and head (records waiting for their consumer).');
  for (const r of m.rings) w.sample('zooid_ring_used_bytes', r.usedBytes, ringLabels(r));
  w.family('zooid_ring_capacity_bytes', 'gauge', 'Record area of a ring.');
  for (const r of m.rings) w.sample('zooid_ring_capacity_bytes', r.capacityBytes, ringLabels(r));

  w.family('zooid_thread_busy_seconds_total', 'counter', 'Time a thread spent working (io workers: event-loop active time; pipeline and log: time not parked).');
  for (const t of m.threads) w.sample('zooid_thread_busy_seconds_total', t.busySeconds, { thread: t.thread });
  w.family('zooid_thread_idle_seconds_total', 'counter', 'Time a thread spent idle (parked on its doorbell, or its event loop waiting).');
  for (const t of m.threads) w.sample('zooid_thread_idle_seconds_total', t.idleSeconds, { thread: t.thread });
  w.family('zooid_thread_utilization', 'gauge', 'Busy share of a thread since the previous scrape (0..1).');
  for (const t of m.threads) w.sample('zooid_thread_utilization', t.utilization, { thread: t.thread });

  const ioCounter = (name: string, key: string, type: 'counter' | 'gauge', help: string) => {
    w.family(name, type, help);
    m.io.forEach((x, i) => w.sample(name, x.counters[key] ?? 0, { io: i }));
  };
  ioCounter('zooid_io_connections', 'connections_open', 'gauge', 'Client connections open on an io worker.');
  ioCounter('zooid_io_connections_accepted_total', 'connections_accepted', 'counter', 'Client connections accepted.');
  ioCounter('zooid_io_connections_rejected_total', 'connections_rejected', 'counter', 'Client connections refused by zookeeper.maxCnxns, maxClientCnxns or an untrusted client certificate.');
  ioCounter('zooid_io_sessionless_expired_total', 'sessionless_expired', 'counter', 'Connections closed for sending no ConnectRequest nor four-letter word within zookeeper.nio.sessionlessCnxnTimeout.');
  ioCounter('zooid_io_frames_received_total', 'frames_in', 'counter', 'Request frames forwarded to the pipeline.');
  ioCounter('zooid_io_bytes_received_total', 'bytes_in', 'counter', 'Bytes read from client sockets.');
  ioCounter('zooid_io_replies_sent_total', 'replies_out', 'counter', 'Reply and watch-event frames written to client sockets.');
  ioCounter('zooid_io_bytes_sent_total', 'bytes_out', 'counter', 'Frame bytes written to client sockets.');
  ioCounter('zooid_io_backpressure_pauses_total', 'backpressure_pauses', 'counter', 'Times a socket was paused because the request ring was full.');
  ioCounter('zooid_io_large_requests_rejected_total', 'large_requests_rejected', 'counter', 'Connections closed because a request over zookeeper.largeRequestThreshold would take the large requests in process over zookeeper.largeRequestMaxBytes.');
  ioCounter('zooid_io_throttle_pauses_total', 'throttle_pauses', 'counter', 'Times a connection stopped being read because requests in process or in flight exceeded globalOutstandingLimit.');
  ioCounter('zooid_io_write_buffer_pauses_total', 'write_buffer_pauses', 'counter', 'Times a connection stopped being read because its replies queued for writing exceeded the pause threshold.');
  ioCounter('zooid_io_outbound_overflow_closes_total', 'outbound_overflow_closes', 'counter', 'Connections closed because their replies and watch events queued and not read exceeded the cap.');
  ioCounter('zooid_io_outbound_budget_pauses_total', 'outbound_budget_pauses', 'counter', 'Times a heavy connection stopped being read because all connections together had more queued than the server-wide soft bound.');
  ioCounter('zooid_io_outbound_budget_closes_total', 'outbound_budget_closes', 'counter', 'Connections closed because all connections together had more queued than the server-wide hard bound (the heaviest first).');
  ioCounter('zooid_io_outbound_queued_bytes', 'outbound_queued_bytes', 'gauge', 'Bytes an io worker has queued for writing to clients (its share of the server-wide bound).');
  ioCounter('zooid_io_outbound_slab_bytes', 'outbound_slab_bytes', 'gauge', 'Memory an io worker has mapped for large outbound writes.');

  const logCounter = (name: string, key: string, help: string) => {
    w.family(name, 'counter', help);
    w.sample(name, m.log[key] ?? 0);
  };
  logCounter('zooid_log_batches_total', 'batches', 'Group-commit batches written and synced.');
  logCounter('zooid_log_txns_total', 'txns', 'Txns written to the log.');
  logCounter('zooid_log_bytes_total', 'bytes', 'Txn bytes written to the log.');
  w.family('zooid_idle_memory_trims_total', 'counter', 'Memory-reducing collections a thread ran while idle after a burst (engine/memory-trim.ts).');
  w.sample('zooid_idle_memory_trims_total', m.pipeline.idle_trims ?? 0, { thread: 'pipeline' });
  m.io.forEach((x, i) => w.sample('zooid_idle_memory_trims_total', x.counters.idle_trims ?? 0, { thread: `io-${i}` }));
  w.family('zooid_idle_memory_trim_seconds_total', 'counter', 'Time those collections paused their thread.');
  w.sample('zooid_idle_memory_trim_seconds_total', (m.pipeline.idle_trim_us ?? 0) / 1e6, { thread: 'pipeline' });
  m.io.forEach((x, i) => w.sample('zooid_idle_memory_trim_seconds_total', (x.counters.idle_trim_us ?? 0) / 1e6, { thread: `io-${i}` }));
  w.family('zooid_control_records_total', 'counter', 'Control-path records the pipeline moved (admin and metrics requests, reply slices).');
  w.sample('zooid_control_records_total', m.pipeline.control_records ?? 0);

  w.family('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds.');
  w.sample('process_cpu_seconds_total', m.process.cpuSeconds);
  w.family('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.');
  w.sample('process_resident_memory_bytes', m.process.residentBytes);
  w.family('process_start_time_seconds', 'gauge', 'Start time of the process since unix epoch in seconds.');
  w.sample('process_start_time_seconds', m.process.startTimeSeconds);
  if (m.stats !== null) {
    const mon = m.stats.snapshot.monitor;
    w.family('process_open_fds', 'gauge', 'Number of open file descriptors.');
    w.sample('process_open_fds', mon.openFileDescriptorCount);
    w.family('process_max_fds', 'gauge', 'Maximum number of open file descriptors.');
    w.sample('process_max_fds', mon.maxFileDescriptorCount);
  }
  w.family('nodejs_heap_used_bytes', 'gauge', 'V8 heap in use on the main thread.');
  w.sample('nodejs_heap_used_bytes', m.process.heapUsedBytes);
  w.family('zooid_thread_heap_used_bytes', 'gauge', 'V8 heap in use, per thread.');
  for (const h of m.heaps) w.sample('zooid_thread_heap_used_bytes', h.usedBytes, { thread: h.thread });
  w.family('zooid_thread_heap_total_bytes', 'gauge', 'V8 heap reserved, per thread.');
  for (const h of m.heaps) w.sample('zooid_thread_heap_total_bytes', h.totalBytes, { thread: h.thread });
  w.family('zooid_thread_external_bytes', 'gauge', 'Memory held outside the V8 heap by its objects (Buffers, ArrayBuffers), per thread.');
  for (const h of m.heaps) w.sample('zooid_thread_external_bytes', h.externalBytes, { thread: h.thread });
  return w.out;
}

function ringLabels(r: RingLoad): Record<string, string | number> {
  return r.io === null ? { ring: r.ring } : { ring: r.ring, io: r.io };
}

// ---------------------------------------------------------------------------------------
// Shell

export interface MetricsSources {
  control: ControlChannel;
  /** Where the host probe looks (the metrics measure file descriptors only). */
  dirs: HostDirs;
  pipelineStats: StatsBlock;
  logStats: StatsBlock;
  ioStats: readonly StatsBlock[];
  /** The quorum worker's block (ensembles only). */
  quorumStats?: StatsBlock;
  rings: readonly { ring: string; io: number | null; r: Ring }[];
  ioWorkers: readonly Worker[];
  /** Every worker thread by name, for its heap statistics. */
  workers: readonly { thread: string; worker: Worker }[];
}

function blockCounters(b: StatsBlock): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of b.spec.counters) out[name] = b.counter(name);
  return out;
}

function blockHistograms(b: StatsBlock): Record<string, HistogramSnapshot> {
  const out: Record<string, HistogramSnapshot> = {};
  for (const name of b.histogramNames()) out[name] = b.histogram(name).snapshot();
  return out;
}

const processStartSeconds = (Date.now() - process.uptime() * 1000) / 1000;

/** Gathers one scrape. Keeps the previous readings for utilization since the last scrape. */
export class MetricsCollector {
  private readonly src: MetricsSources;
  private readonly lastElu: (EventLoopUtilization | null)[];
  private lastLoop = new Map<string, { busy: number; idle: number }>();

  constructor(src: MetricsSources) {
    this.src = src;
    this.lastElu = src.ioWorkers.map(() => null);
  }

  async collect(): Promise<MetricsInput> {
    const src = this.src;
    const host = await probeHost({ dirs: false, fds: true, logFiles: false }, src.dirs);
    const reply = await src.control.request({ op: 'stats', host, lists: false, reset: null, setTraceMask: null });
    const pipeline = blockCounters(src.pipelineStats);
    const log = blockCounters(src.logStats);
    const threads: ThreadLoad[] = [];
    const loop = (thread: string, busyUs: number, idleUs: number) => {
      const prev = this.lastLoop.get(thread) ?? { busy: 0, idle: 0 };
      const dBusy = busyUs - prev.busy;
      const dAll = dBusy + (idleUs - prev.idle);
      this.lastLoop.set(thread, { busy: busyUs, idle: idleUs });
      threads.push({ thread, busySeconds: busyUs / 1e6, idleSeconds: idleUs / 1e6, utilization: dAll > 0 ? dBusy / dAll : 0 });
    };
    loop('pipeline', pipeline.busy_us ?? 0, pipeline.parked_us ?? 0);
    loop('log', log.busy_us ?? 0, log.parked_us ?? 0);
    src.ioWorkers.forEach((worker, i) => {
      const total = worker.performance.eventLoopUtilization();
      const prev = this.lastElu[i];
      const delta = prev === null ? total : worker.performance.eventLoopUtilization(total, prev);
      this.lastElu[i] = total;
      threads.push({ thread: `io-${i}`, busySeconds: total.active / 1000, idleSeconds: total.idle / 1000, utilization: delta.utilization });
    });
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    const main = getHeapStatistics();
    const heaps: ThreadHeap[] = [{ thread: 'main', usedBytes: main.used_heap_size, totalBytes: main.total_heap_size, externalBytes: main.external_memory }];
    const workerHeaps = await Promise.all(src.workers.map(({ worker }) => worker.getHeapStatistics().catch(() => null)));
    workerHeaps.forEach((h, i) => {
      if (h !== null) heaps.push({ thread: src.workers[i].thread, usedBytes: h.used_heap_size, totalBytes: h.total_heap_size, externalBytes: h.external_memory });
    });
    return {
      stats: reply.ok ? reply.value : null,
      pipeline,
      pipelineHistograms: blockHistograms(src.pipelineStats),
      log,
      logHistograms: blockHistograms(src.logStats),
      quorumHistograms: src.quorumStats === undefined ? {} : blockHistograms(src.quorumStats),
      io: src.ioStats.map((b) => ({ counters: blockCounters(b), histograms: blockHistograms(b) })),
      rings: src.rings.map((x) => ({ ring: x.ring, io: x.io, usedBytes: x.r.usedBytes(), capacityBytes: x.r.capacityBytes })),
      threads,
      heaps,
      process: { cpuSeconds: (cpu.user + cpu.system) / 1e6, residentBytes: mem.rss, heapUsedBytes: mem.heapUsed, startTimeSeconds: processStartSeconds },
    };
  }
}

/** Serves GET /metrics; resolves once listening. `name[]=x` parameters keep only those families, as simpleclient's servlet. */
export function startMetricsServer(cfg: ServerConfig, collector: MetricsCollector, log: Logger): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://metrics.invalid');
    if (url.pathname !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('Not Found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' });
      res.end();
      return;
    }
    const names = new Set(url.searchParams.getAll('name[]'));
    collector.collect().then((input) => {
      let text = renderMetrics(input);
      if (names.size > 0) text = filterFamilies(text, names);
      res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
      res.end(req.method === 'HEAD' ? undefined : text);
    }, (err: unknown) => {
      log.error(`metrics scrape failed: ${(err as Error).stack ?? String(err)}`);
      res.writeHead(500);
      res.end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`Cannot start /metrics server on ${cfg.metricsHttpHost}:${cfg.metricsHttpPort}: ${err.message}`)));
    server.listen({ port: cfg.metricsHttpPort ?? 7000, host: cfg.metricsHttpHost }, () => {
      log.info(`Starting /metrics HTTP endpoint at host: ${cfg.metricsHttpHost}, port: ${cfg.metricsHttpPort}`);
      resolve(server);
    });
  });
}

/** Keeps the families named (their HELP/TYPE lines and samples). */
export function filterFamilies(text: string, names: ReadonlySet<string>): string {
  let out = '';
  let keep = false;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const m = /^# (HELP|TYPE) (\S+)/.exec(line);
    if (m !== null) keep = names.has(m[2]);
    if (keep) out += `${line}\n`;
  }
  return out;
}
