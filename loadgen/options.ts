// `zooid loadgen` options: parsing and validation, apart from running anything. A bad
// option is an OptionError naming the flag; the CLI prints it with the usage and exits 2.
import os from 'node:os';
import { ZIPF_KEYS_MAX, freshSeed } from './random.ts';

export class OptionError extends Error {}

/** The ops of the mix. `create` is a create and a delete of the same znode, pipelined. */
export const MIX_OPS = ['get', 'exists', 'children', 'set', 'create', 'multi', 'watch'] as const;
export type MixOp = (typeof MIX_OPS)[number];
export const READ_OPS: readonly MixOp[] = ['get', 'exists', 'children'];

/**
 * How requests reach the socket. per-request: one socket write per request, as the Java, C,
 * Go and Python clients do (Nagle off), even when one reply chunk frees several slots.
 * batched: every request that a reply chunk (or a pump) frees goes out in one write — far
 * fewer syscalls and wake-ups for client and server, so it flatters servers that read
 * many requests per chunk; a separate, labelled mode.
 */
export const TRAFFIC_MODES = ['per-request', 'batched'] as const;
export type TrafficMode = (typeof TRAFFIC_MODES)[number];

export function parseTraffic(flag: string, text: string): TrafficMode {
  if (!(TRAFFIC_MODES as readonly string[]).includes(text)) throw new OptionError(`--${flag} must be ${TRAFFIC_MODES.join(' or ')}, not '${text}'`);
  return text as TrafficMode;
}

export interface HostPort {
  host: string;
  port: number;
}

export interface LoadOptions {
  hosts: HostPort[];
  /** Total connections (sessions), spread over the hosts and the worker threads. */
  connections: number;
  /** Closed loop: requests in flight per connection. Open loop: the cap on them. */
  outstanding: number;
  /** Open loop at this many ops/s in total, on a fixed schedule; null for closed loop. */
  rateOpsPerSec: number | null;
  /** One socket write per request (real clients) or one per reply chunk (batched). */
  traffic: TrafficMode;
  /** The mix as probabilities per op (sums to 1), after --read-pct was applied. */
  mix: Record<MixOp, number>;
  valueBytes: number;
  keys: number;
  keyDistribution: 'uniform' | 'zipf';
  zipfTheta: number;
  durationMs: number;
  warmupMs: number;
  /** After the run, how long outstanding replies may take before they count as unfinished. */
  graceMs: number;
  connectTimeoutMs: number;
  sessionTimeoutMs: number;
  seed: number;
  /** True when the seed was given: it is printed either way. */
  seedGiven: boolean;
  threads: number;
  /** The znode under which the keys live (created if missing). */
  root: string;
  /** Create the keys before the run (off: they are assumed to exist). */
  setup: boolean;
  json: boolean;
  reportPath: string | null;
  progress: boolean;
}

/** Bounds that keep a typo from asking for something absurd; each says why. */
export const LIMITS = {
  /** ZooKeeper's default maxClientCnxns is 60 per address; past a few thousand the client box is the test. */
  connectionsMax: 10_000,
  /** ZooKeeper's globalOutstandingLimit defaults to 1000 per server. */
  outstandingMax: 100_000,
  /** jute.maxbuffer defaults to 0xfffff; a value needs room for the request around it. */
  valueBytesMax: 0xfffff - 1024,
  keysMax: ZIPF_KEYS_MAX,
  durationMsMax: 24 * 3600_000,
  rateOpsPerSecMax: 100_000_000,
  threadsMax: 256,
  /**
   * Connection attempts in flight at once, over all threads. ZooKeeper listens with Java's
   * default backlog of 50: a burst of SYNs beyond it is dropped and retried a second later,
   * so 1,000 connections opened at once would take seconds and time out at random.
   */
  connectsInFlightMax: 32,
} as const;

export const DEFAULTS = {
  hosts: '127.0.0.1:2181',
  connections: 8,
  outstanding: 50,
  openLoopOutstanding: 1000,
  valueBytes: 1024,
  keys: 10_000,
  zipfTheta: 0.99,
  durationMs: 30_000,
  warmupMs: 5_000,
  graceMs: 2_000,
  connectTimeoutMs: 5_000,
  sessionTimeoutMs: 30_000,
  root: '/zooid-loadgen',
  mix: 'get:1,set:1',
  traffic: 'per-request',
} as const;

