import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../functions/core/config/config-error.js';
import { requestableEncryption } from '../../../functions/core/config/encryption-config.js';
import { parseConfig } from '../../../functions/core/config/schema.js';
import { thrown } from '../../support/thrown.js';

const KEY = '4d'.repeat(32);
const ARN = 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555';

function encryptionOf(type: 'filesystem' | 's3', encryption: Record<string, unknown>) {
  const backend = type === 's3' ? { name: 'b', type, bucket_prefix: '' } : { name: 'b', type, path: './d' };
  return parseConfig({ backends: [{ ...backend, encryption }] }).backends[0].encryption;
}

describe('encryption.on_request', () => {
  it('defaults to what the mode alone answers', () => {
    expect(requestableEncryption({ mode: 'none' })).toEqual({ kmsKeyIds: [] });
    expect(requestableEncryption({ mode: 'aes256-gcm-proxy' })).toEqual({
      aes256: 'aes256-gcm-proxy',
      kmsKeyIds: [],
    });
    expect(requestableEncryption({ mode: 'sse-kms' })).toEqual({ awsKms: 'sse-kms', kmsKeyIds: [] });
  });

  it('lets a mode none backend take AES256 under its managed key and aws:kms under allowed KMS keys', () => {
    const e = encryptionOf('filesystem', {
      mode: 'none',
      key: KEY,
      key_id: 'managed-1',
      kms_key_id: ARN,
      on_request: { aes256: 'aes256-gcm-proxy', aws_kms: 'aws-kms-envelope', kms_key_ids: ['alias/other'] },
    });
    expect(e.mode).toBe('none');
    expect(e.current?.id).toBe('managed-1');
    expect(e.kmsKeyId).toBe(ARN);
    expect(e.kms).toEqual({ region: 'us-east-1' });
    expect(requestableEncryption(e)).toEqual({
      aes256: 'aes256-gcm-proxy',
      awsKms: 'aws-kms-envelope',
      kmsKeyIds: ['alias/other'],
    });
  });

  it('refuses a native handler on a filesystem backend, an unknown handler, and keys without aws_kms', () => {
    const native = thrown(
      () => encryptionOf('filesystem', { mode: 'none', on_request: { aes256: 'sse-s3' } }),
      ConfigError,
    );
    expect(native.message).toMatch(/on_request\.aes256.*needs an S3 backend/);
    const unknown = thrown(
      () => encryptionOf('s3', { mode: 'none', on_request: { aws_kms: 'maybe' } }),
      ConfigError,
    );
    expect(unknown.message).toMatch(/on_request\.aws_kms.*must be one of: aws-kms-envelope, sse-kms/);
    const keys = thrown(
      () => encryptionOf('s3', { mode: 'none', on_request: { kms_key_ids: [ARN] } }),
      ConfigError,
    );
    expect(keys.message).toMatch(/kms_key_ids.*set aws_kms too/);
  });

  it('still refuses a key on a backend that has no use for it', () => {
    const error = thrown(
      () => encryptionOf('filesystem', { mode: 'none', key: KEY, key_id: 'k' }),
      ConfigError,
    );
    expect(error.message).toMatch(/encryption\.key/);
  });
});
