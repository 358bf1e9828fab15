import type { ReadableStreamReadResult } from 'node:stream/web';
import type { Gateway } from '../core/gateway.js';
import { S3Error, toS3Error } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { RequestContext } from '../core/request-context.js';
import type {
  HttpResponseMetadata,
  LambdaContext,
  LambdaResponseStream,
  StreamingHandler,
} from './awslambda.js';

/**
 * The Lambda function URL edge: a function URL event (payload format 2.0) becomes the core's Web `Request`
 * exactly once, and the core's `Response` streams back through `awslambda.HttpResponseStream`
 * (invoke mode RESPONSE_STREAM). The core is the same one the Node server runs.
 */

/** The function URL's limits (AWS Lambda quotas), in bytes. */
export const FUNCTION_URL_LIMITS = {
  /**
   * The whole invoke event, JSON, is capped at 6 MiB; a binary body travels base64-encoded inside it, so
   * about 4.4 MiB of object data fits. A bigger request never reaches the function: the function URL answers
   * it with its own 413.
   */
  requestEventBytes: 6 * 1024 * 1024,
  /**
   * A streamed response may carry at most 200 MB. Read as 200 * 10^6 (the smaller reading of "MB"), less
   * 16 KiB kept for the prelude, so a response the gateway lets through is never cut off by Lambda.
   */
  streamedBodyBytes: 200 * 1000 * 1000 - 16 * 1024,
} as const;

/** The parts of a function URL event (payload format 2.0) the gateway reads. */
export interface FunctionUrlEvent {
  version: string;
  /** The path as sent, still percent-encoded. */
  rawPath: string;
  /** The query string as sent, percent-encoded, without the `?`; repeated keys stay repeated. */
  rawQueryString: string;
  /** Lower-cased names; a header sent several times arrives once with its values joined by commas. */
  headers?: Record<string, string | undefined>;
  /** The request's cookies, moved out of the `cookie` header. */
  cookies?: string[];
  body?: string;
  isBase64Encoded: boolean;
  requestContext: {
    requestId: string;
    http: { method: string; sourceIp?: string };
  };
}

const NO_BODY_METHODS = new Set(['GET', 'HEAD']);
const NON_ASCII = /[^\x00-\x7f]/;

/**
 * Header values in the event are text decoded from the wire as UTF-8, while the core, like Node's HTTP
 * server, sees each header byte as one character (latin1). Non-ASCII values are turned back into their
 * bytes so both edges hand the core the same strings (and a character above U+00FF cannot break `Headers`).
 */
function wireBytes(value: string): string {
  return NON_ASCII.test(value) ? Buffer.from(value, 'utf8').toString('latin1') : value;
}

/** The reverse of {@link wireBytes}, for the prelude, which the function URL writes out as UTF-8. */
function wireText(value: string): string {
  return NON_ASCII.test(value) ? Buffer.from(value, 'latin1').toString('utf8') : value;
}

/** Turns a function URL event into the core's Web `Request` plus the raw path and query SigV4 needs. */
export function toWebRequest(event: FunctionUrlEvent): { request: Request; ctx: RequestContext } {
  const method = event.requestContext.http.method.toUpperCase();
  const headers = new Headers();
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value !== undefined) headers.set(name, wireBytes(value));
  }
  if (event.cookies !== undefined && event.cookies.length > 0) {
    headers.set('cookie', wireBytes(event.cookies.join('; ')));
  }

  let body: Buffer | undefined;
  if (!NO_BODY_METHODS.has(method) && event.body !== undefined && event.body !== '') {
    body = Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
  }
  // The body arrived whole, so its length is known even when the client streamed it without one.
  if (body !== undefined && !headers.has('content-length')) {
    headers.set('content-length', String(body.length));
  }

  // The URL is a placeholder: a Web URL is normalised, so the core reads ctx.rawPath/rawQuery instead.
  const request = new Request('https://gateway.invalid/', { method, headers, body });
  const forwardedProto = headers.get('x-forwarded-proto');
  return {
    request,
    ctx: {
      rawPath: event.rawPath || '/',
      rawQuery: event.rawQueryString,
      sourceIp: event.requestContext.http.sourceIp,
      // Function URLs are HTTPS only; the header is there for the local emulator, which is plain HTTP.
      secure: forwardedProto === null || forwardedProto === 'https',
    },
  };
}

/**
 * Replaces a response the function URL could not deliver (a body above its streaming limit) with an S3
 * error that says why and what to do instead. HEAD responses carry no body and always pass.
 * `containerEndpoint` is the container data plane's endpoint, when the stack deployed one: the error then
 * names it.
 */
export function limitResponse(
  response: Response,
  method: string,
  resource: string,
  containerEndpoint?: string,
): Response {
  if (method === 'HEAD' || response.body === null) return response;
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (!(declared > FUNCTION_URL_LIMITS.streamedBodyBytes)) return response;
  void response.body.cancel().catch(() => undefined);
  const ranged = response.status === 206;
  const error = new S3Error(
    'InvalidRequest',
    400,
    `This response would be ${declared} bytes, above the 200 MB a Lambda function URL can stream in one ` +
      (ranged
        ? 'response. Request smaller byte ranges (for example 8-64 MiB each), '
        : 'response. Download the object with ranged GETs (aws-cli, boto3 and rclone do this for large objects), ') +
      (containerEndpoint
        ? `or use the container data plane at ${containerEndpoint}, which has no response size limit.`
        : 'or use the container data plane, which has no response size limit.'),
  );
  return error.toResponse(response.headers.get('x-amz-request-id') ?? '', resource, method);
}

