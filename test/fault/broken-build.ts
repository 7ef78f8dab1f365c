// Deliberately broken builds of zooid (issue 12: "a deliberately broken build is caught by
// the checker within the short CI run"). Unlike the fault proxy's planted bugs, which sit
// between the clients and a correct server, these are bugs in the server's own code: a copy
// of the engine is made in a temp directory and edited there, and the fault harness starts
// that copy. Each edit names the exact text it replaces and must match it exactly once, so a
// broken build whose anchor no longer exists fails loudly instead of quietly testing a
// correct server.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../support/servers.ts';

export interface SourceEdit {
  /** Path under the repository root. */
  file: string;
  find: string;
  replace: string;
}

export interface BrokenBuild {
  /** What the bug is, as a user would see it. */
  what: string;
  edits: readonly SourceEdit[];
}

export const BROKEN_BUILDS = {
  // Group commit with a flush delay done wrong: the log worker tells the pipeline a txn is
  // durable as soon as it is appended to the batch buffer, and writes the buffer at most
  // every 100 ms. Replies are released before the log write (let alone the fsync), so a
  // kill -9 loses acknowledged writes.
  'ack-before-write': {
    what: 'replies released before their txns are written to the log (writes delayed up to 100 ms)',
    edits: [
      { file: 'engine/workers/log-worker.ts', find: 'const zxid = writer.lastFlushedZxid;', replace: 'const zxid = writer.lastAppendedZxid;' },
      { file: 'engine/workers/log-worker.ts', find: 'let rollPending = false;', replace: 'let rollPending = false;\nlet lastWriteAtMs = 0;' },
      {
        file: 'engine/workers/log-worker.ts',
        find: '  ring.flushSpaceBell();\n  if (bytes > 0) {',
        replace: '  ring.flushSpaceBell();\n  publishDurable();\n  if (writer.lastAppendedZxid !== writer.lastWrittenZxid && performance.now() - lastWriteAtMs > 100) {\n    lastWriteAtMs = performance.now();',
      },
    ],
  },
} as const satisfies Record<string, BrokenBuild>;

export type BrokenBuildName = keyof typeof BROKEN_BUILDS;
export const BROKEN_BUILD_NAMES = Object.keys(BROKEN_BUILDS) as BrokenBuildName[];

/** What a zooid build needs at run time: its sources and the installed packages. */
const COPIED = ['engine', 'native-free-io', 'client', 'package.json'];

const built = new Map<BrokenBuildName, string>();

/** Applies one edit to text: exactly one match, or an error that names the build and the anchor. */
export function applyEdit(name: string, text: string, edit: SourceEdit): string {
  const first = text.indexOf(edit.find);
  if (first < 0 || text.indexOf(edit.find, first + 1) >= 0) {
    throw new Error(
      `broken build ${name}: ${edit.file} has ${first < 0 ? 'no' : 'more than one'} match of ${JSON.stringify(edit.find)}; ` +
        'the code moved: update the edit in test/fault/broken-build.ts',
    );
  }
  return text.slice(0, first) + edit.replace + text.slice(first + edit.find.length);
}

/** The root of a copy of this repository's zooid with the named bug in it (made once per process). */
export function brokenBuildRoot(name: BrokenBuildName): string {
  const done = built.get(name);
  if (done !== undefined) return done;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `zooid-broken-${name}-`));
  for (const entry of COPIED) fs.cpSync(path.join(REPO_ROOT, entry), path.join(root, entry), { recursive: true });
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(root, 'node_modules'), 'dir');
  const byFile = new Map<string, string>();
  for (const edit of BROKEN_BUILDS[name].edits) {
    const file = path.join(root, edit.file);
    byFile.set(file, applyEdit(name, byFile.get(file) ?? fs.readFileSync(file, 'utf8'), edit));
  }
  for (const [file, text] of byFile) fs.writeFileSync(file, text);
  built.set(name, root);
  return root;
}

/** Removes the copies this process made. */
export function removeBrokenBuilds(): void {
  for (const root of built.values()) fs.rmSync(root, { recursive: true, force: true });
  built.clear();
}
