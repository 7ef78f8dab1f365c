// The acceptedEpoch / currentEpoch files on real files (engine/persistence/epochs.ts); what
// Apache ZooKeeper 3.8 itself writes and accepts is test/compat/epochs.test.ts.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EpochFileError, loadEpochs, readEpochFile, readEpochs, writeEpochFile } from '../../engine/persistence/epochs.ts';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-epochs-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const put = (name: string, text: string) => fs.writeFileSync(path.join(dir, name), text);
const text = (name: string) => fs.readFileSync(path.join(dir, name), 'utf8');

describe('epoch files', () => {
  it('missing files read as null', () => {
    expect(readEpochs(dir)).toEqual({ acceptedEpoch: null, currentEpoch: null });
  });

  it('writes Long.toString(epoch) with no newline, leaves no .tmp, and reads it back', () => {
    writeEpochFile(dir, 'acceptedEpoch', 7);
    writeEpochFile(dir, 'currentEpoch', 0);
    expect(text('acceptedEpoch')).toBe('7');
    expect(text('currentEpoch')).toBe('0');
    expect(fs.readdirSync(dir).sort()).toEqual(['acceptedEpoch', 'currentEpoch']);
    expect(readEpochs(dir)).toEqual({ acceptedEpoch: 7, currentEpoch: 0 });
    writeEpochFile(dir, 'acceptedEpoch', 2 ** 21 - 1);
    expect(readEpochs(dir).acceptedEpoch).toBe(2 ** 21 - 1);
  });

  it('replaces a stale .tmp and an existing file', () => {
    put('currentEpoch', '3');
    put('currentEpoch.tmp', 'garbage from a crash');
    writeEpochFile(dir, 'currentEpoch', 4);
    expect(text('currentEpoch')).toBe('4');
    expect(fs.existsSync(path.join(dir, 'currentEpoch.tmp'))).toBe(false);
  });

  it('reads the first line as BufferedReader.readLine + Long.parseLong do', () => {
    for (const [content, epoch] of [['5\n', 5], ['5\r\n', 5], ['5\rjunk', 5], ['+6', 6], ['0007', 7], ['8\nnot read', 8]] as const) {
      put('acceptedEpoch', content);
      expect(readEpochFile(dir, 'acceptedEpoch'), JSON.stringify(content)).toBe(epoch);
    }
  });

  it('refuses content that is not an epoch with ZooKeeper\'s message, naming the file', () => {
    const cases: [string, RegExp][] = [
      ['', /^Found null in .*currentEpoch$/],
      ['\n', /^Found  in .*currentEpoch$/],
      ['abc', /^Found abc in /],
      [' 5', /^Found  5 in /],
      ['5 ', /^Found 5  in /],
      ['0x5', /^Found 0x5 in /],
      ['-1', /^Found -1 in .*\(an epoch must be 0\.\.2097151\)$/],
      ['9223372036854775808', /^Found 9223372036854775808 in /],
      ['2097152', /an epoch must be/],
      ['\u0000\u0000', /^Found \\u0000\\u0000 in /],
    ];
    for (const [content, message] of cases) {
      put('currentEpoch', content);
      expect(() => readEpochs(dir), JSON.stringify(content)).toThrow(EpochFileError);
      expect(() => readEpochs(dir), JSON.stringify(content)).toThrow(message);
    }
  });

  it('refuses a dataDir passed for its version-2 directory', () => {
    fs.mkdirSync(path.join(dir, 'version-2'));
    expect(() => readEpochs(dir)).toThrow(/pass dataDir\/version-2/);
    expect(() => writeEpochFile(dir, 'currentEpoch', 1)).toThrow(/pass dataDir\/version-2/);
    expect(fs.existsSync(path.join(dir, 'currentEpoch'))).toBe(false);
  });

  it('refuses epochs a zxid number cannot hold', () => {
    expect(() => writeEpochFile(dir, 'currentEpoch', -1)).toThrow(RangeError);
    expect(() => writeEpochFile(dir, 'currentEpoch', 2 ** 21)).toThrow(RangeError);
    expect(() => writeEpochFile(dir, 'currentEpoch', 1.5)).toThrow(RangeError);
  });

  it('a write that fails leaves the old file and no .tmp', () => {
    put('currentEpoch', '3');
    fs.mkdirSync(path.join(dir, 'acceptedEpoch')); // rename over a directory fails
    expect(() => writeEpochFile(dir, 'acceptedEpoch', 4)).toThrow(/cannot write .*acceptedEpoch/);
    expect(fs.existsSync(path.join(dir, 'acceptedEpoch.tmp'))).toBe(false);
    expect(text('currentEpoch')).toBe('3');
  });
});

describe('loadEpochs (QuorumPeer.loadDataBase)', () => {
  const zxid = (epoch: number, counter: number) => epoch * 2 ** 32 + counter;

  it('creates missing files with the epoch of the last zxid', () => {
    const lines: string[] = [];
    expect(loadEpochs(dir, zxid(3, 9), (m) => lines.push(m))).toEqual({ acceptedEpoch: 3, currentEpoch: 3 });
    expect([text('acceptedEpoch'), text('currentEpoch')]).toEqual(['3', '3']);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^currentEpoch not found! Creating with a reasonable default of 3/);
  });

  it('keeps files that agree', () => {
    put('acceptedEpoch', '6');
    put('currentEpoch', '5');
    expect(loadEpochs(dir, zxid(5, 1), () => {})).toEqual({ acceptedEpoch: 6, currentEpoch: 5 });
    expect(text('acceptedEpoch')).toBe('6');
  });

  it('refuses a currentEpoch older than the last zxid, unless a currentEpoch.tmp is there', () => {
    put('acceptedEpoch', '8');
    put('currentEpoch', '2');
    expect(() => loadEpochs(dir, zxid(8, 4), () => {})).toThrow('The current epoch, 2, is older than the last zxid, 34359738372');
    put('currentEpoch.tmp', '8');
    const lines: string[] = [];
    expect(loadEpochs(dir, zxid(8, 4), (m) => lines.push(m))).toEqual({ acceptedEpoch: 8, currentEpoch: 8 });
    expect(text('currentEpoch')).toBe('8');
    expect(fs.existsSync(path.join(dir, 'currentEpoch.tmp'))).toBe(false);
    expect(lines[0]).toMatch(/currentEpoch\.tmp found\. Setting current epoch to 8\./);
  });

  it('refuses an acceptedEpoch below the currentEpoch', () => {
    put('acceptedEpoch', '3');
    put('currentEpoch', '8');
    expect(() => loadEpochs(dir, zxid(8, 4), () => {})).toThrow('The accepted epoch, 3 is less than the current epoch, 8');
  });
});
