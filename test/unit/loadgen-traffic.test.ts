// Traffic modes at the socket. Per-request traffic hands the kernel one write per request,
// even when one reply chunk frees several slots (real clients write each request on its
// own); batched traffic writes what a chunk freed in one go. Checked where the bytes leave
// Node for libuv — the TCP handle's write calls, each one write()/writev() syscall while the
// kernel takes it whole — and, for batched traffic, where the fake server reads them.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { JuteReader, JuteWriter } from '../../native-free-io/jute.ts';
import { Err } from '../../engine/protocol.ts';
import { LeanClient, type TaggedReplyHandler, type WatchEvent } from '../../client/lean.ts';
import { type TaggedClient, type WorkloadPlan, Workload } from '../../loadgen/workload.ts';
import { type TrafficMode, parseLoadOptions, parseMix, resolveMix } from '../../loadgen/options.ts';
import { waitFor } from '../support/wait.ts';
import { testPlan } from './loadgen-plan.ts';
import { type FakeServer, startFakeServer } from './loadgen-fake-server.ts';

/** Requests in flight per connection, and the fake server's reply burst: one burst frees them all. */
const OUTSTANDING = 8;
/** Requests the real-socket runs send before they are looked at. */
const REQUESTS_MIN = 400;

/** Closed loop, OUTSTANDING in flight, for as long as a test runs. */
function plan(traffic: TrafficMode, overrides: Partial<WorkloadPlan> = {}): WorkloadPlan {
  return testPlan({ traffic, outstanding: OUTSTANDING, rateOpsPerSec: null, totalRateOpsPerSec: null, durationMs: 60_000, ...overrides });
}

/** Whole frames (4-byte length prefix + body) in the bytes of one write; throws on a partial frame. */
function framesIn(bytes: Buffer): number {
  let count = 0;
  let off = 0;
  while (off < bytes.length) {
    off += 4 + bytes.readInt32BE(off);
    count++;
  }
  if (off !== bytes.length) throw new Error(`a write of ${bytes.length} bytes ends inside a frame`);
  return count;
}

/**
 * Records the frames of each write the socket's TCP handle is asked to make (writeBuffer for
 * one buffer, writev when Node's stream gathered several). One entry per call into libuv.
 */
function spyOnHandleWrites(socket: net.Socket): number[] {
  const framesPerWrite: number[] = [];
  const handle = (socket as unknown as { _handle: Record<string, (...args: unknown[]) => unknown> })._handle;
  const writeBuffer = handle.writeBuffer;
  const writev = handle.writev;
  expect(typeof writeBuffer).toBe('function');
  expect(typeof writev).toBe('function');
  handle.writeBuffer = function (this: unknown, req: unknown, data: unknown) {
    framesPerWrite.push(framesIn(data as Buffer));
    return writeBuffer.call(this, req, data);
  };
  handle.writev = function (this: unknown, req: unknown, chunkList: unknown, allBuffers: unknown) {
    // allBuffers: [buf, buf, ...]; otherwise [chunk, encoding, chunk, encoding, ...]
    const chunks = chunkList as unknown[];
    const buffers = allBuffers === true ? (chunks as Buffer[]) : chunks.filter((_, i) => i % 2 === 0).map((c) => Buffer.from(c as Uint8Array));
    framesPerWrite.push(framesIn(Buffer.concat(buffers)));
    return writev.call(this, req, chunks, allBuffers);
  };
  for (const name of ['writeUtf8String', 'writeLatin1String', 'writeAsciiString', 'writeUcs2String']) {
    handle[name] = () => {
      throw new Error(`the client wrote a string (${name}): requests are buffers`);
    };
  }
  return framesPerWrite;
}

interface Drive {
  server: FakeServer;
  /** Frames per handle write, in order. */
  framesPerWrite: number[];
}

const servers: FakeServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

/** A real client on a fake server that answers in bursts of OUTSTANDING, driven closed loop until REQUESTS_MIN were written. */
async function drive(traffic: TrafficMode): Promise<Drive> {
  const server = await startFakeServer({ replyBatch: OUTSTANDING });
  servers.push(server);
  const client = await LeanClient.connect({ host: '127.0.0.1', port: server.port, connectTimeoutMs: 5_000 });
  const framesPerWrite = spyOnHandleWrites(client.socket);
  const load = new Workload(plan(traffic), () => performance.now());
  load.begin(performance.now());
  load.attach(0, client);
  await waitFor(() => server.requests >= REQUESTS_MIN, { timeoutMs: 10_000, what: `${REQUESTS_MIN} requests at the fake server (${traffic})` });
  // stop issuing, then let the server catch up with every frame written so far
  load.finish();
  client.onTagged = null;
  const written = () => framesPerWrite.reduce((a, b) => a + b, 0);
  await waitFor(() => server.requests === written(), { timeoutMs: 5_000, what: 'the server to have read every request written' });
  client.disconnect();
  return { server, framesPerWrite: [...framesPerWrite] };
}

