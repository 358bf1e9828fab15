import type { Body } from '../backend.js';
import { createChecksum, type ChecksumAlgorithm } from './checksums.js';

/**
 * Passes `body` through unchanged while computing its checksum; `value()` gives it (base64) once the body
 * has ended whole, and throws before that.
 */
export function checksumTapped(
  body: Body,
  algorithm: ChecksumAlgorithm,
): { body: Body; value: () => string } {
  let value: string | undefined;
  async function* tapped(): AsyncGenerator<Uint8Array> {
    const checksum = createChecksum(algorithm);
    for await (const piece of body) {
      checksum.update(piece);
      yield piece;
    }
    value = checksum.digest().toString('base64');
  }
  return {
    body: tapped(),
    value: () => {
      if (value === undefined) throw new Error('the checksum is known only once the body has ended');
      return value;
    },
  };
}
