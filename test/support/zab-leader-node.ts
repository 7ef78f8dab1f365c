// A zooid leader for quorum tests, assembled on the test's thread: a real Pipeline (role
// 'leader') joined to ZabLeader by its shell over real sockets — what the quorum worker will
// do across rings. Stand-ins: the log (a txn is durable on the next turn of the event loop,
// the leader's own ack), the epoch files (fields), and the committed state a SNAP streams (a
// replica fed the committed txns — DESIGN.md's snapshot design (b)), since the leader's
// pipeline tree runs ahead of commit.
import { Pipeline, type PipelineOptions } from '../../engine/core/pipeline.ts';
import { encodeTxn, type Txn } from '../../engine/core/txn.ts';
import type { TxnHeader } from '../../engine/protocol.ts';
import { JuteWriter } from '../../native-free-io/jute.ts';
import { ZabLeader, type ZabLeaderOptions } from '../../engine/quorum/zab-leader.ts';
import { ZabLeaderShell, serializeForLearner } from '../../engine/quorum/zab-leader-shell.ts';
import type { CommittedTxn } from '../../engine/quorum/zab-learner-handler.ts';
import { packetTypeName, type QuorumPacket } from '../../engine/quorum/wire.ts';
import type { Logger } from '../../engine/logger.ts';

const WALL_MS = 1_700_000_000_000;

function pipelineOptions(sid: number, voters: number[], role: 'leader' | 'standalone'): PipelineOptions {
  return {
    tickMs: 1000, minSessionTimeoutMs: 2000, maxSessionTimeoutMs: 20_000, serverId: sid, superDigest: null,
    extendedTypesEnabled: false, containerCheckIntervalMs: 60_000, containerMaxPerMinute: 10_000,
    containerMaxNeverUsedIntervalMs: 0, enforceQuota: false, maxReplyBytes: 0xfffff, txnBytesMax: 2 * 0xfffff,
    nowMs: () => performance.now(), wallMs: () => WALL_MS, role, voters,
  };
}

export interface LeaderNodeOptions {
  sid: number;
  voters: number[];
  port: number;
  configBytes: Buffer;
  /** Txns the leader had before this epoch (its log), applied at start; the committed log starts with them. */
  history: { hdr: TxnHeader; txn: Txn }[];
  /** Also offer them as the txn log on disk (DIFF from the log), not only the committed log. */
  historyOnDisk: boolean;
  log: Logger;
}

export class LeaderNode {
  readonly pipeline: Pipeline;
  /** The committed state: what a SNAP streams. */
  readonly replica: Pipeline;
  readonly zab: ZabLeader;
  readonly shell: ZabLeaderShell;
  /** Packets in and out, "in 1 FOLLOWERINFO 0" (conn, type, zxid hex). */
  readonly trace: string[] = [];
  readonly acks: { sid: number; zxid: number }[] = [];
  readonly commits: number[] = [];
  readonly epochs = { accepted: -1, current: -1 };
  established: number | null = null;
  stepDownReason: string | null = null;
  /** Frames the pipeline sent to its own clients: conn → frames. */
  readonly sent = new Map<number, Buffer[]>();
  private readonly uncommitted: { zxid: number; txn: Buffer }[] = [];

  constructor(opts: LeaderNodeOptions) {
    this.replica = new Pipeline(pipelineOptions(opts.sid, opts.voters, 'standalone'), { send: () => {}, close: () => {}, appendLog: () => {} });
    this.pipeline = new Pipeline(pipelineOptions(opts.sid, opts.voters, 'leader'), {
      send: (conn, frame) => this.sent.set(conn, [...(this.sent.get(conn) ?? []), Buffer.from(frame)]),
      close: () => {},
      appendLog: (zxid, txn) => {
        this.uncommitted.push({ zxid, txn: Buffer.from(txn) });
        setImmediate(() => this.pipeline.durable(zxid));
      },
      leader: {
        propose: (zxid, txn) => this.shell.proposed(zxid, txn),
        commit: (zxid) => {
          this.commits.push(zxid);
          while (this.uncommitted.length > 0 && this.uncommitted[0].zxid <= zxid) this.replica.replay(this.uncommitted.shift()!.txn);
          this.shell.committed(zxid);
        },
        synced: (sid) => this.shell.synced(sid),
      },
    });
    const w = new JuteWriter(1 << 16);
    const recent: CommittedTxn[] = [];
    for (const { hdr, txn } of opts.history) {
      encodeTxn(w.reset(), hdr, txn);
      const bytes = w.copy();
      this.pipeline.replay(bytes);
      this.replica.replay(bytes);
      recent.push({ zxid: hdr.zxid, data: bytes });
    }
    this.pipeline.recovered();
    this.replica.recovered();
    const lastZxid = this.pipeline.tree.lastZxid;
    const epoch = Math.floor(lastZxid / 2 ** 32);
    const zabOptions: ZabLeaderOptions = {
      mySid: opts.sid, voters: opts.voters, timing: { tickMs: 1000, initLimit: 5, syncLimit: 2 },
      acceptedEpoch: epoch, currentEpoch: epoch, lastZxid, recentTxns: recent, configBytes: opts.configBytes, configVersion: 0n,
      history: opts.historyOnDisk ? { txnsFrom: (from) => recent.filter((t) => t.zxid >= from) } : undefined,
    };
    this.zab = new ZabLeader(zabOptions);
    this.shell = new ZabLeaderShell(this.zab, {
      host: '127.0.0.1', port: opts.port, log: opts.log, packetBytesMax: 2 * 0xfffff,
      hooks: {
        snapshot: (zxid) => {
          if (zxid !== this.replica.tree.lastZxid) throw new Error(`snapshot at 0x${zxid.toString(16)}, replica at 0x${this.replica.tree.lastZxid.toString(16)}`);
          return serializeForLearner(this.replica.tree, [...this.replica.sessions.sessions.values()].map((s): [bigint, number] => [s.id, s.timeoutMs]));
        },
        acceptedEpoch: (e) => void (this.epochs.accepted = e),
        currentEpoch: (e) => void (this.epochs.current = e),
        established: (zxid) => {
          // the pipeline numbers this epoch's txns from zxid + 1
          this.established = zxid;
          this.pipeline.tree.lastZxid = zxid;
          this.pipeline.commit.committedAt(zxid);
        },
        stepDown: (reason) => void (this.stepDownReason = reason),
        ack: (sid, zxid) => {
          this.acks.push({ sid, zxid });
          this.pipeline.ack(sid, zxid);
        },
        request: (sid, sessionId, cxid, type, record, authIds) => this.pipeline.learnerRequest(sid, sessionId, cxid, type, record, authIds),
        touch: (_sid, touches) => this.pipeline.touchSessions(touches),
        revalidate: (sid, sessionId, timeoutMs) => this.shell.revalidated(sid, sessionId, this.pipeline.revalidateSession(sessionId, timeoutMs)),
        trace: (direction, conn, p) => this.trace.push(traceLine(direction, conn, p)),
      },
    });
  }

  /** The packet types seen on one connection, in order ("in:FOLLOWERINFO", "out:LEADERINFO", …), PINGs left out. */
  conversation(conn: number): string[] {
    return this.trace.filter((t) => t.split(' ')[1] === String(conn) && !t.includes(' PING ')).map((t) => {
      const [direction, , type] = t.split(' ');
      return `${direction}:${type}`;
    });
  }
}

function traceLine(direction: string, conn: number, p: QuorumPacket): string {
  return `${direction} ${conn} ${packetTypeName(p.type)} ${p.zxid.toString(16)}`;
}
