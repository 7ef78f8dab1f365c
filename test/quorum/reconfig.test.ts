// Dynamic reconfiguration (reconfigEnabled=true), the same scenario on three zooids and on
// three Apache ZooKeeper 3.8 servers: /zookeeper/config's text and Stat and the
// zoo.cfg.dynamic.<version>, zoo.cfg and zoo.cfg.bak files once the first leader is established,
// the reconfig opcode's errors (NOAUTH, BADVERSION, BADARGUMENTS, NEWCONFIGNOQUORUM) that change
// nothing, a follower removed (the config changes on every member, the watch fires; the removed
// server stays a non-voting follower, as ZooKeeper's does) and added back (it votes again: writes
// go on with the leader and it once the other follower is killed).

import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { allocatePorts, Cleanups, oneLeader, startZooKeeperPeer, type PeerPorts } from '../support/ensemble.ts';
import { waitFor, withDeadline } from '../support/wait.ts';
import { ZOOID_CLI, startZooKeeper, startZooid } from '../support/servers.ts';
import { CREATOR_ALL_ACL, ZkSession } from '../support/zkclient.ts';
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

/** What zkCli printed for commands piped to it, without the connection's chatter. */
async function zkCliOutput(port: number, commands: readonly string[]): Promise<string[]> {
  const args = ['-XX:+UseSerialGC', '-cp', '/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-nop.jar', 'org.apache.zookeeper.ZooKeeperMain', '-server', `127.0.0.1:${port}`];
  const child = spawn('java', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString('utf8')));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString('utf8')));
  child.stdin!.end(`${commands.join('\n')}\nquit\n`);
  await withDeadline(new Promise((resolve) => child.once('exit', resolve)), 60_000, 'zkCli to finish');
  const chatter = /^(Connecting to |Welcome to ZooKeeper!|JLine support|WATCHER::|WatchedEvent |$)/;
  return out.split('\n').filter((l) => !chatter.test(l));
}

/** A member of either kind: what the scenario needs of it. */
interface Member {
  sid: number;
  clientPort: number;
  configPath: string;
  mode(): Promise<string | null>;
  stop(): Promise<void>;
}

async function startEnsemble(kind: 'zooid' | 'zookeeper', ports: readonly PeerPorts[], extra: Record<string, string>): Promise<{ members: Member[]; leader: Member }> {
  if (kind === 'zooid') {
    const peers = await Promise.all(ports.map((p) => cleanups.zooid(p, lines(ports), extra)));
    const leader = await oneLeader(peers, 'a leader', 60_000);
    const members = peers.map((p) => ({ sid: p.sid, clientPort: p.clientPort, configPath: p.handle.configPath, mode: () => p.mode(), stop: () => p.kill9() }));
    return { members, leader: members[peers.indexOf(leader)] };
  }
  const peers = await Promise.all(ports.map(async (p) => {
    const peer = await startZooKeeperPeer(p.sid, p.clientPort, lines(ports), undefined, extra);
    cleanups.push(() => peer.stop());
    return peer;
  }));
  const members = peers.map((p) => ({ sid: p.sid, clientPort: p.clientPort, configPath: `${p.dir}/zoo.cfg`, mode: () => p.mode(), stop: () => p.kill9() }));
  let modes: (string | null)[] = [];
  await waitFor(async () => {
    modes = await Promise.all(members.map((m) => m.mode()));
    return modes.filter((m) => m === 'leader').length === 1 && modes.filter((m) => m === 'follower').length === 2;
  }, { timeoutMs: 60_000, what: 'a ZooKeeper leader' });
  return { members, leader: members[modes.indexOf('leader')] };
}

