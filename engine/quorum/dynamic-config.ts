// Dynamic reconfiguration's config texts and files, as Apache ZooKeeper 3.8 writes them:
//   - QuorumMaj.toString (the /zookeeper/config node, NEWLEADER's data, a reconfig txn, the
//     config an election notification carries): `server.N=host:quorumPort:electionPort:role
//     [;clientHost:clientPort]` lines in HashMap<Long> order, then `version=<hex>`;
//   - QuorumPeerConfig.writeDynamicConfig: `<zoo.cfg>.dynamic.<hex version>` holds the
//     `key=value` lines of that text sorted as strings, without the version (the `.next` file,
//     a proposed config not yet committed, keeps it);
//   - QuorumPeerConfig.editStaticConfig: zoo.cfg rewritten without its server.N lines (and,
//     when this server's line gives its client address, clientPort and clientPortAddress),
//     in java.util.Properties' order, then `dynamicConfigFile=<the dynamic file>`;
//   - backupOldConfig: zoo.cfg copied to zoo.cfg.bak before the first rewrite.
// The texts are pure functions; writeConfigFiles is the one place that touches files.

import { closeSync, copyFileSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { parseProperties } from '../config/read.ts';
import { parseServerLine, ServerLineError, type QuorumServerConfig } from '../config/servers.ts';
import { hashMapCapacityFor, javaStringHash } from '../core/javaorder.ts';

/** A QuorumMaj: the members (participants vote, observers do not) and the config's version. */
export interface QuorumConfig {
  members: ReadonlyMap<number, QuorumServerConfig>;
  version: bigint;
}

/** The voting members' ids (QuorumMaj.getVotingMembers). */
export function votersOf(c: QuorumConfig): number[] {
  const ids: number[] = [];
  for (const [id, s] of c.members) if (s.role === 'participant') ids.push(id);
  return ids.sort((a, b) => a - b);
}

/** QuorumMaj.containsQuorum: more than half of the voters are in `ids`. */
export function hasQuorum(c: QuorumConfig, ids: ReadonlySet<number>): boolean {
  const voters = votersOf(c);
  return voters.filter((id) => ids.has(id)).length > Math.floor(voters.length / 2);
}

/** QuorumServer.toString: `host:quorumPort:electionPort:role[;clientHost:clientPort]`. */
export function serverText(s: QuorumServerConfig): string {
  const client = s.clientPort === null ? '' : `;${bracketed(s.clientAddress ?? '0.0.0.0')}:${s.clientPort}`;
  return `${bracketed(s.host)}:${s.quorumPort}:${s.electionPort}:${s.role}${client}`;
}

function bracketed(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** QuorumMaj.toString. */
export function configText(c: QuorumConfig): string {
  let text = '';
  for (const id of javaLongMapOrder([...c.members.keys()])) text += `server.${id}=${serverText(c.members.get(id)!)}\n`;
  return `${text}version=${BigInt.asUintN(64, c.version).toString(16)}`;
}

/** The order a HashMap<Long, …> iterates these ids (bins by Long.hashCode, then insertion order). */
export function javaLongMapOrder(ids: readonly number[]): number[] {
  const capacity = hashMapCapacityFor(ids.length);
  const binOf = (id: number): number => {
    const h = Number(BigInt.asIntN(32, BigInt(id) ^ (BigInt(id) >> 32n)));
    return (h ^ (h >>> 16)) & (capacity - 1);
  };
  return [...ids].sort((a, b) => a - b).map((id, i) => ({ id, i, bin: binOf(id) }))
    .sort((a, b) => a.bin - b.bin || a.i - b.i).map((e) => e.id);
}

/** Why a config text does not parse (QuorumPeerConfig.parseDynamicConfig's ConfigException). */
export class ConfigTextError extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'ConfigTextError';
  }
}

/**
 * A QuorumMaj from `server.N=…` and `version=…` lines (commas or newlines between them, as a
 * reconfig's newMembers); an id given twice keeps its last line (Properties.load). Throws
 * ConfigTextError for a malformed line.
 */
export function parseConfigText(text: string): QuorumConfig {
  const members = new Map<number, QuorumServerConfig>();
  let version = 0n;
  for (const e of parseProperties(text.replace(/,/g, '\n'), 'config')) {
    if (e.key.startsWith('server.')) {
      const id = serverIdOf(e.key);
      members.delete(id);
      members.set(id, serverLineOf(e.value));
    } else if (e.key === 'version') {
      if (!/^[0-9a-fA-F]{1,16}$/.test(e.value.trim())) throw new ConfigTextError(`version '${e.value}' is not hexadecimal`);
      version = BigInt.asIntN(64, BigInt(`0x${e.value.trim()}`));
    } else if (!e.key.startsWith('group') && !e.key.startsWith('weight')) {
      throw new ConfigTextError(`unrecognised parameter: ${e.key}`);
    }
  }
  return { members, version };
}

/** `server.N`'s id (Long.parseLong after the dot). */
export function serverIdOf(key: string): number {
  const text = key.slice(key.lastIndexOf('.') + 1);
  if (!/^[0-9]{1,15}$/.test(text)) throw new ConfigTextError(`'${key}' does not name a server id`);
  return Number(text);
}

