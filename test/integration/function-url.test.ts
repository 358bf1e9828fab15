/**
 * The Lambda function URL edge: the adapter (functions/adapters/function-url.ts) and the real handler
 * (functions/handlers/lambda.ts), driven through the function URL emulator the way Lambda invokes them.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FUNCTION_URL_LIMITS,
  limitResponse,
  streamHandle,
  toWebRequest,
  writeToResponseStream,
  type FunctionUrlEvent,
} from '../../functions/adapters/function-url.js';
import type { LambdaResponseStream } from '../../functions/adapters/awslambda.js';
import type { Gateway } from '../../functions/core/gateway.js';
import { jsonLogger } from '../../functions/core/logger.js';
import type { RequestContext } from '../../functions/core/request-context.js';
import {
  EVENT_LIMIT_BYTES,
  PAYLOAD_TOO_LARGE_MESSAGE,
  installAwsLambdaGlobals,
  recordingResponseStream,
  startFunctionUrlEmulator,
  startFunctionUrlGateway,
  type FunctionUrlEmulator,
} from '../support/function-url-emulator.js';
import type { TestGateway } from '../support/gateway.js';
import { rawRequest, signHeaders, signedRequest } from '../support/signed-request.js';

const KIB = 1024;
const MIB = 1024 * KIB;
const silent = jsonLogger('silent');

installAwsLambdaGlobals();

/** A minimal 2.0 event for adapter unit tests. */
function event(overrides: Partial<FunctionUrlEvent> & { method?: string } = {}): FunctionUrlEvent {
  const { method = 'GET', ...rest } = overrides;
  return {
    version: '2.0',
    rawPath: '/',
    rawQueryString: '',
    headers: { host: 'abc.lambda-url.us-east-1.on.aws' },
    isBase64Encoded: false,
    requestContext: { requestId: 'r-1', http: { method, sourceIp: '198.51.100.7' } },
    ...rest,
  };
}

/** Splits what a handler wrote into the prelude (parsed), the separator and the body. */
function splitPrelude(bytes: Buffer): {
  metadata: { statusCode: number; headers: Record<string, string>; cookies?: string[] };
  separator: Buffer;
  body: Buffer;
} {
  const at = bytes.indexOf(Buffer.alloc(8));
  expect(at).toBeGreaterThan(0);
  return {
    metadata: JSON.parse(bytes.subarray(0, at).toString('utf8')) as {
      statusCode: number;
      headers: Record<string, string>;
      cookies?: string[];
    },
    separator: bytes.subarray(at, at + 8),
    body: bytes.subarray(at + 8),
  };
}

/** A gateway stand-in that answers every request with `respond`. */
function standIn(respond: (request: Request, ctx: RequestContext) => Response | Promise<Response>): Gateway {
  return { handle: async (request, ctx) => respond(request, ctx) };
}

/** A body that yields `first` and then fails. */
function failingBody(first?: Uint8Array): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (first !== undefined && !sent) {
        sent = true;
        controller.enqueue(first);
      } else controller.error(new Error('backend connection reset'));
    },
  });
}

