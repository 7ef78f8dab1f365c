// Limits on what a client can make the server hold, in one place with the reason for each
// (STYLE.md rule 4). The operator-facing knobs (globalOutstandingLimit, the request
// throttler, jute.maxbuffer, maxClientCnxns) are zoo.cfg keys read by engine/config.ts;
// README.md "Throttling and memory limits" lists them all. What an overloaded server does:
// it stops reading sockets (TCP backpressure), and never answers with an error, except
// for the two cases a client can only cause by not reading its replies (OUTBOUND_BYTES_MAX)
// or by asking a throttled op to wait past zookeeper.throttled_op_wait_time.

/**
 * Bytes a socket may have queued for writing before the io worker stops reading it (and
 * forwarding its frames): a client that does not read its replies stops being read. It
 * resumes when the socket drains. 4 MiB keeps a fast client streaming (a few hundred
 * 1 KiB replies per turn) while a stuck one costs at most this much plus what was already
 * in flight.
 */
export const WRITE_BUFFER_BYTES_MAX = 4 * 1024 * 1024;

/**
 * Bytes a socket may have queued for writing before its connection is closed. Once a
 * connection is not read (WRITE_BUFFER_BYTES_MAX) it still receives the replies to the
 * requests already forwarded and the watch events it registered for; the io worker must
 * take them off the shared reply ring (or every other connection of that worker would
 * wait), so a client that never reads would otherwise make the server grow without
 * bound. ZooKeeper queues without a bound here (NIOServerCnxn.outgoingBuffers); zooid
 * closes the connection (its session lives on, the client reconnects and its watches are
 * re-registered by the client), logged and counted as zooid_io_outbound_overflow_closes.
 * 64 MiB is 16× the pause threshold: a slow but live reader never meets it unless it has
 * dozens of megabyte-sized replies outstanding.
 */
export const OUTBOUND_BYTES_MAX = 64 * 1024 * 1024;

/**
 * Bytes queued for writing to clients by all io workers together (socket writableLength
 * summed over every connection, plus outbound slab space pinned by unwritten pieces; each
 * io worker publishes its own sum in a shared word, engine/records.ts IO_WORDS). The
 * per-connection caps above do not bound the server: 16 connections that pipeline 70
 * getData of a 900 KB node each and never read stay under OUTBOUND_BYTES_MAX and queue
 * 1 GB between them. Over the soft bound a connection with at least
 * OUTBOUND_HEAVY_CONN_BYTES_MIN queued stops being read until its socket drains (the
 * heavy ones stop first, light clients are still read and served); over the hard bound
 * the io worker whose write crossed it closes its heaviest connections (at least
 * OUTBOUND_HEAVY_CONN_BYTES_MIN queued, heaviest first) until the total is back under it,
 * logged and counted as zooid_io_outbound_budget_closes (their sessions live on, as with
 * OUTBOUND_BYTES_MAX). A shared sum rather than total/ioThreads per worker: the kernel
 * spreads connections unevenly over the workers (reusePort hashes), and a per-worker share
 * would close a client on a busy worker while the others have room. The worker crossing
 * the bound sheds its own heaviest connections; it cannot close another worker's, but only
 * writes raise the total and every writer checks. 256 MiB is 4 × OUTBOUND_BYTES_MAX: a
 * server with many clients reading large nodes at once is not disturbed, and the
 * server's resident memory stays within a few hundred MiB of its working set.
 */
export const OUTBOUND_TOTAL_BYTES_SOFT = 128 * 1024 * 1024;
export const OUTBOUND_TOTAL_BYTES_HARD = 256 * 1024 * 1024;

/**
 * A connection with less than this queued is never paused or closed by the server-wide
 * bound: it is a client reading its replies (the kernel's socket buffer holds what it has
 * not read yet; Node queues only the rest). One large reply (jute.maxbuffer is 1 MiB) is
 * more than this, so a client that stops reading large replies counts as heavy.
 */
export const OUTBOUND_HEAVY_CONN_BYTES_MIN = 512 * 1024;

/**
 * Outbound writes of at least OUTBOUND_SLAB_PIECE_BYTES_MIN are copied into slabs of
 * OUTBOUND_SLAB_BYTES (resizable ArrayBuffers: V8 maps their pages itself, outside
 * malloc) and their slab is unmapped once the last write in it completes. Plain Buffers
 * come from glibc malloc in the io worker's thread arena; glibc returns only the top of
 * an arena to the system, so a burst of large unread replies (930 MB freed in the issue's
 * repro) stayed resident after the connections closed. Smaller writes (one turn of small
 * replies) stay plain Buffers: they are short-lived and malloc reuses them. A resizable
 * ArrayBuffer costs a map and an unmap (~50–200 µs), too much per reply, so pieces share a
 * 4 MiB slab; a piece larger than half a slab gets a slab of its own. The io worker keeps
 * its current slab when it empties (reused from the start, no syscall), so at most one
 * empty slab per io worker stays mapped.
 */
