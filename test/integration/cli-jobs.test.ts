/**
 * `sealgate jobs ...` against the real local server (file store, filesystem backend, in-process job
 * runner), through `runCli`: objects written under key A, the config rotated to B with A as legacy, then
 * re-encrypt jobs started, followed, listed, cancelled and resumed from the command line. Nothing the CLI
 * prints may hold a secret.
 */
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { LocalServer } from '../../functions/handlers/local-server.js';
import { admin } from '../support/admin.js';
import { TEST_CREDENTIALS } from '../support/gateway.js';
import { startJobServer, type JobJson } from '../support/jobs.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';
import { run, type CliRun } from '../unit/cli/run-cli.js';

const KEYS = { A: '3c'.repeat(32), B: '5d'.repeat(32) };
const CUSTOMER_KEY = Buffer.alloc(32, 0x4b);
const SECRETS = [TEST_CREDENTIALS.secretAccessKey, ...Object.values(KEYS), CUSTOMER_KEY.toString('base64')];
/** The objects of `photos`, written under key A. */
const PHOTOS = ['a/one', 'a/two', 'b/three', 'b/four', 'c/five'];

/** One filesystem backend in `aes256-gcm-proxy` under `key`, with `legacy` as its legacy key. */
function configYaml(key: 'A' | 'B', legacy?: 'A'): string {
  const lines = [
    'backends:',
    '  - name: main',
    '    type: filesystem',
    '    path: ./store',
    '    encryption:',
    '      mode: aes256-gcm-proxy',
    `      key: "\${env:KEY_${key}}"`,
    `      key_id: key-${key.toLowerCase()}`,
  ];
  if (legacy) {
    lines.push(
      `      legacy_key: "\${env:KEY_${legacy}}"`,
      `      legacy_key_id: key-${legacy.toLowerCase()}`,
    );
  }
  lines.push(
    '  - name: other',
    '    type: filesystem',
    '    path: ./other',
    'default_backend: main',
    'credentials:',
    `  - access_key_id: ${TEST_CREDENTIALS.accessKeyId}`,
    '    secret_access_key: "${env:TEST_SECRET}"',
    '    admin: true',
  );
  return lines.join('\n') + '\n';
}

function expectNoSecret(result: CliRun): void {
  for (const secret of SECRETS) {
    expect(result.stdout).not.toContain(secret);
    expect(result.stderr).not.toContain(secret);
  }
}

/** The job ids `jobs reencrypt` printed it started. */
function startedIds(result: CliRun): string[] {
  return [...result.stdout.matchAll(/^started (j-\S+) on bucket /gm)].map((m) => m[1]);
}

