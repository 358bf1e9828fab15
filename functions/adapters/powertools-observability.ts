/**
 * Logs and metrics of the deployed gateway, through Powertools for AWS Lambda (it works outside Lambda
 * too: the container data plane uses it the same way). The Logger writes the core's structured records as
 * JSON lines, on Lambda with the invocation's request id and cold-start flag; the metrics sink ships the
 * core's metrics (core/metrics.ts) in CloudWatch embedded metric format, one record per dimension set,
 * flushed at the end of every invocation on Lambda and every minute in a container (CloudWatch turns the
 * log lines into metrics, so no PutMetricData call and no extra permission).
 */
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

import type { Logger } from '../core/logger.js';
import type { LambdaContext } from './awslambda.js';
import { METRICS_NAMESPACE, type MetricUnit as CoreUnit, type MetricsSink } from '../core/metrics.js';

type PowertoolsLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';

const LEVELS: Record<string, PowertoolsLevel> = {
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARN',
  error: 'ERROR',
  silent: 'SILENT',
};

const UNITS: Record<CoreUnit, (typeof MetricUnit)[keyof typeof MetricUnit]> = {
  Count: MetricUnit.Count,
  Bytes: MetricUnit.Bytes,
  Milliseconds: MetricUnit.Milliseconds,
};

/** The core's logger on a Powertools Logger, plus the per-invocation context it adds to each record. */
export interface PowertoolsCoreLogger extends Logger {
  /** On Lambda: adds the invocation's request id (and cold start) to every record until the next one. */
  invocation(context: LambdaContext): void;
}

export function powertoolsLogger(serviceName: string, level: string | undefined): PowertoolsCoreLogger {
  const logger = new PowertoolsLogger({ serviceName, logLevel: LEVELS[level ?? 'info'] ?? 'INFO' });
  return {
    info: (message, fields) => logger.info(message, fields ?? {}),
    warn: (message, fields) => logger.warn(message, fields ?? {}),
    error: (message, fields) => logger.error(message, fields ?? {}),
    invocation: (context) => logger.addContext(context as Parameters<PowertoolsLogger['addContext']>[0]),
  };
}

/**
 * The core's metrics as EMF records. Powertools keeps one dimension set per record, so each set the core
 * uses (none, an operation, an operation and status, a mode) gets its own Metrics instance, whose
 * dimensions are its defaults; repeated values of a metric in one flush travel as one array.
 */
export class EmfMetricsSink implements MetricsSink {
  private readonly sets = new Map<string, { metrics: Metrics; pending: boolean }>();

  constructor(private readonly serviceName: string) {}

  add(name: string, unit: CoreUnit, value: number, dimensions: Readonly<Record<string, string>> = {}): void {
    const key = JSON.stringify(Object.entries(dimensions).sort(([a], [b]) => (a < b ? -1 : 1)));
    let set = this.sets.get(key);
    if (!set) {
      set = {
        metrics: new Metrics({
          namespace: METRICS_NAMESPACE,
          serviceName: this.serviceName,
          defaultDimensions: { ...dimensions },
        }),
        pending: false,
      };
      this.sets.set(key, set);
    }
    set.metrics.addMetric(name, UNITS[unit], value);
    set.pending = true;
  }

  /** Writes out what was recorded since the last flush. */
  flush(): void {
    for (const set of this.sets.values()) {
      if (!set.pending) continue;
      set.metrics.publishStoredMetrics();
      set.pending = false;
    }
  }
}
