/**
 * Fuzzing the parsers that take bytes from the network or from storage, each on its own: SigV4 headers and
 * presigned queries, aws-chunked bodies (signed, unsigned, with trailers), Range, the XML documents S3
 * takes, the ciphertext decoder (whole objects and ranges), the config loader (text and documents), and the
 * admin API's JSON bodies. Inputs are random, and valid inputs mutated (bytes flipped, cut, repeated). Every
 * case ends in a result or in the parser's own error (which the gateway turns into a clear S3, format or
 * config error), never in another exception; what is decoded is checked where a valid input says what it
 * must be. A hang fails by the suite's timeout. `FUZZ_RUNS` sets the cases per property (budget.ts).
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readJsonBody } from '../../functions/core/admin/admin-body.js';
import { AdminError } from '../../functions/core/admin/admin-errors.js';
import { decodeAwsChunked } from '../../functions/core/auth/aws-chunked.js';
import { StaticCredentialStore } from '../../functions/core/auth/credentials.js';
import {
  authenticate,
  signingKey,
  type Authenticated,
  type ChunkChain,
} from '../../functions/core/auth/sigv4.js';
import { ConfigError } from '../../functions/core/config/config-error.js';
import { parseConfigText } from '../../functions/core/config/config-text.js';
import { parseConfig } from '../../functions/core/config/schema.js';
import {
  decryptRange,
  decryptSegment,
  encryptSegment,
  FormatError,
} from '../../functions/core/crypto/index.js';
import { S3Error } from '../../functions/core/errors.js';
import { parseRange } from '../../functions/core/s3/range.js';
import { parseXml } from '../../functions/core/xml.js';
import { drain, encodeSigned, encodeUnsigned, split } from '../support/chunked-encoding.js';
import { budget, onlyClearErrors } from './budget.js';

/** A valid input with some of its bytes changed: flipped, cut out, repeated, or cut short. */
function mutated(valid: Uint8Array): fc.Arbitrary<Buffer> {
  const edit = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bits: fc.integer({ min: 1, max: 255 }) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
    fc.record({
      kind: fc.constant('repeat' as const),
      at: fc.nat(),
      length: fc.integer({ min: 1, max: 64 }),
    }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({
      kind: fc.constant('insert' as const),
      at: fc.nat(),
      bytes: fc.uint8Array({ maxLength: 16 }),
    }),
  );
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    let bytes = Buffer.from(valid);
    for (const e of edits) {
      const at = bytes.length === 0 ? 0 : e.at % bytes.length;
      if (e.kind === 'flip' && bytes.length > 0) bytes[at] ^= e.bits;
      else if (e.kind === 'cut')
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + e.length)]);
      else if (e.kind === 'repeat')
        bytes = Buffer.concat([bytes.subarray(0, at + e.length), bytes.subarray(at)]);
      else if (e.kind === 'truncate') bytes = bytes.subarray(0, at);
      else if (e.kind === 'insert')
        bytes = Buffer.concat([bytes.subarray(0, at), e.bytes, bytes.subarray(at)]);
    }
    return bytes;
  });
}

/** Where a stream of `length` bytes may be cut into pieces. */
const cuts = fc.array(fc.nat({ max: 200_000 }), { maxLength: 8 });

/** Text that looks like the grammar under test some of the time, and like anything the rest. */
const textish = (pieces: string[]) =>
  fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc
      .array(fc.oneof(fc.constantFrom(...pieces), fc.string({ maxLength: 8 })), { maxLength: 30 })
      .map((p) => p.join('')),
  );

