/**
 * Secrets in the deployed stack: they stay references to Secrets Manager or SSM, resolved by the function
 * when it runs, so no secret reaches the template, the cloud assembly or the function's environment; and
 * the role may read exactly the secrets under the prefix.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { deployConfigFromText } from '../../lib/deploy-config.js';
import { environment, statements, synth, synthAssembly } from './synth.js';

const CONFIG = `
backends:
  - name: aws
    type: s3
    region: eu-west-1
  - name: minio
    type: s3
    endpoint: https://minio.example.com
    access_key_id: minio-user
    secret_access_key: \${ssm:/sealgate/minio}
buckets:
  - name: photos
    backend: aws
  - name: scratch
    backend: minio
credentials:
  - access_key_id: SGADMIN
    secret_access_key: \${secretsmanager:sealgate/admin}
    admin: true
  - access_key_id: SGREADER
    secret_access_key: \${secretsmanager:sealgate/readers#reader}
    grants:
      - bucket: photos
        access: [read]
`;

const REFERENCES = [
  '${ssm:/sealgate/minio}',
  '${secretsmanager:sealgate/admin}',
  '${secretsmanager:sealgate/readers#reader}',
];

/** A value a secret could have; the synth process sees it under the names an environment-based stack used. */
const KNOWN_SECRET = 'sg-test-secret-4f9c2a7e1b';

/** `arn:${Partition}:<service>:${Region}:${AccountId}:<resource>` as the template writes it. */
function regionalArn(service: string, resource: string) {
  return {
    'Fn::Join': [
      '',
      [
        'arn:',
        { Ref: 'AWS::Partition' },
        `:${service}:`,
        { Ref: 'AWS::Region' },
        ':',
        { Ref: 'AWS::AccountId' },
        `:${resource}`,
      ],
    ],
  };
}

