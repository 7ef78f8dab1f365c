// Four-letter words against captures from a real ZooKeeper (test/unit/fixtures/fourlw/,
// see its README): each test rebuilds, as a snapshot, the state the real server was in
// and requires byte-identical text. The captures come from Debian's 3.8.0, whose version
// text is passed through as the snapshot's version.

import { lastOperationOf } from '../../engine/core/opcodes.ts';
import fs, { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TRACE_MASK, FOUR_LETTER_WORD_NAMES, FOUR_LETTER_WORDS, formatCons, formatDirs,
  formatDump, formatEnvi, formatFourLetterWord, formatGtmk, formatIsro, formatMntr, formatNotWhitelisted,
  formatSrvr, formatStat, formatStmk, formatWchc, formatWchp, formatWchs, formatZooKeeperVersion,
  fourLetterWordOf, hostNeedsOf,
  MNTR_COUNTERS, MNTR_GAUGES, MNTR_PERCENTILE_SUMMARIES, MNTR_SUMMARIES,
  parseFourLetterWordWhitelist, TELNET_CLOSE_CODE, ZK_NOT_SERVING,
  type ConnectionInfo, type FourLetterContext, type FourLetterWord, type MonitorSnapshot, type NamespaceSummary,
  type PercentileSummary, type ServerStatsSnapshot, type Summary, formatCsnp, formatLgif,
} from '../../engine/ops/fourlw.ts';
import { hex64, javaDateString, javaDouble, javaSocketAddress, summaryAvg } from '../../engine/ops/java.ts';
import { collectEnvironment, javaOsArch, javaOsName } from '../../engine/ops/environment.ts';
import { probeHost, NO_HOST_FACTS, NO_HOST_NEEDS } from '../../engine/ops/probes.ts';

const FIXTURES = new URL('./fixtures/fourlw/', import.meta.url);
const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');

const DEBIAN_VERSION = '3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC';
const SID_A = 0x10000034b0a0000n; // kazoo client a: timeout 10 s, two ephemerals, watches /app/config
const SID_B = 0x10000034b0a0001n; // kazoo client b: timeout 20 s, one ephemeral, watches /app/config and /app/missing
const utc = (iso: string): number => Date.parse(iso);
const summary = (count: number, sum: number, min: number, max: number): Summary => ({ count, sum, min, max });
const EMPTY: Summary = summary(0, 0, 0, 0);

/** A connection that has not (yet) got a session: the 4lw connection itself, as ZooKeeper lists it. */
function bareConnection(remotePort: number, over: Partial<ConnectionInfo> = {}): ConnectionInfo {
  return {
    remoteAddress: '127.0.0.1', remotePort, interestOps: 0, outstandingRequestCount: 0,
    packetsReceived: 1, packetsSent: 0, sessionId: 0n, lastOperation: 'NA', establishedAtMs: 0,
    sessionTimeoutMs: 0, lastCxid: -1, lastZxid: -1, lastResponseAtMs: 0, lastLatencyMs: 0,
    latencyMs: EMPTY, expireAtMs: 0, ...over,
  };
}

const EMPTY_MONITOR: MonitorSnapshot = {
  uptimeMs: 0, watchCount: 0, ephemeralsCount: 0, globalSessionCount: 0, localSessionCount: 0, approximateDataSizeBytes: 0,
  openFileDescriptorCount: 0, maxFileDescriptorCount: 0, clientResponseBytes: { last: -1, min: -1, max: -1 },
  authFailedCount: 0,
};

function snapshot(over: Partial<ServerStatsSnapshot>): ServerStatsSnapshot {
  return {
    version: DEBIAN_VERSION, mode: 'standalone', requestLatencyMs: EMPTY, packetsReceived: 0, packetsSent: 0,
    aliveConnectionCount: 0, outstandingRequestCount: 0, lastProcessedZxid: 0, nodeCount: 5, connections: [],
    sessions: [], ephemerals: [], dataWatches: [], dataDirSizeBytes: 0, logDirSizeBytes: 0,
    monitor: EMPTY_MONITOR, ...over,
  };
}

