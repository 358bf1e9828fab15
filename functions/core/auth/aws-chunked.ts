import { createHash, createHmac, timingSafeEqual, type Hash } from 'node:crypto';
import { errors } from '../errors.js';
import type { ChunkChain } from './sigv4.js';

/** A decoded `aws-chunked` body. */
export interface DecodedBody {
  /** The object's bytes, framing removed. */
  body: AsyncIterable<Uint8Array>;
  /**
   * The trailing headers (lower-case names, signature excluded); valid after body is fully consumed.
   * A plain function, safe to pass around detached from this object.
   */
  trailers: () => Record<string, string>;
}

/** Options of {@link decodeAwsChunked}. */
export interface AwsChunkedOptions {
  /** Present for STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER): every chunk signature is then verified. */
  chain?: ChunkChain;
  /** True when the body ends with trailing headers (the `-TRAILER` payload modes). */
  trailer: boolean;
  /** `x-amz-decoded-content-length`: the data must be exactly this long. */
  decodedLength?: number;
}

/** A signed chunk is held whole until its signature verifies, so its size is bounded before it is buffered. */
const MAX_SIGNED_CHUNK = 16 * 1024 * 1024;
/** Chunk headers and trailer lines are short; anything longer is not aws-chunked framing. */
const MAX_LINE = 4096;
const MAX_TRAILERS = 16;
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const CR = 0x0d;
const LF = 0x0a;

/**
 * Decodes a `Content-Encoding: aws-chunked` body (S3's streaming uploads):
 * `hex-size[;chunk-signature=sig]\r\n<data>\r\n` frames, a zero-size final frame, then for the `-TRAILER`
 * modes `name:value\r\n` lines (with `x-amz-trailer-signature:sig\r\n` when signed) and an empty line.
 *
 * With a `chain`, each chunk's signature is verified against the previous one before any byte of that
 * chunk is released, so at most one chunk (bounded at 16 MiB) is buffered. Unsigned chunks stream through
 * as they arrive. The source may be split at any byte boundary. Data is passed on as views of the
 * source's buffers, which must therefore not be reused by the source.
 *
 * @throws S3Error SignatureDoesNotMatch for a bad chunk or trailer signature; InvalidRequest for malformed
 *   framing or trailing bytes; IncompleteBody when the body ends early or its length is not `decodedLength`.
 */
