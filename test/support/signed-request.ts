/**
 * Raw HTTP requests to a test gateway, for inputs an SDK client will not produce: paths sent exactly as
 * written (`/bucket/../x`), wrong payload hashes, hand-built `aws-chunked` bodies with their own chunk
 * signatures, truncated bodies. Requests are signed with `@smithy/signature-v4` (the signer the SDK uses),
 * configured for S3: the path is signed as sent, never normalised or escaped again.
 */
import { SignatureV4 } from '@smithy/signature-v4';
import { createHash, createHmac, type BinaryLike } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { TEST_CREDENTIALS } from './gateway.js';
import { capture, headersText, isGatewayDocument, registerSecret } from './leak-scan.js';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface RawRequest {
  method: string;
  /** The path exactly as it goes on the wire: already percent-encoded, dot segments kept. */
  path: string;
  /** Query parameters (decoded); sent RFC 3986-encoded in the order given. `''` sends `name=`. */
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The `<Code>` of an S3 error document, when the body is one. */
  code?: string;
}

export interface SignOptions {
  credentials?: Credentials;
  /** The signing time (default: now). */
  date?: Date;
  /** The `x-amz-content-sha256` value to sign and send (default: the SHA-256 of the body). */
  payloadHash?: string;
}

/** SHA-256 for the smithy signer, from node:crypto (HMAC when given a secret). */
class NodeSha256 {
  private hash;
  private readonly secret?: Buffer;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.secret = secret === undefined ? undefined : toBuffer(secret);
    this.hash = this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret);
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.hash.digest());
  }
  reset(): void {
    this.hash = this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret);
  }
}

function toBuffer(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** Lower-case hex SHA-256. */
export function sha256Hex(data: BinaryLike): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: BinaryLike, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** RFC 3986 encoding, as SigV4 canonicalises query parameters. */
export function rfc3986(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function queryString(query: Record<string, string> | undefined): string {
  if (!query) return '';
  return Object.entries(query)
    .map(([name, value]) => `${rfc3986(name)}=${rfc3986(value)}`)
    .join('&');
}

function hostOf(endpoint: string): { hostname: string; port: number; host: string } {
  const url = new URL(endpoint);
  return { hostname: url.hostname, port: Number(url.port), host: url.host };
}

function errorCode(body: Buffer): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(body.toString('utf8'))?.[1];
}

/** Sends a request as given (no signature added), with the path untouched. */
export function rawRequest(endpoint: string, req: RawRequest): Promise<RawResponse> {
  const { hostname, port } = hostOf(endpoint);
  const query = queryString(req.query);
  const body = req.body === undefined ? undefined : Buffer.from(req.body);
  const headers = { ...req.headers };
  for (const [name, value] of Object.entries(headers)) {
    if (/customer-key$/i.test(name)) registerSecret('an SSE-C key', value);
  }
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) {
    headers['content-length'] = String(body.length);
  }
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      { hostname, port, method: req.method, path: req.path + (query ? `?${query}` : ''), headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const buffer = Buffer.concat(chunks);
          capture("a raw answer's headers", headersText(res.headers));
          if (isGatewayDocument(res.statusCode ?? 0, res.headers['content-type']))
            capture('a raw answer', buffer);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: buffer,
            code: errorCode(buffer),
          });
        });
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/**
 * Signs `req` with SigV4 (header auth, service s3, us-east-1) and returns the headers to send, including
 * `host`, `x-amz-date`, `x-amz-content-sha256` and `authorization`.
 */
