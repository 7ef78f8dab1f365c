// zkCli's text: its error messages, tokenizer and options, Stat/ACL/event formats, usage
// lines and the quota record format (StatsTrack). Pure: no client, no I/O.
import { KeeperError, type Acl, type Stat } from './client.ts';
import { Err, Perm } from '../engine/protocol.ts';
import { javaDateString } from '../engine/ops/java.ts';

// ---------------------------------------------------------------------------------------
// Output and errors

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

/** A command failed: message to stderr, exit code to the process (CliException). */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** CliWrapperException's messages for KeeperExceptions. */
export function wrap(err: unknown): CliError {
  if (err instanceof KeeperError) {
    const p = err.path;
    switch (err.code) {
      case Err.NONODE: return new CliError(`Node does not exist: ${p}`);
      case Err.NOCHILDRENFOREPHEMERALS: return new CliError(`Ephemerals cannot have children: ${p}`);
      case Err.NODEEXISTS: return new CliError(`Node already exists: ${p}`);
      case Err.NOTEMPTY: return new CliError(`Node not empty: ${p}`);
      case Err.NOTREADONLY: return new CliError(`Not a read-only call: ${p}`);
      case Err.INVALIDACL: return new CliError(`Acl is not valid : ${p}`);
      case Err.NOAUTH: return new CliError(`Insufficient permission : ${p}`);
      case Err.BADARGUMENTS: return new CliError(`Arguments are not valid : ${p}`);
      case Err.BADVERSION: return new CliError(`version No is not valid : ${p}`);
      case Err.QUOTAEXCEEDED: return new CliError(`Quota has exceeded : ${p}`);
      case Err.RECONFIGINPROGRESS: return new CliError('Another reconfiguration is in progress -- concurrent reconfigs not supported (yet)');
      // sic: "commmitted", as CliWrapperException spells it
      case Err.NEWCONFIGNOQUORUM: return new CliError('No quorum of new config is connected and up-to-date with the leader of last commmitted config - try invoking reconfiguration after new servers are connected and synced');
      default: return new CliError(err.message);
    }
  }
  if (err instanceof CliError) return err;
  return new CliError((err as Error).message);
}

// ---------------------------------------------------------------------------------------
// Parsing: ZooKeeperMain's tokenizer and commons-cli's short options

