/**
 * Encryption in the deployed stack: the KMS keys the function's role may use, and the gateway-held keys,
 * which reach the function only as Secrets Manager or SSM references it resolves when it runs.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deployConfigFromText } from '../../lib/deploy-config.js';
import { environment, statements, synth, type Statement } from './synth.js';

const KEY_ARN = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const OTHER_KEY_ARN = 'arn:aws:kms:eu-west-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef';

const CREDENTIALS = `
credentials:
  - access_key_id: SGADMIN
    secret_access_key: \${secretsmanager:sealgate/admin}
    admin: true
`;

/** A config with one AWS S3 backend (eu-west-1, the function's role) whose encryption block is `encryption`. */
function withEncryption(encryption: string, backend = '    region: eu-west-1\n'): string {
  return (
    `backends:\n  - name: data\n    type: s3\n${backend}    encryption:\n` +
    encryption
      .trim()
      .split('\n')
      .map((line) => `      ${line}\n`)
      .join('') +
    'buckets:\n  - { name: data, backend: data, backend_bucket: corp-data }\n' +
    CREDENTIALS
  );
}

function kmsStatements(configText: string): Statement[] {
  return statements(synth(configText)).filter((s) =>
    ([] as string[]).concat(s.Action).some((a) => a.startsWith('kms:')),
  );
}

function sorted(actions: string | string[]): string[] {
  return ([] as string[]).concat(actions).sort();
}

