/**
 * What a listing costs, by the bucket's listing record (README, "Listing cost"): a bucket the gateway
 * created empty lists what the backend lists (on S3, one request a page) until the first object a listing
 * must read (gateway-encrypted, or with a kept ETag) is about to land; that write records the bucket as
 * `marked` first, from whichever instance makes it, and every listing after it shows plaintext sizes.
 * Both backends (moto for S3, behind a proxy that counts what the backend is asked).
 */
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createConfigTable } from '../../functions/adapters/dynamodb-config-table.js';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { jsonLogger } from '../../functions/core/logger.js';
import { startLocalServer, type LocalServer } from '../../functions/handlers/local-server.js';
import { admin } from '../support/admin.js';
import { countingProxy } from '../support/counting-proxy.js';
import { defaultTarget, startTestGateway, type BackendKind, type TestGateway } from '../support/gateway.js';
import { MOTO_CLIENT, useMoto } from '../support/moto.js';
import { patternBytes } from '../support/s3-expect.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

const moto = useMoto();
const md5 = (data: Buffer) => `"${createHash('md5').update(data).digest('hex')}"`;

describe.each(['filesystem', 's3'] as BackendKind[])('listing records (%s)', (backend) => {
  let gateway: TestGateway;
  let s3: S3Client;
  let proxy: Awaited<ReturnType<typeof countingProxy>> | undefined;
  const suffix = randomBytes(3).toString('hex');
  const bucket = (name: string) => `${name}-${suffix}`;
  /** The function URL target runs on the config it was deployed with: a store no one writes, no records. */
  const keeps = defaultTarget() === 'server';

  beforeAll(async () => {
    if (backend === 's3') proxy = await countingProxy(moto.endpoint);
    const sealedWhere =
      backend === 's3'
        ? `    type: s3\n    endpoint: ${proxy!.endpoint}\n    region: us-east-1\n` +
          `    access_key_id: testing\n    secret_access_key: testing\n    force_path_style: true\n`
        : undefined;
    gateway = await startTestGateway({
      backend,
      s3Endpoint: proxy?.endpoint,
      encryptionYaml:
        `      mode: none\n      key: "${'5a'.repeat(32)}"\n      key_id: managed-1\n` +
        `      on_request:\n        aes256: aes256-gcm-proxy\n`,
      backendsYaml: (dataDir) =>
        `  - name: sealed\n${sealedWhere ?? `    type: filesystem\n    path: ${join(dataDir, 'sealed')}\n`}` +
        `    encryption:\n      mode: aes256-gcm-proxy\n      key: "${'6b'.repeat(32)}"\n      key_id: sealed-1\n`,
      extraYaml: `buckets:\n  - name: ${bucket('sealed')}\n    backend: sealed\n`,
    });
    s3 = gateway.client();
  });
  afterAll(async () => {
    await gateway?.close();
    await proxy?.close();
  });

  async function record(name: string): Promise<unknown> {
    const answer = await admin(gateway.endpoint, 'GET', `buckets/${name}/settings`);
    return answer.status === 404 ? undefined : answer.json!.listing;
  }

  /** One ListObjectsV2 page, and the backend requests it cost (S3 only: a filesystem backend has no count). */
  async function listed(name: string) {
    const before = proxy?.requests.length ?? 0;
    const page = await s3.send(new ListObjectsV2Command({ Bucket: name }));
    const requests = proxy?.requests.slice(before) ?? [];
    return {
      objects: (page.Contents ?? []).map((o) => ({ key: o.Key, size: o.Size, etag: o.ETag })),
      heads: requests.filter((r) => r.startsWith('HEAD ')).length,
      requests: requests.length,
    };
  }

  it('lists a bucket it created, holding only plain objects, without reading any object', async () => {
    const name = bucket('plain');
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    expect(await record(name)).toBe(keeps ? 'plain' : undefined);
    const bodies = [1, 20, 300].map((n) => patternBytes(n, n));
    for (const [i, body] of bodies.entries()) {
      await s3.send(new PutObjectCommand({ Bucket: name, Key: `k${i}`, Body: body }));
    }
    const page = await listed(name);
    expect(page.objects).toEqual(bodies.map((b, i) => ({ key: `k${i}`, size: b.length, etag: md5(b) })));
    if (backend === 's3') {
      // Recorded plain: the listing alone; otherwise a HEAD per object (markers could hide anywhere).
      expect(page.requests).toBe(keeps ? 1 : 4);
      expect(page.heads).toBe(keeps ? 0 : 3);
    }
    expect(await record(name)).toBe(keeps ? 'plain' : undefined);
  });

  it('records the bucket marked before its first encrypted object lands, and lists that with its plaintext size', async () => {
    const name = bucket('plain');
    const body = patternBytes(1000, 7);
    const put = await s3.send(
      new PutObjectCommand({ Bucket: name, Key: 'sealed', Body: body, ServerSideEncryption: 'AES256' }),
    );
    expect(put.ServerSideEncryption).toBe('AES256');
    expect(await record(name)).toBe(keeps ? 'marked' : undefined);
    const first = await listed(name);
    expect(first.objects.find((o) => o.key === 'sealed')).toEqual({
      key: 'sealed',
      size: 1000,
      etag: md5(body),
    });
    expect(first.objects).toHaveLength(4);
    if (backend === 's3') {
      // Marked: every object is read once, then described from what that listing learned.
      expect(first.heads).toBe(keeps ? 4 : 1); // unrecorded, the earlier listing read (and kept) the rest
      const again = await listed(name);
      expect(again.objects).toEqual(first.objects);
      expect(again.requests).toBe(1);
    }
  });

  it('keeps a bucket on an encrypting backend plain until its first object, then shows plaintext sizes', async () => {
    const name = bucket('sealed');
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    expect(await record(name)).toBe(keeps ? 'plain' : undefined);
    const empty = await listed(name);
    expect(empty.objects).toEqual([]);
    if (backend === 's3') expect(empty.requests).toBe(1);
    const body = patternBytes(5000, 3);
    await s3.send(new PutObjectCommand({ Bucket: name, Key: 'one', Body: body }));
    expect(await record(name)).toBe(keeps ? 'marked' : undefined);
    expect((await listed(name)).objects).toEqual([{ key: 'one', size: 5000, etag: md5(body) }]);
  });

  it('arms the record at multipart completion and on copies that store encrypted, not on plain copies', async () => {
    const multipart = bucket('mp');
    await s3.send(new CreateBucketCommand({ Bucket: multipart }));
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: multipart, Key: 'big', ServerSideEncryption: 'AES256' }),
    );
    // One part, the last: any size, and within a function URL's request limit.
    const part = patternBytes(1024 * 1024, 11);
    const { ETag } = await s3.send(
      new UploadPartCommand({ Bucket: multipart, Key: 'big', UploadId, PartNumber: 1, Body: part }),
    );
    // The object does not exist until completion: the bucket still lists without reading.
    expect(await record(multipart)).toBe(keeps ? 'plain' : undefined);
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: multipart,
        Key: 'big',
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag }] },
      }),
    );
    expect(await record(multipart)).toBe(keeps ? 'marked' : undefined);
    const [big] = (await listed(multipart)).objects;
    expect(big).toMatchObject({ key: 'big', size: part.length });

    const copies = bucket('cp');
    await s3.send(new CreateBucketCommand({ Bucket: copies }));
    const source = { Bucket: bucket('sealed'), Key: 'one' };
    // Out of an encrypting backend into a plain one: stored as plaintext, nothing for a listing to read.
    await s3.send(
      new CopyObjectCommand({
        Bucket: copies,
        Key: 'plain-copy',
        CopySource: `${source.Bucket}/${source.Key}`,
      }),
    );
    expect(await record(copies)).toBe(keeps ? 'plain' : undefined);
    await s3.send(
      new CopyObjectCommand({
        Bucket: copies,
        Key: 'sealed-copy',
        CopySource: `${source.Bucket}/${source.Key}`,
        ServerSideEncryption: 'AES256',
      }),
    );
    expect(await record(copies)).toBe(keeps ? 'marked' : undefined);
    expect((await listed(copies)).objects.map((o) => o.size)).toEqual([5000, 5000]);
  });

  it('gives no record to a bucket that held objects before CreateBucket', async () => {
    const name = bucket('pre');
    if (backend === 's3') {
      // Made on the backend behind the gateway's back, with an object in it.
      const raw = new S3Client({ endpoint: moto.endpoint, forcePathStyle: true, ...MOTO_CLIENT });
      await raw.send(new CreateBucketCommand({ Bucket: name }));
      await raw.send(new PutObjectCommand({ Bucket: name, Key: 'before', Body: 'x' }));
      raw.destroy();
    } else {
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      await s3.send(new PutObjectCommand({ Bucket: name, Key: 'before', Body: 'x' }));
      if (keeps) {
        const current = await admin(gateway.endpoint, 'GET', `buckets/${name}/settings`);
        const removed = await admin(gateway.endpoint, 'DELETE', `buckets/${name}/settings`, undefined, {
          query: { revision: String(current.json!.revision) },
        });
        expect(removed.status).toBe(204);
      }
    }
    expect(await record(name)).toBeUndefined();
    // Whether the backend answers a second CreateBucket with success or with BucketAlreadyOwnedByYou, a
    // bucket that holds objects is never recorded plain.
    const outcome = await s3.send(new CreateBucketCommand({ Bucket: name })).then(
      () => 'created',
      (error: Error) => error.name,
    );
    expect(['created', 'BucketAlreadyOwnedByYou']).toContain(outcome);
    expect(await record(name)).toBeUndefined();
    expect((await listed(name)).objects).toEqual([{ key: 'before', size: 1, etag: md5(Buffer.from('x')) }]);
  });

  it.skipIf(!keeps)('keeps a marked record through a settings delete: it is never taken back', async () => {
    const name = bucket('plain');
    const current = await admin(gateway.endpoint, 'GET', `buckets/${name}/settings`);
    expect(current.json).toMatchObject({ listing: 'marked' });
    const removed = await admin(gateway.endpoint, 'DELETE', `buckets/${name}/settings`, undefined, {
      query: { revision: String(current.json!.revision) },
    });
    expect(removed.status).toBe(204);
    expect(await record(name)).toBe('marked');
  });
});

