/**
 * How a new object (PutObject, CopyObject's destination, a multipart upload) is stored: under the
 * customer's key when the request brings one (SSE-C, on every backend); else as the request's
 * `x-amz-server-side-encryption` asks, where the backend may honour it (its `on_request`,
 * docs/CONFIG-ENCRYPTION.md); else as the bucket's default encryption says (PutBucketEncryption); else as
 * the backend's mode says. A request the backend cannot honour is refused, naming what to configure: the
 * gateway never stores an object less protected, or protected otherwise, than it was asked to.
 */
import type { NativeEncryption } from '../backend.js';
import { requestableEncryption, type EncryptionConfig } from '../config/encryption-config.js';
import { errors } from '../errors.js';
import type { CustomerKey } from './customer-key.js';
import { contextHeaderOf, type BackendKeys, type DataKeyTarget } from './data-keys.js';
import { MARKER, type NativeEncryptionMode } from './markers.js';

export type WriteTarget =
  | { kind: 'plain' }
  | { kind: 'native'; mode: NativeEncryptionMode; native: NativeEncryption }
  | ({ kind: 'gateway' } & DataKeyTarget);

/** A bucket's default encryption (PutBucketEncryption's one rule), as the control plane keeps it. */
export interface BucketEncryption {
  algorithm: 'AES256' | 'aws:kms';
  /** `KMSMasterKeyID`, for `aws:kms`. */
  kmsKeyId?: string;
  bucketKeyEnabled?: boolean;
}

/** What one write asks for: its headers, or the bucket default when it sends none. */
interface Requested extends BucketEncryption {
  /** The encryption context header as sent (base64 JSON), and parsed. */
  contextHeader?: string;
  context?: Record<string, string>;
  /** Where the request came from, for messages. */
  source: 'request' | 'bucket default';
}

const SSE = 'x-amz-server-side-encryption';
const KMS_KEY = 'x-amz-server-side-encryption-aws-kms-key-id';
const CONTEXT = 'x-amz-server-side-encryption-context';
const BUCKET_KEY = 'x-amz-server-side-encryption-bucket-key-enabled';

/** Context keys the gateway binds every envelope data key with; requests may not set them. */
const RESERVED_CONTEXT_PREFIXES = ['aws:', 'sealgate:'];

export function writeTarget(
  keys: BackendKeys,
  headers: Headers,
  customer?: CustomerKey,
  bucketDefault?: BucketEncryption,
): WriteTarget {
  const fromRequest = requestedEncryption(headers);
  if (customer) {
    if (fromRequest !== undefined) throw errors.ssecWithServerSideEncryption();
    return { kind: 'gateway', mode: 'sse-c', customer };
  }
  const requested = fromRequest ?? (bucketDefault && { ...bucketDefault, source: 'bucket default' as const });
  if (requested === undefined) return modeTarget(keys.config);
  return honoured(keys, requested);
}

/** A write that asks for nothing: the backend's mode. */
function modeTarget(config: EncryptionConfig): WriteTarget {
  switch (config.mode) {
    case 'none':
      return { kind: 'plain' };
    case 'sse-s3':
      return { kind: 'native', mode: 'sse-s3', native: { algorithm: 'AES256' } };
    case 'sse-kms':
      return {
        kind: 'native',
        mode: 'sse-kms',
        native: {
          algorithm: 'aws:kms',
          ...(config.kmsKeyId !== undefined && { kmsKeyId: config.kmsKeyId }),
          ...(config.bucketKeyEnabled !== undefined && { bucketKeyEnabled: config.bucketKeyEnabled }),
        },
      };
    case 'aes256-gcm-proxy':
      return { kind: 'gateway', mode: 'aes256-gcm-proxy' };
    case 'aws-kms-envelope':
      return { kind: 'gateway', mode: 'aws-kms-envelope', kms: { keyId: config.kmsKeyId! } };
  }
}

