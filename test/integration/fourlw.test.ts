// Four-letter words, zooid against Apache ZooKeeper 3.8 as the oracle: both servers get the
// same small workload from the lean client (two sessions, an ephemeral, data, exists and
// child watches), then the same words in the same order. Each answer is compared
// structurally after masking what legitimately differs (numbers, ids, times, ports, the
// temp dirs, the version text): same lines, keys and order. Values that the workload
// determines (node, ephemeral, watch and session counts, data size, the zxid the clients
// saw, the watch listings) are checked exactly on both servers.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import net from 'node:net';
import { startZooid, startZooKeeper, fourLetterWord, connectWhenServing, type ServerHandle } from '../support/servers.ts';
import { waitFor } from '../support/wait.ts';
import { LeanClient } from '../../client/lean.ts';

/** Words asked, in this order, on both servers; later entries see the effect of crst/srst/stmk. */
const SEQUENCE = [
  'ruok', 'srvr', 'stat', 'mntr', 'conf', 'envi', 'cons', 'dump', 'wchs', 'wchc', 'wchp', 'dirs', 'isro', 'gtmk',
  'hash', 'telnet close', 'xxxx', 'crst', 'cons after crst', 'srst', 'srvr after srst', 'stmk', 'gtmk after stmk',
] as const;
type Asked = (typeof SEQUENCE)[number];

const TELNET_CLOSE = Buffer.from([0xff, 0xf4, 0xff, 0xfd]);
const STMK_MASK = 0x1f2n;

interface Side {
  name: string;
  server: ServerHandle;
  /** Session 1: the ephemeral /app/e1; watches data of /app/e1, children of /app. */
  c1: LeanClient;
  /** Session 2: watches data of /app, exists of /app/missing, children of /locks. */
  c2: LeanClient;
  answers: Map<Asked, string>;
}

const handles: ServerHandle[] = [];
const clients: LeanClient[] = [];
let zk: Side;
let zooid: Side;

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await Promise.all(handles.map((h) => h.stop().catch(() => {})));
});

/** A session on `server` (retried until it serves), closed after the tests. */
async function connect(server: ServerHandle): Promise<LeanClient> {
  const c = await connectWhenServing(server);
  clients.push(c);
  return c;
}

/** Raw bytes as the first bytes of a connection; the whole answer ('' when closed without one). */
function askRaw(port: number, bytes: Buffer, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.end(bytes));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer on port ${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {}); // a reset after the answer (or instead of one) still ends in 'close'
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

function ask(port: number, asked: Asked): Promise<string> {
  switch (asked) {
    case 'telnet close': return askRaw(port, TELNET_CLOSE);
    case 'stmk': {
      const b = Buffer.alloc(12);
      b.write('stmk', 0, 'latin1');
      b.writeBigInt64BE(STMK_MASK, 4);
      return askRaw(port, b);
    }
    case 'xxxx': return askRaw(port, Buffer.from('xxxx'));
    default: return fourLetterWord(port, asked.slice(0, 4), 5_000);
  }
}

async function prepare(name: string, server: ServerHandle): Promise<Side> {
  const c1 = await connect(server);
  const c2 = await connect(server);
  await c1.create('/app', Buffer.from('config'));
  await c1.create('/app/e1', Buffer.from('hello'), 1); // ephemeral
  await c2.create('/locks');
  await c1.getData('/app/e1', true);
  await c1.getChildren('/app', true);
  await c2.getData('/app', true);
  expect(await c2.exists('/app/missing', true)).toBeNull();
  await c2.getChildren('/locks', true);
  const answers = new Map<Asked, string>();
  for (const asked of SEQUENCE) answers.set(asked, await ask(server.port, asked));
  return { name, server, c1, c2, answers };
}

beforeAll(async () => {
  const [zkServer, zooidServer] = await Promise.all([startZooKeeper(), startZooid()]);
  handles.push(zkServer, zooidServer);
  [zk, zooid] = await Promise.all([prepare('zookeeper', zkServer), prepare('zooid', zooidServer)]);
}, 90_000);