describe('the function URL event becomes a Web Request', () => {
  it('keeps the raw path percent-encoded and the raw query as sent, for SigV4', () => {
    const { ctx } = toWebRequest(
      event({ rawPath: '/bkt/a%2Fb%20c/../d', rawQueryString: 'prefix=x&prefix=y&list-type=2' }),
    );
    expect(ctx.rawPath).toBe('/bkt/a%2Fb%20c/../d');
    expect(ctx.rawQuery).toBe('prefix=x&prefix=y&list-type=2');
    expect(ctx.sourceIp).toBe('198.51.100.7');
  });

  it('decodes a base64 body byte for byte', async () => {
    const bytes = randomBytes(4096);
    const { request } = toWebRequest(
      event({
        method: 'PUT',
        body: bytes.toString('base64'),
        isBase64Encoded: true,
        headers: { 'content-length': '4096' },
      }),
    );
    expect(Buffer.from(await request.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('takes a text body as UTF-8 and states its length when the event has none', async () => {
    const { request } = toWebRequest(event({ method: 'POST', body: '<Delete>é</Delete>', headers: {} }));
    expect(request.headers.get('content-length')).toBe(String(Buffer.byteLength('<Delete>é</Delete>')));
    expect(await request.text()).toBe('<Delete>é</Delete>');
  });

  it('puts the cookies list back into one Cookie header', () => {
    const { request } = toWebRequest(event({ cookies: ['a=1', 'b=2'] }));
    expect(request.headers.get('cookie')).toBe('a=1; b=2');
  });

  it('hands non-ASCII header values to the core as their UTF-8 bytes, as the Node server does', () => {
    const { request } = toWebRequest(event({ headers: { 'x-amz-meta-note': 'naïve ✓' } }));
    expect(request.headers.get('x-amz-meta-note')).toBe(Buffer.from('naïve ✓', 'utf8').toString('latin1'));
  });

  it('gives GET and HEAD no body even when the event carries one', () => {
    const { request } = toWebRequest(event({ method: 'HEAD', body: 'x' }));
    expect(request.body).toBeNull();
  });
});

describe('the Response streams back through HttpResponseStream', () => {
  const options = { method: 'GET', resource: '/bkt/key', logger: silent };

  it('sends the JSON prelude and the 8-byte NUL separator before the body', async () => {
    const recorded = recordingResponseStream();
    const response = new Response('hello', {
      status: 201,
      headers: { etag: '"abc"', 'content-length': '5' },
    });
    await writeToResponseStream(response, recorded.stream, options);
    expect(recorded.contentType()).toBe('application/vnd.awslambda.http-integration-response');
    const { metadata, separator, body } = splitPrelude(recorded.bytes());
    expect(metadata.statusCode).toBe(201);
    expect(metadata.headers).toMatchObject({ etag: '"abc"', 'content-length': '5' });
    expect(separator.equals(Buffer.alloc(8))).toBe(true);
    expect(body.toString()).toBe('hello');
  });

  it('still sends the prelude when there is no body (ending without a write would lose it)', async () => {
    for (const [status, method] of [
      [204, 'DELETE'],
      [304, 'GET'],
      [200, 'HEAD'],
    ] as const) {
      const recorded = recordingResponseStream();
      const response = new Response(null, { status, headers: { 'x-amz-request-id': 'R' } });
      await writeToResponseStream(response, recorded.stream, { ...options, method });
      const { metadata, body } = splitPrelude(recorded.bytes());
      expect(metadata.statusCode).toBe(status);
      expect(metadata.headers['x-amz-request-id']).toBe('R');
      expect(body.length).toBe(0);
      expect(recorded.stream.writableFinished).toBe(true);
    }
  });

  it('moves Set-Cookie values into the prelude cookies list', async () => {
    const recorded = recordingResponseStream();
    const headers = new Headers();
    headers.append('set-cookie', 'a=1; Path=/');
    headers.append('set-cookie', 'b=2');
    await writeToResponseStream(new Response('x', { headers }), recorded.stream, options);
    const { metadata } = splitPrelude(recorded.bytes());
    expect(metadata.cookies).toEqual(['a=1; Path=/', 'b=2']);
    expect(metadata.headers['set-cookie']).toBeUndefined();
  });

  it('rejects and leaves the stream unended when the body fails after bytes went out', async () => {
    const recorded = recordingResponseStream();
    const response = new Response(failingBody(new Uint8Array([1, 2, 3])), {
      headers: { 'content-length': '10' },
    });
    await expect(writeToResponseStream(response, recorded.stream, options)).rejects.toThrow(
      'backend connection reset',
    );
    expect(recorded.stream.writableEnded).toBe(false);
  });

  it('answers an S3 InternalError when the body fails before its first byte', async () => {
    const recorded = recordingResponseStream();
    const response = new Response(failingBody(), { headers: { 'x-amz-request-id': 'REQ1' } });
    await writeToResponseStream(response, recorded.stream, options);
    const { metadata, body } = splitPrelude(recorded.bytes());
    expect(metadata.statusCode).toBe(500);
    expect(body.toString()).toContain('<Code>InternalError</Code>');
    expect(body.toString()).toContain('<RequestId>REQ1</RequestId>');
  });
});

describe('responses above the streaming limit', () => {
  const huge = String(FUNCTION_URL_LIMITS.streamedBodyBytes + 1);

  it('turn into an S3 error that says to use ranged GETs', async () => {
    const limited = limitResponse(
      new Response('x', { headers: { 'content-length': huge, 'x-amz-request-id': 'R2' } }),
      'GET',
      '/bkt/big',
    );
    expect(limited.status).toBe(400);
    const text = await limited.text();
    expect(text).toContain('<Code>InvalidRequest</Code>');
    expect(text).toContain('ranged GETs');
    expect(text).toContain('container data plane');
  });

  it('turn into an S3 error that says to ask for smaller ranges when the range itself is too big', async () => {
    const limited = limitResponse(
      new Response('x', { status: 206, headers: { 'content-length': huge } }),
      'GET',
      '/b/k',
    );
    expect(await limited.text()).toContain('smaller byte ranges');
  });

  it("name the container data plane's endpoint when the stack deployed one", async () => {
    const response = new Response('x', { headers: { 'content-length': huge } });
    const limited = limitResponse(response, 'GET', '/bkt/big', 'https://s3.example.com');
    expect(await limited.text()).toContain('use the container data plane at https://s3.example.com,');
  });

  it('keep the container data plane generic when none is deployed', async () => {
    const limited = limitResponse(new Response('x', { headers: { 'content-length': huge } }), 'GET', '/b/k');
    expect(await limited.text()).toContain(
      'or use the container data plane, which has no response size limit',
    );
  });

  it('pass through for HEAD, which sends no body', () => {
    const head = new Response(null, { headers: { 'content-length': huge } });
    expect(limitResponse(head, 'HEAD', '/b/k')).toBe(head);
  });
});

describe('the real handler through the function URL emulator', () => {
  let gateway: TestGateway & { emulator: FunctionUrlEmulator };
  let s3: S3Client;
  const bucket = 'function-url-edge';

  beforeAll(async () => {
    // Pinned, so the suite checks the same thing whatever SEALGATE_EMULATOR_CONTENT_LENGTH says.
    gateway = await startFunctionUrlGateway({ contentLength: 'remapped' });
    s3 = gateway.client();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  afterAll(async () => {
    await gateway?.close();
  });

  const lastEvent = () => gateway.emulator.invocations.at(-1)!.event;

  it('verifies SigV4 over the raw path: %2F and spaces decode into the key', async () => {
    const put = await signedRequest(gateway.endpoint, {
      method: 'PUT',
      path: `/${bucket}/dir%2Fname%20with%20space`,
      body: 'one',
    });
    expect(put.status).toBe(200);
    expect(lastEvent().rawPath).toBe(`/${bucket}/dir%2Fname%20with%20space`);
    const get = await signedRequest(gateway.endpoint, {
      method: 'GET',
      path: `/${bucket}/dir/name%20with%20space`,
    });
    expect(get.body.toString()).toBe('one');
  });

  it('keeps ".." segments as sent: the core sees them, rather than a normalised path', async () => {
    const put = await signedRequest(gateway.endpoint, {
      method: 'PUT',
      path: `/${bucket}/dots/a/../b`,
      body: 'two',
    });
    // The signature held (no 403) and the core refused the dot segment itself; a normalising edge would
    // have stored `dots/b` instead.
    expect(put.code).toBe('InvalidArgument');
    expect(put.body.toString()).toContain(`<Resource>/${bucket}/dots/a/../b</Resource>`);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'dots/' }));
    expect(listed.KeyCount).toBe(0);
  });

  it('passes repeated query keys through the raw query string, not the comma-joined parameters', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'rq/a1', Body: 'a' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'rq/b1', Body: 'b' }));
    const headers = await signHeaders(gateway.endpoint, {
      method: 'GET',
      path: `/${bucket}`,
      query: { 'list-type': '2', prefix: ['rq/a', 'rq/b'] } as unknown as Record<string, string>,
    });
    const listed = await rawRequest(gateway.endpoint, {
      method: 'GET',
      path: `/${bucket}?list-type=2&prefix=rq%2Fa&prefix=rq%2Fb`,
      headers,
    });
    expect(listed.status).toBe(200);
    expect(lastEvent().rawQueryString).toBe('list-type=2&prefix=rq%2Fa&prefix=rq%2Fb');
    expect(
      (lastEvent() as unknown as { queryStringParameters: Record<string, string> }).queryStringParameters
        .prefix,
    ).toBe('rq/a,rq/b');
    // The first value wins, as in S3; the comma-joined form would have matched nothing.
    expect(listed.body.toString()).toContain('<Key>rq/a1</Key>');
    expect(listed.body.toString()).not.toContain('<Key>rq/b1</Key>');
  });

  it('answers HEAD with its status and headers though no body follows', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'head-me', Body: 'twelve bytes' }));
    const found = await signedRequest(gateway.endpoint, { method: 'HEAD', path: `/${bucket}/head-me` });
    expect(found.status).toBe(200);
    expect(found.headers.etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(found.headers['x-amz-request-id']).toBeDefined();
    // A streamed response's Content-Length arrives renamed (see docs/DEPLOY.md).
    expect(found.headers['x-amzn-remapped-content-length']).toBe('12');
    const missing = await signedRequest(gateway.endpoint, { method: 'HEAD', path: `/${bucket}/no-such-key` });
    expect(missing.status).toBe(404);
  });

  it('carries non-ASCII user metadata as UTF-8 text, signed as that text, and answers it as S3 does', async () => {
    const text = 'naïve ✓';
    const wire = Buffer.from(text, 'utf8').toString('latin1'); // how Node carries the raw bytes
    const request = { method: 'PUT', path: `/${bucket}/meta`, body: 'm' };
    // Signed as SDKs sign it, over the text; sent as its UTF-8 bytes.
    const signed = await signHeaders(gateway.endpoint, { ...request, headers: { 'x-amz-meta-note': text } });
    const put = await rawRequest(gateway.endpoint, {
      ...request,
      headers: { ...signed, 'x-amz-meta-note': wire },
    });
    expect(put.status).toBe(200);
    expect(lastEvent().headers?.['x-amz-meta-note']).toBe(text);
    const head = await signedRequest(gateway.endpoint, { method: 'HEAD', path: `/${bucket}/meta` });
    expect(head.headers['x-amz-meta-note']).toBe(`=?UTF-8?B?${Buffer.from(text).toString('base64')}?=`);
  });

  it('keeps 204 and 304 statuses', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'conditional', Body: 'c' }));
    const head = await signedRequest(gateway.endpoint, { method: 'HEAD', path: `/${bucket}/conditional` });
    const notModified = await signedRequest(gateway.endpoint, {
      method: 'GET',
      path: `/${bucket}/conditional`,
      headers: { 'if-none-match': String(head.headers.etag) },
    });
    expect(notModified.status).toBe(304);
    expect(notModified.headers['x-amz-request-id']).toBeDefined();
    const deleted = await signedRequest(gateway.endpoint, {
      method: 'DELETE',
      path: `/${bucket}/conditional`,
    });
    expect(deleted.status).toBe(204);
  });

  it('round-trips binary bodies (base64 in the event) and UTF-8 text bodies byte for byte', async () => {
    const binary = Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0xc3]), randomBytes(200 * KIB)]);
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'binary',
        Body: binary,
        ContentType: 'application/octet-stream',
      }),
    );
    expect(lastEvent().isBase64Encoded).toBe(true);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'binary' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(binary)).toBe(true);

    const text = 'naïve café ✓\n'.repeat(100);
    const put = await signedRequest(gateway.endpoint, {
      method: 'PUT',
      path: `/${bucket}/text`,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body: text,
    });
    expect(put.status).toBe(200);
    expect(lastEvent().isBase64Encoded).toBe(false);
    const back = await signedRequest(gateway.endpoint, { method: 'GET', path: `/${bucket}/text` });
    expect(back.body.toString('utf8')).toBe(text);
  });

  it('accepts an upload whose event fits in 6 MiB (4.4 MiB of data, base64-encoded)', async () => {
    const data = randomBytes(Math.floor(4.4 * MIB));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'fits', Body: data }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'fits' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true);
  });

  it('refuses a request too large for the invoke payload with the function URL 413, before the function runs', async () => {
    const before = gateway.emulator.invocations.length;
    const error = await s3
      .send(new PutObjectCommand({ Bucket: bucket, Key: 'too-big', Body: randomBytes(4.5 * MIB) }))
      .then(
        () => undefined,
        (e: unknown) => e as { $metadata?: { httpStatusCode?: number } },
      );
    expect(error?.$metadata?.httpStatusCode).toBe(413);
    expect(gateway.emulator.invocations.length).toBe(before);
    const raw = await rawRequest(gateway.endpoint, {
      method: 'PUT',
      path: `/${bucket}/raw-too-big`,
      body: randomBytes(EVENT_LIMIT_BYTES),
    });
    expect(raw.status).toBe(413);
    expect(raw.body.toString()).toContain(PAYLOAD_TOO_LARGE_MESSAGE);
  });

  it('builds the gateway once per container and serves later requests warm', async () => {
    const { invocations, initDurations } = gateway.emulator;
    const sequential = invocations.slice(0, 3);
    expect(sequential.map((i) => i.coldStart)).toEqual([true, false, false]);
    expect(new Set(sequential.map((i) => i.container)).size).toBe(1);
    expect(initDurations.length).toBeGreaterThanOrEqual(1);
  });

  it('serves concurrent requests from several containers with nothing shared between them', async () => {
    const keys = Array.from({ length: 6 }, (_, i) => `parallel/${i}`);
    await Promise.all(keys.map((Key) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }))));
    const bodies = await Promise.all(
      keys.map(async (Key) =>
        (await s3.send(new GetObjectCommand({ Bucket: bucket, Key }))).Body!.transformToString(),
      ),
    );
    expect(bodies).toEqual(keys);
    expect(new Set(gateway.emulator.invocations.map((i) => i.container)).size).toBeGreaterThan(1);
  });
});

