import type { Authenticated } from '../auth/sigv4.js';
import { isAllowed, type Access } from '../auth/credentials.js';
import { errors } from '../errors.js';
import type { RequestContext } from '../request-context.js';
import type { BucketEncryption } from '../encryption/write-target.js';
import type { BucketRoutes, Route } from '../routes.js';

/** What S3 operations may change in the control plane's per-bucket settings. */
export interface BucketSettingsWriter {
  /** Sets (undefined: removes) a bucket's default encryption; every instance serves it within the reload interval. */
  setEncryption(bucket: string, encryption: BucketEncryption | undefined, updatedBy: string): Promise<void>;
  /**
   * After CreateBucket: records the bucket as `plain` (its listings read no object metadata) when
   * `isEmpty` finds it empty. Never fails the request: the bucket then lists as any other.
   */
  createdEmpty(bucket: string, isEmpty: () => Promise<boolean>, updatedBy: string): Promise<void>;
}

/** Everything an S3 operation handler needs about one request. */
export interface Operation {
  request: Request;
  ctx: RequestContext;
  /** Query parameters, decoded; the first value of a repeated name wins. */
  query: Map<string, string>;
  /** The gateway bucket ('' for service-level requests). */
  bucket: string;
  /** The object key ('' for bucket-level requests). */
  key: string;
  auth: Authenticated;
  requestId: string;
  routes: BucketRoutes;
  /** Absent when the gateway runs on a fixed config without a store (then bucket settings cannot change). */
  settings?: BucketSettingsWriter;
  now: () => Date;
}

export type OperationHandler = (op: Operation) => Promise<Response>;

/** Fails with AccessDenied unless the request's credential may `access` `bucket`. */
export function authorize(op: Operation, bucket: string, access: Access): void {
  if (!isAllowed(op.auth.credential, bucket, access)) {
    throw errors.accessDenied(`Access Denied: this credential has no ${access} grant on bucket ${bucket}`);
  }
}

/** Authorizes the request on its own bucket and resolves the bucket's backend. */
export function routeFor(op: Operation, access: Access): Route {
  authorize(op, op.bucket, access);
  return op.routes.resolve(op.bucket);
}

/** Parses a raw query string without treating `+` as a space (S3 clients percent-encode spaces). */
export function parseQuery(raw: string): Map<string, string> {
  const query = new Map<string, string>();
  if (raw === '') return query;
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decodeComponent(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : decodeComponent(pair.slice(eq + 1));
    if (!query.has(name)) query.set(name, value);
  }
  return query;
}

/** Percent-decodes one URI component; a malformed escape is S3's `InvalidURI`. */
export function decodeComponent(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw errors.invalidUri();
  }
}

/** A response with an XML body and the request id. */
export function xmlResponse(body: string, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { 'content-type': 'application/xml', ...headers } });
}

/** Reads an integer query parameter within [min, max], defaulting when absent. */
export function intParam(op: Operation, name: string, fallback: number, min: number, max: number): number {
  const raw = op.query.get(name);
  if (raw === undefined || raw === '') return fallback;
  if (!/^-?\d+$/.test(raw)) throw errors.invalidArgument(`${name} must be an integer`, name, raw);
  const value = Number(raw);
  if (value < min) throw errors.invalidArgument(`${name} must be at least ${min}`, name, raw);
  return Math.min(value, max);
}
