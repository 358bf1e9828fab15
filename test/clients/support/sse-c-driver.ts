import type { DriverContext } from './client-driver.js';

/** An SSE-C customer key as clients are given it: a file of its 32 raw bytes. */
export interface CustomerKeyFile {
  path: string;
  /** Base64 MD5 of the key: what S3 echoes in `x-amz-server-side-encryption-customer-key-MD5`. */
  md5: string;
}

/** What HeadObject with the customer key shows, as the client reports it. */
export interface SseCHead {
  size: number;
  etag: string;
  algorithm: string | undefined;
  keyMd5: string | undefined;
}

/**
 * One real S3 client's SSE-C commands. Each method runs the client's own command or call for the job, with
 * the customer key given the client's usual way, and rejects with a {@link ClientError} holding the
 * client's stderr when it fails.
 */
export interface SseCDriver {
  /** One PutObject of `file` under the customer key. */
  put(file: string, bucket: string, key: string, customerKey: CustomerKeyFile): Promise<void>;
  /** One GetObject into `file`, with the customer key or, to check the refusal, without one. */
  get(bucket: string, key: string, file: string, customerKey?: CustomerKeyFile): Promise<void>;
  /** The client's everyday upload (multipart above its threshold) under the customer key. */
  upload(file: string, bucket: string, key: string, customerKey: CustomerKeyFile): Promise<void>;
  /** The client's everyday download, with the customer key or without one. */
  download(bucket: string, key: string, file: string, customerKey?: CustomerKeyFile): Promise<void>;
  head(bucket: string, key: string, customerKey: CustomerKeyFile): Promise<SseCHead>;
  /** A server-side copy within `bucket`: reads `source` under one key, writes `target` under another. */
  copy(
    bucket: string,
    source: string,
    target: string,
    sourceKey: CustomerKeyFile,
    targetKey: CustomerKeyFile,
  ): Promise<void>;
}

export interface SseCClientDefinition {
  /** Used in test titles and bucket names: lowercase letters, digits and hyphens. */
  name: string;
  /**
   * Whether the client repeats the customer key on CompleteMultipartUpload. S3 accepts it there but does
   * not need it, and clients differ; the gateway must complete the upload either way.
   */
  keyOnCompleteMultipartUpload: boolean;
  /** What the client prints on stderr when the gateway refuses a read of an SSE-C object. */
  refusals: {
    /** `download` without the key: 400. */
    downloadWithoutKey: RegExp;
    /** `download` with another key: 403. */
    downloadWithWrongKey: RegExp;
    /** `get` without the key: 400 InvalidRequest. */
    getWithoutKey: RegExp;
    /** `get` with another key: 403 AccessDenied. */
    getWithWrongKey: RegExp;
  };
  /** Checks that the client is installed (and the right version), then writes its config. */
  create(context: DriverContext): Promise<SseCDriver>;
}
