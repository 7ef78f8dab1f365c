// Requests a hostile client can build out of valid records (issue 8, items 1, 5, 6 and the
// data-size part of 7), through real sockets against a real zooid:
// - "auth" ACLs copy every id the connection holds into the txn: the ids a connection may
//   hold are bounded, and a write whose txn would pass what a log entry may hold
//   (jute.maxbuffer + extrasize) is refused with MARSHALLINGERROR before anything is
//   applied or logged. The server, the other sessions and the next restart (zooid's and
//   Apache ZooKeeper's on the same dataDir) are unaffected;
// - data whose getData reply could never be sent is refused up front;
// - a session whose ephemeral paths do not fit a closeSession txn still closes (logged
//   without its path list, as ZooKeeper's closeSessionTxn.enabled=false form);
// - watch events reach only watchers that may READ the node (every kind of watch; in a
//   multi, the node as the op that fired the event left it).
import { describe, it, expect, afterEach } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startZooid, startZooKeeper, type ServerHandle } from '../support/servers.ts';
import { waitFor } from '../support/wait.ts';
import { LeanClient, ZkError, type WatchEvent } from '../../client/lean.ts';
import type { JuteWriter } from '../../native-free-io/jute.ts';
import { Op, Err, Xid, writeAcls, type Acl } from '../../engine/protocol.ts';
import { GET_DATA_REPLY_OVERHEAD_BYTES } from '../../engine/limits.ts';
import { generateDigest } from '../../engine/core/acl.ts';

const servers: ServerHandle[] = [];
const clients: LeanClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function zooid(config: Record<string, string> = {}, dataDir?: string): Promise<ServerHandle> {
  const s = await startZooid({ config, dataDir, keepDir: dataDir !== undefined });
  servers.push(s);
  return s;
}

async function client(port: number): Promise<LeanClient> {
  const c = await LeanClient.connect({ host: '127.0.0.1', port, sessionTimeoutMs: 30_000 });
  clients.push(c);
  return c;
}

async function errOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return Err.OK;
  } catch (e) {
    if (e instanceof ZkError) return e.code;
    throw e;
  }
}

function addAuth(c: LeanClient, scheme: string, auth: string): Promise<number> {
  return errOf(c.call(Op.auth, (w) => w.int(0).string(scheme).buffer(Buffer.from(auth)), () => null, 'auth', Xid.auth));
}

function createWith(c: LeanClient, p: string, acls: readonly Acl[], data = Buffer.from('x')): Promise<number> {
  return errOf(c.call(Op.create, (w) => {
    w.string(p).buffer(data);
    writeAcls(w, acls);
    w.int(0);
  }, () => null, 'create'));
}

/** "auth" entries with perms 1..count: each copies every id the connection holds. */
function authAcl(count: number): Acl[] {
  return Array.from({ length: count }, (_, i) => ({ perms: i + 1, id: { scheme: 'auth', id: '' } }));
}

function multiCreates(c: LeanClient, paths: string[], acls: readonly Acl[]): Promise<number> {
  return errOf(c.call(Op.multi, (w) => {
    for (const p of paths) {
      w.int(Op.create).bool(false).int(-1);
      w.string(p).buffer(Buffer.from('x'));
      writeAcls(w, acls);
      w.int(0);
    }
    w.int(-1).bool(true).int(-1);
  }, () => null, 'multi'));
}

