// The fuzzing connections (issue 12, fuzzing): `slotCount` connections at once, each
// replaced by a new one when it ends, until `frameCount` frames have been written.
//
// A connection is either a four-letter word (4 bytes, or stmk's 12) or a session: a
// ConnectRequest (a new session, one the fuzzer opened before and now moves here, the
// control client's session with a wrong password, or a mutated one), then batches of
// request frames written back to back without waiting for replies, and at the end of its
// budget a closeSession, a FIN or a reset. Each frame is valid, structure-mutated
// (mutate.ts) or byte-mutated; a batch is sometimes split across writes at random points.
// Replies are read and framed (the server must not be left with nobody reading), their
// error codes counted; ConnectResponses give sessions to resume later.
//
// Every connection's frames come from a Random derived from the run seed and the
// connection's number, so a connection's stream can be regenerated; which connection
// the server sees when depends on timing.
import net from 'node:net';
import { setImmediate as yieldTurn } from 'node:timers/promises';
import { JuteWriter } from '../../native-free-io/jute.ts';
import { Op } from '../../engine/protocol.ts';
import { deriveSeed, seededRandom, type Random } from '../../loadgen/random.ts';
import { connectFrame, encodeFrame, intBelow, pick, pickOpcode, requestFrame, wordFrame, xidFor, randomBytes, type Frame, type SessionCredentials } from './records.ts';
import { mutateBytes, mutateStructure } from './mutate.ts';

export interface FuzzerOptions {
  host: string;
  port: number;
  seed: number;
  frameCount: number;
  /** Connections open at once. */
  slotCount: number;
  /** Source addresses 127.0.0.2 … 127.0.0.(1 + this): each stays under maxClientCnxns (60), and the control client's 127.0.0.1 is never crowded out. */
  sourceAddressCount: number;
  juteMaxBufferBytes: number;
  /** The session timeout fuzzed ConnectRequests ask for (the server clamps it to its bounds). */
  sessionTimeoutMs: number;
  /** A session the fuzzers must not be able to take: ConnectRequests with its id and a wrong password. */
  protectedSessionId: bigint;
  /** A connection that cannot write (the server stopped reading it) this long is dropped and counted. */
  stallMs: number;
  /** Shares of frames: valid, structure-mutated, byte-mutated (the rest). */
  validShare: number;
  structureShare: number;
}

export const DEFAULT_FUZZER_OPTIONS: Omit<FuzzerOptions, 'host' | 'port' | 'seed' | 'frameCount' | 'protectedSessionId'> = {
  slotCount: 48,
  sourceAddressCount: 8,
  juteMaxBufferBytes: 0xfffff,
  sessionTimeoutMs: 4_000,
  stallMs: 15_000,
  validShare: 0.45,
  structureShare: 0.45,
};

export interface FuzzerStats {
  framesWritten: number;
  bytesWritten: number;
  connections: number;
  wordConnections: number;
  sessionsOpened: number;
  sessionsRefused: number;
  resumeAttempts: number;
  protectedAttempts: number;
  /** The protected session was handed to a fuzzer: a breach. */
  protectedTaken: number;
  closedByServer: number;
  stalls: number;
  replies: number;
  events: number;
  /** Replies by error code. */
  errors: Record<string, number>;
  /** Frames by opcode as generated (before mutation swapped any). */
  byOpcode: Record<string, number>;
}

/** How a connection ends once its frame budget is spent. */
type Ending = 'closeSession' | 'fin' | 'reset';

/** Largest batch of frames per write. */
const BATCH_FRAMES_MAX = 32;
/** Mean frames per session connection (geometric). */
const CONNECTION_FRAMES_MEAN = 400;
/** Sessions kept to resume later. */
const KNOWN_SESSIONS_MAX = 64;

const OP_NAMES = new Map<number, string>(Object.entries(Op).map(([name, code]) => [code, name]));

export class Fuzzer {
  readonly stats: FuzzerStats = {
    framesWritten: 0, bytesWritten: 0, connections: 0, wordConnections: 0, sessionsOpened: 0, sessionsRefused: 0, resumeAttempts: 0,
    protectedAttempts: 0, protectedTaken: 0, closedByServer: 0, stalls: 0, replies: 0, events: 0, errors: {}, byOpcode: {},
  };
  private readonly o: FuzzerOptions;
  private readonly known: SessionCredentials[] = [];
  /** Which known session a new one replaces (seeded, apart from the connections' streams). */
  private readonly replace: Random;
  private readonly w = new JuteWriter(256 * 1024);
  private readonly open = new Set<net.Socket>();
  private nextConnection = 0;
  private stopped = false;

  constructor(o: FuzzerOptions) {
    this.o = o;
    this.replace = seededRandom(deriveSeed(o.seed, 0xfffffff0));
  }

