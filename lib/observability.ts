import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  MathExpression,
  Metric,
  TreatMissingData,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

import { METRIC, METRICS_NAMESPACE } from '../functions/core/metrics.js';

/** The `service` dimension Powertools gives each function's metrics (functions/handlers/*.ts). */
const GATEWAY_SERVICE = 'sealgate-gateway';
const JOBS_SERVICE = 'sealgate-jobs';
/** The modes whose bytes the gateway encrypts and decrypts itself. */
const GATEWAY_MODES = ['aes256-gcm-proxy', 'aws-kms-envelope', 'sse-c'];
const JOB_KINDS = ['reencrypt', 'migrate'];
const PERIOD = Duration.minutes(5);

export interface ObservabilityProps {
  gateway: IFunction;
  /** The gateway function's timeout: the duration alarm fires at 90% of it. */
  gatewayTimeout: Duration;
  jobTask: IFunction;
  jobs: StateMachine;
  /** Where the alarms notify, besides the topic (an email address to subscribe to it). */
  alarmEmail?: string;
  /**
   * The share of requests answered 5xx, over 5 minutes twice in a row, that raises the alarm (0.05: one
   * in twenty).
   */
  errorRateThreshold?: number;
}

/**
 * What an operator watches: a CloudWatch dashboard of the gateway's own metrics (embedded metric format
 * from the functions' logs, namespace Sealgate) beside Lambda's and Step Functions', and alarms on what
 * needs a person: a 5xx rate, throttles, invocations near the timeout, a job that failed or finished with
 * failures. Alarms notify an SNS topic (encrypted, TLS only), which an email address may subscribe to.
 */
