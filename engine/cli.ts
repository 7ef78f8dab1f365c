#!/usr/bin/env node
// zooid: one command, subcommands. `zooid server [zoo.cfg]` runs in the foreground like
// ZooKeeper's QuorumPeerMain; with no file it serves an embedded default (port 2181,
// dataDir ./data).
import { enableCompileCache } from './compile-cache.ts';

// before the server's modules load: with the cache warm they are not type-stripped again
// (engine/compile-cache.ts says what that saves), so they are imported dynamically
enableCompileCache();
const { loadConfigOrExit, ConfigError } = await import('./config.ts');
const { startServer, SurfaceStartError } = await import('./server.ts');
const { createLogger, configureLogging } = await import('./logger.ts');

const log = createLogger('main');

const USAGE = `usage: zooid <command> [args]
  server [zoo.cfg]   run a server in the foreground (no file: port 2181, dataDir ./data)
  start [zoo.cfg]    start a server in the background (pid in <dataDir>/zookeeper_server.pid), like zkServer.sh start
  stop [zoo.cfg]     stop it (SIGTERM, wait, remove the pid file)
  status [zoo.cfg]   print the server's Mode (asks srvr); exit 1 when it does not answer
  shell [-server host:port] [cmd args...]   zkCli-like shell: interactive, or one command and exit
  dump-log [--json | --recover] <log file>  print a txn log like zkTxnLogToolkit; --recover cuts it at its first bad entry into <file>.recovered
  dump-snapshot [--json] [-d] <snapshot>    print a snapshot like zkSnapShotToolkit (-d: with data)
  purge [zoo.cfg | <dataLogDir> [<snapDir>]] [-n count]   keep count (>= 3) snapshots and the logs they need, like zkCleanup.sh
`;

async function server(args: string[]): Promise<void> {
  const cfg = loadConfigOrExit(args[0] ?? null);
  configureLogging({ format: cfg.logFormat, level: cfg.logLevel });
  for (const w of cfg.warnings) log.warn(w);
  let running;
  try {
    running = await startServer(cfg);
  } catch (err) {
    if (err instanceof ConfigError) {
      // secureClientPort's key or trust store (read at start): a config error like the others
      process.stderr.write(`zooid: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    log.error(`cannot start: ${(err as Error).message}`);
    process.exit(err instanceof SurfaceStartError ? err.exitCode : 1);
  }
  const shutdown = (signal: string) => {
    log.info(`${signal}: shutting down`);
    void running.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'server':
      return server(rest);
    case 'start':
    case 'stop':
    case 'status': {
      const { daemonCommand } = await import('./daemon.ts');
      process.exitCode = await daemonCommand(command, rest);
      return;
    }
    case 'dump-log':
    case 'dump-snapshot':
    case 'purge': {
      const { main: tool } = await import('./tools/datadir.ts');
      process.exitCode = await tool(command, rest);
      return;
    }
    case 'shell': {
      const { main: shell } = await import('../shell/cli.ts');
      process.exitCode = await shell(rest);
      return;
    }
    case 'loadgen': {
      const { main: loadgen } = await import('../loadgen/cli.ts');
      process.exitCode = await loadgen(rest);
      return;
    }
    case 'bench': {
      const { main: bench } = await import('../bench/cli.ts');
      process.exitCode = await bench(rest);
      return;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default:
      process.stderr.write(`zooid: unknown command '${command}'\n${USAGE}`);
      process.exit(2);
  }
}

await main(process.argv.slice(2));
