// A leader's pipeline (engine/core/leader.ts) and a leader with two followers wired together
// in one process, no sockets: the Zab broadcast seam as plain calls. The test plays the
// quorum worker — it carries REQUESTs to the leader, PROPOSALs and COMMITs to followers, and
// each follower's durable zxid back as its ACK — and the log workers (a durable signal when
// the test says so). What must hold: a txn commits only on a quorum of durable copies, the
// leader's own included; no client on any server sees what is not committed; a follower's
// client is answered from the committed txn; sessions live and die at the leader.
import { connectFrame, request, createRequest, replyHeader } from '../support/frames.ts';
import { describe, it, expect } from 'vitest';
import { Pipeline, type PipelineOptions, type PipelineRole } from '../../engine/core/pipeline.ts';
import { JuteReader } from '../../native-free-io/jute.ts';
import { type Id, Op, Err } from '../../engine/protocol.ts';
import { generateDigest } from '../../engine/core/acl.ts';

const WALL_MS = 1_700_000_000_000;

interface Server {
  sid: number;
  p: Pipeline;
  sent: { conn: number; frame: Buffer }[];
  closed: number[];
  /** Logged, not yet durable (the test's log worker). */
  unsynced: number[];
}

/** An ensemble in one process: server 1 leads, 2 and 3 follow (voters 1..3). */
class Ensemble {
  now = 0;
  readonly servers = new Map<number, Server>();
  /** Messages in flight to the leader / to followers, delivered when the test pumps. */
  private toLeader: (() => void)[] = [];
  private toFollowers: (() => void)[] = [];
  readonly commits: number[] = [];
  readonly syncs: number[] = [];

  constructor() {
    this.add(1, 'leader');
    this.add(2, 'follower');
    this.add(3, 'follower');
    for (const s of this.servers.values()) s.p.recovered();
  }

  get leader(): Pipeline {
    return this.servers.get(1)!.p;
  }

  private add(sid: number, role: PipelineRole): void {
    const server: Server = { sid, p: undefined as unknown as Pipeline, sent: [], closed: [], unsynced: [] };
    const opts: PipelineOptions = {
      tickMs: 100, minSessionTimeoutMs: 200, maxSessionTimeoutMs: 20_000, serverId: sid, superDigest: null,
      extendedTypesEnabled: false, containerCheckIntervalMs: 60_000, containerMaxPerMinute: 10_000,
      containerMaxNeverUsedIntervalMs: 0, enforceQuota: false, maxReplyBytes: 0xfffff, txnBytesMax: 2 * 0xfffff,
      nowMs: () => this.now, wallMs: () => WALL_MS, role, voters: [1, 2, 3],
    };
    server.p = new Pipeline(opts, {
      send: (conn, frame) => server.sent.push({ conn, frame: Buffer.from(frame) }),
      close: (conn) => server.closed.push(conn),
      appendLog: (zxid) => server.unsynced.push(zxid),
      learner: {
        forward: (sessionId, cxid, type, record, authIds) => {
          const copy = Buffer.from(record);
          const ids: Id[] = [...authIds];
          this.toLeader.push(() => this.leader.learnerRequest(sid, sessionId, cxid, type, copy, ids));
        },
        revalidate: (sessionId, timeoutMs) => {
          this.toLeader.push(() => {
            const valid = this.leader.revalidateSession(sessionId, timeoutMs);
            this.toFollowers.push(() => server.p.revalidated(sessionId, valid));
          });
        },
      },
      leader: {
        propose: (zxid, txn) => {
          const copy = Buffer.from(txn);
          for (const f of this.followers()) this.toFollowers.push(() => f.p.proposal(zxid, copy));
        },
        commit: (zxid) => {
          this.commits.push(zxid);
          for (const f of this.followers()) this.toFollowers.push(() => this.commitUpTo(f, zxid));
        },
        synced: (to) => {
          this.syncs.push(to);
          this.toFollowers.push(() => this.servers.get(to)!.p.synced());
        },
      },
    });
    this.servers.set(sid, server);
  }

