import type { CompletedPart, ObjectChecksum, ObjectInfo, PartInfo, UploadInfo } from '../../backend.js';
import { deriveLayoutKey } from '../../crypto/index.js';
import { customerKeyOf } from '../../encryption/customer-key.js';
import type { Layout } from '../../encryption/layout-marker.js';
import { MARKER } from '../../encryption/markers.js';
import { gatewayHeaders, openObject, readObject } from '../../encryption/stored-object.js';
import {
  encodeUploadId,
  parseUploadId,
  type ParsedUploadId,
  type UploadState,
} from '../../encryption/upload-state.js';
import {
  nativeMarkers,
  nativeWriteHeaders,
  writeEchoHeaders,
  writeTarget,
} from '../../encryption/write-target.js';
import { S3Error, errors } from '../../errors.js';
import { isChecksumValue } from '../../integrity/checksum-request.js';
import { checksumTapped } from '../../integrity/checksum-tap.js';
import { CHECKSUM_ELEMENTS } from '../../integrity/checksums.js';
import {
  completionHeaderChecksum,
  displayedChecksum,
  multipartChecksumHeaders,
  objectChecksumFromParts,
  requestedMultipartChecksum,
  type MultipartChecksum,
} from '../../integrity/multipart-checksum.js';
import type { Route } from '../../routes.js';
import { MAX_XML_BYTES, child, children, parseXml, xml, type XmlElement } from '../../xml.js';
import { checkWriteConditions } from '../conditions.js';
import { metadataFromRequest } from '../metadata.js';
import { intParam, routeFor, xmlResponse, type Operation } from '../operation.js';
import { objectBody, readSmallBody } from '../request-body.js';
import { OWNER } from './buckets.js';
import { encoderFor } from './list-objects.js';
import { completedObject } from './completed-upload.js';
import { copySource, copySourceRange } from './copy.js';
import {
  bareEtag,
  layoutMarkers,
  namesStoredPart,
  openUpload,
  plaintextSize,
  storePart,
  writableUpload,
} from './encrypted-uploads.js';
import {
  checksumHeaders,
  existing,
  refuseEncryptionHeaders,
  storedChecksum,
  validateKey,
} from './objects.js';

/** Why a multipart upload's parts and completion take no SSE-S3/SSE-KMS header (S3 refuses them too). */
const CHOSEN_AT_CREATE =
  "a multipart upload's encryption is the one CreateMultipartUpload chose; send it there (its parts and " +
  'completion take only the SSE-C customer-key headers of an SSE-C upload).';

/** S3's smallest part, except for the last one of an upload. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
const MAX_PART_NUMBER = 10000;

function uploadIdOf(op: Operation): string {
  const id = op.query.get('uploadId');
  if (!id) throw errors.noSuchUpload('');
  return id;
}

function partNumberOf(op: Operation): number {
  const raw = op.query.get('partNumber') ?? '';
  const n = /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= MAX_PART_NUMBER)) {
    throw errors.invalidArgument(
      `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`,
      'partNumber',
      raw,
    );
  }
  return n;
}

/**
 * CreateMultipartUpload: the upload keeps the metadata given now; parts may then arrive in any order. A
 * gateway-encrypted upload gets its data key now; the key travels, wrapped, in the upload id the client
 * gets (encryption/upload-state.ts), so any instance can encrypt any part.
 */
