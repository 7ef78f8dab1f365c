// Nemeses, chosen and timed by the run's seeded randomness, one at a time:
// - kill9: SIGKILL the server, stay down a moment, restart it on the same dataDir and port;
// - pause: SIGSTOP, hold (sometimes longer than the session timeout), SIGCONT;
// - proxy-cut: drop every client connection at the fault proxy and refuse new ones, then restore;
// - proxy-delay: hold every frame in both directions for a while;
// - torn-tail: kill -9, then write the start of a next log entry that never finished (a
//   checksum, a length, fewer bytes than it says) after the last complete entry of the
//   newest txn log, as a crash in the middle of a write leaves it, then restart. Only
//   bytes past the last complete entry change, so nothing that was written (let alone
//   fsynced) is lost: the server must drop the torn entry and serve everything acknowledged;
// - disk-full (opt-in: the run puts the dataDir on a small tmpfs of its own, which needs
//   the right to mount): fill the filesystem, hold, free it; a server that stopped on the
//   full disk (Apache ZooKeeper 3.8 does) is restarted on the same dataDir;
// - clock-jump (opt-in: needs Debian's libfaketime, preloaded into the server process): the
//   server's wall clock jumps by minutes to a day, forwards or backwards, holds, and jumps
//   back, as a bad NTP step or an operator's `date -s` does. Only the wall clock moves (the
//   monotonic clock does not), so timeouts must not notice: no session may expire and
//   nothing acknowledged may be lost.
// The gaps and holds are the faults' durations (what the nemesis does), not waits for a
// condition; readiness after a restart is waited for as a condition (servers.ts).

import { type ServerHandle } from '../support/servers.ts';
import { type FaultProxy } from './proxy.ts';

import * as fs from 'node:fs';
import * as path from 'node:path';

/** The default set (what the recorded campaigns ran). */
export const NEMESIS_KINDS = ['kill9', 'pause', 'proxy-cut', 'proxy-delay', 'torn-tail'] as const;
/**
 * The nemeses of ensemble targets (ensemble-nemesis.ts): kill -9 / SIGSTOP of a random member
 * or of the leader, partitions through the peer fault proxy, and the client proxies' cuts and delays.
 */
export const ENSEMBLE_NEMESIS_KINDS = ['kill9', 'kill9-leader', 'pause', 'pause-leader', 'isolate-leader', 'partition', 'bridge', 'proxy-cut', 'proxy-delay'] as const;
/** Every nemesis, including the opt-in ones. */
export const ALL_NEMESIS_KINDS = [...NEMESIS_KINDS, 'disk-full', 'clock-jump', 'kill9-leader', 'pause-leader', 'isolate-leader', 'partition', 'bridge'] as const;
export type NemesisKind = (typeof ALL_NEMESIS_KINDS)[number];

export interface NemesisEvent {
  kind: NemesisKind;
  atMs: number;
  holdMs: number;
  /** kill9: how long the restart took until the server was ready. */
  restartMs?: number;
  delayMs?: number;
  /** torn-tail: the log file, the offset of the torn entry, the length it claims and the bytes written. */
  torn?: { file: string; offset: number; claimedBytes: number; writtenBytes: number } | { skipped: string };
  /** disk-full: bytes the filler took, and whether the server had stopped and was restarted. */
  filledBytes?: number;
  restarted?: boolean;
  /** disk-full: the server was found stopped only after the hold (a JVM still shutting down), this long after the fault began, and restarted then. */
  restartedLateMs?: number;
  /** clock-jump: the wall clock's offset from the true time during the hold, seconds. */
  offsetS?: number;
  /** Ensembles: the member the fault hit (kill, pause, client proxy), and the peer links a partition cut. */
  sid?: number;
  links?: string[];
  /** Ensembles: was the member hit the leader when it was hit? */
  wasLeader?: boolean;
  /** The planted bug lost-tail: the complete entries it erased after the kill. */
  lost?: { file: string; offset: number; entryCount: number } | { skipped: string };
}

