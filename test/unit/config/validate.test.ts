import { describe, expect, it } from 'vitest';
import { ConfigError, ConfigErrors } from '../../../functions/core/config/config-error.js';
import type { ConfigProblem } from '../../../functions/core/config/problems.js';
import { parseConfig } from '../../../functions/core/config/schema.js';
import { isSecretField, secretFieldPaths } from '../../../functions/core/config/secret-fields.js';
import { validateConfig } from '../../../functions/core/config/validate.js';
import { thrown } from '../../support/thrown.js';

// Test keys and secrets (never real ones).
const KEY_A = '0123456789abcdef'.repeat(4);
const KEY_B = 'fedcba9876543210'.repeat(4);
const SECRET = 'credential-secret-1';

function pathsOf(problems: ConfigProblem[], severity: ConfigProblem['severity']): string[] {
  return problems.filter((p) => p.severity === severity).map((p) => p.path);
}

/** A document with one mistake of each kind, each in its own field. */
const manyMistakes = {
  backends: [
    { name: 'local', type: 'filesystem', path: './data' },
    { name: 'odd', type: 'ftp', encryption: { mode: 'aes256-gcm-proxy', key: 'abc', key_id: 'k1' } },
    {
      name: 'aws',
      type: 's3',
      endpoint: 'localhost:9000',
      force_path_style: 'yes',
      encryption: { mode: 'aes256-gcm-proxy', key: KEY_A, key_id: 'bad id', kms_key_id: 'alias/k' },
    },
  ],
  default_backend: 'missing',
  buckets: [
    { name: 'Bad_Name', backend: 'local' },
    { name: 'logs', backend: 'nowhere' },
    { name: 'on-odd', backend: 'odd' },
  ],
  credentials: [
    { access_key_id: 'AK1', secret_access_key: 'short', admin: true },
    { access_key_id: 'AK2', secret_access_key: SECRET, grants: [{ bucket: 'logs', access: ['delete'] }] },
    { access_key_id: 'AK2', secret_access_key: SECRET, admin: true },
  ],
  domains: ['Not A Host'],
  surprise: 1,
};