export async function createMultipartUpload(op: Operation): Promise<Response> {
  validateKey(op.key);
  const route = routeFor(op, 'write');
  const checksum = requestedMultipartChecksum(op.request.headers);
  const customer = customerKeyOf(op.request.headers, op.ctx);
  const target = writeTarget(route.keys, op.request.headers, customer, route.encryption);
  const metadata = metadataFromRequest(op.request.headers);
  let uploadId: string;
  let headers: Record<string, string> = {};
  if (target.kind === 'gateway') {
    const { dataKey, markers } = await route.keys.create({ bucket: op.bucket, key: op.key }, target);
    const layoutKey = target.customer ? Buffer.from(deriveLayoutKey(dataKey)).toString('base64') : undefined;
    dataKey.fill(0);
    Object.assign(metadata.internal, markers);
    const backendId = await route.backend.createMultipartUpload(route.bucket, op.key, metadata);
    uploadId = encodeUploadId(backendId, { mode: target.mode, markers, layoutKey }, checksum);
    headers = { ...gatewayHeaders(target.mode, markers, target.customer), ...writeEchoHeaders(target) };
  } else {
    const native = target.kind === 'native' ? target.native : undefined;
    if (target.kind === 'native') Object.assign(metadata.internal, nativeMarkers(target));
    // The backend keeps a plain upload's checksums (an S3 backend has S3 do it); an encrypted upload's are
    // the gateway's, sealed at completion.
    const backendId = await route.backend.createMultipartUpload(route.bucket, op.key, metadata, {
      native,
      checksum,
    });
    uploadId = encodeUploadId(backendId, undefined, checksum);
    if (native) headers = { ...nativeWriteHeaders(native), ...writeEchoHeaders(target) };
  }
  return xmlResponse(
    xml('InitiateMultipartUploadResult', { Bucket: op.bucket, Key: op.key, UploadId: uploadId }),
    200,
    { ...headers, ...multipartChecksumHeaders(checksum) },
  );
}

/** UploadPart: the part's body is verified like a PutObject's before the backend keeps it. */
export async function uploadPart(op: Operation): Promise<Response> {
  validateKey(op.key);
  refuseEncryptionHeaders(op, CHOSEN_AT_CREATE);
  const route = routeFor(op, 'write');
  const partNumber = partNumberOf(op);
  const upload = await openUpload(op, route, uploadIdOf(op));
  const { body, size, digests, checksum } = objectBody(op.request, op.auth);
  const chosen = upload.checksum;
  if (chosen && checksum?.algorithm !== chosen.algorithm) {
    throw errors.invalidRequest(
      `Checksum Type mismatch occurred, expected checksum Type: ${chosen.algorithm}, actual checksum Type: ${checksum?.algorithm ?? 'null'}`,
    );
  }
  const kept = chosen && {
    algorithm: chosen.algorithm,
    value: checksum?.value,
    computed: () => digests().checksum!.value,
  };
  const part = await storePart(op, route, upload, partNumber, body, size, kept);
  // A natively encrypted upload's parts echo its encryption as the backend reports it, as S3's do.
  const native = part.native ? nativeWriteHeaders(part.native) : {};
  return new Response(null, {
    status: 200,
    headers: { etag: part.etag, ...checksumHeaders(digests()), ...native, ...upload.headers },
  });
}

/** UploadPartCopy: a part made from (a range of) an existing object's plaintext, streamed through the gateway. */
export async function uploadPartCopy(op: Operation): Promise<Response> {
  validateKey(op.key);
  refuseEncryptionHeaders(op, CHOSEN_AT_CREATE);
  const route = routeFor(op, 'write');
  const partNumber = partNumberOf(op);
  const upload = await openUpload(op, route, uploadIdOf(op));
  const source = await copySource(op);
  const range = copySourceRange(op.request.headers.get('x-amz-copy-source-range'), source.opened.view.size);
  const { body } = await readObject(source.route, source.opened, range);
  const size = range ? range.end - range.start + 1 : source.opened.view.size;
  // An upload that chose a checksum gets the copied part's, computed over the bytes as they pass, as S3 does.
  const chosen = upload.checksum;
  const tapped = chosen ? checksumTapped(body, chosen.algorithm) : undefined;
  const kept = chosen && tapped && { algorithm: chosen.algorithm, computed: tapped.value };
  const part = await storePart(op, route, upload, partNumber, tapped?.body ?? body, size, kept);
  return xmlResponse(
    xml('CopyPartResult', {
      LastModified: part.lastModified,
      ETag: part.etag,
      ...(chosen && tapped && { [CHECKSUM_ELEMENTS[chosen.algorithm]]: tapped.value() }),
    }),
    200,
    upload.headers,
  );
}

/**
 * CompleteMultipartUpload: the listed parts must be ascending, uploaded, with matching ETags, and every
 * part but the last at least 5 MiB (of plaintext), as S3 requires.
 */