describe('KMS grants of the function role', () => {
  it('grants GenerateDataKey, Decrypt and Encrypt on an aws-kms-envelope key ARN, and nothing else of KMS', () => {
    const kms = kmsStatements(withEncryption(`mode: aws-kms-envelope\nkms_key_id: ${KEY_ARN}`));
    expect(kms).toHaveLength(1);
    expect(kms[0].Sid).toBe('EnvelopeKmsKeys');
    expect(sorted(kms[0].Action)).toEqual(['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey']);
    expect(kms[0].Resource).toBe(KEY_ARN);
  });

  it("grants GenerateDataKey and Decrypt on an sse-kms key, which S3 uses on the caller's behalf", () => {
    const kms = kmsStatements(
      withEncryption(`mode: sse-kms\nkms_key_id: ${KEY_ARN}\nbucket_key_enabled: true`),
    );
    expect(kms).toHaveLength(1);
    expect(kms[0].Sid).toBe('SseKmsKeys');
    expect(sorted(kms[0].Action)).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    expect(kms[0].Resource).toBe(KEY_ARN);
  });

  it('grants no KMS permission for sse-kms under the AWS managed key aws/s3', () => {
    expect(kmsStatements(withEncryption('mode: sse-kms'))).toEqual([]);
  });

  it('grants no KMS permission for none, aes256-gcm-proxy or sse-s3', () => {
    expect(kmsStatements(withEncryption('mode: none'))).toEqual([]);
    expect(kmsStatements(withEncryption('mode: sse-s3'))).toEqual([]);
    expect(
      kmsStatements(
        withEncryption('mode: aes256-gcm-proxy\nkey: ${secretsmanager:sealgate/data-key}\nkey_id: data-1'),
      ),
    ).toEqual([]);
  });

  it('grants Decrypt only on legacy_kms_key_ids, and takes that deploy-only field out of the function config', () => {
    const config = withEncryption(`mode: none\nlegacy_kms_key_ids: [${KEY_ARN}]`);
    const kms = kmsStatements(config);
    expect(kms).toHaveLength(1);
    expect(kms[0]).toMatchObject({ Sid: 'LegacyKmsKeys', Action: 'kms:Decrypt', Resource: KEY_ARN });
    expect(deployConfigFromText('x.yaml', config).text).not.toContain('legacy_kms_key_ids');
  });

  it('grants each key once, with the most it needs', () => {
    const config = withEncryption(
      `mode: aws-kms-envelope\nkms_key_id: ${KEY_ARN}\nlegacy_kms_key_ids: [${KEY_ARN}, ${OTHER_KEY_ARN}]`,
    );
    const kms = kmsStatements(config);
    expect(kms.map((s) => [s.Sid, s.Resource])).toEqual([
      ['EnvelopeKmsKeys', KEY_ARN],
      ['LegacyKmsKeys', OTHER_KEY_ARN],
    ]);
  });

  it('grants the envelope key for an S3-compatible store, whose own keys AWS KMS would not accept', () => {
    const minio =
      '    endpoint: https://minio.example.com\n    access_key_id: minio\n    secret_access_key: ${secretsmanager:sealgate/minio}\n' +
      '    region: eu-west-1\n';
    const kms = kmsStatements(withEncryption(`mode: aws-kms-envelope\nkms_key_id: ${KEY_ARN}`, minio));
    expect(kms.map((s) => s.Sid)).toEqual(['EnvelopeKmsKeys']);
  });

  it('grants nothing for an AWS S3 backend with keys of its own, which sign its KMS calls', () => {
    const ownKeys =
      '    region: eu-west-1\n    access_key_id: AKOWN\n    secret_access_key: ${secretsmanager:sealgate/own}\n';
    expect(kmsStatements(withEncryption(`mode: aws-kms-envelope\nkms_key_id: ${KEY_ARN}`, ownKeys))).toEqual(
      [],
    );
    expect(() =>
      deployConfigFromText('x.yaml', withEncryption(`mode: none\nlegacy_kms_key_ids: [${KEY_ARN}]`, ownKeys)),
    ).toThrow(
      /backends\[0\]\.encryption\.legacy_kms_key_ids: this backend signs its S3 and KMS calls with its own/,
    );
  });

  it.each([
    ['an alias', 'alias/sealgate'],
    ['an alias ARN', 'arn:aws:kms:eu-west-1:111122223333:alias/sealgate'],
    ['a bare key id', '1234abcd-12ab-34cd-56ef-1234567890ab'],
  ])('refuses %s as the key to grant, asking for the key ARN', (_what, keyId) => {
    for (const mode of ['aws-kms-envelope', 'sse-kms']) {
      expect(() =>
        deployConfigFromText('x.yaml', withEncryption(`mode: ${mode}\nkms_key_id: ${keyId}`)),
      ).toThrow(/backends\[0\]\.encryption\.kms_key_id: must be a KMS key ARN .*aws kms describe-key/);
    }
    expect(() =>
      deployConfigFromText('x.yaml', withEncryption(`mode: none\nlegacy_kms_key_ids: [${keyId}]`)),
    ).toThrow(/backends\[0\]\.encryption\.legacy_kms_key_ids\[0\]: must be a KMS key ARN/);
  });

  it('refuses a key in another region than the one its backend calls KMS in', () => {
    const usKey = KEY_ARN.replace('eu-west-1', 'us-east-1');
    expect(() =>
      deployConfigFromText('x.yaml', withEncryption(`mode: aws-kms-envelope\nkms_key_id: ${usKey}`)),
    ).toThrow(/kms_key_id: names a key in us-east-1, but this backend calls KMS in .*eu-west-1/);
    expect(() =>
      deployConfigFromText('x.yaml', withEncryption(`mode: sse-kms\nkms_key_id: ${usKey}`)),
    ).toThrow(/kms_key_id: names a key in us-east-1, but S3 uses only keys in the bucket region, eu-west-1/);
    const kms = kmsStatements(
      withEncryption(`mode: aws-kms-envelope\nkms_key_id: ${usKey}\nkms_region: us-east-1`),
    );
    expect(kms[0].Resource).toBe(usKey);
  });
});

