// A follower's and an observer's pipeline (engine/core/learner.ts), as the pure state
// machine it is: client frames in, and the leader's stream (PROPOSAL, COMMIT, INFORM,
// REVALIDATE answers, SYNC) played by the test with txns it encodes itself. What must hold:
// writes go to the leader with the client's auth ids, nothing is applied before its COMMIT,
// a session's replies keep their order across forwarded writes and local reads, replies are
// made from the committed txn, and a COMMIT that does not match the proposals is refused.
import { connectFrame, request, createRequest, replyHeader } from '../support/frames.ts';
import { describe, it, expect, beforeEach } from 'vitest';
import { Pipeline, type PipelineOptions, type PipelineRole } from '../../engine/core/pipeline.ts';
import { LearnerDesyncError } from '../../engine/core/learner.ts';
import { JuteReader, JuteWriter } from '../../native-free-io/jute.ts';
import { type Id, type TxnHeader, Op, Err, OPEN_ACL_UNSAFE } from '../../engine/protocol.ts';
import { type Txn, type CreateTxn, encodeTxn } from '../../engine/core/txn.ts';
import { sessionPassword } from '../../engine/core/sessions.ts';

interface Sent { conn: number; frame: Buffer }
interface Forward { sessionId: bigint; cxid: number; type: number; record: Buffer; authIds: readonly Id[] }

let now = 0;
const WALL_MS = 1_700_000_000_000;
let sent: Sent[];
let closed: number[];
let logged: number[];
let forwards: Forward[];
let revalidations: { sessionId: bigint; timeoutMs: number }[];
let p: Pipeline;
/** The leader's next zxid (epoch 1). */
let nextZxid: number;

function start(role: PipelineRole, extra: Partial<PipelineOptions> = {}): void {
  now = 0;
  sent = [];
  closed = [];
  logged = [];
  forwards = [];
  revalidations = [];
  nextZxid = 0x1_0000_0001;
  const opts: PipelineOptions = {
    tickMs: 100, minSessionTimeoutMs: 200, maxSessionTimeoutMs: 20_000, serverId: 2, superDigest: null,
    extendedTypesEnabled: false, containerCheckIntervalMs: 60_000, containerMaxPerMinute: 10_000,
    containerMaxNeverUsedIntervalMs: 0, enforceQuota: false, maxReplyBytes: 0xfffff, txnBytesMax: 2 * 0xfffff,
    nowMs: () => now, wallMs: () => WALL_MS, role, ...extra,
  };
  p = new Pipeline(opts, {
    send: (conn, frame) => sent.push({ conn, frame: Buffer.from(frame) }),
    close: (conn) => closed.push(conn),
    appendLog: (zxid) => logged.push(zxid),
    learner: {
      forward: (sessionId, cxid, type, record, authIds) => forwards.push({ sessionId, cxid, type, record: Buffer.from(record), authIds: [...authIds] }),
      revalidate: (sessionId, timeoutMs) => revalidations.push({ sessionId, timeoutMs }),
    },
  });
  p.recovered();
}





/** The leader proposes and commits txn (made for sessionId/cxid): returns its zxid. */
function leaderCommits(sessionId: bigint, cxid: number, type: number, txn: Txn, commit = true): number {
  const zxid = nextZxid++;
  const hdr: TxnHeader = { sessionId, cxid, zxid, timeMs: WALL_MS, type };
  const w = new JuteWriter(1024);
  encodeTxn(w, hdr, txn);
  p.proposal(zxid, w.copy());
  if (commit) p.commitProposal(zxid);
  return zxid;
}

/** A client session on connection conn, created through the leader. */
function session(conn: number, timeoutMs = 4000): bigint {
  p.connect(conn, '10.0.0.9', 4000 + conn, connectFrame(timeoutMs));
  const f = forwards.pop()!;
  expect(f.type).toBe(Op.createSession);
  expect(f.cxid).toBe(0);
  expect(f.record.readInt32BE(0)).toBe(timeoutMs);
  expect(sent.filter((s) => s.conn === conn)).toEqual([]); // answered once the leader commits it
  leaderCommits(f.sessionId, 0, Op.createSession, { type: Op.createSession, timeoutMs });
  return f.sessionId;
}

