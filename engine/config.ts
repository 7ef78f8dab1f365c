// zoo.cfg → a typed, validated ServerConfig. The keys, their parsers, defaults, status and
// consumers are one table, engine/config/schema.ts; this file is the entry point the rest of
// the server imports, and loads the file for the command line.
//
// The file is read the way Apache ZooKeeper 3.8 reads it (engine/config/read.ts); the keys
// by their schema entries and the checks across keys in engine/config/parse.ts; `conf` and
// the AdminServer's `configuration` come from the schema (engine/config/print.ts); each
// worker gets optionsFor(cfg, thread) (engine/config/options.ts).

import { readFileSync } from 'node:fs';
import { ConfigError } from './config/read.ts';
import { EMBEDDED_DEFAULT_CONFIG, parseConfig } from './config/parse.ts';
import type { ServerConfig } from './config/schema.ts';

export { ConfigError, parseProperties, type PropertyEntry } from './config/read.ts';
export { EMBEDDED_DEFAULT_CONFIG, parseConfig, type ParseOptions } from './config/parse.ts';
export { SCHEMA, type OptionsFor, type ServerConfig } from './config/schema.ts';
export type { ConfDirSizes, KeyStatus, Thread } from './config/define.ts';
export { configurationJson, formatConfigForConf, type ConfView } from './config/print.ts';
export { optionsFor } from './config/options.ts';
export { parseServerLine, ServerLineError, type QuorumServerConfig, type ServerRole } from './config/servers.ts';
export type { QuorumTlsConfig, SaslConfig, SettingSource, TlsConfig, TlsStoreConfig, TlsStoreType, TlsVersion } from './config/security.ts';

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
