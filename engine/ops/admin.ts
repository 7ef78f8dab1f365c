// AdminServer: ZooKeeper 3.8's JSON-over-HTTP commands (server/admin/Commands.java,
// JettyAdminServer) on admin.serverAddress:admin.serverPort, under admin.commandURL
// (default /commands). Runs on the main thread; the state comes from the pipeline worker
// over the control path (engine/ops/control.ts) as the same ServerStatsSnapshot the
// four-letter words read (engine/ops/stats.ts), and is shaped here into ZooKeeper's keys.
//
// HTTP as Jetty answers it: GET (and HEAD) only, other methods 405, TRACE 403; `/commands`
// or `/commands/` lists links to every command; `/commands/<name>` (a primary name or an
// alias) answers 200 with Jackson-pretty-printed JSON, the error (unknown command, bad
// argument) inside it; query parameters are the command's keyword arguments. Anything
// else is 404.
//
// Security: like ZooKeeper 3.8, no command needs authentication. The client address is
// taken from the socket only; X-Forwarded-For and similar headers are never read, so no
// header can make a request look local or authenticated (CVE-2024-51504 was exactly such
// a bypass in ZooKeeper 3.9's admin auth). Bind admin.serverAddress to a private address
// or loopback where the commands (srst, crst, stmk) must not be reachable.
//
// formatJackson and buildCommandResponse are pure; startAdminServer is the shell.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import type { ServerConfig } from '../config.ts';
import { configurationJson, EMBEDDED_DEFAULT_CONFIG } from '../config.ts';
import type { ControlChannel, StatsReply, StatsRequest } from './control.ts';
import { type ConnectionInfo, type ServerStatsSnapshot, formatEnvi, formatMntr } from './fourlw.ts';
import { collectEnvironment } from './environment.ts';
import { probeHost } from './probes.ts';
import { javaDouble, summaryAvg } from './java.ts';
import { versions } from './stats.ts';
import type { Logger } from '../logger.ts';
import { listSnapshots } from '../persistence/snapshot.ts';

// ---------------------------------------------------------------------------------------
// Jackson's DefaultPrettyPrinter, as ZooKeeper's JsonOutputter prints

/** A Java double: printed as Double.toString does ("0.0", "4.8333"), where a JS number would print "0". */
export class JavaDouble {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
}

export type JsonValue = string | number | bigint | boolean | null | JavaDouble | JsonValue[] | { [key: string]: JsonValue };

function javaDoubleText(x: number): string {
  if (Number.isNaN(x)) return '"NaN"'; // Jackson writes non-finite doubles as strings
  if (!Number.isFinite(x)) return x > 0 ? '"Infinity"' : '"-Infinity"';
  return x === 0 ? '0.0' : javaDouble(x);
}

/**
 * `{` newline, two spaces per object level, `"key" : value`; arrays inline (`[ a, b ]`,
 * `[ ]`) and not indented themselves, so an object inside an array opens on the array's
 * line; empty objects `{ }`. No trailing newline.
 */
export function formatJackson(value: JsonValue, objectDepth = 0): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return javaDoubleText(value);
    return String(value);
  }
  if (value instanceof JavaDouble) return javaDoubleText(value.value);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[ ]';
    return `[ ${value.map((v) => formatJackson(v, objectDepth)).join(', ')} ]`;
  }
  const keys = Object.keys(value);
  if (keys.length === 0) return '{ }';
  const pad = '  '.repeat(objectDepth + 1);
  const fields = keys.map((k) => `${pad}${JSON.stringify(k)} : ${formatJackson(value[k], objectDepth + 1)}`);
  return `{\n${fields.join(',\n')}\n${'  '.repeat(objectDepth)}}`;
}

// ---------------------------------------------------------------------------------------
// Commands

/** What a command needs from the pipeline (and the host facts to measure for it); null: it answers without it. */
type Need = (Omit<StatsRequest, 'op' | 'host'> & { dirs: boolean; fds: boolean }) | null;

