// zoo.cfg → a typed, validated ServerConfig.
//
// The file is read the way Apache ZooKeeper 3.8 reads it (engine/config/read.ts). Keys
// QuorumPeerConfig parses itself (dataDir, clientPort, server.N, ...) are read under
// their own name. Every other key ZooKeeper copies into the Java system property
// `zookeeper.<key>` without complaint; zooid reads the system-property settings it
// knows under both spellings (`snapCount` and `zookeeper.snapCount`, DESIGN.md §4) and
// warns about the rest instead of failing, so an unmodified zoo.cfg still starts.
//
// Bad values fail with a ConfigError naming the file, line and key. Where ZooKeeper
// silently falls back (Integer.getInteger on "abc" gives the default) zooid refuses:
// a typo should not quietly change behaviour. Where ZooKeeper clamps with a warning
// (snapCount < 2, autopurge.snapRetainCount < 3) zooid clamps with a warning too.
//
// Pure except for reading `<dataDir>/myid` (opts.readMyid) and a dynamicConfigFile.

import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { JAAS_FILE_BYTES_MAX, JaasError, parseJaas, saslUsersOf } from './security/sasl.ts';
import { IO_THREADS_MAX } from './records.ts';
import { type FourLetterWord, parseFourLetterWordWhitelist } from './ops/fourlw.ts';
import { ConfigError, parseProperties, sortWarnings } from './config/read.ts';

export { ConfigError, parseProperties, type PropertyEntry } from './config/read.ts';

export type ServerRole = 'participant' | 'observer';

export interface QuorumServerConfig {
  host: string;                 // without IPv6 brackets
  quorumPort: number;
  electionPort: number;
  role: ServerRole;
  clientPort: number | null;    // from `;[host:]port`
  clientAddress: string | null; // the host of `;host:port`, null when only a port is given
}

export interface ServerConfig {
  configPath: string | null;     // absolute; null for the embedded default
  tickTimeMs: number;
  dataDir: string;               // absolute, spelled as Java's File.getAbsolutePath() spells it
  dataLogDir: string;
  clientPort: number;            // -1 when only secureClientPort is set (as ZooKeeper's `conf` prints it)
  clientPortAddress: string | null;
  secureClientPort: number | null;
  secureClientPortAddress: string | null;
  /** TLS on secureClientPort (ZooKeeper's `ssl.*` keys); null when secureClientPort is not set. Files are read by engine/security/tls.ts. */
  tls: TlsConfig | null;
  /** zookeeper.X509AuthenticationProvider.superUser: the x509 id (RFC 2253 subject) that is also super. */
  x509SuperUser: string | null;
  clientPortListenBacklog: number; // -1 = the platform default
  maxClientCnxns: number;        // per client host; 0 = unlimited
  maxCnxns: number;              // zookeeper.maxCnxns, all connections; 0 = unlimited
  /** zookeeper.nio.sessionlessCnxnTimeout: a connection without a ConnectRequest or a four-letter word is closed after this (ms). */
  sessionlessCnxnTimeoutMs: number;
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  snapCount: number;
  preAllocSizeBytes: number;
  forceSync: boolean;
  globalOutstandingLimit: number;
  /** zookeeper.request_throttle_max_requests: requests in process before the pipeline stalls; 0 = off (ZooKeeper's RequestThrottler). */
  requestThrottleMaxRequests: number;
  /** zookeeper.request_throttle_stall_time: longest one stall waits before looking again (ms). */
  requestThrottleStallTimeMs: number;
  /** zookeeper.request_throttle_drop_stale: while throttling, drop requests of connections already closed. */
  requestThrottleDropStale: boolean;
  /** zookeeper.request_stale_latency_check: a request older than its session timeout is stale too. */
  requestStaleLatencyCheck: boolean;
  /** zookeeper.throttled_op_wait_time: a request queued longer than this is answered THROTTLEDOP; 0 = off (ms). */
  throttledOpWaitTimeMs: number;
  /** The words 4lw.commands.whitelist enables ('*' is every word; srvr always, isro with readonlymode.enabled). */
  fourLetterWordWhitelist: ReadonlySet<FourLetterWord>;
  juteMaxBufferBytes: number;
  /**
   * zookeeper.jute.maxbuffer.extrasize (default jute.maxbuffer, at least 1024): ZooKeeper
   * reads a log entry of at most jute.maxbuffer + this many bytes, so zooid refuses any
   * write whose txn would be larger (MARSHALLINGERROR) and the dataDir stays readable.
   */
  juteMaxBufferExtraBytes: number;
  superDigest: string | null;
  /** SASL (DIGEST-MD5) users from the JAAS file's Server section; null without a JAAS file. */
  sasl: SaslConfig | null;
  /** authProvider.N names org.apache.zookeeper.server.auth.SASLAuthenticationProvider: the `sasl` ACL scheme. */
  saslAuthProvider: boolean;
  /** zookeeper.superUser: the SASL user who also gets the super id. */
  saslSuperUser: string | null;
  /** zookeeper.allowSaslFailedClients: a failed SASL exchange leaves the connection open. */
  allowSaslFailedClients: boolean;
  /** zookeeper.sessionRequireClientSASLAuth: requests before a SASL login close the connection. */
  sessionRequireClientSaslAuth: boolean;
  ioThreads: number;
  myid: number | null;
  servers: Map<number, QuorumServerConfig>;
  standalone: boolean;           // fewer than two participants (ZooKeeper's !isDistributed())
  dynamicConfigFile: string | null;
  initLimit: number;
  syncLimit: number;
  electionAlg: number;
  peerType: string | null;
  autopurgeSnapRetainCount: number;
  autopurgePurgeIntervalHours: number;
  dataDirAutocreate: boolean;    // zookeeper.datadir.autocreate, default true
  adminServerPort: number;
  adminServerAddress: string;
  adminCommandUrl: string;
  adminEnableServer: boolean;
  metricsHttpHost: string;
  metricsHttpPort: number | null; // null unless metricsProvider.className is set
  /** zooid.log.format (text|json) and zooid.log.level (debug|info|warn|error); null: ZOOID_LOG_FORMAT / ZOOID_LOG_LEVEL or the defaults. */
  logFormat: 'text' | 'json' | null;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | null;
  extendedTypesEnabled: boolean;
  /** znode.container.checkIntervalMs (a Java system property; accepted as a zoo.cfg key). Default 60000. */
  containerCheckIntervalMs: number;
  /** znode.container.maxPerMinute: container/TTL deletions per minute at most. Default 10000. */
  containerMaxPerMinute: number;
  /** znode.container.maxNeverUsedIntervalMs: 0 keeps never-used containers. Default 0. */
  containerMaxNeverUsedIntervalMs: number;
  /** zookeeper.enforceQuota: hard quota limits fail writes with QUOTAEXCEEDED. Default false. */
  enforceQuota: boolean;
  readonlyModeEnabled: boolean;
  raw: Map<string, { value: string; line: number }>;
  warnings: string[];
}

export interface SaslConfig {
  /** The JAAS file and the section read (zookeeper.sasl.serverconfig, default Server). */
  jaasFile: string;
  section: string;
  /** user name → password (user_<name>="<password>"). */
  users: Map<string, string>;
}

export type TlsStoreType = 'PEM' | 'PKCS12' | 'JKS';
export type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

/** Where a setting came from, for errors found when its files are read (engine/security/tls.ts). */
export interface SettingSource {
  key: string;
  line: number;
}

export interface TlsStoreConfig {
  path: string;                  // absolute
  location: SettingSource;
  type: TlsStoreType;            // ssl.*.type, or inferred from the file name as ZooKeeper does
  /** The password, or the file holding it (ssl.*.passwordPath); null when neither is set. */
  password: string | null;
  passwordPath: string | null;
  passwordSource: SettingSource | null;
}

export interface TlsConfig {
  keyStore: TlsStoreConfig;
  trustStore: TlsStoreConfig | null; // null: the platform's default CAs, as Java's default trust store
  clientAuth: 'need' | 'want' | 'none';
  minVersion: TlsVersion;
  maxVersion: TlsVersion;
  /** ssl.ciphersuites as written (Java/IANA names); null: the platform's defaults. */
  cipherSuites: { names: string[]; source: SettingSource } | null;
}

