import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { S3Error } from '../../../functions/core/errors.js';
import { createChecksum } from '../../../functions/core/integrity/checksums.js';
import { verifyBody, type BodyExpectations } from '../../../functions/core/integrity/verify-body.js';

async function* pieces(...parts: (string | Uint8Array)[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield typeof part === 'string' ? Buffer.from(part) : part;
}

async function consume(body: AsyncIterable<Uint8Array>): Promise<{ data: Buffer; error?: unknown }> {
  const seen: Buffer[] = [];
  try {
    for await (const piece of body) seen.push(Buffer.from(piece));
  } catch (error) {
    return { data: Buffer.concat(seen), error };
  }
  return { data: Buffer.concat(seen) };
}

function codeOf(error: unknown): string {
  if (error instanceof S3Error) return error.code;
  throw error instanceof Error ? error : new Error(String(error));
}

const md5 = (text: string): Buffer => createHash('md5').update(text).digest();
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const crc32 = (text: string): string => {
  const c = createChecksum('crc32');
  c.update(Buffer.from(text));
  return c.digest().toString('base64');
};

describe('verifyBody', () => {
  it('passes a body through unchanged and reports its length, MD5 and checksum', async () => {
    const verified = verifyBody(pieces('hello ', '', 'world'), {
      length: 11,
      contentMd5: md5('hello world').toString('base64'),
      sha256: sha256('hello world'),
      checksum: { algorithm: 'crc32', value: crc32('hello world') },
    });
    const { data, error } = await consume(verified.body);
    expect(error).toBeUndefined();
    expect(data.toString()).toBe('hello world');
    expect(verified.digests()).toEqual({
      length: 11,
      md5: md5('hello world'),
      checksum: { algorithm: 'crc32', value: crc32('hello world') },
    });
  });

  it('computes the MD5 when asked even without a Content-MD5, and skips it otherwise', async () => {
    const asked = verifyBody(pieces('abc'), { md5: true });
    await consume(asked.body);
    expect(asked.digests().md5).toEqual(md5('abc'));
    const plain = verifyBody(pieces('abc'), {});
    await consume(plain.body);
    expect(plain.digests()).toEqual({ length: 3 });
  });

  it('computes a requested checksum that came without a value', async () => {
    const verified = verifyBody(pieces('abc'), { checksum: { algorithm: 'sha1' } });
    await consume(verified.body);
    expect(verified.digests().checksum).toEqual({
      algorithm: 'sha1',
      value: createHash('sha1').update('abc').digest('base64'),
    });
  });

  it('verifies a checksum that arrives in a trailer', async () => {
    const verified = verifyBody(pieces('abc'), {
      checksum: { algorithm: 'crc32', fromTrailer: () => crc32('abc') },
    });
    expect((await consume(verified.body)).error).toBeUndefined();
  });

  it('refuses to report digests before the body passed its checks', () => {
    const verified = verifyBody(pieces('abc'), {});
    expect(() => verified.digests()).toThrow(/only after the body passed/);
  });

  const failures: [string, BodyExpectations, string][] = [
    ['a body shorter than its declared length', { length: 12 }, 'IncompleteBody'],
    ['a body longer than its declared length', { length: 10 }, 'IncompleteBody'],
    ['a Content-MD5 mismatch', { contentMd5: md5('other').toString('base64') }, 'BadDigest'],
    ['a signed payload hash mismatch', { sha256: sha256('other') }, 'XAmzContentSHA256Mismatch'],
    ['a checksum header mismatch', { checksum: { algorithm: 'crc32', value: crc32('other') } }, 'BadDigest'],
    [
      'a trailer checksum mismatch',
      { checksum: { algorithm: 'crc32', fromTrailer: () => crc32('other') } },
      'BadDigest',
    ],
    [
      'a trailer checksum that was announced but never sent',
      { checksum: { algorithm: 'crc32', fromTrailer: () => undefined } },
      'InvalidRequest',
    ],
    [
      'a trailer checksum that is not valid base64 of 4 bytes',
      { checksum: { algorithm: 'crc32', fromTrailer: () => 'nope' } },
      'InvalidRequest',
    ],
  ];
  for (const [what, expect_, code] of failures) {
    it(`rejects ${what} with ${code}, without releasing the whole body`, async () => {
      const { data, error } = await consume(verifyBody(pieces('hello ', 'world'), expect_).body);
      expect(codeOf(error)).toBe(code);
      expect(data.length).toBeLessThan(11);
    });
  }

  it('names the algorithm in a checksum mismatch', async () => {
    const { error } = await consume(
      verifyBody(pieces('x'), { checksum: { algorithm: 'crc32', value: crc32('y') } }).body,
    );
    expect((error as S3Error).message).toBe('The CRC32 you specified did not match the calculated checksum.');
  });

  it('rejects a Content-MD5 that is not the base64 of 16 bytes with InvalidDigest, before reading', () => {
    for (const value of ['', 'abc', Buffer.alloc(15).toString('base64'), `${md5('x').toString('base64')}x`]) {
      expect(() => verifyBody(pieces('x'), { contentMd5: value })).toThrow(
        expect.objectContaining({ code: 'InvalidDigest' }),
      );
    }
  });

  it('rejects a malformed checksum header value before reading', () => {
    expect(() => verifyBody(pieces('x'), { checksum: { algorithm: 'sha256', value: 'AAAA' } })).toThrow(
      expect.objectContaining({ code: 'InvalidRequest' }),
    );
  });

  it('never hands a consumer the complete body of a request that fails a check', async () => {
    type Check = 'length' | 'md5' | 'sha256' | 'checksum' | 'trailer';
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }),
        fc.constantFrom<Check>('length', 'md5', 'sha256', 'checksum', 'trailer'),
        async (parts, failing) => {
          const whole = Buffer.concat(parts);
          const wrong = Buffer.concat([whole, Buffer.from('!')]).toString('latin1');
          const expectations: BodyExpectations = {
            length: failing === 'length' ? whole.length + 1 : whole.length,
            contentMd5: createHash('md5')
              .update(failing === 'md5' ? Buffer.from(wrong, 'latin1') : whole)
              .digest('base64'),
            sha256: createHash('sha256')
              .update(failing === 'sha256' ? Buffer.from(wrong, 'latin1') : whole)
              .digest('hex'),
            checksum: {
              algorithm: 'crc32c',
              fromTrailer: () => {
                const c = createChecksum('crc32c');
                c.update(failing === 'checksum' ? Buffer.from(wrong, 'latin1') : whole);
                return failing === 'trailer' ? undefined : c.digest().toString('base64');
              },
            },
          };
          const { data, error } = await consume(verifyBody(pieces(...parts), expectations).body);
          expect(error).toBeInstanceOf(S3Error);
          // An empty body has nothing to withhold; any other body must arrive short.
          if (whole.length > 0) expect(data.length).toBeLessThan(whole.length);
          expect(whole.subarray(0, data.length).equals(data)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('hands over every byte, in order, of a body that passes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), async (parts) => {
        const whole = Buffer.concat(parts);
        const verified = verifyBody(pieces(...parts), {
          length: whole.length,
          contentMd5: createHash('md5').update(whole).digest('base64'),
        });
        const { data, error } = await consume(verified.body);
        expect(error).toBeUndefined();
        expect(data.equals(whole)).toBe(true);
        expect(verified.digests().length).toBe(whole.length);
      }),
      { numRuns: 200 },
    );
  });
});
