// Startup timeline for bench/startup.ts: with ZOOID_STARTUP_TRACE set, each thread prints
// "TRACE <ms since the epoch> t<thread id> <event>" to stderr at the steps of a start
// (modules loaded, recovered, listening), comparable across threads.
import { writeSync } from 'node:fs';
import { threadId } from 'node:worker_threads';

const enabled = process.env.ZOOID_STARTUP_TRACE !== undefined;

export function trace(event: string): void {
  if (!enabled) return;
  writeSync(2, `TRACE ${(performance.timeOrigin + performance.now()).toFixed(1)} t${threadId} ${event}\n`);
}
