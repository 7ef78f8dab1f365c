// The server's ring topology: every ring, doorbell and shared word block, built once by the
// main thread (engine/server.ts) from one table, handed to each worker whole, and attached
// by name. The table says who produces and who consumes each ring, whose doorbell its data
// wakes, how large it is and which module owns its records — DESIGN.md §2's picture as data:
//
//   io-N ──request/N──► pipeline ──reply/N──► io-N        (one pair per io worker)
//              pipeline ──log──► log worker                (txns, ROLL, RESUME)
//              pipeline ──snapshot──► snapshot worker      (a snapshot's bytes)
//   main ──control/request──► pipeline ──control/reply──► main   (admin, /metrics)
//   pipeline ──quorum/in──► quorum worker ──quorum/out──► pipeline (ensembles only: Zab's seam)
//
// Word blocks (not rings) shared by several threads: `control` (durable zxid, log
// failures, stop), `snapshot-control`, `throttle`, `io-words`, `conn-counts`, in an ensemble
// `quorum-words` (the peer state the quorum worker publishes for mntr); and one stats
// block per stage thread (`pipeline`, `log`, `io/N`, in an ensemble `quorum`: engine/ops/stagestats.ts). A worker
// that attaches a ring it is not an end of, or a name that does not exist, is a bug: attach
// throws. The main thread also watches every ring's occupancy for /metrics (observeRing).
import { Ring, Doorbell } from '../../native-free-io/ring.ts';
import { CONTROL_BYTES, CONTROL_RING_BYTES, IO_THREADS_MAX, IO_WORDS_BYTES, SNAP_CONTROL_BYTES, ringCapacityFor, throttleWordsBytes } from '../records.ts';
import {
  CLOSED_CONN_SLOTS, CONN_COUNT_SLOTS, LOG_RING_BYTES_MIN, QUORUM_RING_BYTES_MIN, REQ_RING_BYTES_MIN, RESP_RING_BYTES_MIN, SNAP_RING_BYTES_MIN,
} from '../limits.ts';
import { QUORUM_WORDS_BYTES } from './quorum-ring.ts';
import { StatsBlock, PIPELINE_STATS, LOG_STATS, IO_STATS, type StatsBlockSpec } from '../ops/stagestats.ts';
import { quorumStatsSpec } from '../ops/quorumstats.ts';

/** A thread of the server, as rings name their ends. */
export type ThreadName = 'main' | 'pipeline' | 'log' | 'snapshot' | 'quorum' | `io-${number}`;

export interface RingSpec {
  name: string;
  producer: ThreadName;
  consumer: ThreadName;
  /** The doorbell its data rings (the consumer parks on it), or null: the ring's own. */
  bell: string | null;
  capacityBytes: number;
  /** The module that owns its record kinds and layouts. */
  records: string;
}

export interface TopologySpec {
  ioThreads: number;
  /** The largest client frame (jute.maxbuffer + the txn header margin): request and reply rings hold two. */
  maxFrameBytes: number;
  /** The largest txn the log and snapshot rings carry. */
  txnBytesMax: number;
  /** An ensemble server: the quorum worker's rings, doorbell and words too. */
  quorum?: boolean;
  /** An ensemble's server ids (the quorum stats block has a per-follower histogram for each). */
  quorumSids?: readonly number[];
}

