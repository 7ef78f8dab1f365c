// An in-memory stand-in for what a learner's Zab state machine drives (engine/quorum/
// zab-learner.ts): a DataTree that committed txns are applied to (engine/core/txn.ts
// mutate), a txn "log" whose durability the test controls, epoch "files", and a record of
// every packet sent and every effect, in order. Used by the unit tests (packets played by
// hand) and by the test against a real ZooKeeper leader (packets from a socket).
import { DataTree, type NodeRecord } from '../../engine/core/tree.ts';
import { decodeTxn, mutate } from '../../engine/core/txn.ts';
import { TreeLoader } from '../../engine/persistence/snapshot.ts';
import type { ZabLearnerOutputs } from '../../engine/quorum/zab-learner.ts';
import { type QuorumPacket, packetTypeName } from '../../engine/quorum/wire.ts';
import type { Acl } from '../../engine/protocol.ts';

export interface ZabHostOptions {
  /** Report appends durable at once (true) or only when the test calls flush(). */
  autoDurable?: boolean;
  /** Report takeSnapshot saved at once (true) or only when the test calls saveSnapshot(). */
  autoSnapshot?: boolean;
}

export class ZabHost implements ZabLearnerOutputs {
  tree = new DataTree();
  sessions = new Map<bigint, number>();
  readonly sent: QuorumPacket[] = [];
  /** Every effect as a short line, in order ('send ACK 0x100000000', 'log 0x100000001', …). */
  readonly effects: string[] = [];
  /** The txn log: zxid → txn bytes (a TRUNC cuts it). */
  readonly log = new Map<number, Buffer>();
  /** Proposals logged, waiting for COMMIT, oldest first. */
  readonly proposals: { zxid: number; txn: Buffer }[] = [];
  acceptedEpoch = -1;
  currentEpoch = -1;
  servingFrom: number | null = null;
  failure: string | null = null;
  readonly warnings: string[] = [];
  readonly revalidations: [bigint, boolean][] = [];
  syncs = 0;
  lastSnapshotZxid: number | null = null;
  /** Set by the test: the machine to tell about durability and snapshots. */
  durableSink: ((zxid: number) => void) | null = null;
  snapshotSink: ((zxid: number) => void) | null = null;
  private loader: TreeLoader | null = null;
  private readonly autoDurable: boolean;
  private readonly autoSnapshot: boolean;
  private lastLoggedZxid = 0;
  private pendingSnapshot: number | null = null;

  constructor(options: ZabHostOptions = {}) {
    this.autoDurable = options.autoDurable ?? true;
    this.autoSnapshot = options.autoSnapshot ?? true;
  }

  /** A history this server had before (in its log and tree). */
  preload(txns: Buffer[]): this {
    for (const t of txns) {
      const zxid = Number(t.readBigInt64BE(12));
      this.log.set(zxid, Buffer.from(t));
      this.applyBytes(zxid, t);
      this.lastLoggedZxid = zxid;
    }
    return this;
  }

  /** The packets sent of a type. */
  sentOf(type: number): QuorumPacket[] {
    return this.sent.filter((p) => p.type === type);
  }

  /** Report the log durable up to its newest entry. */
  flush(): void {
    this.durableSink?.(this.lastLoggedZxid);
  }

  saveSnapshot(): void {
    if (this.pendingSnapshot !== null) this.snapshotSink?.(this.pendingSnapshot);
    this.pendingSnapshot = null;
  }

  // ------------------------------------------------------------------ ZabLearnerOutputs

  send(packet: QuorumPacket): void {
    this.sent.push({ ...packet, data: packet.data === null ? null : Buffer.from(packet.data) });
    this.effects.push(`send ${packetTypeName(packet.type)} 0x${packet.zxid.toString(16)}`);
  }

  writeAcceptedEpoch(epoch: number): void {
    this.acceptedEpoch = epoch;
    this.effects.push(`acceptedEpoch ${epoch}`);
  }