export const USAGE = `usage: zooid loadgen [options]            one run, live progress, summary
       zooid loadgen sweep [options]      throughput vs read %, latency vs offered load

connection
  --hosts h:p[,h:p...]     servers to drive, connections round-robin (default ${DEFAULTS.hosts})
  --connections N          sessions in total (default ${DEFAULTS.connections})
  --threads N              worker threads (default min(connections, cores))
  --connect-timeout T      per connection attempt (default 5s); at most ${LIMITS.connectsInFlightMax} attempts are in
                           flight over all threads (a listen backlog is 50 on ZooKeeper)
  servers refuse more than maxClientCnxns connections from one client address (ZooKeeper and
  zooid: 60 by default): set maxClientCnxns=0 in zoo.cfg to drive more from one machine
  (bench:compare does); each connection is a file descriptor here and on the server (ulimit -n)
load
  --traffic MODE           per-request: one socket write per request, as real clients send
                           (the Java, C, Go and Python clients; Nagle off) (default)
                           batched: all requests a reply chunk frees in one write (fewer
                           syscalls and wake-ups on both sides; not what real clients do)
  --outstanding N          closed loop: requests in flight per connection (default ${DEFAULTS.outstanding});
                           with --rate: the cap on them (default ${DEFAULTS.openLoopOutstanding})
  --rate R                 open loop: R ops/s in total on a fixed schedule; latency counts
                           from each op's intended send time (no coordinated omission)
  --read-pct P             share of reads, 0..100 (reads: get exists children)
  --mix op:w[,op:w...]     op weights; ops: ${MIX_OPS.join(' ')} (default ${DEFAULTS.mix})
                           create = create+delete; watch = getData(watch) + setData, timed to the event
  --value-bytes B          data size for set/create/multi and the keys (default ${DEFAULTS.valueBytes})
  --keys N                 znodes under --root (default ${DEFAULTS.keys})
  --key-distribution D     uniform | zipf (default uniform); --zipf-theta (0,1) (default ${DEFAULTS.zipfTheta})
  --duration T             measured time (default 30s); T is 500ms, 10s, 2m or seconds
  --warmup T               unmeasured time before it (default 5s)
  --grace T                after it, for replies still out (default 2s); a run always ends by
                           setup + warm-up + duration + grace + 3 s, whatever the servers do
  --seed S                 32-bit seed for ops, keys and values (default: fresh, printed)
  --root PATH              parent znode of the keys (default ${DEFAULTS.root}); --no-setup to skip creating them
output
  --json                   the result as JSON on stdout (progress still on stderr)
  --report FILE.html       one self-contained HTML file with charts
  --no-progress            no per-second line
`;

export const SWEEP_USAGE = `usage: zooid loadgen sweep [options above] [sweep options]
  --read-pcts LIST         closed-loop points, e.g. 0,10,20,...,100 (default 0,10,...,100)
  --latency-read-pct P     read share of the open-loop curve (default 50)
  --rates LIST|auto        open-loop rates: ops/s, or fractions of the closed-loop peak at
                           --latency-read-pct (0.5x); auto = 0.1x..1.1x (default); --no-latency skips the curve
  --no-unloaded            skip the unloaded read point (1 connection, 1 in flight, 100% get)
  per point: --duration (default 10s) and --warmup (default 2s)
`;

const FLAGS_WITH_VALUE = new Set([
  'traffic', 'hosts', 'connections', 'threads', 'connect-timeout', 'session-timeout', 'outstanding', 'rate', 'read-pct', 'mix',
  'value-bytes', 'keys', 'key-distribution', 'zipf-theta', 'duration', 'warmup', 'grace', 'seed', 'root', 'report',
]);
const BOOLEAN_FLAGS = new Set(['json', 'no-progress', 'no-setup']);

