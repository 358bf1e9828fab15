import { resolve } from 'node:path';
import { Annotations, Aws, CfnOutput, Duration, Fn, SecretValue, Stack, type StackProps } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, FunctionUrlAuthType, InvokeMode, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { DeployConfig } from './deploy-config.js';

const ROOT = resolve(import.meta.dirname, '..');

/** Lambda's cap on a function's environment: every key and value together. */
const LAMBDA_ENVIRONMENT_BYTES = 4 * 1024;
/** A guess at a resolved secret's length, for the environment size check (the real value is unknown at synth). */
const SECRET_ALLOWANCE_BYTES = 128;

/** What the function may do on each routed AWS bucket (bucket ARN) and on its objects (`bucket/*`). */
const BUCKET_ACTIONS = [
  's3:ListBucket', // ListObjects, HeadBucket
  's3:ListBucketMultipartUploads',
  's3:CreateBucket',
  's3:DeleteBucket',
];
const OBJECT_ACTIONS = [
  's3:GetObject', // GetObject, HeadObject, CopyObject's source
  's3:PutObject', // PutObject, CopyObject, CreateMultipartUpload, UploadPart, CompleteMultipartUpload
  's3:DeleteObject',
  's3:AbortMultipartUpload',
  's3:ListMultipartUploadParts',
  // CopyObject copies the source's tags, which needs these when the source (written by another tool) has any.
  's3:GetObjectTagging',
  's3:PutObjectTagging',
];

/**
 * KMS actions by what the function does with a key: the envelope's own calls; the calls S3 makes on the
 * caller's behalf for SSE-KMS (GenerateDataKey for writes and multipart parts, Decrypt for reads, copies
 * and multipart uploads); reading objects under an earlier key.
 */
const ENVELOPE_KMS_ACTIONS = ['kms:GenerateDataKey', 'kms:Decrypt', 'kms:Encrypt'];
const SSE_KMS_ACTIONS = ['kms:GenerateDataKey', 'kms:Decrypt'];
const DECRYPT_ONLY_KMS_ACTIONS = ['kms:Decrypt'];

export interface SealgateStackProps extends StackProps {
  /** The gateway config to deploy (see lib/deploy-config.ts). */
  deploy: DeployConfig;
  /** Secrets Manager name prefix for `${env:NAME}` references: NAME is read from the secret `<prefix>NAME`. */
  secretPrefix: string;
  logRetention: RetentionDays;
  memorySize?: number;
}

/**
 * The gateway behind a Lambda function URL (RESPONSE_STREAM, auth NONE: clients authenticate with SigV4
 * against the gateway's own credentials), with IAM scoped to the configured AWS buckets.
 */
export class SealgateStack extends Stack {
  constructor(scope: Construct, id: string, props: SealgateStackProps) {
    super(scope, id, props);
    const { deploy } = props;

    const logGroup = new LogGroup(this, 'GatewayLogs', { retention: props.logRetention });
    // An explicit role, so that even the log permissions name their resource (the managed
    // AWSLambdaBasicExecutionRole grants them on every log group).
    const role = new Role(this, 'GatewayRole', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: 'Sealgate gateway function: its log group, the configured backend buckets and KMS keys',
    });
    logGroup.grantWrite(role);

    const environment: Record<string, string> = {
      SEALGATE_CONFIG: deploy.text,
      SEALGATE_LOG_LEVEL: 'info',
      NODE_OPTIONS: '--enable-source-maps',
    };
    for (const name of deploy.references) {
      environment[name] = SecretValue.secretsManager(`${props.secretPrefix}${name}`).unsafeUnwrap();
    }
    checkEnvironmentSize(environment, deploy.references);

