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
export type Body = AsyncIterable<Uint8Array>;

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
}

/** A listing entry: like ObjectInfo but a backend may leave out metadata it would need extra calls for. */
export interface ListedObject {
  key: string;
  size: number;
  etag: string;
  lastModified: Date;
}

export interface ListObjectsInput {
  prefix: string;
  delimiter?: string;
  /** Return keys strictly after this one (V1 marker, V2 start-after or continuation). */
  after?: string;
  maxKeys: number;
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

  /**
   * Stores `size` bytes from `body` atomically: if `body` throws, nothing is stored. `late`, when given, is
   * called once the body has been consumed whole and returns internal markers known only then (a trailing
   * checksum); they are stored with the object as if they had been in `metadata.internal`. It is never
   * called for a body that throws.
   */
  putObject(
    bucket: string,
    key: string,
    body: Body,
    size: number,
    metadata: ObjectMetadata,
    late?: () => Record<string, string>,
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
  ): Promise<ObjectInfo>;
  listObjects(bucket: string, input: ListObjectsInput): Promise<ListObjectsOutput>;

  createMultipartUpload(bucket: string, key: string, metadata: ObjectMetadata): Promise<string>;
  /** Stores one part atomically; a part uploaded again under the same number replaces the earlier one. */
  uploadPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    body: Body,
    size: number,
  ): Promise<PartInfo>;
  /** Every stored part of an upload, ascending by part number. */
  listParts(bucket: string, key: string, uploadId: string): Promise<PartInfo[]>;
  /**
   * Joins the named parts (already checked by the core: ascending, present, ETags matching) into the object,
   * with the metadata the upload was created with. The result's ETag is S3's multipart ETag.
   */
  completeMultipartUpload(
    bucket: string,
    key: string,
    uploadId: string,
    parts: { partNumber: number; etag: string }[],
  ): Promise<ObjectInfo>;
  abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void>;
  /** Uploads in progress, ordered by key then initiation. */
  listMultipartUploads(bucket: string, prefix: string): Promise<UploadInfo[]>;
}
