/**
 * Where a part of a multipart object lies, and the byte ranges S3 reports. GetObject and HeadObject take
 * `partNumber` and answer with the part's Content-Range; some stores ignore it (moto does for multipart
 * objects), and then the range is worked out from the parts' lengths.
 */
import type { ByteRange, ObjectInfo } from '../../core/backend.js';
import { errors } from '../../core/errors.js';

const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+)$/;

/** A Content-Range response header's inclusive range and the whole object's size; undefined when absent or malformed. */
export function parseContentRange(value: string | undefined): (ByteRange & { total: number }) | undefined {
  const match = value === undefined ? null : CONTENT_RANGE.exec(value);
  return match ? { start: Number(match[1]), end: Number(match[2]), total: Number(match[3]) } : undefined;
}

/**
 * Part `partNumber`'s range from the lengths of the parts before it; `partLength` gives one part's length
 * (HeadObject with PartNumber). Undefined for an empty part. Throws InvalidPartNumber past the last part.
 */
export async function partRangeByLengths(
  info: ObjectInfo,
  partNumber: number,
  partLength: (partNumber: number) => Promise<number>,
): Promise<ByteRange | undefined> {
  const count = info.partsCount ?? 1;
  if (partNumber > count) throw errors.invalidPartNumber();
  if (count === 1) return info.size > 0 ? { start: 0, end: info.size - 1 } : undefined;
  let start = 0;
  for (let number = 1; number < partNumber; number++) start += await partLength(number);
  const length = await partLength(partNumber);
  return length > 0 ? { start, end: start + length - 1 } : undefined;
}
