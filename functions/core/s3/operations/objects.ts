import type { ObjectChecksum, ObjectInfo } from '../../backend.js';
import { customerKeyOf } from '../../encryption/customer-key.js';
import { storeObject } from '../../encryption/store-object.js';
import {
  CHECKSUM_MARKER,
  openObject,
  partRange,
  readObject,
  type OpenedObject,
} from '../../encryption/stored-object.js';
import { writeTarget } from '../../encryption/write-target.js';
import { S3Error, errors } from '../../errors.js';
import { isChecksumAlgorithm } from '../../integrity/checksums.js';
import { displayedChecksum } from '../../integrity/multipart-checksum.js';
import type { BodyDigests } from '../../integrity/verify-body.js';
import { MAX_XML_BYTES, children, child, parseXml, xml } from '../../xml.js';
import { checkReadConditions, checkWriteConditions, httpDate } from '../conditions.js';
import { RESPONSE_OVERRIDES, metadataFromRequest, metadataToHeaders } from '../metadata.js';
import { MAX_KEY_BYTES } from '../names.js';
import { intParam, routeFor, xmlResponse, type Operation } from '../operation.js';
import { contentRange, parseRange } from '../range.js';
import { NULL_VERSION } from './list-objects.js';
import { objectBody, readSmallBody } from '../request-body.js';
import type { Route } from '../../routes.js';

/** Rejects keys S3 would not accept (empty, longer than 1024 bytes). */
export function validateKey(key: string): void {
  if (key === '') throw errors.invalidKey('An object key must not be empty');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw errors.keyTooLong();
}

/** The internal marker that records a verified request checksum (`checksum-crc32: <base64>`). */
export function checksumMarkers(digests: Pick<BodyDigests, 'checksum'>): Record<string, string> {
  return digests.checksum ? { [CHECKSUM_MARKER + digests.checksum.algorithm]: digests.checksum.value } : {};
}

/** The checksum headers S3 echoes for a verified upload. */
export function checksumHeaders(digests: BodyDigests): Record<string, string> {
  return digests.checksum ? { [`x-amz-checksum-${digests.checksum.algorithm}`]: digests.checksum.value } : {};
}

/**
 * What the key holds now as clients see it (for conditional writes), or undefined if nothing. An object
 * the request cannot open (SSE-C under another key) is compared by its stored validators.
 */
export async function existing(op: Operation, route: Route): Promise<ObjectInfo | undefined> {
  let stored: ObjectInfo;
  try {
    stored = await route.backend.headObject(route.bucket, op.key);
  } catch (error) {
    if (error instanceof S3Error && error.code === 'NoSuchKey') return undefined;
    throw error;
  }
  try {
    const customer = customerKeyOf(op.request.headers, op.ctx);
    return (await openObject(route, { bucket: op.bucket, key: op.key }, stored, customer)).view;
  } catch (error) {
    if (error instanceof S3Error && error.status < 500) return stored;
    throw error;
  }
}

/** The MD5 a request's Content-MD5 header gives, as hex, when it is well-formed. */
function contentMd5Hex(headers: Headers): string | undefined {
  const value = headers.get('content-md5');
  if (value === null) return undefined;
  const bytes = Buffer.from(value, 'base64');
  return bytes.length === 16 ? bytes.toString('hex') : undefined;
}

/**
 * PutObject: streams the verified body to the backend, encrypted as the backend's mode (or the request's
 * SSE-C key) says; nothing is stored unless every check held.
 */
export async function putObject(op: Operation): Promise<Response> {
  validateKey(op.key);
  const route = routeFor(op, 'write');
  const customer = customerKeyOf(op.request.headers, op.ctx);
  const target = writeTarget(route.keys, op.request.headers, customer, route.encryption);
  const metadata = metadataFromRequest(op.request.headers);
  if (op.request.headers.has('if-none-match') || op.request.headers.has('if-match')) {
    checkWriteConditions(op.request.headers, op.key, await existing(op, route));
  }
  const { body, size, digests, checksum } = objectBody(op.request, op.auth);
  // A checksum sent as a header is known before the body: it is stored with the object like any other
  // marker. One from a trailer (or computed at the client's request) is only known once the body has
  // passed, so its marker is handed over late.
  const known =
    checksum?.value === undefined ? undefined : { algorithm: checksum.algorithm, value: checksum.value };
  if (known) Object.assign(metadata.internal, checksumMarkers({ checksum: known }));
  const stored = await storeObject(
    route,
    { bucket: op.bucket, key: op.key },
    {
      body,
      size,
      metadata,
      target,
      late: known ? undefined : () => checksumMarkers(digests()),
      md5: contentMd5Hex(op.request.headers),
    },
  );
  return new Response(null, {
    status: 200,
    headers: { etag: stored.etag, ...checksumHeaders(digests()), ...stored.headers },
  });
}

