// The rings between the pipeline and the quorum worker (ensembles only), their record kinds
// and layouts, written and read only here: docs/ensemble.md's seam as bytes.
//
//   quorum/in   pipeline → quorum worker (ToQuorum)
//     PROPOSE            [zxid][txn]                          leader: a txn logged here
//     COMMIT             [zxid]                               leader: the commit stage moved
//     SYNCED             [sid]                                leader: learner sid's SYNC is answered
//     REVALIDATE_ANSWER  [sid][sessionId][u8 valid]           leader: Pipeline.revalidateSession's verdict
//     FORWARD            [sessionId][cxid][type][ids][record] learner: REQUEST to the leader
//     REVALIDATE         [sessionId][timeoutMs]               learner: REVALIDATE to the leader
//     TOUCHES            [count]{[sessionId][timeoutMs]}      learner: sessions its clients touched
//     RELOADED           [lastZxid]                           the role is left, the tree reloaded from disk
//     TRUNCATED          [zxid][u8 ok]                        the log worker cut the log after zxid
//
//   quorum/out  quorum worker → pipeline (FromQuorum)
//     LEAVE              (empty)                              close clients, reload from disk, answer RELOADED
//     LEAD               [zxid][count]{[sid]}                 leader established at epoch zxid with these voters: serve
//     ACK                [sid][zxid]                          leader: a follower's ACK
//     LEARNER_REQUEST    [sid][sessionId][cxid][type][ids][record]
//     TOUCH_SESSIONS     [count]{[sessionId][timeoutMs]}      leader: a PING answer's touches
//     REVALIDATE_SESSION [sid][sessionId][timeoutMs]          leader: answer with REVALIDATE_ANSWER
//     FOLLOW             [u8 observer]                        learner: take the role, not serving yet
//     TRUNCATE           [zxid]                               learner: TRUNC; answer TRUNCATED
//     RELOAD             (empty)                              learner: the tree is on disk (SNAP/TRUNC sync); load it
//     PROPOSAL           [zxid][txn]                          learner
//     COMMIT_PROPOSAL    [zxid]                               learner
//     INFORM             [zxid][txn]                          observer
//     REVALIDATED        [sessionId][u8 valid]                learner
//     SYNCED             (empty)                              learner
//     SERVE              [zxid]                               learner: UPTODATE, serve from zxid
//     READ_ONLY          [u8 on]                              readonlymode.enabled: looking for long, serve read-only clients
//                                                             (on), or an election decided: stop, close them (off)
//     CONFIG             [version][text]                      the config activated (QuorumMaj.toString): /zookeeper/config
//     LEARNERS           [count]{[sid]}                       leader: the followers synced now (Leader.isQuorumSynced)
//
// Fields are jute: zxid and sid are longs (numbers within 2^53), sessionId a long (bigint),
// cxid, type, timeoutMs and counts ints, ids a count then (scheme, id) string pairs; a txn
// or record runs to the end of the payload. Ring capacity is sized for the largest txn
// (engine/rings/topology.ts).
//
// quorum-words (Int32Array): what the quorum worker publishes for mntr and srvr (the
// pipeline reads them when a four-letter word asks): QuorumWord.* below.
import { JuteReader, type JuteWriter } from '../../native-free-io/jute.ts';
import type { Id } from '../protocol.ts';

export const ToQuorum = {
  PROPOSE: 1, COMMIT: 2, SYNCED: 3, REVALIDATE_ANSWER: 4, FORWARD: 5, REVALIDATE: 6, TOUCHES: 7, RELOADED: 8, TRUNCATED: 9,
} as const;

export const FromQuorum = {
  LEAVE: 1, LEAD: 2, ACK: 3, LEARNER_REQUEST: 4, TOUCH_SESSIONS: 5, REVALIDATE_SESSION: 6, FOLLOW: 7, TRUNCATE: 8, RELOAD: 9,
  PROPOSAL: 10, COMMIT_PROPOSAL: 11, INFORM: 12, REVALIDATED: 13, SYNCED: 14, SERVE: 15, READ_ONLY: 16, CONFIG: 17, LEARNERS: 18,
} as const;

