/**
 * The Step Functions job runner against moto's Step Functions: it starts an execution of the job state
 * machine named after the job, with the job id as its input, and stops it.
 */
import { CreateStateMachineCommand, DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { SfnJobRunner } from '../../functions/adapters/sfn-job-runner.js';
import { jobStateMachineDefinition } from '../../functions/core/jobs/state-machine.js';
import { startMoto, type MotoServer } from '../support/moto.js';

const AWS = { region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };

describe('SfnJobRunner on moto', () => {
  let moto: MotoServer;
  let client: SFNClient;
  let stateMachineArn: string;

  beforeAll(async () => {
    moto = await startMoto();
    client = new SFNClient({ endpoint: moto.endpoint, ...AWS });
    const created = await client.send(
      new CreateStateMachineCommand({
        name: 'sealgate-jobs',
        definition: JSON.stringify(
          jobStateMachineDefinition({
            taskFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:sealgate-job-task',
          }),
        ),
        roleArn: 'arn:aws:iam::123456789012:role/sealgate-jobs',
        type: 'STANDARD',
      }),
    );
    stateMachineArn = created.stateMachineArn!;
  });

  afterAll(async () => {
    client?.destroy();
    await moto?.stop();
  });

  it('starts an execution named after the job, with the job id as input, and stops it', async () => {
    const runner = new SfnJobRunner({ stateMachineArn, client });
    const jobId = 'j-20261203143000-0a1b2c3d';
    const execution = await runner.start(jobId);
    expect(execution).toContain(`:execution:sealgate-jobs:${jobId}-`);
    const described = await client.send(new DescribeExecutionCommand({ executionArn: execution }));
    expect(JSON.parse(described.input!)).toEqual({ jobId, iteration: 0 });
    expect(described.status).toBe('RUNNING');
    // A resumed job gets a fresh execution name.
    const again = await runner.start(jobId);
    expect(again).not.toBe(execution);
    await runner.stop(execution);
    const stopped = await client.send(new DescribeExecutionCommand({ executionArn: execution }));
    expect(stopped.status).toBe('ABORTED');
    await runner.stop(again);
  });
});
