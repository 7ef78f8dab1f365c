// The reconfig opcode (16) on a leader, as ZooKeeper 3.8's PrepRequestProcessor prepares it:
// checks in its order (RECONFIGDISABLED, UNIMPLEMENTED standalone, RECONFIGINPROGRESS,
// BADVERSION against -v, BADARGUMENTS for a membership that does not parse or has too few
// voters, NEWCONFIGNOQUORUM when a quorum of the new voters is not connected and synced, and
// last the WRITE permission on /zookeeper/config: NOAUTH for all but the super user, unless
// skipACL), then a txn of type reconfig whose record is SetDataTxn(/zookeeper/config, the new
// QuorumMaj text with version = the txn's zxid, -1). The reply is GetDataResponse(data, stat).
//
// The config itself is the quorum worker's (engine/workers/quorum-worker.ts): it tells the
// pipeline the config it activated (CONFIG, the /zookeeper/config node) and which followers are
// synced (LEARNERS); it sees the reconfig txn in the PROPOSE stream and activates it when the
// commit stage commits it (COMMITANDACTIVATE, INFORMANDACTIVATE). Until then another reconfig
// is RECONFIGINPROGRESS.

import type { JuteReader } from '../../native-free-io/jute.ts';
import { type Stat, type TxnHeader, Err, KeeperError, Op, Perm, beginReply, writeData, writeStat } from '../protocol.ts';
import type { QuorumServerConfig } from '../config/servers.ts';
import { ConfigTextError, configText, hasQuorum, parseConfigText, serverIdOf, serverLineOf, votersOf, type QuorumConfig } from '../quorum/dynamic-config.ts';
import type { Handler } from './opcodes.ts';
import type { CommittedReply } from './handlers/committed.ts';
import type { Pipeline, Conn } from './pipeline.ts';
import type { SetDataTxn, Txn } from './txn.ts';
import { write } from './handlers/writes.ts';

export const CONFIG_NODE = '/zookeeper/config';

/** What a leader knows of the ensemble's config (QuorumPeer's quorumVerifier and lastSeenQuorumVerifier). */
export class ReconfigState {
  /** reconfigEnabled. */
  readonly enabled: boolean;
  /** standaloneEnabled: a new config needs two voters, else one. */
  readonly standaloneEnabled: boolean;
  /** This server's id. */
  readonly serverId: number;
  /** The config activated (null until the quorum worker says). */
  active: QuorumConfig | null = null;
  /** A reconfig logged and not yet activated (lastSeen newer than active), and its config. */
  proposedZxid = -1;
  private proposedConfig: QuorumConfig | null = null;
  /** Followers connected and synced with this leader (Leader.forwardingFollowers that are synced). */
  syncedFollowers: ReadonlySet<number> = new Set();

  constructor(enabled: boolean, standaloneEnabled: boolean, serverId: number) {
    this.enabled = enabled;
    this.standaloneEnabled = standaloneEnabled;
    this.serverId = serverId;
  }

  /** The quorum worker activated a config: the reconfig in progress (if any) is done. */
  activated(c: QuorumConfig): void {
    this.active = c;
    if (this.proposedZxid !== -1 && BigInt(this.proposedZxid) <= c.version) this.proposedZxid = -1;
  }

  /** A reconfig's txn is logged at zxid: until it commits, another one is RECONFIGINPROGRESS. */
  proposed(zxid: number, c: QuorumConfig): void {
    this.proposedZxid = zxid;
    this.proposedConfig = c;
  }

  /**
   * The commit stage is at committedZxid: a reconfig it covers is active (Leader.tryToCommit
   * activates before the reply leaves; the quorum worker's CONFIG may come after the client's next request).
   */
  settle(committedZxid: number): void {
    if (this.proposedZxid === -1 || committedZxid < this.proposedZxid) return;
    this.active = this.proposedConfig;
    this.proposedZxid = -1;
    this.proposedConfig = null;
  }

  /** A role ends: a reconfig proposed in it is the next leader's to finish. */
  reset(): void {
    this.proposedZxid = -1;
    this.proposedConfig = null;
    this.syncedFollowers = new Set();
  }
}

/** ReconfigRequest {ustring joiningServers; ustring leavingServers; ustring newMembers; long curConfigId}. */
interface ReconfigRequest {
  joining: string | null;
  leaving: string | null;
  newMembers: string | null;
  curConfigId: bigint;
}

export const reconfig: Handler = (p, conn, s, xid, r) => {
  const req = readReconfig(r);
  write(p, conn, s, xid, Op.reconfig, () => prepReconfig(p, conn, req), (zxid, txn) => {
    // logged: from this zxid on the commit stage counts the new voters too, and another reconfig waits
    const next = parseConfigText((txn as SetDataTxn).data.toString('utf8'));
    p.reconfig.proposed(zxid, next);
    p.commit.reconfigure(zxid, votersOf(next));
    const at = beginReply(p.writer.reset(), xid, zxid, Err.OK);
    replyConfig(p, (txn as SetDataTxn).data);
    p.finish(conn.key, at, zxid);
  });
};

/** A follower's or observer's reply to a reconfig it forwarded: the config committed and the node's Stat. */
export const reconfigCommitted: CommittedReply = (p, conn, xid, _requestType, hdr: TxnHeader, txn: Txn) => {
  if (txn.type === Op.error) return p.replyError(conn, xid, txn.err, hdr.zxid);
  const at = beginReply(p.writer.reset(), xid, hdr.zxid, Err.OK);
  replyConfig(p, (txn as SetDataTxn).data);
  p.finish(conn, at, hdr.zxid);
};

