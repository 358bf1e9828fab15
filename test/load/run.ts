/**
 * `npm run load`: LOAD_CLIENTS concurrent S3 clients (AWS SDK v3, default 32) run a mixed workload
 * (workload.ts) for LOAD_SECONDS (default 20) against a local `sealgate serve` child process, twice in one
 * run: first across the encrypting modes (clients spread over a bucket on an aes256-gcm-proxy backend, one
 * on aws-kms-envelope with moto's KMS, and one taking SSE-C on a none backend), then the same workload with
 * every bucket on a `none` backend. Prints throughput, p50/p99 latency per operation, errors, the server's
 * peak RSS, and the encrypted run's throughput as a ratio of none's; then reads back every object each
 * client's model holds and checks its bytes. Exits non-zero on any error, any object that does not verify,
 * or a peak RSS over LOAD_RSS_LIMIT_MIB (default 768). `LOAD_SOAK=1` runs 10 minutes per phase instead
 * (outside CI); LOAD_SEED replays a run's choices.
 */
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startGatewayProcess, type GatewayProcess } from '../bench/gateway-process.js';
import { createKmsKey } from '../bench/kms-key.js';
import { readMemoryStatus } from '../bench/proc-stats.js';
import { formatTable } from '../bench/text-table.js';
import { positiveFromEnv } from '../support/env-number.js';
import { startMoto, type MotoServer } from '../support/moto.js';
import {
  OPERATIONS,
  runClient,
  verifyClient,
  type ClientResult,
  type ClientSetup,
  type CustomerKey,
} from './workload.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MIB = 2 ** 20;

const CLIENTS = positiveFromEnv('LOAD_CLIENTS', 32);
const SECONDS = process.env.LOAD_SOAK === '1' ? 600 : positiveFromEnv('LOAD_SECONDS', 20);
const RSS_LIMIT_BYTES = positiveFromEnv('LOAD_RSS_LIMIT_MIB', 768) * MIB;
const SEED = positiveFromEnv('LOAD_SEED', Math.floor(Math.random() * 2 ** 31) + 1);

const progress = (message: string) => process.stderr.write(`load: ${message}\n`);

/** One phase's buckets: each bucket's backend, and whether its clients send SSE-C keys. */
interface PhaseBucket {
  bucket: string;
  label: string;
  backend: string;
  customerKey?: boolean;
}

interface PhaseResult {
  name: string;
  seconds: number;
  results: ClientResult[];
  peakRssBytes: number;
  problems: string[];
}

function customerKey(): CustomerKey {
  const key = randomBytes(32);
  return {
    SSECustomerAlgorithm: 'AES256',
    SSECustomerKey: key.toString('base64'),
    SSECustomerKeyMD5: createHash('md5').update(key).digest('base64'),
  };
}

