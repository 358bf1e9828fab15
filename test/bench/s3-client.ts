import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { request, type Agent, type ClientRequest, type IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { encodePath, signRequest, type SigningCredentials } from './sigv4-signer.js';

/** Read size for the uploaded file: the gateway's own chunk size, so neither side re-slices much. */
export const CHUNK_BYTES = 64 * 1024;

/** Where the bench client sends its requests. */
export interface S3Target {
  /** `http://host:port`, as the server printed it. */
  endpoint: string;
  credentials: SigningCredentials;
  /**
   * A keep-alive agent, as SDKs use. With `Connection: close` (Node's agent-less default) a server that
   * answers an upload early (404, 403) closes the socket behind its answer, and the client sees EPIPE
   * instead of the answer.
   */
  agent: Agent;
}

/** One timed transfer and the sha256 of the bytes that went over the wire. */
export interface Transfer {
  bytes: number;
  /** From sending the request to the last byte of the answer. */
  seconds: number;
  sha256: string;
}

/** A PUT, with the moment its body was handed to the socket: the rest is the server finishing up. */
export interface PutTransfer extends Transfer {
  bodySentSeconds: number;
}

/** A GET, with the moment the response headers arrived. */
export interface GetTransfer extends Transfer {
  firstByteSeconds: number;
}

/**
 * Headers an object request carries and signs, besides the signer's own: SSE-C's
 * `x-amz-server-side-encryption-customer-*`, which every PUT, GET and ranged GET of such an object needs.
 */
export type SignedHeaders = Record<string, string>;

function startRequest(
  target: S3Target,
  method: string,
  path: string,
  unsigned: Record<string, string> = {},
  signed: SignedHeaders = {},
) {
  const url = new URL(target.endpoint);
  const headers = {
    ...signRequest({ method, host: url.host, path, credentials: target.credentials, headers: signed }),
    ...unsigned,
  };
  const req = request({
    host: url.hostname,
    port: url.port,
    method,
    path: encodePath(path),
    headers,
    agent: target.agent,
  });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    // Kept for the request's life: an error after the answer must not surface as an unhandled 'error' event.
    req.on('error', reject);
    req.once('close', () => reject(new Error(`the connection closed before ${method} ${path} was answered`)));
  });
  // The upload loop may fail first; the caller still looks at the response then, so never leave it unhandled.
  response.catch(() => undefined);
  return { req, response };
}

/** The error body of an answer, or as much of it as arrived before the connection closed. */
async function readText(res: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  try {
    for await (const chunk of res) parts.push(chunk as Buffer);
  } catch {
    parts.push(Buffer.from(' (connection closed before the end of this body)'));
  }
  return Buffer.concat(parts).toString('utf8');
}

async function expectStatus(res: IncomingMessage, what: string, status = 200): Promise<void> {
  if (res.statusCode === status) return;
  throw new Error(`${what} answered HTTP ${res.statusCode}: ${(await readText(res)).slice(0, 2000)}`);
}

