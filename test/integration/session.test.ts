// Sessions through real sockets: the handshake with and without the readOnly byte,
// timeout clamping, reconnects (right and wrong password), lastZxidSeen ahead of the
// server, superDigest, maxClientCnxns, and sessions with their ephemerals across a restart.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import net from 'node:net';
import { startZooid, type ServerHandle } from '../support/servers.ts';
import { waitFor } from '../support/wait.ts';
import { LeanClient, ZkError } from '../../client/lean.ts';
import { Err, Op, Perm, Xid } from '../../engine/protocol.ts';
import { generateDigest } from '../../engine/core/acl.ts';

const SUPER_PASSWORD = 'super:letmein';
let server: ServerHandle;

beforeAll(async () => {
  server = await startZooid({
    keepDir: true,
    config: {
      tickTime: '200',
      minSessionTimeout: '1000',
      maxSessionTimeout: '8000',
      maxClientCnxns: '6',
      'DigestAuthenticationProvider.superDigest': generateDigest(SUPER_PASSWORD),
    },
  });
});

afterAll(async () => {
  await server?.stop();
});

function connect(extra: Partial<Parameters<typeof LeanClient.connect>[0]> = {}): Promise<LeanClient> {
  return LeanClient.connect({ host: '127.0.0.1', port: server.port, ...extra });
}

/** Raw handshake; resolves with the ConnectResponse fields, or null when the server closes first. */
function rawHandshake(opts: { withReadOnlyByte: boolean; timeoutMs: number; lastZxidSeen?: number }): Promise<{ timeoutMs: number; sessionId: bigint; readOnly: boolean | null } | null> {
  return new Promise((resolve, reject) => {
    const body = Buffer.alloc(4 + 8 + 4 + 8 + 4 + 16 + (opts.withReadOnlyByte ? 1 : 0));
    let o = body.writeInt32BE(0, 0);
    o = body.writeBigInt64BE(BigInt(opts.lastZxidSeen ?? 0), o);
    o = body.writeInt32BE(opts.timeoutMs, o);
    o = body.writeBigInt64BE(0n, o);
    body.writeInt32BE(16, o);
    const frame = Buffer.concat([Buffer.alloc(4), body]);
    frame.writeInt32BE(body.length, 0);
    const s = net.connect({ host: '127.0.0.1', port: server.port }, () => s.write(frame));
    let got = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length < 4 || got.length < 4 + got.readInt32BE(0)) return;
      const len = got.readInt32BE(0);
      const timeoutMs = got.readInt32BE(8);
      const sessionId = got.readBigInt64BE(12);
      const readOnly = len > 4 + 4 + 8 + 4 + 16 ? got[4 + len - 1] !== 0 : null;
      s.destroy();
      resolve({ timeoutMs, sessionId, readOnly });
    });
    s.on('error', reject);
    s.on('close', () => resolve(null));
  });
}

function auth(c: LeanClient, idPassword: string): Promise<void> {
  return c.call(Op.auth, (w) => w.int(0).string('digest').buffer(Buffer.from(idPassword)), () => undefined, 'auth', Xid.auth);
}