describe('a follower with local sessions (localSessionsEnabled)', () => {
  /** An ephemeral create request. */
  const ephemeralCreate = (xid: number, path: string) => request(xid, Op.create, (w) => {
    w.string(path).buffer(Buffer.from('v')).int(1).int(31).string('world').string('anyone').int(1);
  });
  /** A local session on conn: answered at once, nothing forwarded, nothing logged. */
  function localSession(conn: number, timeoutMs = 400): bigint {
    p.connect(conn, '10.0.0.9', 4000 + conn, connectFrame(timeoutMs));
    expect(forwards).toEqual([]);
    expect(logged).toEqual([]);
    const r = new JuteReader(sent.filter((s) => s.conn === conn)[0].frame, 4);
    r.int();
    expect(r.int()).toBe(timeoutMs);
    return r.long();
  }

  it('keeps a session to itself: answered at once, reported on no PING, expired here with no txn', () => {
    start('follower', { localSessionsEnabled: true });
    const id = localSession(1);
    expect(Number(BigInt.asUintN(64, id) >> 56n)).toBe(2);
    p.request(1, request(1, Op.exists, (w) => w.string('/').bool(false)));
    expect(p.learner!.takeTouches().size).toBe(0); // nothing for the leader's PING
    expect([p.sessions.localSessionCount(), p.sessions.globalCount()]).toEqual([1, 0]);
    now += 1_000; // past its 400 ms timeout, no request
    p.tick();
    expect(closed).toEqual([1]);
    expect(p.sessions.size()).toBe(0);
    expect([forwards, logged]).toEqual([[], []]);
  });

  it('closes a local session here: the reply names the last zxid, nothing goes to the leader', () => {
    start('follower', { localSessionsEnabled: true });
    localSession(1);
    sent = [];
    p.request(1, request(5, Op.closeSession, () => {}));
    expect(sent.map((s) => replyHeader(s.frame))).toEqual([{ xid: 5, zxid: p.tree.lastZxid, err: Err.OK }]);
    expect([forwards, closed, p.sessions.size()]).toEqual([[], [1], 0]);
  });

  it('upgrades a local session on its first ephemeral create: createSession goes to the leader first, then the create', () => {
    start('follower', { localSessionsEnabled: true, localSessionsUpgradingEnabled: true });
    const id = localSession(1, 4000);
    p.request(1, createRequest(2, '/p'));
    expect(forwards.map((f) => f.type)).toEqual([Op.create]); // a persistent node needs no global session
    p.request(1, ephemeralCreate(3, '/e'));
    expect(forwards.slice(1).map((f) => [f.sessionId, f.cxid, f.type])).toEqual([[id, 0, Op.createSession], [id, 3, Op.create]]);
    expect(forwards[1].record.readInt32BE(0)).toBe(4000);
    expect(p.learner!.takeTouches().get(id)).toBe(4000); // global now: the leader hears of it
    expect([p.sessions.localSessionCount(), p.sessions.globalCount()]).toEqual([0, 1]);
  });

  it('without upgrading, answers the ephemeral create EPHEMERALONLOCALSESSION once the leader\'s error txn commits', () => {
    start('follower', { localSessionsEnabled: true });
    const id = localSession(1);
    sent = [];
    p.request(1, ephemeralCreate(3, '/e'));
    expect(forwards.map((f) => [f.cxid, f.type])).toEqual([[3, Op.create]]);
    const zxid = leaderCommits(id, 3, Op.error, { type: Op.error, err: Err.SESSIONEXPIRED });
    expect(sent.map((s) => replyHeader(s.frame))).toEqual([{ xid: 3, zxid, err: Err.EPHEMERALONLOCALSESSION }]);
    expect(p.sessions.localSessionCount()).toBe(1);
  });
});

