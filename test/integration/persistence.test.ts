// Restore as a user sees it, with real processes: snapshots + later logs come back,
// sessions and their ephemerals too (timeouts restarting), a corrupt newest snapshot falls
// back to an older one, corruption before a log's tail refuses to start naming file and
// offset, a torn tail is cut with a warning, dataLogDir apart from dataDir, autopurge.
import { describe, it, expect, afterAll } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { startZooid, type ServerHandle } from '../support/servers.ts';
import { waitFor } from '../support/wait.ts';
import { LeanClient } from '../../client/lean.ts';

const handles: ServerHandle[] = [];
afterAll(async () => {
  for (const h of handles) {
    await h.stop().catch(() => {});
    // servers started with keepDir (their dataDir outlives a kill -9) are removed here
    if (process.env.ZOOID_TEST_KEEP_TMP !== '1') fs.rmSync(h.dir, { recursive: true, force: true });
  }
});

async function zooid(dataDir: string | undefined, config: Record<string, string>): Promise<ServerHandle> {
  const h = await startZooid({ dataDir, config, keepDir: true });
  handles.push(h);
  return h;
}

async function fill(port: number, count: number, prefix = '/d'): Promise<void> {
  const c = await LeanClient.connect({ host: '127.0.0.1', port });
  await c.create(prefix).catch(() => {});
  for (let i = 0; i < count; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, count - i) }, (_, j) => c.create(`${prefix}/n${i + j}`, Buffer.from(`value-${i + j}`))));
  }
  await c.close();
}

async function expectFilled(port: number, count: number, prefix = '/d'): Promise<void> {
  const c = await LeanClient.connect({ host: '127.0.0.1', port });
  expect((await c.getChildren(prefix)).length).toBe(count);
  const bad: string[] = [];
  await Promise.all(Array.from({ length: count }, async (_, i) => {
    const { data } = await c.getData(`${prefix}/n${i}`);
    if (data.toString() !== `value-${i}`) bad.push(`${prefix}/n${i}`);
  }));
  expect(bad).toEqual([]);
  await c.close();
}

function files(dir: string, prefix: string): string[] {
  return fs.readdirSync(path.join(dir, 'version-2')).filter((n) => n.startsWith(prefix)).sort((a, b) => parseInt(a.split('.')[1], 16) - parseInt(b.split('.')[1], 16));
}

