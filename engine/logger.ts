// Line logger for every thread, to stderr: one line per event.
//
//   text (default): 2026-11-21T22:37:04.632Z INFO [pipeline] message conn=0x41 session=0x1000014070c0000
//   json:           {"time":"2026-11-21T22:37:04.632Z","level":"info","thread":"pipeline","msg":"message","conn":"0x41","session":"0x1000014070c0000"}
//
// Settings, read when this module loads in a thread (workers inherit the main thread's environment
// at start): ZOOID_LOG_FORMAT=text|json, ZOOID_LOG_LEVEL=debug|info|warn|error. zoo.cfg's
// `zooid.log.format` / `zooid.log.level` set the same variables before the workers start
// (configureLogging), so the environment wins only when zoo.cfg says nothing.
//
// Fields: every call takes optional fields; `conn` (a connection key) and `session` (a
// session id) print as hex, as ZooKeeper prints session ids. A child logger carries fields
// onto every line it writes. Nothing here runs per request on a hot path: loggers are
// created at start and lines are written only for events.
import { writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';
import { LOG_WARN_PER_CONN_MAX, LOG_WARN_PER_KIND_MAX, LOG_WARN_WINDOW_MS } from './limits.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'text' | 'json';

/** Extra fields on a line. conn/session print as hex ("0x…"); others as given. */
export interface LogFields {
  conn?: number | null;
  session?: bigint | number | null;
  [key: string]: unknown;
}

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds these fields to every line (its own fields win over the child's). */
  child(fields: LogFields): Logger;
}

const LEVELS: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

export const LOG_FORMAT_ENV = 'ZOOID_LOG_FORMAT';
export const LOG_LEVEL_ENV = 'ZOOID_LOG_LEVEL';

export function isLogLevel(v: string): v is LogLevel {
  return Object.hasOwn(LEVELS, v);
}

export function isLogFormat(v: string): v is LogFormat {
  return v === 'text' || v === 'json';
}

function levelThreshold(): number {
  const v = (process.env[LOG_LEVEL_ENV] ?? 'info').trim().toLowerCase();
  return isLogLevel(v) ? LEVELS[v] : LEVELS.info;
}

function formatFromEnv(): LogFormat {
  const v = (process.env[LOG_FORMAT_ENV] ?? 'text').trim().toLowerCase();
  return v === 'json' ? 'json' : 'text';
}

/**
 * Main thread, before workers start: zoo.cfg's settings (null: leave the environment's).
 * Loggers created afterwards — every worker's — use them.
 */
export function configureLogging(settings: { format: LogFormat | null; level: LogLevel | null }): void {
  if (settings.format !== null) process.env[LOG_FORMAT_ENV] = settings.format;
  if (settings.level !== null) process.env[LOG_LEVEL_ENV] = settings.level;
  current = { min: levelThreshold(), format: formatFromEnv() };
}

/** This thread's settings; loggers read them per line, so configureLogging reaches loggers made before it. */
let current = { min: levelThreshold(), format: formatFromEnv() };

/** An id in hex; a bigint as ZooKeeper prints a long session id, unsigned 64-bit. */
export function hex(v: bigint | number): string {
  if (typeof v === 'bigint') return `0x${BigInt.asUintN(64, v).toString(16)}`;
  return `0x${v.toString(16)}`;
}

/** A field value as it prints: ids in hex, bigints as decimal text, the rest unchanged. */
function fieldValue(key: string, v: unknown): unknown {
  if ((key === 'conn' || key === 'session') && (typeof v === 'number' || typeof v === 'bigint')) return hex(v);
  if (typeof v === 'bigint') return v.toString();
  return v;
}

function textValue(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v;
  if (v instanceof Error) return JSON.stringify(v.message);
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
}

/** One formatted line (exported for tests). Fields with null/undefined values are left out. */
export function formatLogLine(format: LogFormat, time: Date, level: LogLevel, thread: string, msg: string, fields: LogFields | undefined): string {
  const entries: [string, unknown][] = [];
  if (fields !== undefined) {
    for (const key of Object.keys(fields)) {
      const v = fields[key];
      if (v === undefined || v === null) continue;
      entries.push([key, fieldValue(key, v)]);
    }
  }
  if (format === 'json') {
    const obj: Record<string, unknown> = { time: time.toISOString(), level, thread, msg };
    for (const [k, v] of entries) {
      if (k in obj) continue; // never let a field overwrite the line's own keys
      obj[k] = v instanceof Error ? v.message : v;
    }
    return JSON.stringify(obj) + '\n';
  }
  let line = `${time.toISOString()} ${level.toUpperCase()} [${thread}] ${msg}`;
  for (const [k, v] of entries) line += ` ${k}=${textValue(v)}`;
  return line + '\n';
}

/**
 * In a worker, process.stderr is a stream the worker's event loop flushes to the main
 * thread — and the pipeline, log and snapshot workers never return to theirs (they park
 * in Atomics.wait), so their lines came out only at exit. A synchronous write to fd 2
 * from any thread is one write(2) per line, in order, at once.
 */
function writeLine(text: string): void {
  if (isMainThread) {
    process.stderr.write(text);
    return;
  }
  try {
    writeSync(2, text);
  } catch {
    // stderr closed or full (EAGAIN on a pipe): a log line is not worth failing for
  }
}

function makeLogger(thread: string, base: LogFields | undefined): Logger {
  const line = (level: LogLevel, msg: string, fields: LogFields | undefined) => {
    if (LEVELS[level] < current.min) return;
    const merged = base === undefined ? fields : fields === undefined ? base : { ...base, ...fields };
    writeLine(formatLogLine(current.format, new Date(), level, thread, msg, merged));
  };
  return {
    debug: (m, f) => line('debug', m, f),
    info: (m, f) => line('info', m, f),
    warn: (m, f) => line('warn', m, f),
    error: (m, f) => line('error', m, f),
    child: (fields) => makeLogger(thread, base === undefined ? fields : { ...base, ...fields }),
  };
}

/**
 * Ids a message names, as fields: the state machines (pipeline.ts) log plain text that
 * says "session 0x…"; the pipeline worker passes their lines through this so the session
 * id is a field of its own in JSON lines too.
 */
export function idsInMessage(msg: string): LogFields | undefined {
  const m = /\bsession(?:id)? 0x([0-9a-f]{1,16})\b/i.exec(msg);
  return m === null ? undefined : { session: BigInt(`0x${m[1]}`) };
}

export function createLogger(thread: string): Logger {
  return makeLogger(thread, undefined);
}

// ---- warnings a client can repeat, rate-limited

export interface WarnLimits {
  windowMs: number;
  /** Lines of one kind from one source (connection) per window. */
  perSourceMax: number;
  /** Lines of one kind from all sources per window. */
  perKindMax: number;
}

/** Kinds are names in the code, not text from clients: a handful per thread. */
const WARN_KINDS_MAX = 64;

interface WarnWindow {
  startMs: number;
  written: number;
  suppressed: number;
  /** Lines written per source this window (only sources that were written: at most perKindMax). */
  bySource: Map<number | bigint | string, number>;
}

/**
 * Decides which repeated warnings are written (pure: time comes in as a parameter). Per
 * kind, windows of windowMs start at the first warning; in one, at most perSourceMax lines
 * per source and perKindMax in all are written. When a window with lines left out ends —
 * seen at the next warning of that kind, or by flush(), which the threads call
 * periodically — `summary` gets one line saying how many.
 */
export class WarnLimiter {
  private readonly limits: WarnLimits;
  private readonly summary: (kind: string, suppressed: number, windowMs: number) => void;
  private readonly windows = new Map<string, WarnWindow>();
  /** Windows with suppressed lines not yet summarized. */
  private owed = 0;

  constructor(limits: WarnLimits, summary: (kind: string, suppressed: number, windowMs: number) => void) {
    if (!(limits.windowMs > 0 && limits.perSourceMax >= 1 && limits.perKindMax >= limits.perSourceMax)) {
      throw new Error(`logger: bad warning limits ${JSON.stringify(limits)}`);
    }
    this.limits = limits;
    this.summary = summary;
  }

  /** true: write this warning of `kind` from `source` (a connection key, session id, address). */
  allow(kind: string, source: number | bigint | string, nowMs: number): boolean {
    let w = this.windows.get(kind);
    if (w !== undefined && nowMs - w.startMs >= this.limits.windowMs) {
      this.close(kind, w);
      w = undefined;
    }
    if (w === undefined) {
      if (this.windows.size >= WARN_KINDS_MAX) throw new Error(`logger: more than ${WARN_KINDS_MAX} kinds of rate-limited warnings`);
      w = { startMs: nowMs, written: 0, suppressed: 0, bySource: new Map() };
      this.windows.set(kind, w);
    }
    const fromSource = w.bySource.get(source) ?? 0;
    if (w.written >= this.limits.perKindMax || fromSource >= this.limits.perSourceMax) {
      if (w.suppressed++ === 0) this.owed++;
      return false;
    }
    w.bySource.set(source, fromSource + 1);
    w.written++;
    return true;
  }

  /** Summarizes the windows that have ended; returns how many summary lines it wrote. */
  flush(nowMs: number): number {
    if (this.owed === 0) return 0;
    let n = 0;
    for (const [kind, w] of this.windows) {
      if (nowMs - w.startMs < this.limits.windowMs) continue;
      if (w.suppressed > 0) n++;
      this.close(kind, w);
    }
    return n;
  }

  private close(kind: string, w: WarnWindow): void {
    this.windows.delete(kind);
    if (w.suppressed === 0) return;
    this.owed--;
    this.summary(kind, w.suppressed, this.limits.windowMs);
  }
}

/** The window from ZOOID_LOG_WARN_WINDOW_MS (tests), else engine/limits.ts LOG_WARN_WINDOW_MS. */
function warnWindowMs(): number {
  const v = Number(process.env.ZOOID_LOG_WARN_WINDOW_MS);
  return Number.isFinite(v) && v > 0 ? v : LOG_WARN_WINDOW_MS;
}

/** A thread's rate-limited warnings: warn() writes through `log` when the limiter allows. */
export interface LimitedWarnings {
  /** `kind`: a fixed name for this warning; `source`: who caused it (connection key, address). */
  warn(kind: string, source: number | bigint | string, msg: string, fields?: LogFields): void;
  /** Writes the summaries of ended windows: call it now and then (a tick, a timer). */
  flush(): void;
}

export function limitedWarnings(log: Logger, limits?: WarnLimits, nowMs: () => number = () => performance.now()): LimitedWarnings {
  const l = limits ?? { windowMs: warnWindowMs(), perSourceMax: LOG_WARN_PER_CONN_MAX, perKindMax: LOG_WARN_PER_KIND_MAX };
  const limiter = new WarnLimiter(l, (kind, suppressed, windowMs) => log.warn(
    `suppressed ${suppressed} more "${kind}" warnings in the last ${windowMs / 1000} s`
      + ` (at most ${l.perSourceMax} per connection and ${l.perKindMax} in all are written per window)`, { kind, suppressed },
  ));
  return {
    warn(kind, source, msg, fields) {
      if (limiter.allow(kind, source, nowMs())) log.warn(msg, fields);
    },
    flush() {
      limiter.flush(nowMs());
    },
  };
}