/** Splits argv into flag → value; rejects unknown flags, missing values and repeats. */
export function splitFlags(args: readonly string[], withValue: ReadonlySet<string>, booleans: ReadonlySet<string>): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith('--')) throw new OptionError(`unexpected argument '${arg}'`);
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let value: string;
    if (booleans.has(name)) {
      if (eq !== -1) throw new OptionError(`--${name} takes no value`);
      value = 'true';
    } else if (withValue.has(name)) {
      if (eq !== -1) value = arg.slice(eq + 1);
      else {
        if (i + 1 >= args.length || args[i + 1].startsWith('--')) throw new OptionError(`--${name} needs a value`);
        value = args[++i];
      }
      if (value === '') throw new OptionError(`--${name} needs a value`);
    } else {
      throw new OptionError(`unknown option --${name}`);
    }
    if (out.has(name)) throw new OptionError(`--${name} given twice`);
    out.set(name, value);
  }
  return out;
}

export function parseInteger(flag: string, text: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(text.replace(/_/g, ''))) throw new OptionError(`--${flag} must be an integer, not '${text}'`);
  const n = Number(text.replace(/_/g, ''));
  if (!(n >= min && n <= max)) throw new OptionError(`--${flag} must be in [${min}, ${max}], not ${n}`);
  return n;
}

export function parseNumber(flag: string, text: string, min: number, max: number): number {
  const n = Number(text.replace(/_/g, ''));
  if (text.trim() === '' || !Number.isFinite(n)) throw new OptionError(`--${flag} must be a number, not '${text}'`);
  if (!(n >= min && n <= max)) throw new OptionError(`--${flag} must be in [${min}, ${max}], not ${n}`);
  return n;
}

/** A duration: `500ms`, `10s`, `2m`, `1h`, or a plain number of seconds. */
export function parseDurationMs(flag: string, text: string, minMs: number, maxMs: number): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (m === null) throw new OptionError(`--${flag} must be a duration like 500ms, 10s, 2m, not '${text}'`);
  const unitMs = m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : m[2] === 'h' ? 3600_000 : 1000;
  const ms = Math.round(Number(m[1]) * unitMs);
  if (!(ms >= minMs && ms <= maxMs)) throw new OptionError(`--${flag} must be between ${minMs} ms and ${maxMs} ms, not ${ms} ms`);
  return ms;
}

export function parseHosts(text: string): HostPort[] {
  const hosts: HostPort[] = [];
  for (const part of text.split(',')) {
    const item = part.trim();
    // host:port, [v6]:port, or a bare host (port 2181)
    const m = /^(?:\[([^\]]+)\]|([^:\s]+))(?::(\d+))?$/.exec(item);
    if (m === null) throw new OptionError(`--hosts: '${item}' is not host:port`);
    const port = m[3] === undefined ? 2181 : Number(m[3]);
    if (!(port >= 1 && port <= 65535)) throw new OptionError(`--hosts: port ${m[3]} of '${item}' is out of range`);
    hosts.push({ host: m[1] ?? m[2], port });
  }
  if (hosts.length === 0) throw new OptionError('--hosts needs at least one host');
  return hosts;
}

/** `get:70,set:30` (or `get=70`) → weights; unknown ops, bad and all-zero weights are errors. */
export function parseMix(text: string): Record<MixOp, number> {
  const weights = Object.fromEntries(MIX_OPS.map((op) => [op, 0])) as Record<MixOp, number>;
  const seen = new Set<string>();
  for (const part of text.split(',')) {
    const m = /^\s*([a-zA-Z]+)\s*[:=]\s*([0-9.]+)\s*$/.exec(part);
    if (m === null) throw new OptionError(`--mix: '${part}' is not op:weight`);
    const op = (m[1] === 'getChildren' ? 'children' : m[1]) as MixOp;
    if (!MIX_OPS.includes(op)) throw new OptionError(`--mix: unknown op '${m[1]}' (ops: ${MIX_OPS.join(', ')})`);
    if (seen.has(op)) throw new OptionError(`--mix: '${op}' given twice`);
    seen.add(op);
    const w = Number(m[2]);
    if (!Number.isFinite(w) || w < 0) throw new OptionError(`--mix: weight of '${op}' must be a number >= 0`);
    weights[op] = w;
  }
  const total = MIX_OPS.reduce((sum, op) => sum + weights[op], 0);
  if (!(total > 0)) throw new OptionError('--mix: all weights are zero');
  return weights;
}

