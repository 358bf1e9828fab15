import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClientDefinition, DriverContext } from '../support/client-driver.js';
import type { CustomerKeyFile, SseCClientDefinition } from '../support/sse-c-driver.js';
import { ClientError, isolatedEnv, nonEmptyLines, runClient } from '../support/run-client.js';

/**
 * aws-cli v2 from the Debian package `awscli`. The absolute path matters: a pyenv shim named `aws` that
 * runs aws-cli v1 may come first on PATH.
 */
const AWS = '/usr/bin/aws';

export const awsCli: ClientDefinition = {
  name: 'aws-cli',
  presignSignature: 'v4',
  payloadTooLargeError:
    /An error occurred \(413\) when calling the UploadPart operation( \(reached max retries: \d+\))?: Request Entity Too Large/,
  // aws-cli 2.9 sends Content-MD5 with every upload, and signs the body's sha256 over HTTP but not over
  // HTTPS (no checksum trailers: those came with 2.23's default integrity protections).
  uploadPayloadModes: {
    http: ['<sha256>+header:content-md5'],
    https: ['UNSIGNED-PAYLOAD+header:content-md5'],
  },
  async create(context: DriverContext) {
    const aws = await awsCliRunner(context);
    return {
      makeBucket: async (bucket) => void (await aws('s3', 'mb', `s3://${bucket}`)),
      removeBucket: async (bucket) => void (await aws('s3', 'rb', `s3://${bucket}`)),
      // `aws s3 ls` prints `<date> <time> <bucket>`.
      listBuckets: async () =>
        nonEmptyLines(await aws('s3', 'ls')).map((line) => line.replace(/^\S+ \S+ /, '')),
      // `aws s3 ls --recursive` prints `<date> <time> <size> <key>`, the key relative to the bucket.
      listKeys: async (bucket, prefix) => {
        let output: string;
        try {
          output = await aws('s3', 'ls', '--recursive', `s3://${bucket}/${prefix}`);
        } catch (error) {
          // `aws s3 ls` exits with 1, silently, when nothing matches the prefix.
          if (error instanceof ClientError && error.exitCode === 1 && error.stdout + error.stderr === '')
            return [];
          throw error;
        }
        return nonEmptyLines(output).map((line) => line.replace(/^\S+ \S+ +\d+ /, ''));
      },
      upload: async (file, bucket, key) =>
        void (await aws('s3', 'cp', '--no-progress', file, `s3://${bucket}/${key}`)),
      download: async (bucket, key, file) =>
        void (await aws('s3', 'cp', '--no-progress', `s3://${bucket}/${key}`, file)),
      syncUp: async (dir, bucket, prefix) =>
        void (await aws('s3', 'sync', '--no-progress', dir, `s3://${bucket}/${prefix}`)),
      syncDown: async (bucket, prefix, dir) =>
        void (await aws('s3', 'sync', '--no-progress', `s3://${bucket}/${prefix}`, dir)),
      presignGet: async (bucket, key, expiresSeconds) =>
        (await aws('s3', 'presign', `s3://${bucket}/${key}`, '--expires-in', String(expiresSeconds))).trim(),
      remove: async (bucket, key) => void (await aws('s3', 'rm', `s3://${bucket}/${key}`)),
      removePrefix: async (bucket, prefix) =>
        void (await aws('s3', 'rm', '--recursive', `s3://${bucket}/${prefix}`)),
    };
  },
};

/**
 * SSE-C through aws-cli: `aws s3 cp` with `--sse-c AES256 --sse-c-key fileb://KEY` for transfers (and
 * `--sse-c-copy-source*` for the source of an s3-to-s3 copy), and the s3api commands with
 * `--sse-customer-algorithm AES256 --sse-customer-key fileb://KEY` for single requests. aws-cli v2 reads a
 * blob option's `fileb://` file as raw bytes: the key file holds the 32 key bytes, and aws-cli base64-encodes
 * them and adds their MD5.
 */
