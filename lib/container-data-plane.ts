import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Annotations, Aws, CfnOutput, Duration, IgnoreMode, Stack, Token, Validations } from 'aws-cdk-lib';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import { Repository } from 'aws-cdk-lib/aws-ecr';
import {
  FlowLogDestination,
  FlowLogTrafficType,
  GatewayVpcEndpointAwsService,
  SecurityGroup,
  SubnetType,
  Vpc,
  type SubnetConfiguration,
} from 'aws-cdk-lib/aws-ec2';
import {
  Cluster,
  ContainerImage,
  ContainerInsights,
  CpuArchitecture,
  FargatePlatformVersion,
  FargateService,
  FargateTaskDefinition,
  LogDrivers,
  OperatingSystemFamily,
} from 'aws-cdk-lib/aws-ecs';
import {
  ApplicationLoadBalancer,
  ApplicationProtocol,
  ListenerCertificate,
  SslPolicy,
} from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { HEALTH_CHECK_PATH, IDLE_TIMEOUT_SECONDS } from '../functions/adapters/load-balancer.js';
import { ConfigError } from '../functions/core/config/config-error.js';

const ROOT = resolve(import.meta.dirname, '..');
/** The image's recipe, and next to it (where BuildKit looks for it too) what of the repository it may see. */
const DOCKERFILE = 'deploy/container/Dockerfile';
const DOCKERIGNORE = `${DOCKERFILE}.dockerignore`;
/** Where the gateway listens in the task (functions/handlers/container.ts reads SEALGATE_PORT). */
const CONTAINER_PORT = 8080;
/**
 * Fargate's longest stop timeout: after the load balancer has drained a task, ECS sends SIGTERM, and the
 * requests still in flight get this long to finish before SIGKILL.
 */
const STOP_TIMEOUT = Duration.seconds(120);
/**
 * Node checks request timeouts every 30 s, and a backend completes a write shortly after its last byte: a
 * request must arrive this much within the job's write bound.
 */
const WRITE_BOUND_MARGIN = Duration.seconds(60);

const ACM_CERTIFICATE_ARN = /^arn:aws[a-z-]*:acm:([a-z0-9-]+):\d{12}:certificate\/[A-Za-z0-9-]+$/;
const DOMAIN_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
/** `ACCOUNT.dkr.ecr.REGION.amazonaws.com[.cn]/NAME[:TAG|@sha256:DIGEST]`: a private ECR image. */
const ECR_IMAGE =
  /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([a-z0-9][a-z0-9._/-]*)(?::([\w][\w.-]{0,127})|@(sha256:[a-f0-9]{64}))?$/;

/**
 * The memory sizes (MiB) Fargate allows for each CPU size (CPU units, 1024 per vCPU) on Linux: the lowest,
 * the highest and the step between.
 */
const FARGATE_SIZES: Record<number, [number, number, number]> = {
  256: [512, 2048, 512], // 512, 1024 or 2048
  512: [1024, 4096, 1024],
  1024: [2048, 8192, 1024],
  2048: [4096, 16384, 1024],
  4096: [8192, 30720, 1024],
  8192: [16384, 61440, 4096],
  16384: [32768, 122880, 8192],
};

/**
 * The cdk.json / `-c` context key of each option (bin/sealgate.ts reads them), which errors name so that the
 * operator sees the setting to change.
 */
export const CONTEXT_KEYS = {
  certificateArn: 'certificateArn',
  domainName: 'containerDomainName',
  image: 'containerImage',
  cpu: 'containerCpu',
  memoryMiB: 'containerMemoryMiB',
  desiredTasks: 'containerDesiredTasks',
  minTasks: 'containerMinTasks',
  maxTasks: 'containerMaxTasks',
  cpuTargetPercent: 'containerCpuTargetPercent',
  requestsPerTarget: 'containerRequestsPerTarget',
  natGateways: 'containerNatGateways',
} as const satisfies Record<keyof ContainerDataPlaneOptions, string>;

/** Where an option's error points: its context key. */
const where = (option: keyof typeof CONTEXT_KEYS) => `-c ${CONTEXT_KEYS[option]}`;

