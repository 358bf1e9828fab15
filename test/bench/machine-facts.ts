import { statfsSync } from 'node:fs';
import { arch, cpus, loadavg, platform, release, totalmem } from 'node:os';

/** The facts a benchmark result is meaningless without. */
export interface MachineFacts {
  node: string;
  cpuCount: number;
  cpuModel: string;
  memoryGiB: number;
  os: string;
  /** The filesystem type of the folder the bench writes to (by its statfs magic number). */
  filesystem: string;
  /** The 1-minute load average when the bench started: other work competing for the cores. */
  loadAverage: number;
  date: string;
}

// statfs(2) magic numbers of the filesystems a temp folder is likely to sit on.
const FILESYSTEMS: Record<number, string> = {
  0xef53: 'ext2/3/4',
  0x01021994: 'tmpfs',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x794c7630: 'overlayfs',
  0x2fc12fc1: 'zfs',
};

/** Collects node version, CPUs, memory, OS, the filesystem under `folder`, the load, and the time. */
export function machineFacts(folder: string): MachineFacts {
  const cpuList = cpus();
  const type = statfsSync(folder).type;
  return {
    node: process.version,
    cpuCount: cpuList.length,
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()} ${arch()}`,
    filesystem: FILESYSTEMS[type] ?? `statfs type 0x${type.toString(16)}`,
    loadAverage: loadavg()[0] ?? 0,
    date: new Date().toISOString(),
  };
}
