/**
 * The jobs service of a gateway deployed on AWS, whichever plane serves it (the function URL's Lambda
 * function, the container data plane): jobs are executions of the job state machine the stack deploys, so
 * that a job started from either plane runs, and is reported, the same way.
 */
import { SfnJobRunner } from '../adapters/sfn-job-runner.js';
import type { ConfigStore } from '../core/control/config-store.js';
import type { ControlPlane } from '../core/control/control-plane.js';
import { isJobStore } from '../core/jobs/job-record.js';
import { JobsService } from '../core/jobs/jobs-service.js';
import { controlAwsFrom } from './control-setup.js';

/**
 * Jobs, where the store keeps them and the stack named the job state machine
 * (`SEALGATE_JOB_STATE_MACHINE`); without either, the admin API's job routes answer that jobs are not
 * available here.
 */
export function sfnJobsService(
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
