// Offline dataDir tools, as ZooKeeper's zkTxnLogToolkit.sh, zkSnapShotToolkit.sh and
// zkCleanup.sh:
//
//   zooid dump-log [--json] <log file>            every entry: time, session, cxid, zxid, op, record
//   zooid dump-log --recover <log file>           copy the entries before the first bad one
//                                                 into <file>.recovered (the original stays)
//   zooid dump-snapshot [--json] [-d] <snapshot>   nodes with Stat (and data with -d), sessions
//   zooid purge [zoo.cfg | <dataLogDir> [<snapDir>]] [-n <count>]
//                                                 keep the newest <count> (>= 3, default 3)
//                                                 snapshots and the logs they need
//
// The log dump never stops on damage: a bad entry is reported with its offset and reason,
// and the scan goes on from the next valid entry (if any). Exit codes: 0 clean, 1 damage
// found or an error, 2 bad usage.
import fs from 'node:fs';
import { hex } from '../logger.ts';
import path from 'node:path';
import {
  parseEntry, newParsedEntry, LOG_HEADER_BYTES, TXNLOG_MAGIC, TXNLOG_VERSION, ENTRY_FRAME_BYTES, TXN_BYTES_MAX_DEFAULT,
} from '../persistence/txnlog-format.ts';
import { readSnapshot, parseSnapshotFileName, type SnapshotSink } from '../persistence/snapshot.ts';
import { purge, SNAP_RETAIN_COUNT_MIN } from '../persistence/purge.ts';
import { decodeTxn, showTxn, type Txn } from '../core/txn.ts';
import { Op, NULL_DATA, type Acl } from '../protocol.ts';
import type { NodeRecord } from '../core/tree.ts';
import { fsyncDirectory } from '../../native-free-io/logfile.ts';

type Out = (line: string) => void;

const OP_NAMES = new Map<number, string>(Object.entries(Op).map(([name, code]) => [code as number, name]));

function jsonTxn(txn: Txn): unknown {
  return JSON.parse(JSON.stringify(txn, (_k, v) => {
    if (typeof v === 'bigint') return v.toString();
    if (v !== null && typeof v === 'object' && v.type === 'Buffer' && Array.isArray(v.data)) return Buffer.from(v.data).toString('base64');
    return v;
  }));
}

export type LogScan = {
  entries: number;
  /** Offset and reason of each bad stretch; empty for a clean file. */
  damage: { offset: number; reason: string }[];
  /** End of the last good entry before the first damage (or of all entries). */
  goodEndOffset: number;
};

/** Scans a whole log file, calling onEntry for each good entry and going past damage. */
function scanLog(file: string, onEntry: (offset: number, bytes: Buffer) => void, txnBytesMax = TXN_BYTES_MAX_DEFAULT): LogScan {
  const buf = fs.readFileSync(file);
  const scan: LogScan = { entries: 0, damage: [], goodEndOffset: LOG_HEADER_BYTES };
  if (buf.length < LOG_HEADER_BYTES || buf.readInt32BE(0) !== TXNLOG_MAGIC || buf.readInt32BE(4) !== TXNLOG_VERSION) {
    scan.damage.push({ offset: 0, reason: buf.length < LOG_HEADER_BYTES ? `file of ${buf.length} bytes has no header` : 'not a ZooKeeper transaction log (magic ZKLG, version 2)' });
    scan.goodEndOffset = 0;
    return scan;
  }
  const parsed = newParsedEntry();
  let offset = LOG_HEADER_BYTES;
  let clean = true;
  while (offset < buf.length) {
    const kind = parseEntry(buf, offset, buf.length, true, txnBytesMax, parsed);
    if (kind === 'end') {
      // zero padding: the end of the log
      break;
    }
    if (kind === 'entry') {
      onEntry(offset, buf.subarray(parsed.txnStart, parsed.txnStart + parsed.txnLength));
      offset += ENTRY_FRAME_BYTES + parsed.txnLength;
      scan.entries++;
      if (clean) scan.goodEndOffset = offset;
      continue;
    }
    clean = false;
    scan.damage.push({ offset, reason: parsed.reason });
    // resynchronise: the next offset where a valid entry starts
    let next = -1;
    for (let at = offset + 1; at + ENTRY_FRAME_BYTES < buf.length; at++) {
      if (buf[at] !== 0 || buf[at + 1] !== 0 || buf[at + 2] !== 0 || buf[at + 3] !== 0) continue;
      if (parseEntry(buf, at, buf.length, true, txnBytesMax, parsed) === 'entry') {
        next = at;
        break;
      }
    }
    if (next < 0) break;
    offset = next;
  }
  return scan;
}