interface CommandDef {
  names: readonly string[];
  need: (kwargs: Readonly<Record<string, string>>) => Need;
}

const PLAIN: Need = { dirs: false, fds: false, lists: false, reset: null, setTraceMask: null };

/** Commands.java's registrations, primary name first. */
export const ADMIN_COMMANDS: readonly CommandDef[] = [
  { names: ['connection_stat_reset', 'crst'], need: () => ({ ...PLAIN, reset: 'crst' }) },
  { names: ['configuration', 'conf', 'config'], need: () => null },
  { names: ['connections', 'cons'], need: () => ({ ...PLAIN, lists: true }) },
  { names: ['hash'], need: () => null },
  { names: ['dirs'], need: () => ({ ...PLAIN, dirs: true }) },
  { names: ['dump'], need: () => ({ ...PLAIN, lists: true }) },
  { names: ['environment', 'env', 'envi'], need: () => null },
  { names: ['get_trace_mask', 'gtmk'], need: () => PLAIN },
  { names: ['initial_configuration', 'icfg'], need: () => null },
  { names: ['is_read_only', 'isro'], need: () => PLAIN },
  { names: ['last_snapshot', 'lsnp'], need: () => null },
  { names: ['leader', 'lead'], need: () => PLAIN },
  { names: ['monitor', 'mntr'], need: () => ({ ...PLAIN, fds: true }) },
  { names: ['observer_connection_stat_reset', 'orst'], need: () => null },
  { names: ['ruok'], need: () => null },
  {
    names: ['set_trace_mask', 'stmk'],
    need: (kw) => {
      const mask = parseJavaLong(kw.traceMask);
      return mask === null ? null : { ...PLAIN, setTraceMask: mask };
    },
  },
  { names: ['server_stats', 'srvr'], need: () => ({ ...PLAIN, dirs: true }) },
  { names: ['stats', 'stat'], need: () => ({ ...PLAIN, dirs: true, lists: true }) },
  { names: ['stat_reset', 'srst'], need: () => ({ ...PLAIN, reset: 'srst' }) },
  { names: ['observers', 'obsr'], need: () => PLAIN },
  { names: ['system_properties', 'sysp'], need: () => null },
  { names: ['voting_view'], need: () => null },
  { names: ['watches', 'wchc'], need: () => ({ ...PLAIN, lists: true }) },
  { names: ['watches_by_path', 'wchp'], need: () => ({ ...PLAIN, lists: true }) },
  { names: ['watch_summary', 'wchs'], need: () => ({ ...PLAIN, lists: true }) },
  { names: ['zabstate'], need: () => PLAIN },
];

const BY_NAME = new Map<string, CommandDef>();
for (const c of ADMIN_COMMANDS) for (const n of c.names) BY_NAME.set(n, c);

export function adminCommandPrimaryNames(): string[] {
  return ADMIN_COMMANDS.map((c) => c.names[0]).sort();
}

/** Java's Long.parseLong: optional sign, decimal digits, within 64 bits; null otherwise. */
function parseJavaLong(text: string | undefined): bigint | null {
  if (text === undefined || !/^[+-]?\d+$/.test(text)) return null;
  const v = BigInt(text);
  return v >= -(1n << 63n) && v < 1n << 63n ? v : null;
}

/** Everything a command reads besides the pipeline's answer: the config and files, read by the shell. */
export interface AdminEnvironment {
  config: ServerConfig;
  /** The zoo.cfg text as read at start (initial_configuration). */
  initialConfig: string;
  /** The newest snapshot file: its zxid and mtime in seconds; null when there is none. */
  lastSnapshot: { zxid: number; timestampSec: number } | null;
  /** formatEnvi's text (environment). */
  environmentText: string;
  /** system_properties: zooid's counterpart of Java's system properties. */
  systemProperties: Readonly<Record<string, string>>;
  /** observers: a leader's synced observers as LearnerHandler.getLearnerHandlerInfo shows each (the quorum worker's answer). */
  observers?: readonly Response[];
}

