// Four-letter words whose answer is larger than a reply-ring record (issue 8, item 2): dump
// with 4,500 ephemerals of ~1 KB names, wchp/wchc after 5,000 exists watches on 1 KB paths
// (set through setWatches), and a 20+ MB wchp. The whole answer arrives, the server stays
// up, and other sessions are served while a big answer goes out — also to a client that
// does not read it. Real sockets, a real zooid process.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import net from 'node:net';
import { startZooid, fourLetterWord, type ServerHandle } from '../support/servers.ts';
import { waitFor, withDeadline } from '../support/wait.ts';
import { LeanClient } from '../../client/lean.ts';
import { CreateFlag, Op, Xid } from '../../engine/protocol.ts';

let server: ServerHandle;
const clients: LeanClient[] = [];

async function connect(): Promise<LeanClient> {
  const c = await LeanClient.connect({ host: '127.0.0.1', port: server.port });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  server = await startZooid();
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await server?.stop();
});

/** A name of about 1 KB, unique by i. */
function longName(prefix: string, i: number): string {
  return `${prefix}${'n'.repeat(1000)}${String(i).padStart(6, '0')}`;
}

/** Registers exists watches on `paths` (absent nodes) with setWatches, in requests well under jute.maxbuffer. */
async function setExistWatches(c: LeanClient, paths: string[]): Promise<void> {
  const perRequest = 400;
  const done: Promise<void>[] = [];
  for (let i = 0; i < paths.length; i += perRequest) {
    const batch = paths.slice(i, i + perRequest);
    done.push(new Promise((resolve, reject) => c.send(Op.setWatches, (w) => {
      w.longNumber(0).int(0).int(batch.length);
      for (const p of batch) w.string(p);
      w.int(0);
    }, (reply) => (reply.err === 0 ? resolve() : reject(new Error(`setWatches failed with ${reply.err}`))), Xid.setWatches)));
  }
  await Promise.all(done);
}

/** The server is up and serves an established session and a new one. */
async function stillServing(witness: LeanClient): Promise<void> {
  expect((await witness.getData('/witness')).data.toString()).toBe('here');
  const fresh = await connect();
  expect(await fresh.exists('/witness')).not.toBeNull();
  await fresh.close();
}

/**
 * Asks `word` on a socket that reads nothing until resume(): the answer waits in the server.
 * done resolves with the whole answer once the server has closed the connection.
 */
function askWithoutReading(word: string): { resume: () => void; done: Promise<Buffer> } {
  const chunks: Buffer[] = [];
  const socket = net.connect({ host: '127.0.0.1', port: server.port });
  socket.pause();
  socket.on('connect', () => socket.write(word));
  const done = new Promise<Buffer>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks)));
  });
  return { resume: () => socket.resume(), done };
}

