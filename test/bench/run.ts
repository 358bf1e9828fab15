/**
 * `npm run bench`: pushes one object (BENCH_SIZE_MIB, default 1024) through a local `sealgate serve`
 * child process on the filesystem backend, PUT then GET with the bytes checked by sha256, and sets the
 * throughput beside plain file copies of the same file on the same machine in the same run. Prints the
 * server's peak RSS against a 150 MiB target. Then the ciphertext format's throughput beside raw AES-GCM
 * and the AWS Encryption SDK, and the Lambda bundle's size and cold start. Exits non-zero on errors and
 * mismatches only.
 */
import { randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runFormatBench } from './crypto-format.js';
import { runColdStartBench } from './function-url-cold-start.js';
import { startGatewayProcess, type GatewayProcess } from './gateway-process.js';
import { machineFacts } from './machine-facts.js';
import { timeCopyFile, timeStreamCopy } from './plain-copy.js';
import { readCpuSeconds, readMachineBusySeconds, readMemoryStatus } from './proc-stats.js';
import { formatReport, type StageResult } from './report.js';
import { createBucket, getObjectHashed, putObjectFromFile, type Transfer } from './s3-client.js';
import { writeRandomFile } from './source-file.js';

const MIB = 2 ** 20;
const PEAK_RSS_LIMIT_BYTES = 150 * MIB;
const BUCKET = 'bench';
const OBJECT_PATH = `/${BUCKET}/object.bin`;
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

function benchSizeBytes(value: string | undefined): number {
  if (value === undefined || value === '') return 1024 * MIB;
  const mib = Number(value);
  if (!Number.isInteger(mib) || mib <= 0) {
    throw new Error(`BENCH_SIZE_MIB must be a positive whole number of MiB, got "${value}"`);
  }
  return mib * MIB;
}

const progress = (message: string) => process.stderr.write(`bench: ${message}\n`);

/**
 * Runs one stage and adds the CPU the bench process (and the server, given its PID) spent on it, and the
 * CPU every other process on the machine spent meanwhile: what the stage had to share the cores with.
 */
async function measure<T extends { bytes: number; seconds: number }>(
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
function verify(what: string, transfer: Transfer, size: number, sourceSha256: string): void {
  if (transfer.bytes !== size || transfer.sha256 !== sourceSha256) {
    throw new Error(
      `INTEGRITY FAILURE in ${what}: ${transfer.bytes} bytes with sha256 ${transfer.sha256}, ` +
        `expected ${size} bytes with sha256 ${sourceSha256}`,
    );
  }
}

async function bench(
  root: string,
  size: number,
  started: (gateway: GatewayProcess) => void,
): Promise<string> {
  const facts = machineFacts(root);
  const source = join(root, 'source.bin');
  const copy = join(root, 'copy.bin');
  progress(`writing ${size / MIB} MiB of random data to ${source}`);
  const sourceSha256 = await writeRandomFile(source, size);

  const copyOnce = async (name: string, time: () => Promise<number>) => {
    progress(`plain copy: ${name}`);
    const stage = await measure(async () => ({ bytes: size, seconds: await time() }));
    rmSync(copy);
    return stage;
  };
  const plain = {
    stream: await copyOnce('stream pipeline', () => timeStreamCopy(source, copy, { datasync: false })),
    streamDatasync: await copyOnce('stream pipeline + fdatasync', () =>
      timeStreamCopy(source, copy, { datasync: true }),
    ),
    copyFile: await copyOnce('fs.copyFile', () => timeCopyFile(source, copy, { datasync: false })),
    copyFileDatasync: await copyOnce('fs.copyFile + fdatasync', () =>
      timeCopyFile(source, copy, { datasync: true }),
    ),
  };

  const dataDir = join(root, 'data');
  mkdirSync(dataDir);
  const credentials = {
    accessKeyId: `SGBENCH${randomBytes(6).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(30).toString('base64url'),
  };
  progress('starting sealgate serve');
  const gateway = await startGatewayProcess({ repoRoot: REPO_ROOT, dataDir, credentials });
  started(gateway);
  const rssAfterStartBytes = readMemoryStatus(gateway.pid).rssBytes;
  const target = {
    endpoint: gateway.endpoint,
    credentials,
    agent: new Agent({ keepAlive: true, maxSockets: 1 }),
  };
  progress(`server pid ${gateway.pid} at ${gateway.endpoint}; CreateBucket ${BUCKET}`);
  await createBucket(target, BUCKET);

  progress(`PutObject ${OBJECT_PATH}`);
  const put = await measure(() => putObjectFromFile(target, OBJECT_PATH, source, size), gateway.pid);
  verify('PutObject (bytes sent)', put, size, sourceSha256);
  const peakRssAfterPutBytes = readMemoryStatus(gateway.pid).peakRssBytes;

  progress(`GetObject ${OBJECT_PATH}`);
  const get = await measure(() => getObjectHashed(target, OBJECT_PATH), gateway.pid);
  verify('GetObject (bytes received)', get, size, sourceSha256);
  const peakRssAfterGetBytes = readMemoryStatus(gateway.pid).peakRssBytes;
  target.agent.destroy();

  return formatReport({
    facts,
    sizeBytes: size,
    plain,
    put,
    get,
    memory: { rssAfterStartBytes, peakRssAfterPutBytes, peakRssAfterGetBytes },
    peakRssLimitBytes: PEAK_RSS_LIMIT_BYTES,
    sha256: sourceSha256,
  });
}

async function main(): Promise<number> {
  const size = benchSizeBytes(process.env.BENCH_SIZE_MIB);
  const root = mkdtempSync(join(tmpdir(), 'sealgate-bench-'));
  let gateway: GatewayProcess | undefined;
  const cleanup = async () => {
    await gateway?.stop();
    gateway = undefined;
    rmSync(root, { recursive: true, force: true });
  };
  // Ctrl-C must not leave a server running or a GiB in the temp folder.
  let signalled: NodeJS.Signals | undefined;
  const interrupted = (signal: NodeJS.Signals) => {
    signalled = signal;
    progress(`${signal}: stopping the server and removing ${root}`);
    void cleanup().finally(() => process.exit(130));
  };
  // Last resort if the process ends without reaching `finally` (an unsettled await, process.exit elsewhere).
  const exiting = () => {
    try {
      if (gateway) process.kill(gateway.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    rmSync(root, { recursive: true, force: true });
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  process.once('exit', exiting);
  try {
    const report = await bench(root, size, (g) => (gateway = g));
    process.stdout.write(`${report}\n\n`);
    await cleanup();
    progress('ciphertext format throughput');
    process.stdout.write(`${await runFormatBench()}\n\n`);
    progress('Lambda edge: bundle size and cold start');
    process.stdout.write(`${runColdStartBench()}\n`);
    return 0;
  } catch (error) {
    // Stopping the server on a signal breaks the transfer in flight: that is not a finding.
    if (signalled) return 130;
    progress(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    const log = gateway?.logTail();
    if (log) progress(`server log (last lines):\n${log}`);
    return 1;
  } finally {
    await cleanup();
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    process.off('exit', exiting);
  }
}

process.exitCode = await main();
