// Transcripts: what a client saw, step by step, recorded against two servers and
// compared after masking the values that legitimately differ between runs.
//
// Masking rules (applied by walking each transcript in order, so labels are
// assigned by first appearance and identical structure gets identical labels):
// - zxids (any key ending in "zxid", case-insensitive: czxid, mzxid, pzxid,
//   zxid, lastZxid, relativeZxid, last_zxid): 0 → "0", -1 → "-1", others → Z1,
//   Z2, … in order of first appearance. Equal zxids get equal labels, so "the
//   parent's pzxid is the child's czxid" and "a failed write consumed a zxid"
//   stay checked.
// - ctime/mtime inside a Stat (an object that also has czxid/mzxid): a txn's
//   time belongs to its zxid, so ctime → "T(<czxid label>)", mtime →
//   "T(<mzxid label>)"; 0 stays "0". The masker checks that every zxid always
//   shows the same time, that times never decrease as zxids grow, and that they
//   are real wall-clock times; a violation is written into the value
//   ("T?(…)") so the comparison fails there. ctime/mtime outside a Stat → "T".
// - session ids (sessionId, session_id, ephemeralOwner, ephemeral_owner, owner):
//   0 → "0", others → S1, S2, … by first appearance (record each session's id
//   when it connects so S-labels follow connection order).
// - passwd / password values → "<masked>".
// Values may be bigint, number, or (from Python's JSON) hex strings like "0x1f".

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ServerHandle } from './servers.ts';

export type TranscriptEntry = { step: string } & Record<string, unknown>;

export class Transcript {
  readonly entries: TranscriptEntry[] = [];

  add(step: string, fields: Record<string, unknown> = {}): TranscriptEntry {
    const entry: TranscriptEntry = { step, ...fields };
    this.entries.push(entry);
    return entry;
  }
}

const ZXID_KEY = /zxid$/i;
const SESSION_KEYS = new Set(['sessionid', 'session_id', 'ephemeralowner', 'ephemeral_owner', 'owner']);
const SECRET_KEYS = new Set(['passwd', 'password']);
const TIME_SLACK_MS = 24 * 3600 * 1000; // a real wall-clock time is within a day of the test run

export function toBigInt(value: unknown): bigint | undefined {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (typeof value === 'string') {
    const m = /^(-?)(0x[0-9a-fA-F]+|\d+)$/.exec(value.trim());
    if (m) return m[1] === '-' ? -BigInt(m[2]) : BigInt(m[2]);
  }
  return undefined;
}

export class Masker {
  private readonly zxidLabels = new Map<bigint, string>();
  private readonly sessionLabels = new Map<bigint, string>();
  private readonly timeByZxid = new Map<bigint, bigint>();
  private readonly nowMs = BigInt(Date.now());

  zxid(value: unknown): string {
    const v = toBigInt(value);
    if (v === undefined) return `Z?(${String(value)})`;
    if (v === 0n || v === -1n) return String(v);
    let label = this.zxidLabels.get(v);
    if (label === undefined) {
      label = `Z${this.zxidLabels.size + 1}`;
      this.zxidLabels.set(v, label);
    }
    return label;
  }

  session(value: unknown): string {
    const v = toBigInt(value);
    if (v === undefined) return `S?(${String(value)})`;
    if (v === 0n) return '0';
    let label = this.sessionLabels.get(v);
    if (label === undefined) {
      label = `S${this.sessionLabels.size + 1}`;
      this.sessionLabels.set(v, label);
    }
    return label;
  }

