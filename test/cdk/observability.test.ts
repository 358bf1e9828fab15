/**
 * The stack's dashboard and alarms (lib/observability.ts), on the synthesized template: each alarm on the
 * metric the functions emit (functions/core/metrics.ts, adapters/job-metrics.ts) or Lambda's and Step
 * Functions' own, notifying an encrypted, TLS-only topic.
 */
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';

import { METRIC } from '../../functions/core/metrics.js';
import { MINIMAL_CONFIG, synth as synthConfig } from './synth.js';

const synth = (alarmEmail?: string): Template => synthConfig(MINIMAL_CONFIG, { alarmEmail });

type AlarmProperties = {
  AlarmDescription: string;
  MetricName?: string;
  Namespace?: string;
  Statistic?: string;
  Threshold: number;
  EvaluationPeriods: number;
  AlarmActions: unknown[];
  Metrics?: { Id: string; Expression?: string; MetricStat?: { Metric: { MetricName: string } } }[];
  Dimensions?: { Name: string; Value: unknown }[];
};

describe('observability in the stack', () => {
  const template = synth();
  const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(
    (a) => (a as { Properties: AlarmProperties }).Properties,
  );
  const [topic] = Object.keys(template.findResources('AWS::SNS::Topic'));
  const find = (text: RegExp) => {
    const found = alarms.find((a) => text.test(a.AlarmDescription));
    expect(found, String(text)).toBeDefined();
    return found!;
  };

  it('alarms on the 5xx share of requests, from the gateway’s own metric, two periods in a row', () => {
    const alarm = find(/answered 5xx/);
    expect(alarm).toMatchObject({
      Namespace: 'Sealgate',
      MetricName: METRIC.errors5xx,
      Statistic: 'Average',
      Threshold: 0.05,
      EvaluationPeriods: 2,
    });
    expect(alarm.Dimensions).toEqual([{ Name: 'service', Value: 'sealgate-gateway' }]);
  });

  it('alarms on throttles and on an invocation above 90% of the gateway’s timeout', () => {
    expect(find(/throttled/)).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Throttles',
      Threshold: 0,
    });
    expect(find(/90% of its timeout/)).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Duration',
      Statistic: 'Maximum',
      Threshold: 900_000 * 0.9,
    });
  });

  it('alarms on a job that failed or finished with failures, of either kind, and on a failed execution', () => {
    const jobs = find(/job failed, or finished with objects/);
    const names = jobs.Metrics!.flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric.MetricName] : []));
    expect(names.sort()).toEqual([
      'JobsFailed',
      'JobsFailed',
      'JobsSucceededWithFailures',
      'JobsSucceededWithFailures',
    ]);
    const executions = find(/state machine execution failed/);
    const stateNames = executions.Metrics!.flatMap((m) =>
      m.MetricStat ? [m.MetricStat.Metric.MetricName] : [],
    );
    expect(stateNames.sort()).toEqual(['ExecutionsAborted', 'ExecutionsFailed', 'ExecutionsTimedOut']);
  });

  it('has every alarm notify the topic, which is encrypted and refuses non-TLS publishers', () => {
    expect(alarms).toHaveLength(5);
    for (const alarm of alarms) expect(alarm.AlarmActions).toEqual([{ Ref: topic }]);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('subscribes the alarm email when one is given', () => {
    synth('ops@example.com').hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
  });

  it('draws a dashboard of requests, bytes by mode, KMS calls, write-gate rejections and jobs', () => {
    const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard')) as {
      Properties: { DashboardBody: unknown };
    }[];
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const name of [
      METRIC.requests,
      METRIC.latency,
      METRIC.bytesIn,
      METRIC.encryptedBytes,
      METRIC.decryptedBytes,
      METRIC.kmsCalls,
      METRIC.writeGateRejections,
      'JobObjects',
      'JobObjectsFailed',
      'ExecutionsFailed',
    ]) {
      expect(body, name).toContain(`\\"${name}\\"`);
    }
    template.hasOutput('Dashboard', {});
    template.hasOutput('AlarmTopic', {});
  });
});
