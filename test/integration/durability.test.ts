// kill -9 during a pipelined write load, then restart: every write acknowledged before
// the kill is there with its data. Real process, real files, real sockets.
import { describe, it, expect, afterAll } from 'vitest';
import { startZooid, type ServerHandle } from '../support/servers.ts';
import { waitFor } from '../support/wait.ts';
import { seededRandom, testSeed } from '../support/random.ts';
import { LeanClient } from '../../client/lean.ts';

const handles: ServerHandle[] = [];
afterAll(async () => {
  for (const h of handles) await h.stop().catch(() => {});
});

describe('durability', () => {
  it('keeps every acknowledged write across kill -9 and restart', async () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    const first = await startZooid({ keepDir: true, config: { preAllocSize: '1024' } });
    handles.push(first);
    const clients = await Promise.all([0, 1, 2, 3].map(() => LeanClient.connect({ host: '127.0.0.1', port: first.port })));
    await clients[0].create('/d');
    const acked = new Map<string, Buffer>();
    let stop = false;
    let sent = 0;
    // each client keeps up to 32 creates and setDatas in flight until the kill
    const pump = (c: LeanClient, ci: number) =>
      new Promise<void>((resolve) => {
        const next = () => {
          while (!stop && c.outstanding() < 32) {
            const i = sent++;
            const path = `/d/n${ci}-${i}`;
            const value = Buffer.from(`v${i}-${Math.floor(random() * 1e9)}`);
            c.create(path, value).then(
              () => {
                acked.set(path, value);
                next();
              },
              () => resolve(),
            );
          }
          if (stop || c.isClosed) resolve();
        };
        c.onClose = () => resolve();
        next();
      });
    const pumps = clients.map((c, i) => pump(c, i));
    await waitFor(() => acked.size >= 2000, { timeoutMs: 30_000, what: '2000 acknowledged creates' });
    await first.kill9();
    stop = true;
    await Promise.all(pumps);
    const ackedAtKill = new Map(acked);
    expect(ackedAtKill.size).toBeGreaterThanOrEqual(2000);

    const second = await startZooid({ dataDir: first.dataDir, port: first.port });
    handles.push(second);
    const c = await LeanClient.connect({ host: '127.0.0.1', port: second.port });
    const missing: string[] = [];
    await Promise.all(
      [...ackedAtKill].map(async ([path, value]) => {
        const got = await c.getData(path).catch(() => null);
        if (got === null || !got.data.equals(value)) missing.push(path);
      }),
    );
    expect(missing, `seed ${seed}: acknowledged writes missing after restart`).toEqual([]);
    const children = await c.getChildren('/d');
    expect(children.length).toBeGreaterThanOrEqual(ackedAtKill.size);
    await c.close();
  });
});