export function dumpLog(file: string, json: boolean, out: Out): number {
  let header = false;
  const scan = scanLog(file, (offset, bytes) => {
    if (!header && !json) {
      out(`ZooKeeper transaction log ${file}, txnlog format version ${TXNLOG_VERSION}`);
      header = true;
    }
    let decoded;
    try {
      decoded = decodeTxn(bytes);
    } catch (err) {
      out(json ? JSON.stringify({ offset, error: (err as Error).message }) : `offset ${offset}: undecodable txn: ${(err as Error).message}`);
      return;
    }
    const { hdr, txn } = decoded;
    const op = OP_NAMES.get(hdr.type) ?? String(hdr.type);
    if (json) {
      out(JSON.stringify({ offset, time: new Date(hdr.timeMs).toISOString(), session: hex(hdr.sessionId), cxid: hdr.cxid, zxid: hex(hdr.zxid), op, txn: jsonTxn(txn) }));
    } else {
      out(`${new Date(hdr.timeMs).toISOString()} session ${hex(hdr.sessionId)} cxid ${hex(hdr.cxid >>> 0)} zxid ${hex(hdr.zxid)} ${op} ${showTxn(txn)}`);
    }
  });
  for (const d of scan.damage) out(json ? JSON.stringify({ offset: d.offset, damage: d.reason }) : `DAMAGE at offset ${d.offset}: ${d.reason}`);
  if (!json) out(`EOF reached after ${scan.entries} txns${scan.damage.length > 0 ? `, ${scan.damage.length} damaged stretch(es)` : ''}.`);
  return scan.damage.length > 0 ? 1 : 0;
}

