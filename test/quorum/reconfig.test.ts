// Dynamic reconfiguration (reconfigEnabled=true) on a three-zooid ensemble, as ZooKeeper 3.8
// does it: /zookeeper/config's text and the zoo.cfg.dynamic.<version> files once the first
// leader is established, the reconfig opcode's errors (NOAUTH, BADVERSION, BADARGUMENTS,
// NEWCONFIGNOQUORUM) that change nothing, and removing a follower: the config changes on every
// member (the watch fires), the removed server stops serving and writes go on with two.

import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import { allocatePorts, Cleanups, oneLeader, type PeerPorts } from '../support/ensemble.ts';
import { waitFor } from '../support/wait.ts';
import { generateDigest } from '../../engine/core/acl.ts';

const SUPER = 'super:reconfig';
const cleanups = new Cleanups();
afterEach(() => cleanups.run());

function lines(ports: readonly PeerPorts[]): string[] {
  return ports.map((p) => `server.${p.sid}=127.0.0.1:${p.quorumPort}:${p.electionPort};127.0.0.1:${p.clientPort}`);
}

/** A reply's data as text (zkclient shows data with newlines as hex:). */
function textOf(data: unknown): string | null {
  if (typeof data !== 'string') return null;
  return data.startsWith('hex:') ? Buffer.from(data.slice(4), 'hex').toString('utf8') : data;
}

/** QuorumMaj.toString for these members (participants) and version. */
function configOf(ports: readonly PeerPorts[], version: string): string {
  return ports.map((p) => `server.${p.sid}=127.0.0.1:${p.quorumPort}:${p.electionPort}:participant;127.0.0.1:${p.clientPort}\n`).join('') + `version=${version}`;
}

describe('reconfig on a zooid ensemble', () => {
  it('serves /zookeeper/config, writes the dynamic files, refuses bad reconfigs and removes a follower', async () => {
    const ports = await allocatePorts([1, 2, 3]);
    const extra = { reconfigEnabled: 'true', 'DigestAuthenticationProvider.superDigest': generateDigest(SUPER) };
    const peers = await Promise.all(ports.map((p) => cleanups.zooid(p, lines(ports), extra)));
    const leader = await oneLeader(peers, 'a leader', 60_000);
    const epochVersion = '100000000';
    for (const p of peers) {
      const s = await cleanups.session(`c${p.sid}`, p.clientPort);
      await waitFor(async () => textOf((await s.getData('/zookeeper/config')).data) === configOf(ports, epochVersion), { timeoutMs: 20_000, what: `server ${p.sid}'s config` });
      const stat = (await s.getData('/zookeeper/config')).stat as Record<string, unknown>;
      expect(stat.version).toBe(-1);
      expect(BigInt(stat.mzxid as bigint)).toBe(0x100000000n);
      const cfgPath = p.handle.configPath;
      expect(fs.readFileSync(`${cfgPath}.dynamic.${epochVersion}`, 'utf8')).toBe(configOf(ports, epochVersion).split('\n').slice(0, 3).join('\n'));
      expect(fs.readFileSync(cfgPath, 'utf8')).toMatch(new RegExp(`^dynamicConfigFile=${cfgPath}\\.dynamic\\.${epochVersion}$`, 'm'));
      expect(fs.readFileSync(cfgPath, 'utf8')).not.toMatch(/^server\./m);
      expect(fs.existsSync(`${cfgPath}.bak`)).toBe(true);
    }

    const follower = peers.find((p) => p !== leader)!;
    const removed = peers.find((p) => p !== leader && p !== follower)!;
    const anyone = await cleanups.session('anyone', follower.clientPort);
    const admin = await cleanups.session('admin', follower.clientPort);
    expect((await admin.addAuth('digest', SUPER)).err).toBe('OK');

    // refused, nothing changes
    expect((await anyone.reconfig(null, String(removed.sid), null)).err).toBe('NOAUTH');
    expect((await admin.reconfig(null, String(removed.sid), null, 0x1234n)).err).toBe('BADVERSION');
    expect((await admin.reconfig('server.9=127.0.0.1:1:x;7', null, null)).err).toBe('BADARGUMENTS');
    expect((await admin.reconfig('server.9=127.0.0.1:1:2', null, null)).err).toBe('BADARGUMENTS'); // no client port
    expect((await admin.reconfig(null, `${follower.sid},${removed.sid}`, null)).err).toBe('BADARGUMENTS'); // one voter left
    const strangers = `server.${leader.sid}=127.0.0.1:${ports[leader.sid - 1].quorumPort}:${ports[leader.sid - 1].electionPort};${leader.clientPort},` +
      'server.8=127.0.0.1:1001:1002;1003,server.9=127.0.0.1:1004:1005;1006';
    expect((await admin.reconfig(null, null, strangers)).err).toBe('NEWCONFIGNOQUORUM');
    expect(textOf((await admin.getData('/zookeeper/config')).data)).toBe(configOf(ports, epochVersion));

    // remove a follower: every member's config changes, the watch fires, the removed one stops serving
    const watcher = await cleanups.session('watcher', leader.clientPort);
    expect((await watcher.getData('/zookeeper/config', true)).err).toBe('OK');
    const done = await admin.reconfig(null, String(removed.sid), null, 0x100000000n);
    expect(done.err).toBe('OK');
    const version = BigInt(done.zxid!).toString(16);
    const kept = ports.filter((p) => p.sid !== removed.sid);
    expect(textOf(done.data)).toBe(configOf(kept, version));
    const event = await watcher.observe((e) => e.kind === 'event' && (e as Record<string, unknown>).path === '/zookeeper/config', 'the config watch');
    expect(event.err).toBe('OK');
    for (const p of [leader, follower]) {
      const s = await cleanups.session(`after${p.sid}`, p.clientPort);
      await waitFor(async () => textOf((await s.getData('/zookeeper/config')).data) === configOf(kept, version), { timeoutMs: 20_000, what: `server ${p.sid}'s new config` });
      await waitFor(() => fs.existsSync(`${p.handle.configPath}.dynamic.${version}`), { timeoutMs: 10_000, what: 'the new dynamic file' });
    }
    await waitFor(async () => (await removed.mode()) === null, { timeoutMs: 20_000, what: 'the removed server to stop serving' });
    const writer = await cleanups.session('writer', follower.clientPort);
    expect((await writer.create('/after-remove', 'x')).err).toBe('OK');
    expect((await admin.reconfig(null, String(removed.sid), null, 0x100000000n)).err).toBe('BADVERSION');
  }, 150_000);
});
