// The rest of ZooKeeper's API, against Apache ZooKeeper 3.8 and zooid with the same raw
// requests (the lean client on zooid's own codec, since node-zookeeper-client lacks these
// ops): persistent and recursive watches, checkWatches/removeWatches, containers and TTL
// nodes with their cleanup, quotas with enforcement, getEphemerals,
// getAllChildrenNumber and whoAmI. Transcripts are compared after masking.
import { describe, it, beforeAll, afterAll, expect } from 'vitest';
import { startZooKeeper, startZooid, compatTarget, type ServerHandle } from '../support/servers.ts';
import { Transcript, compareOnBoth, type TranscriptEntry } from '../support/transcript.ts';
import { waitFor } from '../support/wait.ts';
import { LeanClient, ZkError, readStat, type WatchEvent } from '../../client/lean.ts';
import { Op, OPEN_ACL_UNSAFE, readAcls, writeAcls } from '../../engine/protocol.ts';
import { errorName } from '../../client/errors.ts';
import type { JuteReader } from '../../native-free-io/jute.ts';

const CONTAINER_CHECK_MS = '300';
const SETTINGS: Record<string, string> = {
  'znode.container.checkIntervalMs': CONTAINER_CHECK_MS,
  'zookeeper.extendedTypesEnabled': 'true',
  'zookeeper.enforceQuota': 'true',
};

const EVENT_NAMES: Record<number, string> = { 1: 'NodeCreated', 2: 'NodeDeleted', 3: 'NodeDataChanged', 4: 'NodeChildrenChanged' };

let oracle: ServerHandle;
let target: ServerHandle;

beforeAll(async () => {
  [oracle, target] = await Promise.all([
    startZooKeeper({ systemProperties: SETTINGS }),
    compatTarget() === 'zookeeper' ? startZooKeeper({ systemProperties: SETTINGS }) : startZooid({ config: SETTINGS }),
  ]);
});

afterAll(async () => {
  await Promise.all([oracle?.stop(), target?.stop()]);
});

/** A session that records replies and the watch events that arrived before each. */
class Recorder {
  readonly c: LeanClient;
  readonly t: Transcript;
  readonly name: string;
  private events: Record<string, unknown>[] = [];

  constructor(name: string, c: LeanClient, t: Transcript) {
    this.name = name;
    this.c = c;
    this.t = t;
    c.onWatch = (e: WatchEvent) => this.events.push({ event: EVENT_NAMES[e.type] ?? e.type, path: e.path });
  }

  static async open(name: string, port: number, t: Transcript): Promise<Recorder> {
    // Apache ZooKeeper may refuse sessions for a moment after it answers ruok
    let c: LeanClient | null = null;
    await waitFor(async () => {
      c = await LeanClient.connect({ host: '127.0.0.1', port, sessionTimeoutMs: 30_000 }).catch(() => null);
      return c !== null;
    }, { timeoutMs: 20_000, what: `${name} to connect` });
    const r = new Recorder(name, c!, t);
    t.add(`connect ${name}`, { sessionId: r.c.sessionId });
    return r;
  }

  async op<T>(step: string, type: number, body: (w: import('../../native-free-io/jute.ts').JuteWriter) => void, parse: (r: JuteReader) => T, xid?: number): Promise<T | null> {
    let result: T | null = null;
    let code = 0;
    try {
      result = await this.c.call(type, body, parse, step, xid);
    } catch (e) {
      if (!(e instanceof ZkError)) throw e;
      code = e.code;
    }
    const fields: Record<string, unknown> = { err: errorName(code) ?? code };
    if (result !== null && result !== undefined) fields.result = result;
    if (this.events.length > 0) fields.events = this.events;
    this.events = [];
    this.t.add(`${this.name} ${step}`, fields);
    return result;
  }

  create(path: string, data: string, flags = 0, type: number = Op.create, ttlMs = -1) {
    return this.op(`create ${path} flags=${flags} op=${type}`, type, (w) => {
      w.string(path).buffer(Buffer.from(data));
      writeAcls(w, OPEN_ACL_UNSAFE);
      w.int(flags);
      if (type === Op.createTTL) w.longNumber(ttlMs);
    }, (r) => (type === Op.create ? { path: r.ustring() } : { path: r.ustring(), stat: readStat(r) }));
  }

