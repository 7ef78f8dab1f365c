// The vocabulary of the config schema (engine/config/schema.ts): what one entry says about
// a zoo.cfg key, and the types derived from the table (ServerConfig, each thread's options).
// Only erasable TypeScript: the types are computed from the entries' literal types.

import type { Setting } from './read.ts';
import { text, type Parser } from './values.ts';

/** The threads that read settings (DESIGN.md §2); the quorum worker runs in ensembles only. */
export type Thread = 'main' | 'io' | 'pipeline' | 'log' | 'snapshot' | 'quorum';
export const THREADS: readonly Thread[] = ['main', 'io', 'pipeline', 'log', 'snapshot', 'quorum'];

/**
 * What zooid does with a key:
 * - honoured: what ZooKeeper does; `consumers` (or the derived field it `feeds`) say who reads it.
 * - ensemble: read and checked (a bad value fails), acted on once zooid runs ensembles; standalone
 *   ZooKeeper ignores these too, and server.ts warns once at start when server.N lines are given.
 * - accepted: ZooKeeper knows it, zooid does nothing with it yet: each use gets a warning.
 * - unsupported: ZooKeeper knows it, zooid has nothing it could do with it (a Java class name, a
 *   client-side property, a knob of a design zooid does not have): each use gets a warning.
 */
export type KeyStatus = 'honoured' | 'ensemble' | 'accepted' | 'unsupported';
export const KEY_STATUSES: readonly KeyStatus[] = ['honoured', 'ensemble', 'accepted', 'unsupported'];

/** The warning for a key that is accepted (or unsupported) and not used; today's text for both. */
export const NOT_USED = 'is accepted but not used by zooid yet';

/** dataDir is the one key without a default: ZooKeeper refuses to start without it. */
export const REQUIRED = 'required';
/**
 * A default: zoo.cfg text run through the entry's own parser, null (not set: the value is
 * null), REQUIRED, or a function giving the text at parse time (io.threads counts the cores).
 */
export type DefaultText = string | null | typeof REQUIRED | (() => string);

/** The sizes `conf` prints next to the directories (ZooKeeper's dataDirSize, dataLogSize). */
export interface ConfDirSizes {
  dataDirSizeBytes?: number;  // total size of the files in dataDir/version-2
  dataLogSizeBytes?: number;  // total size of the files in dataLogDir/version-2
}

export type JsonScalar = string | number | boolean | null;

/**
 * How a field shows in ZooKeeper's `conf` output (ZooKeeperServer.dumpConf, the four-letter
 * word) and in the AdminServer's `configuration` command. `order` places it among the other
 * lines (ZooKeeper's order, not the table's). Without `text`/`json` the value prints as is.
 */
export interface ConfRule<V> {
  word?: {
    name: string;
    order: number;
    text?(value: V): string;
    /** A line printed right after this one that is not a setting (dataDirSize after dataDir). */
    then?: { name: string; text(sizes: ConfDirSizes): string };
  };
  admin?: { name: string; order: number; json?(value: V): JsonScalar };
}

/**
 * The key is used only when another key (named by its table `key`) has a value: otherwise it is
 * warned about with `otherwise` (NOT_USED when absent) and not parsed.
 */
export interface Condition {
  key: string;
  /** A boolean key whose true value meets the condition too. */
  orKey?: string;
  otherwise?: string;
}

interface EntryCommon {
  readonly status: KeyStatus;
  /** Where the default and the behaviour come from (ZooKeeper's class or zooid's reason). */
  readonly note: string;
  /** The derived field this key is an input of (engine/config/parse.ts computes it), or null. */
  readonly feeds: string | null;
  /** Keys that must have a value for this one to be used. */
  readonly onlyWith: readonly Condition[];
}

/**
 * One zoo.cfg key. Its value is the parsed text, or the parsed default. With a `field` the
 * value is that ServerConfig field, given to the threads in `consumers`.
 */
export interface KeyEntry<K extends string = string, F extends string | null = string | null, V = unknown,
  C extends readonly Thread[] = readonly Thread[]> extends EntryCommon {
  readonly kind: 'key';
  readonly key: K;
  /** Other spellings, mostly the Java system property (`zookeeper.snapCount` for `snapCount`). */
  readonly aliases: readonly string[];
  readonly field: F;
  readonly parser: Parser<unknown>;
  readonly default: DefaultText;
  readonly consumers: C;
  /** ZooKeeper's X509Util reads an empty value as not set (the ssl.* keys). */
  readonly emptyIsUnset: boolean;
  /** For an accepted key: the values that ask for nothing zooid lacks, so no warning. */
  honours?(value: V): boolean;
  readonly conf: ConfRule<V> | null;
  /** Phantom: the value's type. */
  readonly valueType?: V;
}

/** Several keys of one shape (`server.N`, `authProvider.N`, a prefix): each one matching is parsed. */
export interface FamilyEntry<K extends string = string, V = unknown> extends EntryCommon {
  readonly kind: 'family';
  readonly key: K;
  /** Tested on the key with a leading `zookeeper.` removed when `systemProperty` is set. */
  readonly match: RegExp;
  readonly systemProperty: boolean;
  readonly parser: Parser<unknown>;
  readonly valueType?: V;
}

/** One key of a family as written, with its parsed value. */
export interface FamilyItem<V> {
  setting: Setting;
  value: V;
}

