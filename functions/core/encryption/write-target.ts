/**
 * How a new object (PutObject, CopyObject's destination, a multipart upload) is stored: under the
 * customer's key when the request brings one (SSE-C, on every backend), else as the backend's mode says.
 * A request's `x-amz-server-side-encryption` header is checked against that mode: the operator chooses
 * each backend's posture, so a client may confirm it but not pick another one.
 */
import type { NativeEncryption } from '../backend.js';
import type { EncryptionConfig } from '../config/schema.js';
import { errors } from '../errors.js';
import type { CustomerKey } from './customer-key.js';
import type { BackendKeys } from './data-keys.js';
import { MARKER, type GatewayEncryption, type NativeEncryptionMode } from './markers.js';

export type WriteTarget =
  | { kind: 'plain' }
  | { kind: 'native'; mode: NativeEncryptionMode; native: NativeEncryption }
  | { kind: 'gateway'; mode: GatewayEncryption; customer?: CustomerKey };

/** Which `x-amz-server-side-encryption` values describe each mode. */
const ACCEPTED: Record<EncryptionConfig['mode'], string[]> = {
  none: [],
  'aes256-gcm-proxy': ['AES256'],
  'sse-s3': ['AES256'],
  'aws-kms-envelope': ['aws:kms'],
  'sse-kms': ['aws:kms'],
};

export function writeTarget(keys: BackendKeys, headers: Headers, customer?: CustomerKey): WriteTarget {
  const requested = headers.get('x-amz-server-side-encryption');
  if (customer) {
    if (requested !== null) throw errors.ssecWithServerSideEncryption();
    return { kind: 'gateway', mode: 'sse-c', customer };
  }
  const config = keys.config;
  if (requested !== null) {
    if (requested !== 'AES256' && requested !== 'aws:kms' && requested !== 'aws:kms:dsse') {
      throw errors.invalidArgument(
        'The encryption method specified is not supported',
        'x-amz-server-side-encryption',
        requested,
      );
    }
    if (!ACCEPTED[config.mode].includes(requested)) {
      throw errors.invalidArgument(
        `Backend "${keys.backend}" stores new objects with encryption mode "${config.mode}", which ${requested} ` +
          `does not describe. Server-side encryption is chosen per backend in the gateway's configuration; ` +
          `send no x-amz-server-side-encryption header, or use a bucket on a backend with that mode.`,
        'x-amz-server-side-encryption',
        requested,
      );
    }
    const kmsKey = headers.get('x-amz-server-side-encryption-aws-kms-key-id');
    if (kmsKey !== null && kmsKey !== config.kmsKeyId) {
      throw errors.invalidArgument(
        `Backend "${keys.backend}" encrypts with its configured KMS key; another key cannot be chosen per request.`,
        'x-amz-server-side-encryption-aws-kms-key-id',
        kmsKey,
      );
    }
  }
  switch (config.mode) {
    case 'none':
      return { kind: 'plain' };
    case 'sse-s3':
      return { kind: 'native', mode: 'sse-s3', native: { algorithm: 'AES256' } };
    case 'sse-kms':
      return {
        kind: 'native',
        mode: 'sse-kms',
        native: {
          algorithm: 'aws:kms',
          ...(config.kmsKeyId !== undefined && { kmsKeyId: config.kmsKeyId }),
          ...(config.bucketKeyEnabled !== undefined && { bucketKeyEnabled: config.bucketKeyEnabled }),
        },
      };
    default:
      return { kind: 'gateway', mode: config.mode };
  }
}

/** The marker a natively encrypted object carries, so the gateway never tries to decrypt it. */
export function nativeMarkers(target: Extract<WriteTarget, { kind: 'native' }>): Record<string, string> {
  return { [MARKER.encryption]: target.mode };
}

/** The response headers S3 returns for a natively encrypted write. */
export function nativeWriteHeaders(native: NativeEncryption): Record<string, string> {
  const headers: Record<string, string> = { 'x-amz-server-side-encryption': native.algorithm };
  if (native.kmsKeyId !== undefined) headers['x-amz-server-side-encryption-aws-kms-key-id'] = native.kmsKeyId;
  if (native.bucketKeyEnabled) headers['x-amz-server-side-encryption-bucket-key-enabled'] = 'true';
  return headers;
}
