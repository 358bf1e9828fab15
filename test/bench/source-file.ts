import { createHash, randomFillSync } from 'node:crypto';
import { once } from 'node:events';
import { open } from 'node:fs/promises';
import { finished } from 'node:stream/promises';

const WRITE_BYTES = 1024 * 1024;

/**
 * Writes `size` bytes of random data (incompressible, and no two chunks alike, so a swapped or repeated
 * chunk changes the hash) and returns their sha256. The file is fdatasync'd so its writeback does not
 * land in the middle of a timed stage.
 */
export async function writeRandomFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(path, 'w');
  // autoClose off so the handle outlives the stream for the datasync; destroying the stream releases it.
  const out = handle.createWriteStream({ autoClose: false });
  try {
    for (let written = 0; written < size;) {
      // A fresh buffer each time: the stream may still hold the previous one.
      const chunk = randomFillSync(Buffer.allocUnsafe(Math.min(WRITE_BYTES, size - written)));
      hash.update(chunk);
      written += chunk.length;
      if (!out.write(chunk)) await once(out, 'drain');
    }
    out.end();
    await finished(out);
    await handle.datasync();
  } finally {
    out.destroy();
    await handle.close();
  }
  return hash.digest('hex');
}