/** What the AdminServer asks the quorum worker (ensembles only). */
export interface QuorumQueries {
  /** A leader's synced observers' LearnerHandler info; [] on a follower. */
  observers(): Promise<Response[]>;
}

type Response = Record<string, JsonValue>;

/** CommandResponse.toMap: the data, then "command", then "error" — a key the data already has keeps its place. */
function finish(command: string, data: Response, error: string | null = null): Response {
  const out: Response = { ...data };
  out.command = command;
  if (!('error' in data)) out.error = error;
  return out;
}

export function unknownCommandResponse(name: string): Response {
  return { command: name, error: `Unknown command: ${name}` };
}

/** The pipeline's answer a command needs, or null when it needs none (see `needOf`). */
export function needOf(name: string, kwargs: Readonly<Record<string, string>>): Need {
  const def = BY_NAME.get(name);
  if (def === undefined) return null;
  return def.need(kwargs);
}

export function isAdminCommand(name: string): boolean {
  return BY_NAME.has(name);
}

/**
 * One command's JSON object. `stats` is the pipeline's answer when needOf() asked for
 * one (null otherwise). Pure.
 */
export function buildCommandResponse(name: string, kwargs: Readonly<Record<string, string>>, env: AdminEnvironment, stats: StatsReply | null): Response {
  const def = BY_NAME.get(name);
  if (def === undefined) return unknownCommandResponse(name);
  const primary = def.names[0];
  const s = stats?.snapshot ?? null;
  const need = (): ServerStatsSnapshot => {
    if (s === null) throw new Error(`admin command ${primary} needs the pipeline's answer`);
    return s;
  };
  const cfg = env.config;
  switch (primary) {
    case 'connection_stat_reset':
    case 'stat_reset':
    case 'observer_connection_stat_reset':
    case 'ruok':
      return finish(primary, {});
    case 'configuration':
      return finish(primary, configurationJson(cfg));
    case 'connections': {
      const snap = need();
      return finish(primary, {
        ...connectionLists(snap.connections, false),
      });
    }
    case 'hash':
      return finish(primary, { digests: [] }); // zooid keeps no digest log (as the hash word)
    case 'dirs': {
      const snap = need();
      return finish(primary, { datadir_size: snap.dataDirSizeBytes, logdir_size: snap.logDirSizeBytes });
    }
    case 'dump': {
      const snap = need();
      const offsetMs = stats!.wallNowMs - stats!.monoNowMs;
      // ZooKeeper's keys are its elapsed-time clock (Time.currentElapsedTime), bucketed by tickTime
      const buckets = new Map<number, bigint[]>();
      for (const x of snap.sessions) {
        const key = Math.round(x.expireAtMs - offsetMs);
        const list = buckets.get(key);
        if (list === undefined) buckets.set(key, [x.sessionId]);
        else list.push(x.sessionId);
      }
      const expiry: Record<string, JsonValue> = {};
      for (const key of [...buckets.keys()].sort((a, b) => a - b)) expiry[String(key)] = buckets.get(key)!;
      const ephemerals: Record<string, JsonValue> = {};
      for (const e of snap.ephemerals) if (e.paths.length > 0) ephemerals[e.sessionId.toString()] = [...e.paths];
      return finish(primary, { expiry_time_to_session_ids: expiry, session_id_to_ephemeral_paths: ephemerals });
    }
    case 'environment': {
      const out: Response = {};
      for (const line of env.environmentText.split('\n').slice(1)) {
        const at = line.indexOf('=');
        if (at > 0) out[line.slice(0, at)] = line.slice(at + 1);
      }
      return finish(primary, out);
    }
    case 'get_trace_mask':
      return finish(primary, { tracemask: stats!.traceMask });
    case 'set_trace_mask': {
      const raw = kwargs.traceMask;
      if (raw === undefined) return finish(primary, { error: 'setTraceMask requires long traceMask argument' });
      if (stats === null) return finish(primary, { error: `setTraceMask requires long traceMask argument, got ${raw}` });
      return finish(primary, { tracemask: stats.traceMask });
    }
    case 'initial_configuration':
      return finish(primary, { initial_configuration: env.initialConfig });
    case 'is_read_only':
      return finish(primary, { read_only: need().mode === 'read-only' });
    case 'last_snapshot':
      return finish(primary, {
        zxid: env.lastSnapshot === null ? 'ffffffffffffffff' : env.lastSnapshot.zxid.toString(16),
        timestamp: env.lastSnapshot === null ? -1 : env.lastSnapshot.timestampSec,
      });
    case 'leader':
      return finish(primary, leaderJson(cfg, need()));
    case 'monitor':
      return finish(primary, monitorJson(need()));
    case 'server_stats':
      return finish(primary, serverStatsJson(need()));
    case 'stats': {
      const snap = need();
      return finish(primary, {
        ...serverStatsJson(snap),
        ...connectionLists(snap.connections, true),
      });
    }
    case 'observers':
      return finish(primary, { synced_observers: need().monitor.quorum?.leader?.syncedObservers ?? 0, observers: [...(env.observers ?? [])] });
    case 'system_properties':
      return finish(primary, { ...env.systemProperties });
    case 'voting_view':
      return finish(primary, { current_config: cfg.standalone ? {} : votingViewJson(cfg) });
    case 'watches': {
      const bySession = new Map<bigint, string[]>();
      for (const w of need().dataWatches) {
        const list = bySession.get(w.sessionId);
        if (list === undefined) bySession.set(w.sessionId, [w.path]);
        else list.push(w.path);
      }
      const out: Record<string, JsonValue> = {};
      for (const [sid, paths] of bySession) out[sid.toString()] = paths;
      return finish(primary, { session_id_to_watched_paths: out });
    }
    case 'watches_by_path': {
      const out: Record<string, JsonValue> = {};
      for (const w of need().dataWatches) {
        const list = out[w.path] as bigint[] | undefined;
        if (list === undefined) out[w.path] = [w.sessionId];
        else list.push(w.sessionId);
      }
      return finish(primary, { path_to_session_ids: out });
    }
    case 'watch_summary': {
      const snap = need();
      const sessions = new Set<bigint>();
      const paths = new Set<string>();
      for (const w of snap.dataWatches) {
        sessions.add(w.sessionId);
        paths.add(w.path);
      }
      return finish(primary, { num_connections: sessions.size, num_paths: paths.size, num_total_watches: snap.dataWatches.length });
    }
    case 'zabstate':
      return finish(primary, zabStateJson(cfg, need()));
    default:
      throw new Error(`admin command ${primary} has no handler`);
  }
}

