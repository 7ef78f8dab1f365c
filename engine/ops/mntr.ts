// mntr: ZooKeeper's MonitorCommand text (and the key tables the AdminServer's `monitor`
// command and the Prometheus metrics share), from the stats model (engine/ops/model.ts).
// Pure: no sockets, clocks or process state.
import assert from 'node:assert/strict';
import { summaryAvg, summaryMin, summaryMax, javaDouble, integer } from './java.ts';
import type { PercentileSummary, ServerStatsSnapshot, StatFields, Summary } from './model.ts';

/**
 * mntr prints, tab-separated, "zk_version", "zk_server_state", then ZooKeeper's metrics
 * registry in its iteration order (captured from a real 3.8 server; the order is a
 * ConcurrentHashMap's, fixed for this key set): the gauges, the counters, the summaries
 * (avg/min/max/cnt/sum), the percentile summaries (+ p50/p95/p99/p999), then the
 * per-namespace summary sets. Standalone keys only: leaders and followers add more.
 *
 * Gauges zooid fills from the snapshot: ephemerals_count, num_alive_connections,
 * avg/min/max_latency, outstanding_requests, znode_count, global_sessions, local_sessions,
 * packets_sent/received, watch_count, approximate_data_size, open/max_file_descriptor_count,
 * uptime, last/min/max_client_response_size, auth_failed_count, connection_drop_probability
 * (the connection throttle's random drop chance: 0.0 unless BLUE dropping is on).
 * Gauges that are honestly constant in zooid:
 * outstanding_tls_handshake / non_mtls_remote_conn_count / non_mtls_local_conn_count 0
 * (no TLS client port yet).
 */
export const MNTR_GAUGES = [
  'ephemerals_count', 'num_alive_connections', 'avg_latency', 'outstanding_requests', 'znode_count',
  'global_sessions', 'non_mtls_remote_conn_count', 'last_client_response_size', 'packets_sent',
  'packets_received', 'max_client_response_size', 'connection_drop_probability', 'watch_count',
  'auth_failed_count', 'min_latency', 'max_file_descriptor_count', 'approximate_data_size',
  'open_file_descriptor_count', 'local_sessions', 'uptime', 'max_latency', 'outstanding_tls_handshake',
  'min_client_response_size', 'non_mtls_local_conn_count',
] as const;

/**
 * ZooKeeper's counters. Each prints MonitorSnapshot.counters[name] ?? 0. Not measured by
 * zooid today (0 unless the pipeline supplies them): all of them. Candidates it can fill
 * honestly: bytes_received_count, response_bytes, commit_count, snap_count,
 * connection_request_count, connection_rejected, unsuccessful_handshake,
 * large_requests_rejected, stale_sessions_expired, sessionless_connections_expired,
 * digest_mismatches_count, unrecoverable_error_count. Ensemble-only ones stay 0 standalone;
 * in an ensemble the quorum worker counts proposal_count, commit_count, learner_*_count,
 * diff_count, snap_count and looking_count (engine/ops/quorumstats.ts), while
 * ensemble_auth_* (no quorum SASL) and quit_leading_due_to_disloyal_voter (no reconfig)
 * stay 0; ZooKeeper-internal ones
 * (response_packet_*cache*, outstanding_changes_*, *_commit_processor, dead_watchers_*,
 * watch_bytes, revalidate_count, ...) have no zooid counterpart and stay 0. The request
 * throttler's request_throttle_wait_count, stale_requests, stale_requests_dropped and
 * throttled_ops are filled (engine/workers/pipeline-worker.ts), and the io workers'
 * connection_rejected, sessionless_connections_expired and large_requests_rejected.
 */
export const MNTR_COUNTERS = [
  'proposal_count', 'watch_bytes', 'outstanding_changes_removed', 'throttled_ops', 'stale_requests_dropped',
  'large_requests_rejected', 'insecure_admin_count', 'connection_rejected', 'cnxn_closed_without_zk_server_running',
  'sessionless_connections_expired', 'looking_count', 'dead_watchers_queued', 'stale_requests',
  'connection_drop_count', 'learner_proposal_received_count', 'digest_mismatches_count', 'dead_watchers_cleared',
  'response_packet_cache_hits', 'bytes_received_count', 'add_dead_watcher_stall_time', 'request_throttle_wait_count',
  'requests_not_forwarded_to_commit_processor', 'response_packet_cache_misses', 'ensemble_auth_success',
  'prep_processor_request_queued', 'learner_commit_received_count', 'stale_replies', 'connection_request_count',
  'response_bytes', 'ensemble_auth_fail', 'diff_count', 'response_packet_get_children_cache_misses',
  'connection_revalidate_count', 'quit_leading_due_to_disloyal_voter', 'snap_count', 'unrecoverable_error_count',
  'unsuccessful_handshake', 'commit_count', 'stale_sessions_expired', 'response_packet_get_children_cache_hits',
  'sync_processor_request_queued', 'outstanding_changes_queued', 'request_commit_queued', 'ensemble_auth_skip',
  'skip_learner_request_to_next_processor_count', 'tls_handshake_exceeded', 'revalidate_count',
] as const;

