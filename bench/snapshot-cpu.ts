// Where a snapshot's CPU goes: the server's threads' CPU time (from /proc) across one csnp of
// the cached 1M-znode dataDir (bench/persistence.ts makes it), with nothing else running.
//   node bench/snapshot-cpu.ts [--znodes N]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startServer, fourLetterWord } from '../test/support/servers.ts';
import { threadCpu, threadCpuBetween } from './proc.ts';
import { copyDataDir } from './bench-server.ts';
import { LeanClient } from '../client/lean.ts';

const { values } = parseArgs({ options: { znodes: { type: 'string', default: '1000000' } } });
const source = path.join(os.tmpdir(), `zooid-bench-datadir-${values.znodes}-100`);
if (!fs.existsSync(source)) throw new Error(`${source} missing: run node bench/persistence.ts restart --znodes ${values.znodes} first`);
const dataDir = copyDataDir(source, 'snapcpu');
const server = await startServer('zooid', { dataDir, config: { snapCount: '1000000000', '4lw.commands.whitelist': '*' }, readyTimeoutMs: 120_000 });
try {
  const client = await LeanClient.connect({ host: '127.0.0.1', port: server.port });
  await client.create('/snapcpu', Buffer.from('x')); // a new zxid: csnp writes a new snapshot
  client.disconnect();
  const before = threadCpu(server.pid);
  const t0 = performance.now();
  const zxid = Number((await fourLetterWord(server.port, 'csnp', 10_000)).trim());
  const file = path.join(dataDir, 'version-2', `snapshot.${zxid.toString(16)}`);
  while (!fs.existsSync(file)) await new Promise((res) => setTimeout(res, 5));
  const wallMs = performance.now() - t0;
  const after = threadCpu(server.pid);
  console.log(`snapshot 0x${zxid.toString(16)}: ${wallMs.toFixed(0)} ms wall, ${(fs.statSync(file).size / 1e6).toFixed(0)} MB`);
  for (const g of threadCpuBetween(before, after)) if (g.cpuMs > 0) console.log(`  ${g.name.padEnd(16)} ${g.cpuMs.toFixed(0)} ms CPU`);
} finally {
  await server.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
