/**
 * Drives jobs with AWS Step Functions: each job is a Standard execution of the job state machine the
 * stack deploys (functions/core/jobs/state-machine.ts), started with the job's id. The SDK client is
 * loaded on the first start or stop, not when the gateway function starts: most invocations never run one.
 */
import { randomBytes } from 'node:crypto';

import type { SFNClient } from '@aws-sdk/client-sfn';

import type { JobRunner } from '../core/jobs/job-runner.js';

export interface SfnJobRunnerOptions {
  stateMachineArn: string;
  client?: SFNClient;
  endpoint?: string;
  region?: string;
}

type SfnSdk = typeof import('@aws-sdk/client-sfn');

export class SfnJobRunner implements JobRunner {
  readonly kind = 'step-functions' as const;
  private sdk: Promise<{ sdk: SfnSdk; client: SFNClient }> | undefined;

  constructor(private readonly options: SfnJobRunnerOptions) {}

  /** A new execution named after the job (and the time, and a little randomness: a resumed job gets a fresh name). */
  async start(jobId: string): Promise<string> {
    const { sdk, client } = await this.connect();
    const out = await client.send(
      new sdk.StartExecutionCommand({
        stateMachineArn: this.options.stateMachineArn,
        name: `${jobId}-${Date.now().toString(36)}${randomBytes(2).toString('hex')}`,
        input: JSON.stringify({ jobId, iteration: 0 }),
      }),
    );
    if (!out.executionArn) throw new Error('StartExecution returned no execution ARN');
    return out.executionArn;
  }

  async stop(execution: string): Promise<void> {
    const { sdk, client } = await this.connect();
    await client.send(
      new sdk.StopExecutionCommand({
        executionArn: execution,
        cause: 'stopped by the gateway (job cancelled)',
      }),
    );
  }

  private connect(): Promise<{ sdk: SfnSdk; client: SFNClient }> {
    const { client, endpoint, region } = this.options;
    this.sdk ??= import('@aws-sdk/client-sfn').then((sdk) => ({
      sdk,
      client:
        client ??
        new sdk.SFNClient({
          ...(endpoint !== undefined && { endpoint }),
          ...(region !== undefined && { region }),
        }),
    }));
    return this.sdk;
  }
}