/**
 * Probabilities from weights; with a read percentage, reads share it and writes the rest,
 * each class split by its weights. A class that must have a share but has no op is an error.
 */
export function resolveMix(weights: Record<MixOp, number>, readPct: number | null): Record<MixOp, number> {
  const isRead = (op: MixOp) => READ_OPS.includes(op);
  const readWeight = MIX_OPS.filter(isRead).reduce((s, op) => s + weights[op], 0);
  const writeWeight = MIX_OPS.filter((op) => !isRead(op)).reduce((s, op) => s + weights[op], 0);
  const out = {} as Record<MixOp, number>;
  if (readPct === null) {
    for (const op of MIX_OPS) out[op] = weights[op] / (readWeight + writeWeight);
    return out;
  }
  const readShare = readPct / 100;
  if (readShare > 0 && readWeight === 0) throw new OptionError(`--read-pct ${readPct} needs a read op (${READ_OPS.join(', ')}) in --mix`);
  if (readShare < 1 && writeWeight === 0) throw new OptionError(`--read-pct ${readPct} needs a write op (set, create, multi, watch) in --mix`);
  for (const op of MIX_OPS) {
    if (isRead(op)) out[op] = readWeight === 0 ? 0 : (readShare * weights[op]) / readWeight;
    else out[op] = writeWeight === 0 ? 0 : ((1 - readShare) * weights[op]) / writeWeight;
  }
  return out;
}

export function readPctOf(mix: Record<MixOp, number>): number {
  return READ_OPS.reduce((s, op) => s + mix[op], 0) * 100;
}

