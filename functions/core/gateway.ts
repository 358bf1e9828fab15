import { randomBytes } from 'node:crypto';
import { authenticate } from './auth/sigv4.js';
import type { CredentialStore } from './auth/credentials.js';
import type { Backend } from './backend.js';
import { adminErrorResponse, handleAdmin, isAdminPath } from './admin/admin-api.js';
import { toAdminError } from './admin/admin-errors.js';
import type { ControlPlane } from './control/control-plane.js';
import { ReadOnlyStoreError } from './control/memory-config-store.js';
import { buildRuntime, type Runtime } from './control/runtime.js';
import type { KeyService } from './encryption/kms.js';
import { BucketBusyError, type WriteGate } from './jobs/job-record.js';
import type { JobsService } from './jobs/jobs-service.js';
import type { GatewayConfig } from './config/schema.js';
import { S3Error, errors, toS3Error } from './errors.js';
import type { Logger } from './logger.js';
import { recordRequest, recordWriteGateRejection } from './metrics.js';
import type { RequestContext } from './request-context.js';
import { selectOperation } from './s3/dispatch.js';
import { decodeComponent, parseQuery, type BucketSettingsWriter, type Operation } from './s3/operation.js';

/** A gateway over one fixed config (tests, and embedders that have no store). */
export interface StaticGatewayOptions {
  config: GatewayConfig;
  /** One backend per configured backend name. */
  backends: ReadonlyMap<string, Backend>;
  /** KMS access per backend name (aws-kms-envelope objects need it to be read, whatever the mode now). */
  keyServices?: ReadonlyMap<string, KeyService>;
  logger: Logger;
  credentials?: CredentialStore;
  /** The clock, for signature time checks (tests move it). */
  now?: () => Date;
}

/** A gateway whose config comes from the control plane and is reloaded while it serves. */
export interface ControlledGatewayOptions {
  control: ControlPlane;
  /** The jobs the admin API starts and reports (where the store keeps job records). */
  jobs?: JobsService;
  logger: Logger;
  now?: () => Date;
}

export type GatewayOptions = StaticGatewayOptions | ControlledGatewayOptions;

/** The S3 endpoint: one function from a Web `Request` (plus what the adapter knows) to a Web `Response`. */
export interface Gateway {
  handle(request: Request, ctx: RequestContext): Promise<Response>;
}

/**
 * Finds the bucket and key. A Host of `<bucket>.<domain>` for one of `domains` is S3's virtual-hosted
 * style (the bucket in the host, the key in the whole path); anything else is path-style
 * (`/bucket/key`). Recognising virtual-hosted requests matters even where clients are told to use
 * path-style: read as path-style, `PUT /key` on `bucket.localhost` would create a bucket named `key`.
 */
function locate(
  request: Request,
  ctx: RequestContext,
  domains: string[],
): { bucket: string; key: string; virtualHost: boolean } {
  const host = (request.headers.get('host') ?? '').toLowerCase().replace(/:\d+$/, '');
  const domain = domains.find((d) => host.endsWith(`.${d}`));
  if (domain !== undefined) {
    const path = ctx.rawPath.startsWith('/') ? ctx.rawPath.slice(1) : ctx.rawPath;
    return { bucket: host.slice(0, -(domain.length + 1)), key: decodeComponent(path), virtualHost: true };
  }
  return { ...splitPath(ctx.rawPath), virtualHost: false };
}

function splitPath(rawPath: string): { bucket: string; key: string } {
  const path = rawPath.startsWith('/') ? rawPath.slice(1) : rawPath;
  const slash = path.indexOf('/');
  if (slash < 0) return { bucket: decodeComponent(path), key: '' };
  return { bucket: decodeComponent(path.slice(0, slash)), key: decodeComponent(path.slice(slash + 1)) };
}

/** A fixed runtime for {@link StaticGatewayOptions}. */
function staticRuntime(options: StaticGatewayOptions): Runtime {
  const runtime = buildRuntime({
    config: options.config,
    version: 0,
    stamp: { configVersion: 0, settingsRevision: 0 },
    fingerprints: {},
    warnings: [],
    bucketSettings: [],
    secretsDigest: '',
    extraCredentials: [],
    backends: { backends: options.backends, keyServices: options.keyServices ?? new Map() },
  });
  return options.credentials ? { ...runtime, credentials: options.credentials } : runtime;
}

