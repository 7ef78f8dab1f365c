// What a hostile or broken client gets, against Apache ZooKeeper 3.8 and zooid with the
// same raw requests (issue 8, item 7): malformed request records are answered
// MARSHALLINGERROR on a connection that stays open (writes spend a zxid on an error txn,
// as PrepRequestProcessor does); ACL ids are validated as ZooKeeper's providers do (IPv4
// only, Java's int parsing, Java's split for digest ids); addauth with null data fails and
// closes, addauth ip succeeds. Transcripts are compared after masking.
import { describe, it, beforeAll, afterAll, expect } from 'vitest';
import { startZooKeeper, startZooid, compatTarget, type ServerHandle } from '../support/servers.ts';
import { Transcript, compareOnBoth, type TranscriptEntry } from '../support/transcript.ts';
import { waitFor } from '../support/wait.ts';
import { LeanClient, ZkError } from '../../client/lean.ts';
import { Op, Xid, writeAcls } from '../../engine/protocol.ts';
import { errorName } from '../../client/errors.ts';
import type { JuteWriter } from '../../native-free-io/jute.ts';

let oracle: ServerHandle;
let target: ServerHandle;

beforeAll(async () => {
  [oracle, target] = await Promise.all([
    startZooKeeper(),
    compatTarget() === 'zookeeper' ? startZooKeeper() : startZooid(),
  ]);
});

afterAll(async () => {
  await Promise.all([oracle?.stop(), target?.stop()]);
});

async function open(port: number): Promise<LeanClient> {
  // Apache ZooKeeper may refuse sessions for a moment after it answers ruok
  let c: LeanClient | null = null;
  await waitFor(async () => {
    c = await LeanClient.connect({ host: '127.0.0.1', port, sessionTimeoutMs: 30_000 }).catch(() => null);
    return c !== null;
  }, { timeoutMs: 20_000, what: 'a session to connect' });
  return c!;
}

/** Sends one request with a raw record and records its error code, the reply's zxid and whether the connection is open. */
async function step(t: Transcript, c: LeanClient, name: string, type: number, body: (w: JuteWriter) => void, xid?: number): Promise<void> {
  let code = 0;
  try {
    await c.call(type, body, () => null, name, xid);
  } catch (e) {
    if (!(e instanceof ZkError)) throw e;
    code = e.code;
  }
  t.add(name, { err: errorName(code) ?? code, zxid: c.lastZxid, open: !c.isClosed });
}

function compare(name: string, scenario: (port: number, t: Transcript) => Promise<void>): Promise<TranscriptEntry[]> {
  return compareOnBoth('hostile', name, { oracle, target }, scenario);
}

const raw = (hex: string) => (w: JuteWriter) => {
  for (const b of Buffer.from(hex, 'hex')) w.byte(b > 127 ? b - 256 : b);
};

