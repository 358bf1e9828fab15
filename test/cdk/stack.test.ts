/**
 * The deployable stack, checked on its synthesized CloudFormation template (see ./synth.ts). The config
 * table is in ./config-table.test.ts, secret references and their IAM in ./secrets.test.ts, encryption
 * keys and KMS grants in ./encryption.test.ts.
 */
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { deployConfigFromText, readDeployConfig } from '../../lib/deploy-config.js';
import { environment, statements, synth as synthConfig, synthStack } from './synth.js';

const CONFIG = `
backends:
  - name: aws
    type: s3
    region: eu-west-1
  - name: archive
    type: s3
  - name: minio
    type: s3
    endpoint: https://minio.example.com
    access_key_id: minio-user
    secret_access_key: \${secretsmanager:sealgate/minio}
default_backend: aws
buckets:
  - name: photos
    backend: aws
    backend_bucket: corp-photos-prod
  - name: cold
    backend: archive
  - name: scratch
    backend: minio
credentials:
  - access_key_id: SGADMIN
    secret_access_key: \${secretsmanager:sealgate/admin}
    admin: true
  - access_key_id: SGREADER
    secret_access_key: \${ssm:/sealgate/reader}
    grants:
      - bucket: photos
        access: [read]
`;

const synth = (configText = CONFIG) => synthConfig(configText);

