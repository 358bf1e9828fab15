/**
 * Writing an object's plaintext to a backend in the form its write target says: as it is, with the
 * backend's native encryption, or encrypted by the gateway (one part-0 segment, docs/FORMAT.md) with its
 * MD5 and checksums sealed under the data key. PutObject and every copy that must rewrite bytes use it.
 */
import { createHash } from 'node:crypto';
import type { Body, ObjectInfo, ObjectMetadata } from '../backend.js';
import { FormatError, encryptSegment, segmentCiphertextLength } from '../crypto/index.js';
import { errors } from '../errors.js';
import type { Route } from '../routes.js';
import type { ObjectName } from './data-keys.js';
import { recordCipherBytes } from '../metrics.js';
import { MARKER, type GatewayEncryption } from './markers.js';
import { sealValues } from './sealed-values.js';
import { CHECKSUM_MARKER, gatewayHeaders, type OpenedObject } from './stored-object.js';
import { nativeMarkers, nativeWriteHeaders, writeEchoHeaders, type WriteTarget } from './write-target.js';

export interface StoreInput {
  body: Body;
  /** The plaintext length (the body must hold exactly this many bytes). */
  size: number;
  /** Stored headers, user metadata, and in `internal` the checksum markers already known. */
  metadata: ObjectMetadata;
  target: WriteTarget;
  /** Markers known only once the body has passed (a checksum from an aws-chunked trailer). */
  late?: () => Record<string, string>;
  /**
   * The plaintext's MD5 (hex) when known before the body (Content-MD5, a copy's source). It is then sealed
   * up front, which spares an S3 backend the self-copy that values known only afterwards cost. The body
   * is still hashed and must match.
   */
  md5?: string;
  /**
   * The ETag clients are to see when it is not the plaintext MD5 (an object a job rewrote that was
   * multipart, or native): sealed with the other values of a gateway-encrypted object.
   */
  etag?: string;
}

export interface Stored {
  info: ObjectInfo;
  /** The ETag clients see. */
  etag: string;
  /** `x-amz-server-side-encryption*` response headers. */
  headers: Record<string, string>;
}

/**
 * Bodies up to this size are read whole before they are stored when something about them is known only
 * at their end (a trailer checksum, the plaintext MD5 a gateway-encrypted object seals): the markers can
 * then go with the write, which spares an S3 backend its self-copy. Larger bodies stream, and pay it.
 */
export const BUFFERED_BODY_BYTES = 1024 * 1024;

export async function storeObject(route: Route, name: ObjectName, given: StoreInput): Promise<Stored> {
  const input = await settledIfSmall(given);
  const { target, metadata } = input;
  if (target.kind !== 'gateway') {
    const native = target.kind === 'native' ? target.native : undefined;
    if (target.kind === 'native') Object.assign(metadata.internal, nativeMarkers(target));
    await route.listing?.beforeWrite(metadata.internal);
    const info = await route.backend.putObject(route.bucket, name.key, input.body, input.size, metadata, {
      late: input.late,
      native,
    });
    return {
      info,
      etag: info.etag,
      headers: native ? { ...nativeWriteHeaders(info.native ?? native), ...writeEchoHeaders(target) } : {},
    };
  }

  const { dataKey, markers } = await route.keys.create(name, target);
  try {
    await route.listing?.beforeWrite(markers);
    const known: Record<string, string> = {};
    const internal: Record<string, string> = {};
    for (const [marker, value] of Object.entries(metadata.internal)) {
      if (marker.startsWith(CHECKSUM_MARKER)) known[marker.slice(CHECKSUM_MARKER.length)] = value;
      else internal[marker] = value;
    }
    let digest: string | undefined;
    const hashed = md5Tapped(input.body, input.md5, (hex) => (digest = hex));
    const seal = (lateMarkers: Record<string, string>) => {
      const checksums = { ...known };
      for (const [marker, value] of Object.entries(lateMarkers)) {
        if (marker.startsWith(CHECKSUM_MARKER)) checksums[marker.slice(CHECKSUM_MARKER.length)] = value;
      }
      return sealValues(dataKey, {
        md5: digest ?? input.md5,
        ...(Object.keys(checksums).length > 0 && { checksums }),
        ...(input.etag !== undefined && { etag: input.etag }),
      });
    };
    const upfront = input.md5 !== undefined && input.late === undefined;
    if (upfront) internal[MARKER.sealed] = seal({});
    const info = await route.backend.putObject(
      route.bucket,
      name.key,
      encryptBody(hashed, dataKey, 0, input.size, target.mode),
      segmentCiphertextLength(input.size),
      { headers: metadata.headers, user: metadata.user, internal: { ...internal, ...markers } },
      // The backend's ETag would be the ciphertext's MD5, which nothing needs: clients get the plaintext's.
      {
        opaqueEtag: true,
        ...(!upfront && { late: () => ({ [MARKER.sealed]: seal(input.late?.() ?? {}) }) }),
      },
    );
    return {
      info,
      etag: input.etag ?? `"${digest ?? input.md5}"`,
      headers: { ...gatewayHeaders(target.mode, markers, target.customer), ...writeEchoHeaders(target) },
    };
  } finally {
    dataKey.fill(0);
  }
}

