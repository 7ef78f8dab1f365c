import { FOUR_LETTER_WORD_NAMES } from '../../engine/ops/fourlw.ts';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  formatConfigForConf,
  loadConfig,
  parseConfig,
  parseProperties,
  type ServerConfig,
} from '../../engine/config.ts';

const scratch = mkdtempSync(join(tmpdir(), 'zooid-config-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Parses a config text as file "zoo.cfg" without touching the disk. */
function parse(text: string, cwd = '/srv/zk'): ServerConfig {
  return parseConfig(text, { path: 'zoo.cfg', cwd, readMyid: false });
}

/** The ConfigError a config text raises; fails the test when it parses. */
function errorOf(text: string, opts: { readMyid?: boolean; cwd?: string } = {}): ConfigError {
  try {
    parseConfig(text, { path: 'zoo.cfg', cwd: opts.cwd ?? '/srv/zk', readMyid: opts.readMyid ?? false });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected a ConfigError for:\n${text}`);
}

function expectError(text: string, key: string, line: number | null, detail: RegExp): void {
  const err = errorOf(text);
  expect(err.key).toBe(key);
  expect(err.line).toBe(line);
  const where = line === null ? 'zoo.cfg: ' : `zoo.cfg:${line}: `;
  expect(err.message.startsWith(`${where}${key}: `), err.message).toBe(true);
  expect(err.message).toMatch(detail);
}

const MINIMAL = 'dataDir=/var/lib/zk\nclientPort=2181\n';

describe('defaults', () => {
  it('fills every setting a minimal file leaves out, as ZooKeeper 3.8 does', () => {
    const cfg = parse(MINIMAL);
    expect(cfg.configPath).toBe('/srv/zk/zoo.cfg');
    expect(cfg.tickTimeMs).toBe(3000);
    expect(cfg.dataDir).toBe('/var/lib/zk');
    expect(cfg.dataLogDir).toBe('/var/lib/zk');
    expect(cfg.clientPort).toBe(2181);
    expect(cfg.clientPortAddress).toBeNull();
    expect(cfg.secureClientPort).toBeNull();
    expect(cfg.clientPortListenBacklog).toBe(-1);
    expect(cfg.maxClientCnxns).toBe(60);
    expect(cfg.maxCnxns).toBe(0);
    expect(cfg.sessionlessCnxnTimeoutMs).toBe(10_000);
    expect(cfg.minSessionTimeoutMs).toBe(6000);
    expect(cfg.maxSessionTimeoutMs).toBe(60000);
    expect(cfg.snapCount).toBe(100000);
    expect(cfg.preAllocSizeBytes).toBe(65536 * 1024);
    expect(cfg.forceSync).toBe(true);
    expect(cfg.globalOutstandingLimit).toBe(1000);
    expect(cfg.fourLetterWordWhitelist).toEqual(new Set(['srvr']));
    expect(cfg.juteMaxBufferBytes).toBe(0xfffff);
    expect(cfg.superDigest).toBeNull();
    expect(cfg.ioThreads).toBe(Math.max(1, availableParallelism() - 1));
    expect(cfg.myid).toBeNull();
    expect(cfg.servers.size).toBe(0);
    expect(cfg.standalone).toBe(true);
    expect(cfg.dynamicConfigFile).toBeNull();
    expect(cfg.initLimit).toBe(0);
    expect(cfg.syncLimit).toBe(0);
    expect(cfg.electionAlg).toBe(3);
    expect(cfg.peerType).toBeNull();
    expect(cfg.autopurgeSnapRetainCount).toBe(3);
    expect(cfg.autopurgePurgeIntervalHours).toBe(0);
    expect(cfg.dataDirAutocreate).toBe(true);
    expect(cfg.adminServerPort).toBe(8080);
    expect(cfg.adminServerAddress).toBe('0.0.0.0');
    expect(cfg.adminCommandUrl).toBe('/commands');
    expect(cfg.adminEnableServer).toBe(true);
    expect(cfg.metricsHttpHost).toBe('0.0.0.0');
    expect(cfg.metricsHttpPort).toBeNull();
    expect(cfg.extendedTypesEnabled).toBe(false);
    expect(cfg.readonlyModeEnabled).toBe(false);
    expect(cfg.warnings).toEqual([]);
    expect([...cfg.raw]).toEqual([
      ['dataDir', { value: '/var/lib/zk', line: 1 }],
      ['clientPort', { value: '2181', line: 2 }],
    ]);
  });

  it('derives the session timeout bounds from tickTime', () => {
    const cfg = parse(`${MINIMAL}tickTime=2000\n`);
    expect(cfg.minSessionTimeoutMs).toBe(4000);
    expect(cfg.maxSessionTimeoutMs).toBe(40000);
    const explicitDefault = parse(`${MINIMAL}tickTime=100\nminSessionTimeout=-1\nmaxSessionTimeout=-1\n`);
    expect(explicitDefault.minSessionTimeoutMs).toBe(200);
    expect(explicitDefault.maxSessionTimeoutMs).toBe(2000);
  });

  it('resolves relative directories against the working directory as java.io.File does', () => {
    const cfg = parse('dataDir=./data\ndataLogDir=logs//txn/\nclientPort=2181\n', '/home/zk');
    expect(cfg.dataDir).toBe('/home/zk/./data');
    expect(cfg.dataLogDir).toBe('/home/zk/logs/txn');
    expect(parse('dataDir=//a//b/\nclientPort=1\n').dataDir).toBe('/a/b');
  });

  it('loads the embedded default when given no path', () => {
    const cfg = loadConfig(null);
    expect(cfg.configPath).toBeNull();
    expect(cfg.clientPort).toBe(2181);
    expect(cfg.dataDir).toBe(`${process.cwd()}/./data`);  // java.io.File keeps the ./
    expect(cfg.tickTimeMs).toBe(3000);
  });
});

describe('every key', () => {
  it('reads each setting zooid uses', () => {
    const cfg = parse([
      'tickTime=500',
      'dataDir=/d',
      'dataLogDir=/l',
      'clientPort=12181',
      'clientPortAddress=127.0.0.1',
      'clientPortListenBacklog=128',
      'maxClientCnxns=0',
      'maxCnxns=5000',
      'minSessionTimeout=1500',
      'maxSessionTimeout=90000',
      'snapCount=5000',
      'preAllocSize=1024',
      'forceSync=no',
      'globalOutstandingLimit=20000',
      '4lw.commands.whitelist=stat, ruok ,conf,,',
      'jute.maxbuffer=4194304',
      'DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=',
      'io.threads=3',
      'initLimit=10',
      'syncLimit=5',
      'electionAlg=3',
      'peerType=Participant',
      'autopurge.snapRetainCount=7',
      'autopurge.purgeInterval=24',
      'datadir.autocreate=false',
      'admin.serverPort=9090',
      'admin.enableServer=false',
      'admin.serverAddress=127.0.0.1',
      'admin.commandURL=/cmds',
      'metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider',
      'metricsProvider.httpPort=7001',
      'metricsProvider.httpHost=127.0.0.1',
      'extendedTypesEnabled=true',
    ].join('\n'));
    expect(cfg.tickTimeMs).toBe(500);
    expect(cfg.dataDir).toBe('/d');
    expect(cfg.dataLogDir).toBe('/l');
    expect(cfg.clientPort).toBe(12181);
    expect(cfg.clientPortAddress).toBe('127.0.0.1');
    expect(cfg.clientPortListenBacklog).toBe(128);
    expect(cfg.maxClientCnxns).toBe(0);
    expect(cfg.maxCnxns).toBe(5000);
    expect(cfg.minSessionTimeoutMs).toBe(1500);
    expect(cfg.maxSessionTimeoutMs).toBe(90000);
    expect(cfg.snapCount).toBe(5000);
    expect(cfg.preAllocSizeBytes).toBe(1024 * 1024);
    expect(cfg.forceSync).toBe(false);
    expect(cfg.globalOutstandingLimit).toBe(20000);
    expect(cfg.fourLetterWordWhitelist).toEqual(new Set(['stat', 'ruok', 'conf', 'srvr']));
    expect(cfg.juteMaxBufferBytes).toBe(4194304);
    expect(cfg.superDigest).toBe('super:D/InIHSb7yEEbrWz8b9l71RjZJU=');
    expect(cfg.ioThreads).toBe(3);
    expect(cfg.initLimit).toBe(10);
    expect(cfg.syncLimit).toBe(5);
    expect(cfg.electionAlg).toBe(3);
    expect(cfg.peerType).toBe('participant');
    expect(cfg.autopurgeSnapRetainCount).toBe(7);
    expect(cfg.autopurgePurgeIntervalHours).toBe(24);
    expect(cfg.dataDirAutocreate).toBe(false);
    expect(cfg.adminServerPort).toBe(9090);
    expect(cfg.adminEnableServer).toBe(false);
    expect(cfg.adminServerAddress).toBe('127.0.0.1');
    expect(cfg.adminCommandUrl).toBe('/cmds');
    expect(cfg.metricsHttpPort).toBe(7001);
    expect(cfg.metricsHttpHost).toBe('127.0.0.1');
    expect(cfg.extendedTypesEnabled).toBe(true);
    expect(cfg.warnings).toEqual([]);
  });

  it('reads Java system-property settings under their zookeeper.* names too (DESIGN.md §4)', () => {
    const cfg = parse([
      MINIMAL,
      'zookeeper.snapCount=10',
      'zookeeper.preAllocSize=16',
      'zookeeper.forceSync=no',
      'zookeeper.globalOutstandingLimit=7',
      'zookeeper.4lw.commands.whitelist=*',
      'zookeeper.DigestAuthenticationProvider.superDigest=super:abc=',
      'zookeeper.extendedTypesEnabled=true',
      'zookeeper.admin.serverPort=0',
      'zookeeper.admin.enableServer=false',
      'zookeeper.maxCnxns=9',
      'zookeeper.nio.sessionlessCnxnTimeout=0x1f4',
      'readonlymode.enabled=false',
    ].join('\n'));
    expect(cfg.snapCount).toBe(10);
    expect(cfg.preAllocSizeBytes).toBe(16 * 1024);
    expect(cfg.forceSync).toBe(false);
    expect(cfg.globalOutstandingLimit).toBe(7);
    expect(cfg.fourLetterWordWhitelist).toEqual(new Set(FOUR_LETTER_WORD_NAMES)); // '*': every word
    expect(cfg.superDigest).toBe('super:abc=');
    expect(cfg.extendedTypesEnabled).toBe(true);
    expect(cfg.adminServerPort).toBe(0);
    expect(cfg.adminEnableServer).toBe(false);
    expect(cfg.maxCnxns).toBe(9);
    expect(cfg.sessionlessCnxnTimeoutMs).toBe(500);
    expect(cfg.warnings).toEqual([]);
  });

  it('reads Integer.getInteger settings with Java decode syntax (hex, #, octal)', () => {
    const cfg = parse(`${MINIMAL}jute.maxbuffer=0xfffff\nsnapCount=#10\nglobalOutstandingLimit=010\n`);
    expect(cfg.juteMaxBufferBytes).toBe(0xfffff);
    expect(cfg.snapCount).toBe(16);
    expect(cfg.globalOutstandingLimit).toBe(8);
  });

  it('lets the later of two spellings win, with a warning', () => {
    const cfg = parse(`${MINIMAL}zookeeper.snapCount=10\nsnapCount=20\n`);
    expect(cfg.snapCount).toBe(20);
    expect(cfg.warnings).toEqual(['zoo.cfg:4: snapCount overrides zookeeper.snapCount on line 3']);
    const dup = parse(`${MINIMAL}tickTime=1000\ntickTime=2000\n`);
    expect(dup.tickTimeMs).toBe(2000);
    expect(dup.warnings).toEqual(['zoo.cfg:4: tickTime is set again; this value replaces the one on line 3']);
  });

  it('treats a whitelist with * as every command, and adds srvr (and isro in read-only mode)', () => {
    expect(parse(`${MINIMAL}4lw.commands.whitelist=stat, *\n`).fourLetterWordWhitelist).toEqual(new Set(FOUR_LETTER_WORD_NAMES));
    expect(parse(`${MINIMAL}4lw.commands.whitelist=\n`).fourLetterWordWhitelist).toEqual(new Set(['srvr']));
    const ro = parse(`${MINIMAL}readonlymode.enabled=true\n4lw.commands.whitelist=ruok\n`);
    expect(ro.readonlyModeEnabled).toBe(true);
    expect(ro.fourLetterWordWhitelist).toEqual(new Set(['ruok', 'isro', 'srvr']));
    expect(ro.warnings).toEqual([]);
    // ZooKeeper's own switch is the JVM flag: zooid reads it from SERVER_JVMFLAGS / JVMFLAGS too
    const flagged = parseConfig(MINIMAL, { path: 'zoo.cfg', env: { SERVER_JVMFLAGS: '-Xmx1g -Dreadonlymode.enabled=true' }, readMyid: false });
    expect(flagged.readonlyModeEnabled).toBe(true);
    expect(flagged.fourLetterWordWhitelist.has('isro')).toBe(true);
    expect(parseConfig(MINIMAL, { path: 'zoo.cfg', env: { JVMFLAGS: '-Dreadonlymode.enabled=false' }, readMyid: false }).readonlyModeEnabled).toBe(false);
    expect(parseConfig(MINIMAL, { path: 'zoo.cfg', env: { JVMFLAGS: '-Dxreadonlymode.enabled=true' }, readMyid: false }).readonlyModeEnabled).toBe(false);
  });

  it('clamps snapCount and autopurge.snapRetainCount as ZooKeeper does, with warnings', () => {
    const cfg = parse(`${MINIMAL}snapCount=1\nautopurge.snapRetainCount=1\nautopurge.purgeInterval=-4\n`);
    expect(cfg.snapCount).toBe(2);
    expect(cfg.autopurgeSnapRetainCount).toBe(3);
    expect(cfg.autopurgePurgeIntervalHours).toBe(0);
    expect(cfg.warnings).toHaveLength(3);
    expect(cfg.warnings[0]).toMatch(/^zoo\.cfg:3: snapCount 1 is below 2/);
    expect(cfg.warnings[1]).toMatch(/^zoo\.cfg:4: autopurge\.snapRetainCount 1 is below 3/);
    expect(cfg.warnings[2]).toMatch(/^zoo\.cfg:5: autopurge\.purgeInterval -4 is negative/);
  });

  it('replaces a largeRequestThreshold or largeRequestMaxBytes ZooKeeper\'s setters refuse, with warnings', () => {
    const defaults = parse(MINIMAL);
    expect([defaults.largeRequestThreshold, defaults.largeRequestMaxBytes]).toEqual([-1, 100 * 1024 * 1024]);
    const set = parse(`${MINIMAL}largeRequestThreshold=0x400\nlargeRequestMaxBytes=4096\n`);
    expect([set.largeRequestThreshold, set.largeRequestMaxBytes, set.warnings]).toEqual([1024, 4096, []]);
    for (const threshold of ['0', '-2']) {
      const cfg = parse(`${MINIMAL}largeRequestThreshold=${threshold}\nlargeRequestMaxBytes=0\n`);
      expect(cfg.largeRequestThreshold).toBe(-1);
      expect(cfg.largeRequestMaxBytes).toBe(100 * 1024 * 1024);
      expect(cfg.warnings[0]).toMatch(new RegExp(`^zoo\\.cfg:3: largeRequestThreshold ${threshold} is neither -1 nor above 0; using -1`));
      expect(cfg.warnings[1]).toMatch(/^zoo\.cfg:4: largeRequestMaxBytes 0 is not above 0; keeping 104857600/);
    }
  });

  it('reads the connection throttle\'s keys as ZooKeeper does: ints, decimals, a boolean, weights replaced with warnings', () => {
    const defaults = parse(MINIMAL);
    expect([defaults.connectionThrottleTokens, defaults.connectionThrottleFillTimeMs, defaults.connectionThrottleFreezeTimeMs, defaults.connectionThrottleDropIncrease,
      defaults.connectionThrottleDropDecrease, defaults.connectionThrottleWeightEnabled, defaults.connectionThrottleGlobalWeight]).toEqual([0, 1, -1, 0.02, 0.002, false, 3]);
    const set = parse(`${MINIMAL}zookeeper.connection_throttle_tokens=0x10\nconnection_throttle_drop_increase=5e-2\nconnection_throttle_decrease_ratio=.5d\n` +
      `connection_throttle_weight_enabled=TRUE\nconnection_throttle_local_session_weight=0\n`);
    expect([set.connectionThrottleTokens, set.connectionThrottleDropIncrease, set.connectionThrottleDecreaseRatio, set.connectionThrottleWeightEnabled, set.connectionThrottleLocalWeight])
      .toEqual([16, 0.05, 0.5, true, 1]);
    expect(set.warnings).toEqual([expect.stringMatching(/^zoo\.cfg:7: connection_throttle_local_session_weight 0 is not above 0; using 1/)]);
    expect(() => parse(`${MINIMAL}connection_throttle_drop_increase=lots\n`)).toThrow(/'lots' is not a decimal number/);
    expect(() => parse(`${MINIMAL}connection_throttle_fill_time=0\n`)).toThrow(/below the minimum of 1/);
  });

  it('serves metrics on httpPort 7000 when only the provider class is named', () => {
    const cfg = parse(`${MINIMAL}metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n`);
    expect(cfg.metricsHttpPort).toBe(7000);
    const noClass = parse(`${MINIMAL}metricsProvider.httpPort=7001\n`);
    expect(noClass.metricsHttpPort).toBeNull();
    expect(noClass.warnings).toEqual(['zoo.cfg:3: metricsProvider.httpPort is ignored without metricsProvider.className, as in ZooKeeper']);
    const custom = parse(`${MINIMAL}metricsProvider.className=com.example.Metrics\n`);
    expect(custom.metricsHttpPort).toBe(7000);
    expect(custom.warnings[0]).toMatch(/^zoo\.cfg:3: metricsProvider\.className com\.example\.Metrics cannot be loaded by zooid/);
  });

  it('keeps a single line of Debian-style whitespace and case as ZooKeeper does', () => {
    expect(parse(`${MINIMAL}peerType=OBSERVER\n`).peerType).toBe('observer');
    expect(parse(`${MINIMAL}admin.enableServer=TRUE\n`).adminEnableServer).toBe(true);
  });
});

