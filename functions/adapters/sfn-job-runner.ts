/**
 * Drives jobs with AWS Step Functions: each job is a Standard execution of the job state machine the
 * stack deploys (functions/core/jobs/state-machine.ts), started with the job's id.
 */
import { randomBytes } from 'node:crypto';

import { SFNClient, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';

import type { JobRunner } from '../core/jobs/job-runner.js';

export interface SfnJobRunnerOptions {
  stateMachineArn: string;
  client?: SFNClient;
  endpoint?: string;
  region?: string;
}

export class SfnJobRunner implements JobRunner {
  readonly kind = 'step-functions' as const;
  private readonly client: SFNClient;

  constructor(private readonly options: SfnJobRunnerOptions) {
    this.client =
      options.client ??
      new SFNClient({
        ...(options.endpoint !== undefined && { endpoint: options.endpoint }),
        ...(options.region !== undefined && { region: options.region }),
      });
  }

  /** A new execution named after the job (and the time, and a little randomness: a resumed job gets a fresh name). */
  async start(jobId: string): Promise<string> {
    const out = await this.client.send(
      new StartExecutionCommand({
        stateMachineArn: this.options.stateMachineArn,
        name: `${jobId}-${Date.now().toString(36)}${randomBytes(2).toString('hex')}`,
        input: JSON.stringify({ jobId, iteration: 0 }),
      }),
    );
    if (!out.executionArn) throw new Error('StartExecution returned no execution ARN');
    return out.executionArn;
  }

  async stop(execution: string): Promise<void> {
    await this.client.send(
      new StopExecutionCommand({ executionArn: execution, cause: 'stopped by the gateway (job cancelled)' }),
    );
  }
}
