// STUB until ensemble-persistence's lands (the lead merges theirs over this file): the
// acceptedEpoch and currentEpoch files as QuorumPeer writes them (the decimal number, no
// newline; tmp file, fsync, rename, directory fsync), read back (null when missing).
import fs from 'node:fs';
import path from 'node:path';
import { fsyncDirectory } from '../../native-free-io/logfile.ts';

export function readEpochs(dataDir: string): { acceptedEpoch: number | null; currentEpoch: number | null } {
  return { acceptedEpoch: readOne(dataDir, 'acceptedEpoch'), currentEpoch: readOne(dataDir, 'currentEpoch') };
}

function readOne(dataDir: string, name: string): number | null {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dataDir, name), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const first = text.split(/\r?\n/)[0].trim();
  if (!/^-?[0-9]+$/.test(first)) throw new Error(`${path.join(dataDir, name)}: '${first}' is not an epoch`);
  return Number(first);
}

export function writeEpochFile(dataDir: string, name: 'acceptedEpoch' | 'currentEpoch', epoch: number): void {
  const file = path.join(dataDir, name);
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, String(epoch));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  fsyncDirectory(dataDir);
}
