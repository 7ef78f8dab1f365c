// The quorum worker's config (QuorumPeer's quorumVerifier and lastSeenQuorumVerifier): the one
// it runs with, a reconfig proposed and not yet committed, and the files that record them when
// reconfigEnabled (engine/quorum/dynamic-config.ts). It decides nothing about roles: the worker
// asks it what a txn proposes, tells it what to activate, and acts on the answer.

import { decodeTxn, type SetDataTxn } from '../core/txn.ts';
import { JuteError } from '../../native-free-io/jute.ts';
import { Op } from '../protocol.ts';
import type { QuorumServerConfig } from '../config/servers.ts';
import { ConfigTextError, configText, parseConfigText, votersOf, writeConfigFiles, writeNextConfigFile, type QuorumConfig } from './dynamic-config.ts';

export interface EnsembleConfigOptions {
  myid: number;
  servers: ReadonlyMap<number, QuorumServerConfig>;
  /** The dynamic config file's version (0: a static config). */
  version: bigint;
  reconfigEnabled: boolean;
  /** zoo.cfg's path (the dynamic files go next to it); null: none are written. */
  configPath: string | null;
  log: (message: string) => void;
}

export class EnsembleConfig {
  /** The config activated (QuorumPeer.getQuorumVerifier). */
  active: QuorumConfig;
  /** Set once a config without this server is activated: it no longer takes part. */
  removed = false;
  private readonly opts: EnsembleConfigOptions;
  /** This server's line gave its client address (so zoo.cfg's clientPort lines are erased when rewritten). */
  private readonly clientFromLine: boolean;

  constructor(opts: EnsembleConfigOptions) {
    this.opts = opts;
    // setupClientPort gives a server line without a client address the static one, marked
    // isClientAddrFromStatic: QuorumServer.toString leaves it out, so it is left out here
    const mine = opts.servers.get(opts.myid);
    this.clientFromLine = mine?.clientPort !== undefined && mine.clientPort !== null;
    this.active = { members: new Map(opts.servers), version: opts.version };
  }

  get reconfigEnabled(): boolean {
    return this.opts.reconfigEnabled;
  }

  text(c: QuorumConfig = this.active): string {
    return configText(c);
  }

  voters(c: QuorumConfig = this.active): number[] {
    return votersOf(c);
  }

  /**
   * Leader.lead (ZOOKEEPER-1783): with reconfigEnabled, a config never established (version 0)
   * is proposed again with the new epoch's zxid as its version, in NEWLEADER; null otherwise.
   */
  leaderConfigFor(newLeaderZxid: bigint): QuorumConfig | null {
    if (!this.opts.reconfigEnabled || this.active.version !== 0n) return null;
    const c = { members: this.active.members, version: newLeaderZxid };
    this.proposed(c);
    return c;
  }

  /** NEWLEADER's data: the leader's config when it is newer than this one (activated at UPTODATE), else null. */
  fromNewLeader(data: Buffer | null): QuorumConfig | null {
    if (!this.opts.reconfigEnabled || data === null || data.length <= 1) return null;
    const c = this.parse(data, 'NEWLEADER');
    if (c === null || c.version <= this.active.version) return null;
    this.proposed(c);
    return c;
  }

  /**
   * FastLeaderElection's WorkerReceiver: a LOOKING server told of a newer config by a
   * notification takes it (QuorumPeer.processReconfig) and elects again over it; null otherwise.
   */
  fromNotification(config: Buffer | null): QuorumConfig | null {
    if (!this.opts.reconfigEnabled || config === null || config.length === 0) return null;
    const c = this.parse(config, 'a notification');
    return c !== null && c.version > this.active.version ? c : null;
  }

  /** The config a logged txn proposes (a reconfig's SetDataTxn), or null for any other txn. */
  reconfigOf(txn: Buffer): QuorumConfig | null {
    if (txn.length < 32 || txn.readInt32BE(28) !== Op.reconfig) return null;
    let record: SetDataTxn;
    try {
      record = decodeTxn(txn).txn as SetDataTxn;
    } catch (e) {
      if (!(e instanceof JuteError) && !(e instanceof RangeError)) throw e;
      this.opts.log(`a reconfig txn that does not decode (${e.message}): ignored`);
      return null;
    }
    const c = this.parse(record.data, 'a reconfig txn');
    if (c !== null) this.proposed(c);
    return c;
  }

  /** A config a peer sent; null (logged) when it does not parse: a peer's bad bytes never stop this server. */
  private parse(text: Buffer, from: string): QuorumConfig | null {
    try {
      return parseConfigText(text.toString('utf8'));
    } catch (e) {
      if (!(e instanceof ConfigTextError)) throw e;
      this.opts.log(`the config in ${from} does not parse (${e.message}): ignored`);
      return null;
    }
  }