describe('the emulator behaves like Lambda where adapters go wrong', () => {
  const emulators: FunctionUrlEmulator[] = [];
  afterAll(async () => {
    for (const e of emulators) await e.close();
  });

  async function endpointFor(body: (stream: LambdaResponseStream) => void): Promise<string> {
    const handler = awslambda.streamifyResponse<FunctionUrlEvent>(async (_event, stream) => {
      body(awslambda.HttpResponseStream.from(stream, { statusCode: 404, headers: { 'x-custom': 'yes' } }));
      await new Promise((done) => stream.once('finish', done));
    });
    const emulator = await startFunctionUrlEmulator({ environment: {}, handler });
    emulators.push(emulator);
    return emulator.endpoint;
  }

  it('loses the status and headers when the stream ends without a write', async () => {
    const got = await rawRequest(await endpointFor((stream) => stream.end()), { method: 'GET', path: '/' });
    expect(got.status).toBe(200);
    expect(got.headers['x-custom']).toBeUndefined();
  });

  it('answers 502 when end(chunk) sends body bytes without the prelude', async () => {
    const got = await rawRequest(await endpointFor((stream) => stream.end('Not Found')), {
      method: 'GET',
      path: '/',
    });
    expect(got.status).toBe(502);
  });

  it('sends the status and headers once a write carries the prelude', async () => {
    const endpoint = await endpointFor((stream) => {
      stream.write('Not Found');
      stream.end();
    });
    const got = await rawRequest(endpoint, { method: 'GET', path: '/' });
    expect(got.status).toBe(404);
    expect(got.headers['x-custom']).toBe('yes');
    expect(got.body.toString()).toBe('Not Found');
  });
});

