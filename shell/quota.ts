// zkCli's setquota and delquota: Quotas as zkCli keeps them, in /zookeeper/quota itself
// (a zookeeper_limits and a zookeeper_stats node under the quota'd path's mirror).
import { ShellClient, KeeperError, OPEN_ACL_UNSAFE } from './client.ts';
import { Err } from '../engine/protocol.ts';
import { QUOTA_ROOT, QUOTA_LIMITS, QUOTA_STATS } from '../engine/core/tree.ts';
import { type Output, CliError, StatsTrack, parseOptions, usageOf, validatePath, wrap } from './text.ts';

export async function setQuota(tokens: string[], c: ShellClient, o: Output): Promise<void> {
  const p = parseOptions(tokens, '', 'nbNB', usageOf('setquota'));
  if (p.args.length < 2) throw new CliError(usageOf('setquota'));
  const target = p.args[1];
  if (target.startsWith(QUOTA_ROOT)) {
    o.err(`cannot set a quota under the path: ${QUOTA_ROOT}\n`);
    return;
  }
  const quota = new StatsTrack();
  quota.set('count', -1);
  quota.set('bytes', -1);
  quota.set('countHardLimit', -1);
  quota.set('byteHardLimit', -1);
  for (const [flag, key, min] of [['n', 'count', 1], ['b', 'bytes', 0], ['N', 'countHardLimit', 1], ['B', 'byteHardLimit', 0]] as const) {
    const v = p.values.get(flag);
    if (v === undefined) continue;
    if (!/^[+-]?\d+$/.test(v)) {
      o.err('NumberFormatException happens when parsing the option value\n');
      return;
    }
    if (Number(v) < min) {
      o.err(min === 1 ? 'the num quota must be greater than zero\n' : 'the bytes quota must be greater than or equal to zero\n');
      return;
    }
    quota.set(key, Number(v));
  }
  if (p.values.size === 0) {
    o.err(`${usageOf('setquota')}\n`);
    return;
  }
  validatePath(target);
  try {
    if ((await c.exists(target, false)) === null) throw new CliError(`${target} does not exist.`);
    let at = QUOTA_ROOT;
    for (const part of target.split('/').slice(1)) {
      at += `/${part}`;
      if ((await c.exists(at, false)) === null) {
        await c.create(at, null, OPEN_ACL_UNSAFE, 0, null).catch((err: unknown) => {
          if (!(err instanceof KeeperError && err.code === Err.NODEEXISTS)) throw err;
        });
      }
    }
    const limitPath = `${at}/${QUOTA_LIMITS}`;
    const statPath = `${at}/${QUOTA_STATS}`;
    if ((await c.exists(limitPath, false)) === null) {
      await c.create(limitPath, Buffer.from(quota.toString()), OPEN_ACL_UNSAFE, 0, null);
      const stats = new StatsTrack();
      stats.set('count', 0);
      stats.set('bytes', 0);
      await c.create(statPath, Buffer.from(stats.toString()), OPEN_ACL_UNSAFE, 0, null).catch((err: unknown) => {
        if (!(err instanceof KeeperError && err.code === Err.NODEEXISTS)) throw err;
      });
    } else {
      const existing = new StatsTrack((await c.getData(limitPath, false)).data?.toString('utf8'));
      for (const key of ['count', 'bytes', 'countHardLimit', 'byteHardLimit']) if (quota.get(key) > -1) existing.set(key, quota.get(key));
      await c.setData(limitPath, Buffer.from(existing.toString()), -1);
    }
  } catch (err) {
    throw wrap(err);
  }
}

export async function delQuota(tokens: string[], c: ShellClient, o: Output): Promise<void> {
  const p = parseOptions(tokens, 'nbNB', '', usageOf('delquota'));
  if (p.args.length < 2) throw new CliError(usageOf('delquota'));
  const target = p.args[1];
  validatePath(target);
  const parent = `${QUOTA_ROOT}${target}`;
  const limitPath = `${parent}/${QUOTA_LIMITS}`;
  try {
    if ((await c.exists(limitPath, false)) === null) {
      o.out(`Quota does not exist for ${target}\n`);
      return;
    }
    if (p.flags.size === 0) {
      for (const child of (await c.getChildren(parent, false)).children) await c.delete(`${parent}/${child}`, -1);
      // trimProcQuotas: remove the now empty quota directories up to /zookeeper/quota
      for (let at = parent; at !== QUOTA_ROOT && at.startsWith(QUOTA_ROOT); at = at.slice(0, at.lastIndexOf('/'))) {
        if ((await c.getChildren(at, false)).children.length > 0) break;
        await c.delete(at, -1);
      }
      return;
    }
    const st = new StatsTrack((await c.getData(limitPath, false)).data?.toString('utf8'));
    if (p.flags.has('n')) st.set('count', -1);
    if (p.flags.has('b')) st.set('bytes', -1);
    if (p.flags.has('N')) st.set('countHardLimit', -1);
    if (p.flags.has('B')) st.set('byteHardLimit', -1);
    await c.setData(limitPath, Buffer.from(st.toString()), -1);
  } catch (err) {
    if (err instanceof KeeperError && err.code === Err.NONODE) {
      o.err(`quota for ${target} does not exist.\n`);
      return;
    }
    throw wrap(err);
  }
}
