// The pipeline's side of a snapshot (engine/persistence/snapshotter.ts): a slice ends at its
// deadline, or — when the pipeline has work waiting (a request, a durable zxid) — at the
// next look at the clock, after a bounded batch of nodes, so a request waits tens of µs for a
// snapshot slice and not the whole slice. With a CPU share below 1 (zooid.snapshotCpuPct)
// the pumps rest between slices so that serializing takes that share of the time.
import { describe, expect, it } from 'vitest';
import { Ring } from '../../native-free-io/ring.ts';
import { DataTree } from '../../engine/core/tree.ts';
import { OPEN_ACL_UNSAFE } from '../../engine/protocol.ts';
import { SNAP_CONTROL_BYTES, SnapKind, Snapshotter } from '../../engine/persistence/snapshotter.ts';

const NODES = 5_000;

function treeOf(nodes: number): DataTree {
  const tree = new DataTree();
  const acl = tree.acls.intern(OPEN_ACL_UNSAFE);
  for (let i = 0; i < nodes; i++) tree.createNode(`/n${i}`, Buffer.alloc(10), acl, 0n, -1, i + 1, 0);
  tree.lastZxid = nodes; // the snapshot's zxid: every node is in it
  return tree;
}

/** One pump() of a fresh snapshot with the clock stopped (the deadline never passes): the body bytes it pushed. */
function bytesOfOnePump(workWaiting: (() => boolean) | undefined): { bytes: number; done: boolean } {
  const tree = treeOf(NODES);
  const ring = Ring.create(64 << 20);
  const snapshotter = new Snapshotter({ snapCount: 100, random: () => 0.5, nowMs: () => 0, sliceMs: 1, ring, controlSab: new SharedArrayBuffer(SNAP_CONTROL_BYTES), log: () => {}, workWaiting });
  expect(snapshotter.rolled(tree, [])).toBe(true);
  snapshotter.pump(tree);
  let bytes = 0;
  let done = false;
  while (ring.poll()) {
    if (ring.kind === SnapKind.BYTES) bytes += ring.payloadLength;
    if (ring.kind === SnapKind.END) done = true;
    ring.release();
  }
  return { bytes, done };
}

describe('snapshot slices', () => {
  it('with nothing waiting, a slice runs to its deadline (here: the whole tree)', () => {
    const whole = bytesOfOnePump(() => false);
    expect(whole.done).toBe(true);
    expect(bytesOfOnePump(undefined)).toEqual(whole);
  });

  it('with work waiting, a slice ends after one batch of nodes, and the snapshot goes on at the next pump', () => {
    const whole = bytesOfOnePump(() => false);
    const cut = bytesOfOnePump(() => true);
    expect(cut.done).toBe(false);
    expect(cut.bytes).toBeGreaterThan(0);
    expect(cut.bytes).toBeLessThan(whole.bytes / 5); // 256 of 5,000 nodes and a little more
  });

  it('with a CPU share, serializing takes that share of the time and rests between slices', () => {
    const clock = { t: 1000 };
    // each look at the clock costs 0.25 ms (256 nodes between looks): a 1 ms slice is ~1,000 nodes of 20,000
    const nowMs = () => (clock.t += 0.25);
    const ring = Ring.create(64 << 20);
    const snapshotter = new Snapshotter({ snapCount: 100, random: () => 0.5, nowMs, sliceMs: 1, cpuShare: 0.25, ring, controlSab: new SharedArrayBuffer(SNAP_CONTROL_BYTES), log: () => {} });
    const run = pumpToEnd(snapshotter, treeOf(4 * NODES), ring, clock);
    expect(run.elapsedMs).toBeGreaterThan(40); // 20 slices or more, with rests between
    const share = run.busyMs / run.elapsedMs;
    expect(share).toBeGreaterThan(0.15);
    expect(share).toBeLessThan(0.35);
    expect(snapshotter.restMs(clock.t)).toBe(0); // no rest once the body is written
  });

  it('with a CPU share but no clients being served, a snapshot runs at full speed', () => {
    const clock = { t: 1000 };
    const nowMs = () => (clock.t += 0.25);
    const ring = Ring.create(64 << 20);
    const snapshotter = new Snapshotter({ snapCount: 100, random: () => 0.5, nowMs, sliceMs: 1, cpuShare: 0.25, clientsActive: () => false, ring, controlSab: new SharedArrayBuffer(SNAP_CONTROL_BYTES), log: () => {} });
    const run = pumpToEnd(snapshotter, treeOf(4 * NODES), ring, clock);
    expect(run.rests).toBe(0);
    expect(run.busyMs).toBe(run.elapsedMs); // the same walk with clients active rests 3 ms for each 1 ms slice
  });
});

/**
 * Pumps a rolled snapshotter until its END record, as the pipeline does: resting when
 * restMs says so (the clock moves on by the rest), serializing otherwise. The time spent
 * serializing, all the time it took, and how many rests.
 */
function pumpToEnd(snapshotter: Snapshotter, tree: DataTree, ring: Ring, clock: { t: number }): { busyMs: number; elapsedMs: number; rests: number } {
  expect(snapshotter.rolled(tree, [])).toBe(true);
  const startMs = clock.t;
  let busyMs = 0;
  let rests = 0;
  let done = false;
  for (let turn = 0; turn < 10_000 && !done; turn++) {
    const rest = snapshotter.restMs(clock.t);
    if (rest > 0) {
      expect(snapshotter.pump(tree)).toBe(0); // resting: nothing serialized
      clock.t += rest;
      rests++;
      continue;
    }
    const before = clock.t;
    snapshotter.pump(tree);
    busyMs += clock.t - before;
    while (ring.poll()) {
      if (ring.kind === SnapKind.END) done = true;
      ring.release();
    }
  }
  expect(done).toBe(true);
  return { busyMs, elapsedMs: clock.t - startMs, rests };
}
