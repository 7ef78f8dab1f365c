// The quorum worker's statistics (engine/ops/quorumstats.ts) and how mntr and the
// AdminServer show them: the summaries' arithmetic, the proposal-time ring's cursors and
// bounds, mntr's ensemble key set against a real ZooKeeper 3.8 leader's and follower's
// (fixtures/fourlw/ensemble), and the AdminServer's leader / zabstate / voting_view.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ProposalTimes, QUORUM_PERCENTILE_SUMMARIES, QUORUM_SUMMARIES, SummaryRecorder, quorumStatsSpec, readPercentileSummary, readSummary, txnHeaderTimeMs,
} from '../../engine/ops/quorumstats.ts';
import { StatsBlock } from '../../engine/ops/stagestats.ts';
import { formatMntr } from '../../engine/ops/mntr.ts';
import type { MonitorSnapshot, QuorumMonitor, ServerStatsSnapshot } from '../../engine/ops/model.ts';
import { buildCommandResponse, type AdminEnvironment } from '../../engine/ops/admin.ts';
import { parseConfig } from '../../engine/config/parse.ts';

const FIXTURES = new URL('./fixtures/fourlw/ensemble/', import.meta.url);
/** ZooKeeper's lines zooid deliberately does not print (docs/ensemble.md). */
const NOT_IN_ZOOID = /^zk_(avg|min|max|cnt|sum|p50|p95|p99|p999)_(\d+_learner_handler_qp_(size|time_ms)|\w+_write_per_namespace)$/;

function block(): StatsBlock {
  return StatsBlock.create(quorumStatsSpec([1, 2, 3]));
}

describe('quorum summaries', () => {
  it('keep count, sum, min and max of whole ms, and percentiles within the samples', () => {
    const b = block();
    const r = new SummaryRecorder(b, 'quorum_ack_latency');
    expect(readSummary(b, 'quorum_ack_latency')).toEqual({ count: 0, sum: 0, min: 0, max: 0 });
    for (const ms of [3.7, 1.2, 9.9, -1, 2.5]) r.observe(ms);
    expect(readSummary(b, 'quorum_ack_latency')).toEqual({ count: 5, sum: 3 + 1 + 9 + 0 + 2, min: 0, max: 9 });
    const p = readPercentileSummary(b, 'quorum_ack_latency');
    for (const q of [p.p50, p.p95, p.p99, p.p999]) {
      expect(q).toBeGreaterThanOrEqual(p.min);
      expect(q).toBeLessThanOrEqual(p.max);
    }
    expect(p.p50).toBeLessThanOrEqual(p.p99);
  });

  it('counts are counted as they are (inflight syncs), not as ms', () => {
    const b = block();
    const r = new SummaryRecorder(b, 'inflight_diff_count');
    r.observe(1);
    r.observe(2);
    expect(readSummary(b, 'inflight_diff_count')).toEqual({ count: 2, sum: 3, min: 1, max: 2 });
    expect(b.histogram('inflight_diff_count').snapshot().sum).toBe(3);
    expect(b.histogram('quorum_ack_latency').snapshot().count).toBe(0);
  });

  it('name only ZooKeeper metrics (every summary is in the block)', () => {
    const b = block();
    for (const name of [...Object.keys(QUORUM_SUMMARIES), ...QUORUM_PERCENTILE_SUMMARIES]) expect(b.histogram(name).snapshot().count).toBe(0);
    expect(b.histogramNames().filter((n) => n.startsWith('ack_us/'))).toEqual(['ack_us/1', 'ack_us/2', 'ack_us/3']);
  });
});