/**
 * ZooKeeper's avg/min/max/cnt/sum summaries (MonitorSnapshot.summaries[name], empty when
 * absent). zooid's natural equivalents: fsynctime (ms per fdatasync), sync_processor_batch_size
 * (txns per log batch), sync_process_time, snapshottime, dbinittime, startup_snap_load_time,
 * startup_txns_loaded, startup_txns_load_time, node_*_watch_count (watchers fired per event),
 * prep_process_time, commit_process_time. The rest are ensemble-only or name ZooKeeper's
 * processor queues and stay empty.
 */
export const MNTR_SUMMARIES = [
  'socket_closing_time', 'proposal_process_time', 'leader_unavailable_time', 'node_created_watch_count',
  'session_queues_drained', 'write_commit_proc_req_queued', 'connection_token_deficit',
  'read_commit_proc_req_queued', 'node_deleted_watch_count', 'startup_txns_load_time',
  'sync_processor_queue_size', 'follower_sync_time', 'prep_processor_queue_size', 'fsynctime',
  'inflight_snap_count', 'reads_issued_from_session_queue', 'learner_request_processor_queue_size',
  'snapshottime', 'unavailable_time', 'startup_txns_loaded', 'reads_after_write_in_session_queue',
  'requests_in_session_queue', 'write_commit_proc_issued', 'prep_process_time', 'pending_session_queue_size',
  'time_waiting_empty_pool_in_commit_processor_read_ms', 'commit_process_time', 'dbinittime',
  'inflight_diff_count', 'netty_queued_buffer_capacity', 'election_time', 'commit_commit_proc_req_queued',
  'sync_processor_batch_size', 'node_children_watch_count', 'write_batch_time_in_commit_processor',
  'read_commit_proc_issued', 'concurrent_request_processing_in_commit_processor', 'observer_sync_time',
  'node_changed_watch_count', 'sync_process_time', 'startup_snap_load_time',
] as const;

/**
 * ZooKeeper's summaries with percentiles (MonitorSnapshot.percentileSummaries[name]).
 * zooid's natural equivalents: updatelatency and readlatency (ms, per write/read request),
 * local_write_committed_time_ms, server_write_committed_time_ms, propagation_latency,
 * sync_processor_queue_and_flush_time_ms, sync_processor_queue_flush_time_ms,
 * sync_processor_queue_time_ms, close_session_prep_time. jvm_pause_time_ms could carry
 * event-loop/GC pauses (perf_hooks monitorEventLoopDelay). The rest are ensemble-only.
 */
export const MNTR_PERCENTILE_SUMMARIES = [
  'prep_processor_queue_time_ms', 'jvm_pause_time_ms', 'close_session_prep_time', 'read_commitproc_time_ms',
  'updatelatency', 'local_write_committed_time_ms', 'request_throttle_queue_time_ms', 'readlatency',
  'quorum_ack_latency', 'om_commit_process_time_ms', 'read_final_proc_time_ms', 'commit_propagation_latency',
  'dead_watchers_cleaner_latency', 'write_final_proc_time_ms', 'proposal_ack_creation_latency',
  'proposal_latency', 'om_proposal_process_time_ms', 'sync_processor_queue_and_flush_time_ms',
  'propagation_latency', 'server_write_committed_time_ms', 'sync_processor_queue_time_ms',
  'sync_processor_queue_flush_time_ms', 'write_commitproc_time_ms',
] as const;

export type MntrGauge = (typeof MNTR_GAUGES)[number];
export type MntrCounter = (typeof MNTR_COUNTERS)[number];
export type MntrSummary = (typeof MNTR_SUMMARIES)[number];
export type MntrPercentileSummary = (typeof MNTR_PERCENTILE_SUMMARIES)[number];

const EMPTY_SUMMARY: Summary = { count: 0, sum: 0, min: 0, max: 0 };
const EMPTY_PERCENTILE_SUMMARY: PercentileSummary = { ...EMPTY_SUMMARY, p50: 0, p95: 0, p99: 0, p999: 0 };

type MntrFields = StatFields | 'monitor';

