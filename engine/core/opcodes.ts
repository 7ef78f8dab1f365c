// One descriptor per request opcode (ZooDefs.OpCode): what kind of request it is, how the
// stages treat it, the txn record it logs and its handler. Adding an opcode is one entry
// here (and, if it logs a new kind of record, a codec in engine/core/txn.ts).
import type { JuteReader } from '../../native-free-io/jute.ts';
import { Op } from '../protocol.ts';
import { type TxnCodec, codecOf } from './txn.ts';
import type { Pipeline, Conn } from './pipeline.ts';
import type { Session } from './sessions.ts';
import { create, del, setData, setACL, check, closeSessionReq, multi } from './handlers/writes.ts';
import { exists, getData, getChildrenWith, getACL, sync, multiRead, getAllChildrenNumber, getEphemerals, whoAmI } from './handlers/reads.ts';
import { ping, auth, sasl } from './handlers/session.ts';
import { setWatchesWith, addWatch, checkWatches, removeWatches } from './handlers/watches.ts';
import { reconfig, reconfigCommitted } from './reconfig.ts';
import { type CommittedReply, createCommitted, emptyCommitted, statCommitted, multiCommitted } from './handlers/committed.ts';

/** Reads its record from r (positioned after the RequestHeader), then replies or throws a KeeperError (replied by the caller). */
export type Handler = (p: Pipeline, conn: Conn, s: Session, xid: number, r: JuteReader, type: number) => void;

export interface Opcode {
  code: number;
  /** ZooDefs.OpCode's name. */
  name: string;
  /** cons' lop= once it is answered (FinalRequestProcessor's names); 'NA' for those it never sees. */
  lop: string;
  /** Becomes a txn: refused (NOTREADONLY) while the log does not take writes. */
  write: boolean;
  /**
   * Prepared by ZooKeeper's PrepRequestProcessor: a record that does not parse becomes an
   * error txn (MARSHALLINGERROR, a zxid spent) rather than an error reply alone.
   */
  prepped: boolean;
  /**
   * A read whose reply is tagged with the state it reveals (Pipeline.lookup), not the tree's
   * newest zxid, so it can leave before unrelated writes are durable: its handler looks at
   * the tree only through p.node()/p.lookup(), and its answer depends on nothing else.
   */
  taggedRead: boolean;
  /** Request.isThrottlable: the request throttler may hold it (all but session and auth requests). */
  throttlable: boolean;
  /** The txn record it logs when it succeeds; null when it logs none. */
  txn: TxnCodec | null;
  /** null: answered UNIMPLEMENTED (deleteContainer is the server's own). */
  handler: Handler | null;
  /**
   * A follower's or observer's reply once the leader's txn for it commits (the request was
   * forwarded, not prepared here); null for what a learner answers itself.
   */
  committed: CommittedReply | null;
}

type Kind = 'read' | 'taggedRead' | 'write' | 'session';

function op(code: number, lop: string, kind: Kind, handler: Handler | null, extra: Partial<Opcode> = {}): Opcode {
  const name = Object.entries(Op).find(([, c]) => c === code)![0];
  const write = kind === 'write';
  return {
    code, name, lop, write, prepped: write, taggedRead: kind === 'taggedRead', throttlable: kind !== 'session',
    handler, committed: null, ...extra, txn: extra.txn !== undefined ? extra.txn : write ? codecOf(code) : null,
  };
}

const OPCODE_LIST: readonly Opcode[] = [
  op(Op.create, 'CREA', 'write', create, { committed: createCommitted }),
  op(Op.create2, 'CREA', 'write', create, { committed: createCommitted }),
  op(Op.createContainer, 'CREA', 'write', create, { committed: createCommitted }),
  op(Op.createTTL, 'CREA', 'write', create, { committed: createCommitted }),
  op(Op.delete, 'DELE', 'write', del, { committed: emptyCommitted }),
  op(Op.deleteContainer, 'DELE', 'write', null, { prepped: false }),
  op(Op.setData, 'SETD', 'write', setData, { committed: statCommitted }),
  op(Op.setACL, 'SETA', 'write', setACL, { committed: statCommitted }),
  op(Op.check, 'CHEC', 'write', check, { committed: emptyCommitted }),
  op(Op.multi, 'MULT', 'write', multi, { committed: multiCommitted }),
  op(Op.reconfig, 'RECO', 'write', reconfig, { committed: reconfigCommitted }),
  op(Op.exists, 'EXIS', 'taggedRead', exists),
  op(Op.getData, 'GETD', 'taggedRead', getData),
  op(Op.getChildren, 'GETC', 'taggedRead', getChildrenWith(false)),
  op(Op.getChildren2, 'GETC', 'taggedRead', getChildrenWith(true)),
  op(Op.getACL, 'GETA', 'taggedRead', getACL),
  op(Op.sync, 'SYNC', 'read', sync),
  op(Op.multiRead, 'MLTR', 'read', multiRead),
  op(Op.getAllChildrenNumber, 'GETACN', 'read', getAllChildrenNumber),
  op(Op.getEphemerals, 'GETE', 'read', getEphemerals),
  op(Op.whoAmI, 'HOMI', 'read', whoAmI),
  op(Op.setWatches, 'SETW', 'read', setWatchesWith(false)),
  op(Op.setWatches2, 'STW2', 'read', setWatchesWith(true)),
  op(Op.addWatch, 'ADDW', 'read', addWatch),
  op(Op.checkWatches, 'CHKW', 'read', checkWatches),
  op(Op.removeWatches, 'REMW', 'read', removeWatches),
  op(Op.ping, 'PING', 'session', ping),
  // auth and sasl never reach FinalRequestProcessor: their lop stays NA
  op(Op.auth, 'NA', 'session', auth),
  op(Op.sasl, 'NA', 'session', sasl),
  // a session's first request arrives as the ConnectRequest (Pipeline.connect), never as a request
  op(Op.createSession, 'SESS', 'session', null, { txn: codecOf(Op.createSession) }),
  // closeSession is a write (a txn, refused while the log is unavailable) that the throttler never holds
  op(Op.closeSession, 'CLOS', 'write', closeSessionReq, { prepped: false, throttlable: false, committed: emptyCommitted }),
];

/** Request opcodes by code. */
export const OPCODES: ReadonlyMap<number, Opcode> = new Map(OPCODE_LIST.map((o) => [o.code, o]));

/**
 * cons' lop= for an answered request's opcode, as FinalRequestProcessor names it. A write
 * that failed in prep (its txn is an error txn) is answered before the switch: 'NA'. So
 * are auth and sasl, which never reach it.
 */
export function lastOperationOf(opcode: number, failedInPrep = false): string {
  if (failedInPrep) return 'NA';
  return OPCODES.get(opcode)?.lop ?? 'NA';
}

/** Request.isThrottlable for an opcode; unknown opcodes are throttlable (they are answered UNIMPLEMENTED in turn). */
export function isThrottlable(opcode: number): boolean {
  return OPCODES.get(opcode)?.throttlable ?? true;
}