describe('SigV4: Authorization headers and presigned queries', () => {
  const SECRET = 'fuzz-secret-key-0001';
  const store = new StaticCredentialStore([
    {
      accessKeyId: 'AKIDFUZZ',
      secretAccessKey: SECRET,
      admin: false,
      grants: [{ bucket: '*', access: ['read', 'write'] }],
    },
  ]);
  const now = new Date('2026-12-01T12:00:00Z');
  const authPieces = [
    'AWS4-HMAC-SHA256 ',
    'Credential=',
    'AKIDFUZZ/',
    '20261201/',
    'us-east-1/',
    's3/',
    'aws4_request',
    ',',
    ' SignedHeaders=',
    'host;x-amz-date',
    ';x-amz-content-sha256',
    ' Signature=',
    'a'.repeat(64),
    '=',
    ', ',
    '%',
  ];
  const queryPieces = [
    'X-Amz-Algorithm=AWS4-HMAC-SHA256',
    'X-Amz-Credential=AKIDFUZZ%2F20261201%2Fus-east-1%2Fs3%2Faws4_request',
    'X-Amz-Date=20261201T120000Z',
    'X-Amz-Expires=',
    '604801',
    '-1',
    'X-Amz-SignedHeaders=host',
    'X-Amz-Signature=',
    'AWSAccessKeyId=AKIDFUZZ',
    'Signature=',
    'Expires=',
    '&',
    '=',
    '%',
    '%zz',
    '+',
    'uploads',
  ];

  it('answers any Authorization header and query with a result or an S3 error', async () => {
    await fc.assert(
      fc.asyncProperty(
        textish(authPieces),
        textish(queryPieces),
        fc.constantFrom('20261201T120000Z', '20261201T115000Z', 'garbage', ''),
        fc.constantFrom('UNSIGNED-PAYLOAD', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'e3b0', ''),
        async (authorization, rawQuery, amzDate, payload) => {
          const headers = new Headers({ host: '127.0.0.1:9000' });
          // Header values a Web Request refuses (control characters) cannot reach the gateway at all.
          const set = (name: string, value: string) => {
            try {
              headers.set(name, value);
            } catch {
              // not a valid header value: skipped, as an HTTP parser would refuse it
            }
          };
          if (authorization !== '') set('authorization', authorization);
          if (amzDate !== '') set('x-amz-date', amzDate);
          if (payload !== '') set('x-amz-content-sha256', payload);
          const request = new Request('http://127.0.0.1:9000/bucket/key', { headers });
          const outcome = await onlyClearErrors(
            () => authenticate(request, { rawPath: '/bucket/key', rawQuery, secure: false }, store, now),
            [S3Error],
          );
          // Nothing random carries a valid signature by this secret.
          expect(outcome).toBeInstanceOf(S3Error);
        },
      ),
      budget(),
    );
  });
});

