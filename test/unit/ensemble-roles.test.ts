// The pieces of a running ensemble that are pure: the quorum rings' records
// (engine/rings/quorum-ring.ts) read back as written, and a pipeline changing roles
// (Pipeline.assumeRole, beginEpoch, leaveRole): a leader's held outputs never leave once it
// leaves its role, every connection is closed, and the next role starts from the tree.
import { describe, it, expect } from 'vitest';
import { JuteWriter } from '../../native-free-io/jute.ts';
import {
  FromQuorum, ToQuorum, QuorumWord, decodeFromQuorum, decodeToQuorum, detailedPeerState, encodeFromQuorum, encodeToQuorum,
  type FromQuorumMessage, type ToQuorumMessage,
} from '../../engine/rings/quorum-ring.ts';
import { Pipeline, type PipelineOptions } from '../../engine/core/pipeline.ts';
import { connectFrame, createRequest } from '../support/frames.ts';
import { Op } from '../../engine/protocol.ts';

const txn = Buffer.from('a txn: TxnHeader + record, as the log holds it');
const ids = [{ scheme: 'digest', id: 'alice:hash' }, { scheme: 'ip', id: '127.0.0.1' }];

describe('quorum ring records', () => {
  it('read back as written, both directions, with large zxids and negative session ids', () => {
    const w = new JuteWriter(16);
    const zxid = 0x1f_ffff_fffe; // epoch 31
    const sessionId = -0x7fed_cba9_8765_4321n;
    const toQuorum: ToQuorumMessage[] = [
      { kind: ToQuorum.PROPOSE, zxid, txn },
      { kind: ToQuorum.COMMIT, zxid },
      { kind: ToQuorum.SYNCED, sid: 255 },
      { kind: ToQuorum.REVALIDATE_ANSWER, sid: 3, sessionId, valid: true },
      { kind: ToQuorum.FORWARD, sessionId, cxid: -1, type: Op.create, authIds: ids, record: Buffer.from('record bytes') },
      { kind: ToQuorum.REVALIDATE, sessionId, timeoutMs: 30_000 },
      { kind: ToQuorum.TOUCHES, touches: new Map([[sessionId, 4000], [1n, 6000]]) },
      { kind: ToQuorum.RELOADED, lastZxid: zxid },
      { kind: ToQuorum.TRUNCATED, zxid, ok: false },
    ];
    for (const m of toQuorum) expect(decodeToQuorum(m.kind, Buffer.from(encodeToQuorum(w, m)))).toEqual(m);
    const fromQuorum: FromQuorumMessage[] = [
      { kind: FromQuorum.LEAVE },
      { kind: FromQuorum.LEAD, zxid: 0x2_0000_0000, voters: [1, 2, 3] },
      { kind: FromQuorum.ACK, sid: 2, zxid },
      { kind: FromQuorum.LEARNER_REQUEST, sid: 2, sessionId, cxid: 7, type: Op.setData, authIds: [], record: Buffer.alloc(0) },
      { kind: FromQuorum.TOUCH_SESSIONS, touches: new Map() },
      { kind: FromQuorum.REVALIDATE_SESSION, sid: 1, sessionId, timeoutMs: 10_000 },
      { kind: FromQuorum.FOLLOW, observer: true },
      { kind: FromQuorum.TRUNCATE, zxid },
      { kind: FromQuorum.RELOAD },
      { kind: FromQuorum.PROPOSAL, zxid, txn },
      { kind: FromQuorum.COMMIT_PROPOSAL, zxid },
      { kind: FromQuorum.INFORM, zxid, txn },
      { kind: FromQuorum.REVALIDATED, sessionId, valid: false },
      { kind: FromQuorum.SYNCED },
      { kind: FromQuorum.SERVE, zxid },
    ];
    for (const m of fromQuorum) expect(decodeFromQuorum(m.kind, Buffer.from(encodeFromQuorum(w, m)))).toEqual(m);
    // a txn larger than the writer's buffer: it grows
    const big = Buffer.alloc(200_000, 7);
    expect(decodeFromQuorum(FromQuorum.PROPOSAL, Buffer.from(encodeFromQuorum(w, { kind: FromQuorum.PROPOSAL, zxid, txn: big })))).toEqual({ kind: FromQuorum.PROPOSAL, zxid, txn: big });
    expect(() => decodeToQuorum(99, Buffer.alloc(0))).toThrow(/unknown record kind 99/);
    expect(() => decodeFromQuorum(FromQuorum.TOUCH_SESSIONS, Buffer.from([0x7f, 0, 0, 0]))).toThrow(/touches/);
  });

  it('spell the peer state as QuorumPeer.getDetailedPeerState', () => {
    const words = new Int32Array(16);
    expect(detailedPeerState(words)).toBe('looking');
    words[QuorumWord.PEER_STATE] = 1;
    words[QuorumWord.ZAB_STATE] = 2;
    words[QuorumWord.SYNC_MODE] = 2;
    expect(detailedPeerState(words)).toBe('following - synchronization - snap');
    words[QuorumWord.PEER_STATE] = 2;
    words[QuorumWord.ZAB_STATE] = 3;
    words[QuorumWord.SYNC_MODE] = 0;
    expect(detailedPeerState(words)).toBe('leading - broadcast');
  });
});

