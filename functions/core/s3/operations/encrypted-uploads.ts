/**
 * The parts of multipart handling that differ for gateway-encrypted uploads: finding the upload's state
 * in its id, opening its data key for a part, encrypting each part as its own segment, recognising the
 * parts a completion names, and the layout markers a completed object gets (docs/FORMAT.md sections 4
 * and 10).
 */
import type { Body, ObjectChecksum, PartChecksumInput, PartInfo } from '../../backend.js';
import {
  deriveLayoutKey,
  layoutTag,
  segmentCiphertextLength,
  segmentPlaintextLength,
} from '../../crypto/index.js';
import { customerKeyOf } from '../../encryption/customer-key.js';
import { encodeLayout, type Layout } from '../../encryption/layout-marker.js';
import { MARKER } from '../../encryption/markers.js';
import { sealValues } from '../../encryption/sealed-values.js';
import { encryptBody, md5Tapped } from '../../encryption/store-object.js';
import { gatewayHeaders } from '../../encryption/stored-object.js';
import { parseUploadId, type ParsedUploadId, type UploadState } from '../../encryption/upload-state.js';
import { S3Error, errors } from '../../errors.js';
import type { MultipartChecksum } from '../../integrity/multipart-checksum.js';
import type { Route } from '../../routes.js';
import type { Operation } from '../operation.js';

/** An ETag without its quotes. */
export function bareEtag(etag: string): string {
  return etag.trim().replace(/^"|"$/g, '');
}

/**
 * The upload a request that adds to or completes an upload names. An upload id without the gateway's
 * state is a plain (or natively encrypted) upload's, or a gateway-encrypted upload's id as
 * ListMultipartUploads shows it (S3 keeps no per-upload metadata the gateway could read back). On a
 * backend that encrypts new writes the two cannot be told apart, and writing plaintext parts into an
 * encrypted upload would lose the object, so such an id is refused there.
 */
export function writableUpload(route: Route, uploadId: string): ParsedUploadId {
  const parsed = parseUploadId(uploadId);
  const mode = route.keys.writeMode;
  if (!parsed.state && (mode === 'aes256-gcm-proxy' || mode === 'aws-kms-envelope')) {
    throw errors.invalidArgument(
      `This upload id carries no encryption state, and backend "${route.keys.backend}" encrypts in mode ${mode}. ` +
        'Continue the upload with the id CreateMultipartUpload returned (ids listed by ListMultipartUploads ' +
        'only serve ListParts and AbortMultipartUpload), or abort it and start again.',
      'uploadId',
      parsed.backendId,
    );
  }
  return parsed;
}

/** The upload a request names: its backend id, and for a gateway-encrypted upload its opened data key. */
export interface OpenedUpload {
  backendId: string;
  state?: UploadState;
  /** The checksum every part must carry, when the upload chose one. */
  checksum?: MultipartChecksum;
  dataKey?: Buffer;
  headers: Record<string, string>;
}

/**
 * Opens the upload's data key for a part: an SSE-C upload needs the same customer key it was created with
 * (400 otherwise, as S3 answers); a plain upload takes no customer key.
 */
export async function openUpload(op: Operation, route: Route, uploadId: string): Promise<OpenedUpload> {
  const { backendId, state, checksum } = writableUpload(route, uploadId);
  const customer = customerKeyOf(op.request.headers, op.ctx);
  if (!state) {
    if (customer) throw errors.ssecNotApplicable();
    return { backendId, checksum, headers: {} };
  }
  const name = { bucket: op.bucket, key: op.key };
  let dataKey: Buffer;
  try {
    dataKey = await route.keys.open(state.mode, state.markers, name, customer);
  } catch (error) {
    if (error instanceof S3Error && error.code === 'AccessDenied' && state.mode === 'sse-c') {
      throw errors.invalidRequest(
        'The SSE-C key provided does not match the key the multipart upload was created with.',
      );
    }
    throw error;
  }
  return {
    backendId,
    state,
    checksum,
    dataKey,
    headers: gatewayHeaders(state.mode, state.markers, customer),
  };
}

