/**
 * The job state machine's task function on AWS: a thin middy handler around the job tasks of the core
 * (functions/core/jobs/job-tasks.ts). Init (module scope, once per container) starts the same control
 * plane the gateway runs, so the tasks read the bucket's route and keys as every gateway instance does.
 * Each invocation's time budget is the smaller of SEALGATE_JOB_BUDGET_MS and what the invocation has
 * left, minus a margin for the commit. Progress goes out as CloudWatch metrics (adapters/job-metrics.ts),
 * published once per invocation by Powertools' middy middleware.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';

import { PowertoolsJobMetrics } from '../adapters/job-metrics.js';

import { isJobStore } from '../core/jobs/job-record.js';
import { runTask, type JobEnvironment, type TaskOutput } from '../core/jobs/job-tasks.js';
import type { TaskEvent } from '../core/jobs/state-machine.js';
import { powertoolsLogger } from '../adapters/powertools-observability.js';
import type { LambdaContext } from '../adapters/awslambda.js';
import { jobSettingsFrom, reloadIntervalFrom } from './control-setup.js';
import { startLambdaControl } from './lambda-control.js';

/** Time kept back from a page's budget for its commit and return. */
const COMMIT_MARGIN_MS = 15_000;

const logger = powertoolsLogger('sealgate-jobs', process.env.SEALGATE_LOG_LEVEL);
const metrics = new Metrics({ namespace: 'Sealgate', serviceName: 'sealgate-jobs' });

async function init(env: Record<string, string | undefined>): Promise<JobEnvironment> {
  try {
    const { control, store } = await startLambdaControl(env, logger);
    if (!isJobStore(store)) throw new Error('the job tasks need a config table (SEALGATE_CONFIG_TABLE)');
    return {
      store,
      runtime: () => control.current(),
      now: () => new Date(),
      logger,
      // Every gateway instance checks the table once per reload interval.
      gateSettleMs: reloadIntervalFrom(env) + 1000,
      ...jobSettingsFrom(env),
      metrics: new PowertoolsJobMetrics(metrics),
    };
  } catch (error) {
    logger.error('init failed', { error: error instanceof Error ? error.message : String(error) });
    throw error;
  }
}

const environment = await init(process.env);

/** One task of the state machine, within what this invocation has left. */
export async function runJobTask(event: TaskEvent, context: LambdaContext): Promise<TaskOutput> {
  logger.invocation(context);
  const left = context.getRemainingTimeInMillis() - COMMIT_MARGIN_MS;
  const budgetMs = Math.max(1000, Math.min(environment.budgetMs, left));
  return runTask({ ...environment, budgetMs }, event);
}

export const handler = middy<TaskEvent, TaskOutput>().use(logMetrics(metrics)).handler(runJobTask);
