import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClientDefinition, DriverContext } from '../support/client-driver.js';
import { isolatedEnv, nonEmptyLines, runClient } from '../support/run-client.js';

const RCLONE = '/usr/bin/rclone';
const REMOTE = 'sealgate';

export const rclone: ClientDefinition = {
  name: 'rclone',
  // The s3 backend's `rclone link` is a SigV4 presigned GetObject URL.
  presignSignature: 'v4',
  payloadTooLargeError:
    /Failed to copyto: multipart upload failed to upload part: RequestEntityTooLarge: Request Entity Too Large\s+status code: 413/,
  // rclone 1.60, whatever the scheme: single-part uploads as UNSIGNED-PAYLOAD, parts with a signed sha256,
  // both with Content-MD5.
  uploadPayloadModes: {
    http: ['<sha256>+header:content-md5', 'UNSIGNED-PAYLOAD+header:content-md5'],
    https: ['<sha256>+header:content-md5', 'UNSIGNED-PAYLOAD+header:content-md5'],
  },
  async create(context: DriverContext) {
    const configFile = join(context.workDir, 'rclone.conf');
    await writeFile(
      configFile,
      [
        `[${REMOTE}]`,
        'type = s3',
        'provider = Other',
        `access_key_id = ${context.accessKeyId}`,
        `secret_access_key = ${context.secretAccessKey}`,
        `endpoint = ${context.endpoint}`,
        'region = us-east-1',
        'force_path_style = true',
        '',
      ].join('\n'),
    );
    // isolatedEnv drops AWS_CA_BUNDLE, which these machines set and rclone 1.60 fails to load.
    const env = isolatedEnv(context.workDir);
    const flags = [
      '--config',
      configFile,
      // One attempt per operation: a retry would hide a gateway error this suite should see.
      '--retries',
      '1',
      '--low-level-retries',
      '1',
      // rclone's defaults (200 MiB upload cutoff, 256 MiB multi-thread cutoff) would move the 40 MiB file
      // in one PutObject and one GetObject; these make it a multipart upload of 5 MiB parts and a
      // download as parallel ranged GETs, which is what large files get in practice.
      '--s3-upload-cutoff',
      '5M',
      '--s3-chunk-size',
      '5M',
      '--multi-thread-cutoff',
      '8M',
      '--multi-thread-streams',
      '4',
      // The CA to trust instead of the system's, for an https endpoint.
      ...(context.caFile !== undefined ? ['--ca-cert', context.caFile] : []),
    ];
    const run = async (...args: string[]) => (await runClient(RCLONE, [...args, ...flags], { env })).stdout;
    const path = (bucket: string, key = '') =>
      `${REMOTE}:${bucket}` + (key === '' ? '' : `/${key.replace(/\/$/, '')}`);
    await runClient(RCLONE, ['version'], { env });

    return {
      makeBucket: async (bucket) => void (await run('mkdir', path(bucket))),
      removeBucket: async (bucket) => void (await run('rmdir', path(bucket))),
      // `rclone lsf` prints the buckets of the remote's root as `<bucket>/`.
      listBuckets: async () =>
        nonEmptyLines(await run('lsf', `${REMOTE}:`)).map((line) => line.replace(/\/$/, '')),
      // ... and the files under a path relative to that path.
      listKeys: async (bucket, prefix) =>
        nonEmptyLines(await run('lsf', '--recursive', '--files-only', path(bucket, prefix))).map(
          (line) => prefix + line,
        ),
      upload: async (file, bucket, key) => void (await run('copyto', file, path(bucket, key))),
      download: async (bucket, key, file) => void (await run('copyto', path(bucket, key), file)),
      syncUp: async (dir, bucket, prefix) => void (await run('sync', dir, path(bucket, prefix))),
      syncDown: async (bucket, prefix, dir) => void (await run('sync', path(bucket, prefix), dir)),
      presignGet: async (bucket, key, expiresSeconds) =>
        (await run('link', '--expire', `${expiresSeconds}s`, path(bucket, key))).trim(),
      remove: async (bucket, key) => void (await run('deletefile', path(bucket, key))),
      removePrefix: async (bucket, prefix) => void (await run('delete', path(bucket, prefix))),
    };
  },
};
