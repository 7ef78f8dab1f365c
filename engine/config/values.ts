// The parsers a schema entry names (engine/config/schema.ts): each turns one setting's
// text into its value the way ZooKeeper 3.8 reads it, or fails naming the key and line.
// Where ZooKeeper silently falls back (Integer.getInteger on "abc" gives the default)
// zooid refuses: a typo should not quietly change behaviour. Where ZooKeeper clamps with a
// warning (snapCount < 2, autopurge.snapRetainCount < 3) zooid clamps with a warning too.

import type { ConfigError, Setting, SettingsReader } from './read.ts';

/** What a parser may do besides returning: fail (naming key and line) or warn; paths resolve against cwd. */
export interface ParseContext {
  /** Where relative paths resolve (Java's user.dir). */
  readonly cwd: string;
  fail(s: Setting, detail: string): ConfigError;
  warn(s: Setting, message: string): void;
}

/** The context of parsers reading the settings of one file. */
export function contextOf(r: SettingsReader, cwd: string): ParseContext {
  return {
    cwd,
    fail: (s, detail) => r.fail(s.key, s.line, detail),
    warn: (s, message) => r.warn(s.line, message),
  };
}

/** Turns one setting's text into its value. `kind` says what the text must be (docs, tests). */
export interface Parser<T> {
  readonly kind: string;
  parse(s: Setting, c: ParseContext): T;
}

export const PORT_MAX = 65_535;
const INT32_MAX = 2_147_483_647;
const INT32_MIN = -2_147_483_648;

// ---------------------------------------------------------------------------------
// Numbers as Java reads them