describe('compat, hostile input: Apache ZooKeeper vs zooid', () => {
  it('a malformed record is answered MARSHALLINGERROR and the connection stays open', async () => {
    const entries = await compare('malformed records', async (port, t) => {
      const c = await open(port);
      await c.create('/mf', Buffer.from('x'));
      t.add('setup', { zxid: c.lastZxid });
      // each record is cut short: a path length with no path, or a path with no fields after it
      await step(t, c, 'create: no path bytes', Op.create, raw('00000002'));
      await step(t, c, 'create2: path only', Op.create2, raw('000000032f6d66'));
      await step(t, c, 'setData: path only', Op.setData, raw('000000032f6d66'));
      await step(t, c, 'delete: path only', Op.delete, raw('000000032f6d66'));
      await step(t, c, 'setACL: path only', Op.setACL, raw('000000032f6d66'));
      await step(t, c, 'check: path only', Op.check, raw('000000032f6d66'));
      await step(t, c, 'multi: a header cut short', Op.multi, raw('00000001'));
      await step(t, c, 'getData: no watch flag', Op.getData, raw('000000032f6d66'));
      await step(t, c, 'exists: two bytes', Op.exists, raw('0000'));
      await step(t, c, 'getChildren: a path length past the end', Op.getChildren, raw('00000005'));
      await step(t, c, 'getChildren2: no watch flag', Op.getChildren2, raw('000000032f6d66'));
      await step(t, c, 'getACL: nothing', Op.getACL, raw(''));
      await step(t, c, 'sync: two bytes', Op.sync, raw('0000'));
      await step(t, c, 'setWatches: five bytes', Op.setWatches, raw('0000000000'), Xid.setWatches);
      await step(t, c, 'checkWatches: path only', Op.checkWatches, raw('000000032f6d66'));
      await step(t, c, 'removeWatches: path only', Op.removeWatches, raw('000000032f6d66'));
      await step(t, c, 'getEphemerals: a path length past the end', Op.getEphemerals, raw('00000005'));
      await step(t, c, 'addWatch: path only', Op.addWatch, raw('000000032f6d66'));
      await step(t, c, 'multiRead: a header cut short', Op.multiRead, raw('00000001'));
      // still served, and nothing was applied
      await step(t, c, 'getData /mf', Op.getData, (w) => w.string('/mf').bool(false));
      await step(t, c, 'exists /mf/x', Op.exists, (w) => w.string('/mf/x').bool(false));
      await c.delete('/mf');
      await c.close();
    });
    expect(entries.filter((e) => e.err === 'MARSHALLINGERROR').length).toBe(19);
  });

  it('ACL ids: ip and digest are validated as ZooKeeper 3.8 does', async () => {
    const entries = await compare('acl ids', async (port, t) => {
      const c = await open(port);
      const ids: [string, string][] = [
        ['ip', '127.0.0.1'], ['ip', '127.0.0.1/32'], ['ip', '127.0.0.1/33'], ['ip', '127.0.0.1/0'], ['ip', '127.0.0.1/0x8'],
        ['ip', '127.0.0.1/+8'], ['ip', '127.0.0.1/-1'], ['ip', '127.0.0.1/'], ['ip', '10.0.0.256'], ['ip', '1.2.3'], ['ip', '1.2.3.4.5'],
        ['ip', '01.2.3.4'], ['ip', '::1'], ['ip', '0:0:0:0:0:0:0:1'], ['ip', 'localhost'], ['ip', ''],
        ['digest', 'u:h'], ['digest', 'u:'], ['digest', 'u:h:'], ['digest', ':h'], ['digest', 'u::h'], ['digest', 'u'], ['digest', ':'],
        ['digest', ''], ['world', 'anyone'], ['world', 'someone'], ['nosuch', 'x'],
      ];
      for (let i = 0; i < ids.length; i++) {
        const [scheme, id] = ids[i];
        await step(t, c, `create with ${scheme}:'${id}'`, Op.create, (w) => {
          w.string(`/acl-id-${i}`).buffer(Buffer.from('x'));
          writeAcls(w, [{ perms: 31, id: { scheme, id } }]);
          w.int(0);
        });
      }
      for (let i = 0; i < ids.length; i++) await c.delete(`/acl-id-${i}`).catch(() => {});
      await c.close();
    });
    expect(entries.some((e) => e.err === 'INVALIDACL')).toBe(true);
  });

  it('addauth: ip succeeds, null digest data fails and closes, an unknown scheme fails and closes', async () => {
    await compare('addauth', async (port, t) => {
      const auth = (scheme: string, data: Buffer | null) => (w: JuteWriter) => {
        w.int(0).string(scheme).buffer(data);
      };
      const c = await open(port);
      await step(t, c, 'addauth ip', Op.auth, auth('ip', Buffer.from('anything')), Xid.auth);
      await step(t, c, 'addauth digest with empty data', Op.auth, auth('digest', Buffer.alloc(0)), Xid.auth);
      await step(t, c, 'exists / after', Op.exists, (w) => w.string('/').bool(false));
      await step(t, c, 'addauth digest with null data', Op.auth, auth('digest', null), Xid.auth);
      await waitFor(() => c.isClosed, { timeoutMs: 10_000, what: 'the connection to close after AUTHFAILED' });
      t.add('closed after null digest data', { open: !c.isClosed });
      const d = await open(port);
      await step(t, d, 'addauth nosuch', Op.auth, auth('nosuch', Buffer.from('x')), Xid.auth);
      await waitFor(() => d.isClosed, { timeoutMs: 10_000, what: 'the connection to close after AUTHFAILED' });
      t.add('closed after unknown scheme', { open: !d.isClosed });
    });
  });
});
