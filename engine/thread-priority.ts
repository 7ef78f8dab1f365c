// A background thread's scheduling priority. On Linux each thread is a task with its own
// nice value, and setpriority(PRIO_PROCESS, tid) (node's os.setPriority) sets it for that
// thread alone; /proc/thread-self names the calling thread's tid. Elsewhere there is no
// per-thread nice from JavaScript, and the thread keeps the process's priority.
import fs from 'node:fs';
import os from 'node:os';

/** This thread's kernel task id, or null where /proc/thread-self does not exist. */
export function currentThreadId(): number | null {
  try {
    const link = fs.readlinkSync('/proc/thread-self'); // "<pid>/task/<tid>"
    const tid = Number(link.slice(link.lastIndexOf('/') + 1));
    return Number.isInteger(tid) && tid > 0 ? tid : null;
  } catch {
    return null;
  }
}

/**
 * Lowers the calling thread's priority to `nice` (never raises it: an operator's nicer
 * process stays as nice). Returns what was done, for the thread's log.
 */
export function lowerThreadPriority(nice: number): string {
  const tid = currentThreadId();
  if (tid === null) return 'thread priority unchanged: no per-thread priority on this platform';
  try {
    const before = os.getPriority(tid);
    if (before >= nice) return `thread priority unchanged: nice ${before}`;
    os.setPriority(tid, nice);
    return `thread priority lowered: nice ${before} → ${os.getPriority(tid)}`;
  } catch (err) {
    return `thread priority unchanged: ${(err as Error).message}`;
  }
}
