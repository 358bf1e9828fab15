import type { ByteRange, ObjectInfo } from '../../backend.js';
import { errors } from '../../errors.js';
import type { Route } from '../../routes.js';
import { xml } from '../../xml.js';
import { checkCopySourceConditions } from '../conditions.js';
import { metadataFromRequest } from '../metadata.js';
import { authorize, decodeComponent, xmlResponse, type Operation } from '../operation.js';
import { validateKey } from './objects.js';

export interface CopySource {
  bucket: string;
  key: string;
  route: Route;
  info: ObjectInfo;
}

/**
 * Resolves `x-amz-copy-source` (`[/]bucket/key[?versionId=null]`, URL-encoded), checks read access on the
 * source bucket and the `x-amz-copy-source-if-*` conditions against the source object.
 */
export async function copySource(op: Operation): Promise<CopySource> {
  const header = op.request.headers.get('x-amz-copy-source')!;
  const [path, query] = header.split('?', 2) as [string, string | undefined];
  if (query !== undefined) {
    const versionId = new URLSearchParams(query).get('versionId');
    if (versionId !== null && versionId !== 'null')
      throw errors.notImplemented('Copying a specific object version');
  }
  const decoded = decodeComponent(path.startsWith('/') ? path.slice(1) : path);
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) {
    throw errors.invalidArgument(
      'Copy Source must mention the source bucket and key: sourcebucket/sourcekey',
      'x-amz-copy-source',
      header,
    );
  }
  const bucket = decoded.slice(0, slash);
  const key = decoded.slice(slash + 1);
  validateKey(key);
  authorize(op, bucket, 'read');
  const route = op.routes.resolve(bucket);
  const info = await route.backend.headObject(route.bucket, key);
  checkCopySourceConditions(op.request.headers, info);
  return { bucket, key, route, info };
}

/**
 * CopyObject. The metadata directive decides the destination's metadata (COPY keeps the source's,
 * REPLACE takes the request's). Within one backend the backend copies server-side; across backends the
 * bytes stream through the gateway.
 */
export async function copyObject(op: Operation): Promise<Response> {
  validateKey(op.key);
  authorize(op, op.bucket, 'write');
  const source = await copySource(op);
  const directive = (op.request.headers.get('x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw errors.invalidArgument('Unknown metadata directive.', 'x-amz-metadata-directive', directive);
  }
  const target = op.routes.resolve(op.bucket);
  const sameObject =
    target.backend === source.route.backend && target.bucket === source.route.bucket && op.key === source.key;
  if (sameObject && directive === 'COPY') {
    throw errors.invalidRequest(
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  const metadata =
    directive === 'REPLACE'
      ? { ...metadataFromRequest(op.request.headers), internal: { ...source.info.metadata.internal } }
      : source.info.metadata;

  let info: ObjectInfo;
  if (target.backend === source.route.backend) {
    info = await target.backend.copyObject(
      { bucket: source.route.bucket, key: source.key },
      target.bucket,
      op.key,
      metadata,
    );
  } else {
    const { body } = await source.route.backend.getObject(source.route.bucket, source.key);
    info = await target.backend.putObject(target.bucket, op.key, body, source.info.size, metadata);
  }
  return xmlResponse(xml('CopyObjectResult', { LastModified: info.lastModified, ETag: info.etag }));
}

/** Parses `x-amz-copy-source-range: bytes=first-last`, which must lie within the source object. */
export function copySourceRange(header: string | null, size: number): ByteRange | undefined {
  if (header === null) return undefined;
  const match = /^bytes=(\d+)-(\d+)$/.exec(header.trim());
  if (!match) {
    throw errors.invalidArgument(
      'The x-amz-copy-source-range value must be of the form bytes=first-last',
      'x-amz-copy-source-range',
      header,
    );
  }
  const start = Number(match[1]);
  const end = Number(match[2]);
  if (end < start || end >= size) {
    throw errors.invalidArgument(
      `Range specified is not valid for source object of size: ${size}`,
      'x-amz-copy-source-range',
      header,
    );
  }
  return { start, end };
}