  /** QuorumPeer.setLastSeenQuorumVerifier(qv, true): the `.next` file. */
  private proposed(c: QuorumConfig): void {
    if (this.opts.reconfigEnabled && this.opts.configPath !== null) writeNextConfigFile(this.opts.configPath, c);
  }

  /** QuorumPeer.setQuorumVerifier(qv, true): the config runs from now on; returns false for one not newer. */
  activate(c: QuorumConfig): boolean {
    if (c.version <= this.active.version) return false;
    this.active = c;
    this.removed = !c.members.has(this.opts.myid);
    if (this.opts.reconfigEnabled && this.opts.configPath !== null) {
      const file = writeConfigFiles(this.opts.configPath, c, this.clientFromLine);
      this.opts.log(`config version ${c.version.toString(16)} activated (${this.voters(c).join(',')} vote): ${file}`);
    }
    return true;
  }

  /** getDesignatedLeader: this leader when it still votes in c, else the lowest voter among `synced`. */
  designatedLeader(c: QuorumConfig, synced: Iterable<number>): bigint {
    const voters = this.voters(c);
    if (voters.includes(this.opts.myid)) return BigInt(this.opts.myid);
    const candidates = [...synced].filter((sid) => voters.includes(sid)).sort((a, b) => a - b);
    return BigInt(candidates[0] ?? voters[0]);
  }
}

/** A leader's configs to activate: the epoch's re-versioned one at NEWLEADER, a reconfig's at its commit (Leader.lead, tryToCommit). */
export class LeaderConfigs {
  private readonly ensemble: EnsembleConfig;
  private pending: { zxid: number; config: QuorumConfig } | null = null;

  constructor(ensemble: EnsembleConfig) {
    this.ensemble = ensemble;
  }

  /** The epoch is decided: NEWLEADER's data when the config is proposed again with the epoch's zxid as its version, else null. */
  epochDecided(epoch: number): Buffer | null {
    const config = this.ensemble.leaderConfigFor(BigInt(epoch) << 32n);
    if (config === null) return null;
    this.pending = { zxid: epoch * 0x1_0000_0000, config };
    return Buffer.from(configText(config), 'utf8');
  }

  /** NEWLEADER acknowledged by a quorum: the config to activate now, if one waits. */
  established(): QuorumConfig | null {
    const config = this.pending?.config ?? null;
    this.pending = null;
    return config;
  }

  /** A txn proposed: for a reconfig, the designated leader its COMMITANDACTIVATE names; null for any other txn. */
  proposed(zxid: number, txn: Buffer, syncedFollowers: Iterable<number>): bigint | null {
    const config = this.ensemble.reconfigOf(txn);
    if (config === null) return null;
    this.pending = { zxid, config };
    return this.ensemble.designatedLeader(config, syncedFollowers);
  }

  /** The commit stage moved to zxid: the reconfig's config when it is committed now, else null. */
  committed(zxid: number): QuorumConfig | null {
    if (this.pending === null || zxid < this.pending.zxid) return null;
    const { config } = this.pending;
    this.pending = null;
    return config;
  }
}

/** A learner's configs to activate: NEWLEADER's at UPTODATE, a reconfig txn's at its ACTIVATE packet. */
export class LearnerConfigs {
  private readonly ensemble: EnsembleConfig;
  private fromLeader: QuorumConfig | null = null;
  private readonly reconfigs = new Map<number, QuorumConfig>();

  constructor(ensemble: EnsembleConfig) {
    this.ensemble = ensemble;
  }

  newLeader(data: Buffer | null): void {
    this.fromLeader = this.ensemble.fromNewLeader(data);
  }

  /** UPTODATE: the leader's config to activate, if newer than this server's. */
  upToDate(): QuorumConfig | null {
    const config = this.fromLeader;
    this.fromLeader = null;
    return config;
  }

  /** A txn received (PROPOSAL, INFORM): a reconfig's config is kept for its ACTIVATE. */
  txn(zxid: number, txn: Buffer): void {
    const config = this.ensemble.reconfigOf(txn);
    if (config !== null) this.reconfigs.set(zxid, config);
  }

  /** COMMITANDACTIVATE / INFORMANDACTIVATE of zxid: its config (undefined when its txn never came). */
  activated(zxid: number): QuorumConfig | undefined {
    const config = this.reconfigs.get(zxid);
    this.reconfigs.clear();
    return config;
  }
}
