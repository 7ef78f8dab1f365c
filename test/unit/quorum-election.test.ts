// engine/quorum/election.ts without sockets: a simulated network of election state
// machines with simulated time. Delivery order across links is shuffled by a seeded PRNG
// (each link stays FIFO, as a TCP connection is); the seed is printed and TEST_SEED
// replays a run.
import { describe, it, expect } from 'vitest';
import {
  FastLeaderElection,
  isBetterVote,
  votesEqual,
  type Decision,
  type ElectionOutput,
  type LocalState,
  type Vote,
} from '../../engine/quorum/election.ts';
import { ServerState, type Notification } from '../../engine/quorum/wire.ts';
import { deriveSeed } from '../../loadgen/random.ts';
import { seededRandom, testSeed } from '../support/random.ts';

const SEED = testSeed();
console.log(`quorum-election seed ${SEED} (replay with TEST_SEED=${SEED})`);

const CONFIG = Buffer.from('version=0');
const SIM_STEPS_MAX = 100_000;

interface InFlight {
  atMs: number;
  seq: number;
  from: bigint;
  to: bigint;
  n: Notification;
}

/** Servers joined by FIFO links whose latency a seeded PRNG picks. */
class Network {
  nowMs = 0;
  readonly nodes = new Map<bigint, FastLeaderElection>();
  readonly decisions = new Map<bigint, Decision>();
  readonly sent: InFlight[] = [];
  private inFlight: InFlight[] = [];
  private linkFreeAtMs = new Map<string, number>();
  private seq = 0;
  private readonly random: () => number;
  private readonly latencyMsMax: number;
  private readonly voters: Set<bigint>;

  constructor(seed: number, voterCount: number, latencyMsMax: number) {
    this.random = seededRandom(seed);
    this.latencyMsMax = latencyMsMax;
    this.voters = new Set(Array.from({ length: voterCount }, (_, i) => BigInt(i + 1)));
  }

  start(sid: bigint, local: LocalState): FastLeaderElection {
    const node = new FastLeaderElection({ mySid: sid, voters: this.voters, configBytes: CONFIG }, local);
    this.nodes.set(sid, node);
    this.decisions.delete(sid);
    this.apply(sid, node.lookForLeader(this.nowMs));
    return node;
  }

  /** The server becomes LOOKING again (its Zab role ended). */
  lookAgain(sid: bigint): void {
    this.decisions.delete(sid);
    this.apply(sid, this.nodes.get(sid)!.lookForLeader(this.nowMs));
  }

  stop(sid: bigint): void {
    this.nodes.delete(sid);
    this.decisions.delete(sid);
  }

  /** Deliver messages and fire deadlines in time order until `done` holds or time runs out. */
  runUntil(done: () => boolean, untilMs: number): boolean {
    for (let step = 0; step < SIM_STEPS_MAX; step++) {
      if (done()) return true;
      let nextMs = Infinity;
      for (const m of this.inFlight) nextMs = Math.min(nextMs, m.atMs);
      for (const node of this.nodes.values()) nextMs = Math.min(nextMs, node.nextDeadlineMs() ?? Infinity);
      if (nextMs > untilMs) {
        this.nowMs = untilMs;
        return done();
      }
      this.nowMs = Math.max(this.nowMs, nextMs);
      const due = this.inFlight.filter((m) => m.atMs <= this.nowMs).sort((a, b) => a.atMs - b.atMs || a.seq - b.seq);
      if (due.length > 0) {
        const m = due[0];
        this.inFlight.splice(this.inFlight.indexOf(m), 1);
        const node = this.nodes.get(m.to);
        if (node !== undefined) this.apply(m.to, node.receive(this.nowMs, m.from, m.n));
        continue;
      }
      for (const [sid, node] of this.nodes) {
        const deadline = node.nextDeadlineMs();
        if (deadline !== null && deadline <= this.nowMs) this.apply(sid, node.tick(this.nowMs));
      }
    }
    throw new Error(`simulation did not settle in ${SIM_STEPS_MAX} steps (seed ${SEED})`);
  }

