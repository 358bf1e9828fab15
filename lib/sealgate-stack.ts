import { resolve } from 'node:path';
import {
  Annotations,
  ArnFormat,
  Aws,
  CfnOutput,
  Duration,
  Fn,
  RemovalPolicy,
  Stack,
  Token,
  Validations,
  type CfnElement,
  type StackProps,
} from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key, type IKey } from 'aws-cdk-lib/aws-kms';
import { Architecture, FunctionUrlAuthType, InvokeMode, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct, IConstruct } from 'constructs';
import { formatProblem } from '../functions/core/config/problems.js';
import { jobStateMachineDefinition } from '../functions/core/jobs/state-machine.js';
import { ConfigTable } from './config-table.js';
import { ContainerDataPlane, type ContainerDataPlaneOptions } from './container-data-plane.js';
import { Observability } from './observability.js';
import type { DeployConfig } from './deploy-config.js';
import { keyArn } from './kms-grants.js';

const ROOT = resolve(import.meta.dirname, '..');

/** Lambda's cap on a function's environment: every key and value together. */
const LAMBDA_ENVIRONMENT_BYTES = 4 * 1024;
/** What the size check counts for a value unknown at synth (the table's name): DynamoDB's longest table name. */
const UNRESOLVED_ALLOWANCE_BYTES = 255;

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
  /**
   * The gateway config to deploy (see lib/deploy-config.ts): it seeds the config table, and the role may
   * read the secrets under its `secretPrefix`.
   */
  deploy: DeployConfig;
  logRetention: RetentionDays;
  memorySize?: number;
  /** The ARN of a customer managed KMS key for the config table (default: the AWS managed key aws/dynamodb). */
  configTableKeyArn?: string;
  /**
   * A KMS key of the deployment: `create` has the stack make one (rotation on, kept when the stack is
   * deleted), an ARN imports an existing one. The functions may use it for `aws-kms-envelope`
   * (GenerateDataKey, Decrypt, Encrypt), so a config applied after the deploy can name it (output
   * `KmsKeyArn`) without another deploy; the config table is encrypted under it unless `configTableKeyArn`
   * names another. Default: none.
   */
  kmsKey?: string;
  /** The container data plane for large transfers (lib/container-data-plane.ts); off by default. */
  containerDataPlane?: ContainerDataPlaneOptions;
  /** An email address subscribed to the alarm topic (it confirms the subscription by mail). */
  alarmEmail?: string;
}

