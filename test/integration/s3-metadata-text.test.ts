/**
 * User metadata values beyond ASCII, on both backends: an SDK v3 client sends them as UTF-8 and signs that
 * text; RFC 2047 encoded-words are taken too. S3 stores the text and returns a non-ASCII value as an RFC 2047
 * encoded-word (mail-safe ASCII), and counts UTF-8 bytes toward its 2 KB limit.
 */
import { randomBytes } from 'node:crypto';

import {
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
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
// Node's HTTP client (under SDK v3) refuses header characters above U+00FF; beyond them, clients send
// RFC 2047 encoded-words (the last test).
const TEXT = { name: 'Ünïcödé', accents: 'çà et là, ÿ', plain: 'ascii stays as is' };

/** What a client reads back: S3's RFC 2047 B encoded-word for non-ASCII text. */
function decoded(value: string | undefined): string | undefined {
  const word = /^=\?UTF-8\?B\?([A-Za-z0-9+/=]*)\?=$/.exec(value ?? '');
  return word ? Buffer.from(word[1], 'base64').toString('utf8') : value;
}

const moto = useMoto();

describe.each(BACKENDS)('non-ASCII user metadata on the %s backend', (backend) => {
  let gateway: TestGateway;
  let s3: S3Client;
  let bucket: string;

  beforeAll(async () => {
    gateway = await startTestGateway({ backend, s3Endpoint: moto.endpoint, encryptionYaml: PROXY_YAML });
    s3 = gateway.client();
    bucket = uniqueBucket();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it('takes UTF-8 values signed as text, and answers them as RFC 2047 encoded-words', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'text', Body: 'x', Metadata: TEXT }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'text' }));
    expect(head.Metadata!.name).toBe(`=?UTF-8?B?${Buffer.from(TEXT.name).toString('base64')}?=`);
    expect(head.Metadata!.plain).toBe(TEXT.plain);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'text' }));
    await got.Body!.transformToByteArray();
    for (const [name, value] of Object.entries(TEXT)) expect(decoded(got.Metadata![name])).toBe(value);
  });

  it('keeps the text through a copy that replaces metadata and through a multipart upload', async () => {
    await s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: 'copied',
        CopySource: `${bucket}/text`,
        MetadataDirective: 'REPLACE',
        Metadata: { copied: 'çà et là' },
      }),
    );
    const copied = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'copied' }));
    expect(decoded(copied.Metadata!.copied)).toBe('çà et là');
    const kept = await s3.send(
      new CopyObjectCommand({ Bucket: bucket, Key: 'kept', CopySource: `${bucket}/text` }),
    );
    expect(kept.CopyObjectResult?.ETag).toBeDefined();
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'kept' }));
    expect(decoded(head.Metadata!.accents)).toBe(TEXT.accents);
    const upload = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'parts', Metadata: { name: TEXT.name } }),
    );
    expect(upload.UploadId).toBeDefined();
  });

  it('decodes RFC 2047 encoded-words a client sends, B and Q alike', async () => {
    const put = await signedRequest(gateway.endpoint, {
      method: 'PUT',
      path: `/${bucket}/words`,
      headers: {
        'x-amz-meta-b': `=?UTF-8?B?${Buffer.from('日本語のテキスト').toString('base64')}?=`,
        'x-amz-meta-q': '=?utf-8?Q?caf=C3=A9_cr=C3=A8me?=',
        'x-amz-meta-literal': '=?not an encoded word',
      },
      body: 'x',
    });
    expect(put.status).toBe(200);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'words' }));
    expect(decoded(head.Metadata!.b)).toBe('日本語のテキスト');
    expect(decoded(head.Metadata!.q)).toBe('café crème');
    expect(head.Metadata!.literal).toBe('=?not an encoded word');
  });

  it('counts UTF-8 bytes toward the 2 KB limit, storing nothing over it', async () => {
    await expectS3Error(
      s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: 'big', Body: 'x', Metadata: { v: 'é'.repeat(1100) } }),
      ),
      'MetadataTooLarge',
      400,
    );
    await expectS3Error(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'big' })), 'NotFound', 404);
  });
});
