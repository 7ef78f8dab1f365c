// Fill rate (issue 13): a fresh zooid (fsync on) filled with N znodes of B bytes
// (/fill/pXXXX/nXXXX, 1000 per parent) by C connections with K creates in flight each;
// prints creates/s over the whole fill and the server's RSS at the end.
//
//   node bench/fill.ts [--znodes N] [--bytes B] [--connections C] [--outstanding K] [--idle S]
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { LeanClient } from '../client/lean.ts';
import { startZooid } from '../test/support/servers.ts';
import { rssBytes } from '../test/support/probes.ts';

const { values } = parseArgs({ options: {
  znodes: { type: 'string', default: '200000' }, bytes: { type: 'string', default: '100' },
  connections: { type: 'string', default: '8' }, outstanding: { type: 'string', default: '100' },
  idle: { type: 'string', default: '0' },
} });
const znodes = Number(values.znodes);
const connections = Number(values.connections);
const outstanding = Number(values.outstanding);
const value = Buffer.alloc(Number(values.bytes), 0x61);
const parents = Math.ceil(znodes / 1000);

const server = await startZooid({ config: { maxClientCnxns: '0' } });
try {
  const clients = await Promise.all(Array.from({ length: connections }, () => LeanClient.connect({ host: '127.0.0.1', port: server.port, connectTimeoutMs: 5000 })));
  await clients[0].create('/fill');
  for (let p = 0; p < parents; p++) await clients[0].create(`/fill/p${String(p).padStart(4, '0')}`);
  let next = 0;
  const startedMs = performance.now();
  // each connection keeps `outstanding` creates in flight until all are sent
  await Promise.all(clients.map(async (c) => {
    const lane = async (): Promise<void> => {
      for (let i = next++; i < znodes; i = next++) {
        await c.create(`/fill/p${String(Math.floor(i / 1000)).padStart(4, '0')}/n${String(i % 1000).padStart(4, '0')}`, value);
      }
    };
    await Promise.all(Array.from({ length: outstanding }, lane));
  }));
  const seconds = (performance.now() - startedMs) / 1000;
  console.log(`${znodes} creates of ${value.length} B over ${connections} connections × ${outstanding} in flight: ${seconds.toFixed(2)} s, ` +
    `${Math.round(znodes / seconds)} creates/s; server RSS ${(rssBytes(server.pid) / 2 ** 20).toFixed(0)} MiB`);
  await Promise.all(clients.map((c) => c.close()));
  // --idle S: stay up S seconds without clients; shows the idle memory trim (engine/memory-trim.ts) after the fill
  const idleS = Number(values.idle);
  if (idleS > 0) {
    await new Promise((r) => setTimeout(r, idleS * 1000));
    console.log(`after ${idleS} s idle: server RSS ${(rssBytes(server.pid) / 2 ** 20).toFixed(0)} MiB`);
    for (const line of server.logTail(400).split('\n')) if (line.includes('idle memory trim')) console.log(line);
  }
} finally {
  await server.stop();
}
