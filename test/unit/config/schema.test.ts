import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigError } from '../../../functions/core/config/config-error.js';
import { parseConfigText } from '../../../functions/core/config/config-text.js';
import { interpolate, interpolateTree } from '../../../functions/core/config/interpolate.js';
import { parseConfig } from '../../../functions/core/config/schema.js';
import { thrown } from '../../support/thrown.js';

const minimal = { backends: [{ name: 'local', type: 'filesystem', path: './data' }] };

function configError(fn: () => unknown): ConfigError {
  return thrown(fn, ConfigError);
}

describe('interpolate', () => {
  it('replaces ${env:NAME} with the variable', () => {
    expect(interpolate('key-${env:SECRET}-end', { SECRET: 's3cr3t' }, 'x')).toBe('key-s3cr3t-end');
  });
  it('uses the default of ${env:NAME:-default} when the variable is unset or empty', () => {
    expect(interpolate('${env:PORT:-9000}', {}, 'x')).toBe('9000');
    expect(interpolate('${env:PORT:-9000}', { PORT: '' }, 'x')).toBe('9000');
    expect(interpolate('${env:PORT:-9000}', { PORT: '9100' }, 'x')).toBe('9100');
  });
  it('names the variable and the field when an unset variable has no default', () => {
    const error = configError(() =>
      interpolateTree({ credentials: [{ secret_access_key: '${env:NOPE}' }] }, {}),
    );
    expect(error.path).toBe('credentials[0].secret_access_key');
    expect(error.message).toContain('NOPE');
  });
  it('keeps $${ as a literal ${', () => {
    expect(interpolate('a$${env:X}', { X: 'no' }, 'x')).toBe('a${env:X}');
  });
});

describe('parseConfig', () => {
  it('fills in the defaults of a minimal config', () => {
    const config = parseConfig(minimal);
    expect(config.defaultBackend).toBe('local');
    expect(config.backends[0]).toEqual({
      name: 'local',
      type: 'filesystem',
      path: './data',
      encryption: { mode: 'none' },
    });
    expect(config.buckets).toEqual([]);
    expect(config.credentials).toEqual([]);
  });

  it('reads the documented example', () => {
    const config = parseConfig(
      parse(`
backends:
  - name: local
    type: filesystem
    path: ./data
    encryption: { mode: none }
  - name: aws
    type: s3
    endpoint: http://127.0.0.1:5000
    region: eu-west-1
    access_key_id: AKID
    secret_access_key: SECRET
default_backend: local
buckets:
  - { name: db-archive, backend: aws }
credentials:
  - access_key_id: AKEXAMPLE
    secret_access_key: example-secret
    admin: true
    grants: [ { bucket: "*", access: [read, write] } ]
`),
    );
    expect(config.backends[1]).toMatchObject({ type: 's3', region: 'eu-west-1', forcePathStyle: true });
    expect(config.buckets).toEqual([{ name: 'db-archive', backend: 'aws', backendBucket: 'db-archive' }]);
    expect(config.credentials[0]).toEqual({
      accessKeyId: 'AKEXAMPLE',
      secretAccessKey: 'example-secret',
      admin: true,
      grants: [{ bucket: '*', access: ['read', 'write'] }],
    });
  });

  it.each([
    [{}, 'backends', 'at least one backend'],
    [{ backends: [{ name: 'x', type: 'ftp' }] }, 'backends[0].type', 'unknown backend type'],
    [{ backends: [{ name: 'x', type: 'filesystem' }] }, 'backends[0].path', 'required'],
    [{ ...minimal, default_backend: 'nope' }, 'default_backend', 'names no configured backend'],
    [
      { ...minimal, buckets: [{ name: 'Bad_Name', backend: 'local' }] },
      'buckets[0].name',
      'not a valid S3 bucket name',
    ],
    [
      { ...minimal, buckets: [{ name: 'ok-bucket', backend: 'nope' }] },
      'buckets[0].backend',
      'names no configured backend',
    ],
    [{ ...minimal, surprise: 1 }, 'surprise', 'unknown field'],
    [{ ...minimal, domains: ['Not A Host'] }, 'domains[0]', 'lower-case host name'],
    [
      { backends: [{ name: 'x', type: 'filesystem', path: 'p', encryption: { mode: 'rot13' } }] },
      'backends[0].encryption.mode',
      'unknown mode',
    ],
    [
      { backends: [{ name: 'x', type: 's3', access_key_id: 'only-id' }] },
      'backends[0]',
      'must be given together',
    ],
    [{ backends: [minimal.backends[0], minimal.backends[0]] }, 'backends[1].name', 'duplicate backend name'],
    [
      { ...minimal, credentials: [{ access_key_id: 'AK1', secret_access_key: 'short' }] },
      'credentials[0].secret_access_key',
      'at least 8',
    ],
    [
      {
        ...minimal,
        credentials: [
          {
            access_key_id: 'AK1',
            secret_access_key: 'long-enough',
            grants: [{ bucket: 'b', access: ['delete'] }],
          },
        ],
      },
      'credentials[0].grants[0].access[0]',
      'read or write',
    ],
  ])('rejects %j at %s', (document, path, problem) => {
    const error = configError(() => parseConfig(document));
    expect(error.path).toBe(path);
    expect(error.problem).toContain(problem);
  });
});

