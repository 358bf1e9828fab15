/**
 * The encryption modes the bench compares on the filesystem backend: for each, the backend's `encryption:`
 * block, the environment the server needs, and the headers the client signs on every object request.
 * Every key is random per run; none is written anywhere but the run's temporary config file.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { SignedHeaders } from './s3-client.js';

/** `sse-c` is SSE-C on a `none` backend: the client sends its key with every request. */
export const MODE_NAMES = ['none', 'aes256-gcm-proxy', 'aws-kms-envelope', 'sse-c'] as const;
export type ModeName = (typeof MODE_NAMES)[number];

/** The mode every other is compared with. */
export const BASELINE_MODE: ModeName = 'none';

export interface BenchMode {
  name: ModeName;
  /** How reports name a variant of a mode (`aws-kms-envelope, no cache`); the name when absent. */
  label?: string;
  /** The filesystem backend's `encryption:` block, as the config file holds it. */
  encryption: Record<string, string | number>;
  /** Environment the server process needs for this mode. */
  env: Record<string, string>;
  /** Headers every PutObject and GetObject signs and sends. */
  objectHeaders: SignedHeaders;
  /** Whether the gateway encrypts the stored bytes (docs/FORMAT.md) in this mode. */
  encrypts: boolean;
}

/** Where aws-kms-envelope finds its key: moto's KMS on loopback. */
export interface KmsSetup {
  endpoint: string;
  keyArn: string;
}

/**
 * The modes named in BENCH_MODES (comma-separated, e.g. `none,sse-c`), or all of them. `none` is always
 * run, first: the others are reported as fractions of it.
 */
export function selectedModes(value: string | undefined): ModeName[] {
  if (value === undefined || value.trim() === '') return [...MODE_NAMES];
  const names = value.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!(MODE_NAMES as readonly string[]).includes(name)) {
      throw new Error(`BENCH_MODES: unknown mode "${name}" (expected some of ${MODE_NAMES.join(', ')})`);
    }
  }
  return MODE_NAMES.filter((name) => name === BASELINE_MODE || names.includes(name));
}

/** SSE-C's three request headers for a 32-byte customer key. */
function customerKeyHeaders(key: Buffer): SignedHeaders {
  return {
    'x-amz-server-side-encryption-customer-algorithm': 'AES256',
    'x-amz-server-side-encryption-customer-key': key.toString('base64'),
    'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(key).digest('base64'),
  };
}

/** The setup of one mode; aws-kms-envelope needs `kms`. */
export function benchMode(name: ModeName, kms?: KmsSetup): BenchMode {
  switch (name) {
    case 'none':
      return { name, encryption: { mode: 'none' }, env: {}, objectHeaders: {}, encrypts: false };
    case 'aes256-gcm-proxy':
      return {
        name,
        encryption: { mode: 'aes256-gcm-proxy', key: randomBytes(32).toString('hex'), key_id: 'bench-1' },
        env: {},
        objectHeaders: {},
        encrypts: true,
      };
    case 'aws-kms-envelope':
      if (!kms) throw new Error('aws-kms-envelope needs a KMS key (moto)');
      return {
        name,
        encryption: { mode: 'aws-kms-envelope', kms_key_id: kms.keyArn, kms_endpoint: kms.endpoint },
        // A filesystem backend has no AWS credentials of its own: the KMS client takes the SDK's default
        // chain, which reads these first. moto accepts any.
        env: { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' },
        objectHeaders: {},
        encrypts: true,
      };
    case 'sse-c':
      // SSE-C over plain HTTP is allowed from loopback only, which is where the bench client is.
      return {
        name,
        encryption: { mode: 'none' },
        env: {},
        objectHeaders: customerKeyHeaders(randomBytes(32)),
        encrypts: true,
      };
  }
}
