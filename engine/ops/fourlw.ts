// Four-letter words: the exact text Apache ZooKeeper 3.8 answers on the client port to
// `ruok`, `srvr`, `stat`, `mntr`, `conf`, `envi`, `cons`, `dump`, `wchs`/`wchc`/`wchp`,
// `dirs`, `isro` (and the rarer `crst`, `srst`, `gtmk`, `stmk`, `hash`), for a standalone
// server, from a plain-data snapshot of server state.
//
// Pure functions: no sockets, no clocks, no process state (engine/ops/environment.ts reads
// the Node process for `envi`; engine/ops/java.ts has Java's number and date formats).
//
// How ZooKeeper serves them (NIOServerCnxn.readLength / checkFourLetterWord):
// - Only the FIRST 4 bytes of a connection are checked. Read as a big-endian int32 they
//   would be the first frame's length; if that int is one of the known codes below, the
//   connection is a four-letter-word connection. Otherwise it is an ordinary frame length.
// - Known but not whitelisted → "<word> is not executed because it is not in the
//   whitelist.\n". Known and whitelisted → the word's text. Either way the server then
//   writes the text and closes the connection (no length prefix, no framing).
// - An UNKNOWN code gets no text at all: it is taken as a frame length. Four printable
//   ASCII letters are ≥ 0x20202020 (≈ 539 MB) > jute.maxbuffer, so ZooKeeper logs "Len
//   error" and closes the connection with nothing written (captured: `xxxx`, `RUOK` → 0
//   bytes). `fourLetterWordOf` returns null for them and the io worker carries on with
//   normal framing, which rejects the length the same way.
// - `telnet close` (0xfff4fffd, what telnet sends on ^]quit) is a known code: when it is
//   whitelisted (`*`) nothing is written and the connection is closed; otherwise it gets
//   the not-in-whitelist sentence like any word.
// - `stmk` is followed by 8 more bytes (the new trace mask, a big-endian long); the io
//   worker reads them before answering with `formatStmk`.
//
// Formats were taken from the ZooKeeper 3.8.4 sources (server/command/*.java, ServerStats,
// ServerCnxn.dumpConnectionInfo, ExpiryQueue.dump, DataTree, WatchManager, Environment) and
// checked against a real 3.8.0 server; captures are in test/unit/fixtures/fourlw/.

import assert from 'node:assert/strict';
import { summaryAvg, summaryMin, summaryMax, javaDouble, integer, hex64, javaDateString, javaSocketAddress, pad2 } from './java.ts';
import type { ConnectionInfo, EnvironmentInfo, ServerStatsSnapshot, SessionExpiry, StatFields } from './model.ts';
import { formatMntr } from './mntr.ts';
import { NO_HOST_NEEDS, type HostNeeds } from './probes.ts';

// the stats model and mntr live in their own modules; importers of the words see them here too
export type * from './model.ts';
export * from './mntr.ts';

// ---------------------------------------------------------------------------------------
// Codes

/** What a word needs measured off the pipeline thread (engine/ops/probes.ts) before it is answered. */
export function hostNeedsOf(word: FourLetterWord): HostNeeds {
  switch (word) {
    case 'dirs': case 'conf': return DIRS;
    case 'mntr': return FDS;
    case 'lgif': return LOG_FILES;
    default: return NO_HOST_NEEDS;
  }
}
const DIRS: HostNeeds = Object.freeze({ ...NO_HOST_NEEDS, dirs: true });
const FDS: HostNeeds = Object.freeze({ ...NO_HOST_NEEDS, fds: true });
const LOG_FILES: HostNeeds = Object.freeze({ ...NO_HOST_NEEDS, logFiles: true });

/** Every code ZooKeeper 3.8 recognises as a four-letter word (FourLetterCommands.cmd2String). */
export const FOUR_LETTER_WORD_NAMES = [
  'conf', 'cons', 'crst', 'dirs', 'dump', 'envi', 'gtmk', 'ruok', 'stmk', 'srst',
  'srvr', 'stat', 'wchc', 'wchp', 'wchs', 'mntr', 'isro', 'hash', 'telnet close',
  // ClickHouse Keeper's words (not ZooKeeper's): schedule a snapshot, log information
  'csnp', 'lgif',
] as const;

