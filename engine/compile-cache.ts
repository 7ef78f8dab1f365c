// Node's compile cache for the server's threads (module.enableCompileCache).
import module from 'node:module';

/**
 * Turns on Node's compile cache (by default in the temp dir) and hands its directory to the
 * workers through NODE_COMPILE_CACHE (a worker's env is a copy of process.env when it
 * starts). A thread that loads TypeScript without the cache strips its types with Node's
 * WebAssembly stripper, whose memory stays in that thread for good: ~10 MiB of RSS per
 * worker and ~30 MiB on the main thread, which loads the most (an idle server: 214 MiB
 * without the cache, ~150 MiB with it warm). Does nothing when the operator set
 * NODE_COMPILE_CACHE (Node did it at start) or NODE_DISABLE_COMPILE_CACHE.
 */
export function enableCompileCache(): void {
  if (process.env.NODE_COMPILE_CACHE !== undefined || process.env.NODE_DISABLE_COMPILE_CACHE !== undefined) return;
  const result = module.enableCompileCache();
  if (result.directory !== undefined) process.env.NODE_COMPILE_CACHE = result.directory;
}

/**
 * Writes this thread's new compile cache entries now rather than at its exit: a server that
 * is later killed (kill -9, a crash, a test's SIGKILL) never exits, and its next start would
 * compile everything again (seen in bench/startup.ts: a checkout only ever killed started its
 * main thread ~0.5 s later than a warm one). Call once the thread has loaded its modules.
 */
export function flushCompileCache(): void {
  if (process.env.NODE_COMPILE_CACHE === undefined) return;
  module.flushCompileCache();
}
