/**
 * Reading an object as clients see it, whatever its markers say about how it is stored: plaintext, natively
 * encrypted by the backend, or encrypted by the gateway (proxy, KMS envelope, SSE-C) in the format of
 * docs/FORMAT.md. Reads dispatch on the object's own markers, never on the backend's current mode.
 */
import type { Body, ByteRange, ObjectChecksum, ObjectInfo } from '../backend.js';
import {
  assertObjectLayout,
  deriveLayoutKey,
  verifyLayoutTag,
  FormatError,
  decryptRange,
  decryptSegment,
  objectCiphertextLength,
  segmentPlaintextLength,
  SEGMENT_HEADER_LENGTH,
  SINGLE_PART_NUMBER,
} from '../crypto/index.js';
import { S3Error, errors } from '../errors.js';
import { isChecksumAlgorithm } from '../integrity/checksums.js';
import { recordCipherBytes } from '../metrics.js';
import type { Route } from '../routes.js';
import { customerKeyHeaders, type CustomerKey } from './customer-key.js';
import type { ObjectName } from './data-keys.js';
import { decodeLayout, type Layout } from './layout-marker.js';
import { MARKER, isGatewayEncryption, storedEncryption, type StoredEncryption } from './markers.js';
import { openValues, type SealedValues } from './sealed-values.js';

/** Internal marker names for a verified request checksum (`checksum-crc32: <base64>`). */
export const CHECKSUM_MARKER = 'checksum-';

export interface OpenedObject {
  /**
   * The object as clients see it: plaintext size and ETag, its stored headers and user metadata, and in
   * `metadata.internal` only the checksum markers (`checksum-<algorithm>`) a client may ask for.
   */
  view: ObjectInfo;
  /** The backend's own description (stored sizes, backend ETag, every marker; `part` for a part HEAD). */
  stored: ObjectInfo & { part?: ByteRange };
  encryption: StoredEncryption | 'plain';
  /** The response headers that describe the object's encryption (S3's `x-amz-server-side-encryption*`). */
  headers: Record<string, string>;
  /** For gateway-encrypted objects: the opened data key and the object's layout. */
  dataKey?: Buffer;
  layout?: Layout;
  /** Plaintext-derived values sealed with the object (gateway-encrypted objects). */
  sealed?: SealedValues;
}

/** A plaintext read: the object served, the body, and which bytes it holds when not the whole object. */
export interface PlainRead {
  info: ObjectInfo;
  body: Body;
  range?: ByteRange;
}

/**
 * Opens an object for reading: checks the customer key against the object (S3's SSE-C rules), opens a
 * gateway-encrypted object's data key and verifies its layout, and unseals its ETag and checksums.
 */
export async function openObject(
  route: Route,
  name: ObjectName,
  stored: ObjectInfo & { part?: ByteRange },
  customer: CustomerKey | undefined,
): Promise<OpenedObject> {
  const encryption = markersOf(stored);
  const internal = stored.metadata.internal;
  if (!isGatewayEncryption(encryption)) {
    if (customer) throw errors.ssecNotApplicable();
    const etag = internal[MARKER.etag] ?? stored.etag;
    return {
      view: { ...stored, etag, metadata: { ...stored.metadata, internal: checksumMarkers(internal) } },
      stored,
      encryption,
      headers: nativeHeaders(stored),
    };
  }
  const dataKey = await route.keys.open(encryption, internal, name, customer);
  const layout = integrity(() => layoutOf(stored, dataKey));
  const sealed = internal[MARKER.sealed];
  const values = sealed === undefined ? {} : integrity(() => openValues(dataKey, sealed));
  const size = layout.lengths.reduce((a, b) => a + b, 0);
  const multipart = layout.partNumbers[0] !== SINGLE_PART_NUMBER;
  const checksums: Record<string, string> = {};
  let multipartChecksum: ObjectChecksum | undefined;
  for (const [algorithm, value] of Object.entries(values.checksums ?? {})) {
    if (values.checksumType === undefined) checksums[CHECKSUM_MARKER + algorithm] = value;
    else if (isChecksumAlgorithm(algorithm))
      multipartChecksum = { algorithm, type: values.checksumType, value };
  }
  const view: ObjectInfo = {
    key: stored.key,
    size,
    etag: values.etag ?? (!multipart && values.md5 !== undefined ? `"${values.md5}"` : stored.etag),
    lastModified: stored.lastModified,
    metadata: { headers: stored.metadata.headers, user: stored.metadata.user, internal: checksums },
  };
  if (multipart) view.partsCount = layout.partNumbers.length;
  if (multipartChecksum) view.checksum = multipartChecksum;
  return {
    view,
    stored,
    encryption,
    headers: gatewayHeaders(encryption, internal, customer),
    dataKey,
    layout,
    sealed: values,
  };
}