export const OUTBOUND_SLAB_BYTES = 4 * 1024 * 1024;
export const OUTBOUND_SLAB_PIECE_BYTES_MIN = 64 * 1024;

/** Bytes Node reads from a socket per 'data' event at most (its default highWaterMark). */
export const SOCKET_READ_CHUNK_BYTES = 64 * 1024;

/**
 * Received bytes an io worker keeps for one connection: one frame (length prefix and at
 * most jute.maxbuffer bytes: longer frames close the connection) plus the one read chunk
 * that may arrive after the socket is paused. A paused socket is not read, so a client
 * that floods requests is held by TCP, not by our memory.
 */
export function inboundPendingBytesMax(juteMaxBufferBytes: number): number {
  return 4 + juteMaxBufferBytes + SOCKET_READ_CHUNK_BYTES;
}

/**
 * How often (ms) an io worker re-evaluates connections it stopped reading for
 * globalOutstandingLimit. Normally the reply that brings a connection's outstanding count
 * down re-enables it (as ZooKeeper's decrOutstandingAndCheckThrottle); the timer covers a
 * global count that fell while that connection had no reply in flight.
 */
export const THROTTLE_RECHECK_MS = 10;

/**
 * Slots per io worker in the closed-connection table the pipeline reads for
 * zookeeper.request_throttle_drop_stale (a request of a connection that is already closed
 * is stale). A slot holds the id of the last closed connection hashed to it: a lookup can
 * miss (then the request is processed, as it would be without the check), never lie.
 */
export const CLOSED_CONN_SLOTS = 4096;

/** Reply records an io worker handles per turn before yielding to socket I/O. */
export const REPLIES_PER_TURN = 4096;

/**
 * Bytes of reply frames an io worker gathers per turn before it writes them out: frames are
 * copied out of the reply ring into this reused scratch area, then each connection gets one
 * buffer of exactly its bytes and one socket write per turn. 1 MiB holds a full turn of
 * small replies; a frame larger than a quarter of it is copied and written on its own.
 */
export const GATHER_BYTES = 1024 * 1024;

/** A TLS client that has not finished its handshake by then is dropped (Node's default is 120 s). */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** The CONNECT record gives the x509 id a u16 length; no real certificate subject comes near it. */
export const X509_ID_BYTES_MAX = 0xffff;

/**
 * Ring sizes: at least these, and always at least 2 frames of jute.maxbuffer
 * (server.ts ringCapacityFor). A full ring is backpressure (STYLE rule 4): a full request
 * ring pauses the io worker's sockets, a full reply or log ring makes the pipeline wait.
 * The reply ring is twice the request ring because replies (getData, getChildren) are
 * larger than requests; the log ring holds several group-commit batches.
 */
export const REQ_RING_BYTES_MIN = 4 * 1024 * 1024;
export const RESP_RING_BYTES_MIN = 8 * 1024 * 1024;
export const LOG_RING_BYTES_MIN = 16 * 1024 * 1024;
/** Snapshot slices are about 1 MiB (engine/persistence/snapshotter.ts): room for several in flight. */
export const SNAP_RING_BYTES_MIN = 16 * 1024 * 1024;

/**
 * The rings between the pipeline and the quorum worker (ensembles) carry what the log ring
 * carries (every proposal, on a leader and on a learner) plus small control records: sized
 * like the log ring.
 */
export const QUORUM_RING_BYTES_MIN = 16 * 1024 * 1024;

/**
 * The young generation (V8's new space) of the pipeline and io workers, in MiB (Worker
 * resourceLimits.maxYoungGenerationSizeMb). V8 sizes it from the heap limit: 128 MiB of new
 * space per thread on a 24 GB machine, which a busy thread grows to and keeps for good — V8
 * shrinks it only in a memory-reducing collection, which never comes to an idle worker. 32
 * bounds what a burst leaves committed (setData churn: RSS after it 390-406 MiB by default,
 * 359-369 with 32). Scavenges come about 4× as often; each costs what its survivors cost,
 * so their total stays about the same (bench/results/memory-2026-12-05.md).
 */
export const WORKER_YOUNG_GENERATION_MB = 32;

/**
 * The share of the machine's memory the pipeline worker's old generation (the V8 heap that
 * holds the tree) may grow to, unless node was started with --max-old-space-size. V8's own
 * limit is about 4 GiB whatever the machine has: 10M znodes of 100 B fill it (4.0 GiB of
 * 4.1 after a restart), memory-reducing collections then pause the pipeline 1.1-1.8 s each
 * (5.1 s of pauses in an 85 s snapshot load; 0.3 s and 63 s with the limit raised), and a few
 * more znodes end the process out of memory (bench/results/scale-10m-2026-12-05.md). V8
 * grows the heap towards the limit only as live data needs it.
 */
