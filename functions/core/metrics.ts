/**
 * What the gateway counts, as named metrics with dimensions (docs/DEPLOY.md, "Observability"). The core
 * records into one process-wide sink, as it logs into one logger: the edge that runs it installs a sink
 * that ships the values (CloudWatch embedded metric format on AWS, adapters/emf-metrics.ts) and decides
 * when to flush. Without one, recording costs a function call and nothing else.
 *
 * Metric names are fixed here, so the stack's dashboard and alarms (lib/observability.ts) name the same
 * ones; dimensions are few and of bounded cardinality (an operation, a status, a mode), never a bucket,
 * key or request id.
 */

export type MetricUnit = 'Count' | 'Bytes' | 'Milliseconds';

export interface MetricsSink {
  add(name: string, unit: MetricUnit, value: number, dimensions?: Readonly<Record<string, string>>): void;
}

/** The metric names, shared with the stack. */
export const METRIC = {
  requests: 'Requests',
  errors4xx: 'Errors4xx',
  errors5xx: 'Errors5xx',
  latency: 'Latency',
  bytesIn: 'BytesIn',
  bytesOut: 'BytesOut',
  encryptedBytes: 'EncryptedBytes',
  decryptedBytes: 'DecryptedBytes',
  kmsCalls: 'KmsCalls',
  kmsFailures: 'KmsFailures',
  writeGateRejections: 'WriteGateRejections',
} as const;

/** The CloudWatch namespace every Sealgate metric is in (the job tasks' too). */
export const METRICS_NAMESPACE = 'Sealgate';

const NOTHING: MetricsSink = { add: () => undefined };
let sink: MetricsSink = NOTHING;

/** Installs the sink the process records into (the edge's choice); `undefined` puts back the no-op one. */
export function useMetricsSink(next: MetricsSink | undefined): void {
  sink = next ?? NOTHING;
}

/**
 * One request as the gateway answered it: counted overall and by operation and status, with the time to
 * its response headers and the bytes its headers declare (`Content-Length` in and out: a response cut
 * short still counts its declared length).
 */
export function recordRequest(request: {
  operation: string;
  status: number;
  latencyMs: number;
  bytesIn: number;
  bytesOut: number;
}): void {
  const { operation, status } = request;
  sink.add(METRIC.requests, 'Count', 1);
  sink.add(METRIC.errors4xx, 'Count', status >= 400 && status < 500 ? 1 : 0);
  sink.add(METRIC.errors5xx, 'Count', status >= 500 ? 1 : 0);
  sink.add(METRIC.latency, 'Milliseconds', request.latencyMs);
  sink.add(METRIC.bytesIn, 'Bytes', request.bytesIn);
  sink.add(METRIC.bytesOut, 'Bytes', request.bytesOut);
  sink.add(METRIC.requests, 'Count', 1, { Operation: operation, Status: String(status) });
  sink.add(METRIC.latency, 'Milliseconds', request.latencyMs, { Operation: operation });
}

/** Plaintext bytes the gateway encrypted or decrypted (and verified), by the object's mode. */
export function recordCipherBytes(direction: 'encrypt' | 'decrypt', mode: string, bytes: number): void {
  sink.add(direction === 'encrypt' ? METRIC.encryptedBytes : METRIC.decryptedBytes, 'Bytes', bytes, {
    Mode: mode,
  });
}

/** One call to KMS by the gateway (not those S3 makes for SSE-KMS), and whether it failed. */
export function recordKmsCall(operation: string, failed: boolean): void {
  sink.add(METRIC.kmsCalls, 'Count', 1, { Operation: operation });
  if (failed) sink.add(METRIC.kmsFailures, 'Count', 1, { Operation: operation });
}

/** A write refused with 503 SlowDown because a job holds the bucket's write gate. */
export function recordWriteGateRejection(): void {
  sink.add(METRIC.writeGateRejections, 'Count', 1);
}
