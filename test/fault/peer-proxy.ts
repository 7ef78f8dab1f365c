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
// cut(a, b) drops the open connections of the pair (both directions, both ports) and makes
// each new one close as soon as it is accepted, until heal(). A connection to a target that
// does not listen (killed, or not leading: only a leader listens on its quorum port) waits a
// moment for it (UPSTREAM_RETRY_MS), then closes.

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
/** While a hop's target refuses connections, how often an accepted connection tries it again. */
const UPSTREAM_RETRY_INTERVAL_MS = 50;
/**
 * How long an accepted connection waits for its target to listen (well inside initLimit, 5
 * ticks of 1 s). A hop accepts before it knows whether its target listens; on a real network
 * a learner that reaches a new leader a moment before it listens is refused and tries again a
 * second later (Learner.connectToLeader, zooid's learner alike), while one whose connection
 * opens and then closes gives that leader up and elects again: without this wait every
 * failover through the proxy took 6 to 60 s instead of under 2. Hops keep listening
 * throughout (a port let go is soon some outgoing connection's local port, and could not
 * be listened on again).
 */
const UPSTREAM_RETRY_MS = 2_000;

const linkKey = (a: number, b: number): string => (a < b ? `${a}-${b}` : `${b}-${a}`);

/** One direction of one link for one port. */
interface Hop {
  from: number;
  to: number;
  kind: 'quorum' | 'election';
  key: string;
  targetPort: number;
  server: net.Server;
  port: number;
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

  /** The hop's target, tried again while it refuses, for up to UPSTREAM_RETRY_MS. Null: still refused (or the client went, or the link was cut). */
  const connectUpstream = (hop: Hop, client: net.Socket): Promise<net.Socket | null> =>
    new Promise((resolve) => {
      const deadlineMs = Date.now() + UPSTREAM_RETRY_MS;
      const attempt = (): void => {
        const upstream = net.connect({ host: '127.0.0.1', port: hop.targetPort });
        const onError = (e: NodeJS.ErrnoException): void => {
          upstream.destroy();
          if (e.code === 'ECONNREFUSED' && Date.now() < deadlineMs && !client.destroyed && !cut.has(hop.key)) setTimeout(attempt, UPSTREAM_RETRY_INTERVAL_MS);
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
        const server = net.createServer((client) => void forward(hop, client));
        const hop: Hop = { from: a.sid, to: b.sid, kind, key: linkKey(a.sid, b.sid), targetPort: kind === 'quorum' ? b.quorumPort : b.electionPort, server, port: await listenOn(server, 0) };
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
    },
    cutLinks: () => [...cut].sort(),
    get forwardedCount() {
      return forwardedCount;
    },
    async close(): Promise<void> {
      for (const key of open.keys()) dropLink(key);
      await Promise.all(hops.map((h) => new Promise<void>((resolve) => h.server.close(() => resolve()))));
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
