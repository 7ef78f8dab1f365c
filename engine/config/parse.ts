// zoo.cfg → a typed, validated ServerConfig, driven by the schema (engine/config/schema.ts).
//
// Keys QuorumPeerConfig parses itself (dataDir, clientPort, server.N, ...) are read under
// their own name. Every other key ZooKeeper copies into the Java system property
// `zookeeper.<key>` without complaint; zooid reads the system-property settings it knows
// under both spellings (`snapCount` and `zookeeper.snapCount`, DESIGN.md §4) and warns about
// the rest instead of failing, so an unmodified zoo.cfg still starts.
//
// First every key of the table is read by its own parser, in table order; then the fields
// that need several keys are derived and the checks across keys made (this file); last,
// every key of the file that no entry took is warned about.
//
// Pure except for reading `<dataDir>/myid` (opts.readMyid), a dynamicConfigFile and a JAAS file.

import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { parseFourLetterWordWhitelist } from '../ops/fourlw.ts';
import { NOT_USED, REQUIRED, type AnyEntry, type FamilyEntry, type FamilyItem, type KeyEntry } from './define.ts';
import { ConfigError, SettingsReader, sortWarnings, type Setting } from './read.ts';
import { DEFAULT_METRICS_PROVIDER, SCHEMA, type DerivedFields, type KeyFields, type KeyReads, type KeyValues, type ServerConfig, type TableKey } from './schema.ts';
import { deriveQuorumSasl, deriveQuorumTls, deriveSasl, deriveTls, jvmFlagFromEnv, readJaasFile } from './security.ts';
import { addServer, readDynamicConfig, type QuorumServerConfig } from './servers.ts';
import { contextOf, javaChildPath, type ParseContext } from './values.ts';

export interface ParseOptions {
  path: string | null;
  /** Environment for SERVER_JVMFLAGS / JVMFLAGS (-Djava.security.auth.login.config=…); default none. */
  env?: Record<string, string | undefined>;
  cwd?: string;          // where relative paths resolve, default process.cwd() (Java's user.dir)
  readMyid?: boolean;    // read <dataDir>/myid when it is a file; default true
}

/** The configuration used when zooid is started without a zoo.cfg. */
export const EMBEDDED_DEFAULT_CONFIG = 'clientPort=2181\ndataDir=./data\n';
const EMBEDDED_SOURCE = '(embedded default)';

const MIN_SESSION_FACTOR = 2;              // QuorumPeerConfig: minSessionTimeout -1 is 2 × tickTime
const MAX_SESSION_FACTOR = 20;            // and maxSessionTimeout -1 is 20 × tickTime
const JUTE_EXTRA_BYTES_MIN = 1024;        // BinaryInputArchive: the extra size is at least 1024
const SERVER_ID_SESSION_BITS_MAX = 255;   // session ids carry the server id in 8 bits

