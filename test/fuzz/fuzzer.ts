// The fuzzing connections (issue 12, fuzzing): `slotCount` connections at once, each
// replaced by a new one when it ends, until `frameCount` frames have been written.
//
// A connection is either a four-letter word (4 bytes, or stmk's 12, then FIN) or a
// session: a ConnectRequest (a new session, one the fuzzer opened before and now moves
// here, the control client's session with a wrong password, or a mutated one), then
// batches of request frames written back to back, and at the end of its budget a
// closeSession, a FIN or a reset. Each frame is valid, structure-mutated or byte-mutated
// (mutate.ts); a batch is sometimes split across writes at random points.
//
// Flow control: every well-framed request is answered (a reply, possibly an error) or
// its connection is closed, so a connection keeps at most WINDOW_FRAMES unanswered and
// waits for replies before writing more: the frames counted are frames the server reads,
// not bytes left in socket buffers. A server that leaves requests unanswered for stallMs
// is counted (stalls) and the connection dropped. A frame whose length prefix lies ends
// its connection (FIN after it): the server cuts the stream elsewhere from there on.
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
  /** A protected session: ConnectRequests with its id and a wrong password must not get it. */
  protectedSessionId: bigint;
  /** A connection whose requests stay unanswered (or that cannot write) this long is dropped and counted. */
  stallMs: number;
  /** Shares of frames: valid, structure-mutated, byte-mutated (the rest). */
  validShare: number;
  structureShare: number;
  /** Share of ConnectRequests that ask for the protected session with a wrong password. */
  protectedShare: number;
  /** Says why a request frame (length prefix first) must not be sent, or null: frames that stop the target itself (zookeeper-bugs.ts). */
  withhold: ((frame: Buffer) => string | null) | null;
}

export const DEFAULT_FUZZER_OPTIONS: Omit<FuzzerOptions, 'host' | 'port' | 'seed' | 'frameCount' | 'protectedSessionId'> = {
  slotCount: 48,
  sourceAddressCount: 8,
  juteMaxBufferBytes: 0xfffff,
  sessionTimeoutMs: 4_000,
  stallMs: 15_000,
  validShare: 0.45,
  structureShare: 0.45,
  protectedShare: 0.002,
  withhold: null,
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
  /** Connections the server closed before their budget was spent. */
  closedByServer: number;
  /** What those connections had sent that the server did not answer first (opcode; '~' structure-mutated, '#' byte-mutated). */
  closedOn: Record<string, number>;
  /** Connections ended right after a frame whose length prefix lied. */
  desynchronised: number;
  /** Connections dropped because the server left requests unanswered (or unread) for stallMs. */
  stalls: number;
  /** What the stalled connections had sent last (opcodes), for a look. */
  stalledAfter: string[];
  replies: number;
  events: number;
  /** Replies by error code. */
  errors: Record<string, number>;
  /** Request frames by opcode as generated (before a mutation swapped it). */
  byOpcode: Record<string, number>;
  /** Frames generated and not sent, by the reason `withhold` gave. */
  withheld: Record<string, number>;
}

/** Largest batch of frames per write. */
const BATCH_FRAMES_MAX = 16;
/**
 * Unanswered requests a connection may have before it waits for replies: small, because a
 * server that closes the connection (a failed auth, a request it will not read) drops the
 * replies to what it had read, and so many frames are not known to have been read.
 */
const WINDOW_FRAMES = 16;
/** Mean frames per session connection (geometric). */
const CONNECTION_FRAMES_MEAN = 400;
/** Sessions kept to resume later. */
const KNOWN_SESSIONS_MAX = 64;
/** Stalled connections whose last opcodes are kept. */
const STALLS_KEPT_MAX = 20;

const AUTH_FAILED = -115;

const OP_NAMES = new Map<number, string>(Object.entries(Op).map(([name, code]) => [code, name]));

/** One connection's state, shared by its writer loop and its reply reader. */
interface Conn {
  socket: net.Socket;
  closed: boolean;
  /** Well-framed requests written and not answered (their opcodes, '~' structure-mutated, '#' byte-mutated), oldest first. */
  inFlight: string[];
  /** We ended it (closeSession, FIN, reset, a lying frame): a close that follows is not the server's doing. */
  ending: boolean;
  /** The answered request that made the server close the connection (closeSession, a failed auth). */
  closer: string | null;
  /** A ConnectResponse opened a session. */
  sessionOpen: boolean;
  /** Wakes the writer (a reply, a drain, the close). */
  wake: (() => void) | null;
}