/** Parses and validates `zooid loadgen` flags (extra flags: those a subcommand adds). */
export function parseLoadOptions(
  args: readonly string[],
  extra: { withValue?: readonly string[]; booleans?: readonly string[] } = {},
): { options: LoadOptions; extra: Map<string, string> } {
  const withValue = new Set([...FLAGS_WITH_VALUE, ...(extra.withValue ?? [])]);
  const booleans = new Set([...BOOLEAN_FLAGS, ...(extra.booleans ?? [])]);
  const flags = splitFlags(args, withValue, booleans);
  const take = (name: string): string | undefined => {
    const v = flags.get(name);
    flags.delete(name);
    return v;
  };

  const hosts = parseHosts(take('hosts') ?? DEFAULTS.hosts);
  const connections = parseInteger('connections', take('connections') ?? String(DEFAULTS.connections), 1, LIMITS.connectionsMax);
  const rateText = take('rate');
  const rateOpsPerSec = rateText === undefined ? null : parseNumber('rate', rateText, 1e-9, LIMITS.rateOpsPerSecMax);
  if (rateOpsPerSec !== null && !(rateOpsPerSec > 0)) throw new OptionError('--rate must be > 0');
  const outstandingText = take('outstanding');
  const outstanding =
    outstandingText === undefined
      ? rateOpsPerSec === null ? DEFAULTS.outstanding : DEFAULTS.openLoopOutstanding
      : parseInteger('outstanding', outstandingText, 1, LIMITS.outstandingMax);
  // the mix ops that send two requests need two slots
  const mixText = take('mix');
  const weights = parseMix(mixText ?? DEFAULTS.mix);
  const readPctText = take('read-pct');
  const readPct = readPctText === undefined ? null : parseNumber('read-pct', readPctText, 0, 100);
  const mix = resolveMix(weights, readPct);
  const traffic = parseTraffic('traffic', take('traffic') ?? DEFAULTS.traffic);
  if (outstanding < 2 && (mix.create > 0 || mix.watch > 0)) throw new OptionError('--outstanding must be >= 2 when the mix has create or watch (two requests each)');
  const valueBytes = parseInteger('value-bytes', take('value-bytes') ?? String(DEFAULTS.valueBytes), 0, LIMITS.valueBytesMax);
  const keys = parseInteger('keys', take('keys') ?? String(DEFAULTS.keys), 1, LIMITS.keysMax);
  const distribution = take('key-distribution') ?? 'uniform';
  if (distribution !== 'uniform' && distribution !== 'zipf') throw new OptionError(`--key-distribution must be uniform or zipf, not '${distribution}'`);
  const thetaText = take('zipf-theta');
  if (thetaText !== undefined && distribution !== 'zipf') throw new OptionError('--zipf-theta needs --key-distribution zipf');
  const zipfTheta = thetaText === undefined ? DEFAULTS.zipfTheta : parseNumber('zipf-theta', thetaText, 0, 1);
  if (!(zipfTheta > 0 && zipfTheta < 1)) throw new OptionError('--zipf-theta must be strictly between 0 and 1');
  const durationMs = parseDurationMs('duration', take('duration') ?? '30s', 100, LIMITS.durationMsMax);
  const warmupMs = parseDurationMs('warmup', take('warmup') ?? '5s', 0, LIMITS.durationMsMax);
  const graceMs = parseDurationMs('grace', take('grace') ?? '2s', 0, 60_000);
  const connectTimeoutMs = parseDurationMs('connect-timeout', take('connect-timeout') ?? '5s', 10, 120_000);
  const sessionTimeoutMs = parseDurationMs('session-timeout', take('session-timeout') ?? '30s', 1000, 3600_000);
  const seedText = take('seed');
  const seed = seedText === undefined ? freshSeed() : parseInteger('seed', seedText, 0, 0xffff_ffff);
  const cores = Math.max(1, os.availableParallelism());
  const threadsText = take('threads');
  const threads = threadsText === undefined ? Math.min(connections, cores) : parseInteger('threads', threadsText, 1, LIMITS.threadsMax);
  if (threads > connections) throw new OptionError(`--threads ${threads} is more than --connections ${connections}: a thread needs a connection`);
  const root = take('root') ?? DEFAULTS.root;
  if (!/^(\/[^/\u0000]+)+$/.test(root) || root.startsWith('/zookeeper')) throw new OptionError(`--root must be an absolute znode path outside /zookeeper, not '${root}'`);
  const reportPath = take('report') ?? null;
  if (reportPath !== null && !reportPath.endsWith('.html')) throw new OptionError('--report must name an .html file');
  const options: LoadOptions = {
    hosts,
    connections,
    outstanding,
    rateOpsPerSec,
    traffic,
    mix,
    valueBytes,
    keys,
    keyDistribution: distribution,
    zipfTheta,
    durationMs,
    warmupMs,
    graceMs,
    connectTimeoutMs,
    sessionTimeoutMs,
    seed,
    seedGiven: seedText !== undefined,
    threads,
    root,
    setup: take('no-setup') === undefined,
    json: take('json') !== undefined,
    reportPath,
    progress: take('no-progress') === undefined,
  };
  return { options, extra: flags };
}

/** A one-line description of the load, for headers and reports. */
export function describeLoad(o: LoadOptions): string {
  const mix = MIX_OPS.filter((op) => o.mix[op] > 0).map((op) => `${op} ${(o.mix[op] * 100).toFixed(o.mix[op] * 100 < 1 ? 2 : 0)}%`).join(', ');
  const loop = o.rateOpsPerSec === null ? `closed loop, ${o.outstanding} outstanding/conn` : `open loop at ${o.rateOpsPerSec} ops/s (cap ${o.outstanding}/conn)`;
  const keys = o.keyDistribution === 'zipf' ? `${o.keys} keys zipf(${o.zipfTheta})` : `${o.keys} keys uniform`;
  return `${o.hosts.map((h) => `${h.host}:${h.port}`).join(',')} · ${o.connections} conns × ${o.threads} threads · ${loop} · ${o.traffic} writes · ${mix} · ${o.valueBytes} B values · ${keys} · warmup ${o.warmupMs / 1000}s, duration ${o.durationMs / 1000}s · seed ${o.seed}`;
}