  private followers(): Server[] {
    return [...this.servers.values()].filter((s) => s.sid !== 1);
  }

  /** A COMMIT for each proposal up to zxid a follower has not had one for (Zab sends one per proposal). */
  private commitUpTo(f: Server, zxid: number): void {
    while (f.p.learner!.uncommittedCount > 0 && f.p.tree.lastZxid < zxid) {
      f.p.commitProposal(nextProposalZxid(f.p, zxid));
    }
  }

  /** Delivers what is in flight until nothing moves. */
  pump(): void {
    for (let round = 0; round < 100; round++) {
      const batch = [...this.toLeader.splice(0), ...this.toFollowers.splice(0)];
      if (batch.length === 0) return;
      for (const deliver of batch) deliver();
    }
    throw new Error('the ensemble did not settle');
  }

  /** Server sid's log worker makes what it logged durable; a follower ACKs it to the leader. */
  sync(sid: number): void {
    const s = this.servers.get(sid)!;
    const zxid = s.unsynced.at(-1);
    s.unsynced.length = 0;
    if (zxid === undefined) return;
    if (sid === 1) s.p.durable(zxid);
    else this.toLeader.push(() => this.leader.ack(sid, zxid));
  }

  syncAll(): void {
    for (let i = 0; i < 3; i++) {
      for (const sid of this.servers.keys()) this.sync(sid);
      this.pump();
    }
  }
}

/** The zxid of the follower's oldest uncommitted proposal (the test's COMMITs walk them in order). */
function nextProposalZxid(p: Pipeline, upTo: number): number {
  // proposals are numbered from the leader's counter: the next one after the tree's
  const next = p.tree.lastZxid + 1;
  if (next > upTo) throw new Error(`no proposal up to ${upTo}`);
  return next;
}





function replies(s: Server, conn: number): { xid: number; zxid: number; err: number }[] {
  return s.sent.filter((x) => x.conn === conn).map((x) => replyHeader(x.frame));
}

/** A client session on server sid, connection conn: made through the leader, durable on a quorum. */
function session(e: Ensemble, sid: number, conn: number): bigint {
  const s = e.servers.get(sid)!;
  s.p.connect(conn, '10.0.0.7', 5000 + conn, connectFrame(4000));
  e.pump();
  e.syncAll();
  const frame = s.sent.filter((x) => x.conn === conn).at(-1)!.frame;
  return new JuteReader(frame, 4 + 4 + 4).long();
}