export type FourLetterWord = (typeof FOUR_LETTER_WORD_NAMES)[number];

/** The code ZooKeeper sends to close a telnet session, recognised so it closes quietly. */
export const TELNET_CLOSE_CODE = 0xfff4fffd;

function codeOf(word: FourLetterWord): number {
  if (word === 'telnet close') return TELNET_CLOSE_CODE;
  assert(word.length === 4, `four-letter word ${word} must have 4 ASCII letters`);
  return ((word.charCodeAt(0) << 24) | (word.charCodeAt(1) << 16) | (word.charCodeAt(2) << 8) | word.charCodeAt(3)) >>> 0;
}

/** word → its code: the first 4 bytes of the connection as an unsigned big-endian int32. */
export const FOUR_LETTER_WORDS: Readonly<Record<FourLetterWord, number>> = Object.freeze(
  Object.fromEntries(FOUR_LETTER_WORD_NAMES.map((w) => [w, codeOf(w)])) as Record<FourLetterWord, number>,
);

const WORD_BY_CODE: ReadonlyMap<number, FourLetterWord> = new Map(
  FOUR_LETTER_WORD_NAMES.map((w) => [FOUR_LETTER_WORDS[w], w] as const),
);

/**
 * The four-letter word a connection opens with, or null when its first 4 bytes are an
 * ordinary frame length (including unknown "words": ZooKeeper answers those with nothing
 * and closes, because as a length they exceed jute.maxbuffer). `first4Bytes` may be read
 * signed (readInt32BE) or unsigned (readUInt32BE). Only meaningful for the FIRST int of a
 * connection, before the ConnectRequest.
 */
export function fourLetterWordOf(first4Bytes: number): FourLetterWord | null {
  assert(Number.isInteger(first4Bytes) && first4Bytes >= -0x8000_0000 && first4Bytes <= 0xffff_ffff,
    `first4Bytes must be an int32 or uint32, got ${first4Bytes}`);
  return WORD_BY_CODE.get(first4Bytes >>> 0) ?? null;
}

// ---------------------------------------------------------------------------------------
// Whitelist (4lw.commands.whitelist / zookeeper.4lw.commands.whitelist)

/**
 * The enabled words, as FourLetterCommands.isEnabled computes them: the comma-separated
 * list (entries trimmed), `*` meaning every known word; `srvr` is always enabled (zkServer.sh
 * status needs it) and `isro` too when readonlymode.enabled is true. An absent setting
 * enables only those. Unknown names in the list are ignored.
 */
export function parseFourLetterWordWhitelist(value: string | undefined, readOnlyModeEnabled: boolean): ReadonlySet<FourLetterWord> {
  const enabled = new Set<FourLetterWord>();
  if (value !== undefined) {
    for (const raw of value.split(',')) {
      const entry = raw.trim();
      if (entry === '*') {
        for (const w of FOUR_LETTER_WORD_NAMES) enabled.add(w);
        break;
      }
      if (isFourLetterWordName(entry)) enabled.add(entry);
    }
  }
  if (readOnlyModeEnabled) enabled.add('isro');
  enabled.add('srvr');
  return enabled;
}

function isFourLetterWordName(s: string): s is FourLetterWord {
  return (FOUR_LETTER_WORD_NAMES as readonly string[]).includes(s);
}

/** The reply to a known word that the whitelist does not enable. */
export function formatNotWhitelisted(word: FourLetterWord): string {
  return `${word} is not executed because it is not in the whitelist.\n`;
}

/** AbstractFourLetterCommand.ZK_NOT_SERVING: what most words print while the server is not running. */
export const ZK_NOT_SERVING = 'This ZooKeeper instance is not currently serving requests';

// ---------------------------------------------------------------------------------------
// Version

/** The ZooKeeper release whose wire protocol, data format and 4lw text zooid follows. */
export const ZOOKEEPER_COMPAT_VERSION = '3.8.4';

