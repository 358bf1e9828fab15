/**
 * How an object's {@link ObjectMetadata} is stored in S3 and read back.
 *
 * - `user` is stored as S3 user metadata as is, `internal` as user metadata named `sealgate-<name>` (so
 *   `x-amz-meta-sealgate-*` on the backend). Reads split them back, so user metadata never shows a `sealgate-`
 *   name, and a client may not store one: read back, it would pass for one of the gateway's markers.
 * - `headers` map to Content-Type, Cache-Control, Content-Disposition, Content-Encoding, Content-Language and
 *   Expires, which is sent verbatim. Names are lower-case, as HTTP returns them.
 */
import type {
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommandOutput,
  HeadObjectCommandOutput,
  PutObjectCommand,
} from '@aws-sdk/client-s3';

import type { ObjectInfo, ObjectMetadata } from '../../core/backend.js';
import { errors } from '../../core/errors.js';

const INTERNAL_PREFIX = 'sealgate-';

/** The commands that store an object's metadata, and so may carry Expires. */
type CommandWithHeaders = PutObjectCommand | CopyObjectCommand | CreateMultipartUploadCommand;

/**
 * The SDK input fields that store `metadata`: user metadata with the internal markers, and the headers except
 * Expires, which goes verbatim through {@link withExpires} instead of as a Date.
 * Throws InvalidArgument for user metadata named like an internal marker.
 */
export function metadataInput(metadata: ObjectMetadata) {
  const headers = metadata.headers;
  return {
    Metadata: toS3Metadata(metadata),
    ContentType: headers['content-type'],
    CacheControl: headers['cache-control'],
    ContentDisposition: headers['content-disposition'],
    ContentEncoding: headers['content-encoding'],
    ContentLanguage: headers['content-language'],
  };
}

/** Sets the Expires header as the client sent it (the SDK's input is a Date, which would reformat it). */
export function withExpires<C extends CommandWithHeaders>(command: C, headers: Record<string, string>): C {
  const expires = headers['expires'];
  if (expires === undefined) return command;
  // The three commands' stacks differ only in their input/output types, which this middleware does not touch.
  const stack = command.middlewareStack as PutObjectCommand['middlewareStack'];
  stack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers['expires'] = expires;
      return next(args);
    },
    { step: 'build', name: 'sealgateExpires' },
  );
  return command;
}

/** The object a HeadObject or GetObject describes; `size` is the whole object's, which a ranged GET does not give directly. */
export function objectInfo(
  key: string,
  out: HeadObjectCommandOutput | GetObjectCommandOutput,
  size: number | undefined,
): ObjectInfo {
  const etag = out.ETag ?? '';
  const info: ObjectInfo = {
    key,
    size: size ?? 0,
    etag,
    lastModified: out.LastModified ?? new Date(0),
    metadata: { headers: storedHeaders(out), ...fromS3Metadata(out.Metadata) },
  };
  const partsCount = out.PartsCount ?? partsCountOf(etag);
  if (partsCount) info.partsCount = partsCount;
  return info;
}

/** A multipart object's ETag ends in `-<number of parts>`. */
export function partsCountOf(etag: string): number | undefined {
  const match = /-(\d+)"?$/.exec(etag);
  return match ? Number(match[1]) : undefined;
}

function toS3Metadata(metadata: ObjectMetadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata.user)) {
    if (name.toLowerCase().startsWith(INTERNAL_PREFIX)) {
      throw errors.invalidArgument(
        `User metadata names starting with "${INTERNAL_PREFIX}" are reserved for the gateway.`,
        `x-amz-meta-${name}`,
        value,
      );
    }
    out[name] = value;
  }
  for (const [name, value] of Object.entries(metadata.internal)) out[INTERNAL_PREFIX + name] = value;
  return out;
}

function fromS3Metadata(
  stored: Record<string, string> | undefined,
): Pick<ObjectMetadata, 'user' | 'internal'> {
  const user: Record<string, string> = {};
  const internal: Record<string, string> = {};
  for (const [name, value] of Object.entries(stored ?? {})) {
    const lower = name.toLowerCase();
    if (lower.startsWith(INTERNAL_PREFIX)) internal[lower.slice(INTERNAL_PREFIX.length)] = value;
    else user[lower] = value;
  }
  return { user, internal };
}

function storedHeaders(out: HeadObjectCommandOutput | GetObjectCommandOutput): Record<string, string> {
  const headers: Record<string, string> = {};
  const set = (name: string, value: string | undefined) => {
    if (value !== undefined) headers[name] = value;
  };
  set('content-type', out.ContentType);
  set('cache-control', out.CacheControl);
  set('content-disposition', out.ContentDisposition);
  set('content-encoding', out.ContentEncoding);
  set('content-language', out.ContentLanguage);
  set('expires', out.ExpiresString ?? out.Expires?.toUTCString());
  return headers;
}