export type ToQuorumMessage =
  | { kind: typeof ToQuorum.PROPOSE; zxid: number; txn: Buffer }
  | { kind: typeof ToQuorum.COMMIT; zxid: number }
  | { kind: typeof ToQuorum.SYNCED; sid: number }
  | { kind: typeof ToQuorum.REVALIDATE_ANSWER; sid: number; sessionId: bigint; valid: boolean }
  | { kind: typeof ToQuorum.FORWARD; sessionId: bigint; cxid: number; type: number; authIds: Id[]; record: Buffer }
  | { kind: typeof ToQuorum.REVALIDATE; sessionId: bigint; timeoutMs: number }
  | { kind: typeof ToQuorum.TOUCHES; touches: Map<bigint, number> }
  | { kind: typeof ToQuorum.RELOADED; lastZxid: number }
  | { kind: typeof ToQuorum.TRUNCATED; zxid: number; ok: boolean };

export type FromQuorumMessage =
  | { kind: typeof FromQuorum.LEAVE }
  | { kind: typeof FromQuorum.LEAD; zxid: number; voters: number[] }
  | { kind: typeof FromQuorum.ACK; sid: number; zxid: number }
  | { kind: typeof FromQuorum.LEARNER_REQUEST; sid: number; sessionId: bigint; cxid: number; type: number; authIds: Id[]; record: Buffer }
  | { kind: typeof FromQuorum.TOUCH_SESSIONS; touches: Map<bigint, number> }
  | { kind: typeof FromQuorum.REVALIDATE_SESSION; sid: number; sessionId: bigint; timeoutMs: number }
  | { kind: typeof FromQuorum.FOLLOW; observer: boolean }
  | { kind: typeof FromQuorum.TRUNCATE; zxid: number }
  | { kind: typeof FromQuorum.RELOAD }
  | { kind: typeof FromQuorum.PROPOSAL; zxid: number; txn: Buffer }
  | { kind: typeof FromQuorum.COMMIT_PROPOSAL; zxid: number }
  | { kind: typeof FromQuorum.INFORM; zxid: number; txn: Buffer }
  | { kind: typeof FromQuorum.REVALIDATED; sessionId: bigint; valid: boolean }
  | { kind: typeof FromQuorum.SYNCED }
  | { kind: typeof FromQuorum.SERVE; zxid: number }
  | { kind: typeof FromQuorum.READ_ONLY; on: boolean }
  | { kind: typeof FromQuorum.CONFIG; version: bigint; text: string }
  | { kind: typeof FromQuorum.LEARNERS; sids: number[] };

/** Writes msg's payload into w (reset first); the kind is the ring record's. */
export function encodeToQuorum(w: JuteWriter, m: ToQuorumMessage): Buffer {
  w.reset();
  switch (m.kind) {
    case ToQuorum.PROPOSE: return raw(w.longNumber(m.zxid), m.txn);
    case ToQuorum.COMMIT: return w.longNumber(m.zxid).view();
    case ToQuorum.SYNCED: return w.longNumber(m.sid).view();
    case ToQuorum.REVALIDATE_ANSWER: return w.longNumber(m.sid).long(m.sessionId).bool(m.valid).view();
    case ToQuorum.FORWARD: return raw(ids(w.long(m.sessionId).int(m.cxid).int(m.type), m.authIds), m.record);
    case ToQuorum.REVALIDATE: return w.long(m.sessionId).int(m.timeoutMs).view();
    case ToQuorum.TOUCHES: return touches(w, m.touches).view();
    case ToQuorum.RELOADED: return w.longNumber(m.lastZxid).view();
    case ToQuorum.TRUNCATED: return w.longNumber(m.zxid).bool(m.ok).view();
  }
}

