// `zooid shell`: Apache ZooKeeper 3.8's zkCli (ZooKeeperMain and its cli/*Command classes)
// on zooid's own client. Same commands, options, output text and exit codes, so scripts
// written for zkCli.sh run unchanged:
//
//   zooid shell [-server host:port] [-timeout ms]              interactive (a TTY: prompt,
//                                                              history in ~/.zooid_shell_history)
//   printf 'ls /\nget /a\n' | zooid shell -server host:port     one command per stdin line
//   zooid shell -server host:port get -s /a                     one command, then exit
//
// Exit code: the last command's, as ZooKeeperMain: 0, 1 for a failed command, 127 for an
// unknown one. Errors go to stderr, as zkCli prints them (its "Created /x" goes to stderr
// too). Commands the server refuses print the server's error as zkCli would
// ("KeeperErrorCode = Unimplemented for /x").
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { ShellClient, KeeperError, AddWatchMode, WatcherType, type WatchEvent, OPEN_ACL_UNSAFE } from './client.ts';
import { Err, CreateFlag } from '../engine/protocol.ts';
import { versions } from '../engine/ops/stats.ts';
import {
  type Output, type Parsed, CliError, StatsTrack, wrap, tokenize, parseOptions, validatePath, parseIntArg, permString, formatStat, parseAcl, formatEvent,
  USAGES, usageOf, javaCompare,
} from './text.ts';
import { setQuota, delQuota } from './quota.ts';
import { QUOTA_ROOT, QUOTA_LIMITS, QUOTA_STATS } from '../engine/core/tree.ts';

export type { Output } from './text.ts';
export { tokenize, permString, formatStat, formatEvent } from './text.ts';

export class Shell {
  private client: ShellClient | null = null;
  private host: string;
  private readonly o: Output;
  private readonly timeoutMs: number;
  private printWatches = true;
  private readonly history = new Map<number, string>();
  commandCount = 0;
  exitCode = 0;
  quitRequested = false;
  /** Watches this session set, to print the *WatchRemoved events removewatches causes. */
  private readonly dataWatches = new Set<string>();
  private readonly childWatches = new Set<string>();
  private readonly persistentWatches = new Set<string>();

  constructor(host: string, o: Output, timeoutMs = 30_000) {
    this.host = host;
    this.o = o;
    this.timeoutMs = timeoutMs;
  }

  get connected(): boolean {
    return this.client !== null && this.client.alive;
  }

  prompt(): string {
    return `[zk: ${this.host}(${this.connected ? 'CONNECTED' : 'CLOSED'}) ${this.commandCount}] `;
  }

  private printEvent(type: number, state: number, p: string | null): void {
    if (this.printWatches) this.o.out(`\nWATCHER::\n\n${formatEvent(type, state, p)}\n`);
  }

  private onWatch(e: WatchEvent): void {
    if (e.type === 3 || e.type === 1 || e.type === 2) this.dataWatches.delete(e.path);
    if (e.type === 4 || e.type === 2) this.childWatches.delete(e.path);
    this.printEvent(e.type, e.state, e.path);
  }

  /** Connects to host ("host:port") and prints the SyncConnected event (unless `announce` is false: the caller prints it). */
  async connect(host: string, announce = true): Promise<void> {
    if (this.client !== null && this.client.alive) await this.client.close();
    this.client = null;
    this.host = host;
    this.dataWatches.clear();
    this.childWatches.clear();
    this.persistentWatches.clear();
    const at = host.lastIndexOf(':');
    const hostname = at === -1 ? host : host.slice(0, at).replace(/^\[(.*)\]$/, '$1');
    const port = at === -1 ? 2181 : Number(host.slice(at + 1));
    try {
      const c = await ShellClient.connect(hostname, port, this.timeoutMs);
      c.onWatch = (e) => this.onWatch(e);
      c.onLost = () => this.printEvent(-1, 0, null);
      this.client = c;
      if (announce) this.printEvent(-1, 3, null);
    } catch (err) {
      this.o.err(`Unable to connect to ${host}: ${(err as Error).message}\n`);
    }
  }

  announceConnected(): void {
    this.printEvent(-1, 3, null);
  }

  async close(): Promise<void> {
    if (this.client !== null && this.client.alive) {
      await this.client.close();
      this.printEvent(-1, 7, null);
    }
    this.client = null;
  }

