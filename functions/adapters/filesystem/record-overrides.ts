/**
 * Record overrides: how the filesystem backend gives an object a new record without copying its data, so a
 * metadata replace (CopyObject onto itself with `REPLACE`, which is what a re-encrypt job's `rewrap` does)
 * costs the same whatever the object's size. An object file is never changed once written (object-file.ts);
 * the new record goes beside it instead, in the file `@<inode>` in the object file's folder ('@' never
 * starts an encoded segment, so no key's file or folder can take that name, and listings skip it).
 *
 * An override holds the new record and the identity of the file it belongs to: the inode (in its name), the
 * file's mtime, and the size, ETag and last-modified time of the file's own record. A reader opens the object
 * file first, then looks for the override of the inode it opened, and applies it only when all of that still
 * matches. So an object replaced by a put (a new file, a new inode) never takes the old file's override, and
 * neither does a later file that happens to get the same inode number. Overrides are written in `tmp/` and
 * renamed into place, like object files: a crash leaves the old record or the new one, never a torn one.
 *
 * Cleanup: a write that replaces an object file, and a delete, remove the override of the file they replace.
 * One that raced a concurrent metadata replace of the old file may leave that override behind; it matches
 * no file, is never applied, and goes with its bucket.
 */
import { open } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import { hasCode } from './errno.js';
import {
  asRecord,
  corrupt,
  MAX_RECORD_LENGTH,
  openObjectFile,
  type ObjectFile,
  type StoredRecord,
} from './object-file.js';

/** An object file opened with its override applied: `record` is the object's, `written` the file's own. */
export interface StoredObject extends ObjectFile {
  written: StoredRecord;
}

interface Override {
  base: { mtimeNs: string; size: number; etag: string; lastModified: string };
  record: StoredRecord;
}

/** Where the override of the object file `path` with inode `ino` lives. */
export function overridePath(path: string, ino: bigint): string {
  return join(dirname(path), `@${ino}`);
}

/**
 * Opens the object file at `path` and applies its override, if it has one; the caller closes the handle.
 *
 * @throws as openObjectFile; Error for an override that is not one this backend wrote.
 */
export async function openObject(path: string): Promise<StoredObject> {
  const file = await openObjectFile(path);
  try {
    const override = await readOverride(path, file);
    return { ...file, record: override ?? file.record, written: file.record };
  } catch (error) {
    await file.handle.close();
    throw error;
  }
}

/** The record of the object at `path`, its override applied; undefined if the object is gone. */
export async function readObjectRecord(path: string): Promise<StoredRecord | undefined> {
  try {
    const file = await openObject(path);
    await file.handle.close();
    return file.record;
  } catch (error) {
    if (hasCode(error, 'ENOENT', 'ENOTDIR')) return undefined;
    throw error;
  }
}

/** The bytes of an override that makes `record` the record of the opened object `file`. */
export function encodeOverride(file: StoredObject, record: StoredRecord): Buffer {
  if (record.size !== file.written.size || record.parts !== undefined) {
    throw new Error('an override replaces the record of a single-part object and keeps its data');
  }
  const { size, etag, lastModified } = file.written;
  const override: Override = {
    base: { mtimeNs: file.stamp.mtimeNs.toString(), size, etag, lastModified },
    record,
  };
  const bytes = Buffer.from(JSON.stringify(override), 'utf8');
  if (bytes.length > MAX_RECORD_LENGTH) {
    throw new Error(`object record of ${bytes.length} bytes exceeds ${MAX_RECORD_LENGTH}`);
  }
  return bytes;
}

/** The override's record when it belongs to `file`; undefined when there is none or it is another file's. */
async function readOverride(path: string, file: ObjectFile): Promise<StoredRecord | undefined> {
  const at = overridePath(path, file.stamp.ino);
  let text: string;
  try {
    const handle = await open(at, 'r');
    try {
      // Bounded before anything is allocated for it: the length comes from the file system.
      const { size } = await handle.stat();
      if (size > MAX_RECORD_LENGTH)
        throw corrupt(at, `override of ${size} bytes exceeds ${MAX_RECORD_LENGTH}`);
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (hasCode(error, 'ENOENT')) return undefined;
    throw error;
  }
  const override = parseOverride(text);
  if (!override) throw corrupt(at, 'malformed override');
  const { base, record } = override;
  const own = file.record;
  const belongs =
    base.mtimeNs === file.stamp.mtimeNs.toString() &&
    base.size === own.size &&
    base.etag === own.etag &&
    base.lastModified === own.lastModified;
  return belongs ? record : undefined;
}

function parseOverride(text: string): Override | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const override = value as Partial<Record<keyof Override, unknown>> | null;
  const base = override?.base as Partial<Override['base']> | undefined;
  if (
    !base ||
    typeof base.mtimeNs !== 'string' ||
    !Number.isSafeInteger(base.size) ||
    typeof base.etag !== 'string' ||
    typeof base.lastModified !== 'string'
  ) {
    return undefined;
  }
  const record = asRecord(override?.record);
  if (!record || record.size !== base.size || record.parts !== undefined) return undefined;
  return { base: base as Override['base'], record };
}
