// The client-frame fuzzer in the test suite (issue 12): its frames are well-formed where
// they mean to be (both servers parse every unmutated record), its streams are
// reproducible from the seed, and a short run against zooid and against Apache ZooKeeper
// 3.8 (the control) leaves each server running, serving, its control client's data and
// watches right and (zooid) its memory within the bound. The full run is
// `npm run fuzz -- --frames 10000000` (test/fuzz/run.ts; results in test/fault/results/).
// Seeds are printed; TEST_SEED=<n> replays a run's frames.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { JuteWriter } from '../../native-free-io/jute.ts';
import { CreateFlag, Err, Op } from '../../engine/protocol.ts';
import { LeanClient, ZkError } from '../../client/lean.ts';
import { seededRandom, deriveSeed } from '../../loadgen/random.ts';
import { connectWhenServing, startServer, type ServerHandle, type ServerKind } from '../support/servers.ts';
import { testSeed } from '../support/random.ts';
import { WaitTimeoutError, withDeadline } from '../support/wait.ts';
import { REQUEST_RECORDS, bytes, encodeFields, encodeFrame, i32, i64, rec, requestFrame, text, u8, vec, type Field } from './records.ts';
import { stopsZooKeeper } from './zookeeper-bugs.ts';
import { mutateBytes, mutateStructure } from './mutate.ts';
import { DEFAULT_RUN_OPTIONS, runFuzz, summarize, type FuzzRunResult } from './run.ts';

/** Frames of the short runs: about 30 s against zooid on a busy 2-core machine; ZooKeeper serves them more slowly. */
const ZOOID_FRAMES = 150_000;
const ZOOKEEPER_FRAMES = 50_000;
/** How long the generator's check waits for one answer. */
const ANSWER_DEADLINE_MS = 3_000;
const OP_NAMES = new Map<number, string>(Object.entries(Op).map(([name, code]) => [code, name]));

describe('fuzzed frames', () => {
  it('are the same bytes for the same seed, and differ for another', () => {
    const bytesOf = (seed: number) => {
      const random = seededRandom(seed);
      const w = new JuteWriter();
      for (let i = 0; i < 2_000; i++) {
        const frame = requestFrame(random, [...REQUEST_RECORDS.keys()][i % REQUEST_RECORDS.size], i + 1);
        if (random() < 0.5) mutateStructure(random, frame);
        const at = w.offset;
        encodeFrame(w, frame);
        if (random() < 0.2) mutateBytes(random, w, at, 0xfffff);
      }
      return w.copy();
    };
    const seed = testSeed();
    expect(bytesOf(seed).equals(bytesOf(seed)), `seed ${seed}`).toBe(true);
    expect(bytesOf(seed).equals(bytesOf(deriveSeed(seed, 1))), `seed ${seed}`).toBe(false);
  });
});