describe('hostile requests', () => {
  it('refuses a txn larger than a log entry may hold, logs nothing, and every other session and the next restart are fine', async () => {
    const server = await zooid();
    const attacker = await client(server.port);
    const witness = await client(server.port);
    await witness.create('/witness', Buffer.from('w'));

    // the repro: 1 MB user names. The first such addauth passes the per-connection bound: AUTHFAILED, closed
    const greedy = await client(server.port);
    expect(await addAuth(greedy, 'digest', `0${'u'.repeat(1_000_000)}:pw`)).toBe(Err.AUTHFAILED);
    await waitFor(() => greedy.isClosed, { timeoutMs: 10_000, what: 'the greedy connection to close' });

    // two 60 KB ids fit the bound; "auth" ACLs with many perms copy them into megabytes
    expect(await addAuth(attacker, 'digest', `a${'u'.repeat(60_000)}:pw`)).toBe(Err.OK);
    expect(await addAuth(attacker, 'digest', `b${'u'.repeat(60_000)}:pw`)).toBe(Err.OK);
    const zxidBefore = (await witness.setData('/witness', Buffer.from('before'))).mzxid;

    // while another session has 17 writes in flight
    const inFlight = Array.from({ length: 17 }, (_, i) => witness.create(`/witness/w${i}`, Buffer.from('x')));
    const single = createWith(attacker, '/big', authAcl(31)); // 31 × 2 × 60 KB: 3.7 MB
    const multi = multiCreates(attacker, ['/m0', '/m1', '/m2'], authAcl(10)); // 1.2 MB each, 3.6 MB in all
    expect(await single).toBe(Err.MARSHALLINGERROR);
    expect(await multi).toBe(Err.MARSHALLINGERROR);
    expect((await Promise.all(inFlight)).length).toBe(17);

    // nothing applied, no zxid spent on them: the 17 creates only
    for (const p of ['/big', '/m0', '/m1', '/m2']) expect(await witness.exists(p)).toBeNull();
    expect((await witness.setData('/witness', Buffer.from('after'))).mzxid).toBe(zxidBefore + 17 + 1);

    // under the bound it works: 8 × 2 × 60 KB ≈ 960 KB, and the attacker's connection was never closed
    expect(await createWith(attacker, '/ok', authAcl(8))).toBe(Err.OK);
    const acl = await attacker.call(Op.getACL, (w) => w.string('/ok'), (r) => r.int(), 'getACL');
    expect(acl).toBe(16);

    // the next restart reads it all back, and so does Apache ZooKeeper from the same files
    await server.kill9();
    servers.splice(servers.indexOf(server), 1);
    const copy = fs.mkdtempSync(path.join(path.dirname(server.dataDir), 'copy-'));
    fs.cpSync(server.dataDir, copy, { recursive: true });
    const again = await zooid({}, server.dataDir);
    const after = await client(again.port);
    expect((await after.getData('/witness')).data.toString()).toBe('after');
    expect(await after.getChildren('/')).toContain('ok'); // (its ACL lets no anonymous client READ it)
    const zk = await startZooKeeper({ dataDir: copy });
    servers.push(zk);
    const onZk = await client(zk.port);
    expect(await onZk.getChildren('/')).toContain('ok');
    expect((await onZk.getChildren('/witness')).length).toBe(17);
  });

  it('refuses data whose getData reply would pass jute.maxbuffer, in create, setData and multi', async () => {
    const maxBuffer = 65_536;
    const server = await zooid({ 'jute.maxbuffer': String(maxBuffer) });
    const c = await client(server.port);
    const largest = maxBuffer - GET_DATA_REPLY_OVERHEAD_BYTES;
    expect(await errOf(c.create('/d', Buffer.alloc(largest + 1)))).toBe(Err.MARSHALLINGERROR);
    expect(await errOf(c.create('/d', Buffer.alloc(largest, 1)))).toBe(Err.OK);
    expect((await c.getData('/d')).data.length).toBe(largest);
    expect(await errOf(c.setData('/d', Buffer.alloc(largest + 1)))).toBe(Err.MARSHALLINGERROR);
    expect(await errOf(c.call(Op.multi, (w) => {
      w.int(Op.setData).bool(false).int(-1).string('/d').buffer(Buffer.alloc(largest + 1)).int(-1);
      w.int(-1).bool(true).int(-1);
    }, () => null, 'multi'))).toBe(Err.OK); // a failed multi answers OK with per-op errors
    expect((await c.getData('/d')).data.length).toBe(largest);
  });

  it('closes a session whose ephemeral paths do not fit a closeSession txn, and replay agrees', async () => {
    const maxBuffer = 65_536; // txns up to 128 KiB; 200 ephemerals of 1,000-byte names take 200 KB
    const server = await zooid({ 'jute.maxbuffer': String(maxBuffer) });
    const holder = await client(server.port);
    const witness = await client(server.port);
    await witness.create('/eph', Buffer.alloc(0));
    const watched = `/eph/${'e'.repeat(1000)}0`;
    for (let i = 0; i < 200; i++) await holder.create(`/eph/${'e'.repeat(1000)}${i}`, Buffer.alloc(0), 1);
    expect(await witness.exists(watched, true)).not.toBeNull();
    const events: WatchEvent[] = [];
    witness.onWatch = (e) => events.push(e);
    await holder.close();
    expect((await witness.getChildren('/eph')).length).toBe(0);
    expect(events).toEqual([{ type: 2, state: 3, path: watched }]);
    await witness.create('/eph/after', Buffer.alloc(0));
    await server.kill9();
    servers.splice(servers.indexOf(server), 1);
    const copy = fs.mkdtempSync(path.join(path.dirname(server.dataDir), 'copy-'));
    fs.cpSync(server.dataDir, copy, { recursive: true });
    const again = await zooid({ 'jute.maxbuffer': String(maxBuffer) }, server.dataDir);
    expect(await (await client(again.port)).getChildren('/eph')).toEqual(['after']);
    const zk = await startZooKeeper({ dataDir: copy, systemProperties: { 'jute.maxbuffer': String(maxBuffer) } });
    servers.push(zk);
    expect(await (await client(zk.port)).getChildren('/eph')).toEqual(['after']);
  });

  /** A zooid with three sessions: alice and control logged in as digest alice, anon not; digestOnly lets alice alone in. */
  async function aliceAnonControl(): Promise<{ alice: LeanClient; anon: LeanClient; control: LeanClient; digestOnly: Acl[] }> {
    const server = await zooid();
    const alice = await client(server.port);
    const anon = await client(server.port);
    const control = await client(server.port);
    expect(await addAuth(alice, 'digest', 'alice:secret')).toBe(Err.OK);
    expect(await addAuth(control, 'digest', 'alice:secret')).toBe(Err.OK);
    return { alice, anon, control, digestOnly: [{ perms: 31, id: { scheme: 'digest', id: generateDigest('alice:secret') } }] };
  }

  it('delivers no watch event to a watcher that cannot READ the node, whatever the kind of watch', async () => {
    const { alice, anon, control, digestOnly } = await aliceAnonControl();
    expect(await createWith(alice, '/sw', digestOnly)).toBe(Err.OK);
    expect(await errOf(anon.getChildren('/sw'))).toBe(Err.NOAUTH);

    const seen = new Map<LeanClient, WatchEvent[]>([[anon, []], [control, []]]);
    for (const [c, list] of seen) {
      c.onWatch = (e) => list.push(e);
      // standard data and child watches on /sw through setWatches (relative to the current zxid: registered, not fired)
      await c.call(Op.setWatches, (w) => {
        w.longNumber(c.lastZxid);
        w.int(1).string('/sw');
        w.int(1).string('/sw/k');
        w.int(1).string('/sw');
      }, () => null, 'setWatches', Xid.setWatches);
      expect(await c.exists('/sw/j', true)).toBeNull(); // an exists watch on a node to come
      await c.call(Op.addWatch, (w) => w.string('/sw').int(0), () => null, 'addWatch persistent');
      await c.call(Op.addWatch, (w) => w.string('/').int(1), () => null, 'addWatch recursive');
    }
    expect(await createWith(alice, '/sw/k', digestOnly)).toBe(Err.OK);
    expect(await createWith(alice, '/sw/j', digestOnly)).toBe(Err.OK);
    await alice.setData('/sw', Buffer.from('changed'));
    await alice.setData('/sw/k', Buffer.from('changed'));
    await alice.delete('/sw/k');
    await alice.create('/open', Buffer.from('world-readable'));
    // events go out before the replies that follow them on the same connection
    await anon.ping();
    await control.ping();
    const anonSeen = seen.get(anon)!.map((e) => `${e.type} ${e.path}`);
    const controlSeen = seen.get(control)!.map((e) => `${e.type} ${e.path}`);
    expect(anonSeen).toEqual(['1 /open']); // only the node it may read
    expect(controlSeen).toContain('4 /sw');
    expect(controlSeen).toContain('1 /sw/k');
    expect(controlSeen).toContain('1 /sw/j');
    expect(controlSeen).toContain('3 /sw');
    expect(controlSeen).toContain('2 /sw/k');
    expect(controlSeen).toContain('1 /open');
  });

  it('checks a multi\'s events against the ACLs as its ops left them, also for a node or parent the multi deletes', async () => {
    const { alice, anon, control, digestOnly } = await aliceAnonControl();
    const seen = new Map<LeanClient, WatchEvent[]>([[anon, []], [control, []]]);
    for (const [c, list] of seen) {
      c.onWatch = (e) => list.push(e);
      await c.call(Op.addWatch, (w) => w.string('/mx').int(0), () => null, 'addWatch persistent');
    }
    // create /mx (alice only), change it, give it a child and take it away, delete /mx
    const create = (w: JuteWriter, p: string, acls: readonly Acl[]) => {
      w.int(Op.create).bool(false).int(-1).string(p).buffer(Buffer.from('x'));
      writeAcls(w, acls);
      w.int(0);
    };
    const open: Acl[] = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];
    expect(await errOf(alice.call(Op.multi, (w) => {
      create(w, '/mx', digestOnly);
      w.int(Op.setData).bool(false).int(-1).string('/mx').buffer(Buffer.from('changed')).int(-1);
      create(w, '/mx/c', open);
      w.int(Op.delete).bool(false).int(-1).string('/mx/c').int(-1);
      w.int(Op.delete).bool(false).int(-1).string('/mx').int(-1);
      w.int(-1).bool(true).int(-1);
    }, () => null, 'multi'))).toBe(Err.OK);
    await anon.ping();
    await control.ping();
    // anon may READ no version of /mx: none of its events; control sees them all, in op order
    expect(seen.get(anon)!.map((e) => `${e.type} ${e.path}`)).toEqual([]);
    expect(seen.get(control)!.map((e) => `${e.type} ${e.path}`)).toEqual(['1 /mx', '3 /mx', '4 /mx', '4 /mx', '2 /mx']);
  });
});


