import { it, expect, afterAll } from 'vitest';
import { allocatePorts, Cleanups, oneLeader, serverLines } from '../support/ensemble.ts';
const cleanups = new Cleanups();
afterAll(() => cleanups.run(), 60_000);
it('failover from 4 to 5', async () => {
  const ports = await allocatePorts([1, 2, 3, 4, 5]);
  const lines = serverLines(ports);
  const first = await Promise.all(ports.slice(0, 4).map((p) => cleanups.zooid(p, lines)));
  const l = await oneLeader(first, 'four', 60_000);
  console.log(`leader ${l.sid}`);
  const five = await cleanups.zooid(ports[4], lines);
  const peers = [...first, five];
  await oneLeader(peers, 'five', 60_000);
  for (let round = 0; round < 2; round++) {
    const leader = await oneLeader(peers, 'five', 60_000);
    const t0 = performance.now();
    await leader.kill9();
    const rest = peers.filter((p) => p !== leader);
    const nl = await oneLeader(rest, 'rest', 60_000);
    const s = await cleanups.session(`c${round}`, nl.clientPort);
    expect(await s.create(`/x${round}`, '')).toMatchObject({ err: 'OK' });
    console.log(`round ${round}: killed ${leader.sid}, ${nl.sid} leads after ${(performance.now() - t0).toFixed(0)} ms`);
    
    await leader.restart();
  }
}, 200_000);
