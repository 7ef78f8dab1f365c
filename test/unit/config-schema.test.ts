// The schema (engine/config/schema.ts) as a table: every entry complete and consistent,
// its defaults valid, `conf` of the defaults, one key of each status, and the options each
// thread is given.
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  configurationJson, formatConfigForConf, optionsFor, parseConfig, SCHEMA,
  type KeyStatus, type OptionsFor, type ServerConfig, type Thread,
} from '../../engine/config.ts';
import { KEY_STATUSES, REQUIRED, THREADS, type AnyEntry, type DerivedEntry, type KeyEntry } from '../../engine/config/define.ts';
import { defaultValueOf, entryOf } from '../../engine/config/parse.ts';
import type { ParseContext } from '../../engine/config/values.ts';

const ENTRIES = SCHEMA as readonly AnyEntry[];
const KEYS = ENTRIES.filter((e): e is KeyEntry => e.kind === 'key');
const DERIVED = ENTRIES.filter((e): e is DerivedEntry => e.kind === 'derived');
const TABLE_KEYS = new Set(ENTRIES.flatMap((e) => (e.kind === 'derived' ? [] : [e.key])));

const MINIMAL = 'dataDir=/var/lib/zk\nclientPort=2181\n';
const parse = (text: string): ServerConfig => parseConfig(text, { path: 'zoo.cfg', cwd: '/srv/zk', readMyid: false });

/** A context in which a default that fails or warns is a bug of the table. */
const strict: ParseContext = {
  cwd: '/srv/zk',
  fail: (s, detail) => { throw new Error(`default of ${s.key} does not parse: ${detail}`); },
  warn: (s, message) => { throw new Error(`default of ${s.key} warns: ${message}`); },
};

describe('every entry', () => {
  it('has a parser, a default, a status and a note; derived fields name their sources', () => {
    for (const e of ENTRIES) {
      expect(e.note.length, `${e.kind} ${'key' in e ? e.key : e.field}`).toBeGreaterThan(0);
      if (e.kind === 'derived') {
        for (const source of e.from) expect(TABLE_KEYS.has(source) || source === 'ssl.*' || source === 'ssl.quorum.*', `${e.field} from ${source}`).toBe(true);
        continue;
      }
      expect(KEY_STATUSES).toContain(e.status);
      expect(typeof e.parser.parse, e.key).toBe('function');
      expect(e.parser.kind.length, e.key).toBeGreaterThan(0);
      if (e.kind === 'key') expect(e.default === null || e.default === REQUIRED || ['string', 'function'].includes(typeof e.default), e.key).toBe(true);
    }
  });

  it('is read by someone: a field with consumers, or an input of a derived field (no key is parsed and silently ignored)', () => {
    const derivedByField = new Map(DERIVED.map((d) => [d.field, d]));
    for (const e of ENTRIES) {
      if (e.kind === 'derived' || e.status === 'accepted' || e.status === 'unsupported') continue;
      const fed = e.feeds === null ? undefined : derivedByField.get(e.feeds);
      if (e.feeds !== null) expect(fed, `${e.key} feeds ${e.feeds}`).toBeDefined();
      if (e.status === 'ensemble') continue; // read by the quorum worker once ensembles run (issue 10)
      const consumers = e.kind === 'key' && e.field !== null ? e.consumers : fed?.consumers ?? [];
      expect(consumers.length, `${e.key} is honoured but no thread reads it`).toBeGreaterThan(0);
      for (const t of consumers) expect(THREADS).toContain(t);
    }
    for (const d of DERIVED) {
      const ensembleOnly = d.from.length > 0 && d.from.every((k) => ENTRIES.some((e) => e.kind !== 'derived' && e.key === k && e.status === 'ensemble'));
      if (!ensembleOnly) expect(d.consumers.length, `${d.field} has no consumer`).toBeGreaterThan(0);
    }
  });

  it('spells each key once, and fields once', () => {
    const spellings = KEYS.flatMap((e) => [e.key, ...e.aliases]);
    expect(new Set(spellings).size).toBe(spellings.length);
    const fields = ENTRIES.flatMap((e) => (e.kind === 'family' || e.field === null ? [] : [e.field]));
    expect(new Set(fields).size).toBe(fields.length);
    for (const e of KEYS) for (const name of [e.key, ...e.aliases]) expect(entryOf(name), name).toBe(e);
  });

  it('names only keys above it in onlyWith', () => {
    const seen = new Set<string>();
    for (const e of ENTRIES) {
      if (e.kind === 'derived') continue;
      for (const c of e.onlyWith) expect(seen.has(c.key), `${e.key} only with ${c.key}`).toBe(true);
      seen.add(e.key);
    }
  });
});