  private apply(from: bigint, out: ElectionOutput): void {
    if (out.decision !== null) this.decisions.set(from, out.decision);
    for (const { to, notification } of out.send) {
      const link = `${from}>${to}`;
      const atMs = Math.max(this.nowMs + this.random() * this.latencyMsMax, this.linkFreeAtMs.get(link) ?? 0);
      this.linkFreeAtMs.set(link, atMs);
      const m = { atMs, seq: this.seq++, from, to, n: notification };
      this.inFlight.push(m);
      this.sent.push(m);
    }
  }

  allDecided(sids: Iterable<bigint> = this.nodes.keys()): boolean {
    for (const sid of sids) if (!this.decisions.has(sid)) return false;
    return true;
  }
}

function best(locals: Map<bigint, LocalState>): bigint {
  let top: { leader: bigint; zxid: bigint; peerEpoch: bigint } | null = null;
  for (const [sid, l] of locals) {
    const v = { leader: sid, zxid: l.lastLoggedZxid, peerEpoch: l.currentEpoch };
    if (top === null || isBetterVote(v, top)) top = v;
  }
  return top!.leader;
}

/** Random histories with many ties: epochs 0-2, zxid counters 0-3. */
function randomLocals(random: () => number, count: number): Map<bigint, LocalState> {
  const locals = new Map<bigint, LocalState>();
  for (let i = 1; i <= count; i++) {
    const epoch = BigInt(Math.floor(random() * 3));
    locals.set(BigInt(i), { currentEpoch: epoch, lastLoggedZxid: (epoch << 32n) | BigInt(Math.floor(random() * 4)) });
  }
  return locals;
}

function electAll(seed: number, locals: Map<bigint, LocalState>, latencyMsMax: number): Network {
  const net = new Network(seed, locals.size, latencyMsMax);
  for (const [sid, local] of locals) net.start(sid, local);
  const settled = net.runUntil(() => net.allDecided(), 120_000);
  expect(settled, `seed ${seed}: not all decided: ${[...net.decisions.keys()]}`).toBe(true);
  return net;
}

function expectOneLeader(net: Network, leader: bigint, context: string): void {
  for (const [sid, d] of net.decisions) {
    expect(d.leader, `${context}: server ${sid} decided ${d.leader}`).toBe(leader);
    expect(d.role, `${context}: server ${sid}`).toBe(sid === leader ? 'LEADING' : 'FOLLOWING');
  }
}