describe('aws-chunked bodies', () => {
  const chain: ChunkChain = {
    signingKey: signingKey('fuzz-secret', '20261201', 'us-east-1'),
    scope: '20261201/us-east-1/s3/aws4_request',
    amzDate: '20261201T120000Z',
    seedSignature: 'c'.repeat(64),
  };
  const chunks = fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 4 });
  const trailers = fc.constantFrom<[string, string][]>([], [['x-amz-checksum-crc32', 'AAAAAA==']]);

  it('decodes a signed body changed anywhere to the original data or an S3 error, never other bytes', async () => {
    const cases = fc
      .tuple(chunks, trailers)
      .chain(([data, trailer]) =>
        fc.tuple(fc.constant(data), fc.constant(trailer), mutated(encodeSigned(chain, data, trailer)), cuts),
      );
    await fc.assert(
      fc.asyncProperty(cases, async ([data, trailer, body, at]) => {
        const decoded = decodeAwsChunked(split(body, at), { chain, trailer: trailer.length > 0 });
        const { data: released, error } = await drain(decoded.body);
        if (error !== undefined) {
          expect(error).toBeInstanceOf(S3Error);
          // Only chunks whose signature verified were released, so what came out is a prefix of the data.
          expect(Buffer.concat(data).subarray(0, released.length).equals(released)).toBe(true);
        } else {
          expect(released.equals(Buffer.concat(data))).toBe(true);
        }
      }),
      budget(),
    );
  });

  it('decodes an unsigned body or any bytes at all to data or an S3 error, within its declared length', async () => {
    const unsignedBodies = fc.oneof(
      fc.tuple(chunks, trailers).chain(([data, trailer]) => mutated(encodeUnsigned(data, trailer))),
      fc.uint8Array({ maxLength: 400 }).map((bytes) => Buffer.from(bytes)),
      textish([
        '0',
        'ffffffff',
        'FFFFFFFFFFFFFFFF',
        '\r\n',
        ';chunk-signature=',
        'x-amz-checksum-crc32:',
        ':',
      ]).map((text) => Buffer.from(text, 'latin1')),
    );
    await fc.assert(
      fc.asyncProperty(
        unsignedBodies,
        cuts,
        fc.boolean(),
        fc.option(fc.nat({ max: 10_000 }), { nil: undefined }),
        async (body, at, trailer, decodedLength) => {
          const decoded = decodeAwsChunked(split(body, at), { trailer, decodedLength });
          const { data, error } = await drain(decoded.body);
          if (error !== undefined) expect(error).toBeInstanceOf(S3Error);
          else if (decodedLength !== undefined) expect(data.length).toBe(decodedLength);
          // The frames' sizes are not believed before the bytes arrive: nothing decodes to more than was sent.
          expect(data.length).toBeLessThanOrEqual(body.length);
        },
      ),
      budget(),
    );
  });

  it('refuses a signed chunk header claiming gigabytes before buffering it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 16 * 2 ** 20 + 1, max: 2 ** 52 }), async (size) => {
        const body = Buffer.from(`${size.toString(16)};chunk-signature=${'0'.repeat(64)}\r\nabc`);
        const before = process.memoryUsage().arrayBuffers;
        const { error } = await drain(decodeAwsChunked(split(body), { chain, trailer: false }).body);
        expect(error).toBeInstanceOf(S3Error);
        expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 2 ** 20);
      }),
      budget(0.2),
    );
  });
});

describe('Range', () => {
  it('gives no range, a range inside the object, or InvalidRange, for any header and size', async () => {
    const header = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc
        .tuple(
          fc.option(fc.bigInt({ min: 0n, max: 10n ** 30n })),
          fc.option(fc.bigInt({ min: 0n, max: 10n ** 30n })),
        )
        .map(([a, b]) => `bytes=${a ?? ''}-${b ?? ''}`),
      fc.constantFrom(
        'bytes=',
        'bytes=-',
        'bytes=0-0,1-1',
        'bytes= 1-2',
        'bytes=1-2 ',
        'items=0-1',
        'bytes=-0',
      ),
    );
    await fc.assert(
      fc.asyncProperty(fc.option(header, { nil: null }), fc.nat({ max: 2 ** 40 }), async (value, size) => {
        const outcome = await onlyClearErrors(() => parseRange(value, size), [S3Error]);
        if (outcome instanceof S3Error) {
          expect(outcome.code).toBe('InvalidRange');
        } else if (outcome !== undefined) {
          const range = outcome as { start: number; end: number };
          expect(Number.isSafeInteger(range.start) && Number.isSafeInteger(range.end)).toBe(true);
          expect(0 <= range.start && range.start <= range.end && range.end < size).toBe(true);
        }
      }),
      budget(3),
    );
  });
});

