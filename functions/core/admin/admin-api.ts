/**
 * The admin API (docs/ADMIN_API.md): JSON routes under `/_sealgate/admin/` on the gateway's own endpoint,
 * signed with SigV4 by a credential with `admin: true`. No S3 bucket name can start with `_`, so the
 * prefix never shadows a bucket.
 */
import { authenticate } from '../auth/sigv4.js';
import { isValidBucketName } from '../s3/names.js';
import type { ControlPlane } from '../control/control-plane.js';
import type { Runtime } from '../control/runtime.js';
import type { Logger } from '../logger.js';
import type { RequestContext } from '../request-context.js';
import { decodeComponent } from '../s3/operation.js';
import { integerField, objectField, readJsonBody, stringField } from './admin-body.js';
import { AdminError, adminErrors, jsonResponse } from './admin-errors.js';
import { inspectObject } from './inspect.js';
import { backendPosture, bucketPosture } from './posture.js';
import { documentDigest, redactDocument } from './redaction.js';
import type { BucketSettings, StoredConfig } from '../control/config-store.js';
import type { JobsService, Refusal } from '../jobs/jobs-service.js';
import { jobIdParam, jobJson, jobProblemsJson, requireJobs } from './job-routes.js';

export { adminErrorResponse } from './admin-errors.js';

const ADMIN_PREFIX = '/_sealgate/admin/';
/** Counting a bucket's objects for the posture lists at most this many per bucket unless asked for more. */
const DEFAULT_COUNT_LIMIT = 10_000;
const MAX_COUNT_LIMIT = 1_000_000;

export function isAdminPath(rawPath: string): boolean {
  return rawPath === ADMIN_PREFIX.slice(0, -1) || rawPath.startsWith(ADMIN_PREFIX);
}

export interface AdminRequest {
  request: Request;
  ctx: RequestContext;
  runtime: Runtime;
  control?: ControlPlane;
  requestId: string;
  now: () => Date;
  logger: Logger;
  /** Job starts, status and cancels; absent where the store keeps no jobs. */
  jobs?: JobsService;
}

interface Route {
  /** Path segments after `/_sealgate/admin/`; `:name` matches one segment, `*key` the rest. */
  pattern: string[];
  methods: Record<string, (call: AdminCall) => Promise<Response>>;
}

interface AdminCall extends AdminRequest {
  control: ControlPlane;
  params: Record<string, string>;
  query: URLSearchParams;
  accessKeyId: string;
  body: () => Promise<Record<string, unknown>>;
}

function versionSummary(v: StoredConfig, key: Uint8Array) {
  return {
    version: v.version,
    applied_at: v.appliedAt,
    applied_by: v.appliedBy,
    comment: v.comment ?? null,
    digest: documentDigest(v.document, key),
  };
}

function settingsJson(s: BucketSettings) {
  return {
    bucket: s.bucket,
    revision: s.revision,
    updated_at: s.updatedAt,
    updated_by: s.updatedBy,
    route: s.route ? { backend: s.route.backend, backend_bucket: s.route.backendBucket } : null,
    encryption: s.encryption
      ? {
          algorithm: s.encryption.algorithm,
          kms_key_id: s.encryption.kmsKeyId ?? null,
          bucket_key_enabled: s.encryption.bucketKeyEnabled ?? false,
        }
      : null,
    write_gate: s.gate ? { job_id: s.gate.jobId, since: s.gate.since } : null,
    listing: s.listing ?? null,
  };
}

function refusalJson(r: Refusal) {
  return { bucket: r.bucket, code: r.code, reason: r.reason, job_id: r.jobId ?? null };
}

function bucketParam(call: AdminCall): string {
  const bucket = call.params.bucket;
  if (!isValidBucketName(bucket)) throw adminErrors.badRequest(`"${bucket}" is not a valid S3 bucket name`);
  return bucket;
}

async function configRoute(call: AdminCall): Promise<Response> {
  const { runtime, control } = call;
  const key = await control.store.fingerprintKey();
  const health = control.health();
  return jsonResponse({
    version: runtime.version,
    applied_at: runtime.stored?.appliedAt ?? null,
    applied_by: runtime.stored?.appliedBy ?? null,
    store: control.store.kind,
    config: runtime.stored ? redactDocument(runtime.stored.document, key) : null,
    fingerprints: runtime.fingerprints,
    warnings: runtime.warnings,
    reload: { running_version: health.runningVersion, last_error: health.lastReloadError },
  });
}