describe('listing records across instances sharing a DynamoDB store', () => {
  let dir: TempDir;
  let a: LocalServer;
  let b: LocalServer;
  const clients: S3Client[] = [];
  const ADMIN = { accessKeyId: 'SGLISTINGADMIN', secretAccessKey: 'listing-records-admin-secret-01' };

  function client(server: LocalServer): S3Client {
    const made = new S3Client({
      endpoint: server.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: ADMIN,
      maxAttempts: 1,
    });
    clients.push(made);
    return made;
  }

  beforeAll(async () => {
    dir = await makeTempDir();
    const tableName = `sealgate-listing-${randomBytes(3).toString('hex')}`;
    const dynamo = new DynamoDBClient({ endpoint: moto.endpoint, ...MOTO_CLIENT });
    await createConfigTable(dynamo, tableName);
    dynamo.destroy();
    // Secrets live outside the table, as the DynamoDB store requires: here in SSM.
    const ssm = new SSMClient({ endpoint: moto.endpoint, ...MOTO_CLIENT });
    for (const [name, value] of [
      [`/${tableName}/key`, '7c'.repeat(32)],
      [`/${tableName}/admin`, ADMIN.secretAccessKey],
    ]) {
      await ssm.send(new PutParameterCommand({ Name: name, Value: value, Type: 'SecureString' }));
    }
    ssm.destroy();
    const seed = join(dir.path, 'seed.json');
    writeFileSync(
      seed,
      JSON.stringify({
        backends: [
          {
            name: 'main',
            type: 'filesystem',
            path: join(dir.path, 'data'),
            encryption: { mode: 'aes256-gcm-proxy', key: `\${ssm:/${tableName}/key}`, key_id: 'shared-1' },
          },
        ],
        credentials: [
          { access_key_id: ADMIN.accessKeyId, secret_access_key: `\${ssm:/${tableName}/admin}`, admin: true },
        ],
      }),
    );
    const start = (reloadIntervalMs: number, configFile?: string) =>
      startLocalServer({
        host: '127.0.0.1',
        port: 0,
        dataDir: join(dir.path, `instance-${randomBytes(3).toString('hex')}`),
        configTable: tableName,
        configFile,
        aws: { endpoint: moto.endpoint, ...MOTO_CLIENT },
        reloadIntervalMs,
        env: {},
        logger: jsonLogger('silent'),
      });
    // Each checks the store only once an hour: A's snapshot is what A wrote itself, B's from before that.
    a = await start(3_600_000, seed);
    b = await start(3_600_000);
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await a?.close();
    await b?.close();
    await dir?.cleanup();
  });

  it('sees a write armed by an instance whose snapshot never saw the bucket recorded plain', async () => {
    await client(a).send(new CreateBucketCommand({ Bucket: 'fresh' }));
    const settings = await admin(a.endpoint, 'GET', 'buckets/fresh/settings', undefined, {
      credentials: ADMIN,
    });
    expect(settings.json).toMatchObject({ listing: 'plain' });
    const body = patternBytes(777, 5);
    await client(b).send(new PutObjectCommand({ Bucket: 'fresh', Key: 'from-b', Body: body }));
    // A's snapshot still says plain; the store, which A asks before it lists without reading, does not.
    const page = await client(a).send(new ListObjectsV2Command({ Bucket: 'fresh' }));
    expect(page.Contents?.map((o) => [o.Key, o.Size, o.ETag])).toEqual([['from-b', 777, md5(body)]]);
    const after = await admin(a.endpoint, 'GET', 'buckets/fresh/settings', undefined, { credentials: ADMIN });
    expect(after.json).toMatchObject({ listing: 'marked' });
  });
});