describe('frames withheld from ZooKeeper 3.8 (they stop it)', () => {
  const frameOf = (fields: Field[]) => {
    const w = new JuteWriter();
    encodeFrame(w, { kind: 'request', op: (fields[1] as { v: number }).v, fields });
    return w.copy();
  };
  const createTtl = (flags: number, ttl: bigint) => [text('/f/t'), bytes(Buffer.from('x')), vec([[rec('acl', [i32(31), text('world'), text('anyone')])]]), i32(flags), i64(ttl)];
  const multiOf = (...ops: [number, Field[]][]) => frameOf([i32(7), i32(Op.multi), ...ops.map(([type, f]) => rec('multiOp', [i32(type), u8(0), i32(-1), ...f])), rec('multiEnd', [i32(-1), u8(1), i32(-1)])]);

  it('are createTTLs with a mode that is not a TTL mode and a negative ttl, alone or in a multi; their siblings are sent', () => {
    for (const flags of [CreateFlag.persistent, CreateFlag.ephemeral, CreateFlag.container]) {
      expect(stopsZooKeeper(frameOf([i32(7), i32(Op.createTTL), ...createTtl(flags, -1n)]))).not.toBeNull();
      expect(stopsZooKeeper(multiOf([Op.check, [text('/f'), i32(-1)]], [Op.createTTL, createTtl(flags, -0x8000000000000000n)]))).not.toBeNull();
    }
    for (const [flags, ttl] of [[CreateFlag.persistentWithTtl, 1000n], [CreateFlag.persistentWithTtl, -1n], [CreateFlag.persistent, 0n], [CreateFlag.persistent, 1000n], [-1, -1n], [7, -1n]] as const) {
      expect(stopsZooKeeper(frameOf([i32(7), i32(Op.createTTL), ...createTtl(flags, ttl)])), `flags ${flags} ttl ${ttl}`).toBeNull();
      expect(stopsZooKeeper(multiOf([Op.createTTL, createTtl(flags, ttl)])), `flags ${flags} ttl ${ttl}`).toBeNull();
    }
    // the same record under another opcode, or cut short
    expect(stopsZooKeeper(frameOf([i32(7), i32(Op.create2), ...createTtl(CreateFlag.persistent, -1n)]))).toBeNull();
    expect(stopsZooKeeper(frameOf([i32(7), i32(Op.createTTL), ...createTtl(CreateFlag.persistent, -1n)]).subarray(0, 40))).toBeNull();
  });

  it('are no unmutated frame', () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    for (let i = 0; i < 10_000; i++) {
      const frame = requestFrame(random, i % 2 === 0 ? Op.createTTL : Op.multi, i + 1);
      expect(stopsZooKeeper(frameOf(frame.fields)), `seed ${seed}, frame ${i}`).toBeNull();
    }
  });
});

