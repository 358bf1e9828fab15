import { isAllowed } from '../../auth/credentials.js';
import { errors } from '../../errors.js';
import { supportedAlgorithm, writeTarget, type BucketEncryption } from '../../encryption/write-target.js';
import { MAX_XML_BYTES, child, children, parseXml, xml } from '../../xml.js';
import { isValidBucketName } from '../names.js';
import { intParam, routeFor, xmlResponse, type BucketSettingsWriter, type Operation } from '../operation.js';
import { readSmallBody } from '../request-body.js';

/** The owner shown in listings: the gateway is the single owner of every bucket it serves. */
export const OWNER = { ID: 'sealgate', DisplayName: 'sealgate' };
/** The region every bucket of the gateway is in (the one clients sign with). */
const REGION = 'us-east-1';

/** S3's page size for ListBuckets when paging is asked for without `max-buckets`, and the largest allowed. */
const MAX_BUCKETS = 10_000;

/**
 * ListBuckets: the buckets this credential has any grant on, by name. Paged as S3 pages it: `prefix`,
 * `max-buckets` (1 to 10,000) and `continuation-token` (the opaque name to resume after); when any of them
 * or `bucket-region` is given, a page holds at most `max-buckets` (10,000 by default) and ends with a
 * `ContinuationToken` if more buckets follow. Every bucket is in the gateway's region, us-east-1.
 */
export async function listBuckets(op: Operation): Promise<Response> {
  const credential = op.auth.credential;
  const prefix = op.query.get('prefix');
  const region = op.query.get('bucket-region');
  const token = op.query.get('continuation-token');
  const paged = ['max-buckets', 'continuation-token', 'prefix', 'bucket-region'].some((n) => op.query.has(n));
  const maxBuckets = intParam(op, 'max-buckets', MAX_BUCKETS, 1, MAX_BUCKETS);
  if (op.query.has('max-buckets') && Number(op.query.get('max-buckets')) > MAX_BUCKETS) {
    throw errors.invalidArgument(
      `max-buckets must be between 1 and ${MAX_BUCKETS}`,
      'max-buckets',
      op.query.get('max-buckets'),
    );
  }
  const after = token ? decodeToken(token) : undefined;
  let buckets = (await op.routes.list()).filter(
    (b) =>
      (isAllowed(credential, b.name, 'read') || isAllowed(credential, b.name, 'write')) &&
      (prefix === undefined || b.name.startsWith(prefix)) &&
      (after === undefined || b.name > after),
  );
  if (region !== undefined && region !== REGION) buckets = [];
  let next: string | undefined;
  if (paged && buckets.length > maxBuckets) {
    buckets = buckets.slice(0, maxBuckets);
    next = Buffer.from(buckets[buckets.length - 1].name, 'utf8').toString('base64url');
  }
  return xmlResponse(
    xml('ListAllMyBucketsResult', {
      Owner: OWNER,
      Buckets: {
        Bucket: buckets.map((b) => ({
          Name: b.name,
          CreationDate: b.created,
          BucketRegion: paged ? REGION : undefined,
        })),
      },
      ContinuationToken: next,
      Prefix: prefix,
    }),
  );
}

