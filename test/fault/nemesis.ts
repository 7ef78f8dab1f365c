// Nemeses, chosen and timed by the run's seeded randomness, one at a time:
// - kill9: SIGKILL the server, stay down a moment, restart it on the same dataDir and port;
// - pause: SIGSTOP, hold (sometimes longer than the session timeout), SIGCONT;
// - proxy-cut: drop every client connection at the fault proxy and refuse new ones, then restore;
// - proxy-delay: hold every frame in both directions for a while.
// The gaps and holds are the faults' durations (what the nemesis does), not waits for a
// condition; readiness after a restart is waited for as a condition (servers.ts).

import { type ServerHandle } from '../support/servers.ts';
import { type FaultProxy } from './proxy.ts';

export const NEMESIS_KINDS = ['kill9', 'pause', 'proxy-cut', 'proxy-delay'] as const;
export type NemesisKind = (typeof NEMESIS_KINDS)[number];

export interface NemesisEvent {
  kind: NemesisKind;
  atMs: number;
  holdMs: number;
  /** kill9: how long the restart took until the server was ready. */
  restartMs?: number;
  delayMs?: number;
}

/** What the nemesis acts on: the current server process (restarts replace it) and the proxy. */
export interface NemesisTarget {
  server(): ServerHandle;
  restart(): Promise<void>;
  proxy: FaultProxy;
  sessionTimeoutMs: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function parseNemeses(text: string): NemesisKind[] {
  if (text === 'none' || text === '') return [];
  const kinds = text.split(',').map((s) => s.trim());
  for (const k of kinds) if (!(NEMESIS_KINDS as readonly string[]).includes(k)) throw new Error(`unknown nemesis ${JSON.stringify(k)}; known: ${NEMESIS_KINDS.join(', ')}, none`);
  return kinds as NemesisKind[];
}

/** Acts until `untilMs` (on `nowMs`'s clock); returns what it did. Leaves everything healed. */
export async function runNemesis(target: NemesisTarget, kinds: readonly NemesisKind[], random: () => number, nowMs: () => number, untilMs: number): Promise<NemesisEvent[]> {
  const events: NemesisEvent[] = [];
  if (kinds.length === 0) return events;
  for (;;) {
    await sleep(200 + random() * 800);
    if (nowMs() >= untilMs) break;
    const kind = kinds[Math.floor(random() * kinds.length)];
    const atMs = nowMs();
    if (kind === 'kill9') {
      const holdMs = Math.floor(random() * 500);
      await target.server().kill9();
      await sleep(holdMs);
      const restartAtMs = nowMs();
      await target.restart();
      events.push({ kind, atMs, holdMs, restartMs: Math.round(nowMs() - restartAtMs) });
    } else if (kind === 'pause') {
      // up to 1.75 × the session timeout: about half the pauses outlive the sessions
      const holdMs = Math.floor(300 + random() * target.sessionTimeoutMs * 1.6);
      const pid = target.server().pid;
      process.kill(pid, 'SIGSTOP');
      try {
        await sleep(holdMs);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      events.push({ kind, atMs, holdMs });
    } else if (kind === 'proxy-cut') {
      const holdMs = Math.floor(100 + random() * 1500);
      await target.proxy.cut();
      await sleep(holdMs);
      await target.proxy.restore();
      events.push({ kind, atMs, holdMs });
    } else {
      const holdMs = Math.floor(300 + random() * 1500);
      const delayMs = Math.floor(20 + random() * 600);
      target.proxy.setDelayMs(delayMs);
      await sleep(holdMs);
      target.proxy.setDelayMs(0);
      events.push({ kind, atMs, holdMs, delayMs });
    }
  }
  return events;
}
