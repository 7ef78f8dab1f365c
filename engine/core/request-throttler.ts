// ZooKeeper 3.8's RequestThrottler, as the gate in front of the pipeline's dispatch: a pure
// state machine. The pipeline worker asks it before taking a request off a request ring
// (mayTake), what to do with each request it took (admit), and how long it may park when a
// turn found nothing else to do (parkMs). Time comes in as a parameter (how long a request
// waited on its ring); what it reads of the server comes through ThrottlerView.
//
//   zookeeper.request_throttle_max_requests  requests in process (replies held for the
//                      log) at which no request is taken; 0 disables the throttler. A
//                      request left on its ring counts as in flight for the io workers'
//                      globalOutstandingLimit (engine/io/outstanding.ts).
//   zookeeper.request_throttle_stall_time    how long a stalled loop parks at most before
//                      it looks again (ZooKeeper's throttleSleep; a durable signal, which
//                      frees requests in process, rings the loop's doorbell sooner).
//   zookeeper.request_throttle_drop_stale    with the throttler on, a stale request is
//                      dropped and its connection closed (RequestThrottler.dropRequest);
//                      off, it is processed and counted (zk_stale_requests).
//   zookeeper.request_stale_latency_check    a request that waited longer than its
//                      session timeout is stale too (a closed connection's always is).
//   zookeeper.throttled_op_wait_time         a throttlable request that waited longer is
//                      answered THROTTLEDOP (zk_throttled_ops).
import { Op } from '../protocol.ts';
import { isThrottlable } from './opcodes.ts';
import type { PipelineCounters } from './pipeline.ts';

export interface RequestThrottlerOptions {
  maxRequests: number;
  stallTimeMs: number;
  dropStale: boolean;
  staleLatencyCheck: boolean;
  /** 0: off. */
  throttledOpWaitTimeMs: number;
}

/** What the throttler reads of the server. */
export interface ThrottlerView {
  /** Requests in process: replies the pipeline holds for the log (ZooKeeper's getInProcess). */
  inProcess(): number;
  /** The io worker has closed this connection (its closed-connection table: may miss, never lies). */
  connectionClosed(ioIndex: number, connId: number): boolean;
  /** The timeout of the session on this connection, -1 without one. */
  sessionTimeoutMsOf(key: number): number;
}

/** What admit() decides for one request. */
export const Throttle = {
  /** Dispatch it. */
  PROCEED: 0,
  /** Stale: drop it and close its connection, so its later requests go too and the session's order holds. */
  DROP: 1,
  /** It waited past throttled_op_wait_time: answer THROTTLEDOP. */
  THROTTLED_OP: 2,
} as const;
export type ThrottleVerdict = (typeof Throttle)[keyof typeof Throttle];

/** The counters it keeps (mntr's zk_stale_requests, zk_stale_requests_dropped, zk_request_throttle_wait_count). */
export type ThrottlerCounters = Pick<PipelineCounters, 'staleRequests' | 'staleRequestsDropped' | 'requestThrottleWaitCount'>;

/** A request's frame: RequestHeader {int xid, int type} first. */
const TYPE_OFFSET = 4;
const HEADER_BYTES = 8;

export class RequestThrottler {
  private readonly options: RequestThrottlerOptions;
  private readonly view: ThrottlerView;
  private readonly counters: ThrottlerCounters;
  /** A request was left on its ring this turn because maxRequests are in process. */
  private stalled = false;

  constructor(options: RequestThrottlerOptions, view: ThrottlerView, counters: ThrottlerCounters) {
    if (!(options.maxRequests >= 0 && options.stallTimeMs >= 0 && options.throttledOpWaitTimeMs >= 0)) {
      throw new RangeError('request throttler: limits must be >= 0');
    }
    this.options = options;
    this.view = view;
    this.counters = counters;
  }

  get enabled(): boolean {
    return this.options.maxRequests > 0;
  }

  /** Before taking a request off a ring: false while maxRequests are in process (leave it there; the turn stalled). */
  mayTake(): boolean {
    if (this.options.maxRequests <= 0 || this.view.inProcess() < this.options.maxRequests) return true;
    this.stalled = true;
    return false;
  }

  /** A request taken off ring `ioIndex` after waiting `waitedMs` on it: what to do with it. */
  admit(ioIndex: number, connId: number, key: number, frame: Buffer, waitedMs: number): ThrottleVerdict {
    const o = this.options;
    if ((o.maxRequests <= 0 && o.throttledOpWaitTimeMs <= 0) || frame.length < HEADER_BYTES) return Throttle.PROCEED;
    const type = frame.readInt32BE(TYPE_OFFSET);
    if (o.maxRequests > 0 && this.isStale(ioIndex, connId, key, type, waitedMs)) {
      if (o.dropStale) {
        this.counters.staleRequestsDropped++;
        return Throttle.DROP;
      }
      this.counters.staleRequests++;
    }
    if (o.throttledOpWaitTimeMs > 0 && waitedMs > o.throttledOpWaitTimeMs && isThrottlable(type)) return Throttle.THROTTLED_OP;
    return Throttle.PROCEED;
  }

  /**
   * Request.isStale: its connection is closed (request_stale_connection_check, always on), or
   * with request_stale_latency_check it waited longer than its session timeout. closeSession
   * is never stale (it must clean up).
   */
  private isStale(ioIndex: number, connId: number, key: number, type: number, waitedMs: number): boolean {
    if (type === Op.closeSession) return false;
    if (this.view.connectionClosed(ioIndex, connId)) return true;
    if (!this.options.staleLatencyCheck) return false;
    const timeoutMs = this.view.sessionTimeoutMsOf(key);
    return timeoutMs >= 0 && waitedMs > timeoutMs;
  }

  /** A loop turn starts: a stall of the last one is forgotten (a turn that did work looks again at once). */
  beginTurn(): void {
    this.stalled = false;
  }

  /**
   * The turn found nothing to do: how long the loop may park. After a stall, at most
   * stall_time (counted as a throttle wait), else as long as the caller likes.
   */
  parkMs(): number {
    if (!this.stalled) return Infinity;
    this.counters.requestThrottleWaitCount++;
    return this.options.stallTimeMs;
  }
}
