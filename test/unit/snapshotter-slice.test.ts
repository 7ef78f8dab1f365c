// The pipeline's side of a snapshot (engine/persistence/snapshotter.ts): a slice ends at its
// deadline, or — when the pipeline has work waiting (a request, a durable zxid) — at the
// next look at the clock, after a bounded batch of nodes, so a request waits tens of µs for a
// snapshot slice and not the whole slice.
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
});
