/**
 * Sealgate's ciphertext format, version 1 (docs/FORMAT.md): per-object data keys wrapped under a
 * key-encryption key and bound to their object, and bodies of segments of 64 KiB AES-256-GCM chunks.
 * Pure codecs over byte streams: no I/O, no AWS.
 */
export { FormatError, type FormatErrorReason } from './format-error.js';
export { wrapDataKey, unwrapDataKey, WRAPPED_KEY_LENGTH, type KeyBinding } from './key-wrap.js';
export { DATA_KEY_LENGTH } from './chunk-cipher.js';
export { encryptSegment, type EncryptSegmentOptions } from './encrypt-segment.js';
export { decryptSegment, type DecryptSegmentOptions } from './decrypt-segment.js';
export { decryptRange, type DecryptRangeOptions } from './decrypt-range.js';
export { deriveLayoutKey, layoutTag, LAYOUT_TAG_LENGTH, verifyLayoutTag } from './layout-tag.js';
export { assertObjectLayout, objectCiphertextLength, planRange, type SegmentReadPlan } from './range-plan.js';
export {
  CHUNK_CIPHERTEXT_LENGTH,
  CHUNK_PLAINTEXT_LENGTH,
  FORMAT_VERSION,
  MAX_PART_NUMBER,
  MAX_PLAINTEXT_LENGTH,
  parseSegmentHeader,
  SEGMENT_HEADER_LENGTH,
  segmentCiphertextLength,
  segmentPlaintextLength,
  SINGLE_PART_NUMBER,
  type SegmentHeader,
} from './segment-layout.js';
