// txnBodyBytes (what the pipeline counts before it builds a txn) equals what encodeTxnBody
// writes, for every txn type, with multi-byte UTF-8 in paths and ids.
import { describe, it, expect } from 'vitest';
import { JuteWriter } from '../../native-free-io/jute.ts';
import { Op, NULL_DATA } from '../../engine/protocol.ts';
import { encodeTxnBody, txnBodyBytes, type Txn } from '../../engine/core/txn.ts';

const acls = [{ perms: 31, id: { scheme: 'digest', id: 'ünïcode:hash=' } }, { perms: 1, id: { scheme: 'world', id: 'anyone' } }];
const txns: Txn[] = [
  { type: Op.create, path: '/a/ß', data: Buffer.from('data'), acls, ephemeral: true, parentCVersion: 3, ttlMs: 0 },
  { type: Op.create2, path: '/a', data: NULL_DATA, acls, ephemeral: false, parentCVersion: 1, ttlMs: 0 },
  { type: Op.createContainer, path: '/c', data: Buffer.alloc(10), acls, ephemeral: false, parentCVersion: 1, ttlMs: 0 },
  { type: Op.createTTL, path: '/t', data: Buffer.alloc(3), acls, ephemeral: false, parentCVersion: 1, ttlMs: 5000 },
  { type: Op.delete, path: '/日本' },
  { type: Op.deleteContainer, path: '/c' },
  { type: Op.setData, path: '/a', data: Buffer.alloc(7), version: 2 },
  { type: Op.setACL, path: '/a', acls, version: 1 },
  { type: Op.check, path: '/a', version: 1 },
  { type: Op.error, err: -101 },
  { type: Op.createSession, timeoutMs: 30000 },
  { type: Op.closeSession, paths: ['/e1', '/é2'], listed: true },
  { type: Op.closeSession, paths: ['/e1', '/é2'], listed: false },
];

describe('txnBodyBytes', () => {
  it('is the length encodeTxnBody writes, for every type and for a multi of them', () => {
    const all: Txn[] = [...txns, { type: Op.multi, txns: txns.filter((t) => t.type !== Op.createSession && t.type !== Op.closeSession) }];
    for (const txn of all) {
      const w = new JuteWriter(64);
      encodeTxnBody(w, txn);
      expect(txnBodyBytes(txn), `type ${txn.type}`).toBe(w.offset);
    }
  });
});