/**
 * The version text every word shows (srvr/stat "Zookeeper version: ", mntr zk_version,
 * envi zookeeper.version), shaped like ZooKeeper's Version.getFullVersion():
 *
 *   ZooKeeper: 3.8.4-9316c2a7a97e1666d8f4593f34dd6fc36ecc436c, built on 2024-02-12 22:16 UTC
 *   zooid:     3.8.4-zooid, built on 2026-11-21 22:17 UTC
 *
 * The compatible ZooKeeper version leads, so parsers that take the first X.Y.Z (kazoo's
 * server_version regex `([\d\.]*)`, Datadog's `\d+\.\d+\.\d+`), split on '-' or ',' and take
 * the first part, or compare against 3.4.x/3.5.x to decide whether `mntr` exists, all read
 * 3.8.4 and treat zooid like the ZooKeeper it speaks for. The revision slot, a git hash in
 * ZooKeeper, names zooid; it is one token without '.', '-', ',' or spaces (`zooid`, or
 * `zooid` + a hex commit), so splitting the text before the comma on '.' still yields
 * three parts and on '-' exactly two, as with ZooKeeper. zooid's own version is in envi's
 * zooid.version.
 */
export function formatZooKeeperVersion(compatVersion: string, revision: string, builtOn: Date): string {
  assert(/^\d+\.\d+\.\d+$/.test(compatVersion), `compat version must be X.Y.Z, got ${compatVersion}`);
  assert(/^[A-Za-z0-9_]+$/.test(revision), `revision must be one token of [A-Za-z0-9_], got ${revision}`);
  assert(!Number.isNaN(builtOn.getTime()), 'builtOn must be a valid date');
  const d = builtOn;
  const date = `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
  return `${compatVersion}-${revision}, built on ${date} UTC`;
}

// ---------------------------------------------------------------------------------------
// Words

/** ruok: "imok", no newline. ZooKeeper answers it even while not serving. */
export function formatRuok(): string {
  return 'imok';
}


/** srvr: StatCommand without the Clients block. */
export function formatSrvr(s: Pick<ServerStatsSnapshot, StatFields>): string {
  return statText(s, null);
}

/** stat: srvr plus "Clients:" with one brief line per connection and a blank line. */
export function formatStat(s: Pick<ServerStatsSnapshot, StatFields | 'connections'>): string {
  return statText(s, s.connections);
}

function statText(s: Pick<ServerStatsSnapshot, StatFields>, clients: readonly ConnectionInfo[] | null): string {
  let out = `Zookeeper version: ${s.version}\n`;
  if (s.mode === 'read-only') out += 'READ-ONLY mode; serving only read-only clients\n';
  if (clients !== null) {
    out += 'Clients:\n';
    for (const c of clients) out += connectionInfoText(c, true) + '\n';
    out += '\n';
  }
  // ServerStats.toString
  const lat = s.requestLatencyMs;
  out += `Latency min/avg/max: ${summaryMin(lat)}/${javaDouble(summaryAvg(lat))}/${summaryMax(lat)}\n`;
  out += `Received: ${s.packetsReceived}\n`;
  out += `Sent: ${s.packetsSent}\n`;
  out += `Connections: ${s.aliveConnectionCount}\n`;
  out += `Outstanding: ${s.outstandingRequestCount}\n`;
  out += `Zxid: 0x${hex64(s.lastProcessedZxid)}\n`;
  out += `Mode: ${s.mode}\n`;
  out += `Node count: ${s.nodeCount}\n`;
  if (s.mode === 'leader') {
    const p = s.proposalSizesBytes;
    assert(p !== undefined, 'a leader must report proposal sizes');
    out += `Proposal sizes last/min/max: ${p.last}/${p.min}/${p.max}\n`;
  }
  return out;
}

/** cons: one full line per connection, then a blank line. */
export function formatCons(s: Pick<ServerStatsSnapshot, 'connections'>): string {
  return joinPieces(consPieces(s));
}

export function* consPieces(s: Pick<ServerStatsSnapshot, 'connections'>): Generator<string, void, undefined> {
  for (const c of s.connections) yield connectionInfoText(c, false) + '\n';
  yield '\n';
}

/** ServerCnxn.dumpConnectionInfo. */
function connectionInfoText(c: ConnectionInfo, brief: boolean): string {
  assert(Number.isInteger(c.interestOps) && c.interestOps >= 0, 'interestOps must be a non-negative int');
  let out = ` ${javaSocketAddress(c.remoteAddress, c.remotePort)}[${c.interestOps.toString(16)}]`
    + `(queued=${c.outstandingRequestCount},recved=${c.packetsReceived},sent=${c.packetsSent}`;
  if (!brief && c.sessionId !== 0n) {
    out += `,sid=0x${hex64(c.sessionId)},lop=${c.lastOperation},est=${c.establishedAtMs},to=${c.sessionTimeoutMs}`;
    if (c.lastCxid >= 0) out += `,lcxid=0x${hex64(c.lastCxid)}`;
    out += `,lzxid=0x${hex64(c.lastZxid)},lresp=${c.lastResponseAtMs},llat=${c.lastLatencyMs}`;
    const lat = c.latencyMs;
    const avgMs = lat.count === 0 ? 0 : Math.trunc(lat.sum / lat.count); // Java long division
    out += `,minlat=${summaryMin(lat)},avglat=${avgMs},maxlat=${summaryMax(lat)}`;
  }
  return out + ')';
}

/** conf: the body is ZooKeeperServer.dumpConf's, produced by engine/config.ts (formatConfigForConf). */
export function formatConf(confText: string): string {
  assert(confText === '' || confText.endsWith('\n'), 'conf text must end with a newline');
  return confText;
}

/** envi: "Environment:" then key=value lines in Environment.list() order, then zooid extras. */
export function formatEnvi(e: EnvironmentInfo): string {
  const mb = 1024 * 1024;
  const entries: (readonly [string, string])[] = [
    ['zookeeper.version', e.zookeeperVersion],
    ['host.name', e.hostName],
    ['java.version', e.javaVersion],
    ['java.vendor', e.javaVendor],
    ['java.home', e.javaHome],
    ['java.class.path', e.javaClassPath],
    ['java.library.path', e.javaLibraryPath],
    ['java.io.tmpdir', e.javaIoTmpdir],
    ['java.compiler', e.javaCompiler],
    ['os.name', e.osName],
    ['os.arch', e.osArch],
    ['os.version', e.osVersion],
    ['user.name', e.userName],
    ['user.home', e.userHome],
    ['user.dir', e.userDir],
    ['os.memory.free', `${Math.floor(e.memoryFreeBytes / mb)}MB`],
    ['os.memory.max', `${Math.floor(e.memoryMaxBytes / mb)}MB`],
    ['os.memory.total', `${Math.floor(e.memoryTotalBytes / mb)}MB`],
    ...e.extras,
  ];
  let out = 'Environment:\n';
  for (const [k, v] of entries) {
    assert(!k.includes('=') && !k.includes('\n') && !v.includes('\n'), `envi entry ${k} must be one line with no '=' in the key`);
    out += `${k}=${v}\n`;
  }
  return out;
}

/**
 * dump: session expiry buckets, ephemerals by session, connection expiry buckets
 * (ExpiryQueue.dump: buckets ascending by time, "N expire at <Java Date, UTC>:" and one
 * tab-indented element per line). Bucket times are printed in UTC.
 */
export function formatDump(s: Pick<ServerStatsSnapshot, 'sessions' | 'ephemerals' | 'connections' | 'localSessionTracker'>): string {
  return joinPieces(dumpPieces(s));
}

/**
 * dump's text as pieces (a line or a few each), made as they are asked for: the
 * pipeline worker hands a long answer out in slices across loop turns (engine/limits.ts
 * FOURLW_SLICE_CHARS) instead of building megabytes of text at once.
 */
export function* dumpPieces(s: Pick<ServerStatsSnapshot, 'sessions' | 'ephemerals' | 'connections' | 'localSessionTracker'>): Generator<string, void, undefined> {
  yield 'SessionTracker dump:\n';
  const entry = (x: SessionExpiry) => [x.expireAtMs, `0x${hex64(x.sessionId)}`] as const;
  if (s.localSessionTracker === true) {
    // LeaderSessionTracker.dumpSessions: the local tracker's sets, then the global one's
    yield 'Local Session ';
    yield* expiryQueuePieces(s.sessions.filter((x) => x.local === true).map(entry));
    yield 'Global Session ';
    yield* expiryQueuePieces(s.sessions.filter((x) => x.local !== true).map(entry));
  } else {
    yield 'Session ';
    yield* expiryQueuePieces(s.sessions.map(entry));
  }
  yield 'ephemeral nodes dump:\n';
  yield `Sessions with Ephemerals (${s.ephemerals.length}):\n`;
  for (const e of s.ephemerals) {
    yield `0x${hex64(e.sessionId)}:\n`;
    for (const p of e.paths) yield `\t${p}\n`;
  }
  yield 'Connections dump:\n';
  yield 'Connections ';
  yield* expiryQueuePieces(s.connections.map((c) =>
    [c.expireAtMs, `ip: ${javaSocketAddress(c.remoteAddress, c.remotePort)} sessionId: 0x${hex64(c.sessionId)}`] as const));
}

function* expiryQueuePieces(elems: readonly (readonly [expireAtMs: number, text: string])[]): Generator<string, void, undefined> {
  const buckets = new Map<number, string[]>();
  for (const [at, text] of elems) {
    assert(Number.isFinite(at), 'expiry time must be finite');
    let b = buckets.get(at);
    if (b === undefined) buckets.set(at, (b = []));
    b.push(text);
  }
  yield `Sets (${buckets.size})/(${elems.length}):\n`;
  for (const at of [...buckets.keys()].sort((a, b) => a - b)) {
    const b = buckets.get(at)!;
    yield `${b.length} expire at ${javaDateString(at)}:\n`;
    for (const text of b) yield `\t${text}\n`;
  }
}

/** The pieces of a text as one string (the words' string forms, tests). */
export function joinPieces(pieces: Iterable<string>): string {
  let out = '';
  for (const piece of pieces) out += piece;
  return out;
}

/** wchs: "<connections> connections watching <paths> paths\nTotal watches:<pairs>\n" (data watches only). */
export function formatWchs(s: Pick<ServerStatsSnapshot, 'dataWatches'>): string {
  const sessions = new Set<bigint>();
  const paths = new Set<string>();
  for (const w of s.dataWatches) {
    sessions.add(w.sessionId);
    paths.add(w.path);
  }
  return `${sessions.size} connections watching ${paths.size} paths\nTotal watches:${s.dataWatches.length}\n`;
}

/** wchc: per session "0x<sid>" then its watched paths tab-indented; then a blank line. */
export function formatWchc(s: Pick<ServerStatsSnapshot, 'dataWatches'>): string {
  return joinPieces(wchcPieces(s));
}

export function* wchcPieces(s: Pick<ServerStatsSnapshot, 'dataWatches'>): Generator<string, void, undefined> {
  for (const [sid, paths] of groupBy(s.dataWatches, (w) => w.sessionId, (w) => w.path)) {
    yield `0x${hex64(sid)}\n`;
    for (const p of paths) yield `\t${p}\n`;
  }
  yield '\n';
}

/** wchp: per path, then "\t0x<sid>" per watching session; then a blank line. */
export function formatWchp(s: Pick<ServerStatsSnapshot, 'dataWatches'>): string {
  return joinPieces(wchpPieces(s));
}

export function* wchpPieces(s: Pick<ServerStatsSnapshot, 'dataWatches'>): Generator<string, void, undefined> {
  for (const [path, sids] of groupBy(s.dataWatches, (w) => w.path, (w) => w.sessionId)) {
    yield `${path}\n`;
    for (const sid of sids) yield `\t0x${hex64(sid)}\n`;
  }
  yield '\n';
}

function groupBy<T, K, V>(items: readonly T[], key: (t: T) => K, value: (t: T) => V): Map<K, V[]> {
  const groups = new Map<K, V[]>();
  for (const t of items) {
    const k = key(t);
    let g = groups.get(k);
    if (g === undefined) groups.set(k, (g = []));
    g.push(value(t));
  }
  return groups;
}

/** dirs: snapshot dir and txn-log dir sizes in bytes (3.8.4 semantics; 3.8.0 had them swapped). */
export function formatDirs(s: Pick<ServerStatsSnapshot, 'dataDirSizeBytes' | 'logDirSizeBytes'>): string {
  return `datadir_size: ${s.dataDirSizeBytes}\nlogdir_size: ${s.logDirSizeBytes}\n`;
}

/** isro: "rw" or "ro", no newline ("null" when not serving — see formatFourLetterWord). */
export function formatIsro(s: Pick<ServerStatsSnapshot, 'mode'>): string {
  return s.mode === 'read-only' ? 'ro' : 'rw';
}

/** crst: the caller resets every connection's stats (packets, latencies, last op) first. */
export function formatCrst(): string {
  return 'Connection stats reset.\n';
}

/** srst: the caller resets the server's packet counters and request latency first. */
export function formatSrst(): string {
  return 'Server stats reset.\n';
}

/** ZooTrace's default text trace mask (CLIENT_REQUEST | SERVER_PACKET | SESSION | WARNING = 306). */
export const DEFAULT_TRACE_MASK = 306n;

/** gtmk: the trace mask in decimal, no newline. */
export function formatGtmk(traceMask: bigint): string {
  return traceMask.toString();
}

/** stmk: echoes the mask just set (read as the 8 bytes after the code), no newline. */
export function formatStmk(traceMask: bigint): string {
  return BigInt.asIntN(64, traceMask).toString();
}

export interface ZxidDigest {
  zxid: number;
  digest: bigint;
}

/** hash: "<hex zxid>: <digest>" per digest-log entry; empty when zooid keeps no digests. */
export function formatHash(digests: readonly ZxidDigest[]): string {
  let out = '';
  for (const d of digests) out += `${hex64(d.zxid)}: ${d.digest}\n`;
  return out;
}

// ---------------------------------------------------------------------------------------
// Dispatch

export interface FourLetterContext {
  whitelist: ReadonlySet<FourLetterWord>;
  /** null while the server is not serving (loading the database, shutting down). */
  server: ServerStatsSnapshot | null;
  /** formatConfigForConf(config) from engine/config.ts. */
  confText: string;
  environment: EnvironmentInfo;
  /** gtmk's answer; for stmk, the mask the io worker read after the code. */
  traceMask: bigint;
  /** hash: the digest log; zooid keeps none today. */
  digests: readonly ZxidDigest[];
  /** csnp: the log index (zxid) of the snapshot the shell scheduled, 0 when it could not. */
  snapshotScheduledIndex?: number;
  /** lgif: the log positions the shell read. */
  keeperLog?: KeeperLogInfo;
}

/**
 * ClickHouse Keeper's lgif fields (KeeperLogInfo), mapped from ZooKeeper's log: a log
 * index is a zxid (as a decimal integer, the name of log.<hex> and snapshot.<hex> files),
 * a term is the zxid's epoch (its high 32 bits). Standalone, committed means durable.
 */
export interface KeeperLogInfo {
  /** zxid of the first txn of the oldest log file kept (its name), or the last snapshot's + 1 when none. */
  firstLogIndex: number;
  /** zxid handed to the log last (the tree's last zxid). */
  lastLogIndex: number;
  /** zxid durable (fdatasync'ed): committed with a quorum of one. */
  lastCommittedLogIndex: number;
  /** zxid of the newest snapshot on disk. */
  lastSnapshotIndex: number;
}

/** zxid → Raft-style term: its epoch. */
function termOf(zxid: number): number {
  return Math.floor(zxid / 0x1_0000_0000);
}

/**
 * ClickHouse Keeper's LogInfoCommand: `key\tvalue` lines. The leader's committed index
 * and the target committed index are this server's own (standalone, it is the leader):
 * committed = durable; the target is everything handed to the log.
 */
export function formatLgif(l: KeeperLogInfo): string {
  assert(l.firstLogIndex >= 0 && l.lastCommittedLogIndex <= l.lastLogIndex, `inconsistent log info ${JSON.stringify(l)}`);
  const line = (k: string, v: number): string => `${k}\t${v}\n`;
  return line('first_log_idx', l.firstLogIndex) + line('first_log_term', termOf(l.firstLogIndex))
    + line('last_log_idx', l.lastLogIndex) + line('last_log_term', termOf(l.lastLogIndex))
    + line('last_committed_log_idx', l.lastCommittedLogIndex) + line('leader_committed_log_idx', l.lastCommittedLogIndex)
    + line('target_committed_log_idx', l.lastLogIndex) + line('last_snapshot_idx', l.lastSnapshotIndex);
}

/** ClickHouse Keeper's CreateSnapshotCommand: the scheduled snapshot's log index, or its failure text. */
export function formatCsnp(scheduledIndex: number): string {
  return scheduledIndex > 0 ? String(scheduledIndex) : 'Failed to schedule snapshot creation task.';
}

/**
 * The text to write for a four-letter word before closing the connection, or null to
 * close without writing (an enabled `telnet close`). Side effects are the caller's:
 * reset stats before answering crst/srst, set the trace mask before answering stmk.
 */
export function formatFourLetterWord(word: FourLetterWord, ctx: FourLetterContext): string | null {
  const pieces = fourLetterWordPieces(word, ctx);
  return pieces === null ? null : joinPieces(pieces);
}

/**
 * formatFourLetterWord as pieces made on demand: the words whose text grows with the
 * server's state (cons, dump, wchc, wchp: one line per connection, ephemeral or watch)
 * are generators over the snapshot; the others are one piece.
 */
export function fourLetterWordPieces(word: FourLetterWord, ctx: FourLetterContext): Iterable<string> | null {
  const s = ctx.server;
  if (ctx.whitelist.has(word) && s !== null) {
    if (word === 'cons') return consPieces(s);
    if (word === 'dump') return dumpPieces(s);
    if (word === 'wchc') return wchcPieces(s);
    if (word === 'wchp') return wchpPieces(s);
  }
  const text = formatSmallWord(word, ctx);
  return text === null ? null : [text];
}

function formatSmallWord(word: FourLetterWord, ctx: FourLetterContext): string | null {
  if (!ctx.whitelist.has(word)) return formatNotWhitelisted(word);
  const s = ctx.server;
  const notServing = ZK_NOT_SERVING + '\n';
  switch (word) {
    // These answer whether or not the server is serving.
    case 'ruok': return formatRuok();
    case 'envi': return formatEnvi(ctx.environment);
    case 'gtmk': return formatGtmk(ctx.traceMask);
    case 'stmk': return formatStmk(ctx.traceMask);
    case 'telnet close': return null;
    case 'isro': return s === null ? 'null' : formatIsro(s);
    case 'hash': return s === null ? ZK_NOT_SERVING : formatHash(ctx.digests); // DigestCommand: print, not println
    // The rest need a running server.
    case 'srvr': return s === null ? notServing : formatSrvr(s);
    case 'stat': return s === null ? notServing : formatStat(s);
    case 'mntr': return s === null ? notServing : formatMntr(s);
    case 'conf': return s === null ? notServing : formatConf(ctx.confText);
    case 'cons': return s === null ? notServing : formatCons(s);
    case 'dump': return s === null ? notServing : formatDump(s);
    case 'wchs': return s === null ? notServing : formatWchs(s);
    case 'wchc': return s === null ? notServing : formatWchc(s);
    case 'wchp': return s === null ? notServing : formatWchp(s);
    case 'dirs': return s === null ? notServing : formatDirs(s);
    case 'crst': return s === null ? notServing : formatCrst();
    case 'srst': return s === null ? notServing : formatSrst();
    case 'csnp': return s === null ? notServing : formatCsnp(ctx.snapshotScheduledIndex ?? 0);
    case 'lgif': return s === null || ctx.keeperLog === undefined ? notServing : formatLgif(ctx.keeperLog);
  }
}