async function runPhase(
  name: string,
  root: string,
  backends: Record<string, unknown>[],
  buckets: PhaseBucket[],
  env: Record<string, string>,
  running: { gateway?: GatewayProcess },
): Promise<PhaseResult> {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const configFile = join(dir, 'sealgate.yaml');
  writeFileSync(
    configFile,
    JSON.stringify({
      backends: backends.map((backend) => ({ ...backend, path: join(dir, String(backend.name)) })),
      default_backend: backends[0].name,
      buckets: buckets.map((b) => ({ name: b.bucket, backend: b.backend })),
    }),
    { mode: 0o600 },
  );
  const credentials = {
    accessKeyId: `SGLOAD${randomBytes(5).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(30).toString('base64url'),
  };
  progress(`[${name}] starting sealgate serve`);
  const gateway = await startGatewayProcess({
    repoRoot: REPO_ROOT,
    dataDir: dir,
    configFile,
    env,
    credentials,
  });
  running.gateway = gateway;
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  const s3 = new S3Client({
    endpoint: gateway.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials,
    requestHandler: { httpAgent: agent },
  });
  try {
    for (const { bucket } of buckets) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const setups: ClientSetup[] = Array.from({ length: CLIENTS }, (_, id) => {
      const bucket = buckets[id % buckets.length];
      return { id, s3, bucket: bucket.bucket, customerKey: bucket.customerKey ? customerKey() : undefined };
    });
    progress(`[${name}] ${CLIENTS} clients for ${SECONDS} s over ${buckets.map((b) => b.label).join(', ')}`);
    const started = performance.now();
    const deadline = started + SECONDS * 1000;
    const results = await Promise.all(setups.map((setup) => runClient(setup, deadline, SEED + setup.id)));
    const seconds = (performance.now() - started) / 1000;
    progress(`[${name}] reading back every object the clients hold`);
    const problems = (
      await Promise.all(setups.map((setup, i) => verifyClient(setup, results[i].model)))
    ).flat();
    const peakRssBytes = readMemoryStatus(gateway.pid).peakRssBytes;
    return { name, seconds, results, peakRssBytes, problems };
  } catch (error) {
    const log = gateway.logTail();
    if (log) progress(`[${name}] server log (last lines):\n${log}`);
    throw error;
  } finally {
    s3.destroy();
    agent.destroy();
    await gateway.stop();
    running.gateway = undefined;
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summary(phase: PhaseResult) {
  const rows = OPERATIONS.map((op) => {
    const latencies = phase.results.flatMap((r) => r.latencies.get(op)!).sort((a, b) => a - b);
    const bytes = phase.results.reduce((sum, r) => sum + r.bytes.get(op)!, 0);
    return {
      op,
      count: latencies.length,
      bytes,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
    };
  });
  const count = rows.reduce((sum, row) => sum + row.count, 0);
  const bytes = rows.reduce((sum, row) => sum + row.bytes, 0);
  const errors = phase.results.flatMap((r) => r.errors);
  const objects = phase.results.reduce((sum, r) => sum + r.model.size, 0);
  return {
    rows,
    opsPerSecond: count / phase.seconds,
    mibPerSecond: bytes / MIB / phase.seconds,
    errors,
    objects,
  };
}

function report(phases: PhaseResult[]): { text: string; failed: boolean } {
  const lines: string[] = [];
  let failed = false;
  const summaries = phases.map((phase) => ({ phase, ...summary(phase) }));
  for (const s of summaries) {
    lines.push(
      `${s.phase.name}: ${s.opsPerSecond.toFixed(1)} operations/s, ${s.mibPerSecond.toFixed(1)} MiB/s of object data, ` +
        `${s.errors.length} errors, server peak RSS ${(s.phase.peakRssBytes / MIB).toFixed(1)} MiB ` +
        `(limit ${RSS_LIMIT_BYTES / MIB}), ${s.objects} objects read back: ${s.phase.problems.length === 0 ? 'all verified' : `${s.phase.problems.length} FAILED`}`,
      '',
      formatTable(
        ['operation', 'count', 'MiB', 'p50 ms', 'p99 ms'],
        s.rows.map((row) => [
          row.op,
          String(row.count),
          (row.bytes / MIB).toFixed(1),
          Number.isNaN(row.p50) ? '-' : row.p50.toFixed(1),
          Number.isNaN(row.p99) ? '-' : row.p99.toFixed(1),
        ]),
      ),
      '',
    );
    for (const error of s.errors.slice(0, 20)) lines.push(`ERROR ${error}`);
    for (const problem of s.phase.problems.slice(0, 20)) lines.push(`NOT VERIFIED ${problem}`);
    if (s.errors.length > 0 || s.phase.problems.length > 0 || s.phase.peakRssBytes > RSS_LIMIT_BYTES)
      failed = true;
  }
  const [encrypted, none] = summaries;
  if (encrypted && none) {
    lines.push(
      `encrypted / none, same workload, same run: ${(encrypted.opsPerSecond / none.opsPerSecond).toFixed(2)}× ` +
        `operations/s, ${(encrypted.mibPerSecond / none.mibPerSecond).toFixed(2)}× MiB/s; peak RSS ` +
        `${((encrypted.phase.peakRssBytes - none.phase.peakRssBytes) / MIB).toFixed(1)} MiB over none's`,
    );
  }
  lines.push(
    `seed ${SEED} (LOAD_SEED replays the clients' choices), ${CLIENTS} clients, ${SECONDS} s per phase`,
  );
  return { text: lines.join('\n'), failed };
}

async function main(): Promise<number> {
  const root = mkdtempSync(join(tmpdir(), 'sealgate-load-'));
  const running: { gateway?: GatewayProcess; moto?: MotoServer } = {};
  const stop = async () => {
    await running.gateway?.stop();
    await running.moto?.stop();
    rmSync(root, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void stop().finally(() => process.exit(130)));
  try {
    progress("starting moto for aws-kms-envelope's KMS");
    running.moto = await startMoto();
    const kmsKey = await createKmsKey(running.moto.endpoint);
    // KMS calls of a filesystem backend sign with the default chain; moto takes any credentials.
    const env = { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' };
    const encrypted = await runPhase(
      'encrypted modes',
      root,
      [
        {
          name: 'proxy',
          type: 'filesystem',
          encryption: { mode: 'aes256-gcm-proxy', key: randomBytes(32).toString('hex'), key_id: 'load-1' },
        },
        {
          name: 'envelope',
          type: 'filesystem',
          encryption: { mode: 'aws-kms-envelope', kms_key_id: kmsKey, kms_endpoint: running.moto.endpoint },
        },
        { name: 'plain', type: 'filesystem', encryption: { mode: 'none' } },
      ],
      [
        { bucket: 'load-proxy', label: 'aes256-gcm-proxy', backend: 'proxy' },
        { bucket: 'load-envelope', label: 'aws-kms-envelope', backend: 'envelope' },
        { bucket: 'load-ssec', label: 'SSE-C on none', backend: 'plain', customerKey: true },
      ],
      env,
      running,
    );
    const none = await runPhase(
      'none',
      root,
      [{ name: 'plain', type: 'filesystem', encryption: { mode: 'none' } }],
      [
        { bucket: 'load-proxy', label: 'none', backend: 'plain' },
        { bucket: 'load-envelope', label: 'none', backend: 'plain' },
        { bucket: 'load-ssec', label: 'none', backend: 'plain' },
      ],
      env,
      running,
    );
    const { text, failed } = report([encrypted, none]);
    process.stdout.write(`${text}\n`);
    if (failed) progress('FAILED: errors, objects that did not verify, or a peak RSS over the limit (above)');
    return failed ? 1 : 0;
  } catch (error) {
    progress(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 1;
  } finally {
    await stop();
  }
}

process.exitCode = await main();
