// The settings behind secureClientPort (ZooKeeper's client-port X509Util, the `ssl.*` keys)
// and SASL (the JAAS file, its section, the auth providers): their parsers and the two
// derived fields, `tls` and `sasl`. TLS files are read later, by engine/security/tls.ts;
// the JAAS file is read here, so its errors are config errors with file and line.

import { readFileSync, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { JAAS_FILE_BYTES_MAX, JaasError, parseJaas, saslCredentialsOf, saslUsersOf, type JaasSection } from '../security/sasl.ts';
import { ConfigError, type Setting, type SettingsReader } from './read.ts';
import { oneOf, type Parser } from './values.ts';
import type { KeyReads } from './schema.ts';

export interface SaslConfig {
  /** The JAAS file and the section read (zookeeper.sasl.serverconfig, default Server). */
  jaasFile: string;
  section: string;
  /** user name → password (user_<name>="<password>"). */
  users: Map<string, string>;
}

/** SASL between ensemble servers (quorum.auth.*): DIGEST-MD5 users and identity from the JAAS file. */
export interface QuorumSaslConfig {
  jaasFile: string;
  /** quorum.auth.learnerRequireSasl: this server authenticates to the servers it connects to. */
  learnerRequired: boolean;
  /** quorum.auth.serverRequireSasl: peers that do not authenticate are refused. */
  serverRequired: boolean;
  /** quorum.auth.server.saslLoginContext (QuorumServer): its user_<name> options, the peers that may join. */
  serverSection: string;
  users: Map<string, string>;
  /** quorum.auth.learner.saslLoginContext (QuorumLearner): the identity this server logs in with; null when it never does. */
  learnerSection: string;
  learner: { username: string; password: string } | null;
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

/** TLS between ensemble servers (sslQuorum, portUnification, ssl.quorum.*). */
export interface QuorumTlsConfig extends TlsConfig {
  /** sslQuorum: the connections this server opens to its peers are TLS. */
  connectWithTls: boolean;
  /** portUnification: plain peers are accepted too (TLS ones always are). */
  acceptPlain: boolean;
  /** ssl.quorum.hostnameVerification: each end checks the other's certificate names its address. */
  hostnameVerification: boolean;
}

// ---------------------------------------------------------------------------------
// Parsers

const TLS_VERSIONS: readonly TlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
const DEFAULT_TLS_VERSIONS: readonly TlsVersion[] = ['TLSv1.2', 'TLSv1.3'];

function tlsVersionOf(s: Setting, text: string, fail: (s: Setting, detail: string) => ConfigError): TlsVersion {
  const v = TLS_VERSIONS.find((t) => t.toLowerCase() === text.trim().toLowerCase());
  if (v === undefined) throw fail(s, `'${text.trim()}' is not a TLS protocol zooid offers (${TLS_VERSIONS.join(', ')})`);
  return v;
}

/** ssl.protocol: one protocol name, any case. */
export const tlsVersion: Parser<TlsVersion> = { kind: TLS_VERSIONS.join('|'), parse: (s, c) => tlsVersionOf(s, s.value, c.fail) };

/** ssl.enabledProtocols: a comma-separated list of protocol names. */
export const tlsVersions: Parser<TlsVersion[]> = {
  kind: `list of ${TLS_VERSIONS.join('|')}`,
  parse: (s, c) => s.value.split(',').filter((p) => p.trim() !== '').map((p) => tlsVersionOf(s, p, c.fail)),
};

/** ssl.*.type: a store type zooid reads. */
export const storeType = oneOf(['PEM', 'PKCS12', 'JKS'], {
  fold: 'upper', error: (v) => `'${v}' is not a key store type zooid reads (PEM, PKCS12 or JKS)`,
});

/** ssl.authProvider: x509 is what zooid does; anything else is warned about. */
export const sslAuthProvider: Parser<string> = {
  kind: 'x509',
  parse(s, c) {
    if (s.value !== 'x509') c.warn(s, `${s.key}=${s.value}: zooid authenticates TLS clients with its built-in x509 provider only`);
    return s.value;
  },
};

const SASL_AUTH_PROVIDER = 'org.apache.zookeeper.server.auth.SASLAuthenticationProvider';
/** Providers zooid has built in: naming them in authProvider.N is accepted silently (x509 needs no registration in zooid). */
const BUILT_IN_AUTH_PROVIDERS = new Set([
  'org.apache.zookeeper.server.auth.IPAuthenticationProvider',
  'org.apache.zookeeper.server.auth.DigestAuthenticationProvider',
  'org.apache.zookeeper.server.auth.X509AuthenticationProvider',
]);

/** authProvider.N: true for SASLAuthenticationProvider; a class zooid cannot load is warned about. */
export const authProviderClass: Parser<boolean> = {
  kind: 'class name',
  parse(s, c) {
    if (s.value === SASL_AUTH_PROVIDER) return true;
    if (!BUILT_IN_AUTH_PROVIDERS.has(s.value)) c.warn(s, `${s.key}: ${s.value} cannot be loaded by zooid (it knows ip, digest, sasl and x509); ignored`);
    return false;
  },
};

// ---------------------------------------------------------------------------------
// tls

function sourceOf(s: Setting): SettingSource {
  return { key: s.key, line: s.line };
}

/** KeyStoreFileType.fromPropertyValueOrFileName: the .type setting, else the file name's extension. */
function storeTypeOf(r: SettingsReader, location: Setting, type: TlsStoreType | null): TlsStoreType {
  if (type !== null) return type;
  const ext = /\.([^./]*)$/.exec(location.value)?.[1]?.toLowerCase() ?? '';
  if (ext === 'pem') return 'PEM';
  if (ext === 'p12' || ext === 'pfx') return 'PKCS12';
  if (ext === 'jks') return 'JKS';
  throw r.fail(location.key, location.line, `cannot tell the store type from the file name '${location.value}' (.pem, .p12, .pfx or .jks); set ${location.key.replace(/location$/, 'type')}`);
}

type TlsPrefix = 'ssl.' | 'ssl.quorum.';

function storeOf(r: SettingsReader, k: KeyReads, prefix: TlsPrefix, which: 'keyStore' | 'trustStore'): TlsStoreConfig | null {
  const v = k.values;
  const store = `${prefix}${which}` as const;
  const path = v[`${store}.location`];
  const location = k.at(`${store}.location`);
  if (path === null || location === null) return null;
  const passwordSource = k.at(`${store}.passwordPath`) ?? k.at(`${store}.password`);
  return {
    path,
    location: sourceOf(location),
    type: storeTypeOf(r, location, v[`${store}.type`]),
    password: v[`${store}.password`],
    passwordPath: v[`${store}.passwordPath`],
    passwordSource: passwordSource === null ? null : sourceOf(passwordSource),
  };
}

/** The settings of one X509Util (client port: `ssl.`, quorum: `ssl.quorum.`), its key store required. */
function tlsOf(r: SettingsReader, k: KeyReads, prefix: TlsPrefix, needs: string): TlsConfig {
  const v = k.values;
  const keyStore = storeOf(r, k, prefix, 'keyStore');
  const trustStore = storeOf(r, k, prefix, 'trustStore');
  if (keyStore === null) throw r.fail(`${prefix}keyStore.location`, null, `is not set; ${needs} needs a key store with the server's key and certificate`);
  // ZooKeeper enables ssl.enabledProtocols, else just ssl.protocol
  const enabled = v[`${prefix}enabledProtocols`];
  const protocol = v[`${prefix}protocol`];
  let versions = [...DEFAULT_TLS_VERSIONS];
  if (enabled !== null && enabled.length > 0) versions = [...enabled];
  else if (protocol !== null) versions = [protocol];
  versions.sort((a, b) => TLS_VERSIONS.indexOf(a) - TLS_VERSIONS.indexOf(b));
  const names = v[`${prefix}ciphersuites`];
  const ciphers = k.at(`${prefix}ciphersuites`);
  return {
    keyStore,
    trustStore,
    clientAuth: v[`${prefix}clientAuth`],
    minVersion: versions[0],
    maxVersion: versions[versions.length - 1],
    cipherSuites: names === null || names.length === 0 || ciphers === null ? null : { names, source: sourceOf(ciphers) },
  };
}

/** X509Util's client-port settings; null without secureClientPort. */
export function deriveTls(r: SettingsReader, k: KeyReads): TlsConfig | null {
  const v = k.values;
  if (v.secureClientPort === null && !v['client.portUnification']) return null;
  return tlsOf(r, k, 'ssl.', v.secureClientPort !== null ? 'secureClientPort' : 'client.portUnification=true');
}

/** QuorumX509Util's settings; null unless sslQuorum or portUnification. */
export function deriveQuorumTls(r: SettingsReader, k: KeyReads): QuorumTlsConfig | null {
  const v = k.values;
  if (!v.sslQuorum && !v.portUnification) return null;
  return {
    ...tlsOf(r, k, 'ssl.quorum.', v.sslQuorum ? 'sslQuorum=true' : 'portUnification=true'),
    connectWithTls: v.sslQuorum,
    acceptPlain: v.portUnification,
    hostnameVerification: v['ssl.quorum.hostnameVerification'],
  };
}

// ---------------------------------------------------------------------------------
// sasl

const JAAS_PROPERTY = 'java.security.auth.login.config';

/** -D<property>=… in SERVER_JVMFLAGS or JVMFLAGS (as zkServer.sh passes them to the JVM): its value and the variable, or null. */
export function jvmFlagFromEnv(env: Readonly<Record<string, string | undefined>>, property: string): { value: string; from: string } | null {
  const re = new RegExp(`(?:^|\\s)-D${property.replace(/\./g, '\\.')}=("[^"]*"|'[^']*'|\\S+)`, 'g');
  for (const name of ['SERVER_JVMFLAGS', 'JVMFLAGS']) {
    const flags = env[name];
    if (flags === undefined) continue;
    let found: string | null = null;
    re.lastIndex = 0;
    for (let m = re.exec(flags); m !== null; m = re.exec(flags)) found = m[1].replace(/^(["'])(.*)\1$/, '$2'); // the last one wins, as in the JVM
    if (found !== null) return { value: found, from: name };
  }
  return null;
}

function jaasFileFromEnv(env: Readonly<Record<string, string | undefined>>): { file: string; from: string } | null {
  const flag = jvmFlagFromEnv(env, JAAS_PROPERTY);
  return flag === null ? null : { file: flag.value, from: flag.from };
}

/** The JAAS file as read: its sections, and the setting that named it (for errors). */
export interface JaasFile {
  file: string;
  sections: JaasSection[];
  where: { key: string; line: number | null };
}

/**
 * The JAAS file is named by the zoo.cfg key java.security.auth.login.config (zooid's: for
 * ZooKeeper it is a JVM flag), else by -Djava.security.auth.login.config=… in
 * SERVER_JVMFLAGS or JVMFLAGS. Like the JVM, a leading '=' and a file: URL are accepted.
 * Null without one.
 */
export function readJaasFile(r: SettingsReader, k: KeyReads, cwd: string, env: Readonly<Record<string, string | undefined>>): JaasFile | null {
  const jaasSetting = k.at(JAAS_PROPERTY);
  const fromEnv = jaasFileFromEnv(env);
  const spelled = k.values[JAAS_PROPERTY] ?? fromEnv?.file ?? null;
  if (spelled === null) return null;
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
    return { file, sections: parseJaas(text, file), where };
  } catch (err) {
    throw jaasConfigError(err, where.key);
  }
}

/** A JaasError as a ConfigError naming `key`; `why` says how the key led to the file (default: it names it). */
function jaasConfigError(err: unknown, key: string, why = `the JAAS file named by ${key}`): unknown {
  if (err instanceof JaasError) return new ConfigError(`${err.message} (${why})`, key, err.line);
  return err;
}

/**
 * The client port's DIGEST-MD5 users: the JAAS file's section sasl.serverconfig (Server).
 * Without a JAAS file, the keys that only matter to it are warned about; a file without
 * the default Server section (one for quorum SASL only) leaves client SASL off, as
 * ServerCnxnFactory.configureSaslLogin does.
 */
export function deriveSasl(r: SettingsReader, k: KeyReads, jaas: JaasFile | null): SaslConfig | null {
  const section = k.values['sasl.serverconfig'];
  if (jaas === null) {
    for (const name of ['sasl.serverconfig', 'SASLAuthenticationProvider.superPassword'] as const) {
      const s = k.at(name);
      if (s !== null) r.warn(s.line, `${s.key} is ignored without a JAAS file (${JAAS_PROPERTY})`);
    }
    return null;
  }
  if (k.at('sasl.serverconfig') === null && !jaas.sections.some((s) => s.name === section)) return null;
  let users: Map<string, string>;
  try {
    const found = saslUsersOf(jaas.sections, section, jaas.file);
    for (const w of found.warnings) r.warnings.push(w);
    users = found.users;
  } catch (err) {
    throw jaasConfigError(err, jaas.where.key);
  }
  const superPassword = k.values['SASLAuthenticationProvider.superPassword'];
  if (superPassword !== null) users.set('super', superPassword);
  return { jaasFile: jaas.file, section, users };
}

/**
 * QuorumPeerConfig's quorum.auth.* checks, then the JAAS sections SaslQuorumAuthServer and
 * SaslQuorumAuthLearner log in with; null without quorum.auth.enableSasl.
 */
export function deriveQuorumSasl(r: SettingsReader, k: KeyReads, jaas: JaasFile | null): QuorumSaslConfig | null {
  const v = k.values;
  const enabled = v['quorum.auth.enableSasl'];
  const learnerRequired = v['quorum.auth.learnerRequireSasl'];
  const serverRequired = v['quorum.auth.serverRequireSasl'];
  const lineOf = (key: TableKeyOfQuorumSasl) => k.at(key)?.line ?? null;
  if (!enabled && serverRequired) throw r.fail('quorum.auth.serverRequireSasl', lineOf('quorum.auth.serverRequireSasl'), 'quorum.auth.enableSasl is disabled, so cannot enable quorum.auth.serverRequireSasl');
  if (!enabled && learnerRequired) throw r.fail('quorum.auth.learnerRequireSasl', lineOf('quorum.auth.learnerRequireSasl'), 'quorum.auth.enableSasl is disabled, so cannot enable quorum.auth.learnerRequireSasl');
  // a server that requires SASL of others but does not authenticate itself could never join
  if (!learnerRequired && serverRequired) throw r.fail('quorum.auth.serverRequireSasl', lineOf('quorum.auth.serverRequireSasl'), 'quorum.auth.learnerRequireSasl is disabled, so cannot enable quorum.auth.serverRequireSasl');
  if (!enabled) return null;
  if (jaas === null) {
    throw r.fail('quorum.auth.enableSasl', lineOf('quorum.auth.enableSasl'), `needs a JAAS file (${JAAS_PROPERTY}, or -D${JAAS_PROPERTY}=… in SERVER_JVMFLAGS)`);
  }
  const serverSection = v['quorum.auth.server.saslLoginContext'];
  const learnerSection = v['quorum.auth.learner.saslLoginContext'];
  let users: Map<string, string>;
  try {
    const found = saslUsersOf(jaas.sections, serverSection, jaas.file);
    for (const w of found.warnings) r.warnings.push(w);
    users = found.users;
  } catch (err) {
    throw jaasConfigError(err, 'quorum.auth.server.saslLoginContext', `quorum.auth.server.saslLoginContext=${serverSection}; the JAAS file named by ${jaas.where.key}`);
  }
  let learner: QuorumSaslConfig['learner'] = null;
  try {
    // SaslQuorumAuthLearner needs its section; the identity only when it authenticates
    if (learnerRequired) learner = saslCredentialsOf(jaas.sections, learnerSection, jaas.file);
    else if (!jaas.sections.some((s) => s.name === learnerSection)) saslCredentialsOf(jaas.sections, learnerSection, jaas.file);
  } catch (err) {
    throw jaasConfigError(err, 'quorum.auth.learner.saslLoginContext', `quorum.auth.learner.saslLoginContext=${learnerSection}; the JAAS file named by ${jaas.where.key}`);
  }
  return { jaasFile: jaas.file, learnerRequired, serverRequired, serverSection, users, learnerSection, learner };
}

type TableKeyOfQuorumSasl = 'quorum.auth.enableSasl' | 'quorum.auth.learnerRequireSasl' | 'quorum.auth.serverRequireSasl'
  | 'quorum.auth.server.saslLoginContext' | 'quorum.auth.learner.saslLoginContext';