/** mntr: "zk_<key>\t<value>\n" lines (485 on a standalone server with no namespaces used). */
export function formatMntr(s: Pick<ServerStatsSnapshot, MntrFields>): string {
  const m = s.monitor;
  let out = line('version', s.version) + line('server_state', s.mode);
  // a ReadOnlyZooKeeperServer is no QuorumZooKeeperServer: no peer_state, no quorum_size
  const q = s.mode === 'read-only' ? undefined : m.quorum;
  // QuorumZooKeeperServer.dumpMonitorValues adds peer_state right after server_state
  if (q !== undefined) out += line('peer_state', q.peerState);
  // ObserverZooKeeperServer.dumpMonitorValues: the sid of the server it learns from
  if (q !== undefined && s.mode === 'observer') out += line('observer_master_id', integer(q.leaderSid));
  for (const g of MNTR_GAUGES) out += line(g, gaugeValue(g, s));
  // QuorumZooKeeperServer's gauge (a follower prints it right after the standalone ones)
  if (q !== undefined) out += line('quorum_size', integer(q.quorumSize));
  if (q?.leader !== undefined) {
    // LeaderZooKeeperServer's gauges (after the standalone ones here; ZooKeeper's registry order differs)
    const l = q.leader;
    out += line('learners', integer(l.learners)) + line('synced_followers', integer(l.syncedFollowers))
      + line('synced_non_voting_followers', '0') + line('synced_observers', integer(l.syncedObservers))
      + line('pending_syncs', integer(l.pendingSyncs)) + line('last_proposal_size', integer(l.proposalSizesBytes.last))
      + line('max_proposal_size', integer(l.proposalSizesBytes.max)) + line('min_proposal_size', integer(l.proposalSizesBytes.min))
      + line('leader_uptime', integer(l.uptimeMs));
  }
  for (const c of MNTR_COUNTERS) out += line(c, integer(m.counters?.[c] ?? 0));
  for (const name of MNTR_SUMMARIES) out += summaryLines(name, m.summaries?.[name] ?? EMPTY_SUMMARY);
  for (const name of MNTR_PERCENTILE_SUMMARIES) {
    const p = m.percentileSummaries?.[name] ?? EMPTY_PERCENTILE_SUMMARY;
    out += summaryLines(name, p);
    out += line(`p50_${name}`, integer(Math.round(p.p50))) + line(`p95_${name}`, integer(Math.round(p.p95)))
      + line(`p99_${name}`, integer(Math.round(p.p99))) + line(`p999_${name}`, integer(Math.round(p.p999)));
  }
  // basicSummarySets: read_per_namespace precedes write_per_namespace in ZooKeeper's map.
  for (const ns of m.readPerNamespace ?? []) out += summaryLines(`${ns.namespace}_read_per_namespace`, ns.bytes);
  for (const ns of m.writePerNamespace ?? []) out += summaryLines(`${ns.namespace}_write_per_namespace`, ns.bytes);
  return out;
}

function line(key: string, value: string): string {
  assert(!value.includes('\n') && !value.includes('\t'), `mntr value of ${key} must be one field`);
  return `zk_${key}\t${value}\n`;
}

function gaugeValue(g: MntrGauge, s: Pick<ServerStatsSnapshot, MntrFields>): string {
  const m = s.monitor;
  switch (g) {
    case 'ephemerals_count': return integer(m.ephemeralsCount);
    case 'num_alive_connections': return integer(s.aliveConnectionCount);
    case 'avg_latency': return javaDouble(summaryAvg(s.requestLatencyMs));
    case 'outstanding_requests': return integer(s.outstandingRequestCount);
    case 'znode_count': return integer(s.nodeCount);
    case 'global_sessions': return integer(m.globalSessionCount);
    case 'non_mtls_remote_conn_count': return '0';
    case 'last_client_response_size': return integer(m.clientResponseBytes.last);
    case 'packets_sent': return integer(s.packetsSent);
    case 'packets_received': return integer(s.packetsReceived);
    case 'max_client_response_size': return integer(m.clientResponseBytes.max);
    case 'connection_drop_probability': return javaDouble(m.connectionDropProbability ?? 0);
    case 'watch_count': return integer(m.watchCount);
    case 'auth_failed_count': return integer(m.authFailedCount);
    case 'min_latency': return integer(summaryMin(s.requestLatencyMs));
    case 'max_file_descriptor_count': return integer(m.maxFileDescriptorCount);
    case 'approximate_data_size': return integer(m.approximateDataSizeBytes);
    case 'open_file_descriptor_count': return integer(m.openFileDescriptorCount);
    case 'local_sessions': return integer(m.localSessionCount);
    case 'uptime': return integer(m.uptimeMs);
    case 'max_latency': return integer(summaryMax(s.requestLatencyMs));
    case 'outstanding_tls_handshake': return '0';
    case 'min_client_response_size': return integer(m.clientResponseBytes.min);
    case 'non_mtls_local_conn_count': return '0';
  }
}

function summaryLines(name: string, x: Summary): string {
  return line(`avg_${name}`, javaDouble(summaryAvg(x))) + line(`min_${name}`, integer(summaryMin(x)))
    + line(`max_${name}`, integer(summaryMax(x))) + line(`cnt_${name}`, integer(x.count))
    + line(`sum_${name}`, integer(x.sum));
}
