/**
 * The Lambda entry point behind the function URL. Init runs once per container (module scope, awaited, so
 * it counts as Lambda's init phase): the control plane loads the config from the DynamoDB table named by
 * `SEALGATE_CONFIG_TABLE` (seeding an empty table from `SEALGATE_INITIAL_CONFIG`), resolves secret
 * references at run time, and reloads within the reload interval of any change. No secret is in the
 * function's environment.
 *
 * Without a table, `SEALGATE_CONFIG` may carry a whole config (YAML or JSON): a fixed, read-only config for
 * tests and one-off setups; the admin API then refuses changes.
 */
import { SfnJobRunner } from '../adapters/sfn-job-runner.js';
import { streamHandle } from '../adapters/function-url.js';
import type { ConfigStore } from '../core/control/config-store.js';
import type { ControlPlane } from '../core/control/control-plane.js';
import { createGateway, type Gateway } from '../core/gateway.js';
import { isJobStore } from '../core/jobs/job-record.js';
import { JobsService } from '../core/jobs/jobs-service.js';
import { jsonLogger, parseLevel } from '../core/logger.js';
import { controlAwsFrom } from './control-setup.js';
import { startLambdaControl } from './lambda-control.js';

const logger = jsonLogger(parseLevel(process.env.SEALGATE_LOG_LEVEL));

/** Jobs, where the store keeps them and the stack named the job state machine. */
function jobsService(
  env: Record<string, string | undefined>,
  control: ControlPlane,
  store: ConfigStore,
): JobsService | undefined {
  const stateMachineArn = env.SEALGATE_JOB_STATE_MACHINE;
  if (!stateMachineArn || !isJobStore(store)) return undefined;
  const aws = controlAwsFrom(env);
  return new JobsService({
    store,
    runner: new SfnJobRunner({ stateMachineArn, endpoint: aws.endpoint, region: aws.region }),
    runtime: () => control.current(),
    now: () => new Date(),
  });
}

async function init(env: Record<string, string | undefined>): Promise<Gateway> {
  try {
    const { control, store } = await startLambdaControl(env, logger);
    return createGateway({ control, jobs: jobsService(env, control, store), logger });
  } catch (error) {
    // An init failure fails every invocation of this container; say why once, in the log.
    logger.error('init failed', { error: error instanceof Error ? error.message : String(error) });
    throw error;
  }
}

export const handler = streamHandle(await init(process.env), logger);
