// Apache ZooKeeper 3.8's own code as an oracle for files (test/support/java/ZkOracle.java):
// FileTxnLog.truncate and LearnerHandler.syncFollower run by the installed zookeeper.jar
// on a directory a test made. The class is compiled once per test process into a temp dir.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './servers.ts';

const JARS = ['zookeeper.jar', 'zookeeper-jute.jar', 'slf4j-api.jar', 'slf4j-nop.jar'].map((j) => path.join('/usr/share/java', j));
const SOURCE = path.join(REPO_ROOT, 'test', 'support', 'java', 'ZkOracle.java');
const CLASS = 'org.apache.zookeeper.server.quorum.ZkOracle';

let classDir: string | null = null;

function compiled(): string {
  if (classDir !== null) return classDir;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-zkoracle-'));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const run = spawnSync('javac', ['-nowarn', '-cp', JARS.join(':'), '-d', dir, SOURCE], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`javac ${SOURCE} failed:\n${run.stdout}${run.stderr}`);
  classDir = dir;
  return dir;
}

function run(args: string[]): string[] {
  const out = spawnSync('java', ['-Xmx256m', '-XX:+UseSerialGC', '-cp', [compiled(), ...JARS].join(':'), CLASS, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (out.status !== 0) throw new Error(`ZkOracle ${args.join(' ')} exited ${out.status}:\n${out.stdout}${out.stderr}`);
  return out.stdout.trim().split('\n');
}

/** FileTxnLog.truncate(zxid) on logDir (the version-2 directory): 'truncated true' or 'error <message>'. */
export function zkTruncate(logDir: string, zxid: number): string {
  return run(['truncate', logDir, zxid.toString(16)])[0];
}

export interface ZkSyncDecision {
  peer: number;
  snap: boolean;
  /** The zxid LearnerMaster.startForwarding was called with. */
  forwardFrom: number;
  /** Queued packets: "13:<zxid hex>" DIFF, "14:" TRUNC, "2:<zxid hex>:<Adler32 of the data, hex>" PROPOSAL, "4:" COMMIT. */
  packets: string[];
}

/**
 * ZKDatabase.loadDataBase over dataDir/dataLogDir (the zoo.cfg directories, not version-2),
 * then LearnerHandler.syncFollower for each peer zxid.
 */
export function zkSyncFollower(dataDir: string, dataLogDir: string, peers: readonly number[]): { loaded: { lastProcessed: number; min: number; max: number }; decisions: ZkSyncDecision[] } {
  const lines = run(['sync', dataDir, dataLogDir, ...peers.map((p) => p.toString(16))]);
  const [, last, min, max] = lines[0].split(' ');
  const decisions = lines.slice(1).map((line): ZkSyncDecision => {
    const [peer, snap, , forward, ...packets] = line.split(' ');
    return { peer: parseInt(peer, 16), snap: snap === 'SNAP', forwardFrom: parseInt(forward, 16), packets };
  });
  return { loaded: { lastProcessed: parseInt(last, 16), min: parseInt(min, 16), max: parseInt(max, 16) }, decisions };
}
