// `zooid shell`'s `config` and `reconfig` print what zkCli 3.8 prints (GetConfigCommand,
// ReconfigCommand): the same script piped to each against one Apache ZooKeeper 3.8 ensemble
// of three with reconfigEnabled, zkCli first, then zooid's shell on the state it left. Each
// script, connected to a follower, removes the other follower, adds it back and ends with the
// first membership again (-file), so both start alike. Config versions and zxids are masked by
// order of appearance. Covered: config, config -c, config -s; reconfig refused without the super user
// (NOAUTH), with a stale -v (BADVERSION), the CLI's own refusals (usage, mixed modes, a bad
// -v, unknown option, missing argument, -file that does not exist), then -remove, -add with
// -s, and -file with a membership.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cleanups, allocatePorts, oneLeader, type PeerPorts, type ZooKeeperPeer } from '../support/ensemble.ts';
import { zkCliLines } from '../support/transcript.ts';
import { zkCli, zooidShell, SHELL_RUN_TIMEOUT_MS, SEPARATOR_COMMAND, SEPARATOR_LINE } from '../support/shells.ts';
import { generateDigest } from '../../engine/core/acl.ts';

const SUPER = 'super:reconfig-test';
const cleanups = new Cleanups();
let ports: PeerPorts[];
let peers: ZooKeeperPeer[];
let membersFile: string;
/** The follower the shells connect to, and the one they remove and add back. */
let connectTo: PeerPorts;
let moved: PeerPorts;

const memberLine = (p: PeerPorts) => `server.${p.sid}=127.0.0.1:${p.quorumPort}:${p.electionPort}:participant;127.0.0.1:${p.clientPort}`;

function script(): string[] {
  const sid = moved.sid;
  return [
    'config',
    'config -c',
    'config -s',
    `reconfig -remove ${sid}`,
    'reconfig',
    'reconfig -members a -add b',
    'reconfig -file x -members y',
    `reconfig -v zz -remove ${sid}`,
    'reconfig -bogus 1',
    'ls -x /',
    'get -v',
    'reconfig -remove',
    'reconfig -file /nonexistent/members.cfg',
    `addauth digest ${SUPER}`,
    `reconfig -v 1 -remove ${sid}`,
    `reconfig -remove ${sid}`,
    'config',
    `reconfig -s -add ${memberLine(moved)}`,
    'config -c',
    `reconfig -file ${membersFile}`,
  ];
}

/** One block per command; config versions and zxids masked by order of appearance. */
function blocks(output: string, commands: readonly string[]): string[] {
  const seen = new Map<string, string>();
  const mask = (kind: string, value: string) => {
    const key = `${kind}:${value}`;
    if (!seen.has(key)) seen.set(key, `${kind}${[...seen.keys()].filter((k) => k.startsWith(`${kind}:`)).length + 1}`);
    return seen.get(key)!;
  };
  const out: string[][] = [];
  let current: string[] | undefined;
  for (const line of zkCliLines(output)) {
    if (line === SEPARATOR_LINE) {
      if (current !== undefined) out.push(current);
      current = [];
      continue;
    }
    if (current === undefined) continue;
    const masked = line
      .replace(/version=([0-9a-f]+)/g, (_, v: string) => `version=${mask('V', v)}`)
      .replace(/^([0-9a-f]{6,}) /, (_, v: string) => `${mask('V', v)} `)
      .replace(/^(cZxid|mZxid|pZxid) = (0x[0-9a-f]+)$/, (_, k: string, v: string) => `${k} = ${mask('Z', v)}`)
      .replace(/^(ctime|mtime) = .*/, '$1 = T');
    current.push(masked);
  }
  if (current !== undefined) out.push(current);
  return out.map((b, i) => `${commands[i] ?? '(after)'}\n  ${b.join('\n  ')}`);
}

const piped = (commands: readonly string[]) => [SEPARATOR_COMMAND, ...commands.flatMap((c) => [c, SEPARATOR_COMMAND]), 'quit', ''].join('\n');

describe('zooid shell: config and reconfig', () => {
  beforeAll(async () => {
    ports = await allocatePorts([1, 2, 3]);
    const lines = ports.map(memberLine);
    const extra = { reconfigEnabled: 'true', 'DigestAuthenticationProvider.superDigest': generateDigest(SUPER) };
    peers = await Promise.all(ports.map((p) => cleanups.zookeeper(p, lines, extra)));
    const leader = await oneLeader(peers, 'a ZooKeeper ensemble of three', 60_000);
    [connectTo, moved] = ports.filter((p) => p.sid !== leader.sid);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-reconfig-'));
    membersFile = path.join(dir, 'members.cfg');
    fs.writeFileSync(membersFile, ports.map(memberLine).join('\n') + '\n');
    cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  }, 90_000);

  afterAll(() => cleanups.run(60_000), 60_000);

  it('prints zkCli\'s transcript', async () => {
    const commands = script();
    const expected = await zkCli(connectTo.clientPort, piped(commands));
    const e = blocks(expected.output, commands);
    expect(e.join('\n'), 'the oracle transcript').toContain('Committed new configuration:');
    expect(e.join('\n'), 'the oracle transcript').toContain('Insufficient permission');
    const actual = await zooidShell(connectTo.clientPort, piped(commands));
    expect(blocks(actual.output, commands)).toEqual(e);
    expect(actual.code).toBe(expected.code);
  }, 2 * SHELL_RUN_TIMEOUT_MS + 15_000);
});