describe('.properties syntax', () => {
  it('accepts key=value, key: value and key value, trimming as ZooKeeper does', () => {
    const cfg = parse('dataDir /var/zk   \nclientPort:2181\ntickTime = 2000 \t\nmaxClientCnxns\t7\n  initLimit=5\n');
    expect(cfg.dataDir).toBe('/var/zk');
    expect(cfg.clientPort).toBe(2181);
    expect(cfg.tickTimeMs).toBe(2000);
    expect(cfg.maxClientCnxns).toBe(7);
    expect(cfg.initLimit).toBe(5);
  });

  it('joins continuation lines, dropping the continued line\'s leading whitespace', () => {
    const cfg = parse('dataDir=/var/\\\n     zk\nclientPort=21\\\n\t81\ntickTime=10\\\n   00\n');
    expect(cfg.dataDir).toBe('/var/zk');
    expect(cfg.clientPort).toBe(2181);
    expect(cfg.tickTimeMs).toBe(1000);
    expect(cfg.raw.get('tickTime')).toEqual({ value: '1000', line: 5 });
  });

  it('skips # and ! comments and blank lines; a comment ending in a backslash does not continue', () => {
    const entries = parseProperties('# a comment \\\nkey1=v1\n  ! another\n\n   \nkey2=v2\\\\\nkey3=v3\\', 'x');
    expect(entries).toEqual([
      { key: 'key1', value: 'v1', line: 2 },
      { key: 'key2', value: 'v2\\', line: 6 },
      { key: 'key3', value: 'v3', line: 7 },
    ]);
  });

  it('handles escapes, CRLF and separators inside values like java.util.Properties', () => {
    const entries = parseProperties('a\\:b=c:d=e\r\nuni=\\u0041\\t\\x\r\nempty\r\nsep = = x\r\n', 'x');
    expect(entries).toEqual([
      { key: 'a:b', value: 'c:d=e', line: 1 },
      { key: 'uni', value: 'A\tx', line: 2 },
      { key: 'empty', value: '', line: 3 },
      { key: 'sep', value: '= x', line: 4 },
    ]);
  });

  it('rejects a malformed \\u escape with its line', () => {
    const err = errorOf(`${MINIMAL}foo=\\u00zz\n`);
    expect(err.line).toBe(3);
    expect(err.message).toMatch(/^zoo\.cfg:3: malformed \\uxxxx escape/);
  });
});

