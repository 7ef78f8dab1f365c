// ZooKeeper's error codes as clients show them — one table for the shell, loadgen and the
// tests: KeeperException.Code's name ("NONODE": what loadgen counts and transcripts show)
// and KeeperException.getCodeMessage()'s text ("NoNode": what zkCli prints), by number.
// The numbers are the engine's Err (what a server sends), plus the codes only a client
// makes up. Each consumer keeps its own spelling for a number not listed here.
import { Err } from '../engine/protocol.ts';

/** Codes a client makes up and no server sends: a request whose deadline passed unanswered. */
export const ClientErr = { REQUESTTIMEOUT: -122 } as const;

/** KeeperException.Code: every code a client can hold, by name. */
export const ErrorCode = { ...Err, ...ClientErr } as const;
export type ErrorName = keyof typeof ErrorCode;

/**
 * KeeperException.getCodeMessage()'s text; null where it has none (Java falls through to
 * "Unknown error"). Keyed by name, so a code added to Err does not compile without its text.
 */
const MESSAGES: Readonly<Record<ErrorName, string | null>> = {
  OK: 'ok',
  SYSTEMERROR: 'SystemError',
  RUNTIMEINCONSISTENCY: 'RuntimeInconsistency',
  DATAINCONSISTENCY: 'DataInconsistency',
  CONNECTIONLOSS: 'ConnectionLoss',
  MARSHALLINGERROR: 'MarshallingError',
  UNIMPLEMENTED: 'Unimplemented',
  OPERATIONTIMEOUT: 'OperationTimeout',
  BADARGUMENTS: 'BadArguments',
  UNKNOWNSESSION: 'UnknownSession',
  NEWCONFIGNOQUORUM: 'NewConfigNoQuorum',
  RECONFIGINPROGRESS: 'ReconfigInProgress',
  APIERROR: 'APIError',
  NONODE: 'NoNode',
  NOAUTH: 'NoAuth',
  BADVERSION: 'BadVersion',
  NOCHILDRENFOREPHEMERALS: 'NoChildrenForEphemerals',
  NODEEXISTS: 'NodeExists',
  NOTEMPTY: 'Directory not empty',
  SESSIONEXPIRED: 'Session expired',
  INVALIDCALLBACK: 'Invalid callback',
  INVALIDACL: 'InvalidACL',
  AUTHFAILED: 'AuthFailed',
  SESSIONMOVED: 'Session moved',
  NOTREADONLY: 'Not a read-only call',
  EPHEMERALONLOCALSESSION: 'Ephemeral node on local session',
  NOWATCHER: 'No such watcher',
  REQUESTTIMEOUT: null,
  RECONFIGDISABLED: 'Reconfig is disabled',
  SESSIONCLOSEDREQUIRESASLAUTH: 'Session closed because client failed to authenticate',
  QUOTAEXCEEDED: 'Quota has exceeded',
  THROTTLEDOP: 'Op throttled due to high load',
};

const NAMES = new Map<number, ErrorName>(Object.entries(ErrorCode).map(([name, code]) => [code, name as ErrorName]));

/** The code's name ("NONODE"); undefined for a number ZooKeeper does not define. */
export function errorName(code: number): ErrorName | undefined {
  return NAMES.get(code);
}

/** KeeperException.getCodeMessage(): "NoNode"; "Unknown error -42" where it has no text. */
export function errorMessage(code: number): string {
  const name = NAMES.get(code);
  return (name === undefined ? null : MESSAGES[name]) ?? `Unknown error ${code}`;
}
