import type { ByteRange, ObjectInfo, ObjectMetadata } from '../../backend.js';
import { customerKeyOf } from '../../encryption/customer-key.js';
import { MARKER } from '../../encryption/markers.js';
import { knownMd5, storeObject, type Stored } from '../../encryption/store-object.js';
import { gatewayHeaders, openObject, readObject, type OpenedObject } from '../../encryption/stored-object.js';
import {
  nativeMarkers,
  nativeWriteHeaders,
  writeEchoHeaders,
  writeTarget,
  type WriteTarget,
} from '../../encryption/write-target.js';
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
  /** The source as clients see it (opened with the request's copy-source SSE-C key, if any). */
  opened: OpenedObject;
}

/**
 * Resolves `x-amz-copy-source` (`[/]bucket/key[?versionId=null]`, URL-encoded), checks read access on the
 * source bucket, opens the source (with the `x-amz-copy-source-server-side-encryption-customer-*` key
 * when it is an SSE-C object) and checks the `x-amz-copy-source-if-*` conditions against it.
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
  const stored = await route.backend.headObject(route.bucket, key);
  const customer = customerKeyOf(op.request.headers, op.ctx, 'source');
  const opened = await openObject(route, { bucket, key }, stored, customer);
  checkCopySourceConditions(op.request.headers, opened.view);
  return { bucket, key, route, opened };
}

/** Whether the request changes how the object is encrypted (which makes a copy onto itself legal). */
function changesEncryption(headers: Headers): boolean {
  for (const [name] of headers) {
    if (
      name.startsWith('x-amz-server-side-encryption') ||
      name.startsWith('x-amz-copy-source-server-side-encryption')
    ) {
      return true;
    }
  }
  return false;
}

/**
 * CopyObject, across every pair of source and destination forms (plain, native, proxy, envelope, SSE-C).
 * The metadata directive decides the destination's metadata (COPY keeps the source's, REPLACE takes the
 * request's). Bytes are rewritten only where they must change:
 * - gateway-encrypted to gateway-encrypted: the body is location-independent, so the data key is re-wrapped
 *   for the destination (its mode, key, bucket and key name) and the ciphertext copied as it is, server-side
 *   within one backend (this is also how an SSE-C key is rotated: a copy onto itself under a new key);
 * - plain or native to plain or native on one backend: the backend copies server-side;
 * - anything else streams the plaintext through the gateway, decrypting and encrypting as needed.
 */
export async function copyObject(op: Operation): Promise<Response> {
  validateKey(op.key);
  authorize(op, op.bucket, 'write');
  const source = await copySource(op);
  const directive = (op.request.headers.get('x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw errors.invalidArgument('Unknown metadata directive.', 'x-amz-metadata-directive', directive);
  }
  const destination = op.routes.resolve(op.bucket);
  const sameObject =
    destination.backend === source.route.backend &&
    destination.bucket === source.route.bucket &&
    op.key === source.key;
  if (sameObject && directive === 'COPY' && !changesEncryption(op.request.headers)) {
    throw errors.invalidRequest(
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  const customer = customerKeyOf(op.request.headers, op.ctx);
  const target = writeTarget(destination.keys, op.request.headers, customer, destination.encryption);
  const view = source.opened.view;
  const metadata: ObjectMetadata =
    directive === 'REPLACE'
      ? { ...metadataFromRequest(op.request.headers), internal: { ...view.metadata.internal } }
      : { headers: view.metadata.headers, user: view.metadata.user, internal: { ...view.metadata.internal } };

  const stored = await copyInto(op, source, destination, target, metadata);
  return xmlResponse(
    xml('CopyObjectResult', { LastModified: stored.info.lastModified, ETag: stored.etag }),
    200,
    stored.headers,
  );
}

async function copyInto(
  op: Operation,
  source: CopySource,
  destination: Route,
  target: WriteTarget,
  metadata: ObjectMetadata,
): Promise<Stored> {
  const { opened } = source;
  const sameBackend = destination.backend === source.route.backend;
  const from = { bucket: source.route.bucket, key: source.key };
  if (opened.dataKey !== undefined && target.kind === 'gateway') {
    const markers = await destination.keys.wrap(opened.dataKey, { bucket: op.bucket, key: op.key }, target);
    const kept: Record<string, string> = {};
    for (const name of [MARKER.sealed, MARKER.layout, MARKER.layoutTag]) {
      const value = opened.stored.metadata.internal[name];
      if (value !== undefined) kept[name] = value;
    }
    // Checksums stay sealed: the copy carries the source's sealed values, not clear markers.
    const sealedMetadata = {
      headers: metadata.headers,
      user: metadata.user,
      internal: { ...kept, ...markers },
    };
    await destination.listing?.beforeWrite(sealedMetadata.internal);
    let info: ObjectInfo;
    if (sameBackend) {
      info = await destination.backend.copyObject(from, destination.bucket, op.key, sealedMetadata);
    } else {
      const { body } = await source.route.backend.getObject(from.bucket, from.key);
      info = await destination.backend.putObject(
        destination.bucket,
        op.key,
        body,
        opened.stored.size,
        sealedMetadata,
      );
    }
    const multipart = kept[MARKER.layout] !== undefined;
    return {
      info,
      etag: multipart ? info.etag : opened.view.etag,
      headers: { ...gatewayHeaders(target.mode, markers, target.customer), ...writeEchoHeaders(target) },
    };
  }
  if (opened.dataKey === undefined && target.kind !== 'gateway' && sameBackend) {
    const native = target.kind === 'native' ? target.native : undefined;
    if (target.kind === 'native') Object.assign(metadata.internal, nativeMarkers(target));
    await destination.listing?.beforeWrite(metadata.internal);
    const info = await destination.backend.copyObject(from, destination.bucket, op.key, metadata, { native });
    const headers = native
      ? { ...nativeWriteHeaders(info.native ?? native), ...writeEchoHeaders(target) }
      : {};
    return { info, etag: info.etag, headers };
  }
  const { body } = await readObject(source.route, opened);
  return storeObject(
    destination,
    { bucket: op.bucket, key: op.key },
    { body, size: opened.view.size, metadata, target, md5: knownMd5(opened) },
  );
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
