import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeAwsChunked } from '../../../functions/core/auth/aws-chunked.js';
import { signingKey, type ChunkChain } from '../../../functions/core/auth/sigv4.js';
import { S3Error } from '../../../functions/core/errors.js';
import {
  chunkSignatures,
  drain,
  encodeSigned,
  encodeSignedWith,
  encodeUnsigned,
  split,
  trailerSignature,
} from '../../support/chunked-encoding.js';
import { AWS_EXAMPLE_SECRET } from './signing.js';

/** The chain of AWS's chunked-upload examples (sigv4-streaming and sigv4-streaming-trailers). */
function docChain(seedSignature: string): ChunkChain {
  return {
    signingKey: signingKey(AWS_EXAMPLE_SECRET, '20130524', 'us-east-1'),
    scope: '20130524/us-east-1/s3/aws4_request',
    amzDate: '20130524T000000Z',
    seedSignature,
  };
}

const DOC_SEED = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9';
const DOC_SIGNATURES = [
  'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
  '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
  'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
];
const DOC_TRAILER_SEED = '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e';
const DOC_TRAILER_SIGNATURES = [
  'b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2',
  '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7',
  '2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992',
];
const DOC_TRAILER_SIGNATURE = 'd81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435';
const DOC_CHUNKS = [Buffer.alloc(65536, 'a'), Buffer.alloc(1024, 'a')];
const DOC_DATA = Buffer.alloc(66560, 'a');

const testChain: ChunkChain = {
  signingKey: signingKey('test-secret', '20260301', 'eu-west-1'),
  scope: '20260301/eu-west-1/s3/aws4_request',
  amzDate: '20260301T120000Z',
  seedSignature: 'f'.repeat(64),
};

function codeOf(error: unknown): string {
  if (error instanceof S3Error) return error.code;
  throw error instanceof Error ? error : new Error(String(error));
}