export function parseConfig(text: string, opts: ParseOptions): ServerConfig {
  const cwd = opts.cwd ?? process.cwd();
  const source = opts.path ?? EMBEDDED_SOURCE;
  const r = SettingsReader.of(text, source);
  const { reads, taken } = readKeys(r, contextOf(r, cwd), opts.path === null);
  const v = reads.values;

  const clientPortAddress = checkClientAddresses(r, reads);
  const { minSessionTimeoutMs, maxSessionTimeoutMs } = sessionTimeouts(r, reads);
  const juteMaxBufferExtraBytes = Math.max(JUTE_EXTRA_BYTES_MIN, v['zookeeper.jute.maxbuffer.extrasize'] ?? v['jute.maxbuffer']);
  // ZooKeeper reads only the JVM flag (Boolean.getBoolean); zooid the key as well
  const readonlyModeEnabled = v['readonlymode.enabled'] || jvmFlagFromEnv(opts.env ?? {}, 'readonlymode.enabled')?.value.toLowerCase() === 'true';
  const fourLetterWordWhitelist = parseFourLetterWordWhitelist(v['4lw.commands.whitelist'] ?? undefined, readonlyModeEnabled);
  const jaas = readJaasFile(r, reads, cwd, opts.env ?? {});
  const sasl = deriveSasl(r, reads, jaas);
  const quorumSasl = deriveQuorumSasl(r, reads, jaas);
  const saslAuthProvider = v['authProvider.N'].some((p) => p.value);
  const metricsHttpPort = metricsPortOf(r, reads);
  const ensemble = serversOf(r, reads, cwd);
  // QuorumPeerConfig.setupMyId reads myid whenever the file exists, standalone or not.
  const myid = opts.readMyid === false ? null : readMyid(v.dataDir, r.warnings);
  const standalone = checkEnsembleShape(r, reads, ensemble, myid, opts.readMyid !== false);
  const client = resolveClientPort(r, reads, ensemble.servers, myid, clientPortAddress);
  const tls = deriveTls(r, reads);
  const quorumTls = deriveQuorumTls(r, reads);
  warnAboutUnknownKeys(r, taken);
  sortWarnings(r.warnings, source);

  const fields: DerivedFields = {
    configPath: opts.path === null ? null : resolvePath(cwd, opts.path),
    dataLogDir: v.dataLogDir ?? v.dataDir,
    clientPort: client.clientPort,
    clientPortAddress: client.clientPortAddress,
    minSessionTimeoutMs,
    maxSessionTimeoutMs,
    juteMaxBufferExtraBytes,
    readonlyModeEnabled,
    fourLetterWordWhitelist,
    tls,
    quorumTls,
    quorumSasl,
    sasl,
    saslAuthProvider,
    metricsHttpPort,
    myid,
    servers: ensemble.servers,
    configVersion: ensemble.version,
    standalone,
    raw: r.raw,
    warnings: r.warnings,
  };
  const cfg: ServerConfig = { ...keyFieldsOf(v), ...fields };
  assert(cfg.dataDir.startsWith('/') && cfg.dataLogDir.startsWith('/'), 'data directories are absolute');
  assert(cfg.clientPort !== 0 && cfg.minSessionTimeoutMs <= cfg.maxSessionTimeoutMs, 'validated above');
  return cfg;
}

// ---------------------------------------------------------------------------------
// The table's keys

/** How a key of the file is found: its spellings, or the first family that matches it. */
function entryIndex(): Map<string, KeyEntry> {
  const bySpelling = new Map<string, KeyEntry>();
  for (const e of SCHEMA as readonly AnyEntry[]) {
    if (e.kind !== 'key') continue;
    for (const name of [e.key, ...e.aliases]) {
      assert(!bySpelling.has(name), `schema: ${name} is spelled by two entries`);
      bySpelling.set(name, e);
    }
  }
  return bySpelling;
}
const BY_SPELLING = entryIndex();
const FAMILIES = (SCHEMA as readonly AnyEntry[]).filter((e): e is FamilyEntry => e.kind === 'family');

/** The family a key of the file belongs to, when no key entry spells it. */
export function familyOf(fileKey: string): FamilyEntry | null {
  if (BY_SPELLING.has(fileKey)) return null;
  const bare = fileKey.startsWith('zookeeper.') ? fileKey.slice('zookeeper.'.length) : fileKey;
  return FAMILIES.find((f) => f.match.test(f.systemProperty ? bare : fileKey)) ?? null;
}

/** The entry that reads a key of the file, or null for a key neither ZooKeeper nor zooid knows. */
export function entryOf(fileKey: string): KeyEntry | FamilyEntry | null {
  return BY_SPELLING.get(fileKey) ?? familyOf(fileKey);
}

/** Runs an entry's parser on its default text (the default is zoo.cfg text too). */
export function defaultValueOf(e: KeyEntry, c: ParseContext): unknown {
  const d = e.default;
  if (d === null) return null;
  assert(d !== REQUIRED, `${e.key} has no default`);
  return e.parser.parse({ key: e.key, value: typeof d === 'function' ? d() : d, line: 0 }, c);
}