describe.each(['zooid', 'zookeeper'] as const)('reconfig on a %s ensemble', (kind) => {
  it('serves /zookeeper/config, writes the dynamic files, refuses bad reconfigs, removes a follower and adds it back', async () => {
    const ports = await allocatePorts([1, 2, 3]);
    const extra = { reconfigEnabled: 'true', 'DigestAuthenticationProvider.superDigest': generateDigest(SUPER) };
    const { members: peers, leader } = await startEnsemble(kind, ports, extra);
    const epochVersion = '100000000';
    for (const p of peers) {
      const s = await cleanups.session(`c${p.sid}`, p.clientPort);
      await waitFor(async () => textOf((await s.getData('/zookeeper/config')).data) === configOf(ports, epochVersion), { timeoutMs: 20_000, what: `server ${p.sid}'s config` });
      const stat = (await s.getData('/zookeeper/config')).stat as Record<string, unknown>;
      expect(stat.version).toBe(-1);
      expect(BigInt(stat.mzxid as bigint)).toBe(0x100000000n);
      const cfgPath = p.configPath;
      await waitFor(() => fs.existsSync(`${cfgPath}.dynamic.${epochVersion}`), { timeoutMs: 10_000, what: 'the dynamic file' });
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
    const strangers = `server.${leader.sid}=127.0.0.1:${ports[leader.sid - 1].quorumPort}:${ports[leader.sid - 1].electionPort};127.0.0.1:${leader.clientPort},` +
      'server.8=127.0.0.1:1001:1002;1003,server.9=127.0.0.1:1004:1005;1006';
    expect((await admin.reconfig(null, null, strangers)).err).toBe('NEWCONFIGNOQUORUM');
    const garbage: [string | null, string | null, string | null][] = [
      [null, 'abc', null], ['server.2', null, null], ['server.x=127.0.0.1:1:2;3', null, null], [null, null, 'garbage'],
      [null, null, 'version=5'], ['server.9=127.0.0.1:1:2:boss;3', null, null], ['=', null, null],
    ];
    const said: string[] = [];
    for (const [joining, leaving, members] of garbage) said.push((await admin.reconfig(joining, leaving, members)).err);
    // as ZooKeeper's PrepRequestProcessor (a non-numeric id: its NumberFormatException, MARSHALLINGERROR)
    expect(said).toEqual(['MARSHALLINGERROR', 'BADARGUMENTS', 'MARSHALLINGERROR', 'BADARGUMENTS', 'BADARGUMENTS', 'BADARGUMENTS', 'BADARGUMENTS']);
    expect(textOf((await admin.getData('/zookeeper/config')).data)).toBe(configOf(ports, epochVersion));

    // remove a follower: every member's config changes, the watch fires, the removed one stops serving
    // a client writes throughout the reconfigs: every write acknowledged is there at the end
    const loader = await cleanups.session('loader', leader.clientPort);
    const acknowledged: string[] = [];
    let loading = true;
    const load = (async () => {
      for (let i = 0; loading; i++) {
        const r = await loader.create(`/load-${i}`, 'x');
        if (r.err === 'OK') acknowledged.push(`/load-${i}`);
        else expect(r.err).toBe('CONNECTIONLOSS');
      }
    })();
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
      await waitFor(() => fs.existsSync(`${p.configPath}.dynamic.${version}`), { timeoutMs: 10_000, what: 'the new dynamic file' });
    }
    // as in ZooKeeper 3.8, the removed server stays with its leader as a non-voting follower
    const removedSession = await cleanups.session('removed', removed.clientPort);
    await waitFor(async () => textOf((await removedSession.getData('/zookeeper/config')).data) === configOf(kept, version), { timeoutMs: 20_000, what: 'the removed server\'s config' });
    expect(await removed.mode()).toBe('follower');
    expect((await admin.reconfig(null, String(removed.sid), null, 0x100000000n)).err).toBe('BADVERSION');

    // added back: it votes again (writes go on with the leader and it once the other follower is gone)
    const back = await admin.reconfig(lines(ports)[removed.sid - 1], null, null, BigInt(`0x${version}`));
    expect(back.err).toBe('OK');
    const version2 = BigInt(back.zxid!).toString(16);
    const all = [...ports].sort((a, b) => a.sid - b.sid);
    expect(textOf(back.data)).toBe(configOf(all, version2));
    await waitFor(async () => textOf((await removedSession.getData('/zookeeper/config')).data) === configOf(all, version2), { timeoutMs: 20_000, what: 'the re-added server\'s config' });
    loading = false;
    await load;
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const path of acknowledged) expect((await loader.exists(path)).err, path).toBe('OK');
    await follower.stop();
    const writer = await cleanups.session('writer', leader.clientPort);
    expect((await writer.create('/with-the-readded', 'x')).err).toBe('OK');
    if (kind === 'zooid') {
      // restarted from its rewritten zoo.cfg: the dynamic file's members and version, the txns replayed
      const rewritten = fs.readFileSync(follower.configPath, 'utf8');
      expect(rewritten).toContain(`dynamicConfigFile=${follower.configPath}.dynamic.${version2}`);
      const child = spawn(process.execPath, [ZOOID_CLI, 'server', follower.configPath], { stdio: 'ignore' });
      cleanups.push(async () => void child.kill('SIGKILL'));
      await waitFor(async () => (await follower.mode()) === 'follower', { timeoutMs: 60_000, what: 'the restarted follower' });
      const again = await cleanups.session('again', follower.clientPort);
      expect(textOf((await again.getData('/zookeeper/config')).data)).toBe(configOf(all, version2));
      expect((await again.exists('/with-the-readded')).err).toBe('OK');
    }
  }, 150_000);
});