// The populated server (fixtures/fourlw/populated): 19 requests had been timed, 23 ms in all.
const POPULATED_LATENCY = summary(19, 23, 0, 12);
const CONN_B = {
  remoteAddress: '127.0.0.1', remotePort: 56382, interestOps: 1, outstandingRequestCount: 0, packetsReceived: 6,
  packetsSent: 6, sessionId: SID_B, lastOperation: 'EXIS', establishedAtMs: 1795299613063, sessionTimeoutMs: 20000,
  lastCxid: 5, lastZxid: 10, lastResponseAtMs: 285276, lastLatencyMs: 1, latencyMs: summary(6, 8, 0, 2),
  expireAtMs: utc('2026-11-21T22:20:37Z'),
} satisfies ConnectionInfo;
const CONN_A = {
  remoteAddress: '127.0.0.1', remotePort: 56378, interestOps: 1, outstandingRequestCount: 0, packetsReceived: 32,
  packetsSent: 32, sessionId: SID_A, lastOperation: 'GETD', establishedAtMs: 1795299613047, sessionTimeoutMs: 10000,
  lastCxid: 0x1f, lastZxid: 10, lastResponseAtMs: 285292, lastLatencyMs: 0, latencyMs: summary(32, 40, 0, 12),
  expireAtMs: utc('2026-11-21T22:20:27Z'),
} satisfies ConnectionInfo;
const POPULATED_WATCHES = [
  { sessionId: SID_B, path: '/app/missing' },
  { sessionId: SID_B, path: '/app/config' },
  { sessionId: SID_A, path: '/app/config' },
];

describe('codes', () => {
  it('are the first 4 bytes as a big-endian int, read signed or unsigned', () => {
    expect(FOUR_LETTER_WORDS.ruok).toBe(0x72756f6b);
    expect(FOUR_LETTER_WORDS['telnet close']).toBe(TELNET_CLOSE_CODE);
    for (const w of FOUR_LETTER_WORD_NAMES) {
      const bytes = w === 'telnet close' ? Buffer.from([0xff, 0xf4, 0xff, 0xfd]) : Buffer.from(w, 'latin1');
      expect(bytes.readUInt32BE(0)).toBe(FOUR_LETTER_WORDS[w]);
      expect(fourLetterWordOf(bytes.readInt32BE(0))).toBe(w);
      expect(fourLetterWordOf(bytes.readUInt32BE(0))).toBe(w);
    }
  });

  it('know exactly the 18 words of ZooKeeper 3.8 plus telnet close, and ClickHouse Keeper\'s csnp and lgif', () => {
    expect([...FOUR_LETTER_WORD_NAMES].sort()).toEqual([
      'conf', 'cons', 'crst', 'csnp', 'dirs', 'dump', 'envi', 'gtmk', 'hash', 'isro', 'lgif', 'mntr', 'ruok', 'srst', 'srvr',
      'stat', 'stmk', 'telnet close', 'wchc', 'wchp', 'wchs',
    ]);
  });

  it('format csnp and lgif as ClickHouse Keeper: the index or the failure text, key<TAB>value lines', () => {
    expect(formatCsnp(0x1_0000_002a)).toBe('4294967338');
    expect(formatCsnp(0)).toBe('Failed to schedule snapshot creation task.');
    const zxid = (epoch: number, counter: number) => epoch * 0x1_0000_0000 + counter;
    expect(formatLgif({ firstLogIndex: zxid(1, 1), lastLogIndex: zxid(2, 7), lastCommittedLogIndex: zxid(2, 5), lastSnapshotIndex: zxid(1, 50) })).toBe([
      'first_log_idx\t4294967297', 'first_log_term\t1', 'last_log_idx\t8589934599', 'last_log_term\t2',
      'last_committed_log_idx\t8589934597', 'leader_committed_log_idx\t8589934597', 'target_committed_log_idx\t8589934599',
      'last_snapshot_idx\t4294967346', '',
    ].join('\n'));
  });

  it('leave everything else to framing: unknown words, upper case, real frame lengths', () => {
    for (const text of ['xxxx', 'RUOK', 'kill', 'ruo\n']) expect(fourLetterWordOf(Buffer.from(text).readInt32BE(0))).toBeNull();
    expect(fourLetterWordOf(44)).toBeNull(); // a ConnectRequest's length
    expect(fourLetterWordOf(0)).toBeNull();
    expect(fourLetterWordOf(-1)).toBeNull();
    // ZooKeeper writes nothing for an unknown code: as a length it exceeds jute.maxbuffer.
    expect(fixture('whitelist/unknown-xxxx.txt')).toBe('');
    expect(Buffer.from('xxxx').readInt32BE(0)).toBeGreaterThan(0xfffff + 1024);
  });

  it('reject what is not an int32', () => {
    expect(() => fourLetterWordOf(1.5)).toThrow();
    expect(() => fourLetterWordOf(2 ** 32)).toThrow();
    expect(() => fourLetterWordOf(-(2 ** 31) - 1)).toThrow();
  });
});