/** What an operator chooses about the container data plane (bin/sealgate.ts reads it from context). */
export interface ContainerDataPlaneOptions {
  /**
   * The ACM certificate for the HTTPS listener, as an ARN in the stack's region. Required: the plane serves
   * HTTPS only. It must cover `domainName`.
   */
  certificateArn: string;
  /**
   * The name clients use to reach the plane. Point it at the load balancer (output
   * `ContainerLoadBalancer`) with a CNAME or alias record. Default: the load balancer's own DNS name, which no
   * ACM certificate can cover, so clients then refuse the TLS connection unless told not to check it.
   */
  domainName?: string;
  /**
   * A prebuilt image for linux/arm64, by URI (an ECR image in this account gets pull rights for the task).
   * Default: deploy/container/Dockerfile, built with Docker on the deploying machine by `cdk deploy`.
   */
  image?: string;
  /** CPU units per task, 1024 to a vCPU (default 1024). */
  cpu?: number;
  /** Memory per task in MiB, a size Fargate allows for `cpu` (default 2048). */
  memoryMiB?: number;
  /**
   * The number of tasks to run, set again on every deploy (default: leave it to autoscaling, starting at
   * `minTasks`).
   */
  desiredTasks?: number;
  /** The fewest tasks autoscaling keeps (default 1; 2 keeps serving when an Availability Zone fails). */
  minTasks?: number;
  /** The most tasks autoscaling starts (default 4). */
  maxTasks?: number;
  /** Average CPU use, in percent, that autoscaling keeps the tasks at (default 60). */
  cpuTargetPercent?: number;
  /** Requests a minute per task that autoscaling keeps the tasks at (default 1000). */
  requestsPerTarget?: number;
  /**
   * NAT gateways in the stack's VPC (default 0). With none, tasks run in public subnets with public IPv4
   * addresses, which only the load balancer may connect to. With one or two, tasks run in private subnets
   * and reach AWS and other backends through the NAT gateways, at an hourly and per-GB cost.
   */
  natGateways?: number;
}

export interface ContainerDataPlaneProps extends ContainerDataPlaneOptions {
  /**
   * The gateway function's environment: the config table, the initial config with its secret references
   * unresolved, the job state machine. Both planes then serve one config and one set of jobs.
   */
  environment: Record<string, string>;
  logRetention: RetentionDays;
  /**
   * How long a job waits after its gate for the writes accepted before it (the gateway function's timeout).
   * A task bounds how long a request may take to arrive to just within it.
   */
  writeBound: Duration;
}

/**
 * The optional container data plane: the gateway core as a plain Node HTTP server
 * (functions/handlers/container.ts) in ECS Fargate tasks on arm64, behind an Application Load Balancer with
 * an HTTPS listener. It has none of the function URL's limits: request bodies of any size (multipart parts
 * of 5 MiB and more), responses above 200 MB, downloads longer than 15 minutes. Its one bound is how long a
 * request may take to arrive (see `writeBound`). It shares the config table, the job state machine, the
 * keys and the secrets with the function.
 *
 * The construct builds no IAM for data: the stack grants its `taskRole` what it grants the gateway function.
 */
export class ContainerDataPlane extends Construct {
  /** `https://` and the name clients use. */
  readonly endpoint: string;
  /** The role the gateway runs with in each task. */
  readonly taskRole: Role;
  readonly service: FargateService;
  readonly loadBalancer: ApplicationLoadBalancer;

