// zkCli's `reconfig` and `config -c` (ReconfigCommand, GetConfigCommand): the options parsed as
// commons-cli does, with ReconfigCommand's checks and messages; -file read as
// QuorumPeerConfig.parseDynamicConfig reads it; the client string as ConfigUtils.getClientConfigStr.

import fs from 'node:fs';
import { CliError } from './text.ts';
import { configText, javaPropertiesOrder, parseConfigText, serverLineOf } from '../engine/quorum/dynamic-config.ts';
import { parseProperties } from '../engine/config/read.ts';

export interface ReconfigArgs {
  stats: boolean;
  /** -v as hex; -1 without it. */
  version: bigint;
  joining: string | null;
  leaving: string | null;
  members: string | null;
}

const VALUED = new Set(['v', 'file', 'members', 'add', 'remove']);

/** ReconfigCommand.parse; throws CliError with its messages. */
export function parseReconfig(tokens: readonly string[], usage: string): ReconfigArgs {
  const values = new Map<string, string>();
  let stats = false;
  for (let i = 1; i < tokens.length; i++) {
    const name = tokens[i].replace(/^--?/, '');
    if (!tokens[i].startsWith('-')) continue; // commons-cli keeps stray arguments; ReconfigCommand ignores them
    if (name === 's') stats = true;
    else if (VALUED.has(name)) {
      if (i + 1 >= tokens.length) throw new CliError(`Missing argument for option: ${name}`);
      values.set(name, tokens[++i]);
    } else throw new CliError(`Unrecognized option: ${tokens[i]}`);
  }
  const has = (k: string): boolean => values.has(k);
  if (!(has('file') || has('members')) && !has('add') && !has('remove')) throw new CliError(usage);
  let version = -1n;
  if (has('v')) {
    const v = values.get('v')!;
    if (!/^[+-]?[0-9a-fA-F]{1,16}$/.test(v)) throw new CliError('-v must be followed by a long (configuration version)');
    version = BigInt.asIntN(64, BigInt(`0x${v.replace(/^[+-]/, '')}`) * (v.startsWith('-') ? -1n : 1n));
  }
  if ((has('file') || has('members')) && (has('add') || has('remove'))) {
    throw new CliError('Can\'t use -file or -members together with -add or -remove (mixing incremental and non-incremental modes is not allowed)');
  }
  if (has('file') && has('members')) throw new CliError('Can\'t use -file and -members together (conflicting non-incremental modes)');
  const lower = (k: string): string | null => (has(k) ? values.get(k)!.toLowerCase() : null);
  let members = lower('members');
  if (has('file')) members = membersOfFile(values.get('file')!);
  return { stats, version, joining: lower('add'), leaving: lower('remove'), members };
}

/** -file: the dynamic config file's members, as QuorumMaj.toString (the leader checks them again). */
function membersOfFile(file: string): string {
  try {
    return configText(parseConfigText(fs.readFileSync(file, 'utf8')));
  } catch (e) {
    throw new CliError(`Error processing ${file}${(e as Error).message}`);
  }
}

/** ConfigUtils.getClientConfigStr: `<version> host:port,host:port` (the servers' client addresses, Properties' order). */
export function clientConfigString(configData: string): string {
  const values = new Map<string, string>();
  for (const e of parseProperties(configData, 'config')) values.set(e.key.trim(), e.value.trim());
  let version = '';
  const addresses: string[] = [];
  for (const key of javaPropertiesOrder([...values.keys()])) {
    const value = values.get(key)!;
    if (key === 'version') version = value;
    if (!key.startsWith('server.')) continue;
    try {
      const s = serverLineOf(value);
      addresses.push(s.clientPort === null ? '' : `${s.clientAddress ?? '0.0.0.0'}:${s.clientPort}`);
    } catch {
      continue;
    }
  }
  return `${version} ${addresses.join(',')}`;
}