describe('whitelist', () => {
  it('is srvr alone by default, isro too in read-only mode', () => {
    expect([...parseFourLetterWordWhitelist(undefined, false)]).toEqual(['srvr']);
    expect([...parseFourLetterWordWhitelist(undefined, true)].sort()).toEqual(['isro', 'srvr']);
  });

  it('trims entries, ignores unknown and empty ones, always adds srvr', () => {
    expect([...parseFourLetterWordWhitelist('ruok, stat', false)].sort()).toEqual(['ruok', 'srvr', 'stat']);
    expect([...parseFourLetterWordWhitelist(' mntr ,, bogus,conf', false)].sort()).toEqual(['conf', 'mntr', 'srvr']);
    expect([...parseFourLetterWordWhitelist('', false)]).toEqual(['srvr']);
  });

  it('* enables every known word', () => {
    expect(parseFourLetterWordWhitelist('ruok, *', false).size).toBe(FOUR_LETTER_WORD_NAMES.length);
    expect(parseFourLetterWordWhitelist('*', false).has('telnet close')).toBe(true);
  });

  const ctx = (whitelist: string | undefined, server: ServerStatsSnapshot | null = snapshot({})): FourLetterContext => ({
    whitelist: parseFourLetterWordWhitelist(whitelist, false), server, confText: 'clientPort=2181\n',
    environment: collectEnvironment('3.8.4-zooid, built on 2026-11-21 22:17 UTC', '0.1.0'),
    traceMask: DEFAULT_TRACE_MASK, digests: [],
  });

  it('answers a word it does not enable with ZooKeeper\'s sentence', () => {
    expect(formatFourLetterWord('conf', ctx('ruok, stat'))).toBe(fixture('whitelist/conf.txt'));
    expect(formatNotWhitelisted('mntr')).toBe('mntr is not executed because it is not in the whitelist.\n');
    expect(formatFourLetterWord('telnet close', ctx('ruok, stat'))).toBe(fixture('whitelist/telnet-close.txt'));
  });

  it('answers srvr even when the whitelist leaves it out', () => {
    const server = snapshot({ packetsReceived: 8, packetsSent: 7, aliveConnectionCount: 1 });
    expect(formatFourLetterWord('srvr', ctx('ruok, stat', server))).toBe(fixture('whitelist/srvr.txt'));
  });

  it('closes quietly on an enabled telnet close', () => {
    expect(formatFourLetterWord('telnet close', ctx('*'))).toBeNull();
  });

  it('while not serving: ruok, envi, gtmk still answer; isro says null; the rest say so', () => {
    const c = ctx('*', null);
    expect(formatFourLetterWord('ruok', c)).toBe('imok');
    expect(formatFourLetterWord('envi', c)).toMatch(/^Environment:\n/);
    expect(formatFourLetterWord('gtmk', c)).toBe('306');
    expect(formatFourLetterWord('isro', c)).toBe('null');
    expect(formatFourLetterWord('hash', c)).toBe(ZK_NOT_SERVING);
    for (const w of ['srvr', 'stat', 'mntr', 'conf', 'cons', 'dump', 'wchs', 'wchc', 'wchp', 'dirs', 'crst', 'srst'] as const) {
      expect(formatFourLetterWord(w, c)).toBe(`${ZK_NOT_SERVING}\n`);
    }
  });

  it('dispatches every word of a serving server', () => {
    const c = ctx('*');
    const expected: Partial<Record<FourLetterWord, string>> = {
      ruok: 'imok', conf: 'clientPort=2181\n', isro: 'rw', gtmk: '306', stmk: '306', hash: '',
      crst: 'Connection stats reset.\n', srst: fixture('fresh/srst.txt'), wchc: '\n', wchp: '\n', cons: '\n',
      wchs: fixture('fresh/wchs.txt'),
    };
    for (const w of FOUR_LETTER_WORD_NAMES) {
      const text = formatFourLetterWord(w, c);
      if (expected[w] !== undefined) expect(text, w).toBe(expected[w]);
      else if (w !== 'telnet close') expect(text, w).not.toBe('');
    }
  });
});

