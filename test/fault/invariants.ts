// Invariants beyond linearizability of the registers, checked on a run's records after it
// ends (pure functions of the records and what the final read-back saw):
// - sequential-create numbers are never handed out twice and follow real time (a create
//   acknowledged before another was sent has the smaller number);
// - every acknowledged sequential create is still there after recovery;
// - every acknowledged setData is still there after recovery: the register's final
//   version is at least the highest version ever acknowledged for it.
// Per-session FIFO order and zxid order are checked while the run goes on (workload.ts).

import { type InvariantViolation, type RegisterOp, type SeqCreateOp } from './history.ts';

export function checkSeqCreates(creates: readonly SeqCreateOp[], finalChildren: ReadonlySet<string> | null, parent: string): InvariantViolation[] {
  const out: InvariantViolation[] = [];
  const acked = creates.filter((c) => c.outcome === 'ok');
  const byNumber = new Map<number, SeqCreateOp>();
  for (const c of acked) {
    if (c.seq === undefined || c.path === undefined) throw new Error(`acknowledged create #${c.id} without a path`);
    const earlier = byNumber.get(c.seq);
    if (earlier !== undefined) {
      out.push({ invariant: 'seq-reused', detail: `sequence number ${c.seq} acknowledged twice: #${earlier.id} ${earlier.process} got ${earlier.path}, #${c.id} ${c.process} got ${c.path}` });
    } else {
      byNumber.set(c.seq, c);
    }
  }
  // real-time order: sweep creates by invocation, with the highest number acknowledged before it
  const byReturn = [...acked].sort((a, b) => a.returnMs - b.returnMs);
  const byInvoke = [...acked].sort((a, b) => a.invokeMs - b.invokeMs);
  let j = 0;
  let highest: SeqCreateOp | undefined;
  for (const c of byInvoke) {
    while (j < byReturn.length && byReturn[j].returnMs < c.invokeMs) {
      if (highest === undefined || byReturn[j].seq! > highest.seq!) highest = byReturn[j];
      j++;
    }
    if (highest !== undefined && highest.seq! >= c.seq!) {
      out.push({
        invariant: 'seq-order',
        detail: `#${c.id} ${c.process} sent at ${c.invokeMs.toFixed(1)} ms got ${c.seq}, but #${highest.id} ${highest.process} acknowledged at ${highest.returnMs.toFixed(1)} ms already had ${highest.seq}`,
      });
    }
  }
  if (finalChildren !== null) {
    const lost = acked.filter((c) => !finalChildren.has(c.path!.slice(parent.length + 1)));
    if (lost.length > 0) {
      out.push({ invariant: 'acked-create-lost', detail: `${lost.length} acknowledged sequential creates missing after recovery: ${lost.slice(0, 5).map((c) => `#${c.id} ${c.path}`).join(', ')}` });
    }
  }
  return out;
}

/** The final read-back must not be older than any acknowledged write (the register checker says the same with the history; this says it plainly). */
export function checkAckedWritesKept(ops: readonly RegisterOp[], finalVersions: ReadonlyMap<string, number>): InvariantViolation[] {
  const out: InvariantViolation[] = [];
  const highestAcked = new Map<string, RegisterOp>();
  for (const op of ops) {
    if (op.kind === 'read' || op.outcome !== 'ok' || op.version === undefined) continue;
    const h = highestAcked.get(op.key);
    if (h === undefined || op.version > h.version!) highestAcked.set(op.key, op);
  }
  for (const [key, op] of [...highestAcked].sort(([a], [b]) => a.localeCompare(b))) {
    const final = finalVersions.get(key);
    if (final === undefined || final < op.version!) {
      out.push({ invariant: 'acked-write-lost', detail: `${key}: #${op.id} ${op.process} was acknowledged at version ${op.version} (${JSON.stringify(op.value)}), after recovery the version is ${final ?? 'unreadable'}` });
    }
  }
  return out;
}

/** The sequence number ZooKeeper appends: the last 10 digits of the created name. */
export function seqNumberOf(path: string): number {
  const digits = /(\d{10})$/.exec(path);
  if (digits === null) throw new Error(`not a sequential name: ${path}`);
  return Number(digits[1]);
}