export async function completeMultipartUpload(op: Operation): Promise<Response> {
  validateKey(op.key);
  refuseEncryptionHeaders(op, CHOSEN_AT_CREATE);
  const route = routeFor(op, 'write');
  const parsed = writableUpload(route, uploadIdOf(op));
  const { backendId, state } = parsed;
  const wholeChecksum = completionHeaderChecksum(op.request.headers, parsed.checksum);
  const document = await readSmallBody(op.request, op.auth, MAX_XML_BYTES, { checksumHeaders: 'object' });
  const root = parseXml(document);
  if (root.name !== 'CompleteMultipartUpload') throw errors.malformedXML();
  const requested = children(root, 'Part').map((p) => {
    const number = child(p, 'PartNumber')?.text.trim();
    const etag = child(p, 'ETag')?.text;
    if (number === undefined || etag === undefined || !/^\d+$/.test(number)) throw errors.malformedXML();
    return { partNumber: Number(number), etag: bareEtag(etag), checksum: listedChecksum(p, parsed) };
  });
  if (requested.length === 0) {
    throw errors.malformedXML();
  }
  for (let i = 1; i < requested.length; i++) {
    if (requested[i].partNumber <= requested[i - 1].partNumber) throw errors.invalidPartOrder();
  }
  let listed: PartInfo[];
  try {
    listed = await route.backend.listParts(route.bucket, op.key, backendId);
  } catch (error) {
    if (!(error instanceof S3Error && error.code === 'NoSuchUpload')) throw error;
    // Sent again after it succeeded: the same answer, as S3 gives it (completed-upload.ts).
    const done = await completedObject(op, route, state, requested);
    if (!done) throw error;
    return completeResponse(op, done, state, await completedChecksum(op, route, done));
  }
  const stored = new Map(listed.map((p) => [p.partNumber, p]));
  const layout: Layout = { partNumbers: [], lengths: [] };
  // What the backend joins: the stored parts under their own ETags, with the checksums the client lists.
  const parts: CompletedPart[] = [];
  requested.forEach((want, i) => {
    const have = stored.get(want.partNumber);
    if (!have || !namesStoredPart(want.etag, have, state !== undefined)) throw errors.invalidPart();
    // A part whose checksum the backend kept must be listed with that checksum, as S3 checks.
    if (want.checksum !== undefined && have.checksum && have.checksum.value !== want.checksum) {
      throw errors.invalidPart();
    }
    parts.push({ partNumber: want.partNumber, etag: bareEtag(have.etag), checksum: want.checksum });
    const size = plaintextSize(have, state !== undefined);
    if (i < requested.length - 1 && size < MIN_PART_BYTES) throw errors.entityTooSmall();
    layout.partNumbers.push(want.partNumber);
    layout.lengths.push(size);
  });
  const checksum = parsed.checksum && objectChecksum(parsed.checksum, parts, listed, layout.lengths);
  if (checksum && wholeChecksum !== undefined && wholeChecksum !== checksum.value) {
    throw errors.checksumMismatch(checksum.algorithm);
  }
  if (op.request.headers.has('if-none-match') || op.request.headers.has('if-match')) {
    checkWriteConditions(op.request.headers, op.key, await existing(op, route));
  }
  // A gateway-encrypted object's checksum is sealed with its layout; a plain one is the backend's to keep.
  const late = state ? await layoutMarkers(op, route, state, layout, checksum) : undefined;
  // The object appears only now: a listing record is armed here, not when the upload began.
  await route.listing?.beforeWrite(state?.markers ?? {});
  const info = await route.backend.completeMultipartUpload(
    route.bucket,
    op.key,
    backendId,
    parts,
    late,
    state ? undefined : checksum,
  );
  return completeResponse(op, info, state, checksum);
}

/**
 * The checksum a CompleteMultipartUpload part entry lists for the upload's algorithm. S3 requires one for
 * every part of a COMPOSITE upload (it is what the object's checksum is made of); a FULL_OBJECT upload's
 * parts may leave it out, when the backend kept them.
 */
function listedChecksum(part: XmlElement, upload: ParsedUploadId): string | undefined {
  const chosen = upload.checksum;
  if (!chosen) return undefined;
  const value = child(part, CHECKSUM_ELEMENTS[chosen.algorithm])?.text.trim();
  if (value === undefined || value === '') return undefined;
  if (!isChecksumValue(chosen.algorithm, value)) {
    throw errors.invalidRequest(`Value for ${CHECKSUM_ELEMENTS[chosen.algorithm]} of a part is invalid.`);
  }
  return value;
}