  /** The time of the txn `zxid`, checked for consistency with every other time seen. */
  txnTime(time: unknown, zxid: unknown): string {
    const t = toBigInt(time);
    const z = toBigInt(zxid);
    if (t === undefined || z === undefined) return `T?(${String(time)}@${String(zxid)})`;
    if (t === 0n && z === 0n) return '0';
    const label = this.zxid(z);
    if (t < this.nowMs - BigInt(TIME_SLACK_MS) || t > BigInt(Date.now() + TIME_SLACK_MS)) {
      return `T?(${label}: ${t} is not a wall-clock time)`;
    }
    const known = this.timeByZxid.get(z);
    if (known !== undefined && known !== t) return `T?(${label}: ${t} but earlier ${known})`;
    for (const [otherZ, otherT] of this.timeByZxid) {
      if ((otherZ < z && otherT > t) || (otherZ > z && otherT < t)) {
        return `T?(${label}: time goes backwards against ${this.zxid(otherZ)})`;
      }
    }
    this.timeByZxid.set(z, t);
    return `T(${label})`;
  }

  /** Mask a whole value (entry, Stat, list…) in walk order. */
  mask(value: unknown, key = ''): unknown {
    const lowered = key.toLowerCase();
    if (value === null || value === undefined) return value;
    if (SECRET_KEYS.has(lowered)) return '<masked>';
    if (ZXID_KEY.test(key) && toBigInt(value) !== undefined) return this.zxid(value);
    if (SESSION_KEYS.has(lowered) && toBigInt(value) !== undefined) return this.session(value);
    if ((lowered === 'ctime' || lowered === 'mtime') && toBigInt(value) !== undefined) return toBigInt(value) === 0n ? '0' : 'T';
    if (Array.isArray(value)) return value.map((item) => this.mask(item));
    if (typeof value === 'bigint') return value.toString();
    if (Buffer.isBuffer(value)) return `hex:${value.toString('hex')}`;
    if (typeof value === 'object') {
      const obj = value as Record<string, unknown>;
      const isStat = 'czxid' in obj && 'ctime' in obj;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(obj)) {
        if (v === undefined) continue;
        if (isStat && k === 'ctime') out[k] = this.txnTime(v, obj.czxid);
        else if (isStat && k === 'mtime') out[k] = this.txnTime(v, obj.mzxid);
        else out[k] = this.mask(v, k);
      }
      return out;
    }
    return value;
  }
}

export function maskTranscript(entries: readonly TranscriptEntry[]): TranscriptEntry[] {
  const masker = new Masker();
  return entries.map((entry) => masker.mask(entry) as TranscriptEntry);
}

