import { createReadStream } from 'node:fs';
import { copyFile, open } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { CHUNK_BYTES } from './s3-client.js';

/** How a plain copy ends. */
export interface CopyOptions {
  /**
   * fdatasync the destination before the clock stops, as the filesystem backend does before publishing an
   * object: the like-for-like baseline for a PUT. Without it the copy runs at page-cache speed.
   */
  datasync: boolean;
}

async function datasyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

/** Seconds a `node:stream` pipeline takes to copy a file in 64 KiB reads: the user-space baseline. */
export async function timeStreamCopy(
  source: string,
  destination: string,
  options: CopyOptions,
): Promise<number> {
  const started = performance.now();
  const out = await open(destination, 'w');
  // autoClose off so the handle outlives the stream for the datasync; the stream still holds a reference
  // to it until destroyed, and FileHandle.close() waits for that.
  const stream = out.createWriteStream({ highWaterMark: CHUNK_BYTES, autoClose: false });
  try {
    await pipeline(createReadStream(source, { highWaterMark: CHUNK_BYTES }), stream);
    if (options.datasync) await out.datasync();
  } finally {
    stream.destroy();
    await out.close();
  }
  return (performance.now() - started) / 1000;
}

/**
 * Seconds `fs.copyFile` takes. libuv copies in the kernel (copy_file_range or sendfile), and on a
 * filesystem with reflinks the kernel may share extents instead of copying: a ceiling, not a peer.
 */
export async function timeCopyFile(
  source: string,
  destination: string,
  options: CopyOptions,
): Promise<number> {
  const started = performance.now();
  await copyFile(source, destination);
  if (options.datasync) await datasyncFile(destination);
  return (performance.now() - started) / 1000;
}