describe('ProposalTimes', () => {
  it('measures each proposal once when durable and once when committed, in zxid order', () => {
    const b = block();
    const acked = new SummaryRecorder(b, 'proposal_ack_creation_latency');
    const committed = new SummaryRecorder(b, 'commit_propagation_latency');
    const t = new ProposalTimes(8);
    t.push(0x100000001, 0);
    t.push(0x100000002, 1);
    t.push(0x100000003, 2);
    t.durableUpTo(0x100000002, 10, acked);
    t.durableUpTo(0x100000002, 50, acked); // nothing new
    expect(readSummary(b, 'proposal_ack_creation_latency')).toEqual({ count: 2, sum: 19, min: 9, max: 10 });
    expect(t.committedUpTo(0x100000003, 20, committed)).toBe(3);
    expect(t.committedUpTo(0x100000003, 30, committed)).toBe(0);
    expect(readSummary(b, 'commit_propagation_latency')).toEqual({ count: 3, sum: 20 + 19 + 18, min: 18, max: 20 });
    expect(t.timeOf(0x100000002)).toBe(1);
    expect(t.timeOf(0x100000009)).toBeNaN();
  });

  it('keeps the newest entries when full, and starts over when a new role\'s zxids begin lower', () => {
    const b = block();
    const r = new SummaryRecorder(b, 'quorum_ack_latency');
    const t = new ProposalTimes(4);
    for (let i = 1; i <= 6; i++) t.push(i, i);
    expect(t.timeOf(1)).toBeNaN();
    expect(t.timeOf(2)).toBeNaN();
    expect(t.timeOf(3)).toBe(3);
    expect(t.committedUpTo(6, 10, r)).toBe(4); // 3..6: the two pushed out are not measured
    t.push(2, 100); // a new role's stream
    expect(t.timeOf(6)).toBeNaN();
    expect(t.timeOf(2)).toBe(100);
    expect(() => new ProposalTimes(6)).toThrow(/power of two/);
  });

  it('reads the leader\'s time from the txn header (clientId, cxid, zxid, time)', () => {
    const txn = Buffer.alloc(36);
    txn.writeBigInt64BE(1_796_000_000_123n, 20);
    expect(txnHeaderTimeMs(txn)).toBe(1_796_000_000_123);
    expect(txnHeaderTimeMs(Buffer.alloc(10))).toBeNaN();
  });
});

const EMPTY = { count: 0, sum: 0, min: 0, max: 0 };
const MONITOR: MonitorSnapshot = {
  uptimeMs: 0, watchCount: 0, ephemeralsCount: 0, globalSessionCount: 0, localSessionCount: 0, approximateDataSizeBytes: 0,
  openFileDescriptorCount: 0, maxFileDescriptorCount: 0, clientResponseBytes: { last: -1, min: -1, max: -1 }, authFailedCount: 0,
};

function snapshot(mode: 'leader' | 'follower', quorum: QuorumMonitor, lastProcessedZxid = 0): ServerStatsSnapshot {
  return {
    version: '3.8.4-zooid, built on 2026-12-05 00:00 UTC', mode, requestLatencyMs: EMPTY, packetsReceived: 0, packetsSent: 0,
    aliveConnectionCount: 0, outstandingRequestCount: 0, lastProcessedZxid, nodeCount: 5, connections: [], sessions: [],
    ephemerals: [], dataWatches: [], dataDirSizeBytes: 0, logDirSizeBytes: 0, monitor: { ...MONITOR, quorum },
  };
}

const LEADER: QuorumMonitor = {
  peerState: 'leading - broadcast', zabState: 'broadcast', leaderSid: 3, quorumSize: 3,
  leader: { uptimeMs: 6163, learners: 2, syncedFollowers: 2, syncedObservers: 0, pendingSyncs: 0, proposalSizesBytes: { last: -1, min: -1, max: -1 } },
};
const FOLLOWER: QuorumMonitor = { peerState: 'following - broadcast', zabState: 'broadcast', leaderSid: 3, quorumSize: 3 };

function keysOf(text: string): string[] {
  return text.split('\n').filter((l) => l !== '').map((l) => l.split('\t')[0]).sort();
}

describe('mntr in an ensemble', () => {
  it('prints the keys a ZooKeeper 3.8 leader and follower print', () => {
    for (const [file, snap] of [['leader-mntr.txt', snapshot('leader', LEADER)], ['follower-mntr.txt', snapshot('follower', FOLLOWER)]] as const) {
      const zk = keysOf(readFileSync(new URL(file, FIXTURES), 'utf8')).filter((k) => !NOT_IN_ZOOID.test(k));
      expect(keysOf(formatMntr(snap)), file).toEqual(zk);
    }
  });

  it('puts zk_quorum_size right after the standalone gauges, as a ZooKeeper follower does', () => {
    const zk = readFileSync(new URL('follower-mntr.txt', FIXTURES), 'utf8').split('\n').map((l) => l.split('\t')[0]);
    const zooid = formatMntr(snapshot('follower', FOLLOWER)).split('\n').map((l) => l.split('\t')[0]);
    expect(zooid.indexOf('zk_quorum_size')).toBe(zk.indexOf('zk_quorum_size'));
    expect(formatMntr(snapshot('leader', LEADER))).toContain('zk_leader_uptime\t6163\n');
  });

  it('an observer names the server it learns from right after zk_peer_state (ObserverZooKeeperServer.dumpMonitorValues)', () => {
    const observer: QuorumMonitor = { peerState: 'observing - broadcast', zabState: 'broadcast', leaderSid: 2, quorumSize: 2 };
    const lines = formatMntr({ ...snapshot('follower', observer), mode: 'observer' }).split('\n');
    expect(lines.slice(1, 4)).toEqual(['zk_server_state\tobserver', 'zk_peer_state\tobserving - broadcast', 'zk_observer_master_id\t2']);
    expect(formatMntr(snapshot('follower', FOLLOWER))).not.toContain('observer_master_id');
  });
});

