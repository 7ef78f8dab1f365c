// The log worker's failure handling (engine/persistence/log-failures.ts) with injected outcomes:
// a fake writer whose cut-back and file creation fail on cue (ENOSPC), time passed in.
// ENOSPC then recovery, RESUME checked against the durable zxid, retries spaced LOG_RETRY_MS
// apart with a warning every 20th, a failed cut-back fatal, and a seeded run of outages.
import { describe, it, expect } from 'vitest';
import { LogFailures, LOG_RETRY_MS, type FailingLogWriter, type LogFailureSignals } from '../../engine/persistence/log-failures.ts';
import { seededRandom, testSeed } from '../support/random.ts';

const SEED = testSeed();
console.log(`log-failures.test.ts seed ${SEED} (replay with TEST_SEED=${SEED})`);

function enospc(): Error {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
}

/** A writer whose outcomes are queued: each abandon()/openNext() takes the next one ('ok' or an error). */
class FakeWriter implements FailingLogWriter {
  lastFlushedZxid = 0x105;
  calls: string[] = [];
  abandonOutcomes: (Error | 'ok')[] = [];
  openOutcomes: (Error | 'ok')[] = [];

  abandon(): void {
    this.calls.push('abandon');
    const o = this.abandonOutcomes.shift() ?? 'ok';
    if (o !== 'ok') throw o;
  }
  openNext(zxid: number): void {
    this.calls.push(`openNext 0x${zxid.toString(16)}`);
    const o = this.openOutcomes.shift() ?? 'ok';
    if (o !== 'ok') throw o;
  }
}

function setup() {
  const writer = new FakeWriter();
  const signals = { failed: [] as string[], recovered: 0, lines: [] as string[] };
  const ports: LogFailureSignals = {
    failed: (message) => signals.failed.push(message),
    recovered: () => signals.recovered++,
    log: (level, message) => signals.lines.push(`${level}: ${message}`),
  };
  return { writer, signals, failures: new LogFailures(writer, ports) };
}