/** The rings of a server with spec's io threads, in the order metrics list them. */
export function ringSpecs(spec: TopologySpec): RingSpec[] {
  if (!(Number.isInteger(spec.ioThreads) && spec.ioThreads >= 1 && spec.ioThreads <= IO_THREADS_MAX)) {
    throw new Error(`topology: ioThreads must be 1..${IO_THREADS_MAX}, got ${spec.ioThreads}`);
  }
  const rings: RingSpec[] = [];
  for (let i = 0; i < spec.ioThreads; i++) {
    rings.push({
      name: `request/${i}`, producer: `io-${i}`, consumer: 'pipeline', bell: 'pipeline',
      capacityBytes: ringCapacityFor(spec.maxFrameBytes, REQ_RING_BYTES_MIN), records: 'engine/rings/request-ring.ts',
    });
    rings.push({
      name: `reply/${i}`, producer: 'pipeline', consumer: `io-${i}`, bell: `io-${i}`,
      capacityBytes: ringCapacityFor(spec.maxFrameBytes, RESP_RING_BYTES_MIN), records: 'engine/rings/reply-ring.ts',
    });
  }
  rings.push(
    { name: 'log', producer: 'pipeline', consumer: 'log', bell: 'log', capacityBytes: ringCapacityFor(spec.txnBytesMax, LOG_RING_BYTES_MIN), records: 'engine/rings/log-ring.ts' },
    { name: 'snapshot', producer: 'pipeline', consumer: 'snapshot', bell: 'snapshot', capacityBytes: ringCapacityFor(spec.txnBytesMax, SNAP_RING_BYTES_MIN), records: 'engine/persistence/snapshotter.ts' },
    { name: 'control/request', producer: 'main', consumer: 'pipeline', bell: 'pipeline', capacityBytes: CONTROL_RING_BYTES, records: 'engine/ops/control.ts' },
    { name: 'control/reply', producer: 'pipeline', consumer: 'main', bell: null, capacityBytes: CONTROL_RING_BYTES, records: 'engine/ops/control.ts' },
  );
  if (spec.quorum === true) {
    const capacityBytes = ringCapacityFor(spec.txnBytesMax, QUORUM_RING_BYTES_MIN);
    rings.push(
      { name: 'quorum/in', producer: 'pipeline', consumer: 'quorum', bell: 'quorum', capacityBytes, records: 'engine/rings/quorum-ring.ts' },
      { name: 'quorum/out', producer: 'quorum', consumer: 'pipeline', bell: 'pipeline', capacityBytes, records: 'engine/rings/quorum-ring.ts' },
    );
  }
  return rings;
}

/** The shared word blocks and their sizes. */
function wordSpecs(spec: TopologySpec): Record<string, number> {
  const words: Record<string, number> = {
    control: CONTROL_BYTES,
    'snapshot-control': SNAP_CONTROL_BYTES,
    throttle: throttleWordsBytes(CLOSED_CONN_SLOTS),
    'io-words': IO_WORDS_BYTES,
    'conn-counts': CONN_COUNT_SLOTS * 4,
  };
  if (spec.quorum === true) words['quorum-words'] = QUORUM_WORDS_BYTES;
  return words;
}

/** Everything shared, as plain data (structured-clones into workerData: SharedArrayBuffers are shared, not copied). */
export interface Topology {
  ioThreads: number;
  /** Whether the quorum worker's rings are there (an ensemble server). */
  quorum: boolean;
  rings: Record<string, { spec: RingSpec; sab: SharedArrayBuffer }>;
  bells: Record<string, SharedArrayBuffer>;
  words: Record<string, SharedArrayBuffer>;
  /** Stage statistics blocks: `pipeline`, `log`, `io/N`, in an ensemble `quorum` (engine/ops/quorumstats.ts). */
  stats: Record<string, SharedArrayBuffer>;
  /** The server ids the `quorum` stats block was laid out for (quorumStatsSpec); empty standalone. */
  quorumSids: number[];
}

/**
 * The rings every write of an ensemble crosses in full (the txn: pipeline → log, pipeline →
 * quorum worker on a leader, quorum worker → pipeline on a follower). A page of a fresh
 * SharedArrayBuffer is mapped at its first write: on the 2-core test machine that cost
 * 11–27 µs per 1 KiB record during a ring's first lap (about 40–100 µs per 4 KiB page),
 * which a short benchmark never leaves — it was a large share of an ensemble write's CPU.
 * Their pages are written once at start instead (48 MiB: about 50 ms on a quiet machine).
 */
const PREFAULTED_ENSEMBLE_RINGS: ReadonlySet<string> = new Set(['log', 'quorum/in', 'quorum/out']);
const PAGE_BYTES = 4096;

/** Writes one byte of every page of sab back as it is (nothing changes but the mapping; the header keeps its words). */
function prefault(sab: SharedArrayBuffer): void {
  const bytes = new Uint8Array(sab);
  for (let i = bytes.length - 1; i >= 0; i -= PAGE_BYTES) bytes[i] = bytes[i];
}