/** LeaderCommand: who leads, as this server knows it; standalone is not a QuorumZooKeeperServer. */
function leaderJson(cfg: ServerConfig, s: ServerStatsSnapshot): Response {
  const q = s.monitor.quorum;
  if (cfg.standalone || q === undefined) return { error: 'server is not initialized' };
  const leader = cfg.servers.get(q.leaderSid);
  return { is_leader: s.mode === 'leader', leader_id: q.leaderSid, leader_ip: leader === undefined ? '' : leader.host };
}

/** InetSocketAddress as Jackson prints it: host:port, an IPv6 host in brackets. */
function socketAddressText(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** MultipleAddresses (a one-address server line) as Jackson serializes its getters. */
function multipleAddressesJson(host: string, port: number): Response {
  const one = socketAddressText(host, port);
  return {
    empty: false,
    all_addresses: [one],
    all_reachable_addresses: [one],
    one,
    reachable_address: one,
    wildcard_addresses: [socketAddressText('0.0.0.0', port)],
    all_ports: [port],
    all_host_strings: [host],
    all_reachable_addresses_or_all: [one],
    reachable_or_one: one,
  };
}

/** QuorumPeer.getClientAddress: this server's client port address. */
function clientAddressText(cfg: ServerConfig): string {
  return socketAddressText(cfg.clientPortAddress ?? '0.0.0.0', cfg.clientPort);
}

/** VotingViewCommand's QuorumServerView per voting member; only this server's client address is known (unless a line gives one). */
function votingViewJson(cfg: ServerConfig): Response {
  const out: Response = {};
  for (const [sid, server] of [...cfg.servers].sort((a, b) => a[0] - b[0])) {
    if (server.role !== 'participant') continue;
    let client = '';
    if (sid === cfg.myid) client = clientAddressText(cfg);
    else if (server.clientPort !== null) client = socketAddressText(server.clientAddress ?? '0.0.0.0', server.clientPort);
    out[String(sid)] = {
      server_addresses: [socketAddressText(server.host, server.quorumPort)],
      election_addresses: [socketAddressText(server.host, server.electionPort)],
      client_address: client,
      learner_type: 'participant',
    };
  }
  return out;
}

/** ZabStateCommand: this peer's addresses, its last processed zxid and its Zab phase. */
function zabStateJson(cfg: ServerConfig, s: ServerStatsSnapshot): Response {
  const q = s.monitor.quorum;
  const me = cfg.myid === null ? undefined : cfg.servers.get(cfg.myid);
  if (cfg.standalone || q === undefined || me === undefined) return { voting: false, zabstate: '' };
  const zxid = s.lastProcessedZxid;
  return {
    myid: cfg.myid!,
    is_leader: s.mode === 'leader',
    quorum_address: multipleAddressesJson(me.host, me.quorumPort),
    election_address: multipleAddressesJson(me.host, me.electionPort),
    client_address: clientAddressText(cfg),
    voting: me.role === 'participant',
    last_zxid: `0x${zxid.toString(16)}`,
    zab_epoch: Math.floor(zxid / 0x1_0000_0000),
    zab_counter: zxid % 0x1_0000_0000,
    zabstate: q.zabState,
  };
}

function latencyMin(count: number, min: number): number {
  return count === 0 ? 0 : min;
}

/** ServerCnxn.getConnectionInfo(brief). */
/** The plain and the TLS connections, as ZooKeeper's admin commands list them apart. */
function connectionLists(conns: readonly ConnectionInfo[], brief: boolean): { connections: Response[]; secure_connections: Response[] } {
  return {
    connections: conns.filter((c) => c.secure !== true).map((c) => connectionJson(c, brief)),
    secure_connections: conns.filter((c) => c.secure === true).map((c) => connectionJson(c, brief)),
  };
}

function connectionJson(c: ConnectionInfo, brief: boolean): Response {
  const addr = c.remoteAddress.replace(/^::ffff:/, '');
  const out: Response = {
    remote_socket_address: addr.includes(':') ? `[${addr}]:${c.remotePort}` : `${addr}:${c.remotePort}`,
    interest_ops: c.interestOps,
    outstanding_requests: c.outstandingRequestCount,
    packets_received: c.packetsReceived,
    packets_sent: c.packetsSent,
  };
  if (brief) return out;
  const l = c.latencyMs;
  out.session_id = c.sessionId;
  out.last_operation = c.lastOperation;
  out.established = c.establishedAtMs;
  out.session_timeout = c.sessionTimeoutMs;
  out.last_cxid = c.lastCxid;
  out.last_zxid = c.lastZxid;
  out.last_response_time = c.lastResponseAtMs;
  out.last_latency = c.lastLatencyMs;
  out.min_latency = latencyMin(l.count, l.min);
  out.avg_latency = l.count === 0 ? 0 : Math.floor(l.sum / l.count);
  out.max_latency = l.count === 0 ? 0 : l.max;
  return out;
}

/** SrvrCommand: ServerStats as Jackson serializes it, then the client response sizes and the node count. */
function serverStatsJson(s: ServerStatsSnapshot): Response {
  const m = s.monitor;
  const l = s.requestLatencyMs;
  const clientResponse = (): Response => ({
    last_buffer_size: m.clientResponseBytes.last,
    min_buffer_size: m.clientResponseBytes.min,
    max_buffer_size: m.clientResponseBytes.max,
  });
  return {
    version: s.version,
    read_only: s.mode === 'read-only',
    server_stats: {
      packets_sent: s.packetsSent,
      packets_received: s.packetsReceived,
      fsync_threshold_exceed_count: 0,
      client_response_stats: clientResponse(),
      data_dir_size: s.dataDirSizeBytes,
      log_dir_size: s.logDirSizeBytes,
      provider_null: false,
      server_state: s.mode,
      last_processed_zxid: s.lastProcessedZxid,
      outstanding_requests: s.outstandingRequestCount,
      avg_latency: new JavaDouble(summaryAvg(l)),
      max_latency: l.count === 0 ? 0 : l.max,
      min_latency: latencyMin(l.count, l.min),
      num_alive_client_connections: s.aliveConnectionCount,
      auth_failed_count: m.authFailedCount,
      non_mtlsremote_conn_count: 0,
      non_mtlslocal_conn_count: 0,
      uptime: m.uptimeMs,
    },
    client_response: clientResponse(),
    node_count: s.nodeCount,
  };
}

/**
 * MonitorCommand: the same keys and order as mntr (zk_ dropped), typed as Jackson prints
 * them: version and server_state strings, decimals (avg_*, connection_drop_probability)
 * doubles, everything else integers. Built from formatMntr so the two never disagree.
 */
export function monitorJson(s: ServerStatsSnapshot): Response {
  const out: Response = {};
  for (const line of formatMntr(s).split('\n')) {
    if (line === '') continue;
    const tab = line.indexOf('\t');
    const key = line.slice(3, tab);
    const text = line.slice(tab + 1);
    if (key === 'version' || key === 'server_state') out[key] = text;
    else if (/^-?\d+$/.test(text)) out[key] = Number.isSafeInteger(Number(text)) ? Number(text) : BigInt(text);
    else if (/^-?\d+\.\d+(E-?\d+)?$/.test(text)) out[key] = new JavaDouble(Number(text));
    else out[key] = text;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Shell: files, process, HTTP

/** The newest dataDir/version-2/snapshot.<hex zxid>: its zxid and mtime in seconds (SnapshotInfo). */
export function findLastSnapshot(dataDir: string): { zxid: number; timestampSec: number } | null {
  try {
    const newest = listSnapshots(path.join(dataDir, 'version-2'))[0];
    return newest === undefined ? null : { zxid: newest.zxid, timestampSec: Math.floor(fs.statSync(newest.path).mtimeMs / 1000) };
  } catch {
    return null;
  }
}

/** zooid's counterpart of Java's system properties: the process and the platform, sorted by key. */
export function systemProperties(): Record<string, string> {
  const props: Record<string, string> = {
    'file.encoding': 'UTF-8',
    'file.separator': path.sep,
    'line.separator': '\n',
    'path.separator': path.delimiter,
    'node.version': process.version,
    'node.execPath': process.execPath,
    'os.arch': process.arch,
    'os.name': process.platform,
    'user.dir': process.cwd(),
    'v8.version': process.versions.v8,
    'zooid.version': versions().zooidVersion,
  };
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && (k.startsWith('ZOOID_') || k.startsWith('ZOOKEEPER_'))) props[`env.${k}`] = v;
  }
  const sorted: Record<string, string> = {};
  for (const k of Object.keys(props).sort()) sorted[k] = props[k];
  return sorted;
}

export function adminEnvironment(cfg: ServerConfig): AdminEnvironment {
  let initialConfig = EMBEDDED_DEFAULT_CONFIG;
  if (cfg.configPath !== null) {
    try {
      initialConfig = fs.readFileSync(cfg.configPath, 'utf8');
    } catch {
      initialConfig = '';
    }
  }
  const { version, zooidVersion } = versions();
  return {
    config: cfg,
    initialConfig,
    lastSnapshot: findLastSnapshot(cfg.dataDir),
    environmentText: formatEnvi(collectEnvironment(version, zooidVersion)),
    systemProperties: systemProperties(),
  };
}

/** Runs one command: asks the pipeline when the command needs it. */
export async function runAdminCommand(name: string, kwargs: Readonly<Record<string, string>>, cfg: ServerConfig, control: ControlChannel,
  quorum: QuorumQueries | null = null): Promise<{ status: number; body: Response }> {
  if (!isAdminCommand(name)) return { status: 200, body: unknownCommandResponse(name) };
  const need = needOf(name, kwargs);
  let stats: StatsReply | null = null;
  if (need !== null) {
    const host = await probeHost({ dirs: need.dirs, fds: need.fds, logFiles: false }, cfg);
    const reply = await control.request({ op: 'stats', host, lists: need.lists, reset: need.reset, setTraceMask: need.setTraceMask });
    if (!reply.ok) return { status: 503, body: { command: name, error: reply.error } };
    stats = reply.value;
  }
  const env = adminEnvironment(cfg);
  if (quorum !== null && BY_NAME.get(name)?.names[0] === 'observers') env.observers = await quorum.observers();
  return { status: 200, body: buildCommandResponse(name, kwargs, env, stats) };
}

function commandLinksHtml(commandUrl: string): string {
  let out = '';
  for (const name of adminCommandPrimaryNames()) out += `<a href="${commandUrl}/${name}">${name}</a>\n<br/>\n`;
  return out;
}

/** Starts the AdminServer; resolves once it listens (rejects when the port is taken). */
export function startAdminServer(cfg: ServerConfig, control: ControlChannel, log: Logger, quorum: QuorumQueries | null = null): Promise<http.Server> {
  const base = cfg.adminCommandUrl.replace(/\/+$/, '') || '';
  const server = http.createServer((req, res) => {
    // the peer as the socket reports it; forwarding headers are never consulted
    const peer = req.socket.remoteAddress ?? '';
    void handle(req, res).catch((err: unknown) => {
      log.error(`admin request ${req.method} ${req.url} from ${peer} failed: ${(err as Error).stack ?? String(err)}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end();
    });
  });
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://admin.invalid');
    const pathname = decodeURIComponent(url.pathname);
    const inCommands = pathname === base || pathname === `${base}/` || pathname.startsWith(`${base}/`);
    if (!inCommands) {
      res.writeHead(404, { 'content-type': 'text/html;charset=iso-8859-1' });
      res.end(req.method === 'HEAD' ? undefined : '<html><body><h2>HTTP ERROR 404 Not Found</h2></body></html>\n');
      return;
    }
    if (req.method === 'TRACE') {
      res.writeHead(403, { 'content-length': '0' });
      res.end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/html;charset=iso-8859-1', allow: 'GET, HEAD' });
      res.end(`<html><body><h2>HTTP ERROR 405 HTTP method ${req.method} is not supported by this URL</h2></body></html>\n`);
      return;
    }
    const cmd = pathname.length > base.length + 1 ? pathname.slice(base.length + 1) : '';
    if (cmd === '') {
      const body = commandLinksHtml(base);
      res.writeHead(200, { 'content-type': 'text/html;charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    const kwargs: Record<string, string> = {};
    for (const [k, v] of url.searchParams) if (!(k in kwargs)) kwargs[k] = v; // the first value, as Jetty's getParameterMap()[k][0]
    const { status, body } = await runAdminCommand(cmd, kwargs, cfg, control, quorum);
    const text = formatJackson(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(req.method === 'HEAD' ? undefined : text);
  };
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`Problem starting AdminServer on address ${cfg.adminServerAddress}, port ${cfg.adminServerPort} and command URL ${cfg.adminCommandUrl}: ${err.message}`)));
    server.listen({ port: cfg.adminServerPort, host: cfg.adminServerAddress }, () => {
      const a = server.address();
      const port = typeof a === 'object' && a !== null ? a.port : cfg.adminServerPort;
      log.info(`Started AdminServer on address ${cfg.adminServerAddress}, port ${port} and command URL ${cfg.adminCommandUrl}`);
      resolve(server);
    });
  });
}