/** `arn:${Partition}:s3:::name` as the template writes it. */
function s3Arn(resource: string) {
  return { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:s3:::${resource}`]] };
}

describe('the Sealgate stack', () => {
  const template = synth();

  it('serves the gateway from a function URL in RESPONSE_STREAM mode with auth type NONE', () => {
    template.resourceCountIs('AWS::Lambda::Url', 1);
    template.hasResourceProperties('AWS::Lambda::Url', { InvokeMode: 'RESPONSE_STREAM', AuthType: 'NONE' });
    // Public URLs need both permissions since October 2025.
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunctionUrl',
      Principal: '*',
      FunctionUrlAuthType: 'NONE',
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: '*',
    });
  });

  it('runs the handler on nodejs22.x, arm64, with the config table and the initial config in its environment', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Timeout: 900,
    });
    const [table] = Object.keys(template.findResources('AWS::DynamoDB::Table'));
    const variables = environment(template);
    expect(Object.keys(variables).sort()).toEqual([
      'NODE_OPTIONS',
      'SEALGATE_CONFIG_TABLE',
      'SEALGATE_INITIAL_CONFIG',
      'SEALGATE_JOB_STATE_MACHINE',
      'SEALGATE_LOG_LEVEL',
      'SEALGATE_METRICS',
    ]);
    expect(variables.SEALGATE_CONFIG_TABLE).toEqual({ Ref: table });
    expect(variables.SEALGATE_LOG_LEVEL).toBe('info');
    expect(variables.SEALGATE_METRICS).toBe('emf');
  });

  it('seeds the table with the config as written, its secret references unresolved', () => {
    const initial = JSON.parse(environment(template).SEALGATE_INITIAL_CONFIG as string) as unknown;
    expect(initial).toEqual(parseYaml(CONFIG));
    expect(initial).toMatchObject({
      backends: [{}, {}, { secret_access_key: '${secretsmanager:sealgate/minio}' }],
      credentials: [
        { secret_access_key: '${secretsmanager:sealgate/admin}' },
        { secret_access_key: '${ssm:/sealgate/reader}' },
      ],
    });
  });

  it('names the routed AWS buckets in IAM, and no bucket reached with keys of its own', () => {
    const all = statements(template);
    const buckets = all.find((s) => s.Sid === 'BackendBuckets')!;
    const objects = all.find((s) => s.Sid === 'BackendObjects')!;
    expect(buckets.Resource).toEqual([s3Arn('cold'), s3Arn('corp-photos-prod')]);
    expect(objects.Resource).toEqual([s3Arn('cold/*'), s3Arn('corp-photos-prod/*')]);
    expect(JSON.stringify(all)).not.toContain('scratch');
  });

  it('gives no IAM statement "*" as its resource except ListAllMyBuckets, which S3 only grants on "*"', () => {
    const all = statements(template);
    expect(all.length).toBeGreaterThan(0);
    for (const statement of all) {
      const resources = ([] as unknown[]).concat(statement.Resource);
      const actions = ([] as string[]).concat(statement.Action);
      expect(actions.some((a) => a === '*' || a === 's3:*')).toBe(false);
      if (resources.includes('*')) expect(actions).toEqual(['s3:ListAllMyBuckets']);
    }
  });

  it('writes logs to its own log group with a retention, with permissions on that group only', () => {
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 14 });
    const [logGroup] = Object.keys(template.findResources('AWS::Logs::LogGroup'));
    template.hasResourceProperties('AWS::Lambda::Function', {
      LoggingConfig: { LogGroup: { Ref: logGroup } },
    });
    const logs = statements(template).find((s) =>
      ([] as string[]).concat(s.Action).includes('logs:PutLogEvents'),
    )!;
    expect(logs.Resource).toEqual({ 'Fn::GetAtt': [logGroup, 'Arn'] });
    template.hasResourceProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
  });

  it('outputs the endpoint, the config table and a ready-to-paste path-style client configuration', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining(['Endpoint', 'ConfigTable', 'AwsCliSetup', 'SdkClientConfig']),
    );
    const [table] = Object.keys(template.findResources('AWS::DynamoDB::Table'));
    expect(outputs.ConfigTable.Value).toEqual({ Ref: table });
    expect(JSON.stringify(outputs.AwsCliSetup.Value)).toContain('s3.addressing_style path');
    expect(JSON.stringify(outputs.SdkClientConfig.Value)).toContain('forcePathStyle');
    expect(JSON.stringify(outputs.Endpoint.Value)).toContain('FunctionUrl');
  });

  it('grants no S3 permission at all when no bucket is reached with the function role', () => {
    const minioOnly = `
backends:
  - name: minio
    type: s3
    endpoint: https://minio.example.com
    access_key_id: minio-user
    secret_access_key: \${secretsmanager:sealgate/minio}
credentials:
  - access_key_id: SGADMIN
    secret_access_key: \${secretsmanager:sealgate/admin}
    admin: true
`;
    const actions = statements(synth(minioOnly)).flatMap((s) => ([] as string[]).concat(s.Action));
    expect(actions.filter((a) => a.startsWith('s3:'))).toEqual([]);
    expect(actions).toContain('logs:PutLogEvents');
  });

  it('refuses an initial config too big for the Lambda environment, saying to apply the rest after the deploy', () => {
    const many = Array.from(
      { length: 40 },
      (_, i) =>
        `  - access_key_id: SGUSER${i}\n    secret_access_key: \${secretsmanager:sealgate/user-${i}}\n    admin: true\n`,
    ).join('');
    const attempt = () => synth(CONFIG + many);
    expect(attempt).toThrow(/above Lambda's 4 KB: the initial config travels in SEALGATE_INITIAL_CONFIG/);
    expect(attempt).toThrow(
      /Deploy a smaller initial config .* apply the full one with `sealgate config apply`/,
    );
    expect(() =>
      synth(
        CONFIG +
          many
            .split('\n')
            .slice(0, 3 * 10)
            .join('\n'),
      ),
    ).not.toThrow();
  });

  it('shows what validation warns about as synth warnings', () => {
    const idle = CONFIG.replace(
      /  - access_key_id: SGREADER[\s\S]*$/,
      '  - access_key_id: SGIDLE\n    secret_access_key: ${secretsmanager:sealgate/idle}\n    grants: []\n',
    );
    Annotations.fromStack(synthStack(idle)).hasWarning(
      '*',
      Match.stringLikeRegexp('credentials\\[1\\].*may do nothing'),
    );
  });
});

describe('the deploy config', () => {
  it('accepts the example config shipped in deploy/', () => {
    const deploy = readDeployConfig('deploy/sealgate.example.yaml');
    expect(deploy.awsBuckets).toEqual(['example-sealgate-archive', 'example-sealgate-data']);
    expect(deploy.secrets).toEqual({
      secretsManager: ['sealgate/admin', 'sealgate/archive-key'],
      ssmParameters: [],
    });
    expect(deploy.kmsKeys.envelope).toEqual([
      'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    ]);
  });

  it('refuses a filesystem backend, whose disk on Lambda is temporary', () => {
    const text =
      'backends:\n  - name: local\n    type: filesystem\n    path: /data\ncredentials:\n  - access_key_id: SGA\n    secret_access_key: ${secretsmanager:sealgate/a}\n    admin: true\n';
    expect(() => deployConfigFromText('x.yaml', text)).toThrow(
      /backends\[0\]\.type: a filesystem backend cannot run on Lambda/,
    );
  });

  it('refuses a reference where the stack needs a literal value to scope IAM', () => {
    for (const reference of ['${env:PHOTOS_BUCKET}', '${ssm:/sealgate/photos-bucket}']) {
      const text = CONFIG.replace('backend_bucket: corp-photos-prod', `backend_bucket: ${reference}`);
      expect(() => deployConfigFromText('x.yaml', text)).toThrow(
        /buckets\[0\]\.backend_bucket: \$\{(env|ssm):[^}]+\} cannot stand here: the stack needs this value written out at synth time/,
      );
    }
  });

  it('leaves variables Lambda sets itself to Lambda', () => {
    const deploy = deployConfigFromText(
      'x.yaml',
      CONFIG.replace('region: eu-west-1', 'region: ${env:AWS_REGION}'),
    );
    expect(JSON.parse(deploy.text)).toMatchObject({ backends: [{ region: '${env:AWS_REGION}' }, {}, {}] });
  });

  it('refuses an environment variable of its own outside secret fields too: the stack sets none', () => {
    const text = CONFIG.replace('access_key_id: minio-user', 'access_key_id: ${env:MINIO_USER}');
    expect(() => deployConfigFromText('x.yaml', text)).toThrow(
      /backends\[2\]\.access_key_id: \$\{env:MINIO_USER\} is not set in the function's environment/,
    );
  });

  it('refuses a malformed reference, naming the field', () => {
    const text = CONFIG.replace('${secretsmanager:sealgate/admin}', '${vault:sealgate/admin}');
    expect(() => deployConfigFromText('x.yaml', text)).toThrow(
      /credentials\[0\]\.secret_access_key: unknown reference scheme "vault"/,
    );
  });

  it('lists the secrets and parameters the function reads when it runs', () => {
    const deploy = deployConfigFromText(
      'x.yaml',
      CONFIG.replace('${secretsmanager:sealgate/minio}', '${secretsmanager:sealgate/minio#secret}'),
    );
    expect(deploy.secrets).toEqual({
      secretsManager: ['sealgate/admin', 'sealgate/minio'],
      ssmParameters: ['/sealgate/reader'],
    });
  });
});
