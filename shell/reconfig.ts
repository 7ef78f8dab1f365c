// The shell's `reconfig` and `config -c`, as zkCli 3.8 does them (ReconfigCommand,
// GetConfigCommand, ConfigUtils.getClientConfigStr): commons-cli's parse of reconfig's
// options with its messages, the membership of a -file as QuorumPeerConfig.parseDynamicConfig
// (...).toString() writes it, and the client connection string of a config.
import fs from 'node:fs';
import { CliError, UNRECOGNIZED_OPTION, MISSING_ARGUMENT } from './text.ts';
import { configText, javaPropertiesOrder, parseConfigText, serverLineOf } from '../engine/quorum/dynamic-config.ts';
import { parseProperties } from '../engine/config/read.ts';

export type ReconfigArgs = { joining: string | null; leaving: string | null; members: string | null; fromConfig: bigint; stats: boolean };

/** ReconfigCommand's options: those that take a value, and -s. */
const VALUED = new Set(['v', 'file', 'members', 'add', 'remove']);

/** ReconfigCommand.parse over the command's tokens (tokens[0] is "reconfig"). */
export function parseReconfig(tokens: readonly string[], usage: string): ReconfigArgs {
  const values = new Map<string, string>();
  let stats = false;
  for (let i = 1; i < tokens.length; i++) {
    const t = tokens[i];
    if (!t.startsWith('-') || t.length < 2) continue; // commons-cli keeps stray words as args; reconfig ignores them
    const name = t.slice(1);
    if (name === 's') {
      stats = true;
      continue;
    }
    if (!VALUED.has(name)) throw new CliError(`${UNRECOGNIZED_OPTION}${t}`);
    const next = tokens[i + 1];
    if (next === undefined || (next.startsWith('-') && next.length > 1 && (next.slice(1) === 's' || VALUED.has(next.slice(1))))) {
      throw new CliError(`${MISSING_ARGUMENT}${name}`);
    }
    if (!values.has(name)) values.set(name, next); // getOptionValue: the first
    i++;
  }
  const has = (k: string) => values.has(k);
  if (!(has('file') || has('members')) && !has('add') && !has('remove')) throw new CliError(usage);
  let fromConfig = -1n;
  if (has('v')) {
    const text = values.get('v')!;
    if (!/^[+-]?[0-9a-fA-F]+$/.test(text)) throw new CliError('-v must be followed by a long (configuration version)');
    fromConfig = BigInt.asIntN(64, BigInt(text.startsWith('-') ? `-0x${text.slice(1)}` : `0x${text.replace(/^\+/, '')}`));
  }
  if ((has('file') || has('members')) && (has('add') || has('remove'))) {
    throw new CliError("Can't use -file or -members together with -add or -remove (mixing incremental and non-incremental modes is not allowed)");
  }
  if (has('file') && has('members')) throw new CliError("Can't use -file and -members together (conflicting non-incremental modes)");
  const lower = (k: string) => (has(k) ? values.get(k)!.toLowerCase() : null);
  let members = lower('members');
  if (has('file')) {
    const file = values.get('file')!;
    try {
      members = membershipOfFile(file);
    } catch (err) {
      throw new CliError(`Error processing ${file}${(err as Error).message}`);
    }
  }
  return { joining: lower('add'), leaving: lower('remove'), members, fromConfig, stats };
}

/**
 * A membership file as the CLI sends it: QuorumPeerConfig.parseDynamicConfig(...).toString(),
 * i.e. QuorumMaj.toString of its server.N lines and version (engine/quorum/dynamic-config.ts).
 * A file that cannot be read says so as Java's FileNotFoundException does: "<path> (<reason>)".
 */
function membershipOfFile(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`${file} (${code === 'ENOENT' ? 'No such file or directory' : code === 'EACCES' ? 'Permission denied' : (err as Error).message})`);
  }
  return configText(parseConfigText(text));
}

/**
 * ConfigUtils.getClientConfigStr: "version host:port,host:port" from a config's text, in the
 * order java.util.Properties (a ConcurrentHashMap) iterates its keys; a server line without a
 * client address leaves an empty place, one that does not parse none.
 */
export function clientConfigString(config: string): string {
  const values = new Map<string, string>();
  for (const e of parseProperties(config, 'config')) values.set(e.key.trim(), e.value.trim());
  const hosts: string[] = [];
  for (const key of javaPropertiesOrder([...values.keys()])) {
    if (!key.startsWith('server.')) continue;
    try {
      const s = serverLineOf(values.get(key)!);
      hosts.push(s.clientPort === null ? '' : `${s.clientAddress ?? '0.0.0.0'}:${s.clientPort}`);
    } catch {
      continue; // ConfigUtils prints the stack trace and goes on
    }
  }
  return `${values.get('version') ?? ''} ${hosts.join(',')}`;
}
