/**
 * The storage interface every backend implements (the filesystem backend and the S3 backend).
 *
 * It is deliberately S3-shaped and dumb: a backend stores bytes and a metadata record and hands them back.
 * Everything a client can observe beyond that (auth, checksums, conditionals, ranges over plaintext,
 * encryption) is the core's job, so every backend behaves the same. Bodies are `AsyncIterable<Uint8Array>`
 * (Node streams and Web streams both are), consumed with backpressure and never buffered whole.
 *
 * Backends throw the core's `S3Error`s for the conditions S3 names (NoSuchBucket, NoSuchKey, NoSuchUpload,
 * BucketNotEmpty, BucketAlreadyOwnedByYou, InvalidPart) and let unknown failures through unchanged.
 */
import type { ChecksumAlgorithm } from './integrity/checksums.js';
import type { MultipartChecksum } from './integrity/multipart-checksum.js';

export type Body = AsyncIterable<Uint8Array>;

/**
 * A multipart object's checksum (S3's COMPOSITE or FULL_OBJECT type), computed by the core from the parts'
 * checksums; `value` is base64, a composite one without S3's `-<parts>` suffix.
 */
export interface ObjectChecksum extends MultipartChecksum {
  value: string;
}

/** A part's additional checksum, verified over the bytes the part holds. */
export interface PartChecksumValue {
  algorithm: ChecksumAlgorithm;
  /** Base64. */
  value: string;
}

/**
 * The checksum uploadPart is to keep with a part: `value` when the request's header gave it before the
 * body, otherwise `computed()`, which returns it once the body has ended whole (an aws-chunked trailer).
 */
export interface PartChecksumInput {
  algorithm: ChecksumAlgorithm;
  value?: string;
  computed: () => string;
}

/**
 * What is stored beside an object's data. `user` holds the client's `x-amz-meta-*` values (names lower-cased,
 * without the prefix); `internal` holds the gateway's own markers, which clients can never set or see.
 */
export interface ObjectMetadata {
  /** Stored HTTP headers S3 round-trips: content-type, cache-control, content-disposition, content-encoding, content-language, expires. */
  headers: Record<string, string>;
  user: Record<string, string>;
  internal: Record<string, string>;
}

/**
 * Server-side encryption done by the backend itself (AWS SSE-KMS / SSE-S3): on writes, what the gateway asks
 * for; on reads, what the backend reports. Only S3 backends support it.
 */
export interface NativeEncryption {
  /** `x-amz-server-side-encryption`: `aws:kms` or `AES256`. */
  algorithm: 'aws:kms' | 'AES256';
  /** For `aws:kms`: the KMS key (id, ARN or alias); absent asks for the AWS managed key `aws/s3`. */
  kmsKeyId?: string;
  /** For `aws:kms`: S3 Bucket Keys. */
  bucketKeyEnabled?: boolean;
  /** For `aws:kms` writes: the request's encryption context, as S3 takes it (base64 of a JSON object). */
  context?: string;
}

/** Options of the calls that create an object. */
export interface WriteOptions {
  /**
   * Called once the body has been consumed whole; returns internal markers known only then (a trailing
   * checksum, values sealed over the plaintext). They are stored with the object as if they had been in
   * `metadata.internal`. Never called for a body that throws.
   */
  late?: () => Record<string, string>;
  /** Ask the backend to encrypt the object itself (S3 backends only; others throw). */
  native?: NativeEncryption;
  /**
   * The stored bytes' MD5 is of no use to the caller (they are ciphertext): a backend that would hash them
   * for its ETag may give any ETag unique to this write instead, as S3 does for SSE-KMS objects.
   */
  opaqueEtag?: boolean;
}

export interface ObjectInfo {
  key: string;
  /** Stored size in bytes (of what the backend holds). */
  size: number;
  /** The backend's ETag, quoted as S3 returns it. */
  etag: string;
  lastModified: Date;
  metadata: ObjectMetadata;
  /** For an object completed from a multipart upload: the number of parts. */
  partsCount?: number;
  /** The backend's own server-side encryption of the object, as it reports it (S3 backends). */
  native?: NativeEncryption;
  /**
   * The checksum a multipart completion gave the backend to keep (completeMultipartUpload's `checksum`), as
   * head and get report it. An S3 backend may also report S3's own checksum of what it stores; the core
   * shows it only for objects it did not encrypt.
   */
  checksum?: ObjectChecksum;
}

/**
 * A listing entry: like ObjectInfo but a backend may leave out metadata it would need extra calls for.
 * With `withMetadata` in the request, `metadata` (and `partsCount` for multipart objects) is filled in.
 */
export interface ListedObject {
  key: string;
  size: number;
  etag: string;
  lastModified: Date;
  metadata?: ObjectMetadata;
  partsCount?: number;
}