/** Writes header + the entries before the first damage to <file>.recovered (fsynced). */
export function recoverLog(file: string, out: Out): number {
  const scan = scanLog(file, () => {});
  if (scan.goodEndOffset === 0) {
    out(`${file}: no valid header; nothing to recover`);
    return 1;
  }
  const target = `${file}.recovered`;
  const buf = fs.readFileSync(file);
  const fd = fs.openSync(target, 'wx');
  try {
    fs.writeSync(fd, buf, 0, scan.goodEndOffset, 0);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fsyncDirectory(path.dirname(target));
  const kept = scanLog(target, () => {}).entries;
  if (scan.damage.length === 0) out(`${file}: no damage; ${target} holds all ${kept} entries`);
  else out(`${file}: first bad entry at offset ${scan.damage[0].offset} (${scan.damage[0].reason}); ${target} holds the ${kept} entries before it (${scan.goodEndOffset} bytes). Replace the log with it to start from there.`);
  return 0;
}

export function dumpSnapshot(file: string, json: boolean, withData: boolean, out: Out): number {
  const parsed = parseSnapshotFileName(path.basename(file));
  const snap = { name: path.basename(file), path: file, zxid: parsed?.zxid ?? 0, compression: parsed?.compression ?? 'none' as const };
  const sessions: [bigint, number][] = [];
  const acls = new Map<number, Acl[]>();
  const ephemeralCounts = new Map<bigint, number>();
  const nodeLines: string[] = [];
  const sink: SnapshotSink = {
    session: (id, timeoutMs) => sessions.push([id, timeoutMs]),
    acl: (ref, list) => acls.set(ref, list),
    node: (p: string, n: NodeRecord) => {
      // by owner, sessions or not: the listing below looks up session ids (negative ones too)
      if (n.ephemeralOwner !== 0n) ephemeralCounts.set(n.ephemeralOwner, (ephemeralCounts.get(n.ephemeralOwner) ?? 0) + 1);
      const stat = { czxid: hex(n.czxid), ctime: n.ctime, mzxid: hex(n.mzxid), mtime: n.mtime, pzxid: hex(n.pzxid), cversion: n.cversion, version: n.version, aversion: n.aversion, ephemeralOwner: hex(n.ephemeralOwner), dataLength: n.dataLength };
      if (json) {
        nodeLines.push(JSON.stringify({ path: p, acl: n.aclRef, ...stat, ...(withData ? { data: n.data === NULL_DATA ? null : n.data.toString('base64') } : {}) }));
        return;
      }
      nodeLines.push([
        p,
        `  cZxid = ${stat.czxid}`, `  ctime = ${new Date(n.ctime).toISOString()}`, `  mZxid = ${stat.mzxid}`, `  mtime = ${new Date(n.mtime).toISOString()}`,
        `  pZxid = ${stat.pzxid}`, `  cversion = ${n.cversion}`, `  dataVersion = ${n.version}`, `  aclVersion = ${n.aversion}`,
        `  ephemeralOwner = ${stat.ephemeralOwner}`, `  aclRef = ${n.aclRef}`,
        withData ? `  data = ${n.data === NULL_DATA ? '' : n.data.toString('base64')}` : `  dataLength = ${n.dataLength}`,
        '----',
      ].join('\n'));
    },
  };
  const info = readSnapshot(snap, sink);
  if (json) {
    out(JSON.stringify({
      file, zxid: hex(info.zxid), digest: info.digest === null ? null : { zxid: hex(info.digest.zxid), version: info.digest.version, digest: info.digest.digest.toString() },
      sessions: sessions.map(([id, timeoutMs]) => ({ id: hex(id), timeoutMs, ephemerals: ephemeralCounts.get(id) ?? 0 })),
      acls: [...acls].map(([ref, list]) => ({ ref, acl: list.map((a) => ({ perms: a.perms, scheme: a.id.scheme, id: a.id.id })) })),
      nodeCount: info.nodeCount,
    }));
    for (const l of nodeLines) out(l);
    return 0;
  }
  out(`ZNode Details (count=${info.nodeCount}):`);
  out('----');
  for (const l of nodeLines) out(l);
  out('Session Details (sid, timeout, ephemeralCount):');
  for (const [id, timeoutMs] of sessions) out(`${hex(id)}, ${timeoutMs}, ${ephemeralCounts.get(id) ?? 0}`);
  out('----');
  out('ACL cache (ref: perms scheme:id ...):');
  for (const [ref, list] of acls) out(`${ref}: ${list.map((a) => `${a.perms} ${a.id.scheme}:${a.id.id}`).join(', ')}`);
  out('----');
  out(`Last zxid: ${hex(info.zxid)}`);
  out(info.digest === null ? 'Digest: none' : `Digest: zxid ${hex(info.digest.zxid)}, version ${info.digest.version}, value ${info.digest.digest}`);
  return 0;
}

async function purgeCommand(args: string[], out: Out): Promise<number> {
  let count = SNAP_RETAIN_COUNT_MIN;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '-n') count = Number(args[++i]);
    else rest.push(args[i]);
  }
  if (!(Number.isInteger(count) && count >= SNAP_RETAIN_COUNT_MIN)) {
    out(`zooid purge: -n must be an integer of at least ${SNAP_RETAIN_COUNT_MIN}`);
    return 2;
  }
  let logDir: string;
  let snapDir: string;
  if (rest.length <= 1 && (rest.length === 0 || fs.statSync(rest[0]).isFile())) {
    const { loadConfig } = await import('../config.ts');
    const cfg = loadConfig(rest[0] ?? null);
    logDir = path.join(cfg.dataLogDir, 'version-2');
    snapDir = path.join(cfg.dataDir, 'version-2');
  } else {
    // PurgeTxnLog's arguments: dataLogDir [snapDir]; the version-2 subdirectory is implied
    const v2 = (d: string) => (path.basename(d) === 'version-2' ? d : path.join(d, 'version-2'));
    logDir = v2(rest[0]);
    snapDir = v2(rest[1] ?? rest[0]);
  }
  const result = purge(snapDir, logDir, count);
  out(`kept ${result.keptSnapshots.length} snapshots${result.oldestKeptZxid >= 0 ? ` (oldest ${hex(result.oldestKeptZxid)})` : ''}; deleted ${result.deleted.length} files`);
  for (const f of result.deleted) out(`  deleted ${f}`);
  return 0;
}

const USAGE = `usage:
  zooid dump-log [--json] <log file>
  zooid dump-log --recover <log file>      write the entries before the first bad one to <file>.recovered
  zooid dump-snapshot [--json] [-d] <snapshot file>
  zooid purge [zoo.cfg | <dataLogDir> [<snapDir>]] [-n <count>]`;

/** Runs one of the tools; returns the exit code. */
export async function main(command: string, args: string[]): Promise<number> {
  const out: Out = (line) => process.stdout.write(`${line}\n`);
  const flags = new Set(args.filter((a) => a.startsWith('-') && a !== '-n'));
  const files = args.filter((a) => !a.startsWith('-'));
  try {
    if (command === 'purge') return await purgeCommand(args, out);
    if (files.length !== 1) {
      process.stderr.write(`${USAGE}\n`);
      return 2;
    }
    if (command === 'dump-log') return flags.has('--recover') ? recoverLog(files[0], out) : dumpLog(files[0], flags.has('--json'), out);
    if (command === 'dump-snapshot') return dumpSnapshot(files[0], flags.has('--json'), flags.has('-d'), out);
  } catch (err) {
    process.stderr.write(`zooid ${command}: ${(err as Error).message}\n`);
    return 1;
  }
  process.stderr.write(`${USAGE}\n`);
  return 2;
}
