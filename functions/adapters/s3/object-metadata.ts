/**
 * How an object's {@link ObjectMetadata} is stored in S3 and read back.
 *
 * - `user` is stored as S3 user metadata (non-ASCII values as RFC 2047 encoded-words, core/header-text.ts,
 *   decoded again on reads), `internal` as user metadata named `sealgate-<name>` (so
 *   `x-amz-meta-sealgate-*` on the backend). Reads split them back, so user metadata never shows a `sealgate-`
 *   name, and a client may not store one: read back, it would pass for one of the gateway's markers.
 * - `headers` map to Content-Type, Cache-Control, Content-Disposition, Content-Encoding, Content-Language and
 *   Expires, which is sent verbatim. Names are lower-case, as HTTP returns them.
 * - The S3 backend's own layout markers (s3/recorded-layout.ts) are stored like internal markers and taken
 *   out again on every read: they decide the ETag and parts the core sees, and are never among its markers.
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
import { metadataValueForHeader, metadataValueFromHeader } from '../../core/header-text.js';
import { objectChecksumOf } from './checksum-fields.js';
import { withNative } from './native-encryption.js';
import {
  assertNoLayoutMarkers,
  layoutMarkers,
  layoutSize,
  takeLayout,
  type RecordedLayout,
} from './recorded-layout.js';

const INTERNAL_PREFIX = 'sealgate-';

/** The commands that store an object's metadata, and so may carry Expires. */
type CommandWithHeaders = PutObjectCommand | CopyObjectCommand | CreateMultipartUploadCommand;

/**
 * The SDK input fields that store `metadata`: user metadata with the internal markers, and the headers except
 * Expires, which goes verbatim through {@link withExpires} instead of as a Date. `layout`, when given, is
 * stored beside the internal markers.
 * Throws InvalidArgument for user metadata named like an internal marker.
 */
export function metadataInput(metadata: ObjectMetadata, layout?: RecordedLayout) {
  assertNoLayoutMarkers(metadata.internal);
  const headers = metadata.headers;
  const stored = layout
    ? { ...metadata, internal: { ...metadata.internal, ...layoutMarkers(layout) } }
    : metadata;
  return {
    Metadata: toS3Metadata(stored),
    ContentType: headers['content-type'],
    CacheControl: headers['cache-control'],
    ContentDisposition: headers['content-disposition'],
    ContentEncoding: headers['content-encoding'],
    ContentLanguage: headers['content-language'],
  };
}

/**
 * The bytes S3 counts toward its 2 KB limit on an object's user metadata for `metadata` as stored: the UTF-8
 * names (without `x-amz-meta-`) and values.
 */
export function metadataBytes(metadata: ObjectMetadata): number {
  return Object.entries(toS3Metadata(metadata)).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(value),
    0,
  );
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

/** An object as S3 holds it: what the core sees, and what only the S3 backend needs. */
export interface StoredObject {
  info: ObjectInfo;
  /** S3's own ETag of the object, which conditional requests to S3 must name. */
  storedEtag: string;
  /** The multipart layout recorded when S3 no longer knows it (s3/recorded-layout.ts). */
  layout?: RecordedLayout;
}

/**
 * The object a HeadObject or GetObject describes; `size` is the whole object's, which a ranged GET does not
 * give directly (for an object with a recorded layout, undefined means the recorded parts' sum).
 */
export function storedObject(
  key: string,
  out: HeadObjectCommandOutput | GetObjectCommandOutput,
  size: number | undefined,
): StoredObject {
  const storedEtag = out.ETag ?? '';
  const { user, internal: stored } = fromS3Metadata(out.Metadata);
  const { internal, layout } = takeLayout(stored, key);
  if (layout && size !== undefined && layoutSize(layout) !== size) {
    throw new Error(
      `the S3 backend's object ${key} holds ${size} bytes, its recorded parts ${layoutSize(layout)}`,
    );
  }
  const etag = layout?.etag ?? storedEtag;
  const info: ObjectInfo = {
    key,
    size: size ?? (layout ? layoutSize(layout) : 0),
    etag,
    lastModified: out.LastModified ?? new Date(0),
    metadata: { headers: storedHeaders(out), user, internal },
  };
  const partsCount = layout ? layout.partSizes.length : (out.PartsCount ?? partsCountOf(etag));
  if (partsCount) info.partsCount = partsCount;
  // A copy that recorded a layout made the object new to S3: a checksum S3 reports now is its own, not
  // the one the completion asked it to keep.
  const checksum = layout ? undefined : objectChecksumOf(out);
  if (checksum) info.checksum = checksum;
  withNative(info, out);
  return layout ? { info, storedEtag, layout } : { info, storedEtag };
}

/** The object a HeadObject or GetObject describes, as the core sees it (see {@link storedObject}). */
export function objectInfo(
  key: string,
  out: HeadObjectCommandOutput | GetObjectCommandOutput,
  size: number | undefined,
): ObjectInfo {
  return storedObject(key, out, size).info;
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
    // Non-ASCII text goes as an RFC 2047 encoded-word, which S3 decodes before storing.
    out[name] = metadataValueForHeader(value);
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
    else user[lower] = metadataValueFromHeader(value);
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
