import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { run } from './run-cli.js';

const PROXY_KEY = 'c3'.repeat(32);
const INLINE_SECRET = 'inline-secret-0123456789';

const GOOD = `backends:
  - name: local
    type: filesystem
    path: ./data
    encryption:
      mode: aes256-gcm-proxy
      key: '\${env:SG_PROXY_KEY}'
      key_id: local-2026-12
  - name: archive
    type: s3
    region: eu-west-1
    access_key_id: AKARCHIVE
    secret_access_key: '\${secretsmanager:sealgate/archive#secret}'
credentials:
  - access_key_id: AKADMIN
    secret_access_key: '\${ssm:/sealgate/admin}'
    admin: true
`;

const BAD = `backends:
  - name: local
    type: filesystem
    path: ./data
  - name: remote
    type: ftp
  - name: sealed
    type: filesystem
    path: ./sealed
    encryption:
      mode: aes256-gcm-proxy
      key: 'not-hex'
      key_id: 'has spaces'
default_backend: nowhere
credentials:
  - access_key_id: AKADMIN
    secret_access_key: ${INLINE_SECRET}
    admin: true
`;

describe('sealgate config validate (offline)', () => {
  let dir: TempDir;
  const file = (name: string, text: string) => {
    const path = join(dir.path, name);
    writeFileSync(path, text);
    return path;
  };

  beforeAll(async () => {
    dir = await makeTempDir('sealgate-cli-validate-');
  });
  afterAll(() => dir.cleanup());

  it('exits 0 for a good file, resolving env references from its environment', async () => {
    const result = await run(['config', 'validate', file('good.yaml', GOOD)], { SG_PROXY_KEY: PROXY_KEY });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('good.yaml: valid');
    expect(result.stdout).not.toMatch(/^error at/m);
    expect(result.stdout + result.stderr).not.toContain(PROXY_KEY);
  });

  it('says how many references were not resolved offline, and which', async () => {
    const result = await run(['config', 'validate', file('good.yaml', GOOD)], { SG_PROXY_KEY: PROXY_KEY });
    expect(result.stdout).toContain('2 references not resolved offline');
    expect(result.stdout).toContain('${secretsmanager:sealgate/archive#secret}');
    expect(result.stdout).toContain('${ssm:/sealgate/admin}');
  });

  it('reports an env reference this environment does not set, at its path, and exits 1', async () => {
    const result = await run(['config', 'validate', file('good.yaml', GOOD)], {});
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      'error at backends[0].encryption.key: cannot resolve ${env:SG_PROXY_KEY}: environment variable SG_PROXY_KEY is not set',
    );
  });

  it('prints every problem of a bad file with its path, warnings too, and exits 1', async () => {
    const result = await run(['config', 'validate', file('bad.yaml', BAD)]);
    expect(result.code).toBe(1);
    const lines = result.stdout.split('\n');
    for (const path of [
      'backends[1].type',
      'backends[2].encryption.key',
      'backends[2].encryption.key_id',
      'default_backend',
    ]) {
      expect(lines.some((line) => line.startsWith(`error at ${path}: `))).toBe(true);
    }
    expect(lines.some((line) => line.startsWith('warning at credentials[0].secret_access_key: '))).toBe(true);
    expect(result.stdout).toMatch(/bad\.yaml: [4-9] errors, 2 warnings/);
    expect(result.stdout + result.stderr).not.toContain(INLINE_SECRET);
  });

  it('refuses inline secrets with --store dynamodb', async () => {
    const text = GOOD.replace("'${ssm:/sealgate/admin}'", INLINE_SECRET);
    const result = await run(['config', 'validate', file('inline.yaml', text), '--store', 'dynamodb'], {
      SG_PROXY_KEY: PROXY_KEY,
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^error at credentials\[0\]\.secret_access_key: .*stored in clear/m);
    expect(result.stdout + result.stderr).not.toContain(INLINE_SECRET);
  });

  it('prints one JSON document with --json', async () => {
    const result = await run(['config', 'validate', file('bad.yaml', BAD), '--json']);
    expect(result.code).toBe(1);
    const data = JSON.parse(result.stdout) as {
      valid: boolean;
      checked: string;
      problems: { path: string }[];
    };
    expect(data.valid).toBe(false);
    expect(data.checked).toBe('offline');
    expect(data.problems.map((p) => p.path)).toContain('backends[1].type');
    expect(result.stdout).not.toContain(INLINE_SECRET);
  });

  it('exits 1 on a YAML syntax error, naming the line but not quoting it', async () => {
    const text = `backends:\n  - name: a\n    type: [filesystem\nsecret: ${INLINE_SECRET}\n`;
    const result = await run(['config', 'validate', file('syntax.yaml', text)]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^sealgate: .*syntax\.yaml: YAML syntax error: .*line \d+, column \d+/);
    expect(result.stdout + result.stderr).not.toContain(INLINE_SECRET);
  });

  it('exits 1 for a document that is not a mapping', async () => {
    const result = await run(['config', 'validate', file('list.yaml', '- a\n- b\n')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('the config must be a YAML mapping');
  });

  it('exits 1 naming a file it cannot read', async () => {
    const result = await run(['config', 'validate', join(dir.path, 'missing.yaml')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot read');
    expect(result.stderr).toContain('missing.yaml');
  });

  it('validates offline when only AWS_ENDPOINT_URL is set (it names the S3 endpoint, not necessarily a gateway)', async () => {
    const result = await run(['config', 'validate', file('good.yaml', GOOD)], {
      SG_PROXY_KEY: PROXY_KEY,
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
    });
    expect(result.code).toBe(0);
    expect(JSON.stringify(result)).not.toContain('cannot reach');
  });
});
