// The pipeline's read-only role (engine/core/read-only.ts), as a pure state machine: an ensemble
// server that lost its quorum (readonlymode.enabled) serves read-only clients from the tree it
// has. What must hold, as ZooKeeper 3.8's ReadOnlyZooKeeperServer: a client that did not ask for
// read-only and a session of the ensemble are closed without an answer; new sessions are local
// (nothing logged) and said read-only; ReadOnlyRequestProcessor's writes and sync get NOTREADONLY
// with the tree's zxid; reads are served; the mode's sessions expire locally, the ensemble's do
// not; leaving the role drops the mode's sessions and nothing else.
import { request, createRequest, replyHeader } from '../support/frames.ts';
import { describe, it, expect, beforeEach } from 'vitest';
import { Pipeline, type PipelineOptions } from '../../engine/core/pipeline.ts';
import { JuteReader, JuteWriter } from '../../native-free-io/jute.ts';
import { Op, Err } from '../../engine/protocol.ts';

interface Sent { conn: number; frame: Buffer }

const SERVER_ID = 3;
let now = 0;
let sent: Sent[];
let closed: number[];
let logged: number[];
let p: Pipeline;
let globalSession: { id: bigint; passwd: Buffer };

function connectFrame(readOnly: boolean, timeoutMs = 4_000, sessionId = 0n, passwd: Buffer = Buffer.alloc(16)): Buffer {
  return new JuteWriter(128).int(0).longNumber(0).int(timeoutMs).long(sessionId).buffer(passwd).bool(readOnly).copy();
}

/** A ConnectResponse: timeout, session id, password, readOnly. */
function connectResponse(frame: Buffer): { timeoutMs: number; sessionId: bigint; passwd: Buffer; readOnly: boolean } {
  const r = new JuteReader(frame, 4);
  r.int();
  return { timeoutMs: r.int(), sessionId: r.long(), passwd: Buffer.from(r.buffer()!), readOnly: r.bool() };
}

function sentTo(conn: number): Buffer[] {
  return sent.filter((s) => s.conn === conn).map((s) => s.frame);
}

/** A read-only session on `conn`; its id and password. */
function readOnlySession(conn: number, timeoutMs = 4_000): { id: bigint; passwd: Buffer } {
  p.connect(conn, '10.0.0.7', 5000 + conn, connectFrame(true, timeoutMs));
  const frames = sentTo(conn);
  expect(frames).toHaveLength(1);
  const hello = connectResponse(frames[0]);
  expect(hello.readOnly).toBe(true);
  return { id: hello.sessionId, passwd: hello.passwd };
}

beforeEach(() => {
  now = 0;
  sent = [];
  closed = [];
  logged = [];
  const opts: PipelineOptions = {
    tickMs: 100, minSessionTimeoutMs: 200, maxSessionTimeoutMs: 20_000, serverId: SERVER_ID, superDigest: null,
    extendedTypesEnabled: false, containerCheckIntervalMs: 60_000, containerMaxPerMinute: 10_000,
    containerMaxNeverUsedIntervalMs: 0, enforceQuota: false, maxReplyBytes: 0xfffff, txnBytesMax: 2 * 0xfffff,
    nowMs: () => now, wallMs: () => 1_700_000_000_000,
  };
  p = new Pipeline(opts, {
    send: (conn, frame) => sent.push({ conn, frame: Buffer.from(frame) }),
    close: (conn) => closed.push(conn),
    appendLog: (zxid) => logged.push(zxid),
  });
  p.recovered();
  // the ensemble's state before the quorum was lost: a session and /a
  p.connect(1, '10.0.0.1', 4001, connectFrame(false));
  p.request(1, createRequest(1, '/a'));
  p.durable(p.tree.lastZxid);
  globalSession = (({ sessionId, passwd }) => ({ id: sessionId, passwd }))(connectResponse(sentTo(1)[0]));
  p.leaveRole();
  p.assumeRole('read-only');
  sent = [];
  closed = [];
  logged = [];
});

