// The ensemble read checks (ensemble-checks.ts) on small hand-made histories: stale reads on
// a lagging member are allowed, values from nowhere, diverging versions and a session going
// back are not. And the peer proxy's rewrite of an initiation message's address.
import { describe, it, expect } from 'vitest';
import { checkSequentialReads } from './ensemble-checks.ts';
import type { RegisterOp } from './history.ts';
import { rewriteInitiation } from './peer-proxy.ts';
import { PROTOCOL_VERSION_V1, encodeInitialMessage, takeInitialMessage } from '../../engine/quorum/wire.ts';

let nextId = 0;
function op(process: string, kind: RegisterOp['kind'], invokeMs: number, returnMs: number, fields: Partial<RegisterOp> = {}): RegisterOp {
  return { id: nextId++, process, key: '/r', kind, invokeMs, returnMs, outcome: 'ok', ...fields };
}

describe('checkSequentialReads', () => {
  it('accepts a stale read on another member (not linearizable, but sequentially consistent)', () => {
    const ops = [op('a.1', 'write', 0, 10, { value: 'x', version: 1 }), op('b.1', 'read', 20, 21, { value: 'init', version: 0 }), op('b.1', 'read', 30, 31, { value: 'x', version: 1 })];
    expect(checkSequentialReads(ops, 'init')).toEqual([]);
  });

  it('finds a value no write sent, and one read before its write was sent', () => {
    const ops = [op('a.1', 'read', 0, 1, { value: 'ghost', version: 1 }), op('b.1', 'read', 2, 3, { value: 'y', version: 1 }), op('c.1', 'write', 5, 6, { value: 'y', version: 1 })];
    const found = checkSequentialReads(ops, 'init').map((v) => v.invariant);
    expect(found.filter((i) => i === 'read-unwritten')).toHaveLength(2);
  });

  it('finds two values at one version (members that diverged)', () => {
    const ops = [op('a.1', 'write', 0, 5, { value: 'x', version: 1 }), op('b.1', 'write', 1, 6, { value: 'y', version: 1 })];
    expect(checkSequentialReads(ops, 'init').map((v) => v.invariant)).toContain('read-version-conflict');
  });

  it('finds a session that sees a version go back, its own write included', () => {
    const ops = [op('a.1', 'write', 0, 5, { value: 'x', version: 1 }), op('a.1', 'read', 6, 7, { value: 'init', version: 0 })];
    expect(checkSequentialReads(ops, 'init').map((v) => v.invariant)).toEqual(['session-read-order']);
  });
});

describe('rewriteInitiation', () => {
  it('replaces the announced address and keeps what follows', () => {
    const hello = encodeInitialMessage(2n, [{ host: '127.0.0.1', port: 40001 }]);
    const after = Buffer.from([0, 0, 0, 4, 1, 2, 3, 4]);
    const out = rewriteInitiation(Buffer.concat([hello, after]), '127.0.0.1:50002')!;
    const taken = takeInitialMessage(out)!;
    expect(taken.message).toMatchObject({ protocolVersion: PROTOCOL_VERSION_V1, sid: 2n, addresses: [{ host: '127.0.0.1', port: 50002 }] });
    expect(out.subarray(taken.byteCount)).toEqual(after);
  });

  it('waits for a whole message and leaves other bytes alone', () => {
    const hello = encodeInitialMessage(2n, [{ host: '127.0.0.1', port: 40001 }]);
    expect(rewriteInitiation(hello.subarray(0, hello.length - 1), 'x:1')).toBeNull();
    const garbage = Buffer.from('GET / HTTP/1.1\r\n\r\n');
    expect(rewriteInitiation(garbage, 'x:1')).toBe(garbage);
  });
});
