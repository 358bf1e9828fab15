/**
 * S3's own server-side encryption (SSE-KMS, SSE-S3) as the S3 backend asks for it and reads it back. The
 * settings go on the requests that create an object (PutObject, CopyObject, CreateMultipartUpload) and never
 * on UploadPart or UploadPartCopy, which S3 refuses them on: a part is encrypted as its upload says.
 */
import type { NativeEncryption } from '../../core/backend.js';

/** The SSE fields every S3 response that describes a stored object carries, when S3 encrypted it. */
interface SseOutput {
  ServerSideEncryption?: string;
  SSEKMSKeyId?: string;
  BucketKeyEnabled?: boolean;
}

/** The request fields that ask S3 to encrypt the object being created; none when `native` is absent. */
export function nativeInput(native: NativeEncryption | undefined) {
  if (!native) return {};
  return {
    ServerSideEncryption: native.algorithm,
    SSEKMSKeyId: native.kmsKeyId,
    BucketKeyEnabled: native.bucketKeyEnabled,
    SSEKMSEncryptionContext: native.context,
  };
}

/**
 * What S3 reports about its encryption of an object, as it reports it: AWS S3 answers `AES256` for every
 * object of a bucket with default encryption, and the KMS key as an ARN whatever name it was given as.
 * Undefined when S3 reports none, or an algorithm this interface has no name for (`aws:kms:dsse`): the
 * gateway must not take such an object for one encrypted as it asked.
 */
export function nativeOf(out: SseOutput): NativeEncryption | undefined {
  const algorithm = out.ServerSideEncryption;
  if (algorithm !== 'aws:kms' && algorithm !== 'AES256') return undefined;
  const native: NativeEncryption = { algorithm };
  if (out.SSEKMSKeyId !== undefined) native.kmsKeyId = out.SSEKMSKeyId;
  if (out.BucketKeyEnabled !== undefined) native.bucketKeyEnabled = out.BucketKeyEnabled;
  return native;
}

/** `info` with `native` set when S3 reported one (the property stays absent otherwise). */
export function withNative<T extends { native?: NativeEncryption }>(info: T, out: SseOutput): T {
  const native = nativeOf(out);
  if (native) info.native = native;
  return info;
}
