import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Credential, CredentialStore } from './credentials.js';
import { errors, type S3Error } from '../errors.js';
import type { RequestContext } from '../request-context.js';
import {
  canonicalHeaders,
  canonicalPath,
  canonicalQuery,
  parseQuery,
  unique,
  type QueryParam,
} from './canonical.js';
import { authenticatePresignedV2 } from './sigv2-presigned.js';

/** What a signed `aws-chunked` body needs to verify its chunk signatures, each chained to the one before. */
export interface ChunkChain {
  /** The derived SigV4 signing key of the request (a copy: the decoder may wipe it when done). */
  signingKey: Uint8Array;
  /** The credential scope, `<date>/<region>/s3/aws4_request`. */
  scope: string;
  /** The request timestamp, ISO 8601 basic (`20130524T000000Z`). */
  amzDate: string;
  /** The request's own signature, which seeds the chain. */
  seedSignature: string;
}

/** How the request body is bound to the signature, from `x-amz-content-sha256`. */
export type PayloadMode =
  /** `UNSIGNED-PAYLOAD`, and presigned URLs without a payload hash. */
  | { kind: 'unsigned' }
  /** The body must hash to `hash` (lower-case hex); checked as it streams, by `verifyBody`. */
  | { kind: 'sha256'; hash: string }
  /**
   * `Content-Encoding: aws-chunked`. STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER) signs every chunk and so
   * carries a `chain`; STREAMING-UNSIGNED-PAYLOAD-TRAILER has none.
   */
  | { kind: 'streaming'; trailer: boolean; chain?: ChunkChain };