describe('AdminServer ensemble commands', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zooid-quorumstats-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'myid'), '1\n');
  const cfg = parseConfig([
    `dataDir=${dir}`, 'clientPort=2181', 'clientPortAddress=127.0.0.1', 'initLimit=5', 'syncLimit=2',
    'server.1=127.0.0.1:2888:3888', 'server.2=10.0.0.2:2888:3888', 'server.3=10.0.0.3:2888:3888;2181',
  ].join('\n'), { path: 'zoo.cfg', cwd: dir });
  const env = { config: cfg } as AdminEnvironment;
  const stats = (s: ServerStatsSnapshot) => ({ snapshot: s, traceMask: 0n, monoNowMs: 0, wallNowMs: 0 });

  it('leader names the leader and its server.N host', () => {
    expect(buildCommandResponse('leader', {}, env, stats(snapshot('follower', FOLLOWER)))).toEqual({
      is_leader: false, leader_id: 3, leader_ip: '10.0.0.3', command: 'leader', error: null,
    });
    const looking = { ...FOLLOWER, leaderSid: -1 };
    expect(buildCommandResponse('lead', {}, env, stats(snapshot('follower', looking)))).toMatchObject({ leader_id: -1, leader_ip: '' });
  });

  it('zabstate: this peer\'s addresses, its last zxid split into epoch and counter, its Zab phase', () => {
    const z = buildCommandResponse('zabstate', {}, env, stats(snapshot('follower', FOLLOWER, 0x200000005)));
    expect(z).toMatchObject({
      myid: 1, is_leader: false, client_address: '127.0.0.1:2181', voting: true, last_zxid: '0x200000005', zab_epoch: 2, zab_counter: 5, zabstate: 'broadcast',
    });
    expect(z.quorum_address).toMatchObject({ one: '127.0.0.1:2888', wildcard_addresses: ['0.0.0.0:2888'], all_ports: [2888] });
    expect(z.election_address).toMatchObject({ reachable_or_one: '127.0.0.1:3888' });
  });

  it('observers: the synced observers the quorum worker reports, LearnerHandler\'s keys', () => {
    const info = { remote_socket_address: '/127.0.0.1:40446', sid: 3, established: 1796471463554, queued_packets: 0, queued_packets_size: 0, packets_received: 23, packets_sent: 23, requests: 0, last_zxid: 4294967296 };
    const leader = { ...LEADER, leader: { ...LEADER.leader!, syncedObservers: 1 } };
    expect(buildCommandResponse('obsr', {}, { ...env, observers: [info] }, stats(snapshot('leader', leader)))).toEqual({
      synced_observers: 1, observers: [info], command: 'observers', error: null,
    });
    expect(buildCommandResponse('observers', {}, env, stats(snapshot('follower', FOLLOWER)))).toMatchObject({ synced_observers: 0, observers: [] });
  });

  it('voting_view: every participant, with the client address this server knows', () => {
    const v = buildCommandResponse('voting_view', {}, env, null).current_config as Record<string, Record<string, unknown>>;
    expect(Object.keys(v)).toEqual(['1', '2', '3']);
    expect(v['1']).toEqual({ server_addresses: ['127.0.0.1:2888'], election_addresses: ['127.0.0.1:3888'], client_address: '127.0.0.1:2181', learner_type: 'participant' });
    expect(v['2'].client_address).toBe('');
    expect(v['3'].client_address).toBe('0.0.0.0:2181');
  });
});