  delete(path: string) {
    return this.op(`delete ${path}`, Op.delete, (w) => w.string(path).int(-1), () => ({}));
  }

  setData(path: string, data: string) {
    return this.op(`setData ${path}`, Op.setData, (w) => w.string(path).buffer(Buffer.from(data)).int(-1), (r) => ({ stat: readStat(r) }));
  }

  getData(path: string, watch = false) {
    return this.op(`getData ${path} ${watch}`, Op.getData, (w) => w.string(path).bool(watch), (r) => ({ data: (r.buffer() ?? Buffer.alloc(0)).toString(), stat: readStat(r) }));
  }

  exists(path: string) {
    return this.op(`exists ${path}`, Op.exists, (w) => w.string(path).bool(false), (r) => ({ stat: readStat(r) }));
  }

  sync() {
    return this.op('sync /', Op.sync, (w) => w.string('/'), (r) => ({ path: r.ustring() }));
  }

  addWatch(path: string, mode: number) {
    return this.op(`addWatch ${path} ${mode}`, Op.addWatch, (w) => w.string(path).int(mode), (r) => ({ err: r.int() }));
  }

  checkWatches(path: string, type: number) {
    return this.op(`checkWatches ${path} ${type}`, Op.checkWatches, (w) => w.string(path).int(type), () => ({}));
  }

  removeWatches(path: string, type: number) {
    return this.op(`removeWatches ${path} ${type}`, Op.removeWatches, (w) => w.string(path).int(type), () => ({}));
  }

  strings(step: string, type: number, path: string) {
    return this.op(step, type, (w) => w.string(path), (r) => {
      const n = r.int();
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push(r.ustring());
      return out.sort();
    });
  }

  async close(): Promise<void> {
    await this.c.close();
  }
}

function compare(name: string, scenario: (port: number, t: Transcript) => Promise<void>): Promise<TranscriptEntry[]> {
  return compareOnBoth('api', name, { oracle, target }, scenario);
}