/** A request whose signature verified. */
export interface Authenticated {
  credential: Credential;
  payload: PayloadMode;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const SERVICE = 's3';
const TERMINAL = 'aws4_request';
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
/** S3 allows 15 minutes between the request's clock and its own. */
const MAX_SKEW_MS = 15 * 60 * 1000;
/** A presigned URL lives at most seven days. */
const MAX_EXPIRES_SECONDS = 604800;
const NOT_V4 = 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.';

// Headers a client may send without signing them. S3 requires every other x-amz-* header to be signed,
// which stops the holder of a presigned URL from adding, say, x-amz-copy-source or x-amz-meta-*. These
// ones can only add integrity checks (or, for x-amz-content-sha256, are bound through the payload hash).
function mayBeUnsigned(name: string): boolean {
  return (
    name === 'x-amz-content-sha256' ||
    name === 'x-amz-decoded-content-length' ||
    name === 'x-amz-trailer' ||
    name === 'x-amz-sdk-checksum-algorithm' ||
    name.startsWith('x-amz-checksum-')
  );
}

/**
 * Verifies a request's AWS Signature Version 4 for service `s3`, in the Authorization header or in a
 * presigned URL's query, and reports who signed it and how the body is bound to the signature.
 *
 * The canonical request is built from `ctx.rawPath` and `ctx.rawQuery` (the Web `Request` URL is
 * normalised and would not match what the client signed) and from the Web `Request`'s headers.
 * Any region in the credential scope is accepted: clients sign with whatever region they are configured
 * with, and the gateway has no regions.
 *
 * @throws S3Error AccessDenied for anonymous requests, InvalidAccessKeyId, SignatureDoesNotMatch,
 *   RequestTimeTooSkewed, AccessDenied "Request has expired", and 400s for malformed authorization.
 */
export function authenticate(
  request: Request,
  ctx: RequestContext,
  store: CredentialStore,
  now: Date,
): Authenticated {
  const query = parseQuery(ctx.rawQuery);
  const authorization = request.headers.get('authorization');
  const presigned = query.some(
    (p) => p.name === 'X-Amz-Algorithm' || p.name === 'X-Amz-Credential' || p.name === 'X-Amz-Signature',
  );
  if (authorization !== null && presigned) {
    throw errors.invalidArgument(
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
    );
  }
  if (presigned) return authenticatePresigned(request, ctx, query, store, now);
  if (authorization !== null) return authenticateHeader(request, ctx, query, authorization, store, now);
  if (query.some((p) => p.name === 'AWSAccessKeyId') && query.some((p) => p.name === 'Signature')) {
    return authenticatePresignedV2(request, ctx, query, store, now);
  }
  throw errors.anonymousDenied();
}

// ---------------------------------------------------------------------------------------------------------
// The two ways to carry a signature. Both end in `verify`, which holds the cryptography.

interface SignatureClaim {
  accessKeyId: string;
  /** `<date>/<region>/s3/aws4_request`. */
  scope: string;
  region: string;
  amzDate: string;
  signedHeaders: string[];
  signature: string;
  /** The last line of the canonical request, exactly as the client used it. */
  payloadHash: string;
  /** Query parameters that take part in the canonical query. */
  query: QueryParam[];
}

/** What an Authorization header of ours is made of (docs: SigV4 header-based authentication). */
const AUTHORIZATION_COMPONENTS = ['Credential', 'SignedHeaders', 'Signature'];

function authenticateHeader(
  request: Request,
  ctx: RequestContext,
  query: QueryParam[],
  authorization: string,
  store: CredentialStore,
  now: Date,
): Authenticated {
  if (!authorization.startsWith(`${ALGORITHM} `)) throw errors.invalidRequest(NOT_V4);
  const malformed = (detail: string): S3Error =>
    errors.authorizationHeaderMalformed(`The authorization header is malformed; ${detail}`);

  // Each of the three components exactly once, and nothing else: two Authorization headers arrive joined
  // by a comma, and a later component must not stand in for an earlier one.
  const fields = new Map<string, string>();
  for (const part of authorization.slice(ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=');
    const name = eq < 0 ? part.trim() : part.slice(0, eq).trim();
    if (name === '' && eq < 0) continue;
    if (!AUTHORIZATION_COMPONENTS.includes(name))
      throw malformed(`unexpected component "${name.slice(0, 40)}".`);
    if (fields.has(name)) throw malformed(`the component ${name} is given more than once.`);
    fields.set(name, part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    throw malformed(
      'the authorization header requires three components: Credential, SignedHeaders, and Signature.',
    );
  }

  const amzDateHeader = request.headers.get('x-amz-date');
  const dateHeader = request.headers.get('date');
  const time =
    amzDateHeader !== null
      ? parseAmzDate(amzDateHeader)
      : dateHeader !== null
        ? parseHttpDate(dateHeader)
        : undefined;
  if (time === undefined)
    throw errors.accessDenied('AWS authentication requires a valid Date or x-amz-date header');
  if (Math.abs(now.getTime() - time.getTime()) > MAX_SKEW_MS) {
    throw errors.requestTimeTooSkewed(amzDateHeader ?? dateHeader ?? '', isoSeconds(now));
  }
  const amzDate = amzDateHeader ?? toAmzDate(time);
  const scope = parseCredential(credential, amzDate, malformed);

  // S3 requires the payload hash header on every SigV4 header-signed request: it selects the payload mode.
  const payloadHash = request.headers.get('x-amz-content-sha256');
  if (payloadHash === null) {
    throw errors.invalidRequest('Missing required header for this request: x-amz-content-sha256');
  }
  const claim: SignatureClaim = {
    ...scope,
    amzDate,
    signedHeaders: parseSignedHeaders(signedHeaders, malformed),
    signature,
    payloadHash,
    query,
  };
  return verify(request, ctx, claim, store);
}

function authenticatePresigned(
  request: Request,
  ctx: RequestContext,
  query: QueryParam[],
  store: CredentialStore,
  now: Date,
): Authenticated {
  const malformed = (detail: string): S3Error => errors.authorizationQueryParametersError(detail);
  const param = (name: string): string => {
    const found = query.filter((p) => p.name === name);
    if (found.length !== 1) {
      throw malformed(
        found.length === 0
          ? 'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.'
          : `The ${name} parameter appears more than once.`,
      );
    }
    return found[0].value;
  };
  if (param('X-Amz-Algorithm') !== ALGORITHM) throw malformed(`X-Amz-Algorithm only supports "${ALGORITHM}"`);
  const credential = param('X-Amz-Credential');
  const amzDate = param('X-Amz-Date');
  const expiresText = param('X-Amz-Expires');
  const signedHeaders = param('X-Amz-SignedHeaders');
  const signature = param('X-Amz-Signature');

  const time = parseAmzDate(amzDate);
  if (time === undefined)
    throw malformed("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
  if (!/^\d{1,7}$/.test(expiresText))
    throw malformed('X-Amz-Expires should be a non-negative number of seconds');
  const expires = Number(expiresText);
  if (expires > MAX_EXPIRES_SECONDS) {
    throw malformed(`X-Amz-Expires must be less than a week (in seconds) that is ${MAX_EXPIRES_SECONDS}`);
  }
  // A URL signed in the future is a clock problem; one past its lifetime has expired.
  if (time.getTime() - now.getTime() > MAX_SKEW_MS)
    throw errors.requestTimeTooSkewed(amzDate, isoSeconds(now));
  if (now.getTime() > time.getTime() + expires * 1000) throw errors.expiredPresignedUrl();

  const scope = parseCredential(credential, amzDate, (detail) =>
    malformed(`Error parsing the X-Amz-Credential parameter; ${detail}`),
  );
  // A presigned URL binds no body unless it carries a payload hash (hoisted into the query by SDKs).
  const payloadHash =
    query.find((p) => p.name.toLowerCase() === 'x-amz-content-sha256')?.value ??
    request.headers.get('x-amz-content-sha256') ??
    UNSIGNED_PAYLOAD;
  const claim: SignatureClaim = {
    ...scope,
    amzDate,
    signedHeaders: parseSignedHeaders(signedHeaders, malformed),
    signature,
    payloadHash,
    // The signature cannot sign itself.
    query: query.filter((p) => p.name.toLowerCase() !== 'x-amz-signature'),
  };
  return verify(request, ctx, claim, store);
}

function verify(
  request: Request,
  ctx: RequestContext,
  claim: SignatureClaim,
  store: CredentialStore,
): Authenticated {
  const unsigned = [...request.headers.keys()].filter(
    (name) => name.startsWith('x-amz-') && !claim.signedHeaders.includes(name) && !mayBeUnsigned(name),
  );
  if (unsigned.length > 0) throw errors.headersNotSigned(unsigned);
  const payloadKind = parsePayloadHash(claim.payloadHash);

  const credential = store.get(claim.accessKeyId);
  if (credential === undefined) throw errors.invalidAccessKeyId(claim.accessKeyId);
  const key = signingKey(credential.secretAccessKey, claim.amzDate.slice(0, 8), claim.region);

  if (!/^[0-9a-f]{64}$/.test(claim.signature)) throw errors.signatureDoesNotMatch();
  const provided = Buffer.from(claim.signature, 'latin1');
  const headerBlock = canonicalHeaders(request, claim.signedHeaders);
  // S3 does not normalise the path: clients sign their own encoding of the key. Accept the path as sent and
  // the path in AWS's canonical encoding; likewise a query whose '+' may stand for itself or for a space.
  let matched = false;
  for (const path of unique([canonicalPath(ctx.rawPath), ctx.rawPath || '/'])) {
    for (const plusIsSpace of ctx.rawQuery.includes('+') ? [false, true] : [false]) {
      const canonicalRequest = [
        request.method,
        path,
        canonicalQuery(claim.query, plusIsSpace),
        headerBlock,
        claim.signedHeaders.join(';'),
        claim.payloadHash,
      ].join('\n');
      const stringToSign = [ALGORITHM, claim.amzDate, claim.scope, sha256Hex(canonicalRequest)].join('\n');
      const expected = Buffer.from(hmac(key, stringToSign).toString('hex'), 'latin1');
      // Constant time, so the comparison leaks nothing about how much of a forged signature was right.
      if (timingSafeEqual(expected, provided)) matched = true;
    }
  }
  if (!matched) throw errors.signatureDoesNotMatch();

  const payload: PayloadMode =
    payloadKind.kind === 'streaming' && payloadKind.signed
      ? {
          kind: 'streaming',
          trailer: payloadKind.trailer,
          chain: {
            signingKey: Buffer.from(key),
            scope: claim.scope,
            amzDate: claim.amzDate,
            seedSignature: claim.signature,
          },
        }
      : payloadKind.kind === 'streaming'
        ? { kind: 'streaming', trailer: payloadKind.trailer }
        : payloadKind;
  return { credential, payload };
}

// ---------------------------------------------------------------------------------------------------------
// Parsing the claim.

function parseCredential(
  credential: string,
  amzDate: string,
  malformed: (detail: string) => S3Error,
): { accessKeyId: string; scope: string; region: string } {
  const parts = credential.split('/');
  if (parts.length !== 5 || parts.some((p) => p === '')) {
    throw malformed(
      'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
    );
  }
  const [accessKeyId, date, region, service, terminal] = parts as [string, string, string, string, string];
  if (date !== amzDate.slice(0, 8)) {
    throw malformed('Invalid credential date. Date is not the same as X-Amz-Date.');
  }
  if (service !== SERVICE)
    throw malformed(`incorrect service "${service}". This endpoint belongs to "${SERVICE}".`);
  if (terminal !== TERMINAL)
    throw malformed(`incorrect terminal "${terminal}". This endpoint uses "${TERMINAL}".`);
  return { accessKeyId, region, scope: `${date}/${region}/${SERVICE}/${TERMINAL}` };
}

function parseSignedHeaders(value: string, malformed: (detail: string) => S3Error): string[] {
  const names = value.split(';');
  if (names.some((n) => n === '' || n !== n.toLowerCase())) {
    throw malformed('SignedHeaders must be a semicolon-separated list of lower-case header names.');
  }
  // Without the host in the signature a request could be replayed against another endpoint.
  if (!names.includes('host')) throw malformed('SignedHeaders must include the host header.');
  return names;
}

type PayloadKind =
  | { kind: 'unsigned' }
  | { kind: 'sha256'; hash: string }
  | { kind: 'streaming'; trailer: boolean; signed: boolean };

function parsePayloadHash(value: string): PayloadKind {
  switch (value) {
    case UNSIGNED_PAYLOAD:
      return { kind: 'unsigned' };
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD':
      return { kind: 'streaming', trailer: false, signed: true };
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER':
      return { kind: 'streaming', trailer: true, signed: true };
    case 'STREAMING-UNSIGNED-PAYLOAD-TRAILER':
      return { kind: 'streaming', trailer: true, signed: false };
  }
  if (/^[0-9a-fA-F]{64}$/.test(value)) return { kind: 'sha256', hash: value.toLowerCase() };
  throw errors.invalidArgument(
    'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.',
    'x-amz-content-sha256',
    value,
  );
}

function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const time = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  // Date.UTC rolls 20130231 over into March; a date that does not round-trip was not a date.
  return toAmzDate(time) === value ? time : undefined;
}

function parseHttpDate(value: string): Date | undefined {
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

function toAmzDate(time: Date): string {
  return time
    .toISOString()
    .replace(/\.\d{3}/, '')
    .replace(/[-:]/g, '');
}

function isoSeconds(time: Date): string {
  return time.toISOString().replace(/\.\d{3}/, '');
}

// ---------------------------------------------------------------------------------------------------------
// Keys.

function hmac(key: Uint8Array | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function sha256Hex(data: string): string {
  return createHash('sha256').update(data, 'utf8').digest('hex');
}

/** Derived keys live a day; a few hundred entries cover every active credential and region. */
const KEY_CACHE_LIMIT = 256;
const keyCache = new Map<string, Buffer>();

/**
 * The SigV4 signing key for `s3`: HMAC chain over the date, region, service and terminal. Four HMACs per
 * request are the expensive part of verification, so keys are cached per (secret, date, region) in a
 * bounded map; callers must not modify the returned buffer.
 */
export function signingKey(secretAccessKey: string, date: string, region: string): Buffer {
  const cacheKey = `${date}\n${region}\n${secretAccessKey}`;
  const cached = keyCache.get(cacheKey);
  if (cached !== undefined) return cached;
  const key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, date), region), SERVICE), TERMINAL);
  if (keyCache.size >= KEY_CACHE_LIMIT) keyCache.delete(keyCache.keys().next().value!);
  keyCache.set(cacheKey, key);
  return key;
}
