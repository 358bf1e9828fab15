/**
 * What drives a job's state machine: Step Functions on AWS (adapters/sfn-job-runner.ts), the same
 * definition in-process locally (adapters/local-job-runner.ts). The core starts and stops executions
 * through it and never sees either.
 */
export interface JobRunner {
  readonly kind: 'local' | 'step-functions';
  /** Starts an execution for the job (which must be stored already); resolves with its id or ARN. */
  start(jobId: string): Promise<string>;
  /** Stops an execution; the job record stays as its last commit left it. */
  stop(execution: string): Promise<void>;
}