/**
 * The object's checksum from its parts': each listed part's checksum, or (FULL_OBJECT, left out of the
 * list) the one the backend kept with the part.
 *
 * @throws S3Error InvalidRequest, with S3's message, for a part whose checksum is neither listed nor kept.
 */
function objectChecksum(
  chosen: MultipartChecksum,
  parts: CompletedPart[],
  listed: PartInfo[],
  lengths: number[],
): ObjectChecksum {
  const kept = new Map(listed.map((p) => [p.partNumber, p.checksum?.value]));
  const values = parts.map((part) => {
    const value = part.checksum ?? (chosen.type === 'FULL_OBJECT' ? kept.get(part.partNumber) : undefined);
    if (value === undefined) {
      throw errors.invalidRequest(
        `The upload was created using a ${chosen.algorithm} checksum. The complete request must include the ` +
          `checksum for each part. It was missing for part ${part.partNumber} in the request.`,
      );
    }
    part.checksum = value;
    return value;
  });
  const value = objectChecksumFromParts(
    chosen,
    values.map((v, i) => ({ value: v, length: lengths[i] })),
  );
  return { ...chosen, value };
}

/** The checksum of an object a completion made, as a retried completion answers it. */
async function completedChecksum(
  op: Operation,
  route: Route,
  done: ObjectInfo,
): Promise<ObjectChecksum | undefined> {
  const customer = customerKeyOf(op.request.headers, op.ctx);
  if (done.metadata.internal[MARKER.encryption] === 'sse-c' && !customer) return undefined;
  const opened = await openObject(route, { bucket: op.bucket, key: op.key }, done, customer);
  opened.dataKey?.fill(0);
  return storedChecksum(opened.view);
}

function completeResponse(
  op: Operation,
  info: ObjectInfo,
  state: UploadState | undefined,
  checksum: ObjectChecksum | undefined,
): Response {
  const headers = state
    ? gatewayHeaders(state.mode, state.markers, customerKeyOf(op.request.headers, op.ctx))
    : info.native
      ? nativeWriteHeaders(info.native)
      : {};
  return xmlResponse(
    xml('CompleteMultipartUploadResult', {
      Location: `/${op.bucket}/${encodeURIComponent(op.key).replace(/%2F/g, '/')}`,
      Bucket: op.bucket,
      Key: op.key,
      ETag: info.etag,
      ...(checksum && {
        [CHECKSUM_ELEMENTS[checksum.algorithm]]: displayedChecksum(
          checksum.value,
          checksum.type,
          info.partsCount,
        ),
        ChecksumType: checksum.type,
      }),
    }),
    200,
    headers,
  );
}

/** AbortMultipartUpload: removes the upload and its parts. */
export async function abortMultipartUpload(op: Operation): Promise<Response> {
  validateKey(op.key);
  const route = routeFor(op, 'write');
  const { backendId } = parseUploadId(uploadIdOf(op));
  await route.backend.abortMultipartUpload(route.bucket, op.key, backendId);
  return new Response(null, { status: 204 });
}

/** ListParts: paged by part-number-marker; sizes of a gateway-encrypted upload's parts are plaintext sizes. */
export async function listParts(op: Operation): Promise<Response> {
  validateKey(op.key);
  const route = routeFor(op, 'read');
  const uploadId = uploadIdOf(op);
  const { backendId, state, checksum } = parseUploadId(uploadId);
  const maxParts = intParam(op, 'max-parts', 1000, 0, 1000);
  const marker = intParam(op, 'part-number-marker', 0, 0, MAX_PART_NUMBER);
  const all = (await route.backend.listParts(route.bucket, op.key, backendId)).filter(
    (p) => p.partNumber > marker,
  );
  const page = all.slice(0, maxParts);
  const truncated = all.length > page.length;
  return xmlResponse(
    xml('ListPartsResult', {
      Bucket: op.bucket,
      Key: op.key,
      UploadId: uploadId,
      Initiator: OWNER,
      Owner: OWNER,
      StorageClass: 'STANDARD',
      PartNumberMarker: marker,
      NextPartNumberMarker: page.length ? page[page.length - 1].partNumber : undefined,
      MaxParts: maxParts,
      IsTruncated: truncated,
      ChecksumAlgorithm: checksum?.algorithm.toUpperCase(),
      ChecksumType: checksum?.type,
      // The parts' checksums where the backend kept them (a gateway-encrypted part's never is: it is a
      // plaintext-derived value).
      Part: page.map((p) => ({
        PartNumber: p.partNumber,
        LastModified: p.lastModified,
        ETag: p.etag,
        Size: plaintextSize(p, state !== undefined),
        ...(p.checksum && { [CHECKSUM_ELEMENTS[p.checksum.algorithm]]: p.checksum.value }),
      })),
    }),
  );
}

