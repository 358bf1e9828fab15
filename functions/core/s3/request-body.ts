import { decodeAwsChunked } from '../auth/aws-chunked.js';
import type { Authenticated } from '../auth/sigv4.js';
import type { Body } from '../backend.js';
import { errors } from '../errors.js';
import { requestedChecksum, type RequestedChecksum } from '../integrity/checksum-request.js';
import { verifyBody, type BodyDigests } from '../integrity/verify-body.js';

/** S3's largest single PutObject / UploadPart. */
export const MAX_PUT_BYTES = 5 * 1024 ** 3;

export interface ObjectBody {
  /** The object's bytes: framing removed, every digest checked before the last byte is released. */
  body: Body;
  /** How many bytes `body` yields. */
  size: number;
  /** The digests over the body; valid once it has been consumed whole. */
  digests: () => BodyDigests;
  /** The additional checksum the request names, if any (its value is set when it came as a header). */
  checksum?: RequestedChecksum;
}

function parseLength(value: string | null, name: string): number | undefined {
  if (value === null) return undefined;
  if (!/^\d{1,16}$/.test(value.trim()))
    throw errors.invalidArgument(`${name} must be a non-negative integer`, name, value);
  return Number(value);
}

async function* empty(): Body {}

/**
 * The data of a PutObject or UploadPart request as a verified stream. Undoes `aws-chunked` framing
 * (checking each chunk signature and the trailer), then checks length, Content-MD5, the signed payload
 * hash and any `x-amz-checksum-*` (header or trailer) as the bytes pass. A consumer that stores the stream
 * never receives its last piece unless every check held, so a bad upload stores nothing.
 *
 * With `checksumHeaders: 'object'` the request's `x-amz-checksum-<alg>` header is not the body's but the
 * object's the request completes (CompleteMultipartUpload), and is left to the operation.
 */
export function objectBody(
  request: Request,
  auth: Authenticated,
  options: { checksumHeaders?: 'body' | 'object' } = {},
): ObjectBody {
  const headers = request.headers;
  const streaming = auth.payload.kind === 'streaming';
  const size = streaming
    ? parseLength(headers.get('x-amz-decoded-content-length'), 'x-amz-decoded-content-length')
    : parseLength(headers.get('content-length'), 'Content-Length');
  if (size === undefined) throw errors.missingContentLength();
  if (size > MAX_PUT_BYTES) throw errors.entityTooLarge();

  const checksum = options.checksumHeaders === 'object' ? undefined : requestedChecksum(headers);
  let source: Body = request.body ?? empty();
  let trailers: (() => Record<string, string>) | undefined;
  if (auth.payload.kind === 'streaming') {
    const decoded = decodeAwsChunked(source, {
      chain: auth.payload.chain,
      trailer: auth.payload.trailer,
      decodedLength: size,
    });
    source = decoded.body;
    trailers = decoded.trailers;
  }
  const verified = verifyBody(source, {
    length: size,
    contentMd5: headers.get('content-md5') ?? undefined,
    sha256: auth.payload.kind === 'sha256' ? auth.payload.hash : undefined,
    checksum: checksum && {
      algorithm: checksum.algorithm,
      value: checksum.value,
      fromTrailer:
        checksum.inTrailer && trailers ? () => trailers()[`x-amz-checksum-${checksum.algorithm}`] : undefined,
    },
  });
  return { body: verified.body, size, digests: verified.digests, checksum };
}

/** Reads a small request document (XML) whole, refusing one larger than `limit` bytes. */
export async function readSmallBody(
  request: Request,
  auth: Authenticated,
  limit: number,
  options: { checksumHeaders?: 'body' | 'object' } = {},
): Promise<string> {
  const declared = parseLength(request.headers.get('content-length'), 'Content-Length');
  if (declared !== undefined && declared > limit && auth.payload.kind !== 'streaming') {
    throw errors.entityTooLarge(`The request document is larger than ${limit} bytes`);
  }
  // Without a length (chunked transfer encoding), the raw body is read, still bounded by `limit`.
  const body: Body =
    auth.payload.kind === 'streaming' || declared !== undefined
      ? objectBody(request, auth, options).body
      : (request.body ?? empty());
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.byteLength;
    if (total > limit) throw errors.entityTooLarge(`The request document is larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
