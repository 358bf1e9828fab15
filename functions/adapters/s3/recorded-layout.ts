/**
 * The layout of a multipart object whose metadata the S3 backend replaced after completion.
 *
 * CompleteMultipartUpload takes no metadata, so markers known only at completion reach the object through a
 * CopyObject onto itself. That copy makes it, to S3, a new single-part object: its ETag becomes the MD5 of its
 * bytes and S3 forgets the part boundaries (AWS S3 then answers `partNumber` 1 with the whole object and any
 * other with 416). The gateway must still show the multipart ETag and serve parts, so the copy records both
 * as two internal markers of the S3 backend's own, which never reach the core:
 *
 * - `multipart-etag`: the quoted ETag CompleteMultipartUpload returned, `"<md5>-<parts>"`;
 * - `part-sizes`: the completed parts' stored sizes in order, comma-separated decimals, where a run of equal
 *   sizes may be written `<size>*<count>` (S3 allows 2 KB of metadata in all, and 1,000 parts of 5 MiB
 *   written out one by one would take 8 KB; as runs they take a dozen bytes).
 */
import type { ByteRange } from '../../core/backend.js';
import { errors } from '../../core/errors.js';

export const MULTIPART_ETAG = 'multipart-etag';
export const PART_SIZES = 'part-sizes';

/** A completed multipart object's ETag and its parts' sizes, as recorded before S3 forgot them. */
export interface RecordedLayout {
  etag: string;
  partSizes: number[];
}

/** The markers that record `layout`. */
export function layoutMarkers(layout: RecordedLayout): Record<string, string> {
  const runs: string[] = [];
  for (let i = 0; i < layout.partSizes.length;) {
    const size = layout.partSizes[i];
    let count = 1;
    while (layout.partSizes[i + count] === size) count++;
    runs.push(count === 1 ? String(size) : `${size}*${count}`);
    i += count;
  }
  return { [MULTIPART_ETAG]: layout.etag, [PART_SIZES]: runs.join(',') };
}

/**
 * Splits the layout markers out of the internal markers read back from S3: the core gets `internal`
 * without them.
 *
 * @throws Error when only one of them is present or either is malformed: only the gateway writes
 *   `sealgate-*` metadata, so that object was changed behind its back and its parts cannot be told.
 */
export function takeLayout(
  stored: Record<string, string>,
  key: string,
): { internal: Record<string, string>; layout?: RecordedLayout } {
  const { [MULTIPART_ETAG]: etag, [PART_SIZES]: sizes, ...internal } = stored;
  if (etag === undefined && sizes === undefined) return { internal };
  const partSizes = sizes === undefined ? undefined : parsePartSizes(sizes);
  const count = etag === undefined ? undefined : /^"[0-9a-f]+-(\d+)"$/.exec(etag)?.[1];
  if (!partSizes || count === undefined || Number(count) !== partSizes.length) {
    throw new Error(`the S3 backend's object ${key} carries a malformed multipart layout record`);
  }
  return { internal, layout: { etag, partSizes } };
}

/**
 * Refuses caller metadata that uses a layout marker's name: read back, it would pass for a recorded layout.
 *
 * @throws Error, a programming error of the caller (the core never sees these names).
 */
export function assertNoLayoutMarkers(internal: Record<string, string>): void {
  for (const name of [MULTIPART_ETAG, PART_SIZES]) {
    if (name in internal) throw new Error(`the internal marker name "${name}" is reserved by the S3 backend`);
  }
}

/** The stored size of the object a layout describes. */
export function layoutSize(layout: RecordedLayout): number {
  return layout.partSizes.reduce((sum, size) => sum + size, 0);
}

/**
 * Part `partNumber`'s byte range, counted from the recorded sizes; undefined for an empty part.
 *
 * @throws S3Error InvalidPartNumber past the last part, as S3 answers.
 */
export function recordedPartRange(layout: RecordedLayout, partNumber: number): ByteRange | undefined {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > layout.partSizes.length) {
    throw errors.invalidPartNumber();
  }
  const start = layout.partSizes.slice(0, partNumber - 1).reduce((sum, size) => sum + size, 0);
  const length = layout.partSizes[partNumber - 1];
  return length > 0 ? { start, end: start + length - 1 } : undefined;
}

/** 10,000 parts at most (S3's limit); each size a decimal no larger than JavaScript counts exactly. */
function parsePartSizes(text: string): number[] | undefined {
  const sizes: number[] = [];
  for (const run of text.split(',')) {
    const match = /^(\d{1,15})(?:\*(\d{1,5}))?$/.exec(run);
    if (!match) return undefined;
    const count = match[2] === undefined ? 1 : Number(match[2]);
    if (count < 1 || sizes.length + count > 10_000) return undefined;
    for (let i = 0; i < count; i++) sizes.push(Number(match[1]));
  }
  return sizes;
}
