import { randomBytes } from 'node:crypto';
import { authenticate } from './auth/sigv4.js';
import { StaticCredentialStore, type CredentialStore } from './auth/credentials.js';
import type { Backend } from './backend.js';
import { BackendKeys } from './encryption/data-keys.js';
import type { KeyService } from './encryption/kms.js';
import type { GatewayConfig } from './config/schema.js';
import { S3Error, toS3Error } from './errors.js';
import type { Logger } from './logger.js';
import type { RequestContext } from './request-context.js';
import { BucketRoutes } from './routes.js';
import { selectOperation } from './s3/dispatch.js';
import { decodeComponent, parseQuery, type Operation } from './s3/operation.js';

export interface GatewayOptions {
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
function locate(request: Request, ctx: RequestContext, domains: string[]): { bucket: string; key: string } {
  const host = (request.headers.get('host') ?? '').toLowerCase().replace(/:\d+$/, '');
  const domain = domains.find((d) => host.endsWith(`.${d}`));
  if (domain !== undefined) {
    const path = ctx.rawPath.startsWith('/') ? ctx.rawPath.slice(1) : ctx.rawPath;
    return { bucket: host.slice(0, -(domain.length + 1)), key: decodeComponent(path) };
  }
  return splitPath(ctx.rawPath);
}

function splitPath(rawPath: string): { bucket: string; key: string } {
  const path = rawPath.startsWith('/') ? rawPath.slice(1) : rawPath;
  const slash = path.indexOf('/');
  if (slash < 0) return { bucket: decodeComponent(path), key: '' };
  return { bucket: decodeComponent(path.slice(0, slash)), key: decodeComponent(path.slice(slash + 1)) };
}

export function createGateway(options: GatewayOptions): Gateway {
  const keys = new Map(
    options.config.backends.map((b) => [
      b.name,
      new BackendKeys(b.name, b.encryption, options.keyServices?.get(b.name)),
    ]),
  );
  const routes = new BucketRoutes(options.config, options.backends, keys);
  const credentials = options.credentials ?? new StaticCredentialStore(options.config.credentials);
  const now = options.now ?? (() => new Date());
  const { logger } = options;
  const domains = ['localhost', ...options.config.domains];

  return {
    async handle(request, ctx) {
      const requestId = randomBytes(8).toString('hex').toUpperCase();
      const started = Date.now();
      let resource = ctx.rawPath;
      let response: Response;
      let operation = 'unknown';
      try {
        const { bucket, key } = locate(request, ctx, domains);
        resource = key ? `/${bucket}/${key}` : `/${bucket}`;
        const auth = authenticate(request, ctx, credentials, now());
        const op: Operation = {
          request,
          ctx,
          query: parseQuery(ctx.rawQuery),
          bucket,
          key,
          auth,
          requestId,
          routes,
          now,
        };
        const handler = selectOperation(op);
        operation = handler.name;
        response = await handler(op);
      } catch (error) {
        const s3Error = toS3Error(error);
        if (!(error instanceof S3Error)) {
          logger.error('unexpected error', { requestId, operation, error: describe(error) });
        }
        response = s3Error.toResponse(requestId, resource, request.method);
      }
      response.headers.set('x-amz-request-id', requestId);
      logger.info('request', {
        requestId,
        method: request.method,
        operation,
        status: response.status,
        ms: Date.now() - started,
      });
      return response;
    },
  };
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}