describe.each(['zooid', 'zookeeper'] as const)('reconfig removing the leader of a %s ensemble', (kind) => {
  it('leaves the other two to lead and follow under the new config, and writes go on', async () => {
    const ports = await allocatePorts([1, 2, 3]);
    const extra = { reconfigEnabled: 'true', 'DigestAuthenticationProvider.superDigest': generateDigest(SUPER) };
    const { members, leader } = await startEnsemble(kind, ports, extra);
    const rest = members.filter((m) => m !== leader);
    const admin = await cleanups.session('admin', rest[0].clientPort);
    expect((await admin.addAuth('digest', SUPER)).err).toBe('OK');
    const done = await admin.reconfig(null, String(leader.sid), null);
    expect(['OK', 'CONNECTIONLOSS']).toContain(done.err); // the follower may leave its role before it answers
    let modes: (string | null)[] = [];
    await waitFor(async () => {
      modes = await Promise.all(rest.map((m) => m.mode()));
      return modes.includes('leader') && modes.includes('follower');
    }, { timeoutMs: 60_000, what: 'a leader and a follower among the other two' });
    const kept = ports.filter((p) => p.sid !== leader.sid);
    for (const m of rest) {
      const s = await cleanups.session(`after${m.sid}`, m.clientPort);
      await waitFor(async () => {
        const text = textOf((await s.getData('/zookeeper/config')).data) ?? '';
        return text.startsWith(configOf(kept, '').replace(/version=$/, 'version='));
      }, { timeoutMs: 30_000, what: `server ${m.sid}'s config without the old leader` });
      expect((await s.create(`/after-${m.sid}`, 'x')).err).toBe('OK');
    }
  }, 150_000);
});

describe.each(['zooid', 'zookeeper'] as const)('reconfig with skipACL=yes on a %s ensemble', (kind) => {
  it('lets a client without the super id remove and add a follower', async () => {
    const ports = await allocatePorts([1, 2, 3]);
    const { members, leader } = await startEnsemble(kind, ports, { reconfigEnabled: 'true', skipACL: 'yes' });
    const follower = members.find((m) => m !== leader)!;
    const anyone = await cleanups.session('anyone', leader.clientPort);
    const gone = await anyone.reconfig(null, String(follower.sid), null);
    expect(gone.err).toBe('OK');
    expect(textOf(gone.data)).toBe(configOf(ports.filter((p) => p.sid !== follower.sid), BigInt(gone.zxid!).toString(16)));
    expect((await anyone.reconfig(lines(ports)[follower.sid - 1], null, null)).err).toBe('OK');
  }, 120_000);
});

