// ZooKeeper's large request limit (ZooKeeperServer, zookeeper.largeRequestThreshold and
// zookeeper.largeRequestMaxBytes): requests over the threshold may hold at most
// largeRequestMaxBytes of the server between them; one that would go over closes its
// connection, as ZooKeeper's "Rejecting large request" IOException does. Off unless the
// threshold is set (-1, the default).
//
// Two checks, as ZooKeeper makes them:
//  - admits(): a frame's length (its 8-byte request header included) as soon as it is known,
//    before the rest is read (checkRequestSizeWhenReceivingMessage, NIOServerCnxn.readLength);
//    connect frames too;
//  - take(): a whole request's body (after the header) is counted in
//    (checkRequestSizeWhenMessageReceived, processPacket) until it is answered or its
//    connection closes (requestFinished). Auth and SASL packets are not counted (processPacket
//    does not count them), nor frames with an xid of 0 or below (pings, setWatches), whose
//    replies the io worker does not pair with requests.
//
// The count is one shared word (IO words, engine/records.ts): the io workers add to it.
import { IO_LARGE_REQUEST_BYTES } from '../records.ts';
import { Op } from '../protocol.ts';

/** Off: ZooKeeper's largeRequestThreshold default. */
export const LARGE_REQUEST_THRESHOLD_OFF = -1;
/** RequestHeader {int xid, int type}: what ZooKeeper's processPacket reads before it counts the rest. */
const REQUEST_HEADER_BYTES = 8;

export class LargeRequests {
  private readonly words: Int32Array;
  private readonly thresholdBytes: number;
  private readonly maxBytes: number;

  /** `thresholdBytes`: -1 (off) or above 0; `maxBytes`: above 0 (the config checks both, as ZooKeeper's setters). */
  constructor(ioWords: Int32Array, thresholdBytes: number, maxBytes: number) {
    if (!(thresholdBytes === LARGE_REQUEST_THRESHOLD_OFF || thresholdBytes > 0)) throw new RangeError(`largeRequestThreshold ${thresholdBytes}: -1 or above 0`);
    if (!(maxBytes > 0)) throw new RangeError(`largeRequestMaxBytes ${maxBytes}: above 0`);
    this.words = ioWords;
    this.thresholdBytes = thresholdBytes;
    this.maxBytes = maxBytes;
  }

  private isLarge(bytes: number): boolean {
    return this.thresholdBytes !== LARGE_REQUEST_THRESHOLD_OFF && bytes > this.thresholdBytes;
  }

  /** Whether a frame of `frameBytes` (after its length prefix) may be read. */
  admits(frameBytes: number): boolean {
    return !this.isLarge(frameBytes) || Atomics.load(this.words, IO_LARGE_REQUEST_BYTES) + frameBytes <= this.maxBytes;
  }

  /**
   * The bytes a request frame counts while in process: its body when it is large and
   * counted (xid above 0, not auth or SASL), else 0. -1 when counting it would go over the
   * limit (nothing counted: the connection is to close).
   */
  take(frame: Buffer): number {
    if (frame.length < REQUEST_HEADER_BYTES) return 0;
    const bodyBytes = frame.length - REQUEST_HEADER_BYTES;
    if (!this.isLarge(bodyBytes) || frame.readInt32BE(0) <= 0) return 0;
    const op = frame.readInt32BE(4);
    if (op === Op.auth || op === Op.sasl) return 0;
    if (Atomics.add(this.words, IO_LARGE_REQUEST_BYTES, bodyBytes) + bodyBytes > this.maxBytes) {
      Atomics.sub(this.words, IO_LARGE_REQUEST_BYTES, bodyBytes);
      return -1;
    }
    return bodyBytes;
  }

  /** A counted request was answered, or its connection closed. */
  release(bodyBytes: number): void {
    if (bodyBytes > 0) Atomics.sub(this.words, IO_LARGE_REQUEST_BYTES, bodyBytes);
  }

  /** Bytes of large requests in process on every io worker. */
  inProcessBytes(): number {
    return Atomics.load(this.words, IO_LARGE_REQUEST_BYTES);
  }
}
