// The acceptedEpoch and currentEpoch files, as ZooKeeper 3.8's QuorumPeer keeps them in
// dataDir/version-2 (its FileTxnSnapLog's snapDir — not dataLogDir):
//
//   content   Long.toString(epoch): decimal, no newline (QuorumPeer.writeLongToFile)
//   writing   AtomicFileWritingIdiom: <name>.tmp written, flushed, fsynced, closed, renamed
//             over <name>; on failure the .tmp is deleted. (ZooKeeper does not fsync the
//             directory after the rename; we do, so the new name survives a crash too.)
//   reading   the first line (BufferedReader.readLine: ends at \n, \r or \r\n) parsed by
//             Long.parseLong; anything else is "Found <line> in <file>" (an IOException that
//             stops the server). A missing file is FileNotFoundException: loadDataBase then
//             writes the epoch of the last zxid ("…not found! Creating with a reasonable
//             default…"), see loadEpochs.
//
// Zxids are numbers here (epoch × 2^32 + counter, exact below 2^53), so an epoch must be below
// 2^21; a file holding a larger (or negative) long is refused as well.

import fs from 'node:fs';
import path from 'node:path';
import { fsyncDirectory } from '../../native-free-io/logfile.ts';

export type EpochName = 'acceptedEpoch' | 'currentEpoch';

/** AtomicFileOutputStream.TMP_EXTENSION */
export const EPOCH_TMP_SUFFIX = '.tmp';

/** The largest epoch whose zxids are exact as numbers (2^53 / 2^32). */
export const EPOCH_MAX = 2 ** 21 - 1;

const EPOCH_UNIT = 2 ** 32;

/** An epoch file that cannot be read as an epoch, or epochs ZooKeeper refuses to start with. */
export class EpochFileError extends Error {}

/**
 * Refuses a zoo.cfg dataDir passed where its version-2 directory is meant: ZooKeeper keeps no
 * version-2 directory inside version-2, so one there means the caller is one level too high.
 */
export function assertVersionDir(dir: string): void {
  if (fs.existsSync(path.join(dir, 'version-2'))) {
    throw new Error(`${dir} holds a version-2 directory: pass dataDir/version-2 (the snapshot directory), not dataDir`);
  }
}

/** Long.parseLong over BufferedReader.readLine's first line; null when it is not an epoch. */
function parseEpoch(text: string): number | null {
  const line = text.split(/\r\n|\r|\n/, 1)[0];
  if (!/^[+-]?[0-9]+$/.test(line)) return null;
  const value = Number(line);
  return Number.isSafeInteger(value) && value >= 0 && value <= EPOCH_MAX ? value : null;
}

/** The epoch in file `name` of snapDir, or null when the file does not exist. */
export function readEpochFile(snapDir: string, name: string): number | null {
  const file = path.join(snapDir, name);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new EpochFileError(`cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  const epoch = parseEpoch(text);
  if (epoch === null) {
    // ZooKeeper's words ("Found " + line + " in " + file); a line that is a long but no epoch zooid holds says so
    const line = text.length === 0 ? 'null' : text.split(/\r\n|\r|\n/, 1)[0];
    const why = /^[+-]?[0-9]+$/.test(line) ? ` (an epoch must be 0..${EPOCH_MAX})` : '';
    throw new EpochFileError(`Found ${JSON.stringify(line).slice(1, -1)} in ${file}${why}`);
  }
  return epoch;
}

/** Both epoch files of snapDir (dataDir/version-2); null for a missing one. Throws EpochFileError on bad content. */
export function readEpochs(snapDir: string): { acceptedEpoch: number | null; currentEpoch: number | null } {
  assertVersionDir(snapDir);
  return { acceptedEpoch: readEpochFile(snapDir, 'acceptedEpoch'), currentEpoch: readEpochFile(snapDir, 'currentEpoch') };
}

/**
 * Writes epoch into snapDir/name durably and atomically: name.tmp is written, fsynced and
 * renamed over name, then the directory is fsynced. A reader sees the old value or the new
 * one, never a torn one. Synchronous; throws (and removes the .tmp) on failure.
 */
export function writeEpochFile(snapDir: string, name: EpochName, epoch: number): void {
  if (!(Number.isSafeInteger(epoch) && epoch >= 0 && epoch <= EPOCH_MAX)) throw new RangeError(`epoch ${epoch} outside 0..${EPOCH_MAX}`);
  assertVersionDir(snapDir);
  const file = path.join(snapDir, name);
  const tmp = file + EPOCH_TMP_SUFFIX;
  let fd = -1;
  try {
    fd = fs.openSync(tmp, 'w');
    fs.writeSync(fd, String(epoch));
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = -1;
    fs.renameSync(tmp, file);
  } catch (err) {
    if (fd >= 0) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw new Error(`cannot write ${file}: ${(err as Error).message}`, { cause: err });
  }
  fsyncDirectory(snapDir);
}

/** ZxidUtils.zxidToString: Long.toHexString, no 0x. */
function zxidToString(n: number): string {
  return n.toString(16);
}

/**
 * QuorumPeer.loadDataBase's epoch rules, after the data is loaded up to lastZxid:
 *   - currentEpoch missing: the epoch of lastZxid, written ("…This should only happen when
 *     you are upgrading your installation").
 *   - currentEpoch older than lastZxid's epoch: a currentEpoch.tmp left by a crash between
 *     its write and its rename is taken (and written as currentEpoch); without one, refuse.
 *   - acceptedEpoch missing: the epoch of lastZxid, written.
 *   - acceptedEpoch below currentEpoch: refuse.
 * Refusals throw EpochFileError with ZooKeeper's message.
 */
export function loadEpochs(snapDir: string, lastZxid: number, info: (msg: string) => void): { acceptedEpoch: number; currentEpoch: number } {
  assertVersionDir(snapDir);
  const epochOfZxid = Math.floor(lastZxid / EPOCH_UNIT);
  let currentEpoch = readEpochFile(snapDir, 'currentEpoch');
  if (currentEpoch === null) {
    currentEpoch = epochOfZxid;
    info(`currentEpoch not found! Creating with a reasonable default of ${currentEpoch}. This should only happen when you are upgrading your installation`);
    writeEpochFile(snapDir, 'currentEpoch', currentEpoch);
  }
  if (epochOfZxid > currentEpoch) {
    const tmpName = 'currentEpoch' + EPOCH_TMP_SUFFIX;
    const tmpEpoch = readEpochFile(snapDir, tmpName);
    if (tmpEpoch === null) {
      throw new EpochFileError(`The current epoch, ${zxidToString(currentEpoch)}, is older than the last zxid, ${lastZxid}`);
    }
    info(`${path.join(snapDir, tmpName)} found. Setting current epoch to ${tmpEpoch}.`);
    writeEpochFile(snapDir, 'currentEpoch', tmpEpoch);
    currentEpoch = tmpEpoch;
  }
  let acceptedEpoch = readEpochFile(snapDir, 'acceptedEpoch');
  if (acceptedEpoch === null) {
    acceptedEpoch = epochOfZxid;
    info(`acceptedEpoch not found! Creating with a reasonable default of ${acceptedEpoch}. This should only happen when you are upgrading your installation`);
    writeEpochFile(snapDir, 'acceptedEpoch', acceptedEpoch);
  }
  if (acceptedEpoch < currentEpoch) {
    throw new EpochFileError(`The accepted epoch, ${zxidToString(acceptedEpoch)} is less than the current epoch, ${zxidToString(currentEpoch)}`);
  }
  return { acceptedEpoch, currentEpoch };
}