describe('reconfig: a new server joins a zooid ensemble', () => {
  it('starts with the members and itself, observes, is added as an observer (by zkCli), then made a participant', async () => {
    const ports = await allocatePorts([1, 2, 3, 4]);
    const three = ports.slice(0, 3);
    const extra = { reconfigEnabled: 'true', 'DigestAuthenticationProvider.superDigest': generateDigest(SUPER) };
    const started = await startEnsemble('zooid', three, extra);
    const { leader } = started;
    const p4 = ports[3];
    const observerLine = `server.4=127.0.0.1:${p4.quorumPort}:${p4.electionPort}:observer;127.0.0.1:${p4.clientPort}`;
    const joiner = await cleanups.zooid(p4, [...lines(three), observerLine], { ...extra, peerType: 'observer' });
    await waitFor(async () => (await joiner.mode()) === 'observer', { timeoutMs: 30_000, what: 'the joiner to observe' });
    const admin = await cleanups.session('admin', leader.clientPort);
    expect((await admin.addAuth('digest', SUPER)).err).toBe('OK');
    // zkCli (ZooKeeper 3.8's) against this zooid: the config, refused reconfigs, the observer added
    const zkCliSaid = await zkCliOutput(leader.clientPort, [
      'config', 'config -c', 'reconfig -v 1 -remove 3', 'reconfig -add server.9=x', `addauth digest ${SUPER}`, `reconfig -add ${observerLine}`,
    ]);
    const before = configOf(three, '100000000');
    const clients = three.map((p) => `127.0.0.1:${p.clientPort}`).join(',');
    expect(zkCliSaid.slice(0, 7)).toEqual([...before.split('\n'), expect.stringMatching(/^100000000 /), 'version No is not valid : ', 'Arguments are not valid : ']);
    expect(zkCliSaid[4].slice('100000000 '.length).split(',').sort()).toEqual(clients.split(',').sort());
    expect(zkCliSaid[7]).toBe('Committed new configuration:');
    const observedText = zkCliSaid.slice(8).join('\n');
    const version = /version=([0-9a-f]+)$/.exec(observedText)![1];
    const observed = configOf(three, version).replace('\nversion=', `\nserver.4=127.0.0.1:${p4.quorumPort}:${p4.electionPort}:observer;127.0.0.1:${p4.clientPort}\nversion=`);
    expect(observedText).toBe(observed);
    const s4 = await cleanups.session('s4', p4.clientPort);
    await waitFor(async () => textOf((await s4.getData('/zookeeper/config')).data) === observed, { timeoutMs: 20_000, what: 'the observer\'s config' });
    await waitFor(() => fs.existsSync(`${joiner.handle.configPath}.dynamic.${version}`), { timeoutMs: 10_000, what: 'the observer\'s dynamic file' });

    const participant = await admin.reconfig(observerLine.replace(':observer;', ':participant;'), null, null);
    expect(participant.err).toBe('OK');
    const version2 = BigInt(participant.zxid!).toString(16);
    expect(textOf(participant.data)).toBe(configOf(ports, version2));
    await waitFor(async () => (await joiner.mode()) === 'follower', { timeoutMs: 30_000, what: 'the joiner to follow' })
      .catch((e: Error) => { throw new Error(`${e.message}\n${joiner.logTail(40)}`); });
    await waitFor(async () => textOf((await s4.getData('/zookeeper/config')).data) === configOf(ports, version2), { timeoutMs: 20_000, what: 'the new participant\'s config' });
    const writer = await cleanups.session('writer', p4.clientPort);
    expect((await writer.create('/from-the-joiner', 'x')).err).toBe('OK');

    // a follower down during a reconfig comes back with its old config: a notification carries the
    // new one (FastLeaderElection's processReconfig), it takes it and follows
    const { members } = started;
    const missed = members.find((m) => m !== leader)!;
    await missed.stop();
    const more = await admin.reconfig('server.9=127.0.0.1:1001:1002:observer;127.0.0.1:1003', null, null);
    expect(more.err).toBe('OK');
    const version3 = BigInt(more.zxid!).toString(16);
    expect(fs.readFileSync(missed.configPath, 'utf8')).toContain(`.dynamic.${version2}`);
    const logFile = `${missed.configPath}.restart.log`;
    const out = fs.openSync(logFile, 'w');
    const child = spawn(process.execPath, [ZOOID_CLI, 'server', missed.configPath], { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    cleanups.push(async () => void child.kill('SIGKILL'));
    await waitFor(async () => (await missed.mode()) === 'follower', { timeoutMs: 60_000, what: 'the follower that missed the reconfig' });
    expect(fs.readFileSync(logFile, 'utf8')).toContain(`carries config version ${version3}`);
    const late = await cleanups.session('late', missed.clientPort);
    expect(textOf((await late.getData('/zookeeper/config')).data)).toBe(textOf(more.data));
  }, 150_000);
});

describe.each(['zooid', 'zookeeper'] as const)('without reconfigEnabled, a %s ensemble', (kind) => {
  it('serves its static config as /zookeeper/config (version 0) and refuses reconfig with RECONFIGDISABLED', async () => {
    const ports = await allocatePorts([1, 2, 3]);
    const plain = ports.map((p) => `server.${p.sid}=127.0.0.1:${p.quorumPort}:${p.electionPort}`);
    const peers = kind === 'zooid'
      ? await Promise.all(ports.map((p) => cleanups.zooid(p, plain)))
      : await Promise.all(ports.map((p) => cleanups.zookeeper(p, plain)));
    const s = await cleanups.session('client', peers[0].clientPort);
    const expected = ports.map((p) => `server.${p.sid}=127.0.0.1:${p.quorumPort}:${p.electionPort}:participant\n`).join('') + 'version=0';
    await waitFor(async () => textOf((await s.getData('/zookeeper/config')).data) === expected, { timeoutMs: 60_000, what: 'the static config' });
    const stat = (await s.getData('/zookeeper/config')).stat as Record<string, unknown>;
    expect([stat.mzxid, stat.version]).toEqual([0n, -1]);
    expect((await s.reconfig(null, '2', null)).err).toBe('RECONFIGDISABLED');
    expect(fs.readdirSync(kind === 'zooid' ? (peers[0] as { handle: { dir: string } }).handle.dir : (peers[0] as { dir: string }).dir).filter((f) => f.includes('dynamic'))).toEqual([]);
  }, 120_000);
});

describe.each([3, 1])('reconfig in a mixed ensemble, zooid as server %i of 3 (the others ZooKeeper 3.8)', (zooidSid) => {
  it('agrees on /zookeeper/config, removes a follower of the other kind than the leader and adds it back', async () => {
    const ports = await allocatePorts([1, 2, 3]);
    const extra = { reconfigEnabled: 'true', 'DigestAuthenticationProvider.superDigest': generateDigest(SUPER) };
    // the zooid starts first: as server 3 it leads (the highest id in the first quorum), as server 1 a ZooKeeper does
    const z = await cleanups.zooid(ports[zooidSid - 1], lines(ports), extra);
    const others = await Promise.all(ports.filter((p) => p.sid !== zooidSid).map((p) => cleanups.zookeeper(p, lines(ports), extra)));
    const members: Member[] = [
      { sid: zooidSid, clientPort: z.clientPort, configPath: z.handle.configPath, mode: () => z.mode(), stop: () => z.kill9() },
      ...others.map((k) => ({ sid: k.sid, clientPort: k.clientPort, configPath: `${k.dir}/zoo.cfg`, mode: () => k.mode(), stop: () => k.kill9() })),
    ].sort((a, b) => a.sid - b.sid);
    let modes: (string | null)[] = [];
    await waitFor(async () => {
      modes = await Promise.all(members.map((m) => m.mode()));
      return modes.filter((m) => m === 'leader').length === 1 && modes.filter((m) => m === 'follower').length === 2;
    }, { timeoutMs: 60_000, what: 'a leader and two followers' });
    const leader = members[modes.indexOf('leader')];
    const sessions = await Promise.all(members.map((m) => cleanups.session(`m${m.sid}`, m.clientPort)));
    const allAt = async (text: string, what: string) => {
      for (const s of sessions) await waitFor(async () => textOf((await s.getData('/zookeeper/config')).data) === text, { timeoutMs: 20_000, what });
    };
    await allAt(configOf(ports, '100000000'), 'the first config on every member');
    const leaderIsZooid = leader.sid === zooidSid;
    expect(leaderIsZooid).toBe(zooidSid === 3);
    const removed = members.find((m) => m !== leader && (m.sid === zooidSid) !== leaderIsZooid) ?? members.find((m) => m !== leader)!;
    const admin = await cleanups.session('admin', leader.clientPort);
    expect((await admin.addAuth('digest', SUPER)).err).toBe('OK');
    const gone = await admin.reconfig(null, String(removed.sid), null);
    expect(gone.err).toBe('OK');
    const kept = ports.filter((p) => p.sid !== removed.sid);
    await allAt(configOf(kept, BigInt(gone.zxid!).toString(16)), 'the config without the removed server');
    const back = await admin.reconfig(lines(ports)[removed.sid - 1], null, null);
    expect(back.err).toBe('OK');
    await allAt(configOf(ports, BigInt(back.zxid!).toString(16)), 'the config with it again');
    const writer = await cleanups.session('writer', removed.clientPort);
    expect((await writer.create('/mixed', 'x')).err).toBe('OK');
  }, 150_000);
});

describe.each(['zooid', 'zookeeper'] as const)('skipACL=yes on a standalone %s', (kind) => {
  it('checks no ACL: a node only its creator may touch is read, written and deleted by anyone', async () => {
    const server = kind === 'zooid' ? await startZooid({ config: { skipACL: 'yes' } }) : await startZooKeeper({ config: { skipACL: 'yes' } });
    cleanups.push(() => server.stop());
    const owner = await cleanups.session('owner', server.port);
    expect((await owner.addAuth('digest', 'alice:secret')).err).toBe('OK');
    expect((await owner.create('/locked', 'x', { acl: CREATOR_ALL_ACL })).err).toBe('OK');
    const anyone: ZkSession = await cleanups.session('anyone', server.port);
    expect((await anyone.getData('/locked')).err).toBe('OK');
    expect((await anyone.setData('/locked', 'y')).err).toBe('OK');
    expect((await anyone.delete('/locked')).err).toBe('OK');
  }, 60_000);
});
