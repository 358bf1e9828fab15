/** What a client driver is given: the gateway to talk to and a private folder for its config files. */
export interface DriverContext {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** A fresh temporary folder owned by this driver: config files, and HOME for the client's process. */
  workDir: string;
  /**
   * For an https endpoint: the PEM file of the CA the client must trust (the gateway's self-signed
   * certificate), given to the client through its own option or environment, never its global config.
   * Absent, the client verifies against its default trust store (and so refuses the test certificate).
   */
  caFile?: string;
}

/**
 * One real S3 client, driven through its own command line (or, for boto3, a small script). Each method
 * runs the client's everyday command for the job and rejects with the client's stderr when it fails.
 */
export interface ClientDriver {
  makeBucket(bucket: string): Promise<void>;
  removeBucket(bucket: string): Promise<void>;
  listBuckets(): Promise<string[]>;
  /** Every key under `prefix` (recursively), as full keys. */
  listKeys(bucket: string, prefix: string): Promise<string[]>;
  upload(file: string, bucket: string, key: string): Promise<void>;
  download(bucket: string, key: string, file: string): Promise<void>;
  /** Uploads every file under `dir` to `prefix` + its `/`-separated relative path. */
  syncUp(dir: string, bucket: string, prefix: string): Promise<void>;
  /** Downloads every object under `prefix` into `dir`, by its key relative to `prefix`. */
  syncDown(bucket: string, prefix: string, dir: string): Promise<void>;
  presignGet(bucket: string, key: string, expiresSeconds: number): Promise<string>;
  remove(bucket: string, key: string): Promise<void>;
  /** Deletes every object under `prefix`. */
  removePrefix(bucket: string, prefix: string): Promise<void>;
}

export interface ClientDefinition {
  /** Used in test titles and bucket names: lowercase letters, digits and hyphens. */
  name: string;
  /**
   * The signature version of the client's presigned URLs. The gateway accepts SigV4 and, for GET and HEAD,
   * SigV2 query signatures (what `s3cmd signurl` and boto3's default presigner make).
   */
  presignSignature: 'v4' | 'v2';
  /**
   * The payload modes (see payload-modes.ts) the client's PutObject and UploadPart requests use with
   * default settings, over each scheme: what the gateway must accept from this client.
   */
  uploadPayloadModes: { http: string[]; https: string[] };
  /**
   * What the client prints on stderr when a function URL refuses an upload part with its own 413 (the
   * gateway never runs, so there is no S3 error document): docs/DEPLOY.md, "What the 413 looks like".
   */
  payloadTooLargeError: RegExp;
  /**
   * The checksum the client asks for on a multipart upload with default settings, and the part size it
   * splits a file into: the gateway must store the object's checksum the way S3 would (checked by HEAD
   * with checksum mode). Absent for clients that send none.
   */
  multipartChecksum?: { algorithm: 'CRC32'; type: 'COMPOSITE'; partSize: number };
  /** Checks that the client is installed (and the right version), then writes its config. */
  create(context: DriverContext): Promise<ClientDriver>;
}