/** MyCommandOptions.parseCommand: whitespace-separated, "double" or 'single' quoted tokens unquoted. */
export function tokenize(line: string): string[] {
  const out: string[] = [];
  const re = /\s*([^"'\s]\S*|"[^"]*"|'[^']*')\s*/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line)) !== null) {
    if (m[0] === '') break;
    let t = m[1];
    if ((t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'"))) t = t.slice(1, -1);
    out.push(t);
  }
  return out;
}

export interface Parsed {
  args: string[]; // args[0] is the command, as zkCli's
  flags: Set<string>;
  values: Map<string, string>;
}

/** Short options anywhere after the command: `flags` take no value, `valued` take the next token. */
/** What zkCli prints for commons-cli's parse errors: CliParseException(cause) carries the cause's toString(). */
export const UNRECOGNIZED_OPTION = 'org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: ';
export const MISSING_ARGUMENT = 'org.apache.commons.cli.MissingArgumentException: Missing argument for option: ';

export function parseOptions(tokens: readonly string[], flags: string, valued: string, usage: string): Parsed {
  const p: Parsed = { args: [tokens[0]], flags: new Set(), values: new Map() };
  for (let i = 1; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.length >= 2 && t.startsWith('-') && !/^-\d/.test(t)) {
      const name = t.slice(1);
      if (name.length === 1 && flags.includes(name)) {
        p.flags.add(name);
        continue;
      }
      if (name.length === 1 && valued.includes(name)) {
        if (i + 1 >= tokens.length) throw new CliError(`${MISSING_ARGUMENT}${name}`);
        p.values.set(name, tokens[++i]);
        continue;
      }
      if (name.length > 1 && valued.includes(name[0])) {
        p.values.set(name[0], name.slice(1));
        continue;
      }
      throw new CliError(`${UNRECOGNIZED_OPTION}${t}`);
    }
    p.args.push(t);
  }
  void usage;
  return p;
}

/** PathUtils.validatePath's first checks (the Java client's IllegalArgumentException texts). */
export function validatePath(p: string, sequential = false): void {
  if (p.length === 0) throw new CliError('Path length must be > 0');
  if (!p.startsWith('/')) throw new CliError('Path must start with / character');
  if (p.length === 1) return;
  if (p.endsWith('/') && !sequential) throw new CliError('Path must not end with / character');
  for (let i = 1; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c === 0) throw new CliError(`null character not allowed @${i}`);
    if (p[i] === '/' && p[i - 1] === '/') throw new CliError(`empty node name specified @${i}`);
    if (p[i] === '.' && p[i - 1] === '/' && (i + 1 === p.length || p[i + 1] === '/' || (p[i + 1] === '.' && (i + 2 === p.length || p[i + 2] === '/')))) {
      throw new CliError(`relative paths not allowed @${i}`);
    }
  }
}

export function parseIntArg(text: string): number {
  if (!/^[+-]?\d+$/.test(text)) throw new CliError(`For input string: "${text}"`);
  return Number(text);
}

// ---------------------------------------------------------------------------------------
// Printing as zkCli prints

export const PERM_LETTERS: readonly [number, string][] = [[Perm.CREATE, 'c'], [Perm.DELETE, 'd'], [Perm.READ, 'r'], [Perm.WRITE, 'w'], [Perm.ADMIN, 'a']];

/** ZKUtil.getPermString. */
export function permString(perms: number): string {
  let s = '';
  for (const [bit, letter] of PERM_LETTERS) if ((perms & bit) !== 0) s += letter;
  return s;
}

/** StatPrinter. */
export function formatStat(s: Stat): string {
  return [
    `cZxid = 0x${s.czxid.toString(16)}`,
    `ctime = ${javaDateString(s.ctime)}`,
    `mZxid = 0x${s.mzxid.toString(16)}`,
    `mtime = ${javaDateString(s.mtime)}`,
    `pZxid = 0x${s.pzxid.toString(16)}`,
    `cversion = ${s.cversion}`,
    `dataVersion = ${s.version}`,
    `aclVersion = ${s.aversion}`,
    `ephemeralOwner = 0x${BigInt.asUintN(64, s.ephemeralOwner).toString(16)}`,
    `dataLength = ${s.dataLength}`,
    `numChildren = ${s.numChildren}`,
  ].join('\n') + '\n';
}

/** AclParser.parse: "scheme:id:perms[,…]"; bad entries are reported on stderr and skipped. */
export function parseAcl(text: string, o: Output): Acl[] {
  const acls: Acl[] = [];
  for (const a of text.split(',')) {
    const first = a.indexOf(':');
    const last = a.lastIndexOf(':');
    if (first === -1 || last === -1 || first === last) {
      o.err(`${a} does not have the form scheme:id:perm\n`);
      continue;
    }
    let perms = 0;
    for (const ch of a.slice(last + 1)) {
      const bit = PERM_LETTERS.find(([, l]) => l === ch);
      if (bit === undefined) o.err(`Unknown perm type: ${ch}\n`);
      else perms |= bit[0];
    }
    acls.push({ perms, id: { scheme: a.slice(0, first), id: a.slice(first + 1, last) } });
  }
  return acls;
}

export const EVENT_TYPES: Readonly<Record<number, string>> = {
  [-1]: 'None', 1: 'NodeCreated', 2: 'NodeDeleted', 3: 'NodeDataChanged', 4: 'NodeChildrenChanged',
  5: 'DataWatchRemoved', 6: 'ChildWatchRemoved', 7: 'PersistentWatchRemoved',
};
export const STATES: Readonly<Record<number, string>> = { 0: 'Disconnected', 3: 'SyncConnected', 4: 'AuthFailed', 5: 'ConnectedReadOnly', 6: 'SaslAuthenticated', [-112]: 'Expired', 7: 'Closed' };

/** WatchedEvent.toString. */
export function formatEvent(type: number, state: number, p: string | null): string {
  return `WatchedEvent state:${STATES[state] ?? state} type:${EVENT_TYPES[type] ?? type} path:${p}`;
}

// ---------------------------------------------------------------------------------------
// Quotas (Quotas, StatsTrack: zkCli keeps them in /zookeeper/quota itself)


export class StatsTrack {
  readonly stats = new Map<string, number>();
  constructor(text?: string) {
    if (text === undefined) return;
    for (const m of text.matchAll(/(\w+)=(-?\d+)/g)) this.stats.set(m[1], Number(m[2]));
  }
  get(k: string): number {
    return this.stats.get(k) ?? -1;
  }
  set(k: string, v: number): void {
    this.stats.set(k, v);
  }
  /** StatsTrack.toString (3.8): count and bytes first, then the rest sorted behind "=;". */
  toString(): string {
    let s = `count=${this.get('count')},bytes=${this.get('bytes')}`;
    const keys = [...this.stats.keys()].filter((k) => k !== 'count' && k !== 'bytes').sort();
    if (keys.length > 0) {
      s += '=';
      for (const k of keys) s += `;${k}=${this.stats.get(k)}`;
    }
    return s;
  }
}

// ---------------------------------------------------------------------------------------
// The shell

export const USAGES: Readonly<Record<string, string>> = {
  addWatch: '[-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE',
  addauth: 'scheme auth',
  close: '',
  config: '[-c] [-w] [-s]',
  connect: 'host:port',
  create: '[-s] [-e] [-c] [-t ttl] path [data] [acl]',
  delete: '[-v version] path',
  deleteall: 'path [-b batch size]',
  delquota: '[-n|-b|-N|-B] path',
  get: '[-s] [-w] path',
  getAcl: '[-s] path',
  getAllChildrenNumber: 'path',
  getEphemerals: 'path',
  history: '',
  listquota: 'path',
  ls: '[-s] [-w] [-R] path',
  printwatches: 'on|off',
  quit: '',
  reconfig: '[-s] [-v version] [[-file path] | [-members serverID=host:port1:port2;port3[,...]*]] | [-add serverId=host:port1:port2;port3[,...]]* [-remove serverId[,...]*]',
  redo: 'cmdno',
  removewatches: 'path [-c|-d|-a] [-l]',
  set: '[-s] [-v version] path data',
  setAcl: '[-s] [-v version] [-R] path acl',
  setquota: '-n|-b|-N|-B val path',
  stat: '[-w] path',
  sync: 'path',
  version: '',
  whoami: '',
};

export function usageOf(cmd: string): string {
  return `${cmd} ${USAGES[cmd]}`;
}

/** Java's String.compareTo (UTF-16 code units), which zkCli's Collections.sort uses. */
export function javaCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