/** The warning for a key that is known but not used (accepted or unsupported), or null. */
function notUsedWarning(e: KeyEntry | FamilyEntry, value: unknown): string | null {
  if (e.status !== 'accepted' && e.status !== 'unsupported') return null;
  if (e.kind === 'key' && e.honours?.(value) === true) return null;
  return NOT_USED;
}

/** Every entry's value in table order, and the keys of the file some entry took. */
function readKeys(r: SettingsReader, c: ParseContext, embedded: boolean): { reads: KeyReads; taken: Set<string> } {
  const values: Record<string, unknown> = {};
  const settings = new Map<string, Setting>();
  const taken = new Set<string>();
  for (const e of SCHEMA as readonly AnyEntry[]) {
    if (e.kind === 'derived') continue;
    if (e.kind === 'family') {
      const items: FamilyItem<unknown>[] = [];
      for (const [fileKey, entry] of r.raw) {
        if (familyOf(fileKey) !== e) continue;
        taken.add(fileKey);
        const s: Setting = { key: fileKey, value: entry.value, line: entry.line };
        const value = e.parser.parse(s, c);
        const warning = notUsedWarning(e, value);
        if (warning !== null) c.warn(s, `${fileKey} ${warning}`);
        items.push({ setting: s, value });
      }
      values[e.key] = items;
      continue;
    }
    const spellings = [e.key, ...e.aliases];
    for (const name of spellings) if (r.raw.has(name)) taken.add(name);
    if (e.field === null && notUsedWarning(e, null) !== null) {
      // a key zooid only acknowledges: every spelling written is warned about, none is read
      for (const name of spellings) {
        const written = r.raw.get(name);
        if (written !== undefined) r.warn(written.line, `${name} ${NOT_USED}`);
      }
      values[e.key] = null;
      continue;
    }
    const s = r.take(spellings);
    if (s !== null) settings.set(e.key, s);
    values[e.key] = valueOf(e, s, values, r, c, embedded);
  }
  const reads: KeyReads = { values: values as KeyValues, at: (k: TableKey) => settings.get(k) ?? null };
  return { reads, taken };
}

function valueOf(e: KeyEntry, s: Setting | null, values: Record<string, unknown>, r: SettingsReader, c: ParseContext, embedded: boolean): unknown {
  if (s === null) {
    if (e.default !== REQUIRED) return defaultValueOf(e, c);
    assert(!embedded, 'the embedded default config sets every required key');
    throw r.fail(e.key, null, 'is not set (ZooKeeper requires it)');
  }
  const unmet = e.onlyWith.find((cond) => {
    assert(cond.key in values && (cond.orKey === undefined || cond.orKey in values), `schema: ${e.key} is only used with ${cond.key}, which must come before it`);
    return values[cond.key] === null && (cond.orKey === undefined || values[cond.orKey] !== true);
  });
  if (unmet !== undefined) {
    c.warn(s, `${s.key} ${unmet.otherwise ?? NOT_USED}`);
    return defaultValueOf(e, c);
  }
  if (e.emptyIsUnset && s.value === '') return defaultValueOf(e, c);
  const value = e.parser.parse(s, c);
  const warning = notUsedWarning(e, value);
  if (warning !== null) c.warn(s, `${s.key} ${warning}`);
  return value;
}

/** The ServerConfig fields the table's keys give directly. */
function keyFieldsOf(values: KeyValues): KeyFields {
  const out: Record<string, unknown> = {};
  for (const e of SCHEMA as readonly AnyEntry[]) {
    if (e.kind === 'key' && e.field !== null) out[e.field] = (values as Record<string, unknown>)[e.key];
  }
  return out as KeyFields;
}

