// The main thread: config, rings, worker lifecycle, signals. It never touches requests.
import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { enableCompileCache, flushCompileCache } from './compile-cache.ts';
import fs from 'node:fs';
import path from 'node:path';
import { buildTopology, ringSpecs, attachBell, attachQuorumStats, attachRing, attachStats, observeRing, wordsOf } from './rings/topology.ts';
import { CONTROL_STOP, IO_THREADS_MAX, STOP_LOG, STOP_PIPELINE, STOP_SNAPSHOT } from './records.ts';
import { optionsFor, type ServerConfig } from './config.ts';
import type { PipelineWorkerData } from './workers/pipeline-worker.ts';
import type { LogWorkerData } from './workers/log-worker.ts';
import type { IoWorkerData } from './workers/io-worker.ts';
import type { SnapshotWorkerData } from './workers/snapshot-worker.ts';
import type { QuorumWorkerData } from './workers/quorum-worker.ts';
import { createLogger } from './logger.ts';
import { ControlChannel } from './ops/control.ts';
import { PIPELINE_STATS, LOG_STATS, IO_STATS } from './ops/stagestats.ts';
// the AdminServer and /metrics are loaded once the client ports serve (below), not before the
// pipeline can be spawned: ~0.1 s of the main thread's start
import type { JsonValue, QuorumQueries } from './ops/admin.ts';
import type http from 'node:http';
import { loadPeerTlsOptions, loadTlsServerOptions } from './security/tls.ts';
import { LOG_BATCH_BYTES_MAX, PIPELINE_OLD_GENERATION_SHARE, WORKER_YOUNG_GENERATION_MB } from './limits.ts';
import { exposeGcToWorkers } from './memory-trim.ts';
import type { StartMessage } from './workers/start-gate.ts';
import { trace } from './startup-trace.ts';

const log = createLogger('main');

/** Extra room ZooKeeper gives txns over jute.maxbuffer (zookeeper.jute.maxbuffer.extrasize). */
const TXN_EXTRA_BYTES = 1024;

export interface RunningServer {
  stop(): Promise<void>;
  readonly config: ServerConfig;
  /** The main thread's end of the control path (admin commands, metrics). */
  readonly control: ControlChannel;
  /** Where the AdminServer and /metrics listen (null when off): ports resolved, so port 0 in zoo.cfg works in tests. */
  readonly adminPort: number | null;
  readonly metricsPort: number | null;
}

/** A failure to start with ZooKeeper's exit code: 4 (ERROR_STARTING_ADMIN_SERVER) for the AdminServer, 3 (UNABLE_TO_ACCESS_DATADIR) for a missing dataDir. */
export class SurfaceStartError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}

function workerUrl(name: string): URL {
  return new URL(`./workers/${name}.ts`, import.meta.url);
}


/** Waits for a worker's first message of one of the given types; rejects on error/exit. */
/** How long the AdminServer waits for the quorum worker's answer (it answers from memory, at once). */
const QUORUM_QUERY_TIMEOUT_MS = 2_000;

/** The AdminServer's questions to the quorum worker, by postMessage (a cold path: an operator's request). */
function quorumQueries(worker: Worker): QuorumQueries {
  let nextId = 1;
  return {
    observers(): Promise<Record<string, JsonValue>[]> {
      const id = nextId++;
      return new Promise((resolve) => {
        const done = (list: Record<string, JsonValue>[]) => {
          clearTimeout(timer);
          worker.off('message', onMessage);
          resolve(list);
        };
        const onMessage = (msg: { type?: string; id?: number; observers?: Record<string, JsonValue>[] }) => {
          if (msg.type === 'observers' && msg.id === id) done(msg.observers ?? []);
        };
        const timer = setTimeout(() => done([]), QUORUM_QUERY_TIMEOUT_MS);
        worker.on('message', onMessage);
        worker.postMessage({ type: 'observers', id });
      });
    },
  };
}

/**
 * The io workers share the client ports with SO_REUSEPORT, which would also let them bind a
 * port another process (a second server by mistake) holds, and the kernel would then spread
 * connections over both servers. So the ports are first bound once without it: a port in use
 * fails the start, as ZooKeeper's BindException ("Address already in use") does.
 */
