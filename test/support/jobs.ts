/** Waiting on jobs through the admin API, and reading what a job left on the raw backend. */
import { expect } from 'vitest';

import type { Backend } from '../../functions/core/backend.js';
import { admin } from './admin.js';

export interface JobJson {
  id: string;
  bucket: string;
  status: string;
  phase: string;
  counters: {
    objects: number;
    bytes: number;
    rewritten: number;
    skipped: number;
    failed: number;
    total: number | null;
  };
  pages: number;
  execution: string | null;
  error: string | null;
  [field: string]: unknown;
}

const FINISHED = ['cancelled', 'succeeded', 'failed', 'succeeded-with-failures'];

/** Polls the job until it has finished; fails after `ms`. */
export async function waitForJob(endpoint: string, id: string, ms = 60_000): Promise<JobJson> {
  const deadline = Date.now() + ms;
  for (;;) {
    const { status, json } = await admin(endpoint, 'GET', `jobs/${id}`);
    expect(status).toBe(200);
    const job = json as unknown as JobJson;
    if (FINISHED.includes(job.status)) return job;
    if (Date.now() > deadline)
      throw new Error(`job ${id} did not finish in ${ms} ms: ${JSON.stringify(job)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Starts re-encrypt jobs through the admin API; expects every bucket to start. */
export async function startReencrypt(
  endpoint: string,
  buckets: string[],
  strategy: 'full' | 'rewrap' = 'full',
): Promise<JobJson[]> {
  const { status, json } = await admin(endpoint, 'POST', 'jobs/reencrypt', { buckets, strategy });
  expect(json!.refused).toEqual([]);
  expect(status).toBe(202);
  return json!.jobs as JobJson[];
}

/** The stored bytes and internal markers of an object, read from the backend itself. */
export async function rawObject(
  backend: Backend,
  bucket: string,
  key: string,
): Promise<{ body: Buffer; internal: Record<string, string>; etag: string }> {
  const { info, body } = await backend.getObject(bucket, key);
  const pieces: Uint8Array[] = [];
  for await (const piece of body) pieces.push(piece);
  return { body: Buffer.concat(pieces), internal: info.metadata.internal, etag: info.etag };
}
