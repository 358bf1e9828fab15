import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BufferedWriter } from '../../../../functions/adapters/filesystem/file-io.js';

const MIB = 1024 * 1024;

/** A real file handle whose writes are watched: how many run at once, and which end in failure. */
function watched(handle: FileHandle, failAt?: number) {
  const seen = { writes: 0, inFlight: 0, mostInFlight: 0 };
  const proxy = new Proxy(handle, {
    get(target, property, receiver) {
      if (property !== 'write') return Reflect.get(target, property, receiver) as unknown;
      return async (data: Uint8Array, offset: number, length: number, position: number) => {
        seen.writes++;
        seen.inFlight++;
        seen.mostInFlight = Math.max(seen.mostInFlight, seen.inFlight);
        try {
          // A slow disk: the writer must go on filling its other buffer meanwhile.
          await new Promise((resolve) => setTimeout(resolve, 5));
          if (failAt !== undefined && position >= failAt) throw new Error('EIO: the disk failed');
          return await target.write(data, offset, length, position);
        } finally {
          seen.inFlight--;
        }
      };
    },
  });
  return { handle: proxy, seen };
}

describe('BufferedWriter', () => {
  let dir: string;
  let handle: FileHandle;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sealgate-file-io-'));
    handle = await open(join(dir, 'data'), 'w+');
  });
  afterEach(async () => {
    await handle.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes pieces of any size in order, across many buffers, from its starting position', async () => {
    writeFileSync(join(dir, 'data'), 'head');
    const body = randomBytes(5 * MIB + 12_345);
    const writer = new BufferedWriter(handle, 4);
    const sizes = [1, 65_536, 3 * MIB, 100_000, 7];
    for (let at = 0, i = 0; at < body.length; i++) {
      const next = Math.min(body.length, at + sizes[i % sizes.length]);
      await writer.write(body.subarray(at, next));
      at = next;
    }
    await writer.flush();
    expect(writer.written).toBe(body.length);
    const file = readFileSync(join(dir, 'data'));
    expect(file.subarray(0, 4).toString()).toBe('head');
    expect(file.subarray(4).equals(body)).toBe(true);
  });

  it('keeps filling one buffer while the other is written, never two writes at once', async () => {
    const { handle: slow, seen } = watched(handle);
    const writer = new BufferedWriter(slow, 0);
    const piece = randomBytes(64 * 1024);
    let returnedDuringWrite = 0;
    for (let i = 0; i < 64; i++) {
      await writer.write(piece);
      if (seen.inFlight > 0) returnedDuringWrite++;
    }
    await writer.flush();
    expect(seen.writes).toBe(4);
    expect(seen.mostInFlight).toBe(1);
    // Most pieces were taken while a 1 MiB write was still going on: the writer did not wait for it.
    expect(returnedDuringWrite).toBeGreaterThan(32);
    expect(readFileSync(join(dir, 'data')).equals(Buffer.concat(Array(64).fill(piece)))).toBe(true);
  });

  it('reports a failed write at the next write or flush', async () => {
    const { handle: failing } = watched(handle, MIB);
    const writer = new BufferedWriter(failing, 0);
    const piece = randomBytes(256 * 1024);
    const written = async () => {
      for (let i = 0; i < 16; i++) await writer.write(piece);
      await writer.flush();
    };
    await expect(written()).rejects.toThrow('EIO: the disk failed');
  });

  it('settle waits for the write in flight, so the handle can then be closed', async () => {
    const { handle: slow, seen } = watched(handle);
    const writer = new BufferedWriter(slow, 0);
    await writer.write(randomBytes(MIB));
    // The full buffer went out, and write() returned without waiting for it.
    expect(seen.inFlight).toBe(1);
    await writer.settle();
    expect(seen.inFlight).toBe(0);
    expect(readFileSync(join(dir, 'data')).length).toBe(MIB);
  });
});
