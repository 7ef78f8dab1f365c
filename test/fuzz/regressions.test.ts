// Server bugs the client-frame fuzzer found (test/fuzz/), each replayed as the shortest
// sequence of ordinary requests that shows it, against zooid and Apache ZooKeeper 3.8
// (the oracle: both must answer the same and keep serving).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startZooid, startZooKeeper, connectWhenServing, type ServerHandle } from '../support/servers.ts';
import { LeanClient, ZkError, readStat } from '../../client/lean.ts';
import { CreateFlag, Err, Op, Perm, writeAcls, readAcls, OPEN_ACL_UNSAFE, type Acl } from '../../engine/protocol.ts';
import type { JuteWriter } from '../../native-free-io/jute.ts';

let zooid: ServerHandle;
let zookeeper: ServerHandle;

// extended types (TTL nodes) on, as in the fuzz runs
const EXTENDED_TYPES = 'zookeeper.extendedTypesEnabled';

beforeAll(async () => {
  [zooid, zookeeper] = await Promise.all([
    startZooid({ config: { [EXTENDED_TYPES]: 'true' } }),
    startZooKeeper({ systemProperties: { [EXTENDED_TYPES]: 'true' } }),
  ]);
});

afterAll(async () => {
  await Promise.all([zooid?.stop(), zookeeper?.stop()]);
});

function setAcl(c: LeanClient, path: string, acls: readonly Acl[]): Promise<unknown> {
  return c.call(Op.setACL, (w) => { w.string(path); writeAcls(w, acls); w.int(-1); }, readStat, 'setACL');
}

/** A CreateTTLRequest {path, data, acl, flags, ttl}. */
function writeCreateTtl(w: JuteWriter, path: string, flags: number, ttl: bigint): void {
  w.string(path).buffer(Buffer.from('x'));
  writeAcls(w, OPEN_ACL_UNSAFE);
  w.int(flags).long(ttl);
}

/** The error code of a request: 0 when it succeeded. */
function codeOf(p: Promise<unknown>): Promise<number> {
  return p.then(() => Err.OK, (e: unknown) => (e instanceof ZkError ? e.code : Promise.reject(e)));
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

  // fuzz scan of unmutated records (fuzz-flakes): a createTTL with flags 0 (persistent) and
  // ttl -1 stopped both servers. ZooKeeper 3.8's validateTTL lets a negative ttl through when
  // the mode is not a TTL mode, and its DataTree then cannot apply the CreateTTLTxn
  // (TTL.toEphemeralOwner throws in the SyncThread, which ends the server with the txn
  // logged); zooid's tree threw on the owner the txn gave (ttl -1: an invalid extended owner)
  // and its pipeline worker died. A createTTL needs a TTL mode: zooid answers BADARGUMENTS,
  // as ZooKeeper does for the same modes with a ttl of 0 or more. ZooKeeper is sent only
  // those (the others stop it).
  it('createTTL with a mode that is not a TTL mode is refused whatever its ttl, alone or in a multi, and the server keeps serving', async () => {
    const modes = [CreateFlag.persistent, CreateFlag.ephemeral, CreateFlag.persistentSequential, CreateFlag.ephemeralSequential, CreateFlag.container];
    const createTtl = (c: LeanClient, flags: number, ttl: bigint) => codeOf(c.call(Op.createTTL, (w) => writeCreateTtl(w, '/ttl-mode', flags, ttl), (r) => r.ustring(), 'createTTL'));
    for (const server of [zookeeper, zooid]) {
      const c = await connectWhenServing(server);
      for (const flags of modes) {
        for (const ttl of [0n, 1000n]) expect(await createTtl(c, flags, ttl), `${server.kind} flags ${flags} ttl ${ttl}`).toBe(Err.BADARGUMENTS);
      }
      await c.close();
    }
    const c = await connectWhenServing(zooid);
    for (const flags of modes) {
      for (const ttl of [-1n, -2n, -0x8000000000000000n]) expect(await createTtl(c, flags, ttl), `zooid flags ${flags} ttl ${ttl}`).toBe(Err.BADARGUMENTS);
    }
    // the same op in a multi: the multi fails on it (its one result an ErrorResult BADARGUMENTS)
    const multiResult = await c.call(Op.multi, (w) => {
      w.int(Op.createTTL).bool(false).int(-1);
      writeCreateTtl(w, '/ttl-mode', CreateFlag.persistent, -1n);
      w.int(-1).bool(true).int(-1);
    }, (r) => ({ type: r.int(), done: r.bool(), err: r.int(), code: r.int() }), 'multi');
    expect(multiResult).toEqual({ type: -1, done: false, err: Err.BADARGUMENTS, code: Err.BADARGUMENTS });
    await c.close();
    const fresh = await LeanClient.connect({ host: '127.0.0.1', port: zooid.port });
    expect(await fresh.exists('/ttl-mode')).toBeNull();
    await fresh.create('/ttl-after', Buffer.from('served'));
    expect((await fresh.getData('/ttl-after')).data.toString()).toBe('served');
    await fresh.close();
  });
});

