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
import { streamHandle } from '../adapters/function-url.js';
import { EmfMetricsSink, powertoolsLogger } from '../adapters/powertools-observability.js';
import { createGateway, type Gateway } from '../core/gateway.js';
import { useMetricsSink } from '../core/metrics.js';
import { startLambdaControl } from './lambda-control.js';
import { sfnJobsService } from './sfn-jobs.js';

const logger = powertoolsLogger('sealgate-gateway', process.env.SEALGATE_LOG_LEVEL);
// SEALGATE_METRICS=emf (the stack sets it): metrics as EMF records in the log, flushed per invocation.
const metrics = process.env.SEALGATE_METRICS === 'emf' ? new EmfMetricsSink('sealgate-gateway') : undefined;
useMetricsSink(metrics);

async function init(env: Record<string, string | undefined>): Promise<Gateway> {
  try {
    const { control, store } = await startLambdaControl(env, logger);
    return createGateway({ control, jobs: sfnJobsService(env, control, store), logger });
  } catch (error) {
    // An init failure fails every invocation of this container; say why once, in the log.
    logger.error('init failed', { error: error instanceof Error ? error.message : String(error) });
    throw error;
  }
}

export const handler = streamHandle(await init(process.env), logger, {
  started: (context) => logger.invocation(context),
  ended: () => metrics?.flush(),
});