const ROUTES: Route[] = [
  {
    pattern: ['health'],
    methods: {
      GET: async ({ control }) => {
        const h = control.health();
        return jsonResponse({
          status: h.status,
          store: h.store,
          running_version: h.runningVersion,
          store_version: h.storeStamp.configVersion,
          settings_revision: h.storeStamp.settingsRevision,
          last_reload_error: h.lastReloadError,
          reload_interval_ms: h.reloadIntervalMs,
          secrets_ttl_ms: h.secretsTtlMs,
          loaded_at: h.loadedAt,
        });
      },
    },
  },
  { pattern: ['config'], methods: { GET: configRoute } },
  {
    pattern: ['config', 'validate'],
    methods: {
      POST: async (call) => {
        const document = objectField(await call.body(), 'config');
        const loaded = await call.control.validate(document);
        return jsonResponse({ valid: loaded.config !== undefined, problems: loaded.problems });
      },
    },
  },
  {
    pattern: ['config', 'apply'],
    methods: {
      POST: async (call) => {
        const body = await call.body();
        const document = objectField(body, 'config');
        const { stored, problems } = await call.control.apply(document, {
          baseVersion: integerField(body, 'base_version'),
          appliedBy: call.accessKeyId,
          comment: stringField(body, 'comment'),
          text: stringField(body, 'text'),
        });
        call.logger.info('config applied', { version: stored.version, by: call.accessKeyId });
        return jsonResponse({ version: stored.version, problems });
      },
    },
  },
  {
    pattern: ['config', 'rollback'],
    methods: {
      POST: async (call) => {
        const body = await call.body();
        const version = integerField(body, 'version');
        const target = await call.control.store.version(version);
        if (!target) throw adminErrors.notFound(`config version ${version} is not kept (see the history)`);
        const { stored, problems } = await call.control.apply(target.document, {
          baseVersion: integerField(body, 'base_version'),
          appliedBy: call.accessKeyId,
          comment: stringField(body, 'comment') ?? `rollback to version ${version}`,
        });
        call.logger.info('config rolled back', {
          version: stored.version,
          to: version,
          by: call.accessKeyId,
        });
        return jsonResponse({ version: stored.version, rolled_back_to: version, problems });
      },
    },
  },
  {
    pattern: ['config', 'history'],
    methods: {
      GET: async ({ control, query }) => {
        const raw = query.get('limit');
        const limit = raw === null ? undefined : Number(raw);
        if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
          throw adminErrors.badRequest('limit must be a positive integer');
        }
        const key = await control.store.fingerprintKey();
        const versions = await control.store.history(limit);
        return jsonResponse({ versions: versions.map((v) => versionSummary(v, key)) });
      },
    },
  },
  {
    pattern: ['config', 'versions', ':version'],
    methods: {
      GET: async ({ control, params }) => {
        const version = Number(params.version);
        if (!/^\d+$/.test(params.version)) throw adminErrors.badRequest('the version must be a number');
        const stored = await control.store.version(version);
        if (!stored) throw adminErrors.notFound(`config version ${version} is not kept (see the history)`);
        const key = await control.store.fingerprintKey();
        return jsonResponse({ ...versionSummary(stored, key), config: redactDocument(stored.document, key) });
      },
    },
  },
  {
    pattern: ['buckets'],
    methods: {
      GET: async ({ control }) => {
        const settings = await control.store.listBucketSettings();
        return jsonResponse({ buckets: settings.map(settingsJson) });
      },
    },
  },
  {
    pattern: ['buckets', ':bucket', 'settings'],
    methods: {
      GET: async (call) => {
        const bucket = bucketParam(call);
        const settings = await call.control.store.bucketSettings(bucket);
        if (!settings) throw adminErrors.notFound(`bucket ${bucket} has no settings`);
        return jsonResponse(settingsJson(settings));
      },
      PUT: async (call) => {
        const bucket = bucketParam(call);
        const body = await call.body();
        const expected = integerField(body, 'revision');
        const route = body.route;
        if (route !== undefined && route !== null) {
          if (typeof route !== 'object' || Array.isArray(route)) {
            throw adminErrors.badRequest('"route" must be {"backend": "...", "backend_bucket": "..."}');
          }
          const r = route as Record<string, unknown>;
          if (typeof r.backend !== 'string' || r.backend === '') {
            throw adminErrors.badRequest('"route.backend" must name a configured backend');
          }
          if (
            r.backend_bucket !== undefined &&
            (typeof r.backend_bucket !== 'string' || !isValidBucketName(r.backend_bucket))
          ) {
            throw adminErrors.badRequest('"route.backend_bucket" must be a valid S3 bucket name');
          }
        }
        const r = route as { backend: string; backend_bucket?: string } | null | undefined;
        // The route is this API's to set; the bucket's default encryption (PutBucketEncryption's) and its
        // listing record (the gateway's) stay.
        const existing = await call.control.store.bucketSettings(bucket);
        const written = await call.control.putBucketSettings(
          bucket,
          {
            ...(r && { route: { backend: r.backend, backendBucket: r.backend_bucket ?? bucket } }),
            ...(existing?.encryption && { encryption: existing.encryption }),
            ...(existing?.listing && { listing: existing.listing }),
          },
          expected,
          call.accessKeyId,
        );
        return jsonResponse(settingsJson(written));
      },
      DELETE: async (call) => {
        const bucket = bucketParam(call);
        const raw = call.query.get('revision');
        if (raw === null || !/^\d+$/.test(raw)) {
          throw adminErrors.badRequest('DELETE needs ?revision=R, the revision the removal is based on');
        }
        await call.control.deleteBucketSettings(bucket, Number(raw), call.accessKeyId);
        return new Response(null, { status: 204 });
      },
    },
  },
  {
    pattern: ['posture'],
    methods: {
      GET: async ({ runtime, query }) => {
        let countLimit: number | undefined;
        if (query.get('count') === 'true' || query.get('count') === '1') {
          const raw = query.get('limit');
          countLimit = raw === null ? DEFAULT_COUNT_LIMIT : Number(raw);
          if (!Number.isInteger(countLimit) || countLimit < 1 || countLimit > MAX_COUNT_LIMIT) {
            throw adminErrors.badRequest(`limit must be an integer from 1 to ${MAX_COUNT_LIMIT}`);
          }
        }
        return jsonResponse({
          version: runtime.version,
          backends: backendPosture(runtime),
          buckets: await bucketPosture(runtime, countLimit),
        });
      },
    },
  },
  {
    pattern: ['jobs'],
    methods: {
      GET: async ({ jobs, query }) => {
        const raw = query.get('limit');
        const limit = raw === null ? 50 : Number(raw);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
          throw adminErrors.badRequest('limit must be an integer from 1 to 1000');
        }
        const list = await requireJobs(jobs).list(limit);
        return jsonResponse({ jobs: list.map(jobJson) });
      },
    },
  },
  {
    pattern: ['jobs', 'reencrypt'],
    methods: {
      POST: async (call) => {
        const service = requireJobs(call.jobs);
        const body = await call.body();
        const buckets = body.buckets;
        if (!Array.isArray(buckets) || !buckets.every((b) => typeof b === 'string')) {
          throw adminErrors.badRequest('"buckets" must be a list of bucket names');
        }
        const strategy = stringField(body, 'strategy') ?? 'full';
        if (strategy !== 'full' && strategy !== 'rewrap') {
          throw adminErrors.badRequest('"strategy" must be "full" or "rewrap"');
        }
        const result = await service.startReencrypt(buckets, strategy, call.accessKeyId);
        call.logger.info('re-encrypt jobs started', {
          jobs: result.jobs.map((j) => j.id),
          refused: result.refused.map((r) => r.bucket),
          by: call.accessKeyId,
        });
        return jsonResponse(
          { jobs: result.jobs.map(jobJson), refused: result.refused.map(refusalJson) },
          result.jobs.length > 0 ? 202 : 409,
        );
      },
    },
  },
  {
    pattern: ['buckets', ':bucket', 'migrate'],
    methods: {
      POST: async (call) => {
        const service = requireJobs(call.jobs);
        const bucket = bucketParam(call);
        const body = await call.body();
        const backend = stringField(body, 'target_backend');
        if (backend === undefined || backend === '') {
          throw adminErrors.badRequest('"target_backend" must name a configured backend');
        }
        const deleteSource = body.delete_source ?? false;
        if (typeof deleteSource !== 'boolean')
          throw adminErrors.badRequest('"delete_source" must be true or false');
        const job = await service.startMigrate(
          bucket,
          { backend, bucket: stringField(body, 'target_bucket'), deleteSource },
          call.accessKeyId,
        );
        call.logger.info('migrate job started', { jobId: job.id, bucket, to: backend, by: call.accessKeyId });
        return jsonResponse(jobJson(job), 202);
      },
    },
  },
  {
    pattern: ['jobs', ':id'],
    methods: {
      GET: async ({ jobs, params }) =>
        jsonResponse(jobJson(await requireJobs(jobs).job(jobIdParam(params.id)))),
    },
  },
  {
    pattern: ['jobs', ':id', 'failures'],
    methods: {
      GET: async ({ jobs, params }) =>
        jsonResponse(jobProblemsJson(await requireJobs(jobs).job(jobIdParam(params.id)))),
    },
  },
  {
    pattern: ['jobs', ':id', 'cancel'],
    methods: {
      POST: async ({ jobs, params, logger, accessKeyId }) => {
        const job = await requireJobs(jobs).cancel(jobIdParam(params.id));
        logger.info('job cancel requested', { jobId: job.id, by: accessKeyId });
        return jsonResponse(jobJson(job), 202);
      },
    },
  },
  {
    pattern: ['jobs', ':id', 'resume'],
    methods: {
      POST: async ({ jobs, params, logger, accessKeyId }) => {
        const job = await requireJobs(jobs).resume(jobIdParam(params.id));
        logger.info('job resumed', { jobId: job.id, execution: job.execution, by: accessKeyId });
        return jsonResponse(jobJson(job), 202);
      },
    },
  },
  {
    pattern: ['objects', ':bucket', '*key'],
    methods: {
      GET: async (call) => {
        const bucket = bucketParam(call);
        const key = call.params.key;
        if (key === '')
          throw adminErrors.badRequest('name an object: /_sealgate/admin/objects/{bucket}/{key}');
        return jsonResponse(await inspectObject(call.runtime, bucket, key));
      },
    },
  },
];

