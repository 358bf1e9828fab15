import { readCpuSeconds, readMachineBusySeconds } from './proc-stats.js';
import type { StageResult } from './report.js';
import type { Transfer } from './s3-client.js';

/**
 * Runs one stage and adds the CPU the bench process (and the server, given its PID) spent on it, and the
 * CPU every other process on the machine spent meanwhile: what the stage had to share the cores with.
 */
export async function measure<T extends { bytes: number; seconds: number }>(
  run: () => Promise<T>,
  serverPid?: number,
): Promise<T & StageResult> {
  const serverBefore = serverPid === undefined ? 0 : readCpuSeconds(serverPid);
  const machineBefore = readMachineBusySeconds();
  const clientBefore = process.cpuUsage();
  const result = await run();
  const client = process.cpuUsage(clientBefore);
  const machine = readMachineBusySeconds() - machineBefore;
  const clientCpuSeconds = (client.user + client.system) / 1e6;
  const serverCpuSeconds = serverPid === undefined ? undefined : readCpuSeconds(serverPid) - serverBefore;
  return {
    ...result,
    clientCpuSeconds,
    serverCpuSeconds,
    // Tick-granular counters: a small negative difference is rounding, not time.
    otherCpuSeconds: Math.max(0, machine - clientCpuSeconds - (serverCpuSeconds ?? 0)),
  };
}

/** Fails loudly unless a transfer moved exactly the source's bytes. */
export function verify(what: string, transfer: Transfer, size: number, sourceSha256: string): void {
  if (transfer.bytes !== size || transfer.sha256 !== sourceSha256) {
    throw new Error(
      `INTEGRITY FAILURE in ${what}: ${transfer.bytes} bytes with sha256 ${transfer.sha256}, ` +
        `expected ${size} bytes with sha256 ${sourceSha256}`,
    );
  }
}
