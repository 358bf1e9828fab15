/**
 * ListObjects over a bucket's folder tree. Keys come out in S3's order (UTF-8 bytes) by walking folders in
 * that order: a folder's keys all start with `<its key prefix><name>/` and no sibling file's key does, so
 * sorting a folder's entries by that string (files by their key) and expanding folders in place yields sorted
 * keys. Only the subtree the prefix names is read, subtrees entirely before the marker are skipped, and a
 * subtree that rolls up into one common prefix is not read beyond finding one object in it. Each folder is
 * read into memory whole. Every listed object's record is read anyway (it holds the size and ETag), so
 * listing with metadata costs nothing more.
 */
import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

import type { ListedObject, ListObjectsInput, ListObjectsOutput } from '../../core/backend.js';
import { hasCode } from './errno.js';
import {
  compareKeys,
  decodeSegment,
  encodeSegment,
  MAX_ENCODED_SEGMENT,
  OBJECT_SUFFIX,
} from './key-paths.js';
import { readObjectRecord } from './record-overrides.js';

type WalkEntry = { kind: 'object'; key: string; path: string } | { kind: 'prefix'; prefix: string };

interface WalkOptions {
  prefix: string;
  delimiter: string | undefined;
  after: string | undefined;
}

interface DirEntry {
  kind: 'object' | 'folder';
  fsName: string;
  /** An object's key, or the key prefix shared by everything in a folder. */
  sortKey: string;
}

/** One page of S3's ListObjects over the bucket folder `bucketDir` (which the caller checked exists). */
export async function listObjects(bucketDir: string, input: ListObjectsInput): Promise<ListObjectsOutput> {
  const { prefix, delimiter, after, maxKeys } = input;
  const output: ListObjectsOutput = { objects: [], commonPrefixes: [], isTruncated: false };
  // Only the subtree named by the prefix's complete segments can hold matching keys.
  const segments = prefix.split('/');
  segments.pop();
  const encoded = segments.map((segment) => encodeSegment(segment));
  if (encoded.some((name) => Buffer.byteLength(name) > MAX_ENCODED_SEGMENT)) return output;
  const start = join(bucketDir, ...encoded);
  const keyPrefix = segments.map((segment) => `${segment}/`).join('');

  let count = 0;
  let lastPrefix: string | undefined;
  for await (const entry of walk(start, keyPrefix, { prefix, delimiter: delimiter || undefined, after })) {
    let commonPrefix = entry.kind === 'prefix' ? entry.prefix : undefined;
    if (entry.kind === 'object' && delimiter) {
      const at = entry.key.indexOf(delimiter, prefix.length);
      if (at >= 0) {
        commonPrefix = entry.key.slice(0, at + delimiter.length);
        // A prefix at or before the marker was already returned (S3 rolls the keys after it into it).
        if (after !== undefined && compareKeys(commonPrefix, after) <= 0) continue;
      }
    }
    if (commonPrefix !== undefined && commonPrefix === lastPrefix) continue;
    if (count === maxKeys) {
      output.isTruncated = true;
      break;
    }
    if (commonPrefix !== undefined) {
      output.commonPrefixes.push(commonPrefix);
      lastPrefix = commonPrefix;
      output.last = commonPrefix;
    } else if (entry.kind === 'object') {
      const listed = await readListing(entry.key, entry.path, input.withMetadata === true);
      if (!listed) continue; // deleted since the directory was read
      output.objects.push(listed);
      output.last = entry.key;
    }
    count++;
  }
  return output;
}

/**
 * Whether a folder holds at least one object file, at any depth (empty folders may linger after deletes, and
 * neither make a bucket non-empty nor show as a common prefix).
 */
export async function containsObject(dir: string): Promise<boolean> {
  let dirents: Dirent[];
  try {
    dirents = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (hasCode(error, 'ENOENT', 'ENOTDIR')) return false;
    throw error;
  }
  if (dirents.some((dirent) => dirent.isFile() && dirent.name.endsWith(OBJECT_SUFFIX))) return true;
  for (const dirent of dirents) {
    if (dirent.isDirectory() && (await containsObject(join(dir, dirent.name)))) return true;
  }
  return false;
}

/**
 * Yields the objects under `dir` (whose keys start with `keyPrefix`) in UTF-8 binary key order, skipping
 * subtrees that hold no key matching the prefix or after the marker. A subtree whose every key rolls up into
 * one common prefix is yielded as that prefix without being read.
 */
async function* walk(dir: string, keyPrefix: string, options: WalkOptions): AsyncGenerator<WalkEntry> {
  const { prefix, delimiter, after } = options;
  for (const entry of await sortedEntries(dir, keyPrefix)) {
    const path = join(dir, entry.fsName);
    if (entry.kind === 'object') {
      if (!entry.sortKey.startsWith(prefix)) continue;
      if (after !== undefined && compareKeys(entry.sortKey, after) <= 0) continue;
      yield { kind: 'object', key: entry.sortKey, path };
      continue;
    }
    const subtree = entry.sortKey; // every key below starts with this
    if (!subtree.startsWith(prefix)) continue;
    if (after !== undefined && compareKeys(subtree, after) < 0 && !after.startsWith(subtree)) continue;
    const at = delimiter === undefined ? -1 : subtree.indexOf(delimiter, prefix.length);
    if (delimiter !== undefined && at >= 0) {
      const commonPrefix = subtree.slice(0, at + delimiter.length);
      if (after !== undefined && compareKeys(commonPrefix, after) <= 0) continue;
      if (await containsObject(path)) yield { kind: 'prefix', prefix: commonPrefix };
      continue;
    }
    yield* walk(path, subtree, options);
  }
}

async function sortedEntries(dir: string, keyPrefix: string): Promise<DirEntry[]> {
  let dirents: Dirent[];
  try {
    dirents = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (hasCode(error, 'ENOENT', 'ENOTDIR')) return [];
    throw error;
  }
  const entries: (DirEntry & { bytes: Buffer })[] = [];
  for (const dirent of dirents) {
    let entry: DirEntry | undefined;
    if (dirent.isFile() && dirent.name.endsWith(OBJECT_SUFFIX)) {
      const segment = decodeSegment(dirent.name.slice(0, -OBJECT_SUFFIX.length));
      if (segment !== undefined) {
        entry = { kind: 'object', fsName: dirent.name, sortKey: keyPrefix + segment };
      }
    } else if (dirent.isDirectory()) {
      const segment = decodeSegment(dirent.name);
      if (segment !== undefined) {
        entry = { kind: 'folder', fsName: dirent.name, sortKey: `${keyPrefix}${segment}/` };
      }
    }
    if (entry) entries.push({ ...entry, bytes: Buffer.from(entry.sortKey, 'utf8') });
  }
  return entries.sort((a, b) => Buffer.compare(a.bytes, b.bytes));
}

async function readListing(
  key: string,
  path: string,
  withMetadata: boolean,
): Promise<ListedObject | undefined> {
  const record = await readObjectRecord(path);
  if (!record) return undefined;
  const listed: ListedObject = {
    key,
    size: record.size,
    etag: record.etag,
    lastModified: new Date(record.lastModified),
  };
  if (withMetadata) {
    listed.metadata = record.metadata ?? { headers: {}, user: {}, internal: {} };
    if (record.parts) listed.partsCount = record.parts.length;
  }
  return listed;
}