    const gateway = new NodejsFunction(this, 'Gateway', {
      entry: resolve(ROOT, 'functions/handlers/lambda.ts'),
      handler: 'handler',
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 1024,
      // A function URL invocation may last at most 15 minutes; a ranged GET of 200 MB at 2 MB/s takes ~100 s.
      timeout: Duration.minutes(15),
      role,
      logGroup,
      environment,
      description: 'Sealgate S3 gateway (function URL, response streaming)',
      projectRoot: ROOT,
      depsLockFilePath: resolve(ROOT, 'package-lock.json'),
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: 'node22',
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // Bundle the AWS SDK too: the function runs the version the tests ran, not the runtime's.
        externalModules: [],
        // Some CommonJS dependencies call require() for Node built-ins; an ESM bundle needs one made for it.
        banner:
          "import { createRequire as sealgateCreateRequire } from 'node:module'; const require = sealgateCreateRequire(import.meta.url);",
      },
    });

    if (deploy.awsBuckets.length > 0) {
      role.addToPrincipalPolicy(
        new PolicyStatement({
          sid: 'BackendBuckets',
          actions: BUCKET_ACTIONS,
          resources: deploy.awsBuckets.map((b) => `arn:${Aws.PARTITION}:s3:::${b}`),
        }),
      );
      role.addToPrincipalPolicy(
        new PolicyStatement({
          sid: 'BackendObjects',
          actions: OBJECT_ACTIONS,
          resources: deploy.awsBuckets.map((b) => `arn:${Aws.PARTITION}:s3:::${b}/*`),
        }),
      );
    }
    if (deploy.awsBuckets.length > 0 || deploy.defaultBackendIsAws) {
      // ListBuckets lists the default backend's buckets, and the S3 backend reads a bucket's creation date from
      // it too; S3 grants s3:ListAllMyBuckets only on "*" (it reveals bucket names, nothing inside them).
      role.addToPrincipalPolicy(
        new PolicyStatement({ sid: 'ListBuckets', actions: ['s3:ListAllMyBuckets'], resources: ['*'] }),
      );
    }
    const kmsStatements: [string, string[], string[]][] = [
      ['EnvelopeKmsKeys', ENVELOPE_KMS_ACTIONS, deploy.kmsKeys.envelope],
      ['SseKmsKeys', SSE_KMS_ACTIONS, deploy.kmsKeys.sseKms],
      ['LegacyKmsKeys', DECRYPT_ONLY_KMS_ACTIONS, deploy.kmsKeys.decryptOnly],
    ];
    for (const [sid, actions, keys] of kmsStatements) {
      if (keys.length > 0) role.addToPrincipalPolicy(new PolicyStatement({ sid, actions, resources: keys }));
    }
    if (deploy.defaultBackendIsAws) {
      Annotations.of(this).addWarningV2(
        'sealgate:unroutedBuckets',
        `The default backend "${deploy.config.defaultBackend}" is AWS S3: the function can reach only the buckets ` +
          'routed under "buckets:" in the config; CreateBucket and any other bucket name get AccessDenied.',
      );
    }

    const url = gateway.addFunctionUrl({
      authType: FunctionUrlAuthType.NONE,
      invokeMode: InvokeMode.RESPONSE_STREAM,
    });
    // The URL ends with "/"; S3 clients want the endpoint without it.
    const endpoint = `https://${Fn.select(2, Fn.split('/', url.url))}`;
    new CfnOutput(this, 'Endpoint', {
      value: endpoint,
      description: 'The S3 endpoint (path-style addressing only)',
    });
    new CfnOutput(this, 'AwsCliSetup', {
      description: 'Paste into a shell: an aws-cli/boto3 profile "sealgate" for this endpoint',
      value:
        `aws configure set profile.sealgate.endpoint_url ${endpoint} && ` +
        `aws configure set profile.sealgate.region ${Aws.REGION} && ` +
        'aws configure set profile.sealgate.s3.addressing_style path',
    });
    new CfnOutput(this, 'SdkClientConfig', {
      description: 'S3Client options for the AWS SDK for JavaScript v3',
      value: `{"endpoint":"${endpoint}","region":"${Aws.REGION}","forcePathStyle":true}`,
    });
  }
}

function checkEnvironmentSize(environment: Record<string, string>, secrets: string[]): void {
  let bytes = 0;
  for (const [name, value] of Object.entries(environment)) {
    bytes +=
      Buffer.byteLength(name) + (secrets.includes(name) ? SECRET_ALLOWANCE_BYTES : Buffer.byteLength(value));
  }
  if (bytes > LAMBDA_ENVIRONMENT_BYTES) {
    throw new Error(
      `the function's environment would be about ${bytes} bytes, above Lambda's 4 KB: the config travels in ` +
        'SEALGATE_CONFIG, so shorten it (fewer comments do not help: it is sent as compact JSON; fewer credentials do)',
    );
  }
}
