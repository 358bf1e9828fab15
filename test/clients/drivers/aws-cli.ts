import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClientDefinition, DriverContext } from '../support/client-driver.js';
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
    const aws = async (...args: string[]) =>
      (await runClient(AWS, ['--endpoint-url', context.endpoint, ...args], { env })).stdout;

    const version = (await runClient(AWS, ['--version'], { env })).stdout;
    if (!version.startsWith('aws-cli/2.')) {
      throw new Error(
        `${AWS} must be aws-cli v2 (run .ci/install-clients.sh), but --version says: ${version}`,
      );
    }

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