  usage(): void {
    let text = 'ZooKeeper -server host:port -client-configuration properties-file cmd args\n';
    for (const cmd of Object.keys(USAGES).sort()) text += `\t${cmd} ${USAGES[cmd]}\n`;
    this.o.err(text);
  }

  /** One stdin line (executeLine): empty lines are skipped; others join the history. */
  async executeLine(line: string): Promise<void> {
    if (line === '') return;
    const tokens = tokenize(line);
    this.history.set(this.commandCount, line);
    await this.processCmd(tokens);
    this.commandCount++;
  }

  /** processCmd: runs one command, sets exitCode, prints a failure's message on stderr. */
  async processCmd(tokens: string[]): Promise<void> {
    try {
      await this.processZkCmd(tokens);
      this.exitCode = 0;
    } catch (err) {
      const e = wrap(err);
      this.exitCode = e.exitCode;
      this.o.err(`${e.message}\n`);
    }
  }

  private async processZkCmd(tokens: string[]): Promise<void> {
    if (tokens.length < 1) {
      this.usage();
      throw new CliError('No command entered');
    }
    const cmd = tokens[0];
    if (!(cmd in USAGES)) {
      this.usage();
      throw new CliError(`Command not found: Command not found ${cmd}`, 127);
    }
    if (cmd === 'quit') {
      await this.close();
      this.quitRequested = true;
      return;
    }
    if (cmd === 'redo' && tokens.length >= 2) {
      const i = parseIntArg(tokens[1]);
      if (this.commandCount <= i || i < 0) throw new CliError('Command index out of range');
      const line = this.history.get(i) ?? '';
      const again = tokenize(line);
      if (again[0] === 'redo') throw new CliError('No redoing redos');
      this.history.set(this.commandCount, line);
      await this.processCmd(again);
      return;
    }
    if (cmd === 'history') {
      for (let i = this.commandCount - 10; i <= this.commandCount; ++i) {
        if (i >= 0) this.o.out(`${i} - ${this.history.get(i)}\n`);
      }
    } else if (cmd === 'printwatches') {
      if (tokens.length === 1) this.o.out(`printwatches is ${this.printWatches ? 'on' : 'off'}\n`);
      else this.printWatches = tokens[1] === 'on';
    } else if (cmd === 'connect') {
      await this.connect(tokens.length >= 2 ? tokens[1] : this.host);
    }
    const c = this.client;
    if (c === null || !c.alive) {
      this.o.out('Not connected\n');
      return;
    }
    await this.run(cmd, tokens, c);
  }

