import { readFileSync } from 'node:fs';

/** Memory figures of a live process, from `/proc/<pid>/status`. */
export interface MemoryStatus {
  /** VmHWM: the peak resident set size since the process started. */
  peakRssBytes: number;
  /** VmRSS: the resident set size now. */
  rssBytes: number;
}

function statusField(status: string, name: string): number {
  const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status);
  if (!match) throw new Error(`/proc status has no ${name} line (is this Linux, and is the process alive?)`);
  return Number(match[1]) * 1024;
}

/** Reads VmHWM and VmRSS of a running process (Linux only). */
export function readMemoryStatus(pid: number): MemoryStatus {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { peakRssBytes: statusField(status, 'VmHWM'), rssBytes: statusField(status, 'VmRSS') };
}

/**
 * User plus system CPU seconds a process has used so far, from `/proc/<pid>/stat`. The kernel reports
 * them in USER_HZ ticks, which Linux fixes at 100 for every userspace interface.
 */
export function readCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: count fields from its closing one.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the line, so 11 and 12 after the name.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * CPU seconds all CPUs of the machine have spent busy since boot (user, nice, system, irq, softirq and
 * steal from the `cpu` line of `/proc/stat`, in USER_HZ ticks). Steal counts as busy: it is time another
 * guest of the hypervisor took, which the bench did not get either.
 */
export function readMachineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  // cpu user nice system idle iowait irq softirq steal ...: every Linux since 2.6.11 has these eight.
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + steal) / 100;
}
