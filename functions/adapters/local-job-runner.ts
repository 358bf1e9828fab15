/**
 * Runs jobs in-process, locally: the same state machine definition the stack deploys, executed by
 * aws-local-stepfunctions with every task state overridden by the real task code (job-tasks.ts). The job
 * records live in the local store, so a job whose server stopped resumes from its cursor when the server
 * starts again ({@link LocalJobRunner.resumeUnfinished}).
 *
 * aws-local-stepfunctions 2.x is what runs on Node 20, but only 3.x is installable here; 3.x needs just
 * `Promise.withResolvers` from Node 22, which the polyfill below supplies.
 */
import './promise-with-resolvers.js';

import { randomUUID } from 'node:crypto';

import { FINISHED, type JobRecord } from '../core/jobs/job-record.js';
import { runTask, type JobEnvironment, type TaskOutput } from '../core/jobs/job-tasks.js';
import type { JobRunner } from '../core/jobs/job-runner.js';
import { STATE, jobStateMachineDefinition, type TaskEvent } from '../core/jobs/state-machine.js';

export interface LocalJobRunnerOptions {
  /**
   * The state machine definition to run (default: {@link jobStateMachineDefinition}); the tests pass the
   * one extracted from the synthesized stack. Every task state is run by its name, whatever its Resource.
   */
  definition?: Record<string, unknown>;
  /** Page tasks per execution before it continues as new (tests lower it). */
  iterationsPerExecution?: number;
  /** Pause between retries of a failed task, in ms (Step Functions' backoff when absent). */
  retryIntervalMs?: number;
  /**
   * Called before each task runs, with its event: tests inject crashes here. A throw fails the task
   * attempt as a crashed Lambda invocation would.
   */
  beforeTask?: (event: TaskEvent) => void | Promise<void>;
}

interface Running {
  jobId: string;
  abort: () => void;
  done: Promise<void>;
}

type LocalStateMachine = {
  run(input: unknown, options: Record<string, unknown>): { result: Promise<unknown>; abort: () => void };
};

export class LocalJobRunner implements JobRunner {
  readonly kind = 'local' as const;
  private machine: Promise<LocalStateMachine> | undefined;
  private readonly running = new Map<string, Running>();
  private readonly launches = new Map<string, number>();
  private stopped = false;

  constructor(
    private readonly env: JobEnvironment,
    private readonly options: LocalJobRunnerOptions = {},
  ) {}

  /** Starts an execution for the job; resolves with its id once it runs. */
  async start(jobId: string): Promise<string> {
    return this.launch(jobId);
  }

  /** Aborts one execution (the job record stays as its last commit left it: resumable). */
  async stop(execution: string): Promise<void> {
    this.running.get(execution)?.abort();
  }

  /** How many executions this runner started for a job (continue-as-new adds one each time). */
  executionsOf(jobId: string): number {
    return this.launches.get(jobId) ?? 0;
  }

  /** Whether an execution is still running. */
  isRunning(execution: string): boolean {
    return this.running.has(execution);
  }

  /** Restarts an execution for every job the store holds unfinished and that nothing here runs. */
  async resumeUnfinished(jobs: JobRecord[]): Promise<string[]> {
    const active = new Set([...this.running.values()].map((r) => r.jobId));
    const resumed: string[] = [];
    for (const job of jobs) {
      if (FINISHED.includes(job.status) || active.has(job.id)) continue;
      resumed.push(await this.launch(job.id));
    }
    return resumed;
  }

  /** Resolves when the job's executions here have all ended (tests, `--wait`). */
  async settled(jobId: string): Promise<void> {
    for (;;) {
      const mine = [...this.running.values()].filter((r) => r.jobId === jobId);
      if (mine.length === 0) return;
      await Promise.all(mine.map((r) => r.done));
    }
  }

  /** Aborts every execution: the server is stopping (each job resumes on the next start). */
  async close(): Promise<void> {
    this.stopped = true;
    const all = [...this.running.values()];
    for (const r of all) r.abort();
    await Promise.all(all.map((r) => r.done));
  }

  private async launch(jobId: string): Promise<string> {
    if (this.stopped) throw new Error('the job runner is stopped');
    const machine = await this.stateMachine();
    const execution = `local:${randomUUID()}`;
    this.launches.set(jobId, this.executionsOf(jobId) + 1);
    const input = { jobId, iteration: 0 };
    const handler = (event: TaskEvent) => this.runTaskState(event);
    const handlers = {
      [STATE.prepare]: handler,
      [STATE.page]: handler,
      [STATE.failJob]: handler,
      [STATE.continueAsNew]: async (event: { Input: { jobId: string } }) => {
        // A fresh execution for the same job, as Step Functions' startExecution would start.
        return { ExecutionArn: await this.launch(event.Input.jobId) };
      },
    };
    const retry = this.options.retryIntervalMs;
    const run = machine.run(input, {
      overrides: {
        taskResourceLocalHandlers: handlers,
        ...(retry !== undefined && {
          retryIntervalOverrides: { [STATE.prepare]: retry, [STATE.page]: retry, [STATE.failJob]: retry },
        }),
      },
      noThrowOnAbort: true,
      context: {
        Execution: { Id: execution, Input: input, StartTime: new Date().toISOString() },
        StateMachine: { Id: 'local:sealgate-jobs', Name: 'sealgate-jobs' },
      },
    });
    const done = run.result.then(
      () => undefined,
      (error: unknown) => {
        if (!this.stopped) {
          this.env.logger.error('local job execution ended in error', {
            jobId,
            execution,
            error: error instanceof Error ? error.message : String(error),
          });
        }
      },
    );
    const entry: Running = { jobId, abort: run.abort, done };
    this.running.set(execution, entry);
    void done.finally(() => this.running.delete(execution));
    return execution;
  }

  private async runTaskState(event: TaskEvent): Promise<TaskOutput> {
    if (this.stopped) throw new Error('the job runner is stopped');
    await this.options.beforeTask?.(event);
    try {
      return await runTask(this.env, event);
    } catch (error) {
      // Step Functions sees a task's error by its name: NoSuchJobError is not retried.
      if (error instanceof Error && error.name !== 'Error')
        throw Object.assign(new Error(error.message), { name: error.name });
      throw error;
    }
  }

  private stateMachine(): Promise<LocalStateMachine> {
    this.machine ??= import('aws-local-stepfunctions').then(
      ({ StateMachine }) =>
        new StateMachine(
          (this.options.definition ??
            jobStateMachineDefinition({
              taskFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:sealgate-job-task',
              ...(this.options.iterationsPerExecution !== undefined && {
                iterationsPerExecution: this.options.iterationsPerExecution,
              }),
            })) as never,
          { validationOptions: { checkArn: false } },
        ) as unknown as LocalStateMachine,
    );
    return this.machine;
  }
}