/** The target that honours `requested` on this backend, or the refusal that says what to configure. */
function honoured(keys: BackendKeys, requested: Requested): WriteTarget {
  const config = keys.config;
  const can = requestableEncryption(config);
  const argument = requested.source === 'request' ? SSE : 'ServerSideEncryptionConfiguration';
  if (requested.algorithm === 'AES256') {
    if (can.aes256 === undefined) {
      throw errors.invalidArgument(
        `${refusalStart(keys, requested)} AES256: set encryption.on_request.aes256 for the backend ` +
          '(aes256-gcm-proxy, with key and key_id, or sse-s3 on an AWS S3 backend) in the gateway config, or send ' +
          'no x-amz-server-side-encryption header.',
        argument,
        'AES256',
      );
    }
    if (can.aes256 === 'sse-s3') return { kind: 'native', mode: 'sse-s3', native: { algorithm: 'AES256' } };
    return { kind: 'gateway', mode: 'aes256-gcm-proxy' };
  }
  if (can.awsKms === undefined) {
    throw errors.invalidArgument(
      `${refusalStart(keys, requested)} aws:kms: set encryption.on_request.aws_kms for the backend ` +
        '(aws-kms-envelope, or sse-kms on an AWS S3 backend) in the gateway config, or send no ' +
        'x-amz-server-side-encryption header.',
      argument,
      'aws:kms',
    );
  }
  const keyId = requested.kmsKeyId ?? config.kmsKeyId;
  const allowed = [...(config.kmsKeyId === undefined ? [] : [config.kmsKeyId]), ...can.kmsKeyIds];
  if (requested.kmsKeyId !== undefined && !allowed.includes(requested.kmsKeyId)) {
    throw errors.invalidArgument(
      `Backend "${keys.backend}" does not encrypt with KMS key "${requested.kmsKeyId}": the keys a write may ` +
        `name are ${allowed.length > 0 ? allowed.map((k) => `"${k}"`).join(', ') : 'none'} ` +
        '(encryption.kms_key_id and encryption.on_request.kms_key_ids in the gateway config, named exactly so).',
      requested.source === 'request' ? KMS_KEY : 'KMSMasterKeyID',
      requested.kmsKeyId,
    );
  }
  const bucketKeyEnabled = requested.bucketKeyEnabled ?? config.bucketKeyEnabled;
  if (can.awsKms === 'sse-kms') {
    return {
      kind: 'native',
      mode: 'sse-kms',
      native: {
        algorithm: 'aws:kms',
        ...(keyId !== undefined && { kmsKeyId: keyId }),
        ...(bucketKeyEnabled !== undefined && { bucketKeyEnabled }),
        ...(requested.contextHeader !== undefined && { context: requested.contextHeader }),
      },
    };
  }
  if (keyId === undefined) {
    throw errors.invalidArgument(
      `Backend "${keys.backend}" encrypts aws:kms writes itself (envelope encryption) and needs a KMS key for ` +
        'them: name one with x-amz-server-side-encryption-aws-kms-key-id, or set encryption.kms_key_id in the ' +
        'gateway config (the AWS managed key aws/s3 cannot be used outside S3).',
      requested.source === 'request' ? KMS_KEY : 'KMSMasterKeyID',
      '',
    );
  }
  return {
    kind: 'gateway',
    mode: 'aws-kms-envelope',
    kms: {
      keyId,
      ...(requested.context !== undefined && { context: requested.context }),
      ...(requested.bucketKeyEnabled !== undefined && { bucketKeyEnabled: requested.bucketKeyEnabled }),
    },
  };
}

function refusalStart(keys: BackendKeys, requested: Requested): string {
  const by = requested.source === 'request' ? 'The request asks for' : "The bucket's default encryption is";
  return `${by} a form of server-side encryption that backend "${keys.backend}" (mode "${keys.config.mode}") is not configured to honour:`;
}

/**
 * The `x-amz-server-side-encryption*` headers of a write, checked as S3 checks them: a known algorithm,
 * and the KMS key, context and bucket-key headers only with `aws:kms`. Undefined when it sends none.
 */