/**
 * A small body whose late values matter, read whole: its checks run now (a mismatch throws before
 * anything is stored), and its late markers and MD5 become known up front.
 */
async function settledIfSmall(input: StoreInput): Promise<StoreInput> {
  const needsMd5 = input.target.kind === 'gateway' && input.md5 === undefined;
  if (input.size > BUFFERED_BODY_BYTES || (input.late === undefined && !needsMd5)) return input;
  const pieces: Uint8Array[] = [];
  for await (const piece of input.body) pieces.push(piece);
  const whole = Buffer.concat(pieces);
  const internal = { ...input.metadata.internal, ...input.late?.() };
  return {
    ...input,
    body: (async function* () {
      yield whole;
    })(),
    metadata: { ...input.metadata, internal },
    late: undefined,
    md5:
      input.md5 ??
      (input.target.kind === 'gateway' ? createHash('md5').update(whole).digest('hex') : undefined),
  };
}

/**
 * Encrypts one segment of a request body under an object's `mode` (counted in the metrics once the whole
 * segment is encrypted); a body of the wrong length is the client's incomplete body.
 */
export async function* encryptBody(
  body: Body,
  dataKey: Uint8Array,
  partNumber: number,
  size: number,
  mode: GatewayEncryption,
): AsyncGenerator<Uint8Array> {
  try {
    yield* encryptSegment(body, dataKey, { partNumber, plaintextLength: size });
    recordCipherBytes('encrypt', mode, size);
  } catch (error) {
    if (error instanceof FormatError && error.reason === 'length-mismatch') throw errors.incompleteBody();
    throw error;
  }
}

/**
 * Passes the body through, hashing it with MD5; reports the hex digest once the body has ended, and
 * refuses a body whose MD5 is not `expected` (when given) before it ends.
 */
export async function* md5Tapped(
  body: Body,
  expected: string | undefined,
  done: (hex: string) => void,
): AsyncGenerator<Uint8Array> {
  const hash = createHash('md5');
  for await (const piece of body) {
    hash.update(piece);
    yield piece;
  }
  const hex = hash.digest('hex');
  if (expected !== undefined && hex !== expected) throw errors.badDigest();
  done(hex);
}

/**
 * An object's plaintext MD5 when it is known without reading it: sealed with a single-part
 * gateway-encrypted object, or the ETag of a single-part object stored in clear.
 */
export function knownMd5(opened: OpenedObject): string | undefined {
  if (opened.sealed?.md5 !== undefined && opened.layout?.partNumbers[0] === 0) return opened.sealed.md5;
  if (opened.encryption !== 'plain' || opened.view.partsCount) return undefined;
  if (opened.stored.metadata.internal[MARKER.etag] !== undefined) return undefined; // kept from a rewrite
  const match = /^"([0-9a-f]{32})"$/.exec(opened.view.etag);
  return match?.[1];
}