describe('the read-only role', () => {
  it('closes a client that did not ask for read-only, and a session of the ensemble, without an answer', () => {
    p.connect(10, '10.0.0.7', 5010, connectFrame(false));
    p.connect(11, '10.0.0.7', 5011, connectFrame(true, 4_000, globalSession.id, globalSession.passwd));
    expect(sent).toEqual([]);
    expect(closed).toEqual([10, 11]);
  });

  it('makes local sessions: ids with this server id, nothing logged, readOnly in the answer', () => {
    const s = readOnlySession(10);
    expect(Number(s.id >> 56n)).toBe(SERVER_ID);
    expect(logged).toEqual([]);
    expect(p.role).toBe('read-only');
  });

  it('serves reads and refuses ReadOnlyRequestProcessor\'s list with NOTREADONLY at the tree\'s zxid', () => {
    readOnlySession(10);
    const zxid = p.tree.lastZxid;
    sent = [];
    p.request(10, request(1, Op.getData, (w) => w.string('/a').bool(false)));
    p.request(10, createRequest(2, '/b'));
    p.request(10, request(3, Op.sync, (w) => w.string('/')));
    p.request(10, request(4, Op.setData, (w) => w.string('/a').buffer(Buffer.from('x')).int(-1)));
    p.request(10, request(5, Op.delete, (w) => w.string('/a').int(-1)));
    p.request(10, request(6, Op.multi, (w) => w.int(-1).bool(true).int(-1)));
    p.request(10, request(7, Op.getChildren, (w) => w.string('/').bool(false)));
    const replies = sentTo(10).map(replyHeader);
    expect(replies.map((h) => [h.xid, h.err])).toEqual([
      [1, Err.OK], [2, Err.NOTREADONLY], [3, Err.NOTREADONLY], [4, Err.NOTREADONLY], [5, Err.NOTREADONLY], [6, Err.NOTREADONLY], [7, Err.OK],
    ]);
    expect(replies.every((h) => h.zxid === zxid)).toBe(true);
    expect(p.tree.get('/b')).toBeUndefined();
    expect(logged).toEqual([]);
  });

  it('reattaches its own sessions, answers an unknown one as expired, and closes a session locally', () => {
    const s = readOnlySession(10);
    sent = [];
    p.connect(12, '10.0.0.7', 5012, connectFrame(true, 4_000, s.id, s.passwd));
    expect(connectResponse(sentTo(12)[0])).toMatchObject({ sessionId: s.id, readOnly: true });
    expect(closed).toContain(10); // the session's older connection
    p.connect(13, '10.0.0.7', 5013, connectFrame(true, 4_000, 0x0300000000000099n, Buffer.alloc(16)));
    expect(connectResponse(sentTo(13)[0])).toMatchObject({ timeoutMs: 0, sessionId: 0n, readOnly: true });
    sent = [];
    p.request(12, request(9, Op.closeSession, () => {}));
    expect(sentTo(12).map(replyHeader)).toEqual([{ xid: 9, zxid: p.tree.lastZxid, err: Err.OK }]);
    expect(closed).toContain(12);
    expect(p.sessions.get(s.id)).toBeUndefined();
    expect(logged).toEqual([]);
  });

  it('expires its own sessions without a txn and keeps the ensemble\'s', () => {
    const s = readOnlySession(10, 400);
    now = 10_000;
    p.tick();
    expect(p.sessions.get(s.id)).toBeUndefined();
    expect(p.sessions.get(globalSession.id)).toBeDefined();
    expect(closed).toContain(10);
    expect(logged).toEqual([]);
  });

  it('leaving the role closes its connections and drops its sessions, nothing else', () => {
    const s = readOnlySession(10);
    const zxid = p.tree.lastZxid;
    p.leaveRole();
    expect(closed).toContain(10);
    expect(p.sessions.get(s.id)).toBeUndefined();
    expect(p.sessions.get(globalSession.id)).toBeDefined();
    expect(p.tree.lastZxid).toBe(zxid);
    expect(p.role).toBe('standalone');
  });
});
