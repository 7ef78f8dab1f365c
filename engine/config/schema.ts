// Every zoo.cfg key zooid knows, one entry each: its spellings, parser, default, status,
// the threads that read it (or the derived field it feeds), and how `conf` prints it.
// ServerConfig, each thread's options, the keys accepted with a warning and the `conf` /
// `configuration` output are all computed from this table; engine/config/parse.ts only adds
// the checks and fields that need several keys (derived entries, at the end).
//
// Adding a key: one entry here. With a `field` and `consumers`, the value reaches those
// threads (server.ts hands each worker optionsFor(cfg, thread)) with no other change.
//
// Entries are read in table order: a key's `onlyWith` names keys above it.

import path from 'node:path';
import { availableParallelism } from 'node:os';
import { IO_THREADS_MAX } from '../records.ts';
/** ZooKeeperServer's largeRequestMaxBytes default: 100 MiB. */
const LARGE_REQUEST_MAX_BYTES_DEFAULT = 100 * 1024 * 1024;
import type { FourLetterWord } from '../ops/fourlw.ts';
import {
  derived, family, key, knownKeys, knownPrefixes, systemProperty, REQUIRED,
  type Condition, type DerivedFieldsOf, type FieldsOf, type FieldsFor, type KeyFieldsOf, type KeyValuesOf, type Thread,
} from './define.ts';
import { bool, clamped, decimal, int, orWarn, javaChildPath, list, nonEmpty, oneOf, path as pathParser, port, sizeKb, text, yesNo, type Parser } from './values.ts';
import { serverLine, type QuorumServerConfig } from './servers.ts';
import {
  authProviderClass, sslAuthProvider, storeType, tlsVersion, tlsVersions,
  type SaslConfig, type TlsConfig, type QuorumTlsConfig, type QuorumSaslConfig,
} from './security.ts';
import type { RawSettings, Setting } from './read.ts';

// ---------------------------------------------------------------------------------
// Parsers of one key

/** secureClientPort: 0 is "not set", as in ZooKeeper. */
const optionalPort: Parser<number | null> = { kind: 'port (0: none)', parse: (s, c) => port({ zero: true }).parse(s, c) || null };

const superDigest: Parser<string> = {
  kind: 'user:base64digest',
  parse(s, c) {
    if (!/^[^:]+:[A-Za-z0-9+/]+={0,2}$/.test(s.value)) throw c.fail(s, `'${s.value}' is not user:base64digest`);
    return s.value;
  },
};

const FAST_LEADER_ELECTION = 3; // the only electionAlg ZooKeeper 3.8 accepts
const electionAlg: Parser<number> = {
  kind: '3',
  parse(s, c) {
    const n = int().parse(s, c);
    if (n !== FAST_LEADER_ELECTION) throw c.fail(s, `${n} is not supported; only 3 (fast leader election) is, as in ZooKeeper 3.8`);
    return n;
  },
};

export const DEFAULT_METRICS_PROVIDER = 'org.apache.zookeeper.metrics.impl.DefaultMetricsProvider';
const PROMETHEUS_METRICS_PROVIDER = 'org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider';
/** metricsProvider.className: any class but ZooKeeper's default turns /metrics on (Prometheus text). */
const metricsProviderClass: Parser<string> = {
  kind: 'class name',
  parse(s, c) {
    if (s.value !== DEFAULT_METRICS_PROVIDER && s.value !== PROMETHEUS_METRICS_PROVIDER) {
      c.warn(s, `metricsProvider.className ${s.value} cannot be loaded by zooid; serving Prometheus text on metricsProvider.httpPort instead`);
    }
    return s.value;
  },
};

const SNAP_COUNT_MIN = 2;             // ZooKeeper resets smaller values to 2
const SNAP_RETAIN_COUNT_MIN = 3;      // PurgeTxnLog refuses to keep fewer
const PRE_ALLOC_SIZE_KB_MAX = 4 * 1024 * 1024; // 4 GiB per log file: beyond that it is a typo
const ms = 'a number of milliseconds';

/** The ssl.* keys are X509Util's client-port settings: unused without secureClientPort or client.portUnification. */
const WITH_SECURE_PORT: Condition = { key: 'secureClientPort', orKey: 'client.portUnification' };
const WITH_TRUST_STORE: Condition = { key: 'ssl.trustStore.location', otherwise: 'is ignored without ssl.trustStore.location' };

const versionDir = (dir: string): string => javaChildPath(dir, 'version-2');
const versionDirJson = (dir: string): string => path.join(dir, 'version-2');

/** The ssl.quorum.* keys are QuorumX509Util's: used with sslQuorum or portUnification (engine/config/security.ts). */
const QUORUM_TLS_NOTE = 'QuorumX509Util (TLS between ensemble servers): read with sslQuorum=true or portUnification=true';

function tlsStoreKeys<const P extends 'ssl.' | 'ssl.quorum.', const W extends 'keyStore' | 'trustStore'>(prefix: P, which: W) {
  const client = prefix === 'ssl.';
  const onlyWith = !client ? [] : which === 'keyStore' ? [WITH_SECURE_PORT] : [WITH_SECURE_PORT, WITH_TRUST_STORE];
  const feeds = client ? 'tls' : 'quorumTls';
  const note = client ? 'X509Util (ZooKeeper\'s client-port TLS); the files are read by engine/security/tls.ts' : QUORUM_TLS_NOTE;
  return [
    key({ ...systemProperty(`${prefix}${which}.location`), parser: pathParser, default: null, emptyIsUnset: true, status: 'honoured', feeds, onlyWith: client ? [WITH_SECURE_PORT] : [], note }),
    key({ ...systemProperty(`${prefix}${which}.type`), parser: storeType, default: null, emptyIsUnset: true, status: 'honoured', feeds, onlyWith, note: `${note}; without it, the file name's extension tells` }),
    key({ ...systemProperty(`${prefix}${which}.password`), parser: text, default: null, status: 'honoured', feeds, onlyWith, note }),
    key({ ...systemProperty(`${prefix}${which}.passwordPath`), parser: pathParser, default: null, emptyIsUnset: true, status: 'honoured', feeds, onlyWith, note }),
  ] as const;
}

