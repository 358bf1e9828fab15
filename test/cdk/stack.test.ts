/**
 * The deployable stack, checked on its synthesized CloudFormation template (see ./synth.ts). Encryption keys
 * and KMS grants are in ./encryption.test.ts.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { deployConfigFromText, readDeployConfig } from '../../lib/deploy-config.js';
import { environment, statements, synth as synthConfig } from './synth.js';

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
    secret_access_key: \${env:MINIO_SECRET}
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
    secret_access_key: \${env:ADMIN_SECRET}
    admin: true
  - access_key_id: SGREADER
    secret_access_key: \${env:READER_SECRET:-unused-default}
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

  it('runs the handler on nodejs22.x, arm64, with the config in its environment', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Timeout: 900,
      Environment: {
        Variables: Match.objectLike({
          SEALGATE_CONFIG: Match.stringLikeRegexp('"secret_access_key":"\\$\\{env:ADMIN_SECRET\\}"'),
        }),
      },
    });
  });

  it('reads each required secret from Secrets Manager, never writing its value into the template', () => {
    const variables = environment(template);
    expect(variables.ADMIN_SECRET).toBe('{{resolve:secretsmanager:sealgate/ADMIN_SECRET:SecretString:::}}');
    expect(variables.MINIO_SECRET).toBe('{{resolve:secretsmanager:sealgate/MINIO_SECRET:SecretString:::}}');
    // A reference with a default needs no secret.
    expect(variables.READER_SECRET).toBeUndefined();
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

  it('outputs the endpoint and a ready-to-paste path-style client configuration', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining(['Endpoint', 'AwsCliSetup', 'SdkClientConfig']),
    );
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
    secret_access_key: \${env:MINIO_SECRET}
credentials:
  - access_key_id: SGADMIN
    secret_access_key: \${env:ADMIN_SECRET}
    admin: true
`;
    const actions = statements(synth(minioOnly)).flatMap((s) => ([] as string[]).concat(s.Action));
    expect(actions.filter((a) => a.startsWith('s3:'))).toEqual([]);
    expect(actions).toContain('logs:PutLogEvents');
  });

  it('refuses a config too big for the Lambda environment', () => {
    const many = Array.from(
      { length: 60 },
      (_, i) => `  - access_key_id: SGUSER${i}\n    secret_access_key: a-long-enough-inline-secret-${i}\n`,
    ).join('');
    expect(() => synth(CONFIG + many)).toThrow(/above Lambda's 4 KB/);
  });
});

describe('the deploy config', () => {
  it('accepts the example config shipped in deploy/', () => {
    const deploy = readDeployConfig('deploy/sealgate.example.yaml');
    expect(deploy.awsBuckets).toEqual(['example-sealgate-archive', 'example-sealgate-data']);
    expect(deploy.references).toEqual(['SEALGATE_ADMIN_SECRET', 'SEALGATE_ARCHIVE_KEY']);
    expect(deploy.kmsKeys.envelope).toEqual([
      'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    ]);
  });

  it('refuses a filesystem backend, whose disk on Lambda is temporary', () => {
    const text =
      'backends:\n  - name: local\n    type: filesystem\n    path: /data\ncredentials:\n  - access_key_id: SGA\n    secret_access_key: secret-secret\n';
    expect(() => deployConfigFromText('x.yaml', text)).toThrow(
      /backends\[0\]\.type: a filesystem backend cannot run on Lambda/,
    );
  });

  it('refuses an env reference where the stack needs a literal value to scope IAM', () => {
    const text = CONFIG.replace('backend_bucket: corp-photos-prod', 'backend_bucket: ${env:PHOTOS_BUCKET}');
    expect(() => deployConfigFromText('x.yaml', text)).toThrow(
      /buckets\[0\]\.backend_bucket: \$\{env:PHOTOS_BUCKET\} cannot be resolved at deploy time/,
    );
  });

  it('leaves variables Lambda sets itself to Lambda', () => {
    const deploy = deployConfigFromText(
      'x.yaml',
      CONFIG.replace('region: eu-west-1', 'region: ${env:AWS_REGION}'),
    );
    expect(deploy.references).toEqual(['ADMIN_SECRET', 'MINIO_SECRET']);
  });

  it('passes the config to the function as written, references unresolved', () => {
    const deploy = deployConfigFromText('x.yaml', CONFIG);
    expect(JSON.parse(deploy.text)).toMatchObject({
      credentials: [{ secret_access_key: '${env:ADMIN_SECRET}' }, {}],
    });
  });
});
