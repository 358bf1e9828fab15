/**
 * `npm run bench`: pushes one object (BENCH_SIZE_MIB, default 1024) through local `sealgate serve` child
 * processes on the filesystem backend, PUT then GET with the bytes checked by sha256, once per encryption
 * mode (none, aes256-gcm-proxy, aws-kms-envelope on moto's KMS, SSE-C; BENCH_MODES picks some), each on a
 * fresh server, BENCH_ROUNDS times in turn (default 3). Sets `none` beside plain file copies of the same
 * file with its peak RSS against a 150 MiB target, then every mode beside `none`: throughput ratios, peak
 * RSS against none's + 50 MiB, and single-byte ranged GET latency at the object's start, middle and end.
 * Then the ciphertext format's throughput beside raw AES-GCM and the AWS Encryption SDK, and the Lambda
 * bundle's size and cold start. Exits non-zero on errors and mismatches only.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countingProxy } from '../support/counting-proxy.js';
import { positiveFromEnv } from '../support/env-number.js';
import { startMoto, type MotoServer } from '../support/moto.js';
import { runFormatBench } from './crypto-format.js';
import { benchMode, selectedModes, type KmsSetup, type ModeName } from './encryption-modes.js';
import { runColdStartBench } from './function-url-cold-start.js';
import { runListingRequestsBench } from './listing-requests.js';
import {
  CONCURRENT_OBJECT_BYTES,
  formatConcurrencyReport,
  formatSmallObjectsReport,
  runConcurrencyBench,
  runSmallObjectsBench,
} from './load-shapes.js';
import { runReencryptBench } from './reencrypt.js';
import type { GatewayProcess } from './gateway-process.js';
import { createKmsKey } from './kms-key.js';
import { machineFacts } from './machine-facts.js';
import { runModeBench, type BenchSource, type ModeResult, type RangeProbe } from './mode-bench.js';
import { formatModeReport } from './mode-report.js';
import { timeCopyFile, timeStreamCopy } from './plain-copy.js';
import { formatReport } from './report.js';
import { formatTargets } from './targets.js';
import { writeRandomFile } from './source-file.js';
import { measure } from './stage.js';

const MIB = 2 ** 20;
const PEAK_RSS_LIMIT_BYTES = 150 * MIB;
/** An encrypted mode's PUT and GET may raise the server's peak RSS this much over none's. */
const PEAK_RSS_EXCESS_LIMIT_BYTES = 50 * MIB;
/** Single-byte ranged GETs per place in the object and mode, over all rounds. */
const RANGE_REQUESTS = 20;
/**
 * Every mode runs this many times, in turn, keeping its best throughput: a burst of other work on the
 * machine then skews one round of one mode, not the ratios. Three keep a full run near five minutes.
 */
const DEFAULT_ROUNDS = 3;
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const progress = (message: string) => process.stderr.write(`bench: ${message}\n`);

/** The bytes of a file at some offsets. */
async function bytesAt(path: string, offsets: number[]): Promise<number[]> {
  const handle = await open(path, 'r');
  try {
    const bytes: number[] = [];
    for (const offset of offsets) {
      const { buffer } = await handle.read(Buffer.alloc(1), 0, 1, offset);
      bytes.push(buffer[0]);
    }
    return bytes;
  } finally {
    await handle.close();
  }
}

/** One mode over several rounds: its best PUT and GET, its highest peak RSS, all its range samples. */
function combineRounds(rounds: ModeResult[]): ModeResult {
  const fastest = <T extends { seconds: number }>(stages: T[]) =>
    stages.reduce((best, stage) => (stage.seconds < best.seconds ? stage : best));
  const highest = (pick: (result: ModeResult) => number) => Math.max(...rounds.map(pick));
  const [first] = rounds;
  return {
    mode: first.mode,
    put: fastest(rounds.map((round) => round.put)),
    get: fastest(rounds.map((round) => round.get)),
    memory: {
      rssAfterStartBytes: highest((round) => round.memory.rssAfterStartBytes),
      peakRssAfterPutBytes: highest((round) => round.memory.peakRssAfterPutBytes),
      peakRssAfterGetBytes: highest((round) => round.memory.peakRssAfterGetBytes),
    },
    ranges: first.ranges.map((samples, i) => ({
      probe: samples.probe,
      ms: rounds.flatMap((round) => round.ranges[i].ms),
    })),
    stored: first.stored,
  };
}

