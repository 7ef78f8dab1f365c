// The opcode descriptors (engine/core/opcodes.ts): each stage's view of an opcode comes
// from its one entry, and the entries agree with ZooKeeper 3.8's processors.
import { describe, it, expect } from 'vitest';
import { Op } from '../../engine/protocol.ts';
import { OPCODES, isThrottlable, lastOperationOf } from '../../engine/core/opcodes.ts';
import { codecOf } from '../../engine/core/txn.ts';

describe('opcode descriptors', () => {
  it('name every request opcode of ZooDefs.OpCode once', () => {
    const requests = Object.entries(Op).filter(([name]) => name !== 'notification' && name !== 'error');
    expect([...OPCODES.values()].map((o) => o.name).sort()).toEqual(requests.map(([name]) => name).sort());
    for (const [name, code] of requests) expect(OPCODES.get(code)?.name).toBe(name);
  });

  it('give each write the txn record it logs, and reads none', () => {
    for (const o of OPCODES.values()) {
      if (o.write) expect(o.txn, o.name).toBe(codecOf(o.code));
      if (!o.write && o.code !== Op.createSession) expect(o.txn, o.name).toBeNull();
    }
    expect(codecOf(Op.create2).record).toBe('CreateTxn');
    expect(codecOf(Op.deleteContainer).record).toBe('DeleteTxn');
    expect(codecOf(Op.reconfig).record).toBe('SetDataTxn'); // on /zookeeper/config
  });

  it('tag exactly the reads whose handlers look at the tree through lookup()', () => {
    const tagged = [...OPCODES.values()].filter((o) => o.taggedRead).map((o) => o.code).sort((a, b) => a - b);
    expect(tagged).toEqual([Op.exists, Op.getData, Op.getACL, Op.getChildren, Op.getChildren2].sort((a, b) => a - b));
  });

  it('are throttlable as Request.isThrottlable, prepped as PrepRequestProcessor', () => {
    for (const code of [Op.ping, Op.closeSession, Op.createSession, Op.auth, Op.sasl]) expect(isThrottlable(code)).toBe(false);
    for (const code of [Op.create, Op.getData, Op.multi, Op.setWatches, 9999]) expect(isThrottlable(code)).toBe(true);
    const prepped = [...OPCODES.values()].filter((o) => o.prepped).map((o) => o.name).sort();
    expect(prepped).toEqual(['check', 'create', 'create2', 'createContainer', 'createTTL', 'delete', 'multi', 'reconfig', 'setACL', 'setData']);
  });

  it('answer lop= as FinalRequestProcessor', () => {
    expect(lastOperationOf(Op.getChildren2)).toBe('GETC');
    expect(lastOperationOf(Op.setWatches2)).toBe('STW2');
    expect(lastOperationOf(Op.closeSession)).toBe('CLOS');
    expect(lastOperationOf(12345)).toBe('NA');
  });
});
