// Apache ZooKeeper 3.8's dataDir, both ways (the oracle decides what "the same tree" is):
//   - zooid writes a dataDir (several snapshots and logs); Apache ZooKeeper starts on a
//     copy of it and serves the same tree as zooid restarted on the original: paths,
//     data, ACLs, every Stat field. ZooKeeper's SnapshotFormatter and TxnLogToolkit read
//     every zooid file without error.
//   - Apache ZooKeeper writes a dataDir under a concurrent write load (fuzzy snapshots,
//     several logs, live sessions with ephemerals) and is killed; zooid and ZooKeeper each
//     start on a copy and serve the same tree.
import { describe, it, expect, afterAll } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { startZooKeeper, startZooid, type ServerHandle } from '../support/servers.ts';
import { ZkSession, type Acl, CreateMode } from '../support/zkclient.ts';
import { LeanClient } from '../../client/lean.ts';
import { seededRandom, testSeed } from '../support/random.ts';

const JAVA_CP = ['/usr/share/java/zookeeper.jar', '/usr/share/java/slf4j-nop.jar'].join(':');
const DIGEST_USER = 'alice:secret';
// DigestAuthenticationProvider.generateDigest('alice:secret')
const DIGEST_ID = 'alice:' + createHash('sha1').update(DIGEST_USER).digest('base64');
const ACLS: Acl[][] = [
  [{ perms: 31, scheme: 'world', id: 'anyone' }],
  [{ perms: 1, scheme: 'world', id: 'anyone' }, { perms: 31, scheme: 'digest', id: DIGEST_ID }],
  [{ perms: 31, scheme: 'ip', id: '127.0.0.1' }],
];

const handles: ServerHandle[] = [];
afterAll(async () => {
  for (const h of handles) {
    await h.stop().catch(() => {});
    // servers started with keepDir (their dataDir outlives a kill -9) are removed here
    if (process.env.ZOOID_TEST_KEEP_TMP !== '1') fs.rmSync(h.dir, { recursive: true, force: true });
  }
});

async function start(kind: 'zookeeper' | 'zooid', dataDir: string, config: Record<string, string> = {}): Promise<ServerHandle> {
  const h = kind === 'zookeeper' ? await startZooKeeper({ dataDir, config, keepDir: true }) : await startZooid({ dataDir, config, keepDir: true });
  handles.push(h);
  return h;
}

function copyDir(from: string, to: string): string {
  fs.rmSync(to, { recursive: true, force: true });
  fs.cpSync(from, to, { recursive: true });
  return to;
}

