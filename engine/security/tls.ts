// TLS on secureClientPort: ZooKeeper's key and trust stores (PEM, PKCS12, JKS) read into
// the options Node's tls server takes, checked once at start so that a missing file or a
// wrong password is a config error (exit 2) naming the setting, not a failed handshake later.
//
// ZooKeeper's PEM store is one file holding the private key (optionally an encrypted
// PKCS8 key, opened with the store password) and the certificate chain; a PEM trust store
// holds certificates. A PKCS12 key store goes to Node as `pfx`; PKCS12 and JKS trust
// stores and JKS key stores are opened by engine/security/x509.ts.
import fs from 'node:fs';
import tls from 'node:tls';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { ConfigError, type QuorumTlsConfig, type SettingSource, type TlsConfig, type TlsStoreConfig } from '../config.ts';
import type { PeerTlsOptions } from '../quorum/peer-transport.ts';
import { BadPasswordError, derToPem, pkcs12Certificates, readJks } from './x509.ts';

/** What an io worker needs to serve TLS: plain data (it crosses to the worker in workerData). */
export interface TlsServerOptions {
  key?: string;
  cert?: string;
  pfx?: Buffer;
  passphrase?: string;
  /** PEM certificates of the trust store; absent: Node's default CAs. */
  ca?: string[];
  requestCert: boolean;
  /** Only with clientAuth=need: with want, a client may come without a certificate. */
  rejectUnauthorized: boolean;
  minVersion: tls.SecureVersion;
  maxVersion: tls.SecureVersion;
  ciphers?: string;
}

/** A store bigger than this is not a key store (keeps a mistyped path to a disk image from being read whole). */
const STORE_BYTES_MAX = 16 * 1024 * 1024;

/** Java (IANA) cipher suite names → OpenSSL's, for the suites OpenSSL 3 offers by default. */
const OPENSSL_CIPHER_NAMES: Record<string, string> = {
  TLS_AES_128_GCM_SHA256: 'TLS_AES_128_GCM_SHA256',
  TLS_AES_256_GCM_SHA384: 'TLS_AES_256_GCM_SHA384',
  TLS_CHACHA20_POLY1305_SHA256: 'TLS_CHACHA20_POLY1305_SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384: 'ECDHE-ECDSA-AES256-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384: 'ECDHE-RSA-AES256-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_DHE_RSA_WITH_AES_128_GCM_SHA256: 'DHE-RSA-AES128-GCM-SHA256',
  TLS_DHE_RSA_WITH_AES_256_GCM_SHA384: 'DHE-RSA-AES256-GCM-SHA384',
  TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'DHE-RSA-CHACHA20-POLY1305',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_RSA_WITH_AES_256_CBC_SHA256: 'AES256-SHA256',
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
};

function fail(source: string, setting: SettingSource | null, fallbackKey: string, detail: string): ConfigError {
  const key = setting?.key ?? fallbackKey;
  const where = setting === null ? `${source}:` : `${source}:${setting.line}:`;
  return new ConfigError(`${where} ${key}: ${detail}`, key, setting?.line ?? null);
}

/** The setting prefix a store was configured under: `ssl.` (client port) or `ssl.quorum.` (peers). */
function prefixOf(store: TlsStoreConfig): string {
  return store.location.key.replace(/^zookeeper\./, '').replace(/(keyStore|trustStore)\.location$/, '');
}

function readStoreFile(source: string, store: TlsStoreConfig): Buffer {
  try {
    const size = fs.statSync(store.path).size;
    if (size > STORE_BYTES_MAX) throw new Error(`${size} bytes is larger than a key store can be (${STORE_BYTES_MAX})`);
    return fs.readFileSync(store.path);
  } catch (err) {
    throw fail(source, store.location, store.location.key, `cannot read ${store.path}: ${(err as Error).message}`);
  }
}