function markersOf(stored: ObjectInfo): StoredEncryption | 'plain' {
  try {
    return storedEncryption(stored.metadata.internal);
  } catch (error) {
    throw errors.objectIntegrity(error instanceof Error ? error.message : String(error));
  }
}

/** The object's segments: from its layout marker (checked against its tag), or one part-0 segment. */
function layoutOf(stored: ObjectInfo, dataKey: Buffer): Layout {
  const marker = stored.metadata.internal[MARKER.layout];
  let layout: Layout;
  let tag: Buffer | undefined;
  if (marker === undefined) {
    layout = { partNumbers: [SINGLE_PART_NUMBER], lengths: [segmentPlaintextLength(stored.size)] };
  } else {
    layout = decodeLayout(marker);
    tag = Buffer.from(stored.metadata.internal[MARKER.layoutTag] ?? '', 'base64');
    if (objectCiphertextLength(layout.lengths, layout.partNumbers) !== stored.size) {
      throw new FormatError('invalid-layout', 'the stored size does not match the recorded parts');
    }
  }
  assertObjectLayout(layout.lengths, layout.partNumbers);
  if (tag !== undefined) {
    const layoutKey = deriveLayoutKey(dataKey);
    try {
      verifyLayoutTag(layoutKey, layout.lengths, layout.partNumbers, tag);
    } finally {
      layoutKey.fill(0);
    }
  }
  return layout;
}

/** Runs a check of stored data, reporting format and marker failures as the object's integrity error. */
function integrity<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof S3Error) throw error;
    throw errors.objectIntegrity(error instanceof Error ? error.message : String(error));
  }
}

function checksumMarkers(internal: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(internal).filter(([name]) => name.startsWith(CHECKSUM_MARKER)));
}

/** What S3 returns for natively encrypted objects. */
function nativeHeaders(stored: ObjectInfo): Record<string, string> {
  const native = stored.native;
  if (!native) return {};
  const headers: Record<string, string> = { 'x-amz-server-side-encryption': native.algorithm };
  if (native.kmsKeyId !== undefined) headers['x-amz-server-side-encryption-aws-kms-key-id'] = native.kmsKeyId;
  if (native.bucketKeyEnabled) headers['x-amz-server-side-encryption-bucket-key-enabled'] = 'true';
  return headers;
}

/**
 * Gateway-encrypted objects answer as S3 answers for the nearest native form: proxy objects as `AES256`,
 * envelope objects as `aws:kms` with the KMS key, SSE-C objects with the customer key's algorithm and MD5.
 */
export function gatewayHeaders(
  encryption: StoredEncryption,
  internal: Record<string, string>,
  customer: CustomerKey | undefined,
): Record<string, string> {
  if (encryption === 'sse-c') return customer ? customerKeyHeaders(customer) : {};
  if (encryption === 'aws-kms-envelope') {
    return {
      'x-amz-server-side-encryption': 'aws:kms',
      'x-amz-server-side-encryption-aws-kms-key-id': internal[MARKER.keyId] ?? '',
      ...(internal[MARKER.bucketKey] === 'true' && {
        'x-amz-server-side-encryption-bucket-key-enabled': 'true',
      }),
    };
  }
  if (encryption === 'aes256-gcm-proxy') return { 'x-amz-server-side-encryption': 'AES256' };
  return {};
}

/**
 * The plaintext byte range of part `partNumber` (1-based, in order) of a gateway-encrypted object. As in S3,
 * part 1 of a single-part object is all of it (undefined when it is empty: no range to serve).
 */
