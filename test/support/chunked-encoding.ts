// Test helpers: an aws-chunked encoder written from AWS's description of the format (independent of the
// decoder under test), and ways to feed and drain byte streams.
import { createHash, createHmac } from 'node:crypto';
import type { ChunkChain } from '../../functions/core/auth/sigv4.js';

const EMPTY_SHA256 = createHash('sha256').digest('hex');

const sha256Hex = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

/** Signs a string with the chain's key, as SigV4 does. */
export function sign(chain: ChunkChain, stringToSign: string): string {
  return createHmac('sha256', chain.signingKey).update(stringToSign).digest('hex');
}

/** The signatures of `chunks` (final empty chunk included) in a chain seeded by `chain.seedSignature`. */
export function chunkSignatures(chain: ChunkChain, chunks: Uint8Array[]): string[] {
  const signatures: string[] = [];
  let previous = chain.seedSignature;
  for (const data of [...chunks, new Uint8Array(0)]) {
    previous = sign(
      chain,
      `AWS4-HMAC-SHA256-PAYLOAD\n${chain.amzDate}\n${chain.scope}\n${previous}\n${EMPTY_SHA256}\n${sha256Hex(data)}`,
    );
    signatures.push(previous);
  }
  return signatures;
}

/** The trailer signature that follows the final chunk's signature `previous`. */
export function trailerSignature(chain: ChunkChain, previous: string, trailers: [string, string][]): string {
  const canonical = trailers.map(([name, value]) => `${name}:${value}\n`).join('');
  return sign(
    chain,
    `AWS4-HMAC-SHA256-TRAILER\n${chain.amzDate}\n${chain.scope}\n${previous}\n${sha256Hex(canonical)}`,
  );
}

/** STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER) encoding of `chunks`, with signatures as given. */
export function encodeSignedWith(
  chunks: Uint8Array[],
  signatures: string[],
  trailer?: { lines: [string, string][]; signature: string },
): Buffer {
  const parts: Buffer[] = [];
  chunks.forEach((data, i) => {
    parts.push(
      Buffer.from(`${data.length.toString(16)};chunk-signature=${signatures[i]}\r\n`),
      Buffer.from(data),
    );
    parts.push(Buffer.from('\r\n'));
  });
  parts.push(Buffer.from(`0;chunk-signature=${signatures[chunks.length]}\r\n`));
  if (trailer) {
    for (const [name, value] of trailer.lines) parts.push(Buffer.from(`${name}:${value}\r\n`));
    parts.push(Buffer.from(`x-amz-trailer-signature:${trailer.signature}\r\n`));
  }
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** A correctly signed encoding of `chunks`, with signed trailers when `trailers` is given. */
export function encodeSigned(chain: ChunkChain, chunks: Uint8Array[], trailers?: [string, string][]): Buffer {
  const signatures = chunkSignatures(chain, chunks);
  return encodeSignedWith(
    chunks,
    signatures,
    trailers && { lines: trailers, signature: trailerSignature(chain, signatures.at(-1)!, trailers) },
  );
}

/** STREAMING-UNSIGNED-PAYLOAD-TRAILER encoding, the JS SDK's way: `0\r\n`, trailers, empty line. */
export function encodeUnsigned(
  chunks: Uint8Array[],
  trailers: [string, string][] = [],
  closingLine = true,
): Buffer {
  const parts: Buffer[] = [];
  for (const data of chunks) {
    parts.push(Buffer.from(`${data.length.toString(16)}\r\n`), Buffer.from(data), Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n'));
  for (const [name, value] of trailers) parts.push(Buffer.from(`${name}:${value}\r\n`));
  if (closingLine) parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** `data` as a stream cut at the given offsets (sorted, deduplicated, out-of-range ignored). */
export async function* split(data: Uint8Array, cuts: number[] = []): AsyncGenerator<Uint8Array> {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < data.length))].sort((a, b) => a - b);
  let start = 0;
  for (const point of [...points, data.length]) {
    yield data.subarray(start, point);
    start = point;
  }
}

/** Drains a stream, keeping what it released before it failed. */
export async function drain(body: AsyncIterable<Uint8Array>): Promise<{ data: Buffer; error?: unknown }> {
  const parts: Uint8Array[] = [];
  try {
    for await (const piece of body) parts.push(Buffer.from(piece));
  } catch (error) {
    return { data: Buffer.concat(parts), error };
  }
  return { data: Buffer.concat(parts) };
}
