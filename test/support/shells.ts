// The two shells as processes: zkCli (Apache ZooKeeper 3.8's ZooKeeperMain) and `zooid shell`,
// commands on stdin or as arguments, stdout and stderr in one stream in the order written.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT, ZOOID_CLI } from './servers.ts';
import { withDeadline } from './wait.ts';

const ZKCLI_CLASSPATH = '/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-nop.jar';
export const SHELL_RUN_TIMEOUT_MS = 45_000;
/** A command both shells answer with one known line: piped between commands, it splits a transcript into blocks. */
export const SEPARATOR_COMMAND = 'printwatches';
export const SEPARATOR_LINE = 'printwatches is on';

export interface Run {
  output: string;
  code: number | null;
}

export function run(command: string, args: string[], input: string | null, cwd = REPO_ROOT): Promise<Run> {
  // stdout and stderr share one file descriptor, so their lines keep the order they were written in
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zooid-shell-'));
  const outFile = path.join(dir, 'out.txt');
  const fd = fs.openSync(outFile, 'w');
  const child = spawn(command, args, { cwd, stdio: ['pipe', fd, fd] });
  fs.closeSync(fd);
  child.stdin!.end(input ?? '');
  const read = () => {
    const text = fs.readFileSync(outFile, 'utf8');
    fs.rmSync(dir, { recursive: true, force: true });
    return text;
  };
  const exited = new Promise<Run>((resolve, reject) => {
    child.once('exit', (code) => resolve({ output: read(), code }));
    child.once('error', reject);
  });
  return withDeadline(exited, SHELL_RUN_TIMEOUT_MS, `${args.join(' ')} to finish`).catch((err: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${err.message}; output so far:\n${fs.existsSync(outFile) ? read() : ''}`);
  });
}

export const zkCli = (port: number, input: string | null, cmd: string[] = []) =>
  run('java', ['-Xshare:auto', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-cp', ZKCLI_CLASSPATH, 'org.apache.zookeeper.ZooKeeperMain', '-server', `127.0.0.1:${port}`, ...cmd], input);
export const zooidShell = (port: number, input: string | null, cmd: string[] = []) =>
  run(process.execPath, [ZOOID_CLI, 'shell', '-server', `127.0.0.1:${port}`, ...cmd], input);