export function decodeToQuorum(kind: number, payload: Buffer): ToQuorumMessage {
  const r = new JuteReader(payload);
  switch (kind) {
    case ToQuorum.PROPOSE: return { kind, zxid: r.longNumber(), txn: rest(r, payload) };
    case ToQuorum.COMMIT: return { kind, zxid: r.longNumber() };
    case ToQuorum.SYNCED: return { kind, sid: r.longNumber() };
    case ToQuorum.REVALIDATE_ANSWER: return { kind, sid: r.longNumber(), sessionId: r.long(), valid: r.bool() };
    case ToQuorum.FORWARD: {
      const sessionId = r.long();
      const cxid = r.int();
      const type = r.int();
      const authIds = readIds(r);
      return { kind, sessionId, cxid, type, authIds, record: rest(r, payload) };
    }
    case ToQuorum.REVALIDATE: return { kind, sessionId: r.long(), timeoutMs: r.int() };
    case ToQuorum.TOUCHES: return { kind, touches: readTouches(r) };
    case ToQuorum.RELOADED: return { kind, lastZxid: r.longNumber() };
    case ToQuorum.TRUNCATED: return { kind, zxid: r.longNumber(), ok: r.bool() };
    default: throw new Error(`quorum/in: unknown record kind ${kind}`);
  }
}

export function encodeFromQuorum(w: JuteWriter, m: FromQuorumMessage): Buffer {
  w.reset();
  switch (m.kind) {
    case FromQuorum.LEAVE: case FromQuorum.RELOAD: case FromQuorum.SYNCED: return w.view();
    case FromQuorum.LEAD: {
      w.longNumber(m.zxid).int(m.voters.length);
      for (const sid of m.voters) w.longNumber(sid);
      return w.view();
    }
    case FromQuorum.ACK: return w.longNumber(m.sid).longNumber(m.zxid).view();
    case FromQuorum.LEARNER_REQUEST: return raw(ids(w.longNumber(m.sid).long(m.sessionId).int(m.cxid).int(m.type), m.authIds), m.record);
    case FromQuorum.TOUCH_SESSIONS: return touches(w, m.touches).view();
    case FromQuorum.REVALIDATE_SESSION: return w.longNumber(m.sid).long(m.sessionId).int(m.timeoutMs).view();
    case FromQuorum.FOLLOW: return w.bool(m.observer).view();
    case FromQuorum.TRUNCATE: case FromQuorum.COMMIT_PROPOSAL: case FromQuorum.SERVE: return w.longNumber(m.zxid).view();
    case FromQuorum.PROPOSAL: case FromQuorum.INFORM: return raw(w.longNumber(m.zxid), m.txn);
    case FromQuorum.REVALIDATED: return w.long(m.sessionId).bool(m.valid).view();
    case FromQuorum.READ_ONLY: return w.bool(m.on).view();
    case FromQuorum.CONFIG: return w.long(m.version).string(m.text).view();
    case FromQuorum.LEARNERS: {
      w.int(m.sids.length);
      for (const sid of m.sids) w.longNumber(sid);
      return w.view();
    }
  }
}

export function decodeFromQuorum(kind: number, payload: Buffer): FromQuorumMessage {
  const r = new JuteReader(payload);
  switch (kind) {
    case FromQuorum.LEAVE: case FromQuorum.RELOAD: case FromQuorum.SYNCED: return { kind };
    case FromQuorum.LEAD: {
      const zxid = r.longNumber();
      const count = r.int();
      const voters: number[] = [];
      for (let i = 0; i < count; i++) voters.push(r.longNumber());
      return { kind, zxid, voters };
    }
    case FromQuorum.ACK: return { kind, sid: r.longNumber(), zxid: r.longNumber() };
    case FromQuorum.LEARNER_REQUEST: {
      const sid = r.longNumber();
      const sessionId = r.long();
      const cxid = r.int();
      const type = r.int();
      const authIds = readIds(r);
      return { kind, sid, sessionId, cxid, type, authIds, record: rest(r, payload) };
    }
    case FromQuorum.TOUCH_SESSIONS: return { kind, touches: readTouches(r) };
    case FromQuorum.REVALIDATE_SESSION: return { kind, sid: r.longNumber(), sessionId: r.long(), timeoutMs: r.int() };
    case FromQuorum.FOLLOW: return { kind, observer: r.bool() };
    case FromQuorum.TRUNCATE: case FromQuorum.COMMIT_PROPOSAL: case FromQuorum.SERVE: return { kind, zxid: r.longNumber() };
    case FromQuorum.PROPOSAL: case FromQuorum.INFORM: return { kind, zxid: r.longNumber(), txn: rest(r, payload) };
    case FromQuorum.REVALIDATED: return { kind, sessionId: r.long(), valid: r.bool() };
    case FromQuorum.READ_ONLY: return { kind, on: r.bool() };
    case FromQuorum.CONFIG: return { kind, version: r.long(), text: r.ustring() };
    case FromQuorum.LEARNERS: {
      const count = r.int();
      const sids: number[] = [];
      for (let i = 0; i < count; i++) sids.push(r.longNumber());
      return { kind, sids };
    }
    default: throw new Error(`quorum/out: unknown record kind ${kind}`);
  }
}