/** What the bench started that must be stopped on the way out. */
interface Running {
  gateway?: GatewayProcess;
  moto?: MotoServer;
}

async function bench(root: string, size: number, running: Running): Promise<{ results: ModeResult[] }> {
  const modes = selectedModes(process.env.BENCH_MODES);
  const rounds = positiveFromEnv('BENCH_ROUNDS', DEFAULT_ROUNDS);
  const facts = machineFacts(root);
  const sourcePath = join(root, 'source.bin');
  const copy = join(root, 'copy.bin');
  progress(`writing ${size / MIB} MiB of random data to ${sourcePath}`);
  const source: BenchSource = { path: sourcePath, size, sha256: await writeRandomFile(sourcePath, size) };

  const copyOnce = async (name: string, time: () => Promise<number>) => {
    progress(`plain copy: ${name}`);
    const stage = await measure(async () => ({ bytes: size, seconds: await time() }));
    rmSync(copy);
    return stage;
  };
  const plain = {
    stream: await copyOnce('stream pipeline', () => timeStreamCopy(sourcePath, copy, { datasync: false })),
    streamDatasync: await copyOnce('stream pipeline + fdatasync', () =>
      timeStreamCopy(sourcePath, copy, { datasync: true }),
    ),
    copyFile: await copyOnce('fs.copyFile', () => timeCopyFile(sourcePath, copy, { datasync: false })),
    copyFileDatasync: await copyOnce('fs.copyFile + fdatasync', () =>
      timeCopyFile(sourcePath, copy, { datasync: true }),
    ),
  };

  let kms: KmsSetup | undefined;
  if (modes.includes('aws-kms-envelope')) {
    progress("starting moto for aws-kms-envelope's KMS");
    running.moto = await startMoto();
    kms = { endpoint: running.moto.endpoint, keyArn: await createKmsKey(running.moto.endpoint) };
    progress(`moto at ${kms.endpoint}, KMS key ${kms.keyArn}`);
  }

  const offsets = [0, Math.floor(size / 2), size - 1];
  const sourceBytes = await bytesAt(sourcePath, offsets);
  const probes: RangeProbe[] = ['first byte', 'middle byte', 'last byte'].map((label, i) => ({
    label,
    offset: offsets[i],
    byte: sourceBytes[i],
  }));
  const credentials = {
    accessKeyId: `SGBENCH${randomBytes(6).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(30).toString('base64url'),
  };
  // One setup (and so one key) per mode for the whole run.
  const setups = modes.map((name) => benchMode(name, kms));
  const perMode = new Map<ModeName, ModeResult[]>(modes.map((name) => [name, []]));
  for (let round = 1; round <= rounds; round++) {
    if (rounds > 1) progress(`round ${round} of ${rounds}`);
    for (const mode of setups) {
      const result = await runModeBench(mode, {
        repoRoot: REPO_ROOT,
        workDir: root,
        source,
        probes,
        rangeRequests: Math.ceil(RANGE_REQUESTS / rounds),
        credentials,
        track: (gateway) => (running.gateway = gateway),
        progress,
      });
      perMode.get(mode.name)!.push(result);
    }
  }
  const results = modes.map((name) => combineRounds(perMode.get(name)!));
  const none = results[0];

  const text = [
    formatReport({
      facts,
      sizeBytes: size,
      plain,
      put: none.put,
      get: none.get,
      memory: none.memory,
      peakRssLimitBytes: PEAK_RSS_LIMIT_BYTES,
      sha256: source.sha256,
      rounds,
    }),
    '',
    formatModeReport({
      sizeBytes: size,
      results,
      peakRssExcessLimitBytes: PEAK_RSS_EXCESS_LIMIT_BYTES,
      rounds,
    }),
  ].join('\n');
  process.stdout.write(`${text}\n\n`);

  const shapes = {
    repoRoot: REPO_ROOT,
    workDir: root,
    credentials,
    rounds,
    progress,
    track: (gateway: GatewayProcess | undefined) => (running.gateway = gateway),
  };
  const concurrentPath = join(root, 'concurrent.bin');
  const concurrent: BenchSource = {
    path: concurrentPath,
    size: CONCURRENT_OBJECT_BYTES,
    sha256: await writeRandomFile(concurrentPath, CONCURRENT_OBJECT_BYTES),
  };
  const concurrency = await runConcurrencyBench(setups, concurrent, shapes);
  rmSync(concurrentPath);
  process.stdout.write(`${formatConcurrencyReport(concurrency, rounds)}\n\n`);

  // The small objects' envelope modes reach KMS through a counting proxy, without the cache (the default) and with it.
  const kmsProxy = kms ? await countingProxy(kms.endpoint) : undefined;
  try {
    const small = setups.flatMap((mode) => {
      if (mode.name !== 'aws-kms-envelope' || !kms || !kmsProxy) return [mode];
      const counted = benchMode(mode.name, { ...kms, endpoint: kmsProxy.endpoint });
      return [
        counted,
        {
          ...counted,
          label: 'aws-kms-envelope, cache 60 s',
          encryption: { ...counted.encryption, kms_cache_seconds: 60 },
        },
      ];
    });
    const smallResults = await runSmallObjectsBench(small, { ...shapes, kmsProxy });
    process.stdout.write(`${formatSmallObjectsReport(smallResults, rounds)}\n\n`);
  } finally {
    await kmsProxy?.close();
  }
  await running.moto?.stop();
  running.moto = undefined;
  return { results };
}

async function main(): Promise<number> {
  const size = positiveFromEnv('BENCH_SIZE_MIB', 1024) * MIB;
  const root = mkdtempSync(join(tmpdir(), 'sealgate-bench-'));
  const running: Running = {};
  const cleanup = async () => {
    await running.gateway?.stop();
    running.gateway = undefined;
    await running.moto?.stop();
    running.moto = undefined;
    rmSync(root, { recursive: true, force: true });
  };
  // Ctrl-C must not leave a server running or a GiB in the temp folder.
  let signalled: NodeJS.Signals | undefined;
  const interrupted = (signal: NodeJS.Signals) => {
    signalled = signal;
    progress(`${signal}: stopping the servers and removing ${root}`);
    void cleanup().finally(() => process.exit(130));
  };
  // Last resort if the process ends without reaching `finally` (an unsettled await, process.exit elsewhere).
  const exiting = () => {
    try {
      if (running.gateway) process.kill(running.gateway.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    // Sends moto its SIGTERM (by PID) before the first await; nothing is left to wait for it.
    void running.moto?.stop();
    rmSync(root, { recursive: true, force: true });
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  process.once('exit', exiting);
  try {
    const modes = await bench(root, size, running);
    await cleanup();
    progress('ciphertext format throughput');
    const format = await runFormatBench();
    process.stdout.write(`${format.text}\n\n`);
    process.stdout.write(`${await runReencryptBench(progress)}\n\n`);
    progress('listing requests on an S3 backend: starting moto');
    running.moto = await startMoto();
    process.stdout.write(`${await runListingRequestsBench(running.moto.endpoint, progress)}\n\n`);
    await running.moto.stop();
    running.moto = undefined;
    progress('Lambda edge: bundle size and cold start');
    const coldStart = runColdStartBench();
    process.stdout.write(`${coldStart.text}\n\n`);
    process.stdout.write(
      `${formatTargets({ modes: modes.results, format, coldStartImportMs: coldStart.importMs })}\n`,
    );
    return 0;
  } catch (error) {
    // Stopping the servers on a signal breaks the transfer in flight: that is not a finding.
    if (signalled) return 130;
    progress(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 1;
  } finally {
    await cleanup();
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    process.off('exit', exiting);
  }
}

process.exitCode = await main();