  private async run(cmd: string, tokens: string[], c: ShellClient): Promise<void> {
    const o = this.o;
    const opts = (flags: string, valued = '') => parseOptions(tokens, flags, valued, usageOf(cmd));
    const need = (p: Parsed, n: number) => {
      if (p.args.length < n) throw new CliError(usageOf(cmd));
    };
    const call = async <T>(f: () => Promise<T>): Promise<T> => {
      try {
        return await f();
      } catch (err) {
        throw wrap(err);
      }
    };
    switch (cmd) {
      case 'ls': {
        const p = opts('swR?');
        if (p.args.length > 2) {
          o.err("'ls path [watch]' has been deprecated. Please use 'ls [-w] path' instead.\n");
          p.flags.add('w');
        }
        need(p, 2);
        const target = p.args[1];
        validatePath(target);
        const watch = p.flags.has('w');
        if (p.flags.has('R')) {
          // ZKUtil.visitSubTreeDFS: the path, then each child's subtree
          const visit = async (at: string): Promise<void> => {
            const { children } = await call(() => c.getChildren(at, watch));
            if (watch) this.childWatches.add(at);
            o.out(`${at}\n`);
            for (const child of [...children].sort(javaCompare)) await visit(at === '/' ? `/${child}` : `${at}/${child}`);
          };
          await visit(target);
          return;
        }
        const { children, stat } = await call(() => c.getChildren(target, watch));
        if (watch) this.childWatches.add(target);
        o.out(`[${[...children].sort(javaCompare).join(', ')}]\n`);
        if (p.flags.has('s')) o.out(formatStat(stat));
        return;
      }
      case 'create': {
        const p = opts('sec', 't');
        need(p, 2);
        const [hasE, hasS, hasC, hasT] = ['e', 's', 'c'].map((f) => p.flags.has(f)).concat(p.values.has('t'));
        if (hasC && (hasE || hasS)) throw new CliError('-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.');
        let ttl = 0;
        if (hasT) {
          const t = p.values.get('t')!;
          if (!/^[+-]?\d+$/.test(t)) throw new CliError('-t argument must be a long value');
          ttl = Number(t);
        }
        if (hasT && hasE) throw new CliError('TTLs cannot be used with Ephemeral znodes');
        if (hasT && hasC) throw new CliError('TTLs cannot be used with Container znodes');
        let flags: number;
        if (hasE && hasS) flags = CreateFlag.ephemeralSequential;
        else if (hasE) flags = CreateFlag.ephemeral;
        else if (hasS) flags = hasT ? CreateFlag.persistentSequentialWithTtl : CreateFlag.persistentSequential;
        else if (hasC) flags = CreateFlag.container;
        else flags = hasT ? CreateFlag.persistentWithTtl : CreateFlag.persistent;
        if (hasT && (ttl <= 0 || ttl > 0xff_ffff_ffff)) throw new CliError(`ttl must be positive and cannot be larger than: ${0xff_ffff_ffff}`);
        const target = p.args[1];
        validatePath(target, hasS);
        const data = p.args.length > 2 ? Buffer.from(p.args[2], 'utf8') : null;
        const acl = p.args.length > 3 ? parseAcl(p.args[3], o) : OPEN_ACL_UNSAFE;
        const created = await call(() => c.create(target, data, acl, flags, hasT ? ttl : null));
        o.err(`Created ${created}\n`);
        return;
      }
      case 'get': {
        const p = opts('sw');
        need(p, 2);
        if (p.args.length > 2) {
          o.err("'get path [watch]' has been deprecated. Please use 'get [-s] [-w] path' instead.\n");
          p.flags.add('w');
        }
        const target = p.args[1];
        validatePath(target);
        const watch = p.flags.has('w');
        const { data, stat } = await call(() => c.getData(target, watch));
        if (watch) this.dataWatches.add(target);
        o.out(`${data === null ? 'null' : data.toString('utf8')}\n`);
        if (p.flags.has('s')) o.out(formatStat(stat));
        return;
      }
      case 'set': {
        const p = opts('s', 'v');
        need(p, 3);
        const target = p.args[1];
        validatePath(target);
        const version = p.values.has('v') ? parseIntArg(p.values.get('v')!) : -1;
        const stat = await call(() => c.setData(target, Buffer.from(p.args[2], 'utf8'), version));
        if (p.flags.has('s')) o.out(formatStat(stat));
        return;
      }
      case 'stat': {
        const p = opts('w');
        need(p, 2);
        if (p.args.length > 2) {
          o.err("'stat path [watch]' has been deprecated. Please use 'stat [-w] path' instead.\n");
          p.flags.add('w');
        }
        const target = p.args[1];
        validatePath(target);
        const watch = p.flags.has('w');
        const stat = await call(() => c.exists(target, watch));
        if (watch) this.dataWatches.add(target);
        if (stat === null) throw new CliError(`Node does not exist: ${target}`);
        o.out(formatStat(stat));
        return;
      }
      case 'delete': {
        const p = opts('', 'v');
        need(p, 2);
        if (p.args.length > 2) o.err("'delete path [version]' has been deprecated. Please use 'delete [-v version] path' instead.\n");
        const target = p.args[1];
        validatePath(target);
        const version = p.values.has('v') ? parseIntArg(p.values.get('v')!) : -1;
        await call(() => c.delete(target, version));
        return;
      }
      case 'deleteall': {
        const p = opts('', 'b');
        need(p, 2);
        let batch = 1000;
        if (p.values.has('b')) {
          const b = p.values.get('b')!;
          if (!/^[+-]?\d+$/.test(b)) throw new CliError('-b argument must be an int value');
          batch = Math.max(1, Number(b));
        }
        const target = p.args[1];
        validatePath(target);
        // ZKUtil.listSubTreeBFS, then deletes from the leaves up in multi batches
        const tree = [target];
        for (let i = 0; i < tree.length; i++) {
          const at = tree[i];
          const { children } = await call(() => c.getChildren(at, false));
          for (const child of children) tree.push(at === '/' ? `/${child}` : `${at}/${child}`);
        }
        let ok = true;
        for (let end = tree.length; end > 0; end -= batch) {
          const ops = tree.slice(Math.max(0, end - batch), end).reverse();
          try {
            await c.deleteMulti(ops);
          } catch (err) {
            if (!(err instanceof KeeperError)) throw err;
            ok = false;
          }
        }
        if (!ok) o.err('Failed to delete some node(s) in the subtree!\n');
        return;
      }
      case 'getAcl': {
        const p = opts('s');
        need(p, 2);
        const target = p.args[1];
        validatePath(target);
        const { acls, stat } = await call(() => c.getACL(target));
        for (const a of acls) o.out(`'${a.id.scheme},'${a.id.id}\n: ${permString(a.perms)}\n`);
        if (p.flags.has('s')) o.out(formatStat(stat));
        return;
      }
      case 'setAcl': {
        const p = opts('sR', 'v');
        need(p, 3);
        const target = p.args[1];
        validatePath(target);
        const acl = parseAcl(p.args[2], o);
        const version = p.values.has('v') ? parseIntArg(p.values.get('v')!) : -1;
        if (p.flags.has('R')) {
          const visit = async (at: string): Promise<void> => {
            const { children } = await call(() => c.getChildren(at, false));
            try {
              await c.setACL(at, acl, version);
            } catch (err) {
              if (err instanceof KeeperError) o.out(err.message);
              else throw err;
            }
            for (const child of children) await visit(at === '/' ? `/${child}` : `${at}/${child}`);
          };
          await visit(target);
          return;
        }
        const stat = await call(() => c.setACL(target, acl, version));
        if (p.flags.has('s')) o.out(formatStat(stat));
        return;
      }
      case 'addauth': {
        const p = opts('');
        need(p, 2);
        await call(() => c.addAuth(p.args[1], p.args.length >= 3 ? Buffer.from(p.args[2], 'utf8') : null));
        return;
      }
      case 'sync': {
        const p = opts('');
        need(p, 2);
        validatePath(p.args[1]);
        const rc = await c.sync(p.args[1]);
        o.out(rc === 0 ? 'Sync is OK\n' : `Sync has failed. rc=${rc}\n`);
        return;
      }
      case 'addWatch': {
        const p = opts('', 'm');
        if (p.args.length !== 2) throw new CliError(usageOf(cmd));
        let mode: number = AddWatchMode.PERSISTENT_RECURSIVE;
        if (p.values.has('m')) {
          const m = p.values.get('m')!.toUpperCase();
          if (!(m in AddWatchMode)) throw new CliError(usageOf(cmd));
          mode = AddWatchMode[m as keyof typeof AddWatchMode];
        }
        const target = p.args[1];
        validatePath(target);
        await call(() => c.addWatch(target, mode));
        this.persistentWatches.add(target);
        return;
      }
      case 'removewatches': {
        const p = opts('cdal');
        need(p, 2);
        const target = p.args[1];
        validatePath(target);
        const type = p.flags.has('c') ? WatcherType.Children : p.flags.has('d') ? WatcherType.Data : WatcherType.Any;
        await call(() => c.removeWatches(target, type));
        // ZKWatchManager.removeWatcher: child, then data/exist, then persistent ones
        if (type !== WatcherType.Data && this.childWatches.delete(target)) this.printEvent(6, 3, target);
        if (type !== WatcherType.Children && this.dataWatches.delete(target)) this.printEvent(5, 3, target);
        if (type === WatcherType.Any && this.persistentWatches.delete(target)) this.printEvent(7, 3, target);
        return;
      }
      case 'setquota':
        return setQuota(tokens, c, this.o);
      case 'listquota': {
        const p = opts('');
        need(p, 2);
        const target = p.args[1];
        validatePath(target);
        o.err(`absolute path is ${QUOTA_ROOT}${target}/${QUOTA_LIMITS}\n`);
        try {
          const limit = await c.getData(`${QUOTA_ROOT}${target}/${QUOTA_LIMITS}`, false);
          const stat = await c.getData(`${QUOTA_ROOT}${target}/${QUOTA_STATS}`, false);
          o.out(`Output quota for ${target} ${new StatsTrack(limit.data?.toString('utf8')).toString()}\n`);
          o.out(`Output stat for ${target} ${new StatsTrack(stat.data?.toString('utf8')).toString()}\n`);
        } catch (err) {
          if (err instanceof KeeperError && err.code === Err.NONODE) o.err(`quota for ${target} does not exist.\n`);
          else throw wrap(err);
        }
        return;
      }
      case 'delquota':
        return delQuota(tokens, c, this.o);
      case 'whoami': {
        const infos = await call(() => c.whoAmI());
        o.out('Auth scheme: User\n');
        for (const i of infos) o.out(`${i.scheme}: ${i.user}\n`);
        return;
      }
      case 'getEphemerals': {
        const p = opts('');
        const prefix = p.args.length < 2 ? '/' : p.args[1];
        validatePath(prefix);
        const list = await call(() => c.getEphemerals(prefix));
        o.out(`[${list.join(', ')}]\n`);
        return;
      }
      case 'getAllChildrenNumber': {
        const p = opts('');
        if (p.args.length < 2) throw new CliError(usageOf(cmd));
        validatePath(p.args[1]);
        o.out(`${await call(() => c.getAllChildrenNumber(p.args[1]))}\n`);
        return;
      }
      case 'close':
        await this.close();
        return;
      case 'version':
        o.out(`ZooKeeper CLI version: ${versions().version}\n`);
        return;
      case 'config': {
        const p = opts('cws');
        const { data, stat } = await call(() => c.getData('/zookeeper/config', p.flags.has('w')));
        const text = data === null ? '' : data.toString('utf8');
        if (p.flags.has('c')) o.out(`${text.split('\n').filter((l) => !l.startsWith('version=')).join('\n')}\n`);
        else o.out(`${text}\n`);
        if (p.flags.has('s')) o.out(formatStat(stat));
        return;
      }
      case 'reconfig':
        // dynamic reconfiguration needs an ensemble; zooid runs standalone and refuses it as ZooKeeper does without reconfigEnabled
        throw new CliError(new KeeperError(Err.RECONFIGDISABLED, null).message);
      default:
        return; // history, printwatches, connect: done above
    }
  }
}

