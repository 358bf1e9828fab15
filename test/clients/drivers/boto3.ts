import { fileURLToPath } from 'node:url';
import type { ClientDefinition, DriverContext } from '../support/client-driver.js';
import type { CustomerKeyFile, SseCClientDefinition } from '../support/sse-c-driver.js';
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
  // s3transfer 0.17 sets ChecksumAlgorithm CRC32 on every upload (set_default_checksum_algorithm in
  // s3transfer/utils.py), which makes a multipart upload's checksum COMPOSITE; its default part size is
  // 8 MiB.
  multipartChecksum: { algorithm: 'CRC32', type: 'COMPOSITE', partSize: 8 * 1024 * 1024 },
  async create(context: DriverContext) {
    const run = await boto3Runner(context);
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

/**
 * SSE-C through boto3 (boto3_driver.py's `*-ssec` commands): put_object/get_object/head_object/copy_object
 * with `SSECustomerAlgorithm` and `SSECustomerKey` (the raw key bytes; botocore base64-encodes them and
 * adds the MD5), and upload_file/download_file with the same in `ExtraArgs`.
 */
export const boto3SseC: SseCClientDefinition = {
  name: 'boto3',
  // s3transfer 0.17 (with boto3 1.43) repeats the SSE-C parameters on CompleteMultipartUpload
  // (COMPLETE_MULTIPART_ARGS in s3transfer/upload.py).
  keyOnCompleteMultipartUpload: true,
  // boto3_driver.py ends with `ClientError status=... code=...` on a botocore ClientError. download_file
  // starts with HeadObject, whose error has no body: its code is only the status again.
  refusals: {
    downloadWithoutKey: /ClientError status=400 code=400 operation=HeadObject/,
    downloadWithWrongKey: /ClientError status=403 code=403 operation=HeadObject/,
    getWithoutKey: /ClientError status=400 code=InvalidRequest operation=GetObject/,
    getWithWrongKey: /ClientError status=403 code=AccessDenied operation=GetObject/,
  },
  async create(context: DriverContext) {
    const run = await boto3Runner(context);
    const optional = (key: CustomerKeyFile | undefined) => (key === undefined ? [] : [key.path]);
    return {
      put: async (file, bucket, key, customer) =>
        void (await run('put-ssec', file, bucket, key, customer.path)),
      get: async (bucket, key, file, customer) =>
        void (await run('get-ssec', bucket, key, file, ...optional(customer))),
      upload: async (file, bucket, key, customer) =>
        void (await run('upload-ssec', file, bucket, key, customer.path)),
      download: async (bucket, key, file, customer) =>
        void (await run('download-ssec', bucket, key, file, ...optional(customer))),
      head: async (bucket, key, customer) => {
        const head = JSON.parse(await run('head-ssec', bucket, key, customer.path)) as Record<
          string,
          unknown
        >;
        return {
          size: head.ContentLength as number,
          etag: head.ETag as string,
          algorithm: (head.SSECustomerAlgorithm ?? undefined) as string | undefined,
          keyMd5: (head.SSECustomerKeyMD5 ?? undefined) as string | undefined,
        };
      },
      copy: async (bucket, source, target, sourceKey, targetKey) =>
        void (await run('copy-ssec', bucket, source, target, sourceKey.path, targetKey.path)),
    };
  },
};

/** Returns a function that runs one boto3_driver.py command against the gateway and resolves with stdout. */
async function boto3Runner(context: DriverContext): Promise<(...args: string[]) => Promise<string>> {
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
  return async (...args: string[]) => (await runClient(python, [DRIVER_SCRIPT, ...args], { env })).stdout;
}
