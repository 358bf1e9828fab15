/**
 * Re-encrypt throughput in local mode: the local server in this process (filesystem backend, the job
 * state machine run in-process), objects written under proxy key A, then a `full` job and a `rewrap` job
 * after each rotation, beside a plain server-side copy of the same objects by the backend itself (the
 * floor for anything that rewrites an object). Two object sizes, so that what grows with the size shows.
 */
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { FilesystemBackend } from '../../functions/adapters/filesystem-backend.js';
import { startLocalServer, type LocalServer } from '../../functions/handlers/local-server.js';
import { formatTable } from './text-table.js';

const KIB = 1024;
const MIB = 1024 * KIB;
/** Objects per size: about 25 MiB and 160 MiB of data. */
const SETS = [
  { size: 64 * KIB, count: 400 },
  { size: 4 * MIB, count: 40 },
];
/** Rewrites at once, in the jobs and in the plain copy alike. */
const CONCURRENCY = 4;
/** Rewrap's time per object may vary this much between the sizes and still count as not growing with it. */
const FLAT_LIMIT = 1.5;
/** The sweep looks again at objects stored within about 2 s of the gate: start each job after that. */
const QUIET_MS = 2500;

interface Figures {
  seconds: number;
  objects: number;
  bytes: number;
}

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

function configYaml(current: 'A' | 'B', legacy: 'A' | 'B' | undefined): string {
  return [
    'backends:',
    '  - name: main',
    '    type: filesystem',
    '    path: ./store',
    '    encryption:',
    '      mode: aes256-gcm-proxy',
    `      key: "\${env:KEY_${current}}"`,
    `      key_id: key-${current.toLowerCase()}`,
    ...(legacy
      ? [`      legacy_key: "\${env:KEY_${legacy}}"`, `      legacy_key_id: key-${legacy.toLowerCase()}`]
      : []),
    'default_backend: main',
    'credentials:',
    '  - access_key_id: SGBENCHREENCRYPT01',
    '    secret_access_key: "${env:BENCH_SECRET}"',
    '    admin: true',
    '',
  ].join('\n');
}

async function timeJob(server: LocalServer, bucket: string, strategy: 'full' | 'rewrap'): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
  const started = performance.now();
  const { jobs, refused } = await server.jobs.startReencrypt([bucket], strategy, 'bench');
  if (refused.length > 0 || jobs.length !== 1)
    throw new Error(`the ${strategy} job was refused: ${JSON.stringify(refused)}`);
  await server.jobRunner.settled(jobs[0].id);
  const seconds = (performance.now() - started) / 1000;
  const done = await server.jobs.job(jobs[0].id);
  if (done.status !== 'succeeded' || done.counters.rewritten !== done.counters.objects) {
    throw new Error(`the ${strategy} job ended ${done.status}: ${JSON.stringify(done.counters)}`);
  }
  return seconds;
}

/**
 * The backend copying each object itself, with its metadata: to a new key (`copy/...`), what a server-side
 * CopyObject costs; onto itself, what a metadata replace costs.
 */
async function timePlainCopy(
  backend: FilesystemBackend,
  bucket: string,
  keys: string[],
  target: (key: string) => string,
): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < keys.length; i += CONCURRENCY) {
    await Promise.all(
      keys.slice(i, i + CONCURRENCY).map(async (key) => {
        const head = await backend.headObject(bucket, key);
        await backend.copyObject({ bucket, key }, bucket, target(key), head.metadata);
      }),
    );
  }
  return (performance.now() - started) / 1000;
}

