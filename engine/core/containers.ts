// ZooKeeper's ContainerManager: empty containers that once had children (or, when
// configured, were never used for long enough) and childless TTL nodes unchanged for their
// TTL are deleted through deleteContainer txns, at most maxPerMinute of them a minute.
// Pure: the tree and both clocks in; the paths to delete go to a callback (the pipeline
// logs a deleteContainer txn for each).
import type { DataTree } from './tree.ts';

export interface ContainerOptions {
  checkIntervalMs: number;
  maxPerMinute: number;
  /** znode.container.maxNeverUsedIntervalMs: 0 = a container never used stays. */
  maxNeverUsedIntervalMs: number;
}

export class ContainerSweeper {
  private readonly opts: ContainerOptions;
  private nextCheckMs = 0;
  private nextDeleteMs = 0;

  constructor(opts: ContainerOptions) {
    if (!(opts.checkIntervalMs > 0 && opts.maxPerMinute > 0 && opts.maxNeverUsedIntervalMs >= 0)) {
      throw new Error(`containers: bad options ${JSON.stringify(opts)}`);
    }
    this.opts = opts;
  }

  /** Ms until the next check is due (0: now). */
  msUntilDue(nowMs: number): number {
    return Math.max(0, this.nextCheckMs - nowMs);
  }

  /** When a check is due: passes each path to delete now to `remove`, within the rate. */
  maybeSweep(tree: DataTree, nowMs: number, wallMs: number, remove: (path: string) => void): void {
    if (nowMs < this.nextCheckMs) return;
    this.nextCheckMs = nowMs + this.opts.checkIntervalMs;
    const intervalMs = 60_000 / this.opts.maxPerMinute;
    for (const path of candidates(tree, wallMs, this.opts.maxNeverUsedIntervalMs)) {
      if (nowMs < this.nextDeleteMs) break;
      this.nextDeleteMs = nowMs + intervalMs;
      remove(path);
    }
  }
}

/** Containers and TTL nodes that are due for deletion at wallMs, containers first. */
export function candidates(tree: DataTree, wallMs: number, maxNeverUsedIntervalMs: number): string[] {
  const due: string[] = [];
  for (const path of tree.containers) {
    const n = tree.get(path);
    if (n === undefined || n.numChildren() > 0) continue;
    if (n.cversion > 0 || (maxNeverUsedIntervalMs !== 0 && wallMs - n.mtime > maxNeverUsedIntervalMs)) due.push(path);
  }
  for (const path of tree.ttls) {
    const n = tree.get(path);
    if (n === undefined || n.numChildren() > 0) continue;
    const ttlMs = Number(BigInt.asUintN(40, n.ephemeralOwner));
    if (ttlMs !== 0 && wallMs - n.mtime > ttlMs) due.push(path);
  }
  return due;
}
