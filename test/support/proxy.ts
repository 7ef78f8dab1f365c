// A loopback TCP proxy that tests can cut: `cut()` drops every open connection
// and stops listening, so reconnect attempts are refused (never accepted: a
// client that sees "connected" may queue handshake-time requests, e.g.
// node-zookeeper-client queues one SetWatches per accepted attempt) until
// `restore()` listens again on the same port.
// Lets a client lose its connection and stay away while other sessions change
// things — then come back with the same session (SetWatches, expiry).

import * as net from 'node:net';

export interface CuttableProxy {
  port: number;
  /** Connections forwarded so far. */
  readonly forwardedCount: number;
  /** Drop open connections and stop listening until restore(). */
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number): Promise<CuttableProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  let isCut = false;
  let forwardedCount = 0;
  const server = net.createServer((client) => {
    client.on('error', () => undefined);
    if (isCut) {
      client.destroy();
      return;
    }
    forwardedCount++;
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    const pair = { client, upstream };
    pairs.add(pair);
    const drop = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const listen = (port: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const dropAll = (): void => {
    for (const pair of [...pairs]) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    pairs.clear();
  };
  const stopListening = (): Promise<void> =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });
  await listen(0);
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  const port = address.port;
  return {
    port,
    get forwardedCount() {
      return forwardedCount;
    },
    async cut() {
      isCut = true;
      const closed = stopListening();
      dropAll();
      await closed;
    },
    async restore() {
      isCut = false;
      if (!server.listening) await listen(port);
    },
    async close() {
      isCut = true;
      const closed = stopListening();
      dropAll();
      await closed;
    },
  };
}