describe('a pipeline changing roles', () => {
  const sent: { conn: number; frame: Buffer }[] = [];
  const closed: number[] = [];
  const proposed: number[] = [];
  const opts: PipelineOptions = {
    tickMs: 100, minSessionTimeoutMs: 200, maxSessionTimeoutMs: 20_000, serverId: 1, superDigest: null,
    extendedTypesEnabled: false, containerCheckIntervalMs: 60_000, containerMaxPerMinute: 10_000,
    containerMaxNeverUsedIntervalMs: 0, enforceQuota: false, maxReplyBytes: 0xfffff, txnBytesMax: 2 * 0xfffff,
    nowMs: () => 0, wallMs: () => 1_700_000_000_000,
  };
  const p = new Pipeline(opts, {
    send: (conn, frame) => sent.push({ conn, frame: Buffer.from(frame) }),
    close: (conn) => closed.push(conn),
    appendLog: () => {},
    leader: { propose: (zxid) => proposed.push(zxid), commit: () => {}, synced: () => {} },
    learner: { forward: () => {}, revalidate: () => {} },
  });
  p.recovered();

  it('leads from the epoch it is given, and leaving drops what never committed and closes every connection', () => {
    expect(p.role).toBe('standalone');
    p.assumeRole('leader', [1, 2, 3]);
    expect(() => p.beginEpoch(0)).toThrow(/epoch start/);
    p.beginEpoch(0x1_0000_0000);
    expect(p.role).toBe('leader');
    p.connect(64, '127.0.0.1', 1, connectFrame(4000));
    p.durable(0x1_0000_0001); // its own ack of the createSession: one of three voters
    expect(sent).toHaveLength(0);
    p.ack(2, 0x1_0000_0001); // a quorum: the session is answered
    expect(sent).toHaveLength(1);
    p.request(64, createRequest(1, '/never'));
    expect(proposed).toEqual([0x1_0000_0001, 0x1_0000_0002]);
    expect(() => p.assumeRole('follower')).toThrow(/connections/);
    p.leaveRole();
    expect(closed).toEqual([64]);
    expect(sent).toHaveLength(1); // the create's reply never left: nobody acked it
    expect(p.role).toBe('standalone');
    expect(p.conns.size).toBe(0);
    expect(p.commit.size).toBe(0);
  });

  it('follows from the tree it has: a new client waits for the leader\'s createSession', () => {
    const sentBefore = sent.length;
    p.assumeRole('follower');
    expect(p.learner).not.toBeNull();
    expect(p.leader).toBeNull();
    p.connect(128, '127.0.0.1', 2, connectFrame(4000));
    expect(p.learner!.connects.size).toBe(1); // createSession forwarded to the leader
    expect(sent.length).toBe(sentBefore); // no answer before it commits
  });
});