  constructor(scope: Construct, id: string, props: ContainerDataPlaneProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const certificateArn = checkCertificate(props.certificateArn, stack.region);
    const size = checkSize(props);
    const natGateways = wholeNumber(props.natGateways ?? 0, 'natGateways', 0, 2);
    if (props.domainName !== undefined && !DOMAIN_NAME.test(props.domainName)) {
      throw new ConfigError(where('domainName'), `"${props.domainName}" is not a DNS name`);
    }
    const privateTasks = natGateways > 0;

    // Two Availability Zones, so that the load balancer (which needs two) and the tasks survive one failing.
    // Gateway endpoints for S3 and DynamoDB cost nothing and keep the data path off the NAT gateways.
    const subnets: SubnetConfiguration[] = [{ name: 'Public', subnetType: SubnetType.PUBLIC, cidrMask: 24 }];
    if (privateTasks)
      subnets.push({ name: 'Tasks', subnetType: SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 });
    const vpc = new Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways,
      subnetConfiguration: subnets,
      gatewayEndpoints: {
        S3: { service: GatewayVpcEndpointAwsService.S3 },
        DynamoDB: { service: GatewayVpcEndpointAwsService.DYNAMODB },
      },
      // Nothing uses the default security group; restricting it would take a custom-resource function.
      restrictDefaultSecurityGroup: false,
    });
    // Flow records, not bytes: a few per connection every 10 minutes, so they cost little even when the
    // plane moves a lot of data.
    vpc.addFlowLog('FlowLog', {
      destination: FlowLogDestination.toCloudWatchLogs(
        new LogGroup(this, 'FlowLogs', { retention: props.logRetention }),
      ),
      trafficType: FlowLogTrafficType.ALL,
    });

    const cluster = new Cluster(this, 'Cluster', { vpc, containerInsightsV2: ContainerInsights.ENABLED });
    const logGroup = new LogGroup(this, 'Logs', { retention: props.logRetention });

    this.taskRole = new Role(this, 'TaskRole', {
      // Only ECS tasks of this account may take the role (the confused-deputy guard ECS documents).
      assumedBy: new ServicePrincipal('ecs-tasks.amazonaws.com', {
        conditions: {
          ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:ecs:${Aws.REGION}:${Aws.ACCOUNT_ID}:*` },
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
        },
      }),
      description:
        'Sealgate container data plane: its config table, secrets under its prefix, the configured backend buckets and KMS keys, the job executions',
    });
    const taskDefinition = new FargateTaskDefinition(this, 'Task', {
      cpu: size.cpu,
      memoryLimitMiB: size.memoryMiB,
      runtimePlatform: {
        cpuArchitecture: CpuArchitecture.ARM64,
        operatingSystemFamily: OperatingSystemFamily.LINUX,
      },
      taskRole: this.taskRole,
    });
    Validations.of(taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'The environment holds no secret: the config table name, the job state machine ARN, and the initial config with its secret references unresolved; the gateway resolves them from Secrets Manager or SSM when it runs (test/cdk/container.test.ts).',
    });
    // Set on the execution role when the image comes from ECR (an asset or a prebuilt ECR image).
    Validations.of(taskDefinition).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Scoped to ecr:GetAuthorizationToken on the execution role, which ECR grants on "*" alone; pulling is granted on the image repository only.',
    });
    taskDefinition.addContainer('Gateway', {
      image: containerImage(this, props.image),
      logging: LogDrivers.awsLogs({ logGroup, streamPrefix: 'gateway' }),
      environment: {
        ...props.environment,
        AWS_REGION: Aws.REGION,
        SEALGATE_PORT: String(CONTAINER_PORT),
        SEALGATE_REQUEST_TIMEOUT_MS: String(props.writeBound.minus(WRITE_BOUND_MARGIN).toMilliseconds()),
      },
      portMappings: [{ containerPort: CONTAINER_PORT }],
      // The gateway keeps nothing on disk here: its config is the table, its data the backends.
      readonlyRootFilesystem: true,
      stopTimeout: STOP_TIMEOUT,
    });

    const serviceSecurityGroup = new SecurityGroup(this, 'ServiceSecurityGroup', {
      vpc,
      description: 'Sealgate container tasks: reachable from the load balancer only',
      // Backends may be any S3-compatible endpoint, on any port; AWS APIs are reached over HTTPS.
      allowAllOutbound: true,
    });
    this.service = new FargateService(this, 'Service', {
      cluster,
      taskDefinition,
      desiredCount: size.desiredTasks,
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      platformVersion: FargatePlatformVersion.LATEST,
      securityGroups: [serviceSecurityGroup],
      vpcSubnets: { subnetType: privateTasks ? SubnetType.PRIVATE_WITH_EGRESS : SubnetType.PUBLIC },
      assignPublicIp: !privateTasks,
      healthCheckGracePeriod: Duration.seconds(60),
    });

    const loadBalancerSecurityGroup = new SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc,
      description: 'Sealgate container data plane load balancer: HTTPS from anywhere, to the tasks only',
      allowAllOutbound: false,
    });
    Validations.of(loadBalancerSecurityGroup).acknowledge({
      id: 'AwsSolutions-EC23',
      reason:
        'A public S3 endpoint: HTTPS on 443 from any address, where every request is then authenticated with SigV4 by the gateway.',
    });
    this.loadBalancer = new ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc,
      internetFacing: true,
      securityGroup: loadBalancerSecurityGroup,
      vpcSubnets: { subnetType: SubnetType.PUBLIC },
      // Invalid header fields are left as they are (the default): ALB counts an underscore as invalid, and
      // S3 user metadata (x-amz-meta-my_key) may carry one, which dropping would break signatures over.
      // The server keeps idle connections a little longer than this (functions/adapters/load-balancer.ts).
      idleTimeout: Duration.seconds(IDLE_TIMEOUT_SECONDS),
    });
    Validations.of(this.loadBalancer).acknowledge({
      id: 'AwsSolutions-ELB2',
      reason:
        'The gateway logs every request itself (operation, status, request id) to the log group. ALB access logs need the stack region at synth, and the stack is environment-agnostic; docs/DEPLOY.md says how to turn them on.',
    });
    // HTTPS only, and no HTTP listener at all: a redirect would come after an S3 client had already sent
    // its request, body included, in the clear; with no listener, an http:// endpoint fails at once.
    const listener = this.loadBalancer.addListener('Https', {
      port: 443,
      protocol: ApplicationProtocol.HTTPS,
      certificates: [ListenerCertificate.fromArn(certificateArn)],
      sslPolicy: SslPolicy.RECOMMENDED_TLS,
      open: true,
    });
    const targets = listener.addTargets('Gateway', {
      port: CONTAINER_PORT,
      protocol: ApplicationProtocol.HTTP,
      targets: [this.service],
      healthCheck: {
        path: HEALTH_CHECK_PATH,
        healthyHttpCodes: '200',
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 3,
      },
      // As long as the task's stop timeout: an upload in flight when a task is replaced may finish.
      deregistrationDelay: STOP_TIMEOUT,
    });

    const scaling = this.service.autoScaleTaskCount({
      minCapacity: size.minTasks,
      maxCapacity: size.maxTasks,
    });
    scaling.scaleOnCpuUtilization('CpuScaling', {
      targetUtilizationPercent: wholeNumber(props.cpuTargetPercent ?? 60, 'cpuTargetPercent', 10, 95),
      scaleOutCooldown: Duration.seconds(60),
      scaleInCooldown: Duration.minutes(5),
    });
    scaling.scaleOnRequestCount('RequestScaling', {
      requestsPerTarget: wholeNumber(props.requestsPerTarget ?? 1000, 'requestsPerTarget', 1, 1_000_000),
      targetGroup: targets,
      scaleOutCooldown: Duration.seconds(60),
      scaleInCooldown: Duration.minutes(5),
    });

    const host = props.domainName ?? this.loadBalancer.loadBalancerDnsName;
    this.endpoint = `https://${host}`;
    if (props.domainName === undefined) {
      Annotations.of(this).addWarningV2(
        'sealgate:containerDomainName',
        "The container endpoint is the load balancer's DNS name, which no ACM certificate covers: clients will " +
          'refuse its TLS certificate. Set -c containerDomainName to a name the certificate covers and point ' +
          'it at the ContainerLoadBalancer output.',
      );
    }
    this.outputs();
  }

  private outputs(): void {
    const output = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description }).overrideLogicalId(id);
    output(
      'ContainerEndpoint',
      this.endpoint,
      'The container data plane S3 endpoint, without request or response size limits (path-style addressing)',
    );
    output(
      'ContainerLoadBalancer',
      this.loadBalancer.loadBalancerDnsName,
      "The load balancer's DNS name: point the container endpoint's name at it (CNAME or alias)",
    );
    output(
      'ContainerAwsCliSetup',
      `aws configure set profile.sealgate-container.endpoint_url ${this.endpoint} && ` +
        `aws configure set profile.sealgate-container.region ${Aws.REGION} && ` +
        'aws configure set profile.sealgate-container.s3.addressing_style path',
      'Paste into a shell: an aws-cli/boto3 profile "sealgate-container" for the container endpoint',
    );
    output(
      'ContainerSdkClientConfig',
      `{"endpoint":"${this.endpoint}","region":"${Aws.REGION}","forcePathStyle":true}`,
      'S3Client options for the AWS SDK for JavaScript v3, for the container endpoint',
    );
  }
}

/**
 * An HTTPS listener needs its certificate, and a load balancer can use only a certificate of its own region;
 * a mistake here would otherwise surface only as a failed deploy.
 */
function checkCertificate(value: string | undefined, stackRegion: string): string {
  if (value === undefined || value === '') {
    throw new ConfigError(
      where('certificateArn'),
      'is required with the container data plane: its load balancer serves HTTPS only, with an ACM certificate ' +
        'for the name clients use (arn:aws:acm:<region>:<account>:certificate/<id>, in the stack region). ' +
        'Request or import one in ACM first',
    );
  }
  const match = ACM_CERTIFICATE_ARN.exec(value);
  if (match === null) {
    throw new ConfigError(
      where('certificateArn'),
      `"${value}" is not an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)`,
    );
  }
  if (!Token.isUnresolved(stackRegion) && match[1] !== stackRegion) {
    throw new ConfigError(
      where('certificateArn'),
      `the certificate is in ${match[1]}, but a load balancer in ${stackRegion} can use only a certificate of its own region`,
    );
  }
  return value;
}

function wholeNumber(value: number, option: keyof typeof CONTEXT_KEYS, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(where(option), `must be a whole number from ${min} to ${max}`);
  }
  return value;
}