/** A ServerConfig field computed from several keys (or files) by engine/config/parse.ts. */
export interface DerivedEntry<F extends string = string, V = unknown, C extends readonly Thread[] = readonly Thread[]> {
  readonly kind: 'derived';
  readonly field: F;
  readonly consumers: C;
  /** The keys it is computed from (table keys), for the reader and the tests. */
  readonly from: readonly string[];
  readonly conf: ConfRule<V> | null;
  readonly note: string;
  readonly valueType?: V;
}

export type AnyEntry = KeyEntry | FamilyEntry | DerivedEntry;

// ---------------------------------------------------------------------------------
// Writing entries

type ValueFor<T, D> = null extends D ? T | null : T;

export interface KeySpec<K extends string, F extends string | null, T, D extends DefaultText, C extends readonly Thread[]> {
  key: K;
  aliases?: readonly string[];
  field?: F;
  parser: Parser<T>;
  default: D;
  status: KeyStatus;
  consumers?: C;
  feeds?: string;
  onlyWith?: readonly Condition[];
  emptyIsUnset?: boolean;
  honours?(value: ValueFor<T, D>): boolean;
  conf?: ConfRule<ValueFor<T, D>>;
  note: string;
}

/** One key; the value's type comes from the parser (and is nullable when the default is null). */
export function key<const K extends string, T, const D extends DefaultText, const F extends string | null = null,
  const C extends readonly Thread[] = readonly []>(spec: KeySpec<K, F, T, D, C>): KeyEntry<K, F, ValueFor<T, D>, C> {
  return {
    kind: 'key',
    key: spec.key,
    aliases: spec.aliases ?? [],
    field: (spec.field ?? null) as F,
    parser: spec.parser,
    default: spec.default,
    status: spec.status,
    consumers: (spec.consumers ?? []) as unknown as C,
    feeds: spec.feeds ?? null,
    onlyWith: spec.onlyWith ?? [],
    emptyIsUnset: spec.emptyIsUnset ?? false,
    honours: spec.honours,
    conf: spec.conf ?? null,
    note: spec.note,
  };
}

/** The Java system property spellings ZooKeeper reads: `X` in zoo.cfg, or `zookeeper.X`. */
export function systemProperty<const N extends string>(name: N): { key: N; aliases: string[] } {
  return { key: name, aliases: [`zookeeper.${name}`] };
}

/** Keys ZooKeeper knows and zooid takes as they are, warning that it does not use them. */
export function knownKeys(status: 'accepted' | 'unsupported', names: readonly string[], note: string): KeyEntry<string, null, string | null, readonly []>[] {
  return names.map((name) => key({ ...systemProperty(name), parser: text, default: null, status, note }));
}

/** Every key starting with one of the prefixes (either spelling), taken as it is with a warning. */
export function knownPrefixes(status: 'accepted' | 'unsupported', prefixes: readonly string[], note: string): FamilyEntry<string, string>[] {
  return prefixes.map((prefix) => family({
    key: `${prefix}*`, match: new RegExp(`^${prefix.replace(/[.]/g, '\\.')}`), systemProperty: true, parser: text, status, note,
  }));
}

export function family<const K extends string, V>(spec: {
  key: K; match: RegExp; systemProperty: boolean; parser: Parser<V>; status: KeyStatus; feeds?: string; note: string;
}): FamilyEntry<K, V> {
  return { kind: 'family', ...spec, feeds: spec.feeds ?? null, onlyWith: [] };
}

/** A derived field of type V: `derived<V>()({ … })` (V given, the rest inferred). */
export function derived<V>() {
  return <const F extends string, const C extends readonly Thread[]>(spec: {
    field: F; consumers: C; from: readonly string[]; conf?: ConfRule<V>; note: string;
  }): DerivedEntry<F, V, C> => ({ kind: 'derived', ...spec, conf: spec.conf ?? null });
}

// ---------------------------------------------------------------------------------
// Types computed from a table

type FieldEntryOf<E> = E extends KeyEntry<string, infer F, unknown, readonly Thread[]> ? (F extends string ? E : never)
  : E extends DerivedEntry ? E : never;

type FieldValue<E> = E extends KeyEntry<string, string | null, infer V, readonly Thread[]> ? V
  : E extends DerivedEntry<string, infer V, readonly Thread[]> ? V : never;

/** Flattens an intersection for readable hovers. */
type Simplify<T> = { [P in keyof T]: T[P] } & {};

/** The fields the table's keys give directly. */
export type KeyFieldsOf<S extends readonly AnyEntry[]> = {
  [E in FieldEntryOf<Extract<S[number], KeyEntry>> as E['field']]: FieldValue<E>;
};

/** The fields engine/config/parse.ts computes. */
export type DerivedFieldsOf<S extends readonly AnyEntry[]> = {
  [E in Extract<S[number], DerivedEntry> as E['field']]: FieldValue<E>;
};

/** One property per field (keys with a `field`, and derived fields), typed by the entry. */
export type FieldsOf<S extends readonly AnyEntry[]> = Simplify<KeyFieldsOf<S> & DerivedFieldsOf<S>>;

/** The fields whose consumers include thread W. */
export type FieldsFor<S extends readonly AnyEntry[], W extends Thread> = {
  [E in FieldEntryOf<S[number]> as W extends E['consumers'][number] ? E['field'] : never]: FieldValue<E>;
};

/** Every key's value by its table key (families: the list of their keys), for the derivations. */
export type KeyValuesOf<S extends readonly AnyEntry[]> = {
  [E in Extract<S[number], KeyEntry | FamilyEntry> as string extends E['key'] ? never : E['key']]:
    E extends FamilyEntry<string, infer V> ? FamilyItem<V>[] : E extends KeyEntry<string, string | null, infer V> ? V : never;
};