export const awsCliSseC: SseCClientDefinition = {
  name: 'aws-cli',
  // aws-cli 2.9's bundled s3transfer passes only RequestPayer and ExpectedBucketOwner to
  // CompleteMultipartUpload (COMPLETE_MULTIPART_ARGS in awscli/s3transfer/upload.py).
  keyOnCompleteMultipartUpload: false,
  refusals: {
    // `aws s3 cp` starts a download with HeadObject; an error of a HEAD has no body, so all aws-cli can
    // print is the status. A 400 on HeadObject makes botocore look up the bucket's region (HeadBucket)
    // and try once more, hence "max retries: 1".
    downloadWithoutKey: /An error occurred \(400\) when calling the HeadObject operation.*: Bad Request/,
    downloadWithWrongKey: /An error occurred \(403\) when calling the HeadObject operation.*: Forbidden/,
    getWithoutKey:
      /An error occurred \(InvalidRequest\) when calling the GetObject operation.*: The object was stored using a form of Server Side Encryption/,
    getWithWrongKey:
      /An error occurred \(AccessDenied\) when calling the GetObject operation.*: The SSE-C key provided does not match/,
  },
  async create(context: DriverContext) {
    const aws = await awsCliRunner(context);
    // `aws s3` options for a transfer's key, and `aws s3api` ones for a single request's.
    const sseC = (key: CustomerKeyFile) => ['--sse-c', 'AES256', '--sse-c-key', `fileb://${key.path}`];
    const customerKey = (key: CustomerKeyFile | undefined) =>
      key === undefined
        ? []
        : ['--sse-customer-algorithm', 'AES256', '--sse-customer-key', `fileb://${key.path}`];
    const object = (bucket: string, key: string) => ['--bucket', bucket, '--key', key];
    return {
      put: async (file, bucket, key, customer) =>
        void (await aws(
          's3api',
          'put-object',
          ...object(bucket, key),
          '--body',
          file,
          ...customerKey(customer),
        )),
      get: async (bucket, key, file, customer) =>
        void (await aws('s3api', 'get-object', ...object(bucket, key), ...customerKey(customer), file)),
      upload: async (file, bucket, key, customer) =>
        void (await aws('s3', 'cp', '--no-progress', ...sseC(customer), file, `s3://${bucket}/${key}`)),
      download: async (bucket, key, file, customer) =>
        void (await aws(
          's3',
          'cp',
          '--no-progress',
          ...(customer === undefined ? [] : sseC(customer)),
          `s3://${bucket}/${key}`,
          file,
        )),
      head: async (bucket, key, customer) => {
        const head = JSON.parse(
          await aws('s3api', 'head-object', ...object(bucket, key), ...customerKey(customer)),
        ) as Record<string, unknown>;
        return {
          size: head.ContentLength as number,
          etag: head.ETag as string,
          algorithm: head.SSECustomerAlgorithm as string | undefined,
          keyMd5: head.SSECustomerKeyMD5 as string | undefined,
        };
      },
      // Below aws-cli's 8 MiB multipart threshold this is one CopyObject. Above it aws-cli copies by
      // UploadPartCopy and first reads the source's tags (GetObjectTagging), which the gateway answers 501,
      // unless given `--copy-props none` or `metadata-directive`.
      copy: async (bucket, source, target, sourceKey, targetKey) =>
        void (await aws(
          's3',
          'cp',
          '--no-progress',
          `s3://${bucket}/${source}`,
          `s3://${bucket}/${target}`,
          '--sse-c-copy-source',
          'AES256',
          '--sse-c-copy-source-key',
          `fileb://${sourceKey.path}`,
          ...sseC(targetKey),
        )),
    };
  },
};

/**
 * Writes aws-cli's config and credentials files into the driver's folder, checks that {@link AWS} is v2,
 * and returns a function that runs one aws-cli command against the gateway and resolves with its stdout.
 */
export async function awsCliRunner(context: DriverContext): Promise<(...args: string[]) => Promise<string>> {
  // Config and credentials files in the driver's folder, named by the variables aws-cli reads them from.
  const configFile = join(context.workDir, 'config');
  const credentialsFile = join(context.workDir, 'credentials');
  await writeFile(configFile, '[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n');
  await writeFile(
    credentialsFile,
    `[default]\naws_access_key_id = ${context.accessKeyId}\naws_secret_access_key = ${context.secretAccessKey}\n`,
  );
  const env = isolatedEnv(context.workDir, {
    AWS_CONFIG_FILE: configFile,
    AWS_SHARED_CREDENTIALS_FILE: credentialsFile,
    AWS_EC2_METADATA_DISABLED: 'true',
    // One attempt per request: a retry would hide a gateway error this suite should see.
    AWS_MAX_ATTEMPTS: '1',
    AWS_PAGER: '',
    ...(context.caFile !== undefined && { AWS_CA_BUNDLE: context.caFile }),
  });
  const version = (await runClient(AWS, ['--version'], { env })).stdout;
  if (!version.startsWith('aws-cli/2.')) {
    throw new Error(`${AWS} must be aws-cli v2 (run .ci/install-clients.sh), but --version says: ${version}`);
  }
  return async (...args: string[]) =>
    (await runClient(AWS, ['--endpoint-url', context.endpoint, ...args], { env })).stdout;
}