export interface ParseOptions {
  path: string | null;
  /** Environment for SERVER_JVMFLAGS / JVMFLAGS (-Djava.security.auth.login.config=…); default none. */
  env?: Record<string, string | undefined>;
  cwd?: string;          // where relative paths resolve, default process.cwd() (Java's user.dir)
  readMyid?: boolean;    // read <dataDir>/myid when it is a file; default true
}

// ---------------------------------------------------------------------------------
// Defaults and limits (one place, with the reason for each)

const DEFAULT_TICK_TIME_MS = 3000;            // ZooKeeperServer.DEFAULT_TICK_TIME
const DEFAULT_MAX_CLIENT_CNXNS = 60;          // QuorumPeerConfig.maxClientCnxns
const DEFAULT_SESSIONLESS_CNXN_TIMEOUT_MS = 10_000; // NIOServerCnxnFactory's zookeeper.nio.sessionlessCnxnTimeout
const DEFAULT_SNAP_COUNT = 100_000;           // ZooKeeperServer.getSnapCount()
const SNAP_COUNT_MIN = 2;                     // ZooKeeper resets smaller values to 2
const DEFAULT_PRE_ALLOC_SIZE_KB = 65_536;     // FileTxnLog.preAllocSize, 64 MiB
const PRE_ALLOC_SIZE_KB_MAX = 4 * 1024 * 1024; // 4 GiB per log file: beyond that it is a typo
const DEFAULT_GLOBAL_OUTSTANDING_LIMIT = 1000;
const DEFAULT_JUTE_MAX_BUFFER_BYTES = 0xfffff; // BinaryInputArchive: 1 MiB - 1
const SNAP_RETAIN_COUNT_MIN = 3;              // PurgeTxnLog refuses to keep fewer
const DEFAULT_ADMIN_SERVER_PORT = 8080;
const DEFAULT_METRICS_HTTP_PORT = 7000;       // PrometheusMetricsProvider's httpPort
const FAST_LEADER_ELECTION = 3;               // the only electionAlg ZooKeeper 3.8 accepts
const PORT_MAX = 65_535;
const INT32_MAX = 2_147_483_647;
const INT32_MIN = -2_147_483_648;
const SERVER_ID_SESSION_BITS_MAX = 255;       // session ids carry the server id in 8 bits

const DEFAULT_METRICS_PROVIDER = 'org.apache.zookeeper.metrics.impl.DefaultMetricsProvider';
const PROMETHEUS_METRICS_PROVIDER = 'org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider';

/** The configuration used when zooid is started without a zoo.cfg. */
export const EMBEDDED_DEFAULT_CONFIG = 'clientPort=2181\ndataDir=./data\n';
const EMBEDDED_SOURCE = '(embedded default)';

/**
 * Keys ZooKeeper 3.8 reads (in zoo.cfg, or as `zookeeper.*` system properties, which a
 * zoo.cfg key becomes) that zooid accepts without acting on them yet: each gets a warning.
 */
const KNOWN_UNUSED_NAMES = new Set([
  // parsed by QuorumPeerConfig
  'localSessionsEnabled', 'localSessionsUpgradingEnabled', 'secureClientPort', 'secureClientPortAddress',
  'observerMasterPort', 'connectToLearnerMasterLimit', 'quorumListenOnAllIPs', 'syncEnabled',
  'standaloneEnabled', 'reconfigEnabled', 'sslQuorum', 'portUnification', 'sslQuorumReloadCertFiles',
  'quorum.cnxn.threads.size', 'oraclePath', 'version',
  // system properties documented in zookeeperAdmin
  'snapshot.trust.empty', 'snapshot.compression.method', 'skipACL', 'snapSizeLimitInKb',
  'txnLogSizeLimitInKb', 'commitLogCount', 'traceFile', 'maxWriteQueuePollTime',
  'maxResponseCacheSize', 'maxGetChildrenResponseCacheSize', 'emulate353TTLNodes', 'watchManagerName',
  'bitHashCacheSize', 'cnxTimeout', 'quorumCnxnTimeoutMs', 'tcpKeepAlive', 'clientTcpKeepAlive',
  'electionPortBindRetry', 'serverCnxnFactory', 'forward_learner_requests_to_commit_processor_disabled',
  'enableEagerACLCheck', 'intBufferStartingSizeBytes', 'ensembleAuthName',
  'db.autocreate', 'fips-mode', 'leaderServes', 'maxConcurrentSnapSyncs', 'maxConcurrentDiffSyncs',
  'request_stale_connection_check',
  'closeSessionTxn.enabled', 'digest.enabled', 'serializeLastProcessedZxid.enabled',
  'minNotificationInterval', 'ssl.authProvider', 'fsync.warningthresholdms',
  'client.secure', 'clientCnxnSocket', 'sasl.client.id', 'sasl.clientconfig', 'disableAutoWatchReset',
  // SyncRequestProcessor's batching knobs: zooid's log worker keeps one fdatasync in flight and
  // syncs everything written meanwhile (engine/workers/log-worker.ts), with no delay to tune
  'flushDelay', 'maxBatchSize',
]);
const KNOWN_UNUSED_PREFIXES = [
  'authProvider.', 'ssl.', 'quorum.auth.', 'jvm.pause.', 'multiAddress.', 'metricsProvider.', 'admin.',
  'audit.', 'kerberos.', 'sasl.', 'commitProcessor.', 'nio.', 'netty.', 'connection_throttle_',
  'fastleader.', 'learner.', 'leader.', 'observer.', 'watcher', 'maxInProcessingDeadWatchers',
  'X509AuthenticationProvider.', 'DigestAuthenticationProvider.', 'enforce.', 'messageTracker.',
  'pathStats.', 'largeRequest', 'group.', 'weight.', 'requestThrottle', 'snapshot.',
];

// ---------------------------------------------------------------------------------
// Numbers as Java reads them

