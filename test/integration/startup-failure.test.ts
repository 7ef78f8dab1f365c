// A worker that fails while the server starts stops the start (engine/server.ts watchStart):
// the server exits with code 1 and says which worker failed and why, whether the worker failed
// while loading its modules (the pipeline still loading or recovering) or after 'start'. Each case runs
// a copy of this repository's zooid with one line added to one worker.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startZooid } from '../support/servers.ts';

const COPIED = ['engine', 'native-free-io', 'client', 'package.json'];

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-startfail-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** A zooid copy whose `file` has `line` inserted right after `anchor` (which must occur once). */
function zooidWith(name: string, file: string, anchor: string, line: string): string {
  const dir = path.join(root, name);
  for (const entry of COPIED) fs.cpSync(path.join(REPO_ROOT, entry), path.join(dir, entry), { recursive: true });
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  const target = path.join(dir, file);
  const text = fs.readFileSync(target, 'utf8');
  const at = text.indexOf(anchor);
  expect(at >= 0 && text.indexOf(anchor, at + 1) < 0, `${file} has ${anchor} once`).toBe(true);
  fs.writeFileSync(target, text.slice(0, at + anchor.length) + line + text.slice(at + anchor.length));
  return dir;
}

describe('a worker failing at start stops the server', () => {
  it("the log worker failing as it loads, before it says 'loaded'", async () => {
    const zooidRoot = zooidWith('log-load', 'engine/workers/log-worker.ts', "trace('log worker loaded');\n", "throw new Error('planted failure while loading');\n");
    const err = await startZooid({ zooidRoot, readyTimeoutMs: 30_000 }).then(() => null, (e: Error) => e);
    expect(err?.message).toMatch(/exited early \(code 1\)/);
    expect(err?.message).toMatch(/cannot start: log worker: planted failure while loading/);
  }, 60_000);

  it("an io worker failing as it loads (spawned with the pipeline, which is still loading)", async () => {
    const zooidRoot = zooidWith('io-load', 'engine/workers/io-worker.ts', "trace('io worker loaded');\n", "throw new Error('planted failure while loading');\n");
    const err = await startZooid({ zooidRoot, readyTimeoutMs: 30_000 }).then(() => null, (e: Error) => e);
    expect(err?.message).toMatch(/exited early \(code 1\)/);
    expect(err?.message).toMatch(/cannot start: io worker 0: planted failure while loading/);
  }, 60_000);

  it('an io worker failing after start (before it listens)', async () => {
    const zooidRoot = zooidWith('io-start', 'engine/workers/io-worker.ts', 'await awaitStart();\n', "throw new Error('planted failure after start');\n");
    const err = await startZooid({ zooidRoot, readyTimeoutMs: 30_000 }).then(() => null, (e: Error) => e);
    expect(err?.message).toMatch(/exited early \(code 1\)/);
    expect(err?.message).toMatch(/cannot start: io worker 0: planted failure after start/);
  }, 60_000);
});
