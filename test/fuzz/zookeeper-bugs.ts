// Frames that stop Apache ZooKeeper 3.8 itself: its bugs, which zooid answers (each is a
// test in test/fuzz/regressions.test.ts). When ZooKeeper is the fuzz target the fuzzer
// withholds them, so that the control stays up to be compared with; the run records how
// many. The check may name a frame ZooKeeper would in fact answer (a multi that fails
// before the op, an ACL it refuses first): withholding one costs a frame, missing one
// costs the run.
//
// - A createTTL, alone or in a multi, whose mode is not a TTL mode and whose ttl is
//   negative: PrepRequestProcessor's validateTTL lets it through, then
//   DataTree.processTxn's TTL.toEphemeralOwner throws in the SyncThread, which stops the
//   server with the txn in its log.
import { JuteError, JuteReader } from '../../native-free-io/jute.ts';
import { CreateFlag, Op } from '../../engine/protocol.ts';

/** A multi's ops read before the check gives up on it (its real bound is the frame's length). */
const MULTI_OPS_MAX = 1_000;

/** Reads an ACL vector. (A negative count throws here; ZooKeeper reads no ACL, which it refuses before any txn.) */
function skipAcls(r: JuteReader): void {
  for (let n = r.vectorLength(); n > 0; n--) {
    r.int();
    r.buffer();
    r.buffer();
  }
}

/** Reads a CreateTTLRequest {path, data, acl, flags, ttl}: true for a mode ZooKeeper accepts that is not a TTL mode, with a negative ttl. */
function createTtlStops(r: JuteReader): boolean {
  r.buffer();
  r.buffer();
  skipAcls(r);
  const flags = r.int();
  const ttl = r.long();
  return flags >= CreateFlag.persistent && flags <= CreateFlag.container && ttl < 0n;
}

/** Reads a multi's ops up to its end marker: true when one of them is a createTTL that stops ZooKeeper. */
function multiStops(r: JuteReader): boolean {
  for (let i = 0; i < MULTI_OPS_MAX; i++) {
    const type = r.int(); // MultiHeader {type, done, err}
    const done = r.bool();
    r.int();
    if (done) return false;
    switch (type) {
      case Op.createTTL:
        if (createTtlStops(r)) return true;
        break;
      case Op.create: case Op.create2: case Op.createContainer:
        r.buffer();
        r.buffer();
        skipAcls(r);
        r.int();
        break;
      case Op.delete: case Op.check:
        r.buffer();
        r.int();
        break;
      case Op.setData:
        r.buffer();
        r.buffer();
        r.int();
        break;
      default:
        return false; // ZooKeeper cannot read the multi: no txn
    }
  }
  return false;
}

/**
 * Why ZooKeeper 3.8 would stop on this request frame (length prefix, RequestHeader
 * {xid, type}, record), or null. The length prefix must be the frame's true length.
 */
export function stopsZooKeeper(frame: Buffer): string | null {
  if (frame.length < 12) return null;
  const r = new JuteReader(frame, 4, Math.min(frame.length, 4 + Math.max(0, frame.readInt32BE(0))));
  try {
    r.int();
    const type = r.int();
    if (type === Op.createTTL && createTtlStops(r)) return 'createTTL, not a TTL mode, ttl < 0';
    if (type === Op.multi && multiStops(r)) return 'multi with a createTTL, not a TTL mode, ttl < 0';
  } catch (e) {
    if (!(e instanceof JuteError)) throw e;
  }
  return null;
}