  /** Runs until frameCount frames are written (or stop()); resolves once every connection is closed. */
  async run(onProgress?: (framesWritten: number) => void): Promise<void> {
    const slots = Array.from({ length: this.o.slotCount }, async (_, slot) => {
      while (!this.stopped && this.stats.framesWritten < this.o.frameCount) {
        await this.connection(slot, this.nextConnection++);
        onProgress?.(this.stats.framesWritten);
      }
    });
    await Promise.all(slots);
  }

  /** Stops the run: open connections are reset. */
  stop(): void {
    this.stopped = true;
    for (const s of this.open) s.destroy();
  }

  private count(map: Record<string, number>, key: string): void {
    map[key] = (map[key] ?? 0) + 1;
  }

  /** One connection, from connect to close. */
  private async connection(slot: number, index: number): Promise<void> {
    const random = seededRandom(deriveSeed(this.o.seed, index));
    const localAddress = `127.0.0.${2 + (slot % this.o.sourceAddressCount)}`;
    const socket = net.connect({ host: this.o.host, port: this.o.port, localAddress, noDelay: true });
    this.open.add(socket);
    this.stats.connections++;
    let closed = false;
    let drained: (() => void) | null = null;
    const closedPromise = new Promise<void>((resolve) => socket.once('close', () => {
      closed = true;
      this.open.delete(socket);
      drained?.();
      resolve();
    }));
    socket.on('error', () => undefined);
    socket.on('drain', () => drained?.());
    const connected = await new Promise<boolean>((resolve) => {
      socket.once('connect', () => resolve(true));
      socket.once('close', () => resolve(false));
    });
    if (!connected) return;

    const write = async (bytes: Buffer): Promise<boolean> => {
      if (closed) return false;
      this.stats.bytesWritten += bytes.length;
      if (socket.write(bytes)) return true;
      const ok = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), this.o.stallMs);
        drained = () => {
          clearTimeout(timer);
          resolve(!closed);
        };
      });
      drained = null;
      if (!ok && !closed) {
        this.stats.stalls++;
        socket.destroy();
      }
      return ok;
    };

    if (random() < 0.02) {
      // a four-letter word: the server answers and closes
      this.stats.wordConnections++;
      socket.on('data', () => undefined);
      const w = this.w.reset();
      const frame = wordFrame(random);
      encodeFrame(w, frame);
      if (random() < 0.05) mutateBytesOfWord(random, w);
      this.stats.framesWritten++;
      this.count(this.stats.byOpcode, 'fourLetterWord');
      await write(w.copy());
      await Promise.race([closedPromise, new Promise<void>((resolve) => setTimeout(resolve, this.o.stallMs).unref())]);
      if (!closed) socket.destroy();
      await closedPromise;
      return;
    }

    this.readReplies(socket);
    const w = this.w.reset();
    encodeConnect(this, random, w);
    this.stats.framesWritten++;
    let budget = 1 + Math.floor(-Math.log(1 - random()) * CONNECTION_FRAMES_MEAN);
    let xid = 1;
    let first = true;
    while (!closed && !this.stopped && budget > 0 && this.stats.framesWritten < this.o.frameCount) {
      if (!first) this.w.reset();
      first = false;
      const batch = Math.min(budget, 1 + intBelow(random, BATCH_FRAMES_MAX));
      for (let i = 0; i < batch; i++) {
        this.frame(random, xid++);
        budget--;
      }
      if (!(await this.writeBatch(random, write))) break;
      await yieldTurn();
    }
    if (!closed) {
      const ending: Ending = pick(random, ['closeSession', 'closeSession', 'closeSession', 'fin', 'reset']);
      if (ending === 'closeSession') {
        const w2 = this.w.reset();
        encodeFrame(w2, requestFrame(random, Op.closeSession, xid++));
        this.stats.framesWritten++;
        await write(w2.copy());
        socket.end();
      } else if (ending === 'fin') socket.end();
      else socket.resetAndDestroy();
      // the server closes its side (after closeSession or our FIN); a reset is already closed
      await Promise.race([closedPromise, new Promise<void>((resolve) => setTimeout(resolve, this.o.stallMs).unref())]);
      if (!closed) {
        this.stats.stalls++;
        socket.destroy();
      }
    } else {
      this.stats.closedByServer++;
    }
    await closedPromise;
  }

  /** Writes the batch in this.w: one write, or 2–4 cut at random points. */
  private async writeBatch(random: Random, write: (b: Buffer) => Promise<boolean>): Promise<boolean> {
    const bytes = this.w.copy();
    if (random() < 0.9 || bytes.length < 8) return write(bytes);
    const cuts = [0, ...Array.from({ length: 1 + intBelow(random, 3) }, () => intBelow(random, bytes.length)).sort((a, b) => a - b), bytes.length];
    for (let i = 1; i < cuts.length; i++) {
      if (cuts[i] > cuts[i - 1] && !(await write(bytes.subarray(cuts[i - 1], cuts[i])))) return false;
    }
    return true;
  }

  /** Appends one request frame (valid or mutated) to this.w. */
  private frame(random: Random, xid: number): void {
    const op = random() < 0.02 ? (random() < 0.5 ? intBelow(random, 130) - 15 : (random() * 0x1_0000_0000) | 0) : pickOpcode(random);
    const frame: Frame = OP_NAMES.has(op) && op !== Op.notification && op !== Op.error
      ? requestFrame(random, op, xid)
      : { kind: 'request', op, fields: [{ k: 'i32', v: xidFor(op, xid) }, { k: 'i32', v: op }, { k: 'raw', v: randomBytes(random, intBelow(random, 32)) }] };
    this.count(this.stats.byOpcode, OP_NAMES.get(op) ?? 'unknown');
    const x = random();
    if (x >= this.o.validShare && x < this.o.validShare + this.o.structureShare) mutateStructure(random, frame);
    const at = this.w.offset;
    encodeFrame(this.w, frame);
    if (x >= this.o.validShare + this.o.structureShare) mutateBytes(random, this.w, at, this.o.juteMaxBufferBytes);
    this.stats.framesWritten++;
  }

  /** Frames what the server sends back: the ConnectResponse first, then replies and events. */
  private readReplies(socket: net.Socket): void {
    let pending: Buffer | null = null;
    let handshaken = false;
    socket.on('data', (chunk: Buffer) => {
      const b: Buffer = pending === null ? chunk : Buffer.concat([pending, chunk]);
      let off = 0;
      while (b.length - off >= 4) {
        const len = b.readInt32BE(off);
        if (len < 0) {
          socket.destroy();
          return;
        }
        if (b.length - off - 4 < len) break;
        const body = b.subarray(off + 4, off + 4 + len);
        off += 4 + len;
        if (!handshaken) {
          handshaken = true;
          this.onConnectResponse(body);
        } else if (body.length >= 16) {
          const xidValue = body.readInt32BE(0);
          if (xidValue === -1) this.stats.events++;
          else {
            this.stats.replies++;
            this.count(this.stats.errors, String(body.readInt32BE(12)));
          }
        }
      }
      pending = off === b.length ? null : Buffer.from(b.subarray(off));
    });
  }

  private onConnectResponse(body: Buffer): void {
    // ConnectResponse {protocolVersion, timeOut, sessionId, passwd, readOnly}
    if (body.length < 20) return;
    const timeoutMs = body.readInt32BE(4);
    const sessionId = body.readBigInt64BE(8);
    if (timeoutMs <= 0) {
      this.stats.sessionsRefused++;
      return;
    }
    this.stats.sessionsOpened++;
    if (sessionId === this.o.protectedSessionId) this.stats.protectedTaken++;
    const passwdLength = body.readInt32BE(16);
    if (passwdLength < 0 || 20 + passwdLength > body.length) return;
    const creds = { sessionId, passwd: Buffer.from(body.subarray(20, 20 + passwdLength)) };
    if (this.known.length < KNOWN_SESSIONS_MAX) this.known.push(creds);
    else this.known[intBelow(this.replace, KNOWN_SESSIONS_MAX)] = creds;
  }

  /** Credentials for a ConnectRequest: a new session, a known one, or the protected one with a wrong password. */
  resumeChoice(random: Random): SessionCredentials | null {
    const x = random();
    if (x < 0.05 && this.known.length > 0) {
      this.stats.resumeAttempts++;
      return this.known[intBelow(random, this.known.length)];
    }
    if (x < 0.07 && this.o.protectedSessionId !== 0n) {
      this.stats.protectedAttempts++;
      return { sessionId: this.o.protectedSessionId, passwd: randomBytes(random, 16) };
    }
    return null;
  }

  get options(): FuzzerOptions {
    return this.o;
  }
}

/** The ConnectRequest that opens a session connection, mutated 1 time in 30. */
function encodeConnect(f: Fuzzer, random: Random, w: JuteWriter): void {
  const frame = connectFrame(random, f.resumeChoice(random), random() < 0.9 ? f.options.sessionTimeoutMs : intBelow(random, 120_000));
  const x = random();
  if (x < 0.02) mutateStructure(random, frame);
  const at = w.offset;
  encodeFrame(w, frame);
  if (x >= 0.02 && x < 0.033) mutateBytes(random, w, at, f.options.juteMaxBufferBytes);
}

/** A word with a byte changed, or cut short (the server waits for the rest, then times the connection out). */
function mutateBytesOfWord(random: Random, w: JuteWriter): void {
  if (random() < 0.5) w.buf[intBelow(random, w.offset)] ^= 1 + intBelow(random, 255);
  else w.offset = intBelow(random, w.offset);
}