export class Observability extends Construct {
  readonly dashboard: Dashboard;
  readonly alarmTopic: Topic;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const gw = (name: string, dimensions: Record<string, string> = {}, statistic = 'Sum') =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: name,
        dimensionsMap: { service: GATEWAY_SERVICE, ...dimensions },
        statistic,
        period: PERIOD,
      });
    const job = (name: string, kind: string) =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: name,
        dimensionsMap: { service: JOBS_SERVICE, Kind: kind },
        statistic: 'Sum',
        period: PERIOD,
      });

    // CloudWatch cannot publish to a topic under the AWS managed SNS key: the topic gets a key of its own,
    // which holds nothing but alarm messages and goes with the stack (after KMS's 7-day waiting period).
    const topicKey = new Key(this, 'AlarmTopicKey', {
      enableKeyRotation: true,
      description: 'Sealgate alarm topic',
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    this.alarmTopic = new Topic(this, 'AlarmTopic', {
      displayName: 'Sealgate alarms',
      masterKey: topicKey,
      enforceSSL: true,
    });
    // CloudWatch publishes to the encrypted topic: it needs the key.
    topicKey.grant(new ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    if (props.alarmEmail) this.alarmTopic.addSubscription(new EmailSubscription(props.alarmEmail));
    const action = new SnsAction(this.alarmTopic);
    const alarm = (alarmId: string, description: string, metric: IMetric, threshold: number, periods = 1) => {
      const made = new Alarm(this, alarmId, {
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: periods,
        datapointsToAlarm: periods,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      made.addAlarmAction(action);
      this.alarms.push(made);
      return made;
    };

    // Errors5xx is 0 or 1 per request: its average is the share of requests answered 5xx.
    alarm(
      'ServerErrorRate',
      'More than the threshold share of gateway requests answered 5xx, two 5-minute periods in a row',
      gw(METRIC.errors5xx, {}, 'Average'),
      props.errorRateThreshold ?? 0.05,
      2,
    );
    alarm(
      'GatewayThrottles',
      'Lambda throttled gateway invocations (clients got 429/503 from the function URL): raise the concurrency limit',
      props.gateway.metricThrottles({ period: PERIOD, statistic: 'Sum' }),
      0,
    );
    alarm(
      'GatewayDurationNearTimeout',
      'A gateway invocation ran above 90% of its timeout: a transfer that long may be cut off',
      props.gateway.metricDuration({ period: PERIOD, statistic: 'Maximum' }),
      props.gatewayTimeout.toMilliseconds() * 0.9,
    );
    const failedJobs = new MathExpression({
      label: 'jobs failed or with failures',
      expression: JOB_KINDS.flatMap((_, i) => [`f${i}`, `w${i}`]).join(' + '),
      usingMetrics: Object.fromEntries(
        JOB_KINDS.flatMap((kind, i) => [
          [`f${i}`, job('JobsFailed', kind)],
          [`w${i}`, job('JobsSucceededWithFailures', kind)],
        ]),
      ),
      period: PERIOD,
    });
    alarm(
      'JobFailures',
      'A re-encrypt or migrate job failed, or finished with objects it could not process (see its failures in the admin API)',
      failedJobs,
      0,
    );
    alarm(
      'JobExecutionsFailed',
      'A job state machine execution failed, timed out or was aborted outside the admin API',
      new MathExpression({
        label: 'executions failed, timed out or aborted',
        expression: 'failed + timedOut + aborted',
        usingMetrics: {
          failed: props.jobs.metricFailed({ period: PERIOD }),
          timedOut: props.jobs.metricTimedOut({ period: PERIOD }),
          aborted: props.jobs.metricAborted({ period: PERIOD }),
        },
        period: PERIOD,
      }),
      0,
    );

    this.dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    const graph = (title: string, left: IMetric[], right: IMetric[] = []) =>
      new GraphWidget({ title, left, right, width: 12, height: 6 });
    this.dashboard.addWidgets(
      graph(
        'Requests and error rates',
        [gw(METRIC.requests)],
        [gw(METRIC.errors4xx, {}, 'Average'), gw(METRIC.errors5xx, {}, 'Average')],
      ),
      graph('Latency to response headers (ms)', [
        gw(METRIC.latency, {}, 'p50'),
        gw(METRIC.latency, {}, 'p99'),
        gw(METRIC.latency, {}, 'Maximum'),
      ]),
      graph('Bytes in and out', [gw(METRIC.bytesIn), gw(METRIC.bytesOut)]),
      graph(
        'Bytes encrypted and decrypted by the gateway, by mode',
        GATEWAY_MODES.map((mode) => gw(METRIC.encryptedBytes, { Mode: mode })),
        GATEWAY_MODES.map((mode) => gw(METRIC.decryptedBytes, { Mode: mode })),
      ),
      graph(
        'KMS calls by the gateway',
        ['GenerateDataKey', 'Decrypt', 'Encrypt'].map((op) => gw(METRIC.kmsCalls, { Operation: op })),
        ['GenerateDataKey', 'Decrypt', 'Encrypt'].map((op) => gw(METRIC.kmsFailures, { Operation: op })),
      ),
      graph('Writes refused by a job’s write gate (503 SlowDown)', [gw(METRIC.writeGateRejections)]),
      graph(
        'Job progress',
        JOB_KINDS.flatMap((kind) => [job('JobObjects', kind), job('JobObjectsRewritten', kind)]),
        JOB_KINDS.flatMap((kind) => [job('JobObjectsFailed', kind), job('JobObjectsSkipped', kind)]),
      ),
      graph(
        'Gateway function',
        [
          props.gateway.metricInvocations({ period: PERIOD }),
          props.gateway.metricThrottles({ period: PERIOD }),
        ],
        [props.gateway.metricDuration({ period: PERIOD, statistic: 'p99' })],
      ),
      graph(
        'Job executions and tasks',
        [
          props.jobs.metricStarted({ period: PERIOD }),
          props.jobs.metricSucceeded({ period: PERIOD }),
          props.jobs.metricFailed({ period: PERIOD }),
        ],
        [props.jobTask.metricErrors({ period: PERIOD }), props.jobTask.metricThrottles({ period: PERIOD })],
      ),
    );
  }
}
