// Transparent huge pages for the tree (issue 13: restart). The tree lives in typed-array
// pages and data chunks that glibc's malloc takes from the kernel; the first touch of each
// 4 KiB page is a page fault, and a snapshot load of 1M znodes touches ~80,000 of them —
// about 10 µs each on this project's VM, a third of the load. glibc maps its memory with
// madvise(MADV_HUGEPAGE) when the tunable glibc.malloc.hugetlb=1 is set, and where the
// kernel's THP mode is "madvise" (Debian's default) that gives 2 MiB pages: ~22,000 faults,
// the load 35–40% faster (bench/results/huge-pages-2026-12-05.md), at ~5% more resident
// memory (a huge page is resident whole).
//
// A tunable is read when the process starts, so `zooid server` re-executes itself with it
// (process.execve: the same pid, arguments and descriptors) before it loads anything else.
// Not done when the operator set glibc.malloc.hugetlb already, when THP is "always" (nothing
// to gain) or "never" (nothing possible), off Linux, or with ZOOID_HUGE_PAGES=off.
import fs from 'node:fs';

const TUNABLE = 'glibc.malloc.hugetlb';
const THP_MODE_FILE = '/sys/kernel/mm/transparent_hugepage/enabled';

/** The GLIBC_TUNABLES value to re-execute with, or null to go on as we are. */
export function hugePageTunables(env: NodeJS.ProcessEnv, platform: string, thpMode: string | null): string | null {
  if (platform !== 'linux' || env.ZOOID_HUGE_PAGES === 'off') return null;
  const current = env.GLIBC_TUNABLES ?? '';
  if (current.split(':').some((t) => t.startsWith(`${TUNABLE}=`))) return null;
  if (thpMode === null || !thpMode.includes('[madvise]')) return null;
  return current === '' ? `${TUNABLE}=1` : `${current}:${TUNABLE}=1`;
}

function thpMode(): string | null {
  try {
    return fs.readFileSync(THP_MODE_FILE, 'utf8');
  } catch {
    return null;
  }
}

/** Re-executes this process with huge pages for malloc when hugePageTunables says so; returns otherwise. */
export function reexecWithHugePages(): void {
  const execve = (process as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never }).execve;
  if (typeof execve !== 'function') return;
  const tunables = hugePageTunables(process.env, process.platform, thpMode());
  if (tunables === null) return;
  execve.call(process, process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], { ...process.env, GLIBC_TUNABLES: tunables });
}