describe('LogFailures', () => {
  it('ENOSPC: cut back, tell the pipeline, drop up to RESUME, retry until the disk takes a file, then writes resume', () => {
    const { writer, signals, failures } = setup();
    expect(failures.state).toBe('writing');
    failures.failed(enospc());
    expect(writer.calls).toEqual(['abandon']);
    expect(signals.failed).toEqual(['ENOSPC: no space left on device, write']);
    expect(signals.lines).toEqual([
      'error: transaction log write failed: ENOSPC: no space left on device, write; writes are refused until it works again, reads go on',
      'warn: transaction log cut back to zxid 0x105, the last durable txn',
    ]);
    expect(failures.state).toBe('discarding');
    failures.resumed(0x105);
    expect(failures.state).toBe('retrying');
    // the disk is still full twice, then takes the file
    writer.openOutcomes = [enospc(), enospc(), 'ok'];
    writer.calls = [];
    signals.lines = [];
    expect(failures.retry(1000)).toBe(false); // due at once
    expect(failures.retryInMs(1000)).toBe(LOG_RETRY_MS);
    expect(failures.retry(1000 + LOG_RETRY_MS - 1)).toBe(false); // not due: the disk is not touched
    expect(failures.retryInMs(1000 + LOG_RETRY_MS - 1)).toBe(1);
    expect(failures.retry(1000 + LOG_RETRY_MS)).toBe(false);
    expect(failures.retry(1000 + 2 * LOG_RETRY_MS)).toBe(true);
    expect(writer.calls).toEqual(['openNext 0x106', 'abandon', 'openNext 0x106', 'abandon', 'openNext 0x106']);
    expect(signals.lines).toEqual([
      'warn: transaction log still not writable: ENOSPC: no space left on device, write', // the first of every 20
      'info: transaction log writable again: log.106 created; writes resume',
    ]);
    expect(failures.state).toBe('writing');
    expect([failures.failures, failures.recoveries, signals.recovered]).toEqual([1, 1, 1]);
  });

  it('warns on the first failed retry of every 20 and survives a failed clean-up', () => {
    const { writer, signals, failures } = setup();
    failures.failed(enospc());
    failures.resumed(0x105);
    signals.lines = [];
    writer.openOutcomes = Array.from({ length: 41 }, () => enospc());
    writer.abandonOutcomes = [new Error('EIO: i/o error, unlink')];
    for (let i = 0; i < 41; i++) expect(failures.retry(i * LOG_RETRY_MS)).toBe(false);
    expect(signals.lines.filter((l) => l.startsWith('warn:')).length).toBe(3); // retries 0, 20, 40
    expect(signals.lines).toContain('error: cannot clean up after a failed log file creation: EIO: i/o error, unlink');
    expect(failures.retry(41 * LOG_RETRY_MS)).toBe(true);
  });

  it('refuses a RESUME at another zxid than the durable one', () => {
    const { failures } = setup();
    failures.failed(enospc());
    expect(() => failures.resumed(0x104)).toThrow('the pipeline resumes at 0x104, the log is durable to 0x105');
  });

  it('a cut-back that fails is fatal: the error goes up and the pipeline is not told', () => {
    const { writer, signals, failures } = setup();
    writer.abandonOutcomes = [new Error('EROFS: read-only file system, truncate')];
    expect(() => failures.failed(enospc())).toThrow('EROFS');
    expect(signals.failed).toEqual([]);
    expect(signals.lines.at(-1)).toBe('error: cannot cut the transaction log back after the failure: EROFS: read-only file system, truncate');
  });

  it('asserts its order: no RESUME while writing, no retry before RESUME, no second failure while not writing', () => {
    const { failures } = setup();
    expect(() => failures.resumed(0x105)).toThrow('RESUME while writing');
    expect(() => failures.retry(0)).toThrow('retry while writing');
    failures.failed(enospc());
    expect(() => failures.retry(0)).toThrow('retry while discarding');
    expect(() => failures.failed(enospc())).toThrow('log failure while discarding');
  });

  it('goes through seeded outages and recoveries, telling the pipeline once for each', () => {
    const random = seededRandom(SEED);
    const { writer, signals, failures } = setup();
    let nowMs = 0;
    for (let outage = 0; outage < 50; outage++) {
      writer.lastFlushedZxid += Math.floor(random() * 3); // written and synced since the last outage
      failures.failed(enospc());
      failures.resumed(writer.lastFlushedZxid);
      const refusals = Math.floor(random() * 5);
      writer.openOutcomes = [...Array.from({ length: refusals }, () => enospc()), 'ok'];
      let attempts = 0;
      while (!failures.retry(nowMs)) {
        attempts++;
        nowMs += 1 + Math.floor(random() * LOG_RETRY_MS);
      }
      expect(attempts >= refusals, `seed ${SEED} outage ${outage}`).toBe(true);
      nowMs += Math.floor(random() * 10_000);
    }
    expect([failures.failures, failures.recoveries, signals.failed.length, signals.recovered]).toEqual([50, 50, 50, 50]);
  });

  // found by the fault campaign (seed 0xc0762f12): the pipeline, told the log takes writes again,
  // put its next write on the ring before the worker looked; the worker threw and died
  it('a write the pipeline sends as soon as it is told of the recovery is not a fault (retryTurn)', () => {
    const { writer, signals, failures } = setup();
    failures.failed(enospc());
    failures.resumed(0x105);
    writer.openOutcomes.push(enospc());
    // a TXN record (kind 1) is on the ring as soon as the pipeline has been told
    const onTheRing = () => (signals.recovered > 0 ? 1 : null);
    expect(failures.retryTurn(0, onTheRing)).toBe('retrying');
    expect(failures.retryTurn(LOG_RETRY_MS, onTheRing)).toBe('writing');
    expect(failures.state).toBe('writing');
    expect(signals.recovered).toBe(1);
    // while still retrying, a record is a broken protocol
    const other = setup();
    other.failures.failed(enospc());
    other.failures.resumed(0x105);
    other.writer.openOutcomes.push(enospc());
    expect(() => other.failures.retryTurn(0, () => 1)).toThrow('log ring: record kind 1 while the log is not writable');
  });
});