describe('bad values name the key and the line', () => {
  it.each([
    ['clientPort=abc', 'clientPort', /'abc' is not a port number/],
    ['clientPort=70000', 'clientPort', /'70000' is not a port number/],
    ['clientPort=-1', 'clientPort', /'-1' is not a port number/],
    ['tickTime=-5', 'tickTime', /-5 is below the minimum of 1/],
    ['tickTime=0', 'tickTime', /0 is below the minimum of 1/],
    ['tickTime=2s', 'tickTime', /'2s' is not a number of milliseconds/],
    ['tickTime=99999999999', 'tickTime', /is not a number of milliseconds/],
    ['maxClientCnxns=-1', 'maxClientCnxns', /below the minimum of 0/],
    ['zookeeper.nio.sessionlessCnxnTimeout=0', 'zookeeper.nio.sessionlessCnxnTimeout', /below the minimum of 1/],
    ['minSessionTimeout=-7', 'minSessionTimeout', /below the minimum of -1/],
    ['forceSync=true', 'forceSync', /'true' is not yes or no/],
    ['zookeeper.forceSync=maybe', 'zookeeper.forceSync', /'maybe' is not yes or no/],
    ['io.threads=0', 'io.threads', /0 is below the minimum of 1/],
    ['io.threads=100000', 'io.threads', /above the maximum of 64/],
    ['snapCount=lots', 'snapCount', /'lots' is not an integer/],
    ['preAllocSize=-1', 'preAllocSize', /is not a size in KB/],
    ['preAllocSize=0x10', 'preAllocSize', /is not a size in KB/],
    ['jute.maxbuffer=0', 'jute.maxbuffer', /below the minimum of 1/],
    ['globalOutstandingLimit=abc', 'globalOutstandingLimit', /is not an integer/],
    ['admin.enableServer=yes', 'admin.enableServer', /'yes' is not true or false/],
    ['admin.serverPort=http', 'admin.serverPort', /is not a port number/],
    ['extendedTypesEnabled=1', 'extendedTypesEnabled', /is not true or false/],
    ['electionAlg=1', 'electionAlg', /only 3 \(fast leader election\)/],
    ['peerType=leader', 'peerType', /'leader' is not participant or observer/],
    ['DigestAuthenticationProvider.superDigest=nocolon', 'DigestAuthenticationProvider.superDigest', /is not user:base64digest/],
    ['autopurge.purgeInterval=daily', 'autopurge.purgeInterval', /is not a number of hours/],
    ['metricsProvider.httpPort=x', 'metricsProvider.httpPort', /is not a port number/],
    ['clientPortListenBacklog=-2', 'clientPortListenBacklog', /below the minimum of -1/],
  ])('%s', (line, key, detail) => {
    expectError(`dataDir=/d\nclientPort=2181\n${line}\n`, key, 3, detail);
  });

  it('says which of minSessionTimeout and maxSessionTimeout conflict', () => {
    expectError(`${MINIMAL}minSessionTimeout=5000\nmaxSessionTimeout=4000\n`, 'minSessionTimeout', 3,
      /minSessionTimeout 5000 is larger than maxSessionTimeout 4000/);
    expectError(`${MINIMAL}tickTime=1000\nmaxSessionTimeout=1000\n`, 'maxSessionTimeout', 4,
      /minSessionTimeout 2000 \(2 × tickTime\) is larger than maxSessionTimeout 1000/);
    expectError(`${MINIMAL}minSessionTimeout=90000\n`, 'minSessionTimeout', 3,
      /larger than maxSessionTimeout 60000 \(20 × tickTime\)/);
  });

  it('requires dataDir in a file', () => {
    expectError('clientPort=2181\n', 'dataDir', null, /is not set/);
    expectError('clientPort=2181\ndataDir=\n', 'dataDir', 2, /is empty/);
  });

  it('requires a client port unless secureClientPort or this server\'s server.N line gives one', () => {
    expectError('dataDir=/d\n', 'clientPort', null, /is not set, and neither secureClientPort nor/);
    expectError('dataDir=/d\nclientPort=0\n', 'clientPort', 2, /0 means no client port/);
    expectError('dataDir=/d\nclientPortAddress=127.0.0.1\n', 'clientPortAddress', 2, /is set but clientPort is not set/);
    const secureOnly = parse('dataDir=/d\nsecureClientPort=2281\nssl.keyStore.location=/k.pem\n');
    expect(secureOnly.clientPort).toBe(-1);
    expect(secureOnly.secureClientPort).toBe(2281);
  });

  it('rejects server.N lines that do not parse', () => {
    const cases: Array<[string, RegExp]> = [
      ['server.1=zk1', /expected host:quorumPort:electionPort/],
      ['server.1=zk1:2888', /expected host:quorumPort:electionPort/],
      ['server.1=zk1:2888:3888:participant:extra', /expected host:quorumPort:electionPort/],
      ['server.1=zk1:2888:x', /election port 'x' is not a port number/],
      ['server.1=zk1:99999:3888', /quorum port '99999' is not a port number/],
      ['server.1=zk1:2888:2888', /must be different/],
      ['server.1=zk1:2888:3888:voter', /role 'voter' is not participant or observer/],
      ['server.1=zk1:2888:3888;a:b:c', /expected host:quorumPort:electionPort/],
      ['server.1=zk1:2888:3888;port', /client port 'port' is not a port number/],
      ['server.1=zk1:2888:3888;1;2', /expected host:quorumPort:electionPort/],
      ['server.1=[::1:2888:3888', /expected host:quorumPort:electionPort/],
      ['server.1=zk1:2888:3888|zk1b:2888:3888', /multiAddress\) are not supported/],
      ['server.one=zk1:2888:3888', /'one' is not a server id/],
    ];
    for (const [line, detail] of cases) {
      const key = line.slice(0, line.indexOf('='));
      expectError(`dataDir=/d\nclientPort=2181\n${line}\n`, key, 3, detail);
    }
  });
});

