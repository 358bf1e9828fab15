import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigError } from '../../../functions/core/config/config-error.js';
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