/** Integer.parseInt / Long.parseLong: optional sign, decimal digits only. */
function parseJavaDecimal(text: string): number | null {
  if (!/^[+-]?[0-9]+$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

/** Integer.decode (behind Integer.getInteger): also 0x / 0X / # hex and 0-prefixed octal. */
function parseJavaDecode(text: string): number | null {
  const m = /^([+-]?)(?:0[xX]([0-9a-fA-F]+)|#([0-9a-fA-F]+)|0([0-7]+)|([0-9]+))$/.exec(text);
  if (m === null) return null;
  const sign = m[1] === '-' ? -1 : 1;
  let n: number;
  if (m[2] !== undefined) n = parseInt(m[2], 16);
  else if (m[3] !== undefined) n = parseInt(m[3], 16);
  else if (m[4] !== undefined) n = parseInt(m[4], 8);
  else n = Number(m[5]);
  n *= sign;
  return Number.isSafeInteger(n) ? n : null;
}

// ---------------------------------------------------------------------------------
// Java file paths

/** java.io.File normalisation: no repeated slashes, no trailing slash (except "/"). */
function javaNormalizePath(p: string): string {
  let n = p.replace(/\/{2,}/g, '/');
  if (n.length > 1 && n.endsWith('/')) n = n.slice(0, -1);
  return n;
}

/** File.getAbsolutePath(): relative paths are appended to user.dir, `.` and `..` kept. */
function javaAbsolutePath(p: string, cwd: string): string {
  const n = javaNormalizePath(p);
  if (n.startsWith('/')) return n;
  const base = javaNormalizePath(cwd);
  return base === '/' ? `/${n}` : `${base}/${n}`;
}

function javaChildPath(parent: string, child: string): string {
  return parent === '/' ? `/${child}` : `${parent}/${child}`;
}

// ---------------------------------------------------------------------------------
// Reading settings out of the parsed entries

interface Setting {
  key: string;   // as written in the file
  value: string;
  line: number;
}

class SettingsReader {
  source: string;
  raw: Map<string, { value: string; line: number }>;
  consumed: Set<string>;
  warnings: string[];

  constructor(source: string, raw: Map<string, { value: string; line: number }>, warnings: string[]) {
    this.source = source;
    this.raw = raw;
    this.consumed = new Set();
    this.warnings = warnings;
  }

  fail(key: string | null, line: number | null, detail: string): ConfigError {
    const where = line === null ? `${this.source}:` : `${this.source}:${line}:`;
    const message = key === null ? `${where} ${detail}` : `${where} ${key}: ${detail}`;
    return new ConfigError(message, key, line);
  }

  warn(line: number, message: string): void {
    this.warnings.push(`${this.source}:${line}: ${message}`);
  }

  /** The last-written of the given spellings of one setting, marking all of them read. */
  take(names: readonly string[]): Setting | null {
    let found: Setting | null = null;
    for (const name of names) {
      const entry = this.raw.get(name);
      this.consumed.add(name);
      if (entry === undefined) continue;
      const setting: Setting = { key: name, value: entry.value, line: entry.line };
      if (found === null) {
        found = setting;
        continue;
      }
      const later: Setting = found.line < setting.line ? setting : found;
      const earlier = later === setting ? found : setting;
      this.warn(later.line, `${later.key} overrides ${earlier.key} on line ${earlier.line}`);
      found = later;
    }
    return found;
  }

  /** A `zookeeper.X` system property, written as `X` (what ZooKeeper does with zoo.cfg keys) or in full. */
  takeSystemProperty(bareName: string): Setting | null {
    return this.take([bareName, `zookeeper.${bareName}`]);
  }

  int(s: Setting, opts: { decode?: boolean; min?: number; max?: number; what?: string }): number {
    const n = opts.decode === true ? parseJavaDecode(s.value) : parseJavaDecimal(s.value);
    if (n === null || n < INT32_MIN || n > INT32_MAX) {
      throw this.fail(s.key, s.line, `'${s.value}' is not ${opts.what ?? 'an integer'}`);
    }
    if (opts.min !== undefined && n < opts.min) {
      throw this.fail(s.key, s.line, `${n} is below the minimum of ${opts.min}`);
    }
    if (opts.max !== undefined && n > opts.max) {
      throw this.fail(s.key, s.line, `${n} is above the maximum of ${opts.max}`);
    }
    return n;
  }

  port(s: Setting, allowZero: boolean): number {
    const n = parseJavaDecimal(s.value);
    const low = allowZero ? 0 : 1;
    if (n === null || n < low || n > PORT_MAX) {
      throw this.fail(s.key, s.line, `'${s.value}' is not a port number (${low}-${PORT_MAX})`);
    }
    return n;
  }

  /** QuorumPeerConfig.parseBoolean: true or false, any case. */
  bool(s: Setting): boolean {
    const v = s.value.toLowerCase();
    if (v === 'true') return true;
    if (v === 'false') return false;
    throw this.fail(s.key, s.line, `'${s.value}' is not true or false`);
  }

  nonEmpty(s: Setting): string {
    if (s.value === '') throw this.fail(s.key, s.line, 'is empty');
    return s.value;
  }
}

// ---------------------------------------------------------------------------------
// server.N lines

const SERVER_LINE_FORM = 'expected host:quorumPort:electionPort[:participant|observer][;[clientHost:]clientPort]';

/** ConfigUtils.getHostAndPort: `[v6]:a:b` or `host:a:b`. */
function splitHostAndPorts(s: string): string[] | null {
  if (!s.startsWith('[')) return s.split(':');
  const close = s.indexOf(']');
  if (close < 0) return null;
  const host = s.slice(1, close);
  const rest = s.slice(close + 1);
  if (rest === '') return [host];
  if (!rest.startsWith(':')) return null;
  return [host, ...rest.slice(1).split(':')];
}

function parseServerLine(reader: SettingsReader, s: Setting): QuorumServerConfig {
  const fail = (detail: string) => reader.fail(s.key, s.line, `'${s.value}': ${detail}`);
  const parsePort = (text: string, what: string): number => {
    const n = parseJavaDecimal(text.trim());
    if (n === null || n < 1 || n > PORT_MAX) throw fail(`${what} '${text}' is not a port number (1-${PORT_MAX})`);
    return n;
  };
  const serverAndClient = s.value.split(';');
  if (serverAndClient.length > 2) throw fail(SERVER_LINE_FORM);
  if (serverAndClient[0].includes('|')) {
    throw fail('several addresses per server (multiAddress) are not supported by zooid yet');
  }
  const parts = splitHostAndPorts(serverAndClient[0].trim())?.map((p) => p.trim()) ?? null;
  if (parts === null || parts.length < 3 || parts.length > 4 || parts[0] === '') throw fail(SERVER_LINE_FORM);
  const quorumPort = parsePort(parts[1], 'quorum port');
  const electionPort = parsePort(parts[2], 'election port');
  if (quorumPort === electionPort) throw fail('the quorum port and the election port must be different');
  let role: ServerRole = 'participant';
  if (parts.length === 4) {
    const r = parts[3].toLowerCase();
    if (r !== 'participant' && r !== 'observer') throw fail(`role '${parts[3]}' is not participant or observer`);
    role = r;
  }
  let clientPort: number | null = null;
  let clientAddress: string | null = null;
  if (serverAndClient.length === 2) {
    const clientParts = splitHostAndPorts(serverAndClient[1].trim())?.map((p) => p.trim()) ?? null;
    if (clientParts === null || clientParts.length > 2) throw fail(SERVER_LINE_FORM);
    clientPort = parsePort(clientParts[clientParts.length - 1], 'client port');
    if (clientParts.length === 2) clientAddress = clientParts[0];
  }
  return { host: parts[0], quorumPort, electionPort, role, clientPort, clientAddress };
}

function parseServerId(reader: SettingsReader, s: Setting): number {
  const idText = s.key.slice('server.'.length);
  const id = /^[0-9]+$/.test(idText) ? Number(idText) : NaN;
  if (!Number.isSafeInteger(id)) throw reader.fail(s.key, s.line, `'${idText}' is not a server id (a non-negative integer)`);
  return id;
}

// ---------------------------------------------------------------------------------
// The config

export function parseConfig(text: string, opts: ParseOptions): ServerConfig {
  const cwd = opts.cwd ?? process.cwd();
  const source = opts.path ?? EMBEDDED_SOURCE;
  const r = readerOf(text, source);

  const tickSetting = r.take(['tickTime']);
  const tickTimeMs = tickSetting === null ? DEFAULT_TICK_TIME_MS : r.int(tickSetting, { min: 1, what: 'a number of milliseconds' });
  const dirs = readDirectories(r, cwd, opts.path === null);
  const client = readClientSettings(r, tickTimeMs);
  const persistence = readPersistenceSettings(r);
  const requests = readRequestSettings(r);
  const sasl = readSaslSettings(r, cwd, opts.env ?? {});
  const surfaces = readAdminAndMetrics(r);
  const quorum = readQuorumSettings(r, cwd);
  // QuorumPeerConfig.setupMyId reads myid whenever the file exists, standalone or not.
  const myid = opts.readMyid === false ? null : readMyid(dirs.dataDir, r.warnings);
  const standalone = checkEnsembleShape(r, quorum, myid, dirs.dataDir, opts.readMyid !== false);
  const { clientPort, clientPortAddress } = resolveClientPort(r, client, quorum, myid);
  const tls = client.secureClientPort === null ? null : readTlsSettings(r, cwd);
  const x509SuperUserSetting = r.takeSystemProperty('X509AuthenticationProvider.superUser');
  warnAboutUnusedKeys(r);
  sortWarnings(r.warnings, source);

  assert(dirs.dataDir.startsWith('/') && dirs.dataLogDir.startsWith('/'), 'data directories are absolute');
  assert(clientPort !== 0 && client.minSessionTimeoutMs <= client.maxSessionTimeoutMs, 'validated above');
  return {
    configPath: opts.path === null ? null : resolvePath(cwd, opts.path),
    tickTimeMs,
    ...dirs,
    clientPort,
    clientPortAddress,
    secureClientPort: client.secureClientPort,
    secureClientPortAddress: client.secureClientPortAddress,
    tls,
    x509SuperUser: x509SuperUserSetting === null ? null : x509SuperUserSetting.value,
    clientPortListenBacklog: client.clientPortListenBacklog,
    maxClientCnxns: client.maxClientCnxns,
    maxCnxns: client.maxCnxns,
    sessionlessCnxnTimeoutMs: client.sessionlessCnxnTimeoutMs,
    minSessionTimeoutMs: client.minSessionTimeoutMs,
    maxSessionTimeoutMs: client.maxSessionTimeoutMs,
    ...persistence,
    ...requests,
    ...sasl,
    ...surfaces,
    myid,
    servers: quorum.servers,
    standalone,
    dynamicConfigFile: quorum.dynamicConfigFile,
    initLimit: quorum.initLimit,
    syncLimit: quorum.syncLimit,
    electionAlg: quorum.electionAlg,
    peerType: quorum.peerType,
    raw: r.raw,
    warnings: r.warnings,
  };
}

/** Parses the text into `raw` (the last value of each key wins, as in Properties). */
function readerOf(text: string, source: string): SettingsReader {
  const warnings: string[] = [];
  const raw = new Map<string, { value: string; line: number }>();
  for (const e of parseProperties(text, source)) {
    const earlier = raw.get(e.key);
    if (earlier !== undefined) {
      warnings.push(`${source}:${e.line}: ${e.key} is set again; this value replaces the one on line ${earlier.line}`);
    }
    raw.set(e.key, { value: e.value, line: e.line });
  }
  return new SettingsReader(source, raw, warnings);
}

function readDirectories(r: SettingsReader, cwd: string, embedded: boolean): Pick<ServerConfig, 'dataDir' | 'dataLogDir'> {
  const dataDirSetting = r.take(['dataDir']);
  if (dataDirSetting === null) {
    assert(!embedded, 'the embedded default config sets dataDir');
    throw r.fail('dataDir', null, 'is not set (ZooKeeper requires it)');
  }
  const dataDir = javaAbsolutePath(r.nonEmpty(dataDirSetting), cwd);
  const dataLogDirSetting = r.take(['dataLogDir']);
  const dataLogDir = dataLogDirSetting === null ? dataDir : javaAbsolutePath(r.nonEmpty(dataLogDirSetting), cwd);
  return { dataDir, dataLogDir };
}

interface ClientSettings {
  staticClientPort: number;          // 0 = not set, as in ZooKeeper
  clientPortSetting: Setting | null;
  clientPortAddress: string | null;
  secureClientPort: number | null;
  secureClientPortAddress: string | null;
  clientPortListenBacklog: number;
  maxClientCnxns: number;
  maxCnxns: number;
  sessionlessCnxnTimeoutMs: number;
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
}

function readClientSettings(r: SettingsReader, tickTimeMs: number): ClientSettings {
  const clientPortSetting = r.take(['clientPort']);
  const staticClientPort = clientPortSetting === null ? 0 : r.port(clientPortSetting, true);
  const addressSetting = r.take(['clientPortAddress']);
  const clientPortAddress = addressSetting === null ? null : r.nonEmpty(addressSetting);
  if (addressSetting !== null && staticClientPort === 0) {
    throw r.fail('clientPortAddress', addressSetting.line, 'is set but clientPort is not set');
  }
  const secureSetting = r.take(['secureClientPort']);
  const secureClientPort = secureSetting === null ? null : r.port(secureSetting, true) || null;
  const secureAddressSetting = r.take(['secureClientPortAddress']);
  const secureClientPortAddress = secureAddressSetting === null ? null : r.nonEmpty(secureAddressSetting);
  if (secureAddressSetting !== null && secureClientPort === null) {
    throw r.fail('secureClientPortAddress', secureAddressSetting.line, 'is set but secureClientPort is not set');
  }
  const backlogSetting = r.take(['clientPortListenBacklog']);
  const clientPortListenBacklog = backlogSetting === null ? -1 : r.int(backlogSetting, { min: -1 });
  const perHostSetting = r.take(['maxClientCnxns']);
  const maxClientCnxns = perHostSetting === null ? DEFAULT_MAX_CLIENT_CNXNS : r.int(perHostSetting, { min: 0 });
  const maxCnxnsSetting = r.takeSystemProperty('maxCnxns');
  const maxCnxns = maxCnxnsSetting === null ? 0 : r.int(maxCnxnsSetting, { decode: true, min: 0 });
  // NIOServerCnxnFactory reads it with Integer.getInteger; it is also its expiry queue's bucket width, so 0 or less cannot work
  const sessionlessSetting = r.takeSystemProperty('nio.sessionlessCnxnTimeout');
  const sessionlessCnxnTimeoutMs = sessionlessSetting === null ? DEFAULT_SESSIONLESS_CNXN_TIMEOUT_MS
    : r.int(sessionlessSetting, { decode: true, min: 1, what: 'a number of milliseconds' });

  // -1 (or absent) means 2 × / 20 × tickTime.
  const minSetting = r.take(['minSessionTimeout']);
  const maxSetting = r.take(['maxSessionTimeout']);
  const minRaw = minSetting === null ? -1 : r.int(minSetting, { min: -1, what: 'a number of milliseconds' });
  const maxRaw = maxSetting === null ? -1 : r.int(maxSetting, { min: -1, what: 'a number of milliseconds' });
  const minSessionTimeoutMs = minRaw === -1 ? tickTimeMs * 2 : minRaw;
  const maxSessionTimeoutMs = maxRaw === -1 ? tickTimeMs * 20 : maxRaw;
  if (minSessionTimeoutMs > maxSessionTimeoutMs) {
    const blamed = minSetting ?? maxSetting;
    const minText = minRaw === -1 ? `${minSessionTimeoutMs} (2 × tickTime)` : `${minSessionTimeoutMs}`;
    const maxText = maxRaw === -1 ? `${maxSessionTimeoutMs} (20 × tickTime)` : `${maxSessionTimeoutMs}`;
    throw r.fail(blamed?.key ?? 'minSessionTimeout', blamed?.line ?? null,
      `minSessionTimeout ${minText} is larger than maxSessionTimeout ${maxText}`);
  }
  return {
    staticClientPort, clientPortSetting, clientPortAddress, secureClientPort, secureClientPortAddress, clientPortListenBacklog,
    maxClientCnxns, maxCnxns, sessionlessCnxnTimeoutMs, minSessionTimeoutMs, maxSessionTimeoutMs,
  };
}

type PersistenceSettings = Pick<ServerConfig, 'snapCount' | 'preAllocSizeBytes' | 'forceSync'
  | 'dataDirAutocreate' | 'autopurgeSnapRetainCount' | 'autopurgePurgeIntervalHours'>;

function readPersistenceSettings(r: SettingsReader): PersistenceSettings {
  const snapCountSetting = r.takeSystemProperty('snapCount');
  let snapCount = snapCountSetting === null ? DEFAULT_SNAP_COUNT : r.int(snapCountSetting, { decode: true });
  if (snapCountSetting !== null && snapCount < SNAP_COUNT_MIN) {
    r.warn(snapCountSetting.line, `${snapCountSetting.key} ${snapCount} is below ${SNAP_COUNT_MIN}; using ${SNAP_COUNT_MIN} as ZooKeeper does`);
    snapCount = SNAP_COUNT_MIN;
  }
  const preAllocSetting = r.takeSystemProperty('preAllocSize');
  const preAllocKb = preAllocSetting === null ? DEFAULT_PRE_ALLOC_SIZE_KB : preAllocKbOf(r, preAllocSetting);

  const forceSyncSetting = r.takeSystemProperty('forceSync');
  let forceSync = true;
  if (forceSyncSetting !== null) {
    if (forceSyncSetting.value === 'yes') forceSync = true;
    else if (forceSyncSetting.value === 'no') forceSync = false;
    else throw r.fail(forceSyncSetting.key, forceSyncSetting.line, `'${forceSyncSetting.value}' is not yes or no`);
  }
  const autocreateSetting = r.takeSystemProperty('datadir.autocreate');
  const dataDirAutocreate = autocreateSetting === null ? true : r.bool(autocreateSetting);

  const retainSetting = r.take(['autopurge.snapRetainCount']);
  let autopurgeSnapRetainCount = retainSetting === null ? SNAP_RETAIN_COUNT_MIN : r.int(retainSetting, {});
  if (retainSetting !== null && autopurgeSnapRetainCount < SNAP_RETAIN_COUNT_MIN) {
    r.warn(retainSetting.line, `autopurge.snapRetainCount ${autopurgeSnapRetainCount} is below ${SNAP_RETAIN_COUNT_MIN}; using ${SNAP_RETAIN_COUNT_MIN} as ZooKeeper does`);
    autopurgeSnapRetainCount = SNAP_RETAIN_COUNT_MIN;
  }
  const purgeSetting = r.take(['autopurge.purgeInterval']);
  let autopurgePurgeIntervalHours = purgeSetting === null ? 0 : r.int(purgeSetting, { what: 'a number of hours' });
  if (purgeSetting !== null && autopurgePurgeIntervalHours < 0) {
    r.warn(purgeSetting.line, `autopurge.purgeInterval ${autopurgePurgeIntervalHours} is negative; purging is off as in ZooKeeper`);
    autopurgePurgeIntervalHours = 0;
  }
  return {
    snapCount, preAllocSizeBytes: preAllocKb * 1024, forceSync, dataDirAutocreate,
    autopurgeSnapRetainCount, autopurgePurgeIntervalHours,
  };
}

type RequestSettings = Pick<ServerConfig, 'globalOutstandingLimit' | 'requestThrottleMaxRequests' | 'requestThrottleStallTimeMs'
  | 'requestThrottleDropStale' | 'requestStaleLatencyCheck' | 'throttledOpWaitTimeMs' | 'juteMaxBufferBytes' | 'juteMaxBufferExtraBytes' | 'extendedTypesEnabled'
  | 'containerCheckIntervalMs' | 'containerMaxPerMinute' | 'containerMaxNeverUsedIntervalMs' | 'enforceQuota'
  | 'readonlyModeEnabled' | 'superDigest' | 'fourLetterWordWhitelist' | 'ioThreads'>;

function readRequestSettings(r: SettingsReader): RequestSettings {
  const outstandingSetting = r.takeSystemProperty('globalOutstandingLimit');
  const globalOutstandingLimit = outstandingSetting === null ? DEFAULT_GLOBAL_OUTSTANDING_LIMIT : r.int(outstandingSetting, { decode: true, min: 1 });
  // ZooKeeper 3.8's RequestThrottler and Request staleness knobs, with its defaults
  const throttleMaxSetting = r.takeSystemProperty('request_throttle_max_requests');
  const requestThrottleMaxRequests = throttleMaxSetting === null ? 0 : r.int(throttleMaxSetting, { min: 0 });
  const stallSetting = r.takeSystemProperty('request_throttle_stall_time');
  const requestThrottleStallTimeMs = stallSetting === null ? 100 : r.int(stallSetting, { min: 1, what: 'a number of milliseconds' });
  const dropStaleSetting = r.takeSystemProperty('request_throttle_drop_stale');
  const requestThrottleDropStale = dropStaleSetting === null ? true : r.bool(dropStaleSetting);
  const latencyCheckSetting = r.takeSystemProperty('request_stale_latency_check');
  const requestStaleLatencyCheck = latencyCheckSetting === null ? false : r.bool(latencyCheckSetting);
  const opWaitSetting = r.takeSystemProperty('throttled_op_wait_time');
  const throttledOpWaitTimeMs = opWaitSetting === null ? 0 : r.int(opWaitSetting, { min: 0, what: 'a number of milliseconds' });
  const juteSetting = r.take(['jute.maxbuffer', 'zookeeper.jute.maxbuffer']);
  const juteMaxBufferBytes = juteSetting === null ? DEFAULT_JUTE_MAX_BUFFER_BYTES : r.int(juteSetting, { decode: true, min: 1, what: 'a number of bytes' });
  // BinaryInputArchive: the extra size defaults to jute.maxbuffer, and below 1024 it is 1024
  const extraSetting = r.take(['zookeeper.jute.maxbuffer.extrasize', 'jute.maxbuffer.extrasize']);
  const juteMaxBufferExtraBytes = Math.max(1024, extraSetting === null ? juteMaxBufferBytes : r.int(extraSetting, { decode: true, min: 0, what: 'a number of bytes' }));
  const extendedSetting = r.takeSystemProperty('extendedTypesEnabled');
  const extendedTypesEnabled = extendedSetting === null ? false : r.bool(extendedSetting);
  const checkSetting = r.take(['znode.container.checkIntervalMs', 'zookeeper.znode.container.checkIntervalMs']);
  const containerCheckIntervalMs = checkSetting === null ? 60_000 : r.int(checkSetting, { min: 1, what: 'a number of milliseconds' });
  const perMinuteSetting = r.take(['znode.container.maxPerMinute', 'zookeeper.znode.container.maxPerMinute']);
  const containerMaxPerMinute = perMinuteSetting === null ? 10_000 : r.int(perMinuteSetting, { min: 1 });
  const neverUsedSetting = r.take(['znode.container.maxNeverUsedIntervalMs', 'zookeeper.znode.container.maxNeverUsedIntervalMs']);
  const containerMaxNeverUsedIntervalMs = neverUsedSetting === null ? 0 : r.int(neverUsedSetting, { min: 0, what: 'a number of milliseconds' });
  const quotaSetting = r.takeSystemProperty('enforceQuota');
  const enforceQuota = quotaSetting === null ? false : r.bool(quotaSetting);
  const readonlySetting = r.take(['readonlymode.enabled', 'zookeeper.readonlymode.enabled']);
  const readonlyModeEnabled = readonlySetting === null ? false : r.bool(readonlySetting);
  if (readonlySetting !== null && readonlyModeEnabled) {
    r.warn(readonlySetting.line, `${readonlySetting.key} is accepted but not used by zooid yet`);
  }

  const superDigestSetting = r.takeSystemProperty('DigestAuthenticationProvider.superDigest');
  let superDigest: string | null = null;
  if (superDigestSetting !== null) {
    if (!/^[^:]+:[A-Za-z0-9+/]+={0,2}$/.test(superDigestSetting.value)) {
      throw r.fail(superDigestSetting.key, superDigestSetting.line, `'${superDigestSetting.value}' is not user:base64digest`);
    }
    superDigest = superDigestSetting.value;
  }

  const whitelistSetting = r.takeSystemProperty('4lw.commands.whitelist');
  const fourLetterWordWhitelist = whitelistOf(whitelistSetting, readonlyModeEnabled);

  const ioSetting = r.take(['io.threads']);  // zooid's own
  const ioThreads = ioSetting === null ? Math.max(1, availableParallelism() - 1) : r.int(ioSetting, { min: 1, max: IO_THREADS_MAX });
  return {
    globalOutstandingLimit, requestThrottleMaxRequests, requestThrottleStallTimeMs, requestThrottleDropStale, requestStaleLatencyCheck,
    throttledOpWaitTimeMs, juteMaxBufferBytes, juteMaxBufferExtraBytes, extendedTypesEnabled, readonlyModeEnabled, superDigest,
    fourLetterWordWhitelist, ioThreads, containerCheckIntervalMs, containerMaxPerMinute, containerMaxNeverUsedIntervalMs, enforceQuota,
  };
}

type SaslSettings = Pick<ServerConfig, 'sasl' | 'saslAuthProvider' | 'saslSuperUser' | 'allowSaslFailedClients' | 'sessionRequireClientSaslAuth'>;

const JAAS_PROPERTY = 'java.security.auth.login.config';
const SASL_AUTH_PROVIDER = 'org.apache.zookeeper.server.auth.SASLAuthenticationProvider';
/** Providers zooid has built in: naming them in authProvider.N is accepted silently (x509 needs no registration in zooid). */
const BUILT_IN_AUTH_PROVIDERS = new Set([
  'org.apache.zookeeper.server.auth.IPAuthenticationProvider',
  'org.apache.zookeeper.server.auth.DigestAuthenticationProvider',
  'org.apache.zookeeper.server.auth.X509AuthenticationProvider',
]);

/** -Djava.security.auth.login.config=… in SERVER_JVMFLAGS or JVMFLAGS (as zkServer.sh passes them to the JVM). */
function jaasFileFromEnv(env: Record<string, string | undefined>): { file: string; from: string } | null {
  for (const name of ['SERVER_JVMFLAGS', 'JVMFLAGS']) {
    const flags = env[name];
    if (flags === undefined) continue;
    let found: string | null = null;
    const re = /(?:^|\s)-Djava\.security\.auth\.login\.config=("[^"]*"|'[^']*'|\S+)/g;
    for (let m = re.exec(flags); m !== null; m = re.exec(flags)) found = m[1].replace(/^(["'])(.*)\1$/, '$2'); // the last one wins, as in the JVM
    if (found !== null) return { file: found, from: name };
  }
  return null;
}

/**
 * SASL settings. The JAAS file is named by the zoo.cfg key java.security.auth.login.config
 * (zooid's: for ZooKeeper it is a JVM flag), else by -Djava.security.auth.login.config=… in
 * SERVER_JVMFLAGS or JVMFLAGS. Like the JVM, a leading '=' and a file: URL are accepted.
 */
function readSaslSettings(r: SettingsReader, cwd: string, env: Record<string, string | undefined>): SaslSettings {
  const jaasSetting = r.take([JAAS_PROPERTY]);
  const fromEnv = jaasFileFromEnv(env);
  const sectionSetting = r.takeSystemProperty('sasl.serverconfig');
  const section = sectionSetting === null ? 'Server' : r.nonEmpty(sectionSetting);
  let sasl: SaslConfig | null = null;
  const spelled = jaasSetting !== null ? r.nonEmpty(jaasSetting) : fromEnv?.file ?? null;
  if (spelled !== null) {
    const where = jaasSetting !== null ? { key: jaasSetting.key, line: jaasSetting.line } : { key: `${JAAS_PROPERTY} (from ${fromEnv?.from})`, line: null };
    if (jaasSetting !== null && fromEnv !== null && fromEnv.file !== jaasSetting.value) {
      r.warn(jaasSetting.line, `${JAAS_PROPERTY} overrides -D${JAAS_PROPERTY}=${fromEnv.file} in ${fromEnv.from}`);
    }
    let file = spelled.startsWith('=') ? spelled.slice(1) : spelled;
    if (file.startsWith('file:')) file = decodeURIComponent(file.slice('file:'.length).replace(/^\/\/(localhost)?(?=\/)/, ''));
    file = resolvePath(cwd, file);
    let text: string;
    try {
      if (statSync(file).size > JAAS_FILE_BYTES_MAX) throw new Error(`larger than ${JAAS_FILE_BYTES_MAX} bytes`);
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw r.fail(where.key, where.line, `cannot read the JAAS file ${file}: ${(err as Error).message}`);
    }
    try {
      const found = saslUsersOf(parseJaas(text, file), section, file);
      for (const w of found.warnings) r.warnings.push(w);
      sasl = { jaasFile: file, section, users: found.users };
    } catch (err) {
      if (err instanceof JaasError) throw new ConfigError(`${err.message} (the JAAS file named by ${where.key})`, where.key, err.line);
      throw err;
    }
  }
  let saslAuthProvider = false;
  for (const [key, entry] of r.raw) {
    if (!/^(zookeeper\.)?authProvider\.[^.]+$/.test(key)) continue;
    r.consumed.add(key);
    if (entry.value === SASL_AUTH_PROVIDER) saslAuthProvider = true;
    else if (!BUILT_IN_AUTH_PROVIDERS.has(entry.value)) r.warn(entry.line, `${key}: ${entry.value} cannot be loaded by zooid (it knows ip, digest, sasl and x509); ignored`);
  }
  const superUserSetting = r.takeSystemProperty('superUser');
  const saslSuperUser = superUserSetting === null ? null : r.nonEmpty(superUserSetting);
  const allowSetting = r.takeSystemProperty('allowSaslFailedClients');
  const allowSaslFailedClients = allowSetting === null ? false : r.bool(allowSetting);
  const requireSetting = r.takeSystemProperty('sessionRequireClientSASLAuth');
  const sessionRequireClientSaslAuth = requireSetting === null ? false : r.bool(requireSetting);
  const superPasswordSetting = r.takeSystemProperty('SASLAuthenticationProvider.superPassword');
  if (superPasswordSetting !== null && sasl !== null) sasl.users.set('super', superPasswordSetting.value);
  return { sasl, saslAuthProvider, saslSuperUser, allowSaslFailedClients, sessionRequireClientSaslAuth };
}

type SurfaceSettings = Pick<ServerConfig, 'adminServerPort' | 'adminEnableServer' | 'adminServerAddress'
  | 'adminCommandUrl' | 'metricsHttpHost' | 'metricsHttpPort' | 'logFormat' | 'logLevel'>;

const LOG_FORMATS = ['text', 'json'] as const;
const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

function readAdminAndMetrics(r: SettingsReader): SurfaceSettings {
  const adminPortSetting = r.takeSystemProperty('admin.serverPort');
  const adminServerPort = adminPortSetting === null ? DEFAULT_ADMIN_SERVER_PORT : r.port(adminPortSetting, true);
  const adminEnableSetting = r.takeSystemProperty('admin.enableServer');
  const adminEnableServer = adminEnableSetting === null ? true : r.bool(adminEnableSetting);
  const adminAddressSetting = r.takeSystemProperty('admin.serverAddress');
  const adminServerAddress = adminAddressSetting === null ? '0.0.0.0' : r.nonEmpty(adminAddressSetting);
  const adminUrlSetting = r.takeSystemProperty('admin.commandURL');
  const adminCommandUrl = adminUrlSetting === null ? '/commands' : r.nonEmpty(adminUrlSetting);

  const classNameSetting = r.take(['metricsProvider.className']);
  const metricsPortSetting = r.take(['metricsProvider.httpPort']);
  const metricsHostSetting = r.take(['metricsProvider.httpHost']);
  const metricsHttpHost = metricsHostSetting === null ? '0.0.0.0' : r.nonEmpty(metricsHostSetting);
  const metricsPort = metricsPortSetting === null ? DEFAULT_METRICS_HTTP_PORT : r.port(metricsPortSetting, true);
  let metricsHttpPort: number | null = null;
  if (classNameSetting !== null && classNameSetting.value !== DEFAULT_METRICS_PROVIDER) {
    metricsHttpPort = metricsPort;
    if (classNameSetting.value !== PROMETHEUS_METRICS_PROVIDER) {
      r.warn(classNameSetting.line, `metricsProvider.className ${classNameSetting.value} cannot be loaded by zooid; serving Prometheus text on metricsProvider.httpPort instead`);
    }
  } else if (metricsPortSetting !== null) {
    r.warn(metricsPortSetting.line, 'metricsProvider.httpPort is ignored without metricsProvider.className, as in ZooKeeper');
  }
  // zooid's own: the log line format and level (engine/logger.ts)
  const formatSetting = r.take(['zooid.log.format']);
  const levelSetting = r.take(['zooid.log.level']);
  const oneOf = <T extends string>(s: Setting, allowed: readonly T[]): T => {
    const v = s.value.trim().toLowerCase();
    if (!(allowed as readonly string[]).includes(v)) throw r.fail(s.key, s.line, `'${s.value}' is not one of ${allowed.join(', ')}`);
    return v as T;
  };
  const logFormat = formatSetting === null ? null : oneOf(formatSetting, LOG_FORMATS);
  const logLevel = levelSetting === null ? null : oneOf(levelSetting, LOG_LEVELS);
  return { adminServerPort, adminEnableServer, adminServerAddress, adminCommandUrl, metricsHttpHost, metricsHttpPort, logFormat, logLevel };
}

interface QuorumSettings {
  initLimit: number;
  initSetting: Setting | null;
  syncLimit: number;
  syncSetting: Setting | null;
  electionAlg: number;
  peerType: string | null;
  peerTypeSetting: Setting | null;
  servers: Map<number, QuorumServerConfig>;
  serversLine: number | null;       // where the server list starts (or the dynamicConfigFile line)
  dynamicConfigFile: string | null;
}

function readQuorumSettings(r: SettingsReader, cwd: string): QuorumSettings {
  const initSetting = r.take(['initLimit']);
  const initLimit = initSetting === null ? 0 : r.int(initSetting, { min: 0, what: 'a number of ticks' });
  const syncSetting = r.take(['syncLimit']);
  const syncLimit = syncSetting === null ? 0 : r.int(syncSetting, { min: 0, what: 'a number of ticks' });
  const electionSetting = r.take(['electionAlg']);
  const electionAlg = electionSetting === null ? FAST_LEADER_ELECTION : r.int(electionSetting, {});
  if (electionSetting !== null && electionAlg !== FAST_LEADER_ELECTION) {
    throw r.fail('electionAlg', electionSetting.line, `${electionAlg} is not supported; only 3 (fast leader election) is, as in ZooKeeper 3.8`);
  }
  const peerTypeSetting = r.take(['peerType']);
  let peerType: string | null = null;
  if (peerTypeSetting !== null) {
    const t = peerTypeSetting.value.toLowerCase();
    if (t !== 'participant' && t !== 'observer') {
      throw r.fail('peerType', peerTypeSetting.line, `'${peerTypeSetting.value}' is not participant or observer`);
    }
    peerType = t;
  }

  const dynamicSetting = r.take(['dynamicConfigFile']);
  const servers = new Map<number, QuorumServerConfig>();
  let serversLine: number | null = null;
  for (const [key, entry] of r.raw) {
    if (!key.startsWith('server.')) continue;
    r.consumed.add(key);
    if (dynamicSetting !== null) {
      throw r.fail(key, entry.line, 'must be in the dynamic config file, since dynamicConfigFile is set');
    }
    addServer(r, { key, value: entry.value, line: entry.line }, servers);
    if (serversLine === null || entry.line < serversLine) serversLine = entry.line;
  }
  let dynamicConfigFile: string | null = null;
  if (dynamicSetting !== null) {
    dynamicConfigFile = javaAbsolutePath(r.nonEmpty(dynamicSetting), cwd);
    readDynamicConfig(r, dynamicSetting, dynamicConfigFile, servers);
    serversLine = dynamicSetting.line;
  }
  return { initLimit, initSetting, syncLimit, syncSetting, electionAlg, peerType, peerTypeSetting, servers, serversLine, dynamicConfigFile };
}

function addServer(r: SettingsReader, s: Setting, servers: Map<number, QuorumServerConfig>): void {
  const id = parseServerId(r, s);
  if (servers.has(id)) throw r.fail(s.key, s.line, `server id ${id} is given twice`);
  servers.set(id, parseServerLine(r, s));
}

/**
 * QuorumPeerConfig.parseDynamicConfig and checkValidity: returns whether this server runs
 * standalone (fewer than two participants), after checking what an ensemble needs.
 */
function checkEnsembleShape(r: SettingsReader, q: QuorumSettings, myid: number | null, dataDir: string, myidRead: boolean): boolean {
  let participants = 0;
  let observers = 0;
  for (const s of q.servers.values()) {
    if (s.role === 'participant') participants++;
    else observers++;
  }
  if (participants === 0 && observers > 0) {
    throw r.fail(null, q.serversLine, 'observers without participants is an invalid configuration');
  }
  if (participants === 1) {
    if (observers > 0) throw r.fail(null, q.serversLine, 'observers without a quorum is an invalid configuration');
    r.warn(q.serversLine ?? 0, 'only one server.N is given: running standalone, as ZooKeeper does');
  }
  const standalone = participants <= 1;
  if (standalone) return true;
  const myidFile = javaChildPath(dataDir, 'myid');
  if (q.initLimit === 0) throw r.fail('initLimit', q.initSetting?.line ?? null, 'is not set (an ensemble needs it)');
  if (q.syncLimit === 0) throw r.fail('syncLimit', q.syncSetting?.line ?? null, 'is not set (an ensemble needs it)');
  if (myidRead && myid === null) throw r.fail('myid', null, `${myidFile} is missing (an ensemble needs it)`);
  if (myid !== null && !q.servers.has(myid)) {
    throw r.fail('myid', null, `this server's id ${myid} (${myidFile}) has no server.${myid} line`);
  }
  return false;
}

/** QuorumPeerConfig.setupClientPort: this server's server.N line may give the client port. */
function resolveClientPort(r: SettingsReader, c: ClientSettings, q: QuorumSettings, myid: number | null): Pick<ServerConfig, 'clientPort' | 'clientPortAddress'> {
  let clientPort = c.staticClientPort;
  let clientPortAddress = c.clientPortAddress;
  const me = myid === null ? undefined : q.servers.get(myid);
  if (me !== undefined && q.peerTypeSetting !== null && q.peerType !== me.role) {
    r.warn(q.peerTypeSetting.line, `peerType ${q.peerType} differs from server.${myid}'s role ${me.role}; the server.${myid} line wins, as in ZooKeeper`);
  }
  if (me !== undefined && me.clientPort !== null) {
    if (c.staticClientPort !== 0 && c.staticClientPort !== me.clientPort) {
      throw r.fail(`server.${myid}`, r.raw.get(`server.${myid}`)?.line ?? null,
        `client port ${me.clientPort} differs from clientPort ${c.staticClientPort} on line ${c.clientPortSetting?.line}`);
    }
    clientPort = me.clientPort;
    if (me.clientAddress !== null && me.clientAddress !== '0.0.0.0') clientPortAddress = me.clientAddress;
  }
  if (clientPort === 0) {
    if (c.secureClientPort !== null) return { clientPort: -1, clientPortAddress };
    const why = c.clientPortSetting === null ? 'is not set' : '0 means no client port';
    throw r.fail('clientPort', c.clientPortSetting?.line ?? null, `${why}, and neither secureClientPort nor this server's server.N line gives one`);
  }
  return { clientPort, clientPortAddress };
}

const TLS_VERSIONS: readonly TlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** KeyStoreFileType.fromPropertyValueOrFileName: the .type setting, else the file name's extension. */
function storeTypeOf(r: SettingsReader, location: Setting, typeSetting: Setting | null): TlsStoreType {
  const typeName = typeSetting === null || typeSetting.value === '' ? null : typeSetting.value.toUpperCase();
  if (typeName !== null) {
    if (typeName === 'PEM' || typeName === 'PKCS12' || typeName === 'JKS') return typeName;
    throw r.fail(typeSetting!.key, typeSetting!.line, `'${typeSetting!.value}' is not a key store type zooid reads (PEM, PKCS12 or JKS)`);
  }
  const ext = /\.([^./]*)$/.exec(location.value)?.[1]?.toLowerCase() ?? '';
  if (ext === 'pem') return 'PEM';
  if (ext === 'p12' || ext === 'pfx') return 'PKCS12';
  if (ext === 'jks') return 'JKS';
  throw r.fail(location.key, location.line, `cannot tell the store type from the file name '${location.value}' (.pem, .p12, .pfx or .jks); set ${location.key.replace(/location$/, 'type')}`);
}

function readTlsStore(r: SettingsReader, cwd: string, which: 'keyStore' | 'trustStore'): TlsStoreConfig | null {
  const location = r.takeSystemProperty(`ssl.${which}.location`);
  const typeSetting = r.takeSystemProperty(`ssl.${which}.type`);
  const passwordSetting = r.takeSystemProperty(`ssl.${which}.password`);
  const passwordPathSetting = r.takeSystemProperty(`ssl.${which}.passwordPath`);
  if (location === null || location.value === '') return null;
  const passwordSource = passwordPathSetting ?? passwordSetting;
  return {
    path: javaAbsolutePath(location.value, cwd),
    location: { key: location.key, line: location.line },
    type: storeTypeOf(r, location, typeSetting),
    password: passwordSetting === null ? null : passwordSetting.value,
    passwordPath: passwordPathSetting === null || passwordPathSetting.value === '' ? null : javaAbsolutePath(passwordPathSetting.value, cwd),
    passwordSource: passwordSource === null ? null : { key: passwordSource.key, line: passwordSource.line },
  };
}

/** X509Util's client-port settings (`ssl.*`, i.e. the zookeeper.ssl.* system properties). */
function readTlsSettings(r: SettingsReader, cwd: string): TlsConfig {
  const keyStore = readTlsStore(r, cwd, 'keyStore');
  const trustStore = readTlsStore(r, cwd, 'trustStore');
  if (keyStore === null) {
    throw r.fail('ssl.keyStore.location', null, 'is not set; secureClientPort needs a key store with the server\'s key and certificate');
  }
  const clientAuthSetting = r.takeSystemProperty('ssl.clientAuth');
  const clientAuthText = clientAuthSetting === null ? '' : clientAuthSetting.value.toLowerCase();
  if (clientAuthText !== '' && clientAuthText !== 'need' && clientAuthText !== 'want' && clientAuthText !== 'none') {
    throw r.fail(clientAuthSetting!.key, clientAuthSetting!.line, `'${clientAuthSetting!.value}' is not need, want or none`);
  }
  const clientAuth = clientAuthText === '' ? 'need' : clientAuthText;
  const version = (s: Setting, text: string): TlsVersion => {
    const v = TLS_VERSIONS.find((t) => t.toLowerCase() === text.trim().toLowerCase());
    if (v === undefined) throw r.fail(s.key, s.line, `'${text.trim()}' is not a TLS protocol zooid offers (${TLS_VERSIONS.join(', ')})`);
    return v;
  };
  // ZooKeeper enables ssl.enabledProtocols, else just ssl.protocol; zooid's default is TLSv1.2 and TLSv1.3.
  const protocolSetting = r.takeSystemProperty('ssl.protocol');
  const enabledSetting = r.takeSystemProperty('ssl.enabledProtocols');
  let versions: TlsVersion[] = ['TLSv1.2', 'TLSv1.3'];
  if (enabledSetting !== null && enabledSetting.value !== '') {
    versions = enabledSetting.value.split(',').filter((p) => p.trim() !== '').map((p) => version(enabledSetting, p));
  } else if (protocolSetting !== null && protocolSetting.value !== '') {
    versions = [version(protocolSetting, protocolSetting.value)];
  }
  const order = (v: TlsVersion) => TLS_VERSIONS.indexOf(v);
  versions.sort((a, b) => order(a) - order(b));
  const ciphersSetting = r.takeSystemProperty('ssl.ciphersuites');
  const names = ciphersSetting === null ? [] : ciphersSetting.value.split(',').map((c) => c.trim()).filter((c) => c !== '');
  // ZKTrustManager checks client host names only for quorum peers: the client port ignores these
  r.takeSystemProperty('ssl.hostnameVerification');
  r.takeSystemProperty('ssl.clientHostnameVerification');
  const providerSetting = r.takeSystemProperty('ssl.authProvider');
  if (providerSetting !== null && providerSetting.value !== 'x509') {
    r.warn(providerSetting.line, `${providerSetting.key}=${providerSetting.value}: zooid authenticates TLS clients with its built-in x509 provider only`);
  }
  return {
    keyStore,
    trustStore,
    clientAuth,
    minVersion: versions[0],
    maxVersion: versions[versions.length - 1],
    cipherSuites: ciphersSetting === null || names.length === 0 ? null : { names, source: { key: ciphersSetting.key, line: ciphersSetting.line } },
  };
}

/** Whatever no section read: known to ZooKeeper but unused by zooid, or unknown to both. */
function warnAboutUnusedKeys(r: SettingsReader): void {
  for (const [key, entry] of r.raw) {
    if (r.consumed.has(key)) continue;
    const bare = key.startsWith('zookeeper.') ? key.slice('zookeeper.'.length) : key;
    if (KNOWN_UNUSED_NAMES.has(bare) || KNOWN_UNUSED_PREFIXES.some((p) => bare.startsWith(p))) {
      r.warn(entry.line, `${key} is accepted but not used by zooid yet`);
    } else {
      r.warn(entry.line, `${key} is not a setting ZooKeeper 3.8 or zooid knows; ignored (ZooKeeper would set the Java system property zookeeper.${key})`);
    }
  }
}

function preAllocKbOf(r: SettingsReader, s: Setting): number {
  const kb = parseJavaDecimal(s.value);  // FileTxnLog: Long.parseLong(size) * 1024
  if (kb === null || kb < 0) throw r.fail(s.key, s.line, `'${s.value}' is not a size in KB`);
  if (kb > PRE_ALLOC_SIZE_KB_MAX) throw r.fail(s.key, s.line, `${kb} KB is above the maximum of ${PRE_ALLOC_SIZE_KB_MAX} KB`);
  return kb;
}

/** 4lw.commands.whitelist as ZooKeeper's FourLetterCommands reads it (engine/ops/fourlw.ts has the one parser). */
function whitelistOf(s: Setting | null, readonlyModeEnabled: boolean): ReadonlySet<FourLetterWord> {
  return parseFourLetterWordWhitelist(s?.value, readonlyModeEnabled);
}

function readMyid(dataDir: string, warnings: string[]): number | null {
  const file = javaChildPath(dataDir, 'myid');
  let text: string;
  try {
    if (!statSync(file).isFile()) return null;
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ConfigError(`${file}: myid: cannot be read: ${(err as Error).message}`, 'myid', null);
  }
  const first = text.split(/\r\n|\r|\n/)[0].trim();  // ZooKeeper reads the first line only
  if (!/^[0-9]+$/.test(first) || !Number.isSafeInteger(Number(first))) {
    throw new ConfigError(`${file}:1: myid: '${first}' is not a number`, 'myid', 1);
  }
  const id = Number(first);
  if (id > SERVER_ID_SESSION_BITS_MAX) {
    warnings.push(`${file}:1: myid ${id} is above ${SERVER_ID_SESSION_BITS_MAX}; session ids only hold 8 bits of it and may collide`);
  }
  return id;
}

/** The static file's dynamicConfigFile: server.N (and group/weight/version) lines only. */
function readDynamicConfig(r: SettingsReader, setting: Setting, file: string, servers: Map<number, QuorumServerConfig>): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw r.fail(setting.key, setting.line, `cannot read ${file}: ${(err as Error).message}`);
  }
  const dr = new SettingsReader(file, new Map(), r.warnings);
  for (const e of parseProperties(text, file)) {
    if (e.key.startsWith('server.')) {
      addServer(dr, { key: e.key, value: e.value, line: e.line }, servers);
    } else if (e.key.startsWith('group') || e.key.startsWith('weight')) {
      dr.warn(e.line, `${e.key} is accepted but not used by zooid yet`);
    } else if (e.key !== 'version') {
      throw dr.fail(e.key, e.line, 'is not allowed in a dynamic config file (only server.N, group, weight)');
    }
  }
}

export function loadConfig(path: string | null): ServerConfig {
  if (path === null) return parseConfig(EMBEDDED_DEFAULT_CONFIG, { path: null });
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${path}: cannot read the config file: ${(err as Error).message}`, null, null);
  }
  return parseConfig(text, { path, env: process.env });
}

export interface ConfDirSizes {
  dataDirSizeBytes?: number;  // total size of the files in dataDir/version-2
  dataLogSizeBytes?: number;  // total size of the files in dataLogDir/version-2
}

/**
 * The body of the `conf` four-letter word as a standalone ZooKeeper 3.8 prints it
 * (ZooKeeperServer.dumpConf), one `key=value` per line, each ending in "\n".
 * serverId is 0 in standalone mode even when a myid file exists (ZooKeeper's standalone
 * ServerConfig does not read it). secureClientPort is -1 when it is not set, as in ZooKeeper.
 */
export function formatConfigForConf(cfg: ServerConfig, sizes: ConfDirSizes = {}): string {
  const lines = [
    `clientPort=${cfg.clientPort}`,
    `secureClientPort=${cfg.secureClientPort ?? -1}`,
    `dataDir=${javaChildPath(cfg.dataDir, 'version-2')}`,
    `dataDirSize=${sizes.dataDirSizeBytes ?? 0}`,
    `dataLogDir=${javaChildPath(cfg.dataLogDir, 'version-2')}`,
    `dataLogSize=${sizes.dataLogSizeBytes ?? 0}`,
    `tickTime=${cfg.tickTimeMs}`,
    `maxClientCnxns=${cfg.maxClientCnxns}`,
    `minSessionTimeout=${cfg.minSessionTimeoutMs}`,
    `maxSessionTimeout=${cfg.maxSessionTimeoutMs}`,
    `clientPortListenBacklog=${cfg.clientPortListenBacklog}`,
    `serverId=0`,
  ];
  return lines.join('\n') + '\n';
}

/** loadConfig for the command line: a bad config is reported and exits 2, as zkServer.sh's does. */
export function loadConfigOrExit(file: string | null): ServerConfig {
  try {
    return loadConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`zooid: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}
