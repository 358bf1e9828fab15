import { xmlEscape } from './xml.js';

/**
 * An error a client is meant to see: it carries S3's error `Code`, the HTTP status and a message that is
 * safe to show, and renders S3's error XML. Anything that is not an `S3Error` reaching the edge of the
 * core becomes a generic `InternalError` (see {@link toS3Error}); its detail goes to the log only.
 */
export class S3Error extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    /** Extra elements of the error document (e.g. `BucketName`, `Key`), in order. */
    readonly fields: Record<string, string> = {},
    /** Extra response headers (e.g. `Allow` on 405). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'S3Error';
  }

  /** Renders the error as S3 does: an XML body, except for HEAD requests, which get none. */
  toResponse(requestId: string, resource: string, method: string): Response {
    const headers = new Headers(this.headers);
    headers.set('x-amz-request-id', requestId);
    if (method === 'HEAD' || this.status === 304) {
      return new Response(null, { status: this.status, headers });
    }
    const fields = Object.entries(this.fields)
      .map(([name, value]) => `<${name}>${xmlEscape(value)}</${name}>`)
      .join('');
    const body =
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      `<Error><Code>${this.code}</Code><Message>${xmlEscape(this.message)}</Message>${fields}` +
      `<Resource>${xmlEscape(resource)}</Resource><RequestId>${requestId}</RequestId></Error>`;
    headers.set('content-type', 'application/xml');
    return new Response(body, { status: this.status, headers });
  }
}

/** Maps any thrown value to an S3Error; unknown exceptions become `InternalError` and keep nothing of their detail. */
export function toS3Error(error: unknown): S3Error {
  if (error instanceof S3Error) return error;
  return new S3Error('InternalError', 500, 'We encountered an internal error. Please try again.');
}