/** Appends bytes with no length prefix (a txn or record that runs to the end of the payload). */
function raw(w: JuteWriter, bytes: Buffer): Buffer {
  const at = w.offset;
  const end = at + bytes.length;
  if (w.buf.length < end) {
    const bigger = Buffer.allocUnsafe(Math.max(end, w.buf.length * 2));
    w.buf.copy(bigger, 0, 0, at);
    w.buf = bigger;
  }
  w.buf.set(bytes, at);
  w.offset = end;
  return w.view();
}

function ids(w: JuteWriter, authIds: readonly Id[]): JuteWriter {
  w.int(authIds.length);
  for (const a of authIds) w.string(a.scheme).string(a.id);
  return w;
}

function readIds(r: JuteReader): Id[] {
  const count = r.int();
  if (count < 0 || count * 8 > r.remaining()) throw new Error(`quorum ring: ${count} auth ids`);
  const out: Id[] = [];
  for (let i = 0; i < count; i++) out.push({ scheme: r.ustring(), id: r.ustring() });
  return out;
}

function touches(w: JuteWriter, t: ReadonlyMap<bigint, number>): JuteWriter {
  w.int(t.size);
  for (const [id, timeoutMs] of t) w.long(id).int(timeoutMs);
  return w;
}

function readTouches(r: JuteReader): Map<bigint, number> {
  const count = r.int();
  if (count < 0 || count * 12 > r.remaining()) throw new Error(`quorum ring: ${count} touches`);
  const out = new Map<bigint, number>();
  for (let i = 0; i < count; i++) out.set(r.long(), r.int());
  return out;
}

/** The rest of the payload after what r has read (a copy: ring bytes are reused). */
function rest(r: JuteReader, payload: Buffer): Buffer {
  return Buffer.from(payload.subarray(r.offset));
}

// ---- quorum-words: Int32 indexes
export const QuorumWord = {
  /** 0 LOOKING, 1 FOLLOWING, 2 LEADING, 3 OBSERVING (wire.ts ServerState). */
  PEER_STATE: 0,
  /** 0 election, 1 discovery, 2 synchronization, 3 broadcast (QuorumPeer.ZabState). */
  ZAB_STATE: 1,
  /** 0 none, 1 diff, 2 snap, 3 trunc (QuorumPeer.SyncMode). */
  SYNC_MODE: 2,
  /** Leader: learner connections, followers forwarding (synced), observers forwarding. */
  LEARNERS: 3,
  SYNCED_FOLLOWERS: 4,
  SYNCED_OBSERVERS: 5,
} as const;
export const QUORUM_WORDS_BYTES = 64;

const PEER_STATES = ['looking', 'following', 'leading', 'observing'];
export const ZAB_STATES = ['election', 'discovery', 'synchronization', 'broadcast'];
const SYNC_MODES = ['none', 'diff', 'snap', 'trunc'];

/** QuorumPeer.getDetailedPeerState: "following - broadcast", "leading - synchronization - diff", "looking". */
export function detailedPeerState(words: Int32Array): string {
  let s = PEER_STATES[Atomics.load(words, QuorumWord.PEER_STATE)] ?? 'looking';
  const zab = Atomics.load(words, QuorumWord.ZAB_STATE);
  if (zab !== 0) s += ` - ${ZAB_STATES[zab]}`;
  const sync = Atomics.load(words, QuorumWord.SYNC_MODE);
  if (sync !== 0) s += ` - ${SYNC_MODES[sync]}`;
  return s;
}
