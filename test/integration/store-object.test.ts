/**
 * storeObject on a real filesystem backend, watched through its Backend interface: which writes hand the
 * backend markers to add after the body (`late`, which costs an S3 backend a self-copy) and which carry
 * everything up front.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemBackend } from '../../functions/adapters/filesystem-backend.js';
import type { Backend, Body, ObjectMetadata, WriteOptions } from '../../functions/core/backend.js';
import { BackendKeys } from '../../functions/core/encryption/data-keys.js';
import { BUFFERED_BODY_BYTES, storeObject } from '../../functions/core/encryption/store-object.js';
import { openObject, readObject } from '../../functions/core/encryption/stored-object.js';
import type { WriteTarget } from '../../functions/core/encryption/write-target.js';
import type { Route } from '../../functions/core/routes.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

async function* once(bytes: Buffer): AsyncGenerator<Uint8Array> {
  yield bytes;
}

async function collect(body: Body): Promise<Buffer> {
  const pieces: Uint8Array[] = [];
  for await (const piece of body) pieces.push(piece);
  return Buffer.concat(pieces);
}

describe('storeObject: late markers only for bodies too large to settle first', () => {
  let dir: TempDir;
  let route: Route;
  const writes: { key: string; late: boolean; internal: Record<string, string> }[] = [];

  beforeAll(async () => {
    dir = await makeTempDir();
    const real = new FilesystemBackend({ name: 'fs', root: dir.path });
    await real.createBucket('b');
    // The real backend, with its putObject watched.
    const backend: Backend = Object.create(real) as Backend;
    backend.putObject = (bucket, key, body, size, metadata: ObjectMetadata, options?: WriteOptions) => {
      writes.push({ key, late: options?.late !== undefined, internal: { ...metadata.internal } });
      return real.putObject(bucket, key, body, size, metadata, options);
    };
    const keys = new BackendKeys('fs', {
      mode: 'aes256-gcm-proxy',
      current: { id: 'k1', key: randomBytes(32) },
    });
    route = { backend, bucket: 'b', keys };
  });
  afterAll(async () => {
    await dir.cleanup();
  });

  const proxy: WriteTarget = { kind: 'gateway', mode: 'aes256-gcm-proxy' };
  const plain: WriteTarget = { kind: 'plain' };
  const metadata = (): ObjectMetadata => ({ headers: {}, user: {}, internal: {} });

  it.each([
    ['a small encrypted body: sealed up front', proxy, BUFFERED_BODY_BYTES, false],
    ['a large encrypted body: sealed late', proxy, BUFFERED_BODY_BYTES + 1, true],
  ])('%s', async (_what, target, size, late) => {
    const data = randomBytes(size);
    const key = `k-${size}`;
    const stored = await storeObject(
      route,
      { bucket: 'b', key },
      { body: once(data), size, metadata: metadata(), target },
    );
    const md5 = createHash('md5').update(data).digest('hex');
    expect(stored.etag).toBe(`"${md5}"`);
    expect(writes.at(-1)).toMatchObject({ key, late });
    expect(writes.at(-1)!.internal['sealed'] !== undefined).toBe(!late);
    const opened = await openObject(
      route,
      { bucket: 'b', key },
      await route.backend.headObject('b', key),
      undefined,
    );
    expect(opened.view.etag).toBe(`"${md5}"`);
    expect((await collect((await readObject(route, opened)).body)).equals(data)).toBe(true);
  });

  it('settles a small plain body whose trailer checksum comes late, and stores the checksum with the write', async () => {
    const data = randomBytes(1000);
    const stored = await storeObject(
      route,
      { bucket: 'b', key: 'plain-trailer' },
      {
        body: once(data),
        size: data.length,
        metadata: metadata(),
        target: plain,
        late: () => ({ 'checksum-crc32': 'AAAAAA==' }),
      },
    );
    expect(writes.at(-1)).toMatchObject({ key: 'plain-trailer', late: false });
    expect(writes.at(-1)!.internal).toEqual({ 'checksum-crc32': 'AAAAAA==' });
    expect(stored.info.metadata.internal['checksum-crc32']).toBe('AAAAAA==');
  });

  it('stores nothing when a small body fails while it is read', async () => {
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield Buffer.alloc(10);
      throw new Error('client went away');
    }
    const before = writes.length;
    await expect(
      storeObject(
        route,
        { bucket: 'b', key: 'broken' },
        { body: failing(), size: 100, metadata: metadata(), target: proxy },
      ),
    ).rejects.toThrow('client went away');
    expect(writes.length).toBe(before);
    await expect(route.backend.headObject('b', 'broken')).rejects.toMatchObject({ code: 'NoSuchKey' });
  });
});
