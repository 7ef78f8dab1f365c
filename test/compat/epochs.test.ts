// The acceptedEpoch / currentEpoch files against Apache ZooKeeper 3.8 itself: a one-server
// quorum (standaloneEnabled=false, one server.1 line) runs QuorumPeer as leader, so it reads
// and writes the epoch files as every ensemble member does.
//   - what ZooKeeper writes, readEpochs reads, byte for byte what writeEpochFile writes;
//   - ZooKeeper starts from files writeEpochFile wrote and leads the next epoch;
//   - files missing, corrupt, or inconsistent with the data: ZooKeeper and loadEpochs decide
//     the same (the same epochs written, or both refuse with the same message).
import { describe, it, expect, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startZooKeeper, connectWhenServing, freePort, type ServerHandle } from '../support/servers.ts';
import { EpochFileError, loadEpochs, readEpochs, writeEpochFile } from '../../engine/persistence/epochs.ts';

const EPOCH_UNIT = 2 ** 32;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-epochs-compat-'));
afterAll(() => {
  if (process.env.ZOOID_TEST_KEEP_TMP !== '1') fs.rmSync(root, { recursive: true, force: true });
});

let dataDirCount = 0;
function freshDataDir(): string {
  const dataDir = path.join(root, `data${dataDirCount++}`);
  fs.mkdirSync(path.join(dataDir, 'version-2'), { recursive: true });
  fs.writeFileSync(path.join(dataDir, 'myid'), '1\n');
  return dataDir;
}

function copyDataDir(from: string): string {
  const to = path.join(root, `data${dataDirCount++}`);
  fs.cpSync(from, to, { recursive: true });
  return to;
}

const v2 = (dataDir: string) => path.join(dataDir, 'version-2');

async function quorumOfOne(dataDir: string): Promise<ServerHandle> {
  const [quorumPort, electionPort] = [await freePort(), await freePort()];
  return startZooKeeper({ dataDir, config: { standaloneEnabled: 'false', initLimit: '5', syncLimit: '2', 'server.1': `127.0.0.1:${quorumPort}:${electionPort}` } });
}

/** Starts ZooKeeper on dataDir, creates a node, stops. Returns the node's czxid. */
async function leadOnce(dataDir: string, node: string): Promise<number> {
  const zk = await quorumOfOne(dataDir);
  try {
    const c = await connectWhenServing(zk);
    await c.create(node);
    const stat = await c.exists(node);
    await c.close();
    return stat!.czxid;
  } finally {
    await zk.stop();
  }
}

/** Starts ZooKeeper on dataDir expecting it to refuse; returns its log. */
async function refusal(dataDir: string): Promise<string> {
  const error = await quorumOfOne(dataDir).then(async (zk) => {
    await zk.stop();
    return null;
  }, (e: Error) => e);
  expect(error, 'ZooKeeper started').not.toBeNull();
  return error!.message;
}