describe('warnings', () => {
  it('accepts keys ZooKeeper knows and zooid does not use yet, naming key and line', () => {
    // (authProvider.N is read: test/unit/sasl.test.ts)
    const known = [
      'connectToLearnerMasterLimit=5',
      'audit.enable=true',
      'ssl.keyStore.location=/etc/zk/keystore.jks',
      'observerMasterPort=2191',
      'snapshot.trust.empty=true',
      'zookeeper.snapshot.trust.empty=true',
      'oraclePath=/etc/zk/oracle',
      'admin.idleTimeout=30000',
      'metricsProvider.exportJvmInfo=true',
      'quorum.auth.kerberos.servicePrincipal=zkquorum/localhost',
      'group.1=1:2:3',
      'flushDelay=2',
      'zookeeper.maxBatchSize=64',
    ];
    const cfg = parse(MINIMAL + known.join('\n'));
    expect(cfg.warnings).toEqual(known.map((l, i) => `zoo.cfg:${i + 3}: ${l.slice(0, l.indexOf('='))} is accepted but not used by zooid yet`));
    expect(cfg.raw.get('oraclePath')).toEqual({ value: '/etc/zk/oracle', line: 9 });
  });

  it('reads localSessionsEnabled and localSessionsUpgradingEnabled (both false by default, as QuorumPeerConfig)', () => {
    expect(parse(MINIMAL)).toMatchObject({ localSessionsEnabled: false, localSessionsUpgradingEnabled: false });
    const cfg = parse(`${MINIMAL}localSessionsEnabled=true\nlocalSessionsUpgradingEnabled=true\n`);
    expect(cfg).toMatchObject({ localSessionsEnabled: true, localSessionsUpgradingEnabled: true, warnings: [] });
    expect(() => parse(`${MINIMAL}localSessionsEnabled=yes\n`)).toThrow(/localSessionsEnabled.*'yes' is not true or false/);
  });

  it('reads secureClientPort and its ssl.* keys (ZooKeeper\'s client-port X509Util settings)', () => {
    const cfg = parse(`${MINIMAL}secureClientPort=2281\nssl.keyStore.location=conf/server.p12\nzookeeper.ssl.keyStore.password=pw\n` +
      'ssl.trustStore.location=/etc/zk/trust.jks\nssl.trustStore.passwordPath=/etc/zk/trust.pw\nssl.clientAuth=Want\n' +
      'ssl.enabledProtocols=TLSv1.3,TLSv1.2\nssl.ciphersuites=TLS_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n' +
      'ssl.hostnameVerification=false\nauthProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider\n' +
      'X509AuthenticationProvider.superUser=CN=admin\n', '/srv');
    expect(cfg.clientPort).toBe(2181);
    expect(cfg.secureClientPort).toBe(2281);
    expect(cfg.secureClientPortAddress).toBeNull();
    expect(cfg.warnings).toEqual([]);
    expect(cfg.x509SuperUser).toBe('CN=admin');
    expect(cfg.tls).toEqual({
      keyStore: { path: '/srv/conf/server.p12', location: { key: 'ssl.keyStore.location', line: 4 }, type: 'PKCS12', password: 'pw',
        passwordPath: null, passwordSource: { key: 'zookeeper.ssl.keyStore.password', line: 5 } },
      trustStore: { path: '/etc/zk/trust.jks', location: { key: 'ssl.trustStore.location', line: 6 }, type: 'JKS', password: null,
        passwordPath: '/etc/zk/trust.pw', passwordSource: { key: 'ssl.trustStore.passwordPath', line: 7 } },
      clientAuth: 'want',
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.3',
      cipherSuites: { names: ['TLS_AES_128_GCM_SHA256', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'], source: { key: 'ssl.ciphersuites', line: 10 } },
    });
    const defaults = parse(`${MINIMAL}secureClientPort=2281\nssl.keyStore.location=/k.pem\nssl.protocol=TLSv1.3\n`);
    expect(defaults.tls).toMatchObject({ clientAuth: 'need', minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', trustStore: null, cipherSuites: null });
    expect(defaults.tls?.keyStore.type).toBe('PEM');
    expect(formatConfigForConf(defaults)).toContain('\nsecureClientPort=2281\n');
  });

  it('reads the ssl.* keys for client.portUnification too (TLS on clientPort, no secureClientPort)', () => {
    const cfg = parse(`${MINIMAL}client.portUnification=true\nssl.keyStore.location=/k.pem\nssl.trustStore.location=/t.pem\n`);
    expect(cfg.clientPortUnification).toBe(true);
    expect(cfg.secureClientPort).toBeNull();
    expect(cfg.warnings).toEqual([]);
    expect(cfg.tls).toMatchObject({ keyStore: { path: '/k.pem', type: 'PEM' }, trustStore: { path: '/t.pem' }, clientAuth: 'need' });
    expect(parse(`${MINIMAL}zookeeper.client.portUnification=true\nssl.keyStore.location=/k.pem\n`).clientPortUnification).toBe(true);
    expectError(`${MINIMAL}client.portUnification=true\n`, 'ssl.keyStore.location', null, /is not set; client.portUnification=true needs a key store/);
    // without either key the ssl.* keys are not used, as before
    const neither = parse(`${MINIMAL}ssl.keyStore.location=/k.pem\n`);
    expect(neither.tls).toBeNull();
    expect(neither.warnings).toHaveLength(1);
  });

  it('rejects TLS settings it cannot use, naming key and line', () => {
    const base = `${MINIMAL}secureClientPort=2281\n`;
    expectError(base, 'ssl.keyStore.location', null, /is not set; secureClientPort needs a key store/);
    expectError(`${base}ssl.keyStore.location=/k.bin\n`, 'ssl.keyStore.location', 4, /cannot tell the store type from the file name/);
    expectError(`${base}ssl.keyStore.location=/k.pem\nssl.keyStore.type=BCFKS\n`, 'ssl.keyStore.type', 5, /not a key store type zooid reads/);
    expectError(`${base}ssl.keyStore.location=/k.pem\nssl.clientAuth=sometimes\n`, 'ssl.clientAuth', 5, /is not need, want or none/);
    expectError(`${base}ssl.keyStore.location=/k.pem\nssl.protocol=SSLv3\n`, 'ssl.protocol', 5, /is not a TLS protocol/);
    expectError(`${MINIMAL}secureClientPortAddress=127.0.0.1\n`, 'secureClientPortAddress', 3, /secureClientPort is not set/);
  });

  it('reads TLS between ensemble servers from sslQuorum, portUnification and ssl.quorum.*, apart from the client port\'s', () => {
    expect(parse(MINIMAL).quorumTls).toBeNull();
    // ssl.quorum.* alone does nothing, as in ZooKeeper
    expect(parse(`${MINIMAL}ssl.quorum.keyStore.location=/q.pem\n`).quorumTls).toBeNull();
    const cfg = parse(`${MINIMAL}sslQuorum=true\nssl.quorum.keyStore.location=/q.p12\nzookeeper.ssl.quorum.keyStore.password=pw\n` +
      `ssl.quorum.trustStore.location=/t.jks\nssl.quorum.hostnameVerification=false\nssl.quorum.enabledProtocols=TLSv1.3\n`);
    expect(cfg.tls).toBeNull();
    expect(cfg.quorumTls).toMatchObject({
      keyStore: { path: '/q.p12', type: 'PKCS12', password: 'pw', location: { key: 'ssl.quorum.keyStore.location', line: 4 } },
      trustStore: { path: '/t.jks', type: 'JKS', password: null },
      clientAuth: 'need', minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3',
      connectWithTls: true, acceptPlain: false, hostnameVerification: false,
    });
    const unified = parse(`${MINIMAL}portUnification=true\nssl.quorum.keyStore.location=/q.pem\n`).quorumTls;
    expect(unified).toMatchObject({ connectWithTls: false, acceptPlain: true, hostnameVerification: true, trustStore: null });
    expect(parse(`${MINIMAL}sslQuorum=true\nportUnification=true\nssl.quorum.keyStore.location=/q.pem\n`).quorumTls)
      .toMatchObject({ connectWithTls: true, acceptPlain: true });
    expectError(`${MINIMAL}sslQuorum=true\n`, 'ssl.quorum.keyStore.location', null, /is not set; sslQuorum=true needs a key store/);
    expectError(`${MINIMAL}sslQuorum=yes\n`, 'sslQuorum', 3, /./);
    expectError(`${MINIMAL}sslQuorum=true\nssl.quorum.keyStore.location=/q.pem\nssl.quorum.clientAuth=maybe\n`, 'ssl.quorum.clientAuth', 5, /is not need, want or none/);
  });

  it('accepts unknown keys with a warning, as ZooKeeper turns them into system properties and goes on', () => {
    const cfg = parse(`${MINIMAL}foo=bar\nzookeeper.tickTime=5\n`);
    expect(cfg.tickTimeMs).toBe(3000);
    expect(cfg.raw.get('foo')).toEqual({ value: 'bar', line: 3 });
    expect(cfg.warnings).toEqual([
      'zoo.cfg:3: foo is not a setting ZooKeeper 3.8 or zooid knows; ignored (ZooKeeper would set the Java system property zookeeper.foo)',
      'zoo.cfg:4: zookeeper.tickTime is not a setting ZooKeeper 3.8 or zooid knows; ignored (ZooKeeper would set the Java system property zookeeper.zookeeper.tickTime)',
    ]);
  });
});

describe('myid', () => {
  function dataDirWith(myid: string | null): string {
    const dir = mkdtempSync(join(scratch, 'data-'));
    if (myid !== null) writeFileSync(join(dir, 'myid'), myid);
    return dir;
  }

  it('reads the trimmed first line of dataDir/myid', () => {
    const dir = dataDirWith(' 3 \n');
    expect(parseConfig(`dataDir=${dir}\nclientPort=2181\n`, { path: 'zoo.cfg' }).myid).toBe(3);
    expect(parseConfig(`dataDir=${dir}\nclientPort=2181\n`, { path: 'zoo.cfg', readMyid: false }).myid).toBeNull();
  });

  it('is null without a myid file (standalone needs none)', () => {
    const dir = dataDirWith(null);
    expect(parseConfig(`dataDir=${dir}\nclientPort=2181\n`, { path: 'zoo.cfg' }).myid).toBeNull();
  });

  it('rejects a myid that is not a number, naming the file and line', () => {
    for (const bad of ['replace this text with the cluster-unique zookeeper\'s instance id (1-255)', '', '-1', '1.5']) {
      const dir = dataDirWith(bad);
      const err = errorOf(`dataDir=${dir}\nclientPort=2181\n`, { readMyid: true });
      expect(err.key).toBe('myid');
      expect(err.line).toBe(1);
      expect(err.message).toBe(`${dir}/myid:1: myid: '${bad.trim()}' is not a number`);
    }
  });

  it('warns about ids that do not fit the 8 bits of a session id', () => {
    const dir = dataDirWith('300\n');
    const cfg = parseConfig(`dataDir=${dir}\nclientPort=2181\n`, { path: 'zoo.cfg' });
    expect(cfg.myid).toBe(300);
    expect(cfg.warnings).toEqual([`${dir}/myid:1: myid 300 is above 255; session ids only hold 8 bits of it and may collide`]);
  });
});

describe('server.N lines', () => {
  const ENSEMBLE = [
    'tickTime=2000',
    'initLimit=10',
    'syncLimit=5',
    'server.1=zk1.example:2888:3888',
    'server.2=10.0.0.2:2888:3888:participant;2182',
    'server.3=[fe80::1]:2888:3888:participant;127.0.0.1:2183',
    'server.4= zk4 : 2888 : 3888 : Observer ',
  ];

  it('parses hosts, ports, roles and client addresses', () => {
    const cfg = parse(['dataDir=/d', 'clientPort=2181', ...ENSEMBLE].join('\n'));
    expect(cfg.standalone).toBe(false);
    expect([...cfg.servers]).toEqual([
      [1, { host: 'zk1.example', quorumPort: 2888, electionPort: 3888, role: 'participant', clientPort: null, clientAddress: null }],
      [2, { host: '10.0.0.2', quorumPort: 2888, electionPort: 3888, role: 'participant', clientPort: 2182, clientAddress: null }],
      [3, { host: 'fe80::1', quorumPort: 2888, electionPort: 3888, role: 'participant', clientPort: 2183, clientAddress: '127.0.0.1' }],
      [4, { host: 'zk4', quorumPort: 2888, electionPort: 3888, role: 'observer', clientPort: null, clientAddress: null }],
    ]);
  });

  it('takes the client port from this server\'s line when clientPort is absent', () => {
    const dir = mkdtempSync(join(scratch, 'ens-'));
    writeFileSync(join(dir, 'myid'), '3\n');
    const cfg = parseConfig([`dataDir=${dir}`, ...ENSEMBLE].join('\n'), { path: 'zoo.cfg' });
    expect(cfg.myid).toBe(3);
    expect(cfg.clientPort).toBe(2183);
    expect(cfg.clientPortAddress).toBe('127.0.0.1');
    const conflict = errorOf([`dataDir=${dir}`, 'clientPort=2181', ...ENSEMBLE].join('\n'), { readMyid: true });
    expect(conflict.key).toBe('server.3');
    expect(conflict.line).toBe(8);
    expect(conflict.message).toMatch(/client port 2183 differs from clientPort 2181 on line 2/);
  });

  it('checks what an ensemble needs: initLimit, syncLimit, myid among the servers', () => {
    const servers = 'server.1=a:2888:3888\nserver.2=b:2888:3888\nserver.3=c:2888:3888\n';
    expectError(`dataDir=/d\nclientPort=2181\nsyncLimit=2\n${servers}`, 'initLimit', null, /is not set \(an ensemble needs it\)/);
    expectError(`dataDir=/d\nclientPort=2181\ninitLimit=2\nsyncLimit=0\n${servers}`, 'syncLimit', 4, /is not set/);
    const noMyid = errorOf(`dataDir=${mkdtempSync(join(scratch, 'nomyid-'))}\nclientPort=2181\ninitLimit=5\nsyncLimit=2\n${servers}`, { readMyid: true });
    expect(noMyid.key).toBe('myid');
    expect(noMyid.message).toMatch(/myid is missing \(an ensemble needs it\)/);
    const dir = mkdtempSync(join(scratch, 'stranger-'));
    writeFileSync(join(dir, 'myid'), '9');
    const stranger = errorOf(`dataDir=${dir}\nclientPort=2181\ninitLimit=5\nsyncLimit=2\n${servers}`, { readMyid: true });
    expect(stranger.message).toMatch(/this server's id 9 .* has no server\.9 line/);
  });

  it('runs a single server.N line standalone, as ZooKeeper does', () => {
    const cfg = parse(`${MINIMAL}server.1=localhost:2888:3888\n`);
    expect(cfg.standalone).toBe(true);
    expect(cfg.servers.size).toBe(1);
    expect(cfg.warnings).toEqual(['zoo.cfg:3: only one server.N is given: running standalone, as ZooKeeper does']);
    expect(errorOf(`${MINIMAL}server.1=a:2888:3888\nserver.2=b:2888:3888:observer\n`).message)
      .toBe('zoo.cfg:3: observers without a quorum is an invalid configuration');
    expect(errorOf(`${MINIMAL}server.2=b:2888:3888:observer\n`).message)
      .toBe('zoo.cfg:3: observers without participants is an invalid configuration');
  });

  it('runs a single server.N line as an ensemble of one with standaloneEnabled=false (QuorumPeerConfig.isDistributed)', () => {
    const one = `dataDir=/d\nclientPort=2181\ninitLimit=5\nsyncLimit=2\nstandaloneEnabled=false\nserver.1=localhost:2888:3888\n`;
    const cfg = parseConfig(one, { path: 'zoo.cfg', readMyid: false });
    expect(cfg.standalone).toBe(false);
    expect(cfg.warnings).toEqual([]);
    expect(errorOf(`dataDir=/d\nclientPort=2181\nstandaloneEnabled=false\nserver.1=localhost:2888:3888\n`).message).toMatch(/initLimit: is not set/);
  });

  it('reads server.N lines from a dynamicConfigFile', () => {
    const dynamic = join(scratch, 'zoo.cfg.dynamic.100000000');
    writeFileSync(dynamic, 'server.1=a:2888:3888:participant;2181\nserver.2=b:2888:3888:participant;2181\nserver.3=c:2888:3888:participant;2181\n');
    const cfg = parse(`dataDir=/d\nclientPort=2181\ninitLimit=5\nsyncLimit=2\ndynamicConfigFile=${dynamic}\n`);
    expect(cfg.dynamicConfigFile).toBe(dynamic);
    expect(cfg.servers.size).toBe(3);
    expect(cfg.standalone).toBe(false);
    expectError(`dataDir=/d\nclientPort=2181\ndynamicConfigFile=${dynamic}\nserver.1=a:1:2\n`, 'server.1', 4, /must be in the dynamic config file/);
    writeFileSync(dynamic, 'server.1=a:2888:3888\ntickTime=5\n');
    const err = errorOf(`dataDir=/d\nclientPort=2181\ndynamicConfigFile=${dynamic}\n`);
    expect(err.message).toBe(`${dynamic}:2: tickTime: is not allowed in a dynamic config file (only server.N, group, weight)`);
  });
});

describe('files', () => {
  const sample = '/etc/zookeeper/conf/zoo.cfg';
  it.skipIf(!existsSync(sample))('parses the Debian sample zoo.cfg', () => {
    const cfg = parseConfig(readFileSync(sample, 'utf8'), { path: sample, readMyid: false });
    expect(cfg.tickTimeMs).toBe(2000);
    expect(cfg.initLimit).toBe(10);
    expect(cfg.syncLimit).toBe(5);
    expect(cfg.dataDir).toBe('/tmp/zookeeper');
    expect(cfg.clientPort).toBe(2181);
    expect(cfg.standalone).toBe(true);
    expect(cfg.warnings).toEqual([]);
  });

  it('loads a file by path and reports an unreadable one', () => {
    const dir = mkdtempSync(join(scratch, 'load-'));
    mkdirSync(join(dir, 'data'));
    const file = join(dir, 'zoo.cfg');
    writeFileSync(file, `dataDir=${dir}/data\nclientPort=2181\n`);
    const cfg = loadConfig(file);
    expect(cfg.configPath).toBe(file);
    expect(cfg.dataDir).toBe(`${dir}/data`);
    expect(() => loadConfig(join(dir, 'missing.cfg'))).toThrow(ConfigError);
    expect(() => loadConfig(join(dir, 'missing.cfg'))).toThrow(/missing\.cfg: cannot read the config file/);
  });
});

describe('formatConfigForConf', () => {
  it('prints what ZooKeeper 3.8 prints for `conf` on a standalone server', () => {
    // Captured from Apache ZooKeeper 3.8.0 started in /tmp/zkrun/c with this zoo.cfg and
    // a myid of 3 in its dataDir: `echo conf | nc 127.0.0.1 21813`.
    const cfg = parse('dataDir=./data\nclientPort=21813\n4lw.commands.whitelist=conf\nadmin.enableServer=false\n', '/tmp/zkrun/c');
    expect(formatConfigForConf(cfg, { dataDirSizeBytes: 457, dataLogSizeBytes: 457 })).toBe([
      'clientPort=21813',
      'secureClientPort=-1',
      'dataDir=/tmp/zkrun/c/./data/version-2',
      'dataDirSize=457',
      'dataLogDir=/tmp/zkrun/c/./data/version-2',
      'dataLogSize=457',
      'tickTime=3000',
      'maxClientCnxns=60',
      'minSessionTimeout=6000',
      'maxSessionTimeout=60000',
      'clientPortListenBacklog=-1',
      'serverId=0',
      '',
    ].join('\n'));
  });

  it('prints configured values and zero sizes by default', () => {
    const cfg = parse('dataDir=/var/zk/\ndataLogDir=/fast/log\nclientPort=2181\ntickTime=1000\nmaxClientCnxns=7\nclientPortListenBacklog=50\n');
    expect(formatConfigForConf(cfg)).toBe(
      'clientPort=2181\nsecureClientPort=-1\ndataDir=/var/zk/version-2\ndataDirSize=0\n' +
      'dataLogDir=/fast/log/version-2\ndataLogSize=0\ntickTime=1000\nmaxClientCnxns=7\n' +
      'minSessionTimeout=2000\nmaxSessionTimeout=20000\nclientPortListenBacklog=50\nserverId=0\n');
  });
});