describe('validateConfig', () => {
  it('reports every error of a document with many mistakes, each at its path', () => {
    const { config, problems } = validateConfig(manyMistakes);
    expect(config).toBeUndefined();
    expect(pathsOf(problems, 'error').sort()).toEqual(
      [
        'surprise',
        'backends[1].type',
        'backends[1].encryption.key',
        'backends[2].endpoint',
        'backends[2].force_path_style',
        'backends[2].encryption.kms_key_id',
        'backends[2].encryption.key_id',
        'default_backend',
        'buckets[0].name',
        'buckets[1].backend',
        'credentials[0].secret_access_key',
        'credentials[1].grants[0].access[0]',
        'credentials[2].access_key_id',
        'domains[0]',
      ].sort(),
    );
  });

  it('keeps the messages of the single-error checks', () => {
    const { problems } = validateConfig(manyMistakes);
    const message = (path: string) => problems.find((p) => p.path === path)?.message;
    expect(message('backends[1].type')).toBe('unknown backend type "ftp" (expected filesystem or s3)');
    expect(message('backends[1].encryption.key')).toContain('must be 64 hex characters');
    expect(message('credentials[0].secret_access_key')).toBe('must be at least 8 characters');
    expect(message('credentials[2].access_key_id')).toBe('duplicate access key id "AK2"');
    expect(message('surprise')).toContain('unknown field');
  });

  it('counts a backend with a problem elsewhere as configured for routes and default_backend', () => {
    const { problems } = validateConfig({
      backends: [{ name: 'broken', type: 'filesystem' }],
      default_backend: 'broken',
      buckets: [{ name: 'logs', backend: 'broken' }],
    });
    expect(pathsOf(problems, 'error')).toEqual(['backends[0].path']);
  });

  it('reports one problem for a list of the wrong type, not also an empty list', () => {
    const { problems } = validateConfig({
      backends: 'local',
      credentials: [
        { access_key_id: 'AK1', secret_access_key: SECRET, grants: [{ bucket: 'b', access: 'read' }] },
      ],
    });
    const errors = problems.filter((p) => p.severity === 'error');
    expect(errors.map((p) => [p.path, p.message])).toEqual([
      ['backends', 'must be a list'],
      ['credentials[0].grants[0].access', 'must be a list'],
    ]);
  });

  it('checks the fields of an encryption block whose mode is unknown against every field name', () => {
    const { problems } = validateConfig({
      backends: [{ name: 'local', type: 'filesystem', path: '.', encryption: { mode: 'rot13', keyid: 'x' } }],
    });
    expect(pathsOf(problems, 'error')).toEqual([
      'backends[0].encryption.mode',
      'backends[0].encryption.keyid',
    ]);
  });

  it('gives the config with its warnings when nothing is an error', () => {
    const { config, problems } = validateConfig({
      backends: [
        { name: 'local', type: 'filesystem', path: './data' },
        {
          name: 'aws',
          type: 's3',
          encryption: {
            mode: 'aes256-gcm-proxy',
            key: KEY_A,
            key_id: 'new',
            legacy_key: KEY_A,
            legacy_key_id: 'old',
          },
        },
      ],
      buckets: [
        { name: 'photos', backend: 'aws', backend_bucket: 'shared' },
        { name: 'pictures', backend: 'aws', backend_bucket: 'shared' },
        { name: 'shared', backend: 'local' },
      ],
      credentials: [{ access_key_id: 'AK1', secret_access_key: SECRET }],
    });
    expect(config?.buckets).toHaveLength(3);
    expect(pathsOf(problems, 'error')).toEqual([]);
    const warnings = problems.filter((p) => p.severity === 'warning');
    expect(warnings.map((w) => w.path)).toEqual([
      'backends[1].encryption.legacy_key',
      'buckets[1]',
      'credentials[0]',
      'backends[1].encryption.key',
      'backends[1].encryption.legacy_key',
      'credentials[0].secret_access_key',
    ]);
    expect(warnings[0].message).toContain('the same key as key');
    expect(warnings[1].message).toContain('as buckets[0] does');
    expect(warnings[2].message).toContain('can sign requests but may do nothing');
    expect(warnings[3].message).toContain('written inline in the config');
  });

  it('does not warn about a credential that is admin or has a grant', () => {
    const { problems } = validateConfig(
      {
        backends: [{ name: 'local', type: 'filesystem', path: './data' }],
        credentials: [
          { access_key_id: 'AK1', secret_access_key: SECRET, admin: true },
          { access_key_id: 'AK2', secret_access_key: SECRET, grants: [{ bucket: '*', access: ['read'] }] },
        ],
      },
      { original: { credentials: [{ secret_access_key: '${env:A}' }, { secret_access_key: '${env:B}' }] } },
    );
    expect(problems).toEqual([]);
  });

  describe('secrets written inline', () => {
    const original = {
      backends: [
        {
          name: 'aws',
          type: 's3',
          access_key_id: 'AKID',
          secret_access_key: '${secretsmanager:sealgate/aws}',
          encryption: {
            mode: 'aes256-gcm-proxy',
            key: '${ssm:/sealgate/key}',
            key_id: 'k1',
            legacy_key: '${env:OLD_KEY}',
            legacy_key_id: 'k0',
          },
        },
      ],
      credentials: [
        { access_key_id: 'AK1', secret_access_key: '${secretsmanager:sealgate/ak1}', admin: true },
      ],
    };
    const substituted = {
      backends: [
        {
          ...original.backends[0],
          secret_access_key: 'aws-secret-value',
          encryption: { ...original.backends[0].encryption, key: KEY_A, legacy_key: KEY_B },
        },
      ],
      credentials: [{ ...original.credentials[0], secret_access_key: SECRET }],
    };

    it('accepts references in the dynamodb store', () => {
      const { config, problems } = validateConfig(substituted, { store: 'dynamodb', original });
      expect(problems).toEqual([]);
      expect(config?.backends[0].encryption.current?.key).toEqual(Buffer.from(KEY_A, 'hex'));
    });

    it('refuses an inline secret in the dynamodb store, naming the field', () => {
      const inline = {
        ...original,
        credentials: [{ ...original.credentials[0], secret_access_key: SECRET }],
      };
      const { config, problems } = validateConfig(substituted, { store: 'dynamodb', original: inline });
      expect(config).toBeUndefined();
      expect(problems).toEqual([
        {
          severity: 'error',
          path: 'credentials[0].secret_access_key',
          message: expect.stringContaining('would be stored in clear in the config table') as string,
        },
      ]);
    });

    it('only warns about an inline secret in the file store, the default', () => {
      const { config, problems } = validateConfig(substituted);
      expect(config).toBeDefined();
      expect(problems.map((p) => [p.severity, p.path])).toEqual([
        ['warning', 'backends[0].secret_access_key'],
        ['warning', 'backends[0].encryption.key'],
        ['warning', 'backends[0].encryption.legacy_key'],
        ['warning', 'credentials[0].secret_access_key'],
      ]);
    });

    it('counts an escaped $${ as written inline, and a reference inside other text as a reference', () => {
      const { problems } = validateConfig(substituted, {
        store: 'dynamodb',
        original: {
          ...original,
          credentials: [{ secret_access_key: 'pre-${env:SECRET}' }, { secret_access_key: '$${env:SECRET}' }],
        },
      });
      expect(pathsOf(problems, 'error')).toEqual(['credentials[1].secret_access_key']);
    });
  });

  it('never puts a secret value in a message', () => {
    const secrets = [KEY_A, KEY_B, 'abcd'.repeat(15) + 'zzzz', 'short', SECRET, 'aws-secret-value'];
    const { problems } = validateConfig(
      {
        backends: [
          {
            name: 'one',
            type: 's3',
            access_key_id: 'AKID',
            secret_access_key: 'aws-secret-value',
            encryption: {
              mode: 'aes256-gcm-proxy',
              key: KEY_A,
              key_id: 'prod',
              legacy_key: secrets[2],
              legacy_key_id: 'old',
            },
          },
          {
            name: 'two',
            type: 'filesystem',
            path: '.',
            encryption: { mode: 'none', key: KEY_B, legacy_key: KEY_B, legacy_key_id: 'prod' },
          },
        ],
        credentials: [
          { access_key_id: 'AK1', secret_access_key: 'short' },
          { access_key_id: 'AK2', secret_access_key: SECRET, secret: SECRET },
        ],
      },
      { store: 'dynamodb' },
    );
    expect(problems.length).toBeGreaterThanOrEqual(8);
    for (const problem of problems) {
      for (const secret of secrets) expect(problem.message).not.toContain(secret);
    }
  });
});

