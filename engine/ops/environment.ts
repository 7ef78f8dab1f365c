// What envi and mntr read from the running process: the Node/V8 environment in ZooKeeper's
// JVM terms (the open file descriptors are a host probe: engine/ops/probes.ts). Not pure (everything in fourlw.ts is).
import * as os from 'node:os';
import * as v8 from 'node:v8';
import * as path from 'node:path';
import type { EnvironmentInfo } from './fourlw.ts';


/**
 * envi's values for this Node process. ZooKeeper's keys, zooid's honest counterparts:
 * java.version → Node's version without the "v" (24.x.y), java.vendor → "Node.js",
 * java.home → the Node installation prefix, java.class.path → the entry script,
 * java.library.path and java.compiler → "<NA>" (no native libraries, no separate JIT
 * compiler setting), os.arch in Java's spelling (amd64, aarch64…), os.memory.* → the V8
 * heap as Java's Runtime reports its heap (free = committed − used, max = heap limit,
 * total = committed). Extras: zooid.version, node.version, v8.version.
 */
export function collectEnvironment(zookeeperVersion: string, zooidVersion: string): EnvironmentInfo {
  const heap = v8.getHeapStatistics();
  let userName = '<NA>';
  let userHome = '<NA>';
  try {
    const u = os.userInfo();
    userName = u.username;
    userHome = u.homedir;
  } catch {
    // no passwd entry for this uid (containers): Java prints "?" for user.name; "<NA>" is as honest
  }
  return {
    zookeeperVersion,
    hostName: os.hostname(),
    javaVersion: process.versions.node,
    javaVendor: 'Node.js',
    javaHome: path.resolve(path.dirname(process.execPath), '..'),
    javaClassPath: process.argv[1] ?? '<NA>',
    javaLibraryPath: '<NA>',
    javaIoTmpdir: os.tmpdir(),
    javaCompiler: '<NA>',
    osName: javaOsName(os.type()),
    osArch: javaOsArch(process.arch, os.endianness()),
    osVersion: os.release(),
    userName,
    userHome,
    userDir: process.cwd(),
    memoryFreeBytes: heap.total_heap_size - heap.used_heap_size,
    memoryMaxBytes: heap.heap_size_limit,
    memoryTotalBytes: heap.total_heap_size,
    extras: [['zooid.version', zooidVersion], ['node.version', process.version], ['v8.version', process.versions.v8]],
  };
}

/** Java's os.name for Node's os.type(). */
export function javaOsName(nodeOsType: string): string {
  if (nodeOsType === 'Darwin') return 'Mac OS X';
  if (nodeOsType === 'Windows_NT') return 'Windows';
  return nodeOsType; // Linux, FreeBSD, SunOS, AIX: same words
}

/** Java's os.arch for Node's process.arch. */
export function javaOsArch(nodeArch: string, endianness: 'BE' | 'LE'): string {
  switch (nodeArch) {
    case 'x64': return 'amd64';
    case 'arm64': return 'aarch64';
    case 'ia32': return 'x86';
    case 'ppc64': return endianness === 'LE' ? 'ppc64le' : 'ppc64';
    case 'loong64': return 'loongarch64';
    default: return nodeArch; // arm, s390x, riscv64, mips…: same words
  }
}
