import { isAllowed } from '../../auth/credentials.js';
import { errors } from '../../errors.js';
import { MAX_XML_BYTES, child, parseXml, xml } from '../../xml.js';
import { routeFor, xmlResponse, type Operation } from '../operation.js';
import { readSmallBody } from '../request-body.js';

/** The owner shown in listings: the gateway is the single owner of every bucket it serves. */
export const OWNER = { ID: 'sealgate', DisplayName: 'sealgate' };

/** ListBuckets: the buckets this credential has any grant on. */
export async function listBuckets(op: Operation): Promise<Response> {
  const credential = op.auth.credential;
  const buckets = (await op.routes.list()).filter(
    (b) => isAllowed(credential, b.name, 'read') || isAllowed(credential, b.name, 'write'),
  );
  return xmlResponse(
    xml('ListAllMyBucketsResult', {
      Owner: OWNER,
      Buckets: { Bucket: buckets.map((b) => ({ Name: b.name, CreationDate: b.created })) },
    }),
  );
}

/**
 * CreateBucket: needs a write grant on the name (dispatch has already checked it is a valid name). The optional CreateBucketConfiguration body is
 * checked for well-formedness; its LocationConstraint is accepted whatever it says, since the
 * gateway's region is the one clients sign with.
 */
export async function createBucket(op: Operation): Promise<Response> {
  const route = routeFor(op, 'write');
  const document = await readSmallBody(op.request, op.auth, MAX_XML_BYTES);
  if (document.trim() !== '') {
    const root = parseXml(document);
    if (root.name !== 'CreateBucketConfiguration') throw errors.malformedXML();
    child(root, 'LocationConstraint');
  }
  await route.backend.createBucket(route.bucket);
  return new Response(null, { status: 200, headers: { location: `/${op.bucket}` } });
}

/** DeleteBucket: only an empty bucket (S3's BucketNotEmpty otherwise). */
export async function deleteBucket(op: Operation): Promise<Response> {
  const route = routeFor(op, 'write');
  await route.backend.deleteBucket(route.bucket);
  return new Response(null, { status: 204 });
}

/** HeadBucket: 200 or a body-less 404/403. */
export async function headBucket(op: Operation): Promise<Response> {
  const route = routeFor(op, 'read');
  if (!(await route.backend.bucketExists(route.bucket))) throw errors.noSuchBucket(op.bucket);
  return new Response(null, { status: 200, headers: { 'x-amz-bucket-region': 'us-east-1' } });
}

/** Fails with NoSuchBucket unless the operation's bucket exists. */
export async function requireBucket(op: Operation): Promise<void> {
  const route = op.routes.resolve(op.bucket);
  if (!(await route.backend.bucketExists(route.bucket))) throw errors.noSuchBucket(op.bucket);
}

/** GetBucketLocation: an empty LocationConstraint, which S3 clients read as us-east-1. */
export async function getBucketLocation(op: Operation): Promise<Response> {
  await requireReadableBucket(op);
  return xmlResponse(
    '<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>',
  );
}

/** GetBucketVersioning: the gateway does not version objects, so the configuration is empty (never enabled). */
export async function getBucketVersioning(op: Operation): Promise<Response> {
  await requireReadableBucket(op);
  return xmlResponse(xml('VersioningConfiguration', {}));
}

async function requireReadableBucket(op: Operation): Promise<void> {
  routeFor(op, 'read');
  await requireBucket(op);
}