/** One JSON line per entry: stable, greppable, and diffable line by line. */
export function renderTranscript(entries: readonly TranscriptEntry[]): string {
  return entries.map((entry) => JSON.stringify(entry, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).join('\n');
}

/** A unified-style line diff (LCS), `context` lines around each change. */
export function diffLines(expected: string, actual: string, context = 3): string {
  const a = expected.split('\n');
  const b = actual.split('\n');
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const ops: { tag: ' ' | '-' | '+'; line: string }[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      ops.push({ tag: ' ', line: a[i] });
      i++;
      j++;
    } else if (i < n && (j === m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      ops.push({ tag: '-', line: a[i] });
      i++;
    } else {
      ops.push({ tag: '+', line: b[j] });
      j++;
    }
  }
  const keep = ops.map(() => false);
  ops.forEach((op, index) => {
    if (op.tag === ' ') return;
    for (let k = Math.max(0, index - context); k <= Math.min(ops.length - 1, index + context); k++) keep[k] = true;
  });
  const out: string[] = [];
  let skipped = false;
  ops.forEach((op, index) => {
    if (!keep[index]) {
      skipped = true;
      return;
    }
    if (skipped) out.push('  …');
    skipped = false;
    out.push(`${op.tag} ${op.line}`);
  });
  if (skipped) out.push('  …');
  return out.join('\n');
}

export interface CompareContext {
  /** e.g. "node-zookeeper-client / watches". */
  name: string;
  oracleLabel?: string;
  targetLabel?: string;
  /** Extra text for the failure message (log tails). */
  details?: () => string;
}

/**
 * Throw a readable error if the masked transcripts differ: a line diff
 * ("- oracle", "+ target") and then the full target transcript.
 */
export function assertSameTranscript(
  oracle: readonly TranscriptEntry[],
  target: readonly TranscriptEntry[],
  context: CompareContext,
): void {
  const expected = renderTranscript(maskTranscript(oracle));
  const actual = renderTranscript(maskTranscript(target));
  if (expected === actual) return;
  const oracleLabel = context.oracleLabel ?? 'Apache ZooKeeper';
  const targetLabel = context.targetLabel ?? 'target';
  const message = [
    `${context.name}: the transcript against ${targetLabel} differs from ${oracleLabel}`,
    `(- ${oracleLabel}, + ${targetLabel}; zxids, times and session ids masked)`,
    diffLines(expected, actual),
    '',
    `full ${oracleLabel} transcript:`,
    expected,
    context.details ? `\n${context.details()}` : '',
  ].join('\n');
  throw new TranscriptMismatchError(message);
}

/**
 * With ZOOID_COMPAT_DUMP=<dir>, write the masked transcript to
 * <dir>/<suite>/<name>.<side>.jsonl so people can read what the oracle does.
 */
export function maybeDumpTranscript(suite: string, name: string, side: string, entries: readonly TranscriptEntry[]): void {
  const dir = process.env.ZOOID_COMPAT_DUMP;
  if (!dir) return;
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  const folder = path.join(dir, suite);
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(path.join(folder, `${slug}.${side}.jsonl`), renderTranscript(maskTranscript(entries)) + '\n');
}

export class TranscriptMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TranscriptMismatchError';
  }
}

/** What a transcript exercised, so a suite can prove it is not trivially green. */
export function transcriptFacts(entries: readonly TranscriptEntry[]): { errorCodes: Set<string>; eventCount: number } {
  const errorCodes = new Set<string>();
  let eventCount = 0;
  const visit = (value: unknown, key: string): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item, key);
      return;
    }
    if (value === null || typeof value !== 'object') {
      if ((key === 'err' || key === 'error') && typeof value === 'string' && value !== 'OK') errorCodes.add(value);
      return;
    }
    const obj = value as Record<string, unknown>;
    if (typeof obj.event === 'string') eventCount++;
    for (const [k, v] of Object.entries(obj)) visit(v, k);
  };
  for (const entry of entries) visit(entry, '');
  return { errorCodes, eventCount };
}

/** zkCli lines that depend on the run (banner, connection state), not on the server's answers. */
export const ZKCLI_NOISE: readonly RegExp[] = [
  /^Connecting to /,
  /^Welcome to ZooKeeper!$/,
  /^JLine support is (disabled|enabled)$/,
  /^WATCHER::$/,
  /^WatchedEvent state:(SyncConnected|Closed) type:None path:null$/,
  /^$/,
];

/** zkCli output as lines, without carriage returns and without ZKCLI_NOISE. */
export function zkCliLines(output: string): string[] {
  return output.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => !ZKCLI_NOISE.some((re) => re.test(l)));
}

/**
 * Runs a scenario against the oracle, then against the target, each with its own
 * transcript, and asserts the two match after masking. Returns the oracle's entries.
 */
export async function compareOnBoth(
  suite: string,
  name: string,
  servers: { oracle: ServerHandle; target: ServerHandle },
  scenario: (port: number, t: Transcript) => Promise<void>,
): Promise<TranscriptEntry[]> {
  const oracleT = new Transcript();
  const targetT = new Transcript();
  await scenario(servers.oracle.port, oracleT);
  await scenario(servers.target.port, targetT);
  maybeDumpTranscript(suite, name, 'oracle', oracleT.entries);
  assertSameTranscript(oracleT.entries, targetT.entries, { name, targetLabel: servers.target.kind, details: () => servers.target.logTail(20) });
  return oracleT.entries;
}