/** Integer.parseInt / Long.parseLong: optional sign, decimal digits only. */
export function parseJavaDecimal(text: string): number | null {
  if (!/^[+-]?[0-9]+$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

/** Integer.decode (behind Integer.getInteger): also 0x / 0X / # hex and 0-prefixed octal. */
function parseJavaDecode(text: string): number | null {
  const m = /^([+-]?)(?:0[xX]([0-9a-fA-F]+)|#([0-9a-fA-F]+)|0([0-7]+)|([0-9]+))$/.exec(text);
  if (m === null) return null;
  const sign = m[1] === '-' ? -1 : 1;
  let n: number;
  if (m[2] !== undefined) n = parseInt(m[2], 16);
  else if (m[3] !== undefined) n = parseInt(m[3], 16);
  else if (m[4] !== undefined) n = parseInt(m[4], 8);
  else n = Number(m[5]);
  n *= sign;
  return Number.isSafeInteger(n) ? n : null;
}

// ---------------------------------------------------------------------------------
// Java file paths

/** java.io.File normalisation: no repeated slashes, no trailing slash (except "/"). */
function javaNormalizePath(p: string): string {
  let n = p.replace(/\/{2,}/g, '/');
  if (n.length > 1 && n.endsWith('/')) n = n.slice(0, -1);
  return n;
}

/** File.getAbsolutePath(): relative paths are appended to user.dir, `.` and `..` kept. */
export function javaAbsolutePath(p: string, cwd: string): string {
  const n = javaNormalizePath(p);
  if (n.startsWith('/')) return n;
  const base = javaNormalizePath(cwd);
  return base === '/' ? `/${n}` : `${base}/${n}`;
}

/** new File(parent, child).getPath(). */
export function javaChildPath(parent: string, child: string): string {
  return parent === '/' ? `/${child}` : `${parent}/${child}`;
}

// ---------------------------------------------------------------------------------
// Parsers

export interface IntOptions {
  /** Integer.decode syntax (hex, #, octal), as Integer.getInteger reads system properties. */
  decode?: boolean;
  min?: number;
  max?: number;
  /** What the text must be, for the error: 'a number of milliseconds'. Default 'an integer'. */
  what?: string;
}

/** A Java int. */
export function int(o: IntOptions = {}): Parser<number> {
  return {
    kind: o.decode === true ? 'int (Integer.decode)' : 'int',
    parse(s, c) {
      const n = o.decode === true ? parseJavaDecode(s.value) : parseJavaDecimal(s.value);
      if (n === null || n < INT32_MIN || n > INT32_MAX) throw c.fail(s, `'${s.value}' is not ${o.what ?? 'an integer'}`);
      if (o.min !== undefined && n < o.min) throw c.fail(s, `${n} is below the minimum of ${o.min}`);
      if (o.max !== undefined && n > o.max) throw c.fail(s, `${n} is above the maximum of ${o.max}`);
      return n;
    },
  };
}

/**
 * An int that ZooKeeper raises to `floor` with a warning instead of refusing (snapCount,
 * autopurge.snapRetainCount, autopurge.purgeInterval). `to` is what a smaller value becomes.
 */
export function clamped(p: Parser<number>, floor: number, to: number, warning: (s: Setting, n: number) => string): Parser<number> {
  return orWarn(p, (n) => n >= floor, () => to, warning);
}

/**
 * A value ZooKeeper's setter refuses with a warning and replaces (largeRequestMaxBytes,
 * largeRequestThreshold): `ok` says whether it stands, else `instead` is used.
 */
export function orWarn(p: Parser<number>, ok: (n: number) => boolean, instead: () => number, warning: (s: Setting, n: number) => string): Parser<number> {
  return {
    kind: p.kind,
    parse(s, c) {
      const n = p.parse(s, c);
      if (ok(n)) return n;
      c.warn(s, warning(s, n));
      return instead();
    },
  };
}

/** A TCP port; 0 only where ZooKeeper takes it to mean "not set" or "any". */
export function port(o: { zero: boolean }): Parser<number> {
  const low = o.zero ? 0 : 1;
  return {
    kind: 'port',
    parse(s, c) {
      const n = parseJavaDecimal(s.value);
      if (n === null || n < low || n > PORT_MAX) throw c.fail(s, `'${s.value}' is not a port number (${low}-${PORT_MAX})`);
      return n;
    },
  };
}

/** QuorumPeerConfig.parseBoolean: true or false, any case. */
export const bool: Parser<boolean> = {
  kind: 'bool',
  parse(s, c) {
    const v = s.value.toLowerCase();
    if (v === 'true') return true;
    if (v === 'false') return false;
    throw c.fail(s, `'${s.value}' is not true or false`);
  },
};

/** Java's Double.parseDouble for the decimal forms a zoo.cfg uses (0.02, 2e-3, 1.5d); `min`..`max` when given. */
export function decimal(o: { min?: number; max?: number } = {}): Parser<number> {
  return {
    kind: 'decimal',
    parse(s, c) {
      const m = /^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)[fFdD]?\s*$/.exec(s.value);
      if (m === null) throw c.fail(s, `'${s.value}' is not a decimal number`);
      const n = Number(m[1]);
      if (o.min !== undefined && n < o.min) throw c.fail(s, `${n} is below the minimum of ${o.min}`);
      if (o.max !== undefined && n > o.max) throw c.fail(s, `${n} is above the maximum of ${o.max}`);
      return n;
    },
  };
}

/** ZooKeeper's `"yes".equals(…)` / `"no".equals(…)` switches (forceSync, leaderServes). */
export const yesNo: Parser<boolean> = {
  kind: 'yes|no',
  parse(s, c) {
    if (s.value === 'yes') return true;
    if (s.value === 'no') return false;
    throw c.fail(s, `'${s.value}' is not yes or no`);
  },
};

/** Any text, as written (passwords may be empty). */
export const text: Parser<string> = { kind: 'text', parse: (s) => s.value };

/** Text that must not be empty (host names, user names, URLs). */
export const nonEmpty: Parser<string> = {
  kind: 'non-empty text',
  parse(s, c) {
    if (s.value === '') throw c.fail(s, 'is empty');
    return s.value;
  },
};

/** A file or directory, made absolute as java.io.File does (relative to the working directory). */
export const path: Parser<string> = {
  kind: 'path',
  parse: (s, c) => javaAbsolutePath(nonEmpty.parse(s, c), c.cwd),
};

/** One of a few words; `fold` is the case the text is compared in (and the value is returned in). */
export function oneOf<const T extends string>(words: readonly T[], o: { fold: 'lower' | 'upper'; error: (text: string) => string }): Parser<T> {
  return {
    kind: words.join('|'),
    parse(s, c) {
      const v = o.fold === 'lower' ? s.value.toLowerCase() : s.value.toUpperCase();
      if (!(words as readonly string[]).includes(v)) throw c.fail(s, o.error(s.value));
      return v as T;
    },
  };
}

/** FileTxnLog's preAllocSize: Long.parseLong(kb) * 1024, here as bytes, at most maxKb. */
export function sizeKb(maxKb: number): Parser<number> {
  return {
    kind: 'size in KB',
    parse(s, c) {
      const kb = parseJavaDecimal(s.value);
      if (kb === null || kb < 0) throw c.fail(s, `'${s.value}' is not a size in KB`);
      if (kb > maxKb) throw c.fail(s, `${kb} KB is above the maximum of ${maxKb} KB`);
      return kb * 1024;
    },
  };
}

/** A comma-separated list; blanks around names and empty names dropped. */
export const list: Parser<string[]> = {
  kind: 'comma-separated list',
  parse: (s) => s.value.split(',').map((n) => n.trim()).filter((n) => n !== ''),
};