export async function signHeaders(endpoint: string, req: RawRequest, options: SignOptions = {}) {
  const { hostname, port, host } = hostOf(endpoint);
  const body = req.body === undefined ? Buffer.alloc(0) : Buffer.from(req.body);
  const headers: Record<string, string> = {
    host,
    'x-amz-content-sha256': options.payloadHash ?? sha256Hex(body),
    ...lowerCaseKeys(req.headers ?? {}),
  };
  if (
    headers['content-length'] === undefined &&
    (body.length > 0 || req.method === 'PUT' || req.method === 'POST')
  ) {
    headers['content-length'] = String(body.length);
  }
  const signer = new SignatureV4({
    credentials: options.credentials ?? TEST_CREDENTIALS,
    region: 'us-east-1',
    service: 's3',
    sha256: NodeSha256,
    uriEscapePath: false,
  });
  const signed = await signer.sign(
    {
      method: req.method,
      protocol: 'http:',
      hostname,
      port,
      path: req.path,
      query: req.query ?? {},
      headers,
    },
    { signingDate: options.date ?? new Date() },
  );
  return signed.headers as Record<string, string>;
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

/** Signs `req` with SigV4 and sends it (see {@link signHeaders}). */
export async function signedRequest(
  endpoint: string,
  req: RawRequest,
  options: SignOptions = {},
): Promise<RawResponse> {
  const headers = await signHeaders(endpoint, req, options);
  return rawRequest(endpoint, { ...req, headers });
}

/** One frame of an `aws-chunked` body: its header line (without CRLF) and its data. */
export interface ChunkFrame {
  header: string;
  data: Buffer;
}

/** Joins frames into an `aws-chunked` body, with optional trailer lines after the final frame. */
export function joinFrames(frames: ChunkFrame[], trailer: string[] = []): Buffer {
  const parts: Buffer[] = [];
  frames.forEach((frame, i) => {
    parts.push(Buffer.from(`${frame.header}\r\n`), frame.data);
    const last = i === frames.length - 1;
    if (!last || trailer.length === 0) parts.push(Buffer.from('\r\n'));
  });
  if (trailer.length > 0) parts.push(Buffer.from(trailer.map((t) => `${t}\r\n`).join('') + '\r\n'));
  return Buffer.concat(parts);
}

export interface StreamingUpload {
  /** Every header to send, signed (the body's Content-Length included). */
  headers: Record<string, string>;
  /** The data frames and the final zero-length frame, each carrying its chunk signature. */
  frames: ChunkFrame[];
  /** Recomputes the signature a frame with `data` would carry after `previous` (for building valid tampering). */
  chunkSignature(previous: string, data: Buffer): string;
  /** The seed signature (the Authorization header's). */
  seed: string;
}

function encodedLength(chunkSizes: number[]): number {
  // `<hex size>;chunk-signature=<64 hex>\r\n<data>\r\n`, the final frame having size 0.
  return [...chunkSizes, 0].reduce((sum, size) => sum + size.toString(16).length + 17 + 64 + 2 + size + 2, 0);
}

/**
 * Builds a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` upload of `chunks` (SigV4 streaming, signed chunks, no
 * trailer), exactly as the AWS SDKs frame it. The frames can be altered before {@link joinFrames}.
 */
export async function streamingUpload(
  endpoint: string,
  req: Omit<RawRequest, 'body'>,
  chunks: Buffer[],
  options: Omit<SignOptions, 'payloadHash'> = {},
): Promise<StreamingUpload> {
  const credentials = options.credentials ?? TEST_CREDENTIALS;
  const decoded = chunks.reduce((sum, c) => sum + c.length, 0);
  const headers = await signHeaders(
    endpoint,
    {
      ...req,
      headers: {
        ...req.headers,
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': String(decoded),
        'content-length': String(encodedLength(chunks.map((c) => c.length))),
      },
    },
    { ...options, payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' },
  );
  const seed = /Signature=([0-9a-f]{64})/.exec(headers.authorization ?? '')?.[1];
  if (seed === undefined) throw new Error('the signer produced no Authorization signature');
  const amzDate = headers['x-amz-date'];
  const day = amzDate.slice(0, 8);
  const scope = `${day}/us-east-1/s3/aws4_request`;
  const signingKey = ['us-east-1', 's3', 'aws4_request'].reduce<Buffer>(
    (key, part) => hmac(key, part),
    hmac(`AWS4${credentials.secretAccessKey}`, day),
  );
  const emptyHash = sha256Hex('');
  const chunkSignature = (previous: string, data: Buffer) =>
    createHmac('sha256', signingKey)
      .update(['AWS4-HMAC-SHA256-PAYLOAD', amzDate, scope, previous, emptyHash, sha256Hex(data)].join('\n'))
      .digest('hex');
  const frames: ChunkFrame[] = [];
  let previous = seed;
  for (const data of [...chunks, Buffer.alloc(0)]) {
    previous = chunkSignature(previous, data);
    frames.push({ header: `${data.length.toString(16)};chunk-signature=${previous}`, data });
  }
  return { headers, frames, chunkSignature, seed };
}

/**
 * Builds a `STREAMING-UNSIGNED-PAYLOAD-TRAILER` upload (what current SDKs send by default): unsigned frames
 * followed by a trailer carrying `x-amz-checksum-<algorithm>: <value>`.
 */
export async function unsignedTrailerUpload(
  endpoint: string,
  req: Omit<RawRequest, 'body'>,
  chunks: Buffer[],
  checksum: { algorithm: string; value: string },
  options: Omit<SignOptions, 'payloadHash'> = {},
): Promise<{ headers: Record<string, string>; body: Buffer }> {
  const frames = [...chunks, Buffer.alloc(0)].map((data) => ({ header: data.length.toString(16), data }));
  const trailerName = `x-amz-checksum-${checksum.algorithm}`;
  const body = joinFrames(frames, [`${trailerName}:${checksum.value}`]);
  const headers = await signHeaders(
    endpoint,
    {
      ...req,
      headers: {
        ...req.headers,
        'content-encoding': 'aws-chunked',
        'x-amz-trailer': trailerName,
        'x-amz-decoded-content-length': String(chunks.reduce((sum, c) => sum + c.length, 0)),
        'content-length': String(body.length),
      },
    },
    { ...options, payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' },
  );
  return { headers, body };
}

/**
 * Sends a request over a bare socket and closes the sending side after `bytes` of the body, so the server
 * sees the body end early. Resolves with the status line's code, or undefined when the server closed
 * without answering.
 */
export function sendTruncated(
  endpoint: string,
  req: { method: string; path: string; headers: Record<string, string> },
  bytes: Buffer,
): Promise<number | undefined> {
  const { hostname, port } = hostOf(endpoint);
  return new Promise((resolve, reject) => {
    const socket = connect(port, hostname);
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') resolve(statusOf(Buffer.concat(received)));
      else reject(error);
    });
    socket.on('close', () => resolve(statusOf(Buffer.concat(received))));
    socket.on('connect', () => {
      const head =
        `${req.method} ${req.path} HTTP/1.1\r\n` +
        Object.entries(req.headers)
          .map(([name, value]) => `${name}: ${value}\r\n`)
          .join('') +
        '\r\n';
      socket.write(head);
      socket.end(bytes);
    });
  });
}

/**
 * Sends a request over a bare socket with `Connection: close` and returns everything the server wrote, so
 * a test can see bytes an HTTP client would hide (a body after a HEAD response).
 */
export function rawExchange(
  endpoint: string,
  req: { method: string; path: string; headers: Record<string, string> },
): Promise<{ status: number | undefined; head: string; afterHead: Buffer }> {
  const { hostname, port } = hostOf(endpoint);
  return new Promise((resolve, reject) => {
    const socket = connect(port, hostname);
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const all = Buffer.concat(received);
      const end = all.indexOf('\r\n\r\n');
      resolve({
        status: statusOf(all),
        head: end < 0 ? all.toString('latin1') : all.subarray(0, end).toString('latin1'),
        afterHead: end < 0 ? Buffer.alloc(0) : all.subarray(end + 4),
      });
    });
    socket.on('connect', () => {
      // Written without half-closing: the server closes the connection once it has answered.
      const headers = { ...req.headers, connection: 'close' };
      socket.write(
        `${req.method} ${req.path} HTTP/1.1\r\n` +
          Object.entries(headers)
            .map(([name, value]) => `${name}: ${value}\r\n`)
            .join('') +
          '\r\n',
      );
    });
  });
}

function statusOf(response: Buffer): number | undefined {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(response.toString('latin1', 0, 20));
  return match ? Number(match[1]) : undefined;
}