/** The prelude for a response: status, headers, and `Set-Cookie` values as the separate `cookies` list. */
function metadataOf(response: Response, method: string): HttpResponseMetadata {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') headers[name] = wireText(value);
  });
  if (response.body === null && method !== 'HEAD' && headers['content-length'] === undefined) {
    headers['content-length'] = '0';
  }
  const cookies = response.headers.getSetCookie().map(wireText);
  return cookies.length > 0
    ? { statusCode: response.status, headers, cookies }
    : { statusCode: response.status, headers };
}

function waitForDrain(stream: LambdaResponseStream): Promise<void> {
  if (stream.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}

function endStream(stream: LambdaResponseStream): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    stream.end((error?: Error | null) => (error ? reject(error) : resolve()));
  });
}

export interface WriteOptions {
  /** The request's method: a HEAD response never carries a body. */
  method: string;
  /** The request's raw path, for the `Resource` of an error document. */
  resource: string;
  logger: Logger;
}

/**
 * Streams a Web `Response` into Lambda's response stream with backpressure.
 *
 * - The prelude (status and headers) goes out only with the first `write()`: Lambda's `HttpResponseStream`
 *   hooks `write`, so `end()` without a write would drop the status and headers (HEAD, 204, 304 and every
 *   empty body would turn into a bare 200). An empty write sends them.
 * - The status is committed only once the first body chunk is in hand, so a body that fails before its first
 *   byte still becomes a proper S3 error response.
 * - A body that fails after bytes went out rejects: the runtime then ends the stream with an error and the
 *   function URL breaks the connection, so the client sees a failed transfer, never a short object that
 *   looks complete.
 */
export async function writeToResponseStream(
  response: Response,
  stream: LambdaResponseStream,
  options: WriteOptions,
): Promise<void> {
  const { method } = options;
  if (response.body === null || method === 'HEAD') {
    await response.body?.cancel();
    const out = awslambda.HttpResponseStream.from(stream, metadataOf(response, method));
    out.write(new Uint8Array(0));
    await endStream(out);
    return;
  }
  const reader = response.body.getReader();
  let first: ReadableStreamReadResult<Uint8Array>;
  try {
    first = await reader.read();
  } catch (error) {
    const requestId = response.headers.get('x-amz-request-id') ?? '';
    options.logger.error('response body failed before its first byte', { requestId, error: describe(error) });
    await writeToResponseStream(
      toS3Error(error).toResponse(requestId, options.resource, method),
      stream,
      options,
    );
    return;
  }
  const out = awslambda.HttpResponseStream.from(stream, metadataOf(response, method));
  let streamError: Error | undefined;
  out.on('error', (error: Error) => {
    streamError = error;
  });
  let sent = 0;
  try {
    for (let chunk = first; !chunk.done; chunk = await reader.read()) {
      sent += chunk.value.byteLength;
      if (sent > FUNCTION_URL_LIMITS.streamedBodyBytes) {
        throw new Error(`the response body passed the function URL's streaming limit after ${sent} bytes`);
      }
      if (!out.write(chunk.value)) await waitForDrain(out);
      if (streamError !== undefined) throw streamError;
      if (out.destroyed) throw new Error('the response stream closed before the body was sent');
    }
    // A body with no bytes still needs a write to send the prelude.
    if (sent === 0) out.write(new Uint8Array(0));
  } catch (error) {
    await reader.cancel().catch(() => undefined);
    throw error;
  }
  await endStream(out);
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * The Lambda handler: one function URL invocation is one S3 request. Everything per container (config,
 * backends, SDK clients) is built once by the caller and passed in through `gateway`; nothing here keeps
 * state between invocations.
 */
export function streamHandle(
  gateway: Gateway,
  logger: Logger,
  hooks: InvocationHooks = {},
): StreamingHandler<FunctionUrlEvent> {
  // Read once, at init: the stack sets it when it deploys the container data plane.
  const containerEndpoint = process.env.SEALGATE_CONTAINER_ENDPOINT || undefined;
  const handled = awslambda.streamifyResponse<FunctionUrlEvent>(async (event, responseStream, context) => {
    hooks.started?.(context);
    try {
      await respond(event, responseStream, context);
    } finally {
      hooks.ended?.();
    }
  });
  async function respond(
    event: FunctionUrlEvent,
    responseStream: LambdaResponseStream,
    context: LambdaContext,
  ): Promise<void> {
    const { request, ctx } = toWebRequest(event);
    const method = request.method;
    const response = limitResponse(
      await gateway.handle(request, ctx),
      method,
      ctx.rawPath,
      containerEndpoint,
    );
    try {
      await writeToResponseStream(response, responseStream, { method, resource: ctx.rawPath, logger });
    } catch (error) {
      logger.warn('response aborted', {
        requestId: response.headers.get('x-amz-request-id') ?? undefined,
        lambdaRequestId: context.awsRequestId,
        error: error instanceof Error ? error.message : String(error),
      });
      throw error;
    }
  }
  return handled;
}

/** What the Lambda handler does around each invocation: its logger's context, its metrics' flush. */
export interface InvocationHooks {
  started?(context: LambdaContext): void;
  /** After the response was written (or failed). */
  ended?(): void;
}