/**
 * The gateway behind a Lambda function URL (RESPONSE_STREAM, auth NONE: clients authenticate with SigV4
 * against the gateway's own credentials), with its config table, and IAM scoped to that table, the secrets
 * under the prefix, and the configured AWS buckets and KMS keys.
 *
 * No secret passes through the stack: the function's environment carries the table's name and the initial
 * config with its secret references as written, and the function resolves them from Secrets Manager or SSM
 * when it runs.
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
      description:
        'Sealgate gateway function: its log group and config table, secrets under its prefix, the configured backend buckets and KMS keys',
    });
    logGroup.grantWrite(role);

    const stackKey = this.deploymentKey(props.kmsKey);
    // The stack's own key, which every function may use for envelope encryption.
    const envelopeKeys = stackKey ? [stackKey.keyArn] : [];
    const configTable = new ConfigTable(this, 'Config', {
      encryptionKey:
        props.configTableKeyArn === undefined
          ? stackKey
          : Key.fromKeyArn(this, 'ConfigTableKey', keyArn(props.configTableKeyArn, '-c configTableKeyArn')),
    });
    configTable.grantGateway(role);

    const environment: Record<string, string> = {
      SEALGATE_CONFIG_TABLE: configTable.tableName,
      SEALGATE_INITIAL_CONFIG: deploy.text,
      SEALGATE_LOG_LEVEL: 'info',
      // The core's metrics as embedded metric format records in the log (lib/observability.ts reads them).
      SEALGATE_METRICS: 'emf',
      NODE_OPTIONS: '--enable-source-maps',
    };
    checkEnvironmentSize(environment);

    const gateway = new NodejsFunction(this, 'Gateway', {
      ...bundledFunction('functions/handlers/lambda.ts'),
      memorySize: props.memorySize ?? 1024,
      // A function URL invocation may last at most 15 minutes; a ranged GET of 200 MB at 2 MB/s takes ~100 s.
      timeout: Duration.minutes(15),
      role,
      logGroup,
      environment,
      description: 'Sealgate S3 gateway (function URL, response streaming)',
    });
    acknowledgeRuntime(gateway);

    grantDataAccess(role, deploy, envelopeKeys);

    for (const warning of deploy.warnings) {
      Annotations.of(this).addWarningV2(`sealgate:config:${warning.path}`, formatProblem(warning));
    }
    if (deploy.defaultBackendIsAws) {
      Annotations.of(this).addWarningV2(
        'sealgate:unroutedBuckets',
        `The default backend "${deploy.config.defaultBackend}" is AWS S3: the function can reach only the buckets ` +
          'routed under "buckets:" in the config; CreateBucket and any other bucket name get AccessDenied.',
      );
    }

    const { machine: jobs, task: jobTask } = this.jobs(
      props,
      configTable,
      environment,
      gateway.timeout ?? Duration.minutes(15),
      envelopeKeys,
    );
    gateway.addEnvironment('SEALGATE_JOB_STATE_MACHINE', jobs.stateMachineArn);
    grantJobExecutions(role, jobs);

    if (props.containerDataPlane !== undefined) {
      // The same gateway on another plane: the same environment, and the same grants as the function's.
      const plane = new ContainerDataPlane(this, 'ContainerDataPlane', {
        ...props.containerDataPlane,
        environment: { ...environment, SEALGATE_JOB_STATE_MACHINE: jobs.stateMachineArn },
        logRetention: props.logRetention,
        writeBound: gateway.timeout ?? Duration.minutes(15),
      });
      configTable.grantGateway(plane.taskRole);
      grantDataAccess(plane.taskRole, deploy, envelopeKeys);
      grantJobExecutions(plane.taskRole, jobs);
      gateway.addEnvironment('SEALGATE_CONTAINER_ENDPOINT', plane.endpoint);
    }

    const observability = new Observability(this, 'Observability', {
      gateway,
      gatewayTimeout: gateway.timeout ?? Duration.minutes(15),
      jobTask,
      jobs,
      alarmEmail: props.alarmEmail,
    });
    new CfnOutput(this, 'AlarmTopic', {
      value: observability.alarmTopic.topicArn,
      description: 'The SNS topic the alarms notify: subscribe to it (or deploy with -c alarmEmail=...)',
    });
    new CfnOutput(this, 'Dashboard', {
      value: `https://console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards:name=${observability.dashboard.dashboardName}`,
      description: 'The CloudWatch dashboard of the gateway and its jobs',
    });

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
    new CfnOutput(this, 'ConfigTable', {
      value: configTable.tableName,
      description:
        'The config table: seeded from the deployed config on first start, then changed with sealgate config apply',
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

  /** The deployment's own KMS key (`kmsKey`), created or imported, with an output naming it. */
  private deploymentKey(kmsKey: string | undefined): IKey | undefined {
    if (kmsKey === undefined) return undefined;
    const key =
      kmsKey === 'create'
        ? new Key(this, 'DataKey', {
            description: `Sealgate ${this.stackName}: envelope encryption and the config table`,
            enableKeyRotation: true,
            // Objects and the config table stay encrypted under it after the stack is gone.
            removalPolicy: RemovalPolicy.RETAIN,
          })
        : Key.fromKeyArn(this, 'DataKey', keyArn(kmsKey, '-c kmsKey'));
    new CfnOutput(this, 'KmsKeyArn', {
      value: key.keyArn,
      description:
        'The deployment KMS key: name it as kms_key_id of an aws-kms-envelope backend in a config you apply',
    });
    return key;
  }

  /**
   * The job state machine (functions/core/jobs/state-machine.ts, the definition the local mode runs too)
   * and its task function, with a role of its own: the config table, the data the gateway reaches, and
   * nothing of Step Functions.
   */
  private jobs(
    props: SealgateStackProps,
    configTable: ConfigTable,
    gatewayEnvironment: Record<string, string>,
    gatewayTimeout: Duration,
    envelopeKeys: readonly string[],
  ): { machine: StateMachine; task: NodejsFunction } {
    const logGroup = new LogGroup(this, 'JobTaskLogs', { retention: props.logRetention });
    const role = new Role(this, 'JobTaskRole', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description:
        'Sealgate job tasks: their log group and the config table, secrets under the prefix, the configured backend buckets and KMS keys',
    });
    logGroup.grantWrite(role);
    configTable.grantGateway(role);
    grantDataAccess(role, props.deploy, envelopeKeys);
    const task = new NodejsFunction(this, 'JobTask', {
      ...bundledFunction('functions/handlers/job-task.ts'),
      memorySize: props.memorySize ?? 1024,
      // One page within a budget well inside the timeout; Step Functions retries a page that timed out.
      timeout: Duration.minutes(5),
      role,
      logGroup,
      environment: {
        // The task handler publishes its own metrics (adapters/job-metrics.ts): it reads no SEALGATE_METRICS.
        ...Object.fromEntries(
          Object.entries(gatewayEnvironment).filter(([name]) => name !== 'SEALGATE_METRICS'),
        ),
        SEALGATE_JOB_BUDGET_MS: String(Duration.minutes(4).toMilliseconds()),
        // A write accepted just before the gate went up may run as long as the gateway lets a request run.
        SEALGATE_JOB_WRITE_BOUND_MS: String(gatewayTimeout.toMilliseconds()),
      },
      description: 'Sealgate job tasks (re-encrypt and migrate pages), run by the job state machine',
    });
    acknowledgeRuntime(task);
    const stateMachineName = `${this.stackName}-jobs`;
    const machineLogs = new LogGroup(this, 'JobStateMachineLogs', { retention: props.logRetention });
    const machine = new StateMachine(this, 'Jobs', {
      stateMachineName,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromString(
        JSON.stringify(jobStateMachineDefinition({ taskFunctionArn: task.functionArn })),
      ),
      logs: { destination: machineLogs, level: LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
    });
    task.grantInvoke(machine);
    acknowledgeWildcard(
      machine,
      '*',
      'X-Ray trace segments (tracing is on), which X-Ray grants on "*" alone',
    );
    acknowledgeWildcard(
      machine,
      `<${this.getLogicalId(task.node.defaultChild as CfnElement)}.Arn>:*`,
      'the versions and aliases of the job task function',
    );
    // Continue-as-new starts a fresh execution of this same state machine.
    machine.addToRolePolicy(
      new PolicyStatement({
        sid: 'ContinueAsNew',
        actions: ['states:StartExecution'],
        resources: [
          this.formatArn({
            service: 'states',
            resource: 'stateMachine',
            resourceName: stateMachineName,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
      }),
    );
    new CfnOutput(this, 'JobStateMachine', {
      value: machine.stateMachineArn,
      description: 'The job state machine: each re-encrypt or migrate job is one of its executions',
    });
    return { machine, task };
  }
}

/**
 * What both functions (the gateway and the job tasks) reach: the routed AWS buckets, the configured KMS keys,
 * the secrets under the prefix.
 */
export function grantDataAccess(role: Role, deploy: DeployConfig, stackKeys: readonly string[] = []): void {
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
    for (const bucket of deploy.awsBuckets) {
      acknowledgeWildcard(role, `arn:<AWS::Partition>:s3:::${bucket}/*`, 'every object of a routed bucket');
    }
  }
  if (deploy.awsBuckets.length > 0 || deploy.defaultBackendIsAws) {
    // ListBuckets lists the default backend's buckets, and the S3 backend reads a bucket's creation date from
    // it too; S3 grants s3:ListAllMyBuckets only on "*" (it reveals bucket names, nothing inside them).
    role.addToPrincipalPolicy(
      new PolicyStatement({ sid: 'ListBuckets', actions: ['s3:ListAllMyBuckets'], resources: ['*'] }),
    );
    acknowledgeWildcard(role, '*', 's3:ListAllMyBuckets only, which S3 grants on "*" alone');
  }
  const kmsStatements: [string, string[], string[]][] = [
    ['EnvelopeKmsKeys', ENVELOPE_KMS_ACTIONS, [...new Set([...deploy.kmsKeys.envelope, ...stackKeys])]],
    ['SseKmsKeys', SSE_KMS_ACTIONS, deploy.kmsKeys.sseKms],
    ['LegacyKmsKeys', DECRYPT_ONLY_KMS_ACTIONS, deploy.kmsKeys.decryptOnly],
  ];
  for (const [sid, actions, keys] of kmsStatements) {
    if (keys.length > 0) role.addToPrincipalPolicy(new PolicyStatement({ sid, actions, resources: keys }));
  }
  // Any secret under the prefix, not only those the initial config names: configs applied later may name
  // others, and rotating or adding a secret needs no deploy.
  const prefix = deploy.secretPrefix;
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'Secrets',
      actions: ['secretsmanager:GetSecretValue'],
      resources: [`arn:${Aws.PARTITION}:secretsmanager:${Aws.REGION}:${Aws.ACCOUNT_ID}:secret:${prefix}*`],
    }),
  );
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'SecretParameters',
      actions: ['ssm:GetParameter'],
      resources: [
        `arn:${Aws.PARTITION}:ssm:${Aws.REGION}:${Aws.ACCOUNT_ID}:parameter/${prefix.replace(/\/$/, '')}/*`,
      ],
    }),
  );
  const under = "the secrets under the deployment's secret prefix, which configs applied later may name";
  acknowledgeWildcard(
    role,
    `arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:${prefix}*`,
    under,
  );
  acknowledgeWildcard(
    role,
    `arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/${prefix.replace(/\/$/, '')}/*`,
    under,
  );
}