async function claimClientPorts(cfg: { clientPort: number; clientPortAddress: string | null; secureClientPort: number | null; secureClientPortAddress: string | null }): Promise<void> {
  const ports: [number, string | null][] = [];
  if (cfg.clientPort > 0) ports.push([cfg.clientPort, cfg.clientPortAddress]);
  if (cfg.secureClientPort !== null && cfg.secureClientPort > 0) ports.push([cfg.secureClientPort, cfg.secureClientPortAddress]);
  for (const [port, host] of ports) {
    const probe = net.createServer();
    await new Promise<void>((resolve, reject) => {
      probe.once('error', (err) => reject(new Error(`cannot listen on ${host ?? '0.0.0.0'}:${port}: ${err.message}`)));
      probe.listen({ port, host: host ?? undefined, exclusive: true }, () => resolve());
    });
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  }
}

/**
 * The pipeline worker holds the tree: its old generation may grow to a share of the machine's
 * memory (limits.ts), not V8's ~4 GiB, unless node was given --max-old-space-size (a worker
 * without maxOldGenerationSizeMb takes that flag's limit).
 */
export function pipelineHeapLimits(nodeFlags: readonly string[], totalMemBytes: number): { maxYoungGenerationSizeMb: number; maxOldGenerationSizeMb?: number } {
  if (nodeFlags.some((f) => f.startsWith('--max-old-space-size'))) return { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB };
  return { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB, maxOldGenerationSizeMb: Math.floor((totalMemBytes * PIPELINE_OLD_GENERATION_SHARE) / 2 ** 20) };
}

function waitFor(worker: Worker, what: string, types: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const onMessage = (msg: Record<string, unknown>) => {
      if (msg.type === 'error') {
        cleanup();
        reject(typeof msg.exitCode === 'number' ? new SurfaceStartError(String(msg.message), msg.exitCode) : new Error(String(msg.message)));
      } else if (types.includes(String(msg.type))) {
        cleanup();
        resolve(msg);
      }
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new Error(`${what}: ${err.message}`, { cause: err }));
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new Error(`${what} exited with code ${code} before it was ${types.join('/')}`));
    };
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

/**
 * Watches the workers while the server starts: one that fails or exits before the start is
 * over rejects race()'s answer at once, whatever the start waits for then (a worker that
 * fails while still loading its modules, with the pipeline recovering for seconds).
 */
function watchStart(workers: [Worker, string][]): { race<T>(p: Promise<T>): Promise<T>; done(): void } {
  let fail: (err: Error) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  failed.catch(() => {}); // a failure while nothing races is rethrown by the next race
  const listeners = workers.map(([w, what]) => {
    const onError = (err: Error) => fail(new Error(`${what}: ${err.message}`, { cause: err }));
    const onExit = (code: number) => fail(new Error(`${what} exited with code ${code} while the server started`));
    w.on('error', onError);
    w.on('exit', onExit);
    return () => {
      w.off('error', onError);
      w.off('exit', onExit);
    };
  });
  return {
    race: <T>(p: Promise<T>) => Promise.race([p, failed]),
    done: () => {
      for (const off of listeners) off();
    },
  };
}

