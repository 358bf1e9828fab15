/**
 * A test gateway with one bucket per encryption mode, on the filesystem backend or an S3 backend on moto,
 * with aws-kms-envelope keys from moto's KMS. Buckets: `plain` (mode none), `proxy` (aes256-gcm-proxy),
 * `envelope` (aws-kms-envelope), and on S3 also `sse-kms` and `sse-s3` (native). SSE-C works on all of
 * them. Each mode is its own backend, so tests can also read the raw stored bytes.
 */
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { join } from 'node:path';
import { startTestGateway, type BackendKind, type TestGateway, type TestGatewayOptions } from './gateway.js';
import type { MotoServer } from './moto.js';

/** The proxy key of the `proxy` bucket's backend, and a second generation for rotation tests. */
export const PROXY_KEY = 'a1'.repeat(32);
export const PROXY_KEY_ID = 'test-2026-11';
export const OLD_PROXY_KEY = 'b2'.repeat(32);
export const OLD_PROXY_KEY_ID = 'test-2025-10';

export const GATEWAY_MODES = ['plain', 'proxy', 'envelope'] as const;
export const NATIVE_MODES = ['sse-kms', 'sse-s3'] as const;
export type ModeBucket = (typeof GATEWAY_MODES)[number] | (typeof NATIVE_MODES)[number];

export interface EncryptionGateway extends TestGateway {
  backend: BackendKind;
  /** The mode buckets this gateway serves (native ones only on S3). */
  buckets: ModeBucket[];
  /** moto's KMS key ARN used by `envelope` (and `sse-kms`). */
  kmsKeyArn: string;
  /** Where a mode bucket's objects are stored: a folder (filesystem) or a moto bucket name (s3). */
  storedAt(bucket: ModeBucket): string;
  /** A raw SDK client for moto (s3 backends), to read and tamper with stored objects. */
  motoS3?: S3Client;
}

export async function createMotoKmsKey(moto: MotoServer): Promise<string> {
  const kms = new KMSClient({
    endpoint: moto.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  try {
    const key = await kms.send(new CreateKeyCommand({ Description: 'sealgate tests' }));
    return key.KeyMetadata!.Arn!;
  } finally {
    kms.destroy();
  }
}

function backendYaml(
  name: string,
  backend: BackendKind,
  dataDir: string,
  moto: MotoServer,
  encryption: string,
): string {
  const where =
    backend === 's3'
      ? `    type: s3\n    endpoint: ${moto.endpoint}\n    region: us-east-1\n` +
        `    access_key_id: testing\n    secret_access_key: testing\n    force_path_style: true\n`
      : `    type: filesystem\n    path: ${join(dataDir, name)}\n`;
  return `  - name: ${name}\n${where}    encryption:\n${encryption}      kms_endpoint: ${moto.endpoint}\n`;
}

export interface EncryptionGatewayOptions extends Pick<TestGatewayOptions, 'target' | 'tls'> {
  backend: BackendKind;
  /** moto for KMS (and S3 when `backend` is s3). */
  moto: MotoServer;
  /** Overrides the proxy backend's encryption YAML (rotation tests); 6-space indented lines. */
  proxyEncryption?: string;
}

/** Starts the gateway and creates the mode buckets (on moto too, for the S3 backend). */
export async function startEncryptionGateway(options: EncryptionGatewayOptions): Promise<EncryptionGateway> {
  const { backend, moto } = options;
  // A filesystem backend has no AWS credentials of its own: KMS (moto) gets the SDK's default chain, which
  // reads these from the environment, as an operator's would.
  process.env.AWS_ACCESS_KEY_ID ??= 'testing';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'testing';
  const kmsKeyArn = await createMotoKmsKey(moto);
  const suffix = Math.random().toString(36).slice(2, 8);
  const buckets: ModeBucket[] = backend === 's3' ? [...GATEWAY_MODES, ...NATIVE_MODES] : [...GATEWAY_MODES];
  const storedName = (bucket: ModeBucket) => (backend === 's3' ? `raw-${bucket}-${suffix}` : bucket);
  const encryption: Record<ModeBucket, string> = {
    plain: '      mode: none\n',
    proxy:
      options.proxyEncryption ??
      `      mode: aes256-gcm-proxy\n      key: "${PROXY_KEY}"\n      key_id: ${PROXY_KEY_ID}\n`,
    envelope: `      mode: aws-kms-envelope\n      kms_key_id: ${kmsKeyArn}\n`,
    'sse-kms': `      mode: sse-kms\n      kms_key_id: ${kmsKeyArn}\n`,
    'sse-s3': '      mode: sse-s3\n',
  };
  const backendsYaml = (dataDir: string) =>
    buckets.map((b) => backendYaml(`be-${b}`, backend, dataDir, moto, encryption[b])).join('');
  const routes = buckets
    .map((b) => `  - name: ${b}\n    backend: be-${b}\n    backend_bucket: ${storedName(b)}\n`)
    .join('');
  const gateway = await startTestGateway({
    ...options,
    backend,
    s3Endpoint: moto.endpoint,
    backendsYaml,
    extraYaml: `buckets:\n${routes}`,
  });
  let motoS3: S3Client | undefined;
  if (backend === 's3') {
    motoS3 = new S3Client({
      endpoint: moto.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
  }
  const s3 = gateway.client();
  for (const bucket of buckets) {
    if (motoS3) await motoS3.send(new CreateBucketCommand({ Bucket: storedName(bucket) }));
    else await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
  const close = gateway.close.bind(gateway);
  return {
    ...gateway,
    backend,
    buckets,
    kmsKeyArn,
    motoS3,
    storedAt: (bucket) =>
      backend === 's3' ? storedName(bucket) : join(gateway.dataDir, `be-${bucket}`, storedName(bucket)),
    async close() {
      motoS3?.destroy();
      await close();
    },
  };
}