describe('FastLeaderElection, simulated', () => {
  for (const size of [3, 5]) {
    it(`${size} members started together with shuffled delivery elect the best vote (peerEpoch, zxid, sid), 200 seeds`, () => {
      for (let round = 0; round < 200; round++) {
        const seed = deriveSeed(SEED, size, round);
        const locals = randomLocals(seededRandom(seed ^ 0x5eed), size);
        // every first notification arrives within finalizeWait, so nobody decides before seeing the best vote
        const net = electAll(seed, locals, 90);
        expectOneLeader(net, best(locals), `seed ${SEED} round ${round}`);
        // the decision's epoch is the leader's
        for (const d of net.decisions.values()) expect(d.peerEpoch).toBe(locals.get(d.leader)!.currentEpoch);
      }
    });
  }

  it('with equal histories the highest sid leads', () => {
    const locals = new Map([1n, 2n, 3n].map((sid) => [sid, { currentEpoch: 1n, lastLoggedZxid: 0x100000005n }]));
    expectOneLeader(electAll(SEED, locals, 50), 3n, 'equal histories');
  });

  it('a restarted follower, and a restarted leader, learn the established leader', () => {
    const locals = randomLocals(seededRandom(SEED), 3);
    const net = electAll(SEED, locals, 50);
    const leader = best(locals);
    for (const restarted of [leader === 1n ? 2n : 1n, leader]) {
      net.stop(restarted);
      net.nowMs += 5_000;
      net.start(restarted, locals.get(restarted)!);
      expect(net.runUntil(() => net.allDecided(), net.nowMs + 10_000), `server ${restarted} decided after restart`).toBe(true);
      expectOneLeader(net, leader, `after restarting ${restarted}`);
    }
  });

  it('a member that comes back in an earlier round learns the leader from votes of a later round (outofelection)', () => {
    const locals = new Map([1n, 2n, 3n].map((sid) => [sid, { currentEpoch: 0n, lastLoggedZxid: 0n }]));
    const net = new Network(SEED, 3, 50);
    net.start(1n, locals.get(1n)!);
    net.start(2n, locals.get(2n)!);
    expect(net.runUntil(() => net.allDecided(), 10_000)).toBe(true);
    // 1 and 2 go through three more rounds (their leader failed and came back, say)
    for (let round = 0; round < 3; round++) {
      for (const sid of [1n, 2n]) net.lookAgain(sid);
      expect(net.runUntil(() => net.allDecided(), net.nowMs + 10_000)).toBe(true);
    }
    const clock = net.nodes.get(2n)!.logicalClock;
    expect(clock).toBeGreaterThan(1n);
    const late = net.start(3n, locals.get(3n)!);
    expect(net.runUntil(() => net.allDecided(), net.nowMs + 10_000)).toBe(true);
    expect(net.decisions.get(3n)).toMatchObject({ role: 'FOLLOWING', leader: 2n, electionEpoch: clock });
    expect(late.logicalClock).toBe(clock);
  });

  it('an observer learns the leader and is never counted towards a quorum', () => {
    const voters = new Set([1n, 2n, 3n]);
    const nodes = new Map<bigint, FastLeaderElection>();
    const local = { currentEpoch: 0n, lastLoggedZxid: 0n };
    const pending: { from: bigint; to: bigint; n: Notification }[] = [];
    const decisions = new Map<bigint, Decision>();
    let nowMs = 0;
    const collect = (from: bigint, out: ElectionOutput) => {
      if (out.decision !== null) decisions.set(from, out.decision);
      for (const s of out.send) pending.push({ from, to: s.to, n: s.notification });
    };
    const run = (untilMs: number) => {
      while (nowMs <= untilMs) {
        while (pending.length > 0) {
          const m = pending.shift()!;
          const node = nodes.get(m.to);
          if (node !== undefined) collect(m.to, node.receive(nowMs, m.from, m.n));
        }
        nowMs += 50;
        for (const [sid, node] of nodes) collect(sid, node.tick(nowMs));
      }
    };
    for (const sid of [1n, 4n]) {
      nodes.set(sid, new FastLeaderElection({ mySid: sid, voters, configBytes: CONFIG }, local));
      collect(sid, nodes.get(sid)!.lookForLeader(nowMs));
    }
    // the observer proposes nobody: Long.MIN_VALUE for sid, zxid and epoch
    expect(nodes.get(4n)!.proposal.leader).toBe(-(2n ** 63n));
    run(30_000);
    expect(decisions.size, 'one voter and an observer are no quorum').toBe(0);
    nodes.set(2n, new FastLeaderElection({ mySid: 2n, voters, configBytes: CONFIG }, local));
    collect(2n, nodes.get(2n)!.lookForLeader(nowMs));
    run(nowMs + 120_000);
    expect(decisions.get(1n)).toMatchObject({ role: 'FOLLOWING', leader: 2n });
    expect(decisions.get(2n)).toMatchObject({ role: 'LEADING', leader: 2n });
    expect(decisions.get(4n)).toMatchObject({ role: 'OBSERVING', leader: 2n });
  });
});