/** Whatever no entry took: unknown to ZooKeeper 3.8 and to zooid. */
function warnAboutUnknownKeys(r: SettingsReader, taken: ReadonlySet<string>): void {
  for (const [key, entry] of r.raw) {
    if (taken.has(key)) continue;
    r.warn(entry.line, `${key} is not a setting ZooKeeper 3.8 or zooid knows; ignored (ZooKeeper would set the Java system property zookeeper.${key})`);
  }
}

// ---------------------------------------------------------------------------------
// Fields and checks across keys

function checkClientAddresses(r: SettingsReader, k: KeyReads): string | null {
  const address = k.at('clientPortAddress');
  if (address !== null && (k.values.clientPort ?? 0) === 0) throw r.fail('clientPortAddress', address.line, 'is set but clientPort is not set');
  const secureAddress = k.at('secureClientPortAddress');
  if (secureAddress !== null && k.values.secureClientPort === null) {
    throw r.fail('secureClientPortAddress', secureAddress.line, 'is set but secureClientPort is not set');
  }
  return k.values.clientPortAddress;
}

/** -1 (or absent) means 2 × / 20 × tickTime; the minimum may not exceed the maximum. */
function sessionTimeouts(r: SettingsReader, k: KeyReads): { minSessionTimeoutMs: number; maxSessionTimeoutMs: number } {
  const v = k.values;
  const minSessionTimeoutMs = v.minSessionTimeout === -1 ? v.tickTime * MIN_SESSION_FACTOR : v.minSessionTimeout;
  const maxSessionTimeoutMs = v.maxSessionTimeout === -1 ? v.tickTime * MAX_SESSION_FACTOR : v.maxSessionTimeout;
  if (minSessionTimeoutMs > maxSessionTimeoutMs) {
    const blamed = k.at('minSessionTimeout') ?? k.at('maxSessionTimeout');
    const minText = v.minSessionTimeout === -1 ? `${minSessionTimeoutMs} (2 × tickTime)` : `${minSessionTimeoutMs}`;
    const maxText = v.maxSessionTimeout === -1 ? `${maxSessionTimeoutMs} (20 × tickTime)` : `${maxSessionTimeoutMs}`;
    throw r.fail(blamed?.key ?? 'minSessionTimeout', blamed?.line ?? null,
      `minSessionTimeout ${minText} is larger than maxSessionTimeout ${maxText}`);
  }
  return { minSessionTimeoutMs, maxSessionTimeoutMs };
}

/** /metrics is served when metricsProvider.className names a provider other than ZooKeeper's default. */
function metricsPortOf(r: SettingsReader, k: KeyReads): number | null {
  const className = k.values['metricsProvider.className'];
  if (className !== null && className !== DEFAULT_METRICS_PROVIDER) return k.values['metricsProvider.httpPort'];
  for (const name of ['metricsProvider.httpPort', 'metricsProvider.httpHost'] as const) {
    const s = k.at(name);
    if (s !== null) r.warn(s.line, `${name} is ignored without metricsProvider.className, as in ZooKeeper`);
  }
  return null;
}

interface Ensemble {
  servers: Map<number, QuorumServerConfig>;
  /** Where the server list starts (or the dynamicConfigFile line). */
  serversLine: number | null;
  /** The dynamic config file's version (0: none). */
  version: bigint;
}

function serversOf(r: SettingsReader, k: KeyReads, cwd: string): Ensemble {
  const dynamic = k.at('dynamicConfigFile');
  const servers = new Map<number, QuorumServerConfig>();
  let serversLine: number | null = null;
  for (const { setting, value } of k.values['server.N']) {
    if (dynamic !== null) throw r.fail(setting.key, setting.line, 'must be in the dynamic config file, since dynamicConfigFile is set');
    addServer(r, setting, value, servers);
    if (serversLine === null || setting.line < serversLine) serversLine = setting.line;
  }
  const file = k.values.dynamicConfigFile;
  let version = 0n;
  if (dynamic !== null && file !== null) {
    version = readDynamicConfig(r, dynamic, file, cwd, servers);
    serversLine = dynamic.line;
  }
  return { servers, serversLine, version };
}