export interface ListObjectsInput {
  prefix: string;
  delimiter?: string;
  /** Return keys strictly after this one (V1 marker, V2 start-after or continuation). */
  after?: string;
  maxKeys: number;
  /**
   * Also return each object's metadata (the gateway needs its markers to list encrypted objects with their
   * plaintext sizes). Costs a filesystem backend a footer read and an S3 backend a HeadObject per object.
   */
  withMetadata?: boolean;
  /**
   * With `withMetadata`: a backend may describe an object from what it learned the last time it listed the
   * same version (same key, ETag, size and last-modified) instead of reading it again. For listings that
   * show clients sizes and ETags; not for jobs, which need the markers as they are now.
   */
  reuseDescriptions?: boolean;
}

export interface ListObjectsOutput {
  objects: ListedObject[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last key or common prefix returned, to resume after when truncated. */
  last?: string;
}

/** An inclusive byte range over the stored bytes. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface PartInfo {
  partNumber: number;
  etag: string;
  size: number;
  lastModified: Date;
  /** From UploadPart: the upload's native encryption, as the backend reports it (S3 backends). */
  native?: NativeEncryption;
  /** The checksum uploadPart was given to keep with the part, where the backend keeps it. */
  checksum?: PartChecksumValue;
}

/** A part a completion names: its number, its stored ETag, and the checksum the client lists for it. */
export interface CompletedPart {
  partNumber: number;
  etag: string;
  checksum?: string;
}

export interface UploadInfo {
  key: string;
  uploadId: string;
  initiated: Date;
}

export interface Backend {
  /** The backend's name from the config. */
  readonly name: string;

  listBuckets(): Promise<{ name: string; created: Date }[]>;
  createBucket(bucket: string): Promise<void>;
  deleteBucket(bucket: string): Promise<void>;
  /** Whether the bucket exists (S3's HeadBucket); creation dates come from listBuckets. */
  bucketExists(bucket: string): Promise<boolean>;

  /** Stores `size` bytes from `body` atomically: if `body` throws, nothing is stored. */
  putObject(
    bucket: string,
    key: string,
    body: Body,
    size: number,
    metadata: ObjectMetadata,
    options?: WriteOptions,
  ): Promise<ObjectInfo>;
  /** With `partNumber`, also the stored byte range of that part (S3's HeadObject `partNumber`). */
  headObject(bucket: string, key: string, partNumber?: number): Promise<ObjectInfo & { part?: ByteRange }>;
  /**
   * The object's bytes, or only a range of them: an inclusive byte range (already validated against the
   * size), or one part of a multipart object by number (S3's GetObject `partNumber`). `range` in the
   * result says which bytes `body` holds.
   */
  getObject(
    bucket: string,
    key: string,
    select?: ByteRange | { partNumber: number },
  ): Promise<{ info: ObjectInfo; body: Body; range?: ByteRange }>;
  /** Deleting a key that does not exist succeeds, as in S3. */
  deleteObject(bucket: string, key: string): Promise<void>;
  /** A server-side copy of the bytes with new metadata (the core decides what the metadata is). */
  copyObject(
    source: { bucket: string; key: string },
    bucket: string,
    key: string,
    metadata: ObjectMetadata,
    options?: Pick<WriteOptions, 'native'>,
  ): Promise<ObjectInfo>;
  listObjects(bucket: string, input: ListObjectsInput): Promise<ListObjectsOutput>;

  /**
   * With `checksum`, every part will come with a checksum of that algorithm and the completion with the
   * object's checksum of that type (an S3 backend has S3 keep them natively).
   */
  createMultipartUpload(
    bucket: string,
    key: string,
    metadata: ObjectMetadata,
    options?: Pick<WriteOptions, 'native'> & { checksum?: MultipartChecksum },
  ): Promise<string>;
  /**
   * Stores one part atomically; a part uploaded again under the same number replaces the earlier one. A
   * `checksum` (already verified by the core) is kept with the part and listed by listParts.
   */
  uploadPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    body: Body,
    size: number,
    options?: { checksum?: PartChecksumInput } & Pick<WriteOptions, 'opaqueEtag'>,
  ): Promise<PartInfo>;
  /** Every stored part of an upload, ascending by part number. */
  listParts(bucket: string, key: string, uploadId: string): Promise<PartInfo[]>;
  /**
   * Joins the named parts (already checked by the core: ascending, present, ETags matching) into the object,
   * with the metadata the upload was created with. The result's ETag is S3's multipart ETag. `late` markers
   * (known only at completion: an encrypted object's part layout) are added to the stored internal markers.
   * `checksum` (the object's checksum, from the parts' listed checksums) is kept with the object and
   * reported as ObjectInfo.checksum.
   */
  completeMultipartUpload(
    bucket: string,
    key: string,
    uploadId: string,
    parts: CompletedPart[],
    late?: Record<string, string>,
    checksum?: ObjectChecksum,
  ): Promise<ObjectInfo>;
  abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void>;
  /** Uploads in progress, ordered by key then initiation. */
  listMultipartUploads(bucket: string, prefix: string): Promise<UploadInfo[]>;
}
