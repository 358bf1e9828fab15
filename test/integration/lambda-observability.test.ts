/**
 * What the gateway function writes to its log on AWS, read off the real Lambda handler in the function URL
 * emulator with the stack's SEALGATE_METRICS=emf: JSON log records carrying the invocation's request id,
 * and CloudWatch embedded-metric-format records in namespace Sealgate with the requests by operation and
 * status, bytes in and out, the bytes encrypted and decrypted by mode, and the KMS calls. Nothing secret
 * appears in any of it.
 */
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createMotoKmsKey } from '../support/encryption-gateway.js';
import { startFunctionUrlGateway } from '../support/function-url-emulator.js';
import { TEST_CREDENTIALS, type TestGateway } from '../support/gateway.js';
import { useMoto } from '../support/moto.js';
import { expectS3Error, getBytes, patternBytes } from '../support/s3-expect.js';

const moto = useMoto();
const PROXY_KEY = 'a7'.repeat(32);

interface EmfRecord {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] };
  [field: string]: unknown;
}

/** The values of `metric` over the EMF records whose dimensions (beyond `service`) are exactly `dimensions`. */
function values(records: EmfRecord[], metric: string, dimensions: Record<string, string> = {}): number[] {
  const wanted = Object.keys(dimensions).sort();
  const found: number[] = [];
  for (const record of records) {
    const names = record._aws.CloudWatchMetrics[0].Dimensions[0].filter((d) => d !== 'service').sort();
    if (names.join() !== wanted.join()) continue;
    if (!wanted.every((d) => record[d] === dimensions[d])) continue;
    const value = record[metric];
    if (value !== undefined) found.push(...(Array.isArray(value) ? (value as number[]) : [value as number]));
  }
  return found;
}

const sum = (numbers: number[]) => numbers.reduce((a, b) => a + b, 0);

describe('the gateway function’s logs and metrics (function URL emulator)', () => {
  let gateway: TestGateway;
  const lines: string[] = [];
  const body = patternBytes(10_000, 3);

  beforeAll(async () => {
    process.env.AWS_ACCESS_KEY_ID ??= 'testing';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'testing';
    const kmsKey = await createMotoKmsKey(moto);
    gateway = await startFunctionUrlGateway({
      encryptionYaml: `      mode: aes256-gcm-proxy\n      key: "${PROXY_KEY}"\n      key_id: obs-1\n`,
      backendsYaml: (dataDir) =>
        `  - name: envelope\n    type: filesystem\n    path: ${dataDir}/envelope\n    encryption:\n` +
        `      mode: aws-kms-envelope\n      kms_key_id: ${kmsKey}\n      kms_endpoint: ${moto.endpoint}\n`,
      extraYaml: 'buckets:\n  - name: sealed-kms\n    backend: envelope\n',
      environment: { SEALGATE_METRICS: 'emf', SEALGATE_LOG_LEVEL: 'info' },
    });
    for (const bucket of ['sealed', 'sealed-kms']) {
      await gateway.client().send(new CreateBucketCommand({ Bucket: bucket }));
    }
    // Powertools writes JSON lines, errors on stderr and the rest on stdout: what the handler writes there
    // while these requests run is the log.
    const streams = [process.stdout, process.stderr];
    const writes = streams.map((stream) => stream.write.bind(stream));
    for (const stream of streams) {
      stream.write = (chunk: string | Uint8Array) => {
        lines.push(
          ...String(chunk)
            .split('\n')
            .filter((l) => l.startsWith('{')),
        );
        return true;
      };
    }
    try {
      const s3 = gateway.client();
      for (const bucket of ['sealed', 'sealed-kms']) {
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'one', Body: body }));
        expect((await getBytes(s3, bucket, 'one')).equals(body)).toBe(true);
      }
      await expectS3Error(
        s3.send(new GetObjectCommand({ Bucket: 'sealed', Key: 'missing' })),
        'NoSuchKey',
        404,
      );
    } finally {
      streams.forEach((stream, i) => (stream.write = writes[i]));
    }
  }, 60_000);
  afterAll(async () => {
    await gateway?.close();
  });

  const emf = () =>
    lines.filter((l) => l.startsWith('{') && l.includes('"_aws"')).map((l) => JSON.parse(l) as EmfRecord);

  it('counts requests overall and by operation and status, in namespace Sealgate', () => {
    const records = emf();
    expect(records.length).toBeGreaterThan(0);
    expect(new Set(records.map((r) => r._aws.CloudWatchMetrics[0].Namespace))).toEqual(new Set(['Sealgate']));
    expect(sum(values(records, 'Requests', { Operation: 'GetObject', Status: '200' }))).toBe(2);
    expect(sum(values(records, 'Requests', { Operation: 'GetObject', Status: '404' }))).toBe(1);
    expect(sum(values(records, 'Errors4xx'))).toBeGreaterThanOrEqual(1);
    expect(sum(values(records, 'Errors5xx'))).toBe(0);
    expect(values(records, 'Latency', { Operation: 'PutObject' }).length).toBeGreaterThanOrEqual(2);
    // Two 10,000-byte bodies in and out, besides the rest.
    expect(sum(values(records, 'BytesIn'))).toBeGreaterThanOrEqual(2 * body.length);
    expect(sum(values(records, 'BytesOut'))).toBeGreaterThanOrEqual(2 * body.length);
  });

  it('counts the plaintext bytes encrypted and decrypted by mode, and the KMS calls', () => {
    const records = emf();
    for (const mode of ['aes256-gcm-proxy', 'aws-kms-envelope']) {
      expect(sum(values(records, 'EncryptedBytes', { Mode: mode })), mode).toBeGreaterThanOrEqual(
        body.length,
      );
      expect(sum(values(records, 'DecryptedBytes', { Mode: mode })), mode).toBe(body.length);
    }
    expect(sum(values(records, 'KmsCalls', { Operation: 'GenerateDataKey' }))).toBe(1);
    expect(sum(values(records, 'KmsCalls', { Operation: 'Decrypt' }))).toBeGreaterThanOrEqual(1);
    expect(values(records, 'KmsFailures', { Operation: 'Decrypt' })).toEqual([]);
  });

  it('logs each request as JSON with the invocation’s request id, and nothing secret anywhere', () => {
    const requests = lines
      .filter((l) => l.startsWith('{') && !l.includes('"_aws"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((r) => r.message === 'request');
    expect(requests.length).toBeGreaterThanOrEqual(5);
    for (const record of requests) {
      expect(record).toMatchObject({ level: 'INFO', service: 'sealgate-gateway' });
      expect(record.function_request_id).toEqual(expect.any(String));
      expect(record.requestId).toMatch(/^[0-9A-F]{16}$/);
    }
    const everything = lines.join('\n');
    for (const secret of [TEST_CREDENTIALS.secretAccessKey, PROXY_KEY])
      expect(everything).not.toContain(secret);
  });
});
