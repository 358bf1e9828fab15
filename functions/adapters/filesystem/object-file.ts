/**
 * The file format of a stored object (and of an uploaded part): the data first, then a JSON record of what
 * is known about it, then a fixed-size footer that says where the record starts.
 *
 * ```
 * offset 0          the data: `size` bytes, as the client sent them
 * offset size       the record: UTF-8 JSON ({@link StoredRecord}), n bytes
 * offset size + n   the footer, 9 bytes: n (4-byte big-endian unsigned integer), the format version (one
 *                   byte, 2), the 4 bytes `SGOB`
 * ```
 *
 * Why the data comes first: the record holds what is known only once the data has streamed through (the MD5
 * ETag, a checksum that arrived in an aws-chunked trailer), so it is simply appended: no reserved space, no
 * second pass, and memory stays at one I/O buffer. The whole file is still written in tmp and renamed into
 * place in one step, so the record and the data appear together. A reader takes the footer from the end of
 * the file (through the handle it opened, so the version it read stays consistent), then the record before
 * it; the data is bytes 0 to `size - 1`. The record's `size` must be exactly what lies before it, so a
 * truncated or extended file is reported as corrupt rather than served.
 */
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';

import type { ObjectChecksum, ObjectMetadata, PartChecksumValue } from '../../core/backend.js';
import { hasCode } from './errno.js';
import { readExactly } from './file-io.js';

/** The JSON record after an object's or a part's data. */
export interface StoredRecord {
  /** Bytes of data before the record. */
  size: number;
  /** Quoted, as S3 returns it. */
  etag: string;
  /** ISO-8601. */
  lastModified: string;
  /** Objects only (parts carry none). */
  metadata?: ObjectMetadata;
  /** For an object completed from a multipart upload: the size of each part, in order. */
  parts?: number[];
  /** A part's checksum, or a multipart object's (with its type), as the core gave them to keep. */
  checksum?: PartChecksumValue | ObjectChecksum;
}

/** A stored file opened for reading: its data is bytes 0 to `record.size - 1` of `handle`. */
export interface ObjectFile {
  handle: FileHandle;
  record: StoredRecord;
  /** Which file this is: a file is never changed once written, so its inode and mtime name this version. */
  stamp: FileStamp;
}

/** The inode and modification time of a stored file, as the handle that read it saw them. */
export interface FileStamp {
  ino: bigint;
  mtimeNs: bigint;
}

const MAGIC = Buffer.from('SGOB', 'latin1');
const FORMAT_VERSION = 2;
const FOOTER_LENGTH = 4 + 1 + MAGIC.length;
/** A record longer than this is a corrupt file, not something to allocate for (10,000 part sizes fit easily). */
export const MAX_RECORD_LENGTH = 1024 * 1024;
/** Read from the end in one go: the footer and, for all but unusual records, the record too. */
const TAIL_READ = 4096;

/**
 * The bytes to append after the data: the record and the footer.
 *
 * @throws Error when the record is longer than a reader would accept, so no unreadable file is ever written.
 */
export function encodeTrailer(record: StoredRecord): Buffer {
  const json = Buffer.from(JSON.stringify(record), 'utf8');
  if (json.length > MAX_RECORD_LENGTH) {
    throw new Error(`object record of ${json.length} bytes exceeds ${MAX_RECORD_LENGTH}`);
  }
  const footer = Buffer.alloc(FOOTER_LENGTH);
  footer.writeUInt32BE(json.length, 0);
  footer.writeUInt8(FORMAT_VERSION, 4);
  MAGIC.copy(footer, 5);
  return Buffer.concat([json, footer]);
}

/**
 * Opens a stored file and reads its record; the caller closes the handle.
 *
 * @throws the file system's error (ENOENT when the file does not exist); Error for a corrupt file.
 */
export async function openObjectFile(path: string): Promise<ObjectFile> {
  const handle = await open(path, 'r');
  try {
    const info = await handle.stat({ bigint: true });
    const stamp = { ino: info.ino, mtimeNs: info.mtimeNs };
    return { handle, record: await readRecordFrom(handle, path, Number(info.size)), stamp };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** The record of a stored file, or undefined if the file is gone. */
export async function readRecord(path: string): Promise<StoredRecord | undefined> {
  try {
    const file = await openObjectFile(path);
    await file.handle.close();
    return file.record;
  } catch (error) {
    if (hasCode(error, 'ENOENT', 'ENOTDIR')) return undefined;
    throw error;
  }
}

async function readRecordFrom(handle: FileHandle, path: string, fileSize: number): Promise<StoredRecord> {
  if (fileSize < FOOTER_LENGTH) throw corrupt(path, 'shorter than the footer');
  const tailLength = Math.min(fileSize, TAIL_READ);
  const tail = await readExactly(handle, tailLength, fileSize - tailLength);
  if (!tail) throw corrupt(path, 'shrank while being read');
  const footer = tail.subarray(tailLength - FOOTER_LENGTH);
  if (!footer.subarray(5).equals(MAGIC)) throw corrupt(path, 'bad magic');
  if (footer.readUInt8(4) !== FORMAT_VERSION) throw corrupt(path, 'unknown format version');
  const length = footer.readUInt32BE(0);
  // Bounded before anything is allocated for it: the length comes from the file.
  if (length > MAX_RECORD_LENGTH) throw corrupt(path, `record length ${length} exceeds ${MAX_RECORD_LENGTH}`);
  const dataLength = fileSize - FOOTER_LENGTH - length;
  if (dataLength < 0) throw corrupt(path, 'record longer than the file');
  const json =
    length + FOOTER_LENGTH <= tailLength
      ? tail.subarray(tailLength - FOOTER_LENGTH - length, tailLength - FOOTER_LENGTH)
      : await readExactly(handle, length, dataLength);
  if (!json) throw corrupt(path, 'shrank while being read');
  const record = parseRecord(json.toString('utf8'));
  if (!record) throw corrupt(path, 'malformed record');
  if (record.size !== dataLength) {
    throw corrupt(path, `holds ${dataLength} bytes of data, its record says ${record.size}`);
  }
  return record;
}

function parseRecord(text: string): StoredRecord | undefined {
  try {
    return asRecord(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** `value` as a record, or undefined when it is not one. */
export function asRecord(value: unknown): StoredRecord | undefined {
  const record = value as Partial<StoredRecord> | null;
  if (
    !record ||
    !Number.isSafeInteger(record.size) ||
    typeof record.etag !== 'string' ||
    typeof record.lastModified !== 'string'
  ) {
    return undefined;
  }
  if (record.parts !== undefined) {
    const parts = record.parts as unknown;
    if (!Array.isArray(parts) || !parts.every((size) => Number.isSafeInteger(size))) return undefined;
    if ((parts as number[]).reduce((sum, size) => sum + size, 0) !== record.size) return undefined;
  }
  return record as StoredRecord;
}

/** The error for a stored file that is not what this backend writes. */
export function corrupt(path: string, why: string): Error {
  return new Error(`corrupt object file ${path}: ${why}`);
}