describe('parseConfig: encryption', () => {
  // Test keys (never real ones): 64 hex characters, 32 bytes each.
  const KEY_A = '0123456789abcdef'.repeat(4);
  const KEY_B = 'fedcba9876543210'.repeat(4);
  const SHORT_KEY = KEY_A.slice(0, 62);
  const NON_HEX_KEY = `${KEY_A.slice(0, 63)}g`;
  const KEY_VALUES = [KEY_A, KEY_B, SHORT_KEY, NON_HEX_KEY];

  function filesystem(encryption: unknown, name = 'local') {
    return { name, type: 'filesystem', path: './data', encryption };
  }
  function s3(encryption: unknown, extra: Record<string, unknown> = {}, name = 'aws') {
    return { name, type: 's3', encryption, ...extra };
  }
  /** The parsed encryption of the only backend of a document holding `backend`. */
  function encryptionOf(backend: unknown) {
    return parseConfig({ backends: [backend] }).backends[0].encryption;
  }

  describe('accepts', () => {
    it('aes256-gcm-proxy with its key as 32 bytes and its key id', () => {
      const encryption = encryptionOf(
        filesystem({ mode: 'aes256-gcm-proxy', key: KEY_A, key_id: 'prod-2026-06' }),
      );
      expect(encryption).toEqual({
        mode: 'aes256-gcm-proxy',
        current: { id: 'prod-2026-06', key: Buffer.from(KEY_A, 'hex') },
      });
      expect(encryption.current?.key.length).toBe(32);
    });

    it('a key in upper-case hex and a key id using every allowed character', () => {
      const id = 'Prod_2026.06:eu/west-1';
      const encryption = encryptionOf(s3({ mode: 'aes256-gcm-proxy', key: KEY_A.toUpperCase(), key_id: id }));
      expect(encryption.current).toEqual({ id, key: Buffer.from(KEY_A, 'hex') });
    });

    it('a key id of exactly 64 characters', () => {
      const id = 'k'.repeat(64);
      expect(encryptionOf(s3({ mode: 'aes256-gcm-proxy', key: KEY_A, key_id: id })).current?.id).toBe(id);
    });

    it.each(['none', 'aes256-gcm-proxy', 'aws-kms-envelope', 'sse-kms', 'sse-s3'])(
      'a decrypt-only legacy key in mode %s',
      (mode) => {
        const modeFields: Record<string, Record<string, string>> = {
          'aes256-gcm-proxy': { key: KEY_A, key_id: 'prod-2026-06' },
          'aws-kms-envelope': { kms_key_id: 'alias/sealgate' },
        };
        const encryption = encryptionOf(
          s3({ mode, ...modeFields[mode], legacy_key: KEY_B, legacy_key_id: 'prod-2025-10' }),
        );
        expect(encryption.mode).toBe(mode);
        expect(encryption.legacy).toEqual({ id: 'prod-2025-10', key: Buffer.from(KEY_B, 'hex') });
      },
    );

    it('aws-kms-envelope with the KMS region taken from the S3 backend', () => {
      const arn = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
      expect(
        encryptionOf(s3({ mode: 'aws-kms-envelope', kms_key_id: arn }, { region: 'eu-west-1' })),
      ).toEqual({
        mode: 'aws-kms-envelope',
        kmsKeyId: arn,
        kms: { region: 'eu-west-1' },
      });
    });

    it('aws-kms-envelope with kms_endpoint and kms_region overriding the backend', () => {
      const encryption = encryptionOf(
        s3(
          {
            mode: 'aws-kms-envelope',
            kms_key_id: 'alias/sealgate',
            kms_endpoint: 'http://127.0.0.1:4566',
            kms_region: 'ap-southeast-2',
          },
          { region: 'eu-west-1' },
        ),
      );
      expect(encryption.kms).toEqual({
        endpoint: 'http://127.0.0.1:4566',
        region: 'ap-southeast-2',
      });
    });

    it('aws-kms-envelope defaulting the KMS region to us-east-1 on a filesystem backend and on an S3 backend without a region', () => {
      const kms = { mode: 'aws-kms-envelope', kms_key_id: 'alias/sealgate' };
      expect(encryptionOf(filesystem(kms)).kms).toEqual({ region: 'us-east-1' });
      expect(encryptionOf(s3(kms)).kms).toEqual({ region: 'us-east-1' });
    });

    it('sse-kms with a key and S3 Bucket Keys', () => {
      expect(
        encryptionOf(s3({ mode: 'sse-kms', kms_key_id: 'alias/archive', bucket_key_enabled: true })),
      ).toEqual({
        mode: 'sse-kms',
        kmsKeyId: 'alias/archive',
        bucketKeyEnabled: true,
      });
    });

    it('sse-kms without kms_key_id (the AWS managed key aws/s3) and without bucket_key_enabled (the bucket default)', () => {
      const encryption = encryptionOf(s3({ mode: 'sse-kms' }));
      expect(encryption).toEqual({ mode: 'sse-kms' });
      expect('kmsKeyId' in encryption).toBe(false);
      expect('bucketKeyEnabled' in encryption).toBe(false);
    });

    it('sse-kms with bucket_key_enabled: false, kept as an explicit false', () => {
      expect(encryptionOf(s3({ mode: 'sse-kms', bucket_key_enabled: false })).bucketKeyEnabled).toBe(false);
    });

    it('kms_endpoint and kms_region in a mode other than aws-kms-envelope (to read envelope history)', () => {
      expect(
        encryptionOf(s3({ mode: 'sse-kms', kms_endpoint: 'http://127.0.0.1:4566' }, { region: 'eu-west-1' }))
          .kms,
      ).toEqual({ endpoint: 'http://127.0.0.1:4566', region: 'eu-west-1' });
      expect(
        encryptionOf(
          filesystem({ mode: 'aes256-gcm-proxy', key: KEY_A, key_id: 'k1', kms_region: 'eu-west-1' }),
        ).kms,
      ).toEqual({ region: 'eu-west-1' });
    });

    it('sse-s3 on an S3 backend', () => {
      expect(encryptionOf(s3({ mode: 'sse-s3' }))).toEqual({ mode: 'sse-s3' });
    });

    it('one key under one id on two backends, as key_id on one and legacy_key_id on the other', () => {
      const config = parseConfig({
        backends: [
          filesystem({ mode: 'aes256-gcm-proxy', key: KEY_A, key_id: 'shared' }),
          s3({ mode: 'aes256-gcm-proxy', key: KEY_A, key_id: 'shared' }),
          s3({ mode: 'none', legacy_key: KEY_A.toUpperCase(), legacy_key_id: 'shared' }, {}, 'old'),
        ],
      });
      expect(config.backends.map((b) => b.encryption.current?.id ?? b.encryption.legacy?.id)).toEqual([
        'shared',
        'shared',
        'shared',
      ]);
    });

    it('keys given as ${env:NAME} references, which arrive already interpolated', () => {
      const config = parseConfigText(
        `
backends:
  - name: local
    type: filesystem
    path: ./data
    encryption:
      mode: aes256-gcm-proxy
      key: "\${env:SEALGATE_KEY}"
      key_id: prod-2026-06
      legacy_key: "\${env:SEALGATE_OLD_KEY}"
      legacy_key_id: prod-2025-10
`,
        { SEALGATE_KEY: KEY_A, SEALGATE_OLD_KEY: KEY_B },
        'sealgate.yaml',
      );
      expect(config.backends[0].encryption.current?.key).toEqual(Buffer.from(KEY_A, 'hex'));
      expect(config.backends[0].encryption.legacy?.key).toEqual(Buffer.from(KEY_B, 'hex'));
    });
  });

  describe('with ${env:NAME} references', () => {
    const yaml = `
backends:
  - name: local
    type: filesystem
    path: ./data
    encryption: { mode: aes256-gcm-proxy, key: "\${env:SEALGATE_KEY}", key_id: prod }
`;

    it('names the variable and the key field when the variable is unset', () => {
      const error = configError(() => parseConfigText(yaml, {}, 'sealgate.yaml'));
      expect(error.path).toBe('backends[0].encryption.key');
      expect(error.problem).toContain('SEALGATE_KEY is not set');
    });

    it('counts a trailing newline in the variable as a character (the key is used exactly as given)', () => {
      const error = configError(() => parseConfigText(yaml, { SEALGATE_KEY: `${KEY_A}\n` }, 'sealgate.yaml'));
      expect(error.path).toBe('backends[0].encryption.key');
      expect(error.problem).toContain('got 65 characters');
      expect(error.message).not.toContain(KEY_A);
    });
  });

  const proxy = { mode: 'aes256-gcm-proxy', key: KEY_A, key_id: 'prod-2026-06' };

  it.each([
    // aes256-gcm-proxy's own key
    [filesystem({ mode: 'aes256-gcm-proxy', key_id: 'prod' }), 'key', 'is required'],
    [filesystem({ mode: 'aes256-gcm-proxy', key: KEY_A }), 'key_id', 'is required'],
    [
      filesystem({ ...proxy, key: SHORT_KEY }),
      'key',
      'must be 64 hex characters (32 bytes), got 62 characters',
    ],
    [
      filesystem({ ...proxy, key: `${KEY_A}00` }),
      'key',
      'must be 64 hex characters (32 bytes), got 66 characters',
    ],
    [filesystem({ ...proxy, key: NON_HEX_KEY }), 'key', 'must be hex'],
    [filesystem({ ...proxy, key: 12345 }), 'key', 'must be a string: quote the key'],
    [filesystem({ ...proxy, key_id: 'prod 2026' }), 'key_id', 'must be 1-64 characters'],
    [filesystem({ ...proxy, key_id: 'k'.repeat(65) }), 'key_id', 'must be 1-64 characters'],
    [filesystem({ ...proxy, key_id: 'prod,2026' }), 'key_id', 'must be 1-64 characters'],
    // key / key_id belong to aes256-gcm-proxy only
    [filesystem({ mode: 'none', key: KEY_A }), 'key', 'use legacy_key and legacy_key_id'],
    [filesystem({ mode: 'none', key_id: 'prod' }), 'key_id', 'is only for mode aes256-gcm-proxy'],
    [s3({ mode: 'sse-s3', key: KEY_A, key_id: 'prod' }), 'key', 'is only for mode aes256-gcm-proxy'],
    [
      s3({ mode: 'aws-kms-envelope', kms_key_id: 'alias/k', key: KEY_A, key_id: 'prod' }),
      'key',
      'use legacy_key and legacy_key_id',
    ],
    [s3({ mode: 'sse-kms', key_id: 'prod' }), 'key_id', 'not "sse-kms"'],
    // the legacy pair
    [
      filesystem({ mode: 'none', legacy_key: KEY_B }),
      'legacy_key_id',
      'is required when legacy_key is given',
    ],
    [
      filesystem({ mode: 'none', legacy_key_id: 'old' }),
      'legacy_key',
      'is required when legacy_key_id is given',
    ],
    [
      filesystem({ ...proxy, legacy_key: SHORT_KEY, legacy_key_id: 'old' }),
      'legacy_key',
      'must be 64 hex characters (32 bytes), got 62 characters',
    ],
    [filesystem({ ...proxy, legacy_key: NON_HEX_KEY, legacy_key_id: 'old' }), 'legacy_key', 'must be hex'],
    [
      filesystem({ ...proxy, legacy_key: KEY_B, legacy_key_id: 'old key' }),
      'legacy_key_id',
      'must be 1-64 characters',
    ],
    [
      filesystem({ ...proxy, legacy_key: KEY_B, legacy_key_id: 'prod-2026-06' }),
      'legacy_key_id',
      'must differ from key_id',
    ],
    // KMS fields
    [s3({ mode: 'aws-kms-envelope' }), 'kms_key_id', 'is required'],
    [s3({ mode: 'aws-kms-envelope', kms_key_id: 'alias/my key' }), 'kms_key_id', 'without spaces'],
    [
      filesystem({ ...proxy, kms_key_id: 'alias/k' }),
      'kms_key_id',
      'is only for modes aws-kms-envelope and sse-kms',
    ],
    [
      s3({ mode: 'sse-s3', kms_key_id: 'alias/k' }),
      'kms_key_id',
      'is only for modes aws-kms-envelope and sse-kms',
    ],
    [filesystem({ mode: 'none', kms_key_id: 'alias/k' }), 'kms_key_id', 'not "none"'],
    [s3({ mode: 'sse-kms', bucket_key_enabled: 'yes' }), 'bucket_key_enabled', 'must be true or false'],
    [
      s3({ mode: 'aws-kms-envelope', kms_key_id: 'alias/k', bucket_key_enabled: true }),
      'bucket_key_enabled',
      'is only for mode sse-kms',
    ],
    [s3({ mode: 'sse-s3', bucket_key_enabled: true }), 'bucket_key_enabled', 'is only for mode sse-kms'],
    [
      s3({ mode: 'aws-kms-envelope', kms_key_id: 'alias/k', kms_endpoint: 'localhost:4566' }),
      'kms_endpoint',
      'must be an http:// or https:// URL',
    ],
    [
      s3({ mode: 'aws-kms-envelope', kms_key_id: 'alias/k', kms_region: 'EU West' }),
      'kms_region',
      'must be an AWS region name',
    ],
    // native modes
    [filesystem({ mode: 'sse-kms' }), 'mode', 'native modes need an S3 backend'],
    [filesystem({ mode: 'sse-s3' }), 'mode', 'native modes need an S3 backend'],
    // the block itself
    [filesystem({ key: KEY_A, key_id: 'prod' }), 'mode', 'is required'],
    [filesystem({ ...proxy, keyid: 'typo' }), 'keyid', 'unknown field'],
    [filesystem('aes256-gcm-proxy'), '', 'must be a mapping'],
  ])('rejects encryption %j at .%s', (backend, field, problem) => {
    const error = configError(() => parseConfig({ backends: [backend] }));
    expect(error.path).toBe(field ? `backends[0].encryption.${field}` : 'backends[0].encryption');
    expect(error.problem).toContain(problem);
    for (const key of KEY_VALUES) expect(error.message).not.toContain(key);
  });

  it.each([
    [
      'as key_id on both',
      { mode: 'aes256-gcm-proxy', key: KEY_A, key_id: 'prod' },
      { mode: 'aes256-gcm-proxy', key: KEY_B, key_id: 'prod' },
      'backends[1].encryption.key_id',
    ],
    [
      'as key_id, then legacy_key_id',
      { mode: 'aes256-gcm-proxy', key: KEY_A, key_id: 'prod' },
      { mode: 'none', legacy_key: KEY_B, legacy_key_id: 'prod' },
      'backends[1].encryption.legacy_key_id',
    ],
    [
      'as legacy_key_id on both',
      { mode: 'none', legacy_key: KEY_A, legacy_key_id: 'old' },
      { mode: 'aes256-gcm-proxy', key: KEY_A, key_id: 'new', legacy_key: KEY_B, legacy_key_id: 'old' },
      'backends[1].encryption.legacy_key_id',
    ],
  ])('rejects one key id for two different keys on two backends (%s)', (_case, first, second, path) => {
    const error = configError(() =>
      parseConfig({ backends: [filesystem(first, 'one'), s3(second, {}, 'two')] }),
    );
    expect(error.path).toBe(path);
    expect(error.problem).toContain('for a different key');
    expect(error.problem).toContain('backends[0].encryption.');
    for (const key of KEY_VALUES) expect(error.message).not.toContain(key);
  });

  it('names the later backend when the clash is with a backend after another one', () => {
    const error = configError(() =>
      parseConfig({
        backends: [
          filesystem({ mode: 'none' }, 'plain'),
          filesystem({ mode: 'aes256-gcm-proxy', key: KEY_A, key_id: 'prod' }, 'one'),
          filesystem({ mode: 'aes256-gcm-proxy', key: KEY_B, key_id: 'prod' }, 'two'),
        ],
      }),
    );
    expect(error.path).toBe('backends[2].encryption.key_id');
    expect(error.problem).toContain('backends[1].encryption.key_id');
  });
});
