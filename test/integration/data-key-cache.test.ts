/**
 * The aws-kms-envelope data-key cache (functions/core/encryption/data-key-cache.ts) in front of the real KMS
 * key service on moto's KMS, with a counting proxy between them: what reaches KMS is what the proxy saw.
 * Then through the gateway: an envelope object read again costs one Decrypt per read by default, none
 * with the cache turned on.
 */
import { randomBytes } from 'node:crypto';

import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { KmsKeyService } from '../../functions/adapters/kms-key-service.js';
import { parseConfig } from '../../functions/core/config/schema.js';
import { CachingKeyService } from '../../functions/core/encryption/data-key-cache.js';
import { KmsIntegrityError } from '../../functions/core/encryption/kms.js';
import { countingProxy } from '../support/counting-proxy.js';
import { createMotoKmsKey } from '../support/encryption-gateway.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startMoto, type MotoServer } from '../support/moto.js';

const CONTEXT = { 'sealgate:bucket': 'photos', 'sealgate:key': 'cat.jpg' };
const CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

type Proxy = Awaited<ReturnType<typeof countingProxy>>;

/** The KMS operations (X-Amz-Target, without the service prefix) the proxy has forwarded. */
function kmsOperations(proxy: Proxy): string[] {
  return proxy.seen.map((request) =>
    String(request.headers['x-amz-target'] ?? '').replace('TrentService.', ''),
  );
}

const decrypts = (proxy: Proxy) => kmsOperations(proxy).filter((op) => op === 'Decrypt').length;

describe('the data-key cache in front of KMS (moto)', () => {
  let moto: MotoServer;
  let proxy: Proxy;
  let keyArn: string;
  const services: KmsKeyService[] = [];
  let now = 0;

  function cached(limits = { maxAgeMs: 1000, maxEntries: 3 }) {
    const service = new KmsKeyService({
      endpoint: proxy.endpoint,
      region: 'us-east-1',
      credentials: CREDENTIALS,
    });
    services.push(service);
    return { kms: service, cache: new CachingKeyService(service, limits, () => now) };
  }

  beforeAll(async () => {
    moto = await startMoto();
    proxy = await countingProxy(moto.endpoint);
    keyArn = await createMotoKmsKey(moto);
  });
  afterEach(() => {
    proxy.seen.length = 0;
    proxy.requests.length = 0;
  });
  afterAll(async () => {
    for (const service of services) service.close();
    await proxy?.close();
    await moto?.stop();
  });

  it('opens a key it made without asking KMS, and hands out copies of it', async () => {
    const { cache } = cached();
    const made = await cache.generateDataKey(keyArn, CONTEXT);
    const opened = await cache.decrypt(made.ciphertext, { ...CONTEXT });
    expect(Buffer.from(opened.plaintext).equals(Buffer.from(made.plaintext))).toBe(true);
    expect(opened.keyId).toBe(keyArn);
    opened.plaintext.fill(0);
    const again = await cache.decrypt(made.ciphertext, CONTEXT);
    expect(Buffer.from(again.plaintext).equals(Buffer.from(made.plaintext))).toBe(true);
    expect(kmsOperations(proxy)).toEqual(['GenerateDataKey']);
  });

  it('asks KMS once for a key it has not seen, then serves it until the age runs out', async () => {
    const { kms, cache } = cached({ maxAgeMs: 1000, maxEntries: 3 });
    const made = await kms.generateDataKey(keyArn, CONTEXT);
    now = 10_000;
    const [first, second] = await Promise.all([
      cache.decrypt(made.ciphertext, CONTEXT),
      cache.decrypt(made.ciphertext, CONTEXT),
    ]);
    expect(Buffer.from(first.plaintext).equals(Buffer.from(made.plaintext))).toBe(true);
    expect(Buffer.from(second.plaintext).equals(Buffer.from(made.plaintext))).toBe(true);
    expect(decrypts(proxy)).toBe(1);
    now = 10_999;
    await cache.decrypt(made.ciphertext, CONTEXT);
    expect(decrypts(proxy)).toBe(1);
    now = 11_000;
    await cache.decrypt(made.ciphertext, CONTEXT);
    expect(decrypts(proxy)).toBe(2);
  });

  it('sends the same blob under another context to KMS, which refuses it, and keeps no failure', async () => {
    const { cache } = cached();
    const made = await cache.generateDataKey(keyArn, CONTEXT);
    const moved = { ...CONTEXT, 'sealgate:key': 'dog.jpg' };
    for (let attempt = 0; attempt < 2; attempt++) {
      await expect(cache.decrypt(made.ciphertext, moved)).rejects.toBeInstanceOf(KmsIntegrityError);
    }
    expect(decrypts(proxy)).toBe(2);
    const extra = { ...CONTEXT, extra: 'x' };
    await expect(cache.decrypt(made.ciphertext, extra)).rejects.toBeInstanceOf(KmsIntegrityError);
    expect(decrypts(proxy)).toBe(3);
  });

  it('holds at most its size, the least recently used leaving first', async () => {
    const { cache } = cached({ maxAgeMs: 60_000, maxEntries: 2 });
    const a = await cache.generateDataKey(keyArn, CONTEXT);
    const b = await cache.generateDataKey(keyArn, CONTEXT);
    await cache.decrypt(a.ciphertext, CONTEXT); // a is now the most recently used
    const c = await cache.generateDataKey(keyArn, CONTEXT); // b leaves
    expect(cache.size).toBe(2);
    await cache.decrypt(a.ciphertext, CONTEXT);
    await cache.decrypt(c.ciphertext, CONTEXT);
    expect(decrypts(proxy)).toBe(0);
    const openedB = await cache.decrypt(b.ciphertext, CONTEXT);
    expect(Buffer.from(openedB.plaintext).equals(Buffer.from(b.plaintext))).toBe(true);
    expect(decrypts(proxy)).toBe(1);
    expect(cache.size).toBe(2);
  });

  it('keeps the key it wrapped with Encrypt (a copy re-wraps), bound to the new context', async () => {
    const { cache } = cached();
    const dataKey = randomBytes(32);
    const target = { ...CONTEXT, 'sealgate:key': 'copy.jpg' };
    const wrapped = await cache.encrypt(keyArn, dataKey, target);
    const opened = await cache.decrypt(wrapped.ciphertext, target);
    expect(Buffer.from(opened.plaintext).equals(dataKey)).toBe(true);
    expect(kmsOperations(proxy)).toEqual(['Encrypt']);
  });

  it('refuses limits that would make it no cache', () => {
    const { kms } = cached();
    expect(() => new CachingKeyService(kms, { maxAgeMs: 0, maxEntries: 10 })).toThrow(/positive/);
    expect(() => new CachingKeyService(kms, { maxAgeMs: 10, maxEntries: 0 })).toThrow(/positive/);
  });
});

