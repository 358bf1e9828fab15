import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';

/** Writes `size` random bytes to `path` in 1 MiB pieces and returns their sha256 (hex). */
export async function writeRandomFile(path: string, size: number): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  const hash = createHash('sha256');
  const file = await open(path, 'w');
  try {
    for (let written = 0; written < size;) {
      const piece = randomBytes(Math.min(1024 * 1024, size - written));
      hash.update(piece);
      await file.write(piece);
      written += piece.length;
    }
  } finally {
    await file.close();
  }
  return hash.digest('hex');
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (piece) => hash.update(piece))
      .once('error', reject)
      .once('end', () => resolve(hash.digest('hex')));
  });
}

/**
 * File names for the sync folder. Besides plain names it holds the kinds real trees have and that
 * clients encode differently when signing: spaces, `+`, `=`, `&`, parentheses, a non-ASCII letter,
 * and an empty file.
 */
function treeFileName(index: number): string {
  const folder = `dir-${index % 4}${index % 3 === 0 ? '/nested' : ''}`;
  const special = ['with space.txt', 'plus+sign.txt', 'equals=and&amp.txt', 'paren (copy).txt', 'café.txt'];
  const name =
    index < special.length ? `${index}-${special[index]}` : `file-${String(index).padStart(3, '0')}.bin`;
  return `${folder}/${name}`;
}

/**
 * Writes `count` small files of random bytes (0 to 8 KiB; the first is empty) under `root`, spread
 * over a few folders, and returns each file's sha256 by its `/`-separated relative path.
 */
export async function writeRandomTree(root: string, count: number): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  for (let index = 0; index < count; index++) {
    const relativePath = treeFileName(index);
    const bytes = randomBytes(index === 0 ? 0 : 1 + ((index * 7919) % 8192));
    await mkdir(dirname(join(root, relativePath)), { recursive: true });
    await writeFile(join(root, relativePath), bytes);
    hashes.set(relativePath, createHash('sha256').update(bytes).digest('hex'));
  }
  return hashes;
}

/** Every file under `root` with its sha256, by `/`-separated relative path. */
export async function hashTree(root: string): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    hashes.set(relative(root, path).split(sep).join('/'), await sha256File(path));
  }
  return hashes;
}

/** A Map as a sorted plain object, so that a failed `toEqual` shows which paths differ. */
export function sortedRecord(map: Map<string, string>): Record<string, string> {
  return Object.fromEntries([...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
