/**
 * Listings that S3 answers on every bucket, as an SDK v3 client sees them on both backends: ListBuckets
 * pages, ListObjectsV2 with an empty continuation token, ListObjectVersions on unversioned buckets (every
 * object the `null` version) and `versionId=null` wherever S3 takes a version id. The bucket encrypts
 * with a proxy key, so listed sizes must be plaintext sizes.
 */
import { randomBytes } from 'node:crypto';

import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestGateway, type BackendKind, type TestGateway } from '../support/gateway.js';
import { useMoto } from '../support/moto.js';
import { signedRequest } from '../support/signed-request.js';
import { expectS3Error, uniqueBucket } from '../support/s3-expect.js';

const BACKENDS: BackendKind[] = ['filesystem', 's3'];
const PROXY_YAML = `      mode: aes256-gcm-proxy\n      key: "${randomBytes(32).toString('hex')}"\n      key_id: k1\n`;

const moto = useMoto();

async function getText(s3: S3Client, bucket: string, key: string): Promise<string> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return got.Body!.transformToString();
}

describe.each(BACKENDS)('versions and paging on the %s backend', (backend) => {
  let gateway: TestGateway;
  let s3: S3Client;

  beforeAll(async () => {
    gateway = await startTestGateway({ backend, s3Endpoint: moto.endpoint, encryptionYaml: PROXY_YAML });
    s3 = gateway.client();
  });
  afterAll(async () => {
    await gateway?.close();
  });

  describe('ListBuckets pages', () => {
    const prefix = `pg${randomBytes(3).toString('hex')}`;
    const names = ['a', 'b', 'c', 'd', 'e'].map((n) => `${prefix}-${n}`);

    beforeAll(async () => {
      for (const Bucket of names) await s3.send(new CreateBucketCommand({ Bucket }));
    });

    it('pages by max-buckets with a continuation token, under a prefix, each bucket once', async () => {
      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await s3.send(
          new ListBucketsCommand({ Prefix: prefix, MaxBuckets: 2, ContinuationToken: token }),
        );
        pages++;
        expect(page.Prefix).toBe(prefix);
        expect(page.Buckets!.length).toBeLessThanOrEqual(2);
        for (const bucket of page.Buckets!) expect(bucket.BucketRegion).toBe('us-east-1');
        seen.push(...page.Buckets!.map((b) => b.Name!));
        token = page.ContinuationToken;
        if (token) expect(token).not.toContain(prefix); // opaque, not a bucket name
      } while (token);
      expect(seen).toEqual(names);
      expect(pages).toBe(3);
    });

    it('lists every bucket in one page, without a token, when no paging is asked for', async () => {
      const all = await s3.send(new ListBucketsCommand({}));
      expect(all.ContinuationToken).toBeUndefined();
      expect(all.Buckets!.map((b) => b.Name)).toEqual(expect.arrayContaining(names));
    });

    it('lists nothing for another region, whose buckets the gateway does not have', async () => {
      const page = await s3.send(new ListBucketsCommand({ Prefix: prefix, BucketRegion: 'eu-west-1' }));
      expect(page.Buckets ?? []).toEqual([]);
    });

    it('rejects a token it did not give and a max-buckets outside 1 to 10,000 with InvalidArgument', async () => {
      await expectS3Error(
        s3.send(new ListBucketsCommand({ ContinuationToken: 'not a token!' })),
        'InvalidArgument',
        400,
      );
      for (const max of ['0', '10001', 'x']) {
        const res = await signedRequest(gateway.endpoint, {
          method: 'GET',
          path: '/',
          query: { 'max-buckets': max },
        });
        expect({ max, status: res.status, code: res.code }).toEqual({
          max,
          status: 400,
          code: 'InvalidArgument',
        });
      }
    });
  });

  describe('objects', () => {
    let bucket: string;
    const keys = ['a/1', 'a/2', 'b', 'c/3', 'd'];
    const bodies = new Map(keys.map((key, i) => [key, randomBytes(100 + i)]));

    beforeAll(async () => {
      bucket = uniqueBucket();
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      for (const [Key, Body] of bodies) await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body }));
    });

    it('takes an empty continuation token for none, from the start, and echoes it', async () => {
      const res = await signedRequest(gateway.endpoint, {
        method: 'GET',
        path: `/${bucket}`,
        query: { 'list-type': '2', 'continuation-token': '' },
      });
      expect(res.status).toBe(200);
      const xml = res.body.toString('utf8');
      expect(xml).toMatch(/<ContinuationToken\s*\/>|<ContinuationToken><\/ContinuationToken>/);
      expect([...xml.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1])).toEqual(keys);
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: '', StartAfter: 'b' }),
      );
      expect(page.Contents!.map((o) => o.Key)).toEqual(['c/3', 'd']);
    });

    it('lists every object as its null version, the latest, with its plaintext size', async () => {
      const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
      expect(page.IsTruncated).toBe(false);
      expect(page.DeleteMarkers ?? []).toEqual([]);
      expect(page.Versions!.map((v) => v.Key)).toEqual(keys);
      for (const version of page.Versions!) {
        expect(version).toMatchObject({ VersionId: 'null', IsLatest: true, StorageClass: 'STANDARD' });
        expect(version.Size).toBe(bodies.get(version.Key!)!.length);
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: version.Key }));
        expect(version.ETag).toBe(head.ETag);
      }
    });

    it('pages versions by key and version-id markers, each once, rolling up a delimiter', async () => {
      const seen: string[] = [];
      let keyMarker: string | undefined;
      let versionIdMarker: string | undefined;
      let pages = 0;
      do {
        const page = await s3.send(
          new ListObjectVersionsCommand({
            Bucket: bucket,
            Delimiter: '/',
            MaxKeys: 2,
            KeyMarker: keyMarker,
            VersionIdMarker: versionIdMarker,
          }),
        );
        pages++;
        seen.push(
          ...(page.Versions ?? []).map((v) => v.Key!),
          ...(page.CommonPrefixes ?? []).map((p) => p.Prefix!),
        );
        expect(page.IsTruncated).toBe(page.NextKeyMarker !== undefined);
        keyMarker = page.NextKeyMarker;
        versionIdMarker = page.NextVersionIdMarker;
        if (keyMarker && !keyMarker.endsWith('/')) expect(versionIdMarker).toBe('null');
      } while (keyMarker);
      expect(seen.sort()).toEqual(['a/', 'b', 'c/', 'd']);
      expect(pages).toBe(2);
    });

    it('refuses a version-id marker without a key marker, and one that is not null', async () => {
      await expectS3Error(
        s3.send(new ListObjectVersionsCommand({ Bucket: bucket, VersionIdMarker: 'null' })),
        'InvalidArgument',
        400,
      );
      await expectS3Error(
        s3.send(new ListObjectVersionsCommand({ Bucket: bucket, KeyMarker: 'a', VersionIdMarker: 'v2' })),
        'InvalidArgument',
        400,
      );
    });

    it('takes versionId=null on GET, HEAD, copy sources and DELETE', async () => {
      const body = bodies.get('b')!;
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'b', VersionId: 'null' }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'b', VersionId: 'null' }));
      expect(head.ETag).toBe(got.ETag); // through a function URL a HEAD carries no Content-Length
      await s3.send(
        new CopyObjectCommand({ Bucket: bucket, Key: 'copied', CopySource: `${bucket}/b?versionId=null` }),
      );
      const copied = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'copied' }));
      expect(Buffer.from(await copied.Body!.transformToByteArray()).equals(body)).toBe(true);
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'copied', VersionId: 'null' }));
      await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'copied' })), 'NotFound', 404);
    });

    it('deletes DeleteObjects entries of the null version, and refuses other versions by entry', async () => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'gone', Body: 'x' }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'kept', Body: 'y' }));
      const result = await s3.send(
        new DeleteObjectsCommand({
          Bucket: bucket,
          Delete: {
            Objects: [
              { Key: 'gone', VersionId: 'null' },
              { Key: 'kept', VersionId: '3HL4kqtJlcpXroDTDmJ' },
            ],
          },
        }),
      );
      expect(result.Deleted).toEqual([{ Key: 'gone', VersionId: 'null' }]);
      expect(result.Errors).toEqual([
        expect.objectContaining({ Key: 'kept', VersionId: '3HL4kqtJlcpXroDTDmJ', Code: 'NotImplemented' }),
      ]);
      await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'gone' })), 'NotFound', 404);
      expect(await getText(s3, bucket, 'kept')).toBe('y');
    });

    it('still refuses to enable versioning, saying so', async () => {
      await expectS3Error(
        s3.send(
          new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }),
        ),
        'NotImplemented',
        501,
      );
    });
  });
});