// The local server runs in this process whatever SEALGATE_TEST_TARGET says: the function URL pass would
// run the same thing again.
describe.skipIf(process.env.SEALGATE_TEST_TARGET === 'function-url')(
  'sealgate jobs against the local server',
  () => {
    let dir: TempDir;
    let server: LocalServer;
    let client: S3Client;
    let configFile: string;
    /** Set by a test to hold page tasks until it lets them go. */
    let pageGate: Promise<void> | undefined;
    /** The job that re-encrypted `photos`, once a test started it. */
    let photosJob: string;

    const sg = async (argv: string[], more: Parameters<typeof run>[2] = {}) => {
      const result = await run(
        argv,
        {
          AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
          SEALGATE_ENDPOINT: server.endpoint,
        },
        more,
      );
      expectNoSecret(result);
      return result;
    };

    const jobJson = async (id: string): Promise<JobJson> => {
      const result = await sg(['jobs', 'status', id, '--json']);
      expect(result.code).toBe(0);
      return JSON.parse(result.stdout) as JobJson;
    };

    async function configure(key: 'A' | 'B', legacy?: 'A'): Promise<void> {
      writeFileSync(configFile, configYaml(key, legacy));
      await server.reload();
      const health = await sg(['health', '--json']);
      expect(JSON.parse(health.stdout)).toMatchObject({ status: 'ok' });
    }

    beforeAll(async () => {
      dir = await makeTempDir('sealgate-cli-jobs-');
      configFile = join(dir.path, 'sealgate.yaml');
      writeFileSync(configFile, configYaml('A'));
      server = await startJobServer(
        dir.path,
        configFile,
        {
          KEY_A: KEYS.A,
          KEY_B: KEYS.B,
          SEALGATE_JOB_PAGE_SIZE: '2',
          SEALGATE_JOB_WRITE_BOUND_MS: '100',
        },
        {
          reloadIntervalMs: 100,
          jobRunner: {
            beforeTask: async (event) => {
              if (event.task === 'page' && pageGate) await pageGate;
            },
          },
        },
      );
      client = new S3Client({
        endpoint: server.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: TEST_CREDENTIALS,
        maxAttempts: 1,
      });
      for (const bucket of ['photos', 'vault', 'idle', 'moving']) {
        await client.send(new CreateBucketCommand({ Bucket: bucket }));
      }
      for (const key of PHOTOS) {
        await client.send(new PutObjectCommand({ Bucket: 'photos', Key: key, Body: `body of ${key}` }));
      }
      await client.send(new PutObjectCommand({ Bucket: 'vault', Key: 'plain', Body: 'under key A' }));
      await client.send(
        new PutObjectCommand({
          Bucket: 'vault',
          Key: 'customer/secret',
          Body: 'under the customer key',
          SSECustomerAlgorithm: 'AES256',
          SSECustomerKey: CUSTOMER_KEY.toString('base64'),
          SSECustomerKeyMD5: createHash('md5').update(CUSTOMER_KEY).digest('base64'),
        }),
      );
      await client.send(new PutObjectCommand({ Bucket: 'idle', Key: 'only', Body: 'x' }));
      await client.send(new PutObjectCommand({ Bucket: 'moving', Key: 'box', Body: 'moved whole' }));
      await configure('B', 'A');
    });

    afterAll(async () => {
      client?.destroy();
      await server?.close();
      await dir?.cleanup();
    });

    it('reencrypt --wait: starts the job, shows its progress, ends with a succeeded summary, exit 0', async () => {
      const result = await sg(['jobs', 'reencrypt', 'photos', '--wait', '--interval', '100']);
      expect(result.code, result.stderr).toBe(0);
      const [id] = startedIds(result);
      expect(id).toMatch(/^j-\d{14}-[0-9a-f]{8}$/);
      photosJob = id;
      expect(result.stdout).toMatch(
        new RegExp(
          `^${id} photos succeeded: ${PHOTOS.length} objects \\(\\d+ B\\), ${PHOTOS.length} rewritten`,
          'm',
        ),
      );
      // Progress on stderr: the last line shows the whole bucket done.
      expect(result.stderr).toMatch(new RegExp(`^${id} photos \\S+ \\S+ \\d+`, 'm'));
      expect(result.stderr).toContain(`${PHOTOS.length}/${PHOTOS.length} objects (100%)`);
      const job = await jobJson(id);
      expect(job.status).toBe('succeeded');
      expect(job.counters).toMatchObject({
        objects: PHOTOS.length,
        rewritten: PHOTOS.length,
        skipped: 0,
        failed: 0,
        total: PHOTOS.length,
      });
    });

    it('reencrypt: a bucket that does not exist is refused with its reason, exit 1', async () => {
      const result = await sg(['jobs', 'reencrypt', 'no-such-bucket']);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe(
        'refused bucket no-such-bucket: backend main has no bucket no-such-bucket (NoSuchBucket)\n',
      );
      const json = await sg(['jobs', 'reencrypt', 'no-such-bucket', '--json']);
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout)).toEqual({
        jobs: [],
        refused: [
          {
            bucket: 'no-such-bucket',
            code: 'NoSuchBucket',
            reason: 'backend main has no bucket no-such-bucket',
            job_id: null,
          },
        ],
      });
    });

    it('reencrypt --wait with one bucket refused: the other still runs to its end, exit 1', async () => {
      const result = await sg(['jobs', 'reencrypt', 'vault', 'no-such-bucket', '--wait', '--json']);
      expect(result.code).toBe(1);
      const answer = JSON.parse(result.stdout) as { jobs: JobJson[]; refused: { bucket: string }[] };
      expect(answer.refused.map((r) => r.bucket)).toEqual(['no-such-bucket']);
      expect(answer.jobs).toHaveLength(1);
      expect(answer.jobs[0]).toMatchObject({
        bucket: 'vault',
        status: 'succeeded',
        counters: { objects: 2, rewritten: 1, skipped: 1, failed: 0 },
      });
    });

    it('failures: the SSE-C object the job skipped, with the reason', async () => {
      const listed = JSON.parse((await sg(['jobs', 'status', '--json'])).stdout) as { jobs: JobJson[] };
      const vault = listed.jobs.find((j) => j.bucket === 'vault')!;
      const result = await sg(['jobs', 'failures', vault.id]);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^job ${vault.id}: 0 failed, 1 problem kept$`, 'm'));
      expect(result.stdout).toMatch(/^KEY +OUTCOME +REASON$/m);
      expect(result.stdout).toMatch(/^customer\/secret +skipped +.*SSE-C/m);
      const json = await sg(['jobs', 'failures', vault.id, '--json']);
      expect(JSON.parse(json.stdout)).toMatchObject({
        id: vault.id,
        failed: 0,
        problems: [{ key: 'customer/secret', outcome: 'skipped' }],
      });
      // The summary points at them.
      const watched = await sg(['jobs', 'status', vault.id, '--watch']);
      expect(watched.stdout).toContain(`(see sealgate jobs failures ${vault.id})`);
    });

    it('status: recent jobs as a table, and --limit', async () => {
      const result = await sg(['jobs', 'status']);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(
        /^ID +BUCKET +KIND +STATUS +PHASE +OBJECTS +REWRITTEN +SKIPPED +FAILED$/m,
      );
      expect(result.stdout).toMatch(
        new RegExp(`^${photosJob} +photos +reencrypt +succeeded +\\S+ +5/5 +5 +0 +0$`, 'm'),
      );
      expect(result.stdout).toMatch(/^j-\S+ +vault +reencrypt +succeeded +\S+ +2\/2 +1 +1 +0$/m);
      const limited = await sg(['jobs', 'status', '--limit', '1', '--json']);
      expect((JSON.parse(limited.stdout) as { jobs: JobJson[] }).jobs).toHaveLength(1);
    });

    it("status ID: the job's detail", async () => {
      const result = await sg(['jobs', 'status', photosJob]);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^job: +${photosJob}$`, 'm'));
      expect(result.stdout).toMatch(/^status: +succeeded$/m);
      expect(result.stdout).toMatch(/^strategy: +full$/m);
      expect(result.stdout).toMatch(/^objects: +5 of 5$/m);
      expect(result.stdout).toMatch(/^rewritten: +5$/m);
    });

    it('status ID --watch on a finished job: its final progress and summary at once, exit 0', async () => {
      const result = await sg(['jobs', 'status', photosJob, '--watch']);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^${photosJob} photos succeeded: 5 objects .*, 5 rewritten`));
      expect(result.stdout.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(new RegExp(`^${photosJob} photos succeeded done 5/5 objects \\(100%\\)`));
    });

    it('status ID --watch on a terminal: a live bar (cli-progress) instead of plain lines', async () => {
      const terminal = Object.assign(new PassThrough(), { isTTY: true, columns: 200 });
      let drawn = '';
      terminal.on('data', (chunk: Buffer) => (drawn += chunk.toString()));
      const result = await sg(['jobs', 'status', photosJob, '--watch'], { terminal });
      expect(result.code).toBe(0);
      expect(result.stderr).toBe('');
      expect(drawn).toMatch(new RegExp(`${photosJob} photos succeeded done █{20} 5/5 objects \\(100%\\)`));
    });

    it('cancel on a running job: it ends cancelled, and --watch exits 1', async () => {
      let release!: () => void;
      pageGate = new Promise((resolve) => (release = resolve));
      try {
        const start = await sg(['jobs', 'reencrypt', 'idle', '--json']);
        expect(start.code).toBe(0);
        const [job] = (JSON.parse(start.stdout) as { jobs: JobJson[] }).jobs;
        const cancel = await sg(['jobs', 'cancel', job.id]);
        expect(cancel.code).toBe(0);
        expect(cancel.stdout).toBe(
          `${job.id} idle: cancelling, cancel requested (it stops after its current page)\n`,
        );
        release();
        const watched = await sg(['jobs', 'status', job.id, '--watch', '--interval', '50']);
        expect(watched.code).toBe(1);
        expect(watched.stdout).toMatch(new RegExp(`^${job.id} idle cancelled: `));
      } finally {
        pageGate = undefined;
        release();
      }
    });

    it('cancel and resume on a finished job: the API’s refusal, exit 1', async () => {
      const cancel = await sg(['jobs', 'cancel', photosJob]);
      expect(cancel.code).toBe(1);
      expect(cancel.stderr).toBe(
        `sealgate: job ${photosJob} has already finished (succeeded): there is nothing to cancel\n`,
      );
      const json = await sg(['jobs', 'cancel', photosJob, '--json']);
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout)).toMatchObject({
        error: { message: expect.stringContaining('nothing to cancel') as unknown },
      });
      const resume = await sg(['jobs', 'resume', photosJob]);
      expect(resume.code).toBe(1);
      expect(resume.stderr).toContain(`job ${photosJob} has finished (succeeded): start a new job instead`);
    });

    it('migrate --to BACKEND --wait: copies, verifies and flips the bucket, exit 0; it then reads from there', async () => {
      const result = await sg(['jobs', 'migrate', 'moving', '--to', 'other', '--wait', '--interval', '100']);
      expect(result.code, result.stderr).toBe(0);
      const [id] = startedIds(result);
      expect(result.stdout).toMatch(new RegExp(`^${id} moving succeeded: 1 objects`, 'm'));
      const job = await jobJson(id);
      expect(job).toMatchObject({ kind: 'migrate', status: 'succeeded', target_backend: 'other' });
      const out = await client.send(new GetObjectCommand({ Bucket: 'moving', Key: 'box' }));
      expect(await out.Body!.transformToString()).toBe('moved whole');
      const { json } = await admin(server.endpoint, 'GET', 'buckets/moving/settings');
      expect(json!.route).toEqual({ backend: 'other', backend_bucket: 'moving' });
    });

    it('migrate to a backend the config lacks: the reason, exit 1', async () => {
      const result = await sg(['jobs', 'migrate', 'idle', '--to', 'nowhere']);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('no backend "nowhere"');
    });

    it('a job id the gateway does not know: its 404 message, exit 1', async () => {
      const result = await sg(['jobs', 'status', 'j-20000101000000-00000000']);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('sealgate: there is no job j-20000101000000-00000000');
    });

    it.each([
      ['no bucket', ['jobs', 'reencrypt'], "missing required argument 'bucket'"],
      ['an unknown strategy', ['jobs', 'reencrypt', 'photos', '--strategy', 'sideways'], 'sideways'],
      ['a zero interval', ['jobs', 'reencrypt', 'photos', '--wait', '--interval', '0'], 'positive integer'],
      ['--watch without a job id', ['jobs', 'status', '--watch'], '--watch needs a job id'],
      ['no job id to cancel', ['jobs', 'cancel'], "missing required argument 'id'"],
      ['migrate without --to', ['jobs', 'migrate', 'idle'], "required option '--to <backend>'"],
    ])('usage error, exit 2: %s', async (_, argv, message) => {
      const result = await sg(argv);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(message);
      expect(result.stdout).toBe('');
    });
  },
);