function match(route: Route, segments: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < route.pattern.length; i++) {
    const part = route.pattern[i];
    if (part.startsWith('*')) {
      if (i >= segments.length) return undefined;
      params[part.slice(1)] = segments.slice(i).map(decodeComponent).join('/');
      return params;
    }
    if (i >= segments.length) return undefined;
    if (part.startsWith(':')) params[part.slice(1)] = decodeComponent(segments[i]);
    else if (part !== segments[i]) return undefined;
  }
  return segments.length === route.pattern.length ? params : undefined;
}

/** Authenticates an admin request (SigV4, admin credential) and runs its route. */
export async function handleAdmin(req: AdminRequest): Promise<Response> {
  const auth = authenticate(req.request, req.ctx, req.runtime.credentials, req.now());
  if (!auth.credential.admin) throw adminErrors.notAdmin(auth.credential.accessKeyId);
  if (!req.control) {
    throw new AdminError('NotImplemented', 501, 'this gateway runs a fixed config without a control plane');
  }
  const rest = req.ctx.rawPath.slice(ADMIN_PREFIX.length);
  const segments = rest === '' ? [] : rest.split('/');
  for (const route of ROUTES) {
    const params = match(route, segments);
    if (!params) continue;
    const method = req.request.method === 'HEAD' ? 'GET' : req.request.method;
    const run = route.methods[method];
    if (!run)
      throw adminErrors.methodNotAllowed(
        req.request.method,
        `/_sealgate/admin/${rest}`,
        Object.keys(route.methods),
      );
    return run({
      ...req,
      control: req.control,
      params,
      query: new URLSearchParams(req.ctx.rawQuery),
      accessKeyId: auth.credential.accessKeyId,
      body: () => readJsonBody(req.request, auth),
    });
  }
  throw adminErrors.notFound(`no admin route /_sealgate/admin/${rest} (see docs/ADMIN_API.md)`);
}
