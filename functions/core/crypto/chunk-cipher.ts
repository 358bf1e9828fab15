import { createCipheriv, createDecipheriv, hkdfSync, type CipherGCM, type DecipherGCM } from 'node:crypto';
import { FormatError } from './format-error.js';
import { TAG_LENGTH } from './segment-layout.js';

export const DATA_KEY_LENGTH = 32;
const SEGMENT_KEY_INFO = Buffer.from('sealgate/v1/segment', 'ascii');
const CHUNK_AAD_LABEL = Buffer.from('SGC1', 'ascii');
const NONCE_LENGTH = 12;
const AAD_LENGTH = CHUNK_AAD_LABEL.length + 4 + 8 + 1;

/** Throws unless `key` is 32 bytes: keys come from our own code, so a wrong size is a bug. */
export function assertKeyLength(key: Uint8Array, name: string): void {
  if (!(key instanceof Uint8Array) || key.byteLength !== DATA_KEY_LENGTH) {
    throw new RangeError(`${name} must be ${DATA_KEY_LENGTH} bytes`);
  }
}

/**
 * K = HKDF-SHA256(ikm = data key, salt = the header's salt, info = "sealgate/v1/segment" || uint32 BE part
 * number), 32 bytes. The random salt makes every segment's key new, even when a part number is uploaded
 * again under the same data key, so the counter nonces below never repeat under one key. The caller
 * wipes the returned buffer when the segment is done.
 */
export function deriveSegmentKey(dataKey: Uint8Array, salt: Uint8Array, partNumber: number): Buffer {
  const info = Buffer.alloc(SEGMENT_KEY_INFO.length + 4);
  SEGMENT_KEY_INFO.copy(info);
  info.writeUInt32BE(partNumber, SEGMENT_KEY_INFO.length);
  return Buffer.from(hkdfSync('sha256', dataKey, salt, info, DATA_KEY_LENGTH));
}

/** Writes a whole number below 2^53 as uint64 BE, without a BigInt per chunk. */
function writeUint64(target: Buffer, value: number, offset: number): void {
  target.writeUInt32BE(Math.floor(value / 2 ** 32), offset);
  target.writeUInt32BE(value >>> 0, offset + 4);
}

/** nonce = 4 zero bytes || uint64 BE chunk index: a counter, unique per chunk under one segment key. */
function chunkNonce(index: number): Buffer {
  const nonce = Buffer.alloc(NONCE_LENGTH);
  writeUint64(nonce, index, 4);
  return nonce;
}

/**
 * AAD = "SGC1" || uint32 BE part number || uint64 BE chunk index || uint8 final. The index (also in the
 * nonce) catches reordered chunks, the final flag catches truncation at a chunk boundary, and the part
 * number (also in the key derivation) catches a segment moved to another part.
 */
function chunkAad(partNumber: number, index: number, final: boolean): Buffer {
  const aad = Buffer.alloc(AAD_LENGTH);
  CHUNK_AAD_LABEL.copy(aad);
  aad.writeUInt32BE(partNumber, 4);
  writeUint64(aad, index, 8);
  aad[16] = final ? 1 : 0;
  return aad;
}

/** The position of a chunk in its object: what its nonce and AAD are made of. */
export interface ChunkPosition {
  partNumber: number;
  index: number;
  final: boolean;
}

/**
 * Encrypts one chunk as its plaintext arrives, piece by piece: GCM is a stream mode, so each piece's
 * ciphertext is ready at once and nothing is copied to join pieces. {@link ChunkSealer.finish} gives the tag.
 */
export class ChunkSealer {
  private readonly cipher: CipherGCM;

  constructor(segmentKey: Uint8Array, at: ChunkPosition) {
    this.cipher = createCipheriv('aes-256-gcm', segmentKey, chunkNonce(at.index), {
      authTagLength: TAG_LENGTH,
    });
    this.cipher.setAAD(chunkAad(at.partNumber, at.index, at.final));
  }

  /** The ciphertext of the next plaintext piece, of the same length. */
  update(plaintext: Uint8Array): Buffer {
    return this.cipher.update(plaintext);
  }

  /** The chunk's 16-byte tag. */
  finish(): Buffer {
    this.cipher.final(); // adds no bytes in GCM: it completes the tag
    return this.cipher.getAuthTag();
  }
}

/**
 * Decrypts one chunk as its ciphertext arrives, piece by piece, and keeps the plaintext private until
 * {@link ChunkOpening.verify} has checked the tag. On any failure the unverified plaintext is wiped.
 */
export class ChunkOpening {
  private readonly decipher: DecipherGCM;
  private readonly unverified: Buffer[] = [];

  constructor(
    segmentKey: Uint8Array,
    private readonly at: ChunkPosition,
  ) {
    this.decipher = createDecipheriv('aes-256-gcm', segmentKey, chunkNonce(at.index), {
      authTagLength: TAG_LENGTH,
    });
    this.decipher.setAAD(chunkAad(at.partNumber, at.index, at.final));
  }

  /** Decrypts the next ciphertext piece into the held, not yet verified, plaintext. */
  update(ciphertext: Uint8Array): void {
    this.unverified.push(this.decipher.update(ciphertext));
  }

  /**
   * The chunk's plaintext pieces, once `tag` verified them.
   *
   * @throws FormatError `chunk-auth-failed` when the tag does not verify; the plaintext is wiped first.
   */
  verify(tag: Uint8Array): Buffer[] {
    try {
      this.decipher.setAuthTag(tag);
      this.decipher.final();
    } catch {
      this.discard();
      throw new FormatError(
        'chunk-auth-failed',
        `chunk ${this.at.index} of part ${this.at.partNumber} failed authentication`,
      );
    }
    return this.unverified;
  }

  /** Wipes the held plaintext, e.g. when the tag never arrived or bytes followed it. */
  discard(): void {
    for (const piece of this.unverified) piece.fill(0);
  }
}
