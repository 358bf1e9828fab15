/**
 * The S3 backend's error boundary: SDK exceptions for the conditions S3 names become the core's
 * {@link S3Error}s; anything else passes through unchanged, for the gateway to log and answer as InternalError.
 */
import { errors, S3Error } from '../../core/errors.js';

/** What a request was about, so a translated error names the right bucket, key or upload. */
export interface ErrorContext {
  bucket: string;
  key?: string;
  uploadId?: string;
}

/** The SDK's name for a service exception (S3's error Code), or undefined for anything else. */
export function sdkErrorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

/**
 * The HTTP status S3 answered with. HEAD responses have no body, so for them this is all there is to go on.
 */
export function httpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

/** The core's S3Error for the conditions S3 names; anything else unchanged. */
export function translateSdkError(error: unknown, context: ErrorContext): unknown {
  if (error instanceof S3Error) return error;
  switch (sdkErrorName(error)) {
    case 'NoSuchBucket':
      return errors.noSuchBucket(context.bucket);
    case 'NoSuchKey':
      return errors.noSuchKey(context.key ?? '');
    case 'NoSuchUpload':
      return errors.noSuchUpload(context.uploadId ?? '');
    case 'BucketNotEmpty':
      return errors.bucketNotEmpty(context.bucket);
    case 'BucketAlreadyOwnedByYou':
      return errors.bucketAlreadyOwnedByYou(context.bucket);
    case 'BucketAlreadyExists':
      return errors.bucketAlreadyExists(context.bucket);
    case 'InvalidPart':
      return errors.invalidPart();
    case 'InvalidPartOrder':
      return errors.invalidPartOrder();
    case 'EntityTooSmall':
      return errors.entityTooSmall();
    case 'InvalidPartNumber':
      return errors.invalidPartNumber();
    default:
      return error;
  }
}

/** Runs an SDK call, turning the errors S3 names into the core's. */
export async function withS3Errors<T>(context: ErrorContext, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw translateSdkError(error, context);
  }
}