/** Throws ConfigError (exit 2) when secureClientPort's or the quorum's key or trust store cannot be used. */
export async function startServer(cfg: ServerConfig): Promise<RunningServer> {
  const tlsOptions = cfg.tls === null ? null : loadTlsServerOptions(cfg.tls, cfg.configPath ?? '(embedded default)');
  const peerTls = cfg.quorumTls === null ? null : loadPeerTlsOptions(cfg.quorumTls, cfg.configPath ?? '(embedded default)');
  // an ensemble server (QuorumPeerConfig.isDistributed): the quorum worker elects, leads or follows
  const ensemble = !cfg.standalone;
  const ioThreads = cfg.ioThreads;
  assert(ioThreads >= 1 && ioThreads <= IO_THREADS_MAX, 'io.threads is bounded by its schema entry');
  // before the data is loaded, as ZooKeeper binds its client port first
  trace('main starting');
  await claimClientPorts(cfg);
  const logDir = path.join(cfg.dataLogDir, 'version-2');
  const snapDir = path.join(cfg.dataDir, 'version-2');
  for (const [dir, what] of [[logDir, 'data'], [snapDir, 'snap']] as const) {
    if (fs.existsSync(dir)) continue;
    // FileTxnSnapLog: with zookeeper.datadir.autocreate=false a missing directory stops the server (exit 3)
    if (!cfg.dataDirAutocreate) {
      throw new SurfaceStartError(`Missing ${what} directory ${dir}, automatic data directory creation is disabled ` +
        '(zookeeper.datadir.autocreate is false). Please create this directory manually.', 3);
    }
    fs.mkdirSync(dir, { recursive: true });
  }

  const maxFrame = cfg.juteMaxBufferBytes + TXN_EXTRA_BYTES;
  // the pipeline refuses txns over jute.maxbuffer + extrasize (what ZooKeeper can read back);
  // the log reads and writes entries up to this, a little more, for logs of other writers
  const txnBytesMax = Math.max(2 * maxFrame, cfg.juteMaxBufferBytes + cfg.juteMaxBufferExtraBytes + TXN_EXTRA_BYTES);
  // every ring, bell and shared word block, from one table (engine/rings/topology.ts); each
  // worker gets the whole topology and attaches its own by name
  const topology = buildTopology({ ioThreads, maxFrameBytes: maxFrame, txnBytesMax, quorum: ensemble, quorumSids: [...cfg.servers.keys()] });
  const pipelineBell = attachBell(topology, 'pipeline');
  const logBell = attachBell(topology, 'log');
  const snapshotBell = attachBell(topology, 'snapshot');
  const controlSab = wordsOf(topology, 'control');
  const pipelineStats = attachStats(topology, 'pipeline', PIPELINE_STATS);
  const logStats = attachStats(topology, 'log', LOG_STATS);
  const ioStats = Array.from({ length: ioThreads }, (_, i) => attachStats(topology, `io/${i}`, IO_STATS));

  const pipelineData: PipelineWorkerData = {
    config: optionsFor(cfg, 'pipeline'),
    topology,
    logDir,
    snapDir,
    txnBytesMax,
  };
  enableCompileCache();
  exposeGcToWorkers();
  // the workers load and compile their modules while the pipeline recovers (one after
  // another, each took ~0.3 s of a start); all but the pipeline then wait for 'start'
  // (engine/workers/start-gate.ts), given once the pipeline is ready, before they touch a
  // file, a port or a ring
  trace('main spawning workers');
  const pipeline = new Worker(workerUrl('pipeline-worker'), { workerData: pipelineData, name: 'pipeline', resourceLimits: pipelineHeapLimits([...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(' ')], os.totalmem()) });
  const pipelineReady = waitFor(pipeline, 'pipeline worker', ['ready']);
  // the io workers (the slowest of the others to load) alongside: the main thread only waits
  // meanwhile, so a second core would idle (1M znodes on 2 cores, 10 alternated runs: first
  // getData 1,009 -> 919 ms median, bench/results/restart-2026-12-06.md); the others once the
  // pipeline has loaded its modules: on a machine with fewer cores than threads they would
  // take CPU from that load, the start of the recovery they then overlap (1M znodes on 2
  // cores, all at once: the pipeline loaded at 2.7 s instead of 1.5 s)
  const pipelineLoaded = waitFor(pipeline, 'pipeline worker', ['loaded']);
  pipelineReady.catch(() => {}); // rethrown below when awaited; a failure now rejects pipelineLoaded
  const ios: Worker[] = [];
  const ioOptions = optionsFor(cfg, 'io');
  for (let i = 0; i < ioThreads; i++) {
    const ioData: IoWorkerData = {
      ...ioOptions,
      index: i,
      tls: tlsOptions,
      topology,
    };
    ios.push(new Worker(workerUrl('io-worker'), { workerData: ioData, name: `io-${i}`, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } }));
  }
  const iosWatch = watchStart(ios.map((w, i): [Worker, string] => [w, `io worker ${i}`]));
  const iosLoaded = ios.map((w, i) => waitFor(w, `io worker ${i}`, ['loaded']));
  for (const loaded of iosLoaded) loaded.catch(() => {}); // rethrown below when awaited
  try {
    await iosWatch.race(pipelineLoaded);
  } catch (err) {
    for (const w of [pipeline, ...ios]) void w.terminate();
    iosWatch.done();
    throw err;
  }
  // the pipeline rolls the log when it starts a snapshot (engine/persistence/snapshotter.ts), as ZooKeeper
  const rollAfterTxns = Number.MAX_SAFE_INTEGER;
  const logData: LogWorkerData = {
    topology,
    ...optionsFor(cfg, 'log'),
    dir: logDir,
    snapDir,
    txnBytesMax,
    rollAfterTxns,
    batchBytesMax: LOG_BATCH_BYTES_MAX,
  };
  const logWorker = new Worker(workerUrl('log-worker'), { workerData: logData, name: 'log' });
  logWorker.on('message', (msg: { type: string; message?: string }) => {
    if (msg.type === 'failed') log.error(`log worker: ${msg.message}`);
  });
  const snapData: SnapshotWorkerData = {
    topology,
    snapDir,
    logDir,
    ...optionsFor(cfg, 'snapshot'),
  };
  const snapshotWorker = new Worker(workerUrl('snapshot-worker'), { workerData: snapData, name: 'snapshot' });
  // ensembles: the quorum worker owns the election and quorum ports; the pipeline serves
  // clients once it has a role (until then a client connection is closed at once)
  let quorumWorker: Worker | null = null;
  if (ensemble) {
    const quorumData: QuorumWorkerData = { config: optionsFor(cfg, 'quorum'), topology, snapDir, logDir, txnBytesMax, peerTls };
    quorumWorker = new Worker(workerUrl('quorum-worker'), { workerData: quorumData, name: 'quorum' });
  }
  const gated: [Worker, string][] = [[logWorker, 'log worker'], [snapshotWorker, 'snapshot worker']];
  if (quorumWorker !== null) gated.push([quorumWorker, 'quorum worker']);
  const spawned = [pipeline, ...ios, ...gated.map(([w]) => w)];
  const othersWatch = watchStart([[pipeline, 'pipeline worker'], ...gated]);
  const failure = { race: <T>(p: Promise<T>): Promise<T> => iosWatch.race(othersWatch.race(p)) };
  let lastZxid: number;
  try {
    const loaded = [...iosLoaded, ...gated.map(([w, what]) => waitFor(w, what, ['loaded']))];
    const [ready] = await failure.race(Promise.all([pipelineReady, ...loaded]));
    trace('main pipeline ready, workers loaded');
    lastZxid = Number(ready.lastZxid);
    const start: StartMessage = { type: 'start', lastZxid };
    // as before the overlap: the log, the snapshot worker and the client ports first, then the quorum
    const started = [waitFor(logWorker, 'log worker', ['ready']), waitFor(snapshotWorker, 'snapshot worker', ['ready']),
      ...ios.map((w, i) => waitFor(w, `io worker ${i}`, ['listening']))];
    for (const w of [...gated.map(([w]) => w), ...ios]) if (w !== quorumWorker) w.postMessage(start);
    await failure.race(Promise.all(started));
    flushCompileCache();
    trace('main io listening');
    if (quorumWorker !== null) {
      const quorumReady = waitFor(quorumWorker, 'quorum worker', ['ready']);
      quorumWorker.postMessage(start);
      await failure.race(quorumReady);
    }
  } catch (err) {
    for (const w of spawned) void w.terminate();
    throw err;
  } finally {
    iosWatch.done();
    othersWatch.done();
  }
  const workersToWatch = quorumWorker === null ? [] : [quorumWorker];
  let exiting = false;
  for (const w of [pipeline, logWorker, snapshotWorker, ...ios, ...workersToWatch]) {
    w.on('error', (err) => {
      log.error(`worker ${w.threadId} failed: ${err.stack ?? err.message}`);
      process.exit(1);
    });
    // a worker thread never ends on its own: one that does has lost its loop
    w.on('exit', (code) => {
      if (exiting) return;
      log.error(`worker ${w.threadId} exited unexpectedly with code ${code}`);
      process.exit(1);
    });
  }
  const secureText = cfg.secureClientPort === null ? ''
    : ` and TLS on ${cfg.secureClientPortAddress ?? '0.0.0.0'}:${cfg.secureClientPort} (clientAuth=${cfg.tls?.clientAuth})`;
  const unifiedText = cfg.clientPortUnification ? ` (plain and TLS, client.portUnification, clientAuth=${cfg.tls?.clientAuth})` : '';
  const plainText = cfg.clientPort > 0 ? `${cfg.clientPortAddress ?? '0.0.0.0'}:${cfg.clientPort}${unifiedText}` : 'no plain client port';
  if (ensemble) {
    const peers = [...cfg.servers.entries()].map(([id, s]) => `${id}=${s.host}:${s.quorumPort}:${s.electionPort}${s.role === 'observer' ? ':observer' : ''}`).join(' ');
    log.info(`ensemble server ${cfg.myid} of ${peers}: clients on ${plainText}${secureText} once a leader is established ` +
      `(${ioThreads} io threads, dataDir ${cfg.dataDir}, last zxid 0x${lastZxid.toString(16)})`);
  } else {
    log.info(`serving on ${plainText}${secureText} (${ioThreads} io threads, dataDir ${cfg.dataDir}, last zxid 0x${lastZxid.toString(16)})`);
  }
  if (cfg.sasl !== null) {
    log.info(`SASL DIGEST-MD5 logins: ${cfg.sasl.users.size} users from section ${cfg.sasl.section} of ${cfg.sasl.jaasFile}; ` +
      `sasl ACL scheme ${cfg.saslAuthProvider ? 'on' : 'off (no authProvider.N=org.apache.zookeeper.server.auth.SASLAuthenticationProvider)'}`);
  }

  const control = new ControlChannel(attachRing(topology, 'control/request', 'main'), attachRing(topology, 'control/reply', 'main'));
  const httpServers: http.Server[] = [];
  const portOf = (srv: http.Server): number => {
    const a = srv.address();
    return typeof a === 'object' && a !== null ? a.port : -1;
  };
  let adminPort: number | null = null;
  let metricsPort: number | null = null;
  try {
    if (cfg.adminEnableServer) {
      const { startAdminServer } = await import('./ops/admin.ts');
      const admin = await startAdminServer(cfg, control, log, quorumWorker === null ? null : quorumQueries(quorumWorker)).catch((err: Error) => {
        throw new SurfaceStartError(`Unable to start AdminServer, exiting abnormally: ${err.message}`, 4);
      });
      httpServers.push(admin);
      adminPort = portOf(admin);
    }
    if (cfg.metricsHttpPort !== null) {
      // every ring but the snapshot's (its occupancy says nothing: it fills and drains per snapshot)
      const rings = ringSpecs({ ioThreads, maxFrameBytes: maxFrame, txnBytesMax, quorum: ensemble }).filter((r) => r.name !== 'snapshot').map((r) => {
        const [ring, index] = r.name.split('/');
        const io = ring === 'request' || ring === 'reply' ? Number(index) : null;
        return { ring: io === null && index !== undefined ? `${ring}_${index}` : ring, io, r: observeRing(topology, r.name) };
      });
      const workers = [{ thread: 'pipeline', worker: pipeline }, { thread: 'log', worker: logWorker }, { thread: 'snapshot', worker: snapshotWorker },
        ...ios.map((worker, i) => ({ thread: `io-${i}`, worker })), ...workersToWatch.map((worker) => ({ thread: 'quorum', worker }))];
      const { MetricsCollector, startMetricsServer } = await import('./ops/metrics.ts');
      const collector = new MetricsCollector({ control, dirs: cfg, pipelineStats, logStats, ioStats, quorumStats: ensemble ? attachQuorumStats(topology) : undefined, rings, ioWorkers: ios, workers });
      const metrics = await startMetricsServer(cfg, collector, log).catch((err: Error) => {
        throw new SurfaceStartError(`Cannot boot MetricsProvider: ${err.message}`, 1);
      });
      httpServers.push(metrics);
      metricsPort = portOf(metrics);
    }
  } catch (err) {
    exiting = true;
    for (const srv of httpServers) srv.close();
    await control.close();
    for (const w of [...ios, pipeline, logWorker, snapshotWorker, ...workersToWatch]) void w.terminate();
    throw err;
  }

  let stopping: Promise<void> | null = null;
  const stop = () => {
    exiting = true;
    stopping ??= (async () => {
      for (const srv of httpServers) {
        srv.close();
        srv.closeAllConnections();
      }
      await control.close();
      if (quorumWorker !== null) {
        // peers first: this server leaves the ensemble before it stops serving
        quorumWorker.postMessage({ type: 'stop' });
        await waitFor(quorumWorker, 'quorum worker', ['stopped']).catch(() => {});
      }
      await Promise.all(ios.map((w) => { w.postMessage({ type: 'stop' }); return waitFor(w, 'io worker', ['stopped']).catch(() => {}); }));
      // one stage at a time, each worker's 'stopped' listened for before its stage is set (a message
      // posted before there is a listener is lost, and the shutdown would hang on it)
      const control32 = new Int32Array(controlSab);
      const stages: [number, Worker, string, ReturnType<typeof attachBell>][] = [
        [STOP_PIPELINE, pipeline, 'pipeline worker', pipelineBell], [STOP_LOG, logWorker, 'log worker', logBell], [STOP_SNAPSHOT, snapshotWorker, 'snapshot worker', snapshotBell],
      ];
      for (const [stage, worker, what, bell] of stages) {
        const stopped = waitFor(worker, what, ['stopped']).catch(() => {});
        Atomics.store(control32, CONTROL_STOP, stage);
        bell.ring();
        await stopped;
      }
      await Promise.all([pipeline, logWorker, snapshotWorker, ...ios, ...workersToWatch].map((w) => w.terminate()));
    })();
    return stopping;
  };
  return { stop, config: cfg, control, adminPort, metricsPort };
}
