// Local sessions (localSessionsEnabled), as ZooKeeper 3.8's UpgradeableSessionTracker and
// its leader and learner trackers: a session a server creates is known to that server only —
// no createSession txn, not in the leader's table, not reported on PING — and closes and
// expires there with no txn. Its writes go to the leader like any other (the leader lets
// through a session it does not know when another server made it: PrepRequestProcessor's
// checkSession). An ephemeral needs a global session (checkGlobalSession): with
// localSessionsUpgradingEnabled the first create of one makes the session global first
// (ZooKeeperServer.checkUpgradeSession: a createSession txn, then the create); without, the
// create fails with EPHEMERALONLOCALSESSION. A client that moves a local session to another
// server is told SESSIONEXPIRED there. What the pipeline does with these: engine/core/admission.ts.
import { JuteReader } from '../../native-free-io/jute.ts';
import { CreateFlag, Op } from '../protocol.ts';
import { sessionPassword, type Session } from './sessions.ts';

/** The server id in a session id's top byte (SessionTrackerImpl.initializeNextSessionId). */
export function serverIdOfSession(sessionId: bigint): number {
  return Number((BigInt.asUintN(64, sessionId) >> 56n) & 0xffn);
}

/**
 * What a leader prepares another server's local session's write with: a Session outside its
 * table, so never touched, expired or logged there; not `local` (that is for a server's own
 * local sessions), so an ephemeral of its is refused SESSIONEXPIRED (checkGlobalSession).
 */
export function standInSession(sessionId: bigint): Session {
  return {
    id: sessionId, timeoutMs: 0, passwd: sessionPassword(sessionId), conn: -1, expiresAtMs: 0, closing: false, authIds: [],
    lastCxid: 0, lastZxid: 0, local: false,
  };
}

function isEphemeral(flags: number): boolean {
  return flags === CreateFlag.ephemeral || flags === CreateFlag.ephemeralSequential;
}

/** path, data, acl; then the flags (CreateRequest's fields up to its mode). */
function createFlags(r: JuteReader): number {
  r.ustring();
  r.buffer();
  const aclCount = r.vectorLength();
  for (let i = 0; i < aclCount; i++) {
    r.int();
    r.ustring();
    r.ustring();
  }
  return r.int();
}

/** Skips one multi op's record; false for a type a multi cannot hold. */
function skipOp(r: JuteReader, type: number): boolean {
  switch (type) {
    case Op.createContainer:
      createFlags(r);
      return true;
    case Op.createTTL:
      createFlags(r);
      r.long();
      return true;
    case Op.delete:
    case Op.check:
      r.ustring();
      r.int();
      return true;
    case Op.setData:
      r.ustring();
      r.buffer();
      r.int();
      return true;
    default:
      return false;
  }
}

/**
 * checkUpgradeSession's test: a create or create2 of an ephemeral node, or a multi with one
 * (only its create and create2 ops count, as in ZooKeeper). `record` is the request after its
 * header; one that does not parse is not one (its handler answers it).
 */
export function createsEphemeral(type: number, record: Buffer): boolean {
  const r = new JuteReader(record, 0, record.length);
  try {
    if (type === Op.create || type === Op.create2) return isEphemeral(createFlags(r));
    if (type !== Op.multi) return false;
    // each op costs at least its 9-byte header: the loop ends with the record
    while (r.remaining() > 0) {
      const opType = r.int();
      const done = r.bool();
      r.int();
      if (done) return false;
      if (opType === Op.create || opType === Op.create2) {
        if (isEphemeral(createFlags(r))) return true;
      } else if (!skipOp(r, opType)) {
        return false;
      }
    }
    return false;
  } catch {
    return false;
  }
}
