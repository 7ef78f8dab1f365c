// Bad input closes that one connection (or gets ZooKeeper's error code) and nothing else:
// after each case, an established session and a brand-new one are still served.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startZooid, freePort, ZOOID_CLI, type ServerHandle } from '../support/servers.ts';
import { seededRandom, testSeed } from '../support/random.ts';
import { LeanClient, ZkError } from '../../client/lean.ts';
import { Err, Op } from '../../engine/protocol.ts';

let server: ServerHandle;
let witness: LeanClient;

beforeAll(async () => {
  server = await startZooid({ config: { 'jute.maxbuffer': '65536' } });
  witness = await LeanClient.connect({ host: '127.0.0.1', port: server.port });
  await witness.create('/witness', Buffer.from('still here'));
});

afterAll(async () => {
  await witness?.close();
  await server?.stop();
});

/** The server still serves the established session and a new one. */
async function stillServing(): Promise<void> {
  expect((await witness.getData('/witness')).data.toString()).toBe('still here');
  const fresh = await LeanClient.connect({ host: '127.0.0.1', port: server.port });
  expect(await fresh.exists('/witness')).not.toBeNull();
  await fresh.close();
}

/** Sends raw bytes on a new socket and resolves when the server closes it. */
function sendAndAwaitClose(bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port: server.port }, () => s.write(bytes));
    s.on('data', () => {});
    s.on('error', () => {});
    s.on('close', () => resolve());
    setTimeout(() => reject(new Error('server did not close the connection within 10 s')), 10_000).unref();
  });
}

function connectFrame(): Buffer {
  const b = Buffer.alloc(4 + 4 + 8 + 4 + 8 + 4 + 16 + 1);
  let o = b.writeInt32BE(b.length - 4, 0);
  o = b.writeInt32BE(0, o);
  o = b.writeBigInt64BE(0n, o);
  o = b.writeInt32BE(30000, o);
  o = b.writeBigInt64BE(0n, o);
  o = b.writeInt32BE(16, o);
  return b;
}

