// bench compare's floor (bench/floor-server.ts): a one-thread answerer that real clients and
// the load generator can drive, so that zooid's CPU per op can be set beside the cost of the
// protocol and Node's sockets alone.
import { describe, expect, it } from 'vitest';
import { LeanClient, ZkError } from '../../client/lean.ts';
import { Err } from '../../engine/protocol.ts';
import { deploy } from '../../bench/deploy.ts';
import { parseCompareArgs } from '../../bench/compare.ts';
import { runLoad, closePool } from '../../loadgen/run.ts';
import { parseLoadOptions } from '../../loadgen/options.ts';
import { fourLetterWord } from '../support/servers.ts';

/** One second of the load generator (4 connections, half reads): complete, no errors, ops answered. */
async function expectCarriesLoad(port: number): Promise<void> {
  const { options } = parseLoadOptions(['--hosts', `127.0.0.1:${port}`, '--connections', '4', '--threads', '1', '--read-pct', '50', '--keys', '100', '--duration', '1s', '--warmup', '0s', '--no-progress']);
  const { result } = await runLoad(options);
  const report = JSON.stringify(result);
  expect(result.complete, report).toBe(true);
  expect(result.errorCount, report).toBe(0);
  expect(result.okOps, report).toBeGreaterThan(100);
}

describe('the floor answerer', () => {
  it('answers a client as a tree of znodes would: codes, data and Stat versions', async () => {
    const floor = await deploy('floor', 1, {});
    const client = await LeanClient.connect({ host: '127.0.0.1', port: floor.ports[0], connectTimeoutMs: 2_000 });
    try {
      expect(await fourLetterWord(floor.ports[0], 'srvr')).toMatch(/^Mode: standalone$/m);
      expect(await client.create('/a', Buffer.from('one'))).toBe('/a');
      await expect(client.create('/a')).rejects.toSatisfy((e: unknown) => e instanceof ZkError && e.code === Err.NODEEXISTS);
      await expect(client.create('/x/y')).rejects.toSatisfy((e: unknown) => e instanceof ZkError && e.code === Err.NONODE);
      expect((await client.setData('/a', Buffer.from('two'))).version).toBe(1);
      await expect(client.setData('/a', Buffer.from('three'), 0)).rejects.toSatisfy((e: unknown) => e instanceof ZkError && e.code === Err.BADVERSION);
      const got = await client.getData('/a');
      expect(got.data.toString()).toBe('two');
      expect(got.stat.version).toBe(1);
      expect(got.stat.dataLength).toBe(3);
      expect(await client.getChildren('/')).toEqual(['a']);
      await client.delete('/a');
      expect(await client.exists('/a')).toBeNull();
    } finally {
      await client.close();
      await floor.stop();
    }
  });

  it('carries the load generator, and bench compare takes it as a server', async () => {
    expect(parseCompareArgs(['--servers', 'zookeeper,zooid,floor']).servers).toEqual(['zookeeper', 'zooid', 'floor']);
    expect(() => parseCompareArgs(['--servers', 'etcd'])).toThrow(/not zookeeper, zooid, floor or floor-c/);
    const floor = await deploy('floor', 1, {});
    try {
      await expectCarriesLoad(floor.ports[0]);
    } finally {
      await closePool();
      await floor.stop();
    }
  });
});

// bench/floor-c.c, built with the machine's cc: the same answerer in C, for the kernel's share
describe('the C floor answerer', () => {
  it('answers the ops the load generator sends, and carries it', async () => {
    expect(parseCompareArgs(['--servers', 'floor-c,floor']).servers).toEqual(['floor-c', 'floor']);
    const floor = await deploy('floor-c', 1, {});
    const client = await LeanClient.connect({ host: '127.0.0.1', port: floor.ports[0], connectTimeoutMs: 2_000 });
    try {
      expect(await fourLetterWord(floor.ports[0], 'srvr')).toMatch(/^Mode: standalone$/m);
      expect(await client.create('/a', Buffer.from('one'))).toBe('/a');
      await expect(client.create('/a')).rejects.toSatisfy((e: unknown) => e instanceof ZkError && e.code === Err.NODEEXISTS);
      expect((await client.setData('/a', Buffer.from('two!'))).version).toBe(1);
      const got = await client.getData('/a');
      expect(got.data.toString()).toBe('two!');
      expect(got.stat.version).toBe(1);
      expect(got.stat.dataLength).toBe(4);
      expect(await client.exists('/b')).toBeNull();
      await expectCarriesLoad(floor.ports[0]);
    } finally {
      await client.close();
      await closePool();
      await floor.stop();
    }
  });
});