describe('version', () => {
  const v = formatZooKeeperVersion('3.8.4', 'zooid', new Date(Date.UTC(2026, 10, 21, 22, 17, 59)));

  it('has ZooKeeper\'s shape with zooid in the revision slot', () => {
    expect(v).toBe('3.8.4-zooid, built on 2026-11-21 22:17 UTC');
    // upstream for comparison: 3.8.4-9316c2a7a97e1666d8f4593f34dd6fc36ecc436c, built on 2024-02-12 22:16 UTC
  });

  it('parses as 3.8.4 the ways clients parse ZooKeeper\'s', () => {
    expect(/([\d.]*).*/s.exec(v)![1]!.split('.').map(Number)).toEqual([3, 8, 4]); // kazoo server_version (envi)
    expect(/(\d+\.\d+\.\d+)/.exec(v)![1]).toBe('3.8.4'); // first X.Y.Z of the stat line
    expect(v.split('-')[0]).toBe('3.8.4');
    const beforeComma = v.split(',')[0]!;
    expect(beforeComma.split('-')).toEqual(['3.8.4', 'zooid']);
    expect(beforeComma.split('.')).toHaveLength(3);
  });

  it('refuses revisions that would change how it splits', () => {
    for (const bad of ['zooid-0.1.0', 'zooid.1', 'zoo id', 'a,b', '']) {
      expect(() => formatZooKeeperVersion('3.8.4', bad, new Date(0))).toThrow();
    }
    expect(() => formatZooKeeperVersion('3.8', 'zooid', new Date(0))).toThrow();
    expect(formatZooKeeperVersion('3.8.4', 'zooid0a1b2c3', new Date(0))).toBe('3.8.4-zooid0a1b2c3, built on 1970-01-01 00:00 UTC');
  });
});

describe('srvr and stat', () => {
  it('match a fresh server', () => {
    const s = snapshot({
      packetsReceived: 3, packetsSent: 2, aliveConnectionCount: 1, connections: [bareConnection(38258)],
    });
    expect(formatStat(s)).toBe(fixture('fresh/stat.txt'));
    expect(formatSrvr({ ...s, packetsReceived: 2, packetsSent: 1 })).toBe(fixture('fresh/srvr.txt'));
  });

  it('match a server with sessions: latency avg to 4 places, Clients block, zxid in hex', () => {
    const s = snapshot({
      requestLatencyMs: POPULATED_LATENCY, packetsReceived: 56, packetsSent: 58, aliveConnectionCount: 3,
      lastProcessedZxid: 10, nodeCount: 12,
    });
    expect(formatSrvr(s)).toBe(fixture('populated/srvr.txt'));
    const withClients = {
      ...s, packetsReceived: 57, packetsSent: 59,
      connections: [bareConnection(56418), CONN_B, CONN_A], // brief lines: no session details
    };
    expect(formatStat(withClients)).toBe(fixture('populated/stat.txt'));
  });

  it('add the read-only line and the leader\'s proposal sizes', () => {
    const ro = formatSrvr(snapshot({ mode: 'read-only' }));
    expect(ro.split('\n').slice(0, 3)).toEqual([
      `Zookeeper version: ${DEBIAN_VERSION}`, 'READ-ONLY mode; serving only read-only clients', 'Latency min/avg/max: 0/0.0/0',
    ]);
    expect(formatIsro({ mode: 'read-only' })).toBe('ro');
    const leader = formatSrvr(snapshot({ mode: 'leader', proposalSizesBytes: { last: -1, min: -1, max: -1 } }));
    expect(leader.endsWith('Mode: leader\nNode count: 5\nProposal sizes last/min/max: -1/-1/-1\n')).toBe(true);
    expect(() => formatSrvr(snapshot({ mode: 'leader' }))).toThrow();
  });
});

describe('cons', () => {
  it('lists sessions in full and bare connections briefly, then a blank line', () => {
    const text = formatCons({ connections: [CONN_B, CONN_A, bareConnection(56480)] });
    expect(text).toBe(fixture('populated/cons.txt'));
    expect(formatCons({ connections: [bareConnection(38294)] })).toBe(fixture('fresh/cons.txt'));
  });

  it('omits lcxid before the first reply and prints lzxid -1 as Java does', () => {
    const fresh = { ...CONN_A, lastOperation: 'NA', lastCxid: -1, lastZxid: -1, interestOps: 5, latencyMs: EMPTY };
    expect(formatCons({ connections: [fresh] })).toBe(
      ' /127.0.0.1:56378[5](queued=0,recved=32,sent=32,sid=0x10000034b0a0000,lop=NA,est=1795299613047,to=10000,'
      + 'lzxid=0xffffffffffffffff,lresp=285292,llat=0,minlat=0,avglat=0,maxlat=0)\n\n');
  });
});