function objectHeaders(op: Operation, info: ObjectInfo, encryption: Record<string, string>): Headers {
  const headers = new Headers();
  metadataToHeaders(info.metadata, headers);
  headers.set('etag', info.etag);
  headers.set('last-modified', httpDate(info.lastModified));
  headers.set('accept-ranges', 'bytes');
  for (const [name, value] of Object.entries(encryption)) headers.set(name, value);
  for (const [param, header] of Object.entries(RESPONSE_OVERRIDES)) {
    const value = op.query.get(param);
    if (value !== undefined) headers.set(header, value);
  }
  return headers;
}

/**
 * The checksum clients are shown for an object (as opened: the view): the verified checksum a single
 * request sent, kept as a marker (or sealed), which is of the whole object; or else the one a multipart
 * completion made (COMPOSITE or FULL_OBJECT), kept by the backend or sealed.
 */
export function storedChecksum(view: ObjectInfo): ObjectChecksum | undefined {
  for (const [name, value] of Object.entries(view.metadata.internal)) {
    const algorithm = name.slice(CHECKSUM_MARKER.length);
    if (name.startsWith(CHECKSUM_MARKER) && isChecksumAlgorithm(algorithm)) {
      return { algorithm, type: 'FULL_OBJECT', value };
    }
  }
  return view.checksum;
}

function addChecksum(op: Operation, info: ObjectInfo, headers: Headers): void {
  if (op.request.headers.get('x-amz-checksum-mode')?.toUpperCase() !== 'ENABLED') return;
  const checksum = storedChecksum(info);
  if (!checksum) return;
  headers.set(
    `x-amz-checksum-${checksum.algorithm}`,
    displayedChecksum(checksum.value, checksum.type, info.partsCount),
  );
  headers.set('x-amz-checksum-type', checksum.type);
}

function partNumberOf(op: Operation): number | undefined {
  if (!op.query.has('partNumber')) return undefined;
  return intParam(op, 'partNumber', 1, 1, 10000);
}

/** The headers that ask for SSE-S3 or SSE-KMS: only requests that create an object take them. */
const WRITE_ENCRYPTION_HEADERS = [
  'x-amz-server-side-encryption',
  'x-amz-server-side-encryption-aws-kms-key-id',
  'x-amz-server-side-encryption-context',
  'x-amz-server-side-encryption-bucket-key-enabled',
] as const;

/**
 * Refuses a request that sends an `x-amz-server-side-encryption*` header to an operation that takes none,
 * with S3's 400 InvalidArgument and `why`: reads (an SSE-S3 or SSE-KMS object is read without them), and a
 * multipart upload's parts and completion (its encryption is the one CreateMultipartUpload chose). Only
 * SSE-C's customer-key headers apply there.
 */
export function refuseEncryptionHeaders(op: Operation, why: string): void {
  for (const name of WRITE_ENCRYPTION_HEADERS) {
    const value = op.request.headers.get(name);
    if (value !== null) {
      throw errors.invalidArgument(
        `The ${name} header is not supported for this operation: ${why}`,
        name,
        value,
      );
    }
  }
}

/** Opens the request's object: its stored description, then its markers with the request's SSE-C key. */
export async function openRequested(op: Operation, route: Route, partNumber?: number): Promise<OpenedObject> {
  refuseEncryptionHeaders(
    op,
    'objects encrypted with SSE-S3 or SSE-KMS are read without encryption headers.',
  );
  const stored = await route.backend.headObject(route.bucket, op.key, partNumber);
  const customer = customerKeyOf(op.request.headers, op.ctx);
  return openObject(route, { bucket: op.bucket, key: op.key }, stored, customer);
}

/**
 * GetObject: conditionals, Range (206/416), partNumber and response-* overrides, over the plaintext. The
 * body streams from the backend (decrypted chunk by chunk for gateway-encrypted objects, fetching only the
 * chunks a range needs); checksums are returned only for whole-object reads, as S3 does.
 */
export async function getObject(op: Operation): Promise<Response> {
  validateKey(op.key);
  const route = routeFor(op, 'read');
  const partNumber = partNumberOf(op);
  if (partNumber !== undefined && op.request.headers.has('range')) {
    throw errors.invalidRequest('Cannot specify both Range header and partNumber query parameter');
  }
  const opened = await openRequested(op, route);
  const head = opened.view;
  checkReadConditions(op.request.headers, head);
  const range = partNumber === undefined ? parseRange(op.request.headers.get('range'), head.size) : undefined;
  const select = partNumber !== undefined ? { partNumber } : range;
  const read = await readObject(route, opened, select);
  const info = read.info;
  if (info.etag !== head.etag) {
    // The object changed between HEAD and GET: answer as of the object actually served.
    checkReadConditions(op.request.headers, info);
  }
  const served = read.range;
  const headers = objectHeaders(op, info, opened.headers);
  let status = 200;
  // A part read is a ranged read even when the part is the whole object (part 1 of a single-part object):
  // S3 answers it 206 with its Content-Range.
  if (served && (range || partNumber !== undefined)) {
    status = 206;
    headers.set('content-range', contentRange(served, info.size));
    headers.set('content-length', String(served.end - served.start + 1));
  } else {
    headers.set('content-length', String(served ? served.end - served.start + 1 : info.size));
    // A backend's GET may not report what its HEAD does (S3 reports checksums to HEAD): the same object's.
    const checksum = info.checksum ?? (info.etag === head.etag ? head.checksum : undefined);
    if (!served) addChecksum(op, { ...info, checksum }, headers);
  }
  if (partNumber !== undefined && info.partsCount) {
    headers.set('x-amz-mp-parts-count', String(info.partsCount));
  }
  return new Response(ReadableStream.from(read.body), { status, headers });
}