describe('the adapter under failure, through the emulator', () => {
  let emulator: FunctionUrlEmulator | undefined;
  afterAll(async () => {
    await emulator?.close();
  });

  async function serve(gateway: Gateway): Promise<FunctionUrlEmulator> {
    await emulator?.close();
    emulator = await startFunctionUrlEmulator({ environment: {}, handler: streamHandle(gateway, silent) });
    return emulator;
  }

  it('aborts the transfer when the body fails after streaming began, so the client never sees a clean end', async () => {
    const { endpoint } = await serve(
      standIn(
        () =>
          new Response(failingBody(new Uint8Array(64 * KIB).fill(1)), {
            headers: { 'content-length': String(MIB) },
          }),
      ),
    );
    await expect(rawRequest(endpoint, { method: 'GET', path: '/bkt/key' })).rejects.toThrow();
  });

  it('streams a large body through with backpressure', async () => {
    const chunk = new Uint8Array(MIB).fill(7);
    let left = 16;
    const { endpoint } = await serve(
      standIn(
        () =>
          new Response(
            new ReadableStream<Uint8Array>({
              pull(controller) {
                if (left-- > 0) controller.enqueue(chunk);
                else controller.close();
              },
            }),
            { headers: { 'content-length': String(16 * MIB) } },
          ),
      ),
    );
    const got = await rawRequest(endpoint, { method: 'GET', path: '/bkt/key' });
    expect(got.status).toBe(200);
    expect(got.body.length).toBe(16 * MIB);
    expect(got.headers['transfer-encoding']).toBe('chunked');
  });

  it('answers a response above the streaming limit with the S3 error instead of a cut-off body', async () => {
    let pulled = false;
    const body = new ReadableStream<Uint8Array>(
      {
        pull() {
          pulled = true;
        },
      },
      { highWaterMark: 0 },
    );
    const { endpoint } = await serve(
      standIn(() => new Response(body, { headers: { 'content-length': String(300 * 1000 * 1000) } })),
    );
    const got = await rawRequest(endpoint, { method: 'GET', path: '/bkt/big' });
    expect(got.status).toBe(400);
    expect(got.code).toBe('InvalidRequest');
    expect(got.body.toString()).toContain('ranged GETs');
    expect(pulled).toBe(false);
  });

  it('names the endpoint from SEALGATE_CONTAINER_ENDPOINT as the function had it at init', async () => {
    const body = new ReadableStream<Uint8Array>({ pull: () => undefined }, { highWaterMark: 0 });
    const gateway = standIn(
      () => new Response(body, { headers: { 'content-length': String(300 * 1000 * 1000) } }),
    );
    await emulator?.close();
    const saved = process.env.SEALGATE_CONTAINER_ENDPOINT;
    process.env.SEALGATE_CONTAINER_ENDPOINT = 'https://big.s3.example.com';
    let handler: ReturnType<typeof streamHandle>;
    try {
      // Built at init, as lambda.ts builds it, while the variable is in the environment.
      handler = streamHandle(gateway, silent);
    } finally {
      if (saved === undefined) delete process.env.SEALGATE_CONTAINER_ENDPOINT;
      else process.env.SEALGATE_CONTAINER_ENDPOINT = saved;
    }
    emulator = await startFunctionUrlEmulator({ environment: {}, handler });
    const got = await rawRequest(emulator.endpoint, { method: 'GET', path: '/bkt/big' });
    expect(got.status).toBe(400);
    expect(got.code).toBe('InvalidRequest');
    expect(got.body.toString()).toContain('use the container data plane at https://big.s3.example.com,');
  });

  it('hands the request cookies to the core and the core cookies back to the client', async () => {
    const { endpoint } = await serve(
      standIn((request) => {
        const headers = new Headers({ 'content-type': 'text/plain' });
        headers.append('set-cookie', 'session=abc; HttpOnly');
        return new Response(request.headers.get('cookie') ?? '', { headers });
      }),
    );
    const got = await new Promise<{ body: string; setCookie?: string[] }>((resolve, reject) => {
      const url = new URL(endpoint);
      httpRequest(
        { hostname: url.hostname, port: url.port, path: '/', headers: { cookie: 'a=1; b=2' } },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ body, setCookie: res.headers['set-cookie'] }));
        },
      )
        .on('error', reject)
        .end();
    });
    expect(emulator!.invocations.at(-1)!.event.cookies).toEqual(['a=1', 'b=2']);
    expect(got.body).toBe('a=1; b=2');
    expect(got.setCookie).toEqual(['session=abc; HttpOnly']);
  });
});