describe('compat, ZooKeeper API beyond the basics: Apache ZooKeeper vs zooid', () => {
  it('persistent watches stay and see data and child changes of their node', async () => {
    const entries = await compare('persistent watch', async (port, t) => {
      const s1 = await Recorder.open('s1', port, t);
      const s2 = await Recorder.open('s2', port, t);
      await s1.addWatch('/pw', 0);
      await s2.create('/pw', 'a');
      await s2.setData('/pw', 'b');
      await s2.create('/pw/c', 'c');
      await s2.create('/pw/c/deeper', 'd');
      await s2.delete('/pw/c/deeper');
      await s2.delete('/pw/c');
      await s2.setData('/pw', 'c');
      await s2.delete('/pw');
      await s1.sync();
      await s1.getData('/pw');
      await s1.close();
      await s2.close();
    });
    expect(JSON.stringify(entries, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).toContain('NodeChildrenChanged');
  });

  it('persistent recursive watches see the whole subtree but not child-list changes', async () => {
    await compare('recursive watch', async (port, t) => {
      const s1 = await Recorder.open('s1', port, t);
      const s2 = await Recorder.open('s2', port, t);
      await s1.addWatch('/rw', 1);
      await s2.create('/rw', 'a');
      await s2.create('/rw/a', 'a');
      await s2.create('/rw/a/b', 'b');
      await s2.setData('/rw/a/b', 'b2');
      await s2.delete('/rw/a/b');
      await s2.create('/rwx', 'not under /rw');
      await s1.sync();
      // a one-shot watch on the same path replaces the recursive one, as ZooKeeper
      await s1.getData('/rw', true);
      await s2.setData('/rw', 'again');
      await s2.setData('/rw/a', 'child');
      await s1.sync();
      await s1.addWatch('/rw', 3);
      await s1.close();
      await s2.close();
    });
  });

  it('setWatches2 after a reconnect restores persistent and recursive watches and fires missed one-shot ones', async () => {
    await compare('setWatches2', async (port, t) => {
      const s1 = await Recorder.open('s1', port, t);
      const s2 = await Recorder.open('s2', port, t);
      await s2.create('/sw', 'a');
      await s2.create('/sw/c', 'c');
      await s1.sync();
      const seenZxid = s1.c.lastZxid;
      const { sessionId, passwd } = s1.c;
      // s1's connection drops (its session lives on); changes happen while it is away
      s1.c.disconnect();
      await s2.setData('/sw', 'b');
      await s2.create('/sw/c/d', 'd');
      const again = await LeanClient.connect({ host: '127.0.0.1', port, sessionId, passwd, lastZxidSeen: seenZxid, sessionTimeoutMs: 30_000 });
      const s1b = new Recorder('s1b', again, t);
      // SetWatches2: relativeZxid, data, exist, child, persistent, persistentRecursive
      await s1b.op('setWatches2', Op.setWatches2, (w) => {
        w.longNumber(seenZxid);
        w.int(1).string('/sw');
        w.int(1).string('/sw/none');
        w.int(1).string('/sw/c');
        w.int(1).string('/sw');
        w.int(1).string('/sw/c');
      }, () => ({}), -8);
      await s1b.sync();
      await s2.setData('/sw', 'c');
      await s2.create('/sw/e', 'e');
      await s2.setData('/sw/c/d', 'd2');
      await s2.create('/sw/none', 'now');
      await s1b.sync();
      await s1b.close();
      await s2.close();
    });
  });

  it('checkWatches and removeWatches answer NOWATCHER for what is not there', async () => {
    await compare('check/remove watches', async (port, t) => {
      const s1 = await Recorder.open('s1', port, t);
      const s2 = await Recorder.open('s2', port, t);
      await s2.create('/cw', 'x');
      await s1.getData('/cw', true);
      await s1.checkWatches('/cw', 2);
      await s1.checkWatches('/cw', 1);
      await s1.checkWatches('/cw', 3);
      await s1.removeWatches('/cw', 1);
      await s1.removeWatches('/cw', 2);
      await s1.removeWatches('/cw', 2);
      await s2.setData('/cw', 'y');
      await s1.sync();
      await s1.addWatch('/cw', 0);
      await s1.removeWatches('/cw', 3);
      await s1.checkWatches('/cw', 3);
      await s1.checkWatches('/nowhere', 2);
      await s1.close();
      await s2.close();
    });
  });

  it('containers go once emptied; TTL nodes go once unchanged for their TTL; owners show 0', async () => {
    await compare('containers and TTL nodes', async (port, t) => {
      const s1 = await Recorder.open('s1', port, t);
      await s1.create('/ct', 'c', 4, Op.createContainer);
      await s1.create('/ct/child', 'x');
      await s1.create('/ct-unused', 'c', 4, Op.createContainer);
      await s1.create('/ttl', 't', 5, Op.createTTL, 200);
      await s1.create('/ttl-seq-', 't', 6, Op.createTTL, 200);
      await s1.create('/ttl-bad', 't', 5, Op.createTTL, 0);
      await s1.create('/ttl-nomode', 't', 0, Op.createTTL, 100);
      await s1.create('/ttl-flag', 't', 5, Op.create);
      await s1.exists('/ttl');
      await s1.delete('/ct/child');
      await waitFor(async () => (await s1.c.exists('/ct')) === null && (await s1.c.exists('/ttl')) === null, { timeoutMs: 15_000, what: 'the emptied container and the TTL node to go' });
      await s1.exists('/ct');
      await s1.exists('/ct-unused');
      await s1.exists('/ttl');
      await s1.close();
    });
  });

  it('quotas: stats kept by the server, hard limits enforced with QUOTAEXCEEDED', async () => {
    await compare('quotas', async (port, t) => {
      const s1 = await Recorder.open('s1', port, t);
      await s1.create('/qt', '12345');
      await s1.create('/qt/a', 'aa');
      await s1.create('/zookeeper/quota/qt', '');
      await s1.create('/zookeeper/quota/qt/zookeeper_limits', 'count=-1,bytes=-1,countHardLimit=4,byteHardLimit=20');
      await s1.create('/zookeeper/quota/qt/zookeeper_stats', 'count=0,bytes=0');
      await s1.getData('/zookeeper/quota/qt/zookeeper_stats');
      await s1.create('/qt/b', 'b');
      await s1.create('/qt/c', 'c');
      await s1.getData('/zookeeper/quota/qt/zookeeper_stats');
      await s1.setData('/qt/c', 'a value that is far too long');
      await s1.delete('/qt/b');
      await s1.create('/qt/d', 'd');
      await s1.getData('/zookeeper/quota/qt/zookeeper_stats');
      await s1.close();
    });
  });

  it('quota limits in the form zkCli 3.8 writes them (count=..,bytes=..=;key=..) are enforced', async () => {
    await compare('quotas 3.8 form', async (port, t) => {
      const s1 = await Recorder.open('s1', port, t);
      await s1.create('/qn', 'x');
      await s1.create('/zookeeper/quota/qn', '');
      await s1.create('/zookeeper/quota/qn/zookeeper_limits', 'count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3');
      await s1.create('/zookeeper/quota/qn/zookeeper_stats', 'count=0,bytes=0');
      await s1.create('/qn/a', 'a');
      await s1.create('/qn/b', 'b');
      await s1.create('/qn/c', 'c');
      await s1.getData('/zookeeper/quota/qn/zookeeper_stats');
      await s1.close();
    });
  });

  it('getEphemerals, getAllChildrenNumber and whoAmI', async () => {
    await compare('session queries', async (port, t) => {
      const s1 = await Recorder.open('s1', port, t);
      await s1.create('/ge', 'x');
      await s1.create('/ge/e1', 'x', 1);
      await s1.create('/ge/e2', 'x', 1);
      await s1.create('/ge/p', 'x');
      await s1.create('/ge/p/q', 'x');
      await s1.strings('getEphemerals /ge', Op.getEphemerals, '/ge');
      await s1.strings('getEphemerals /', Op.getEphemerals, '/');
      await s1.strings('getEphemerals /nope', Op.getEphemerals, '/nope');
      await s1.op('getAllChildrenNumber /ge', Op.getAllChildrenNumber, (w) => w.string('/ge'), (r) => r.int());
      await s1.op('getAllChildrenNumber /nope', Op.getAllChildrenNumber, (w) => w.string('/nope'), (r) => r.int());
      const whoAmI = () => s1.op('whoAmI', Op.whoAmI, () => {}, (r) => {
        const n = r.int();
        const out: string[] = [];
        for (let i = 0; i < n; i++) out.push(`${r.ustring()}:${r.ustring()}`);
        return out;
      });
      const addAuth = (user: string) => s1.op(`addauth digest ${user}`, Op.auth, (w) => w.int(0).string('digest').buffer(Buffer.from(`${user}:pw`)), () => ({}), -4);
      await addAuth('carol');
      await whoAmI();
      // the ids are a set over a ConcurrentHashMap, which doubles its 16 bins at the 12th id and its 32 at the 24th
      for (let i = 0; i < 10; i++) await addAuth(`user${i}`);
      await whoAmI();
      // an "auth" ACL expands in that order (PrepRequestProcessor.fixupACL over getAuthInfo)
      await s1.op('create /ge-auth auth:31', Op.create, (w) => {
        w.string('/ge-auth').buffer(Buffer.from('x'));
        writeAcls(w, [{ perms: 31, id: { scheme: 'auth', id: '' } }]);
        w.int(0);
      }, (r) => r.ustring());
      await s1.op('getACL /ge-auth', Op.getACL, (w) => w.string('/ge-auth'), (r) => readAcls(r).map((a) => `${a.id.scheme}:${a.id.id}:${a.perms}`));
      for (let i = 10; i < 22; i++) await addAuth(`user${i}`);
      await whoAmI();
      await s1.close();
    });
  });
});
