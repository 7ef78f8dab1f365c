// Read-only mode (readonlymode.enabled), as Apache ZooKeeper 3.8's ReadOnlyZooKeeperServer: a
// server of an ensemble that has looked for a leader longer than the grace serves clients that
// asked for read-only (the ConnectRequest's last byte) with reads only. What it refuses and how
// lives here; the pipeline (engine/core/pipeline.ts) asks.
import { Op } from '../protocol.ts';

/**
 * ReadOnlyRequestProcessor's list: answered NOTREADONLY with the tree's last zxid, never
 * prepared. (closeSession is not here: a read-only server's sessions are its own, closed locally.)
 */
const REFUSED_OPCODES: ReadonlySet<number> = new Set([
  Op.sync, Op.create, Op.create2, Op.createTTL, Op.createContainer, Op.delete, Op.deleteContainer,
  Op.setData, Op.reconfig, Op.setACL, Op.multi, Op.check,
]);

export function refusedWhileReadOnly(type: number): boolean {
  return REFUSED_OPCODES.has(type);
}

/**
 * The sessions a read-only server made: local to it (LearnerSessionTracker's local sessions),
 * never logged, gone when the mode ends. The ensemble's sessions (from disk) cannot reconnect
 * here (validateSession: RENEW_GLOBAL_SESSION_IN_RO_MODE) and do not expire here.
 */
export class ReadOnlySessions {
  private readonly ids = new Set<bigint>();

  add(id: bigint): void {
    if (this.ids.has(id)) throw new Error(`read-only session 0x${id.toString(16)} made twice`);
    this.ids.add(id);
  }

  has(id: bigint): boolean {
    return this.ids.has(id);
  }

  delete(id: bigint): void {
    this.ids.delete(id);
  }

  /** Every id, and the set emptied (the mode ends). */
  takeAll(): bigint[] {
    const out = [...this.ids];
    this.ids.clear();
    return out;
  }

  get size(): number {
    return this.ids.size;
  }
}