describe('dump', () => {
  it('matches a fresh server', () => {
    const text = formatDump({ sessions: [], ephemerals: [], connections: [bareConnection(38310, { expireAtMs: utc('2026-11-21T22:22:57Z') })] });
    expect(text).toBe(fixture('fresh/dump.txt'));
  });

  it('matches a server with sessions: buckets ascending, elements tab-indented', () => {
    const text = formatDump({
      sessions: [
        { sessionId: SID_B, expireAtMs: utc('2026-11-21T22:20:33Z') },
        { sessionId: SID_A, expireAtMs: utc('2026-11-21T22:20:23Z') },
      ],
      ephemerals: [
        { sessionId: SID_B, paths: ['/locks/lock-0000000000'] },
        { sessionId: SID_A, paths: ['/app/eph-a1', '/app/eph-a2'] },
      ],
      connections: [CONN_B, CONN_A, bareConnection(56496, { expireAtMs: utc('2026-11-21T22:20:27Z') })],
    });
    expect(text).toBe(fixture('populated/dump.txt'));
  });

  it('on a leader with local sessions: the Local session sets, then the Global ones (LeaderSessionTracker)', () => {
    const text = formatDump({
      sessions: [
        { sessionId: SID_B, expireAtMs: utc('2026-11-21T22:20:33Z'), local: true },
        { sessionId: SID_A, expireAtMs: utc('2026-11-21T22:20:23Z') },
      ],
      localSessionTracker: true, ephemerals: [], connections: [],
    });
    expect(text.split('ephemeral nodes dump:')[0]).toBe('SessionTracker dump:\n' +
      `Local Session Sets (1)/(1):\n1 expire at ${javaDateString(utc('2026-11-21T22:20:33Z'))}:\n\t0x${hex64(SID_B)}\n` +
      `Global Session Sets (1)/(1):\n1 expire at ${javaDateString(utc('2026-11-21T22:20:23Z'))}:\n\t0x${hex64(SID_A)}\n`);
  });
});

describe('watches', () => {
  it('wchs/wchc/wchp match a server with data watches (child watches are not shown)', () => {
    const s = { dataWatches: POPULATED_WATCHES };
    expect(formatWchs(s)).toBe(fixture('populated/wchs.txt'));
    expect(formatWchc(s)).toBe(fixture('populated/wchc.txt'));
    expect(formatWchp(s)).toBe(fixture('populated/wchp.txt'));
  });

  it('match a server without watches', () => {
    const s = { dataWatches: [] };
    expect(formatWchs(s)).toBe(fixture('fresh/wchs.txt'));
    expect(formatWchc(s)).toBe(fixture('fresh/wchc.txt'));
    expect(formatWchp(s)).toBe(fixture('fresh/wchp.txt'));
  });
});

describe('small words', () => {
  it('match ZooKeeper byte for byte', () => {
    const ctx: FourLetterContext = {
      whitelist: parseFourLetterWordWhitelist('*', false), server: snapshot({}), confText: fixture('populated/conf.txt'),
      environment: collectEnvironment('x', 'y'), traceMask: DEFAULT_TRACE_MASK, digests: [],
    };
    expect(formatFourLetterWord('ruok', ctx)).toBe(fixture('populated/ruok.txt'));
    expect(formatFourLetterWord('isro', ctx)).toBe(fixture('populated/isro.txt'));
    expect(formatFourLetterWord('gtmk', ctx)).toBe(fixture('populated/gtmk.txt'));
    expect(formatFourLetterWord('crst', ctx)).toBe(fixture('populated/crst.txt'));
    expect(formatFourLetterWord('srst', ctx)).toBe(fixture('fresh/srst.txt'));
    expect(formatFourLetterWord('hash', ctx)).toBe(fixture('fresh/hash.txt'));
    expect(formatFourLetterWord('conf', ctx)).toBe(fixture('populated/conf.txt'));
    expect(formatFourLetterWord('hash', { ...ctx, digests: [{ zxid: 0x1a, digest: 1234567890123n }] })).toBe('1a: 1234567890123\n');
    expect(formatStmk(-1n)).toBe('-1');
    expect(formatGtmk(0n)).toBe('0');
  });

  it('dirs prints the two sizes', () => {
    expect(formatDirs({ dataDirSizeBytes: 67108880, logDirSizeBytes: 457 })).toBe(fixture('populated/dirs.txt'));
    expect(formatDirs({ dataDirSizeBytes: 457, logDirSizeBytes: 457 })).toBe(fixture('fresh/dirs.txt'));
  });
});