describe('four-letter words larger than a reply record', () => {
  let witness: LeanClient;

  beforeAll(async () => {
    witness = await connect();
    await witness.create('/witness', Buffer.from('here'));
  });

  it('dump lists 4,500 ephemerals of ~1 KB names (4.5 MB) in full', { timeout: 120_000 }, async () => {
    const owner = await connect();
    await owner.create('/eph');
    const names: string[] = [];
    for (let i = 0; i < 4500; i++) names.push(`/eph/${longName('e', i)}`);
    for (let i = 0; i < names.length; i += 500) {
      await Promise.all(names.slice(i, i + 500).map((p) => owner.create(p, Buffer.alloc(0), CreateFlag.ephemeral)));
    }
    const startedMs = performance.now();
    const text = await fourLetterWord(server.port, 'dump', 60_000);
    const tookMs = performance.now() - startedMs;
    console.log(`dump: ${Buffer.byteLength(text)} bytes in ${tookMs.toFixed(0)} ms`);
    expect(text.startsWith('SessionTracker dump:\n')).toBe(true);
    expect(text).toContain(`Sessions with Ephemerals (1):\n0x${owner.sessionId.toString(16)}:\n`);
    const listed = text.split('\n').filter((line) => line.startsWith('\t/eph/'));
    expect(listed.length).toBe(4500);
    expect(new Set(listed.map((l) => l.slice(1)))).toEqual(new Set(names));
    expect(text).toMatch(/Connections dump:\nConnections Sets \(\d+\)\/\(\d+\):\n/);
    await stillServing(witness);
  });

  it('wchp and wchc list 5,000 exists watches on 1 KB paths set through setWatches', { timeout: 120_000 }, async () => {
    const watcher = await connect();
    const paths: string[] = [];
    for (let i = 0; i < 5000; i++) paths.push(`/watched/${longName('w', i)}`);
    await setExistWatches(watcher, paths);
    const sid = `0x${watcher.sessionId.toString(16)}`;

    const wchp = await fourLetterWord(server.port, 'wchp', 60_000);
    const lines = wchp.split('\n');
    const watchedPaths = lines.filter((l) => l.startsWith('/watched/'));
    expect(watchedPaths.length).toBe(5000);
    expect(new Set(watchedPaths)).toEqual(new Set(paths));
    for (let i = 0; i < lines.length - 2; i++) if (lines[i].startsWith('/watched/')) expect(lines[i + 1]).toBe(`\t${sid}`);
    expect(wchp.endsWith('\n\n')).toBe(true);

    const wchc = await fourLetterWord(server.port, 'wchc', 60_000);
    expect(wchc.startsWith(`${sid}\n`)).toBe(true);
    expect(wchc.split('\n').filter((l) => l.startsWith('\t/watched/')).length).toBe(5000);
    await stillServing(witness);
    watcher.disconnect();
    await waitFor(async () => !(await fourLetterWord(server.port, 'wchs', 10_000)).includes('Total watches:5000'), { timeoutMs: 20_000, what: 'the watches to go with their connection' });
  });

  it('a 20+ MB wchp goes out while other sessions are served, also to a client that reads late', { timeout: 180_000 }, async () => {
    const watcher = await connect();
    const paths: string[] = [];
    for (let i = 0; i < 22_000; i++) paths.push(`/huge/${longName('h', i)}`);
    await setExistWatches(watcher, paths);

    // a client that asks and does not read: the server holds a bounded part of the answer and serves everyone else
    const stalled = askWithoutReading('wchp');
    const busy = await connect();
    for (let i = 0; i < 200; i++) await busy.exists('/witness');
    await stillServing(witness);

    // a client that reads at once, meanwhile; a session's requests one at a time all along
    const startedMs = performance.now();
    let answered = false;
    const asked = fourLetterWord(server.port, 'wchp', 120_000).finally(() => { answered = true; });
    const latenciesMs: number[] = [];
    while (!answered) {
      const sentMs = performance.now();
      await busy.exists('/witness');
      latenciesMs.push(performance.now() - sentMs);
    }
    const text = await asked;
    const tookMs = performance.now() - startedMs;
    const bytes = Buffer.byteLength(text);
    latenciesMs.sort((a, b) => a - b);
    console.log(`wchp: ${bytes} bytes in ${tookMs.toFixed(0)} ms (${(bytes / 1024 / 1024 / (tookMs / 1000)).toFixed(1)} MiB/s); ` +
      `meanwhile ${latenciesMs.length} exists, latency p50 ${latenciesMs[latenciesMs.length >> 1].toFixed(2)} ms, max ${latenciesMs[latenciesMs.length - 1].toFixed(2)} ms`);
    expect(latenciesMs.length).toBeGreaterThan(1); // served while the answer went out, not after
    expect(bytes).toBeGreaterThan(20 * 1024 * 1024);
    expect(text.split('\n').filter((l) => l.startsWith('/huge/')).length).toBe(22_000);

    // the late reader gets all of it too
    stalled.resume();
    const late = (await withDeadline(stalled.done, 120_000, 'the late reader\'s answer')).toString('utf8');
    expect(late.split('\n').filter((l) => l.startsWith('/huge/')).length).toBe(22_000);
    expect(late.length).toBe(text.length);
    await stillServing(witness);
  });
});