describe("AWS's published chunked-upload examples", () => {
  it('decodes the signed example body to its 66560 bytes, verifying every published chunk signature', async () => {
    const body = encodeSignedWith(DOC_CHUNKS, DOC_SIGNATURES);
    const decoded = decodeAwsChunked(split(body), {
      chain: docChain(DOC_SEED),
      trailer: false,
      decodedLength: 66560,
    });
    const { data, error } = await drain(decoded.body);
    expect(error).toBeUndefined();
    expect(data.equals(DOC_DATA)).toBe(true);
  });

  it('computes the same chunk signatures as the example publishes (so the test encoder is right too)', () => {
    expect(chunkSignatures(docChain(DOC_SEED), DOC_CHUNKS)).toEqual(DOC_SIGNATURES);
  });

  it('decodes the signed example with a trailer, verifying the published trailer signature', async () => {
    const body = encodeSignedWith(DOC_CHUNKS, DOC_TRAILER_SIGNATURES, {
      lines: [['x-amz-checksum-crc32c', 'sOO8/Q==']],
      signature: DOC_TRAILER_SIGNATURE,
    });
    const decoded = decodeAwsChunked(split(body, [10, 70000]), {
      chain: docChain(DOC_TRAILER_SEED),
      trailer: true,
      decodedLength: 66560,
    });
    const { data, error } = await drain(decoded.body);
    expect(error).toBeUndefined();
    expect(data.equals(DOC_DATA)).toBe(true);
    expect(decoded.trailers()).toEqual({ 'x-amz-checksum-crc32c': 'sOO8/Q==' });
  });

  it('decodes the signed example identically however the input is split', async () => {
    const body = encodeSignedWith(DOC_CHUNKS, DOC_SIGNATURES);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: body.length }), { maxLength: 40 }),
        async (cuts) => {
          const decoded = decodeAwsChunked(split(body, cuts), { chain: docChain(DOC_SEED), trailer: false });
          const { data, error } = await drain(decoded.body);
          expect(error).toBeUndefined();
          expect(data.equals(DOC_DATA)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('signed aws-chunked bodies', () => {
  it('round-trips random data in random chunk sizes, split at random byte boundaries', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 3000 }), { maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        fc.boolean(),
        async (chunks, cuts, withTrailer) => {
          const trailers: [string, string][] | undefined = withTrailer
            ? [['x-amz-checksum-crc32', 'AAAAAA==']]
            : undefined;
          const body = encodeSigned(testChain, chunks, trailers);
          const total = chunks.reduce((n, c) => n + c.length, 0);
          const decoded = decodeAwsChunked(
            split(
              body,
              cuts.map((c) => c % (body.length + 1)),
            ),
            {
              chain: testChain,
              trailer: withTrailer,
              decodedLength: total,
            },
          );
          const { data, error } = await drain(decoded.body);
          expect(error).toBeUndefined();
          expect(data.equals(Buffer.concat(chunks))).toBe(true);
          expect(decoded.trailers()).toEqual(withTrailer ? { 'x-amz-checksum-crc32': 'AAAAAA==' } : {});
        },
      ),
      { numRuns: 150 },
    );
  });

  it('rejects a chunk whose data was altered before releasing any byte of that chunk', async () => {
    const chunks = [randomBytes(5000), randomBytes(5000), randomBytes(5000)];
    const body = encodeSigned(testChain, chunks);
    // Each frame is a header (size, ';chunk-signature=', 64 hex, CRLF), the data, and CRLF.
    const header = `1388;chunk-signature=${'0'.repeat(64)}\r\n`.length;
    const secondData = header + 5000 + 2 + header;
    body[secondData + 100] ^= 1;
    const { data, error } = await drain(
      decodeAwsChunked(split(body, [7, 9000]), { chain: testChain, trailer: false }).body,
    );
    expect(codeOf(error)).toBe('SignatureDoesNotMatch');
    expect(data.equals(chunks[0])).toBe(true);
  });

  it('rejects chunks moved to another position in the chain, before releasing either', async () => {
    const chunks = [randomBytes(100), randomBytes(100)];
    const signatures = chunkSignatures(testChain, chunks);
    const swapped = encodeSignedWith([chunks[1], chunks[0]], [signatures[1], signatures[0], signatures[2]]);
    const { data, error } = await drain(
      decodeAwsChunked(split(swapped), { chain: testChain, trailer: false }).body,
    );
    expect(codeOf(error)).toBe('SignatureDoesNotMatch');
    expect(data.length).toBe(0);
  });

  it('rejects a chain replayed under another seed signature', async () => {
    const body = encodeSigned(testChain, [randomBytes(10)]);
    const other = { ...testChain, seedSignature: 'e'.repeat(64) };
    const { error } = await drain(decodeAwsChunked(split(body), { chain: other, trailer: false }).body);
    expect(codeOf(error)).toBe('SignatureDoesNotMatch');
  });

  it('rejects a final chunk with a forged signature, so a truncated upload cannot pass as complete', async () => {
    const chunks = [randomBytes(10)];
    const signatures = chunkSignatures(testChain, chunks);
    const body = encodeSignedWith(chunks, [signatures[0], '0'.repeat(64)]);
    const { error } = await drain(decodeAwsChunked(split(body), { chain: testChain, trailer: false }).body);
    expect(codeOf(error)).toBe('SignatureDoesNotMatch');
  });

  it('rejects a trailer whose value was altered after signing', async () => {
    const chunks = [randomBytes(10)];
    const signatures = chunkSignatures(testChain, chunks);
    const signature = trailerSignature(testChain, signatures[1], [['x-amz-checksum-crc32', 'AAAAAA==']]);
    const body = encodeSignedWith(chunks, signatures, {
      lines: [['x-amz-checksum-crc32', 'BBBBBB==']],
      signature,
    });
    const { error } = await drain(decodeAwsChunked(split(body), { chain: testChain, trailer: true }).body);
    expect(codeOf(error)).toBe('SignatureDoesNotMatch');
  });

  it('rejects a tampered trailer signature', async () => {
    const chunks = [randomBytes(10)];
    const signatures = chunkSignatures(testChain, chunks);
    const signature = trailerSignature(testChain, signatures[1], [['x-amz-checksum-crc32', 'AAAAAA==']]);
    const tampered = (signature[0] === 'a' ? 'b' : 'a') + signature.slice(1);
    const body = encodeSignedWith(chunks, signatures, {
      lines: [['x-amz-checksum-crc32', 'AAAAAA==']],
      signature: tampered,
    });
    const { error } = await drain(decodeAwsChunked(split(body), { chain: testChain, trailer: true }).body);
    expect(codeOf(error)).toBe('SignatureDoesNotMatch');
  });

  it('rejects signed trailers that come without x-amz-trailer-signature', async () => {
    const chunks = [randomBytes(10)];
    const body = Buffer.concat([
      encodeSignedWith(chunks, chunkSignatures(testChain, chunks)).subarray(0, -2),
      Buffer.from('x-amz-checksum-crc32:AAAAAA==\r\n\r\n'),
    ]);
    const { error } = await drain(decodeAwsChunked(split(body), { chain: testChain, trailer: true }).body);
    expect(codeOf(error)).toBe('InvalidRequest');
  });

  it('rejects a chunk that lacks its chunk-signature', async () => {
    const body = Buffer.from('3\r\nabc\r\n0\r\n\r\n');
    const { error } = await drain(decodeAwsChunked(split(body), { chain: testChain, trailer: false }).body);
    expect(codeOf(error)).toBe('InvalidRequest');
  });

  it('refuses a signed chunk larger than 16 MiB before buffering any of it', async () => {
    let pulled = 0;
    async function* source(): AsyncGenerator<Uint8Array> {
      pulled++;
      yield Buffer.from(`1000001;chunk-signature=${'a'.repeat(64)}\r\n`);
      pulled++;
      yield Buffer.alloc(1024);
    }
    const { error } = await drain(decodeAwsChunked(source(), { chain: testChain, trailer: false }).body);
    expect(codeOf(error)).toBe('InvalidRequest');
    expect(pulled).toBe(1);
  });
});