/** The store password: ssl.*.passwordPath's file (one trailing line break dropped, as SecretUtils) or ssl.*.password. */
function passwordOf(source: string, store: TlsStoreConfig): string | null {
  if (store.passwordPath === null) return store.password;
  try {
    return fs.readFileSync(store.passwordPath, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw fail(source, store.passwordSource, `${prefixOf(store)}keyStore.passwordPath`, `cannot read ${store.passwordPath}: ${(err as Error).message}`);
  }
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

function pemBlocks(text: string): { label: string; pem: string }[] {
  return [...text.matchAll(PEM_BLOCK)].map((m) => ({ label: m[1], pem: `${m[0]}\n` }));
}

function isPasswordError(err: unknown): boolean {
  if (err instanceof BadPasswordError) return true;
  const msg = String((err as Error)?.message ?? '');
  return /bad decrypt|mac verify|passphrase|password|interrupted or cancelled/i.test(msg);
}

function storeError(source: string, store: TlsStoreConfig, which: string, err: unknown): ConfigError {
  if (isPasswordError(err)) {
    return fail(source, store.passwordSource, `${prefixOf(store)}${which}.password`, `cannot open ${store.path} (${store.type}) with this password: ${(err as Error).message}`);
  }
  return fail(source, store.location, store.location.key, `${store.path} is not a usable ${store.type} ${which}: ${(err as Error).message}`);
}

/**
 * Opens a PEM private key. An encrypted one that does not open with the password is a wrong
 * password however OpenSSL words it: a wrong key decrypts to garbage, which usually fails the
 * padding check ("bad decrypt") but about once in 256 passes it and fails the decoding instead.
 */
function openPemKey(block: { label: string; pem: string }, password: string | null): void {
  try {
    createPrivateKey({ key: block.pem, passphrase: password ?? undefined });
  } catch (err) {
    const encrypted = block.label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type:\s*4,ENCRYPTED/.test(block.pem);
    if (encrypted && password !== null) throw new BadPasswordError((err as Error).message);
    throw err;
  }
}

function keyStoreOptions(source: string, store: TlsStoreConfig): Pick<TlsServerOptions, 'key' | 'cert' | 'pfx' | 'passphrase'> {
  const file = readStoreFile(source, store);
  const password = passwordOf(source, store);
  try {
    if (store.type === 'PKCS12') return { pfx: file, passphrase: password ?? '' };
    if (store.type === 'JKS') {
      const jks = readJks(file, password ?? '');
      const entry = jks.keys[0];
      if (entry === undefined) throw new Error('it holds no private key');
      const key = createPrivateKey({ key: entry.pkcs8, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }).toString();
      return { key, cert: entry.chain.map((c) => derToPem(c, 'CERTIFICATE')).join('') };
    }
    const blocks = pemBlocks(file.toString('utf8'));
    const keys = blocks.filter((b) => b.label.endsWith('PRIVATE KEY'));
    const certs = blocks.filter((b) => b.label === 'CERTIFICATE');
    if (keys.length !== 1) throw new Error(`it holds ${keys.length} private keys (ZooKeeper's PEM store holds exactly one, with its certificate chain)`);
    if (certs.length === 0) throw new Error('it holds no certificate');
    // opening the key here turns a wrong password into a config error
    openPemKey(keys[0], password);
    return { key: keys[0].pem, cert: certs.map((c) => c.pem).join(''), passphrase: password ?? undefined };
  } catch (err) {
    throw storeError(source, store, 'keyStore', err);
  }
}

function trustStoreCerts(source: string, store: TlsStoreConfig): string[] {
  const file = readStoreFile(source, store);
  const password = passwordOf(source, store) ?? '';
  let pems: string[];
  try {
    if (store.type === 'PKCS12') pems = pkcs12Certificates(file, password).map((c) => derToPem(c, 'CERTIFICATE'));
    else if (store.type === 'JKS') pems = readJks(file, password).trusted.map((c) => derToPem(c, 'CERTIFICATE'));
    else pems = pemBlocks(file.toString('utf8')).filter((b) => b.label === 'CERTIFICATE').map((b) => b.pem);
    for (const pem of pems) new X509Certificate(pem); // throws on a damaged certificate
  } catch (err) {
    throw storeError(source, store, 'trustStore', err);
  }
  if (pems.length === 0) throw fail(source, store.location, store.location.key, `${store.path} holds no certificate to trust`);
  return pems;
}

function opensslCiphers(source: string, suites: NonNullable<TlsConfig['cipherSuites']>): string {
  const known = new Set(tls.getCiphers().map((c) => c.toUpperCase()));
  const names = suites.names.map((name) => {
    const mapped = OPENSSL_CIPHER_NAMES[name] ?? (known.has(name.toUpperCase()) ? name : null);
    if (mapped === null) throw fail(source, suites.source, 'ssl.ciphersuites', `'${name}' is not a cipher suite zooid knows (Java/IANA names such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, or OpenSSL names)`);
    return mapped;
  });
  return names.join(':');
}

/**
 * Reads the stores named by cfg.tls and checks that Node accepts them together.
 * Throws ConfigError naming the setting at fault.
 */
export function loadTlsServerOptions(cfgTls: TlsConfig, source: string): TlsServerOptions {
  const options: TlsServerOptions = {
    ...keyStoreOptions(source, cfgTls.keyStore),
    requestCert: cfgTls.clientAuth !== 'none',
    rejectUnauthorized: cfgTls.clientAuth === 'need',
    minVersion: cfgTls.minVersion,
    maxVersion: cfgTls.maxVersion,
  };
  if (cfgTls.trustStore !== null) options.ca = trustStoreCerts(source, cfgTls.trustStore);
  if (cfgTls.cipherSuites !== null) options.ciphers = opensslCiphers(source, cfgTls.cipherSuites);
  try {
    tls.createSecureContext(options);
  } catch (err) {
    if (options.ciphers !== undefined && /cipher/i.test((err as Error).message)) {
      throw fail(source, cfgTls.cipherSuites!.source, 'ssl.ciphersuites', (err as Error).message);
    }
    throw storeError(source, cfgTls.keyStore, 'keyStore', err);
  }
  return options;
}

/**
 * Reads the ssl.quorum.* stores for TLS between ensemble servers (engine/quorum/peer-transport.ts):
 * the same key store serves both ends of a peer connection, and the trust store checks both.
 */
export function loadPeerTlsOptions(cfg: QuorumTlsConfig, source: string): PeerTlsOptions {
  return {
    tls: loadTlsServerOptions(cfg, source),
    connectWithTls: cfg.connectWithTls,
    acceptPlain: cfg.acceptPlain,
    hostnameVerification: cfg.hostnameVerification,
  };
}
