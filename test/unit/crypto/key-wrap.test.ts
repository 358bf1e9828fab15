import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type KeyBinding,
  unwrapDataKey,
  WRAPPED_KEY_LENGTH,
  wrapDataKey,
} from '../../../functions/core/crypto/index.js';
import { reasonOf } from './streams.js';

const kek = randomBytes(32);
const dataKey = randomBytes(32);
const binding: KeyBinding = {
  mode: 'aes256-gcm-proxy',
  keyId: 'prod-2026-06',
  bucket: 'photos',
  key: 'cat.jpg',
};

function unwrapReason(kekUsed: Uint8Array, wrapped: Uint8Array, bindingUsed: KeyBinding): string {
  try {
    unwrapDataKey(kekUsed, wrapped, bindingUsed);
  } catch (error) {
    return reasonOf(error);
  }
  throw new Error('the wrapped key opened');
}

describe('wrapDataKey / unwrapDataKey', () => {
  it('round-trips a data key under the same KEK and binding', () => {
    const wrapped = wrapDataKey(kek, dataKey, binding);
    expect(wrapped.byteLength).toBe(WRAPPED_KEY_LENGTH);
    expect(wrapped[0]).toBe(1);
    expect(Buffer.from(unwrapDataKey(kek, wrapped, binding))).toEqual(dataKey);
  });

  it('takes a fresh nonce for every wrap, so wrapping the same key twice differs', () => {
    expect(Buffer.from(wrapDataKey(kek, dataKey, binding))).not.toEqual(
      Buffer.from(wrapDataKey(kek, dataKey, binding)),
    );
  });

  it.each<[string, Partial<KeyBinding>]>([
    ['another bucket', { bucket: 'photos-copy' }],
    ['another key', { key: 'dog.jpg' }],
    ['another mode', { mode: 'aws-kms-envelope' }],
    ['another key id', { keyId: 'prod-2025-10' }],
    ['fields shifted between bucket and key', { bucket: 'photoscat.jpg', key: '' }],
  ])('refuses to unwrap a key moved to %s', (_, change) => {
    const wrapped = wrapDataKey(kek, dataKey, binding);
    expect(unwrapReason(kek, wrapped, { ...binding, ...change })).toBe('unwrap-failed');
  });

  it('refuses to unwrap under the wrong KEK', () => {
    const wrapped = wrapDataKey(kek, dataKey, binding);
    expect(unwrapReason(randomBytes(32), wrapped, binding)).toBe('unwrap-failed');
  });

  it('refuses a wrapped key with any bit flipped (except the version byte, refused as a version)', () => {
    const wrapped = wrapDataKey(kek, dataKey, binding);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: WRAPPED_KEY_LENGTH * 8 - 1 }), (bit) => {
        const tampered = Buffer.from(wrapped);
        tampered[bit >> 3] ^= 1 << (bit & 7);
        expect(unwrapReason(kek, tampered, binding)).toBe(bit < 8 ? 'unsupported-version' : 'unwrap-failed');
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a wrapped key that is not 61 bytes before decrypting anything', () => {
    const wrapped = wrapDataKey(kek, dataKey, binding);
    expect(unwrapReason(kek, wrapped.subarray(0, 60), binding)).toBe('bad-wrapped-key');
    expect(unwrapReason(kek, Buffer.concat([wrapped, Buffer.from([0])]), binding)).toBe('bad-wrapped-key');
  });

  it('refuses keys that are not 32 bytes as programming errors', () => {
    expect(() => wrapDataKey(kek.subarray(0, 16), dataKey, binding)).toThrow(
      'a key-encryption key must be 32 bytes',
    );
    expect(() => wrapDataKey(kek, dataKey.subarray(0, 31), binding)).toThrow('a data key must be 32 bytes');
    expect(() => wrapDataKey(kek, dataKey, binding, { nonce: new Uint8Array(8) })).toThrow(
      'a wrap nonce must be 12 bytes',
    );
    expect(() => unwrapDataKey(kek.subarray(1), wrapDataKey(kek, dataKey, binding), binding)).toThrow(
      RangeError,
    );
  });

  it('binds every field by its UTF-8 bytes, whatever the binding', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 20 });
    fc.assert(
      fc.property(
        fc.record({ mode: text, keyId: text, bucket: text, key: text }),
        fc.record({ mode: text, keyId: text, bucket: text, key: text }),
        (a, b) => {
          const wrapped = wrapDataKey(kek, dataKey, a);
          expect(Buffer.from(unwrapDataKey(kek, wrapped, a))).toEqual(dataKey);
          const same = a.mode === b.mode && a.keyId === b.keyId && a.bucket === b.bucket && a.key === b.key;
          if (!same) expect(unwrapReason(kek, wrapped, b)).toBe('unwrap-failed');
        },
      ),
      { numRuns: 200 },
    );
  });
});