/** What the nemesis acts on: the current server process (restarts replace it) and the proxy. */
export interface NemesisTarget {
  server(): ServerHandle;
  restart(): Promise<void>;
  proxy: FaultProxy;
  sessionTimeoutMs: number;
  /** The directory on the dataDir's own small filesystem, for disk-full. */
  diskDir?: string;
  /** clock-jump: the libfaketime offset file the server process reads (faketimeEnv). */
  clockFile?: string;
  /** The planted bug lost-tail: called on the dataDir after each kill -9, before the restart. */
  afterKill?: (dataDir: string) => NemesisEvent['lost'];
}

/** Is the current server process still there? (Node reaps its children: an exited pid is gone.) */
export function isRunning(server: ServerHandle): boolean {
  try {
    process.kill(server.pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function parseNemeses(text: string): NemesisKind[] {
  if (text === 'none' || text === '') return [];
  const kinds = text.split(',').map((s) => s.trim());
  for (const k of kinds) if (!(ALL_NEMESIS_KINDS as readonly string[]).includes(k)) throw new Error(`unknown nemesis ${JSON.stringify(k)}; known: ${ALL_NEMESIS_KINDS.join(', ')}, none`);
  return kinds as NemesisKind[];
}

/** Acts until `untilMs` (on `nowMs`'s clock), appending what it did to `events` (kept if a step throws, e.g. a restart that fails). Leaves everything healed. */
export async function runNemesis(
  target: NemesisTarget,
  kinds: readonly NemesisKind[],
  random: () => number,
  nowMs: () => number,
  untilMs: number,
  events: NemesisEvent[] = [],
): Promise<NemesisEvent[]> {
  if (kinds.length === 0) return events;
  for (;;) {
    await sleep(200 + random() * 800);
    await restartIfStoppedByDiskFull(target, events, nowMs);
    if (nowMs() >= untilMs) break;
    const kind = kinds[Math.floor(random() * kinds.length)];
    const atMs = nowMs();
    if (kind === 'kill9' || kind === 'torn-tail') {
      const holdMs = Math.floor(random() * 500);
      await target.server().kill9();
      const torn = kind === 'torn-tail' ? tearLogTail(target.server().dataDir, random) : undefined;
      const lost = target.afterKill?.(target.server().dataDir);
      await sleep(holdMs);
      const event: NemesisEvent = { kind, atMs, holdMs, ...(torn !== undefined ? { torn } : {}), ...(lost !== undefined ? { lost } : {}) };
      events.push(event);
      const restartAtMs = nowMs();
      await target.restart();
      event.restartMs = Math.round(nowMs() - restartAtMs);
    } else if (kind === 'pause') {
      // up to 1.75 × the session timeout: about half the pauses outlive the sessions
      const holdMs = Math.floor(300 + random() * target.sessionTimeoutMs * 1.6);
      const pid = target.server().pid;
      process.kill(pid, 'SIGSTOP');
      try {
        await sleep(holdMs);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      events.push({ kind, atMs, holdMs });
    } else if (kind === 'disk-full') {
      if (target.diskDir === undefined) throw new Error('disk-full needs the dataDir on its own filesystem (diskDir)');
      const holdMs = Math.floor(300 + random() * 1700);
      const filler = path.join(target.diskDir, 'filler');
      const filledBytes = fillDisk(filler);
      await sleep(holdMs);
      fs.rmSync(filler, { force: true });
      const restarted = !isRunning(target.server());
      events.push({ kind, atMs, holdMs, filledBytes, restarted });
      if (restarted) await target.restart();
    } else if (kind === 'clock-jump') {
      if (target.clockFile === undefined) throw new Error('clock-jump needs the server started with libfaketime (clockFile)');
      const holdMs = Math.floor(300 + random() * 1700);
      const magnitudeS = CLOCK_JUMPS_S[Math.floor(random() * CLOCK_JUMPS_S.length)];
      const offsetS = random() < 0.5 ? -magnitudeS : magnitudeS;
      setClockOffset(target.clockFile, offsetS);
      try {
        await sleep(holdMs + FAKETIME_CACHE_S * 1000); // the server rereads the file at most once per cache period
      } finally {
        setClockOffset(target.clockFile, 0);
      }
      events.push({ kind, atMs, holdMs, offsetS });
    } else if (kind === 'proxy-cut') {
      const holdMs = Math.floor(100 + random() * 1500);
      await target.proxy.cut();
      await sleep(holdMs);
      await target.proxy.restore();
      events.push({ kind, atMs, holdMs });
    } else if (kind === 'proxy-delay') {
      const holdMs = Math.floor(300 + random() * 1500);
      const delayMs = Math.floor(20 + random() * 600);
      target.proxy.setDelayMs(delayMs);
      await sleep(holdMs);
      target.proxy.setDelayMs(0);
      events.push({ kind, atMs, holdMs, delayMs });
    } else {
      throw new Error(`the nemesis ${kind} needs an ensemble target`);
    }
  }
  return events;
}

/**
 * A server that stops on a full disk (Apache ZooKeeper 3.8) may finish exiting only after the
 * hold: its shutdown takes seconds on a loaded machine. Found gone later, it is restarted then
 * and its disk-full event says so (restarted, restartedLateMs), instead of the run ending in an
 * error. Once per disk-full: a server that stops again, or without a full disk, still does.
 */
async function restartIfStoppedByDiskFull(target: NemesisTarget, events: NemesisEvent[], nowMs: () => number): Promise<void> {
  if (isRunning(target.server())) return;
  const last = events.findLast((e) => e.kind === 'disk-full');
  if (last === undefined || last.restarted === true) return;
  last.restarted = true;
  last.restartedLateMs = Math.round(nowMs() - last.atMs);
  await target.restart();
}

/** ZooKeeper's txn log: "ZKLG", version, dbid, then [crc u64][length i32][txn][0x42] entries, zeros after. */
const LOG_HEADER_BYTES = 16;
const ENTRY_END_BYTE = 0x42;

/** The newest txn log of dataDir and the offsets of its complete entries (and where they end), or why not. */
function newestLogEntries(dataDir: string): { name: string; file: string; entryOffsets: number[]; end: number } | { skipped: string } {
  const dir = path.join(dataDir, 'version-2');
  const logs = fs.readdirSync(dir).filter((f) => /^log\.[0-9a-f]+$/.test(f));
  if (logs.length === 0) return { skipped: 'no txn log' };
  const newest = logs.sort((a, b) => Number(BigInt('0x' + a.slice(4)) - BigInt('0x' + b.slice(4))))[logs.length - 1];
  const file = path.join(dir, newest);
  const bytes = fs.readFileSync(file);
  if (bytes.length < LOG_HEADER_BYTES || bytes.toString('latin1', 0, 4) !== 'ZKLG') return { skipped: `${newest} has no header` };
  const entryOffsets: number[] = [];
  let offset = LOG_HEADER_BYTES;
  for (;;) {
    if (offset + 12 > bytes.length) break;
    const length = bytes.readInt32BE(offset + 8);
    if (length <= 0) break;
    const endAt = offset + 12 + length;
    if (endAt >= bytes.length || bytes[endAt] !== ENTRY_END_BYTE) return { skipped: `${newest} already ends in a partial entry at ${offset}` };
    entryOffsets.push(offset);
    offset = endAt + 1;
  }
  return { name: newest, file, entryOffsets, end: offset };
}

/**
 * The planted bug lost-tail: zeroes the last `entryCountMax` complete entries of the newest
 * txn log after a kill -9, as a disk that acknowledged fsyncs it never did would lose
 * them in a power cut (or a server that replies before its log write). Those txns were
 * written, so most were acknowledged: the checker must report them lost.
 */
export function eraseLogTail(dataDir: string, entryCountMax: number): NonNullable<NemesisEvent['lost']> {
  const log = newestLogEntries(dataDir);
  if ('skipped' in log) return log;
  if (log.entryOffsets.length === 0) return { skipped: `${log.name} has no entries` };
  const from = log.entryOffsets[Math.max(0, log.entryOffsets.length - entryCountMax)];
  const fd = fs.openSync(log.file, 'r+');
  try {
    fs.writeSync(fd, Buffer.alloc(log.end - from), 0, log.end - from, from);
  } finally {
    fs.closeSync(fd);
  }
  return { file: log.name, offset: from, entryCount: Math.min(entryCountMax, log.entryOffsets.length) };
}

/** Writes a torn entry after the last complete one in the newest log of dataDir (see the header). */
export function tearLogTail(dataDir: string, random: () => number): NonNullable<NemesisEvent['torn']> {
  const log = newestLogEntries(dataDir);
  if ('skipped' in log) return log;
  const { name: newest, file } = log;
  const offset = log.end;
  const claimedBytes = 40 + Math.floor(random() * 200);
  const writtenBytes = Math.floor(random() * claimedBytes); // never the whole entry, never its end byte
  const torn = Buffer.alloc(12 + writtenBytes);
  for (let i = 0; i < 8; i++) torn[i] = Math.floor(random() * 256);
  torn.writeInt32BE(claimedBytes, 8);
  for (let i = 12; i < torn.length; i++) torn[i] = Math.floor(random() * 256);
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, torn, 0, torn.length, offset);
  } finally {
    fs.closeSync(fd);
  }
  return { file: newest, offset, claimedBytes, writtenBytes };
}

const FILL_CHUNK_BYTES = 1 << 20;
/** Filler writes before giving up on reaching ENOSPC (a disk larger than the tmpfs the run mounted is a mistake). */
const FILL_WRITES_MAX = 4096;

/** Writes `file` until the filesystem is full (1 MiB, then 4 KiB writes until ENOSPC); returns its size. */
export function fillDisk(file: string): number {
  const fd = fs.openSync(file, 'w');
  let size = 0;
  try {
    for (const chunkBytes of [FILL_CHUNK_BYTES, 4096, 1]) {
      const chunk = Buffer.alloc(chunkBytes, 0x5a);
      for (let i = 0; i < FILL_WRITES_MAX; i++) {
        try {
          size += fs.writeSync(fd, chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
          break;
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return size;
}

/** Where Debian's libfaketime (package faketime) puts the library. */
export const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
/** How long the server may keep a clock offset before it rereads the file (FAKETIME_CACHE_DURATION). */
const FAKETIME_CACHE_S = 1;
/** The jumps clock-jump makes: a minute, an hour, two hours, a day. */
const CLOCK_JUMPS_S = [60, 3600, 7200, 86_400];

/** Is libfaketime installed, so clock-jump can run? */
export function faketimeAvailable(): boolean {
  return fs.existsSync(LIBFAKETIME);
}

/**
 * The environment that puts a server process's wall clock under `clockFile` (an offset such
 * as "+3600" or "-60", reread at most once a second); its monotonic clock stays true.
 */
export function faketimeEnv(clockFile: string): Record<string, string> {
  if (!faketimeAvailable()) throw new Error(`clock-jump needs libfaketime (${LIBFAKETIME}): apt-get install faketime`);
  setClockOffset(clockFile, 0);
  return {
    LD_PRELOAD: LIBFAKETIME,
    FAKETIME_TIMESTAMP_FILE: clockFile,
    FAKETIME_CACHE_DURATION: String(FAKETIME_CACHE_S),
    FAKETIME_DONT_FAKE_MONOTONIC: '1',
  };
}

function setClockOffset(clockFile: string, offsetS: number): void {
  // written whole and renamed: the server never reads half a line
  const tmp = `${clockFile}.tmp`;
  fs.writeFileSync(tmp, `${offsetS >= 0 ? '+' : ''}${offsetS}\n`);
  fs.renameSync(tmp, clockFile);
}
