// Server bugs the client-frame fuzzer found (test/fuzz/), each replayed as the shortest
// sequence of ordinary requests that shows it, against zooid and Apache ZooKeeper 3.8
// (the oracle: both must answer the same and keep serving).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startZooid, startZooKeeper, connectWhenServing, type ServerHandle } from '../support/servers.ts';
import { LeanClient, readStat } from '../../client/lean.ts';
import { Op, Perm, writeAcls, readAcls, OPEN_ACL_UNSAFE, type Acl } from '../../engine/protocol.ts';

let zooid: ServerHandle;
let zookeeper: ServerHandle;

beforeAll(async () => {
  [zooid, zookeeper] = await Promise.all([startZooid(), startZooKeeper()]);
});

afterAll(async () => {
  await Promise.all([zooid?.stop(), zookeeper?.stop()]);
});

function setAcl(c: LeanClient, path: string, acls: readonly Acl[]): Promise<unknown> {
  return c.call(Op.setACL, (w) => { w.string(path); writeAcls(w, acls); w.int(-1); }, readStat, 'setACL');
}

function getAcl(c: LeanClient, path: string): Promise<Acl[]> {
  return c.call(Op.getACL, (w) => w.string(path), readAcls, 'getACL');
}

describe('fuzzer-found regressions (zooid and ZooKeeper 3.8 answer alike and keep serving)', () => {
  // fuzz seed 0x00000001, 100k frames: the pipeline worker died with "ACL reference 1 is not
  // in the cache" when a delete under /zookeeper/quota triggered its parent's watches. / and
  // /zookeeper shared one ACL cache entry counted once: setACL on both dropped it while
  // /zookeeper/quota still used it.
  it('setACL on / and /zookeeper leaves /zookeeper/quota its open ACL', async () => {
    const answers: Record<string, unknown> = {};
    for (const server of [zookeeper, zooid]) {
      const c = await connectWhenServing(server);
      const readAdmin: Acl[] = [{ perms: Perm.READ | Perm.ADMIN, id: { scheme: 'world', id: 'anyone' } }];
      await setAcl(c, '/zookeeper', readAdmin);
      await setAcl(c, '/', readAdmin);
      const quotaAcl = await getAcl(c, '/zookeeper/quota');
      await c.create('/zookeeper/quota/q', Buffer.from('x'));
      await c.delete('/zookeeper/quota/q');
      // put things back, and a new session is served
      await setAcl(c, '/', OPEN_ACL_UNSAFE);
      await setAcl(c, '/zookeeper', OPEN_ACL_UNSAFE);
      await c.close();
      const fresh = await LeanClient.connect({ host: '127.0.0.1', port: server.port });
      answers[server.kind] = { quotaAcl, rootAcl: await getAcl(fresh, '/') };
      await fresh.close();
    }
    expect(answers.zooid).toEqual(answers.zookeeper);
    expect((answers.zooid as { quotaAcl: Acl[] }).quotaAcl).toEqual(OPEN_ACL_UNSAFE);
  });
});
