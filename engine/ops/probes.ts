// Host probes: what the operator surfaces show that lives outside the server's state — the
// sizes of the snapshot and txn-log directories, the open file descriptors and their
// limit, the first txn log file. They walk directories and /proc, so they never run on the
// pipeline thread: the thread that asks (the main thread for the AdminServer and
// /metrics, the io worker for a four-letter word) measures them with fs/promises (the
// syscalls go to libuv's thread pool) and passes the facts along with its request. Only
// when asked: nothing here runs per client request.
import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { zxidFromLogFileName } from '../persistence/txnlog.ts';

/** What a stats answer needs measured. */
export interface HostNeeds {
  /** dataDir/dataLogDir sizes (dirs, conf, srvr/stats in the admin JSON). */
  dirs: boolean;
  /** Open and maximum file descriptors (mntr, monitor, metrics). */
  fds: boolean;
  /** The oldest txn log file's first zxid (ClickHouse Keeper's lgif). */
  logFiles: boolean;
}

/** The facts measured; -1 for what was not asked (or cannot be read here). */
export interface HostFacts {
  dataDirSizeBytes: number;
  logDirSizeBytes: number;
  openFileDescriptors: number;
  maxFileDescriptors: number;
  /** The first zxid of the oldest txn log file; -1 when there is none. */
  firstLogZxid: number;
}

export interface HostDirs {
  dataDir: string;
  dataLogDir: string;
}

export const NO_HOST_FACTS: HostFacts = Object.freeze({
  dataDirSizeBytes: -1, logDirSizeBytes: -1, openFileDescriptors: -1, maxFileDescriptors: -1, firstLogZxid: -1,
});

export const NO_HOST_NEEDS: HostNeeds = Object.freeze({ dirs: false, fds: false, logFiles: false });

/** dirs/conf walk the version-2 directories this deep at most (ZooKeeper's are flat). */
const DIR_DEPTH_MAX = 4;

/** Measures what `need` asks for. Never rejects: what cannot be read is -1 (or 0 for a missing directory, as ZooKeeper). */
export async function probeHost(need: HostNeeds, dirs: HostDirs): Promise<HostFacts> {
  const [dataDirSizeBytes, logDirSizeBytes, fds, firstLogZxid] = await Promise.all([
    need.dirs ? directoryBytes(path.join(dirs.dataDir, 'version-2'), 0) : -1,
    need.dirs ? directoryBytes(path.join(dirs.dataLogDir, 'version-2'), 0) : -1,
    need.fds ? fileDescriptorCounts() : { open: -1, max: -1 },
    need.logFiles ? firstLogFileZxid(dirs.dataLogDir) : -1,
  ]);
  return { dataDirSizeBytes, logDirSizeBytes, openFileDescriptors: fds.open, maxFileDescriptors: fds.max, firstLogZxid };
}

/** ZooKeeperServer.getDirSize: the bytes of every file under dir (0 when it is missing). */
async function directoryBytes(dir: string, depth: number): Promise<number> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return 0;
  }
  let bytes = 0;
  for (const name of entries) {
    const full = path.join(dir, name);
    try {
      const st = await lstat(full);
      if (st.isDirectory()) {
        if (depth < DIR_DEPTH_MAX) bytes += await directoryBytes(full, depth + 1);
      } else {
        bytes += st.size;
      }
    } catch {
      // removed while we looked (a purged snapshot): it no longer counts
    }
  }
  return bytes;
}

/**
 * zk_open_file_descriptor_count and zk_max_file_descriptor_count as Java's
 * UnixOperatingSystemMXBean gives them: entries of /proc/self/fd and the soft
 * RLIMIT_NOFILE. -1 each where /proc is unavailable, like ZooKeeper's OSMXBean off Unix.
 */
async function fileDescriptorCounts(): Promise<{ open: number; max: number }> {
  let open = -1;
  let max = -1;
  try {
    open = (await readdir('/proc/self/fd')).length - 1; // minus the descriptor readdir itself holds
  } catch {
    // not Linux
  }
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(await readFile('/proc/self/limits', 'utf8'));
    if (m !== null) max = m[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(m[1]);
  } catch {
    // not Linux
  }
  return { open, max };
}

async function firstLogFileZxid(dataLogDir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(path.join(dataLogDir, 'version-2'));
  } catch {
    return -1;
  }
  let first = -1;
  for (const name of names) {
    const zxid = zxidFromLogFileName(name);
    if (zxid >= 0 && (first === -1 || zxid < first)) first = zxid;
  }
  return first;
}
