// Facts about the machine a benchmark ran on, for the results file (STYLE.md §10: state the
// machine). Every probe is best effort: a missing tool gives "unknown", never a failure.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

export interface MachineFacts {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  os: string;
  node: string;
  java: string;
  zookeeperJar: string;
  /** The filesystem and block device under `dir` (where the dataDirs live). */
  disk: string;
  loadAvg: [number, number, number];
  /** The zooid code measured: commit, and uncommitted edits to the server's folders. */
  code: string;
}

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }).trim();
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}`.trim();
  }
}

function javaVersionLine(): string {
  // java -version writes to stderr
  const r = spawnSync('java', ['-version'], { encoding: 'utf8', timeout: 10_000 });
  const lines = `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.length > 0 ? lines.slice(0, 2).join('; ') : 'java: unknown';
}

function diskOf(dir: string): string {
  const df = run('df', ['-T', dir]).split('\n')[1]?.split(/\s+/) ?? [];
  const device = df[0] ?? 'unknown';
  const fsType = df[1] ?? 'unknown';
  const name = device.replace('/dev/', '').replace(/[0-9]+$/, '');
  let detail = '';
  try {
    const rotational = fs.readFileSync(`/sys/block/${name}/queue/rotational`, 'utf8').trim();
    const sizeSectors = Number(fs.readFileSync(`/sys/block/${name}/size`, 'utf8').trim());
    let model = '';
    try {
      model = fs.readFileSync(`/sys/block/${name}/device/model`, 'utf8').trim();
    } catch {
      model = name.startsWith('vd') ? 'virtio block device' : '';
    }
    detail = `, ${model || 'unknown model'}, ${(sizeSectors * 512 / 2 ** 30).toFixed(0)} GiB, rotational=${rotational} (as the kernel reports it)`;
  } catch {
    // not a plain block device (overlay, tmpfs…)
  }
  return `${device} (${fsType}) for ${dir}${detail}`;
}

function codeVersion(): string {
  const root = new URL('..', import.meta.url).pathname;
  const commit = run('git', ['-C', root, 'log', '-1', '--format=%h %cI %s']);
  const dirty = run('git', ['-C', root, 'status', '--porcelain', '--', 'engine', 'native-free-io']).split('\n').filter(Boolean).length;
  return `${commit || 'unknown commit'}${dirty > 0 ? ` (+ ${dirty} uncommitted files in engine/ and native-free-io/)` : ''}`;
}

export function machineFacts(dataDirParent = os.tmpdir()): MachineFacts {
  const cpus = os.cpus();
  let osName = `${os.platform()} ${os.release()}`;
  try {
    const rel = fs.readFileSync('/etc/os-release', 'utf8');
    osName = /PRETTY_NAME="([^"]+)"/.exec(rel)?.[1] ?? osName;
  } catch {
    // not Linux
  }
  const jars = (() => {
    try {
      return fs.readdirSync('/usr/share/java').filter((f) => /^zookeeper-\d[\d.]*\.jar$/.test(f)).join(', ') || 'none';
    } catch {
      return 'none';
    }
  })();
  const [l1, l5, l15] = os.loadavg();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.release()} ${run('uname', ['-v'])}`.trim(),
    os: osName,
    node: process.version,
    java: javaVersionLine(),
    zookeeperJar: jars,
    disk: diskOf(dataDirParent),
    loadAvg: [l1, l5, l15].map((l) => Math.round(l * 100) / 100) as [number, number, number],
    code: codeVersion(),
  };
}

export function formatMachine(m: MachineFacts): string[] {
  return [
    `- CPU: ${m.cpuModel} × ${m.cores} cores`,
    `- memory: ${m.memoryGiB} GiB`,
    `- OS: ${m.os}, kernel ${m.kernel}`,
    `- node ${m.node}; ${m.java}; ZooKeeper ${m.zookeeperJar}`,
    `- disk: ${m.disk}`,
    `- load average at start: ${m.loadAvg.join(', ')} (1, 5, 15 min)`,
    `- zooid code: ${m.code}`,
  ];
}
