// The peer fault proxy: every connection between two ensemble members goes through it, so
// the harness can cut links and make partitions (isolate the leader, a minority of one, a
// bridge). For each ordered pair (a → b) it listens twice, once for b's quorum (Zab) port
// and once for b's election port; server a's zoo.cfg names b by those two proxy ports
// (linesFor), while a's own server.a line keeps its real ports (a server binds what its own
// line says). Every connection a opens to b thus passes the a → b proxy, which knows the pair.
//
// One wrinkle: the election's initiation message announces the sender's election address,
// and a receiver with a larger sid connects back to that address (QuorumCnxManager.
// handleConnection in ZooKeeper 3.8, cnxmanager.ts in zooid). The a → b election proxy
// therefore rewrites the announced address to the b → a election proxy's, so the
// connection back passes a proxy too. Nothing else in the peer protocols names an address.
//
// cut(a, b) drops the open connections of the pair (both directions, both ports), and its
// hops stop listening, so new ones are refused, until heal(). A hop whose target is down
// (killed, not leading: only a leader listens on its quorum port) refuses too (Hop).

import * as net from 'node:net';
import { PROTOCOL_VERSION_V1, PROTOCOL_VERSION_V2 } from '../../engine/quorum/wire.ts';

export interface PeerEndpoints {
  sid: number;
  quorumPort: number;
  electionPort: number;
}

export interface PeerMesh {
  /** The server.N lines for member `sid`: its own real ports, every other member through this mesh. */
  linesFor(sid: number): string[];
  /** Drop the link between a and b and refuse it until healed. */
  cut(a: number, b: number): void;
  /** Cut every link between two different groups. */
  partition(groups: readonly (readonly number[])[]): void;
  heal(): void;
  /** The links cut now, as "a-b" with a < b. */
  cutLinks(): string[];
  /** Connections the mesh forwarded so far (to show peers did talk through it). */
  readonly forwardedCount: number;
  close(): Promise<void>;
}

/** Bytes of an initiation message the election proxy reads before it forwards anything (ZooKeeper's maxBuffer plus the header). */
const INITIATION_BYTES_MAX = 8 + 8 + 4 + 2048;
/** While a hop's target refuses connections, how often the hop tries it again (each try is one connection, closed at once). */
const TARGET_PROBE_INTERVAL_MS = 50;
/** How long an accepted connection waits for its target to listen (well inside initLimit, 5 ticks of 1 s). */
const UPSTREAM_RETRY_MS = 2_000;

const linkKey = (a: number, b: number): string => (a < b ? `${a}-${b}` : `${b}-${a}`);

/**
 * One direction of one link for one port. It listens only while its link is not cut and its
 * target takes connections, so a connection to a dead or partitioned peer is refused, as on
 * a real network, and never accepted and then closed: a learner whose connection to the
 * leader opens and then closes gives the leader up and elects again, where a refused one
 * retries (Learner.connectToLeader, zooid's learner alike), so accepting would slow every
 * failover. A hop finds its target down when forwarding to it is refused, and tries it
 * every TARGET_PROBE_INTERVAL_MS until it takes connections again.
 */
class Hop {
  readonly from: number;
  readonly to: number;
  readonly kind: 'quorum' | 'election';
  readonly key: string;
  readonly targetPort: number;
  server!: net.Server;
  port = 0;
  targetUp = false;
  private listening = false;
  private changing: Promise<void> = Promise.resolve();
  private probeTimer: NodeJS.Timeout | null = null;
  private probing = false;
  closed = false;

  constructor(from: number, to: PeerEndpoints, kind: 'quorum' | 'election') {
    this.from = from;
    this.to = to.sid;
    this.kind = kind;
    this.key = linkKey(from, to.sid);
    this.targetPort = kind === 'quorum' ? to.quorumPort : to.electionPort;
  }

  /** Takes a port, then listens on it only once the target takes connections. */
  async start(isCut: () => boolean): Promise<void> {
    this.port = await listenOn(this.server, 0);
    this.listening = true;
    this.targetDown(isCut);
  }

  /** Listens or stops as `open` says (changes run one after another). */
  setOpen(open: boolean): Promise<void> {
    this.changing = this.changing.then(async () => {
      const want = open && this.targetUp && !this.closed;
      if (want === this.listening) return;
      this.listening = want;
      // close() stops accepting at once; its callback would wait for the open connections
      if (want) await listenOn(this.server, this.port);
      else this.server.close();
    });
    return this.changing;
  }

  /** The target refused (or has not been seen up yet): stop listening and try it until it answers. */
  targetDown(isCut: () => boolean): void {
    if (this.probing || this.closed) return;
    this.probing = true;
    this.targetUp = false;
    void this.setOpen(false);
    const probe = (): void => {
      this.probeTimer = null;
      if (this.closed) return;
      const socket = net.connect({ host: '127.0.0.1', port: this.targetPort });
      socket.once('connect', () => {
        socket.destroy();
        this.probing = false;
        this.targetUp = true;
        void this.setOpen(!isCut());
      });
      socket.once('error', () => {
        socket.destroy();
        if (!this.closed) this.probeTimer = setTimeout(probe, TARGET_PROBE_INTERVAL_MS);
      });
    };
    this.probeTimer = setTimeout(probe, 0);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.probeTimer !== null) clearTimeout(this.probeTimer);
    await this.setOpen(false);
  }
}