export function createGateway(options: GatewayOptions): Gateway {
  const control = 'control' in options ? options.control : undefined;
  const jobs = 'control' in options ? options.jobs : undefined;
  const fixed = 'control' in options ? undefined : staticRuntime(options);
  const current = async (): Promise<Runtime> => (control ? control.current() : fixed!);
  const now = options.now ?? (() => new Date());
  const { logger } = options;

  return {
    async handle(request, ctx) {
      const requestId = randomBytes(8).toString('hex').toUpperCase();
      const started = Date.now();
      let resource = ctx.rawPath;
      let response: Response;
      let operation = 'unknown';
      let admin = false;
      try {
        // The snapshot this request runs under to its end, whatever reloads happen meanwhile.
        let runtime = await current();
        const { bucket, key, virtualHost } = locate(request, ctx, runtime.domains);
        // A gate in it may have been lifted since (the job just ended): before a write is refused, the
        // store is asked again, at most every GATE_RECHECK_MS, and the request runs under what it says
        // (after a migrate's flip, the new route).
        if (control && gateOf(runtime, request.method, bucket))
          runtime = await control.fresher(GATE_RECHECK_MS);
        if (!virtualHost && isAdminPath(ctx.rawPath)) {
          admin = true;
          operation = 'Admin';
          response = await handleAdmin({ request, ctx, runtime, control, jobs, requestId, now, logger });
        } else {
          resource = key ? `/${bucket}/${key}` : `/${bucket}`;
          const auth = authenticate(request, ctx, runtime.credentials, now());
          const op: Operation = {
            request,
            ctx,
            query: parseQuery(ctx.rawQuery),
            bucket,
            key,
            auth,
            requestId,
            routes: runtime.routes,
            ...(control && { settings: bucketSettingsWriter(control, logger) }),
            now,
          };
          const handler = selectOperation(op);
          // The S3 API's name for it (the handlers are named after the operations): PutObject, ListObjectsV2.
          operation = handler.name.charAt(0).toUpperCase() + handler.name.slice(1);
          refuseGatedWrite(runtime, request.method, bucket);
          response = await handler(op);
        }
      } catch (error) {
        // Admin routes answer their own errors (conflicts, refused configs): only what they cannot name is unexpected.
        const unexpected = admin ? toAdminError(error, requestId).status >= 500 : !(error instanceof S3Error);
        if (unexpected) logger.error('unexpected error', { requestId, operation, error: describe(error) });
        if (error instanceof S3Error && error.code === 'SlowDown') recordWriteGateRejection();
        response = admin
          ? adminErrorResponse(error, requestId)
          : toS3Error(error).toResponse(requestId, resource, request.method);
      }
      response.headers.set('x-amz-request-id', requestId);
      const ms = Date.now() - started;
      logger.info('request', { requestId, method: request.method, operation, status: response.status, ms });
      recordRequest({
        operation,
        status: response.status,
        latencyMs: ms,
        bytesIn: declaredLength(request.headers),
        bytesOut: request.method === 'HEAD' ? 0 : declaredLength(response.headers),
      });
      return response;
    },
  };
}

/** The control plane's bucket settings as S3 operations change them: a job's gate is S3's SlowDown. */
function bucketSettingsWriter(control: ControlPlane, logger: Logger): BucketSettingsWriter {
  return {
    async createdEmpty(bucket, isEmpty, updatedBy) {
      try {
        await control.recordCreatedEmpty(bucket, isEmpty, updatedBy);
      } catch (error) {
        // A read-only store (a deployed config) keeps no records; anything else is worth a warning.
        if (!(error instanceof ReadOnlyStoreError)) {
          logger.warn('bucket listing record not written', { bucket, error: describe(error) });
        }
      }
    },
    async setEncryption(bucket, encryption, updatedBy) {
      try {
        await control.setBucketEncryption(bucket, encryption, updatedBy);
      } catch (error) {
        if (error instanceof BucketBusyError) {
          throw errors.writeGated(bucket, error.jobId, GATED_RETRY_AFTER_SECONDS);
        }
        // A config that came with the deployment (no writable store): say so instead of a 500.
        if (error instanceof ReadOnlyStoreError)
          throw errors.notImplemented(`Changing bucket settings here (${error.message})`);
        throw error;
      }
    },
  };
}

/** How long a client is asked to wait before it retries a gated write. */
const GATED_RETRY_AFTER_SECONDS = 5;

/**
 * While a job holds a bucket's write gate, every write to it (PUT, POST, DELETE: objects, multipart,
 * copies into it, DeleteObjects, the bucket itself) gets 503 SlowDown; reads pass. Copies out of a gated
 * bucket are writes to their destination only.
 */
function refuseGatedWrite(runtime: Runtime, method: string, bucket: string): void {
  const gate = gateOf(runtime, method, bucket);
  if (gate) throw errors.writeGated(bucket, gate.jobId, GATED_RETRY_AFTER_SECONDS);
}

function gateOf(runtime: Runtime, method: string, bucket: string): WriteGate | undefined {
  if (method !== 'PUT' && method !== 'POST' && method !== 'DELETE') return undefined;
  return runtime.gates.get(bucket);
}

/** How often a write that meets a gate may have the store checked again. */
const GATE_RECHECK_MS = 250;

/** A message's `Content-Length`, 0 when it declares none. */
function declaredLength(headers: Headers): number {
  const length = Number(headers.get('content-length') ?? 0);
  return Number.isSafeInteger(length) && length > 0 ? length : 0;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}
