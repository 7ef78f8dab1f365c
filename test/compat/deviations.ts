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

/**
 * Where zooid refuses what ZooKeeper 3.8 accepts, because accepting it lets one client stop
 * or break the server (issue 8). Not transcript rewrites: no compat scenario sends these;
 * each is shown by the test named.
 */
export const REFUSALS_BEYOND_ZOOKEEPER: readonly { what: string; zookeeper: string; zooid: string; test: string }[] = [
  {
    what: 'a write whose txn is larger than jute.maxbuffer + zookeeper.jute.maxbuffer.extrasize ("auth" ACLs copy every id the connection holds)',
    zookeeper: 'logs it, and then cannot read its own log back ("Unreasonable length") and does not restart',
    zooid: 'MARSHALLINGERROR before anything is applied or logged; the connection stays open',
    test: 'test/integration/hostile-requests.test.ts',
  },
  {
    what: 'an addauth that takes a connection past 64 auth ids or 128 KiB of them (engine/limits.ts)',
    zookeeper: 'holds any number of ids of any size',
    zooid: 'AUTHFAILED and the connection is closed, as for any failed addauth',
    test: 'test/integration/hostile-requests.test.ts',
  },
  {
    what: 'create or setData of data whose getData reply would pass jute.maxbuffer (over jute.maxbuffer - 88 bytes)',
    zookeeper: 'stores it; every later getData of the node breaks the reading client\'s connection',
    zooid: 'MARSHALLINGERROR (a failed write, as a failed check)',
    test: 'test/integration/hostile-requests.test.ts',
  },
  {
    what: 'a watch event about a node the watcher may not READ, for every kind of watch',
    zookeeper: '3.8.0 (the oracle) delivers it; 3.8.4 and 3.9.2 check READ at delivery (the CVE-2024-23944 fix) and drop it',
    zooid: 'as 3.8.4: dropped (the watch is used up). The events setWatches fires at once for changes made while a client was away are not checked, as in ZooKeeper',
    test: 'test/integration/hostile-requests.test.ts',
  },
];
