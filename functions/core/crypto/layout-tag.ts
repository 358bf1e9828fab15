import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { assertKeyLength, DATA_KEY_LENGTH } from './chunk-cipher.js';
import { FormatError } from './format-error.js';
import { assertObjectLayout } from './range-plan.js';

const LAYOUT_LABEL = Buffer.from('sealgate/v1/layout', 'ascii');
export const LAYOUT_TAG_LENGTH = 32;

/**
 * L = HKDF-SHA256(ikm = data key, salt = none, info = "sealgate/v1/layout"), 32 bytes: the key that
 * authenticates an object's list of segments. It is one-way from the data key, so it can be kept where the
 * data key may not be (e.g. with an SSE-C multipart upload's state, for CompleteMultipartUpload, which S3
 * clients send without the customer key) without exposing any object data.
 */
export function deriveLayoutKey(dataKey: Uint8Array): Uint8Array {
  assertKeyLength(dataKey, 'a data key');
  return Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), LAYOUT_LABEL, DATA_KEY_LENGTH));
}

/**
 * The layout tag: HMAC-SHA256(L, "sealgate/v1/layout" || uint32 BE segment count || for each segment:
 * uint32 BE part number || uint64 BE plaintext length). Each segment authenticates its own part number and
 * content, but not that it belongs in the object; this tag does, so a dropped, added or re-sized part is
 * caught. Stored beside the wrapped key; written at CompleteMultipartUpload (or PutObject).
 *
 * @throws FormatError `invalid-layout` for a layout {@link assertObjectLayout} refuses.
 */
export function layoutTag(
  layoutKey: Uint8Array,
  segmentPlaintextLengths: readonly number[],
  partNumbers: readonly number[],
): Uint8Array {
  assertKeyLength(layoutKey, 'a layout key');
  assertObjectLayout(segmentPlaintextLengths, partNumbers);
  const encoded = Buffer.alloc(LAYOUT_LABEL.length + 4 + 12 * partNumbers.length);
  let offset = LAYOUT_LABEL.copy(encoded);
  offset = encoded.writeUInt32BE(partNumbers.length, offset);
  partNumbers.forEach((partNumber, i) => {
    offset = encoded.writeUInt32BE(partNumber, offset);
    offset = encoded.writeBigUInt64BE(BigInt(segmentPlaintextLengths[i]), offset);
  });
  return createHmac('sha256', layoutKey).update(encoded).digest();
}

/**
 * Checks an object's layout (as read from its metadata or the backend's part sizes) against its tag, in
 * constant time, before any of it is used to plan a read.
 *
 * @throws FormatError `layout-auth-failed` when the tag does not match, `invalid-layout` for a layout
 *   {@link assertObjectLayout} refuses.
 */
export function verifyLayoutTag(
  layoutKey: Uint8Array,
  segmentPlaintextLengths: readonly number[],
  partNumbers: readonly number[],
  tag: Uint8Array,
): void {
  const expected = layoutTag(layoutKey, segmentPlaintextLengths, partNumbers);
  if (tag.byteLength !== LAYOUT_TAG_LENGTH || !timingSafeEqual(expected, tag)) {
    throw new FormatError('layout-auth-failed', "the object's list of parts does not match its layout tag");
  }
}