/** Every node: path, data, ACL and Stat, as one sorted list of lines. */
async function dumpTree(port: number, name: string): Promise<string[]> {
  const s = await ZkSession.connect(name, port, { requestTimeoutMs: 30_000 });
  await s.addAuth('digest', DIGEST_USER);
  const lines: string[] = [];
  let frontier = ['/'];
  while (frontier.length > 0) {
    const next: string[] = [];
    await Promise.all(frontier.map(async (p) => {
      const [d, a, c] = await Promise.all([s.getData(p), s.getACL(p), s.getChildren(p)]);
      if (d.err !== 'OK') {
        lines.push(`${p} ${d.err}`);
        return;
      }
      lines.push(JSON.stringify([p, d.data, d.stat, a.acl, c.children], (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
      for (const child of c.children as string[]) next.push(p === '/' ? `/${child}` : `${p}/${child}`);
    }));
    frontier = next;
  }
  await s.dispose();
  return lines.sort();
}

function zooKeeperTools(dataDir: string): void {
  const v2 = path.join(dataDir, 'version-2');
  for (const name of fs.readdirSync(v2).sort()) {
    const file = path.join(v2, name);
    const tool = name.startsWith('snapshot.') ? 'org.apache.zookeeper.server.SnapshotFormatter' : name.startsWith('log.') ? 'org.apache.zookeeper.server.persistence.TxnLogToolkit' : null;
    if (tool === null) continue;
    const run = spawnSync('java', ['-cp', JAVA_CP, tool, file], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const output = run.stdout + run.stderr;
    expect(run.status, `${tool} ${file}:\n${output.slice(-2000)}`).toBe(0);
    expect(output, `${tool} ${file}`).not.toMatch(/CRC|Exception|corrupt/i);
    if (name.startsWith('log.')) expect(output).toMatch(/EOF reached after \d+ txns/);
    else expect(output).toMatch(/Last zxid: 0x[0-9a-f]+/);
  }
}

/** A mixed write load from a few sessions: creates (some ephemeral, some sequential), setData, setACL, deletes, multi. */
async function writeLoad(port: number, seed: number, ops: number): Promise<void> {
  const random = seededRandom(seed);
  const s = await ZkSession.connect('load', port, { requestTimeoutMs: 30_000 });
  await s.addAuth('digest', DIGEST_USER);
  await s.create('/app', 'root');
  const live: string[] = ['/app'];
  let inFlight: Promise<unknown>[] = [];
  for (let i = 0; i < ops; i++) {
    const r = random();
    const target = live[Math.floor(random() * live.length)];
    if (r < 0.45) {
      const p = `${target}/n${i}`;
      const mode = random() < 0.1 ? CreateMode.EPHEMERAL : random() < 0.1 ? CreateMode.PERSISTENT_SEQUENTIAL : CreateMode.PERSISTENT;
      inFlight.push(s.create(p, `v${i}`, { acl: ACLS[Math.floor(random() * ACLS.length)], mode }).then((rep) => {
        if (rep.err === 'OK' && mode !== CreateMode.EPHEMERAL) live.push(rep.path as string);
      }));
    } else if (r < 0.75) {
      inFlight.push(s.setData(target, random() < 0.05 ? null : `d${i}`.repeat(1 + Math.floor(random() * 5))));
    } else if (r < 0.85) {
      inFlight.push(s.setACL(target, ACLS[Math.floor(random() * ACLS.length)]));
    } else if (r < 0.95 && target !== '/app') {
      inFlight.push(s.delete(target).then((rep) => {
        if (rep.err === 'OK') live.splice(live.indexOf(target), 1);
      }));
    } else {
      inFlight.push(s.multi([
        { op: 'create', path: `${target}/m${i}`, data: 'm' },
        { op: 'setData', path: target, data: `multi${i}` },
      ]));
    }
    if (inFlight.length >= 32) {
      await Promise.all(inFlight);
      inFlight = [];
    }
  }
  await Promise.all(inFlight);
  await s.dispose();
}

describe('dataDir compatibility with Apache ZooKeeper 3.8', () => {
  it('ZooKeeper starts on a dataDir zooid wrote and serves the same tree; its tools read every file', async () => {
    const seed = testSeed();
    process.stdout.write(`persistence seed ${seed} (TEST_SEED=${seed} replays it)\n`);
    const base = fs.mkdtempSync('/tmp/zooid-compat-persist-');
    const dataDir = path.join(base, 'zooid');
    fs.mkdirSync(dataDir);
    const config = { snapCount: '300', preAllocSize: '512' };
    const zooid = await start('zooid', dataDir, config);
    await writeLoad(zooid.port, seed, 3000);
    // a live session with ephemerals when the server goes down
    const holder = await ZkSession.connect('holder', zooid.port, { sessionTimeoutMs: 40_000 });
    // the load may have left /app with an ACL that grants CREATE only to the digest user
    await holder.addAuth('digest', DIGEST_USER);
    expect((await holder.create('/app/eph-a', 'e', { mode: CreateMode.EPHEMERAL })).err, `seed ${seed}`).toBe('OK');
    expect((await holder.create('/app/eph-b', null, { mode: CreateMode.EPHEMERAL })).err, `seed ${seed}`).toBe('OK');
    await zooid.kill9();
    holder.abandon();
    const v2 = fs.readdirSync(path.join(dataDir, 'version-2'));
    expect(v2.filter((n) => n.startsWith('snapshot.')).length, `seed ${seed}`).toBeGreaterThan(3);
    expect(v2.filter((n) => n.startsWith('log.')).length, `seed ${seed}`).toBeGreaterThan(3);

    const zkDir = copyDir(dataDir, path.join(base, 'zk'));
    zooKeeperTools(dataDir);
    const [again, zk] = await Promise.all([start('zooid', dataDir, config), start('zookeeper', zkDir, config)]);
    const [mine, theirs] = await Promise.all([dumpTree(again.port, 'zooid-dump'), dumpTree(zk.port, 'zk-dump')]);
    expect(mine.length, `seed ${seed}`).toBeGreaterThan(500);
    expect(mine, `seed ${seed}: zooid and ZooKeeper on the same dataDir`).toEqual(theirs);
    expect(mine.filter((l) => l.startsWith('["/app/eph-')).length, 'ephemerals of the live session come back').toBe(2);
    fs.rmSync(base, { recursive: true, force: true });
  }, 240_000);

  it('zooid starts on a dataDir ZooKeeper wrote under load (fuzzy snapshots, several logs) and serves the same tree', async () => {
    const seed = testSeed();
    process.stdout.write(`persistence seed ${seed} (TEST_SEED=${seed} replays it)\n`);
    const base = fs.mkdtempSync('/tmp/zooid-compat-persist-');
    const dataDir = path.join(base, 'zk');
    fs.mkdirSync(dataDir);
    const zk = await start('zookeeper', dataDir, { snapCount: '200' });
    // the mixed load, plus a pipelined create/setData flood from other sessions, at once
    const flood = (async () => {
      const clients = await Promise.all([0, 1, 2].map(() => LeanClient.connect({ host: '127.0.0.1', port: zk.port })));
      await clients[0].create('/flood');
      await Promise.all(clients.map(async (c, ci) => {
        for (let i = 0; i < 2000; i += 50) {
          await Promise.all(Array.from({ length: 50 }, (_, j) => c.create(`/flood/c${ci}-${i + j}`, Buffer.alloc(100 + j, 0x61))));
          await Promise.all(Array.from({ length: 20 }, (_, j) => c.setData(`/flood/c${ci}-${i + j}`, Buffer.from(`x${j}`))));
        }
      }));
      for (const c of clients) c.disconnect();
    })();
    const holder = await ZkSession.connect('holder', zk.port, { sessionTimeoutMs: 40_000 });
    await Promise.all([flood, writeLoad(zk.port, seed, 3000)]);
    await holder.create('/eph', 'mine', { mode: CreateMode.EPHEMERAL });
    await zk.kill9();
    holder.abandon();
    const v2 = fs.readdirSync(path.join(dataDir, 'version-2'));
    expect(v2.filter((n) => n.startsWith('snapshot.')).length).toBeGreaterThan(3);
    expect(v2.filter((n) => n.startsWith('log.')).length).toBeGreaterThan(3);

    const zooidDir = copyDir(dataDir, path.join(base, 'zooid'));
    const zkDir = copyDir(dataDir, path.join(base, 'zk2'));
    const [zooid, zkAgain] = await Promise.all([start('zooid', zooidDir), start('zookeeper', zkDir)]);
    const [mine, theirs] = await Promise.all([dumpTree(zooid.port, 'zooid-dump'), dumpTree(zkAgain.port, 'zk-dump')]);
    expect(mine.length).toBeGreaterThan(6000);
    expect(mine, `seed ${seed}: zooid and ZooKeeper on ZooKeeper's dataDir`).toEqual(theirs);
    fs.rmSync(base, { recursive: true, force: true });
  }, 240_000);
});
