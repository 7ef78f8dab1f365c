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
  let forwardedCount = 0;
  const server = net.createServer((client) => {
    client.on('error', () => undefined);
    if (listener.isCut) {
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
  const dropAll = (): void => {
    for (const pair of [...pairs]) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    pairs.clear();
  };
  const listener = new CuttableListener(server, dropAll);
  const port = await listener.start();
  return {
    port,
    get forwardedCount() {
      return forwardedCount;
    },
    cut: () => listener.cut(),
    restore: () => listener.restore(),
    close: () => listener.cut(),
  };
}

/**
 * A proxy's listening socket that can be cut and restored on the same port: a cut stops
 * listening (reconnect attempts are refused, never accepted) and drops the proxy's open
 * connections through `dropAll`.
 */
export class CuttableListener {
  port = 0;
  /** Between cut() and restore(): a connection the server accepts anyway is dropped. */
  isCut = false;
  private readonly server: net.Server;
  private readonly dropAll: () => void;

  constructor(server: net.Server, dropAll: () => void) {
    this.server = server;
    this.dropAll = dropAll;
  }

  /** Listens on a free loopback port; resolves to it. */
  async start(): Promise<number> {
    await this.listen(0);
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no port');
    this.port = address.port;
    return this.port;
  }

  async cut(): Promise<void> {
    this.isCut = true;
    const closed = new Promise<void>((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
    });
    this.dropAll();
    await closed;
  }

  async restore(): Promise<void> {
    this.isCut = false;
    if (!this.server.listening) await this.listen(this.port);
  }

  private listen(port: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }
}