describe('mntr', () => {
  type Kv = Map<string, string>;
  const parse = (text: string): Kv => new Map(text.trimEnd().split('\n').map((l) => {
    const [k, v, ...rest] = l.split('\t');
    expect(rest, l).toEqual([]);
    return [k!.replace(/^zk_/, ''), v!];
  }));
  const num = (kv: Kv, key: string): number => {
    const v = kv.get(key);
    expect(v, key).toBeDefined();
    return Number(v);
  };
  const summaryOf = (kv: Kv, name: string): Summary =>
    summary(num(kv, `cnt_${name}`), num(kv, `sum_${name}`), num(kv, `min_${name}`), num(kv, `max_${name}`));
  const percentilesOf = (kv: Kv, name: string): PercentileSummary => ({
    ...summaryOf(kv, name), p50: num(kv, `p50_${name}`), p95: num(kv, `p95_${name}`), p99: num(kv, `p99_${name}`), p999: num(kv, `p999_${name}`),
  });
  const namespaces = (kv: Kv, kind: 'read' | 'write'): NamespaceSummary[] => [...kv.keys()]
    .filter((k) => k.startsWith('avg_') && k.endsWith(`_${kind}_per_namespace`))
    .map((k) => k.slice(4, -`_${kind}_per_namespace`.length))
    .map((namespace) => ({ namespace, bytes: summaryOf(kv, `${namespace}_${kind}_per_namespace`) }));

  /** The snapshot a real mntr capture describes: gauges into fields, the rest into the metric maps. */
  function fromCapture(kv: Kv, requestLatencyMs: Summary): ServerStatsSnapshot {
    expect(summaryAvg(requestLatencyMs)).toBe(num(kv, 'avg_latency'));
    return snapshot({
      version: kv.get('version')!, requestLatencyMs, packetsReceived: num(kv, 'packets_received'),
      packetsSent: num(kv, 'packets_sent'), aliveConnectionCount: num(kv, 'num_alive_connections'),
      outstandingRequestCount: num(kv, 'outstanding_requests'), nodeCount: num(kv, 'znode_count'),
      monitor: {
        uptimeMs: num(kv, 'uptime'), watchCount: num(kv, 'watch_count'), ephemeralsCount: num(kv, 'ephemerals_count'),
        globalSessionCount: num(kv, 'global_sessions'), localSessionCount: num(kv, 'local_sessions'), approximateDataSizeBytes: num(kv, 'approximate_data_size'),
        openFileDescriptorCount: num(kv, 'open_file_descriptor_count'), maxFileDescriptorCount: num(kv, 'max_file_descriptor_count'),
        clientResponseBytes: {
          last: num(kv, 'last_client_response_size'), min: num(kv, 'min_client_response_size'), max: num(kv, 'max_client_response_size'),
        },
        authFailedCount: num(kv, 'auth_failed_count'),
        counters: Object.fromEntries(MNTR_COUNTERS.map((c) => [c, num(kv, c)])),
        summaries: Object.fromEntries(MNTR_SUMMARIES.map((n) => [n, summaryOf(kv, n)])),
        percentileSummaries: Object.fromEntries(MNTR_PERCENTILE_SUMMARIES.map((n) => [n, percentilesOf(kv, n)])),
        readPerNamespace: namespaces(kv, 'read'),
        writePerNamespace: namespaces(kv, 'write'),
      },
    });
  }

  it('prints every key of a fresh server, in order, tab-separated', () => {
    const text = fixture('fresh/mntr.txt');
    const kv = parse(text);
    expect(kv.size).toBe(2 + MNTR_GAUGES.length + MNTR_COUNTERS.length + 5 * MNTR_SUMMARIES.length + 9 * MNTR_PERCENTILE_SUMMARIES.length);
    expect(kv.size).toBe(485);
    expect(formatMntr(fromCapture(kv, EMPTY))).toBe(text);
  });

  it('prints a busy server\'s values as ZooKeeper formats them, per-namespace sets last', () => {
    const text = fixture('populated/mntr.txt');
    const kv = parse(text);
    expect(kv.get('watch_count')).toBe('5'); // 3 data + 2 child watches
    expect(kv.get('avg_app_read_per_namespace')).toBe('165.8261');
    expect(formatMntr(fromCapture(kv, POPULATED_LATENCY))).toBe(text);
  });

  it('fills what zooid does not measure with ZooKeeper\'s idle values', () => {
    const text = formatMntr(snapshot({ version: '3.8.4-zooid, built on 2026-11-21 22:17 UTC', monitor: EMPTY_MONITOR }));
    const kv = parse(text);
    expect(kv.size).toBe(485);
    expect([...kv.keys()].slice(0, 4)).toEqual(['version', 'server_state', 'ephemerals_count', 'num_alive_connections']);
    expect(kv.get('server_state')).toBe('standalone');
    expect(kv.get('avg_latency')).toBe('0.0');
    expect(kv.get('connection_drop_probability')).toBe('0.0');
    expect(kv.get('local_sessions')).toBe('0');
    expect(kv.get('min_client_response_size')).toBe('-1');
    expect(kv.get('avg_fsynctime')).toBe('0.0');
    expect(kv.get('p999_readlatency')).toBe('0');
    expect([...kv.keys()].some((k) => k.endsWith('_per_namespace'))).toBe(false);
    // Same keys in the same order as the real server.
    expect([...kv.keys()]).toEqual([...parse(fixture('fresh/mntr.txt')).keys()]);
  });

  it('rounds percentiles and refuses fractional counters', () => {
    const p: PercentileSummary = { ...summary(3, 7, 1, 4), p50: 2.5, p95: 3.4, p99: 3.6, p999: 4 };
    const kv = parse(formatMntr(snapshot({ monitor: { ...EMPTY_MONITOR, percentileSummaries: { readlatency: p } } })));
    expect(['avg', 'min', 'max', 'cnt', 'sum', 'p50', 'p95', 'p99', 'p999'].map((k) => kv.get(`${k}_readlatency`)))
      .toEqual(['2.3333', '1', '4', '3', '7', '3', '3', '4', '4']);
    expect(() => formatMntr(snapshot({ monitor: { ...EMPTY_MONITOR, counters: { commit_count: 1.5 } } }))).toThrow();
  });
});