/** QuorumServer(sid, value); ServerLineError → ConfigTextError. */
export function serverLineOf(value: string): QuorumServerConfig {
  try {
    return parseServerLine(value);
  } catch (e) {
    if (e instanceof ServerLineError) throw new ConfigTextError(e.message);
    throw e;
  }
}

/** QuorumPeerConfig.writeDynamicConfig's contents. */
export function dynamicFileText(c: QuorumConfig, keepVersion: boolean): string {
  const lines = configText(c).split('\n').filter((l) => keepVersion || !l.startsWith('version'));
  return lines.map((l) => l.trim()).sort().join('\n');
}

/** QuorumPeerConfig.editStaticConfig's contents for a zoo.cfg text. */
export function staticConfigText(zooCfg: string, dynamicFile: string, eraseClientAddress: boolean): string {
  const values = new Map<string, string>();
  for (const e of parseProperties(zooCfg, 'zoo.cfg')) values.set(e.key, e.value);
  let out = '';
  for (const key of javaPropertiesOrder([...values.keys()])) {
    const k = key.trim();
    const dropped = ['server.', 'group', 'weight', 'dynamicConfigFile', 'peerType'].some((p) => k.startsWith(p)) ||
      (eraseClientAddress && k.startsWith('clientPort'));
    if (!dropped) out += `${k}=${values.get(key)!.trim()}\n`;
  }
  return `${out}dynamicConfigFile=${dynamicFile}\n`;
}

/**
 * The order java.util.Properties (a ConcurrentHashMap of 16 bins since Java 9) iterates keys
 * put in this order: bins in index order, each bin in insertion order, except that a resize
 * (at 3/4 full) moves each bin's nodes before its last run to the front, reversed (CHM.transfer).
 */
export function javaPropertiesOrder(keys: readonly string[]): string[] {
  let table: string[][] = Array.from({ length: 16 }, () => []);
  let sizeCtl = 12;
  const spread = (k: string): number => {
    const h = javaStringHash(k);
    return (h ^ (h >>> 16)) & 0x7fffffff;
  };
  let count = 0;
  for (const key of keys) {
    const bin = table[spread(key) & (table.length - 1)];
    if (bin.includes(key)) continue;
    bin.push(key);
    if (++count >= sizeCtl) {
      const n = table.length;
      const next: string[][] = Array.from({ length: n * 2 }, () => []);
      for (let i = 0; i < n; i++) {
        const nodes = table[i];
        if (nodes.length === 0) continue;
        const bit = (k: string): number => spread(k) & n;
        let runStart = nodes.length - 1;
        while (runStart > 0 && bit(nodes[runStart - 1]) === bit(nodes[nodes.length - 1])) runStart--;
        const lastRun = nodes.slice(runStart);
        const low: string[] = bit(lastRun[0]) === 0 ? [...lastRun] : [];
        const high: string[] = bit(lastRun[0]) === 0 ? [] : [...lastRun];
        for (const k of nodes.slice(0, runStart)) (bit(k) === 0 ? low : high).unshift(k);
        next[i] = low;
        next[i + n] = high;
      }
      table = next;
      sizeCtl = table.length - (table.length >>> 2);
    }
  }
  return table.flat();
}

/** AtomicFileWritingIdiom: a temp file, fsync, rename over the target. */
function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** `<zoo.cfg>.dynamic.<hex version>` (QuorumPeer.makeDynamicConfigFilename). */
export function dynamicFileName(configPath: string, version: bigint): string {
  return `${configPath}.dynamic.${BigInt.asUintN(64, version).toString(16)}`;
}

/** `<zoo.cfg>.dynamic.next` (QuorumPeer.getNextDynamicConfigFilename). */
export function nextDynamicFileName(configPath: string): string {
  return `${configPath}.dynamic.next`;
}

/**
 * QuorumPeer.setQuorumVerifier(qv, true): the config activated is written to its dynamic file,
 * zoo.cfg is pointed at it (backed up to zoo.cfg.bak first when it still held the server lines)
 * and the `.next` file of a proposal is removed.
 */
export function writeConfigFiles(configPath: string, c: QuorumConfig, eraseClientAddress: boolean): string {
  const dynamicFile = dynamicFileName(configPath, c.version);
  writeFileAtomic(dynamicFile, dynamicFileText(c, false));
  const zooCfg = readFileSync(configPath, 'utf8');
  if (!/^\s*dynamicConfigFile\s*[=:]/m.test(zooCfg) && !existsSync(`${configPath}.bak`)) copyFileSync(configPath, `${configPath}.bak`);
  writeFileAtomic(configPath, staticConfigText(zooCfg, dynamicFile, eraseClientAddress));
  const next = nextDynamicFileName(configPath);
  if (existsSync(next)) unlinkSync(next);
  return dynamicFile;
}

/** QuorumPeer.setLastSeenQuorumVerifier(qv, true): a proposed config goes to the `.next` file, version kept. */
export function writeNextConfigFile(configPath: string, c: QuorumConfig): void {
  writeFileAtomic(nextDynamicFileName(configPath), dynamicFileText(c, true));
}
