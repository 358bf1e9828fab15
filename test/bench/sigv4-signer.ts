import { createHash, createHmac } from 'node:crypto';

/** The credentials a bench request is signed with. */
export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** What the signer needs to know about one request. */
export interface RequestToSign {
  method: string;
  /** `host[:port]`, exactly as sent in the Host header. */
  host: string;
  /** The object or bucket path, unencoded (`/bucket/key`). */
  path: string;
  credentials: SigningCredentials;
  region?: string;
  /** Defaults to now; injectable so the signer can be checked against a fixed vector. */
  date?: Date;
  /**
   * More headers to send and sign, e.g. SSE-C's `x-amz-server-side-encryption-customer-*` (S3 requires
   * every `x-amz-*` header a request carries to be signed).
   */
  headers?: Record<string, string>;
}

/** The payload hash for a body the signature does not cover: the client then streams it untouched. */
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

const SERVICE = 's3';
const ALGORITHM = 'AWS4-HMAC-SHA256';

/** RFC 3986 encoding as SigV4 wants it: only unreserved characters stay as they are. */
function encodeRfc3986(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** S3 encodes each path segment once and keeps the slashes. */
export function encodePath(path: string): string {
  return path.split('/').map(encodeRfc3986).join('/');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/**
 * Signs a query-less request with SigV4 header authentication (service `s3`) and an `UNSIGNED-PAYLOAD`
 * body hash. Returns the headers to send: `host`, `x-amz-date`, `x-amz-content-sha256` and the request's
 * `headers` (all signed) and `authorization`. Other headers (Content-Length, Range) may be added unsigned.
 */
export function signRequest(request: RequestToSign): Record<string, string> {
  const region = request.region ?? 'us-east-1';
  const amzDate = (request.date ?? new Date())
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const signed: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers ?? {})) signed[name.toLowerCase()] = value;
  Object.assign(signed, {
    host: request.host,
    'x-amz-content-sha256': UNSIGNED_PAYLOAD,
    'x-amz-date': amzDate,
  });
  const names = Object.keys(signed).sort();
  const canonicalRequest = [
    request.method,
    encodePath(request.path),
    '',
    names.map((name) => `${name}:${signed[name].trim()}\n`).join(''),
    names.join(';'),
    UNSIGNED_PAYLOAD,
  ].join('\n');
  const scope = `${day}/${region}/${SERVICE}/aws4_request`;
  const stringToSign = [
    ALGORITHM,
    amzDate,
    scope,
    createHash('sha256').update(canonicalRequest, 'utf8').digest('hex'),
  ].join('\n');
  let key = hmac(`AWS4${request.credentials.secretAccessKey}`, day);
  for (const part of [region, SERVICE, 'aws4_request']) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  return {
    ...signed,
    authorization:
      `${ALGORITHM} Credential=${request.credentials.accessKeyId}/${scope}, ` +
      `SignedHeaders=${names.join(';')}, Signature=${signature}`,
  };
}
