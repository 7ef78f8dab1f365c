import fs from 'node:fs';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { currentThreadId } from '../../engine/thread-priority.ts';
import { SNAPSHOT_THREAD_NICE } from '../../engine/limits.ts';
import { startZooid } from '../support/servers.ts';

/** The nice value of one task of a process, as the kernel reports it (/proc/<pid>/task/<tid>/stat field 19). */
function niceOf(tid: number, pid = process.pid): number {
  const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

const linux = os.platform() === 'linux';

describe.runIf(linux)('lowerThreadPriority', () => {
  it('lowers the calling thread alone, and never raises it', async () => {
    const mainTid = currentThreadId();
    expect(mainTid).toBe(process.pid);
    const mainNice = niceOf(mainTid!);
    const url = new URL('../../engine/thread-priority.ts', import.meta.url).href;
    const code = `import { workerData, parentPort } from 'node:worker_threads';
      const { lowerThreadPriority, currentThreadId } = await import(workerData.url);
      const first = lowerThreadPriority(10);
      const second = lowerThreadPriority(5);
      parentPort.postMessage({ tid: currentThreadId(), first, second });
      await new Promise((resolve) => parentPort.once('message', resolve));`;
    const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), { workerData: { url } });
    try {
      const reply = await new Promise<{ tid: number; first: string; second: string }>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      expect(reply.tid).not.toBe(mainTid);
      expect(reply.first).toBe(`thread priority lowered: nice ${mainNice} → 10`);
      expect(reply.second).toBe('thread priority unchanged: nice 10');
      expect(niceOf(reply.tid)).toBe(10);
      expect(niceOf(mainTid!)).toBe(mainNice);
    } finally {
      worker.postMessage('done');
      await worker.terminate();
    }
  });

  it("runs a server's snapshot worker at SNAPSHOT_THREAD_NICE and the threads that serve at the process's", async () => {
    const server = await startZooid();
    try {
      const niceByThread = new Map<string, number>();
      for (const tid of fs.readdirSync(`/proc/${server.pid}/task`)) {
        const name = fs.readFileSync(`/proc/${server.pid}/task/${tid}/comm`, 'utf8').trim();
        niceByThread.set(name, niceOf(Number(tid), server.pid));
      }
      expect(niceByThread.get('snapshot')).toBe(SNAPSHOT_THREAD_NICE);
      for (const name of ['pipeline', 'log', 'io-0']) expect(niceByThread.get(name), name).toBe(niceByThread.get('MainThread'));
    } finally {
      await server.stop();
    }
  });
});
