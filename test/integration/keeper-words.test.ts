// ClickHouse Keeper's four-letter words csnp (schedule a snapshot) and lgif (log
// information) through real sockets: refused unless 4lw.commands.whitelist names them,
// and with them enabled, lgif's indexes are the zxids the client saw and csnp writes a
// snapshot named after the index it answers (engine/ops/fourlw.ts formatLgif has the mapping).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { startZooid, fourLetterWord, type ServerHandle } from '../support/servers.ts';
import { waitFor } from '../support/wait.ts';
import { LeanClient } from '../../client/lean.ts';

const LGIF_KEYS = [
  'first_log_idx', 'first_log_term', 'last_log_idx', 'last_log_term', 'last_committed_log_idx',
  'leader_committed_log_idx', 'target_committed_log_idx', 'last_snapshot_idx',
];

function parseLgif(text: string): Map<string, number> {
  expect(text.endsWith('\n')).toBe(true);
  const lines = text.slice(0, -1).split('\n').map((l) => l.split('\t'));
  expect(lines.map((l) => l[0])).toEqual(LGIF_KEYS);
  for (const l of lines) expect(l[1]).toMatch(/^\d+$/);
  return new Map(lines.map(([k, v]) => [k, Number(v)]));
}

describe('csnp and lgif', () => {
  let plain: ServerHandle;
  let keeper: ServerHandle;
  const clients: LeanClient[] = [];

  beforeAll(async () => {
    [plain, keeper] = await Promise.all([
      startZooid({ config: { '4lw.commands.whitelist': 'srvr' } }), // ZooKeeper's default, which the test harness widens to *
      startZooid({ config: { '4lw.commands.whitelist': 'srvr, csnp, lgif' } }),
    ]);
  }, 30_000);

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await Promise.all([plain?.stop(), keeper?.stop()]);
  });

  it('are not in the default whitelist (srvr)', async () => {
    expect(await fourLetterWord(plain.port, 'csnp')).toBe('csnp is not executed because it is not in the whitelist.\n');
    expect(await fourLetterWord(plain.port, 'lgif')).toBe('lgif is not executed because it is not in the whitelist.\n');
    expect(fs.readdirSync(path.join(plain.dataDir, 'version-2')).filter((n) => n.startsWith('snapshot.'))).toEqual(['snapshot.0']);
  });

  it('lgif shows the zxids as log indexes; csnp schedules a snapshot at the last one and answers its index', async () => {
    const c = await LeanClient.connect({ host: '127.0.0.1', port: keeper.port });
    clients.push(c);
    await c.create('/k0');
    const firstZxid = c.lastZxid;
    for (let i = 1; i < 5; i++) await c.create(`/k${i}`);
    const lastZxid = c.lastZxid;
    expect(lastZxid).toBeGreaterThan(firstZxid);

    const before = parseLgif(await fourLetterWord(keeper.port, 'lgif'));
    expect(before.get('first_log_idx')).toBeGreaterThan(0);
    expect(before.get('first_log_idx')).toBeLessThanOrEqual(firstZxid);
    expect(before.get('first_log_term')).toBe(Math.floor(before.get('first_log_idx')! / 2 ** 32));
    expect(before.get('last_log_idx')).toBe(lastZxid);
    expect(before.get('last_log_term')).toBe(Math.floor(lastZxid / 2 ** 32));
    expect(before.get('last_committed_log_idx')).toBe(lastZxid); // acknowledged writes are durable
    expect(before.get('leader_committed_log_idx')).toBe(lastZxid);
    expect(before.get('target_committed_log_idx')).toBe(lastZxid);
    expect(before.get('last_snapshot_idx')).toBe(0); // snapshot.0, written into the empty dataDir
    expect(await fourLetterWord(plain.port, 'srvr')).toContain('Mode: standalone');

    expect(await fourLetterWord(keeper.port, 'csnp')).toBe(String(lastZxid));
    const snapshotFile = path.join(keeper.dataDir, 'version-2', `snapshot.${lastZxid.toString(16)}`);
    await waitFor(async () => parseLgif(await fourLetterWord(keeper.port, 'lgif')).get('last_snapshot_idx') === lastZxid, {
      timeoutMs: 15_000, what: 'lgif to show the scheduled snapshot',
    });
    expect(fs.existsSync(snapshotFile)).toBe(true);

    // the log rolled: the next txn starts a new file; the old one is still there (no purge configured)
    await c.create('/after');
    const after = parseLgif(await fourLetterWord(keeper.port, 'lgif'));
    expect(after.get('first_log_idx')).toBe(before.get('first_log_idx'));
    expect(after.get('last_log_idx')).toBe(c.lastZxid);
    expect(fs.existsSync(path.join(keeper.dataDir, 'version-2', `log.${c.lastZxid.toString(16)}`))).toBe(true);
  }, 30_000);
});