  writeCurrentEpoch(epoch: number): void {
    this.currentEpoch = epoch;
    this.effects.push(`currentEpoch ${epoch}`);
  }

  truncateLog(zxid: number): void {
    this.effects.push(`truncate 0x${zxid.toString(16)}`);
    for (const z of [...this.log.keys()]) if (z > zxid) this.log.delete(z);
    // the tree rebuilt from the log that is left (no snapshot in this stand-in)
    this.tree = new DataTree();
    for (const [z, txn] of [...this.log.entries()].sort((a, b) => a[0] - b[0])) this.applyBytes(z, txn);
    this.tree.lastZxid = zxid;
    this.lastLoggedZxid = zxid;
  }

  loadSnapshotBegin(zxid: number): void {
    this.effects.push(`snapshot begin 0x${zxid.toString(16)}`);
    this.sessions.clear();
    this.loader = new TreeLoader(this.tree, (m) => this.warnings.push(m));
  }

  loadSnapshotSession(sessionId: bigint, timeoutMs: number): void {
    this.sessions.set(sessionId, timeoutMs);
  }

  loadSnapshotAcl(ref: number, acls: Acl[]): void {
    this.loader!.acl(ref, acls);
  }

  loadSnapshotNode(path: string, node: NodeRecord): void {
    this.loader!.node(path, node);
  }

  loadSnapshotEnd(zxid: number): void {
    this.loader!.finish(zxid);
    this.loader = null;
    this.log.clear();
    this.lastLoggedZxid = zxid;
    this.effects.push(`snapshot end 0x${zxid.toString(16)} (${this.tree.nodeCount()} nodes, ${this.sessions.size} sessions)`);
  }

  applyTxn(zxid: number, txn: Buffer): void {
    this.effects.push(`apply 0x${zxid.toString(16)}`);
    this.applyBytes(zxid, txn);
  }

  takeSnapshot(zxid: number): void {
    this.effects.push(`takeSnapshot 0x${zxid.toString(16)}`);
    this.lastSnapshotZxid = zxid;
    this.pendingSnapshot = zxid;
    if (this.autoSnapshot) this.saveSnapshot();
  }

  logProposal(zxid: number, txn: Buffer): void {
    this.effects.push(`log 0x${zxid.toString(16)}`);
    this.log.set(zxid, Buffer.from(txn));
    this.proposals.push({ zxid, txn: Buffer.from(txn) });
    this.lastLoggedZxid = zxid;
    if (this.autoDurable) this.flush();
  }

  commit(zxid: number): void {
    this.effects.push(`commit 0x${zxid.toString(16)}`);
    const p = this.proposals.shift();
    if (p === undefined || p.zxid !== zxid) throw new Error(`commit of 0x${zxid.toString(16)}, oldest proposal ${p === undefined ? 'none' : `0x${p.zxid.toString(16)}`}`);
    this.applyBytes(zxid, p.txn);
  }

  inform(zxid: number, txn: Buffer): void {
    this.effects.push(`inform 0x${zxid.toString(16)}`);
    this.log.set(zxid, Buffer.from(txn));
    this.lastLoggedZxid = zxid;
    this.applyBytes(zxid, txn);
  }

  revalidated(sessionId: bigint, valid: boolean): void {
    this.revalidations.push([sessionId, valid]);
  }

  synced(): void {
    this.syncs++;
  }

  startServing(lastZxid: number): void {
    this.effects.push(`serving 0x${lastZxid.toString(16)}`);
    this.servingFrom = lastZxid;
  }

  warn(message: string): void {
    this.warnings.push(message);
  }

  fail(reason: string): void {
    this.effects.push(`fail ${reason}`);
    this.failure = reason;
  }

  private applyBytes(zxid: number, txn: Buffer): void {
    const { hdr, txn: t } = decodeTxn(txn);
    if (t.type === -10) this.sessions.set(hdr.sessionId, t.timeoutMs);
    if (t.type === -11) this.sessions.delete(hdr.sessionId);
    mutate(this.tree, hdr, t);
    this.tree.lastZxid = zxid;
  }
}
