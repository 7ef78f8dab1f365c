// A hostile client cannot flood the log (issue 8, item 7): warnings it can repeat are
// written a few times per connection and kind per window, then summarized with a count;
// many connections together are bounded per kind too. And a client that half-closes with
// requests in flight, or sends bytes after a four-letter word, no longer makes the server
// write after end(). Reads the server's captured stderr (test/support/servers.ts logFile).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import net from 'node:net';
import { startZooid, type ServerHandle } from '../support/servers.ts';
import { waitFor } from '../support/wait.ts';
import { LeanClient } from '../../client/lean.ts';
import { Err, Op } from '../../engine/protocol.ts';
import { LOG_WARN_PER_CONN_MAX, LOG_WARN_PER_KIND_MAX } from '../../engine/limits.ts';

/** The server's rate-limit window, short so that summaries come within the test. */
const WINDOW_MS = 1000;
const UNKNOWN_OP = 999;

let server: ServerHandle;

beforeAll(async () => {
  const saved = process.env.ZOOID_LOG_WARN_WINDOW_MS;
  process.env.ZOOID_LOG_WARN_WINDOW_MS = String(WINDOW_MS);
  try {
    server = await startZooid({ config: { maxClientCnxns: '0' } }); // many connections from one address
  } finally {
    if (saved === undefined) delete process.env.ZOOID_LOG_WARN_WINDOW_MS;
    else process.env.ZOOID_LOG_WARN_WINDOW_MS = saved;
  }
});

afterAll(async () => {
  await server?.stop();
});

function logText(): string {
  return fs.readFileSync(server.logFile, 'utf8');
}

/** Lines of one kind written, and what the summaries say was left out. */
function tally(kindLine: RegExp, kind: string, since: number): { written: number; suppressed: number; summaries: number } {
  const lines = logText().slice(since).split('\n');
  const summary = new RegExp(`suppressed (\\d+) more "${kind}" warnings`);
  let written = 0;
  let suppressed = 0;
  let summaries = 0;
  for (const line of lines) {
    const m = summary.exec(line);
    if (m !== null) {
      suppressed += Number(m[1]);
      summaries++;
    } else if (kindLine.test(line)) {
      written++;
    }
  }
  return { written, suppressed, summaries };
}

/** Sends `count` requests of an unknown type and waits for their UNIMPLEMENTED answers. */
async function unknownOps(c: LeanClient, count: number): Promise<void> {
  let answered = 0;
  await new Promise<void>((resolve, reject) => {
    for (let i = 0; i < count; i++) {
      c.send(UNKNOWN_OP, () => {}, (reply) => {
        if (reply.err !== Err.UNIMPLEMENTED) reject(new Error(`unknown op answered ${reply.err}`));
        else if (++answered === count) resolve();
      });
    }
  });
}

describe('log flooding', () => {
  it('10,000 unknown-opcode frames from one session: a few lines and a count; the session still works', { timeout: 60_000 }, async () => {
    const since = logText().length;
    const c = await LeanClient.connect({ host: '127.0.0.1', port: server.port });
    const startedMs = performance.now();
    await unknownOps(c, 10_000);
    await c.create('/after-flood', Buffer.from('ok'));
    expect((await c.getData('/after-flood')).data.toString()).toBe('ok');
    const windows = Math.ceil((performance.now() - startedMs) / WINDOW_MS) + 1;
    const kindLine = new RegExp(`unknown request type ${UNKNOWN_OP} from session`);
    const t = await waitFor(() => {
      const now = tally(kindLine, 'unknown request type', since);
      return now.written + now.suppressed === 10_000 ? now : null;
    }, { timeoutMs: 10 * WINDOW_MS, what: 'written and suppressed unknown-request-type warnings to add up to 10,000' });
    console.log(`10,000 unknown-opcode frames: ${t.written} lines, ${t.summaries} summaries, ${t.suppressed} suppressed over about ${windows} windows`);
    expect(t.written).toBeLessThanOrEqual(LOG_WARN_PER_CONN_MAX * windows);
    expect(t.summaries).toBeGreaterThan(0);
    await c.close();
  });

  it('many connections with a few bad frames each are bounded per kind', { timeout: 60_000 }, async () => {
    const since = logText().length;
    const connections = 200;
    const startedMs = performance.now();
    const clients = await Promise.all(Array.from({ length: connections }, () => LeanClient.connect({ host: '127.0.0.1', port: server.port })));
    await Promise.all(clients.map((c) => unknownOps(c, 3)));
    const windows = Math.ceil((performance.now() - startedMs) / WINDOW_MS) + 1;
    const kindLine = new RegExp(`unknown request type ${UNKNOWN_OP} from session`);
    const t = await waitFor(() => {
      const now = tally(kindLine, 'unknown request type', since);
      return now.written + now.suppressed === 3 * connections ? now : null;
    }, { timeoutMs: 10 * WINDOW_MS, what: 'written and suppressed warnings to add up' });
    console.log(`${connections} connections × 3 unknown-opcode frames: ${t.written} lines, ${t.suppressed} suppressed`);
    expect(t.written).toBeLessThanOrEqual(LOG_WARN_PER_KIND_MAX * windows);
    await Promise.all(clients.map((c) => c.close()));
  });

  it('bad frames on many connections are bounded too', { timeout: 60_000 }, async () => {
    const since = logText().length;
    const connections = 150;
    const startedMs = performance.now();
    await Promise.all(Array.from({ length: connections }, () => new Promise<void>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: server.port }, () => s.write(Buffer.from([0x7f, 0xff, 0xff, 0xff]))); // a frame length over jute.maxbuffer
      s.on('error', () => {});
      s.on('close', () => resolve());
    })));
    const windows = Math.ceil((performance.now() - startedMs) / WINDOW_MS) + 1;
    const t = await waitFor(() => {
      const now = tally(/closing connection from .*outside 0\.\./, 'bad frame', since);
      return now.written + now.suppressed === connections ? now : null;
    }, { timeoutMs: 10 * WINDOW_MS, what: 'written and suppressed bad-frame warnings to add up' });
    expect(t.written).toBeLessThanOrEqual(LOG_WARN_PER_KIND_MAX * windows);
  });

  it('a client that half-closes with requests in flight, or sends more after a four-letter word, causes no write after end', { timeout: 60_000 }, async () => {
    const since = logText().length;
    const c = await LeanClient.connect({ host: '127.0.0.1', port: server.port });
    await c.create('/half', Buffer.alloc(1000));
    for (let round = 0; round < 20; round++) {
      const s = await LeanClient.connect({ host: '127.0.0.1', port: server.port });
      for (let i = 0; i < 200; i++) s.send(Op.getData, (w) => w.string('/half').bool(false), () => {});
      s.socket.on('error', () => {}); // the server may reset: it closes without reading what is still in flight
      s.socket.end(); // FIN with 200 requests in flight
      await new Promise<void>((resolve) => s.socket.once('close', () => resolve()));
    }
    for (let round = 0; round < 20; round++) {
      await new Promise<void>((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port: server.port }, () => {
          s.write('ruok');
          setImmediate(() => s.write('ruok'));
        });
        s.on('data', () => {});
        s.on('error', () => {});
        s.on('close', () => resolve());
      });
    }
    expect((await c.getData('/half')).data.length).toBe(1000);
    await c.close();
    // the last connection's close has been handled by the time a new session is served
    const probe = await LeanClient.connect({ host: '127.0.0.1', port: server.port });
    await probe.close();
    expect(logText().slice(since)).not.toMatch(/write after end/);
  });
});