function requestedEncryption(headers: Headers): Requested | undefined {
  const algorithm = headers.get(SSE);
  const kmsKeyId = headers.get(KMS_KEY);
  const contextHeader = headers.get(CONTEXT);
  const bucketKey = headers.get(BUCKET_KEY);
  if (algorithm === null) {
    refuseKmsHeaders(
      headers,
      () => `Server Side Encryption with AWS KMS managed key requires HTTP header ${SSE} : aws:kms`,
    );
    // A bucket-key header alone changes nothing S3 would not ignore: it applies to aws:kms writes only.
    return undefined;
  }
  const requested: Requested = { algorithm: supportedAlgorithm(algorithm, SSE), source: 'request' };
  if (algorithm === 'AES256') {
    refuseKmsHeaders(headers, (name) => `The ${name} header is only for ${SSE}: aws:kms, not AES256.`);
    return requested;
  }
  if (kmsKeyId !== null) {
    if (kmsKeyId === '' || /\s/.test(kmsKeyId)) {
      throw errors.invalidArgument('The KMS key id must be a key id, key ARN or alias.', KMS_KEY, kmsKeyId);
    }
    requested.kmsKeyId = kmsKeyId;
  }
  if (contextHeader !== null) {
    requested.context = encryptionContext(contextHeader);
    requested.contextHeader = contextHeader;
  }
  if (bucketKey !== null) {
    const value = bucketKey.toLowerCase();
    if (value !== 'true' && value !== 'false') {
      throw errors.invalidArgument(`The ${BUCKET_KEY} header must be true or false.`, BUCKET_KEY, bucketKey);
    }
    requested.bucketKeyEnabled = value === 'true';
  }
  return requested;
}

/** The KMS-only headers (key id, context) on a write that does not ask for aws:kms: InvalidArgument. */
function refuseKmsHeaders(headers: Headers, message: (name: string) => string): void {
  for (const name of [KMS_KEY, CONTEXT]) {
    const value = headers.get(name);
    if (value !== null) throw errors.invalidArgument(message(name), name, value);
  }
}

/** An SSE algorithm as a write or a bucket default names it (`argument`): AES256 or aws:kms. */
export function supportedAlgorithm(algorithm: string, argument: string): BucketEncryption['algorithm'] {
  if (algorithm === 'aws:kms:dsse') {
    throw errors.invalidArgument(
      'Dual-layer server-side encryption (aws:kms:dsse) is not supported by this gateway: use aws:kms.',
      argument,
      algorithm,
    );
  }
  if (algorithm !== 'AES256' && algorithm !== 'aws:kms') {
    throw errors.invalidArgument('The encryption method specified is not supported', argument, algorithm);
  }
  return algorithm;
}

/** `x-amz-server-side-encryption-context`: base64 of a JSON object of strings, as S3 takes it. */
export function encryptionContext(header: string): Record<string, string> {
  const invalid = () =>
    errors.invalidArgument(
      "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map",
      CONTEXT,
      header,
    );
  let parsed: unknown;
  try {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(header)) throw invalid();
    parsed = JSON.parse(Buffer.from(header, 'base64').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalid();
  const context: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof value !== 'string' || name === '') throw invalid();
    if (RESERVED_CONTEXT_PREFIXES.some((prefix) => name.toLowerCase().startsWith(prefix))) {
      throw errors.invalidArgument(
        `The encryption context key "${name}" is reserved: keys starting with ${RESERVED_CONTEXT_PREFIXES.join(' or ')} ` +
          'are set by S3 and the gateway.',
        CONTEXT,
        header,
      );
    }
    context[name] = value;
  }
  return context;
}

/** The marker a natively encrypted object carries, so the gateway never tries to decrypt it. */
export function nativeMarkers(target: Extract<WriteTarget, { kind: 'native' }>): Record<string, string> {
  return { [MARKER.encryption]: target.mode };
}

/** The response headers S3 returns for a natively encrypted write. */
export function nativeWriteHeaders(native: NativeEncryption): Record<string, string> {
  const headers: Record<string, string> = { [SSE]: native.algorithm };
  if (native.kmsKeyId !== undefined) headers[KMS_KEY] = native.kmsKeyId;
  if (native.bucketKeyEnabled) headers[BUCKET_KEY] = 'true';
  return headers;
}

/** What a write answers besides its object's own encryption headers: the context it was asked for. */
export function writeEchoHeaders(target: WriteTarget): Record<string, string> {
  if (target.kind === 'gateway' && target.kms?.context !== undefined) {
    return { [CONTEXT]: contextHeaderOf(target.kms.context) };
  }
  if (target.kind === 'native' && target.native.context !== undefined)
    return { [CONTEXT]: target.native.context };
  return {};
}