// ---------------------------------------------------------------------------------------
// Entry point

const HISTORY_FILE = path.join(os.homedir(), '.zooid_shell_history');
const HISTORY_LINES_MAX = 1000;

function stdOutput(): Output {
  return { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };
}

async function drain(): Promise<void> {
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
}

/** `zooid shell [-server host:port] [-timeout ms] [cmd args...]`; resolves with the exit code. */
export async function main(argv: string[], o: Output = stdOutput()): Promise<number> {
  let server = 'localhost:2181';
  let timeoutMs = 30_000;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-server' && i + 1 < argv.length) server = argv[++i];
    else if (a === '-timeout' && i + 1 < argv.length) timeoutMs = Number(argv[++i]);
    else if (a === '-r' || a === '-waitforconnection') continue;
    else if (a === '-client-configuration' && i + 1 < argv.length) i++;
    else break;
  }
  const command = argv.slice(i);
  const shell = new Shell(server, o, timeoutMs);
  o.out(`Connecting to ${server}\n`);
  await shell.connect(server, false);
  if (command.length > 0) {
    if (shell.connected) shell.announceConnected();
    // one command (processCmd on the command line's args), then exit with its code
    await shell.processCmd(command);
    await shell.close();
    await drain();
    return shell.exitCode;
  }
  o.out('Welcome to ZooKeeper!\n');
  const interactive = process.stdin.isTTY === true;
  o.out(`JLine support is ${interactive ? 'enabled' : 'disabled'}\n`);
  // zkCli's watcher prints the connection event after these lines (it arrives on its event thread)
  if (shell.connected) shell.announceConnected();
  let history: string[] = [];
  if (interactive) {
    try {
      history = fs.readFileSync(HISTORY_FILE, 'utf8').split('\n').filter((l) => l !== '').reverse().slice(0, HISTORY_LINES_MAX);
    } catch {
      // no history yet
    }
  }
  const rl = readline.createInterface({ input: process.stdin, output: interactive ? process.stdout : undefined, terminal: interactive, history, historySize: HISTORY_LINES_MAX });
  if (interactive) {
    rl.setPrompt(shell.prompt());
    rl.prompt();
  }
  for await (const line of rl) {
    await shell.executeLine(line.trim());
    if (interactive && line.trim() !== '') {
      try {
        fs.appendFileSync(HISTORY_FILE, `${line.trim()}\n`);
      } catch {
        // a read-only home: history stays in memory
      }
    }
    if (shell.quitRequested) break;
    if (interactive) {
      rl.setPrompt(shell.prompt());
      rl.prompt();
    }
  }
  rl.close();
  if (!shell.quitRequested) await shell.close();
  await drain();
  return shell.exitCode;
}
