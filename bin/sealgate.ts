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
 *   logRetentionDays   how long the gateway's logs are kept (default 30)
 */
import { App } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { ConfigError } from '../functions/core/config/config-error.js';
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

const configFile = context('config', 'deploy/sealgate.example.yaml');
const configTableKeyArn = context('configTableKeyArn', '');
try {
  new SealgateStack(app, context('stackName', 'Sealgate'), {
    deploy: readDeployConfig(configFile, { secretPrefix: context('secretPrefix', DEFAULT_SECRET_PREFIX) }),
    configTableKeyArn: configTableKeyArn === '' ? undefined : configTableKeyArn,
    logRetention: retentionDays,
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
