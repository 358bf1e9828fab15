/**
 * Where the filesystem backend stores a key: the key is split on '/'; each segment is percent-encoded (UTF-8
 * bytes other than ASCII letters, digits, '-', '_' and a '.' that is not the first byte become `%XX`), so no
 * encoded segment starts with '.', contains '@', or is '.' or '..'. Directory segments become directories and
 * the last segment becomes the file `<encoded>@obj`; because '@' never survives encoding, the key `a` (file
 * `a@obj`) and the key `a/b` (directory `a`) coexist. An empty segment (`dir/`, `a//b`) is stored under the
 * reserved name `.empty`. Keys that try to leave the bucket are still rejected with a 400: a `.` or `..`
 * segment, a leading '/', a NUL byte.
 *
 * Limits: keys up to 1024 UTF-8 bytes (S3's limit); each segment at most 251 bytes once percent-encoded (so
 * 251 ASCII letters, or 27 three-byte characters), because file names are limited to 255 bytes; the whole
 * path (root, bucket, encoded key) must fit the platform's PATH_MAX (4096 bytes on Linux).
 */
import { join } from 'node:path';

import { errors } from '../../core/errors.js';

/** Appended to the last segment's file name; '@' never appears in an encoded segment. */
export const OBJECT_SUFFIX = '@obj';
const EMPTY_SEGMENT = '.empty';
const MAX_KEY_BYTES = 1024;
const MAX_FILE_NAME_BYTES = 255;
/** The longest encoded segment that still fits a file name once {@link OBJECT_SUFFIX} is added. */
export const MAX_ENCODED_SEGMENT = MAX_FILE_NAME_BYTES - OBJECT_SUFFIX.length;
const MAX_PATH_BYTES = 4095;
const KEPT_BYTE = /^[A-Za-z0-9_-]$/;

/**
 * The file that holds `key` in `bucket` under `root`, after rejecting keys that cannot be stored safely.
 *
 * @throws S3Error NoSuchBucket for a bucket name that could not be a folder of this backend; InvalidArgument
 *   or KeyTooLongError for a key that would leave the bucket or does not fit the file system's limits.
 */
export function objectPath(root: string, bucket: string, key: string): string {
  if (!isSafeBucketName(bucket)) throw errors.noSuchBucket(bucket);
  const names = keySegments(key).map((segment) => encodeSegment(segment));
  const tooLong = names.findIndex((name) => Buffer.byteLength(name) > MAX_ENCODED_SEGMENT);
  if (tooLong >= 0) {
    throw errors.invalidKey(
      `Key segment ${tooLong + 1} is too long for the filesystem backend: each '/'-separated segment may ` +
        `take at most ${MAX_ENCODED_SEGMENT} bytes once percent-encoded (non-ASCII characters take 3 per byte).`,
    );
  }
  names[names.length - 1] += OBJECT_SUFFIX;
  const path = join(root, bucket, ...names);
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) {
    throw errors.invalidKey('Key is too long for the filesystem backend: its encoded path exceeds PATH_MAX.');
  }
  return path;
}

/** The key's '/'-separated segments, after the checks that keep every key inside its bucket's folder. */
function keySegments(key: string): string[] {
  if (key === '') throw errors.invalidKey('The object key must not be empty.');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw errors.keyTooLong();
  // A lone UTF-16 surrogate does not survive the round trip through UTF-8.
  if (Buffer.from(key, 'utf8').toString('utf8') !== key) {
    throw errors.invalidKey('The object key is not valid UTF-8.');
  }
  if (key.includes('\0')) throw errors.invalidKey('The object key must not contain a NUL character.');
  if (key.startsWith('/')) throw errors.invalidKey("The object key must not start with '/'.");
  const segments = key.split('/');
  if (segments.some((segment) => segment === '.' || segment === '..')) {
    throw errors.invalidKey("The object key must not contain a '.' or '..' path segment.");
  }
  return segments;
}

/** The file or folder name that stands for one key segment. */
export function encodeSegment(segment: string): string {
  if (segment === '') return EMPTY_SEGMENT;
  let name = '';
  for (const byte of Buffer.from(segment, 'utf8')) {
    const char = String.fromCharCode(byte);
    const kept = byte < 0x80 && (KEPT_BYTE.test(char) || (char === '.' && name !== ''));
    name += kept ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return name;
}

/**
 * The segment a file or folder name stands for; undefined for names this backend did not write (so stray
 * files someone put in a bucket's folder are never listed as keys).
 */
export function decodeSegment(name: string): string | undefined {
  if (name === EMPTY_SEGMENT) return '';
  if (!/^(?:[A-Za-z0-9_.-]|%[0-9A-F]{2})+$/.test(name)) return undefined;
  const bytes = Buffer.from(
    name.replace(/%([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
    'latin1',
  );
  const segment = bytes.toString('utf8');
  // Only the one canonical name per segment counts: `%61` or invalid UTF-8 were not written by this code.
  return encodeSegment(segment) === name ? segment : undefined;
}

/**
 * Whether `bucket` can be a folder under the root: no separators, and no leading '.', which keeps it clear of
 * `.sealgate` and of '.'/'..'.
 */
export function isSafeBucketName(bucket: string): boolean {
  return /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}$/.test(bucket);
}

/** S3 orders keys by their UTF-8 bytes (not by UTF-16 code units, as `<` on strings would). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
