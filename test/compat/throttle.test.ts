// Connection limits and throttling, Apache ZooKeeper 3.8 as the oracle: the same scenario
// against both servers, compared as the client sees it.
//   - maxClientCnxns: connections from one address beyond the limit are closed before the
//     handshake (also a four-letter word's), the others keep being served, and a freed
//     slot takes a new connection.
//   - globalOutstandingLimit: sessions pipelining far more than the limit are delayed,
//     never failed: every reply OK, in the order sent.
//   - connection_throttle_tokens: ConnectRequests beyond the bucket are closed unanswered
//     while it refills slowly; sessions already made keep being served.
//   - largeRequestThreshold/largeRequestMaxBytes: a request that would take the large
//     requests in process over the max closes its connection (connection loss, the session
//     lives, the write not applied); one under it is served, and its bytes are given back.
import { describe, it, expect, afterAll } from 'vitest';
import { startZooKeeper, startZooid, fourLetterWord, connectWhenServing, type ServerHandle, type StartOptions } from '../support/servers.ts';
import { waitFor } from '../support/wait.ts';
import { LeanClient, ZkError } from '../../client/lean.ts';
import { Op, writeAcls, OPEN_ACL_UNSAFE } from '../../engine/protocol.ts';

const handles: ServerHandle[] = [];
const clients: LeanClient[] = [];
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await Promise.all(handles.map((h) => h.stop().catch(() => {})));
});

async function bothServers(options: StartOptions): Promise<ServerHandle[]> {
  const started = await Promise.all([startZooKeeper(options), startZooid(options)]);
  handles.push(...started);
  return started;
}

/** A session on `server` (retried until it serves), closed after the tests. */
async function connect(server: ServerHandle): Promise<LeanClient> {
  const c = await connectWhenServing(server);
  clients.push(c);
  return c;
}

async function maxClientCnxnsScenario(server: ServerHandle): Promise<Record<string, unknown>> {
  const held = [await connect(server), await connect(server), await connect(server)];
  const fourth = await LeanClient.connect({ host: '127.0.0.1', port: server.port, connectTimeoutMs: 5_000 }).then(
    (c) => { clients.push(c); return 'connected'; },
    () => 'refused', // EPIPE or ECONNRESET by timing, on both servers
  );
  // closed before the word is read: an empty answer or a reset, by timing, on both servers
  const ruok = await fourLetterWord(server.port, 'ruok', 5_000).then((text) => text === '' ? 'closed' : text, (e: Error) => /ECONNRESET|EPIPE/.test(e.message) ? 'closed' : e.message);
  const stillServed = (await held[2].exists('/')) !== null;
  await held[0].close();
  const afterFree = await waitFor(
    async () => LeanClient.connect({ host: '127.0.0.1', port: server.port, connectTimeoutMs: 2_000 }).then((c) => { clients.push(c); return 'connected'; }, () => null),
    { timeoutMs: 10_000, what: 'a connection once a slot is free' },
  );
  return { fourth, ruok, stillServed, afterFree };
}

async function outstandingScenario(server: ServerHandle): Promise<Record<string, unknown>> {
  const sessions = await Promise.all([connect(server), connect(server), connect(server)]);
  await sessions[0].create('/burst');
  const rounds = 300;
  const outcomes = sessions.map((c, s) => {
    const got: { tag: number; err: number }[] = [];
    c.onTagged = (tag, err) => { got.push({ tag, err }); };
    let tag = 0;
    for (let i = 0; i < rounds; i++) {
      const w = c.beginRequest(Op.create);
      w.string(`/burst/s${s}-${i}`).buffer(Buffer.from('x'));
      writeAcls(w, OPEN_ACL_UNSAFE);
      w.int(0);
      c.endRequest(tag++);
      c.beginRequest(Op.exists).string(`/burst/s${s}-${i}`).bool(false);
      c.endRequest(tag++);
    }
    c.flush();
    return { got, total: tag };
  });
  await waitFor(() => outcomes.every((o) => o.got.length === o.total), { timeoutMs: 60_000, what: `${server.kind} to answer every pipelined request` });
  return {
    inOrder: outcomes.map((o) => o.got.every((g, i) => g.tag === i)),
    errors: outcomes.map((o) => o.got.filter((g) => g.err !== 0).length),
    children: (await sessions[0].getChildren('/burst')).length,
  };
}