describe('kms_cache_seconds and kms_cache_entries in the config', () => {
  const envelope = (extra: Record<string, unknown>) =>
    parseConfig({
      backends: [
        {
          name: 'local',
          type: 'filesystem',
          path: './data',
          encryption: { mode: 'aws-kms-envelope', kms_key_id: 'alias/k', ...extra },
        },
      ],
    });

  it('is off unless kms_cache_seconds is set above 0, and then holds 1000 entries unless told', () => {
    expect(envelope({}).backends[0].encryption.kms).toBeDefined();
    expect(envelope({}).backends[0].encryption.kms?.dataKeyCache).toBeUndefined();
    expect(envelope({ kms_cache_seconds: 60 }).backends[0].encryption.kms?.dataKeyCache).toEqual({
      maxAgeMs: 60_000,
      maxEntries: 1000,
    });
    expect(
      envelope({ kms_cache_seconds: 5, kms_cache_entries: 20 }).backends[0].encryption.kms?.dataKeyCache,
    ).toEqual({ maxAgeMs: 5000, maxEntries: 20 });
    const off = envelope({ kms_cache_seconds: 0 }).backends[0].encryption.kms;
    expect(off).toBeDefined();
    expect(off?.dataKeyCache).toBeUndefined();
  });

  it.each([
    ['kms_cache_seconds', -1],
    ['kms_cache_seconds', 3601],
    ['kms_cache_seconds', 1.5],
    ['kms_cache_seconds', '60'],
    ['kms_cache_entries', 0],
    ['kms_cache_entries', 'many'],
  ])('refuses %s: %j with a clear error', (field, value) => {
    expect(() => envelope({ [field]: value })).toThrow(
      new RegExp(`backends\\[0\\]\\.encryption\\.${field}.*must be a whole number from`),
    );
  });
});

describe('envelope reads through the gateway, with and without the cache', () => {
  let moto: MotoServer;
  let proxy: Proxy;
  let gateway: TestGateway | undefined;

  beforeAll(async () => {
    process.env.AWS_ACCESS_KEY_ID ??= 'testing';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'testing';
    moto = await startMoto();
    proxy = await countingProxy(moto.endpoint);
  });
  afterEach(async () => {
    await gateway?.close();
    gateway = undefined;
  });
  afterAll(async () => {
    await proxy?.close();
    await moto?.stop();
  });

  async function putThenRead(cacheYaml: string, reads: number): Promise<string[]> {
    const keyArn = await createMotoKmsKey(moto);
    gateway = await startTestGateway({
      encryptionYaml:
        `      mode: aws-kms-envelope\n      kms_key_id: ${keyArn}\n      kms_endpoint: ${proxy.endpoint}\n` +
        cacheYaml,
    });
    const s3 = gateway.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'sealed' }));
    const body = randomBytes(70_000);
    await s3.send(new PutObjectCommand({ Bucket: 'sealed', Key: 'one', Body: body }));
    proxy.seen.length = 0;
    for (let i = 0; i < reads; i++) {
      const out = await s3.send(
        new GetObjectCommand({ Bucket: 'sealed', Key: 'one', Range: i ? 'bytes=5-9' : undefined }),
      );
      const bytes = Buffer.from(await out.Body!.transformToByteArray());
      expect(bytes.equals(i ? body.subarray(5, 10) : body)).toBe(true);
    }
    return kmsOperations(proxy);
  }

  it('reads an object written by this process without a KMS call with kms_cache_seconds: 60', async () => {
    expect(await putThenRead('      kms_cache_seconds: 60\n', 3)).toEqual([]);
  });

  it('makes one Decrypt per read by default, and with kms_cache_seconds: 0', async () => {
    expect(await putThenRead('', 3)).toEqual(['Decrypt', 'Decrypt', 'Decrypt']);
    await gateway?.close();
    gateway = undefined;
    expect(await putThenRead('      kms_cache_seconds: 0\n', 2)).toEqual(['Decrypt', 'Decrypt']);
  });
});