describe('a leader', () => {
  it('commits a txn only on a quorum of durable copies, its own among them', () => {
    const e = new Ensemble();
    const leader = e.servers.get(1)!;
    session(e, 1, 1);
    leader.sent.length = 0;
    leader.p.request(1, createRequest(1, '/q'));
    const zxid = leader.p.tree.lastZxid;
    e.pump();
    e.sync(1); // the leader alone: 1 of 3
    e.pump();
    expect(replies(leader, 1)).toEqual([]);
    expect(e.commits).not.toContain(zxid);
    e.sync(2); // + one follower: a quorum
    e.pump();
    expect(e.commits).toContain(zxid);
    expect(replies(leader, 1)).toEqual([{ xid: 1, zxid, err: Err.OK }]);
    // the followers applied it at the COMMIT, not at the PROPOSAL
    expect(e.servers.get(2)!.p.tree.get('/q')).toBeDefined();
    expect(e.servers.get(3)!.p.tree.get('/q')).toBeDefined();
  });

  it('answers a follower client from the committed txn; the leader sends that client nothing', () => {
    const e = new Ensemble();
    const follower = e.servers.get(2)!;
    const id = session(e, 2, 7);
    expect(Number(BigInt.asUintN(64, id) >> 56n)).toBe(2);
    expect(e.leader.sessions.get(id)).toBeDefined(); // the leader owns the session
    follower.sent.length = 0;
    follower.p.request(7, createRequest(3, '/from-follower'));
    follower.p.request(7, request(4, Op.getData, (w) => w.string('/from-follower').bool(false)));
    e.pump();
    expect(replies(follower, 7)).toEqual([]); // proposed, not committed
    e.syncAll();
    const zxid = e.leader.tree.lastZxid;
    expect(replies(follower, 7)).toEqual([{ xid: 3, zxid, err: Err.OK }, { xid: 4, zxid, err: Err.OK }]);
    expect(e.servers.get(1)!.sent.filter((x) => x.conn < 0)).toEqual([]);
  });

  it('checks ACLs with the auth ids the follower sent for its client', () => {
    const e = new Ensemble();
    const follower = e.servers.get(2)!;
    session(e, 1, 1);
    const digestId = generateDigest('alice:secret');
    // /locked: only alice may create under it
    e.servers.get(1)!.p.request(1, createRequest(1, '/locked', Op.create, [{ perms: 0x1f, id: { scheme: 'digest', id: digestId } }]));
    e.pump();
    e.syncAll();
    session(e, 2, 8);
    follower.sent.length = 0;
    follower.p.request(8, createRequest(2, '/locked/x'));
    e.pump();
    e.syncAll();
    expect(replies(follower, 8).map((r) => r.err)).toEqual([Err.NOAUTH]);
    follower.p.request(8, request(-4, Op.auth, (w) => w.int(0).string('digest').buffer(Buffer.from('alice:secret'))));
    follower.p.request(8, createRequest(3, '/locked/y'));
    e.pump();
    e.syncAll();
    expect(replies(follower, 8).map((r) => r.err)).toEqual([Err.NOAUTH, Err.OK, Err.OK]);
    expect(e.leader.tree.get('/locked/y')).toBeDefined();
  });

  it('answers a write of a session it does not know with SESSIONEXPIRED, through an error txn', () => {
    const e = new Ensemble();
    const zxidBefore = e.leader.tree.lastZxid;
    e.leader.learnerRequest(2, 0x0200_0000_0000_0099n, 5, Op.create, createRequest(5, '/x').subarray(8), []);
    expect(e.leader.tree.lastZxid).toBe(zxidBefore + 1); // a zxid spent, as ZooKeeper's PrepRequestProcessor does
    expect(e.leader.tree.get('/x')).toBeUndefined();
  });

  it('answers a sync once what was proposed before it is committed', () => {
    const e = new Ensemble();
    const follower = e.servers.get(2)!;
    session(e, 2, 9);
    session(e, 1, 1);
    e.servers.get(1)!.p.request(1, createRequest(1, '/s'));
    follower.sent.length = 0;
    follower.p.request(9, request(5, Op.sync, (w) => w.string('/s')));
    e.pump();
    expect(e.syncs).toEqual([]);
    expect(replies(follower, 9)).toEqual([]);
    e.syncAll();
    expect(e.syncs).toEqual([2]);
    expect(replies(follower, 9).map((r) => [r.xid, r.err])).toEqual([[5, Err.OK]]);
    expect(follower.p.tree.get('/s')).toBeDefined(); // a read after the sync sees the write before it
  });

  it('expires sessions itself; learners keep them alive by their touches and revalidations', () => {
    const e = new Ensemble();
    const id = session(e, 2, 3);
    e.now = 3000;
    e.leader.touchSessions(new Map([[id, 4000]]));
    e.now = 6000;
    e.leader.tick();
    expect(e.leader.sessions.get(id)).toBeDefined(); // touched at 3000, due at ~7000
    expect(e.leader.revalidateSession(id, 4000)).toBe(true);
    e.now = 20_000;
    e.leader.tick();
    expect(e.leader.sessions.get(id)?.closing ?? true).toBe(true); // expired: a closeSession txn proposed
    e.pump();
    e.syncAll();
    expect(e.servers.get(2)!.p.sessions.get(id)).toBeUndefined();
    expect(e.servers.get(2)!.closed).toContain(3); // the follower closed its client's connection
    expect(e.leader.revalidateSession(id, 4000)).toBe(false);
  });
});