describe('unmutated frames are records both servers read', () => {
  const servers: ServerHandle[] = [];

  beforeAll(async () => {
    servers.push(...(await Promise.all((['zookeeper', 'zooid'] as const).map((kind) => startServer(kind, {
      config: { 'zookeeper.extendedTypesEnabled': 'true' }, systemProperties: { 'zookeeper.extendedTypesEnabled': 'true' },
    })))));
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  /** Sends `perOpcode` valid frames of every opcode; returns the error codes seen per opcode ('none': not answered within ANSWER_DEADLINE_MS). */
  async function errorsByOpcode(server: ServerHandle, seed: number, perOpcode: number): Promise<Record<string, (number | 'none')[]>> {
    const random = seededRandom(seed);
    const seen: Record<string, (number | 'none')[]> = {};
    let c = await connectWhenServing(server);
    let xid = 1;
    for (const op of REQUEST_RECORDS.keys()) {
      // closeSession ends the connection; createSession and deleteContainer are the server's own (its record for them is its guess)
      if (op === Op.closeSession || op === Op.createSession || op === Op.deleteContainer) continue;
      const codes = (seen[OP_NAMES.get(op)!] ??= []);
      for (let i = 0; i < perOpcode; i++) {
        const frame = requestFrame(random, op, xid++);
        const answer = c.call(op, (w) => encodeFields(w, frame.fields.slice(2)), () => Err.OK, OP_NAMES.get(op)!, (frame.fields[0] as { v: number }).v)
          .catch((e: unknown) => (e instanceof ZkError ? e.code : Promise.reject(e)));
        // ZooKeeper 3.8 never answers a check outside a multi
        const code = await withDeadline(answer, ANSWER_DEADLINE_MS, 'an answer').catch((e: unknown) => (e instanceof WaitTimeoutError ? 'none' as const : Promise.reject(e)));
        if (!codes.includes(code)) codes.push(code);
        if (code === 'none') c.disconnect();
        // a failed auth, an unknown opcode (ZooKeeper) or a sasl without SASL close the connection: go on with a new one
        if (c.isClosed) c = await LeanClient.connect({ host: '127.0.0.1', port: server.port });
      }
    }
    await c.close();
    return seen;
  }

  it('neither ZooKeeper 3.8 nor zooid answers MARSHALLINGERROR to any unmutated record', { timeout: 120_000 }, async () => {
    const seed = testSeed();
    for (const server of servers) {
      const seen = await errorsByOpcode(server, seed, 15);
      console.log(`${server.kind}, seed ${seed}: error codes by opcode ${JSON.stringify(seen)}`);
      const unparsed = Object.entries(seen).filter(([, codes]) => codes.includes(Err.MARSHALLINGERROR)).map(([op]) => op);
      expect(unparsed, `${server.kind} could not read these records (seed ${seed})`).toEqual([]);
      if (server.kind === 'zooid') expect(Object.entries(seen).filter(([, codes]) => codes.includes('none')).map(([op]) => op), `zooid left these unanswered (seed ${seed})`).toEqual([]);
    }
  });
});

async function shortRun(target: ServerKind, frameCount: number): Promise<{ result: FuzzRunResult; report: string }> {
  const seed = testSeed();
  const lines: string[] = [];
  const result = await runFuzz({
    ...DEFAULT_RUN_OPTIONS, target, seed, frameCount, warmupFrameCount: Math.round(frameCount * 0.05), log: (line) => lines.push(line),
  });
  const report = `fuzz seed ${seed} (TEST_SEED=${seed} replays its frames)\n${lines.join('\n')}\n${summarize(result)}` +
    (result.serverLogTail !== undefined ? `\nserver log (end):\n${result.serverLogTail}` : '');
  console.log(report);
  return { result, report };
}

/** The run did what it claims: frames of every opcode, sessions, replies, a control client at work. */
function expectExercised(result: FuzzRunResult, frameCount: number, report: string): void {
  expect(result.frames, report).toBeGreaterThanOrEqual(frameCount);
  for (const op of REQUEST_RECORDS.keys()) expect(result.fuzzer.byOpcode[OP_NAMES.get(op)!] ?? 0, `${OP_NAMES.get(op)} frames\n${report}`).toBeGreaterThan(0);
  expect(result.fuzzer.byOpcode.fourLetterWord ?? 0, report).toBeGreaterThan(0);
  expect(result.fuzzer.sessionsOpened, report).toBeGreaterThan(100);
  expect(result.fuzzer.desynchronised, report).toBeGreaterThan(0);
  expect(result.control.rounds, report).toBeGreaterThan(10);
  // both watches of every round fired (a round retried after a reconnect may count some twice)
  expect(result.control.watchEvents, report).toBeGreaterThanOrEqual(2 * result.control.rounds);
}

describe('short fuzz runs', () => {
  it(`zooid survives ${ZOOID_FRAMES} fuzzed frames: still serving, control data and watches right, no stall, memory within the bound`, { timeout: 300_000 }, async () => {
    const { result, report } = await shortRun('zooid', ZOOID_FRAMES);
    expect(result.verdict, report).toBe('ok');
    expectExercised(result, ZOOID_FRAMES, report);
    // most frames were read and answered (the rest: a connection closed under them, or a lying length)
    expect(result.fuzzer.replies, report).toBeGreaterThan(ZOOID_FRAMES * 0.4);
    expect(result.control.reconnects, report).toBe(0);
    expect(result.fuzzer.stalls, report).toBe(0);
  });

  it(`Apache ZooKeeper 3.8 (the control) survives ${ZOOKEEPER_FRAMES} fuzzed frames`, { timeout: 300_000 }, async () => {
    const { result, report } = await shortRun('zookeeper', ZOOKEEPER_FRAMES);
    // its own ways are recorded, not failed: connections closed on a wrong-password reconnect or an unknown
    // opcode, requests left unanswered, a JVM heap that does not shrink
    expect(result.verdict, report).toBe('ok');
    expectExercised(result, ZOOKEEPER_FRAMES, report);
  });
});
