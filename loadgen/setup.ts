// Before a run: the znodes the load touches. Keys under root/g<group>/k<key> (groups of 16
// so getChildren lists something real), one watch znode per connection under root/w, and
// root/t for create+delete. Existing keys get their value rewritten to --value-bytes.
import { LeanClient, ZkError } from '../client/lean.ts';
import { Err, Op, OPEN_ACL_UNSAFE, writeAcls } from '../engine/protocol.ts';
import type { LoadOptions, HostPort } from './options.ts';
import { KEYS_PER_GROUP, TMP_DIR, keyGroupPath, keyPath, valueBytes, watchPath } from './workload.ts';
import { deriveSeed } from './random.ts';

export class LoadgenError extends Error {}

/** Creates in flight during setup. */
const SETUP_WINDOW = 1000;
/** Setup may take this long plus SETUP_MS_PER_KEY per key, then the run is abandoned. */
const SETUP_MS_BASE = 10_000;
const SETUP_MS_PER_KEY = 0.5;

export function setupDeadlineMs(o: LoadOptions): number {
  return o.connectTimeoutMs * o.hosts.length + SETUP_MS_BASE + o.keys * SETUP_MS_PER_KEY;
}

/** The first host that accepts a session, in --hosts order; the reasons of the others. */
export async function connectAny(hosts: readonly HostPort[], connectTimeoutMs: number): Promise<LeanClient> {
  const failures: string[] = [];
  for (const h of hosts) {
    try {
      return await LeanClient.connect({ host: h.host, port: h.port, connectTimeoutMs });
    } catch (err) {
      failures.push(`${h.host}:${h.port} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  throw new LoadgenError(`cannot reach any host: ${failures.join(', ')}`);
}

/** Creates (or refreshes) the znodes of a run. Bounded by setupDeadlineMs. */
export async function setupZnodes(o: LoadOptions): Promise<void> {
  const deadline = Date.now() + setupDeadlineMs(o);
  const client = await connectAny(o.hosts, o.connectTimeoutMs);
  try {
    const value = valueBytes(o.valueBytes, deriveSeed(o.seed, 4));
    const empty = Buffer.alloc(0);
    // ancestors of the root, then its fixed children, one at a time
    const parts = o.root.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) await ensure(client, '/' + parts.slice(0, i).join('/'), empty);
    for (const dir of ['w', TMP_DIR]) await ensure(client, `${o.root}/${dir}`, empty);
    const groups = Math.ceil(o.keys / KEYS_PER_GROUP);
    await pipelined(client, groups, deadline, (g, done) => createOrSet(client, keyGroupPath(o.root, g * KEYS_PER_GROUP), empty, false, done));
    await pipelined(client, o.keys, deadline, (k, done) => createOrSet(client, keyPath(o.root, k), value, true, done));
    await pipelined(client, o.connections, deadline, (c, done) => createOrSet(client, watchPath(o.root, c), empty, false, done));
  } finally {
    await client.close();
  }
}

async function ensure(client: LeanClient, path: string, data: Buffer): Promise<void> {
  try {
    await client.create(path, data);
  } catch (err) {
    if (!(err instanceof ZkError && err.code === Err.NODEEXISTS)) throw new LoadgenError(`setup: create ${path}: ${(err as Error).message}`);
  }
}

/** create; on NODEEXISTS and `rewrite`, setData. Calls done(null) or done(error message). */
function createOrSet(client: LeanClient, path: string, data: Buffer, rewrite: boolean, done: (err: string | null) => void): void {
  client.send(
    Op.create,
    (w) => {
      w.string(path).buffer(data);
      writeAcls(w, OPEN_ACL_UNSAFE);
      w.int(0);
    },
    (reply) => {
      if (reply.err === Err.OK) return done(null);
      if (reply.err !== Err.NODEEXISTS) return done(`create ${path}: error ${reply.err}`);
      if (!rewrite) return done(null);
      client.send(Op.setData, (w) => w.string(path).buffer(data).int(-1), (r) => done(r.err === Err.OK ? null : `setData ${path}: error ${r.err}`));
    },
  );
}

/** Runs count requests with up to SETUP_WINDOW in flight; rejects on the first error or the deadline. */
function pipelined(client: LeanClient, count: number, deadline: number, start: (i: number, done: (err: string | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let next = 0;
    let finished = 0;
    let failed = false;
    const timer = setTimeout(() => fail(`setup did not finish by its deadline (${count - finished} of ${count} left)`), Math.max(0, deadline - Date.now()));
    const fail = (why: string) => {
      if (failed) return;
      failed = true;
      clearTimeout(timer);
      reject(new LoadgenError(`setup: ${why}`));
    };
    const launch = () => {
      while (!failed && next < count && next - finished < SETUP_WINDOW) {
        start(next++, (err) => {
          if (err !== null) return fail(err);
          finished++;
          if (finished === count) {
            clearTimeout(timer);
            resolve();
          } else launch();
        });
      }
    };
    if (count === 0) {
      clearTimeout(timer);
      resolve();
      return;
    }
    launch();
  });
}