function listenOn(server: net.Server, port: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

export async function startPeerMesh(peers: readonly PeerEndpoints[]): Promise<PeerMesh> {
  const cut = new Set<string>();
  const open = new Map<string, Set<net.Socket>>();
  const hops: Hop[] = [];
  let forwardedCount = 0;
  const hopOf = (from: number, to: number, kind: Hop['kind']): Hop => hops.find((h) => h.from === from && h.to === to && h.kind === kind)!;

  const track = (key: string, socket: net.Socket): void => {
    let set = open.get(key);
    if (set === undefined) open.set(key, (set = new Set()));
    set.add(socket);
    socket.once('close', () => set.delete(socket));
  };

  /**
   * The hop's target, tried again while it refuses, for up to UPSTREAM_RETRY_MS: a hop may
   * accept a moment before it learns its target stopped listening, or before a new leader
   * listens, and a learner whose accepted connection closes gives that leader up, where on
   * a real network it would have been refused and tried again. Null: still refused (or the
   * client went, or the link was cut).
   */
  const connectUpstream = (hop: Hop, client: net.Socket): Promise<net.Socket | null> =>
    new Promise((resolve) => {
      const deadlineMs = Date.now() + UPSTREAM_RETRY_MS;
      const attempt = (): void => {
        const upstream = net.connect({ host: '127.0.0.1', port: hop.targetPort });
        const onError = (e: NodeJS.ErrnoException): void => {
          upstream.destroy();
          if (e.code === 'ECONNREFUSED' && Date.now() < deadlineMs && !client.destroyed && !cut.has(hop.key)) setTimeout(attempt, TARGET_PROBE_INTERVAL_MS);
          else resolve(null);
        };
        upstream.once('error', onError);
        upstream.once('connect', () => {
          upstream.off('error', onError);
          resolve(upstream);
        });
      };
      attempt();
    });

  const forward = async (hop: Hop, client: net.Socket): Promise<void> => {
    client.on('error', () => undefined);
    if (cut.has(hop.key)) {
      client.destroy();
      return;
    }
    client.pause();
    track(hop.key, client);
    const upstream = await connectUpstream(hop, client);
    if (upstream === null || client.destroyed) {
      upstream?.destroy();
      client.destroy();
      if (upstream === null) hop.targetDown(() => cut.has(hop.key));
      return;
    }
    forwardedCount++;
    upstream.on('error', () => undefined);
    track(hop.key, upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.once('close', drop);
    upstream.once('close', drop);
    upstream.pipe(client);
    if (hop.kind === 'quorum') {
      client.pipe(upstream);
      client.resume();
      return;
    }
    // the election: rewrite the announced address of the initiation message, then pipe
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const rewritten = rewriteInitiation(head, `127.0.0.1:${hopOf(hop.to, hop.from, 'election').port}`);
      if (rewritten === null && head.length < INITIATION_BYTES_MAX) return;
      client.off('data', onData);
      upstream.write(rewritten ?? head);
      client.pipe(upstream);
    };
    client.on('data', onData);
    client.resume();
  };

  for (const a of peers) {
    for (const b of peers) {
      if (a.sid === b.sid) continue;
      for (const kind of ['quorum', 'election'] as const) {
        const hop = new Hop(a.sid, b, kind);
        hop.server = net.createServer((client) => void forward(hop, client));
        await hop.start(() => cut.has(hop.key));
        hops.push(hop);
      }
    }
  }

  const dropLink = (key: string): void => {
    for (const s of open.get(key) ?? []) s.destroy();
  };

  const mesh: PeerMesh = {
    linesFor(sid: number): string[] {
      return peers.map((p) =>
        p.sid === sid
          ? `server.${p.sid}=127.0.0.1:${p.quorumPort}:${p.electionPort}`
          : `server.${p.sid}=127.0.0.1:${hopOf(sid, p.sid, 'quorum').port}:${hopOf(sid, p.sid, 'election').port}`,
      );
    },
    cut(a: number, b: number): void {
      const key = linkKey(a, b);
      cut.add(key);
      for (const h of hops) if (h.key === key) void h.setOpen(false);
      dropLink(key);
    },
    partition(groups: readonly (readonly number[])[]): void {
      for (let i = 0; i < groups.length; i++) {
        for (let j = i + 1; j < groups.length; j++) {
          for (const a of groups[i]) for (const b of groups[j]) mesh.cut(a, b);
        }
      }
    },
    heal(): void {
      cut.clear();
      for (const h of hops) void h.setOpen(true);
    },
    cutLinks: () => [...cut].sort(),
    get forwardedCount() {
      return forwardedCount;
    },
    async close(): Promise<void> {
      await Promise.all(hops.map((h) => h.close()));
      for (const key of open.keys()) dropLink(key);
    },
  };
  return mesh;
}

/**
 * The initiation message in `head` with its address replaced by `address`: null while
 * `head` is shorter than the message; `head` itself when it is no initiation message a
 * server would parse (an old-style bare sid, or garbage: the server judges it).
 */
export function rewriteInitiation(head: Buffer, address: string): Buffer | null {
  if (head.length < 8) return null;
  const version = head.readBigInt64BE(0);
  if (version !== PROTOCOL_VERSION_V1 && version !== PROTOCOL_VERSION_V2) return head;
  if (head.length < 20) return null;
  const addressBytes = head.readInt32BE(16);
  if (addressBytes <= 0 || addressBytes > INITIATION_BYTES_MAX - 20) return head;
  if (head.length < 20 + addressBytes) return null;
  const replacement = Buffer.from(address, 'utf8');
  const out = Buffer.alloc(20 + replacement.length + head.length - 20 - addressBytes);
  head.copy(out, 0, 0, 16);
  out.writeInt32BE(replacement.length, 16);
  replacement.copy(out, 20);
  head.copy(out, 20 + replacement.length, 20 + addressBytes);
  return out;
}