describe('FastLeaderElection, rule by rule', () => {
  const voters = new Set([1n, 2n, 3n]);
  const looking = (leader: bigint, zxid: bigint, electionEpoch: bigint, peerEpoch = 0n): Notification => ({
    state: ServerState.LOOKING, leader, zxid, electionEpoch, peerEpoch, version: 2, config: CONFIG,
  });
  const fresh = (sid: bigint, zxid = 0n) => new FastLeaderElection({ mySid: sid, voters, configBytes: CONFIG }, { lastLoggedZxid: zxid, currentEpoch: 0n });

  it('sends its vote to the other voters and waits; re-sends with the interval doubling up to 60 s', () => {
    const e = fresh(1n);
    const first = e.lookForLeader(0);
    expect(first.send.map((s) => s.to)).toEqual([2n, 3n]);
    expect(first.send[0].notification).toMatchObject({ state: ServerState.LOOKING, leader: 1n, electionEpoch: 1n, version: 2 });
    const gapsMs: number[] = [];
    let nowMs = 0;
    for (let i = 0; i < 12; i++) {
      const next = e.nextDeadlineMs()!;
      gapsMs.push(next - nowMs);
      nowMs = next;
      expect(e.tick(nowMs).send).toHaveLength(2);
    }
    expect(gapsMs).toEqual([200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000, 60000]);
  });

  it('adopts a better vote, decides only after finalizeWait, and a better vote within it reopens the round', () => {
    const e = fresh(1n);
    e.lookForLeader(0);
    const adopted = e.receive(10, 2n, looking(2n, 0n, 1n));
    expect(adopted.send.map((s) => [s.to, s.notification.leader])).toEqual([[2n, 2n], [3n, 2n]]);
    // 1 and 2 agree on 2: a quorum; nothing is decided before finalizeWait
    expect(e.nextDeadlineMs()).toBe(210);
    expect(e.tick(209).decision).toBeNull();
    // a vote that is not better is dropped, and the wait starts again
    expect(e.receive(100, 2n, looking(2n, 0n, 1n)).send).toEqual([]);
    expect(e.nextDeadlineMs()).toBe(300);
    // 3 has a higher zxid: the round reopens
    const better = e.receive(150, 3n, looking(3n, 5n, 1n));
    expect(better.send.map((s) => s.notification.leader)).toEqual([3n, 3n]);
    expect(e.tick(300).decision).toBeNull();
    e.receive(160, 3n, looking(3n, 5n, 1n));
    expect(e.tick(359).decision).toBeNull();
    expect(e.tick(360).decision).toEqual({ role: 'FOLLOWING', leader: 3n, zxid: 5n, electionEpoch: 1n, peerEpoch: 0n });
  });

  it('moves to a later round, ignores an earlier one and tells the laggard the current round', () => {
    const e = fresh(3n);
    e.lookForLeader(0);
    const later = e.receive(5, 1n, looking(1n, 0n, 4n));
    expect(e.logicalClock).toBe(4n);
    // our own vote is better than 1's: we keep it and tell everyone in round 4
    expect(later.send.map((s) => [s.notification.leader, s.notification.electionEpoch])).toEqual([[3n, 4n], [3n, 4n]]);
    const laggard = e.receive(6, 2n, looking(2n, 0n, 2n));
    expect(laggard.send).toEqual([{ to: 2n, notification: expect.objectContaining({ leader: 3n, electionEpoch: 4n, state: ServerState.LOOKING }) }]);
  });

  it('ignores LOOKING votes with zxid -1 and votes for non-members', () => {
    const e = fresh(1n);
    e.lookForLeader(0);
    expect(e.receive(1, 2n, looking(2n, -1n, 1n)).send).toEqual([]);
    expect(e.receive(1, 2n, looking(9n, 7n, 1n)).send).toEqual([]);
    expect(e.proposal.leader).toBe(1n);
  });

  it('answers an observer at once with its current vote, and counts nothing from it', () => {
    const e = fresh(2n);
    e.lookForLeader(0);
    const out = e.receive(1, 7n, looking(7n, 99n, 9n));
    expect(out.send).toEqual([{ to: 7n, notification: expect.objectContaining({ leader: 2n, electionEpoch: 1n, state: ServerState.LOOKING }) }]);
    expect(e.logicalClock).toBe(1n);
  });

  it('once decided, answers LOOKING peers with the decided vote and ignores the rest', () => {
    const e = fresh(3n);
    e.lookForLeader(0);
    e.receive(1, 1n, looking(3n, 0n, 1n));
    expect(e.tick(201).decision).toMatchObject({ role: 'LEADING', leader: 3n });
    const answer = e.receive(300, 2n, looking(2n, 0n, 1n));
    expect(answer.send).toEqual([{ to: 2n, notification: expect.objectContaining({ state: ServerState.LEADING, leader: 3n, electionEpoch: 1n }) }]);
    expect(e.receive(301, 2n, { ...looking(3n, 0n, 1n), state: ServerState.FOLLOWING }).send).toEqual([]);
    // Zab settles epoch 1: LOOKING peers hear it
    e.updateElectionVotePeerEpoch(1n);
    expect(e.receive(302, 1n, looking(1n, 0n, 2n)).send[0].notification.peerEpoch).toBe(1n);
  });

  it('follows a leader only once the leader itself says LEADING (checkLeader)', () => {
    const five = new Set([1n, 2n, 3n, 4n, 5n]);
    const e = new FastLeaderElection({ mySid: 1n, voters: five, configBytes: CONFIG }, { lastLoggedZxid: 0n, currentEpoch: 0n });
    e.lookForLeader(0);
    const settled = (state: number): Notification => ({ ...looking(3n, 0n, 1n, 1n), state });
    for (const from of [2n, 4n, 5n]) expect(e.receive(1, from, settled(ServerState.FOLLOWING)).decision, `after ${from}`).toBeNull();
    // a quorum follows 3, but 3 has not said it leads
    expect(e.state).toBe(ServerState.LOOKING);
    expect(e.receive(2, 3n, settled(ServerState.LEADING)).decision).toEqual({ role: 'FOLLOWING', leader: 3n, zxid: 0n, electionEpoch: 1n, peerEpoch: 1n });
  });

  it("counts this round's LOOKING votes together with the leader's LEADING vote (recvset)", () => {
    const five = new Set([1n, 2n, 3n, 4n, 5n]);
    const e = new FastLeaderElection({ mySid: 1n, voters: five, configBytes: CONFIG }, { lastLoggedZxid: 0n, currentEpoch: 0n });
    e.lookForLeader(0);
    e.receive(1, 2n, looking(3n, 0n, 1n));
    expect(e.proposal.leader).toBe(3n);
    // 1 and 2 propose 3 in round 1 (LOOKING), 3 leads in round 1: three of five
    const decided = e.receive(2, 3n, { ...looking(3n, 0n, 1n), state: ServerState.LEADING });
    expect(decided.decision).toMatchObject({ role: 'FOLLOWING', leader: 3n, electionEpoch: 1n });
  });

  it('Vote.equals: LOOKING votes match on all fields, settled ones on leader and epoch, on the leader alone across format versions', () => {
    const v = (state: Vote['state'], version: number, peerEpoch: bigint, zxid = 0n): Vote => ({ leader: 1n, zxid, electionEpoch: 1n, peerEpoch, state, version });
    expect(votesEqual(v(0, 0, 1n), v(1, 2, 1n, 5n))).toBe(false);
    expect(votesEqual(v(1, 2, 1n), v(2, 2, 1n, 5n))).toBe(true);
    expect(votesEqual(v(1, 2, 1n), v(2, 2, 2n))).toBe(false);
    expect(votesEqual(v(1, 0, 1n), v(2, 2, 2n))).toBe(true);
  });
});