// The errors S3 defines, by name (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
export const errors = {
  accessDenied: (message = 'Access Denied') => new S3Error('AccessDenied', 403, message),
  anonymousDenied: () =>
    new S3Error('AccessDenied', 403, 'Anonymous requests are not allowed: sign the request with SigV4'),
  invalidAccessKeyId: (id: string) =>
    new S3Error(
      'InvalidAccessKeyId',
      403,
      'The AWS Access Key Id you provided does not exist in our records.',
      {
        AWSAccessKeyId: id,
      },
    ),
  signatureDoesNotMatch: (detail = '') =>
    new S3Error(
      'SignatureDoesNotMatch',
      403,
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.' +
        (detail ? ` ${detail}` : ''),
    ),
  requestTimeTooSkewed: (requestTime: string, serverTime: string) =>
    new S3Error(
      'RequestTimeTooSkewed',
      403,
      'The difference between the request time and the current time is too large.',
      { RequestTime: requestTime, ServerTime: serverTime, MaxAllowedSkewMilliseconds: '900000' },
    ),
  expiredPresignedUrl: () => new S3Error('AccessDenied', 403, 'Request has expired'),
  authorizationHeaderMalformed: (message: string) =>
    new S3Error('AuthorizationHeaderMalformed', 400, message),
  authorizationQueryParametersError: (message: string) =>
    new S3Error('AuthorizationQueryParametersError', 400, message),
  headersNotSigned: (names: string[]) =>
    new S3Error('AccessDenied', 403, 'There were headers present in the request which were not signed', {
      HeadersNotSigned: names.join(', '),
    }),
  sha256Mismatch: () =>
    new S3Error(
      'XAmzContentSHA256Mismatch',
      400,
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
    ),
  badDigest: () =>
    new S3Error('BadDigest', 400, 'The Content-MD5 you specified did not match what we received.'),
  invalidDigest: () => new S3Error('InvalidDigest', 400, 'The Content-MD5 you specified is not valid.'),
  checksumMismatch: (algorithm: string) =>
    new S3Error(
      'BadDigest',
      400,
      `The ${algorithm.toUpperCase()} you specified did not match the calculated checksum.`,
    ),
  invalidChecksum: (message: string) => new S3Error('InvalidRequest', 400, message),
  incompleteBody: () =>
    new S3Error(
      'IncompleteBody',
      400,
      'You did not provide the number of bytes specified by the Content-Length HTTP header.',
    ),
  invalidChunk: (message: string) => new S3Error('InvalidRequest', 400, message),
  missingContentLength: () =>
    new S3Error('MissingContentLength', 411, 'You must provide the Content-Length HTTP header.'),
  entityTooLarge: (message = 'Your proposed upload exceeds the maximum allowed size') =>
    new S3Error('EntityTooLarge', 400, message),
  entityTooSmall: () =>
    new S3Error(
      'EntityTooSmall',
      400,
      'Your proposed upload is smaller than the minimum allowed object size.',
    ),
  noSuchBucket: (bucket: string) =>
    new S3Error('NoSuchBucket', 404, 'The specified bucket does not exist', { BucketName: bucket }),
  noSuchKey: (key: string) =>
    new S3Error('NoSuchKey', 404, 'The specified key does not exist.', { Key: key }),
  encryptionConfigurationNotFound: (bucket: string) =>
    new S3Error(
      'ServerSideEncryptionConfigurationNotFoundError',
      404,
      'The server side encryption configuration was not found',
      { BucketName: bucket },
    ),
  noSuchUpload: (uploadId: string) =>
    new S3Error(
      'NoSuchUpload',
      404,
      'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
      { UploadId: uploadId },
    ),
  bucketAlreadyOwnedByYou: (bucket: string) =>
    new S3Error(
      'BucketAlreadyOwnedByYou',
      409,
      'Your previous request to create the named bucket succeeded and you already own it.',
      { BucketName: bucket },
    ),
  bucketAlreadyExists: (bucket: string) =>
    new S3Error(
      'BucketAlreadyExists',
      409,
      'The requested bucket name is not available. Select a different name and try again.',
      { BucketName: bucket },
    ),
  bucketNotEmpty: (bucket: string) =>
    new S3Error('BucketNotEmpty', 409, 'The bucket you tried to delete is not empty', { BucketName: bucket }),
  invalidBucketName: (bucket: string) =>
    new S3Error('InvalidBucketName', 400, 'The specified bucket is not valid.', { BucketName: bucket }),
  keyTooLong: () => new S3Error('KeyTooLongError', 400, 'Your key is too long'),
  invalidKey: (message: string) => new S3Error('InvalidArgument', 400, message),
  invalidArgument: (message: string, name?: string, value?: string) =>
    new S3Error(
      'InvalidArgument',
      400,
      message,
      name === undefined ? {} : { ArgumentName: name, ArgumentValue: value ?? '' },
    ),
  invalidRequest: (message: string) => new S3Error('InvalidRequest', 400, message),
  invalidRange: (size: number) =>
    new S3Error(
      'InvalidRange',
      416,
      'The requested range is not satisfiable',
      { RangeRequested: '', ActualObjectSize: String(size) },
      { 'content-range': `bytes */${size}` },
    ),
  invalidPart: (message = 'One or more of the specified parts could not be found.') =>
    new S3Error('InvalidPart', 400, message),
  /** GetObject/HeadObject `partNumber` beyond the object's parts (any number above 1 for a non-multipart object). */
  invalidPartNumber: () =>
    new S3Error('InvalidPartNumber', 400, 'The requested partnumber is not satisfiable'),
  invalidPartOrder: () =>
    new S3Error(
      'InvalidPartOrder',
      400,
      'The list of parts was not in ascending order. Parts must be ordered by part number.',
    ),
  malformedXML: () =>
    new S3Error(
      'MalformedXML',
      400,
      'The XML you provided was not well-formed or did not validate against our published schema.',
    ),
  preconditionFailed: (condition: string) =>
    new S3Error('PreconditionFailed', 412, 'At least one of the pre-conditions you specified did not hold', {
      Condition: condition,
    }),
  /**
   * GetObject/HeadObject 304. S3 sends the object's ETag and Last-Modified with it, as HTTP requires of a
   * 304 (RFC 9110 section 15.4.5), so a client can refresh what it cached.
   */
  notModified: (validators: { etag: string; lastModified: string }) =>
    new S3Error(
      'NotModified',
      304,
      'Not Modified',
      {},
      { etag: validators.etag, 'last-modified': validators.lastModified },
    ),
  methodNotAllowed: (method: string) =>
    new S3Error('MethodNotAllowed', 405, 'The specified method is not allowed against this resource.', {
      Method: method,
    }),
  invalidUri: () => new S3Error('InvalidURI', 400, "Couldn't parse the specified URI."),
  notImplemented: (what: string) =>
    new S3Error('NotImplemented', 501, `${what} is not implemented by this gateway.`),
  slowDown: (message = 'Please reduce your request rate.') => new S3Error('SlowDown', 503, message),
  /** A write to a bucket whose job holds its write gate: SDKs back off and retry SlowDown. */
  writeGated: (bucket: string, jobId: string, retryAfterSeconds: number) =>
    new S3Error(
      'SlowDown',
      503,
      `Bucket ${bucket} takes no writes while job ${jobId} rewrites it; reads pass. Retry later.`,
      { BucketName: bucket },
      { 'retry-after': String(retryAfterSeconds) },
    ),

  // Server-side encryption with customer-provided keys (SSE-C), with S3's codes and messages.
  ssecMissingParameter: (what: string) =>
    new S3Error(
      'InvalidRequest',
      400,
      `Requests specifying Server Side Encryption with Customer provided keys must provide ${what}.`,
    ),
  ssecInvalidAlgorithm: (value: string) =>
    new S3Error(
      'InvalidEncryptionAlgorithmError',
      400,
      'The encryption request you specified is not valid. The valid value is AES256.',
      { ArgumentName: 'x-amz-server-side-encryption-customer-algorithm', ArgumentValue: value },
    ),
  ssecInvalidKey: (header: string) =>
    new S3Error('InvalidArgument', 400, 'The secret key was invalid for the specified algorithm.', {
      ArgumentName: header,
    }),
  ssecKeyMd5Mismatch: (header: string) =>
    new S3Error(
      'InvalidArgument',
      400,
      'The calculated MD5 hash of the key did not match the hash that was provided.',
      { ArgumentName: header },
    ),
  ssecInsecure: () =>
    new S3Error(
      'InvalidRequest',
      400,
      'Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.',
    ),
  ssecWithServerSideEncryption: () =>
    new S3Error(
      'InvalidArgument',
      400,
      'Server Side Encryption with Customer provided key is incompatible with the encryption method specified',
      { ArgumentName: 'x-amz-server-side-encryption' },
    ),
  ssecRequired: () =>
    new S3Error(
      'InvalidRequest',
      400,
      'The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.',
    ),
  ssecNotApplicable: () =>
    new S3Error('InvalidRequest', 400, 'The encryption parameters are not applicable to this object.'),
  ssecWrongKey: () =>
    new S3Error(
      'AccessDenied',
      403,
      'The SSE-C key provided does not match the key the object was encrypted with.',
    ),

  /**
   * An object wrapped under a key id the backend does not hold. A 400 with its own code: it is a
   * configuration matter an operator must fix, not something a retry or other credentials would change.
   */
  /** `configured` describes what the backend holds, e.g. `key id "a"`, `legacy key id "b"`. */
  keyIdMismatch: (objectKeyId: string, backend: string, configured: string[]) =>
    new S3Error(
      'EncryptionKeyMismatch',
      400,
      `The object was encrypted with key id "${objectKeyId}", but backend "${backend}" is configured with ` +
        (configured.length ? configured.join(' and ') : 'no key') +
        `. Restore that key as the backend's legacy_key/legacy_key_id, or check that the bucket routes to the backend that holds it.`,
    ),
  /** Stored ciphertext or its markers failed authentication: tampered, truncated or moved on the backend. */
  objectIntegrity: (detail: string) =>
    new S3Error(
      'ObjectIntegrityError',
      500,
      `The stored object failed its integrity check and was not returned (${detail}). It was changed or damaged on the backend.`,
    ),
};