export const PIPELINE_OLD_GENERATION_SHARE = 0.75;

/** The log worker stops draining and writes once a batch holds this much. */
export const LOG_BATCH_BYTES_MAX = 4 * 1024 * 1024;

/** Slots of the per-address connection counters (maxClientCnxns); addresses hash into them. */
export const CONN_COUNT_SLOTS = 4096;

/**
 * Auth ids one connection may hold (addauth, SASL, x509, super), and their bytes in all.
 * ZooKeeper bounds neither: a client could add ids of a megabyte each, and every create
 * with the "auth" ACL copies all of them into its txn (issue 8: three 1 MB digest users
 * made a 9 MB txn). Real clients hold one or two ids of a few dozen bytes; an addauth past
 * either bound is AUTHFAILED and closes the connection, as a failed addauth does.
 */
export const AUTH_IDS_PER_CONN_MAX = 64;
export const AUTH_ID_BYTES_PER_CONN_MAX = 128 * 1024;

/**
 * The bytes a getData reply adds to the node's data: ReplyHeader (xid, zxid, err: 16), the
 * data's length (4) and the Stat (68). A create or setData whose data would make that
 * reply larger than jute.maxbuffer is refused (MARSHALLINGERROR), since no client could
 * ever read the node back.
 */
export const GET_DATA_REPLY_OVERHEAD_BYTES = 16 + 4 + 68;

/**
 * Four-letter-word answers go out in slices of at most this many characters (at most 3
 * bytes each in UTF-8, so a slice's reply-ring record stays far below any ring's largest
 * record). The pipeline worker makes a slice's text only when it sends it (engine/ops/fourlw.ts
 * fourLetterWordPieces): a slice costs it about a millisecond, however long the whole
 * answer (dump, wchp on a big server: tens of megabytes) is, and other sessions are served
 * between slices.
 */
export const FOURLW_SLICE_CHARS = 64 * 1024;

/**
 * Slices of one answer handed to the io worker and not yet written to the socket: the io
 * worker asks for the next (TEXT_MORE) when a slice has gone to the kernel. A client that
 * does not read its answer therefore holds at most this many slices in the io worker; two
 * keep a reading client's socket busy while the next slice is made.
 */
export const FOURLW_SLICES_IN_FLIGHT_MAX = 2;

/**
 * Answers longer than one slice being sent at once, over all connections. Each holds the
 * snapshot of the lists it prints (references to the server's strings) until it is sent;
 * past this many, a new long answer is cut after its first slice with a note saying so.
 */
export const FOURLW_STREAMS_MAX = 4;

/**
 * A long answer whose client has taken no slice for this long is dropped and its connection
 * closed: a client that asks for a dump and never reads it cannot keep a stream (and its
 * snapshot) forever.
 */
export const FOURLW_STREAM_IDLE_MS = 30_000;

/**
 * Warnings a client can cause over and over (unknown request types, malformed frames,
 * failed authentication, refused TLS handshakes) are rate-limited per thread
 * (engine/logger.ts WarnLimiter): in each window of LOG_WARN_WINDOW_MS at most
 * LOG_WARN_PER_CONN_MAX lines of one kind from one connection and LOG_WARN_PER_KIND_MAX of
 * one kind from all connections are written, then one line with the count of what was left
 * out. A fuzzer sending 100,000 bad frames wrote 100,000 lines; now a window holds at most
 * PER_KIND_MAX + 1 lines per kind and thread, and an operator still sees the first few
 * from every offender and how many more there were. ZOOID_LOG_WARN_WINDOW_MS overrides the
 * window (tests).
 */
export const LOG_WARN_WINDOW_MS = 10_000;
export const LOG_WARN_PER_CONN_MAX = 5;
export const LOG_WARN_PER_KIND_MAX = 50;

/**
 * Idle memory trim (engine/memory-trim.ts): every IDLE_TRIM_CHECK_MS a thread compares its
 * work since the last check with IDLE_TRIM_QUIET_UNITS_PER_S (frames read for an io
 * worker, ring records taken for the pipeline: pings of ~1,000 idle sessions stay under
 * it); after IDLE_TRIM_QUIET_CHECKS quiet checks following a busy one, it runs one
 * memory-reducing collection if its heap has grown IDLE_TRIM_SLACK_BYTES over its resting
 * size and holds at most IDLE_TRIM_USED_BYTES_MAX (live data and garbage: the pause grows
 * with it, ~7 ms per MiB live on this machine).
 */
export const IDLE_TRIM_CHECK_MS = 5_000;
export const IDLE_TRIM_QUIET_CHECKS = 2;
export const IDLE_TRIM_QUIET_UNITS_PER_S = 200;
export const IDLE_TRIM_SLACK_BYTES = 16 * 1024 * 1024;
export const IDLE_TRIM_USED_BYTES_MAX = 128 * 1024 * 1024;