describe('XML documents', () => {
  const xmlPieces = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<Delete>',
    '</Delete>',
    '<Object>',
    '</Object>',
    '<Key>',
    '</Key>',
    '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
    '</CompleteMultipartUpload>',
    '<Part>',
    '</Part>',
    '<PartNumber>',
    '</PartNumber>',
    '<ETag>',
    '</ETag>',
    '&amp;',
    '&lt;',
    '&#x41;',
    '&#1114112;',
    '&unknown;',
    '<![CDATA[',
    ']]>',
    '<!--',
    '-->',
    '<!DOCTYPE x [<!ENTITY a "aaaa">]>',
    '&a;',
    '<a/>',
    '<',
    '>',
    '"',
    '<ns:Key>',
    '</ns:Key>',
  ];

  it('parses any text to elements or MalformedXML, and never expands an entity it was not built with', async () => {
    await fc.assert(
      fc.asyncProperty(textish(xmlPieces), async (text) => {
        const outcome = await onlyClearErrors(() => parseXml(text), [S3Error]);
        if (outcome instanceof S3Error) expect(outcome.code).toBe('MalformedXML');
        if (text.includes('<!DOCTYPE')) expect(outcome).toBeInstanceOf(S3Error);
      }),
      budget(3),
    );
  });

  it('refuses elements nested past its depth limit without overflowing the stack', () => {
    // 33 levels (depths 0 to 32) are allowed; one more is refused, and so is far more.
    for (const depth of [34, 1000, 100_000]) {
      const text = '<a>'.repeat(depth) + '</a>'.repeat(depth);
      expect(() => parseXml(text)).toThrow(S3Error);
    }
  });
});

describe('the ciphertext decoder', () => {
  const key = randomBytes(32);

  async function sealed(plaintext: Uint8Array, partNumber = 0): Promise<Buffer> {
    const out: Uint8Array[] = [];
    const source = (async function* () {
      yield plaintext;
    })();
    for await (const piece of encryptSegment(source, key, {
      partNumber,
      plaintextLength: plaintext.length,
    })) {
      out.push(piece);
    }
    return Buffer.concat(out);
  }

  it('opens a segment changed anywhere to an error, releasing only verified plaintext', async () => {
    // Empty, short, exactly one chunk, and several chunks with a short last one.
    const prepared = await Promise.all(
      [0, 100, 65_536, 140_000].map(async (length): Promise<[Buffer, Buffer]> => {
        const plaintext = randomBytes(length);
        return [plaintext, await sealed(plaintext)];
      }),
    );
    const mutations = fc
      .nat({ max: prepared.length - 1 })
      .chain((i) => fc.tuple(fc.constant(i), mutated(prepared[i][1]), cuts));
    await fc.assert(
      fc.asyncProperty(mutations, async ([i, stored, at]) => {
        const [plaintext] = prepared[i];
        const outcome = await onlyClearErrors(async () => {
          const opened = decryptSegment(split(stored.subarray(24), at), key, {
            partNumber: 0,
            header: stored.subarray(0, 24),
            firstChunk: 0,
            segmentPlaintextLength: plaintext.length,
          });
          return drain(opened);
        }, [FormatError]);
        if (outcome instanceof FormatError) return;
        const { data, error } = outcome as Awaited<ReturnType<typeof drain>>;
        // Whatever came out before a failure verified, so it is the plaintext's prefix; a whole success is
        // the plaintext itself (a mutation that changed nothing).
        expect(Buffer.from(plaintext).subarray(0, data.length).equals(data)).toBe(true);
        if (error === undefined) expect(data.length).toBe(plaintext.length);
        else expect(error).toBeInstanceOf(FormatError);
      }),
      budget(0.5),
    );
  });

  it('answers any stored layout and range with plaintext or a format error, never sized by the layout', async () => {
    const layouts = fc.record({
      lengths: fc.array(
        fc.oneof(fc.nat({ max: 200_000 }), fc.constantFrom(0, 5 * 2 ** 40, 2 ** 53, -1, 0.5)),
        {
          minLength: 0,
          maxLength: 5,
        },
      ),
      parts: fc.array(fc.oneof(fc.nat({ max: 10_001 }), fc.constant(-1)), { maxLength: 5 }),
      start: fc.nat({ max: 400_000 }),
      span: fc.nat({ max: 400_000 }),
      stored: fc.uint8Array({ maxLength: 300 }),
    });
    await fc.assert(
      fc.asyncProperty(layouts, async ({ lengths, parts, start, span, stored }) => {
        const before = process.memoryUsage().arrayBuffers;
        const outcome = await onlyClearErrors(async () => {
          const opened = decryptRange({
            dataKey: key,
            segmentPlaintextLengths: lengths,
            partNumbers: parts,
            range: { start, end: start + span },
            fetch: () => split(stored),
          });
          return drain(opened);
        }, [FormatError]);
        if (!(outcome instanceof FormatError)) {
          const { error } = outcome as Awaited<ReturnType<typeof drain>>;
          // Random bytes never carry a valid tag.
          expect(error).toBeInstanceOf(FormatError);
        }
        expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 * 2 ** 20);
      }),
      budget(),
    );
  });
});