/** The message of what `attempt` throws (it must throw). */
function messageOf(attempt: () => unknown): string {
  try {
    attempt();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('secrets in the deployed stack', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('appear nowhere in the template or the cloud assembly, not even as a dynamic reference or placeholder', () => {
    for (const name of ['ADMIN_SECRET', 'MINIO_SECRET', 'READER_SECRET', 'SEALGATE_ADMIN_SECRET']) {
      vi.stubEnv(name, KNOWN_SECRET);
    }
    const files = synthAssembly(CONFIG);
    const template = [...files].find(([name]) => name.endsWith('.template.json'));
    expect(template).toBeDefined();
    // The references themselves are there: the search looks at the files that carry the config.
    expect(template![1]).toContain('${secretsmanager:sealgate/admin}');
    for (const [name, text] of files) {
      expect(text, name).not.toContain(KNOWN_SECRET);
      expect(text, name).not.toContain('{{resolve:');
      for (const reference of REFERENCES) {
        expect(text, name).not.toContain(createHash('sha256').update(reference).digest('hex'));
      }
    }
  });

  it('leave the function environment without a variable per secret', () => {
    const variables = environment(synth(CONFIG));
    expect(Object.keys(variables).sort()).toEqual([
      'NODE_OPTIONS',
      'SEALGATE_CONFIG_TABLE',
      'SEALGATE_INITIAL_CONFIG',
      'SEALGATE_JOB_STATE_MACHINE',
      'SEALGATE_LOG_LEVEL',
      'SEALGATE_METRICS',
    ]);
    const initial = variables.SEALGATE_INITIAL_CONFIG as string;
    for (const reference of REFERENCES) expect(initial).toContain(reference);
    // The job tasks run on the same config, and nothing more secret.
    expect(Object.keys(environment(synth(CONFIG), 'JobTask')).sort()).toEqual([
      'NODE_OPTIONS',
      'SEALGATE_CONFIG_TABLE',
      'SEALGATE_INITIAL_CONFIG',
      'SEALGATE_JOB_BUDGET_MS',
      'SEALGATE_JOB_WRITE_BOUND_MS',
      'SEALGATE_LOG_LEVEL',
    ]);
  });

  it('may be read by the role under the prefix only: Secrets Manager names and SSM parameter paths', () => {
    const all = statements(synth(CONFIG));
    expect(all.find((s) => s.Sid === 'Secrets')).toMatchObject({
      Action: 'secretsmanager:GetSecretValue',
      Resource: regionalArn('secretsmanager', 'secret:sealgate/*'),
    });
    expect(all.find((s) => s.Sid === 'SecretParameters')).toMatchObject({
      Action: 'ssm:GetParameter',
      Resource: regionalArn('ssm', 'parameter/sealgate/*'),
    });
    const actions = all.flatMap((s) => ([] as string[]).concat(s.Action));
    expect(actions.filter((a) => a.startsWith('secretsmanager:'))).toEqual(['secretsmanager:GetSecretValue']);
    expect(actions.filter((a) => a.startsWith('ssm:'))).toEqual(['ssm:GetParameter']);
  });

  it('name their resources in every statement on the table, secrets and parameters', () => {
    for (const statement of statements(synth(CONFIG))) {
      const actions = ([] as string[]).concat(statement.Action);
      if (!actions.some((a) => /^(dynamodb|secretsmanager|ssm):/.test(a))) continue;
      expect(actions.some((a) => a.endsWith(':*'))).toBe(false);
      const resources = ([] as unknown[]).concat(statement.Resource);
      expect(resources).toHaveLength(1);
      expect(resources[0]).not.toBe('*');
      expect(JSON.stringify(resources[0])).toMatch(
        /ConfigTable|:secret:sealgate\/\*|:parameter\/sealgate\/\*/,
      );
    }
  });

  it('follow the secretPrefix context, in IAM and in the check of each reference', () => {
    const prefixed = CONFIG.replaceAll('sealgate/', 'prod/sealgate/');
    const all = statements(synth(prefixed, { secretPrefix: 'prod/sealgate/' }));
    expect(all.find((s) => s.Sid === 'Secrets')!.Resource).toEqual(
      regionalArn('secretsmanager', 'secret:prod/sealgate/*'),
    );
    expect(all.find((s) => s.Sid === 'SecretParameters')!.Resource).toEqual(
      regionalArn('ssm', 'parameter/prod/sealgate/*'),
    );
    expect(() => deployConfigFromText('x.yaml', CONFIG, { secretPrefix: 'prod/sealgate/' })).toThrow(
      /outside the secret prefix "prod\/sealgate\/"/,
    );
  });

  it.each(['sealgate', '/sealgate/', 'sealgate/*', ''])('refuses the secret prefix %j', (prefix) => {
    expect(() => deployConfigFromText('x.yaml', CONFIG, { secretPrefix: prefix })).toThrow(
      /-c secretPrefix: ".*" must be a path ending in "\/"/,
    );
  });
});

describe('secret references in a deployed config', () => {
  const withAdminSecret = (value: string) => CONFIG.replace('${secretsmanager:sealgate/admin}', value);

  it('refuse ${env:NAME} in a secret field, saying to write a Secrets Manager reference instead', () => {
    const attempt = () => deployConfigFromText('x.yaml', withAdminSecret('${env:ADMIN_SECRET}'));
    expect(attempt).toThrow(
      /credentials\[0\]\.secret_access_key: \$\{env:ADMIN_SECRET\} would be read from the function's environment, which holds no secrets/,
    );
    expect(attempt).toThrow(/write '\$\{secretsmanager:sealgate\/ADMIN_SECRET\}'/);
  });

  it('refuse ${env:NAME:-default} in a secret field without showing the default', () => {
    const attempt = () =>
      deployConfigFromText('x.yaml', withAdminSecret(`\${env:ADMIN_SECRET:-${KNOWN_SECRET}}`));
    expect(attempt).toThrow(/\$\{env:ADMIN_SECRET:-\.\.\.\} has a default/);
    expect(messageOf(attempt)).not.toContain(KNOWN_SECRET);
  });

  it('refuse a secret written out, which would sit in clear in the environment and the table', () => {
    const attempt = () => deployConfigFromText('x.yaml', withAdminSecret(KNOWN_SECRET));
    expect(attempt).toThrow(
      /credentials\[0\]\.secret_access_key: a secret written in the file would be stored in clear/,
    );
    expect(messageOf(attempt)).not.toContain(KNOWN_SECRET);
  });

  it.each([
    [
      'a Secrets Manager secret',
      '${secretsmanager:other/admin}',
      /outside the secret prefix "sealgate\/".*Secrets Manager secrets whose names start with sealgate\//,
    ],
    [
      'an SSM parameter',
      '${ssm:/other/admin}',
      /outside the secret prefix "sealgate\/".*SSM parameters under \/sealgate\//,
    ],
    [
      'an SSM parameter without its leading /',
      '${ssm:sealgate/admin}',
      /outside the secret prefix "sealgate\/"/,
    ],
    ['the prefix itself', '${secretsmanager:sealgate/}', /outside the secret prefix "sealgate\/"/],
  ])('refuse %s outside the prefix, which the role could not read', (_what, reference, problem) => {
    expect(() => deployConfigFromText('x.yaml', withAdminSecret(reference))).toThrow(
      /credentials\[0\]\.secret_access_key: /,
    );
    expect(() => deployConfigFromText('x.yaml', withAdminSecret(reference))).toThrow(problem);
  });

  it('refuse a secret named by ARN, asking for its name under the prefix', () => {
    const arn =
      '${secretsmanager:arn:aws:secretsmanager:eu-west-1:111122223333:secret:sealgate/admin-AbCdEf}';
    expect(() => deployConfigFromText('x.yaml', withAdminSecret(arn))).toThrow(
      /names an ARN: write the name \(sealgate\/\.\.\.\)/,
    );
  });

  it('accept a field of a JSON secret and a versioned SSM parameter under the prefix', () => {
    for (const reference of ['${secretsmanager:sealgate/admin#secret}', '${ssm:/sealgate/admin:3}']) {
      expect(() => deployConfigFromText('x.yaml', withAdminSecret(reference))).not.toThrow();
    }
  });
});
