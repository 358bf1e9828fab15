/**
 * The job state machine in the synthesized stack: a Standard state machine whose definition is the one
 * the local mode runs, its task function with a role of its own, and IAM scoped to named resources (the
 * gateway starts executions of this state machine only; the state machine invokes its task function and
 * starts itself, for continue-as-new).
 */
import { describe, expect, it } from 'vitest';

import { jobStateMachineDefinition } from '../../functions/core/jobs/state-machine.js';
import { environment, statements, synth, synthesizedJobDefinition, TASK_FUNCTION_ARN } from './synth.js';

const CONFIG = `
backends:
  - name: aws
    type: s3
    region: eu-west-1
default_backend: aws
buckets:
  - name: photos
    backend: aws
    backend_bucket: acme-photos
credentials:
  - access_key_id: AKIAEXAMPLEADMIN01
    secret_access_key: \${secretsmanager:sealgate/admin}
    admin: true
`;

describe('the job state machine in the stack', () => {
  const template = synth(CONFIG);

  it('is a Standard state machine whose definition is the one the local mode runs', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      StateMachineName: 'Test-jobs',
      TracingConfiguration: { Enabled: true },
    });
    expect(synthesizedJobDefinition(template)).toEqual(
      jobStateMachineDefinition({ taskFunctionArn: TASK_FUNCTION_ARN }),
    );
  });

  it('runs its tasks on nodejs22.x arm64 with a budget inside the timeout and the gateway timeout as the write bound', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Timeout: 300,
      Description: 'Sealgate job tasks (re-encrypt and migrate pages), run by the job state machine',
    });
    const variables = environment(template, 'JobTask');
    expect(variables.SEALGATE_JOB_BUDGET_MS).toBe('240000');
    expect(variables.SEALGATE_JOB_WRITE_BOUND_MS).toBe('900000');
    expect(environment(template).SEALGATE_JOB_STATE_MACHINE).toEqual({
      Ref: expect.stringMatching(/^Jobs/) as unknown,
    });
  });

  it('lets the gateway start executions of this state machine and describe or stop only its executions', () => {
    const gateway = statements(template).filter((s) =>
      ([] as string[]).concat(s.Action).some((a) => a.startsWith('states:')),
    );
    expect(gateway.map((s) => [s.Sid, s.Action])).toEqual([
      ['JobExecutions', 'states:StartExecution'],
      ['JobExecutionControl', ['states:DescribeExecution', 'states:StopExecution']],
    ]);
    expect(gateway[0].Resource).toEqual({ Ref: expect.stringMatching(/^Jobs/) as unknown });
    const executions = JSON.stringify(gateway[1].Resource);
    expect(executions).toContain(':execution:');
    expect(executions).toMatch(/"Fn::GetAtt":\["Jobs[0-9A-F]{8}","Name"\]\},":\*"/);
  });

  it('gives the task role nothing of Step Functions, and the state machine only its task function and itself', () => {
    const task = statements(template, 'JobTaskRole').flatMap((s) => ([] as string[]).concat(s.Action));
    expect(task.some((a) => a.startsWith('states:'))).toBe(false);
    expect(task).toEqual(
      expect.arrayContaining(['dynamodb:GetItem', 's3:GetObject', 'secretsmanager:GetSecretValue']),
    );
    const machine = statements(template, 'JobsRole');
    const invoke = machine.filter((s) => ([] as string[]).concat(s.Action).includes('lambda:InvokeFunction'));
    expect(JSON.stringify(invoke.map((s) => s.Resource))).toContain('JobTask');
    const self = machine.find((s) => s.Sid === 'ContinueAsNew')!;
    expect(JSON.stringify(self.Resource)).toContain(':stateMachine:Test-jobs');
  });
});