describe('parseConfig with several errors', () => {
  const document = {
    backends: [{ name: 'x', type: 'ftp' }],
    credentials: [{ access_key_id: 'AK1', secret_access_key: 'short', admin: true }],
    surprise: 1,
  };

  it('throws a ConfigError whose path is the first error', () => {
    const error = thrown(() => parseConfig(document), ConfigError);
    expect(error).toBeInstanceOf(ConfigErrors);
    expect(error.path).toBe('surprise');
    expect(error.problem).toContain('unknown field');
  });

  it('lists every error in the message, one per line, and in problems', () => {
    const error = thrown(() => parseConfig(document), ConfigErrors);
    expect(error.message.split('\n')).toEqual([
      expect.stringMatching(/^config error at surprise: unknown field/),
      'config error at backends[0].type: unknown backend type "ftp" (expected filesystem or s3)',
      'config error at credentials[0].secret_access_key: must be at least 8 characters',
    ]);
    expect(error.problems.map((p) => p.path)).toEqual([
      'surprise',
      'backends[0].type',
      'credentials[0].secret_access_key',
    ]);
  });

  it('keeps the one-error message a ConfigError has', () => {
    const error = thrown(() => parseConfig({}), ConfigError);
    expect(error.message).toBe('config error at backends: at least one backend is required');
  });

  it('returns the config when there are only warnings', () => {
    const config = parseConfig({
      backends: [{ name: 'local', type: 'filesystem', path: './data' }],
      credentials: [{ access_key_id: 'AK1', secret_access_key: SECRET }],
    });
    expect(config.credentials[0].accessKeyId).toBe('AK1');
  });
});

