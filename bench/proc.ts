// CPU time from Linux's /proc, for benchmarks: a process (all threads), each of its threads
// by name, and the whole machine. Every reader gives NaN (or nothing) where /proc is not
// there, never a failure.
import fs from 'node:fs';

/** USER_HZ: 100 on every Linux build that matters (sysconf(_SC_CLK_TCK)). */
export const CLOCK_TICKS_PER_SEC = 100;

/** utime + stime in ms from a /proc stat line (fields after the command, which may hold spaces and parentheses). */
function statCpuMs(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
  return (ticks * 1000) / CLOCK_TICKS_PER_SEC;
}

/** The CPU time (user + system, all threads, the dead ones too) a process has used so far; NaN elsewhere. */
export function processCpuMs(pid: number): number {
  try {
    return statCpuMs(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return NaN;
  }
}

/** CPU time all processes spent busy (not idle, not iowait) so far, from /proc/stat; NaN elsewhere. */
export function machineBusyMs(): number {
  try {
    const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0); // user nice system idle iowait irq softirq steal
    return ((total - cpu[3] - cpu[4]) * 1000) / CLOCK_TICKS_PER_SEC;
  } catch {
    return NaN;
  }
}

export interface ThreadSample {
  tid: number;
  /** The thread's name as the kernel keeps it (comm: 15 characters at most). */
  name: string;
  cpuMs: number;
}

/** Every live thread of a process: its name and the CPU time it used so far; [] elsewhere. */
export function threadCpu(pid: number): ThreadSample[] {
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: ThreadSample[] = [];
  for (const tid of tids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      out.push({ tid: Number(tid), name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), cpuMs: statCpuMs(stat) });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

export interface ThreadGroupCpu {
  /** A thread name; threads that share it (a pool: NIOWorkerThread, libuv-worker) are one group. */
  name: string;
  threads: number;
  cpuMs: number;
}

/**
 * The CPU each thread name used between two samples of one process, most first. A thread
 * born in between counts from zero; one gone by the second sample is missing here (the
 * process total still has its time).
 */
export function threadCpuBetween(before: readonly ThreadSample[], after: readonly ThreadSample[]): ThreadGroupCpu[] {
  const startMs = new Map(before.map((t) => [t.tid, t.cpuMs]));
  const groups = new Map<string, ThreadGroupCpu>();
  for (const t of after) {
    let g = groups.get(t.name);
    if (g === undefined) groups.set(t.name, (g = { name: t.name, threads: 0, cpuMs: 0 }));
    g.threads++;
    g.cpuMs += t.cpuMs - (startMs.get(t.tid) ?? 0);
  }
  return [...groups.values()].sort((a, b) => b.cpuMs - a.cpuMs);
}
