// The pipeline as the pure state machine it is: fed frames, a clock and durable-zxid
// signals; its outputs (frames, closes, log appends) collected and decoded. Deterministic:
// time is a variable the test moves.
import { describe, it, expect, beforeEach } from 'vitest';
import { Pipeline, type PipelineOptions } from '../../engine/core/pipeline.ts';
import { JuteReader, JuteWriter } from '../../native-free-io/jute.ts';
import { Op, Err, OPEN_ACL_UNSAFE, writeAcls } from '../../engine/protocol.ts';
import { decodeTxn } from '../../engine/core/txn.ts';

interface Out {
  kind: 'send' | 'close';
  conn: number;
  frame?: Buffer;
}

let now = 0;
let wall = 1_700_000_000_000;
let outs: Out[];
let logged: { zxid: number; bytes: Buffer }[];
let p: Pipeline;

function options(extra: Partial<PipelineOptions> = {}): PipelineOptions {
  return {
    tickMs: 100,
    minSessionTimeoutMs: 200,
    maxSessionTimeoutMs: 2000,
    serverId: 1,
    superDigest: null,
    extendedTypesEnabled: false,
    containerCheckIntervalMs: 60_000,
    containerMaxPerMinute: 10_000,
    containerMaxNeverUsedIntervalMs: 0,
    enforceQuota: false,
    maxReplyBytes: 0xfffff, txnBytesMax: 2 * 0xfffff,
    nowMs: () => now,
    wallMs: () => wall,
    ...extra,
  };
}

beforeEach(() => {
  now = 0;
  outs = [];
  logged = [];
  p = new Pipeline(options(), {
    send: (conn, frame) => outs.push({ kind: 'send', conn, frame: Buffer.from(frame) }),
    close: (conn) => outs.push({ kind: 'close', conn }),
    appendLog: (zxid, bytes) => logged.push({ zxid, bytes: Buffer.from(bytes) }),
  });
  p.recovered();
});

function connectFrame(timeoutMs: number, sessionId = 0n, passwd = Buffer.alloc(16), lastZxidSeen = 0): Buffer {
  const w = new JuteWriter(128);
  w.int(0).longNumber(lastZxidSeen).int(timeoutMs).long(sessionId).buffer(passwd).bool(false);
  return w.copy();
}

function request(xid: number, type: number, body: (w: JuteWriter) => void): Buffer {
  const w = new JuteWriter(256);
  w.int(xid).int(type);
  body(w);
  return w.copy();
}

function create(xid: number, path: string, flags = 0): Buffer {
  return request(xid, Op.create, (w) => {
    w.string(path).buffer(Buffer.from('v'));
    writeAcls(w, OPEN_ACL_UNSAFE);
    w.int(flags);
  });
}

/** Decodes a reply frame's header: [len][xid][zxid][err]. */
function header(frame: Buffer): { xid: number; zxid: number; err: number } {
  const r = new JuteReader(frame, 4);
  return { xid: r.int(), zxid: r.longNumber(), err: r.int() };
}

function connect(conn: number, timeoutMs = 1000): bigint {
  p.connect(conn, '127.0.0.1', 5000 + conn, connectFrame(timeoutMs));
  const zxid = logged[logged.length - 1].zxid;
  p.durable(zxid);
  const frame = outs.filter((o) => o.conn === conn && o.kind === 'send').pop()!.frame!;
  return new JuteReader(frame, 4 + 4 + 4).long();
}

