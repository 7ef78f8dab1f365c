// What the server says about its configuration, from the schema's `conf` rules: the `conf`
// four-letter word (ZooKeeperServer.dumpConf) and the AdminServer's `configuration` command,
// both byte for byte as a standalone Apache ZooKeeper 3.8 prints them.

import type { AnyEntry, ConfDirSizes, ConfRule, JsonScalar } from './define.ts';
import { SCHEMA, type OptionsFor } from './schema.ts';

/** The pipeline answers `conf`: every field printed is one of its options (test/unit/config-schema.test.ts). */
export type ConfView = OptionsFor<'pipeline'>;

interface Printed {
  field: string;
  rule: ConfRule<unknown>;
}

const PRINTED: readonly Printed[] = (SCHEMA as readonly AnyEntry[]).flatMap((e) => {
  if (e.kind === 'family' || e.conf === null) return [];
  return e.field === null ? [] : [{ field: e.field, rule: e.conf as ConfRule<unknown> }];
});

const WORD_LINES = PRINTED.filter((p) => p.rule.word !== undefined).sort((a, b) => a.rule.word!.order - b.rule.word!.order);
const ADMIN_KEYS = PRINTED.filter((p) => p.rule.admin !== undefined).sort((a, b) => a.rule.admin!.order - b.rule.admin!.order);

/**
 * The body of the `conf` four-letter word, one `key=value` per line, each ending in "\n".
 * serverId is 0 in standalone mode even when a myid file exists (ZooKeeper's standalone
 * ServerConfig does not read it). secureClientPort is -1 when it is not set, as in ZooKeeper.
 */
export function formatConfigForConf(cfg: ConfView, sizes: ConfDirSizes = {}): string {
  const values = cfg as unknown as Readonly<Record<string, unknown>>;
  const lines: string[] = [];
  for (const { field, rule } of WORD_LINES) {
    const word = rule.word!;
    const value = values[field];
    lines.push(`${word.name}=${word.text === undefined ? String(value) : word.text(value)}`);
    if (word.then !== undefined) lines.push(`${word.then.name}=${word.then.text(sizes)}`);
  }
  return lines.join('\n') + '\n';
}

/** The AdminServer's `configuration` command (ZooKeeperServer.getConf), before "command" and "error". */
export function configurationJson(cfg: ConfView): Record<string, JsonScalar> {
  const values = cfg as unknown as Readonly<Record<string, unknown>>;
  const out: Record<string, JsonScalar> = {};
  for (const { field, rule } of ADMIN_KEYS) {
    const admin = rule.admin!;
    const value = values[field];
    out[admin.name] = admin.json === undefined ? value as JsonScalar : admin.json(value);
  }
  return out;
}