/**
 * Records, for cdk-nag's AwsSolutions-IAM5 (wildcards in IAM), why one wildcard resource of `scope`'s
 * policies is as narrow as IAM allows. Each is acknowledged by its exact resource, so a new wildcard still
 * fails the check (test/cdk/nag.test.ts).
 */
export function acknowledgeWildcard(scope: IConstruct, resource: string, why: string): void {
  Validations.of(scope).acknowledge({
    id: `AwsSolutions-IAM5[Resource::${resource}]`,
    reason: `Scoped to ${why}.`,
  });
}

/**
 * Lambda refuses a function whose environment exceeds 4 KB, and the initial config is most of it. Only the
 * first start needs the whole config: a smaller one (an admin credential and the backends) can be deployed,
 * and the rest applied to the table afterwards.
 */
function checkEnvironmentSize(environment: Record<string, string>): void {
  let bytes = 0;
  for (const [name, value] of Object.entries(environment)) {
    bytes +=
      Buffer.byteLength(name) +
      (Token.isUnresolved(value) ? UNRESOLVED_ALLOWANCE_BYTES : Buffer.byteLength(value));
  }
  if (bytes > LAMBDA_ENVIRONMENT_BYTES) {
    throw new Error(
      `the function's environment would be about ${bytes} bytes, above Lambda's 4 KB: the initial config travels ` +
        'in SEALGATE_INITIAL_CONFIG (as compact JSON, so comments do not count). Deploy a smaller initial config ' +
        '(an admin credential and the backends, buckets and keys IAM must name), then apply the full one with ' +
        '`sealgate config apply` after the deploy',
    );
  }
}

