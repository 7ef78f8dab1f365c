// The workers' side of the startup handshake (engine/server.ts spawns the io workers with
// the pipeline, the others once it has loaded its modules): a worker loads and compiles its modules while the pipeline recovers, says 'loaded', and
// goes on only when the main thread says 'start' with what recovery found. Until then it
// touches no file, port or ring: the snapshot worker's purge, the log's first file and the
// io workers' listening all wait for the recovered state, as when they started one by one.
import assert from 'node:assert/strict';
import { parentPort } from 'node:worker_threads';
import { flushCompileCache } from '../compile-cache.ts';

export type StartMessage = {
  type: 'start';
  /** The newest zxid the pipeline recovered (snapshot + log). */
  lastZxid: number;
};

/** Posts 'loaded' and resolves with the main thread's 'start'. */
export function awaitStart(): Promise<StartMessage> {
  const port = parentPort;
  assert(port !== null, 'awaitStart runs in a worker thread');
  return new Promise((resolve) => {
    const onMessage = (msg: { type?: string }) => {
      if (msg?.type !== 'start') return;
      port.off('message', onMessage);
      const start = msg as StartMessage;
      assert(Number.isSafeInteger(start.lastZxid) && start.lastZxid >= 0, 'start carries the recovered zxid');
      resolve(start);
    };
    port.on('message', onMessage);
    port.postMessage({ type: 'loaded' });
    // every module of this thread is loaded: their compiled code goes to the cache now
    flushCompileCache();
  });
}