describe('gateway-held encryption keys', () => {
  const KEY = '${secretsmanager:sealgate/data-key}';
  const OLD_KEY = '${ssm:/sealgate/data-old-key}';
  const PROXY = withEncryption(
    `mode: aes256-gcm-proxy\nkey: ${KEY}\nkey_id: data-2\nlegacy_key: ${OLD_KEY}\nlegacy_key_id: data-1`,
  );

  it('hands the function key and legacy_key as the references, for it to resolve when it runs', () => {
    const variables = environment(synth(PROXY));
    const config = JSON.parse(variables.SEALGATE_INITIAL_CONFIG as string) as {
      backends: { encryption: Record<string, string> }[];
    };
    expect(config.backends[0].encryption).toMatchObject({ key: KEY, legacy_key: OLD_KEY });
    expect(JSON.stringify(variables)).not.toContain('resolve:');
  });

  it('writes no key material into the template, not even the synth-time placeholders', () => {
    const template = synth(PROXY);
    // The code asset's name is a 64-hex hash too, so the look for a key is limited to the environment.
    for (const value of Object.values(environment(template))) {
      if (typeof value === 'string') expect(value).not.toMatch(/[0-9a-f]{64}/i);
    }
    const text = JSON.stringify(template.toJSON());
    for (const reference of [KEY, OLD_KEY]) {
      expect(text).not.toContain(createHash('sha256').update(reference).digest('hex'));
    }
  });

  it('checks the config with a 64-hex placeholder per reference, the same for every use of it', () => {
    const deploy = deployConfigFromText('x.yaml', PROXY);
    const { current, legacy } = deploy.config.backends[0].encryption;
    expect(current?.key.toString('hex')).toBe(createHash('sha256').update(KEY).digest('hex'));
    expect(legacy?.key.toString('hex')).toBe(createHash('sha256').update(OLD_KEY).digest('hex'));
  });

  it.each([
    ['a key written out', 'key', 'a'.repeat(64), /a key written in the file would be stored in clear/],
    [
      'a key YAML reads as a number',
      'key',
      '1'.repeat(64),
      /a key written in the file would be stored in clear/,
    ],
    [
      'a reference inside other text',
      'key',
      'ab${secretsmanager:sealgate/data-key}',
      /a key written in the file/,
    ],
    ['an escaped reference', 'key', '$${secretsmanager:sealgate/data-key}', /a key written in the file/],
    [
      'an environment reference',
      'key',
      '${env:DATA_KEY}',
      /\$\{env:DATA_KEY\} would be read from the function's environment.*'\$\{secretsmanager:sealgate\/DATA_KEY\}'/,
    ],
    ['a reference with a default', 'key', `\${env:DATA_KEY:-${'a'.repeat(64)}}`, /has a default/],
    ['a variable Lambda sets', 'key', '${env:AWS_SECRET_ACCESS_KEY}', /a variable Lambda sets itself/],
    ['a legacy key written out', 'legacy_key', 'b'.repeat(64), /a key written in the file/],
    ['a key outside the secret prefix', 'key', '${secretsmanager:keys/data}', /outside the secret prefix/],
  ])('refuses %s, naming the field', (_what, field, value, problem) => {
    const encryption =
      field === 'key'
        ? `mode: aes256-gcm-proxy\nkey: ${value}\nkey_id: data-2`
        : `mode: none\nlegacy_key: ${value}\nlegacy_key_id: data-1`;
    const attempt = () => deployConfigFromText('x.yaml', withEncryption(encryption));
    expect(attempt).toThrow(new RegExp(`backends\\[0\\]\\.encryption\\.${field}: `));
    expect(attempt).toThrow(problem);
  });

  it('never puts the refused key in the error message', () => {
    const key = 'c'.repeat(64);
    const text = withEncryption(`mode: aes256-gcm-proxy\nkey: ${key}\nkey_id: data-2`);
    const error = (() => {
      try {
        deployConfigFromText('x.yaml', text);
      } catch (caught) {
        return caught as Error;
      }
      throw new Error('the literal key was accepted');
    })();
    expect(error.message).toMatch(/^config error at backends\[0\]\.encryption\.key: /);
    expect(error.message).not.toContain(key);
  });
});