/** What a gateway does with jobs: start executions of the job state machine, then watch or stop them. */
export function grantJobExecutions(role: Role, jobs: StateMachine): void {
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'JobExecutions',
      actions: ['states:StartExecution'],
      resources: [jobs.stateMachineArn],
    }),
  );
  role.addToPrincipalPolicy(
    new PolicyStatement({
      sid: 'JobExecutionControl',
      actions: ['states:DescribeExecution', 'states:StopExecution'],
      resources: [executionArns(Stack.of(jobs), jobs.stateMachineName)],
    }),
  );
  const machineId = Stack.of(jobs).getLogicalId(jobs.node.defaultChild as CfnElement);
  acknowledgeWildcard(
    role,
    `arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<${machineId}.Name>:*`,
    'the executions of the job state machine only',
  );
}

/** The ARNs of the executions of the named state machine. */
function executionArns(stack: Stack, stateMachineName: string): string {
  return stack.formatArn({
    service: 'states',
    resource: 'execution',
    resourceName: `${stateMachineName}:*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/** Why the functions run nodejs22.x rather than the newest runtime (cdk-nag's AwsSolutions-L1). */
function acknowledgeRuntime(fn: NodejsFunction): void {
  Validations.of(fn).acknowledge({
    id: 'AwsSolutions-L1',
    reason:
      'nodejs22.x is the runtime the bundle targets and the tests and the cold-start bench measure; a newer one is taken when the project moves to it.',
  });
}

/** How every function of the stack is built: nodejs22.x on arm64, an ESM bundle made by local esbuild. */
function bundledFunction(entry: string) {
  return {
    entry: resolve(ROOT, entry),
    handler: 'handler',
    runtime: Runtime.NODEJS_22_X,
    architecture: Architecture.ARM_64,
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
  };
}
