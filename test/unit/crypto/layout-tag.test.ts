import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decryptRange,
  deriveLayoutKey,
  layoutTag,
  verifyLayoutTag,
} from '../../../functions/core/crypto/index.js';
import { collect, expectSameBytes, reasonOf, splitAt, storeObject } from './streams.js';

const dataKey = randomBytes(32);
const layoutKey = deriveLayoutKey(dataKey);
const lengths = [5 * 2 ** 20, 5 * 2 ** 20, 1000];
const partNumbers = [1, 2, 5];
const tag = layoutTag(layoutKey, lengths, partNumbers);

function verifyReason(otherLengths: number[], otherParts: number[], otherTag: Uint8Array = tag): string {
  try {
    verifyLayoutTag(layoutKey, otherLengths, otherParts, otherTag);
  } catch (error) {
    return reasonOf(error);
  }
  return 'accepted';
}

describe('layout tags', () => {
  it('accept the layout they were made for', () => {
    expect(verifyReason(lengths, partNumbers)).toBe('accepted');
  });

  it.each<[string, number[], number[]]>([
    ['a part dropped from the end', lengths.slice(0, 2), [1, 2]],
    ['a part dropped from the middle', [lengths[0], lengths[2]], [1, 5]],
    ['a part added', [...lengths, 10], [...partNumbers, 6]],
    ['a part renumbered', lengths, [1, 3, 5]],
    ['a part resized', [lengths[0], lengths[1] - 1, lengths[2]], partNumbers],
  ])('reject %s', (_, otherLengths, otherParts) => {
    expect(verifyReason(otherLengths, otherParts)).toBe('layout-auth-failed');
  });

  it("reject another object's tag (another data key)", () => {
    const other = layoutTag(deriveLayoutKey(randomBytes(32)), lengths, partNumbers);
    expect(verifyReason(lengths, partNumbers, other)).toBe('layout-auth-failed');
  });

  it('reject a tag that is not 32 bytes', () => {
    expect(verifyReason(lengths, partNumbers, tag.subarray(0, 31))).toBe('layout-auth-failed');
  });

  it('refuse a layout that is invalid before computing anything', () => {
    expect(verifyReason(lengths, [2, 1, 5])).toBe('invalid-layout');
  });

  it('derive a layout key that differs from the data key', () => {
    expect(Buffer.from(layoutKey).equals(dataKey)).toBe(false);
  });
});

describe('decryptRange with a layout tag', () => {
  const parts = [randomBytes(70_000), randomBytes(70_000), randomBytes(10)];
  const numbers = [1, 2, 3];
  const sizes = parts.map((part) => part.byteLength);

  const stored = () => storeObject(dataKey, parts, numbers);

  it('reads a range when the layout matches its tag', async () => {
    const object = await stored();
    const range = { start: 69_990, end: 140_005 };
    const result = await collect(
      decryptRange({
        dataKey,
        segmentPlaintextLengths: sizes,
        partNumbers: numbers,
        range,
        layoutTag: layoutTag(layoutKey, sizes, numbers),
        fetch: (r) => splitAt(object.subarray(r.start, r.end + 1)),
      }),
    );
    expectSameBytes(result, Buffer.concat(parts).subarray(range.start, range.end + 1));
  });

  it('refuses, before fetching anything, an object whose last part was dropped with its metadata entry', async () => {
    const object = await stored();
    // The attacker removes part 3 from the body and from the layout: every remaining segment is intact.
    const cut = object.subarray(0, object.byteLength - (24 + 10 + 16));
    let fetched = 0;
    let caught: unknown;
    try {
      decryptRange({
        dataKey,
        segmentPlaintextLengths: sizes.slice(0, 2),
        partNumbers: [1, 2],
        range: { start: 0, end: 139_999 },
        layoutTag: layoutTag(layoutKey, sizes, numbers),
        fetch: (r) => {
          fetched++;
          return splitAt(cut.subarray(r.start, r.end + 1));
        },
      });
    } catch (error) {
      caught = error;
    }
    expect(reasonOf(caught)).toBe('layout-auth-failed');
    expect(fetched).toBe(0);
  });
});