export class Fuzzer {
  readonly stats: FuzzerStats = {
    framesWritten: 0, bytesWritten: 0, connections: 0, wordConnections: 0, sessionsOpened: 0, sessionsRefused: 0, resumeAttempts: 0,
    protectedAttempts: 0, protectedTaken: 0, closedByServer: 0, closedOn: {}, desynchronised: 0, stalls: 0, stalledAfter: [], replies: 0, events: 0,
    errors: {}, byOpcode: {}, withheld: {},
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
  async run(): Promise<void> {
    const slots = Array.from({ length: this.o.slotCount }, async (_, slot) => {
      while (!this.stopped && this.stats.framesWritten < this.o.frameCount) await this.connection(slot, this.nextConnection++);
    });
    await Promise.all(slots);
  }

  /** Stops the run: open connections are reset. */
  stop(): void {
    this.stopped = true;
    for (const s of this.open) s.destroy();
  }

  private get done(): boolean {
    return this.stopped || this.stats.framesWritten >= this.o.frameCount;
  }

  private count(map: Record<string, number>, key: string): void {
    map[key] = (map[key] ?? 0) + 1;
  }

  /** Resolves when ready() holds, the connection closed, or stallMs passed (false). */
  private async until(c: Conn, ready: () => boolean): Promise<boolean> {
    const deadlineMs = performance.now() + this.o.stallMs;
    while (!ready() && !c.closed) {
      const leftMs = deadlineMs - performance.now();
      if (leftMs <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, leftMs);
        c.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      c.wake = null;
    }
    return true;
  }

  private stalled(c: Conn, lastOps: string): void {
    this.stats.stalls++;
    c.ending = true;
    if (this.stats.stalledAfter.length < STALLS_KEPT_MAX) this.stats.stalledAfter.push(lastOps);
    c.socket.destroy();
  }

  /** Writes bytes; waits (bounded) while the socket is full. False when the connection is gone. */
  private async write(c: Conn, bytes: Buffer, lastOps: string): Promise<boolean> {
    if (c.closed) return false;
    this.stats.bytesWritten += bytes.length;
    if (c.socket.write(bytes)) return true;
    if (!(await this.until(c, () => c.socket.writableLength === 0))) {
      this.stalled(c, `write of ${lastOps}`);
      return false;
    }
    return !c.closed;
  }

  /** One connection, from connect to close. */
  private async connection(slot: number, index: number): Promise<void> {
    const random = seededRandom(deriveSeed(this.o.seed, index));
    const localAddress = `127.0.0.${2 + (slot % this.o.sourceAddressCount)}`;
    const socket = net.connect({ host: this.o.host, port: this.o.port, localAddress, noDelay: true });
    const c: Conn = { socket, closed: false, inFlight: [], ending: false, closer: null, sessionOpen: false, wake: null };
    this.open.add(socket);
    this.stats.connections++;
    const closedPromise = new Promise<void>((resolve) => socket.once('close', () => {
      c.closed = true;
      if (!c.ending && !this.stopped) {
        // the request the server was reading when it closed: the oldest unanswered one
        this.stats.closedByServer++;
        this.count(this.stats.closedOn, c.closer ?? c.inFlight[0] ?? (c.sessionOpen ? 'nothing in flight' : 'ConnectRequest'));
      }
      this.open.delete(socket);
      c.wake?.();
      resolve();
    }));
    socket.on('error', () => undefined);
    socket.on('drain', () => c.wake?.());
    const connected = await new Promise<boolean>((resolve) => {
      socket.once('connect', () => resolve(true));
      socket.once('close', () => resolve(false));
    });
    if (!connected) return;
    if (random() < 0.02) await this.word(c, random);
    else await this.session(c, random);
    if (!c.closed) {
      // the server closes its side after closeSession, a FIN or a word
      if (!(await this.until(c, () => false))) this.stalled(c, 'close');
    }
    await closedPromise;
  }

  /** A four-letter word, as nc sends it: the word, then FIN. */
  private async word(c: Conn, random: Random): Promise<void> {
    this.stats.wordConnections++;
    c.ending = true; // the server answers and closes
    c.socket.on('data', () => undefined);
    const w = this.w.reset();
    encodeFrame(w, wordFrame(random));
    if (random() < 0.05) {
      // a byte changed, or cut short
      if (random() < 0.5) w.buf[intBelow(random, w.offset)] ^= 1 + intBelow(random, 255);
      else w.offset = intBelow(random, w.offset);
    }
    this.stats.framesWritten++;
    this.count(this.stats.byOpcode, 'fourLetterWord');
    if (await this.write(c, w.copy(), 'a four-letter word')) c.socket.end();
  }

  private async session(c: Conn, random: Random): Promise<void> {
    this.readReplies(c);
    let desynchronised = this.connectRequest(random, this.w.reset());
    this.stats.framesWritten++;
    let budget = 1 + Math.floor(-Math.log(1 - random()) * CONNECTION_FRAMES_MEAN);
    let xid = 1;
    let lastOps = 'connect';
    let first = true;
    while (!c.closed && !desynchronised && budget > 0 && !this.done) {
      // this.w is shared by all connections: reset it after any wait, right before this batch
      if (!first) {
        if (!(await this.answered(c, WINDOW_FRAMES, lastOps))) return;
        this.w.reset();
      }
      first = false;
      const batch = Math.min(budget, 1 + intBelow(random, BATCH_FRAMES_MAX));
      const ops: string[] = [];
      let lyingAt = -1;
      for (let i = 0; i < batch && lyingAt < 0; i++) {
        budget--;
        const written = this.frame(random, xid++);
        if (written === null) continue;
        const { op, at, desynchronising } = written;
        ops.push(op);
        if (desynchronising) lyingAt = at;
        else c.inFlight.push(op);
      }
      lastOps = ops.join(',');
      if (lyingAt >= 0) {
        // what comes before the lying frame is answered first: only the lying frame is lost
        desynchronised = true;
        const lying = Buffer.from(this.w.buf.subarray(lyingAt, this.w.offset));
        this.w.offset = lyingAt;
        if (lyingAt > 0 && !(await this.writeBatch(c, random, lastOps))) return;
        if (!(await this.answered(c, 0, lastOps)) || !(await this.write(c, lying, lastOps))) return;
      } else if (!(await this.writeBatch(c, random, lastOps))) return;
      await yieldTurn();
    }
    if (c.closed) return;
    if (desynchronised) {
      this.stats.desynchronised++;
      c.ending = true;
      c.socket.end();
      return;
    }
    // every request answered before the connection ends, so all of them are known to be read
    if (!(await this.answered(c, 0, lastOps)) || c.closed) return;
    const ending = pick(random, ['closeSession', 'closeSession', 'closeSession', 'fin', 'reset'] as const);
    c.ending = true;
    if (ending === 'closeSession') {
      const w = this.w.reset();
      encodeFrame(w, requestFrame(random, Op.closeSession, xid++));
      this.stats.framesWritten++;
      if (await this.write(c, w.copy(), 'closeSession')) c.socket.end();
    } else if (ending === 'fin') c.socket.end();
    else c.socket.resetAndDestroy();
  }

  /** Waits (bounded) until at most `count` requests are unanswered; false when the connection is gone or stalled (then dropped). */
  private async answered(c: Conn, count: number, lastOps: string): Promise<boolean> {
    if (!(await this.until(c, () => c.inFlight.length <= count))) {
      this.stalled(c, `${c.inFlight.length} unanswered after ${lastOps}`);
      return false;
    }
    return !c.closed;
  }

  /** Writes the batch in this.w: one write, or 2–4 cut at random points. */
  private async writeBatch(c: Conn, random: Random, lastOps: string): Promise<boolean> {
    const bytes = this.w.copy();
    if (random() < 0.9 || bytes.length < 8) return this.write(c, bytes, lastOps);
    const cuts = [0, ...Array.from({ length: 1 + intBelow(random, 3) }, () => intBelow(random, bytes.length)).sort((a, b) => a - b), bytes.length];
    for (let i = 1; i < cuts.length; i++) {
      if (cuts[i] > cuts[i - 1] && !(await this.write(c, bytes.subarray(cuts[i - 1], cuts[i]), lastOps))) return false;
    }
    return true;
  }

  /** Appends one request frame (valid or mutated) to this.w at `at`; says whether its length prefix lies. Null: withheld. */
  private frame(random: Random, xid: number): { op: string; at: number; desynchronising: boolean } | null {
    const code = random() < 0.02 ? (random() < 0.5 ? intBelow(random, 130) - 15 : (random() * 0x1_0000_0000) | 0) : pickOpcode(random);
    const frame: Frame = OP_NAMES.has(code) && code !== Op.notification && code !== Op.error
      ? requestFrame(random, code, xid)
      : { kind: 'request', op: code, fields: [{ k: 'i32', v: xidFor(code, xid) }, { k: 'i32', v: code }, { k: 'raw', v: randomBytes(random, intBelow(random, 32)) }] };
    const op = OP_NAMES.get(code) ?? String(code);
    this.count(this.stats.byOpcode, OP_NAMES.has(code) ? op : 'unknown');
    const x = random();
    let mutation = '';
    if (x >= this.o.validShare && x < this.o.validShare + this.o.structureShare) {
      mutateStructure(random, frame);
      // a mutation may have put another opcode in the header: name the frame by what it now is
      mutation = frame.op === code ? '~' : `~>${OP_NAMES.get(frame.op) ?? frame.op}`;
    }
    const at = this.w.offset;
    encodeFrame(this.w, frame);
    let desynchronising = false;
    if (x >= this.o.validShare + this.o.structureShare) {
      desynchronising = mutateBytes(random, this.w, at, this.o.juteMaxBufferBytes);
      mutation = '#';
    }
    // (a frame whose length prefix lies is read elsewhere: not checked)
    const withheld = desynchronising || this.o.withhold === null ? null : this.o.withhold(this.w.buf.subarray(at, this.w.offset));
    if (withheld !== null) {
      this.w.offset = at;
      this.count(this.stats.withheld, withheld);
      return null;
    }
    this.stats.framesWritten++;
    return { op: op + mutation, at, desynchronising };
  }

  /** The ConnectRequest that opens a session connection, mutated 1 time in 30. True when its length prefix lies. */
  private connectRequest(random: Random, w: JuteWriter): boolean {
    const frame = connectFrame(random, this.resumeChoice(random), random() < 0.9 ? this.o.sessionTimeoutMs : intBelow(random, 120_000));
    const x = random();
    if (x < 0.02) mutateStructure(random, frame);
    const at = w.offset;
    encodeFrame(w, frame);
    return x >= 0.02 && x < 0.033 && mutateBytes(random, w, at, this.o.juteMaxBufferBytes);
  }

  /** Credentials for a ConnectRequest: a new session, a known one, or the protected one with a wrong password. */
  private resumeChoice(random: Random): SessionCredentials | null {
    const x = random();
    if (x < 0.05 && this.known.length > 0) {
      this.stats.resumeAttempts++;
      return this.known[intBelow(random, this.known.length)];
    }
    if (x < 0.05 + this.o.protectedShare && this.o.protectedSessionId !== 0n) {
      this.stats.protectedAttempts++;
      return { sessionId: this.o.protectedSessionId, passwd: randomBytes(random, 16) };
    }
    return null;
  }

  /** Frames what the server sends back: the ConnectResponse first, then replies and events. */
  private readReplies(c: Conn): void {
    let pending: Buffer | null = null;
    let handshaken = false;
    c.socket.on('data', (chunk: Buffer) => {
      const b: Buffer = pending === null ? chunk : Buffer.concat([pending, chunk]);
      let off = 0;
      while (b.length - off >= 4) {
        const len = b.readInt32BE(off);
        if (len < 0) {
          c.socket.destroy();
          return;
        }
        if (b.length - off - 4 < len) break;
        const body = b.subarray(off + 4, off + 4 + len);
        off += 4 + len;
        if (!handshaken) {
          handshaken = true;
          c.sessionOpen = this.onConnectResponse(body);
        } else if (body.length >= 16) {
          // a notification has xid -1 and zxid -1; a reply to a request sent with xid -1 has the server's zxid
          if (body.readInt32BE(0) === -1 && body.readBigInt64BE(4) === -1n) this.stats.events++;
          else {
            this.stats.replies++;
            const op = c.inFlight.shift();
            // AUTHFAILED and closeSession close the connection: those requests are the reason, not the next
            if (body.readInt32BE(12) === AUTH_FAILED) c.closer = `${op} (AUTHFAILED)`;
            else if (op?.startsWith('closeSession')) c.closer = op;
            this.count(this.stats.errors, String(body.readInt32BE(12)));
          }
        }
      }
      pending = off === b.length ? null : Buffer.from(b.subarray(off));
      c.wake?.();
    });
  }

  /** Notes a ConnectResponse {protocolVersion, timeOut, sessionId, passwd, readOnly}; true when it opened a session. */
  private onConnectResponse(body: Buffer): boolean {
    if (body.length < 20) return false;
    const timeoutMs = body.readInt32BE(4);
    const sessionId = body.readBigInt64BE(8);
    if (timeoutMs <= 0) {
      this.stats.sessionsRefused++;
      return false;
    }
    this.stats.sessionsOpened++;
    if (sessionId === this.o.protectedSessionId) this.stats.protectedTaken++;
    const passwdLength = body.readInt32BE(16);
    if (passwdLength < 0 || 20 + passwdLength > body.length) return true;
    const creds = { sessionId, passwd: Buffer.from(body.subarray(20, 20 + passwdLength)) };
    if (this.known.length < KNOWN_SESSIONS_MAX) this.known.push(creds);
    else this.known[intBelow(this.replace, KNOWN_SESSIONS_MAX)] = creds;
    return true;
  }
}
