/**
 * The filesystem backend's `tmp/` folder, where every file and folder is built before one rename(2) puts it
 * in place. `tmp/` sits under the root, on the same file system as the buckets, so the rename is atomic: a
 * crash mid-write never leaves a partial object visible, and an object's data and record appear together.
 * Files are fsync'd before the rename; the directory entry itself is not (a power cut right after a write may
 * lose that write, never expose a torn one). Leftovers of a crash are removed when the next process starts
 * writing (their builder's PID is gone), or once they are a day old. An
 * object file published over another takes the old file's record override with it (record-overrides.ts).
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

import { hasCode } from './errno.js';
import { BufferedWriter } from './file-io.js';
import { encodeTrailer, openObjectFile, type StoredRecord } from './object-file.js';
import { overridePath } from './record-overrides.js';

const STALE_TMP_MS = 24 * 60 * 60 * 1000;
/** A delete may prune a parent folder between creating it and the rename; this many tries cover that race. */
const PUBLISH_ATTEMPTS = 4;

/**
 * Whether a process with this PID runs on this machine (signal 0 checks without sending anything). A
 * folder shared between machines or PID namespaces can make a running builder look gone: its write then
 * fails with an error the client retries, and publishes nothing half-built.
 */
function isRunning(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return !hasCode(error, 'ESRCH');
  }
}

/** Builds object files and folders out of sight and renames each into place whole. */
export class StagingArea {
  private prepared: Promise<void> | undefined;

  /** @param dir the `tmp/` folder; created on first use, with its parents. */
  constructor(private readonly dir: string) {}

  /**
   * Creates the folder once, and clears what crashed writes left in it: whatever a process that is no
   * longer running was building (each entry's name starts with its builder's PID), and anything a day old.
   */
  ready(): Promise<void> {
    this.prepared ??= (async () => {
      await mkdir(this.dir, { recursive: true });
      const cutoff = Date.now() - STALE_TMP_MS;
      for (const name of await readdir(this.dir)) {
        const path = join(this.dir, name);
        const builder = /^(\d+)\./.exec(name);
        const orphaned = builder !== null && !isRunning(Number(builder[1]));
        const info = orphaned ? undefined : await stat(path).catch(() => undefined);
        if (orphaned || (info && info.mtimeMs < cutoff)) {
          await rm(path, { recursive: true, force: true }).catch(() => undefined);
        }
      }
    })().catch((error: unknown) => {
      // A failed preparation is retried by the next request rather than cached.
      this.prepared = undefined;
      throw error;
    });
    return this.prepared;
  }

