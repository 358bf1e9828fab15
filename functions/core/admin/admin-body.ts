/** Reading an admin request's JSON body: bounded, bound to the signature's payload hash, parsed. */
import { createHash } from 'node:crypto';
import type { Authenticated } from '../auth/sigv4.js';
import { errors } from '../errors.js';
import { adminErrors } from './admin-errors.js';

/** The largest admin request body: a config document is far smaller. */
export const MAX_ADMIN_BODY_BYTES = 1024 * 1024;

async function readBounded(request: Request): Promise<Buffer> {
  if (request.body === null) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let length = 0;
  const reader = request.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.byteLength;
    if (length > MAX_ADMIN_BODY_BYTES) {
      await reader.cancel();
      throw adminErrors.badRequest(`the request body is larger than ${MAX_ADMIN_BODY_BYTES} bytes`);
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}

/** The body as a JSON object, after checking it against the signed payload hash. */
export async function readJsonBody(request: Request, auth: Authenticated): Promise<Record<string, unknown>> {
  if (auth.payload.kind === 'streaming') {
    throw adminErrors.badRequest('the admin API takes plain JSON bodies, not aws-chunked ones');
  }
  const body = await readBounded(request);
  if (auth.payload.kind === 'sha256') {
    const actual = createHash('sha256').update(body).digest('hex');
    if (actual !== auth.payload.hash) throw errors.sha256Mismatch();
  }
  if (body.length === 0) throw adminErrors.badRequest('the request needs a JSON body');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw adminErrors.badRequest(
      `the body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw adminErrors.badRequest('the body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

/** A required non-negative integer field of a JSON body. */
export function integerField(body: Record<string, unknown>, name: string): number {
  const value = body[name];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw adminErrors.badRequest(`"${name}" must be a non-negative integer`);
  }
  return value;
}

/** A required JSON object field (a config document). */
export function objectField(body: Record<string, unknown>, name: string): Record<string, unknown> {
  const value = body[name];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw adminErrors.badRequest(`"${name}" must be a JSON object (the config document)`);
  }
  return value as Record<string, unknown>;
}

/** An optional string field. */
export function stringField(body: Record<string, unknown>, name: string): string | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw adminErrors.badRequest(`"${name}" must be a string`);
  return value;
}
