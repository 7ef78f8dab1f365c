// zooid loadgen: bad options are rejected with a message naming the flag; good ones parse
// into the probabilities and units the workers use.
import { describe, expect, it } from 'vitest';
import { OptionError, parseLoadOptions, parseDurationMs, parseHosts, resolveMix, parseMix, readPctOf } from '../../loadgen/options.ts';
import { main } from '../../loadgen/cli.ts';

const parse = (...args: string[]) => parseLoadOptions(args).options;

describe('loadgen options', () => {
  it.each([
    [['--bogus', '1'], /unknown option --bogus/],
    [['--connections'], /--connections needs a value/],
    [['--connections', '--json'], /--connections needs a value/],
    [['--connections', '0'], /--connections must be in \[1, /],
    [['--connections', '2.5'], /--connections must be an integer/],
    [['--connections', '8', '--connections', '9'], /given twice/],
    [['--outstanding', '-1'], /--outstanding must be in/],
    [['--read-pct', '101'], /--read-pct must be in \[0, 100\]/],
    [['--read-pct', 'lots'], /--read-pct must be a number/],
    [['--read-pct', '50', '--mix', 'set:1,create:1'], /needs a read op/],
    [['--read-pct', '50', '--mix', 'get:1,exists:2'], /needs a write op/],
    [['--mix', 'get:1,frob:2'], /unknown op 'frob'/],
    [['--mix', 'get:0,set:0'], /all weights are zero/],
    [['--mix', 'get'], /is not op:weight/],
    [['--mix', 'get:1,get:2'], /'get' given twice/],
    [['--key-distribution', 'pareto'], /uniform or zipf/],
    [['--zipf-theta', '0.5'], /needs --key-distribution zipf/],
    [['--key-distribution', 'zipf', '--zipf-theta', '1'], /strictly between 0 and 1/],
    [['--duration', 'soon'], /--duration must be a duration/],
    [['--duration', '10ms'], /--duration must be between/],
    [['--warmup', '-1s'], /--warmup must be a duration/],
    [['--threads', '4', '--connections', '2'], /--threads 4 is more than --connections 2/],
    [['--hosts', 'a:1:2'], /is not host:port/],
    [['--hosts', 'localhost:70000'], /out of range/],
    [['--value-bytes', '2000000'], /--value-bytes must be in/],
    [['--keys', '0'], /--keys must be in/],
    [['--rate', '0'], /--rate must be in|--rate must be > 0/],
    [['--rate', '-5'], /--rate must be in/],
    [['--report', 'out.txt'], /\.html/],
    [['--root', 'relative'], /--root must be an absolute znode path/],
    [['--root', '/zookeeper/x'], /outside \/zookeeper/],
    [['--seed', '4294967296'], /--seed must be in/],
    [['--outstanding', '1', '--mix', 'get:1,create:1'], /--outstanding must be >= 2/],
    [['--json=yes'], /--json takes no value/],
    [['stray'], /unexpected argument 'stray'/],
  ])('rejects %j', (args, message) => {
    expect(() => parseLoadOptions(args)).toThrow(OptionError);
    expect(() => parseLoadOptions(args)).toThrow(message);
  });

  it('exits 2 with the reason and the usage on a bad option', async () => {
    const written: string[] = [];
    const original = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      expect(await main(['--read-pct', '120'])).toBe(2);
    } finally {
      process.stderr.write = original;
    }
    expect(written.join('')).toMatch(/--read-pct must be in \[0, 100\], not 120[\s\S]*usage: zooid loadgen/);
  });

  it('parses durations, hosts and defaults', () => {
    expect(parseDurationMs('d', '500ms', 0, 1e9)).toBe(500);
    expect(parseDurationMs('d', '2m', 0, 1e9)).toBe(120_000);
    expect(parseDurationMs('d', '1.5', 0, 1e9)).toBe(1500);
    expect(parseHosts('a:1,[::1]:2182,b')).toEqual([{ host: 'a', port: 1 }, { host: '::1', port: 2182 }, { host: 'b', port: 2181 }]);
    const o = parse('--seed', '7');
    expect(o).toMatchObject({ connections: 8, outstanding: 50, rateOpsPerSec: null, valueBytes: 1024, durationMs: 30_000, warmupMs: 5_000, seed: 7, seedGiven: true });
    expect(o.mix.get).toBeCloseTo(0.5);
    expect(o.mix.set).toBeCloseTo(0.5);
    // open loop defaults to a cap of 1000 in flight per connection
    expect(parse('--rate', '20000')).toMatchObject({ rateOpsPerSec: 20000, outstanding: 1000 });
  });

  it('spreads --read-pct over the read and the write ops by their weights', () => {
    const mix = resolveMix(parseMix('get:3,exists:1,set:1,create:1'), 80);
    expect(mix.get).toBeCloseTo(0.6);
    expect(mix.exists).toBeCloseTo(0.2);
    expect(mix.set).toBeCloseTo(0.1);
    expect(mix.create).toBeCloseTo(0.1);
    expect(readPctOf(mix)).toBeCloseTo(80);
    // without --read-pct the weights are the probabilities
    expect(readPctOf(resolveMix(parseMix('get:1,set:3'), null))).toBeCloseTo(25);
    // 0% and 100% need only one class
    expect(resolveMix(parseMix('get:1'), 100).get).toBe(1);
    expect(resolveMix(parseMix('set:1'), 0).set).toBe(1);
  });
});