export function decodeAwsChunked(source: AsyncIterable<Uint8Array>, options: AwsChunkedOptions): DecodedBody {
  const parser = new ChunkedParser(options);
  async function* decode(): AsyncGenerator<Uint8Array> {
    try {
      for await (const piece of source) {
        yield* parser.push(Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
      }
      parser.finish();
    } finally {
      parser.wipe();
    }
  }
  return { body: decode(), trailers: () => parser.trailers() };
}

type Phase = 'header' | 'data' | 'data-cr' | 'data-lf' | 'trailer' | 'done';

/** The framing state machine; `push` takes any slice of the encoding and yields the data it completes. */
class ChunkedParser {
  private phase: Phase = 'header';
  private line: Buffer[] = [];
  private lineLength = 0;
  /** Data bytes still to come in the current chunk. */
  private remaining = 0;
  private decoded = 0;
  private readonly chain: ChunkChain | undefined;
  private previousSignature: string;
  private chunkSignature = '';
  private chunkHash: Hash | undefined;
  private held: Buffer[] = [];
  private readonly trailerValues: Record<string, string> = {};
  private trailerCount = 0;
  private trailerLines: string[] = [];
  private trailerSigned = false;

  constructor(private readonly options: AwsChunkedOptions) {
    this.chain = options.chain && { ...options.chain, signingKey: Buffer.from(options.chain.signingKey) };
    this.previousSignature = options.chain?.seedSignature ?? '';
  }

  *push(piece: Buffer): Generator<Buffer> {
    let offset = 0;
    while (offset < piece.length) {
      switch (this.phase) {
        case 'header':
        case 'trailer': {
          const newline = piece.indexOf(LF, offset);
          const end = newline < 0 ? piece.length : newline + 1;
          this.appendLine(piece.subarray(offset, end));
          offset = end;
          if (newline >= 0) {
            const text = this.takeLine();
            if (this.phase === 'header') this.onChunkHeader(text);
            else this.onTrailerLine(text);
          }
          break;
        }
        case 'data': {
          const n = Math.min(this.remaining, piece.length - offset);
          const data = piece.subarray(offset, offset + n);
          offset += n;
          this.remaining -= n;
          this.decoded += n;
          if (this.options.decodedLength !== undefined && this.decoded > this.options.decodedLength) {
            throw errors.invalidChunk(
              'The aws-chunked body holds more data than x-amz-decoded-content-length.',
            );
          }
          if (this.chain) {
            this.chunkHash!.update(data);
            this.held.push(data);
          } else {
            yield data;
          }
          if (this.remaining === 0) {
            if (this.chain) {
              this.verifyChunk(this.chunkHash!.digest('hex'));
              const released = this.held;
              this.held = [];
              yield* released;
            }
            this.phase = 'data-cr';
          }
          break;
        }
        case 'data-cr':
        case 'data-lf': {
          const expected = this.phase === 'data-cr' ? CR : LF;
          if (piece[offset] !== expected)
            throw errors.invalidChunk('An aws-chunked chunk is not followed by CRLF.');
          offset++;
          this.phase = this.phase === 'data-cr' ? 'data-lf' : 'header';
          break;
        }
        case 'done':
          throw errors.invalidChunk('The aws-chunked body continues after its final chunk and trailers.');
      }
    }
  }

  /** Called at the end of the source: the body must have ended where the framing allows it to. */
  finish(): void {
    // Clients (the JS SDK among them) may end the body right after the final chunk or the last trailer
    // line, leaving out the closing empty line; nothing can be missing then except a trailer signature.
    if (this.phase === 'trailer' && this.lineLength === 0) this.endTrailers();
    if (this.phase !== 'done') throw errors.incompleteBody();
  }

  trailers(): Record<string, string> {
    if (this.phase !== 'done')
      throw new Error('aws-chunked trailers are known only after the body is consumed');
    return { ...this.trailerValues };
  }

  /** Zeroes the copy of the signing key. */
  wipe(): void {
    if (this.chain) this.chain.signingKey.fill(0);
  }

  private appendLine(part: Buffer): void {
    this.lineLength += part.length;
    if (this.lineLength > MAX_LINE)
      throw errors.invalidChunk('An aws-chunked header or trailer line is too long.');
    this.line.push(part);
  }

  private takeLine(): string {
    const line = this.line.length === 1 ? this.line[0] : Buffer.concat(this.line, this.lineLength);
    this.line = [];
    this.lineLength = 0;
    if (line.length < 2 || line[line.length - 2] !== CR) {
      throw errors.invalidChunk('An aws-chunked header or trailer line does not end in CRLF.');
    }
    return line.toString('latin1', 0, line.length - 2);
  }

  private onChunkHeader(text: string): void {
    const [sizeText = '', ...extensions] = text.split(';');
    if (!/^[0-9a-fA-F]{1,13}$/.test(sizeText)) {
      throw errors.invalidChunk('An aws-chunked chunk size is not a hexadecimal number.');
    }
    const size = parseInt(sizeText, 16);
    if (this.chain) {
      // Bounded before any of it is buffered: a signed chunk is held whole until it verifies.
      if (size > MAX_SIGNED_CHUNK) {
        throw errors.invalidChunk(`A signed aws-chunked chunk must not exceed ${MAX_SIGNED_CHUNK} bytes.`);
      }
      const signature = extensions
        .map((e) => e.trim())
        .find((e) => e.startsWith('chunk-signature='))
        ?.slice('chunk-signature='.length);
      if (signature === undefined || !/^[0-9a-f]{64}$/.test(signature)) {
        throw errors.invalidChunk('A signed aws-chunked chunk lacks a valid chunk-signature.');
      }
      this.chunkSignature = signature;
    }
    if (size === 0) {
      if (this.chain) this.verifyChunk(EMPTY_SHA256);
      if (this.options.decodedLength !== undefined && this.decoded !== this.options.decodedLength) {
        throw errors.incompleteBody();
      }
      this.phase = 'trailer';
      return;
    }
    this.remaining = size;
    if (this.chain) this.chunkHash = createHash('sha256');
    this.phase = 'data';
  }

  private onTrailerLine(text: string): void {
    if (text === '') {
      this.endTrailers();
      return;
    }
    if (!this.options.trailer) {
      throw errors.invalidChunk(
        'The aws-chunked body has trailing headers, but x-amz-content-sha256 announced none.',
      );
    }
    if (this.trailerSigned)
      throw errors.invalidChunk('An aws-chunked trailer follows the trailer signature.');
    const colon = text.indexOf(':');
    if (colon <= 0) throw errors.invalidChunk('An aws-chunked trailer line is not "name:value".');
    const name = text.slice(0, colon).trim().toLowerCase();
    const value = text.slice(colon + 1).trim();
    if (name === 'x-amz-trailer-signature') {
      if (this.chain) this.verifyTrailer(value);
      this.trailerSigned = true;
      return;
    }
    if (++this.trailerCount > MAX_TRAILERS)
      throw errors.invalidChunk('The aws-chunked body has too many trailers.');
    if (Object.hasOwn(this.trailerValues, name)) {
      throw errors.invalidChunk(`The aws-chunked trailer ${name} appears more than once.`);
    }
    this.trailerValues[name] = value;
    this.trailerLines.push(`${name}:${value}\n`);
  }

  private endTrailers(): void {
    // Signed trailers must carry their signature, or a trailer could be appended by anyone on the path.
    if (this.chain && this.options.trailer && !this.trailerSigned) {
      throw errors.invalidChunk('The aws-chunked trailers lack x-amz-trailer-signature.');
    }
    this.phase = 'done';
  }

  private verifyChunk(dataSha256: string): void {
    const chain = this.chain!;
    this.checkSignature(
      this.chunkSignature,
      `AWS4-HMAC-SHA256-PAYLOAD\n${chain.amzDate}\n${chain.scope}\n${this.previousSignature}\n${EMPTY_SHA256}\n${dataSha256}`,
    );
  }

  private verifyTrailer(signature: string): void {
    const chain = this.chain!;
    if (!/^[0-9a-f]{64}$/.test(signature)) throw errors.signatureDoesNotMatch();
    const trailerHash = createHash('sha256').update(this.trailerLines.join(''), 'latin1').digest('hex');
    this.checkSignature(
      signature,
      `AWS4-HMAC-SHA256-TRAILER\n${chain.amzDate}\n${chain.scope}\n${this.previousSignature}\n${trailerHash}`,
    );
  }

  private checkSignature(provided: string, stringToSign: string): void {
    const expected = createHmac('sha256', this.chain!.signingKey)
      .update(stringToSign, 'latin1')
      .digest('hex');
    if (!timingSafeEqual(Buffer.from(expected, 'latin1'), Buffer.from(provided, 'latin1'))) {
      throw errors.signatureDoesNotMatch();
    }
    this.previousSignature = provided;
  }
}