/** Masks what differs between two honest servers: dirs, versions, dates, ids, numbers. */
function mask(side: Side, text: string): string {
  return text
    .split(side.server.dir).join('<dir>')
    .replace(/^(Zookeeper version: |zk_version\t|zookeeper\.version=).*$/gm, '$1<version>')
    .replace(/[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d [A-Z]+ \d{4}/g, '<date>')
    .replace(/0x[0-9a-f]+/g, '0x#')
    .replace(/-?\d+(\.\d+)?(E-?\d+)?/g, '#');
}

function answer(side: Side, asked: Asked): string {
  const text = side.answers.get(asked);
  expect(text, `${side.name} answered ${asked}`).toBeDefined();
  return text!;
}

function maskedLines(side: Side, asked: Asked): string[] {
  return mask(side, answer(side, asked)).split('\n');
}

/** Lines with their order inside runs of connection lines (" /ip:port[...") ignored: ZooKeeper lists them from a HashSet. */
function sortedConnectionLines(lines: string[]): string[] {
  const out: string[] = [];
  let run: string[] = [];
  for (const l of [...lines, '']) {
    if (l.startsWith(' /')) {
      run.push(l);
      continue;
    }
    out.push(...run.sort(), l);
    run = [];
  }
  return out.slice(0, -1);
}

function keyValues(text: string, sep: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of text.split('\n')) {
    if (l === '') continue;
    const at = l.indexOf(sep);
    out.set(at < 0 ? l : l.slice(0, at), at < 0 ? '' : l.slice(at + sep.length));
  }
  return out;
}

function sessionHex(c: LeanClient): string {
  return `0x${c.sessionId.toString(16)}`;
}

const both = (): Side[] => [zk, zooid];