// ---------------------------------------------------------------------------------
// The table

export const SCHEMA = [
  // time and directories
  key({ key: 'tickTime', field: 'tickTimeMs', parser: int({ min: 1, what: ms }), default: '3000', status: 'honoured', consumers: ['main', 'pipeline', 'quorum'],
    conf: { word: { name: 'tickTime', order: 7 }, admin: { name: 'tick_time', order: 4 } }, note: 'ZooKeeperServer.DEFAULT_TICK_TIME' }),
  key({ key: 'dataDir', field: 'dataDir', parser: pathParser, default: REQUIRED, status: 'honoured', consumers: ['main', 'io', 'pipeline', 'quorum'],
    conf: {
      word: { name: 'dataDir', order: 3, text: versionDir, then: { name: 'dataDirSize', text: (sizes) => String(sizes.dataDirSizeBytes ?? 0) } },
      admin: { name: 'data_dir', order: 2, json: versionDirJson },
    },
    note: 'QuorumPeerConfig: required; spelled as java.io.File.getAbsolutePath() spells it' }),
  key({ key: 'dataLogDir', parser: pathParser, default: null, status: 'honoured', feeds: 'dataLogDir', note: 'QuorumPeerConfig: default dataDir' }),

  // the client port
  key({ key: 'clientPort', parser: port({ zero: true }), default: null, status: 'honoured', feeds: 'clientPort', note: 'QuorumPeerConfig: 0 or unset is no plain port' }),
  key({ key: 'clientPortAddress', parser: nonEmpty, default: null, status: 'honoured', feeds: 'clientPortAddress', note: 'QuorumPeerConfig' }),
  key({ key: 'secureClientPort', field: 'secureClientPort', parser: optionalPort, default: null, status: 'honoured', consumers: ['main', 'io', 'pipeline'],
    conf: { word: { name: 'secureClientPort', order: 2, text: (p) => String(p ?? -1) } }, note: 'QuorumPeerConfig; TLS from the ssl.* keys' }),
  key({ key: 'client.portUnification', aliases: ['zookeeper.client.portUnification'], field: 'clientPortUnification', parser: bool, default: 'false',
    status: 'honoured', consumers: ['main', 'io'], feeds: 'tls',
    note: 'NettyServerCnxnFactory: clientPort takes TLS clients too (first byte 0x16), with the ssl.* stores; ZooKeeper needs its Netty factory for it' }),
  key({ key: 'secureClientPortAddress', field: 'secureClientPortAddress', parser: nonEmpty, default: null, status: 'honoured', consumers: ['main', 'io'],
    note: 'QuorumPeerConfig; needs secureClientPort' }),
  key({ key: 'clientPortListenBacklog', field: 'clientPortListenBacklog', parser: int({ min: -1 }), default: '-1', status: 'honoured', consumers: ['io', 'pipeline'],
    conf: { word: { name: 'clientPortListenBacklog', order: 11 }, admin: { name: 'client_port_listen_backlog', order: 9 } },
    note: 'QuorumPeerConfig: -1 is the platform default (zooid: 1024)' }),
  key({ key: 'maxClientCnxns', field: 'maxClientCnxns', parser: int({ min: 0 }), default: '60', status: 'honoured', consumers: ['main', 'io', 'pipeline'],
    conf: { word: { name: 'maxClientCnxns', order: 8 }, admin: { name: 'max_client_cnxns', order: 5 } }, note: 'QuorumPeerConfig: per client host; 0 = unlimited' }),
  key({ ...systemProperty('maxCnxns'), field: 'maxCnxns', parser: int({ decode: true, min: 0 }), default: '0', status: 'honoured', consumers: ['io'],
    note: 'ServerCnxnFactory: all connections together; 0 = unlimited' }),
  // NIOServerCnxnFactory reads it with Integer.getInteger; it is also its expiry queue's bucket width, so 0 or less cannot work
  key({ ...systemProperty('nio.sessionlessCnxnTimeout'), field: 'sessionlessCnxnTimeoutMs', parser: int({ decode: true, min: 1, what: ms }), default: '10000',
    status: 'honoured', consumers: ['io'], note: 'NIOServerCnxnFactory: a connection without a ConnectRequest or a four-letter word is closed after this' }),
  key({ key: 'minSessionTimeout', parser: int({ min: -1, what: ms }), default: '-1', status: 'honoured', feeds: 'minSessionTimeoutMs', note: 'QuorumPeerConfig: -1 is 2 × tickTime' }),
  key({ key: 'maxSessionTimeout', parser: int({ min: -1, what: ms }), default: '-1', status: 'honoured', feeds: 'maxSessionTimeoutMs', note: 'QuorumPeerConfig: -1 is 20 × tickTime' }),

  // persistence
  key({ ...systemProperty('snapCount'), field: 'snapCount', status: 'honoured', consumers: ['pipeline'], default: '100000',
    parser: clamped(int({ decode: true }), SNAP_COUNT_MIN, SNAP_COUNT_MIN, (s, n) => `${s.key} ${n} is below ${SNAP_COUNT_MIN}; using ${SNAP_COUNT_MIN} as ZooKeeper does`),
    note: 'ZooKeeperServer.getSnapCount()' }),
  key({ ...systemProperty('preAllocSize'), field: 'preAllocSizeBytes', parser: sizeKb(PRE_ALLOC_SIZE_KB_MAX), default: '65536', status: 'honoured', consumers: ['log'],
    note: 'FileTxnLog.preAllocSize, in KB (64 MiB)' }),
  key({ ...systemProperty('forceSync'), field: 'forceSync', parser: yesNo, default: 'yes', status: 'honoured', consumers: ['log'], note: 'FileTxnLog' }),
  key({ ...systemProperty('datadir.autocreate'), field: 'dataDirAutocreate', parser: bool, default: 'true', status: 'honoured', consumers: ['main'],
    note: 'FileTxnSnapLog: false and a missing directory stops the server (exit 3)' }),
  key({ key: 'autopurge.snapRetainCount', field: 'autopurgeSnapRetainCount', status: 'honoured', consumers: ['snapshot'], default: '3',
    parser: clamped(int(), SNAP_RETAIN_COUNT_MIN, SNAP_RETAIN_COUNT_MIN,
      (_, n) => `autopurge.snapRetainCount ${n} is below ${SNAP_RETAIN_COUNT_MIN}; using ${SNAP_RETAIN_COUNT_MIN} as ZooKeeper does`),
    note: 'DatadirCleanupManager' }),
  key({ key: 'autopurge.purgeInterval', field: 'autopurgePurgeIntervalHours', status: 'honoured', consumers: ['snapshot'], default: '0',
    parser: clamped(int({ what: 'a number of hours' }), 0, 0, (_, n) => `autopurge.purgeInterval ${n} is negative; purging is off as in ZooKeeper`),
    note: 'DatadirCleanupManager: hours, 0 = off' }),

  // requests
  key({ ...systemProperty('globalOutstandingLimit'), field: 'globalOutstandingLimit', parser: int({ decode: true, min: 1 }), default: '1000', status: 'honoured',
    consumers: ['io'], note: 'ZooKeeperServer: connections stop being read above it' }),
  // BlueThrottle (engine/core/connection-throttle.ts); ZooKeeper reads each with Integer.getInteger,
  // Double.parseDouble or Boolean.getBoolean
  key({ ...systemProperty('connection_throttle_tokens'), field: 'connectionThrottleTokens', parser: int({ decode: true, min: 0 }), default: '0', status: 'honoured',
    consumers: ['pipeline'], note: 'BlueThrottle: the token bucket every ConnectRequest draws from; 0 = no connection throttle' }),
  // 0 would divide by zero in ZooKeeper's refill at the first connection
  key({ ...systemProperty('connection_throttle_fill_time'), field: 'connectionThrottleFillTimeMs', parser: int({ decode: true, min: 1, what: ms }), default: '1', status: 'honoured',
    consumers: ['pipeline'], note: 'BlueThrottle: ms per refill of fill_count tokens' }),
  key({ ...systemProperty('connection_throttle_fill_count'), field: 'connectionThrottleFillCount', parser: int({ decode: true, min: 0 }), default: '1', status: 'honoured',
    consumers: ['pipeline'], note: 'BlueThrottle: tokens back per fill_time' }),
  key({ ...systemProperty('connection_throttle_freeze_time'), field: 'connectionThrottleFreezeTimeMs', parser: int({ decode: true, min: -1, what: ms }), default: '-1', status: 'honoured',
    consumers: ['pipeline'], note: 'BlueThrottle: ms between changes of the random drop chance; -1 = no random drops' }),
  key({ ...systemProperty('connection_throttle_drop_increase'), field: 'connectionThrottleDropIncrease', parser: decimal({ min: 0, max: 1 }), default: '0.02', status: 'honoured',
    consumers: ['pipeline'], note: 'BlueThrottle: drop chance added while the bucket is empty' }),
  key({ ...systemProperty('connection_throttle_drop_decrease'), field: 'connectionThrottleDropDecrease', parser: decimal({ min: 0, max: 1 }), default: '0.002', status: 'honoured',
    consumers: ['pipeline'], note: 'BlueThrottle: drop chance taken away while the bucket is at most decrease_ratio short' }),
  key({ ...systemProperty('connection_throttle_decrease_ratio'), field: 'connectionThrottleDecreaseRatio', parser: decimal({ min: 0, max: 1 }), default: '0', status: 'honoured',
    consumers: ['pipeline'], note: 'BlueThrottle: how short of full (a share of tokens) the bucket may be for the drop chance to fall' }),
  key({ ...systemProperty('connection_throttle_weight_enabled'), field: 'connectionThrottleWeightEnabled', parser: bool, default: 'false', status: 'honoured',
    consumers: ['pipeline'], note: 'BlueThrottle: new global, new local and renewed sessions take different numbers of tokens' }),
  key({ ...systemProperty('connection_throttle_global_session_weight'), field: 'connectionThrottleGlobalWeight', default: '3', status: 'honoured', consumers: ['pipeline'],
    parser: orWarn(int({ decode: true }), (n) => n > 0, () => 3, (s, n) => `${s.key} ${n} is not above 0; using 3 as ZooKeeper does`),
    note: 'BlueThrottle: tokens a new global session takes (at least the local weight)' }),
  key({ ...systemProperty('connection_throttle_local_session_weight'), field: 'connectionThrottleLocalWeight', default: '1', status: 'honoured', consumers: ['pipeline'],
    parser: orWarn(int({ decode: true }), (n) => n > 0, () => 1, (s, n) => `${s.key} ${n} is not above 0; using 1 as ZooKeeper does`),
    note: 'BlueThrottle: tokens a new local session takes' }),
  key({ ...systemProperty('connection_throttle_renew_session_weight'), field: 'connectionThrottleRenewWeight', default: '2', status: 'honoured', consumers: ['pipeline'],
    parser: orWarn(int({ decode: true }), (n) => n > 0, () => 2, (s, n) => `${s.key} ${n} is not above 0; using 2 as ZooKeeper does`),
    note: 'BlueThrottle: tokens a reconnecting session takes (at least the local weight)' }),
  key({ ...systemProperty('largeRequestMaxBytes'), field: 'largeRequestMaxBytes', default: String(LARGE_REQUEST_MAX_BYTES_DEFAULT), status: 'honoured', consumers: ['io'],
    parser: orWarn(int({ decode: true }), (n) => n > 0, () => LARGE_REQUEST_MAX_BYTES_DEFAULT,
      (s, n) => `${s.key} ${n} is not above 0; keeping ${LARGE_REQUEST_MAX_BYTES_DEFAULT} as ZooKeeper does`),
    note: 'ZooKeeperServer: requests over largeRequestThreshold hold at most this many bytes between them; one more closes its connection' }),
  key({ ...systemProperty('largeRequestThreshold'), field: 'largeRequestThreshold', default: '-1', status: 'honoured', consumers: ['io'],
    parser: orWarn(int({ decode: true }), (n) => n === -1 || n > 0, () => -1, (s, n) => `${s.key} ${n} is neither -1 nor above 0; using -1 (off) as ZooKeeper does`),
    note: 'ZooKeeperServer: bytes above which a request counts against largeRequestMaxBytes; -1 = off' }),
  key({ ...systemProperty('request_throttle_max_requests'), field: 'requestThrottleMaxRequests', parser: int({ min: 0 }), default: '0', status: 'honoured',
    consumers: ['pipeline'], note: 'RequestThrottler: requests in process before the pipeline stalls; 0 = off' }),
  key({ ...systemProperty('request_throttle_stall_time'), field: 'requestThrottleStallTimeMs', parser: int({ min: 1, what: ms }), default: '100', status: 'honoured',
    consumers: ['pipeline'], note: 'RequestThrottler: longest one stall waits before looking again' }),
  key({ ...systemProperty('request_throttle_drop_stale'), field: 'requestThrottleDropStale', parser: bool, default: 'true', status: 'honoured',
    consumers: ['pipeline'], note: 'RequestThrottler: while throttling, drop requests of connections already closed' }),
  key({ ...systemProperty('request_stale_latency_check'), field: 'requestStaleLatencyCheck', parser: bool, default: 'false', status: 'honoured',
    consumers: ['pipeline'], note: 'Request: a request older than its session timeout is stale too' }),
  key({ ...systemProperty('throttled_op_wait_time'), field: 'throttledOpWaitTimeMs', parser: int({ min: 0, what: ms }), default: '0', status: 'honoured',
    consumers: ['pipeline'], note: 'ZooKeeperServer: a request queued longer than this is answered THROTTLEDOP; 0 = off' }),
  key({ key: 'jute.maxbuffer', aliases: ['zookeeper.jute.maxbuffer'], field: 'juteMaxBufferBytes', parser: int({ decode: true, min: 1, what: 'a number of bytes' }),
    default: '0xfffff', status: 'honoured', consumers: ['main', 'io', 'pipeline', 'quorum'], note: 'BinaryInputArchive: 1 MiB - 1' }),
  key({ key: 'zookeeper.jute.maxbuffer.extrasize', aliases: ['jute.maxbuffer.extrasize'], parser: int({ decode: true, min: 0, what: 'a number of bytes' }),
    default: null, status: 'honoured', feeds: 'juteMaxBufferExtraBytes', note: 'BinaryInputArchive: default jute.maxbuffer, at least 1024' }),
  key({ ...systemProperty('extendedTypesEnabled'), field: 'extendedTypesEnabled', parser: bool, default: 'false', status: 'honoured', consumers: ['pipeline'],
    note: 'EphemeralType: TTL nodes' }),
  key({ key: 'znode.container.checkIntervalMs', aliases: ['zookeeper.znode.container.checkIntervalMs'], field: 'containerCheckIntervalMs',
    parser: int({ min: 1, what: ms }), default: '60000', status: 'honoured', consumers: ['pipeline'], note: 'ContainerManager (a Java system property)' }),
  key({ key: 'znode.container.maxPerMinute', aliases: ['zookeeper.znode.container.maxPerMinute'], field: 'containerMaxPerMinute', parser: int({ min: 1 }),
    default: '10000', status: 'honoured', consumers: ['pipeline'], note: 'ContainerManager: container/TTL deletions per minute at most' }),
  key({ key: 'znode.container.maxNeverUsedIntervalMs', aliases: ['zookeeper.znode.container.maxNeverUsedIntervalMs'], field: 'containerMaxNeverUsedIntervalMs',
    parser: int({ min: 0, what: ms }), default: '0', status: 'honoured', consumers: ['pipeline'], note: 'ContainerManager: 0 keeps never-used containers' }),
  key({ ...systemProperty('enforceQuota'), field: 'enforceQuota', parser: bool, default: 'false', status: 'honoured', consumers: ['pipeline'],
    note: 'ZooKeeperServer: hard quota limits fail writes with QUOTAEXCEEDED' }),
  key({ key: 'readonlymode.enabled', aliases: ['zookeeper.readonlymode.enabled'], parser: bool, default: 'false',
    status: 'honoured', feeds: 'readonlyModeEnabled',
    note: 'QuorumPeer/ReadOnlyZooKeeperServer: a server looking for a leader for max(2 s, tickTime) serves read-only clients (reads; writes NOTREADONLY); isro whitelisted' }),
  key({ ...systemProperty('DigestAuthenticationProvider.superDigest'), field: 'superDigest', parser: superDigest, default: null, status: 'honoured',
    consumers: ['pipeline'], note: 'DigestAuthenticationProvider' }),
  key({ ...systemProperty('4lw.commands.whitelist'), parser: text, default: null, status: 'honoured', feeds: 'fourLetterWordWhitelist',
    note: 'FourLetterCommands: srvr always; * is every word' }),
  key({ key: 'io.threads', field: 'ioThreads', parser: int({ min: 1, max: IO_THREADS_MAX }), default: () => String(Math.max(1, availableParallelism() - 1)),
    status: 'honoured', consumers: ['main', 'io'], note: 'zooid\'s own: io workers, default cores - 1' }),

  // SASL and x509
  key({ key: 'java.security.auth.login.config', parser: nonEmpty, default: null, status: 'honoured', feeds: 'sasl',
    note: 'a JVM flag for ZooKeeper (also read from SERVER_JVMFLAGS / JVMFLAGS): the JAAS file' }),
  key({ ...systemProperty('sasl.serverconfig'), parser: nonEmpty, default: 'Server', status: 'honoured', feeds: 'sasl', note: 'ServerCnxnFactory: the JAAS section' }),
  family({ key: 'authProvider.N', match: /^authProvider\.[^.]+$/, systemProperty: true, parser: authProviderClass, status: 'honoured', feeds: 'saslAuthProvider',
    note: 'ProviderRegistry: ip, digest and x509 are built in; SASLAuthenticationProvider turns the sasl scheme on' }),
  key({ ...systemProperty('superUser'), field: 'saslSuperUser', parser: nonEmpty, default: null, status: 'honoured', consumers: ['pipeline'],
    note: 'SaslServerCallbackHandler: the SASL user who also gets the super id' }),
  key({ ...systemProperty('allowSaslFailedClients'), field: 'allowSaslFailedClients', parser: bool, default: 'false', status: 'honoured', consumers: ['pipeline'],
    note: 'ZooKeeperServer: a failed SASL exchange leaves the connection open' }),
  key({ ...systemProperty('sessionRequireClientSASLAuth'), field: 'sessionRequireClientSaslAuth', parser: bool, default: 'false', status: 'honoured',
    consumers: ['pipeline'], note: 'ZooKeeperServer: requests before a SASL login close the connection' }),
  key({ ...systemProperty('SASLAuthenticationProvider.superPassword'), parser: text, default: null, status: 'honoured', feeds: 'sasl',
    note: 'SaslServerCallbackHandler: the password of user super' }),
  key({ ...systemProperty('X509AuthenticationProvider.superUser'), field: 'x509SuperUser', parser: text, default: null, status: 'honoured', consumers: ['pipeline'],
    note: 'X509AuthenticationProvider: the x509 id (RFC 2253 subject) that is also super' }),

  // the AdminServer, metrics and logs
  key({ ...systemProperty('admin.serverPort'), field: 'adminServerPort', parser: port({ zero: true }), default: '8080', status: 'honoured', consumers: ['main'],
    note: 'JettyAdminServer' }),
  key({ ...systemProperty('admin.enableServer'), field: 'adminEnableServer', parser: bool, default: 'true', status: 'honoured', consumers: ['main'], note: 'AdminServerFactory' }),
  key({ ...systemProperty('admin.serverAddress'), field: 'adminServerAddress', parser: nonEmpty, default: '0.0.0.0', status: 'honoured', consumers: ['main'],
    note: 'JettyAdminServer' }),
  key({ ...systemProperty('admin.commandURL'), field: 'adminCommandUrl', parser: nonEmpty, default: '/commands', status: 'honoured', consumers: ['main'],
    note: 'JettyAdminServer' }),
  key({ key: 'metricsProvider.className', parser: metricsProviderClass, default: null, status: 'honoured', feeds: 'metricsHttpPort',
    note: 'QuorumPeerConfig: any provider but the default serves Prometheus text' }),
  key({ key: 'metricsProvider.httpPort', parser: port({ zero: true }), default: '7000', status: 'honoured', feeds: 'metricsHttpPort',
    note: 'PrometheusMetricsProvider; ignored without metricsProvider.className' }),
  key({ key: 'metricsProvider.httpHost', field: 'metricsHttpHost', parser: nonEmpty, default: '0.0.0.0', status: 'honoured', consumers: ['main'],
    note: 'PrometheusMetricsProvider; ignored without metricsProvider.className' }),
  key({ key: 'zooid.log.format', field: 'logFormat', default: null, status: 'honoured', consumers: ['main'],
    parser: oneOf(['text', 'json'], { fold: 'lower', error: (v) => `'${v}' is not one of text, json` }),
    note: 'zooid\'s own (engine/logger.ts); unset: ZOOID_LOG_FORMAT or text' }),
  key({ key: 'zooid.log.level', field: 'logLevel', default: null, status: 'honoured', consumers: ['main'],
    parser: oneOf(['debug', 'info', 'warn', 'error'], { fold: 'lower', error: (v) => `'${v}' is not one of debug, info, warn, error` }),
    note: 'zooid\'s own (engine/logger.ts); unset: ZOOID_LOG_LEVEL or info' }),

  key({ key: 'zooid.loneClientSpinUs', field: 'loneClientSpinUs', parser: int({ min: 0, max: 1000, what: 'a number of microseconds' }), default: '150',
    status: 'honoured', consumers: ['pipeline'],
    note: 'zooid\'s own (engine/workers/pipeline-worker.ts): with one client in flight the pipeline spins this long after a request for the next before it parks; 0: never' }),

  key({ key: 'zooid.snapshotCpuPct', field: 'snapshotCpuPct', parser: int({ min: 1, max: 100, what: 'a percentage' }), default: '15',
    status: 'honoured', consumers: ['pipeline'],
    note: 'zooid\'s own (engine/persistence/snapshotter.ts): the share of the pipeline\'s time a snapshot\'s serialization may take while clients are served (an idle server snapshots at full speed); below 100 a snapshot takes longer and leaves the cores to requests' }),

  // ensembles: the quorum worker (engine/workers/quorum-worker.ts) reads these
  key({ key: 'initLimit', field: 'initLimit', parser: int({ min: 0, what: 'a number of ticks' }), default: '0', status: 'honoured', consumers: ['quorum'],
    note: 'QuorumPeerConfig: required in an ensemble; Zab discovery and sync' }),
  key({ key: 'syncLimit', field: 'syncLimit', parser: int({ min: 0, what: 'a number of ticks' }), default: '0', status: 'honoured', consumers: ['quorum'],
    note: 'QuorumPeerConfig: required in an ensemble; Zab broadcast' }),
  key({ key: 'electionAlg', field: 'electionAlg', parser: electionAlg, default: '3', status: 'ensemble', note: 'QuorumPeerConfig: only fast leader election' }),
  key({ key: 'peerType', field: 'peerType', default: null, status: 'ensemble',
    parser: oneOf(['participant', 'observer'], { fold: 'lower', error: (v) => `'${v}' is not participant or observer` }),
    note: 'QuorumPeerConfig: this server\'s server.N line wins' }),
  key({ key: 'dynamicConfigFile', field: 'dynamicConfigFile', parser: pathParser, default: null, status: 'honoured', consumers: ['quorum'],
    note: 'QuorumPeerConfig: the server.N lines (and version=) live there; with reconfigEnabled zooid writes zoo.cfg.dynamic.<version> and points zoo.cfg at it' }),
  key({ ...systemProperty('reconfigEnabled'), field: 'reconfigEnabled', parser: bool, default: 'false', status: 'honoured', consumers: ['pipeline', 'quorum'],
    note: 'QuorumPeerConfig: the reconfig op (RECONFIGDISABLED without it), the dynamic config files, the config version set at NEWLEADER' }),
  key({ ...systemProperty('skipACL'), field: 'skipAcl', parser: yesNo, default: 'no', status: 'honoured', consumers: ['pipeline'],
    note: 'ZooKeeperServer.skipACL: "yes" skips every ACL check (reconfig included)' }),
  family({ key: 'server.N', match: /^server\./, systemProperty: false, parser: serverLine, status: 'honoured', feeds: 'servers',
    note: 'QuorumPeer.QuorumServer: host:quorumPort:electionPort[:role][;[clientHost:]clientPort]' }),
  key({ ...systemProperty('quorumListenOnAllIPs'), field: 'quorumListenOnAllIPs', parser: bool, default: 'false', status: 'honoured', consumers: ['quorum'],
    note: 'QuorumPeerConfig: the election and quorum ports listen on 0.0.0.0' }),
  key({ ...systemProperty('cnxTimeout'), field: 'cnxTimeoutMs', parser: int({ decode: true, min: 1, what: ms }), default: '5000', status: 'honoured', consumers: ['quorum'],
    note: 'QuorumCnxManager: connect timeout to peers' }),
  // TLS between ensemble servers (engine/quorum/peer-transport.ts)
  key({ ...systemProperty('sslQuorum'), parser: bool, default: 'false', status: 'honoured', feeds: 'quorumTls',
    note: 'QuorumPeerConfig: the election and quorum connections this server opens are TLS, and it accepts only TLS unless portUnification' }),
  key({ ...systemProperty('portUnification'), parser: bool, default: 'false', status: 'honoured', feeds: 'quorumTls',
    note: 'QuorumPeerConfig: the election and quorum ports accept TLS and plain connections both (UnifiedServerSocket), for a rolling switch' }),
  ...tlsStoreKeys('ssl.quorum.', 'keyStore'),
  ...tlsStoreKeys('ssl.quorum.', 'trustStore'),
  key({ ...systemProperty('ssl.quorum.clientAuth'), parser: oneOf(['need', 'want', 'none'], { fold: 'lower', error: (v) => `'${v}' is not need, want or none` }),
    default: 'need', emptyIsUnset: true, status: 'honoured', feeds: 'quorumTls', note: QUORUM_TLS_NOTE }),
  key({ ...systemProperty('ssl.quorum.protocol'), parser: tlsVersion, default: null, emptyIsUnset: true, status: 'honoured', feeds: 'quorumTls', note: QUORUM_TLS_NOTE }),
  key({ ...systemProperty('ssl.quorum.enabledProtocols'), parser: tlsVersions, default: null, emptyIsUnset: true, status: 'honoured', feeds: 'quorumTls', note: QUORUM_TLS_NOTE }),
  key({ ...systemProperty('ssl.quorum.ciphersuites'), parser: list, default: null, emptyIsUnset: true, status: 'honoured', feeds: 'quorumTls', note: QUORUM_TLS_NOTE }),
  key({ ...systemProperty('ssl.quorum.hostnameVerification'), parser: bool, default: 'true', status: 'honoured', feeds: 'quorumTls',
    note: 'ZKTrustManager: both ends check that the peer\'s certificate names the address it connects from or to (zooid: the IP address only, no reverse DNS)' }),
  // SASL between ensemble servers (engine/quorum/quorum-auth.ts): QuorumPeerConfig parses these itself
  key({ key: 'quorum.auth.enableSasl', parser: bool, default: 'false', status: 'honoured', feeds: 'quorumSasl',
    note: 'QuorumAuth: quorum SASL (DIGEST-MD5) on; without the two below a server authenticates nobody and lets everyone in' }),
  key({ key: 'quorum.auth.learnerRequireSasl', parser: bool, default: 'false', status: 'honoured', feeds: 'quorumSasl',
    note: 'SaslQuorumAuthLearner: authenticate to every server this one connects to (election and leader), as the QuorumLearner user' }),
  key({ key: 'quorum.auth.serverRequireSasl', parser: bool, default: 'false', status: 'honoured', feeds: 'quorumSasl',
    note: 'SaslQuorumAuthServer: refuse peers that do not authenticate as a QuorumServer user (needs learnerRequireSasl)' }),
  key({ key: 'quorum.auth.learner.saslLoginContext', parser: nonEmpty, default: 'QuorumLearner', status: 'honoured', feeds: 'quorumSasl',
    note: 'QuorumAuth: the JAAS section with this server\'s username and password' }),
  key({ key: 'quorum.auth.server.saslLoginContext', parser: nonEmpty, default: 'QuorumServer', status: 'honoured', feeds: 'quorumSasl',
    note: 'QuorumAuth: the JAAS section whose user_<name> options are the peers that may join' }),
  key({ key: 'quorum.auth.kerberos.servicePrincipal', parser: text, default: null, status: 'unsupported',
    note: 'SaslQuorumAuthLearner: Kerberos (GSSAPI) quorum authentication is not implemented by zooid, only DIGEST-MD5' }),
  key({ ...systemProperty('electionPortBindRetry'), field: 'electionPortBindRetry', parser: int({ decode: true, min: 0 }), default: '3', status: 'honoured', consumers: ['quorum'],
    note: 'QuorumCnxManager.Listener: attempts to bind the election port, a second apart (0: until it binds); then exit 14' }),
  key({ ...systemProperty('syncEnabled'), field: 'syncEnabled', parser: bool, default: 'true', status: 'honoured', consumers: ['pipeline'],
    note: 'QuorumPeerConfig: observers log and snapshot; false: an observer writes neither (it is synced again after a restart)' }),
  key({ key: 'localSessionsEnabled', field: 'localSessionsEnabled', parser: bool, default: 'false', status: 'honoured', consumers: ['pipeline'],
    note: 'LeaderSessionTracker/LearnerSessionTracker: a new session is local to its server (no createSession txn, no pings to the leader); ' +
      'it closes and expires there; another server answers it SESSIONEXPIRED' }),
  key({ key: 'localSessionsUpgradingEnabled', field: 'localSessionsUpgradingEnabled', parser: bool, default: 'false', status: 'honoured', consumers: ['pipeline'],
    note: 'ZooKeeperServer.checkUpgradeSession: a local session\'s first ephemeral create makes it global (createSession, then the create); ' +
      'false: that create fails with EPHEMERALONLOCALSESSION' }),
  key({ ...systemProperty('leaderServes'), field: 'leaderServes', parser: yesNo, default: 'yes', status: 'honoured', consumers: ['pipeline'],
    note: 'Leader.lead: with no, the leader takes no client connections (they close; four-letter words say it is not serving)' }),
  key({ ...systemProperty('standaloneEnabled'), field: 'standaloneEnabled', parser: bool, default: 'true', status: 'honoured', consumers: ['main', 'pipeline'],
    note: 'QuorumPeerConfig: false runs one server.N line as an ensemble of one' }),
  ...knownPrefixes('accepted', ['group.', 'weight.'], 'QuorumHierarchical: group.N and weight.N (ensemble, issue 10)'),

  // TLS on secureClientPort
  ...tlsStoreKeys('ssl.', 'keyStore'),
  ...tlsStoreKeys('ssl.', 'trustStore'),
  key({ ...systemProperty('ssl.clientAuth'), parser: oneOf(['need', 'want', 'none'], { fold: 'lower', error: (v) => `'${v}' is not need, want or none` }),
    default: 'need', emptyIsUnset: true, status: 'honoured', feeds: 'tls', onlyWith: [WITH_SECURE_PORT], note: 'X509Util' }),
  key({ ...systemProperty('ssl.protocol'), parser: tlsVersion, default: null, emptyIsUnset: true, status: 'honoured', feeds: 'tls', onlyWith: [WITH_SECURE_PORT],
    note: 'X509Util: the one protocol, unless ssl.enabledProtocols; zooid\'s default is TLSv1.2 and TLSv1.3' }),
  key({ ...systemProperty('ssl.enabledProtocols'), parser: tlsVersions, default: null, emptyIsUnset: true, status: 'honoured', feeds: 'tls',
    onlyWith: [WITH_SECURE_PORT], note: 'X509Util' }),
  key({ ...systemProperty('ssl.ciphersuites'), parser: list, default: null, emptyIsUnset: true, status: 'honoured', feeds: 'tls', onlyWith: [WITH_SECURE_PORT],
    note: 'X509Util: Java/IANA names; unset: the platform\'s defaults' }),
  key({ ...systemProperty('ssl.hostnameVerification'), parser: text, default: null, status: 'honoured', feeds: 'tls', onlyWith: [WITH_SECURE_PORT],
    note: 'ZKTrustManager checks host names of quorum peers only: the client port ignores it, as ZooKeeper\'s does' }),
  key({ ...systemProperty('ssl.clientHostnameVerification'), parser: text, default: null, status: 'honoured', feeds: 'tls', onlyWith: [WITH_SECURE_PORT],
    note: 'ClientX509Util never verifies client host names: the client port ignores it, as ZooKeeper\'s does' }),
  key({ ...systemProperty('ssl.authProvider'), parser: sslAuthProvider, default: null, status: 'honoured', feeds: 'tls', onlyWith: [WITH_SECURE_PORT],
    note: 'X509Util: zooid authenticates TLS clients with its built-in x509 provider' }),

  // known to ZooKeeper, not used by zooid
  ...knownKeys('accepted', [
    'observerMasterPort', 'connectToLearnerMasterLimit',
    'sslQuorumReloadCertFiles', 'quorum.cnxn.threads.size', 'oraclePath', 'version',
  ], 'parsed by QuorumPeerConfig'),
  ...knownKeys('accepted', [
    'snapshot.trust.empty', 'snapshot.compression.method', 'snapSizeLimitInKb', 'txnLogSizeLimitInKb', 'commitLogCount', 'traceFile',
    'maxWriteQueuePollTime', 'maxResponseCacheSize', 'maxGetChildrenResponseCacheSize', 'emulate353TTLNodes', 'bitHashCacheSize',
    'quorumCnxnTimeoutMs', 'tcpKeepAlive', 'clientTcpKeepAlive', 'forward_learner_requests_to_commit_processor_disabled', 'enableEagerACLCheck',
    'intBufferStartingSizeBytes', 'ensembleAuthName', 'db.autocreate', 'fips-mode', 'maxConcurrentSnapSyncs', 'maxConcurrentDiffSyncs',
    'request_stale_connection_check', 'closeSessionTxn.enabled', 'digest.enabled', 'serializeLastProcessedZxid.enabled',
    'minNotificationInterval', 'fsync.warningthresholdms',
  ], 'a system property documented in zookeeperAdmin'),
  ...knownKeys('unsupported', ['flushDelay', 'maxBatchSize'],
    'SyncRequestProcessor\'s batching: zooid\'s log worker syncs everything written while the previous sync ran, with no delay to tune'),
  ...knownKeys('unsupported', ['serverCnxnFactory', 'watchManagerName'], 'a Java class of ZooKeeper\'s: zooid has its own io workers and watch manager'),
  ...knownKeys('unsupported', ['client.secure', 'clientCnxnSocket', 'sasl.client.id', 'sasl.clientconfig', 'disableAutoWatchReset'],
    'a property of ZooKeeper\'s Java client, which a server does not read'),
  ...knownPrefixes('accepted', [
    'authProvider.', 'ssl.', 'jvm.pause.', 'multiAddress.', 'metricsProvider.', 'admin.', 'audit.', 'kerberos.', 'sasl.',
    'commitProcessor.', 'nio.', 'netty.', 'fastleader.', 'learner.', 'leader.', 'observer.', 'watcher',
    'maxInProcessingDeadWatchers', 'X509AuthenticationProvider.', 'DigestAuthenticationProvider.', 'enforce.', 'messageTracker.',
    'pathStats.', 'requestThrottle', 'snapshot.',
  ], 'a family of ZooKeeper settings zooid does not use yet'),

  // fields computed from several keys (engine/config/parse.ts)
  derived<string | null>()({ field: 'configPath', consumers: ['main', 'quorum'], from: [], note: 'the zoo.cfg read, absolute; null for the embedded default' }),
  derived<string>()({ field: 'dataLogDir', consumers: ['main', 'io', 'pipeline'], from: ['dataLogDir', 'dataDir'],
    conf: {
      word: { name: 'dataLogDir', order: 5, text: versionDir, then: { name: 'dataLogSize', text: (sizes) => String(sizes.dataLogSizeBytes ?? 0) } },
      admin: { name: 'data_log_dir', order: 3, json: versionDirJson },
    },
    note: 'dataLogDir, else dataDir' }),
  derived<number>()({ field: 'clientPort', consumers: ['main', 'io', 'pipeline'], from: ['clientPort', 'secureClientPort', 'server.N'],
    conf: { word: { name: 'clientPort', order: 1 }, admin: { name: 'client_port', order: 1 } },
    note: 'QuorumPeerConfig.setupClientPort: clientPort or this server\'s server.N line; -1 when only secureClientPort is set' }),
  derived<string | null>()({ field: 'clientPortAddress', consumers: ['main', 'io'], from: ['clientPortAddress', 'server.N'],
    note: 'clientPortAddress or this server\'s server.N line' }),
  derived<number>()({ field: 'minSessionTimeoutMs', consumers: ['main', 'pipeline'], from: ['minSessionTimeout', 'tickTime'],
    conf: { word: { name: 'minSessionTimeout', order: 9 }, admin: { name: 'min_session_timeout', order: 6 } }, note: '-1: 2 × tickTime' }),
  derived<number>()({ field: 'maxSessionTimeoutMs', consumers: ['main', 'pipeline'], from: ['maxSessionTimeout', 'tickTime'],
    conf: { word: { name: 'maxSessionTimeout', order: 10 }, admin: { name: 'max_session_timeout', order: 7 } }, note: '-1: 20 × tickTime' }),
  derived<number>()({ field: 'juteMaxBufferExtraBytes', consumers: ['main', 'pipeline', 'quorum'], from: ['zookeeper.jute.maxbuffer.extrasize', 'jute.maxbuffer'],
    note: 'ZooKeeper reads a log entry of at most jute.maxbuffer + this: zooid refuses larger txns (MARSHALLINGERROR)' }),
  derived<boolean>()({ field: 'readonlyModeEnabled', consumers: ['quorum'], from: ['readonlymode.enabled'],
    note: 'the key, or -Dreadonlymode.enabled=true in SERVER_JVMFLAGS/JVMFLAGS: the JVM flag ZooKeeper reads (its zoo.cfg key becomes zookeeper.readonlymode.enabled, which QuorumPeer ignores)' }),
  derived<ReadonlySet<FourLetterWord>>()({ field: 'fourLetterWordWhitelist', consumers: ['io', 'pipeline'], from: ['4lw.commands.whitelist', 'readonlymode.enabled'],
    note: 'srvr always, isro with readonlymode.enabled (engine/ops/fourlw.ts parses it)' }),
  derived<TlsConfig | null>()({ field: 'tls', consumers: ['main'], from: ['secureClientPort', 'client.portUnification', 'ssl.*'],
    note: 'null without secureClientPort or client.portUnification; the files are read by engine/security/tls.ts at start' }),
  derived<QuorumTlsConfig | null>()({ field: 'quorumTls', consumers: ['main'], from: ['sslQuorum', 'portUnification', 'ssl.quorum.*'],
    note: 'null unless sslQuorum or portUnification; the files are read by engine/security/tls.ts at start' }),
  derived<QuorumSaslConfig | null>()({ field: 'quorumSasl', consumers: ['quorum'], from: ['quorum.auth.enableSasl', 'quorum.auth.learnerRequireSasl', 'quorum.auth.serverRequireSasl',
    'quorum.auth.learner.saslLoginContext', 'quorum.auth.server.saslLoginContext', 'java.security.auth.login.config'],
    note: 'null without quorum.auth.enableSasl; the QuorumServer users and the QuorumLearner identity from the JAAS file' }),
  derived<SaslConfig | null>()({ field: 'sasl', consumers: ['main', 'pipeline'],
    from: ['java.security.auth.login.config', 'sasl.serverconfig', 'SASLAuthenticationProvider.superPassword'],
    note: 'DIGEST-MD5 users from the JAAS file\'s section; null without a JAAS file' }),
  derived<boolean>()({ field: 'saslAuthProvider', consumers: ['main', 'pipeline'], from: ['authProvider.N'], note: 'the sasl ACL scheme' }),
  derived<number | null>()({ field: 'metricsHttpPort', consumers: ['main'], from: ['metricsProvider.className', 'metricsProvider.httpPort'],
    note: 'null unless metricsProvider.className names a provider' }),
  derived<number | null>()({ field: 'myid', consumers: ['main', 'pipeline', 'quorum'], from: ['dataDir'],
    conf: { word: { name: 'serverId', order: 12, text: () => '0' }, admin: { name: 'server_id', order: 8, json: (id) => id ?? 0 } },
    note: '<dataDir>/myid when it is a file; conf prints serverId=0 standalone (ZooKeeper\'s standalone ServerConfig does not read it)' }),
  derived<Map<number, QuorumServerConfig>>()({ field: 'servers', consumers: ['main', 'quorum'], from: ['server.N', 'dynamicConfigFile'],
    note: 'the ensemble\'s members' }),
  derived<bigint>()({ field: 'configVersion', consumers: ['quorum'], from: ['dynamicConfigFile'],
    note: 'the dynamic config file\'s version= (hex; QuorumMaj.getVersion), 0 without one' }),
  derived<boolean>()({ field: 'standalone', consumers: ['main'], from: ['server.N', 'dynamicConfigFile', 'standaloneEnabled'],
    note: '!QuorumPeerConfig.isDistributed(): fewer than two participants, unless standaloneEnabled=false' }),
  derived<RawSettings>()({ field: 'raw', consumers: ['main'], from: [], note: 'every key as written, with its line' }),
  derived<string[]>()({ field: 'warnings', consumers: ['main'], from: [], note: 'logged at start' }),
] as const;

export type Schema = typeof SCHEMA;
export type ServerConfig = FieldsOf<Schema>;
export type KeyFields = KeyFieldsOf<Schema>;
export type DerivedFields = DerivedFieldsOf<Schema>;
/** What one thread is given: the fields whose consumers name it. */
export type OptionsFor<W extends Thread> = FieldsFor<Schema, W>;
export type KeyValues = KeyValuesOf<Schema>;
export type TableKey = keyof KeyValues;

/** The keys' values for the derivations in parse.ts, and where each was written. */
export interface KeyReads {
  readonly values: KeyValues;
  /** The setting as written (either spelling), or null when the file does not set it. */
  at(key: TableKey): Setting | null;
}