/** Orders keys as S3 lists them: by their UTF-8 bytes (JS string order differs beyond the BMP). */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * The uploads after S3's ListMultipartUploads markers: keys after `key-marker`, plus, with
 * `upload-id-marker`, the marker key's own uploads that come after that upload (the backend lists a key's
 * uploads by initiation, and upload ids carry no order of their own). Without `key-marker`,
 * `upload-id-marker` is ignored, as S3 does.
 */
function afterMarkers(uploads: UploadInfo[], keyMarker: string, uploadIdMarker: string): UploadInfo[] {
  if (keyMarker === '') return uploads;
  const resumeAfter =
    uploadIdMarker === ''
      ? -1
      : uploads.findIndex((u) => u.key === keyMarker && u.uploadId === uploadIdMarker);
  return uploads.filter((u, i) => {
    const order = compareKeys(u.key, keyMarker);
    return order > 0 || (order === 0 && resumeAfter >= 0 && i > resumeAfter);
  });
}

/**
 * ListMultipartUploads: key-marker/upload-id-marker paging, prefix and delimiter roll-up, and
 * `encoding-type=url` for keys and prefixes. A common prefix is listed once; resuming from it (it is then
 * the key-marker) skips every upload under it.
 */
export async function listMultipartUploads(op: Operation): Promise<Response> {
  const route = routeFor(op, 'read');
  const prefix = op.query.get('prefix') ?? '';
  const delimiter = op.query.get('delimiter') || undefined;
  const keyMarker = op.query.get('key-marker') ?? '';
  const uploadIdMarker = op.query.get('upload-id-marker') ?? '';
  const maxUploads = intParam(op, 'max-uploads', 1000, 0, 1000);
  const encode = encoderFor(op);
  const uploads = afterMarkers(
    await route.backend.listMultipartUploads(route.bucket, prefix),
    keyMarker,
    uploadIdMarker,
  );

  const entries: ({ upload: UploadInfo } | { prefix: string })[] = [];
  const seenPrefixes = new Set<string>();
  let truncated = false;
  for (const upload of uploads) {
    const rest = upload.key.slice(prefix.length);
    const cut = delimiter ? rest.indexOf(delimiter) : -1;
    const common = cut >= 0 ? prefix + rest.slice(0, cut + delimiter!.length) : undefined;
    if (common !== undefined && (seenPrefixes.has(common) || compareKeys(common, keyMarker) <= 0)) continue;
    if (entries.length >= maxUploads) {
      truncated = true;
      break;
    }
    if (common !== undefined) {
      seenPrefixes.add(common);
      entries.push({ prefix: common });
    } else {
      entries.push({ upload });
    }
  }
  const last = entries[entries.length - 1];
  return xmlResponse(
    xml('ListMultipartUploadsResult', {
      Bucket: op.bucket,
      KeyMarker: encode(keyMarker),
      UploadIdMarker: uploadIdMarker,
      NextKeyMarker: truncated && last ? encode('upload' in last ? last.upload.key : last.prefix) : undefined,
      // After a common prefix the next page resumes by key alone.
      NextUploadIdMarker: truncated && last && 'upload' in last ? last.upload.uploadId : undefined,
      Delimiter: delimiter && encode(delimiter),
      Prefix: encode(prefix),
      MaxUploads: maxUploads,
      EncodingType: op.query.get('encoding-type'),
      IsTruncated: truncated,
      Upload: entries.flatMap((e) =>
        'upload' in e
          ? [
              {
                Key: encode(e.upload.key),
                UploadId: e.upload.uploadId,
                Initiator: OWNER,
                Owner: OWNER,
                StorageClass: 'STANDARD',
                Initiated: e.upload.initiated,
              },
            ]
          : [],
      ),
      CommonPrefixes: entries.flatMap((e) => ('prefix' in e ? [{ Prefix: encode(e.prefix) }] : [])),
    }),
  );
}