/** Builds every ring, bell and word block (main thread, once). */
export function buildTopology(spec: TopologySpec): Topology {
  const bellObjects = new Map<string, Doorbell>();
  const bellOf = (name: string): Doorbell => {
    let b = bellObjects.get(name);
    if (b === undefined) {
      b = Doorbell.create();
      bellObjects.set(name, b);
    }
    return b;
  };
  const rings: Topology['rings'] = {};
  for (const r of ringSpecs(spec)) {
    const ring = r.bell === null ? Ring.create(r.capacityBytes) : Ring.create(r.capacityBytes, bellOf(r.bell));
    rings[r.name] = { spec: r, sab: ring.sab };
    if (spec.quorum === true && PREFAULTED_ENSEMBLE_RINGS.has(r.name)) prefault(ring.sab);
  }
  const bells: Topology['bells'] = {};
  for (const [name, b] of bellObjects) bells[name] = b.sab;
  const words: Topology['words'] = {};
  for (const [name, bytes] of Object.entries(wordSpecs(spec))) words[name] = new SharedArrayBuffer(bytes);
  const stats: Topology['stats'] = { pipeline: StatsBlock.create(PIPELINE_STATS).sab, log: StatsBlock.create(LOG_STATS).sab };
  for (let i = 0; i < spec.ioThreads; i++) stats[`io/${i}`] = StatsBlock.create(IO_STATS).sab;
  const quorumSids = spec.quorum === true ? [...(spec.quorumSids ?? [])] : [];
  if (spec.quorum === true) stats.quorum = StatsBlock.create(quorumStatsSpec(quorumSids)).sab;
  return { ioThreads: spec.ioThreads, quorum: spec.quorum === true, rings, bells, words, stats, quorumSids };
}

/** Attaches ring `name` for `thread`, which must be one of its ends. */
export function attachRing(t: Topology, name: string, thread: ThreadName): Ring {
  const r = t.rings[name];
  if (r === undefined) throw new Error(`topology: no ring ${name}`);
  if (r.spec.producer !== thread && r.spec.consumer !== thread) {
    throw new Error(`topology: ${thread} is neither end of ring ${name} (${r.spec.producer} → ${r.spec.consumer})`);
  }
  return r.spec.bell === null ? Ring.attach(r.sab) : Ring.attach(r.sab, attachBell(t, r.spec.bell));
}

/**
 * Ring `name` for watching its occupancy only (the main thread's /metrics): never produce
 * into or consume from it.
 */
export function observeRing(t: Topology, name: string): Ring {
  const r = t.rings[name];
  if (r === undefined) throw new Error(`topology: no ring ${name}`);
  return r.spec.bell === null ? Ring.attach(r.sab) : Ring.attach(r.sab, attachBell(t, r.spec.bell));
}

/** The quorum worker's stats block (ensembles only). */
export function attachQuorumStats(t: Topology): StatsBlock {
  return attachStats(t, 'quorum', quorumStatsSpec(t.quorumSids));
}

/** Stage statistics block `name` (pipeline, log, io/N) with the spec its thread writes. */
export function attachStats(t: Topology, name: string, spec: StatsBlockSpec): StatsBlock {
  const sab = t.stats[name];
  if (sab === undefined) throw new Error(`topology: no stats block ${name}`);
  return StatsBlock.attach(sab, spec);
}

/** Doorbells attached in this thread, one object per bell (rings sharing a bell share it). */
const attachedBells = new WeakMap<Topology, Map<string, Doorbell>>();

/** The doorbell `name` (a thread's: it parks on it); the same object each time in one thread. */
export function attachBell(t: Topology, name: string): Doorbell {
  const sab = t.bells[name];
  if (sab === undefined) throw new Error(`topology: no doorbell ${name}`);
  let mine = attachedBells.get(t);
  if (mine === undefined) {
    mine = new Map();
    attachedBells.set(t, mine);
  }
  let bell = mine.get(name);
  if (bell === undefined) {
    bell = Doorbell.attach(sab);
    mine.set(name, bell);
  }
  return bell;
}

/** The shared word block `name`. */
export function wordsOf(t: Topology, name: string): SharedArrayBuffer {
  const sab = t.words[name];
  if (sab === undefined) throw new Error(`topology: no word block ${name}`);
  return sab;
}