/** The task size and counts, refused at synth when Fargate or autoscaling would refuse them at deploy. */
function checkSize(props: ContainerDataPlaneOptions): {
  cpu: number;
  memoryMiB: number;
  desiredTasks?: number;
  minTasks: number;
  maxTasks: number;
} {
  const cpu = props.cpu ?? 1024;
  const memoryMiB = props.memoryMiB ?? 2048;
  const sizes = FARGATE_SIZES[cpu];
  if (sizes === undefined) {
    throw new ConfigError(
      where('cpu'),
      `${cpu} is not a Fargate CPU size (${Object.keys(FARGATE_SIZES).join(', ')}; 1024 is one vCPU)`,
    );
  }
  const [lowest, highest, step] = sizes;
  if (!Number.isInteger(memoryMiB) || memoryMiB < lowest || memoryMiB > highest || memoryMiB % step !== 0) {
    throw new ConfigError(
      where('memoryMiB'),
      `${memoryMiB} MiB does not go with ${cpu} CPU units on Fargate: from ${lowest} to ${highest} MiB, in steps of ${step}`,
    );
  }
  const minTasks = wholeNumber(props.minTasks ?? 1, 'minTasks', 1, 1000);
  const maxTasks = wholeNumber(props.maxTasks ?? Math.max(4, minTasks), 'maxTasks', minTasks, 1000);
  const desiredTasks =
    props.desiredTasks === undefined
      ? undefined
      : wholeNumber(props.desiredTasks, 'desiredTasks', minTasks, maxTasks);
  return { cpu, memoryMiB, desiredTasks, minTasks, maxTasks };
}

