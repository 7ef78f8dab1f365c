// Nemeses for ensemble targets, chosen and timed by the run's seeded randomness, one at a time:
// - kill9 / kill9-leader: SIGKILL a random member (or the one leading), stay down a moment,
//   restart it on its dataDir and ports;
// - pause / pause-leader: SIGSTOP a member, hold (sometimes past the session timeout and the
//   sync limit, so the others elect without it), SIGCONT;
// - isolate-leader: cut every peer link of the leader (the others are a majority and elect);
// - partition: a random member alone on one side, the other two on the other (minority and
//   majority; the leader may be on either side);
// - bridge: cut one link only: the third member still talks to both ends;
// - proxy-cut / proxy-delay: one member's client fault proxy drops its clients (they move to
//   another member) or holds their frames.
// The holds are the faults' durations (what the nemesis does), not waits for a condition.

import type { NemesisEvent } from './nemesis.ts';
import type { FaultProxy } from './proxy.ts';
import type { Ensemble, EnsembleMember } from './ensemble-target.ts';
import { ENSEMBLE_NEMESIS_KINDS } from './nemesis.ts';

export type EnsembleNemesisKind = (typeof ENSEMBLE_NEMESIS_KINDS)[number];

export interface EnsembleNemesisTarget {
  ensemble: Ensemble;
  /** The client fault proxy in front of each member, in member order. */
  proxies: readonly FaultProxy[];
  sessionTimeoutMs: number;
}

/** Longest partition: several sync limits (2 ticks of 1 s), so elections happen on the majority side. */
const PARTITION_HOLD_MS_MAX = 6_000;
const KILL_HOLD_MS_MAX = 2_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function assertEnsembleNemeses(kinds: readonly string[]): asserts kinds is readonly EnsembleNemesisKind[] {
  for (const k of kinds) {
    if (!(ENSEMBLE_NEMESIS_KINDS as readonly string[]).includes(k)) throw new Error(`the nemesis ${k} is not one for ensembles; those are ${ENSEMBLE_NEMESIS_KINDS.join(', ')}`);
  }
}

/** Acts until `untilMs` (on `nowMs`'s clock), appending what it did to `events`. Leaves everything healed and running. */
export async function runEnsembleNemesis(
  target: EnsembleNemesisTarget,
  kinds: readonly EnsembleNemesisKind[],
  random: () => number,
  nowMs: () => number,
  untilMs: number,
  events: NemesisEvent[],
): Promise<void> {
  if (kinds.length === 0) return;
  const { ensemble, proxies } = target;
  const members = ensemble.members;
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
  /** The leader for the -leader nemeses (a random member while none leads); which member, and whether it led. */
  const victim = async (wantLeader: boolean): Promise<{ member: EnsembleMember; wasLeader: boolean }> => {
    const randomMember = pick(members);
    const leader = await ensemble.leader();
    if (wantLeader && leader !== null) return { member: leader, wasLeader: true };
    return { member: randomMember, wasLeader: randomMember === leader };
  };
  for (;;) {
    await sleep(300 + random() * 1200);
    if (nowMs() >= untilMs) break;
    const kind = pick(kinds);
    const atMs = nowMs();
    if (kind === 'kill9' || kind === 'kill9-leader') {
      const holdMs = Math.floor(random() * KILL_HOLD_MS_MAX);
      const { member, wasLeader } = await victim(kind === 'kill9-leader');
      await member.kill9();
      await sleep(holdMs);
      const event: NemesisEvent = { kind, atMs, holdMs, sid: member.sid, wasLeader };
      events.push(event);
      const restartAtMs = nowMs();
      await member.restart();
      event.restartMs = Math.round(nowMs() - restartAtMs);
    } else if (kind === 'pause' || kind === 'pause-leader') {
      const holdMs = Math.floor(300 + random() * target.sessionTimeoutMs * 1.6);
      const { member, wasLeader } = await victim(kind === 'pause-leader');
      const pid = member.pid();
      process.kill(pid, 'SIGSTOP');
      try {
        await sleep(holdMs);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      events.push({ kind, atMs, holdMs, sid: member.sid, wasLeader });
    } else if (kind === 'isolate-leader' || kind === 'partition' || kind === 'bridge') {
      const holdMs = Math.floor(500 + random() * (PARTITION_HOLD_MS_MAX - 500));
      const { member, wasLeader } = await victim(kind === 'isolate-leader');
      const others = members.filter((m) => m !== member).map((m) => m.sid);
      if (kind === 'bridge') ensemble.mesh.cut(member.sid, pick(others));
      else ensemble.mesh.partition([[member.sid], others]);
      const links = ensemble.mesh.cutLinks();
      try {
        await sleep(holdMs);
      } finally {
        ensemble.mesh.heal();
      }
      events.push({ kind, atMs, holdMs, sid: member.sid, wasLeader, links });
    } else if (kind === 'proxy-cut') {
      const holdMs = Math.floor(100 + random() * 1500);
      const i = Math.floor(random() * proxies.length);
      await proxies[i].cut();
      await sleep(holdMs);
      await proxies[i].restore();
      events.push({ kind, atMs, holdMs, sid: members[i].sid });
    } else {
      const holdMs = Math.floor(300 + random() * 1500);
      const delayMs = Math.floor(20 + random() * 600);
      const i = Math.floor(random() * proxies.length);
      proxies[i].setDelayMs(delayMs);
      await sleep(holdMs);
      proxies[i].setDelayMs(0);
      events.push({ kind, atMs, holdMs, delayMs, sid: members[i].sid });
    }
  }
}
