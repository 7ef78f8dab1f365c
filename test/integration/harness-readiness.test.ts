// The test harness's readiness (test/support/servers.ts): a zooid is ready when its own
// listening socket answers ruok. A starting zooid listens on its client port for a moment to
// claim it (engine/server.ts claimClientPorts), then releases it until it serves; a harness that
// took an accepted TCP connection for readiness let tests run against a server still loading
// (session.test.ts once got ECONNREFUSED on all 7 tests). Stand-in servers (a temp "zooid
// root" whose engine/cli.ts is a few lines) make that moment as long as we like.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startZooid } from '../support/servers.ts';

/** A stand-in cli.ts: `node cli.ts server zoo.cfg` reads clientPort and runs `behaviour`. */
function standIn(behaviour: string): string {
  return `import fs from 'node:fs';
import net from 'node:net';
const cfg = fs.readFileSync(process.argv[3], 'utf8');
const port = Number(/^clientPort=(\\d+)$/m.exec(cfg)[1]);
${behaviour}
setInterval(() => {}, 1000);
`;
}

/** Claims the port as zooid does, but holds it for 2 s (zooid: well under a millisecond, more on a loaded machine), then never serves. */
const CLAIMS_THEN_LOADS_FOREVER = standIn(`
const probe = net.createServer();
probe.listen({ port, host: '127.0.0.1', exclusive: true }, () => setTimeout(() => probe.close(), 2000));
`);

/** Answers every connection with imok, as a serving zooid answers ruok. */
const SERVES = standIn(`
net.createServer((s) => { s.on('error', () => {}); s.end('imok'); }).listen({ port, host: '127.0.0.1' });
`);

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-harness-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function fakeRoot(name: string, cli: string): string {
  const dir = path.join(root, name);
  fs.mkdirSync(path.join(dir, 'engine'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'engine', 'cli.ts'), cli);
  return dir;
}

describe('startZooid waits for an answer from the server itself', () => {
  it('a server that only claimed its port for a moment is not taken for ready', async () => {
    const started = startZooid({ zooidRoot: fakeRoot('claims', CLAIMS_THEN_LOADS_FOREVER), readyTimeoutMs: 4_000 });
    await expect(started).rejects.toThrow(/did not become ready .* timed out/s);
  }, 20_000);

  it('a server that answers ruok is ready', async () => {
    const server = await startZooid({ zooidRoot: fakeRoot('serves', SERVES), readyTimeoutMs: 10_000 });
    await server.stop();
  }, 20_000);
});
