// Disk full on the log device, with a small filesystem of the test's own (tmpfs; needs
// the right to mount, so it is skipped with the reason when mount fails — e.g. not root):
// writes fail (no acknowledgement: in-flight requests end in connection loss, later ones
// get NOTREADONLY), the reason is in the server's log, reads keep being served, and
// writes resume once space returns. Every acknowledged write survives, a kill -9 included.
import { describe, it, expect, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startZooid, type ServerHandle } from '../support/servers.ts';
import { waitFor } from '../support/wait.ts';
import { LeanClient, ZkError } from '../../client/lean.ts';

const NOTREADONLY = -119;
const DEVICE_BYTES = 24 << 20;

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-diskfull-'));
const device = path.join(base, 'logdev');
fs.mkdirSync(device);
const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${DEVICE_BYTES}`, 'tmpfs', device], { encoding: 'utf8' });
const mountError = mounted.status === 0 ? null : `mount -t tmpfs failed (${(mounted.stderr || mounted.error?.message || '').trim()}): the test needs the right to mount a small filesystem`;
if (mountError !== null) console.warn(`skipping the disk-full test: ${mountError}`);

const handles: ServerHandle[] = [];
afterAll(async () => {
  for (const h of handles) {
    await h.stop().catch(() => {});
    // servers started with keepDir (their dataDir outlives a kill -9) are removed here
    if (process.env.ZOOID_TEST_KEEP_TMP !== '1') fs.rmSync(h.dir, { recursive: true, force: true });
  }
  if (mountError === null) spawnSync('umount', [device]);
  fs.rmSync(base, { recursive: true, force: true });
});

function freeBytes(dir: string): number {
  const s = fs.statfsSync(dir);
  return s.bavail * s.bsize;
}

describe('disk full on the log device', () => {
  it.skipIf(mountError !== null)('refuses writes, serves reads, resumes when space returns, loses nothing acknowledged', async () => {
    const config = { dataLogDir: device, preAllocSize: '256', snapCount: '1000000' };
    const server = await startZooid({ config, keepDir: true });
    handles.push(server);
    const port = server.port;
    let c = await LeanClient.connect({ host: '127.0.0.1', port, sessionTimeoutMs: 30_000 });
    await c.create('/r', Buffer.from('readable'));
    await c.create('/w');

    // leave ~1 MiB on the device, then write until the log cannot take more
    const filler = path.join(device, 'filler');
    fs.writeFileSync(filler, Buffer.alloc(Math.max(0, freeBytes(device) - (1 << 20))));
    const acked = new Set<string>();
    const value = Buffer.alloc(2000, 0x62);
    let refusedBy: string | null = null;
    for (let i = 0; refusedBy === null && i < 5000; i += 16) {
      const batch = Array.from({ length: 16 }, (_, j) => `/w/n${i + j}`);
      const results = await Promise.allSettled(batch.map((p) => c.create(p, value)));
      results.forEach((r, j) => {
        if (r.status === 'fulfilled') acked.add(batch[j]);
        else refusedBy ??= r.reason instanceof ZkError ? `error ${r.reason.code}` : String(r.reason);
      });
    }
    expect(refusedBy, 'the log device never filled up').not.toBeNull();
    // cutting the log back freed its unused preallocation: take that too, so the disk stays full
    const filler2 = path.join(device, 'filler2');
    try {
      fs.writeFileSync(filler2, Buffer.alloc(freeBytes(device)));
    } catch (e) {
      // ENOSPC part-way: full is what we want
      if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
    }
    await waitFor(() => /transaction log write failed: .*ENOSPC/.test(server.logTail(200)), { timeoutMs: 10_000, what: 'the ENOSPC error in the server log' });

    // The session is still there. Until the log has failed on the truly full disk a create
    // may still get through (the log worker may have reopened a file in the space the
    // cut-back freed, before filler2 took it: then it is acknowledged and durable) or end in
    // connection loss (it met ENOSPC on its way); once refused with NOTREADONLY, writes stay
    // refused while the disk is full.
    const sessionId = c.sessionId;
    const passwd = c.passwd;
    c.disconnect();
    c = await LeanClient.connect({ host: '127.0.0.1', port, sessionId, passwd });
    let attempt = 0;
    let refusedPath = '';
    await waitFor(async () => {
      const p = `/w/while-full-${attempt++}`;
      try {
        await c.create(p, value);
        acked.add(p);
        return false;
      } catch (e) {
        if (e instanceof ZkError && e.code === NOTREADONLY) {
          refusedPath = p;
          return true;
        }
        c.disconnect();
        c = await LeanClient.connect({ host: '127.0.0.1', port, sessionId, passwd });
        return false;
      }
    }, { timeoutMs: 20_000, what: 'a write refused with NOTREADONLY on the full disk', intervalMs: 50 });
    expect((await c.getData('/r')).data.toString()).toBe('readable');
    // the reload's garbage (the tree it replaced) was given back at once
    await waitFor(() => /memory trim after the reload: heap [\d.]+ → [\d.]+ MiB/.test(server.logTail(400)), { timeoutMs: 5000, what: 'the trim after the reload in the server log' });
    const children = new Set(await c.getChildren('/w'));
    for (const p of acked) expect(children.has(p.slice(3)), `${p} acknowledged before the disk filled`).toBe(true);
    expect((await c.exists(refusedPath))).toBeNull();
    expect(await c.create('/w/while-full', value).then(() => 0, (e: ZkError) => e.code)).toBe(NOTREADONLY);
    const stillFull = await c.setData('/r', Buffer.from('x')).then(() => 0, (e: ZkError) => e.code);
    expect(stillFull).toBe(NOTREADONLY);

    // space returns: writes resume within a few retries of the log worker
    fs.rmSync(filler);
    fs.rmSync(filler2);
    await waitFor(async () => {
      try {
        await c.create('/w/after', Buffer.from('back'));
        return true;
      } catch (e) {
        if (e instanceof ZkError && e.code === NOTREADONLY) return false;
        throw e;
      }
    }, { timeoutMs: 15_000, what: 'writes to resume once the disk has space', intervalMs: 100 });
    await waitFor(() => /transaction log writable again/.test(server.logTail(200)), { timeoutMs: 5000, what: 'the recovery in the server log' });
    await c.setData('/r', Buffer.from('written-after'));
    acked.add('/w/after');

    // and nothing acknowledged is lost across a crash either
    await server.kill9();
    c.disconnect();
    const again = await startZooid({ dataDir: server.dataDir, port, config });
    handles.push(again);
    const d = await LeanClient.connect({ host: '127.0.0.1', port });
    const after = new Set(await d.getChildren('/w'));
    for (const p of acked) expect(after.has(p.slice(3)), `${p} after restart`).toBe(true);
    expect(after.has('while-full')).toBe(false);
    expect(after.has(refusedPath.slice(3))).toBe(false);
    expect((await d.getData('/r')).data.toString()).toBe('written-after');
    await d.close();
  }, 120_000);
});