describe('bad input', () => {
  it('closes a connection that sends garbage before the handshake', async () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    const garbage = Buffer.alloc(64);
    for (let i = 0; i < garbage.length; i++) garbage[i] = Math.floor(random() * 256);
    garbage.writeInt32BE(0x7fff0000, 0); // a length no frame can have
    await sendAndAwaitClose(garbage);
    await stillServing();
  });

  it('closes a connection that sends a negative frame length', async () => {
    const b = Buffer.alloc(8);
    b.writeInt32BE(-5, 0);
    await sendAndAwaitClose(b);
    await stillServing();
  });

  it('closes a connection whose frame is longer than jute.maxbuffer', async () => {
    const c = await LeanClient.connect({ host: '127.0.0.1', port: server.port });
    const closed = new Promise<void>((resolve) => (c.onClose = () => resolve()));
    const b = Buffer.alloc(16);
    b.writeInt32BE(65536 + 1, 0);
    c.writeRaw(b);
    await closed;
    await stillServing();
  });

  it('answers a truncated request record MARSHALLINGERROR and keeps the connection, as ZooKeeper', async () => {
    const c = await LeanClient.connect({ host: '127.0.0.1', port: server.port });
    // a create whose path length (1000) runs past the end of its frame
    const err = await c.call(Op.create, (w) => w.int(1000).byte(0).byte(0), () => null, 'create').then(() => Err.OK, (e: ZkError) => e.code);
    expect(err).toBe(Err.MARSHALLINGERROR);
    expect(c.isClosed).toBe(false);
    expect(await c.exists('/witness')).not.toBeNull();
    await c.close();
    await stillServing();
  });

  it('answers a truncated ConnectRequest by closing the connection', async () => {
    const frame = connectFrame().subarray(0, 12);
    frame.writeInt32BE(8, 0);
    await sendAndAwaitClose(frame);
    await stillServing();
  });

  it('answers invalid paths as Apache ZooKeeper 3.8 does (BADARGUMENTS, or NONODE for a missing parent)', async () => {
    const c = await LeanClient.connect({ host: '127.0.0.1', port: server.port });
    // codes observed from Apache ZooKeeper 3.8.0 with the same raw requests
    const cases: [string, number][] = [
      ['a', Err.BADARGUMENTS], ['/witness/', Err.BADARGUMENTS], ['/witness/.', Err.BADARGUMENTS], ['/witness\u0001b', Err.BADARGUMENTS],
      ['/a/', Err.NONODE], ['/witness//b', Err.NONODE], ['/witness/./b', Err.NONODE], ['/', Err.NODEEXISTS],
    ];
    for (const [bad, code] of cases) {
      const err = await c.create(bad).then(() => null, (e: ZkError) => e.code);
      expect(err, `create ${JSON.stringify(bad)}`).toBe(code);
    }
    const setErr = await c.setData('/witness/', Buffer.from('v')).then(() => null, (e: ZkError) => e.code);
    expect(setErr).toBe(Err.BADARGUMENTS);
    for (const special of ['/', '/zookeeper', '/zookeeper/quota']) {
      const err = await c.delete(special).then(() => null, (e: ZkError) => e.code);
      expect(err, `delete ${special}`).toBe(Err.BADARGUMENTS);
    }
    await c.close();
    await stillServing();
  });

  it('answers an unknown opcode with UNIMPLEMENTED and keeps the session', async () => {
    const c = await LeanClient.connect({ host: '127.0.0.1', port: server.port });
    const err = await c.call(999, () => {}, () => 0, 'op999').then(() => null, (e: ZkError) => e.code);
    expect(err).toBe(Err.UNIMPLEMENTED);
    expect(await c.exists('/witness')).not.toBeNull();
    await c.close();
    await stillServing();
  });

  it('fails a getChildren whose reply would exceed jute.maxbuffer, for that request only', async () => {
    const c = await LeanClient.connect({ host: '127.0.0.1', port: server.port });
    await c.create('/wide');
    const name = 'x'.repeat(200);
    await Promise.all(Array.from({ length: 400 }, (_, i) => c.create(`/wide/${name}${i}`)));
    const err = await c.getChildren('/wide').then(() => null, (e: ZkError) => e.code);
    expect(err).toBe(Err.MARSHALLINGERROR);
    expect(await c.exists('/wide')).not.toBeNull();
    await c.close();
    await stillServing();
  });

  it('exits with status 2 on a bad config, naming the key and the line', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-badcfg-'));
    const cfg = path.join(dir, 'zoo.cfg');
    fs.writeFileSync(cfg, `tickTime=2000\ndataDir=${dir}/data\nclientPort=notaport\n`);
    const res = spawnSync(process.execPath, [ZOOID_CLI, 'server', cfg], { encoding: 'utf8', timeout: 20_000 });
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('clientPort');
    expect(res.stderr).toContain(':3');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('exits with status 3 when the dataDir is missing and zookeeper.datadir.autocreate=false, as ZooKeeper', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-noautocreate-'));
    const cfg = path.join(dir, 'zoo.cfg');
    const port = await freePort();
    fs.writeFileSync(cfg, `tickTime=2000\ndataDir=${dir}/data\nclientPort=${port}\nzookeeper.datadir.autocreate=false\n`);
    const res = spawnSync(process.execPath, [ZOOID_CLI, 'server', cfg], { encoding: 'utf8', timeout: 20_000 });
    expect(res.status).toBe(3);
    expect(res.stderr).toContain('automatic data directory creation is disabled');
    expect(fs.existsSync(path.join(dir, 'data'))).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // found by the fault campaign: the io workers listened with SO_REUSEPORT, so a second server
  // given the same port bound it too and the kernel spread new connections over both
  it('refuses to start on a client port another server holds, and the first serves on alone', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-portinuse-'));
    const cfg = path.join(dir, 'zoo.cfg');
    for (const threads of ['1', '2']) {
      fs.writeFileSync(cfg, `tickTime=2000\ndataDir=${dir}/data\nclientPort=${server.port}\nclientPortAddress=127.0.0.1\nio.threads=${threads}\n`);
      const res = spawnSync(process.execPath, [ZOOID_CLI, 'server', cfg], { encoding: 'utf8', timeout: 20_000 });
      expect(res.status, `io.threads=${threads}: ${res.stderr}`).not.toBe(0);
      expect(res.stderr).toContain(`cannot listen on 127.0.0.1:${server.port}`);
      expect(res.stderr).toContain('EADDRINUSE');
    }
    fs.rmSync(dir, { recursive: true, force: true });
    for (let i = 0; i < 10; i++) await stillServing(); // every new session lands on the first server
  });
});