describe('defaults', () => {
  it('parse through their own parser, without a warning', () => {
    for (const e of KEYS) {
      if (e.default === null || e.default === REQUIRED) continue;
      expect(() => defaultValueOf(e, strict), e.key).not.toThrow();
    }
  });

  it('are the values a minimal zoo.cfg gets', () => {
    const cfg = parse(MINIMAL) as unknown as Record<string, unknown>;
    for (const e of KEYS) {
      if (e.field === null || e.default === REQUIRED || e.key === 'clientPort') continue;
      expect(cfg[e.field], e.key).toEqual(defaultValueOf(e, strict));
    }
  });

  it('print as ZooKeeper 3.8 prints a default standalone server (conf and configuration)', () => {
    const cfg = parse(MINIMAL);
    expect(formatConfigForConf(cfg)).toBe([
      'clientPort=2181', 'secureClientPort=-1', 'dataDir=/var/lib/zk/version-2', 'dataDirSize=0', 'dataLogDir=/var/lib/zk/version-2',
      'dataLogSize=0', 'tickTime=3000', 'maxClientCnxns=60', 'minSessionTimeout=6000', 'maxSessionTimeout=60000',
      'clientPortListenBacklog=-1', 'serverId=0', '',
    ].join('\n'));
    expect(Object.entries(configurationJson(cfg))).toEqual([
      ['client_port', 2181], ['data_dir', '/var/lib/zk/version-2'], ['data_log_dir', '/var/lib/zk/version-2'], ['tick_time', 3000],
      ['max_client_cnxns', 60], ['min_session_timeout', 6000], ['max_session_timeout', 60000], ['server_id', 0],
      ['client_port_listen_backlog', -1],
    ]);
  });
});

describe('statuses', () => {
  const statusOf = (fileKey: string): KeyStatus | undefined => entryOf(fileKey)?.status;

  it('are all used', () => {
    expect(new Set(ENTRIES.flatMap((e) => (e.kind === 'derived' ? [] : [e.status])))).toEqual(new Set(KEY_STATUSES));
  });

  it('honoured: the value is used, no warning', () => {
    expect(statusOf('tickTime')).toBe('honoured');
    const cfg = parse(`${MINIMAL}tickTime=500\n`);
    expect(cfg.tickTimeMs).toBe(500);
    expect(cfg.warnings).toEqual([]);
  });

  it('ensemble: read and checked, no warning', () => {
    expect(statusOf('electionAlg')).toBe('ensemble');
    expect(statusOf('peerType')).toBe('ensemble');
    expect(statusOf('initLimit')).toBe('honoured'); // the quorum worker reads it
    expect(statusOf('server.7')).toBe('honoured');
    const cfg = parse(`${MINIMAL}initLimit=5\npeerType=observer\n`);
    expect(cfg.initLimit).toBe(5);
    expect(cfg.warnings).toEqual([]);
    expect(() => parse(`${MINIMAL}initLimit=soon\n`)).toThrow(/initLimit: 'soon' is not a number of ticks/);
    expect(() => parse(`${MINIMAL}peerType=boss\n`)).toThrow(/peerType: 'boss' is not participant or observer/);
  });

  it('accepted: a warning; a value a typed key carries is checked', () => {
    expect(statusOf('skipACL')).toBe('honoured'); // reconfig's ACL check, and every other
    expect(statusOf('reconfigEnabled')).toBe('honoured');
    expect(statusOf('zookeeper.audit.enable')).toBe('accepted');
    expect(statusOf('quorum.auth.kerberos.servicePrincipal')).toBe('unsupported');
    // syncEnabled was accepted until observers honoured it; its value was checked then as now
    const cfg = parse(`${MINIMAL}observerMasterPort=2191\nzookeeper.syncEnabled=false\n`);
    expect(cfg.syncEnabled).toBe(false);
    expect(cfg.warnings).toEqual(['zoo.cfg:3: observerMasterPort is accepted but not used by zooid yet']);
    expect(() => parse(`${MINIMAL}syncEnabled=maybe\n`)).toThrow(/syncEnabled: 'maybe' is not true or false/);
    // readonlymode.enabled=false asks for nothing zooid lacks
    expect(parse(`${MINIMAL}readonlymode.enabled=false\n`).warnings).toEqual([]);
  });

  it('unsupported: a warning (today\'s text)', () => {
    expect(statusOf('flushDelay')).toBe('unsupported');
    expect(parse(`${MINIMAL}zookeeper.flushDelay=5\n`).warnings).toEqual(['zoo.cfg:3: zookeeper.flushDelay is accepted but not used by zooid yet']);
  });

  it('unknown keys belong to no entry', () => {
    expect(entryOf('zookeeper.tickTime')).toBeNull();
    expect(entryOf('zookeeper.server.1')).toBeNull();
    expect(entryOf('bogus')).toBeNull();
  });

  it('keys used only with another warn when it is missing, and are not parsed', () => {
    const cfg = parse(`${MINIMAL}ssl.clientAuth=sometimes\nmetricsProvider.httpHost=127.0.0.1\n`);
    expect(cfg.tls).toBeNull();
    expect(cfg.warnings).toEqual([
      'zoo.cfg:3: ssl.clientAuth is accepted but not used by zooid yet',
      'zoo.cfg:4: metricsProvider.httpHost is ignored without metricsProvider.className, as in ZooKeeper',
    ]);
    const secure = parse(`${MINIMAL}secureClientPort=2281\nssl.keyStore.location=/k.pem\nssl.trustStore.password=pw\n`);
    expect(secure.tls?.trustStore).toBeNull();
    expect(secure.warnings).toEqual(['zoo.cfg:5: ssl.trustStore.password is ignored without ssl.trustStore.location']);
    expect(parse(`${MINIMAL}sasl.serverconfig=Other\n`).warnings).toEqual(['zoo.cfg:3: sasl.serverconfig is ignored without a JAAS file (java.security.auth.login.config)']);
  });
});

