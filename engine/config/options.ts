// Each thread's slice of the config: the fields whose schema entry names it as a consumer.
// server.ts hands these to the workers, so a new key reaches its thread with no copying.

import { THREADS, type AnyEntry, type Thread } from './define.ts';
import { SCHEMA, type OptionsFor, type ServerConfig } from './schema.ts';

const FIELDS_BY_THREAD = new Map<Thread, readonly string[]>(THREADS.map((t) => [t, fieldsFor(t)]));

function fieldsFor(thread: Thread): string[] {
  const fields: string[] = [];
  for (const e of SCHEMA as readonly AnyEntry[]) {
    if (e.kind === 'family' || e.field === null) continue;
    if (e.consumers.includes(thread)) fields.push(e.field);
  }
  return fields;
}

/** The fields `thread` reads, copied out of the config (structured-cloneable for workerData). */
export function optionsFor<W extends Thread>(cfg: ServerConfig, thread: W): OptionsFor<W> {
  const all = cfg as unknown as Readonly<Record<string, unknown>>;
  const out: Record<string, unknown> = {};
  for (const field of FIELDS_BY_THREAD.get(thread)!) out[field] = all[field];
  return out as OptionsFor<W>;
}
