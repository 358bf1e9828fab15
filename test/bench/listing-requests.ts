/**
 * What a ListObjectsV2 page costs an S3 backend, per encryption mode: the local server in this process,
 * one S3 backend per mode on moto, a counting proxy between them. Each bucket is created through the
 * gateway and holds 1,000 objects; the same page is listed twice, and the backend requests of each listing
 * are counted. A bucket whose listing record says `plain` (created empty, never a gateway-encrypted
 * object) lists with one request; the others need every object's markers (plaintext sizes), which S3
 * lists without, so their first listing costs a HEAD per object and the second is described from what the
 * first learned.
 */
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startLocalServer } from '../../functions/handlers/local-server.js';
import { countingProxy } from '../support/counting-proxy.js';
import { createKmsKey } from './kms-key.js';
import { formatTable } from './text-table.js';

const KEYS = 1000;
const PUTS_AT_ONCE = 16;
const MODES = ['none', 'aes256-gcm-proxy', 'aws-kms-envelope', 'sse-s3', 'sse-kms'] as const;
type Mode = (typeof MODES)[number];

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

function encryptionYaml(mode: Mode, kmsKey: string, kmsEndpoint: string): string[] {
  switch (mode) {
    case 'none':
      return ['      mode: none'];
    case 'aes256-gcm-proxy':
      return ['      mode: aes256-gcm-proxy', '      key: "${env:PROXY_KEY}"', '      key_id: bench'];
    case 'aws-kms-envelope':
      return [
        '      mode: aws-kms-envelope',
        `      kms_key_id: ${kmsKey}`,
        `      kms_endpoint: ${kmsEndpoint}`,
      ];
    case 'sse-s3':
      return ['      mode: sse-s3'];
    case 'sse-kms':
      return ['      mode: sse-kms', `      kms_key_id: ${kmsKey}`];
  }
}

/** Backend requests of the first and second listing of one 1,000-key page, per mode. */
export async function runListingRequestsBench(
  motoEndpoint: string,
  progress: (message: string) => void,
): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'sealgate-bench-listing-'));
  const proxy = await countingProxy(motoEndpoint);
  const kmsKey = await createKmsKey(motoEndpoint);
  const configFile = join(root, 'sealgate.yaml');
  const secret = randomBytes(30).toString('base64url');
  const lines = ['backends:'];
  for (const mode of MODES) {
    lines.push(
      `  - name: ${mode}`,
      '    type: s3',
      `    endpoint: ${proxy.endpoint}`,
      '    region: us-east-1',
      '    access_key_id: testing',
      '    secret_access_key: testing',
      '    force_path_style: true',
      '    encryption:',
      ...encryptionYaml(mode, kmsKey, motoEndpoint),
    );
  }
  lines.push('default_backend: none', 'buckets:');
  for (const mode of MODES) lines.push(`  - { name: list-${mode}, backend: ${mode} }`);
  lines.push(
    'credentials:',
    '  - access_key_id: SGBENCHLISTING0001',
    '    secret_access_key: "${env:BENCH_SECRET}"',
    '    admin: true',
    '',
  );
  writeFileSync(configFile, lines.join('\n'));
  const server = await startLocalServer({
    host: '127.0.0.1',
    port: 0,
    dataDir: join(root, 'data'),
    configFile,
    env: { BENCH_SECRET: secret, PROXY_KEY: randomBytes(32).toString('hex') },
    logger: silent,
  });
  const client = new S3Client({
    endpoint: server.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'SGBENCHLISTING0001', secretAccessKey: secret },
  });
  const rows: string[][] = [];
  try {
    for (const mode of MODES) {
      const bucket = `list-${mode}`;
      progress(`listing requests: writing ${KEYS} objects under ${mode}`);
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      const keys = Array.from({ length: KEYS }, (_, i) => `o/${String(i).padStart(5, '0')}`);
      for (let i = 0; i < keys.length; i += PUTS_AT_ONCE) {
        await Promise.all(
          keys
            .slice(i, i + PUTS_AT_ONCE)
            .map((Key) => client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'x' }))),
        );
      }
      const counts: number[] = [];
      for (let listing = 0; listing < 2; listing++) {
        proxy.requests.length = 0;
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: KEYS }));
        if (page.KeyCount !== KEYS) throw new Error(`listed ${page.KeyCount} of ${KEYS} keys under ${mode}`);
        counts.push(proxy.requests.length);
      }
      const gatewayEncrypted = mode === 'aes256-gcm-proxy' || mode === 'aws-kms-envelope';
      rows.push([mode, String(counts[0]), gatewayEncrypted ? String(1 + KEYS) : '1', String(counts[1]), '1']);
    }
  } finally {
    client.destroy();
    await server.close();
    await proxy.close();
    rmSync(root, { recursive: true, force: true });
  }
  return [
    `Backend requests per ${KEYS}-key ListObjectsV2 page on an S3 backend (moto), per mode`,
    '',
    formatTable(['mode', 'first listing', 'target', 'listed again', 'target'], rows),
    '',
    'notes: buckets created through the gateway that never held a gateway-encrypted object (here: none,',
    '       sse-s3, sse-kms) are recorded `plain` and list without HEADs; the others head every object the',
    '       first time (markers give plaintext sizes; S3 lists none), and a page listed again is described',
    '       from those HEADs.',
  ].join('\n');
}
