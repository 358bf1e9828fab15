/**
 * Whole-file writes that a reader never sees half done: the data goes to a temporary file in the target's
 * folder (so the last step stays on one file system), is fsync'd, then appears under its name in one
 * rename(2) or link(2). The folder itself is fsync'd after, so the new name survives a power cut too.
 */
import { randomBytes } from 'node:crypto';
import { link, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import { hasCode } from './filesystem/errno.js';

/** What a write leaves of the file it wrote: enough to recognise it later without reading it again. */
export interface WrittenFile {
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
}

/** Replaces `path` with `data` whole (creating it when absent); `mode` applies to the new file. */
export async function writeFileAtomically(
  path: string,
  data: Uint8Array,
  mode: number,
): Promise<WrittenFile> {
  return withTempFile(path, data, mode, async (tmp) => {
    await rename(tmp, path);
  });
}

/**
 * Creates `path` with `data` whole, unless a file of that name exists already (made by another writer,
 * maybe at the same moment): then it leaves that file alone and returns false. link(2), unlike an open
 * with `wx`, never lets a reader see the new file before its data is complete.
 */
export async function createFileExclusively(path: string, data: Uint8Array, mode: number): Promise<boolean> {
  let created = true;
  await withTempFile(path, data, mode, async (tmp) => {
    try {
      await link(tmp, path);
    } catch (error) {
      if (!hasCode(error, 'EEXIST')) throw error;
      created = false;
    }
  });
  return created;
}

async function withTempFile(
  path: string,
  data: Uint8Array,
  mode: number,
  publish: (tmp: string) => Promise<void>,
): Promise<WrittenFile> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(tmp, 'wx', mode);
    let written: WrittenFile;
    try {
      await handle.writeFile(data);
      await handle.sync();
      // rename(2) keeps the inode and its mtime, so this is what a stat of `path` shows afterwards.
      const info = await handle.stat({ bigint: true });
      written = { ino: info.ino, size: info.size, mtimeNs: info.mtimeNs };
    } finally {
      await handle.close();
    }
    await publish(tmp);
    await syncDirectory(dir);
    return written;
  } finally {
    // After a rename the temporary name is gone already; after a link or a failure it goes here.
    await rm(tmp, { force: true });
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
