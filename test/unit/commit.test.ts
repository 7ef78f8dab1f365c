// The commit stage (engine/core/commit.ts): outputs leave in order once a quorum of voters
// has their zxid durable. Standalone is one voter; an ensemble of 3 commits on 2 acks.
import { describe, it, expect } from 'vitest';
import { CommitStage, type HeldOutput } from '../../engine/core/commit.ts';

function out(zxid: number, conn = 1): HeldOutput {
  return { zxid, conn, frame: Buffer.from(`z${zxid}`), startMs: 0 };
}

describe('commit stage', () => {
  it('standalone: the local durable zxid commits, outputs leave in the order they were held', () => {
    const c = new CommitStage([1]);
    const sent: number[] = [];
    c.hold(out(1));
    c.hold(out(2));
    c.hold(out(2, 7));
    c.hold(out(3));
    expect(c.ack(1, 2, (h) => sent.push(h.zxid))).toBe(true);
    expect(sent).toEqual([1, 2, 2]);
    expect(c.size).toBe(1);
    expect(c.ack(1, 2, (h) => sent.push(h.zxid))).toBe(false); // an old ack changes nothing
    c.ack(1, 5, (h) => sent.push(h.zxid));
    expect(sent).toEqual([1, 2, 2, 3]);
    expect(c.committedZxid).toBe(5);
  });

  it('three voters: a zxid commits when two have it durable, whichever two', () => {
    const c = new CommitStage([1, 2, 3]);
    const sent: number[] = [];
    const release = (h: HeldOutput) => sent.push(h.zxid);
    for (const z of [1, 2, 3]) c.hold(out(z));
    expect(c.ack(1, 3, release)).toBe(false); // the leader alone is no quorum
    expect(sent).toEqual([]);
    expect(c.ack(3, 1, release)).toBe(true);
    expect(sent).toEqual([1]);
    expect(c.ack(2, 3, release)).toBe(true);
    expect(sent).toEqual([1, 2, 3]);
    expect(c.committedZxid).toBe(3);
  });

  it('refuses outputs tagged below the one before and an empty ensemble; a non-voter\'s ack counts for nothing', () => {
    const c = new CommitStage([1]);
    c.hold(out(4));
    expect(() => c.hold(out(3))).toThrow(/tagged 3 after one tagged 4/);
    expect(c.ack(9, 4, () => {})).toBe(false);
    expect(() => new CommitStage([])).toThrow();
  });

  it('a reconfig commits on a quorum of the old and of the new voters, and the new ones count from then on', () => {
    const c = new CommitStage([1, 2, 3]);
    const sent: number[] = [];
    const release = (h: { zxid: number }) => void sent.push(h.zxid);
    for (const z of [5, 6, 7]) c.hold(out(z));
    c.reconfigure(6, [1, 4, 5]);
    c.ack(1, 7, release);
    c.ack(2, 7, release); // old quorum {1,2}: 5 commits, 6 waits for the new voters
    expect(sent).toEqual([5]);
    c.ack(4, 7, release); // new quorum {1,4}
    expect(sent).toEqual([5, 6, 7]);
    expect([...c.voterIds]).toEqual([1, 4, 5]);
    c.hold(out(8));
    c.ack(2, 8, release); // 2 no longer votes
    expect(sent).toEqual([5, 6, 7]);
    c.ack(5, 8, release);
    c.ack(1, 8, release);
    expect(sent).toEqual([5, 6, 7, 8]);
  });

  it('recovered state is committed; a close behind nothing leaves at once; dropAll forgets what waits', () => {
    const c = new CommitStage([1, 2, 3]);
    c.committedAt(10);
    const sent: number[] = [];
    c.hold(out(10));
    c.releaseCommitted((h) => sent.push(h.zxid));
    expect(sent).toEqual([10]);
    c.hold(out(11));
    c.dropAll();
    expect(c.size).toBe(0);
    expect(c.ack(2, 11, (h) => sent.push(h.zxid))).toBe(false); // one voter at 11 is no quorum
    expect(c.ack(3, 11, (h) => sent.push(h.zxid))).toBe(true);
    expect(c.committedZxid).toBe(11);
    expect(sent).toEqual([10]);
  });
});
