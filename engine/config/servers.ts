// server.N lines (QuorumPeer.QuorumServer's syntax) and the dynamic config file that may hold
// them. parseServerLine is pure and exported for the quorum code; the rest turns lines of a
// file into the ensemble's member list, failing with the file, line and key.

import { readFileSync } from 'node:fs';
import { parseProperties, SettingsReader, type Setting } from './read.ts';
import { contextOf, parseJavaDecimal, PORT_MAX, type Parser } from './values.ts';
import { NOT_USED } from './define.ts';

export type ServerRole = 'participant' | 'observer';

export interface QuorumServerConfig {
  host: string;                 // without IPv6 brackets
  quorumPort: number;
  electionPort: number;
  role: ServerRole;
  clientPort: number | null;    // from `;[host:]port`
  clientAddress: string | null; // the host of `;host:port`, null when only a port is given
}

export const SERVER_LINE_FORM = 'expected host:quorumPort:electionPort[:participant|observer][;[clientHost:]clientPort]';

/** Why a server.N value does not parse (the text after `'value': ` in the config error). */
export class ServerLineError extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'ServerLineError';
  }
}

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

function serverPort(text: string, what: string): number {
  const n = parseJavaDecimal(text.trim());
  if (n === null || n < 1 || n > PORT_MAX) throw new ServerLineError(`${what} '${text}' is not a port number (1-${PORT_MAX})`);
  return n;
}

/**
 * `host:quorumPort:electionPort[:participant|observer][;[clientHost:]clientPort]`, as
 * QuorumPeer.QuorumServer reads it (one address per server: multiAddress is refused).
 * Throws ServerLineError.
 */
export function parseServerLine(value: string): QuorumServerConfig {
  const serverAndClient = value.split(';');
  if (serverAndClient.length > 2) throw new ServerLineError(SERVER_LINE_FORM);
  if (serverAndClient[0].includes('|')) {
    throw new ServerLineError('several addresses per server (multiAddress) are not supported by zooid yet');
  }
  const parts = splitHostAndPorts(serverAndClient[0].trim())?.map((p) => p.trim()) ?? null;
  if (parts === null || parts.length < 3 || parts.length > 4 || parts[0] === '') throw new ServerLineError(SERVER_LINE_FORM);
  const quorumPort = serverPort(parts[1], 'quorum port');
  const electionPort = serverPort(parts[2], 'election port');
  if (quorumPort === electionPort) throw new ServerLineError('the quorum port and the election port must be different');
  let role: ServerRole = 'participant';
  if (parts.length === 4) {
    const r = parts[3].toLowerCase();
    if (r !== 'participant' && r !== 'observer') throw new ServerLineError(`role '${parts[3]}' is not participant or observer`);
    role = r;
  }
  let clientPort: number | null = null;
  let clientAddress: string | null = null;
  if (serverAndClient.length === 2) {
    const clientParts = splitHostAndPorts(serverAndClient[1].trim())?.map((p) => p.trim()) ?? null;
    if (clientParts === null || clientParts.length > 2) throw new ServerLineError(SERVER_LINE_FORM);
    clientPort = serverPort(clientParts[clientParts.length - 1], 'client port');
    if (clientParts.length === 2) clientAddress = clientParts[0];
  }
  return { host: parts[0], quorumPort, electionPort, role, clientPort, clientAddress };
}

/** One server.N line: its id and its server. */
export interface ServerLine {
  id: number;
  server: QuorumServerConfig;
}

/** The parser of the `server.N` family: the id from the key, the server from the value. */
export const serverLine: Parser<ServerLine> = {
  kind: 'host:quorumPort:electionPort[:role][;[clientHost:]clientPort]',
  parse(s, c) {
    const idText = s.key.slice('server.'.length);
    const id = /^[0-9]+$/.test(idText) ? Number(idText) : NaN;
    if (!Number.isSafeInteger(id)) throw c.fail(s, `'${idText}' is not a server id (a non-negative integer)`);
    try {
      return { id, server: parseServerLine(s.value) };
    } catch (err) {
      if (err instanceof ServerLineError) throw c.fail(s, `'${s.value}': ${err.message}`);
      throw err;
    }
  },
};

/** Adds one line's server to the list; an id given twice fails on the second line. */
export function addServer(r: SettingsReader, s: Setting, line: ServerLine, servers: Map<number, QuorumServerConfig>): void {
  if (servers.has(line.id)) throw r.fail(s.key, s.line, `server id ${line.id} is given twice`);
  servers.set(line.id, line.server);
}

/** QuorumPeerConfig's dynamicConfigFile: server.N (and group/weight/version) lines only. Returns its version (0 without one). */
export function readDynamicConfig(r: SettingsReader, setting: Setting, file: string, cwd: string, servers: Map<number, QuorumServerConfig>): bigint {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw r.fail(setting.key, setting.line, `cannot read ${file}: ${(err as Error).message}`);
  }
  const dr = new SettingsReader(file, new Map(), r.warnings);
  const c = contextOf(dr, cwd);
  let version = 0n;
  for (const e of parseProperties(text, file)) {
    if (e.key.startsWith('server.')) {
      addServer(dr, e, serverLine.parse(e, c), servers);
    } else if (e.key.startsWith('group') || e.key.startsWith('weight')) {
      dr.warn(e.line, `${e.key} ${NOT_USED}`);
    } else if (e.key === 'version') {
      // QuorumMaj: Long.parseLong(value, 16)
      if (!/^[+-]?[0-9a-fA-F]{1,16}$/.test(e.value.trim())) throw dr.fail(e.key, e.line, `'${e.value}' is not a hexadecimal version`);
      version = BigInt.asIntN(64, BigInt(`0x${e.value.trim().replace(/^[+-]/, '')}`) * (e.value.trim().startsWith('-') ? -1n : 1n));
    } else {
      throw dr.fail(e.key, e.line, 'is not allowed in a dynamic config file (only server.N, group, weight)');
    }
  }
  return version;
}
