import { createHmac, timingSafeEqual } from 'node:crypto';
import { errors } from '../errors.js';
import type { RequestContext } from '../request-context.js';
import { canonicalPath, percentDecode, unique, type QueryParam } from './canonical.js';
import type { CredentialStore } from './credentials.js';
import type { Authenticated } from './sigv4.js';

/** The same lifetime bound as a SigV4 presigned URL. */
const MAX_LIFETIME_SECONDS = 604800;

/** Query parameters S3's SigV2 includes in the canonicalized resource (the rest are not signed). */
const SIGNED_SUBRESOURCES = new Set([
  'acl',
  'delete',
  'lifecycle',
  'location',
  'logging',
  'notification',
  'partNumber',
  'policy',
  'requestPayment',
  'response-cache-control',
  'response-content-disposition',
  'response-content-encoding',
  'response-content-language',
  'response-content-type',
  'response-expires',
  'tagging',
  'torrent',
  'uploadId',
  'uploads',
  'versionId',
  'versioning',
  'versions',
  'website',
]);

function canonicalizedResource(path: string, query: QueryParam[]): string {
  const subresources = query
    .filter((p) => SIGNED_SUBRESOURCES.has(p.name))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((p) => (p.rawValue === '' && !p.value ? p.name : `${p.name}=${p.value}`));
  return subresources.length ? `${path}?${subresources.join('&')}` : path;
}

function canonicalizedAmzHeaders(headers: Headers): string {
  return [...headers.keys()]
    .filter((name) => name.startsWith('x-amz-'))
    .sort()
    .map((name) => `${name}:${(headers.get(name) ?? '').trim()}\n`)
    .join('');
}

/**
 * Query-string authentication of AWS Signature Version 2 (`AWSAccessKeyId`, `Expires`, `Signature`), for
 * GET and HEAD only. `s3cmd signurl` can make no other kind of presigned URL, and boto3's
 * `generate_presigned_url` makes these unless configured for `s3v4`, so S3 users expect them to open.
 * Requests signed with SigV2 in the Authorization header are still refused: every client that signs
 * headers speaks SigV4.
 */
export function authenticatePresignedV2(
  request: Request,
  ctx: RequestContext,
  query: QueryParam[],
  store: CredentialStore,
  now: Date,
): Authenticated {
  const param = (name: string): string => {
    const found = query.filter((p) => p.name === name);
    if (found.length !== 1) {
      throw errors.invalidArgument(
        'Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters',
      );
    }
    return found[0].value;
  };
  const accessKeyId = param('AWSAccessKeyId');
  const expiresText = param('Expires');
  const signature = param('Signature');
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    throw errors.accessDenied('Signature Version 2 presigned URLs are accepted for GET and HEAD only');
  }
  if (!/^\d{1,12}$/.test(expiresText)) throw errors.invalidArgument('Expires must be a number of seconds');
  const expires = Number(expiresText);
  if (now.getTime() > expires * 1000) throw errors.expiredPresignedUrl();
  if (expires * 1000 - now.getTime() > MAX_LIFETIME_SECONDS * 1000) {
    throw errors.accessDenied('Presigned URLs may live at most seven days');
  }
  const credential = store.get(accessKeyId);
  if (credential === undefined) throw errors.invalidAccessKeyId(accessKeyId);

  const provided = Buffer.from(signature, 'base64');
  const prefix = [
    request.method,
    request.headers.get('content-md5') ?? '',
    request.headers.get('content-type') ?? '',
    expiresText,
  ].join('\n');
  const amzHeaders = canonicalizedAmzHeaders(request.headers);
  // Clients sign their own encoding of the key, as with SigV4: accept the path as sent or in AWS's encoding.
  const paths = unique([
    ctx.rawPath || '/',
    canonicalPath(ctx.rawPath),
    percentDecode(ctx.rawPath, false).toString('utf8'),
  ]);
  const matched = paths.some((path) => {
    const stringToSign = `${prefix}\n${amzHeaders}${canonicalizedResource(path, query)}`;
    const expected = createHmac('sha1', credential.secretAccessKey).update(stringToSign, 'utf8').digest();
    return expected.length === provided.length && timingSafeEqual(expected, provided);
  });
  if (!matched) throw errors.signatureDoesNotMatch();
  return { credential, payload: { kind: 'unsigned' } };
}