describe('epoch files and Apache ZooKeeper 3.8', () => {
  let led: string;

  it('reads what ZooKeeper writes, and writes the same bytes', async () => {
    led = freshDataDir();
    const czxid = await leadOnce(led, '/first');
    expect(Math.floor(czxid / EPOCH_UNIT)).toBe(1);
    expect(readEpochs(v2(led))).toEqual({ acceptedEpoch: 1, currentEpoch: 1 });
    const ours = freshDataDir();
    writeEpochFile(v2(ours), 'acceptedEpoch', 1);
    writeEpochFile(v2(ours), 'currentEpoch', 1);
    for (const name of ['acceptedEpoch', 'currentEpoch']) {
      expect(fs.readFileSync(path.join(v2(ours), name))).toEqual(fs.readFileSync(path.join(v2(led), name)));
    }
    expect(fs.readdirSync(v2(led)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  }, 60_000);

  it('ZooKeeper starts from files writeEpochFile wrote and leads the epoch after acceptedEpoch', async () => {
    const dataDir = freshDataDir();
    writeEpochFile(v2(dataDir), 'acceptedEpoch', 7);
    writeEpochFile(v2(dataDir), 'currentEpoch', 5);
    const czxid = await leadOnce(dataDir, '/eighth');
    expect(Math.floor(czxid / EPOCH_UNIT)).toBe(8);
    expect(readEpochs(v2(dataDir))).toEqual({ acceptedEpoch: 8, currentEpoch: 8 });
    led = dataDir;
  }, 60_000);

  it('missing files: ZooKeeper and loadEpochs both write the epoch of the last zxid', async () => {
    // led holds txns of epoch 8; without its epoch files both recreate them as 8
    const zkDir = copyDataDir(led);
    const ourDir = copyDataDir(led);
    for (const d of [zkDir, ourDir]) for (const name of ['acceptedEpoch', 'currentEpoch']) fs.rmSync(path.join(v2(d), name));
    const lastZxid = 8 * EPOCH_UNIT + 3; // createSession, create /eighth, closeSession
    expect(loadEpochs(v2(ourDir), lastZxid, () => {})).toEqual({ acceptedEpoch: 8, currentEpoch: 8 });
    // ZooKeeper then leads epoch 9 and rewrites both files: the default it created shows in the log
    const zk = await quorumOfOne(zkDir);
    const log = fs.readFileSync(zk.logFile, 'utf8');
    await zk.stop();
    expect(log).toContain('currentEpoch not found! Creating with a reasonable default of 8');
    expect(log).toContain('acceptedEpoch not found! Creating with a reasonable default of 8');
  }, 60_000);

  it('corrupt content: both refuse, naming the line and the file', async () => {
    const dataDir = copyDataDir(led);
    fs.writeFileSync(path.join(v2(dataDir), 'currentEpoch'), 'abc\n');
    expect(() => readEpochs(v2(dataDir))).toThrow(EpochFileError);
    expect(() => readEpochs(v2(dataDir))).toThrow(`Found abc in ${path.join(v2(dataDir), 'currentEpoch')}`);
    expect(await refusal(dataDir)).toContain(`Found abc in ${path.join(v2(dataDir), 'currentEpoch')}`);
  }, 60_000);

  it('currentEpoch older than the data: both refuse; with a currentEpoch.tmp both take it', async () => {
    const lastZxid = 8 * EPOCH_UNIT + 3;
    const dataDir = copyDataDir(led);
    fs.writeFileSync(path.join(v2(dataDir), 'currentEpoch'), '2');
    const message = `The current epoch, 2, is older than the last zxid, ${lastZxid}`;
    expect(() => loadEpochs(v2(dataDir), lastZxid, () => {})).toThrow(message);
    expect(await refusal(dataDir)).toContain(message);

    const ourDir = copyDataDir(dataDir);
    for (const d of [dataDir, ourDir]) fs.writeFileSync(path.join(v2(d), 'currentEpoch.tmp'), '8');
    expect(loadEpochs(v2(ourDir), lastZxid, () => {})).toEqual({ acceptedEpoch: 8, currentEpoch: 8 });
    // ZooKeeper took currentEpoch.tmp's 8 (else it would have refused) and led epoch 9
    const czxid = await leadOnce(dataDir, '/ninth');
    expect(Math.floor(czxid / EPOCH_UNIT)).toBe(9);
    expect(readEpochs(v2(dataDir))).toEqual({ acceptedEpoch: 9, currentEpoch: 9 });
  }, 90_000);

  it('acceptedEpoch below currentEpoch: both refuse', async () => {
    const lastZxid = 8 * EPOCH_UNIT + 3;
    const dataDir = copyDataDir(led);
    fs.writeFileSync(path.join(v2(dataDir), 'acceptedEpoch'), '3');
    const message = 'The accepted epoch, 3 is less than the current epoch, 8';
    expect(() => loadEpochs(v2(dataDir), lastZxid, () => {})).toThrow(message);
    expect(await refusal(dataDir)).toContain(message);
  }, 60_000);
});
