// What bench compare measures: one standalone server, or an ensemble of N servers of one
// kind on this machine (server.N lines on loopback, a myid in each dataDir), started with
// the same zoo.cfg settings as the standalone one. The load is spread over every member's
// client port, and the CPU is the sum of the members' processes. The last members can be
// observers (bench/observers.ts).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fourLetterWord, freePort, startServer, type ServerHandle, type ServerKind } from '../test/support/servers.ts';
import { allocatePorts, serverLines, srvrMode } from '../test/support/ensemble.ts';
import { waitFor } from '../test/support/wait.ts';

/** What bench compare can run: the two servers, and the one-thread floor answerers (bench/floor-server.ts, bench/floor-c.c). */
export type BenchServerKind = ServerKind | 'floor' | 'floor-c';

export interface Deployment {
  kind: BenchServerKind;
  /** Every member's process (one when standalone). */
  pids: number[];
  /** Every member's client port, in server id order. */
  ports: number[];
  /** `srvr`'s Mode of each member as it was once all served (standalone, leader, follower). */
  modes: string[];
  stop(): Promise<void>;
}

/** Ensemble timing in ticks of the compare's tickTime (ZooKeeper's sample zoo.cfg has 10 and 5). */
const ENSEMBLE_LIMITS = { initLimit: '10', syncLimit: '5' };
/** From the first start to every member serving in a role. */
const ENSEMBLE_READY_MS = 60_000;

/**
 * Starts `size` servers of `kind` (1: standalone) with `config` (zooid from `zooidRoot`, another
 * checkout, when given), the last `observers` of them as observers (server.N=...:observer,
 * peerType=observer); stop() stops them all.
 */
export async function deploy(kind: BenchServerKind, size: number, config: Readonly<Record<string, string>>, zooidRoot?: string, observers = 0): Promise<Deployment> {
  if (!(Number.isInteger(size) && size >= 1)) throw new Error(`an ensemble has 1 server or more, not ${size}`);
  if (kind === 'floor' || kind === 'floor-c') {
    if (size !== 1) throw new Error('the floor answerer runs alone, not as an ensemble');
    return deployFloor(kind);
  }
  if (!(Number.isInteger(observers) && observers >= 0 && size - observers >= (size === 1 ? 1 : 2))) throw new Error(`${observers} observers of ${size} servers leave too few voters`);
  if (size === 1) {
    const h = await startServer(kind, { config: { ...config }, zooidRoot });
    return { kind, pids: [h.pid], ports: [h.port], modes: [(await srvrMode(h.port)) ?? 'unknown'], stop: () => h.stop() };
  }
  const sids = Array.from({ length: size }, (_, i) => i + 1);
  const ports = await allocatePorts(sids);
  const observerSids = sids.slice(size - observers);
  const lines = serverLines(ports, observerSids);
  const members: Record<string, string> = {};
  for (const line of lines) members[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
  const dataDirs = sids.map((sid) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${kind}-${sid}-`));
    fs.writeFileSync(path.join(dir, 'myid'), `${sid}\n`);
    return dir;
  });
  // all at once: a member serves only once a quorum has formed
  const started = await Promise.allSettled(
    ports.map((p, i) => startServer(kind, { port: p.clientPort, dataDir: dataDirs[i], readyTimeoutMs: ENSEMBLE_READY_MS, zooidRoot, config: { ...config, ...ENSEMBLE_LIMITS, ...members, ...(observerSids.includes(i + 1) ? { peerType: 'observer' } : {}) } })),
  );
  const handles = started.filter((s): s is PromiseFulfilledResult<ServerHandle> => s.status === 'fulfilled').map((s) => s.value);
  const stop = async () => {
    await Promise.all(handles.map((h) => h.stop().catch(() => undefined)));
    for (const dir of dataDirs) fs.rmSync(dir, { recursive: true, force: true });
  };
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) {
    await stop();
    throw failed.reason;
  }
  let modes: (string | null)[] = [];
  try {
    await waitFor(
      async () => {
        modes = await Promise.all(ports.map((p) => srvrMode(p.clientPort)));
        const roleRight = (m: string | null, i: number) => (observerSids.includes(i + 1) ? m === 'observer' : m === 'leader' || m === 'follower');
        return modes.every(roleRight) && modes.filter((m) => m === 'leader').length === 1;
      },
      { timeoutMs: ENSEMBLE_READY_MS, what: `a ${size}-server ${kind} ensemble to serve with one leader`, intervalMs: 200 },
    );
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message} (modes: ${modes.join(', ')})`);
  }
  return { kind, pids: handles.map((h) => h.pid), ports: ports.map((p) => p.clientPort), modes: modes as string[], stop };
}

const FLOOR_SERVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'floor-server.ts');
const FLOOR_C_SOURCE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'floor-c.c');
const FLOOR_READY_MS = 10_000;
const FLOOR_STOP_MS = 5_000;

/** bench/floor-c.c built with the machine's C compiler (cc -O2) into the temp directory, once per source. */
function floorCBinary(): string {
  const source = fs.readFileSync(FLOOR_C_SOURCE);
  const binary = path.join(os.tmpdir(), `zooid-floor-c-${createHash('sha256').update(source).digest('hex').slice(0, 12)}`);
  if (!fs.existsSync(binary)) {
    const building = `${binary}.${process.pid}.tmp`;
    const built = spawnSync('cc', ['-O2', '-o', building, FLOOR_C_SOURCE], { stdio: ['ignore', 'ignore', 'pipe'] });
    if (built.status !== 0) throw new Error(`cc -O2 ${FLOOR_C_SOURCE} failed (the C floor needs a C compiler): ${built.error?.message ?? built.stderr.toString()}`);
    fs.renameSync(building, binary);
  }
  return binary;
}

/** A one-thread floor answerer on a free port (it takes no zoo.cfg: it has nothing to configure). */
async function deployFloor(kind: 'floor' | 'floor-c'): Promise<Deployment> {
  const port = await freePort();
  const child = kind === 'floor'
    ? spawn(process.execPath, [FLOOR_SERVER, '--port', String(port)], { stdio: ['ignore', 'ignore', 'inherit'] })
    : spawn(floorCBinary(), [String(port)], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), FLOOR_STOP_MS);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitFor(async () => (await fourLetterWord(port, 'ruok', 1_000).catch(() => '')) === 'imok', { timeoutMs: FLOOR_READY_MS, what: 'the floor answerer to answer ruok', intervalMs: 50 });
  } catch (e) {
    await stop();
    throw e;
  }
  return { kind, pids: [child.pid!], ports: [port], modes: ['standalone'], stop };
}