/**
 * Stores one part: encrypted as its own segment (its part number bound in) for a gateway-encrypted upload.
 * A plain part's `checksum` (verified over its bytes) is the backend's to keep; an encrypted part's is a
 * plaintext-derived value and is not kept: the completion takes the parts' checksums the client lists.
 */
export async function storePart(
  op: Operation,
  route: Route,
  upload: OpenedUpload,
  partNumber: number,
  body: Body,
  size: number,
  checksum?: PartChecksumInput,
): Promise<PartInfo> {
  if (upload.dataKey === undefined) {
    return route.backend.uploadPart(route.bucket, op.key, upload.backendId, partNumber, body, size, {
      checksum,
    });
  }
  // The part's ETag is the MD5 of its plaintext, as for an unencrypted part: clients such as s3cmd compare
  // it with what they sent. It is answered, never stored (see completeMultipartUpload).
  let md5 = '';
  const hashed = md5Tapped(body, undefined, (hex) => (md5 = hex));
  try {
    const part = await route.backend.uploadPart(
      route.bucket,
      op.key,
      upload.backendId,
      partNumber,
      encryptBody(hashed, upload.dataKey, partNumber, size, upload.state!.mode),
      segmentCiphertextLength(size),
      { opaqueEtag: true },
    );
    return { ...part, etag: `"${md5}"` };
  } finally {
    upload.dataKey.fill(0);
  }
}

/**
 * Whether a CompleteMultipartUpload part entry names the stored part. For a gateway-encrypted upload the
 * client holds the plaintext MD5 UploadPart answered, which the gateway does not store (it would be a
 * plaintext-derived value in clear), so any well-formed MD5 is taken for the stored part of that number;
 * the backend's own ETag (what ListParts shows) is accepted too.
 */
export function namesStoredPart(want: string, have: PartInfo, encrypted: boolean): boolean {
  if (bareEtag(have.etag) === want) return true;
  return encrypted && /^[0-9a-f]{32}$/.test(want);
}

/** A stored part's plaintext size (a gateway-encrypted part is stored as one segment). */
export function plaintextSize(part: PartInfo, encrypted: boolean): number {
  if (!encrypted) return part.size;
  try {
    return segmentPlaintextLength(part.size);
  } catch {
    throw errors.invalidPart(`Part ${part.partNumber} is not a part of this encrypted upload.`);
  }
}

/**
 * The markers a gateway-encrypted object gets at completion: its layout (part numbers and plaintext
 * lengths) and the layout's tag, which makes a dropped, added or reordered part detectable; and the
 * object's `checksum`, sealed under its data key. An SSE-C upload's completion then needs the customer key,
 * as S3 requires it for an upload with a checksum.
 */
export async function layoutMarkers(
  op: Operation,
  route: Route,
  state: UploadState,
  layout: Layout,
  checksum?: ObjectChecksum,
): Promise<Record<string, string>> {
  let layoutKey: Uint8Array;
  const sealed: Record<string, string> = {};
  const customer = customerKeyOf(op.request.headers, op.ctx);
  if (state.mode !== 'sse-c' || customer) {
    const dataKey = await route.keys.open(
      state.mode,
      state.markers,
      { bucket: op.bucket, key: op.key },
      customer,
    );
    layoutKey = deriveLayoutKey(dataKey);
    if (checksum) {
      sealed[MARKER.sealed] = sealValues(dataKey, {
        checksums: { [checksum.algorithm]: checksum.value },
        checksumType: checksum.type,
      });
    }
    dataKey.fill(0);
  } else if (checksum) {
    throw errors.ssecRequired();
  } else if (state.layoutKey !== undefined) {
    layoutKey = Buffer.from(state.layoutKey, 'base64');
  } else {
    throw errors.ssecRequired();
  }
  const tag = layoutTag(layoutKey, layout.lengths, layout.partNumbers);
  return {
    [MARKER.layout]: encodeLayout(layout),
    [MARKER.layoutTag]: Buffer.from(tag).toString('base64'),
    ...sealed,
  };
}