async function connectionThrottleScenario(server: ServerHandle): Promise<Record<string, unknown>> {
  // two tokens, one back a minute: the first two sessions are made, the third is refused
  const first = await connect(server);
  const attempt = () => LeanClient.connect({ host: '127.0.0.1', port: server.port, connectTimeoutMs: 5_000 }).then(
    (c) => { clients.push(c); return 'connected'; },
    (e: Error) => (/closed|ECONNRESET|EPIPE/.test(e.message) ? 'refused' : e.message),
  );
  const second = await attempt();
  const third = await attempt();
  const reconnect = await LeanClient.connect({ host: '127.0.0.1', port: server.port, sessionId: first.sessionId, passwd: first.passwd, connectTimeoutMs: 5_000 }).then(
    (c) => { clients.push(c); return 'connected'; }, () => 'refused');
  const firstServed = (await first.exists('/')) !== null;
  const mntr = await fourLetterWord(server.port, 'mntr');
  const line = (name: string) => new RegExp(`^zk_${name}\\s+(\\S+)$`, 'm').exec(mntr)?.[1];
  const deficit = ['cnt', 'sum', 'min', 'max'].map((f) => line(`${f}_connection_token_deficit`));
  return { second, third, reconnect, firstServed, rejected: line('connection_rejected'), deficit };
}

async function largeRequestScenario(server: ServerHandle): Promise<Record<string, unknown>> {
  const c = await connect(server);
  await c.create('/big', Buffer.from('small'));
  const outcome = (p: Promise<unknown>) => p.then(() => 'OK', (e: unknown) => (e instanceof ZkError ? `error ${e.code}` : String(e)));
  // a body of 2,016 bytes (path, 2,000 bytes of data, version): counted, served, given back
  const under = await outcome(c.setData('/big', Buffer.alloc(2000, 1)));
  // a frame of 4,024 bytes: over the 3,000 max from its length alone
  const over = await outcome(c.setData('/big', Buffer.alloc(4000, 2)));
  const again = await LeanClient.connect({ host: '127.0.0.1', port: server.port, sessionId: c.sessionId, passwd: c.passwd, connectTimeoutMs: 5_000 });
  clients.push(again);
  const kept = await again.getData('/big');
  // nothing still counted: two under the max in turn are both served
  const after = [await outcome(again.setData('/big', Buffer.alloc(2000, 3))), await outcome(again.setData('/big', Buffer.alloc(2000, 4)))];
  return { under, over, sameSession: again.sessionId === c.sessionId, keptLength: kept.data.length, keptVersion: kept.stat.version, after, version: (await again.exists('/big'))?.version };
}

describe('connection limits and throttling compared with ZooKeeper', () => {
  it('maxClientCnxns=3: the fourth connection from one address is closed, the others served, a freed slot reused', async () => {
    const [zk, zooid] = await bothServers({ config: { maxClientCnxns: '3' } });
    const [want, got] = [await maxClientCnxnsScenario(zk), await maxClientCnxnsScenario(zooid)];
    expect(want.fourth).toBe('refused');
    expect(got).toEqual(want);
  }, 90_000);

  it('globalOutstandingLimit=5: pipelined requests far beyond it are all answered OK and in order', async () => {
    const [zk, zooid] = await bothServers({ config: { globalOutstandingLimit: '5' }, systemProperties: { 'zookeeper.globalOutstandingLimit': '5' } });
    const [want, got] = [await outstandingScenario(zk), await outstandingScenario(zooid)];
    expect(want).toEqual({ inOrder: [true, true, true], errors: [0, 0, 0], children: 900 });
    expect(got).toEqual(want);
  }, 120_000);

  it('largeRequestThreshold=1000, largeRequestMaxBytes=3000: a request over the max closes its connection, the session lives on', async () => {
    const [zk, zooid] = await bothServers({ config: { largeRequestThreshold: '1000', largeRequestMaxBytes: '3000' } });
    const [want, got] = [await largeRequestScenario(zk), await largeRequestScenario(zooid)];
    expect(want).toEqual({ under: 'OK', over: 'error -4', sameSession: true, keptLength: 2000, keptVersion: 1, after: ['OK', 'OK'], version: 3 });
    expect(got).toEqual(want);
  }, 90_000);

  it('connection_throttle_tokens=2, one back a minute: the third session request is refused, sessions made are served', async () => {
    const config = { connection_throttle_tokens: '2', connection_throttle_fill_time: '60000', connection_throttle_fill_count: '1', '4lw.commands.whitelist': '*' };
    const [zk, zooid] = await bothServers({ config });
    const [want, got] = [await connectionThrottleScenario(zk), await connectionThrottleScenario(zooid)];
    expect(want).toEqual({ second: 'connected', third: 'refused', reconnect: 'refused', firstServed: true, rejected: '2', deficit: ['2', '3', '1', '2'] });
    expect(got).toEqual(want);
  }, 90_000);
});
