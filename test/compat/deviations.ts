// Where zooid deliberately answers as a later Apache ZooKeeper than the 3.8.0 oracle
// Debian ships: security fixes the oracle predates. Each rewrites the oracle's entry into
// what the fixed ZooKeeper answers, so the rest of the comparison stays exact.
import type { TranscriptEntry } from '../support/transcript.ts';

export interface Deviation {
  /** The steps it applies to. */
  step: RegExp;
  /** Why (the upstream issue and release). */
  reason: string;
  /** The oracle's entry as the fixed ZooKeeper answers it; null leaves it alone. */
  rewrite(entry: TranscriptEntry): TranscriptEntry | null;
}

/**
 * ZOOKEEPER-2590, fixed in 3.8.4 and 3.9.2: exists on an existing node needs READ. The
 * steps named here are exists calls by a session without READ on the node.
 */
export const EXISTS_NEEDS_READ: Deviation[] = [
  {
    step: /^s2 exists "\/acl-digest"$/,
    reason: 'ZOOKEEPER-2590 (3.8.4): exists checks READ',
    rewrite: (e) => (e.err === 'OK' ? { step: e.step, err: 'NOAUTH', zxid: e.zxid } : null),
  },
  {
    step: /^c2 exists \/ka without auth$/,
    reason: 'ZOOKEEPER-2590 (3.8.4): exists checks READ',
    rewrite: (e) => ('stat' in e ? { step: e.step, zxid: e.zxid, error: 'NoAuthError' } : null),
  },
];

/** The oracle's transcript with the deviations applied (only when the target is zooid). */
export function applyDeviations(entries: readonly TranscriptEntry[], deviations: readonly Deviation[]): TranscriptEntry[] {
  return entries.map((e) => {
    for (const d of deviations) {
      if (!d.step.test(e.step)) continue;
      const rewritten = d.rewrite(e);
      if (rewritten !== null) return rewritten;
    }
    return e;
  });
}