/**
 * The image: a prebuilt one by URI, or the repository's Dockerfile, which `cdk deploy` builds with Docker.
 * At synth the Dockerfile's context is only copied into the cloud assembly, limited to what the
 * dockerignore file next to it lets through (the sources and the lockfile, never node_modules, cdk.out or
 * .git), so synth needs no Docker.
 */
function containerImage(scope: Construct, image: string | undefined): ContainerImage {
  if (image === undefined || image === '') {
    return ContainerImage.fromAsset(ROOT, {
      file: DOCKERFILE,
      platform: Platform.LINUX_ARM64,
      exclude: dockerignorePatterns(),
      ignoreMode: IgnoreMode.DOCKER,
    });
  }
  const ecr = ECR_IMAGE.exec(image);
  if (ecr === null) return ContainerImage.fromRegistry(image);
  // An ECR image is pulled with the task's execution role, which needs rights on the repository.
  const [, account, region, name, tag, digest] = ecr;
  const repository = Repository.fromRepositoryAttributes(scope, 'ImageRepository', {
    repositoryArn: `arn:${Aws.PARTITION}:ecr:${region}:${account}:repository/${name}`,
    repositoryName: name,
  });
  return ContainerImage.fromEcrRepository(repository, digest ?? tag ?? 'latest');
}

function dockerignorePatterns(): string[] {
  return readFileSync(resolve(ROOT, DOCKERIGNORE), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}