describe('traffic modes at the socket', () => {
  it('per-request: one write per request, even when one reply chunk frees several', async () => {
    const { server, framesPerWrite } = await drive('per-request');
    expect(framesPerWrite.length).toBeGreaterThanOrEqual(REQUESTS_MIN);
    expect(framesPerWrite.filter((n) => n !== 1)).toEqual([]);
    expect(server.requests).toBe(framesPerWrite.length);
  });

  it('batched: the requests a reply chunk frees go out in one write', async () => {
    const { server, framesPerWrite } = await drive('batched');
    // the first pump fills the window, and every burst of replies refills it: one write each
    expect(framesPerWrite.filter((n) => n !== OUTSTANDING)).toEqual([]);
    expect(server.requests).toBe(framesPerWrite.length * OUTSTANDING);
    // one write of small frames arrives as one read at the server
    expect(server.requestsPerChunkMax).toBe(OUTSTANDING);
    expect(server.requestChunks).toBeLessThan(server.requests);
  });
});

/** A connection that only counts what would be written, and when. */
class CountingClient implements TaggedClient {
  isClosed = false;
  onTagged: TaggedReplyHandler | null = null;
  onWatch: ((e: WatchEvent) => void) | null = null;
  /** Requests ended since the last flush, recorded at each flush that had any. */
  readonly requestsPerFlush: number[] = [];
  readonly queued: number[] = [];
  private sinceFlush = 0;
  private readonly writer = new JuteWriter(4096);
  private readonly empty = new JuteReader(Buffer.alloc(0));

  beginRequest(): JuteWriter {
    return this.writer.reset();
  }
  endRequest(tag: number): boolean {
    this.queued.push(tag);
    this.sinceFlush++;
    return true;
  }
  flush(): void {
    if (this.sinceFlush > 0) this.requestsPerFlush.push(this.sinceFlush);
    this.sinceFlush = 0;
  }
  /** Answers `count` requests as one chunk does: replies, then the client's end-of-chunk flush. */
  answerChunk(count: number): void {
    for (let i = 0; i < count; i++) this.onTagged!(this.queued.shift()!, Err.OK, 1, this.empty);
    this.flush();
  }
}

describe('traffic modes in the workload', () => {
  it.each(['per-request', 'batched'] as const)('%s: the first fill, and the refill a reply chunk frees', (traffic) => {
    // create is two requests (create, then delete): per-request writes them apart too
    const client = new CountingClient();
    const load = new Workload(plan(traffic, { outstanding: 4, mix: resolveMix(parseMix('get:1,create:1'), null), seed: 7 }), () => 0);
    load.begin(0);
    load.attach(0, client);
    const firstFill = client.queued.length;
    client.answerChunk(3);
    const refill = client.queued.length - (firstFill - 3);
    expect(firstFill).toBeGreaterThanOrEqual(4);
    expect(refill).toBeGreaterThanOrEqual(3);
    if (traffic === 'per-request') expect(client.requestsPerFlush).toEqual(new Array(firstFill + refill).fill(1));
    else expect(client.requestsPerFlush).toEqual([firstFill, refill]);
  });

  it('open loop, per-request: each op due in a tick is its own write', () => {
    let nowMs = 0;
    const client = new CountingClient();
    const load = new Workload(plan('per-request', { outstanding: 100, rateOpsPerSec: 1000, totalRateOpsPerSec: 1000, durationMs: 100 }), () => nowMs);
    load.begin(0);
    load.attach(0, client);
    nowMs = 4.5; // ops due at 0, 1, 2, 3, 4 ms
    load.pump();
    expect(client.requestsPerFlush).toEqual([1, 1, 1, 1, 1]);
  });

  it('--traffic defaults to per-request and rejects other names', () => {
    expect(parseLoadOptions([]).options.traffic).toBe('per-request');
    expect(parseLoadOptions(['--traffic', 'batched']).options.traffic).toBe('batched');
    expect(() => parseLoadOptions(['--traffic', 'bulk'])).toThrow(/--traffic must be per-request or batched, not 'bulk'/);
  });
});