  /**
   * Writes one object file (see object-file.ts) and renames it to `path`. `fill` streams the data into the
   * writer and returns the record, which is appended after the data; if `fill` throws, nothing is published.
   * Folders between `base` (which must exist) and `path` are created as needed, but never `base` itself, so
   * a write racing the removal of its bucket cannot bring the bucket's folder back without its marker.
   *
   * @throws the file system's error, ENOENT when `base` is gone.
   */
  async writeObjectFile(
    path: string,
    base: string,
    fill: (out: BufferedWriter) => Promise<Omit<StoredRecord, 'lastModified'>>,
  ): Promise<StoredRecord> {
    await this.ready();
    const tmp = this.tmpPath();
    const handle = await open(tmp, 'wx');
    const out = new BufferedWriter(handle, 0);
    let closed = false;
    try {
      const draft = await fill(out);
      if (out.written !== draft.size) {
        throw new Error(`wrote ${out.written} bytes of data for a record of ${draft.size}`);
      }
      const record: StoredRecord = { ...draft, lastModified: new Date().toISOString() };
      await out.write(encodeTrailer(record));
      await out.flush();
      await handle.datasync();
      closed = true;
      await handle.close();
      await this.publishObject(tmp, path, base);
      return record;
    } catch (error) {
      if (!closed) {
        await out.settle().catch(() => undefined);
        await handle.close().catch(() => undefined);
      }
      await rm(tmp, { force: true }).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Writes an object file whose data is the data of the object file `source` (as `expected` describes it),
   * copied by the kernel (`copyFile`: a reflink where the file system has them, else copy_file_range),
   * with `record` after it, and renames it to `path`. Resolves to undefined, publishing nothing, when the
   * file copied turns out not to be the version `expected` describes (it was replaced meanwhile): the
   * caller then copies through the handle it holds.
   */
  async writeObjectFileCopy(
    path: string,
    base: string,
    source: string,
    expected: StoredRecord,
    record: Omit<StoredRecord, 'lastModified'>,
  ): Promise<StoredRecord | undefined> {
    await this.ready();
    const tmp = this.tmpPath();
    try {
      await copyFile(source, tmp, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
      const copied = await openObjectFile(tmp);
      let handle = copied.handle;
      try {
        const same =
          copied.record.size === expected.size &&
          copied.record.etag === expected.etag &&
          copied.record.lastModified === expected.lastModified;
        if (!same || record.size !== expected.size) {
          await rm(tmp, { force: true });
          return undefined;
        }
        await handle.close();
        handle = await open(tmp, 'r+');
        const written: StoredRecord = { ...record, lastModified: new Date().toISOString() };
        await handle.truncate(expected.size);
        const trailer = encodeTrailer(written);
        await handle.write(trailer, 0, trailer.length, expected.size);
        await handle.datasync();
        await handle.close();
        await this.publishObject(tmp, path, base);
        return written;
      } finally {
        await handle.close().catch(() => undefined);
      }
    } catch (error) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw error;
    }
  }

  /** Writes a small file whole and renames it to `path` (folders as for {@link writeObjectFile}). */
  async writeFile(path: string, base: string, data: Uint8Array): Promise<void> {
    await this.ready();
    const tmp = this.tmpPath();
    try {
      const handle = await open(tmp, 'wx');
      try {
        await handle.writeFile(data);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      await this.publish(tmp, path, base);
    } catch (error) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Builds a folder with `build` and renames it to `target`, so the folder never exists half-built.
   *
   * @throws the file system's error (EEXIST or ENOTEMPTY when `target` already exists).
   */
  async publishFolder(target: string, build: (dir: string) => Promise<void>): Promise<void> {
    await this.ready();
    const staging = this.tmpPath();
    await mkdir(staging);
    try {
      await build(staging);
      await rename(staging, target);
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      throw error;
    }
  }

  /** Moves a folder here (atomically out of sight), then deletes it. False if it did not exist. */
  async discard(dir: string): Promise<boolean> {
    await this.ready();
    const trash = this.tmpPath();
    try {
      await rename(dir, trash);
    } catch (error) {
      if (hasCode(error, 'ENOENT')) return false;
      throw error;
    }
    await rm(trash, { recursive: true, force: true });
    return true;
  }

  /** `<pid>.<random>`: the PID tells a later start whether its builder is still running. */
  private tmpPath(): string {
    return join(this.dir, `${process.pid}.${randomBytes(12).toString('hex')}`);
  }

  /** Publishes an object file, then removes the record override of the file it replaced, if any. */
  private async publishObject(tmp: string, path: string, base: string): Promise<void> {
    const replaced = await stat(path, { bigint: true }).catch(() => undefined);
    await this.publish(tmp, path, base);
    // Best effort: the object is in place, and an override left behind matches no file (never applied).
    if (replaced) await unlink(overridePath(path, replaced.ino)).catch(() => undefined);
  }

  private async publish(tmp: string, path: string, base: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await rename(tmp, path);
        return;
      } catch (error) {
        if (!hasCode(error, 'ENOENT') || attempt === PUBLISH_ATTEMPTS) throw error;
      }
      await makeParents(path, base);
    }
  }
}

/** Creates the folders between `base` and `path`, one level at a time and never `base` itself. */
async function makeParents(path: string, base: string): Promise<void> {
  let dir = base;
  for (const name of relative(base, path).split(sep).slice(0, -1)) {
    dir = join(dir, name);
    await mkdir(dir).catch((error: unknown) => {
      if (!hasCode(error, 'EEXIST')) throw error;
    });
  }
}