export function partRange(opened: OpenedObject, partNumber: number): ByteRange | undefined {
  const layout = opened.layout!;
  if (layout.partNumbers[0] === SINGLE_PART_NUMBER) {
    if (partNumber !== 1) throw errors.invalidPartNumber();
    return opened.view.size > 0 ? { start: 0, end: opened.view.size - 1 } : undefined;
  }
  if (partNumber > layout.lengths.length) throw errors.invalidPartNumber();
  let start = 0;
  for (let i = 0; i < partNumber - 1; i++) start += layout.lengths[i];
  return { start, end: start + layout.lengths[partNumber - 1] - 1 };
}

/**
 * Reads an opened object's plaintext: the whole object, an inclusive range of it, or one part. The first
 * piece is read before this returns, so a failure there (a tampered single-chunk object, a refused fetch)
 * is an S3 error response rather than a broken stream; a failure later aborts the stream.
 */
export async function readObject(
  route: Route,
  opened: OpenedObject,
  select?: ByteRange | { partNumber: number },
): Promise<PlainRead> {
  if (opened.dataKey === undefined) {
    const { info, body, range } = await route.backend.getObject(route.bucket, opened.stored.key, select);
    const view = {
      ...info,
      etag: info.metadata.internal[MARKER.etag] ?? info.etag,
      metadata: { ...info.metadata, internal: checksumMarkers(info.metadata.internal) },
    };
    return { info: view, body, range };
  }
  let range: ByteRange | undefined;
  if (select && 'partNumber' in select) range = partRange(opened, select.partNumber);
  else range = select;
  const fetch = (r: ByteRange) => fetchStored(route, opened.stored.key, r);
  const layout = opened.layout!;
  let body: AsyncIterable<Uint8Array>;
  if (opened.view.size === 0) {
    body = decryptEmpty(route, opened);
  } else {
    body = decryptRange({
      dataKey: opened.dataKey,
      segmentPlaintextLengths: layout.lengths,
      partNumbers: layout.partNumbers,
      range: range ?? { start: 0, end: opened.view.size - 1 },
      fetch,
    });
  }
  const plaintextBytes = range ? range.end - range.start + 1 : opened.view.size;
  const counted = () => recordCipherBytes('decrypt', opened.encryption, plaintextBytes);
  return { info: opened.view, body: await primed(mapFormatErrors(body, counted)), range };
}

async function* fetchStored(route: Route, key: string, range: ByteRange): AsyncGenerator<Uint8Array> {
  const { body } = await route.backend.getObject(route.bucket, key, range);
  yield* body;
}

/** An empty object is one empty chunk: reading it still verifies its tag. */
async function* decryptEmpty(route: Route, opened: OpenedObject): AsyncGenerator<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const { body } = await route.backend.getObject(route.bucket, opened.stored.key);
  for await (const piece of body) chunks.push(piece);
  const all = Buffer.concat(chunks);
  if (all.length < SEGMENT_HEADER_LENGTH)
    throw new FormatError('truncated', 'the stored object is too short');
  async function* rest() {
    yield all.subarray(SEGMENT_HEADER_LENGTH);
  }
  yield* decryptSegment(rest(), opened.dataKey!, {
    partNumber: opened.layout!.partNumbers[0],
    header: all.subarray(0, SEGMENT_HEADER_LENGTH),
    firstChunk: 0,
    segmentPlaintextLength: 0,
  });
}

/** Passes the plaintext through, as S3 errors where the format refuses it; `done` once it all verified. */
async function* mapFormatErrors(
  source: AsyncIterable<Uint8Array>,
  done: () => void,
): AsyncGenerator<Uint8Array> {
  try {
    yield* source;
    done();
  } catch (error) {
    if (error instanceof FormatError) throw errors.objectIntegrity(error.message);
    throw error;
  }
}

/** Pulls the first piece now, so its failure is thrown here; the rest streams on demand. */
async function primed(source: AsyncGenerator<Uint8Array>): Promise<Body> {
  const first = await source.next();
  return (async function* () {
    if (first.done) return;
    yield first.value;
    yield* source;
  })();
}