describe('a follower', () => {
  beforeEach(() => start('follower'));

  it('creates sessions through the leader: ids of its own, ZooKeeper passwords, answered at the commit', () => {
    const id = session(1);
    expect(Number(BigInt.asUintN(64, id) >> 56n)).toBe(2); // this server's id in the top byte
    const r = new JuteReader(sent[0].frame, 4);
    expect([r.int(), r.int(), r.long(), r.buffer()]).toEqual([0, 4000, id, sessionPassword(id)]);
    expect(logged).toEqual([0x1_0000_0001]);
    expect(p.tree.lastZxid).toBe(0x1_0000_0001);
  });

  it('forwards writes with the client auth ids, applies nothing before the COMMIT, and answers from the committed txn', () => {
    const id = session(1);
    sent = [];
    p.request(1, createRequest(7, '/a', Op.create2));
    const f = forwards.pop()!;
    expect([f.sessionId, f.cxid, f.type]).toEqual([id, 7, Op.create2]);
    expect(f.record.equals(createRequest(7, '/a', Op.create2).subarray(8))).toBe(true);
    expect(f.authIds).toEqual([{ scheme: 'ip', id: '10.0.0.9' }]);
    // a read of the same session waits behind the write; another session's read does not
    p.request(1, request(8, Op.exists, (w) => w.string('/a').bool(false)));
    const other = session(2);
    expect(other).not.toBe(id);
    sent = [];
    p.request(2, request(1, Op.exists, (w) => w.string('/a').bool(false)));
    expect(sent.map((s) => [s.conn, replyHeader(s.frame).err])).toEqual([[2, Err.NONODE]]);
    const zxid = leaderCommits(id, 7, Op.create2, { type: Op.create2, path: '/a', data: Buffer.from('v'), acls: [...OPEN_ACL_UNSAFE], ephemeral: false, parentCVersion: 1, ttlMs: 0 }, false);
    expect(p.tree.get('/a')).toBeUndefined(); // proposed, logged, not applied
    expect(logged).toContain(zxid);
    p.commitProposal(zxid);
    const mine = sent.filter((s) => s.conn === 1);
    expect(mine.map((s) => replyHeader(s.frame))).toEqual([{ xid: 7, zxid, err: Err.OK }, { xid: 8, zxid, err: Err.OK }]);
    const r = new JuteReader(mine[0].frame, 4 + 16);
    expect(r.ustring()).toBe('/a');
    expect(r.longNumber()).toBe(zxid); // create2's Stat: czxid
  });

  it('answers the leader error txn with its code', () => {
    const id = session(1);
    sent = [];
    p.request(1, request(3, Op.setData, (w) => w.string('/nope').buffer(Buffer.from('x')).int(-1)));
    const zxid = leaderCommits(id, 3, Op.error, { type: Op.error, err: Err.NONODE }); // an error txn's header names error
    expect(sent.map((s) => replyHeader(s.frame))).toEqual([{ xid: 3, zxid, err: Err.NONODE }]);
  });

  it('answers a multi op by op, and a failed one with OK, its code, RUNTIMEINCONSISTENCY', () => {
    const id = session(1);
    sent = [];
    p.request(1, request(4, Op.multi, (w) => w.int(-1).bool(true).int(-1))); // the body is the leader's to read
    const create: CreateTxn = { type: Op.create2, path: '/m', data: Buffer.from('v'), acls: [...OPEN_ACL_UNSAFE], ephemeral: false, parentCVersion: 1, ttlMs: 0 };
    const zxid = leaderCommits(id, 4, Op.multi, { type: Op.multi, txns: [create, { type: Op.setData, path: '/m', data: Buffer.from('vv'), version: 1 }] });
    const r = new JuteReader(sent[0].frame, 4 + 16);
    expect([r.int(), r.bool(), r.int(), r.ustring()]).toEqual([Op.create2, false, 0, '/m']);
    const createStat = [r.longNumber(), r.longNumber(), r.longNumber(), r.longNumber(), r.int()];
    expect(createStat).toEqual([zxid, zxid, WALL_MS, WALL_MS, 0]); // version 0: as the create left it
    r.int(); r.int(); r.long(); r.int(); r.int(); r.longNumber();
    expect([r.int(), r.bool(), r.int()]).toEqual([Op.setData, false, 0]);
    r.longNumber(); r.longNumber(); r.longNumber(); r.longNumber();
    expect(r.int()).toBe(1); // the setData's version
    p.request(1, request(5, Op.multi, (w) => w.int(-1).bool(true).int(-1)));
    sent = [];
    leaderCommits(id, 5, Op.multi, { type: Op.multi, txns: [{ type: Op.check, path: '/m', version: 1 }, { type: Op.error, err: Err.BADVERSION }, { type: Op.error, err: Err.RUNTIMEINCONSISTENCY }] });
    const f = new JuteReader(sent[0].frame, 4 + 16);
    const results = [0, 1, 2].map(() => [f.int(), f.bool(), f.int(), f.int()]);
    expect(results).toEqual([[Op.error, false, 0, 0], [Op.error, false, Err.BADVERSION, Err.BADVERSION], [Op.error, false, Err.RUNTIMEINCONSISTENCY, Err.RUNTIMEINCONSISTENCY]]);
  });

  it('fires watches when a commit changes what they watch', () => {
    const writer = session(1);
    session(2);
    leaderCommits(writer, 1, Op.create, { type: Op.create, path: '/w', data: Buffer.from('1'), acls: [...OPEN_ACL_UNSAFE], ephemeral: false, parentCVersion: 1, ttlMs: 0 });
    p.request(2, request(9, Op.getData, (w) => w.string('/w').bool(true)));
    sent = [];
    const zxid = leaderCommits(writer, 2, Op.setData, { type: Op.setData, path: '/w', data: Buffer.from('2'), version: 1 });
    expect(sent.map((s) => [s.conn, replyHeader(s.frame)])).toEqual([[2, { xid: -1, zxid: -1, err: 0 }]]);
    expect(p.tree.lastZxid).toBe(zxid);
  });

  it('revalidates a reconnect with the leader; a wrong password is refused here', () => {
    const id = session(1);
    p.disconnect(1);
    sent = [];
    p.connect(3, '10.0.0.9', 4003, connectFrame(6000, id, sessionPassword(id)));
    expect(revalidations).toEqual([{ sessionId: id, timeoutMs: 6000 }]);
    expect(sent).toEqual([]);
    p.revalidated(id, true);
    const r = new JuteReader(sent[0].frame, 4);
    expect([r.int(), r.int(), r.long()]).toEqual([0, 6000, id]);
    sent = [];
    p.connect(4, '10.0.0.9', 4004, connectFrame(6000, id, Buffer.alloc(16)));
    expect(new JuteReader(sent[0].frame, 8).int()).toBe(0); // timeout 0: invalid session
    expect(closed).toContain(4);
    p.connect(5, '10.0.0.9', 4005, connectFrame(6000, id, sessionPassword(id)));
    sent = [];
    p.revalidated(id, false); // expired at the leader
    expect(new JuteReader(sent[0].frame, 8).int()).toBe(0);
    expect(closed).toContain(5);
  });

  it('closes a session through the leader: the reply, then the connection, and its ephemerals gone', () => {
    const id = session(1);
    leaderCommits(id, 1, Op.create, { type: Op.create, path: '/e', data: Buffer.alloc(0), acls: [...OPEN_ACL_UNSAFE], ephemeral: true, parentCVersion: 1, ttlMs: 0 });
    expect(p.tree.ephemerals.get(id)?.size).toBe(1);
    sent = [];
    p.request(1, request(2, Op.closeSession, () => {}));
    const zxid = leaderCommits(id, 2, Op.closeSession, { type: Op.closeSession, paths: ['/e'], listed: true });
    expect(sent.map((s) => replyHeader(s.frame))).toEqual([{ xid: 2, zxid, err: Err.OK }]);
    expect(closed).toEqual([1]);
    expect(p.tree.get('/e')).toBeUndefined();
    expect(p.sessions.get(id)).toBeUndefined();
  });

  it('answers a sync when the leader says the tree has caught up', () => {
    session(1);
    sent = [];
    p.request(1, request(6, Op.sync, (w) => w.string('/x')));
    expect(forwards.pop()!.type).toBe(Op.sync);
    expect(sent).toEqual([]);
    p.synced();
    const r = new JuteReader(sent[0].frame, 4);
    expect([r.int(), r.longNumber(), r.int(), r.ustring()]).toEqual([6, p.tree.lastZxid, Err.OK, '/x']);
  });


  it('keeps many writes of a connection out at the leader, answering reads between them in order', () => {
    const id = session(1);
    sent = [];
    forwards = [];
    const create = (path: string): Txn => ({ type: Op.create, path, data: Buffer.from('v'), acls: [...OPEN_ACL_UNSAFE], ephemeral: false, parentCVersion: 1, ttlMs: 0 });
    p.request(1, createRequest(7, '/a'));
    p.request(1, request(8, Op.exists, (w) => w.string('/a').bool(false))); // held behind 7
    p.request(1, createRequest(9, '/b')); // forwarded at once, behind 7
    p.request(1, request(10, Op.exists, (w) => w.string('/b').bool(false))); // held behind 9
    expect(forwards.map((f) => f.cxid)).toEqual([7, 9]);
    expect(sent).toEqual([]);
    const a = leaderCommits(id, 7, Op.create, create('/a'));
    // 8 sees /a and not /b: it runs at 7's commit, before 9's
    expect(sent.map((s) => replyHeader(s.frame))).toEqual([{ xid: 7, zxid: a, err: Err.OK }, { xid: 8, zxid: a, err: Err.OK }]);
    sent = [];
    const b = leaderCommits(id, 9, Op.create, create('/b'));
    expect(sent.map((s) => replyHeader(s.frame))).toEqual([{ xid: 9, zxid: b, err: Err.OK }, { xid: 10, zxid: b, err: Err.OK }]);
    expect(p.learner!.pendingCount).toBe(0);
    expect(p.learner!.busy(1)).toBe(false);
  });

  it('holds writes behind a sync (and the sync behind writes) until it is answered', () => {
    const id = session(1);
    sent = [];
    forwards = [];
    p.request(1, createRequest(11, '/c'));
    p.request(1, request(12, Op.sync, (w) => w.string('/')));
    p.request(1, createRequest(13, '/d'));
    expect(forwards.map((f) => f.cxid)).toEqual([11]);
    leaderCommits(id, 11, Op.create, { type: Op.create, path: '/c', data: Buffer.alloc(0), acls: [...OPEN_ACL_UNSAFE], ephemeral: false, parentCVersion: 1, ttlMs: 0 });
    expect(sent.map((s) => replyHeader(s.frame).xid)).toEqual([11]);
    expect(forwards.map((f) => [f.cxid, f.type])).toEqual([[11, Op.create], [12, Op.sync]]);
    p.synced();
    expect(sent.map((s) => replyHeader(s.frame).xid)).toEqual([11, 12]);
    expect(forwards.map((f) => f.cxid)).toEqual([11, 12, 13]);
  });

  it('holds writes behind an auth held behind a write (they carry its ids)', () => {
    session(1);
    forwards = [];
    p.request(1, createRequest(21, '/e'));
    p.request(1, request(22, Op.auth, (w) => w.int(0).string('digest').buffer(Buffer.from('u:p'))));
    p.request(1, createRequest(23, '/f'));
    expect(forwards.map((f) => f.cxid)).toEqual([21]);
  });
  it('refuses a COMMIT that is not the oldest proposal, and one with no proposal', () => {
    session(1);
    const a = leaderCommits(5n, 1, Op.createSession, { type: Op.createSession, timeoutMs: 4000 }, false);
    const b = leaderCommits(6n, 1, Op.createSession, { type: Op.createSession, timeoutMs: 4000 }, false);
    expect(() => p.commitProposal(b)).toThrow(LearnerDesyncError);
    p.commitProposal(a);
    p.commitProposal(b);
    expect(() => p.commitProposal(b + 1)).toThrow(LearnerDesyncError);
    expect(() => p.proposal(a, Buffer.from(''))).toThrow(LearnerDesyncError);
  });

  it('expires nothing itself, ignores its own durable signal, and reports touched sessions', () => {
    const id = session(1, 400);
    p.learner!.takeTouches();
    p.request(1, request(1, Op.ping, () => {}));
    expect([...p.learner!.takeTouches()]).toEqual([[id, 400]]);
    now = 60_000;
    p.tick();
    expect(p.sessions.get(id)).toBeDefined();
    const committed = p.durableZxid;
    p.durable(committed + 10);
    expect(p.durableZxid).toBe(committed);
  });
});

describe('an observer', () => {
  beforeEach(() => start('observer'));

  it('logs and applies an INFORM at once', () => {
    const id = 0x0300_0000_0000_0001n;
    const zxid = nextZxid++;
    const w = new JuteWriter(256);
    encodeTxn(w, { sessionId: id, cxid: 0, zxid, timeMs: WALL_MS, type: Op.createSession }, { type: Op.createSession, timeoutMs: 3000 });
    p.inform(zxid, w.copy());
    expect(logged).toEqual([zxid]);
    expect(p.sessions.get(id)?.timeoutMs).toBe(3000);
    expect(p.learner!.observer).toBe(true);
    expect(p.learner!.uncommittedCount).toBe(0);
  });
});