function replyConfig(p: Pipeline, data: Buffer): void {
  writeData(p.writer, data);
  const stat: Stat = p.statOf(p.node(CONFIG_NODE));
  writeStat(p.writer, stat);
}

function readReconfig(r: JuteReader): ReconfigRequest {
  return { joining: r.string(), leaving: r.string(), newMembers: r.string(), curConfigId: r.long() };
}

function prepReconfig(p: Pipeline, conn: Conn, req: ReconfigRequest): Txn {
  const state = p.reconfig;
  if (!state.enabled) throw new KeeperError(Err.RECONFIGDISABLED);
  if (p.role !== 'leader' || state.active === null) throw new KeeperError(Err.UNIMPLEMENTED);
  state.settle(p.commit.committedZxid);
  if (state.proposedZxid !== -1) throw new KeeperError(Err.RECONFIGINPROGRESS);
  const active = state.active;
  if (req.curConfigId !== -1n && req.curConfigId !== active.version) throw new KeeperError(Err.BADVERSION);
  const zxid = p.tree.lastZxid + 1;
  const members = req.newMembers !== null ? newMembership(req.newMembers) : incremental(active, req);
  const next: QuorumConfig = { members, version: BigInt(zxid) };
  const voters = votersOf(next);
  if (voters.length < (state.standaloneEnabled ? 2 : 1)) throw new KeeperError(Err.BADARGUMENTS);
  if (!hasQuorum(next, quorumSyncedIds(p, next))) throw new KeeperError(Err.NEWCONFIGNOQUORUM);
  p.checkAcl(p.aclOf(p.node(CONFIG_NODE)), Perm.WRITE, conn);
  return { type: Op.reconfig, path: CONFIG_NODE, data: Buffer.from(configText(next), 'utf8'), version: -1 };
}

/** Leader.isQuorumSynced's ids: this leader and the synced followers, those that vote in the new config. */
function quorumSyncedIds(p: Pipeline, next: QuorumConfig): Set<number> {
  const ids = new Set<number>();
  const voter = (id: number): boolean => next.members.get(id)?.role === 'participant';
  if (voter(p.reconfig.serverId)) ids.add(p.reconfig.serverId);
  for (const sid of p.reconfig.syncedFollowers) if (voter(sid)) ids.add(sid);
  return ids;
}

/** Non-incremental: the members given (commas or newlines between server.N lines). */
function newMembership(text: string): Map<number, QuorumServerConfig> {
  try {
    return new Map(parseConfigText(text).members);
  } catch (e) {
    if (e instanceof ConfigTextError) throw new KeeperError(Err.BADARGUMENTS);
    throw e;
  }
}

/**
 * Incremental: the active members, without those leaving, with those joining (each
 * `server.N=host:port:port[:role];[host:]port`, three ports, no address another member uses).
 * An id that is not a number fails as ZooKeeper's NumberFormatException does: MARSHALLINGERROR.
 */
function incremental(active: QuorumConfig, req: ReconfigRequest): Map<number, QuorumServerConfig> {
  const next = new Map(active.members);
  for (const leaving of splitList(req.leaving)) {
    if (!/^[+-]?[0-9]{1,18}$/.test(leaving)) throw new KeeperError(Err.MARSHALLINGERROR);
    next.delete(Number(leaving));
  }
  for (const joiner of splitList(req.joining)) {
    const parts = joiner.split('=').map((t) => t.trim()).filter((t) => t !== '');
    if (parts.length !== 2) throw new KeeperError(Err.BADARGUMENTS);
    const sid = idOf(parts[0]);
    const server = joinerOf(parts[1]);
    for (const [id, other] of next) if (id !== sid && sharesAddress(server, other)) throw new KeeperError(Err.BADARGUMENTS);
    next.delete(sid);
    next.set(sid, server);
  }
  return next;
}

function idOf(key: string): number {
  try {
    return serverIdOf(key);
  } catch (e) {
    if (e instanceof ConfigTextError) throw new KeeperError(Err.MARSHALLINGERROR);
    throw e;
  }
}

function joinerOf(value: string): QuorumServerConfig {
  try {
    const server = serverLineOf(value);
    if (server.clientPort === null) throw new KeeperError(Err.BADARGUMENTS);
    return server;
  } catch (e) {
    if (e instanceof ConfigTextError) throw new KeeperError(Err.BADARGUMENTS);
    throw e;
  }
}

/** QuorumServer.checkAddressDuplicate: the same host and quorum or election port. */
function sharesAddress(a: QuorumServerConfig, b: QuorumServerConfig): boolean {
  const ports = (s: QuorumServerConfig): string[] => [`${s.host}:${s.quorumPort}`, `${s.host}:${s.electionPort}`];
  const theirs = new Set(ports(b));
  return ports(a).some((x) => theirs.has(x));
}

/** StringUtils.split(s, ","): trimmed, empty parts dropped. */
function splitList(s: string | null): string[] {
  return s === null ? [] : s.split(',').map((t) => t.trim()).filter((t) => t !== '');
}

/**
 * ZKDatabase.initConfigInZKDatabase: the config the quorum worker activated becomes the
 * /zookeeper/config node (its text, mzxid = the config's version, version -1, mtime now) and
 * the opcode's view of it. A learner's or a new leader's node says what the ensemble runs.
 */
export function activateConfig(p: Pipeline, version: bigint, text: string, wallMs: number): void {
  const c = parseConfigText(text);
  p.reconfig.activated({ members: c.members, version });
  p.tree.setData(CONFIG_NODE, Buffer.from(text, 'utf8'), -1, Number(version), wallMs);
  p.tree.dropEvents(); // the txn that made this config fired the watches already
}
