/**
 * Object bodies the load clients can regenerate from a seed instead of holding them: the AES-256-CTR
 * keystream of a key derived from the seed, so any byte range of any object is computed on its own (its
 * counter block is the range's offset / 16) and a GET or ranged GET is checked byte for byte.
 */
import { createCipheriv, createHash } from 'node:crypto';

const BLOCK = 16;

function keyOf(seed: string): Buffer {
  return createHash('sha256').update(`sealgate-load:${seed}`).digest();
}

function counterBlock(index: number): Buffer {
  const iv = Buffer.alloc(BLOCK);
  iv.writeUInt32BE(Math.floor(index / 2 ** 32), 8);
  iv.writeUInt32BE(index >>> 0, 12);
  return iv;
}

/** Bytes `start` to `end` (inclusive) of the object made from `seed`. */
export function contentRange(seed: string, start: number, end: number): Buffer {
  if (end < start) return Buffer.alloc(0);
  const first = Math.floor(start / BLOCK);
  const skip = start - first * BLOCK;
  const cipher = createCipheriv('aes-256-ctr', keyOf(seed), counterBlock(first));
  return cipher.update(Buffer.alloc(skip + end - start + 1)).subarray(skip);
}

/** The whole object of `size` bytes made from `seed`. */
export function content(seed: string, size: number): Buffer {
  return contentRange(seed, 0, size - 1);
}

/** SHA-256 (hex) of the whole object, for checks that read it as a stream. */
export function contentSha256(seed: string, size: number): string {
  return createHash('sha256').update(content(seed, size)).digest('hex');
}
