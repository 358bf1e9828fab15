import { errors } from '../errors.js';
import { isValidBucketName } from './names.js';
import type { Operation, OperationHandler } from './operation.js';
import * as buckets from './operations/buckets.js';
import { copyObject } from './operations/copy.js';
import { getObjectAttributes } from './operations/object-attributes.js';
import * as list from './operations/list-objects.js';
import * as multipart from './operations/multipart.js';
import * as objects from './operations/objects.js';

/**
 * Query parameters that select or shape an operation the gateway implements. Any other parameter names
 * a sub-resource (`?acl`, `?tagging`, `?policy`, ...) that the gateway does not implement, and gets
 * `501 NotImplemented` rather than being mistaken for a plain GET/PUT of the object or bucket.
 */
const KNOWN_PARAMS = new Set([
  'uploads',
  'uploadId',
  'partNumber',
  'delete',
  'location',
  'versioning',
  'list-type',
  'prefix',
  'delimiter',
  'marker',
  'max-keys',
  'encoding-type',
  'continuation-token',
  'max-buckets',
  'bucket-region',
  'fetch-owner',
  'start-after',
  'key-marker',
  'upload-id-marker',
  'max-uploads',
  'max-parts',
  'part-number-marker',
  'versionId',
  'versions',
  'attributes',
  // Get/Put/DeleteBucketEncryption.
  'encryption',
  'version-id-marker',
  'x-id',
  // Object tagging: read-only, objects carry no tags (GetObjectTagging answers an empty set).
  'tagging',
  // Signature Version 2 query authentication (presigned URLs).
  'AWSAccessKeyId',
  'Expires',
  'Signature',
  'response-content-type',
  'response-content-language',
  'response-expires',
  'response-cache-control',
  'response-content-disposition',
  'response-content-encoding',
]);

function unsupportedParam(op: Operation): string | undefined {
  for (const name of op.query.keys()) {
    if (!KNOWN_PARAMS.has(name) && !name.toLowerCase().startsWith('x-amz-')) return name;
  }
  return undefined;
}

/**
 * Picks the S3 operation for a request (path-style addressing: `/bucket/key`).
 *
 * A bucket name outside S3's naming rules is refused here, for every operation and before any backend
 * sees it, with S3's `InvalidBucketName`: a name like `..` or `a/b` must never reach a backend that maps
 * buckets to folders. A legacy us-east-1 bucket whose name breaks today's rules (upper case, underscores) can
 * still be served through an explicit route that gives it a valid gateway name.
 */
export function selectOperation(op: Operation): OperationHandler {
  const method = op.request.method;
  const q = op.query;
  if (op.bucket !== '' && !isValidBucketName(op.bucket)) throw errors.invalidBucketName(op.bucket);
  const unsupported = unsupportedParam(op);
  if (unsupported !== undefined) throw errors.notImplemented(`The ?${unsupported} sub-resource`);
  // Every object is S3's `null` version, which any request may name; buckets are never versioned.
  const versionId = q.get('versionId');
  if (versionId !== undefined && versionId !== list.NULL_VERSION) {
    throw errors.notImplemented('Object versioning');
  }

  if (op.bucket === '') {
    if (method === 'GET') return buckets.listBuckets;
    throw errors.methodNotAllowed(method);
  }
  if (op.key === '') {
    if (q.has('tagging')) throw errors.notImplemented('The ?tagging sub-resource');
    if (q.has('attributes')) throw errors.notImplemented('The ?attributes sub-resource on a bucket');
    switch (method) {
      case 'GET':
        if (q.has('location')) return buckets.getBucketLocation;
        if (q.has('versioning')) return buckets.getBucketVersioning;
        if (q.has('encryption')) return buckets.getBucketEncryption;
        if (q.has('uploads')) return multipart.listMultipartUploads;
        if (q.has('versions')) return list.listObjectVersions;
        if (q.get('list-type') === '2') return list.listObjectsV2;
        if (q.has('list-type'))
          throw errors.invalidArgument('Invalid list-type', 'list-type', q.get('list-type'));
        return list.listObjectsV1;
      case 'HEAD':
        return buckets.headBucket;
      case 'PUT':
        if (q.has('versioning')) throw errors.notImplemented('PutBucketVersioning');
        if (q.has('encryption')) return buckets.putBucketEncryption;
        return buckets.createBucket;
      case 'DELETE':
        if (q.has('encryption')) return buckets.deleteBucketEncryption;
        return buckets.deleteBucket;
      case 'POST':
        if (q.has('delete')) return objects.deleteObjects;
        throw errors.methodNotAllowed(method);
      default:
        throw errors.methodNotAllowed(method);
    }
  }
  if (q.has('tagging')) {
    // aws-cli reads a source's tags before copying a large object (`aws s3 cp s3://a s3://b`); the gateway
    // stores none, so it answers an empty set. Setting or deleting tags is not implemented.
    if (method === 'GET') return objects.getObjectTagging;
    throw errors.notImplemented('The ?tagging sub-resource');
  }
  // Bucket sub-resources named on an object are not a plain GET/PUT of it.
  for (const name of ['versions', 'encryption', 'versioning', 'location']) {
    if (q.has(name)) throw errors.notImplemented(`The ?${name} sub-resource on an object`);
  }
  const copying = op.request.headers.has('x-amz-copy-source');
  switch (method) {
    case 'GET':
      if (q.has('uploadId')) return multipart.listParts;
      if (q.has('attributes')) return getObjectAttributes;
      return objects.getObject;
    case 'HEAD':
      return objects.headObject;
    case 'PUT':
      if (q.has('uploadId') || q.has('partNumber'))
        return copying ? multipart.uploadPartCopy : multipart.uploadPart;
      return copying ? copyObject : objects.putObject;
    case 'DELETE':
      if (q.has('uploadId')) return multipart.abortMultipartUpload;
      return objects.deleteObject;
    case 'POST':
      if (q.has('uploads')) return multipart.createMultipartUpload;
      if (q.has('uploadId')) return multipart.completeMultipartUpload;
      throw errors.methodNotAllowed(method);
    default:
      throw errors.methodNotAllowed(method);
  }
}