/** Resolves once the request can take more data; rejects if the connection fails meanwhile. */
function drained(req: ClientRequest): Promise<void> {
  // 'close' may have passed already: waiting for it again would wait forever.
  if (req.destroyed) return Promise.reject(new Error('the connection closed during the upload'));
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      req.off('drain', onDrain);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onDrain = () => {
      cleanup();
      resolve();
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onClose = () => {
      cleanup();
      reject(new Error('the connection closed during the upload'));
    };
    req.on('drain', onDrain);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** CreateBucket: a signed `PUT /bucket` with an empty body. */
export async function createBucket(target: S3Target, bucket: string): Promise<void> {
  const { req, response } = startRequest(target, 'PUT', `/${bucket}`, { 'content-length': '0' });
  req.end();
  const res = await response;
  await expectStatus(res, `CreateBucket ${bucket}`);
  res.resume();
}

/**
 * PutObject streamed from a file with a known Content-Length and an unsigned payload, honouring the
 * socket's backpressure, hashing exactly the bytes written to the request. A server that answers before
 * the body is sent (an auth or bucket error) stops the upload: its answer is the error reported.
 */
export async function putObjectFromFile(
  target: S3Target,
  path: string,
  file: string,
  size: number,
  signed: SignedHeaders = {},
): Promise<PutTransfer> {
  const what = `PutObject ${path}`;
  const started = performance.now();
  const { req, response } = startRequest(target, 'PUT', path, { 'content-length': String(size) }, signed);
  let early: IncomingMessage | undefined;
  response.then((res) => (early = res)).catch(() => undefined);
  const hash = createHash('sha256');
  let bytes = 0;
  let bodySent = 0;
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: CHUNK_BYTES })) {
      if (early) break;
      const buffer = chunk as Buffer;
      hash.update(buffer);
      bytes += buffer.length;
      if (!req.write(buffer)) {
        // Node's client may stop flushing once an answer is in, so 'drain' alone could wait forever.
        const writable = drained(req);
        writable.catch(() => undefined);
        await Promise.race([writable, response]);
      }
    }
    if (!early) req.end(() => (bodySent = performance.now()));
  } catch (error) {
    // The connection broke: if an answer came first, it says more than the broken pipe.
    early ??= await Promise.race([response.catch(() => undefined), delay(1000, undefined)]);
    if (!early) {
      req.destroy();
      throw error;
    }
  }
  if (early && bytes < size) {
    try {
      await expectStatus(early, what);
      throw new Error(`${what} was answered before its body was sent`);
    } finally {
      req.destroy();
    }
  }
  const res = await response;
  await expectStatus(res, what);
  res.resume();
  return {
    bytes,
    seconds: (performance.now() - started) / 1000,
    bodySentSeconds: ((bodySent || performance.now()) - started) / 1000,
    sha256: hash.digest('hex'),
  };
}

/** PutObject of a body held in memory (small objects), with an unsigned payload. */
export async function putObjectBody(
  target: S3Target,
  path: string,
  body: Buffer,
  signed: SignedHeaders = {},
): Promise<void> {
  const { req, response } = startRequest(
    target,
    'PUT',
    path,
    { 'content-length': String(body.length) },
    signed,
  );
  req.end(body);
  const res = await response;
  await expectStatus(res, `PutObject ${path}`);
  res.resume();
}

/** GetObject, streaming the body through sha256 without keeping it; fails on a short or broken body. */
export async function getObjectHashed(
  target: S3Target,
  path: string,
  signed: SignedHeaders = {},
): Promise<GetTransfer> {
  const started = performance.now();
  const { req, response } = startRequest(target, 'GET', path, {}, signed);
  req.end();
  const res = await response;
  const firstByteSeconds = (performance.now() - started) / 1000;
  await expectStatus(res, `GetObject ${path}`);
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of res) {
    const buffer = chunk as Buffer;
    hash.update(buffer);
    bytes += buffer.length;
  }
  const declared = Number(res.headers['content-length']);
  if (!res.complete || (Number.isFinite(declared) && declared !== bytes)) {
    throw new Error(
      `GetObject ${path} ended after ${bytes} bytes of a declared ${res.headers['content-length']}`,
    );
  }
  return {
    bytes,
    seconds: (performance.now() - started) / 1000,
    firstByteSeconds,
    sha256: hash.digest('hex'),
  };
}

/** One ranged GET of a single byte: the byte, and milliseconds from sending the request to the body's end. */
export interface ByteRead {
  byte: number;
  ms: number;
}

/** GetObject with `Range: bytes=offset-offset`; fails unless the answer is a 206 of exactly that byte. */
export async function getByte(
  target: S3Target,
  path: string,
  offset: number,
  signed: SignedHeaders = {},
): Promise<ByteRead> {
  const what = `GetObject ${path} bytes=${offset}-${offset}`;
  const started = performance.now();
  const { req, response } = startRequest(target, 'GET', path, { range: `bytes=${offset}-${offset}` }, signed);
  req.end();
  const res = await response;
  await expectStatus(res, what, 206);
  const parts: Buffer[] = [];
  for await (const chunk of res) parts.push(chunk as Buffer);
  const ms = performance.now() - started;
  const body = Buffer.concat(parts);
  const contentRange = res.headers['content-range'] ?? '';
  if (body.length !== 1 || !contentRange.startsWith(`bytes ${offset}-${offset}/`)) {
    throw new Error(`${what} answered ${body.length} bytes with Content-Range "${contentRange}"`);
  }
  return { byte: body[0], ms };
}
