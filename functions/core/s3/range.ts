import type { ByteRange } from '../backend.js';
import { errors } from '../errors.js';

/**
 * Parses a `Range` header against an object of `size` bytes, as S3's GetObject does: one `bytes=` range,
 * first-last, open (`first-`) or suffix (`-n`). A header S3 would ignore (not `bytes=`, several ranges,
 * malformed numbers, last < first) yields undefined and the whole object is served with 200. A range
 * that starts at or beyond the end (or a zero-length suffix) is unsatisfiable: `InvalidRange`, 416.
 */
export function parseRange(header: string | null, size: number): ByteRange | undefined {
  if (header === null) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return undefined;
  const [, first, last] = match as unknown as [string, string, string];
  if (first === '' && last === '') return undefined;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) throw errors.invalidRange(size);
    if (size === 0) throw errors.invalidRange(size);
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return undefined;
  if (start >= size) throw errors.invalidRange(size);
  return { start, end };
}

/** The `Content-Range` value for a partial response. */
export function contentRange(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`;
}