describe('the config loader', () => {
  const yamlPieces = [
    'backends:\n',
    '  - name: a\n',
    '    type: filesystem\n',
    '    type: s3\n',
    '    path: ./data\n',
    '    encryption:\n',
    '      mode: aes256-gcm-proxy\n',
    '      mode: aws-kms-envelope\n',
    `      key: "${'ab'.repeat(32)}"\n`,
    '      key_id: k1\n',
    '      kms_cache_seconds: 99999\n',
    'buckets:\n',
    '  - name: b\n',
    '    backend: a\n',
    'credentials:\n',
    '  - access_key_id: X\n',
    '    secret_access_key: ${env:S}\n',
    '${env:',
    '${file:/etc/passwd}',
    '&a [*a, *a]\n',
    '*a\n',
    '!!binary',
    '- ',
    ': ',
    '{',
    '}',
    '[',
    ']',
    "'",
    '"',
    '\t',
    '\n',
  ];

  it('loads any text to a config or a config error', async () => {
    await fc.assert(
      fc.asyncProperty(textish(yamlPieces), async (text) => {
        const outcome = await onlyClearErrors(
          () => parseConfigText(text, { S: 'secret' }, 'fuzz.yaml'),
          [ConfigError],
        );
        if (outcome instanceof ConfigError) expect(outcome.message.length).toBeGreaterThan(0);
      }),
      budget(),
    );
  });

  it('validates any JSON-like document to a config or a config error', async () => {
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.jsonValue(),
        fc.dictionary(
          fc.constantFrom(
            'backends',
            'buckets',
            'credentials',
            'name',
            'type',
            'path',
            'encryption',
            'mode',
            'key',
            'key_id',
            'endpoint',
            'region',
            'grants',
            'bucket',
            'access',
            'default_backend',
            'admin',
            '__proto__',
          ),
          tie('node'),
          { maxKeys: 6 },
        ),
        fc.array(tie('node'), { maxLength: 4 }),
      ),
    })).node;
    await fc.assert(
      fc.asyncProperty(value, async (document) => {
        await onlyClearErrors(() => parseConfig(document), [ConfigError]);
      }),
      budget(),
    );
  });
});

describe("the admin API's JSON bodies", () => {
  const unsignedPayload = { payload: { kind: 'unsigned' } } as unknown as Authenticated;

  it('reads any body to a JSON object or a 400', async () => {
    const bodies = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      textish(['{', '}', '[', ']', '"a":', '1e999', '-', 'null', 'true', '\\u0000', '"__proto__":{}', ',']),
    );
    await fc.assert(
      fc.asyncProperty(bodies, async (text) => {
        const request = new Request('http://127.0.0.1/_sealgate/admin/config', { method: 'PUT', body: text });
        const outcome = await onlyClearErrors(
          () => readJsonBody(request, unsignedPayload),
          [AdminError, S3Error],
        );
        if (outcome instanceof AdminError) expect(outcome.status).toBe(400);
        else if (!(outcome instanceof S3Error)) {
          expect(outcome).toBeTypeOf('object');
          expect(Array.isArray(outcome)).toBe(false);
        }
      }),
      budget(),
    );
  });

  it('refuses a body over its bound without holding all of it', async () => {
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new Uint8Array(64 * 1024)); // endless
      },
    });
    const request = new Request('http://127.0.0.1/_sealgate/admin/config', {
      method: 'PUT',
      body,
      duplex: 'half',
    });
    await expect(readJsonBody(request, unsignedPayload)).rejects.toThrow(/larger than/);
  });
});
