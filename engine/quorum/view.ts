// The voting view of a static ensemble (ZooKeeper's QuorumMaj): who votes, who observes,
// and the text of the view that every notification carries.
//
// The server.N lines are parsed by engine/config.ts. Its line parser (parseServerLine) is
// not exported, so `serversFromLines` is a small adapter: it wraps the lines in the
// smallest zoo.cfg an ensemble accepts and reads them back through parseConfig, so the
// syntax and its error messages stay in one place.

import { parseConfig, type QuorumServerConfig } from '../config.ts';
import type { PeerAddress } from './wire.ts';
import { configText } from './dynamic-config.ts';

export interface QuorumView {
  mySid: bigint;
  /** Participants (QuorumMaj.votingMembers). */
  voters: ReadonlySet<bigint>;
  /** Observers: they learn the leader from the voters and never vote. */
  observers: ReadonlySet<bigint>;
  members: ReadonlyMap<bigint, QuorumServerConfig>;
  /** QuorumMaj.getVersion(): 0 for a static config. */
  version: bigint;
  /** QuorumMaj.toString() as UTF-8: the config a notification carries. */
  configBytes: Buffer;
}

export function quorumViewOf(servers: ReadonlyMap<number, QuorumServerConfig>, myid: number, version = 0n): QuorumView {
  const members = new Map<bigint, QuorumServerConfig>();
  const voters = new Set<bigint>();
  const observers = new Set<bigint>();
  for (const id of [...servers.keys()].sort((a, b) => a - b)) {
    const s = servers.get(id)!;
    members.set(BigInt(id), s);
    (s.role === 'participant' ? voters : observers).add(BigInt(id));
  }
  if (!members.has(BigInt(myid))) throw new Error(`quorum view: server ${myid} is not among the server.N lines`);
  if (voters.size === 0) throw new Error('quorum view: no participants');
  return { mySid: BigInt(myid), voters, observers, members, version, configBytes: Buffer.from(quorumConfigText(members, version), 'utf8') };
}

/** QuorumMaj.toString (engine/quorum/dynamic-config.ts configText) for a view's members. */
export function quorumConfigText(members: ReadonlyMap<bigint, QuorumServerConfig>, version: bigint): string {
  return configText({ members: new Map([...members].map(([sid, s]) => [Number(sid), s])), version });
}

export function electionAddressOf(view: QuorumView, sid: bigint): PeerAddress | null {
  const s = view.members.get(sid);
  return s === undefined ? null : { host: s.host, port: s.electionPort };
}

/** server.N lines (`server.1=host:2888:3888[:role][;clientPort]`) → the servers, through engine/config.ts. */
export function serversFromLines(lines: readonly string[]): Map<number, QuorumServerConfig> {
  const text = [...lines, 'initLimit=10', 'syncLimit=5', 'dataDir=/nonexistent', 'clientPort=2181', ''].join('\n');
  return parseConfig(text, { path: null, readMyid: false }).servers;
}