describe('restore', () => {
  it('comes back from snapshot + logs, sessions and ephemerals included; dataLogDir apart', async () => {
    const first = await zooid(undefined, { snapCount: '100' });
    const logDir = path.join(first.dir, 'txnlogs');
    await first.stop();
    const server = await zooid(first.dataDir, { snapCount: '100', dataLogDir: logDir });
    await fill(server.port, 1000);
    const holder = await LeanClient.connect({ host: '127.0.0.1', port: server.port, sessionTimeoutMs: 6000 });
    await holder.create('/eph', Buffer.from('mine'), 1);
    await server.kill9();
    holder.disconnect();
    expect(files(first.dataDir, 'snapshot.').length).toBeGreaterThan(3);
    expect(files(first.dataDir, 'log.')).toEqual([]); // logs live in dataLogDir only
    expect(fs.readdirSync(path.join(logDir, 'version-2')).filter((n) => n.startsWith('log.')).length).toBeGreaterThan(3);

    const restarted = await zooid(first.dataDir, { snapCount: '100', dataLogDir: logDir });
    expect(restarted.logTail(80)).toMatch(/recovered .*snapshot\.[0-9a-f]+ \(\d+ znodes/);
    await expectFilled(restarted.port, 1000);
    // the session is back (its ephemeral too), and expires a timeout after the restart
    const c = await LeanClient.connect({ host: '127.0.0.1', port: restarted.port });
    expect((await c.getData('/eph')).data.toString()).toBe('mine');
    const restartedAt = Date.now();
    await waitFor(async () => (await c.exists('/eph')) === null, { timeoutMs: 20_000, what: 'the restored session to expire', intervalMs: 100 });
    expect(Date.now() - restartedAt).toBeGreaterThan(3000);
    await c.close();
  });

  it('falls back to an older snapshot when the newest is corrupt', async () => {
    const server = await zooid(undefined, { snapCount: '100' });
    await fill(server.port, 800);
    await server.stop();
    const snaps = files(server.dataDir, 'snapshot.');
    const newest = path.join(server.dataDir, 'version-2', snaps.at(-1)!);
    const bytes = fs.readFileSync(newest);
    bytes[Math.floor(bytes.length / 2)] ^= 0x5a;
    fs.writeFileSync(newest, bytes);
    const again = await zooid(server.dataDir, { snapCount: '100' });
    expect(again.logTail(80)).toMatch(new RegExp(`cannot load snapshot .*${snaps.at(-1)!.replace('.', '\\.')}.*Adler32.*trying an older one`));
    await expectFilled(again.port, 800);
  });

  it('truncates a torn log tail with a warning, and refuses corruption before the tail naming file and offset', async () => {
    const server = await zooid(undefined, { snapCount: '100000', preAllocSize: '64' });
    await fill(server.port, 300);
    await server.stop();
    const logs = files(server.dataDir, 'log.');
    const last = path.join(server.dataDir, 'version-2', logs.at(-1)!);
    const size = fs.statSync(last).size;
    // torn tail: garbage where the next entry would start (the preallocated zeros)
    const bytes = fs.readFileSync(last);
    let end = bytes.length;
    while (end > 16 && bytes[end - 1] === 0) end--;
    fs.writeFileSync(last, Buffer.concat([bytes.subarray(0, end), Buffer.from([0, 0, 0, 0, 0x12, 0x34, 0, 0, 0, 0, 0, 0x50]), bytes.subarray(end + 12)]));
    expect(fs.statSync(last).size).toBe(size);
    const again = await zooid(server.dataDir, { snapCount: '100000' });
    await waitFor(() => /torn tail at offset \d+/.test(again.logTail(80)), { timeoutMs: 5000, what: 'the torn-tail warning' });
    await expectFilled(again.port, 300);
    await again.stop();

    // corruption in the middle of the log: a valid entry follows the bad one
    const mid = fs.readFileSync(last);
    mid[200] ^= 0xff;
    fs.writeFileSync(last, mid);
    const refused = await startZooid({ dataDir: server.dataDir, config: { snapCount: '100000' }, keepDir: true, readyTimeoutMs: 15_000 }).then(
      (h) => {
        handles.push(h);
        return '';
      },
      (err: Error) => err.message,
    );
    expect(refused).toMatch(/exited early/);
    expect(refused).toMatch(new RegExp(`transaction log .*${path.basename(last).replace('.', '\\.')} is corrupt at offset \\d+`));
  });

  it('autopurge keeps snapRetainCount snapshots and the logs they need', async () => {
    const config = { snapCount: '60', 'autopurge.snapRetainCount': '3', 'autopurge.purgeInterval': '1' };
    const server = await zooid(undefined, config);
    await fill(server.port, 1000);
    // a roll that finds the last snapshot still being written starts none (ZooKeeper's rule too):
    // how many a fill leaves depends on how fast it ran, so write on until more than 5 exist
    const c = await LeanClient.connect({ host: '127.0.0.1', port: server.port });
    await waitFor(async () => {
      await Promise.all(Array.from({ length: 60 }, (_, i) => c.setData('/d', Buffer.from(`more-${i}`))));
      return files(server.dataDir, 'snapshot.').length > 5;
    }, { timeoutMs: 30_000, what: 'more than 5 snapshots', intervalMs: 10 });
    await c.close();
    await server.stop();
    expect(files(server.dataDir, 'snapshot.').length).toBeGreaterThan(5);
    // purge runs when the server starts, then every purgeInterval hours
    const again = await zooid(server.dataDir, config);
    await waitFor(() => files(server.dataDir, 'snapshot.').length <= 3, { timeoutMs: 10_000, what: 'autopurge' });
    const oldest = parseInt(files(server.dataDir, 'snapshot.')[0].split('.')[1], 16);
    const logs = files(server.dataDir, 'log.').map((n) => parseInt(n.split('.')[1], 16));
    expect(logs[0]).toBeLessThanOrEqual(oldest + 1); // the txns after the oldest snapshot are all there
    await again.kill9();
    const third = await zooid(server.dataDir, config);
    await expectFilled(third.port, 1000);
  });
});