describe('pipeline', () => {
  it('holds every reply until its zxid is durable, in order, and logs createSession first', () => {
    p.connect(1, '127.0.0.1', 5001, connectFrame(1000));
    expect(outs).toEqual([]);
    expect(logged.map((l) => decodeTxn(l.bytes).hdr.type)).toEqual([Op.createSession]);
    p.request(1, create(1, '/a'));
    p.request(1, request(2, Op.exists, (w) => w.string('/a').bool(false)));
    expect(outs).toEqual([]);
    p.durable(1);
    expect(outs.length).toBe(1); // the ConnectResponse only: the create and the read wait for zxid 2
    p.durable(2);
    // the ConnectResponse starts with protocolVersion 0 where replies have their xid
    expect(outs.map((o) => header(o.frame!).xid)).toEqual([0, 1, 2]);
    expect(header(outs[1].frame!)).toEqual({ xid: 1, zxid: 2, err: Err.OK });
    expect(header(outs[2].frame!)).toEqual({ xid: 2, zxid: 2, err: Err.OK });
  });

  it('answers reads at once when nothing is pending', () => {
    connect(1);
    outs = [];
    p.request(1, request(5, Op.exists, (w) => w.string('/zookeeper').bool(false)));
    expect(outs.length).toBe(1);
    expect(header(outs[0].frame!).err).toBe(Err.OK);
  });

  it('answers a read at once when the state it reveals is durable, whatever other sessions have in flight', () => {
    connect(1);
    connect(2);
    p.request(1, create(1, '/x'));
    p.request(1, create(2, '/x/gone'));
    p.request(1, create(3, '/y'));
    p.durable(p.tree.lastZxid);
    p.request(1, request(4, Op.delete, (w) => w.string('/x/gone').int(-1)));
    const durable = p.tree.lastZxid;
    p.durable(durable);
    outs = [];
    // session 1 writes /x and /acl without the log having synced them yet
    p.request(1, request(5, Op.setData, (w) => w.string('/x').buffer(Buffer.from('new')).int(-1)));
    const pending = p.tree.lastZxid;
    expect(pending).toBeGreaterThan(durable);
    expect(outs).toEqual([]);
    const read = (xid: number, type: number, path: string) => p.request(2, request(xid, type, (w) => {
      w.string(path);
      if (type !== Op.getACL) w.bool(false);
    }));
    // session 2: an unrelated node, a path deleted while durable, a missing subtree: at once,
    // with a header zxid that is durable
    read(10, Op.getData, '/y');
    read(11, Op.exists, '/x/gone');
    read(12, Op.getData, '/nowhere/deeper');
    expect(outs.map((o) => header(o.frame!))).toEqual([
      { xid: 10, zxid: durable, err: Err.OK },
      { xid: 11, zxid: durable, err: Err.NONODE },
      { xid: 12, zxid: durable, err: Err.NONODE },
    ]);
    // the node being written, and its parent's child list (pzxid unchanged by setData: /),
    // wait: /x reveals the pending setData; after it, everything of session 2 queues in order
    read(13, Op.getData, '/x');
    read(14, Op.getChildren, '/');
    expect(outs.length).toBe(3);
    p.durable(pending);
    expect(outs.map((o) => header(o.frame!).xid)).toEqual([10, 11, 12, 5, 13, 14]);
    expect(header(outs[4].frame!).zxid).toBe(pending);
  });

  it('holds a read that would reveal an un-durable delete, child create or ACL change', () => {
    connect(1);
    connect(2);
    p.request(1, create(1, '/p'));
    p.request(1, create(2, '/p/c'));
    p.request(1, create(3, '/q'));
    p.durable(p.tree.lastZxid);
    const cases: [string, (xid: number) => Buffer, (xid: number) => Buffer][] = [
      ['delete, then exists of the deleted path', (x) => request(x, Op.delete, (w) => w.string('/p/c').int(-1)), (x) => request(x, Op.exists, (w) => w.string('/p/c').bool(false))],
      ['create, then the parent\'s children', (x) => create(x, '/p/d'), (x) => request(x, Op.getChildren2, (w) => w.string('/p').bool(false))],
      ['setACL, then a read of another node', (x) => request(x, Op.setACL, (w) => {
        w.string('/p');
        writeAcls(w, OPEN_ACL_UNSAFE);
        w.int(-1);
      }), (x) => request(x, Op.getData, (w) => w.string('/q').bool(false))],
    ];
    let xid = 100;
    for (const [what, write, read] of cases) {
      outs = [];
      p.request(1, write(xid++));
      const pending = p.tree.lastZxid;
      p.request(2, read(xid++));
      expect(outs, what).toEqual([]);
      p.durable(pending);
      expect(outs.map((o) => header(o.frame!).zxid), what).toEqual([pending, pending]);
    }
  });

  it('spends a zxid on a failed write, as ZooKeeper, and replies with it', () => {
    connect(1);
    outs = [];
    p.request(1, create(7, '/missing/child'));
    const zxid = logged[logged.length - 1].zxid;
    expect(decodeTxn(logged[logged.length - 1].bytes).hdr.type).toBe(Op.error);
    p.durable(zxid);
    expect(header(outs[0].frame!)).toEqual({ xid: 7, zxid, err: Err.NONODE });
  });

  it('rolls a failed multi back completely and fires no watch', () => {
    const sid = connect(1);
    expect(sid).not.toBe(0n);
    connect(2);
    p.request(2, request(1, Op.exists, (w) => w.string('/m').bool(true)));
    outs = [];
    const multi = request(3, Op.multi, (w) => {
      w.int(Op.create).bool(false).int(-1);
      w.string('/m').buffer(Buffer.from('x'));
      writeAcls(w, OPEN_ACL_UNSAFE);
      w.int(0);
      w.int(Op.delete).bool(false).int(-1);
      w.string('/nope').int(-1);
      w.int(-1).bool(true).int(-1);
    });
    p.request(1, multi);
    p.durable(p.tree.lastZxid);
    expect(p.tree.get('/m')).toBeUndefined();
    expect(outs.filter((o) => o.conn === 2)).toEqual([]);
    const r = new JuteReader(outs[0].frame!, 4 + 16);
    const results: number[][] = [];
    for (;;) {
      const type = r.int();
      const done = r.bool();
      const err = r.int();
      if (done) break;
      if (type === Op.error) r.int();
      results.push([type, err]);
    }
    expect(results).toEqual([[Op.error, Err.OK], [Op.error, Err.NONODE]]);
  });

  it('expires a silent session on the tick after its timeout, deleting its ephemerals', () => {
    connect(1, 200);
    p.request(1, create(1, '/e', 1));
    p.durable(p.tree.lastZxid);
    p.disconnect(1);
    now = 150;
    p.tick();
    expect(p.tree.get('/e')).toBeDefined();
    now = 400;
    p.tick();
    expect(p.tree.get('/e')).toBeUndefined();
    expect(decodeTxn(logged[logged.length - 1].bytes).hdr.type).toBe(Op.closeSession);
    expect(p.sessions.size()).toBe(0);
  });

  it('sends a watch event before the reply of the read that sees the change', () => {
    connect(1);
    connect(2);
    p.request(1, create(1, '/w'));
    p.durable(p.tree.lastZxid);
    p.request(2, request(1, Op.getData, (w) => w.string('/w').bool(true)));
    outs = [];
    p.request(1, request(2, Op.setData, (w) => w.string('/w').buffer(Buffer.from('new')).int(-1)));
    p.request(2, request(2, Op.getData, (w) => w.string('/w').bool(false)));
    p.durable(p.tree.lastZxid);
    const toTwo = outs.filter((o) => o.conn === 2).map((o) => header(o.frame!).xid);
    expect(toTwo).toEqual([-1, 2]);
  });

  it('refuses a connection whose client saw a zxid the server does not have', () => {
    p.connect(9, '127.0.0.1', 5009, connectFrame(1000, 0n, Buffer.alloc(16), 99));
    expect(outs).toEqual([{ kind: 'close', conn: 9 }]);
    expect(logged).toEqual([]);
  });
});
