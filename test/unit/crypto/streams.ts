// Helpers for the crypto tests: deterministic bytes, sources split anyhow, and stream collectors.
import { createHash } from 'node:crypto';
import { FormatError, encryptSegment, type FormatErrorReason } from '../../../functions/core/crypto/index.js';

/** `size` bytes where byte j is j % 251: the known-answer plaintext, and never aligned to chunk sizes. */
export function patternBytes(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let j = 0; j < size; j++) bytes[j] = j % 251;
  return bytes;
}

/** Yields `bytes` cut at the given offsets (out-of-range and repeated cuts are ignored), empty pieces included. */
export async function* splitAt(bytes: Uint8Array, cuts: readonly number[] = []): AsyncGenerator<Uint8Array> {
  const points = [...new Set(cuts.filter((cut) => cut >= 0 && cut <= bytes.byteLength))].sort(
    (a, b) => a - b,
  );
  let from = 0;
  for (const point of points) {
    yield bytes.subarray(from, point);
    from = point;
  }
  yield bytes.subarray(from);
}

/** Yields `bytes` in pieces of `size`. */
export async function* inPieces(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let from = 0; from < bytes.byteLength; from += size) yield bytes.subarray(from, from + size);
}

export async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for await (const piece of source) pieces.push(Buffer.from(piece));
  return Buffer.concat(pieces);
}

/** Consumes a stream to its end or its error, keeping what it released before failing. */
export async function drain(
  source: AsyncIterable<Uint8Array>,
): Promise<{ released: Buffer; error?: unknown }> {
  const pieces: Buffer[] = [];
  try {
    for await (const piece of source) pieces.push(Buffer.from(piece));
  } catch (error) {
    return { released: Buffer.concat(pieces), error };
  }
  return { released: Buffer.concat(pieces) };
}

/** The FormatError reason of `error`; rethrows anything else so the test shows it. */
export function reasonOf(error: unknown): FormatErrorReason {
  if (error instanceof FormatError) return error.reason;
  throw error instanceof Error ? error : new Error(`expected a FormatError, got ${String(error)}`);
}

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/**
 * Asserts two byte strings are equal. Buffer.equals, not toEqual: a deep comparison walks every byte as an
 * object property and takes seconds on a few hundred KiB. On a mismatch it names the first differing byte.
 */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  if (Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(expected)) return;
  let at = 0;
  while (at < Math.min(actual.byteLength, expected.byteLength) && actual[at] === expected[at]) at++;
  throw new Error(
    `bytes differ: ${actual.byteLength} bytes against ${expected.byteLength} expected, first difference at ${at}`,
  );
}

/** Encrypts each part as its own segment and concatenates them, as a completed multipart object is stored. */
export async function storeObject(
  dataKey: Uint8Array,
  parts: Buffer[],
  partNumbers: number[],
): Promise<Buffer> {
  const segments = await Promise.all(
    parts.map((part, i) =>
      collect(
        encryptSegment(splitAt(part), dataKey, {
          partNumber: partNumbers[i],
          plaintextLength: part.byteLength,
        }),
      ),
    ),
  );
  return Buffer.concat(segments);
}
