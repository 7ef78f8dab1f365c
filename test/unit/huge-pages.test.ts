// engine/huge-pages.ts: `zooid server` re-executes itself with glibc's malloc tunable for
// transparent huge pages where the kernel gives them on request, keeps an operator's own
// setting, and can be told not to.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hugePageTunables } from '../../engine/huge-pages.ts';
import { startZooid } from '../support/servers.ts';

const MADVISE = 'always [madvise] never\n';

describe('hugePageTunables', () => {
  it('adds glibc.malloc.hugetlb=1 on Linux with THP on request, after the tunables already set', () => {
    expect(hugePageTunables({}, 'linux', MADVISE)).toBe('glibc.malloc.hugetlb=1');
    expect(hugePageTunables({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }, 'linux', MADVISE)).toBe('glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1');
  });

  it('leaves the process as it is: set already (by us or the operator), ZOOID_HUGE_PAGES=off, THP always or never, off Linux', () => {
    expect(hugePageTunables({ GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' }, 'linux', MADVISE)).toBeNull();
    expect(hugePageTunables({ ZOOID_HUGE_PAGES: 'off' }, 'linux', MADVISE)).toBeNull();
    expect(hugePageTunables({}, 'linux', '[always] madvise never\n')).toBeNull();
    expect(hugePageTunables({}, 'linux', 'always madvise [never]\n')).toBeNull();
    expect(hugePageTunables({}, 'linux', null)).toBeNull();
    expect(hugePageTunables({}, 'darwin', MADVISE)).toBeNull();
  });
});

/** The environment a running process was started (or last re-executed) with. */
function environOf(pid: number): Map<string, string> {
  const entries = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
  return new Map(entries.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}

let thpMode = '';
try {
  thpMode = fs.readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8');
} catch {
  // no THP: the server runs as started
}

describe.runIf(thpMode.includes('[madvise]'))('zooid server on a kernel with THP on request', () => {
  it('serves under the pid it was started with, re-executed with the tunable', async () => {
    const server = await startZooid();
    try {
      expect(environOf(server.pid).get('GLIBC_TUNABLES')).toBe('glibc.malloc.hugetlb=1');
    } finally {
      await server.stop();
    }
  });

  it('with ZOOID_HUGE_PAGES=off, runs as started', async () => {
    const server = await startZooid({ env: { ZOOID_HUGE_PAGES: 'off' } });
    try {
      expect(environOf(server.pid).has('GLIBC_TUNABLES')).toBe(false);
    } finally {
      await server.stop();
    }
  });
});