/** HeadObject: GetObject's headers without the body. */
export async function headObject(op: Operation): Promise<Response> {
  validateKey(op.key);
  const route = routeFor(op, 'read');
  const partNumber = partNumberOf(op);
  const opened = await openRequested(op, route, partNumber);
  const info = opened.view;
  checkReadConditions(op.request.headers, info);
  const headers = objectHeaders(op, info, opened.headers);
  let status = 200;
  const part =
    partNumber === undefined
      ? undefined
      : opened.dataKey !== undefined
        ? partRange(opened, partNumber)
        : opened.stored.part;
  const range = partNumber === undefined ? parseRange(op.request.headers.get('range'), info.size) : part;
  if (range) {
    status = 206;
    headers.set('content-range', contentRange(range, info.size));
    headers.set('content-length', String(range.end - range.start + 1));
  } else {
    headers.set('content-length', String(info.size));
    addChecksum(op, info, headers);
  }
  if (partNumber !== undefined && info.partsCount) {
    headers.set('x-amz-mp-parts-count', String(info.partsCount));
  }
  return new Response(null, { status, headers });
}

/** GetObjectTagging: the gateway stores no tags, so an existing object has an empty tag set. */
export async function getObjectTagging(op: Operation): Promise<Response> {
  validateKey(op.key);
  const route = routeFor(op, 'read');
  await route.backend.headObject(route.bucket, op.key);
  return xmlResponse(xml('Tagging', { TagSet: '' }));
}

/** DeleteObject: succeeds whether or not the key exists, as in S3. */
export async function deleteObject(op: Operation): Promise<Response> {
  validateKey(op.key);
  const route = routeFor(op, 'write');
  await route.backend.deleteObject(route.bucket, op.key);
  return new Response(null, { status: 204 });
}

/** DeleteObjects: up to 1000 keys; per-key failures are reported in the result, not as a request error. */
export async function deleteObjects(op: Operation): Promise<Response> {
  const route = routeFor(op, 'write');
  if (!op.request.headers.has('content-md5') && !hasChecksumHeader(op.request.headers)) {
    // S3 requires an integrity header on DeleteObjects; current SDKs send a CRC32 instead of Content-MD5.
    throw errors.invalidRequest('Missing required header for this request: Content-MD5');
  }
  const root = parseXml(await readSmallBody(op.request, op.auth, MAX_XML_BYTES));
  if (root.name !== 'Delete') throw errors.malformedXML();
  const quiet = child(root, 'Quiet')?.text.trim() === 'true';
  const objects = children(root, 'Object').map((o) => {
    const key = child(o, 'Key');
    if (!key) throw errors.malformedXML();
    return { key: key.text, versionId: child(o, 'VersionId')?.text };
  });
  if (objects.length === 0 || objects.length > 1000) throw errors.malformedXML();
  const deleted: { Key: string; VersionId?: string }[] = [];
  const failed: { Key: string; VersionId?: string; Code: string; Message: string }[] = [];
  for (const { key, versionId } of objects) {
    try {
      validateKey(key);
      // As for DeleteObject: the `null` version is the object itself; no other version exists.
      if (versionId !== undefined && versionId !== NULL_VERSION)
        throw errors.notImplemented('Object versioning');
      await route.backend.deleteObject(route.bucket, key);
      deleted.push({ Key: key, VersionId: versionId });
    } catch (error) {
      if (!(error instanceof S3Error) || (error.status >= 500 && error.code !== 'NotImplemented'))
        throw error;
      failed.push({ Key: key, VersionId: versionId, Code: error.code, Message: error.message });
    }
  }
  return xmlResponse(xml('DeleteResult', { Deleted: quiet ? [] : deleted, Error: failed }));
}

function hasChecksumHeader(headers: Headers): boolean {
  for (const [name] of headers) {
    if (name.startsWith('x-amz-checksum-') && name !== 'x-amz-checksum-mode') return true;
  }
  return headers.has('x-amz-trailer');
}
