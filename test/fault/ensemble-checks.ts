// What an ensemble promises about reads, checked on a run's history. ZooKeeper serves a read
// from the member the session is connected to, which may lag the leader: reads are
// sequentially consistent, not linearizable (writes are: they all go through the leader).
// So for ensembles the linearizability checker sees the writes, the cas ops and the final
// reads made after sync once everything healed (ensemble-run.ts), and the other reads are
// checked here against the weaker promise:
//   read-unwritten        a read returns the initial value or one some write sent before the
//                         read returned (no value from nowhere, nor from the future);
//   read-version-conflict one value has one version and one version one value, per register,
//                         over every reply (two members that applied different writes at the
//                         same version have diverged);
//   session-read-order    a session never sees a register's version go back, after its own
//                         acknowledged writes included (each session stays on one member).
// Pure: a function of the recorded ops.

import type { InvariantViolation, RegisterOp } from './history.ts';

export function checkSequentialReads(ops: readonly RegisterOp[], initialValue: string): InvariantViolation[] {
  const violations: InvariantViolation[] = [];
  const byKey = new Map<string, RegisterOp[]>();
  for (const op of ops) {
    let list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, (list = []));
    list.push(op);
  }
  for (const [key, keyOps] of byKey) violations.push(...checkKey(key, keyOps, initialValue));
  return violations;
}

function checkKey(key: string, ops: readonly RegisterOp[], initialValue: string): InvariantViolation[] {
  const violations: InvariantViolation[] = [];
  const writeInvokedMs = new Map<string, number>([[initialValue, -Infinity]]);
  for (const op of ops) if (op.kind !== 'read' && op.value !== undefined) writeInvokedMs.set(op.value, op.invokeMs);
  // every (value, version) pair a reply showed, with the op that showed it first
  const versionOf = new Map<string, { version: number; op: RegisterOp | null }>([[initialValue, { version: 0, op: null }]]);
  const valueAt = new Map<number, { value: string; op: RegisterOp | null }>([[0, { value: initialValue, op: null }]]);
  const lastVersion = new Map<string, { version: number; op: RegisterOp }>();
  const sorted = [...ops].sort((a, b) => a.invokeMs - b.invokeMs || a.id - b.id);
  const show = (op: RegisterOp | null): string => (op === null ? 'the initial state' : `#${op.id} ${op.process} ${op.kind}`);
  for (const op of sorted) {
    if (op.outcome !== 'ok' || op.version === undefined || op.value === undefined) continue;
    if (op.kind === 'read') {
      const invokedMs = writeInvokedMs.get(op.value);
      if (invokedMs === undefined || invokedMs > op.returnMs) {
        violations.push({ invariant: 'read-unwritten', detail: `${key}: #${op.id} ${op.process} read ${JSON.stringify(op.value)} v${op.version}, ${invokedMs === undefined ? 'which no write sent' : `whose write was sent at ${invokedMs.toFixed(1)} ms, after the read returned at ${op.returnMs.toFixed(1)} ms`}` });
      }
    }
    const known = versionOf.get(op.value);
    if (known !== undefined && known.version !== op.version) {
      violations.push({ invariant: 'read-version-conflict', detail: `${key}: ${JSON.stringify(op.value)} is v${known.version} to ${show(known.op)} and v${op.version} to #${op.id} ${op.process} ${op.kind}` });
    } else if (known === undefined) {
      versionOf.set(op.value, { version: op.version, op });
    }
    const at = valueAt.get(op.version);
    if (at !== undefined && at.value !== op.value) {
      violations.push({ invariant: 'read-version-conflict', detail: `${key}: v${op.version} is ${JSON.stringify(at.value)} to ${show(at.op)} and ${JSON.stringify(op.value)} to #${op.id} ${op.process} ${op.kind}` });
    } else if (at === undefined) {
      valueAt.set(op.version, { value: op.value, op });
    }
    const last = lastVersion.get(op.process);
    if (last !== undefined && op.version < last.version) {
      violations.push({ invariant: 'session-read-order', detail: `${key}: session ${op.process} saw v${last.version} (#${last.op.id} ${last.op.kind}) and then v${op.version} (#${op.id} ${op.kind})` });
    }
    if (last === undefined || op.version > last.version) lastVersion.set(op.process, { version: op.version, op });
  }
  return violations;
}