describe('four-letter words, zooid vs Apache ZooKeeper', () => {
  it('ruok and isro', () => {
    for (const s of both()) {
      expect(answer(s, 'ruok'), s.name).toBe('imok');
      expect(answer(s, 'isro'), s.name).toBe('rw');
    }
  });

  it('srvr: same lines; Mode, Node count and the zxid the clients saw', () => {
    expect(maskedLines(zooid, 'srvr')).toEqual(maskedLines(zk, 'srvr'));
    for (const s of both()) {
      const kv = keyValues(answer(s, 'srvr'), ': ');
      const seen = Math.max(s.c1.lastZxid, s.c2.lastZxid);
      expect(kv.get('Mode'), s.name).toBe('standalone');
      expect(kv.get('Node count'), s.name).toBe('8'); // 4 system entries (root twice) + /app, /app/e1, /locks
      expect(kv.get('Zxid'), s.name).toBe(`0x${seen.toString(16)}`);
      expect(kv.get('Outstanding'), s.name).toBe('0');
      expect(kv.get('Connections'), s.name).toBe('3'); // two sessions and the asking connection
    }
    expect(keyValues(answer(zooid, 'srvr'), ': ').get('Zxid')).toBe(keyValues(answer(zk, 'srvr'), ': ').get('Zxid'));
  });

  it('stat: srvr plus the client list', () => {
    expect(sortedConnectionLines(maskedLines(zooid, 'stat'))).toEqual(sortedConnectionLines(maskedLines(zk, 'stat')));
    for (const s of both()) {
      const clientLines = answer(s, 'stat').split('\n').filter((l) => l.startsWith(' /'));
      expect(clientLines.filter((l) => l.includes('[0](queued=0,recved=1,sent=0)')), s.name).toHaveLength(1);
      expect(clientLines, s.name).toHaveLength(3);
    }
  });

  it('mntr: same keys in the same order; the workload values exactly', () => {
    // ZooKeeper adds <namespace>_read/write_per_namespace summaries; zooid keeps no per-namespace bytes
    const keys = (s: Side) => [...keyValues(answer(s, 'mntr'), '\t').keys()].filter((k) => !k.endsWith('_per_namespace'));
    expect(keys(zooid)).toEqual(keys(zk));
    expect(keys(zooid).length).toBeGreaterThan(400);
    const values = both().map((s) => keyValues(answer(s, 'mntr'), '\t'));
    for (const [i, kv] of values.entries()) {
      const name = both()[i].name;
      expect(kv.get('zk_server_state'), name).toBe('standalone');
      expect(kv.get('zk_znode_count'), name).toBe('8');
      expect(kv.get('zk_ephemerals_count'), name).toBe('1');
      expect(kv.get('zk_watch_count'), name).toBe('5'); // 3 data/exists watches + 2 child watches
      expect(kv.get('zk_global_sessions'), name).toBe('2');
      expect(kv.get('zk_num_alive_connections'), name).toBe('3');
      expect(kv.get('zk_outstanding_requests'), name).toBe('0');
      expect(kv.get('zk_connection_request_count'), name).toBe('2');
      expect(Number(kv.get('zk_open_file_descriptor_count')), name).toBeGreaterThan(0);
      expect(Number(kv.get('zk_max_file_descriptor_count')), name).toBeGreaterThan(0);
    }
    // 44 for a fresh tree + path and data bytes of /app ("config"), /app/e1 ("hello"), /locks
    for (const [i, kv] of values.entries()) expect(kv.get('zk_approximate_data_size'), both()[i].name).toBe('72');
    // the replies are the protocol's bytes, so their sizes agree (the connect response is not counted)
    for (const key of ['zk_response_bytes', 'zk_last_client_response_size', 'zk_min_client_response_size', 'zk_max_client_response_size']) {
      expect(values[1].get(key), key).toBe(values[0].get(key));
    }
    expect(values[0].get('zk_min_client_response_size')).toBe('16'); // the NONODE reply to exists
    // every mntr line is "zk_<key>\t<value>"
    for (const s of both()) expect(answer(s, 'mntr').split('\n').filter((l) => l !== '' && !/^zk_\w+\t[^\t]+$/.test(l)), s.name).toEqual([]);
  });

  it('conf: same keys in the same order; dataDir is the server\'s', () => {
    expect(maskedLines(zooid, 'conf')).toEqual(maskedLines(zk, 'conf'));
    for (const s of both()) {
      const kv = keyValues(answer(s, 'conf'), '=');
      expect(kv.get('dataDir'), s.name).toBe(`${s.server.dataDir}/version-2`);
      expect(kv.get('clientPort'), s.name).toBe(String(s.server.port));
      expect(Number(kv.get('dataLogSize')), s.name).toBeGreaterThan(0);
    }
  });

  it('envi: ZooKeeper\'s keys in its order, then zooid\'s own', () => {
    const keys = (s: Side) => [...keyValues(answer(s, 'envi'), '=').keys()];
    const zkKeys = keys(zk);
    expect(zkKeys[0]).toBe('Environment:');
    expect(keys(zooid).slice(0, zkKeys.length)).toEqual(zkKeys);
    expect(keys(zooid).slice(zkKeys.length)).toEqual(['zooid.version', 'node.version', 'v8.version']);
  });

  it('cons: one full line per session connection, the asking one brief', () => {
    expect(sortedConnectionLines(maskedLines(zooid, 'cons'))).toEqual(sortedConnectionLines(maskedLines(zk, 'cons')));
    for (const s of both()) {
      const text = answer(s, 'cons');
      for (const c of [s.c1, s.c2]) {
        const line = text.split('\n').find((l) => l.includes(`sid=${sessionHex(c)},`));
        expect(line, `${s.name} lists ${sessionHex(c)}`).toBeDefined();
        expect(line, s.name).toContain(',lop=GETC,');
        expect(line, s.name).toContain(',to=30000,');
      }
    }
  });

  it('dump: sessions, ephemerals by session, connections', () => {
    // bucket headers depend on when each session was last touched: compare what is in them
    const body = (s: Side) => maskedLines(s, 'dump').filter((l) => !/^# expire at <date>:$/.test(l) && !/Sets \(#\)\/\(#\):$/.test(l));
    expect(body(zooid)).toEqual(body(zk));
    for (const s of both()) {
      const text = answer(s, 'dump');
      expect(text, s.name).toContain(`Sessions with Ephemerals (1):\n${sessionHex(s.c1)}:\n\t/app/e1\n`);
      expect(text, s.name).toMatch(/^Session Sets \(\d\)\/\(2\):$/m);
      expect(text, s.name).toMatch(/^Connections Sets \(\d\)\/\(3\):$/m);
    }
  });

  it('wchs, wchc, wchp: data watches by session and by path', () => {
    for (const s of both()) {
      expect(answer(s, 'wchs'), s.name).toBe('2 connections watching 3 paths\nTotal watches:3\n');
      expect(parseGroups(answer(s, 'wchc')), s.name).toEqual(new Map([
        [sessionHex(s.c1), ['/app/e1']],
        [sessionHex(s.c2), ['/app', '/app/missing']],
      ]));
      expect(parseGroups(answer(s, 'wchp')), s.name).toEqual(new Map([
        ['/app', [sessionHex(s.c2)]],
        ['/app/e1', [sessionHex(s.c1)]],
        ['/app/missing', [sessionHex(s.c2)]],
      ]));
      expect(answer(s, 'wchc').endsWith('\n\n'), s.name).toBe(true);
      expect(answer(s, 'wchp').endsWith('\n\n'), s.name).toBe(true);
    }
  });

  it('dirs: the two sizes', () => {
    expect(maskedLines(zooid, 'dirs')).toEqual(maskedLines(zk, 'dirs'));
    expect(Number(keyValues(answer(zooid, 'dirs'), ': ').get('logdir_size'))).toBeGreaterThan(0);
  });

  it('gtmk, stmk, hash, telnet close and an unknown code', () => {
    for (const s of both()) {
      expect(answer(s, 'gtmk'), s.name).toBe('306');
      expect(answer(s, 'stmk'), s.name).toBe(String(STMK_MASK));
      expect(answer(s, 'gtmk after stmk'), s.name).toBe(String(STMK_MASK));
      expect(answer(s, 'hash'), s.name).toBe(''); // no digest logged yet (ZooKeeper logs every 128th zxid)
      expect(answer(s, 'telnet close'), s.name).toBe('');
      expect(answer(s, 'xxxx'), s.name).toBe('');
    }
  });

  it('crst resets the connections\' stats; srst the server\'s', () => {
    for (const s of both()) {
      expect(answer(s, 'crst'), s.name).toBe('Connection stats reset.\n');
      expect(answer(s, 'srst'), s.name).toBe('Server stats reset.\n');
      for (const c of [s.c1, s.c2]) {
        const line = answer(s, 'cons after crst').split('\n').find((l) => l.includes(`sid=${sessionHex(c)},`));
        expect(line, s.name).toMatch(/\(queued=0,recved=0,sent=0,sid=0x[0-9a-f]+,lop=NA,est=\d+,to=30000,lzxid=0xffffffffffffffff,lresp=0,llat=0,minlat=0,avglat=0,maxlat=0\)$/);
      }
      expect(answer(s, 'srvr after srst'), s.name).toContain('\nLatency min/avg/max: 0/0.0/0\n');
    }
    expect(sortedConnectionLines(maskedLines(zooid, 'cons after crst'))).toEqual(sortedConnectionLines(maskedLines(zk, 'cons after crst')));
    expect(maskedLines(zooid, 'srvr after srst')).toEqual(maskedLines(zk, 'srvr after srst'));
  });
});

/** wchc/wchp: a header line, then its tab-indented members; sorted for comparison (ZooKeeper uses hash maps). */
function parseGroups(text: string): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const l of text.split('\n')) {
    if (l === '') continue;
    if (l.startsWith('\t')) {
      expect(current).not.toBeNull();
      current!.push(l.slice(1));
    } else {
      current = [];
      groups.set(l, current);
    }
  }
  for (const v of groups.values()) v.sort();
  return new Map([...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

describe('four-letter-word whitelist', () => {
  // The harness polls ruok to see ZooKeeper up, so ZooKeeper gets "ruok" on top of the
  // default; zooid (ready once it accepts TCP) also runs with the default itself (an
  // empty list: only srvr, as FourLetterCommands.isEnabled enables with no setting).
  let zkRuok: ServerHandle;
  let zooidRuok: ServerHandle;
  let zooidDefault: ServerHandle;
  beforeAll(async () => {
    // allSettled: when one server fails to start, the ones that did are still stopped
    const started = await Promise.allSettled([
      startZooKeeper({ config: { '4lw.commands.whitelist': 'ruok' } }),
      startZooid({ config: { '4lw.commands.whitelist': 'ruok' } }),
      startZooid({ config: { '4lw.commands.whitelist': '' } }),
    ]);
    for (const s of started) if (s.status === 'fulfilled') handles.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    [zkRuok, zooidRuok, zooidDefault] = started.map((s) => (s as PromiseFulfilledResult<ServerHandle>).value);
  }, 90_000);

  it('answers srvr (always enabled) and refuses the rest with ZooKeeper\'s sentence', async () => {
    for (const server of [zkRuok, zooidRuok, zooidDefault]) {
      const who = `${server.kind} on :${server.port}`;
      // ZooKeeper answers "not currently serving" for a moment after ruok: wait for the real text
      const srvr = await waitFor(async () => {
        const text = await fourLetterWord(server.port, 'srvr', 5_000);
        return text.startsWith('Zookeeper version: ') ? text : null;
      }, { timeoutMs: 20_000, what: `${who} to answer srvr` });
      expect(srvr, who).toContain('\nMode: standalone\n');
      expect(await fourLetterWord(server.port, 'stat', 5_000), who).toBe('stat is not executed because it is not in the whitelist.\n');
      expect(await fourLetterWord(server.port, 'mntr', 5_000), who).toBe('mntr is not executed because it is not in the whitelist.\n');
      expect(await askRaw(server.port, TELNET_CLOSE), who).toBe('telnet close is not executed because it is not in the whitelist.\n');
      expect(await askRaw(server.port, Buffer.from('xxxx')), who).toBe('');
    }
    expect(await fourLetterWord(zooidDefault.port, 'ruok', 5_000)).toBe('ruok is not executed because it is not in the whitelist.\n');
    expect(await fourLetterWord(zooidRuok.port, 'ruok', 5_000)).toBe('imok');
  });
});
