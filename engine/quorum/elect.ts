// An election runner: FastLeaderElection (election.ts) wired to QuorumCnxManager
// (cnxmanager.ts) for one server, given the server.N list, its myid and a fixed history
// (last logged zxid, current epoch). It reports the decision and keeps answering LOOKING
// peers with it until closed, as a decided ZooKeeper server does. It does not run Zab: a
// server it elects leader accepts no followers yet.
//
//   node engine/quorum/elect.ts <zoo.cfg> [--zxid 0x100000002] [--epoch 1]
// prints the decision as one JSON line and keeps answering until SIGINT/SIGTERM (for
// trying zooid's election against a real ensemble by hand).

import { performance } from 'node:perf_hooks';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigOrExit, type QuorumServerConfig } from '../config.ts';
import { createLogger, type Logger } from '../logger.ts';
import { QuorumCnxManager } from './cnxmanager.ts';
import { DEFAULT_ELECTION_TIMING, FastLeaderElection, type Decision, type ElectionOutput, type ElectionTiming, type LocalState } from './election.ts';
import { HANDSHAKE_TIMEOUT_MS } from './limits.ts';
import { electionAddressOf, quorumViewOf, type QuorumView } from './view.ts';
import { WireError, decodeNotification, encodeNotification, type PeerAddress } from './wire.ts';

export interface ElectionRunnerOptions {
  servers: ReadonlyMap<number, QuorumServerConfig>;
  myid: number;
  local: LocalState;
  timing?: ElectionTiming;
  connectTimeoutMs?: number;
  /** ZooKeeper: tickTime × syncLimit. */
  handshakeTimeoutMs?: number;
  log?: Logger;
}

export class ElectionRunner {
  readonly view: QuorumView;
  readonly election: FastLeaderElection;
  /** The first decision, once made. */
  decision: Decision | null = null;
  private readonly cnx: QuorumCnxManager;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | null = null;
  private resolveDecision: (d: Decision) => void = () => {};
  private readonly decided: Promise<Decision>;
  private closed = false;

  private constructor(opts: ElectionRunnerOptions) {
    this.view = quorumViewOf(opts.servers, opts.myid);
    this.log = (opts.log ?? createLogger('quorum')).child({ myid: opts.myid });
    this.election = new FastLeaderElection(this.view, opts.local, opts.timing ?? DEFAULT_ELECTION_TIMING);
    const peers = new Map<bigint, PeerAddress>();
    for (const sid of this.view.members.keys()) if (sid !== this.view.mySid) peers.set(sid, electionAddressOf(this.view, sid)!);
    this.cnx = new QuorumCnxManager({
      mySid: this.view.mySid,
      listenAddress: electionAddressOf(this.view, this.view.mySid)!,
      peers,
      onMessage: (from, message) => this.onMessage(from, message),
      log: this.log,
      connectTimeoutMs: opts.connectTimeoutMs,
      handshakeTimeoutMs: opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS,
    });
    this.decided = new Promise<Decision>((resolve) => {
      this.resolveDecision = resolve;
    });
  }

  /** Listen on this server's election port and start looking. */
  static async start(opts: ElectionRunnerOptions): Promise<ElectionRunner> {
    const runner = new ElectionRunner(opts);
    await runner.cnx.listen();
    runner.log.info('new election', { zxid: `0x${opts.local.lastLoggedZxid.toString(16)}`, epoch: String(opts.local.currentEpoch) });
    runner.apply(runner.election.lookForLeader(performance.now()));
    return runner;
  }

  waitForDecision(): Promise<Decision> {
    return this.decided;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.cnx.close();
  }

  private onMessage(from: bigint, message: Buffer): void {
    if (this.closed) return;
    let n;
    try {
      n = decodeNotification(message);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.log.warn('skipping a malformed notification', { sid: String(from), error: e.message });
      return;
    }
    this.log.debug('notification', { sid: String(from), state: n.state, leader: String(n.leader), round: String(n.electionEpoch) });
    this.apply(this.election.receive(performance.now(), from, n));
  }

  private apply(out: ElectionOutput): void {
    for (const { to, notification } of out.send) this.cnx.toSend(to, encodeNotification(notification));
    if (out.decision !== null && this.decision === null) {
      const d = out.decision;
      this.decision = d;
      this.log.info('elected', { role: d.role, leader: String(d.leader), round: String(d.electionEpoch), peerEpoch: String(d.peerEpoch) });
      this.resolveDecision(d);
    }
    this.arm();
  }

  /** One timer, set to the election's next deadline. */
  private arm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const deadline = this.election.nextDeadlineMs();
    if (deadline === null || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.apply(this.election.tick(performance.now()));
    }, Math.max(0, Math.ceil(deadline - performance.now())));
  }
}

function argValue(args: string[], name: string, fallback: string): string {
  const at = args.indexOf(name);
  return at >= 0 && at + 1 < args.length ? args[at + 1] : fallback;
}

async function main(args: string[]): Promise<void> {
  const cfg = loadConfigOrExit(args[0] ?? null);
  if (cfg.myid === null || cfg.standalone) {
    console.error('elect: the config needs server.N lines for an ensemble and a myid in the dataDir');
    process.exit(2);
  }
  const local = { lastLoggedZxid: BigInt(argValue(args, '--zxid', '0')), currentEpoch: BigInt(argValue(args, '--epoch', '0')) };
  const runner = await ElectionRunner.start({ servers: cfg.servers, myid: cfg.myid, local, handshakeTimeoutMs: cfg.tickTimeMs * cfg.syncLimit });
  const d = await runner.waitForDecision();
  console.log(JSON.stringify({ role: d.role, leader: Number(d.leader), electionEpoch: Number(d.electionEpoch), peerEpoch: Number(d.peerEpoch) }));
  const stop = () => void runner.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolvePath(process.argv[1])) await main(process.argv.slice(2));
