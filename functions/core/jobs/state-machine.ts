/**
 * The job state machine, in Amazon States Language, defined once: the CDK stack deploys it as a Step
 * Functions Standard state machine, and the local server runs the same definition in-process. Every task
 * calls one task function with `{task, jobId, iteration}`; the function reads the job record, does one
 * bounded piece of work, and says what comes next (see job-tasks.ts).
 *
 *   Prepare -> Route -> Page -> Route -> ... -> Done
 *                    -> Wait (a gate's settle time, a sweep's write bound) -> Page
 *                    -> ContinueAsNew (a fresh execution, before the 25,000-event history limit)
 *   any task, retries spent -> FailJob -> Failed
 */

/** Where the tasks run. */
export interface StateMachineResources {
  /** The task function's ARN (the local runner overrides every task by its state name). */
  taskFunctionArn: string;
  /** Page tasks per execution before it continues as new: each costs about 8 history events. */
  iterationsPerExecution?: number;
}

/** The state names the local runner overrides. */
export const STATE = {
  prepare: 'Prepare',
  route: 'Route',
  page: 'Page',
  wait: 'Wait',
  continueAsNew: 'ContinueAsNew',
  failJob: 'FailJob',
  done: 'Done',
  failed: 'Failed',
} as const;

/** 1,000 iterations is about 8,000 history events: well inside 25,000, retries included. */
export const ITERATIONS_PER_EXECUTION = 1000;

/** Errors no retry cures: the job or its record is gone. */
const NOT_RETRIED = ['NoSuchJobError'];

const RETRY = [
  { ErrorEquals: NOT_RETRIED, MaxAttempts: 0 },
  { ErrorEquals: ['States.ALL'], IntervalSeconds: 2, MaxAttempts: 6, BackoffRate: 2, MaxDelaySeconds: 60 },
];

const CATCH = [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: STATE.failJob }];

export function jobStateMachineDefinition(resources: StateMachineResources): Record<string, unknown> {
  const task = (name: string, extra: Record<string, unknown>) => ({
    Type: 'Task',
    Comment: `sealgate job task: ${name}`,
    Resource: resources.taskFunctionArn,
    ...extra,
  });
  return {
    Comment:
      'Sealgate re-encrypt and migrate jobs: one page of the listing per Page task, cursor and counters in the job record',
    StartAt: STATE.prepare,
    States: {
      [STATE.prepare]: task('prepare', {
        Parameters: { task: 'prepare', 'jobId.$': '$.jobId', 'iteration.$': '$.iteration' },
        Retry: RETRY,
        Catch: CATCH,
        Next: STATE.route,
      }),
      [STATE.route]: {
        Type: 'Choice',
        Choices: [
          { Variable: '$.next', StringEquals: 'done', Next: STATE.done },
          { Variable: '$.next', StringEquals: 'wait', Next: STATE.wait },
          {
            Variable: '$.iteration',
            NumericGreaterThanEquals: resources.iterationsPerExecution ?? ITERATIONS_PER_EXECUTION,
            Next: STATE.continueAsNew,
          },
        ],
        Default: STATE.page,
      },
      [STATE.page]: task('page', {
        Parameters: { task: 'page', 'jobId.$': '$.jobId', 'iteration.$': '$.iteration' },
        Retry: RETRY,
        Catch: CATCH,
        Next: STATE.route,
      }),
      [STATE.wait]: { Type: 'Wait', SecondsPath: '$.waitSeconds', Next: STATE.page },
      [STATE.continueAsNew]: {
        Type: 'Task',
        Comment: 'a fresh execution of this state machine for the same job, from its committed cursor',
        Resource: 'arn:aws:states:::states:startExecution',
        Parameters: {
          'StateMachineArn.$': '$$.StateMachine.Id',
          Input: {
            'jobId.$': '$.jobId',
            iteration: 0,
            'AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$': '$$.Execution.Id',
          },
        },
        Retry: RETRY.slice(1),
        Catch: CATCH,
        Next: STATE.done,
      },
      [STATE.failJob]: task('fail', {
        Parameters: { task: 'fail', 'jobId.$': '$$.Execution.Input.jobId', 'error.$': '$.error' },
        Retry: RETRY,
        Next: STATE.failed,
      }),
      [STATE.done]: { Type: 'Succeed' },
      [STATE.failed]: {
        Type: 'Fail',
        Error: 'JobFailed',
        Cause: 'the job failed: see its record for the reason',
      },
    },
  };
}

/** What every task receives. */
export interface TaskEvent {
  task: 'prepare' | 'page' | 'fail';
  jobId: string;
  iteration?: number;
  error?: unknown;
}
