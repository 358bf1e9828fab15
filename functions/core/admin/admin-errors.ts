/**
 * Errors of the admin API: a code, an HTTP status, a message safe to show, and extra JSON fields (the
 * problems of a refused config, the versions of a conflict). They render as
 * `{"error": {"code", "message", ...}}`.
 */
import { S3Error } from '../errors.js';
import { BucketSettingsConflictError, ConfigConflictError } from '../control/config-store.js';
import { InvalidConfigError } from '../control/control-plane.js';
import { ReadOnlyStoreError } from '../control/memory-config-store.js';
import { ConfigError } from '../config/config-error.js';
import { BucketBusyError, NoSuchJobError } from '../jobs/job-record.js';
import { JobRequestError } from '../jobs/jobs-service.js';

export class AdminError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly fields: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

export const adminErrors = {
  badRequest: (message: string) => new AdminError('BadRequest', 400, message),
  notFound: (message: string) => new AdminError('NotFound', 404, message),
  methodNotAllowed: (method: string, path: string, allowed: string[]) =>
    new AdminError(
      'MethodNotAllowed',
      405,
      `${method} is not allowed on ${path} (allowed: ${allowed.join(', ')})`,
    ),
  notImplemented: (message: string) => new AdminError('NotImplemented', 501, message),
  notAdmin: (accessKeyId: string) =>
    new AdminError(
      'AccessDenied',
      403,
      `credential ${accessKeyId} is not an admin: the admin API needs a credential with admin: true`,
    ),
};

export function jsonResponse(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body, null, 2) + '\n', {
    status,
    headers: { 'content-type': 'application/json' },
  });
}

/** Maps what a route threw to the admin API's JSON error; unknown errors keep nothing of their detail. */
export function toAdminError(error: unknown, requestId: string): AdminError {
  if (error instanceof AdminError) return error;
  if (error instanceof S3Error) return new AdminError(error.code, error.status, error.message);
  if (error instanceof InvalidConfigError) {
    return new AdminError('InvalidConfig', 422, error.message, { problems: error.problems });
  }
  if (error instanceof ConfigConflictError) {
    return new AdminError('Conflict', 409, error.message, {
      base_version: error.baseVersion,
      current_version: error.currentVersion,
    });
  }
  if (error instanceof BucketSettingsConflictError) {
    return new AdminError('Conflict', 409, error.message, {
      bucket: error.bucket,
      expected_revision: error.expectedRevision,
      current_revision: error.currentRevision,
    });
  }
  if (error instanceof JobRequestError) return new AdminError('BadRequest', 400, error.message);
  if (error instanceof BucketBusyError) {
    return new AdminError('BucketBusy', 409, error.message, { bucket: error.bucket, job_id: error.jobId });
  }
  if (error instanceof NoSuchJobError) return new AdminError('NotFound', 404, error.message);
  if (error instanceof ReadOnlyStoreError) return new AdminError('ReadOnlyStore', 409, error.message);
  if (error instanceof ConfigError) {
    return new AdminError('InvalidConfig', 422, error.message, {
      problems: [{ severity: 'error', path: error.path, message: error.problem }],
    });
  }
  return new AdminError('InternalError', 500, 'We encountered an internal error. Please try again.', {
    request_id: requestId,
  });
}

export function adminErrorResponse(error: unknown, requestId: string): Response {
  const e = toAdminError(error, requestId);
  return jsonResponse({ error: { code: e.code, message: e.message, ...e.fields } }, e.status);
}