export async function runReencryptBench(progress: (message: string) => void): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'sealgate-bench-reencrypt-'));
  const configFile = join(root, 'sealgate.yaml');
  writeFileSync(configFile, configYaml('A', undefined));
  const secret = randomBytes(30).toString('base64url');
  const server = await startLocalServer({
    host: '127.0.0.1',
    port: 0,
    dataDir: join(root, 'data'),
    configFile,
    env: {
      BENCH_SECRET: secret,
      KEY_A: randomBytes(32).toString('hex'),
      KEY_B: randomBytes(32).toString('hex'),
      SEALGATE_JOB_WRITE_BOUND_MS: '0',
      SEALGATE_JOB_CONCURRENCY: String(CONCURRENCY),
    },
    logger: silent,
  });
  const client = new S3Client({
    endpoint: server.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'SGBENCHREENCRYPT01', secretAccessKey: secret },
  });
  const backend = new FilesystemBackend({ name: 'bench', root: join(root, 'store') });
  const rows: string[][] = [];
  const rewrapMs: number[] = [];
  try {
    for (const [index, set] of SETS.entries()) {
      const bucket = `set-${index}`;
      const label = set.size >= MIB ? `${set.size / MIB} MiB` : `${set.size / KIB} KiB`;
      progress(`re-encrypt: writing ${set.count} objects of ${label} under key A`);
      writeFileSync(configFile, configYaml('A', undefined));
      await server.reload();
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      const keys = Array.from({ length: set.count }, (_, i) => `o/${String(i).padStart(5, '0')}`);
      const body = randomBytes(set.size);
      for (let i = 0; i < keys.length; i += CONCURRENCY) {
        await Promise.all(
          keys
            .slice(i, i + CONCURRENCY)
            .map((key) => client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))),
        );
      }
      progress(`re-encrypt: full job to key B (${label})`);
      writeFileSync(configFile, configYaml('B', 'A'));
      await server.reload();
      const full = await timeJob(server, bucket, 'full');
      progress(`re-encrypt: rewrap job back to key A (${label})`);
      writeFileSync(configFile, configYaml('A', 'B'));
      await server.reload();
      const rewrap = await timeJob(server, bucket, 'rewrap');
      progress(`re-encrypt: plain server-side copy (${label})`);
      const copy = await timePlainCopy(backend, bucket, keys, (key) => `copy/${key}`);
      progress(`re-encrypt: plain metadata replace (${label})`);
      const replace = await timePlainCopy(backend, bucket, keys, (key) => key);
      const bytes = set.size * set.count;
      const figures = (seconds: number): Figures => ({ seconds, objects: set.count, bytes });
      const rate = (f: Figures) => [
        (f.objects / f.seconds).toFixed(0),
        (f.bytes / MIB / f.seconds).toFixed(1),
      ];
      const perObject = (seconds: number) => ((seconds / set.count) * 1000).toFixed(2);
      rewrapMs.push((rewrap / set.count) * 1000);
      rows.push([
        `${set.count} x ${label}`,
        ...rate(figures(full)),
        ...rate(figures(rewrap)),
        ...rate(figures(copy)),
        (set.count / replace).toFixed(0),
        (copy / rewrap).toFixed(2),
        (copy / full).toFixed(2),
        perObject(full),
        perObject(rewrap),
        perObject(copy),
        perObject(replace),
      ]);
    }
  } finally {
    client.destroy();
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
  return [
    'Re-encrypt jobs in local mode (filesystem backend, in-process state machine, ' +
      `${CONCURRENCY} objects at once; job times include its listing and sweep)`,
    '',
    formatTable(
      [
        'objects',
        'full obj/s',
        'full MiB/s',
        'rewrap obj/s',
        'rewrap MiB/s',
        'copy obj/s',
        'copy MiB/s',
        'replace obj/s',
        'rewrap x copy',
        'full x copy',
        'full ms/obj',
        'rewrap ms/obj',
        'copy ms/obj',
        'replace ms/obj',
      ],
      rows,
    ),
    '',
    `rewrap ms/obj, ${SETS.at(-1)!.size / MIB} MiB objects over ${SETS[0].size / KIB} KiB ones: ` +
      `${(rewrapMs.at(-1)! / rewrapMs[0]).toFixed(2)} (target: does not grow with the size, <= ${FLAT_LIMIT})`,
    '',
    'notes: "copy" is the filesystem backend copying each object to a new key itself (its server-side',
    '       CopyObject: the kernel copies the data); "replace" is it copying each object onto itself with',
    '       the same metadata (a metadata replace: a new record beside the unchanged file). "x copy" is a',
    "       job's throughput over the copy's. rewrap moves no data through the gateway: it re-wraps the",
    "       data key and has the backend replace the object's metadata (on S3, a CopyObject inside S3), so",
    '       its time per object does not grow with the size; full reads, decrypts, encrypts and writes',
    '       every byte. Job times include their listing, settle waits and sweep.',
  ].join('\n');
}