/**
 * QuorumPeerConfig.parseDynamicConfig and checkValidity: returns whether this server runs
 * standalone (fewer than two participants), after checking what an ensemble needs.
 */
function checkEnsembleShape(r: SettingsReader, k: KeyReads, e: Ensemble, myid: number | null, myidRead: boolean): boolean {
  let participants = 0;
  let observers = 0;
  for (const s of e.servers.values()) {
    if (s.role === 'participant') participants++;
    else observers++;
  }
  if (participants === 0 && observers > 0) {
    throw r.fail(null, e.serversLine, 'observers without participants is an invalid configuration');
  }
  // QuorumPeerConfig.isDistributed: two participants or more, or any with standaloneEnabled=false
  const standaloneEnabled = k.values.standaloneEnabled;
  if (participants === 1 && standaloneEnabled) {
    if (observers > 0) throw r.fail(null, e.serversLine, 'observers without a quorum is an invalid configuration');
    r.warn(e.serversLine ?? 0, 'only one server.N is given: running standalone, as ZooKeeper does');
  }
  const standalone = participants === 0 || (participants === 1 && standaloneEnabled);
  if (standalone) return true;
  const myidFile = javaChildPath(k.values.dataDir, 'myid');
  if (k.values.initLimit === 0) throw r.fail('initLimit', k.at('initLimit')?.line ?? null, 'is not set (an ensemble needs it)');
  if (k.values.syncLimit === 0) throw r.fail('syncLimit', k.at('syncLimit')?.line ?? null, 'is not set (an ensemble needs it)');
  if (myidRead && myid === null) throw r.fail('myid', null, `${myidFile} is missing (an ensemble needs it)`);
  if (myid !== null && !e.servers.has(myid)) {
    throw r.fail('myid', null, `this server's id ${myid} (${myidFile}) has no server.${myid} line`);
  }
  return false;
}

/** QuorumPeerConfig.setupClientPort: this server's server.N line may give the client port. */
function resolveClientPort(r: SettingsReader, k: KeyReads, servers: Map<number, QuorumServerConfig>, myid: number | null,
  address: string | null): { clientPort: number; clientPortAddress: string | null } {
  const staticClientPort = k.values.clientPort ?? 0;   // 0 = not set, as in ZooKeeper
  const clientPortSetting = k.at('clientPort');
  let clientPort = staticClientPort;
  let clientPortAddress = address;
  const me = myid === null ? undefined : servers.get(myid);
  const peerTypeSetting = k.at('peerType');
  if (me !== undefined && peerTypeSetting !== null && k.values.peerType !== me.role) {
    r.warn(peerTypeSetting.line, `peerType ${k.values.peerType} differs from server.${myid}'s role ${me.role}; the server.${myid} line wins, as in ZooKeeper`);
  }
  if (me !== undefined && me.clientPort !== null) {
    if (staticClientPort !== 0 && staticClientPort !== me.clientPort) {
      throw r.fail(`server.${myid}`, r.raw.get(`server.${myid}`)?.line ?? null,
        `client port ${me.clientPort} differs from clientPort ${staticClientPort} on line ${clientPortSetting?.line}`);
    }
    clientPort = me.clientPort;
    if (me.clientAddress !== null && me.clientAddress !== '0.0.0.0') clientPortAddress = me.clientAddress;
  }
  if (clientPort === 0) {
    if (k.values.secureClientPort !== null) return { clientPort: -1, clientPortAddress };
    const why = clientPortSetting === null ? 'is not set' : '0 means no client port';
    throw r.fail('clientPort', clientPortSetting?.line ?? null, `${why}, and neither secureClientPort nor this server's server.N line gives one`);
  }
  return { clientPort, clientPortAddress };
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