describe('options per thread', () => {
  const fieldsOf = (thread: Thread): string[] => Object.keys(optionsFor(parse(MINIMAL), thread)).sort();

  it('give each worker exactly the fields whose entries name it', () => {
    expect(fieldsOf('log')).toEqual(['forceSync', 'preAllocSizeBytes']);
    expect(fieldsOf('snapshot')).toEqual(['autopurgePurgeIntervalHours', 'autopurgeSnapRetainCount']);
    expect(fieldsOf('io')).toEqual([
      'clientPort', 'clientPortAddress', 'clientPortListenBacklog', 'clientPortUnification', 'dataDir', 'dataLogDir', 'fourLetterWordWhitelist', 'globalOutstandingLimit',
      'ioThreads', 'juteMaxBufferBytes', 'largeRequestMaxBytes', 'largeRequestThreshold', 'maxClientCnxns', 'maxCnxns', 'secureClientPort', 'secureClientPortAddress',
      'sessionlessCnxnTimeoutMs',
    ]); // dataDir, dataLogDir: the io worker measures their sizes for dirs and conf (engine/ops/probes.ts)
    const cfg = parse(`${MINIMAL}preAllocSize=16\nforceSync=no\n`);
    expect(optionsFor(cfg, 'log')).toEqual({ preAllocSizeBytes: 16 * 1024, forceSync: false });
    expectTypeOf(optionsFor(cfg, 'log')).toEqualTypeOf<OptionsFor<'log'>>();
    expectTypeOf<OptionsFor<'log'>>().toEqualTypeOf<{ preAllocSizeBytes: number; forceSync: boolean }>();
    expectTypeOf<OptionsFor<'snapshot'>>().toEqualTypeOf<{ autopurgeSnapRetainCount: number; autopurgePurgeIntervalHours: number }>();
  });

  it('give the pipeline every field `conf` prints (it answers the word)', () => {
    const pipeline = new Set(fieldsOf('pipeline'));
    for (const e of ENTRIES) {
      if (e.kind === 'family' || e.conf === null || e.field === null) continue;
      expect(pipeline.has(e.field), e.field).toBe(true);
    }
    const cfg = parse(`${MINIMAL}tickTime=1000\n`);
    expect(formatConfigForConf(optionsFor(cfg, 'pipeline'), { dataDirSizeBytes: 5 })).toBe(formatConfigForConf(cfg, { dataDirSizeBytes: 5 }));
  });

  it('survive the structured clone that workerData is', () => {
    const cfg = parse(`${MINIMAL}4lw.commands.whitelist=ruok\n`);
    for (const thread of THREADS) expect(structuredClone(optionsFor(cfg, thread))).toEqual(optionsFor(cfg, thread));
  });
});