describe('ConfigErrors', () => {
  it('needs at least one error-severity problem', () => {
    expect(
      () => new ConfigErrors([{ severity: 'warning', path: 'credentials[0]', message: 'idle' }]),
    ).toThrow('needs at least one error-severity problem');
  });
});

describe('secret fields', () => {
  it.each([
    ['credentials[0].secret_access_key', true],
    ['backends[12].secret_access_key', true],
    ['backends[0].encryption.key', true],
    ['backends[0].encryption.legacy_key', true],
    ['backends[0].encryption.key_id', false],
    ['backends[0].access_key_id', false],
    ['credentials[0].access_key_id', false],
    ['credentials.secret_access_key', false],
    ['backends[0].encryption.key.x', false],
  ])('isSecretField(%s) is %s', (path, secret) => {
    expect(isSecretField(path)).toBe(secret);
  });

  it('lists the secret fields present in a document, whatever their values, and skips absent ones', () => {
    expect(
      secretFieldPaths({
        backends: [
          {
            name: 'fs',
            type: 'filesystem',
            encryption: { mode: 'none', legacy_key: 42, legacy_key_id: 'k0' },
          },
          { name: 'aws', type: 's3', secret_access_key: '${env:S}', encryption: { mode: 'none', key: null } },
        ],
        credentials: [{ access_key_id: 'AK1', secret_access_key: { nested: 'x' } }, { access_key_id: 'AK2' }],
        secret_access_key: 'not a field of the schema',
      }),
    ).toEqual([
      'backends[0].encryption.legacy_key',
      'backends[1].secret_access_key',
      'credentials[0].secret_access_key',
    ]);
  });

  it('finds none in a document that is not a mapping', () => {
    expect(secretFieldPaths('backends')).toEqual([]);
    expect(secretFieldPaths(null)).toEqual([]);
  });
});

describe('encryption keys as YAML writes them', () => {
  it('says to quote a key that YAML read as a number', () => {
    const { problems } = validateConfig({
      backends: [
        {
          name: 'local',
          type: 'filesystem',
          path: '/srv',
          encryption: { mode: 'aes256-gcm-proxy', key: 1234567890123456, key_id: 'k1' },
        },
      ],
    });
    const problem = problems.find((p) => p.path === 'backends[0].encryption.key');
    expect(problem?.message).toContain('quote the key');
  });

  it('accepts the deploy-only legacy_kms_key_ids, so the deployed file can be applied', () => {
    const { config, problems } = validateConfig({
      backends: [
        {
          name: 'local',
          type: 'filesystem',
          path: '/srv',
          encryption: { mode: 'none', legacy_kms_key_ids: ['arn:aws:kms:us-east-1:111122223333:key/old'] },
        },
      ],
    });
    expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(config).toBeDefined();
    const refused = validateConfig({
      backends: [
        {
          name: 'local',
          type: 'filesystem',
          path: '/srv',
          encryption: { mode: 'none', legacy_kms_key_ids: 'one' },
        },
      ],
    });
    expect(refused.problems).toContainEqual(
      expect.objectContaining({ path: 'backends[0].encryption.legacy_kms_key_ids', severity: 'error' }),
    );
  });
});
