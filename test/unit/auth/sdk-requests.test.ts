// Requests made by the real AWS SDK v3 S3 client, captured before they reach the network, then verified by
// the gateway's auth and body pipeline: the closest a unit test gets to a real client.
import { Readable } from 'node:stream';
import { GetObjectCommand, PutObjectCommand, S3Client, type PutObjectCommandInput } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { describe, expect, it } from 'vitest';
import { decodeAwsChunked } from '../../../functions/core/auth/aws-chunked.js';
import { authenticate } from '../../../functions/core/auth/sigv4.js';
import { requestedChecksum } from '../../../functions/core/integrity/checksum-request.js';
import { verifyBody } from '../../../functions/core/integrity/verify-body.js';
import { AWS_EXAMPLE_KEY_ID, AWS_EXAMPLE_SECRET, credential, store } from './signing.js';

interface Captured {
  method: string;
  path: string;
  query: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body: Buffer;
}

function client(captured: Captured[]): S3Client {
  return new S3Client({
    region: 'us-east-1',
    endpoint: 'http://localhost:9000',
    forcePathStyle: true,
    credentials: { accessKeyId: AWS_EXAMPLE_KEY_ID, secretAccessKey: AWS_EXAMPLE_SECRET },
    maxAttempts: 1,
    requestHandler: {
      async handle(request: {
        method: string;
        path: string;
        query?: Record<string, string | string[] | null>;
        headers: Record<string, string>;
        body?: unknown;
      }) {
        const parts: Buffer[] = [];
        if (typeof request.body === 'string' || request.body instanceof Uint8Array) {
          parts.push(Buffer.from(request.body));
        } else if (request.body !== undefined && request.body !== null) {
          for await (const piece of request.body as AsyncIterable<string | Uint8Array>)
            parts.push(Buffer.from(piece));
        }
        captured.push({
          method: request.method,
          path: request.path,
          query: request.query ?? {},
          headers: request.headers,
          body: Buffer.concat(parts),
        });
        return {
          response: { statusCode: 200, headers: { etag: '"0"' }, body: Readable.from([]) },
        };
      },
    },
  });
}

/** The raw query the SDK's HTTP handler would put on the wire. */
function wireQuery(query: Captured['query']): string {
  const esc = (s: string): string =>
    encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
  return Object.entries(query)
    .flatMap(([k, v]) =>
      v === null ? [esc(k)] : (Array.isArray(v) ? v : [v]).map((x) => `${esc(k)}=${esc(x)}`),
    )
    .join('&');
}

async function putThroughGateway(
  input: Omit<PutObjectCommandInput, 'Bucket'>,
  tamper: (body: Buffer) => void = () => undefined,
): Promise<{ data: Buffer; captured: Captured }> {
  const captured: Captured[] = [];
  await client(captured).send(new PutObjectCommand({ Bucket: 'bucket', ...input }));
  const sent = captured[0];
  tamper(sent.body);
  const rawQuery = wireQuery(sent.query);
  const request = new Request(`http://localhost:9000${sent.path}${rawQuery ? `?${rawQuery}` : ''}`, {
    method: sent.method,
    headers: sent.headers,
    body: sent.body,
  });
  const auth = authenticate(request, { rawPath: sent.path, rawQuery, secure: false }, store, new Date());
  expect(auth.credential).toBe(credential);

  const checksum = requestedChecksum(request.headers);
  let source: AsyncIterable<Uint8Array> = request.body!;
  let trailers: (() => Record<string, string>) | undefined;
  if (auth.payload.kind === 'streaming') {
    const decoded = decodeAwsChunked(source, {
      chain: auth.payload.chain,
      trailer: auth.payload.trailer,
      decodedLength: Number(request.headers.get('x-amz-decoded-content-length')),
    });
    source = decoded.body;
    trailers = decoded.trailers;
  }
  const verified = verifyBody(source, {
    sha256: auth.payload.kind === 'sha256' ? auth.payload.hash : undefined,
    contentMd5: request.headers.get('content-md5') ?? undefined,
    checksum: checksum && {
      algorithm: checksum.algorithm,
      value: checksum.value,
      fromTrailer: checksum.inTrailer
        ? () => trailers?.()[`x-amz-checksum-${checksum.algorithm}`]
        : undefined,
    },
  });
  const parts: Uint8Array[] = [];
  for await (const piece of verified.body) parts.push(piece);
  return { data: Buffer.concat(parts), captured: sent };
}

describe('requests made by the AWS SDK v3 S3 client', () => {
  it('accepts a PutObject of a string body with the checksum the SDK adds by default', async () => {
    const { data, captured } = await putThroughGateway({ Key: 'a b/ü+~.txt', Body: 'hello, gateway' });
    expect(data.toString()).toBe('hello, gateway');
    expect(Object.keys(captured.headers).some((h) => h.startsWith('x-amz-checksum-'))).toBe(true);
  });

  it('accepts a PutObject of a stream the SDK sends aws-chunked with a trailing checksum', async () => {
    const payload = Buffer.alloc(300_000, 'xyz');
    const { data, captured } = await putThroughGateway({
      Key: 'streamed.bin',
      Body: Readable.from([payload.subarray(0, 100_000), payload.subarray(100_000)]),
      ContentLength: payload.length,
      ChecksumAlgorithm: 'CRC32C',
    });
    expect(captured.headers['x-amz-content-sha256']).toBe('STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    expect(data.equals(payload)).toBe(true);
  });

  it('rejects the SDK stream when a data byte changed on the way, by its trailing checksum', async () => {
    const payload = Buffer.alloc(50_000, 'q');
    const flipSecondDataByte = (body: Buffer): void => {
      body[body.indexOf('\r\n') + 3] ^= 1;
    };
    await expect(
      putThroughGateway(
        {
          Key: 'k',
          Body: Readable.from([payload]),
          ContentLength: payload.length,
          ChecksumAlgorithm: 'CRC32',
        },
        flipSecondDataByte,
      ),
    ).rejects.toMatchObject({ code: 'BadDigest' });
  });

  it('rejects the SDK string body when it changed after signing, by its signed payload hash', async () => {
    const flipFirstByte = (body: Buffer): void => {
      body[0] ^= 1;
    };
    await expect(putThroughGateway({ Key: 'k', Body: 'signed body' }, flipFirstByte)).rejects.toMatchObject({
      code: 'XAmzContentSHA256Mismatch',
    });
  });

  it('accepts presigned GET and PUT URLs made by getSignedUrl', async () => {
    const s3 = client([]);
    for (const command of [
      new GetObjectCommand({ Bucket: 'bucket', Key: 'dir/../weird key+%.txt' }),
      new PutObjectCommand({ Bucket: 'bucket', Key: 'upload/日本.bin' }),
    ]) {
      const url = await getSignedUrl(s3, command, { expiresIn: 600 });
      const [, rawPath, rawQuery] = /^http:\/\/localhost:9000([^?]*)\?(.*)$/.exec(url)!;
      const request = new Request(url, { method: command instanceof GetObjectCommand ? 'GET' : 'PUT' });
      const auth = authenticate(
        request,
        { rawPath: rawPath, rawQuery: rawQuery, secure: false },
        store,
        new Date(),
      );
      expect(auth.payload).toEqual({ kind: 'unsigned' });
    }
  });
});
