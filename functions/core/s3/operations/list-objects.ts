import type { ListObjectsOutput } from '../../backend.js';
import { listedView } from '../../encryption/listed-object.js';
import { errors } from '../../errors.js';
import { xml } from '../../xml.js';
import { intParam, routeFor, xmlResponse, type Operation } from '../operation.js';
import { OWNER } from './buckets.js';

/** With `encoding-type=url`, S3 URL-encodes keys and prefixes in listings (so any byte survives XML). */
export function encoderFor(op: Operation): (s: string) => string {
  const type = op.query.get('encoding-type');
  if (type === undefined) return (s) => s;
  if (type !== 'url')
    throw errors.invalidArgument('Invalid Encoding Method specified in Request', 'encoding-type', type);
  return (s) => encodeURIComponent(s).replace(/%2F/g, '/');
}

function listParams(op: Operation) {
  const delimiter = op.query.get('delimiter') || undefined;
  return {
    prefix: op.query.get('prefix') ?? '',
    delimiter,
    maxKeys: intParam(op, 'max-keys', 1000, 0, 1000),
  };
}

async function list(op: Operation, after: string | undefined, maxKeys: number): Promise<ListObjectsOutput> {
  const route = routeFor(op, 'read');
  const { prefix, delimiter } = listParams(op);
  if (maxKeys === 0) {
    // S3 answers max-keys=0 with an empty, untruncated page (after checking the bucket exists).
    await route.backend.listObjects(route.bucket, { prefix, delimiter, after, maxKeys: 1 });
    return { objects: [], commonPrefixes: [], isTruncated: false };
  }
  // Markers are needed to list encrypted objects with their plaintext sizes, whatever the backend's mode
  // now: any bucket may hold objects written under an earlier one. A bucket recorded as plain holds none.
  const plain = (await route.listing?.plain()) === true;
  const page = await route.backend.listObjects(route.bucket, {
    prefix,
    delimiter,
    after,
    maxKeys,
    withMetadata: !plain,
    reuseDescriptions: true,
  });
  const objects = await Promise.all(
    page.objects.map(async (o) => ({ ...o, ...(await listedView(route, op.bucket, o)) })),
  );
  return { ...page, objects };
}

function contents(page: ListObjectsOutput, encode: (s: string) => string, fetchOwner: boolean) {
  return page.objects.map((o) => ({
    Key: encode(o.key),
    LastModified: o.lastModified,
    ETag: o.etag,
    Size: o.size,
    Owner: fetchOwner ? OWNER : undefined,
    StorageClass: 'STANDARD',
  }));
}

/** ListObjects (V1): marker paging; NextMarker is given when a delimiter is used, as S3 does. */
export async function listObjectsV1(op: Operation): Promise<Response> {
  const { prefix, delimiter, maxKeys } = listParams(op);
  const marker = op.query.get('marker') ?? '';
  const encode = encoderFor(op);
  const page = await list(op, marker || undefined, maxKeys);
  return xmlResponse(
    xml('ListBucketResult', {
      Name: op.bucket,
      Prefix: encode(prefix),
      Marker: encode(marker),
      NextMarker: page.isTruncated && delimiter && page.last !== undefined ? encode(page.last) : undefined,
      MaxKeys: maxKeys,
      Delimiter: delimiter && encode(delimiter),
      EncodingType: op.query.get('encoding-type'),
      IsTruncated: page.isTruncated,
      Contents: contents(page, encode, true),
      CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: encode(p) })),
    }),
  );
}

/**
 * ListObjectsV2: the continuation token is the opaque (base64url) key to resume after; start-after
 * applies only to the first page (one without a token, or with an empty one).
 */
export async function listObjectsV2(op: Operation): Promise<Response> {
  const { prefix, delimiter, maxKeys } = listParams(op);
  const token = op.query.get('continuation-token');
  const startAfter = op.query.get('start-after');
  let after = startAfter || undefined;
  // An empty token is no token, as S3 takes it: the listing starts at the beginning (or at start-after),
  // and the empty token is echoed back.
  if (token) {
    after = Buffer.from(token, 'base64url').toString('utf8');
    if (Buffer.from(after, 'utf8').toString('base64url') !== token) {
      throw errors.invalidArgument(
        'The continuation token provided is incorrect',
        'continuation-token',
        token,
      );
    }
  }
  const encode = encoderFor(op);
  const page = await list(op, after, maxKeys);
  return xmlResponse(
    xml('ListBucketResult', {
      Name: op.bucket,
      Prefix: encode(prefix),
      Delimiter: delimiter && encode(delimiter),
      MaxKeys: maxKeys,
      EncodingType: op.query.get('encoding-type'),
      KeyCount: page.objects.length + page.commonPrefixes.length,
      ContinuationToken: token,
      NextContinuationToken:
        page.isTruncated && page.last !== undefined
          ? Buffer.from(page.last, 'utf8').toString('base64url')
          : undefined,
      StartAfter: startAfter === undefined ? undefined : encode(startAfter),
      IsTruncated: page.isTruncated,
      Contents: contents(page, encode, op.query.get('fetch-owner') === 'true'),
      CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: encode(p) })),
    }),
  );
}

/** The only version id the gateway has: every object is S3's `null` version (buckets are never versioned). */
export const NULL_VERSION = 'null';

/**
 * ListObjectVersions on an unversioned bucket, as S3 answers it: each object is its key's one version,
 * `VersionId` `null` and `IsLatest` true; there are no delete markers. Paged by `key-marker` (keys after
 * it; with `version-id-marker` `null`, the marker key's versions after `null`, which are none), with
 * prefix, delimiter, max-keys and `encoding-type=url` as ListObjects has them.
 */
export async function listObjectVersions(op: Operation): Promise<Response> {
  const { prefix, delimiter, maxKeys } = listParams(op);
  const keyMarker = op.query.get('key-marker') ?? '';
  const versionIdMarker = op.query.get('version-id-marker') ?? '';
  if (versionIdMarker !== '' && keyMarker === '') {
    throw errors.invalidArgument(
      'A version-id marker cannot be specified without a key marker.',
      'version-id-marker',
      versionIdMarker,
    );
  }
  if (versionIdMarker !== '' && versionIdMarker !== NULL_VERSION) {
    throw errors.invalidArgument('Invalid version id specified', 'version-id-marker', versionIdMarker);
  }
  const encode = encoderFor(op);
  const page = await list(op, keyMarker || undefined, maxKeys);
  const lastIsObject = page.objects.length > 0 && page.objects[page.objects.length - 1].key === page.last;
  return xmlResponse(
    xml('ListVersionsResult', {
      Name: op.bucket,
      Prefix: encode(prefix),
      KeyMarker: encode(keyMarker),
      VersionIdMarker: versionIdMarker,
      NextKeyMarker: page.isTruncated && page.last !== undefined ? encode(page.last) : undefined,
      NextVersionIdMarker: page.isTruncated && lastIsObject ? NULL_VERSION : undefined,
      MaxKeys: maxKeys,
      Delimiter: delimiter && encode(delimiter),
      EncodingType: op.query.get('encoding-type'),
      IsTruncated: page.isTruncated,
      Version: page.objects.map((o) => ({
        Key: encode(o.key),
        VersionId: NULL_VERSION,
        IsLatest: true,
        LastModified: o.lastModified,
        ETag: o.etag,
        Size: o.size,
        Owner: OWNER,
        StorageClass: 'STANDARD',
      })),
      CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: encode(p) })),
    }),
  );
}