describe('envi', () => {
  const env = collectEnvironment('3.8.4-zooid, built on 2026-11-21 22:17 UTC', '0.1.0');
  const text = formatEnvi(env);
  const lines = text.trimEnd().split('\n');

  it('prints ZooKeeper\'s keys in ZooKeeper\'s order, then zooid\'s', () => {
    const real = fixture('populated/envi.txt').trimEnd().split('\n');
    const keys = (ls: string[]) => ls.slice(1).map((l) => l.slice(0, l.indexOf('=')));
    expect(lines[0]).toBe('Environment:');
    expect(real[0]).toBe('Environment:');
    expect(keys(lines)).toEqual([...keys(real), 'zooid.version', 'node.version', 'v8.version']);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('fills them with honest Node values', () => {
    const kv = new Map(lines.slice(1).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    expect(kv.get('zookeeper.version')).toBe('3.8.4-zooid, built on 2026-11-21 22:17 UTC');
    expect(kv.get('java.version')).toBe(process.versions.node);
    expect(kv.get('java.vendor')).toBe('Node.js');
    expect(kv.get('java.compiler')).toBe('<NA>');
    expect(kv.get('user.dir')).toBe(process.cwd());
    expect(kv.get('os.memory.max')).toMatch(/^\d+MB$/);
    expect(kv.get('zooid.version')).toBe('0.1.0');
    expect(kv.get('node.version')).toBe(process.version);
    if (process.platform === 'linux' && process.arch === 'x64') {
      expect(kv.get('os.name')).toBe('Linux');
      expect(kv.get('os.arch')).toBe('amd64'); // what the JVM on this machine printed
    }
  });

  it('formats memory as Java\'s Runtime figures, truncated to MB', () => {
    const t = formatEnvi({ ...env, memoryFreeBytes: 378 * 1048576 + 1048575, memoryMaxBytes: 6040 * 1048576, memoryTotalBytes: 388 * 1048576, extras: [] });
    expect(t.split('\n').slice(-4)).toEqual(['os.memory.free=378MB', 'os.memory.max=6040MB', 'os.memory.total=388MB', '']);
  });

  it('maps Node platform names to Java\'s', () => {
    expect(javaOsName('Linux')).toBe('Linux');
    expect(javaOsName('Darwin')).toBe('Mac OS X');
    expect(javaOsArch('x64', 'LE')).toBe('amd64');
    expect(javaOsArch('arm64', 'LE')).toBe('aarch64');
    expect(javaOsArch('ppc64', 'LE')).toBe('ppc64le');
    expect(javaOsArch('s390x', 'BE')).toBe('s390x');
  });
});

describe('Java formatting', () => {
  it('Double.toString, as the JVM printed these values', () => {
    const cases: [number, string][] = [
      [0, '0.0'], [1.2105, '1.2105'], [0.0001, '1.0E-4'], [0.001, '0.001'], [12345678.9, '1.23456789E7'],
      [1e7, '1.0E7'], [9999999, '9999999.0'], [100.5, '100.5'], [2 / 3, '0.6666666666666666'],
    ];
    for (const [x, java] of cases) expect(javaDouble(x)).toBe(java);
  });

  it('AvgMinMaxCounter.getAvg: BigDecimal HALF_UP to 4 places on the exact double', () => {
    // sum/count → what BigDecimal(sum / (double) count).setScale(4, HALF_UP).doubleValue() printed on the JVM
    const cases: [number, number, string][] = [
      [1, 20000, '1.0E-4'], [3, 38, '0.0789'], [23, 19, '1.2105'], [2, 3, '0.6667'], [1, 3, '0.3333'], [1, 8, '0.125'],
      [1, 16, '0.0625'], [1, 32, '0.0313'], [1, 160000, '0.0'], [12345678901, 1, '1.2345678901E10'],
      [99999999, 10, '9999999.9'], [7, 20000, '3.0E-4'], [15, 20000, '8.0E-4'], [100000001, 10, '1.00000001E7'],
    ];
    for (const [sum, count, java] of cases) expect(javaDouble(summaryAvg(summary(count, sum, 0, 0))), `${sum}/${count}`).toBe(java);
  });

  it('InetSocketAddress.toString, as the JVM printed these addresses', () => {
    expect(javaSocketAddress('127.0.0.1', 56418)).toBe('/127.0.0.1:56418');
    expect(javaSocketAddress('::1', 5000)).toBe('/[0:0:0:0:0:0:0:1]:5000');
    expect(javaSocketAddress('fe80::1%1', 5000)).toBe('/[fe80:0:0:0:0:0:0:1%1]:5000');
    expect(javaSocketAddress('::ffff:10.0.0.1', 5000)).toBe('/10.0.0.1:5000');
    expect(javaSocketAddress('2001:db8::ab:0:1', 5000)).toBe('/[2001:db8:0:0:0:ab:0:1]:5000');
    expect(javaSocketAddress('2001:DB8:0:0:1:2:3:4', 1)).toBe('/[2001:db8:0:0:1:2:3:4]:1');
    expect(() => javaSocketAddress('1::2::3', 1)).toThrow();
    expect(() => javaSocketAddress('127.0.0.1', 70000)).toThrow();
  });

  it('Date.toString in UTC and Long.toHexString', () => {
    expect(javaDateString(1767229261000)).toBe('Thu Jan 01 01:01:01 UTC 2026');
    expect(hex64(-1)).toBe('ffffffffffffffff');
    expect(hex64(0x10000034b0a0000n)).toBe('10000034b0a0000');
    expect(hex64(0)).toBe('0');
  });
});

describe('lastOperationOf', () => {
  it('names opcodes as FinalRequestProcessor does', () => {
    expect(lastOperationOf(4)).toBe('GETD');
    expect(lastOperationOf(3)).toBe('EXIS');
    expect(lastOperationOf(-10)).toBe('SESS');
    expect(lastOperationOf(11)).toBe('PING');
    expect(lastOperationOf(12)).toBe('GETC');
    expect(lastOperationOf(15)).toBe('CREA');
    expect(lastOperationOf(104)).toBe('GETACN');
    expect(lastOperationOf(100)).toBe('NA'); // auth never reaches FinalRequestProcessor's switch
    expect(lastOperationOf(1, true)).toBe('NA'); // a create that failed in prep
  });
});

describe('host probes (engine/ops/probes.ts)', () => {
  it('measures what is asked: directory sizes, descriptors (/proc on Linux, -1 elsewhere), the first log file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-probe-'));
    try {
      fs.mkdirSync(path.join(dir, 'data', 'version-2'), { recursive: true });
      fs.mkdirSync(path.join(dir, 'log', 'version-2'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'data', 'version-2', 'snapshot.0'), Buffer.alloc(457));
      fs.writeFileSync(path.join(dir, 'log', 'version-2', 'log.1f'), Buffer.alloc(1000));
      fs.writeFileSync(path.join(dir, 'log', 'version-2', 'log.a'), Buffer.alloc(24));
      const dirs = { dataDir: path.join(dir, 'data'), dataLogDir: path.join(dir, 'log') };
      expect(await probeHost(NO_HOST_NEEDS, dirs)).toEqual(NO_HOST_FACTS);
      const facts = await probeHost({ dirs: true, fds: true, logFiles: true }, dirs);
      expect(facts.dataDirSizeBytes).toBe(457);
      expect(facts.logDirSizeBytes).toBe(1024);
      expect(facts.firstLogZxid).toBe(0xa);
      if (process.platform === 'linux') {
        expect(facts.openFileDescriptors).toBeGreaterThan(2);
        expect(facts.maxFileDescriptors).toBeGreaterThanOrEqual(facts.openFileDescriptors);
      } else {
        expect([facts.openFileDescriptors, facts.maxFileDescriptors]).toEqual([-1, -1]);
      }
      const missing = { dataDir: path.join(dir, 'none'), dataLogDir: path.join(dir, 'none') };
      expect(await probeHost({ dirs: true, fds: false, logFiles: true }, missing)).toMatchObject({ dataDirSizeBytes: 0, logDirSizeBytes: 0, firstLogZxid: -1 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('words that need a probe say so; the rest need none', () => {
    expect(hostNeedsOf('dirs')).toMatchObject({ dirs: true, fds: false });
    expect(hostNeedsOf('conf')).toMatchObject({ dirs: true });
    expect(hostNeedsOf('mntr')).toMatchObject({ fds: true, dirs: false });
    expect(hostNeedsOf('lgif')).toMatchObject({ logFiles: true });
    expect(hostNeedsOf('srvr')).toBe(NO_HOST_NEEDS);
  });
});

