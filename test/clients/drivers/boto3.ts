import { fileURLToPath } from 'node:url';
import type { ClientDefinition, DriverContext } from '../support/client-driver.js';
import { isolatedEnv, runClient } from '../support/run-client.js';

const DRIVER_SCRIPT = fileURLToPath(new URL('./boto3_driver.py', import.meta.url));

export const boto3: ClientDefinition = {
  name: 'boto3',
  presignSignature: 'v2',
  // boto3.exceptions.S3UploadFailedError, at the end of a traceback.
  payloadTooLargeError:
    /S3UploadFailedError: .*An error occurred \(413\) when calling the UploadPart operation( \(reached max retries: \d+\))?: Request Entity Too Large/,
  // boto3 1.43 (default checksums): over HTTP a signed sha256 and a CRC32 checksum header; over HTTPS an
  // unsigned aws-chunked body with a CRC32 trailer.
  uploadPayloadModes: {
    http: ['<sha256>+header:x-amz-checksum-crc32'],
    https: ['STREAMING-UNSIGNED-PAYLOAD-TRAILER+aws-chunked+trailer:x-amz-checksum-crc32'],
  },
  async create(context: DriverContext) {
    // Resolve the interpreter with the test's own environment (a pyenv shim finds its root through
    // HOME), then run it by absolute path with the isolated one.
    const probe = await runClient('python3', ['-c', 'import sys, boto3; print(sys.executable)'], {
      env: process.env,
    });
    const python = probe.stdout.trim();
    const env = isolatedEnv(context.workDir, {
      SEALGATE_ENDPOINT: context.endpoint,
      AWS_ACCESS_KEY_ID: context.accessKeyId,
      AWS_SECRET_ACCESS_KEY: context.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true',
      // Keep boto3 off any config file: these name files that do not exist.
      AWS_CONFIG_FILE: `${context.workDir}/no-config`,
      AWS_SHARED_CREDENTIALS_FILE: `${context.workDir}/no-credentials`,
      // botocore's CA bundle setting, read from the environment like aws-cli's.
      ...(context.caFile !== undefined && { AWS_CA_BUNDLE: context.caFile }),
    });
    const run = async (...args: string[]) =>
      (await runClient(python, [DRIVER_SCRIPT, ...args], { env })).stdout;
    const json = async (...args: string[]) => JSON.parse(await run(...args)) as string[];

    return {
      makeBucket: async (bucket) => void (await run('mb', bucket)),
      removeBucket: async (bucket) => void (await run('rb', bucket)),
      listBuckets: () => json('ls-buckets'),
      listKeys: (bucket, prefix) => json('ls-keys', bucket, prefix),
      upload: async (file, bucket, key) => void (await run('upload', file, bucket, key)),
      download: async (bucket, key, file) => void (await run('download', bucket, key, file)),
      syncUp: async (dir, bucket, prefix) => void (await run('sync-up', dir, bucket, prefix)),
      syncDown: async (bucket, prefix, dir) => void (await run('sync-down', bucket, prefix, dir)),
      presignGet: async (bucket, key, expiresSeconds) =>
        (await run('presign', bucket, key, String(expiresSeconds))).trim(),
      remove: async (bucket, key) => void (await run('rm', bucket, key)),
      removePrefix: async (bucket, prefix) => void (await run('rm-prefix', bucket, prefix)),
    };
  },
};
