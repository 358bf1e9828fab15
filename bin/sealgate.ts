/**
 * The CDK app: `npx cdk synth` / `npx cdk deploy -c config=<file>`.
 *
 * Context:
 *   config             the gateway config to deploy (default deploy/sealgate.example.yaml). It seeds the
 *                      config table on the function's first start (see docs/DEPLOY.md); the stack also reads
 *                      it to scope IAM to its AWS buckets and KMS keys.
 *   stackName          the CloudFormation stack name (default Sealgate)
 *   secretPrefix       where the function may read secrets at run time (default sealgate/): Secrets Manager
 *                      secrets named <prefix>* and SSM parameters under /<prefix>. Every
 *                      ${secretsmanager:NAME} and ${ssm:/path} in the config must lie under it.
 *   configTableKeyArn  a customer managed KMS key (its ARN) for the config table (default: the AWS
 *                      managed key aws/dynamodb)
 *   kmsKey             a KMS key of the deployment: `create` (the stack makes one, kept on delete) or a
 *                      key ARN; the functions may use it for aws-kms-envelope and the config table is
 *                      encrypted under it (default: none)
 *   logRetentionDays   how long the gateway's logs are kept (default 30)
 *   memorySize         MB of memory for the gateway and job task functions, 128 to 10240 (default 1024;
 *                      Lambda gives CPU in proportion)
 *   alarmEmail         an email address subscribed to the alarm topic (default: none; subscribe later)
 *
 * The container data plane (lib/container-data-plane.ts, docs/DEPLOY.md "Container data plane"): ECS
 * Fargate behind an HTTPS load balancer, for uploads and downloads a function URL cannot carry. Off by default.
 *   containerDataPlane         true to deploy it (default false); the keys below are read only then
 *   certificateArn             the ACM certificate (ARN, stack region) of its HTTPS listener: required
 *   containerDomainName        the name clients use, covered by the certificate; point it at the
 *                              ContainerLoadBalancer output (default: the load balancer's DNS name)
 *   containerImage             a prebuilt linux/arm64 image URI (default: deploy/container/Dockerfile, built
 *                              with Docker by cdk deploy)
 *   containerCpu               CPU units per task, 1024 a vCPU (default 1024)
 *   containerMemoryMiB         memory per task (default 2048)
 *   containerMinTasks          fewest tasks autoscaling keeps (default 1; 2 to survive a zone failing)
 *   containerMaxTasks          most tasks autoscaling starts (default 4)
 *   containerDesiredTasks      tasks set on every deploy (default: left to autoscaling)
 *   containerCpuTargetPercent  average CPU autoscaling aims at (default 60)
 *   containerRequestsPerTarget requests a minute per task autoscaling aims at (default 1000)
 *   containerNatGateways       NAT gateways, 0 to 2 (default 0: tasks in public subnets, reachable only
 *                              from the load balancer)
 */
import { App } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { ConfigError } from '../functions/core/config/config-error.js';
import { containerDataPlaneFromContext } from '../lib/container-context.js';
import { DEFAULT_SECRET_PREFIX, readDeployConfig } from '../lib/deploy-config.js';
import { SealgateStack } from '../lib/sealgate-stack.js';

const app = new App();
const context = (name: string, fallback: string): string => {
  const value: unknown = app.node.tryGetContext(name);
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'string' && typeof value !== 'number') throw new Error(`-c ${name} must be a string`);
  return String(value);
};

const retentionDays = Number(context('logRetentionDays', '30'));
if (!Object.values(RetentionDays).includes(retentionDays)) {
  throw new Error(
    `-c logRetentionDays=${retentionDays} is not a retention CloudWatch Logs offers (1, 3, 5, 7, 14, 30, 60, 90, ...)`,
  );
}

const memorySize = Number(context('memorySize', '1024'));
if (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10240) {
  throw new Error(`-c memorySize=${memorySize} must be a whole number of MB from 128 to 10240`);
}

const configFile = context('config', 'deploy/sealgate.example.yaml');
const configTableKeyArn = context('configTableKeyArn', '');
try {
  new SealgateStack(app, context('stackName', 'Sealgate'), {
    deploy: readDeployConfig(configFile, { secretPrefix: context('secretPrefix', DEFAULT_SECRET_PREFIX) }),
    configTableKeyArn: configTableKeyArn === '' ? undefined : configTableKeyArn,
    containerDataPlane: containerDataPlaneFromContext(app.node),
    logRetention: retentionDays,
    memorySize,
    alarmEmail: context('alarmEmail', '') || undefined,
    kmsKey: context('kmsKey', '') || undefined,
    description: 'Sealgate: an S3-compatible gateway that encrypts object data at rest',
  });
} catch (error) {
  if (error instanceof ConfigError) {
    const where = error.path.startsWith('-c ') ? '' : `${configFile}: `;
    process.stderr.write(`sealgate: ${where}${error.message}\n`);
    process.exit(1);
  }
  throw error;
}
app.synth();
