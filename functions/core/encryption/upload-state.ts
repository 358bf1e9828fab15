/**
 * A gateway-encrypted multipart upload needs its wrapped data key at every UploadPart, on whichever
 * instance receives it, and S3 offers no call that returns an upload's metadata. So the gateway's upload
 * id carries it: `<backend upload id>~sg1~<base64url state>`. The state holds only what the object's
 * markers hold anyway (mode, key id, wrapped data key), plus, for SSE-C uploads, the layout key L, which
 * CompleteMultipartUpload needs and cannot derive when the client sends it without the customer key. L is
 * one-way from the data key and opens no data (docs/FORMAT.md section 4); it lets its holder vouch for a
 * part list, and it goes only to the client that holds the customer key.
 *
 * An envelope upload's state also holds what its writer asked for with the KMS key (the encryption context
 * KMS binds its data key to, a bucket key), as the object's markers will.
 *
 * The suffix also carries the upload's checksum choice (x-amz-checksum-algorithm and -type), which every
 * UploadPart and the completion must follow; a plain upload that chose a checksum gets a suffix with only
 * that. Upload ids without the suffix are plain (or natively encrypted) uploads without a checksum choice,
 * passed to the backend as they are. The state is the client's to send back and so is not trusted: a data key only opens under its
 * binding to this bucket and key, and a wrong L only makes the client's own object unreadable.
 */
import { errors } from '../errors.js';
import { isChecksumAlgorithm } from '../integrity/checksums.js';
import type { MultipartChecksum } from '../integrity/multipart-checksum.js';
import { MARKER, type GatewayEncryption } from './markers.js';

const SEPARATOR = '~sg1~';

export interface UploadState {
  mode: GatewayEncryption;
  /** The markers the completed object carries: `enc`, `key-id` (not for SSE-C), `dk`. */
  markers: Record<string, string>;
  /** SSE-C uploads: the layout key L, base64. */
  layoutKey?: string;
}

export interface ParsedUploadId {
  backendId: string;
  /** A gateway-encrypted upload's state. */
  state?: UploadState;
  /** The checksum the upload's parts carry, when CreateMultipartUpload chose one. */
  checksum?: MultipartChecksum;
}

/** The gateway's upload id: the backend's, with a suffix when there is state or a checksum choice. */
export function encodeUploadId(
  backendId: string,
  state: UploadState | undefined,
  checksum?: MultipartChecksum,
): string {
  if (!state && !checksum) return backendId;
  const json = JSON.stringify({
    e: state?.mode,
    k: state?.markers[MARKER.keyId],
    d: state?.markers[MARKER.dataKey],
    l: state?.layoutKey,
    x: state?.markers[MARKER.kmsContext],
    b: state?.markers[MARKER.bucketKey],
    c: checksum?.algorithm,
    t: checksum && (checksum.type === 'COMPOSITE' ? 'C' : 'F'),
  });
  return backendId + SEPARATOR + Buffer.from(json, 'utf8').toString('base64url');
}

export function parseUploadId(uploadId: string): ParsedUploadId {
  const at = uploadId.lastIndexOf(SEPARATOR);
  if (at < 0) return { backendId: uploadId };
  const backendId = uploadId.slice(0, at);
  try {
    const raw = JSON.parse(
      Buffer.from(uploadId.slice(at + SEPARATOR.length), 'base64url').toString('utf8'),
    ) as {
      e?: unknown;
      k?: unknown;
      d?: unknown;
      l?: unknown;
      c?: unknown;
      t?: unknown;
      x?: unknown;
      b?: unknown;
    };
    const parsed: ParsedUploadId = { backendId };
    if (raw.c !== undefined) {
      if (typeof raw.c !== 'string' || !isChecksumAlgorithm(raw.c) || (raw.t !== 'C' && raw.t !== 'F')) {
        throw new Error();
      }
      parsed.checksum = { algorithm: raw.c, type: raw.t === 'C' ? 'COMPOSITE' : 'FULL_OBJECT' };
    }
    if (raw.e === undefined && parsed.checksum) return parsed;
    if (raw.e !== 'aes256-gcm-proxy' && raw.e !== 'aws-kms-envelope' && raw.e !== 'sse-c') throw new Error();
    if (typeof raw.d !== 'string') throw new Error();
    const markers: Record<string, string> = { [MARKER.encryption]: raw.e, [MARKER.dataKey]: raw.d };
    if (typeof raw.k === 'string') markers[MARKER.keyId] = raw.k;
    if (typeof raw.x === 'string') markers[MARKER.kmsContext] = raw.x;
    if (raw.b === 'true') markers[MARKER.bucketKey] = 'true';
    parsed.state = { mode: raw.e, markers, ...(typeof raw.l === 'string' && { layoutKey: raw.l }) };
    return parsed;
  } catch {
    throw errors.noSuchUpload(uploadId);
  }
}
