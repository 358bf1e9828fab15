import type { ObjectMetadata } from '../backend.js';
import { S3Error, errors } from '../errors.js';
import { metadataValueForHeader, metadataValueFromHeader } from '../header-text.js';

/** The HTTP headers S3 stores with an object and returns on GET/HEAD. */
export const STORED_HEADERS = [
  'content-type',
  'cache-control',
  'content-disposition',
  'content-encoding',
  'content-language',
  'expires',
] as const;

/** User metadata names starting with this are the gateway's own markers: clients may not set them. */
export const RESERVED_META_PREFIX = 'sealgate-';

/** S3 limits user-defined metadata to 2 KB (names and values, as UTF-8). */
const MAX_USER_METADATA_BYTES = 2048;

/** S3 stores `binary/octet-stream` when a PUT names no Content-Type. */
export const DEFAULT_CONTENT_TYPE = 'binary/octet-stream';

/**
 * Reads the metadata a PutObject/CreateMultipartUpload/CopyObject(REPLACE) stores from its request
 * headers. `aws-chunked` is a transfer framing, not the object's encoding, so it is removed from
 * Content-Encoding as S3 does. A name in the gateway's reserved namespace is refused, not dropped, so a
 * client learns at once that it cannot set it.
 */
export function metadataFromRequest(headers: Headers): ObjectMetadata {
  const stored: Record<string, string> = {};
  for (const name of STORED_HEADERS) {
    const value = headers.get(name);
    if (value !== null) stored[name] = value;
  }
  if (stored['content-encoding'] !== undefined) {
    const rest = stored['content-encoding']
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v !== '' && v.toLowerCase() !== 'aws-chunked');
    if (rest.length === 0) delete stored['content-encoding'];
    else stored['content-encoding'] = rest.join(', ');
  }
  stored['content-type'] ??= DEFAULT_CONTENT_TYPE;

  const user: Record<string, string> = {};
  let bytes = 0;
  for (const [name, value] of headers) {
    if (!name.startsWith('x-amz-meta-')) continue;
    const key = name.slice('x-amz-meta-'.length);
    if (key.startsWith(RESERVED_META_PREFIX)) {
      throw errors.invalidArgument(
        `User metadata names starting with "x-amz-meta-${RESERVED_META_PREFIX}" are reserved by the gateway`,
        name,
        '',
      );
    }
    // Stored as the text the client meant (UTF-8 on the wire, or RFC 2047 encoded-words), as S3 stores it.
    const text = metadataValueFromHeader(value);
    user[key] = text;
    bytes += Buffer.byteLength(key) + Buffer.byteLength(text);
  }
  if (bytes > MAX_USER_METADATA_BYTES) {
    throw new S3Error(
      'MetadataTooLarge',
      400,
      'Your metadata headers exceed the maximum allowed metadata size.',
      { Size: String(bytes), MaxSizeAllowed: String(MAX_USER_METADATA_BYTES) },
    );
  }
  return { headers: stored, user, internal: {} };
}

/**
 * Writes an object's stored headers and user metadata onto a response (a non-ASCII value as an RFC 2047
 * encoded-word, as S3 returns it). Internal markers never leave.
 */
export function metadataToHeaders(metadata: ObjectMetadata, out: Headers): void {
  for (const name of STORED_HEADERS) {
    const value = metadata.headers[name];
    if (value !== undefined) out.set(name, value);
  }
  for (const [key, value] of Object.entries(metadata.user)) {
    out.set(`x-amz-meta-${key}`, metadataValueForHeader(value));
  }
}

/** GetObject's `response-*` query parameters override these response headers (S3 GetObject). */
export const RESPONSE_OVERRIDES: Record<string, string> = {
  'response-content-type': 'content-type',
  'response-content-language': 'content-language',
  'response-expires': 'expires',
  'response-cache-control': 'cache-control',
  'response-content-disposition': 'content-disposition',
  'response-content-encoding': 'content-encoding',
};
