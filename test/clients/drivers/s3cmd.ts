import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClientDefinition, DriverContext } from '../support/client-driver.js';
import { isolatedEnv, nonEmptyLines, runClient } from '../support/run-client.js';
import { PAYLOAD_TOO_LARGE_BODY } from '../../support/function-url-emulator.js';

const S3CMD = '/usr/bin/s3cmd';

export const s3cmd: ClientDefinition = {
  name: 's3cmd',
  // s3cmd 2.3's `signurl` signs with SigV2 only (S3/Crypto.py `sign_url_v2`), whatever `signature_v2` says.
  presignSignature: 'v2',
  // s3cmd tries to parse the JSON body as S3 XML and prints it, then the status.
  payloadTooLargeError: new RegExp(
    `Error parsing xml.*\\n.*${escapeRegExp(PAYLOAD_TOO_LARGE_BODY)}[\\s\\S]*S3 error: 413 \\(Payload Too Large\\)`,
  ),
  // s3cmd 2.3 signs every body's sha256, whatever the scheme.
  uploadPayloadModes: { http: ['<sha256>'], https: ['<sha256>'] },
  async create(context: DriverContext) {
    const endpoint = new URL(context.endpoint);
    const host = endpoint.host;
    // Path-style addressing: host_bucket without `%(bucket)s`.
    const configFile = join(context.workDir, 's3cfg');
    await writeFile(
      configFile,
      [
        '[default]',
        `access_key = ${context.accessKeyId}`,
        `secret_key = ${context.secretAccessKey}`,
        `host_base = ${host}`,
        `host_bucket = ${host}`,
        `use_https = ${endpoint.protocol === 'https:' ? 'True' : 'False'}`,
        // Verify the certificate and the host name, against the test CA only when one is given.
        'check_ssl_certificate = True',
        'check_ssl_hostname = True',
        ...(context.caFile !== undefined ? [`ca_certs_file = ${context.caFile}`] : []),
        // `signurl` makes http:// URLs unless told otherwise (use_https does not apply to it).
        `signurl_use_https = ${endpoint.protocol === 'https:' ? 'True' : 'False'}`,
        'signature_v2 = False',
        'bucket_location = us-east-1',
        'progress_meter = False',
        '',
      ].join('\n'),
    );
    const env = isolatedEnv(context.workDir, { PYTHONIOENCODING: 'utf-8' });
    const run = async (...args: string[]) =>
      (await runClient(S3CMD, ['-c', configFile, ...args], { env })).stdout;
    await runClient(S3CMD, ['--version'], { env });

    return {
      makeBucket: async (bucket) => void (await run('mb', `s3://${bucket}`)),
      removeBucket: async (bucket) => void (await run('rb', `s3://${bucket}`)),
      // `s3cmd ls` prints `<date> <time>  s3://<bucket>`.
      listBuckets: async () => nonEmptyLines(await run('ls')).map((line) => line.replace(/^.*?s3:\/\//, '')),
      // `s3cmd ls -r` prints `<date> <time> <size>  s3://<bucket>/<key>`.
      listKeys: async (bucket, prefix) => {
        const marker = `s3://${bucket}/`;
        return nonEmptyLines(await run('ls', '--recursive', marker + prefix)).map((line) =>
          line.slice(line.indexOf(marker) + marker.length),
        );
      },
      upload: async (file, bucket, key) => void (await run('put', file, `s3://${bucket}/${key}`)),
      download: async (bucket, key, file) =>
        void (await run('get', '--force', `s3://${bucket}/${key}`, file)),
      // A trailing `/` on both sides syncs the folder's contents rather than the folder itself.
      syncUp: async (dir, bucket, prefix) => void (await run('sync', `${dir}/`, `s3://${bucket}/${prefix}`)),
      syncDown: async (bucket, prefix, dir) =>
        void (await run('sync', `s3://${bucket}/${prefix}`, `${dir}/`)),
      presignGet: async (bucket, key, expiresSeconds) =>
        (await run('signurl', `s3://${bucket}/${key}`, `+${expiresSeconds}`)).trim(),
      remove: async (bucket, key) => void (await run('del', `s3://${bucket}/${key}`)),
      removePrefix: async (bucket, prefix) =>
        void (await run('del', '--recursive', `s3://${bucket}/${prefix}`)),
    };
  },
};

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
