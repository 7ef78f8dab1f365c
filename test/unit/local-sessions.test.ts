// The pure parts of local sessions (engine/core/local-sessions.ts, SessionTable's local
// count): which requests need a global session (ZooKeeperServer.checkUpgradeSession's test),
// whose server made a session, and the counts mntr reports.
import { describe, it, expect } from 'vitest';
import { JuteWriter } from '../../native-free-io/jute.ts';
import { createsEphemeral, serverIdOfSession } from '../../engine/core/local-sessions.ts';
import { SessionTable } from '../../engine/core/sessions.ts';
import { CreateFlag, Op } from '../../engine/protocol.ts';

function createRecord(w: JuteWriter, path: string, flags: number): JuteWriter {
  return w.string(path).buffer(Buffer.from('x')).int(1).int(31).string('world').string('anyone').int(flags);
}

function create(flags: number): Buffer {
  return createRecord(new JuteWriter(256).reset(), '/a', flags).copy();
}

/** A multi of (type, flags) ops; flags only for creates. */
function multi(ops: [number, number?][]): Buffer {
  const w = new JuteWriter(1024).reset();
  for (const [type, flags] of ops) {
    w.int(type).bool(false).int(-1);
    if (type === Op.create || type === Op.create2 || type === Op.createContainer) createRecord(w, '/m', flags ?? 0);
    else if (type === Op.createTTL) createRecord(w, '/m', flags ?? 0).long(1000n);
    else if (type === Op.setData) w.string('/m').buffer(Buffer.from('y')).int(-1);
    else w.string('/m').int(-1); // delete, check
  }
  return w.int(-1).bool(true).int(-1).copy();
}

describe('createsEphemeral (checkUpgradeSession)', () => {
  it('is a create or create2 with an ephemeral mode', () => {
    for (const type of [Op.create, Op.create2]) {
      expect(createsEphemeral(type, create(CreateFlag.ephemeral))).toBe(true);
      expect(createsEphemeral(type, create(CreateFlag.ephemeralSequential))).toBe(true);
      expect(createsEphemeral(type, create(CreateFlag.persistent))).toBe(false);
      expect(createsEphemeral(type, create(CreateFlag.container))).toBe(false);
    }
    // ZooKeeper looks at create and create2 only
    expect(createsEphemeral(Op.createContainer, create(CreateFlag.ephemeral))).toBe(false);
    expect(createsEphemeral(Op.setData, create(CreateFlag.ephemeral))).toBe(false);
  });

  it('is a multi with an ephemeral create or create2 among its ops, after any others', () => {
    expect(createsEphemeral(Op.multi, multi([[Op.create, CreateFlag.persistent], [Op.setData], [Op.check], [Op.delete], [Op.create2, CreateFlag.ephemeral]]))).toBe(true);
    expect(createsEphemeral(Op.multi, multi([[Op.createTTL, CreateFlag.persistentWithTtl], [Op.createContainer, CreateFlag.container], [Op.create, CreateFlag.ephemeralSequential]]))).toBe(true);
    expect(createsEphemeral(Op.multi, multi([[Op.create, CreateFlag.persistent], [Op.setData]]))).toBe(false);
    expect(createsEphemeral(Op.multi, multi([]))).toBe(false);
  });

  it('is not a record that does not parse (its handler answers that)', () => {
    expect(createsEphemeral(Op.create, Buffer.alloc(3))).toBe(false);
    expect(createsEphemeral(Op.multi, multi([[Op.create, CreateFlag.ephemeral]]).subarray(0, 20))).toBe(false);
    expect(createsEphemeral(Op.multi, Buffer.from([0, 0, 0, 99, 0, 0, 0, 0, 0]))).toBe(false);
  });
});

describe('session ids and local counts', () => {
  it('reads the server id from the top byte, as the ids a server makes carry it', () => {
    for (const sid of [1, 3, 200, 254]) expect(serverIdOfSession(new SessionTable(1000, sid, 1_700_000_000_000).newSessionId())).toBe(sid);
  });

  it('counts local and global sessions apart, through upgrade and removal', () => {
    const t = new SessionTable(1000, 2, 1_700_000_000_000);
    const local = t.add(t.newSessionId(), 4000, 0, true);
    t.add(t.newSessionId(), 4000, 0);
    expect([t.globalCount(), t.localSessionCount()]).toEqual([1, 1]);
    t.makeGlobal(local);
    t.makeGlobal(local);
    expect([t.globalCount(), t.localSessionCount(), local.local]).toEqual([2, 0, false]);
    const other = t.add(t.newSessionId(), 4000, 0, true);
    t.remove(other.id);
    expect([t.globalCount(), t.localSessionCount()]).toEqual([2, 0]);
  });
});