describe('sessions', () => {
  it('accepts clients that send the readOnly byte and clients that omit it', async () => {
    const withByte = await rawHandshake({ withReadOnlyByte: true, timeoutMs: 4000 });
    const without = await rawHandshake({ withReadOnlyByte: false, timeoutMs: 4000 });
    expect(withByte?.timeoutMs).toBe(4000);
    expect(without?.timeoutMs).toBe(4000);
    expect(withByte?.sessionId).not.toBe(0n);
    expect(withByte?.readOnly).toBe(false);
  });

  it('clamps the session timeout to [minSessionTimeout, maxSessionTimeout]', async () => {
    expect((await rawHandshake({ withReadOnlyByte: true, timeoutMs: 10 }))?.timeoutMs).toBe(1000);
    expect((await rawHandshake({ withReadOnlyByte: true, timeoutMs: 600_000 }))?.timeoutMs).toBe(8000);
  });

  it('refuses a client that has seen a zxid ahead of the server', async () => {
    const res = await rawHandshake({ withReadOnlyByte: true, timeoutMs: 4000, lastZxidSeen: 0x7fff_0000_0000 });
    expect(res).toBeNull();
  });

  it('moves a session to a new connection with the right password, and expires it with a wrong one', async () => {
    const first = await connect({ sessionTimeoutMs: 4000 });
    await first.create('/moved', Buffer.from('x'), 1);
    const firstClosed = new Promise<void>((resolve) => (first.onClose = () => resolve()));
    const second = await connect({ sessionId: first.sessionId, passwd: first.passwd, sessionTimeoutMs: 4000 });
    expect(second.sessionId).toBe(first.sessionId);
    await firstClosed; // the server drops the old connection
    expect((await second.exists('/moved'))?.ephemeralOwner).toBe(first.sessionId);
    const wrong = Buffer.from(first.passwd);
    wrong[0] ^= 0xff;
    const err = await connect({ sessionId: first.sessionId, passwd: wrong }).then(() => null, (e: ZkError) => e.code);
    expect(err).toBe(Err.SESSIONEXPIRED);
    await second.close();
  });

  it('lets a digest matching superDigest past every ACL', async () => {
    const owner = await connect();
    await auth(owner, 'alice:secret');
    await owner.call(Op.create, (w) => {
      w.string('/locked').buffer(Buffer.from('s')).int(1).int(Perm.ALL).string('digest').string(generateDigest('alice:secret')).int(0);
    }, (r) => r.ustring(), 'create');
    const stranger = await connect();
    expect(await stranger.getData('/locked').then(() => 0, (e: ZkError) => e.code)).toBe(Err.NOAUTH);
    await auth(stranger, SUPER_PASSWORD);
    expect((await stranger.getData('/locked')).data.toString()).toBe('s');
    await owner.close();
    await stranger.close();
  });

  it('closes connections beyond maxClientCnxns from one address and serves the rest', async () => {
    const held: LeanClient[] = [];
    for (let i = 0; i < 6; i++) held.push(await connect());
    const refused = await connect({ connectTimeoutMs: 5000 }).then(() => 'connected', () => 'refused');
    expect(refused).toBe('refused');
    expect(await held[5].exists('/')).not.toBeNull();
    for (const c of held) await c.close();
    // the slots are free again
    await waitFor(async () => (await connect().then(async (c) => { await c.close(); return true; }, () => false)), { timeoutMs: 5000, what: 'a connection after the others closed' });
  });

  it('expires an abandoned session and brings live sessions and their ephemerals back after a restart', async () => {
    const live = await connect({ sessionTimeoutMs: 8000 });
    await live.create('/live-eph', Buffer.from('l'), 1);
    const abandoned = await connect({ sessionTimeoutMs: 1000 });
    await abandoned.create('/dead-eph', Buffer.from('d'), 1);
    abandoned.disconnect();
    const watcher = await connect();
    await waitFor(async () => (await watcher.exists('/dead-eph')) === null, { timeoutMs: 10_000, what: 'the abandoned session to expire' });
    await server.kill9();
    server = await startZooid({ dataDir: server.dataDir, port: server.port, keepDir: true, config: { tickTime: '200', minSessionTimeout: '1000', maxSessionTimeout: '8000' } });
    const again = await connect({ sessionId: live.sessionId, passwd: live.passwd, sessionTimeoutMs: 8000 });
    expect(again.sessionId).toBe(live.sessionId);
    expect((await again.getData('/live-eph')).stat.ephemeralOwner).toBe(live.sessionId);
    expect(await again.exists('/dead-eph')).toBeNull();
    await again.close();
    const check = await connect();
    await waitFor(async () => (await check.exists('/live-eph')) === null, { timeoutMs: 5000, what: 'closeSession to delete the ephemeral' });
    await check.close();
  });
});
