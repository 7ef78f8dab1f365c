// The shell's `reconfig` and `config -c`, as zkCli 3.8 does them (ReconfigCommand,
// GetConfigCommand, ConfigUtils.getClientConfigStr): commons-cli's parse of reconfig's
// options with its messages, the membership of a -file read as QuorumPeerConfig.
// parseDynamicConfig(...).toString() writes it, and the client connection string of a config.
import fs from 'node:fs';
import { CliError, UNRECOGNIZED_OPTION, MISSING_ARGUMENT } from './text.ts';
import { javaHashSetOrder } from '../engine/core/javaorder.ts';

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

/** java.util.Properties.load's view of a file: key=value or key:value lines, # and ! comments. */
function properties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const m = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (m === null) out.set(line, '');
    else out.set(m[1], m[2].trim());
  }
  return out;
}

/**
 * A membership file as the CLI sends it (QuorumVerifier.toString of parseDynamicConfig): each
 * server.N line in order of N as QuorumServer.toString writes it, then version=hex. Only
 * server.N and version keys (anything else: "Unrecognised parameter"), as the leader checks too.
 */
function membershipOfFile(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`${file} (${code === 'ENOENT' ? 'No such file or directory' : code === 'EACCES' ? 'Permission denied' : (err as Error).message})`);
  }
  const servers: { sid: bigint; line: string }[] = [];
  let version = 0n;
  for (const [key, value] of properties(text)) {
    if (key === 'version') version = BigInt(`0x${value}`);
    else if (key.startsWith('server.') && /^server\.\d+$/.test(key)) servers.push({ sid: BigInt(key.slice(7)), line: `${key}=${quorumServerText(value)}` });
    else if (!key.startsWith('group') && !key.startsWith('weight')) throw new Error(`Unrecognised parameter: ${key}`);
  }
  servers.sort((a, b) => (a.sid < b.sid ? -1 : a.sid > b.sid ? 1 : 0));
  return [...servers.map((s) => `${s.line}\n`), `version=${version.toString(16)}`].join('');
}

/** QuorumServer(sid, "host:q:e[:type][;[clienthost:]port]").toString(). */
function quorumServerText(value: string): string {
  const [addresses, client] = value.split(';', 2);
  const parts = addresses.split(':');
  if (parts.length < 3) throw new Error(`${value} does not have the form server_config or server_config;client_config where server_config is the pipe separated list of host:port:port or host:port:port:type and client_config is port or host:port`);
  const type = parts[3] === 'observer' ? 'observer' : 'participant';
  let clientText = '';
  if (client !== undefined && client.trim() !== '') {
    const c = client.trim();
    const colon = c.lastIndexOf(':');
    clientText = colon === -1 ? `;0.0.0.0:${c}` : `;${c.slice(0, colon)}:${c.slice(colon + 1)}`;
  }
  return `${parts[0]}:${parts[1]}:${parts[2]}:${type}${clientText}`;
}

/**
 * ConfigUtils.getClientConfigStr: "version host:port,host:port" from a config's text, in the
 * order Properties (a ConcurrentHashMap in Java 9+, 16 bins for a few keys) iterates its keys.
 */
export function clientConfigString(config: string): string {
  const props = properties(config);
  const keys = javaHashSetOrder([...props.keys()], 16);
  const hosts: string[] = [];
  for (const key of keys) {
    if (!key.startsWith('server.')) continue;
    const client = props.get(key)!.split(';', 2)[1];
    if (client === undefined || client.trim() === '') {
      hosts.push('');
      continue;
    }
    const c = client.trim();
    const colon = c.lastIndexOf(':');
    hosts.push(colon === -1 ? `0.0.0.0:${c}` : `${c.slice(0, colon)}:${c.slice(colon + 1)}`);
  }
  return `${props.get('version') ?? ''} ${hosts.join(',')}`;
}