/** The bucket name a ListBuckets continuation token stands for; InvalidArgument for one it did not give. */
function decodeToken(token: string): string {
  const name = Buffer.from(token, 'base64url').toString('utf8');
  if (!isValidBucketName(name) || Buffer.from(name, 'utf8').toString('base64url') !== token) {
    throw errors.invalidArgument('The continuation token provided is incorrect', 'continuation-token', token);
  }
  return name;
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
  // A new bucket holds nothing a listing must read: its record says so until a write that listings must
  // read arms it (an existing backend bucket that already holds objects gets no record).
  const isEmpty = async () =>
    (await route.backend.listObjects(route.bucket, { prefix: '', maxKeys: 1 })).objects.length === 0;
  await op.settings?.createdEmpty(op.bucket, isEmpty, op.auth.credential.accessKeyId);
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
  return new Response(null, { status: 200, headers: { 'x-amz-bucket-region': REGION } });
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

/**
 * GetBucketEncryption: the default encryption new objects get. The bucket's own (PutBucketEncryption) when
 * it has one; else its backend's mode, which the gateway's configuration chooses: AES256 for
 * `aes256-gcm-proxy` and `sse-s3`, `aws:kms` with the key for `aws-kms-envelope` and `sse-kms` (none named:
 * the AWS managed key). A bucket with neither, on a backend that stores objects as they come (`none`), has no
 * default encryption: S3's ServerSideEncryptionConfigurationNotFoundError.
 */
export async function getBucketEncryption(op: Operation): Promise<Response> {
  await requireReadableBucket(op);
  const route = op.routes.resolve(op.bucket);
  const config = route.keys.config;
  let rule: BucketEncryption;
  if (route.encryption) rule = route.encryption;
  else if (config.mode === 'none') throw errors.encryptionConfigurationNotFound(op.bucket);
  else {
    const kms = config.mode === 'aws-kms-envelope' || config.mode === 'sse-kms';
    rule = {
      algorithm: kms ? 'aws:kms' : 'AES256',
      ...(kms && config.kmsKeyId !== undefined && { kmsKeyId: config.kmsKeyId }),
      bucketKeyEnabled: config.bucketKeyEnabled === true,
    };
  }
  return xmlResponse(
    xml('ServerSideEncryptionConfiguration', {
      Rule: {
        ApplyServerSideEncryptionByDefault: { SSEAlgorithm: rule.algorithm, KMSMasterKeyID: rule.kmsKeyId },
        BucketKeyEnabled: rule.bucketKeyEnabled === true,
      },
    }),
  );
}

/**
 * PutBucketEncryption: the bucket's default encryption, for writes that ask for none, kept in the control
 * plane's store beside the bucket's other settings. One rule, as S3 takes it; a default the bucket's
 * backend cannot honour is refused now (the same InvalidArgument a write asking for it would get), so no
 * later write fails for it.
 */
export async function putBucketEncryption(op: Operation): Promise<Response> {
  const route = routeFor(op, 'write');
  await requireBucket(op);
  const rule = encryptionRule(await readSmallBody(op.request, op.auth, MAX_XML_BYTES));
  writeTarget(route.keys, new Headers(), undefined, rule);
  await settingsOf(op, 'PutBucketEncryption').setEncryption(op.bucket, rule, op.auth.credential.accessKeyId);
  return new Response(null, { status: 200 });
}

/** DeleteBucketEncryption: new writes that ask for nothing are again stored as the backend's mode says. */
export async function deleteBucketEncryption(op: Operation): Promise<Response> {
  routeFor(op, 'write');
  await requireBucket(op);
  await settingsOf(op, 'DeleteBucketEncryption').setEncryption(
    op.bucket,
    undefined,
    op.auth.credential.accessKeyId,
  );
  return new Response(null, { status: 204 });
}

function settingsOf(op: Operation, operation: string): BucketSettingsWriter {
  if (!op.settings) {
    throw errors.notImplemented(
      `${operation} on a gateway without a config store (bucket settings live in the control plane's store)`,
    );
  }
  return op.settings;
}

/** The one rule of a ServerSideEncryptionConfiguration document, checked as S3 checks it. */
function encryptionRule(document: string): BucketEncryption {
  const root = parseXml(document);
  if (root.name !== 'ServerSideEncryptionConfiguration') throw errors.malformedXML();
  const rules = children(root, 'Rule');
  if (rules.length !== 1) {
    throw errors.invalidRequest('The server side encryption configuration must hold exactly one rule.');
  }
  const apply = child(rules[0], 'ApplyServerSideEncryptionByDefault');
  const algorithm = apply && child(apply, 'SSEAlgorithm')?.text.trim();
  if (apply === undefined || algorithm === undefined) throw errors.malformedXML();
  const rule: BucketEncryption = { algorithm: supportedAlgorithm(algorithm, 'SSEAlgorithm') };
  const kmsKeyId = child(apply, 'KMSMasterKeyID')?.text.trim();
  if (kmsKeyId !== undefined && kmsKeyId !== '') {
    if (rule.algorithm !== 'aws:kms') {
      throw errors.invalidArgument(
        'a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms',
        'ApplyServerSideEncryptionByDefault',
        kmsKeyId,
      );
    }
    rule.kmsKeyId = kmsKeyId;
  }
  const bucketKey = child(rules[0], 'BucketKeyEnabled')?.text.trim();
  if (bucketKey !== undefined) {
    if (bucketKey !== 'true' && bucketKey !== 'false') throw errors.malformedXML();
    rule.bucketKeyEnabled = bucketKey === 'true';
  }
  return rule;
}