describe('unsigned aws-chunked bodies', () => {
  it('decodes the JS SDK encoding with a trailing checksum and exposes the trailer', async () => {
    const body = encodeUnsigned(
      [Buffer.from('hello '), Buffer.from('world')],
      [['x-amz-checksum-crc32', 'DUoRhQ==']],
    );
    const decoded = decodeAwsChunked(split(body, [3, 14]), { trailer: true, decodedLength: 11 });
    const { data, error } = await drain(decoded.body);
    expect(error).toBeUndefined();
    expect(data.toString()).toBe('hello world');
    expect(decoded.trailers()).toEqual({ 'x-amz-checksum-crc32': 'DUoRhQ==' });
  });

  it('accepts a body that ends right after the final chunk or the last trailer, without the closing empty line', async () => {
    for (const trailers of [[], [['x-amz-checksum-crc32', 'DUoRhQ==']]] as [string, string][][]) {
      const body = encodeUnsigned([Buffer.from('abc')], trailers, false);
      const decoded = decodeAwsChunked(split(body), { trailer: true });
      const { data, error } = await drain(decoded.body);
      expect(error).toBeUndefined();
      expect(data.toString()).toBe('abc');
    }
  });

  it('releases unsigned data as it arrives, before the chunk is complete', async () => {
    const released: number[] = [];
    async function* source(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('a\r\n01234');
      released.push(-1);
      yield Buffer.from('56789\r\n0\r\n\r\n');
    }
    for await (const piece of decodeAwsChunked(source(), { trailer: false }).body)
      released.push(piece.length);
    expect(released).toEqual([5, -1, 5]);
  });

  it('round-trips random data split at random byte boundaries', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 2000 }), { maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        async (chunks, cuts) => {
          const body = encodeUnsigned(chunks, [['x-amz-checksum-sha256', 'x']]);
          const decoded = decodeAwsChunked(
            split(
              body,
              cuts.map((c) => c % (body.length + 1)),
            ),
            { trailer: true },
          );
          const { data, error } = await drain(decoded.body);
          expect(error).toBeUndefined();
          expect(data.equals(Buffer.concat(chunks))).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('malformed aws-chunked framing', () => {
  const cases: [string, string, { trailer: boolean; decodedLength?: number }, string][] = [
    ['a chunk size that is not hexadecimal', 'zz\r\nabc\r\n0\r\n\r\n', { trailer: false }, 'InvalidRequest'],
    ['chunk data not followed by CRLF', '3\r\nabcX\r\n0\r\n\r\n', { trailer: false }, 'InvalidRequest'],
    ['a chunk header ended by a bare LF', '3\nabc\r\n0\r\n\r\n', { trailer: false }, 'InvalidRequest'],
    ['a body that ends inside chunk data', '10\r\nabc', { trailer: false }, 'IncompleteBody'],
    ['a body without its final chunk', '3\r\nabc\r\n', { trailer: false }, 'IncompleteBody'],
    ['a body that ends inside the final chunk header', '3\r\nabc\r\n0', { trailer: false }, 'IncompleteBody'],
    [
      'bytes after the closing empty line',
      '3\r\nabc\r\n0\r\n\r\ngarbage',
      { trailer: false },
      'InvalidRequest',
    ],
    [
      'a trailer when x-amz-content-sha256 announced none',
      '3\r\nabc\r\n0\r\nx-a:b\r\n\r\n',
      { trailer: false },
      'InvalidRequest',
    ],
    [
      'a trailer line without a colon',
      '3\r\nabc\r\n0\r\nnocolon\r\n\r\n',
      { trailer: true },
      'InvalidRequest',
    ],
    [
      'less data than x-amz-decoded-content-length',
      '3\r\nabc\r\n0\r\n\r\n',
      { trailer: false, decodedLength: 4 },
      'IncompleteBody',
    ],
    [
      'more data than x-amz-decoded-content-length',
      '3\r\nabc\r\n0\r\n\r\n',
      { trailer: false, decodedLength: 2 },
      'InvalidRequest',
    ],
    [
      'a header line longer than any real one',
      `${'0'.repeat(5000)}3\r\nabc\r\n0\r\n\r\n`,
      { trailer: false },
      'InvalidRequest',
    ],
  ];
  for (const [what, body, options, code] of cases) {
    it(`rejects ${what} with ${code}`, async () => {
      const { error } = await drain(decodeAwsChunked(split(Buffer.from(body)), options).body);
      expect(codeOf(error)).toBe(code);
    });
  }

  it('refuses to report trailers before the body has been consumed', () => {
    const decoded = decodeAwsChunked(split(Buffer.from('0\r\n\r\n')), { trailer: true });
    expect(() => decoded.trailers()).toThrow(/only after the body/);
  });
});
