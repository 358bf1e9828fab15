/**
 * What the S3 backend learned about listed objects from their HEADs, kept for the next listing of them.
 * An S3 listing carries no metadata, so a listing with metadata heads every object; an entry is found
 * again only by what the listing itself returns for the object (key, ETag, size, last-modified), so a
 * changed object is a new entry and is headed again. Bounded: the least recently used entries go first.
 *
 * Only listings that show clients their objects use it (`ListObjectsInput.reuseDescriptions`): what they
 * show (plaintext size and ETag) cannot change without the stored ETag or size changing, but markers can
 * (a rewrap within the same second as the write keeps all four), so jobs always head.
 */
import type { ListedObject } from '../../core/backend.js';

/** About 10 MB of descriptions at a few hundred bytes each. */
const DEFAULT_ENTRIES = 20_000;

export class DescribedCache {
  private readonly entries = new Map<string, ListedObject>();

  constructor(private readonly capacity = DEFAULT_ENTRIES) {}

  /** The description of the listed object `listed` in `bucket`, if this version of it was seen. */
  get(bucket: string, listed: ListedObject): ListedObject | undefined {
    const id = identity(bucket, listed);
    const found = this.entries.get(id);
    if (found === undefined) return undefined;
    this.entries.delete(id); // most recently used goes last
    this.entries.set(id, found);
    return found;
  }

  /** Keeps `described`, the HEAD of the object the listing showed as `listed`. */
  set(bucket: string, listed: ListedObject, described: ListedObject): void {
    const id = identity(bucket, listed);
    this.entries.delete(id);
    this.entries.set(id, described);
    while (this.entries.size > this.capacity) {
      this.entries.delete(this.entries.keys().next().value!);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}

function identity(bucket: string, listed: ListedObject): string {
  return JSON.stringify([bucket, listed.key, listed.etag, listed.size, listed.lastModified.getTime()]);
}
