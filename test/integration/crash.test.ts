// kill -9 at seeded random moments while clients write and snapshots are taken, 50 rounds
// on one dataDir: every acknowledged write survives each restart, and restart never fails.
// snapCount is small and the tree holds ~20k znodes, so the server is nearly always
// writing a snapshot when it dies (rounds that left a tmp.snapshot.* behind are counted).
// Each round's seed is printed; TEST_SEED replays a run.
import { describe, it, expect, afterAll } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { startZooid, type ServerHandle } from '../support/servers.ts';
import { waitFor } from '../support/wait.ts';
import { seededRandom, testSeed } from '../support/random.ts';
import { LeanClient } from '../../client/lean.ts';

const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 50);
const CLIENTS = 4;
const IN_FLIGHT = 24;
const BASE_NODES = 20_000;
const KEYS = 2_000;

const handles: ServerHandle[] = [];
afterAll(async () => {
  for (const h of handles) {
    await h.stop().catch(() => {});
    // servers started with keepDir (their dataDir outlives a kill -9) are removed here
    if (process.env.ZOOID_TEST_KEEP_TMP !== '1') fs.rmSync(h.dir, { recursive: true, force: true });
  }
});

/** Per key: the acknowledged value with the highest zxid, and values sent but not acknowledged (any may have survived). */
type KeyState = { acked: string | null; ackedZxid: number; later: Set<string> };

describe('crash safety', () => {
  it(`keeps every acknowledged write across ${ROUNDS} kill -9 rounds during writes and snapshots`, { timeout: 600_000 }, async () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    process.stdout.write(`crash test seed ${seed} (TEST_SEED=${seed} replays it)\n`);
    const config = { snapCount: '400', preAllocSize: '256', 'autopurge.snapRetainCount': '3', 'autopurge.purgeInterval': '1' };
    let server = await startZooid({ keepDir: true, config, readyTimeoutMs: 60_000 });
    handles.push(server);
    const dataDir = server.dataDir;
    const port = server.port;

    // a tree big enough that snapshots take a while
    {
      const c = await LeanClient.connect({ host: '127.0.0.1', port });
      await c.create('/base');
      await c.create('/k');
      const filler = Buffer.alloc(200, 0x61);
      for (let i = 0; i < BASE_NODES; i += 1000) {
        await Promise.all(Array.from({ length: 1000 }, (_, j) => c.create(`/base/n${i + j}`, filler)));
      }
      await Promise.all(Array.from({ length: KEYS }, (_, i) => c.create(`/k/${i}`, Buffer.from('init'))));
      await c.close();
    }
    const keys: KeyState[] = Array.from({ length: KEYS }, () => ({ acked: 'init', ackedZxid: 0, later: new Set<string>() }));
    let killedMidSnapshot = 0;
    let counter = 0;

    for (let round = 0; round < ROUNDS; round++) {
      const roundSeed = Math.floor(random() * 2 ** 31);
      const r = seededRandom(roundSeed);
      const where = `seed ${seed} round ${round} (round seed ${roundSeed})`;
      const clients = await Promise.all(Array.from({ length: CLIENTS }, () => LeanClient.connect({ host: '127.0.0.1', port })));
      let stop = false;
      let acks = 0;
      const pump = (c: LeanClient) =>
        new Promise<void>((resolve) => {
          const next = () => {
            while (!stop && !c.isClosed && c.outstanding() < IN_FLIGHT) {
              const k = Math.floor(r() * KEYS);
              const value = `r${round}-${counter++}`;
              keys[k].later.add(value);
              c.setData(`/k/${k}`, Buffer.from(value)).then(
                (stat) => {
                  // acknowledged: the server applied writes in zxid order, across clients
                  const st = keys[k];
                  st.later.delete(value);
                  if (stat.mzxid > st.ackedZxid) {
                    st.acked = value;
                    st.ackedZxid = stat.mzxid;
                  }
                  acks++;
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
      const pumps = clients.map(pump);
      const killAfterAcks = 200 + Math.floor(r() * 3000);
      await waitFor(() => acks >= killAfterAcks, { timeoutMs: 60_000, what: `${killAfterAcks} acks (${where})` });
      await server.kill9();
      stop = true;
      await Promise.all(pumps);
      for (const c of clients) c.disconnect();
      const v2 = path.join(dataDir, 'version-2');
      if (fs.readdirSync(v2).some((n) => n.startsWith('tmp.snapshot.'))) killedMidSnapshot++;

      // restart must succeed, then every key holds its acknowledged value or a later one
      server = await startZooid({ dataDir, port, config, readyTimeoutMs: 60_000 }).catch((err: Error) => {
        throw new Error(`${where}: restart failed: ${err.message}`);
      });
      handles.push(server);
      const c = await LeanClient.connect({ host: '127.0.0.1', port });
      const wrong: string[] = [];
      await Promise.all(keys.map(async (st, k) => {
        const { data, stat } = await c.getData(`/k/${k}`);
        const got = data.toString();
        if (got !== st.acked && !st.later.has(got)) wrong.push(`/k/${k}: ${got}, acknowledged ${st.acked}`);
        // what the server holds now is the new baseline
        st.acked = got;
        st.ackedZxid = stat.mzxid;
        st.later.clear();
      }));
      expect(wrong, `${where}: acknowledged writes lost`).toEqual([]);
      expect((await c.getChildren('/base')).length, where).toBe(BASE_NODES);
      await c.close();
    }
    process.stdout.write(`crash test: ${ROUNDS} rounds, ${killedMidSnapshot} killed while a snapshot was being written (seed ${seed})\n`);
    expect(killedMidSnapshot).toBeGreaterThan(0);
  });
});
