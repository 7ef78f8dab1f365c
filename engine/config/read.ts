// Reading zoo.cfg text: java.util.Properties syntax, then every key and value trimmed as
// QuorumPeerConfig does (`key=value`, `key: value`, `key value`, `#`/`!` comments,
// backslash continuation, `\uXXXX` escapes), into the raw settings with their lines.
// Errors and warnings name the file, the line and the key. Pure.

export class ConfigError extends Error {
  key: string | null;
  line: number | null;

  constructor(message: string, key: string | null, line: number | null) {
    super(message);
    this.name = 'ConfigError';
    this.key = key;
    this.line = line;
  }
}

/** One `key=value` of a .properties text, after Java unescaping and ZooKeeper's trim. */
export interface PropertyEntry {
  key: string;
  value: string;
  line: number;  // 1-based line where the entry starts
}

/** One setting as written: the spelling of its key, its value and its line. */
export interface Setting {
  key: string;
  value: string;
  line: number;
}

/** Every key of the file with its last value (as in Properties) and the line it is on. */
export type RawSettings = Map<string, { value: string; line: number }>;

// ---------------------------------------------------------------------------------
// Java .properties

/**
 * Parses .properties text as java.util.Properties.load does, then trims keys and values
 * as ZooKeeper does. Entries come back in file order (duplicates included).
 */
export function parseProperties(text: string, source: string): PropertyEntry[] {
  const naturalLines = text.split(/\r\n|\r|\n/);
  const entries: PropertyEntry[] = [];
  let index = 0;
  while (index < naturalLines.length) {
    const line = index + 1;
    let natural = skipLeadingWhitespace(naturalLines[index]);
    index++;
    if (natural === '') continue;                               // blank line
    if (natural[0] === '#' || natural[0] === '!') continue;     // comment: never continued
    let logical = '';
    for (;;) {
      if (!endsWithOddBackslashes(natural)) {
        logical += natural;
        break;
      }
      logical += natural.slice(0, -1);                          // continued: drop the backslash
      if (index >= naturalLines.length) break;                  // EOF: Java drops it too
      natural = skipLeadingWhitespace(naturalLines[index]);
      index++;
    }
    entries.push(splitKeyValue(logical, line, source));
  }
  return entries;
}

function isPropertiesWhitespace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\f';
}

function skipLeadingWhitespace(s: string): string {
  let i = 0;
  while (i < s.length && isPropertiesWhitespace(s[i])) i++;
  return s.slice(i);
}

function endsWithOddBackslashes(s: string): boolean {
  let count = 0;
  for (let i = s.length - 1; i >= 0 && s[i] === '\\'; i--) count++;
  return count % 2 === 1;
}

/** Properties.load0: the key ends at the first unescaped `=`, `:` or whitespace. */
function splitKeyValue(logical: string, line: number, source: string): PropertyEntry {
  const limit = logical.length;
  let keyLength = 0;
  let valueStart = limit;
  let hasSeparator = false;
  let precedingBackslash = false;
  while (keyLength < limit) {
    const c = logical[keyLength];
    if ((c === '=' || c === ':') && !precedingBackslash) {
      valueStart = keyLength + 1;
      hasSeparator = true;
      break;
    }
    if (isPropertiesWhitespace(c) && !precedingBackslash) {
      valueStart = keyLength + 1;
      break;
    }
    precedingBackslash = c === '\\' ? !precedingBackslash : false;
    keyLength++;
  }
  while (valueStart < limit) {
    const c = logical[valueStart];
    if (!isPropertiesWhitespace(c)) {
      if (hasSeparator || (c !== '=' && c !== ':')) break;
      hasSeparator = true;
    }
    valueStart++;
  }
  const key = javaTrim(unescapeProperties(logical.slice(0, keyLength), line, source));
  const value = javaTrim(unescapeProperties(logical.slice(valueStart), line, source));
  return { key, value, line };
}

/** Properties.loadConvert: `\uXXXX`, `\t \r \n \f`, and `\x` → x. */
function unescapeProperties(s: string, line: number, source: string): string {
  if (!s.includes('\\')) return s;
  let out = '';
  let i = 0;
  while (i < s.length) {
    const c = s[i++];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = s[i++] ?? '';
    if (e === 'u') {
      const hex = s.slice(i, i + 4);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
        throw new ConfigError(`${source}:${line}: malformed \\uxxxx escape '\\u${hex}'`, null, line);
      }
      out += String.fromCharCode(parseInt(hex, 16));
      i += 4;
    } else if (e === 't') out += '\t';
    else if (e === 'r') out += '\r';
    else if (e === 'n') out += '\n';
    else if (e === 'f') out += '\f';
    else out += e;
  }
  return out;
}

/** java.lang.String.trim(): strips every char <= U+0020 at both ends. */
function javaTrim(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && s.charCodeAt(start) <= 0x20) start++;
  while (end > start && s.charCodeAt(end - 1) <= 0x20) end--;
  return s.slice(start, end);
}

// ---------------------------------------------------------------------------------
// The settings of one file

/** The raw settings of one file, its warnings, and errors that name the file and line. */
export class SettingsReader {
  readonly source: string;
  readonly raw: RawSettings;
  readonly warnings: string[];

  constructor(source: string, raw: RawSettings, warnings: string[]) {
    this.source = source;
    this.raw = raw;
    this.warnings = warnings;
  }

  /** Parses the text into `raw` (the last value of each key wins, as in Properties). */
  static of(text: string, source: string): SettingsReader {
    const warnings: string[] = [];
    const raw: RawSettings = new Map();
    for (const e of parseProperties(text, source)) {
      const earlier = raw.get(e.key);
      if (earlier !== undefined) {
        warnings.push(`${source}:${e.line}: ${e.key} is set again; this value replaces the one on line ${earlier.line}`);
      }
      raw.set(e.key, { value: e.value, line: e.line });
    }
    return new SettingsReader(source, raw, warnings);
  }

  fail(key: string | null, line: number | null, detail: string): ConfigError {
    const where = line === null ? `${this.source}:` : `${this.source}:${line}:`;
    const message = key === null ? `${where} ${detail}` : `${where} ${key}: ${detail}`;
    return new ConfigError(message, key, line);
  }

  warn(line: number, message: string): void {
    this.warnings.push(`${this.source}:${line}: ${message}`);
  }

  /** The last-written of the given spellings of one setting; a warning when several are written. */
  take(names: readonly string[]): Setting | null {
    let found: Setting | null = null;
    for (const name of names) {
      const entry = this.raw.get(name);
      if (entry === undefined) continue;
      const setting: Setting = { key: name, value: entry.value, line: entry.line };
      if (found === null) {
        found = setting;
        continue;
      }
      const later: Setting = found.line < setting.line ? setting : found;
      const earlier = later === setting ? found : setting;
      this.warn(later.line, `${later.key} overrides ${earlier.key} on line ${earlier.line}`);
      found = later;
    }
    return found;
  }
}

/** The main file's warnings in line order, then those about other files (myid, dynamic config, JAAS). */
export function sortWarnings(warnings: string[], source: string): void {
  const rank = (w: string): number => {
    if (!w.startsWith(`${source}:`)) return Number.MAX_SAFE_INTEGER;
    const m = /^:(\d+): /.exec(w.slice(source.length));
    return m === null ? 0 : Number(m[1]);
  };
  warnings.sort((a, b) => rank(a) - rank(b));
}
