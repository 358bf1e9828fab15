import { errors } from '../errors.js';

interface Validators {
  etag: string;
  lastModified: Date;
}

function etagMatches(header: string, etag: string): boolean {
  const bare = etag.replace(/^"|"$/g, '');
  return header
    .split(',')
    .map((t) => t.trim().replace(/^W\//, '').replace(/^"|"$/g, ''))
    .some((t) => t === '*' || t === bare);
}

function parseHttpDate(value: string | null): Date | undefined {
  if (value === null) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/** Seconds resolution, as Last-Modified is sent. */
function secondsOf(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

/**
 * GetObject/HeadObject conditional headers, in S3's documented precedence: If-Match that holds makes a
 * failing If-Unmodified-Since irrelevant (200); If-None-Match that fails makes a holding
 * If-Modified-Since irrelevant (304). Failures: If-Match / If-Unmodified-Since → 412 PreconditionFailed;
 * If-None-Match / If-Modified-Since → 304 Not Modified, with the object's ETag and Last-Modified as S3
 * sends them. Unparseable dates are ignored, as in HTTP.
 */
export function checkReadConditions(headers: Headers, object: Validators): void {
  const ifMatch = headers.get('if-match');
  const ifNoneMatch = headers.get('if-none-match');
  const ifModifiedSince = parseHttpDate(headers.get('if-modified-since'));
  const ifUnmodifiedSince = parseHttpDate(headers.get('if-unmodified-since'));
  const modified = secondsOf(object.lastModified);

  if (ifMatch !== null) {
    if (!etagMatches(ifMatch, object.etag)) throw errors.preconditionFailed('If-Match');
  } else if (ifUnmodifiedSince && modified > secondsOf(ifUnmodifiedSince)) {
    throw errors.preconditionFailed('If-Unmodified-Since');
  }
  const notModified = () =>
    errors.notModified({ etag: object.etag, lastModified: httpDate(object.lastModified) });
  if (ifNoneMatch !== null) {
    if (etagMatches(ifNoneMatch, object.etag)) throw notModified();
  } else if (ifModifiedSince && modified <= secondsOf(ifModifiedSince)) {
    throw notModified();
  }
}

/**
 * CopyObject/UploadPartCopy `x-amz-copy-source-if-*` headers. Same precedence as reads, but every
 * failure is 412 PreconditionFailed, as S3 answers.
 */
export function checkCopySourceConditions(headers: Headers, source: Validators): void {
  const ifMatch = headers.get('x-amz-copy-source-if-match');
  const ifNoneMatch = headers.get('x-amz-copy-source-if-none-match');
  const ifModifiedSince = parseHttpDate(headers.get('x-amz-copy-source-if-modified-since'));
  const ifUnmodifiedSince = parseHttpDate(headers.get('x-amz-copy-source-if-unmodified-since'));
  const modified = secondsOf(source.lastModified);

  if (ifMatch !== null) {
    if (!etagMatches(ifMatch, source.etag)) throw errors.preconditionFailed('x-amz-copy-source-If-Match');
  } else if (ifUnmodifiedSince && modified > secondsOf(ifUnmodifiedSince)) {
    throw errors.preconditionFailed('x-amz-copy-source-If-Unmodified-Since');
  }
  if (ifNoneMatch !== null) {
    if (etagMatches(ifNoneMatch, source.etag))
      throw errors.preconditionFailed('x-amz-copy-source-If-None-Match');
  } else if (ifModifiedSince && modified <= secondsOf(ifModifiedSince)) {
    throw errors.preconditionFailed('x-amz-copy-source-If-Modified-Since');
  }
}

/**
 * PutObject/CompleteMultipartUpload conditional writes: `If-None-Match: *` fails when the key exists,
 * `If-Match: <etag>` fails unless it exists with that ETag (412 PreconditionFailed). `existing` is what
 * the key holds now, if anything. The check is not atomic with the write that follows; see the README.
 */
export function checkWriteConditions(headers: Headers, key: string, existing: Validators | undefined): void {
  const ifNoneMatch = headers.get('if-none-match');
  const ifMatch = headers.get('if-match');
  if (ifNoneMatch !== null) {
    if (ifNoneMatch.trim() !== '*') throw errors.notImplemented('If-None-Match with a value other than *');
    if (existing) throw errors.preconditionFailed('If-None-Match');
  }
  if (ifMatch !== null) {
    if (!existing) throw errors.noSuchKey(key);
    if (!etagMatches(ifMatch, existing.etag)) throw errors.preconditionFailed('If-Match');
  }
}

/** Formats a date as an HTTP date (Last-Modified). */
export function httpDate(date: Date): string {
  return date.toUTCString();
}
